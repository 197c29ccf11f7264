//! The one table of Ledgerly's pricing rates, and its version.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::PricingError;

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

/// The version of [`RATES`], bumped by hand with every deliberate change of
/// a rate or of the threshold.
///
/// A change of the table is a change of what customers pay, so it has to be
/// declared: `pricing/tests/rates_version.rs` pins this number together with
/// the table's [`RateTable::fingerprint`], and fails the build when the
/// values change without both being updated. The deploy gate
/// (`scripts/deploy.sh diff`) refuses a release whose invoices price
/// differently from the live release's while this number is the same.
pub const RATES_VERSION: u32 = 1;

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

/// The FNV-1a 64-bit parameters: a tiny, fully specified hash, so the
/// fingerprint is the same on every platform and every Rust version
/// (`std`'s hashers promise neither).
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl RateTable {
    /// The most decimal places a rate may have: a table read from a file
    /// (another release's `ledgerly rates --format json`) is checked
    /// against it. Six places are a ten-thousandth of a percent.
    pub const MAX_RATE_PLACES: u32 = 6;

    /// Checks a table that did not come from this build: every rate a
    /// fraction from 0 to 1 (a discount of more than the whole, or a tax of
    /// more than the amount, is a typo) with at most
    /// [`MAX_RATE_PLACES`](Self::MAX_RATE_PLACES) decimal places.
    ///
    /// # Errors
    ///
    /// [`PricingError::InvalidRate`] naming the first rate out of range.
    pub fn checked(self) -> Result<RateTable, PricingError> {
        for (name, value) in self.rates() {
            let fraction = value >= Decimal::ZERO && value <= Decimal::ONE;
            if !fraction || value.normalize().scale() > Self::MAX_RATE_PLACES {
                return Err(PricingError::InvalidRate { name, value });
            }
        }
        Ok(self)
    }

    /// The rates by name, in the order pricing applies them.
    pub fn rates(&self) -> [(&'static str, Decimal); 6] {
        [
            ("gold_discount", self.gold_discount),
            ("silver_discount", self.silver_discount),
            ("bronze_discount", self.bronze_discount),
            ("loyalty_discount", self.loyalty_discount),
            ("sales_tax", self.sales_tax),
            ("late_fee", self.late_fee),
        ]
    }

    /// A fingerprint of every value in the table: `fnv1a64:` and 16 hex digits.
    ///
    /// It hashes each rate's name and normalized value (so `0.10` and `0.1`,
    /// the same rate, give the same fingerprint) and the threshold, so any
    /// change of what pricing computes changes it, and nothing else does.
    pub fn fingerprint(&self) -> String {
        let mut canonical = String::new();
        for (name, rate) in self.rates() {
            canonical.push_str(name);
            canonical.push('=');
            canonical.push_str(&rate.normalize().to_string());
            canonical.push('\n');
        }
        canonical.push_str("late_fee_after_days=");
        canonical.push_str(&self.late_fee_after_days.to_string());
        canonical.push('\n');
        let hash = canonical.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
        });
        format!("fnv1a64:{hash:016x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A change made to a copy of [`RATES`].
    type Change = fn(&mut RateTable);

    #[test]
    fn a_table_from_elsewhere_holds_fractions_from_zero_to_one_with_six_places_at_most() {
        assert_eq!(RATES.checked(), Ok(RATES));
        let mut edge = RATES;
        edge.gold_discount = Decimal::ONE;
        edge.silver_discount = Decimal::ZERO;
        edge.late_fee = dec!(0.000001);
        edge.late_fee_after_days = u32::MAX;
        assert_eq!(edge.checked(), Ok(edge));
        // Trailing zeros are not places: 0.1500000 is 0.15.
        edge.sales_tax = dec!(0.0800000);
        assert_eq!(edge.checked(), Ok(edge));
        let refusals: [(Change, &str); 4] = [
            (
                |t| t.gold_discount = dec!(1.01),
                "rate gold_discount 1.01 is not",
            ),
            (
                |t| t.loyalty_discount = dec!(-0.02),
                "rate loyalty_discount -0.02 is not",
            ),
            (
                |t| t.sales_tax = dec!(0.0800001),
                "rate sales_tax 0.0800001 is not",
            ),
            (|t| t.late_fee = dec!(5), "rate late_fee 5 is not"),
        ];
        for (change, message) in refusals {
            let mut table = RATES;
            change(&mut table);
            let error = table.checked().unwrap_err().to_string();
            assert!(error.starts_with(message), "{error}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_how_a_rate_is_written() {
        let mut respelled = RATES;
        respelled.silver_discount = dec!(0.1000);
        assert_eq!(respelled.fingerprint(), RATES.fingerprint());
    }

    #[test]
    fn changing_any_rate_or_the_threshold_changes_the_fingerprint() {
        let base = RATES.fingerprint();
        let changes: [fn(&mut RateTable); 7] = [
            |t| t.gold_discount -= dec!(0.03),
            |t| t.silver_discount += dec!(0.01),
            |t| t.bronze_discount += dec!(0.01),
            |t| t.loyalty_discount += dec!(0.01),
            |t| t.sales_tax += dec!(0.01),
            |t| t.late_fee += dec!(0.01),
            |t| t.late_fee_after_days = 20,
        ];
        let mut seen = vec![base.clone()];
        for change in changes {
            let mut table = RATES;
            change(&mut table);
            let fingerprint = table.fingerprint();
            assert!(
                !seen.contains(&fingerprint),
                "{fingerprint} repeats an earlier fingerprint"
            );
            seen.push(fingerprint);
        }
    }

    #[test]
    fn swapping_two_rates_changes_the_fingerprint() {
        let mut swapped = RATES;
        swapped.silver_discount = RATES.bronze_discount;
        swapped.bronze_discount = RATES.silver_discount;
        assert_ne!(swapped.fingerprint(), RATES.fingerprint());
    }

    #[test]
    fn the_fingerprint_is_fnv1a64_and_sixteen_hex_digits() {
        let fingerprint = RATES.fingerprint();
        let hex = fingerprint.strip_prefix("fnv1a64:").unwrap();
        assert_eq!(hex.len(), 16);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn rates_lists_every_rate_by_name_in_pipeline_order() {
        let names: Vec<&str> = RATES.rates().iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "gold_discount",
                "silver_discount",
                "bronze_discount",
                "loyalty_discount",
                "sales_tax",
                "late_fee"
            ]
        );
        let values: Vec<Decimal> = RATES.rates().iter().map(|(_, rate)| *rate).collect();
        assert_eq!(
            values,
            [
                dec!(0.15),
                dec!(0.10),
                dec!(0.05),
                dec!(0.02),
                dec!(0.08),
                dec!(0.05)
            ]
        );
    }
}
