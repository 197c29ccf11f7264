//! Prices arbitrary valid invoices: pricing must never panic, and whenever it
//! prices an invoice the breakdown lines add up to the total and the total is
//! the exact amount rounded once (checked with integer arithmetic).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pricing::{DaysOverdue, LineItem, Money, Price, PricingInput, Quantity, Tier, price};
use rust_decimal::Decimal;

#[derive(Debug, Arbitrary)]
struct Line {
    /// Price in ten-thousandths, folded into the valid range below.
    price_units: u64,
    quantity: u32,
}

#[derive(Debug, Arbitrary)]
struct Invoice {
    lines: Vec<Line>,
    tier: String,
    loyalty_member: bool,
    days_overdue: u32,
}

/// The largest price, 1 000 000 000, in ten-thousandths.
const MAX_PRICE_UNITS: u64 = 10_000_000_000_000;

fuzz_target!(|invoice: Invoice| {
    let mut items = Vec::new();
    let mut oracle_subtotal: i128 = 0;
    for line in &invoice.lines {
        // Fold the raw numbers into valid prices and quantities: refusals are
        // the property tests' job, this target explores valid invoices.
        let units = line.price_units % (MAX_PRICE_UNITS + 1);
        let count = u64::from(line.quantity % Quantity::MAX) + 1;
        let units_i64 = i64::try_from(units).expect("folded below i64::MAX");
        let price = Price::new(Decimal::new(units_i64, 4)).expect("folded price is valid");
        let quantity = Quantity::new(count).expect("folded quantity is valid");
        oracle_subtotal += i128::from(units) * i128::from(count);
        items.push(LineItem::new(price, quantity));
    }
    let days = DaysOverdue::from(invoice.days_overdue);
    let tier = Tier::from_name(&invoice.tier);
    let Ok(input) = PricingInput::new(items, tier.clone(), invoice.loyalty_member, days) else {
        return;
    };
    let Ok(breakdown) = price(&input) else {
        // The only refusal left for valid lines is a subtotal beyond the exact range.
        assert!(oracle_subtotal > 10_i128.pow(16 + 4), "refused a subtotal in range");
        return;
    };
    let sum = breakdown
        .lines()
        .iter()
        .try_fold(Money::ZERO, |acc, (_, line)| acc.checked_add(*line))
        .expect("lines fit");
    assert_eq!(sum, breakdown.total(), "breakdown does not add up");

    let tier_pct = match tier {
        Tier::Gold => 85,
        Tier::Silver => 90,
        Tier::Bronze => 95,
        _ => 100,
    };
    let loyalty_pct = if invoice.loyalty_member { 98 } else { 100 };
    let late_pct = if days.get() > 30 { 105 } else { 100 };
    let exact = oracle_subtotal * tier_pct * loyalty_pct * 108 * late_pct;
    let unit = 10_i128.pow(10);
    assert_eq!(i128::from(breakdown.total().minor_units()), (exact + unit / 2) / unit);
});
