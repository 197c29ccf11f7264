//! Amounts of money rounded to cents.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

use crate::PricingError;

/// An amount rounded to whole cents, kept as a signed count of cents.
///
/// Keeping cents as an integer makes the "lines add up to the total" rule a
/// matter of integer addition, and makes the amount a payment gateway charges
/// (`minor_units`) exact by construction. It prints with exactly two decimals
/// (`-22.50`), which is also how it serializes: as a string, never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money {
    cents: i64,
}

impl Money {
    /// Zero.
    pub const ZERO: Money = Money { cents: 0 };

    /// Rounds an exact amount to cents, half away from zero.
    ///
    /// Invoices round half away from zero (`0.125` → `0.13`); `rust_decimal`'s
    /// plain `round_dp` would round half to even (`0.125` → `0.12`).
    ///
    /// ```
    /// use pricing::Money;
    /// use rust_decimal::Decimal;
    ///
    /// let amount: Decimal = "0.125".parse()?;
    /// assert_eq!(Money::round_half_away_from_zero(amount)?.to_string(), "0.13");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn round_half_away_from_zero(amount: Decimal) -> Result<Money, PricingError> {
        let rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        // After rounding to two places the scale is at most 2, so the count of
        // cents is the mantissa times 10^(2 - scale). Reading the mantissa is
        // exact and several times cheaper than multiplying by 100 and
        // truncating, which matters when a batch prices millions of invoices.
        // A mantissa that does not fit an i64 can happen for absurd amounts.
        let cents = 2_u32
            .checked_sub(rounded.scale())
            .and_then(|missing_places| {
                let mantissa = i64::try_from(rounded.mantissa()).ok()?;
                mantissa.checked_mul(10_i64.pow(missing_places))
            })
            .ok_or(PricingError::AmountOutOfRange(amount))?;
        Ok(Money { cents })
    }

    /// An amount given as a whole number of cents.
    pub const fn from_minor_units(cents: i64) -> Money {
        Money { cents }
    }

    /// The amount as a whole number of cents (minor units), as a payment
    /// gateway charges it.
    pub const fn minor_units(self) -> i64 {
        self.cents
    }

    /// The amount as an exact decimal with two decimal places.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.cents, 2)
    }

    /// `self - other`, or `None` if the difference does not fit.
    #[must_use]
    pub const fn checked_sub(self, other: Money) -> Option<Money> {
        match self.cents.checked_sub(other.cents) {
            Some(cents) => Some(Money { cents }),
            None => None,
        }
    }

    /// `self + other`, or `None` if the sum does not fit.
    #[must_use]
    pub const fn checked_add(self, other: Money) -> Option<Money> {
        match self.cents.checked_add(other.cents) {
            Some(cents) => Some(Money { cents }),
            None => None,
        }
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.cents == 0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        if f.width().is_some() {
            // Honour width and alignment (`{:>10}`) for aligned tables.
            return f.pad(&format!("{sign}{}.{:02}", abs / 100, abs % 100));
        }
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn prints_exactly_two_decimals_with_sign() {
        assert_eq!(Money::from_minor_units(14169).to_string(), "141.69");
        assert_eq!(Money::from_minor_units(-2250).to_string(), "-22.50");
        assert_eq!(Money::from_minor_units(-5).to_string(), "-0.05");
        assert_eq!(Money::from_minor_units(7).to_string(), "0.07");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(
            Money::from_minor_units(i64::MIN).to_string(),
            "-92233720368547758.08"
        );
    }

    #[test]
    fn pads_to_the_requested_width() {
        assert_eq!(format!("{:>8}", Money::from_minor_units(-2250)), "  -22.50");
        assert_eq!(
            format!("{:<8}|", Money::from_minor_units(1000)),
            "10.00   |"
        );
    }

    #[test]
    fn rounds_midpoints_away_from_zero_in_both_directions() {
        for (amount, cents) in [
            ("0.125", 13),
            ("-0.125", -13),
            ("0.135", 14),
            ("0.1249999", 12),
            ("-0.1249999", -12),
        ] {
            let rounded = Money::round_half_away_from_zero(dec(amount)).unwrap();
            assert_eq!(rounded.minor_units(), cents, "{amount}");
        }
    }

    #[test]
    fn negative_zero_rounds_to_plain_zero() {
        let money = Money::round_half_away_from_zero(dec("-0.001")).unwrap();
        assert_eq!(money, Money::ZERO);
        assert_eq!(money.to_string(), "0.00");
    }

    #[test]
    fn refuses_amounts_beyond_i64_cents() {
        let huge = dec("100000000000000000000");
        assert_eq!(
            Money::round_half_away_from_zero(huge),
            Err(PricingError::AmountOutOfRange(huge))
        );
    }

    #[test]
    fn converts_to_an_exact_two_place_decimal() {
        assert_eq!(
            Money::from_minor_units(-2250).to_decimal().to_string(),
            "-22.50"
        );
    }

    #[test]
    fn adds_and_subtracts_with_overflow_checks() {
        let a = Money::from_minor_units(150);
        let b = Money::from_minor_units(50);
        assert_eq!(a.checked_sub(b), Some(Money::from_minor_units(100)));
        assert_eq!(a.checked_add(b), Some(Money::from_minor_units(200)));
        assert_eq!(Money::from_minor_units(i64::MAX).checked_add(b), None);
        assert_eq!(Money::from_minor_units(i64::MIN).checked_sub(b), None);
        assert!(Money::ZERO.is_zero());
        assert!(!a.is_zero());
    }

    #[test]
    fn serializes_as_a_string() {
        let json = serde_json::to_string(&Money::from_minor_units(-2250)).unwrap();
        assert_eq!(json, "\"-22.50\"");
    }
}
