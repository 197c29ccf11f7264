//! The one reader of a number's text. Prices, quantities and days overdue
//! are all read through it, from JSON and CSV alike, so every spelling of a
//! number gets the verdict its exact value gets: `1`, `1.000`, `0.1e1`,
//! `10E-1` and `1.00000000000000000000000000000` are all exactly one.
//!
//! Nothing is rounded before it is checked: the text is reduced to its
//! significant digits and a power of ten (`1.250e2` is 125 × 10⁰), trailing
//! zeros never count, and the range checks are made on that exact form.
//! Only a value that passes them becomes a `Decimal` or an integer, and by
//! then it has at most 14 significant digits, so that conversion is exact.

/// A number as its text says it exactly: `(-1)^negative × digits × 10^exponent`,
/// with `digits` free of leading and trailing zeros (empty for zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exact<'a> {
    negative: bool,
    /// The significant digits, as they stand in the text (a decimal point
    /// may sit among them: it is skipped when they are read).
    digits: &'a [u8],
    /// How many significant digits there are.
    count: i64,
    /// The power of ten of the last significant digit.
    exponent: i64,
}

/// Exponents beyond this are clamped: no value we accept comes near
/// 10^±(10^15), and clamping keeps the arithmetic below from overflowing
/// however many exponent digits a text has.
const EXPONENT_LIMIT: i64 = 1_000_000_000_000_000;

impl<'a> Exact<'a> {
    /// Reads `-?digits(.digits)?([eE][+-]?digits)?` (JSON's number grammar,
    /// leading zeros allowed); `None` for any other text, `+5`, ` 5`, `.5`,
    /// `5.` and `1_000` among them.
    pub(crate) fn parse(text: &'a str) -> Option<Exact<'a>> {
        let bytes = text.as_bytes();
        let negative = bytes.first() == Some(&b'-');
        let mut at = usize::from(negative);
        let whole = digit_run(&bytes[at..]);
        if whole == 0 {
            return None;
        }
        let mantissa_start = at;
        at += whole;
        if bytes.get(at) == Some(&b'.') {
            let fraction = digit_run(&bytes[at + 1..]);
            if fraction == 0 {
                return None;
            }
            at += 1 + fraction;
        }
        let mantissa = &bytes[mantissa_start..at];
        let mut exponent: i64 = 0;
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            let exponent_negative = match bytes.get(at) {
                Some(b'-') => {
                    at += 1;
                    true
                }
                Some(b'+') => {
                    at += 1;
                    false
                }
                _ => false,
            };
            let run = digit_run(&bytes[at..]);
            if run == 0 {
                return None;
            }
            for &digit in &bytes[at..at + run] {
                exponent = (exponent * 10 + i64::from(digit - b'0')).min(EXPONENT_LIMIT);
            }
            if exponent_negative {
                exponent = -exponent;
            }
            at += run;
        }
        if at != bytes.len() {
            return None;
        }
        // Significant digits: strip leading zeros (and a leading point),
        // then trailing zeros (and a trailing point).
        let first = mantissa.iter().position(|&b| b != b'0' && b != b'.');
        let Some(first) = first else {
            return Some(Exact {
                negative,
                digits: &[],
                count: 0,
                exponent: 0,
            });
        };
        let last = mantissa
            .iter()
            .rposition(|&b| b != b'0' && b != b'.')
            .unwrap_or(first);
        let digits = &mantissa[first..=last];
        let count =
            i64::try_from(digits.iter().filter(|b| b.is_ascii_digit()).count()).unwrap_or(i64::MAX);
        // The last significant digit's place: the whole part has `point`
        // digits (the mantissa starts with a digit), so the digit with `k`
        // digits before it stands at 10^(point - 1 - k).
        let point = mantissa
            .iter()
            .position(|&b| b == b'.')
            .unwrap_or(mantissa.len());
        let before = mantissa[..last]
            .iter()
            .filter(|b| b.is_ascii_digit())
            .count();
        let last_place = i64::try_from(point)
            .unwrap_or(i64::MAX)
            .saturating_sub(1)
            .saturating_sub(i64::try_from(before).unwrap_or(i64::MAX));
        Some(Exact {
            negative,
            digits,
            count,
            exponent: last_place.saturating_add(exponent),
        })
    }

    /// Whether the value is zero (`-0` and `0e7` included).
    pub(crate) fn is_zero(self) -> bool {
        self.count == 0
    }

    /// Whether the value is below zero.
    pub(crate) fn is_negative(self) -> bool {
        self.negative && !self.is_zero()
    }

    /// How many decimal places the value has, trailing zeros not counted.
    pub(crate) fn decimal_places(self) -> u64 {
        u64::try_from(-self.exponent).unwrap_or(0)
    }

    /// How many digits the value's whole part has (0 below one).
    fn whole_digits(self) -> i64 {
        if self.is_zero() {
            0
        } else {
            self.count.saturating_add(self.exponent).max(0)
        }
    }

    /// Whether |value| ≤ 10^power.
    pub(crate) fn at_most_power_of_ten(self, power: i64) -> bool {
        let whole = self.whole_digits();
        // 10^power has power + 1 whole digits; it is the only such value
        // whose significant digits are a lone 1 at place `power`.
        whole <= power
            || (whole == power + 1 && self.count == 1 && self.digits.first() == Some(&b'1'))
    }

    /// The significant digits as an integer, when there are at most 18.
    fn significand(self) -> Option<i64> {
        if self.count > 18 {
            return None;
        }
        let mut value: i64 = 0;
        for &digit in self.digits.iter().filter(|b| b.is_ascii_digit()) {
            value = value * 10 + i64::from(digit - b'0');
        }
        Some(value)
    }

    /// The magnitude as a whole number, when it is one below 10^18.
    pub(crate) fn whole(self) -> Option<u64> {
        if self.is_zero() {
            return Some(0);
        }
        if self.exponent < 0 || self.count.saturating_add(self.exponent) > 18 {
            return None;
        }
        let mut value = u64::try_from(self.significand()?).ok()?;
        for _ in 0..self.exponent {
            value = value.checked_mul(10)?;
        }
        Some(value)
    }

    /// The magnitude as `mantissa × 10^-scale` with `scale` ≥ 0, when the
    /// whole part has at most 12 digits and there are at most 18
    /// significant digits (enough for any price we accept).
    pub(crate) fn mantissa_and_scale(self) -> Option<(i64, u32)> {
        if self.is_zero() {
            return Some((0, 0));
        }
        if self.whole_digits() > 12 {
            return None;
        }
        let mut mantissa = self.significand()?;
        let mut exponent = self.exponent;
        while exponent > 0 {
            mantissa = mantissa.checked_mul(10)?;
            exponent -= 1;
        }
        Some((mantissa, u32::try_from(-exponent).ok()?))
    }
}

/// How many ASCII digits `bytes` starts with.
fn digit_run(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (bool, i64, i64, Option<u64>) {
        let exact = Exact::parse(text).unwrap();
        (
            exact.is_negative(),
            exact.count,
            exact.exponent,
            exact.whole(),
        )
    }

    #[test]
    fn every_spelling_of_one_reads_as_one() {
        for text in [
            "1",
            "1.0",
            "1.000",
            "01",
            "0.1e1",
            "10E-1",
            "100e-2",
            "1.00000000000000000000000000000",
            "0.00001e5",
            "1e0",
            "1E+0",
        ] {
            assert_eq!(parts(text), (false, 1, 0, Some(1)), "{text}");
        }
    }

    #[test]
    fn zero_has_no_digits_whatever_its_sign_or_exponent() {
        for text in [
            "0",
            "-0",
            "0.000",
            "0e99999999999999999999",
            "-0.0e-7",
            "000",
        ] {
            let exact = Exact::parse(text).unwrap();
            assert!(exact.is_zero() && !exact.is_negative(), "{text}");
            assert_eq!(exact.whole(), Some(0));
            assert_eq!(exact.mantissa_and_scale(), Some((0, 0)));
        }
    }

    #[test]
    fn places_and_magnitude_come_from_the_exact_value() {
        let exact = Exact::parse("0.99999999999999999999999999999999e0").unwrap();
        assert_eq!((exact.count, exact.decimal_places()), (32, 32));
        assert_eq!(exact.whole(), None);
        let exact = Exact::parse("-0.00000000000000000000000000000001e0").unwrap();
        assert!(exact.is_negative());
        assert_eq!(exact.decimal_places(), 32);
        let exact = Exact::parse("2.9999999999999999999999999999999e0").unwrap();
        assert_eq!(exact.whole(), None);
        assert_eq!(
            Exact::parse("1250e-1").unwrap().mantissa_and_scale(),
            Some((125, 0))
        );
        assert_eq!(
            Exact::parse("12.50").unwrap().mantissa_and_scale(),
            Some((125, 1))
        );
        assert_eq!(Exact::parse("1.5e3").unwrap().whole(), Some(1500));
        assert_eq!(Exact::parse("4.0E1").unwrap().whole(), Some(40));
        assert_eq!(Exact::parse("1e400").unwrap().whole(), None);
        assert_eq!(Exact::parse("1e-400").unwrap().decimal_places(), 400);
    }

    #[test]
    fn eighteen_significant_digits_are_read_and_nineteen_are_not() {
        assert_eq!(
            Exact::parse("123456789012345678").unwrap().whole(),
            Some(123_456_789_012_345_678)
        );
        assert_eq!(
            Exact::parse("1.23456789012345678")
                .unwrap()
                .mantissa_and_scale(),
            Some((123_456_789_012_345_678, 17))
        );
        assert_eq!(
            Exact::parse("1.00000000000000000001")
                .unwrap()
                .mantissa_and_scale(),
            None
        );
        assert_eq!(Exact::parse("9999999999999999999").unwrap().whole(), None);
        assert_eq!(Exact::parse("1e12").unwrap().mantissa_and_scale(), None);
        assert_eq!(
            Exact::parse("1e11").unwrap().mantissa_and_scale(),
            Some((100_000_000_000, 0))
        );
    }

    #[test]
    fn powers_of_ten_bound_the_value_exactly() {
        assert!(Exact::parse("1000000000").unwrap().at_most_power_of_ten(9));
        assert!(
            Exact::parse("1000000000.00000000000000000000")
                .unwrap()
                .at_most_power_of_ten(9)
        );
        assert!(Exact::parse("1e9").unwrap().at_most_power_of_ten(9));
        assert!(
            Exact::parse("999999999.9999")
                .unwrap()
                .at_most_power_of_ten(9)
        );
        assert!(
            !Exact::parse("1000000000.00000000000000000001")
                .unwrap()
                .at_most_power_of_ten(9)
        );
        assert!(!Exact::parse("1000000001").unwrap().at_most_power_of_ten(9));
        assert!(
            !Exact::parse("1e99999999999999999999999")
                .unwrap()
                .at_most_power_of_ten(9)
        );
        assert!(
            Exact::parse("1e-99999999999999999999999")
                .unwrap()
                .at_most_power_of_ten(9)
        );
        assert!(!Exact::parse("2e9").unwrap().at_most_power_of_ten(9));
    }

    #[test]
    fn text_outside_the_number_grammar_is_not_a_number() {
        for text in [
            "", "-", "+1", " 1", "1 ", ".5", "5.", "1..2", "1e", "1e+", "1_000", "1,5", "0x10",
            "NaN", "١", "--1", "1e5.5",
        ] {
            assert_eq!(Exact::parse(text), None, "{text:?}");
        }
    }
}
