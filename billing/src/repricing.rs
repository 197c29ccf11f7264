//! What a build's rates do to invoices the ledger issued (`ledgerly
//! reprice`, the deploy gate's ledger section): each issued invoice's
//! stored inputs priced again with the build's table, beside its stored
//! breakdown, and whether a difference was declared.
//!
//! The deploy gate's rule is the reference book's, per invoice: a rates
//! version names a table, so an invoice issued under the version this build
//! carries must price the same; a difference there is an undeclared change
//! (a typo in a rate, a change to pricing's code), which refuses a release.
//! A difference for an invoice issued under another version is the declared
//! change between the two, for the reviewer to see in real money. An
//! invoice stored before versions were recorded cannot be told either way.
//!
//! Pure: it reads one issued invoice and returns what the build makes of it.

use pricing::RateTable;

use crate::supplementary::is_supplementary;
use crate::{CorrectionError, IssuedInvoice, Rates, reprice};

/// How the rates an invoice was issued under relate to the build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// Issued under the build's own rates version: any difference is
    /// undeclared.
    SameVersion,
    /// Issued under another rates version: a difference is the declared
    /// change between the two.
    OtherVersion,
    /// Issued before the ledger recorded rates versions: whether a
    /// difference was declared cannot be told.
    Unknown,
}

impl Declared {
    /// The name the reports use: `same_version`, `other_version`, `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Declared::SameVersion => "same_version",
            Declared::OtherVersion => "other_version",
            Declared::Unknown => "unknown",
        }
    }
}

/// One issued invoice priced again with a build's rates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repriced {
    stored: [i64; 6],
    build: Result<[i64; 6], CorrectionError>,
    declared: Declared,
}

impl Repriced {
    /// The stored breakdown, in cents, in [`pricing::Breakdown::NAMES`]
    /// order.
    pub fn stored(&self) -> [i64; 6] {
        self.stored
    }

    /// The build's breakdown, or why the build cannot price the stored
    /// inputs (a refusal is a change too: the build would not issue it).
    pub fn repriced(&self) -> Result<[i64; 6], &CorrectionError> {
        self.build.as_ref().copied()
    }

    /// How the invoice's rates version relates to the build's.
    pub fn declared(&self) -> Declared {
        self.declared
    }

    /// Whether the build prices the invoice differently (or refuses it).
    pub fn changed(&self) -> bool {
        self.build.as_ref() != Ok(&self.stored)
    }

    /// Whether the invoice changes under its own rates version: what the
    /// deploy gate refuses.
    pub fn undeclared(&self) -> bool {
        self.changed() && self.declared == Declared::SameVersion
    }
}

/// `invoice` priced again with `build` (the build's table and version), or
/// `None` for an invoice rates do not price: a supplementary invoice bills
/// an undercharge's amount, which no table gives again.
pub fn reprice_issued(invoice: &IssuedInvoice, build: &Rates) -> Option<Repriced> {
    if is_supplementary(invoice) {
        return None;
    }
    let table: RateTable = build.table();
    let declared = match (invoice.rates().version(), build.version()) {
        (None | Some(""), _) | (_, None) => Declared::Unknown,
        (Some(stored), Some(own)) if stored == own => Declared::SameVersion,
        (Some(_), Some(_)) => Declared::OtherVersion,
    };
    Some(Repriced {
        stored: invoice
            .breakdown()
            .amounts()
            .map(pricing::Money::minor_units),
        build: reprice(invoice, &table).map(|lines| lines.cents()),
        declared,
    })
}

#[cfg(test)]
mod tests {
    use payment_gateway::{Currency, PaymentMethod};

    use super::*;
    use crate::{CustomerId, InvoiceId, IssuedBreakdown, IssuedParts, SUPPLEMENTARY_TABLE};

    /// The lesson's invoice (40.00 × 3, 15.00 × 2, gold, loyalty, 45 days
    /// overdue) as issued with `rates` at `stored`, a line item list of
    /// `items`.
    fn issued(items: &str, stored: [i64; 6], rates: Rates) -> IssuedInvoice {
        IssuedInvoice::restore(IssuedParts {
            id: InvoiceId::new("INV-1").unwrap(),
            customer: CustomerId::new("cus_1").unwrap(),
            payment_method: PaymentMethod::new("tok_success").unwrap(),
            currency: Currency::Usd,
            line_items: items.to_owned(),
            tier: "gold".to_owned(),
            loyalty_member: true,
            days_overdue: 45,
            breakdown: IssuedBreakdown::new(stored).unwrap(),
            rates,
            issued_at: std::time::UNIX_EPOCH,
        })
        .unwrap()
    }

    /// 141.69: the worked example at today's rates.
    const RIGHT: [i64; 6] = [15000, -2250, -255, 1000, 674, 14169];
    /// 146.69: the lesson's typo, gold at 0.12.
    const TYPO: [i64; 6] = [15000, -1800, -264, 1035, 698, 14669];

    fn version(v: &str) -> Rates {
        Rates::new(pricing::RATES, Some(v.to_owned()))
    }

    #[test]
    fn an_invoice_issued_under_the_builds_version_that_prices_the_same_is_unchanged() {
        let repriced = reprice_issued(
            &issued("40x3 15x2", RIGHT, Rates::current()),
            &Rates::current(),
        )
        .unwrap();
        assert_eq!(repriced.declared(), Declared::SameVersion);
        assert_eq!(repriced.repriced(), Ok(RIGHT));
        assert!(!repriced.changed() && !repriced.undeclared());
    }

    #[test]
    fn a_change_under_the_invoices_own_version_is_undeclared() {
        // The build carries the typo under the version that named 0.15.
        let mut typo = pricing::RATES;
        typo.gold_discount = "0.12".parse().unwrap();
        let build = Rates::new(typo, Some("1".to_owned()));
        let repriced = reprice_issued(&issued("40x3 15x2", RIGHT, version("1")), &build).unwrap();
        assert_eq!(repriced.stored(), RIGHT);
        assert_eq!(repriced.repriced(), Ok(TYPO));
        assert!(repriced.changed() && repriced.undeclared());
    }

    #[test]
    fn a_change_from_another_version_is_declared_and_one_from_no_version_is_unknown() {
        let build = version("2");
        let other = reprice_issued(&issued("40x3 15x2", TYPO, version("1")), &build).unwrap();
        assert_eq!(other.declared(), Declared::OtherVersion);
        assert!(other.changed() && !other.undeclared());
        for stored in [Rates::new(pricing::RATES, None), version("")] {
            let unknown = reprice_issued(&issued("40x3 15x2", TYPO, stored), &build).unwrap();
            assert_eq!(unknown.declared(), Declared::Unknown);
            assert!(unknown.changed() && !unknown.undeclared());
        }
        let unnamed_build = Rates::new(pricing::RATES, None);
        let repriced =
            reprice_issued(&issued("40x3 15x2", TYPO, version("2")), &unnamed_build).unwrap();
        assert_eq!(repriced.declared(), Declared::Unknown);
    }

    #[test]
    fn stored_inputs_the_build_refuses_are_a_change() {
        let repriced = reprice_issued(
            &issued("40x3 15xten", RIGHT, Rates::current()),
            &Rates::current(),
        )
        .unwrap();
        assert!(matches!(
            repriced.repriced(),
            Err(CorrectionError::Unpriceable { .. })
        ));
        assert!(repriced.changed() && repriced.undeclared());
    }

    #[test]
    fn a_supplementary_invoice_is_not_priced_by_rates() {
        let supplementary = Rates::new(
            SUPPLEMENTARY_TABLE,
            Some(crate::SUPPLEMENTARY_RATES_VERSION.to_owned()),
        );
        let invoice = issued("5x1", [500, 0, 0, 0, 0, 500], supplementary);
        assert_eq!(reprice_issued(&invoice, &Rates::current()), None);
        assert_eq!(Declared::OtherVersion.as_str(), "other_version");
        assert_eq!(Declared::SameVersion.as_str(), "same_version");
        assert_eq!(Declared::Unknown.as_str(), "unknown");
    }
}
