//! Supplementary invoices (`DOMAIN.md` §5): what billing an undercharge
//! issues, only when asked (`ledgerly correct apply --undercharge bill`).
//!
//! An undercharge's credit note has a negative total: the right table asks
//! more than the customer was charged. Billed, it gets a **billed** credit
//! note (its lines say how the difference splits: tier, loyalty, tax, late
//! fee) and a supplementary invoice that asks for the difference, collected
//! like any other invoice: its own attempts, keys and claims, so it is
//! charged at most once whatever reruns and workers do.
//!
//! - Its id is the credit note's with `SUP` for `CN` (`INV-1-SUP01` beside
//!   `INV-1-CN01`): one per billed credit note, and a rerun finds it.
//! - It has one line, the difference, priced with a table of zero rates
//!   named [`SUPPLEMENTARY_RATES_VERSION`]: the tax and fees it collects are
//!   already in that line (the credit note's lines split it), so pricing it
//!   again with its own table gives exactly its total, and no correction of
//!   a real table ever selects it (its fingerprint is the zero table's).
//! - It is written after its credit note, never in place of it: a run killed
//!   between the two leaves a billed credit note whose invoice the next
//!   apply (or the same one rerun) issues; nothing else is ever written
//!   twice.

use std::time::SystemTime;

use pricing::{Decimal, RateTable};

use crate::{
    CreditNote, CreditNoteId, InvalidId, InvalidRecord, InvoiceId, IssuedBreakdown, IssuedInvoice,
    IssuedParts, Rates,
};

/// The rates version a supplementary invoice records.
pub const SUPPLEMENTARY_RATES_VERSION: &str = "supplementary";

/// The late-fee threshold of the zero table: any value prices the same
/// (the fee is zero), so the built-in one.
const AFTER_DAYS: u32 = pricing::RATES.late_fee_after_days;

/// The table a supplementary invoice is priced with: every rate zero.
pub const SUPPLEMENTARY_TABLE: RateTable = RateTable {
    gold_discount: Decimal::ZERO,
    silver_discount: Decimal::ZERO,
    bronze_discount: Decimal::ZERO,
    loyalty_discount: Decimal::ZERO,
    sales_tax: Decimal::ZERO,
    late_fee: Decimal::ZERO,
    late_fee_after_days: AFTER_DAYS,
};

/// The id of the supplementary invoice of the billed credit note `note`:
/// `<invoice>-SUP01` for `<invoice>-CN01`.
///
/// # Errors
///
/// [`InvalidId`] when the invoice's id is too long to take the suffix.
pub fn supplementary_id(note: &CreditNoteId) -> Result<InvoiceId, InvalidId> {
    InvoiceId::new(format!("{}-SUP{:02}", note.invoice(), note.number()))
}

/// Whether `invoice` is a supplementary invoice (its rates say so).
pub fn is_supplementary(invoice: &IssuedInvoice) -> bool {
    invoice.rates().version() == Some(SUPPLEMENTARY_RATES_VERSION)
        && invoice.rates().table() == SUPPLEMENTARY_TABLE
}

/// Whether `invoice` is the supplementary invoice of the billed credit
/// note `note`: a supplementary invoice of minus its total. An invoice a
/// customer was issued under the same id is not, and is never collected or
/// counted as one.
pub(crate) fn billed_by(invoice: &IssuedInvoice, note: &CreditNote) -> bool {
    is_supplementary(invoice)
        && Some(invoice.breakdown().total().minor_units()) == note.credited().total().checked_neg()
}

/// Why a billed credit note has no supplementary invoice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplementaryError {
    /// The credit note is not a billed undercharge.
    #[error("credit note {note} is {kind}, not a billed undercharge")]
    NotBilled {
        /// The credit note.
        note: String,
        /// Its kind.
        kind: &'static str,
    },
    /// Its id does not fit.
    #[error("credit note {note} cannot name its supplementary invoice: {source}")]
    Id {
        /// The credit note.
        note: String,
        /// Why.
        source: InvalidId,
    },
    /// The amounts do not make an invoice.
    #[error("credit note {note} does not make a supplementary invoice: {source}")]
    Amounts {
        /// The credit note.
        note: String,
        /// Why.
        source: InvalidRecord,
    },
}

/// The supplementary invoice of the billed credit note `note` of
/// `original`: the same customer, payment method and currency, one line of
/// the difference (minus the credit note's total), issued at `issued_at`.
///
/// # Errors
///
/// [`SupplementaryError`] when `note` is not billed, or its id or amount do
/// not make an invoice.
pub fn supplementary_invoice(
    note: &CreditNote,
    original: &IssuedInvoice,
    issued_at: SystemTime,
) -> Result<IssuedInvoice, SupplementaryError> {
    let name = || note.id().to_string();
    if note.kind() != crate::CreditNoteKind::Billed {
        return Err(SupplementaryError::NotBilled {
            note: name(),
            kind: note.kind().as_str(),
        });
    }
    let id = supplementary_id(note.id()).map_err(|source| SupplementaryError::Id {
        note: name(),
        source,
    })?;
    let amounts = |source| SupplementaryError::Amounts {
        note: name(),
        source,
    };
    // A billed note's total is negative (its constructor checks), so this
    // negation is positive and never overflows.
    let due = note.credited().total().checked_neg().unwrap_or(0);
    let breakdown = IssuedBreakdown::new([due, 0, 0, 0, 0, due]).map_err(amounts)?;
    let line = format!("{}x1", breakdown.total().to_decimal().normalize());
    IssuedInvoice::restore(IssuedParts {
        id,
        customer: original.customer().clone(),
        payment_method: original.payment_method().clone(),
        currency: original.currency(),
        line_items: line,
        tier: pricing::Tier::None.name().to_owned(),
        loyalty_member: false,
        days_overdue: 0,
        breakdown,
        rates: Rates::new(
            SUPPLEMENTARY_TABLE,
            Some(SUPPLEMENTARY_RATES_VERSION.to_owned()),
        ),
        issued_at,
    })
    .map_err(amounts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correction::{Lines, reprice};
    use crate::{CorrectionId, CreditNoteKind};
    use payment_gateway::Currency;

    fn original() -> IssuedInvoice {
        IssuedInvoice::restore(IssuedParts {
            id: InvoiceId::new("INV-1").unwrap(),
            customer: crate::CustomerId::new("cus_1").unwrap(),
            payment_method: payment_gateway::PaymentMethod::new("tok_success").unwrap(),
            currency: Currency::Eur,
            line_items: "40x3 15x2".to_owned(),
            tier: "gold".to_owned(),
            loyalty_member: true,
            days_overdue: 45,
            breakdown: IssuedBreakdown::new([15000, -2250, -255, 1000, 0, 13495]).unwrap(),
            rates: Rates::current(),
            issued_at: SystemTime::UNIX_EPOCH,
        })
        .unwrap()
    }

    fn note(kind: CreditNoteKind, credited: [i64; 6]) -> CreditNote {
        CreditNote::new(
            CreditNoteId::new(InvoiceId::new("INV-1").unwrap(), 2),
            CorrectionId::new("fix-1").unwrap(),
            kind,
            Currency::Eur,
            Lines::new(credited).unwrap(),
            Lines::new([15000, -2250, -255, 1000, 0, 13495]).unwrap(),
            SystemTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    #[test]
    fn a_billed_undercharge_asks_for_exactly_the_difference_and_prices_to_it_again() {
        let billed = note(CreditNoteKind::Billed, [0, -450, 9, -35, -24, -500]);
        let invoice = supplementary_invoice(&billed, &original(), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(invoice.id().as_str(), "INV-1-SUP02");
        assert_eq!(invoice.customer().as_str(), "cus_1");
        assert_eq!(invoice.payment_method().as_str(), "tok_success");
        assert_eq!(invoice.currency(), Currency::Eur);
        assert_eq!(
            Lines::from(invoice.breakdown()).cents(),
            [500, 0, 0, 0, 0, 500]
        );
        assert!(is_supplementary(&invoice));
        assert!(!is_supplementary(&original()));
        // Priced again with its own table, or any other, its one line with
        // no tier, loyalty or lateness keeps its subtotal.
        assert_eq!(
            reprice(&invoice, &SUPPLEMENTARY_TABLE).unwrap().cents(),
            [500, 0, 0, 0, 0, 500]
        );
    }

    #[test]
    fn only_its_own_table_and_version_and_minus_the_notes_total_make_an_invoice_supplementary() {
        let billed = note(CreditNoteKind::Billed, [0, -450, 9, -35, -24, -500]);
        let invoice = supplementary_invoice(&billed, &original(), SystemTime::UNIX_EPOCH).unwrap();
        assert!(billed_by(&invoice, &billed));
        let mut parts = invoice.parts().clone();
        // The version alone, or the table alone, is not enough.
        parts.rates = Rates::new(pricing::RATES, Some(SUPPLEMENTARY_RATES_VERSION.to_owned()));
        let versioned = IssuedInvoice::restore(parts.clone()).unwrap();
        assert!(!is_supplementary(&versioned));
        assert!(!billed_by(&versioned, &billed));
        parts.rates = Rates::new(SUPPLEMENTARY_TABLE, None);
        assert!(!is_supplementary(&IssuedInvoice::restore(parts).unwrap()));
        // A supplementary invoice of another amount is not this note's.
        let other = note(CreditNoteKind::Billed, [0, -450, 9, -35, -25, -501]);
        assert!(!billed_by(&invoice, &other));
    }

    #[test]
    fn only_a_billed_credit_note_makes_a_supplementary_invoice() {
        let absorbed = note(CreditNoteKind::Absorbed, [0, -450, 9, -35, -24, -500]);
        assert_eq!(
            supplementary_invoice(&absorbed, &original(), SystemTime::UNIX_EPOCH),
            Err(SupplementaryError::NotBilled {
                note: "INV-1-CN02".to_owned(),
                kind: "absorbed"
            })
        );
    }

    #[test]
    fn an_invoice_id_too_long_for_the_suffix_is_an_error_not_a_panic() {
        let long = InvoiceId::new("i".repeat(128)).unwrap();
        let error = supplementary_id(&CreditNoteId::new(long, 1)).unwrap_err();
        assert!(matches!(error, InvalidId::TooLong { .. }), "{error:?}");
    }
}
