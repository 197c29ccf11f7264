//! Invoices, their identifiers and their payment status.

use std::fmt;
use std::time::SystemTime;

use payment_gateway::{Charge, Currency, DeclineCode, PaymentMethod, excerpt};
use pricing::{Breakdown, Decimal, Money, PricingError, PricingInput, RateTable};
use unicode_normalization::{UnicodeNormalization, is_nfc};

use crate::InvalidRecord;

/// The longest invoice or customer id, in bytes. It keeps every idempotency
/// key derived from an invoice id well inside the gateway's 255-byte limit.
const MAX_ID_LEN: usize = 128;

/// Which identifier was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// An [`InvoiceId`].
    Invoice,
    /// A [`CustomerId`].
    Customer,
    /// A [`WorkerId`](crate::WorkerId).
    Worker,
    /// A [`CorrectionId`](crate::CorrectionId).
    Correction,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Invoice => "invoice id",
            IdKind::Customer => "customer id",
            IdKind::Worker => "worker id",
            IdKind::Correction => "correction id",
        })
    }
}

/// Why an invoice or customer id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// The id is empty.
    #[error("{kind} is empty")]
    Empty {
        /// Which id.
        kind: IdKind,
    },
    /// The id is longer than 128 bytes.
    #[error("{kind} {value:?} is {length} bytes long, above the maximum of 128")]
    TooLong {
        /// Which id.
        kind: IdKind,
        /// The refused id.
        value: String,
        /// Its length in bytes.
        length: usize,
    },
    /// The id begins or ends with whitespace (or is nothing but whitespace:
    /// a blank `--worker` name), which no listing would show.
    #[error("{kind} {value:?} has leading or trailing whitespace")]
    Whitespace {
        /// Which id.
        kind: IdKind,
        /// The refused id.
        value: String,
    },
    /// The id contains a control character (a newline, a tab, …).
    #[error("{kind} {value:?} contains a control character")]
    ControlCharacter {
        /// Which id.
        kind: IdKind,
        /// The refused id.
        value: String,
    },
}

/// Checks an id and returns it in Unicode's composed form (NFC): ids that
/// are the same text are the same id, however they were typed (`café` with
/// its accent composed, or as `e` and a combining accent, as macOS writes
/// file names). The limits apply to the text as stored.
pub(crate) fn validate_id(kind: IdKind, value: String) -> Result<String, InvalidId> {
    let value = if is_nfc(&value) {
        value
    } else {
        value.nfc().collect()
    };
    if value.is_empty() {
        return Err(InvalidId::Empty { kind });
    }
    if value.len() > MAX_ID_LEN {
        let length = value.len();
        return Err(InvalidId::TooLong {
            kind,
            value: excerpt(&value),
            length,
        });
    }
    if value.trim() != value {
        return Err(InvalidId::Whitespace {
            kind,
            value: excerpt(&value),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidId::ControlCharacter {
            kind,
            value: excerpt(&value),
        });
    }
    Ok(value)
}

/// Defines a validated id: a `String` that passed [`validate_id`] (so in
/// NFC), shown as given. One definition for every id billing keeps.
macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident, $kind:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates the id: 1 to 128 bytes, no control characters,
            /// kept in Unicode's composed form (NFC).
            pub fn new(id: impl Into<String>) -> Result<$name, $crate::InvalidId> {
                $crate::invoice::validate_id($kind, id.into()).map($name)
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
pub(crate) use text_id;

text_id!(
    /// An invoice's id: 1 to 128 bytes, no control characters.
    InvoiceId,
    IdKind::Invoice
);

text_id!(
    /// A customer's id: 1 to 128 bytes, no control characters.
    CustomerId,
    IdKind::Customer
);

/// How a paid invoice was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// The gateway captured the total: its charge, with the charge id and
    /// the amount. The only way an invoice with something to pay is paid.
    Charged(Charge),
    /// The total was zero, so nothing was charged and there is no charge id.
    NothingDue,
}

/// Where an invoice stands. It is never stored: it follows from the issued
/// total and the payment attempts ([`InvoiceRecord::status`](crate::InvoiceRecord::status)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Nothing is being paid: no attempt yet, or the last one was refused
    /// before the processor processed it (the payment method is unknown,
    /// for example).
    Open,
    /// Paid; never charged again.
    Paid(Payment),
    /// The last payment attempt was declined with `code`. The next collect is
    /// a new attempt, under a new idempotency key.
    PaymentFailed {
        /// The processor's reason.
        code: DeclineCode,
    },
    /// The last attempt's outcome is not known: its request may be in
    /// flight, its reply was lost, or a run stopped before recording it.
    /// Collecting again or reconciling settles it without charging twice.
    Unknown,
}

impl InvoiceStatus {
    /// Whether the invoice is paid, by a charge or because nothing was due.
    pub const fn is_paid(&self) -> bool {
        matches!(self, InvoiceStatus::Paid(_))
    }

    /// Which of the four statuses this is, without its detail.
    pub const fn kind(&self) -> StatusKind {
        match self {
            InvoiceStatus::Open => StatusKind::Open,
            InvoiceStatus::Paid(_) => StatusKind::Paid,
            InvoiceStatus::PaymentFailed { .. } => StatusKind::Failed,
            InvoiceStatus::Unknown => StatusKind::Unknown,
        }
    }
}

/// An invoice status without its detail, as listings filter by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// [`InvoiceStatus::Open`].
    Open,
    /// [`InvoiceStatus::Paid`].
    Paid,
    /// [`InvoiceStatus::PaymentFailed`].
    Failed,
    /// [`InvoiceStatus::Unknown`].
    Unknown,
}

impl StatusKind {
    /// Every status kind.
    pub const ALL: [StatusKind; 4] = [
        StatusKind::Open,
        StatusKind::Paid,
        StatusKind::Failed,
        StatusKind::Unknown,
    ];

    /// Its name: `open`, `paid`, `failed` or `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StatusKind::Open => "open",
            StatusKind::Paid => "paid",
            StatusKind::Failed => "failed",
            StatusKind::Unknown => "unknown",
        }
    }
}

/// A status name that is not one of [`StatusKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown invoice status {0:?} (expected one of: open, paid, failed, unknown)")]
pub struct UnknownStatus(pub String);

payment_gateway::by_exact_name!(StatusKind, UnknownStatus, |name: &str| UnknownStatus(
    excerpt(name)
));

/// An invoice to issue: who pays, with what, and what pricing needs. It is
/// priced once, by [`BillingService::issue`](crate::BillingService::issue),
/// which turns it into an [`IssuedInvoice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    id: InvoiceId,
    customer: CustomerId,
    payment_method: PaymentMethod,
    currency: Currency,
    pricing: PricingInput,
}

impl Invoice {
    /// An invoice to issue.
    pub fn new(
        id: InvoiceId,
        customer: CustomerId,
        payment_method: PaymentMethod,
        currency: Currency,
        pricing: PricingInput,
    ) -> Invoice {
        Invoice {
            id,
            customer,
            payment_method,
            currency,
            pricing,
        }
    }

    /// The invoice's id.
    pub fn id(&self) -> &InvoiceId {
        &self.id
    }

    /// The customer who pays.
    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    /// The payment-method token to charge.
    pub fn payment_method(&self) -> &PaymentMethod {
        &self.payment_method
    }

    /// The currency the total is charged in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// What pricing needs to price the invoice.
    pub fn pricing(&self) -> &PricingInput {
        &self.pricing
    }

    /// Prices the invoice with the current rates.
    pub fn price(&self) -> Result<Breakdown, PricingError> {
        pricing::price(&self.pricing)
    }
}

/// The rate values an invoice was priced with, kept with it so that the
/// issued amounts can be explained after the rate table changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rates {
    table: RateTable,
    version: Option<String>,
}

impl Rates {
    /// The rates pricing applies now ([`pricing::RATES`]), named by their
    /// version ([`pricing::RATES_VERSION`]), as every issued invoice records
    /// them.
    pub fn current() -> Rates {
        Rates::new(pricing::RATES, Some(pricing::RATES_VERSION.to_string()))
    }

    /// The table's fingerprint (`fnv1a64:…`), from its values: what names
    /// a wrong table in a correction.
    pub fn fingerprint(&self) -> String {
        self.table.fingerprint()
    }

    /// `table`, optionally named by `version`.
    pub fn new(table: RateTable, version: Option<String>) -> Rates {
        Rates { table, version }
    }

    /// Rebuilds rates from their exact decimal text, in the order gold,
    /// silver, bronze, loyalty, sales tax, late fee, as storage keeps them.
    pub fn from_text(
        rates: [&str; 6],
        late_fee_after_days: u32,
        version: Option<String>,
    ) -> Result<Rates, InvalidRecord> {
        let mut values = [Decimal::ZERO; 6];
        for ((slot, text), name) in values.iter_mut().zip(rates).zip(Rates::NAMES) {
            *slot = Decimal::from_str_exact(text).map_err(|_| InvalidRecord::Rate {
                name,
                value: text.to_owned(),
            })?;
        }
        let [gold, silver, bronze, loyalty, tax, late_fee] = values;
        let table = RateTable {
            gold_discount: gold,
            silver_discount: silver,
            bronze_discount: bronze,
            loyalty_discount: loyalty,
            sales_tax: tax,
            late_fee,
            late_fee_after_days,
        };
        Ok(Rates::new(table, version))
    }

    /// The rates' names, in the order of [`Rates::values`].
    pub const NAMES: [&'static str; 6] = [
        "gold_discount",
        "silver_discount",
        "bronze_discount",
        "loyalty_discount",
        "sales_tax",
        "late_fee",
    ];

    /// The rate table.
    pub fn table(&self) -> RateTable {
        self.table
    }

    /// The rates in the order of [`Rates::NAMES`].
    pub fn values(&self) -> [Decimal; 6] {
        let t = self.table;
        [
            t.gold_discount,
            t.silver_discount,
            t.bronze_discount,
            t.loyalty_discount,
            t.sales_tax,
            t.late_fee,
        ]
    }

    /// The late fee applies after this many days overdue.
    pub fn late_fee_after_days(&self) -> u32 {
        self.table.late_fee_after_days
    }

    /// The rate table's version name, when pricing names one.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
}

/// An issued invoice's amounts in minor units: the lines add up to the
/// total, which is never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssuedBreakdown {
    amounts: [Money; 6],
}

impl IssuedBreakdown {
    /// The names of the amounts, in the order of [`IssuedBreakdown::amounts`].
    pub const NAMES: [&'static str; 6] = Breakdown::NAMES;

    /// Amounts in cents, in the order of [`IssuedBreakdown::NAMES`]: they
    /// must add up (the five lines to the total) and the total must not be
    /// negative, as every priced invoice's do.
    pub fn new(cents: [i64; 6]) -> Result<IssuedBreakdown, InvalidRecord> {
        let [subtotal, tier, loyalty, tax, late_fee, total] = cents;
        let sum = [tier, loyalty, tax, late_fee]
            .into_iter()
            .try_fold(subtotal, i64::checked_add);
        if sum != Some(total) || total < 0 {
            return Err(InvalidRecord::Breakdown { cents });
        }
        Ok(IssuedBreakdown {
            amounts: cents.map(Money::from_minor_units),
        })
    }

    /// The subtotal.
    pub fn subtotal(&self) -> Money {
        self.amounts[0]
    }

    /// The tier discount line: zero or negative.
    pub fn tier_discount(&self) -> Money {
        self.amounts[1]
    }

    /// The loyalty discount line: zero or negative.
    pub fn loyalty_discount(&self) -> Money {
        self.amounts[2]
    }

    /// The sales tax line.
    pub fn tax(&self) -> Money {
        self.amounts[3]
    }

    /// The late fee line.
    pub fn late_fee(&self) -> Money {
        self.amounts[4]
    }

    /// The total charged.
    pub fn total(&self) -> Money {
        self.amounts[5]
    }

    /// Every amount, in the order of [`IssuedBreakdown::NAMES`].
    pub fn amounts(&self) -> [Money; 6] {
        self.amounts
    }
}

impl From<Breakdown> for IssuedBreakdown {
    fn from(breakdown: Breakdown) -> IssuedBreakdown {
        IssuedBreakdown {
            amounts: breakdown.amounts(),
        }
    }
}

/// The parts of an issued invoice as storage keeps them, for a backend to
/// hand to [`IssuedInvoice::restore`], which checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedParts {
    /// The id.
    pub id: InvoiceId,
    /// The customer.
    pub customer: CustomerId,
    /// The payment method the next new attempt charges.
    pub payment_method: PaymentMethod,
    /// The currency.
    pub currency: Currency,
    /// The line items as [`IssuedInvoice::line_items`] writes them.
    pub line_items: String,
    /// The tier's name.
    pub tier: String,
    /// Whether the customer is a loyalty member.
    pub loyalty_member: bool,
    /// Days overdue when issued.
    pub days_overdue: u32,
    /// The issued amounts.
    pub breakdown: IssuedBreakdown,
    /// The rates it was priced with.
    pub rates: Rates,
    /// When it was issued.
    pub issued_at: SystemTime,
}

/// An invoice as issued: priced once, its amounts and the rates behind them
/// frozen. Charging uses [`breakdown().total()`](IssuedBreakdown::total),
/// never a total priced again.
///
/// Only the payment method can change after issue (a declined card is
/// replaced); it is how the invoice is paid, not what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvoice {
    parts: IssuedParts,
}

impl IssuedInvoice {
    /// Prices `invoice` with `rates`' table at `issued_at`.
    pub(crate) fn price(
        invoice: &Invoice,
        rates: Rates,
        issued_at: SystemTime,
    ) -> Result<IssuedInvoice, PricingError> {
        let breakdown = pricing::price_with(&rates.table(), invoice.pricing())?;
        let pricing = invoice.pricing();
        Ok(IssuedInvoice {
            parts: IssuedParts {
                id: invoice.id().clone(),
                customer: invoice.customer().clone(),
                payment_method: invoice.payment_method().clone(),
                currency: invoice.currency(),
                line_items: line_items_text(pricing),
                // Compared when the id is issued again: in NFC, as ids are.
                tier: pricing.tier().name().nfc().collect(),
                loyalty_member: pricing.loyalty_member(),
                days_overdue: pricing.days_overdue().get(),
                breakdown: IssuedBreakdown::from(breakdown),
                rates,
                issued_at,
            },
        })
    }

    /// An issued invoice read back from storage. The breakdown was checked
    /// when it was built; the line items must not be empty.
    pub fn restore(parts: IssuedParts) -> Result<IssuedInvoice, InvalidRecord> {
        if parts.line_items.trim().is_empty() {
            return Err(InvalidRecord::NoLineItems {
                invoice: parts.id.to_string(),
            });
        }
        Ok(IssuedInvoice { parts })
    }

    /// The invoice's id.
    pub fn id(&self) -> &InvoiceId {
        &self.parts.id
    }

    /// The customer who pays.
    pub fn customer(&self) -> &CustomerId {
        &self.parts.customer
    }

    /// The payment method the next new payment attempt charges.
    pub fn payment_method(&self) -> &PaymentMethod {
        &self.parts.payment_method
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.parts.currency
    }

    /// The line items, `PRICExQUANTITY` separated by spaces, prices in their
    /// shortest exact form (`40x3 15x2`), as `--item` takes them.
    pub fn line_items(&self) -> &str {
        &self.parts.line_items
    }

    /// The tier's name.
    pub fn tier(&self) -> &str {
        &self.parts.tier
    }

    /// Whether the customer is a loyalty member.
    pub fn loyalty_member(&self) -> bool {
        self.parts.loyalty_member
    }

    /// Days overdue when issued.
    pub fn days_overdue(&self) -> u32 {
        self.parts.days_overdue
    }

    /// The issued amounts.
    pub fn breakdown(&self) -> &IssuedBreakdown {
        &self.parts.breakdown
    }

    /// The rates it was priced with.
    pub fn rates(&self) -> &Rates {
        &self.parts.rates
    }

    /// When it was issued, by the billing service's clock.
    pub fn issued_at(&self) -> SystemTime {
        self.parts.issued_at
    }

    /// All its parts, for storage.
    pub fn parts(&self) -> &IssuedParts {
        &self.parts
    }

    /// The same invoice with another payment method.
    #[must_use]
    pub fn with_payment_method(mut self, payment_method: PaymentMethod) -> IssuedInvoice {
        self.parts.payment_method = payment_method;
        self
    }

    /// The first input in which `other` says something else than `self`,
    /// as (name, this value, other value); `None` when they are the same
    /// invoice. An issued invoice is identified by its inputs (customer,
    /// currency, line items, tier, loyalty, days overdue); its stored
    /// breakdown is what is charged. So the amounts are not compared: the
    /// same inputs priced again under a rate table a later release changed
    /// are the same invoice, and must still be collected. The payment
    /// method and the issue time are not compared either: the same invoice
    /// can be issued again later, with another card.
    pub fn first_difference(
        &self,
        other: &IssuedInvoice,
    ) -> Option<(&'static str, String, String)> {
        let (a, b) = (&self.parts, &other.parts);
        let pairs = [
            ("customer", a.customer.to_string(), b.customer.to_string()),
            ("currency", a.currency.to_string(), b.currency.to_string()),
            ("line items", a.line_items.clone(), b.line_items.clone()),
            ("tier", a.tier.clone(), b.tier.clone()),
            (
                "loyalty membership",
                a.loyalty_member.to_string(),
                b.loyalty_member.to_string(),
            ),
            (
                "days overdue",
                a.days_overdue.to_string(),
                b.days_overdue.to_string(),
            ),
        ];
        pairs.into_iter().find(|(_, first, now)| first != now)
    }
}

/// `40x3 15x2`: each price in its shortest exact form, so that `40.00` and
/// `40` (the same amount) are the same text.
fn line_items_text(pricing: &PricingInput) -> String {
    let mut text = String::new();
    for item in pricing.line_items() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&item.price().amount().normalize().to_string());
        text.push('x');
        text.push_str(&item.quantity().to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_non_empty_short_and_free_of_control_characters() {
        assert_eq!(
            InvoiceId::new(""),
            Err(InvalidId::Empty {
                kind: IdKind::Invoice
            })
        );
        assert!(InvoiceId::new("i".repeat(128)).is_ok());
        // The error quotes a bounded prefix, however long the id.
        assert_eq!(
            InvoiceId::new("i".repeat(129)).unwrap_err().to_string(),
            format!(
                "invoice id {:?} is 129 bytes long, above the maximum of 128",
                format!("{}…", "i".repeat(64))
            )
        );
        let huge = InvoiceId::new("é".repeat(1 << 19)).unwrap_err().to_string();
        assert!(huge.len() < 256, "{} bytes", huge.len());
        assert_eq!(
            CustomerId::new("cus\n1").unwrap_err().to_string(),
            "customer id \"cus\\n1\" contains a control character"
        );
        assert_eq!(InvoiceId::new("INV 1").unwrap().as_str(), "INV 1");
        for blank in [" ", "   ", " w", "w\u{a0}"] {
            assert_eq!(
                crate::WorkerId::new(blank),
                Err(InvalidId::Whitespace {
                    kind: IdKind::Worker,
                    value: blank.to_owned()
                }),
                "{blank:?}"
            );
        }
    }

    #[test]
    fn ids_that_are_the_same_text_are_the_same_id_in_any_normalization_form() {
        let composed = "INV-caf\u{e9}";
        let decomposed = "INV-cafe\u{301}";
        assert_ne!(composed, decomposed);
        assert_eq!(
            InvoiceId::new(decomposed).unwrap(),
            InvoiceId::new(composed).unwrap()
        );
        assert_eq!(InvoiceId::new(decomposed).unwrap().as_str(), composed);
        assert_eq!(
            CustomerId::new("cus-\u{212b}").unwrap().as_str(),
            "cus-\u{c5}",
            "the angstrom sign is the letter \u{c5} in NFC"
        );
        assert_eq!(
            crate::WorkerId::new("w-o\u{308}").unwrap(),
            crate::WorkerId::new("w-\u{f6}").unwrap()
        );
        // The limit applies to the stored (composed) text: 64 composed
        // characters of two bytes fit, though decomposed they take 192.
        assert!(InvoiceId::new("e\u{301}".repeat(64)).is_ok());
    }

    #[test]
    fn a_breakdown_whose_lines_do_not_add_up_or_whose_total_is_negative_is_refused() {
        assert!(IssuedBreakdown::new([15000, -2250, -255, 1000, 674, 14169]).is_ok());
        assert_eq!(
            IssuedBreakdown::new([15000, -2250, -255, 1000, 674, 14170]),
            Err(InvalidRecord::Breakdown {
                cents: [15000, -2250, -255, 1000, 674, 14170]
            })
        );
        assert!(IssuedBreakdown::new([0, -1, 0, 0, 0, -1]).is_err());
        assert!(IssuedBreakdown::new([i64::MAX, 0, 0, 1, 0, i64::MIN]).is_err());
    }

    #[test]
    fn rates_round_trip_through_their_exact_text() {
        let current = Rates::current();
        let texts = current.values().map(|value| value.to_string());
        let text_refs: [&str; 6] = std::array::from_fn(|i| texts[i].as_str());
        assert_eq!(text_refs, ["0.15", "0.10", "0.05", "0.02", "0.08", "0.05"]);
        let back = Rates::from_text(text_refs, 30, Some("1".to_owned())).unwrap();
        assert_eq!(back, current);
        assert_eq!(current.version(), Some("1"), "RATES_VERSION is recorded");
        assert_eq!(current.fingerprint(), pricing::RATES.fingerprint());
        assert_eq!(
            Rates::from_text(["0.15", "x", "0", "0", "0", "0"], 30, Some("v2".into())),
            Err(InvalidRecord::Rate {
                name: "silver_discount",
                value: "x".to_owned()
            })
        );
    }

    #[test]
    fn status_names_round_trip_and_unknown_names_are_refused() {
        for kind in StatusKind::ALL {
            assert_eq!(kind.as_str().parse::<StatusKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(
            "Paid".parse::<StatusKind>().unwrap_err().to_string(),
            "unknown invoice status \"Paid\" (expected one of: open, paid, failed, unknown)"
        );
    }
}
