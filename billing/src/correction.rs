//! Corrections (`DOMAIN.md` §5): what a right rate table changes in an
//! invoice that a wrong one priced, as a credit note's lines, and what
//! settles it.
//!
//! An issued invoice is never edited. Its **effective** breakdown is the
//! issued one minus the credit notes already written against it; the
//! **corrected** breakdown is its stored inputs priced again with the right
//! table; the credit note's lines are effective minus corrected, line by
//! line, in cents. Nothing is rounded again: both breakdowns are exact
//! differences of rounded running amounts (pricing's breakdown rule), so
//! their difference adds up to its total by construction, and a chained
//! correction starts from what the last one left, so no cent is credited
//! twice. The tax line of a credit note is the tax charged minus the tax
//! due, never a rate applied to a credit.
//!
//! Worked example: the lesson's invoice issued at 146.69 with gold at 0.12
//! gets, with gold at 0.15, a credit note of 5.00 (tier 4.50, loyalty
//! −0.09, tax 0.35, late fee 0.24).
//!
//! This module is pure: it reads an [`InvoiceRecord`] and returns what to
//! do; storing the documents and moving the money are the ledger's and the
//! gateway's.

use std::fmt;

use pricing::{DaysOverdue, LineItem, PricingError, PricingInput, RateTable, Tier, price_with};

use crate::{InvoiceRecord, InvoiceStatus, IssuedBreakdown, IssuedInvoice, Payment};

/// Why a correction cannot be worked out for an invoice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorrectionError {
    /// Six amounts whose lines do not add up to their total (or overflow).
    #[error("amounts {0:?} do not add up: the five lines must sum to the total")]
    LinesDoNotAddUp([i64; 6]),
    /// The stored inputs of an invoice cannot be priced again.
    #[error("invoice {invoice} cannot be priced again: {reason}")]
    Unpriceable {
        /// The invoice.
        invoice: String,
        /// Why (a stored line item that does not parse, a pricing refusal).
        reason: String,
    },
}

/// Six amounts in cents, in [`IssuedBreakdown::NAMES`] order (subtotal,
/// tier discount, loyalty discount, tax, late fee, total), whose five lines
/// add up to the total. Unlike an issued breakdown, any line and the total
/// may be negative: a credit note of an undercharge is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Lines {
    cents: [i64; 6],
}

impl Lines {
    /// Six amounts whose lines add up to the total, without overflow.
    pub fn new(cents: [i64; 6]) -> Result<Lines, CorrectionError> {
        let [subtotal, tier, loyalty, tax, late_fee, total] = cents;
        let sum = [tier, loyalty, tax, late_fee]
            .into_iter()
            .try_fold(subtotal, i64::checked_add);
        if sum != Some(total) {
            return Err(CorrectionError::LinesDoNotAddUp(cents));
        }
        Ok(Lines { cents })
    }

    /// The amounts, in [`IssuedBreakdown::NAMES`] order.
    pub fn cents(&self) -> [i64; 6] {
        self.cents
    }

    /// The total (the last amount).
    pub fn total(&self) -> i64 {
        self.cents[5]
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.cents == [0; 6]
    }

    /// `self` minus `other`, line by line: still adds up (a difference of
    /// sums is the sum of differences), or an error if a line overflows.
    pub fn minus(&self, other: &Lines) -> Result<Lines, CorrectionError> {
        let mut cents = [0_i64; 6];
        for ((slot, a), b) in cents.iter_mut().zip(self.cents).zip(other.cents) {
            *slot = a
                .checked_sub(b)
                .ok_or(CorrectionError::LinesDoNotAddUp(self.cents))?;
        }
        Lines::new(cents)
    }
}

impl From<&IssuedBreakdown> for Lines {
    fn from(breakdown: &IssuedBreakdown) -> Lines {
        Lines {
            cents: breakdown.amounts().map(pricing::Money::minor_units),
        }
    }
}

/// What an undercharge (a credit note whose total is negative: the right
/// table asks more than the customer was charged) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Undercharge {
    /// The difference is recorded and absorbed: nothing more is asked of
    /// the customer (the default; no anchor raises an issued invoice
    /// silently).
    #[default]
    Absorb,
    /// A supplementary invoice of the difference is issued, collected like
    /// any other.
    Bill,
}

/// What settles a credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The invoice was paid: the credit note's total is refunded against
    /// its charge.
    Refund,
    /// The invoice is not paid yet: the credit note lowers the amount due,
    /// and the next charge collects the corrected amount.
    ReduceDue,
    /// The total does not change, only the lines: the credit note is
    /// recorded, nothing moves.
    None,
    /// An undercharge, absorbed: recorded, nothing is asked of the customer.
    Absorb,
    /// An undercharge, billed with a supplementary invoice.
    Bill,
    /// Not corrected now: see [`Blocked`].
    Blocked(Blocked),
}

impl Action {
    /// Its name in a plan: `refund`, `reduce_due`, `none`, `absorb`,
    /// `bill` or `blocked`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Refund => "refund",
            Action::ReduceDue => "reduce_due",
            Action::None => "none",
            Action::Absorb => "absorb",
            Action::Bill => "bill",
            Action::Blocked(_) => "blocked",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an invoice is not corrected now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blocked {
    /// A payment attempt is pending or its outcome unknown: money may be
    /// moving, so nothing is corrected until `reconcile` (or the next
    /// charge) settles it.
    PaymentInDoubt,
}

impl Blocked {
    /// The reason, as a plan states it.
    pub const fn reason(self) -> &'static str {
        match self {
            Blocked::PaymentInDoubt => {
                "a payment attempt is pending or unknown: settle it (ledgerly reconcile) and plan again"
            }
        }
    }
}

/// What a correction does to one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    effective: Lines,
    corrected: Lines,
    credit: Lines,
    action: Action,
}

impl Correction {
    /// The invoice as it stands: issued minus its earlier credit notes.
    pub fn effective(&self) -> Lines {
        self.effective
    }

    /// The invoice priced with the right table.
    pub fn corrected(&self) -> Lines {
        self.corrected
    }

    /// The credit note's lines: effective minus corrected.
    pub fn credit(&self) -> Lines {
        self.credit
    }

    /// What settles it.
    pub fn action(&self) -> Action {
        self.action
    }
}

/// What correcting `record` to `right` does, after the credit notes
/// `earlier` (their lines) already written against it; `None` when the
/// right table gives exactly its effective breakdown (nothing to correct).
///
/// # Errors
///
/// [`CorrectionError`] when the invoice's stored inputs cannot be priced
/// again, or the amounts overflow.
pub fn correct(
    record: &InvoiceRecord,
    earlier: &[Lines],
    right: &RateTable,
    undercharge: Undercharge,
) -> Result<Option<Correction>, CorrectionError> {
    let invoice = record.invoice();
    let mut effective = Lines::from(invoice.breakdown());
    for credit in earlier {
        effective = effective.minus(credit)?;
    }
    let corrected = reprice(invoice, right)?;
    let credit = effective.minus(&corrected)?;
    if credit.is_zero() {
        return Ok(None);
    }
    let action = match record.status() {
        InvoiceStatus::Unknown => Action::Blocked(Blocked::PaymentInDoubt),
        _ if credit.total() == 0 => Action::None,
        _ if credit.total() < 0 => match undercharge {
            Undercharge::Absorb => Action::Absorb,
            Undercharge::Bill => Action::Bill,
        },
        InvoiceStatus::Paid(Payment::Charged(_)) => Action::Refund,
        // Nothing was charged (a zero total has nothing to credit; this
        // arm only keeps the match whole), or not yet.
        InvoiceStatus::Paid(Payment::NothingDue)
        | InvoiceStatus::Open
        | InvoiceStatus::PaymentFailed { .. } => Action::ReduceDue,
    };
    Ok(Some(Correction {
        effective,
        corrected,
        credit,
        action,
    }))
}

/// The invoice's stored inputs priced with `rates`.
pub fn reprice(invoice: &IssuedInvoice, rates: &RateTable) -> Result<Lines, CorrectionError> {
    let unpriceable = |reason: String| CorrectionError::Unpriceable {
        invoice: invoice.id().to_string(),
        reason,
    };
    let input = pricing_input(invoice).map_err(|error| unpriceable(error.to_string()))?;
    let breakdown = price_with(rates, &input).map_err(|error| unpriceable(error.to_string()))?;
    Ok(Lines {
        cents: breakdown.amounts().map(pricing::Money::minor_units),
    })
}

/// The pricing input an issued invoice was priced from, read back from
/// its stored parts (`40x3 15x2`, the tier's name, loyalty, days overdue).
pub fn pricing_input(invoice: &IssuedInvoice) -> Result<PricingInput, PricingError> {
    let mut items = Vec::new();
    for item in invoice.line_items().split(' ') {
        let (price, quantity) = item
            .rsplit_once('x')
            .ok_or_else(|| PricingError::InvalidPrice(pricing::excerpt(item)))?;
        items.push(LineItem::new(price.parse()?, quantity.parse()?));
    }
    PricingInput::new(
        items,
        Tier::from_name(invoice.tier()),
        invoice.loyalty_member(),
        DaysOverdue::from(invoice.days_overdue()),
    )
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use payment_gateway::{Amount, ChargeId, Currency, PaymentMethod};
    use pricing::Decimal;
    use pricing::{RATES, price_with};
    use proptest::prelude::*;

    use super::*;
    use crate::{Attempt, AttemptOutcome, CustomerId, InvoiceId, IssuedParts, Rates, attempt_key};

    /// The lesson's invoice (40×3, 15×2, gold, loyalty, 45 days) priced
    /// with `rates`, as issued.
    fn issued(
        line_items: &str,
        tier: &str,
        member: bool,
        days: u32,
        rates: RateTable,
    ) -> IssuedInvoice {
        let mut parts = IssuedParts {
            id: InvoiceId::new("INV-1").unwrap(),
            customer: CustomerId::new("cus_1").unwrap(),
            payment_method: PaymentMethod::new("tok_success").unwrap(),
            currency: Currency::Usd,
            line_items: line_items.to_owned(),
            tier: tier.to_owned(),
            loyalty_member: member,
            days_overdue: days,
            breakdown: IssuedBreakdown::new([0; 6]).unwrap(),
            rates: Rates::new(rates, None),
            issued_at: UNIX_EPOCH,
        };
        let input = pricing_input(&IssuedInvoice::restore(parts.clone()).unwrap()).unwrap();
        parts.breakdown = IssuedBreakdown::from(price_with(&rates, &input).unwrap());
        IssuedInvoice::restore(parts).unwrap()
    }

    fn typo() -> RateTable {
        let mut typo = RATES;
        typo.gold_discount = Decimal::new(12, 2);
        typo
    }

    /// `invoice` with one attempt that ended `outcome` (none when `None`).
    fn record(invoice: IssuedInvoice, outcome: Option<AttemptOutcome>) -> InvoiceRecord {
        let attempts = outcome
            .map(|outcome| {
                let id = invoice.id().clone();
                let amount = Amount::new(
                    invoice.breakdown().total().minor_units().max(1),
                    Currency::Usd,
                )
                .unwrap();
                let key = attempt_key(&id, 1).unwrap();
                vec![
                    Attempt::restore(
                        id,
                        1,
                        key.as_str(),
                        PaymentMethod::new("tok_success").unwrap(),
                        amount,
                        outcome,
                        UNIX_EPOCH,
                        UNIX_EPOCH,
                    )
                    .unwrap(),
                ]
            })
            .unwrap_or_default();
        InvoiceRecord::new(invoice, attempts).unwrap()
    }

    /// A captured attempt's outcome, for [`record`].
    #[allow(clippy::unnecessary_wraps)]
    fn captured() -> Option<AttemptOutcome> {
        Some(AttemptOutcome::Captured(ChargeId::new("ch_1").unwrap()))
    }

    fn lesson() -> IssuedInvoice {
        issued("40x3 15x2", "gold", true, 45, typo())
    }

    #[test]
    fn the_lessons_typo_is_credited_five_dollars_line_by_line_and_refunded_when_paid() {
        assert_eq!(lesson().breakdown().total().minor_units(), 14669);
        let correction = correct(
            &record(lesson(), captured()),
            &[],
            &RATES,
            Undercharge::Absorb,
        )
        .unwrap()
        .unwrap();
        assert_eq!(correction.credit().cents(), [0, 450, -9, 35, 24, 500]);
        assert_eq!(correction.corrected().total(), 14169);
        assert_eq!(correction.effective().total(), 14669);
        assert_eq!(correction.action(), Action::Refund);
    }

    #[test]
    fn what_settles_a_credit_note_follows_from_the_invoices_status_and_the_credits_sign() {
        let action = |outcome, rates: RateTable, undercharge| {
            correct(&record(lesson(), outcome), &[], &rates, undercharge)
                .unwrap()
                .map(|correction| correction.action())
        };
        assert_eq!(
            action(None, RATES, Undercharge::Absorb),
            Some(Action::ReduceDue)
        );
        let declined = Some(AttemptOutcome::Declined(
            payment_gateway::DeclineCode::CardDeclined,
        ));
        assert_eq!(
            action(declined, RATES, Undercharge::Absorb),
            Some(Action::ReduceDue)
        );
        for doubt in [
            AttemptOutcome::Pending,
            AttemptOutcome::Unknown("lost".to_owned()),
        ] {
            assert_eq!(
                action(Some(doubt), RATES, Undercharge::Absorb),
                Some(Action::Blocked(Blocked::PaymentInDoubt))
            );
        }
        // The typo the other way: gold at 0.10 asks more than was charged.
        let mut higher = RATES;
        higher.gold_discount = Decimal::new(10, 2);
        assert_eq!(
            action(captured(), higher, Undercharge::Absorb),
            Some(Action::Absorb)
        );
        assert_eq!(
            action(captured(), higher, Undercharge::Bill),
            Some(Action::Bill)
        );
        // The table it was issued with changes nothing.
        assert_eq!(action(captured(), typo(), Undercharge::Absorb), None);
        assert!(Blocked::PaymentInDoubt.reason().contains("reconcile"));
        assert_eq!(Action::ReduceDue.to_string(), "reduce_due");
    }

    #[test]
    fn a_change_that_moves_money_between_lines_only_is_a_credit_note_of_zero_that_moves_nothing() {
        // 100.00 at bronze, not overdue: the tier discount and the tax move
        // in opposite directions by the same cents.
        let mut from = RATES;
        from.bronze_discount = Decimal::new(0, 0);
        from.sales_tax = Decimal::new(5, 2);
        let invoice = issued("100x1", "bronze", false, 0, from);
        let mut to = from;
        to.bronze_discount = Decimal::new(5, 2);
        to.sales_tax = Decimal::new(105_263, 6);
        let correction = correct(&record(invoice, captured()), &[], &to, Undercharge::Absorb)
            .unwrap()
            .unwrap();
        assert_eq!(correction.credit().total(), 0, "{:?}", correction.credit());
        assert!(!correction.credit().is_zero());
        assert_eq!(correction.action(), Action::None);
    }

    #[test]
    fn lines_that_do_not_add_up_or_overflow_are_refused() {
        assert!(Lines::new([1, 1, 1, 1, 1, 5]).is_ok());
        assert_eq!(
            Lines::new([1, 1, 1, 1, 1, 6]),
            Err(CorrectionError::LinesDoNotAddUp([1, 1, 1, 1, 1, 6]))
        );
        assert!(Lines::new([i64::MAX, 1, 0, 0, 0, i64::MIN]).is_err());
        let big = Lines::new([i64::MAX, 0, 0, 0, 0, i64::MAX]).unwrap();
        let negative = Lines::new([-1, 0, 0, 0, 0, -1]).unwrap();
        assert!(big.minus(&negative).is_err());
        assert_eq!(big.minus(&big).unwrap(), Lines::default());
    }

    #[test]
    fn a_stored_line_item_that_does_not_parse_is_an_error_naming_the_invoice() {
        let mut parts = lesson().parts().clone();
        parts.line_items = "40x3 fifteen".to_owned();
        let invoice = IssuedInvoice::restore(parts).unwrap();
        let error = reprice(&invoice, &RATES).unwrap_err().to_string();
        assert!(
            error.starts_with("invoice INV-1 cannot be priced again"),
            "{error}"
        );
    }

    fn rate() -> impl Strategy<Value = Decimal> {
        (0_i64..=10_000).prop_map(|basis_points| Decimal::new(basis_points, 4))
    }

    fn table() -> impl Strategy<Value = RateTable> {
        (rate(), rate(), rate(), rate(), rate(), rate(), 0_u32..=60).prop_map(
            |(gold, silver, bronze, loyalty, tax, late, after)| RateTable {
                gold_discount: gold,
                silver_discount: silver,
                bronze_discount: bronze,
                loyalty_discount: loyalty,
                sales_tax: tax,
                late_fee: late,
                late_fee_after_days: after,
            },
        )
    }

    fn line_items() -> impl Strategy<Value = String> {
        proptest::collection::vec((1_i64..=5_000_000, 0_u32..=4, 1_u32..=50), 1..5).prop_map(
            |items| {
                items
                    .iter()
                    .map(|(units, scale, quantity)| {
                        format!("{}x{quantity}", Decimal::new(*units, *scale).normalize())
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        )
    }

    proptest! {
        /// Over random invoices and a chain of random tables (the one it
        /// was issued with, then one to three corrections): every credit
        /// note adds up; the invoice minus its credit notes is, line by
        /// line, what the last table gives; the credit totals together are
        /// the issued total minus the last corrected total (no cent
        /// credited twice); and a tax or late-fee credit never exceeds what
        /// was charged on that line.
        #[test]
        fn chained_corrections_credit_each_cent_once_and_leave_the_right_breakdown(
            items in line_items(),
            tier in proptest::sample::select(vec!["none", "bronze", "silver", "gold", "platinum"]),
            member: bool,
            days in 0_u32..=61,
            issued_with in table(),
            chain in proptest::collection::vec(table(), 1..4),
        ) {
            let invoice = issued(&items, tier, member, days, issued_with);
            let issued_lines = Lines::from(invoice.breakdown());
            let record = record(invoice, captured());
            let mut credits: Vec<Lines> = Vec::new();
            let mut last = issued_lines;
            for right in &chain {
                let expected = reprice(record.invoice(), right).unwrap();
                match correct(&record, &credits, right, Undercharge::Absorb).unwrap() {
                    None => prop_assert_eq!(last, expected),
                    Some(correction) => {
                        let credit = correction.credit();
                        prop_assert_eq!(Lines::new(credit.cents()), Ok(credit));
                        prop_assert_eq!(correction.effective(), last);
                        prop_assert!(credit.cents()[3] <= last.cents()[3], "tax credit above tax charged");
                        prop_assert!(credit.cents()[4] <= last.cents()[4], "late-fee credit above late fee charged");
                        credits.push(credit);
                    }
                }
                let mut remaining = issued_lines;
                for credit in &credits {
                    remaining = remaining.minus(credit).unwrap();
                }
                prop_assert_eq!(remaining, expected);
                last = expected;
            }
            let credited: i64 = credits.iter().map(Lines::total).sum();
            prop_assert_eq!(credited, issued_lines.total() - last.total());
        }
    }
}
