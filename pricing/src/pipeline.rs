//! The pricing pipeline: subtotal, tier discount, loyalty discount, sales
//! tax, late fee, then one rounding.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Serialize;

use crate::{
    DaysOverdue, LineItem, Money, PricingError, PricingInput, RATES, RateTable, Terms, Tier, fast,
};

/// The largest subtotal pricing accepts.
///
/// Every step multiplies by a rate with two decimal places, so the exact
/// total of a subtotal with 4 decimal places has at most 12. `rust_decimal`
/// holds 28 significant digits, so below this bound every intermediate amount
/// is exact; above it `rust_decimal` would start rounding silently. No real
/// invoice comes near it (it takes eleven lines of a billion times a million).
pub const MAX_SUBTOTAL: Decimal = dec!(10000000000000000);

/// [`MAX_SUBTOTAL`] as a bare mantissa at scale 0.
const MAX_SUBTOTAL_MANTISSA: i128 = 10_000_000_000_000_000;

/// Σ price × quantity, exact.
pub fn calculate_subtotal(line_items: &[LineItem]) -> Result<Decimal, PricingError> {
    let mut subtotal = Decimal::ZERO;
    for item in line_items {
        let amount = item
            .price()
            .amount()
            .checked_mul(Decimal::from(item.quantity().get()))
            .and_then(|amount| subtotal.checked_add(amount));
        // A mantissa of at most 10^16 cannot exceed `MAX_SUBTOTAL` at any
        // scale; the full comparison, which rescales, runs only above that.
        // The error names the sum that is over the limit, the line that
        // took it there included, not the sum before it.
        subtotal = match amount {
            Some(sum) if sum.mantissa() <= MAX_SUBTOTAL_MANTISSA || sum <= MAX_SUBTOTAL => sum,
            Some(sum) => return Err(PricingError::SubtotalTooLarge(sum)),
            None => return Err(PricingError::SubtotalTooLarge(subtotal)),
        };
    }
    Ok(subtotal)
}

/// Takes the tier's discount off `amount`; an unrecognized tier takes nothing.
pub fn apply_tier_discount(amount: Decimal, tier: &Tier) -> Result<Decimal, PricingError> {
    taken_off(amount, tier.discount_rate())
}

/// `amount` with the fraction `rate` taken off.
fn taken_off(amount: Decimal, rate: Decimal) -> Result<Decimal, PricingError> {
    if rate.is_zero() {
        // Taking nothing off leaves the amount as it is; multiplying by one
        // would only cost time.
        return Ok(amount);
    }
    scale_by(amount, Decimal::ONE - rate)
}

/// Takes the loyalty discount off `amount` for members.
pub fn apply_loyalty_discount(amount: Decimal, is_member: bool) -> Result<Decimal, PricingError> {
    if is_member {
        scale_by(amount, Decimal::ONE - RATES.loyalty_discount)
    } else {
        Ok(amount)
    }
}

/// Adds sales tax to `amount`.
pub fn add_tax(amount: Decimal) -> Result<Decimal, PricingError> {
    scale_by(amount, Decimal::ONE + RATES.sales_tax)
}

/// Adds the late fee when the invoice is more than
/// [`late_fee_after_days`](crate::RateTable::late_fee_after_days) overdue.
pub fn add_late_fee(amount: Decimal, days_overdue: DaysOverdue) -> Result<Decimal, PricingError> {
    if days_overdue.get() > RATES.late_fee_after_days {
        scale_by(amount, Decimal::ONE + RATES.late_fee)
    } else {
        Ok(amount)
    }
}

/// The invoice total: the whole pipeline, rounded once to cents.
pub fn calculate_invoice_total(
    line_items: &[LineItem],
    tier: &Tier,
    is_member: bool,
    days_overdue: DaysOverdue,
) -> Result<Money, PricingError> {
    // The lesson's signature, kept by name; the terms are one value inside.
    let terms = Terms::new(tier.clone(), is_member, days_overdue);
    let steps = exact_steps(&RATES, line_items, &terms)?;
    Money::round_half_away_from_zero(steps[4])
}

/// Prices an invoice and itemizes the result so the lines add up to the total.
///
/// ```
/// use pricing::{DaysOverdue, LineItem, PricingInput, Tier, price};
///
/// let items = vec![
///     LineItem::new("40".parse()?, "3".parse()?),
///     LineItem::new("15".parse()?, "2".parse()?),
/// ];
/// let input = PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45))?;
/// let breakdown = price(&input)?;
/// assert_eq!(breakdown.tier_discount().to_string(), "-22.50");
/// assert_eq!(breakdown.total().to_string(), "141.69");
/// # Ok::<(), pricing::PricingError>(())
/// ```
pub fn price(input: &PricingInput) -> Result<Breakdown, PricingError> {
    price_line_items(input.line_items(), input.terms())
}

/// Prices an invoice with another rate table than [`RATES`]: what a
/// correction needs to re-price an issued invoice with the right table, or
/// to find what a wrong one charged. The same pipeline, rounding and
/// breakdown rule as [`price`], which is `price_with(&RATES, input)`.
///
/// ```
/// use pricing::{DaysOverdue, LineItem, PricingInput, RATES, Tier, price_with};
///
/// let items = vec![
///     LineItem::new("40".parse()?, "3".parse()?),
///     LineItem::new("15".parse()?, "2".parse()?),
/// ];
/// let input = PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45))?;
/// let mut typo = RATES;
/// typo.gold_discount = "0.12".parse()?;
/// assert_eq!(price_with(&typo, &input)?.total().to_string(), "146.69");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn price_with(rates: &RateTable, input: &PricingInput) -> Result<Breakdown, PricingError> {
    price_line_items_with(rates, input.line_items(), input.terms())
}

/// Prices line items without building a [`PricingInput`] first: the same
/// result as [`price`] on the same parts, for callers that price millions
/// of invoices and keep their line items in a reused buffer.
///
/// An empty slice is refused with [`PricingError::NoLineItems`], as
/// [`PricingInput::new`] refuses it.
///
/// ```
/// use pricing::{DaysOverdue, LineItem, Terms, Tier, price_line_items};
///
/// let items = [
///     LineItem::new("40".parse()?, "3".parse()?),
///     LineItem::new("15".parse()?, "2".parse()?),
/// ];
/// let terms = Terms::new(Tier::Gold, true, DaysOverdue::from(45));
/// let breakdown = price_line_items(&items, &terms)?;
/// assert_eq!(breakdown.total().to_string(), "141.69");
/// # Ok::<(), pricing::PricingError>(())
/// ```
pub fn price_line_items(line_items: &[LineItem], terms: &Terms) -> Result<Breakdown, PricingError> {
    price_line_items_with(&RATES, line_items, terms)
}

/// [`price_line_items`] with another rate table than [`RATES`] (see
/// [`price_with`]).
pub fn price_line_items_with(
    rates: &RateTable,
    line_items: &[LineItem],
    terms: &Terms,
) -> Result<Breakdown, PricingError> {
    if line_items.is_empty() {
        return Err(PricingError::NoLineItems);
    }
    // Nearly every invoice takes the integer path (`fast.rs`); the rest are
    // priced, or refused, on exact decimals.
    if let Some(rounded) = fast::rounded_steps(rates, line_items, terms) {
        return Breakdown::from_rounded(rounded, || exact_steps(rates, line_items, terms));
    }
    exact_breakdown(rates, line_items, terms)
}

/// The general path: the breakdown on exact decimals alone.
fn exact_breakdown(
    rates: &RateTable,
    line_items: &[LineItem],
    terms: &Terms,
) -> Result<Breakdown, PricingError> {
    let steps = exact_steps(rates, line_items, terms)?;
    Breakdown::from_rounded(round_steps(steps)?, || Ok(steps))
}

/// The general path's five running amounts, each rounded to cents: what
/// the integer path must give.
#[cfg(test)]
pub(crate) fn exact_rounded_steps(
    rates: &RateTable,
    line_items: &[LineItem],
    terms: &Terms,
) -> Result<[Money; 5], PricingError> {
    round_steps(exact_steps(rates, line_items, terms)?)
}

/// Each exact running amount rounded to cents, half away from zero.
fn round_steps(steps: [Decimal; 5]) -> Result<[Money; 5], PricingError> {
    let mut rounded = [Money::ZERO; 5];
    let mut previous: Option<(Decimal, Money)> = None;
    for (slot, step) in rounded.iter_mut().zip(steps) {
        // A step that changed nothing (no tier, not a member, not
        // overdue) is the very same decimal as the one before; its
        // rounding is the same too, so it is not done twice. The
        // comparison is of the 16-byte representation, not of values,
        // which would rescale.
        *slot = match previous {
            Some((before, money)) if before.serialize() == step.serialize() => money,
            _ => Money::round_half_away_from_zero(step)?,
        };
        previous = Some((step, *slot));
    }
    Ok(rounded)
}

/// The exact running amounts a0 … a4: subtotal, after tier, after loyalty,
/// after tax, after late fee. Nothing is rounded here.
fn exact_steps(
    rates: &RateTable,
    line_items: &[LineItem],
    terms: &Terms,
) -> Result<[Decimal; 5], PricingError> {
    let subtotal = calculate_subtotal(line_items)?;
    let after_tier = taken_off(subtotal, terms.tier().discount_rate_in(rates))?;
    let after_loyalty = if terms.loyalty_member() {
        taken_off(after_tier, rates.loyalty_discount)?
    } else {
        after_tier
    };
    let after_tax = scale_by(after_loyalty, Decimal::ONE + rates.sales_tax)?;
    let after_late_fee = if terms.days_overdue().get() > rates.late_fee_after_days {
        scale_by(after_tax, Decimal::ONE + rates.late_fee)?
    } else {
        after_tax
    };
    Ok([
        subtotal,
        after_tier,
        after_loyalty,
        after_tax,
        after_late_fee,
    ])
}

fn scale_by(amount: Decimal, factor: Decimal) -> Result<Decimal, PricingError> {
    // `checked_mul` returns `None` only when the whole part overflows; below
    // `MAX_SUBTOTAL` it is also exact (see there).
    amount
        .checked_mul(factor)
        .ok_or(PricingError::AmountOutOfRange(amount))
}

/// An itemized invoice whose lines add up to its total, to the cent.
///
/// With a0 … a4 the exact running amounts and rᵢ each rounded to cents, the
/// lines are r0, r1 − r0, r2 − r1, r3 − r2 and r4 − r3, and the total is r4.
/// Rounding each line on its own could leave a one-cent gap that
/// e-invoicing validators reject; differences of rounded amounts cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Breakdown {
    subtotal: Money,
    tier_discount: Money,
    loyalty_discount: Money,
    tax: Money,
    late_fee: Money,
    total: Money,
}

impl Breakdown {
    /// The names of the six amounts, in the order an invoice shows them:
    /// the one list every record, listing and report uses (JSON keys, CSV
    /// columns, the ledger's breakdown).
    pub const NAMES: [&'static str; 6] = [
        "subtotal",
        "tier_discount",
        "loyalty_discount",
        "tax",
        "late_fee",
        "total",
    ];

    /// The breakdown of the five rounded running amounts; `exact` gives
    /// the exact ones, only for the message of a line that cannot be
    /// worked out.
    fn from_rounded(
        rounded: [Money; 5],
        exact: impl FnOnce() -> Result<[Decimal; 5], PricingError>,
    ) -> Result<Breakdown, PricingError> {
        let [r0, r1, r2, r3, r4] = rounded;
        // Each line is the change between two rounded running amounts. Both
        // are non-negative cents, so the difference always fits; the check
        // stays so that a future change cannot make it wrap silently.
        let lines = (|| {
            Some(Breakdown {
                subtotal: r0,
                tier_discount: r1.checked_sub(r0)?,
                loyalty_discount: r2.checked_sub(r1)?,
                tax: r3.checked_sub(r2)?,
                late_fee: r4.checked_sub(r3)?,
                total: r4,
            })
        })();
        match lines {
            Some(breakdown) => Ok(breakdown),
            None => Err(PricingError::AmountOutOfRange(exact()?[4])),
        }
    }

    /// The subtotal, rounded to cents.
    pub fn subtotal(&self) -> Money {
        self.subtotal
    }

    /// The tier discount line: zero or negative.
    pub fn tier_discount(&self) -> Money {
        self.tier_discount
    }

    /// The loyalty discount line: zero or negative.
    pub fn loyalty_discount(&self) -> Money {
        self.loyalty_discount
    }

    /// The sales tax line.
    pub fn tax(&self) -> Money {
        self.tax
    }

    /// The late fee line: zero unless the invoice is overdue.
    pub fn late_fee(&self) -> Money {
        self.late_fee
    }

    /// The total: the exact amount rounded once, half away from zero.
    pub fn total(&self) -> Money {
        self.total
    }

    /// The lines in invoice order, with their names as the JSON output uses
    /// them: subtotal, tier discount, loyalty discount, tax, late fee.
    pub fn lines(&self) -> [(&'static str, Money); 5] {
        let [subtotal, tier, loyalty, tax, late_fee, _] = Breakdown::NAMES;
        [
            (subtotal, self.subtotal),
            (tier, self.tier_discount),
            (loyalty, self.loyalty_discount),
            (tax, self.tax),
            (late_fee, self.late_fee),
        ]
    }

    /// The five lines then the total, in invoice order: every amount an
    /// itemized invoice shows.
    pub fn amounts(&self) -> [Money; 6] {
        [
            self.subtotal,
            self.tier_discount,
            self.loyalty_discount,
            self.tax,
            self.late_fee,
            self.total,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Price, Quantity};

    fn item(price: i64, scale: u32, quantity: u64) -> LineItem {
        LineItem::new(
            Price::new(Decimal::new(price, scale)).unwrap(),
            Quantity::new(quantity).unwrap(),
        )
    }

    #[test]
    fn price_line_items_refuses_an_empty_slice() {
        assert_eq!(
            price_line_items(&[], &Terms::new(Tier::Gold, true, DaysOverdue::from(45))),
            Err(PricingError::NoLineItems)
        );
    }

    #[test]
    fn price_line_items_prices_the_worked_example() {
        let breakdown = price_line_items(
            &[item(4000, 2, 3), item(15, 0, 2)],
            &Terms::new(Tier::Gold, true, DaysOverdue::from(45)),
        )
        .unwrap();
        assert_eq!(breakdown.subtotal().minor_units(), 15000);
        assert_eq!(breakdown.tier_discount().minor_units(), -2250);
        assert_eq!(breakdown.loyalty_discount().minor_units(), -255);
        assert_eq!(breakdown.tax().minor_units(), 1000);
        assert_eq!(breakdown.late_fee().minor_units(), 674);
        assert_eq!(breakdown.total().minor_units(), 14169);
    }

    #[test]
    fn price_line_items_reports_the_same_errors_as_price() {
        let items = vec![item(1_000_000_000, 0, 1_000_000); 11];
        let input =
            PricingInput::new(items.clone(), Tier::None, false, DaysOverdue::default()).unwrap();
        let error = price_line_items(&items, &Terms::default());
        assert!(matches!(error, Err(PricingError::SubtotalTooLarge(_))));
        assert_eq!(error, price(&input));
    }

    proptest::proptest! {
        #[test]
        fn price_line_items_agrees_with_the_exact_decimal_pipeline(
            lines in proptest::collection::vec((0_i64..=10_000_000_000_000, 1_u64..=1_000_000), 1..12),
            tier in proptest::sample::select(vec![
                Tier::None, Tier::Bronze, Tier::Silver, Tier::Gold, Tier::from_name("platinum"),
            ]),
            member: bool,
            days in 0_u32..=60,
        ) {
            let items: Vec<LineItem> = lines.iter().map(|&(units, quantity)| item(units, 4, quantity)).collect();
            let terms = Terms::new(tier.clone(), member, DaysOverdue::from(days));
            let input = PricingInput::new(items.clone(), tier, member, DaysOverdue::from(days)).unwrap();
            let exact = exact_breakdown(&RATES, &items, &terms);
            proptest::prop_assert_eq!(&price_line_items(&items, &terms), &exact);
            proptest::prop_assert_eq!(&price(&input), &exact);
        }
    }
}
