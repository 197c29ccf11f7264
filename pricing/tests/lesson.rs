//! The nine tests of the CI/CD lesson's `test_pricing.py`, ported with the
//! same names and numbers. They stay together in this one file so a failing
//! run names them exactly as the lesson's run did.

use pricing::{
    DaysOverdue, LineItem, Price, PricingError, Quantity, Tier, add_late_fee, add_tax,
    apply_loyalty_discount, apply_tier_discount, calculate_invoice_total, calculate_subtotal,
};
use rust_decimal_macros::dec;

fn item(price: &str, quantity: u64) -> Result<LineItem, PricingError> {
    Ok(LineItem::new(
        price.parse::<Price>()?,
        Quantity::new(quantity)?,
    ))
}

#[test]
fn calculate_subtotal_sums_price_times_quantity() -> Result<(), PricingError> {
    assert_eq!(
        calculate_subtotal(&[item("40", 3)?, item("15", 2)?])?,
        dec!(150)
    );
    Ok(())
}

#[test]
fn apply_tier_discount_for_gold_customer() -> Result<(), PricingError> {
    assert_eq!(apply_tier_discount(dec!(150), &Tier::Gold)?, dec!(127.5));
    Ok(())
}

#[test]
fn apply_tier_discount_for_unknown_tier_applies_no_discount() -> Result<(), PricingError> {
    let platinum = Tier::from_name("platinum");
    assert_eq!(apply_tier_discount(dec!(150), &platinum)?, dec!(150));
    Ok(())
}

#[test]
fn apply_loyalty_discount_for_member() -> Result<(), PricingError> {
    assert_eq!(apply_loyalty_discount(dec!(100), true)?, dec!(98));
    Ok(())
}

#[test]
fn apply_loyalty_discount_for_non_member() -> Result<(), PricingError> {
    assert_eq!(apply_loyalty_discount(dec!(100), false)?, dec!(100));
    Ok(())
}

#[test]
fn add_tax_adds_eight_percent() -> Result<(), PricingError> {
    assert_eq!(add_tax(dec!(100))?, dec!(108));
    Ok(())
}

#[test]
fn add_late_fee_when_overdue() -> Result<(), PricingError> {
    assert_eq!(add_late_fee(dec!(100), DaysOverdue::from(45))?, dec!(105));
    Ok(())
}

#[test]
fn add_late_fee_when_not_overdue() -> Result<(), PricingError> {
    assert_eq!(add_late_fee(dec!(100), DaysOverdue::from(10))?, dec!(100));
    Ok(())
}

#[test]
fn calculate_invoice_total_matches_full_pipeline() -> Result<(), PricingError> {
    let line_items = [item("40", 3)?, item("15", 2)?];
    let total = calculate_invoice_total(&line_items, &Tier::Gold, true, DaysOverdue::from(45))?;
    assert_eq!(total.to_string(), "141.69");
    Ok(())
}
