//! The one table of Ledgerly's pricing rates.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// Every rate and threshold that pricing applies.
///
/// This is deliberately the only place a rate is written down: a typo in
/// pricing can only happen here, and the test suite checks every entry
/// against the numbers in the billing rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateTable {
    /// Discount for `gold` customers, as a fraction of the subtotal.
    pub gold_discount: Decimal,
    /// Discount for `silver` customers.
    pub silver_discount: Decimal,
    /// Discount for `bronze` customers.
    pub bronze_discount: Decimal,
    /// Extra discount for loyalty members, on the amount after the tier discount.
    pub loyalty_discount: Decimal,
    /// Sales tax added to the discounted amount.
    pub sales_tax: Decimal,
    /// Late fee added to the taxed amount once the invoice is overdue.
    pub late_fee: Decimal,
    /// The late fee applies when `days_overdue` is strictly greater than this.
    pub late_fee_after_days: u32,
}

/// Ledgerly's rates as the billing rules state them.
pub const RATES: RateTable = RateTable {
    gold_discount: dec!(0.15),
    silver_discount: dec!(0.10),
    bronze_discount: dec!(0.05),
    loyalty_discount: dec!(0.02),
    sales_tax: dec!(0.08),
    late_fee: dec!(0.05),
    late_fee_after_days: 30,
};
