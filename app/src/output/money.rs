//! Amounts as the records write them: two-decimal text read back as whole
//! cents, and the six amounts of a breakdown as one JSON object.

use serde::{Deserialize, Serialize};

use pricing::Money;

/// Parses an amount as written by `ledgerly invoice`: an optional `-`,
/// digits, a point and exactly two digits. Returns whole cents.
pub(crate) fn parse_cents(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.')?;
    let well_formed = !whole.is_empty()
        && fraction.len() == 2
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    let cents = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(fraction.parse::<i64>().ok()?)?;
    Some(if negative { -cents } else { cents })
}

/// Six amounts (a breakdown, a credit note's lines) as a JSON object of
/// two-decimal strings, in [`pricing::Breakdown::NAMES`] order; read back
/// exactly (an amount that is not two-decimal text is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AmountsText")]
pub(crate) struct Amounts {
    subtotal: Money,
    tier_discount: Money,
    loyalty_discount: Money,
    tax: Money,
    late_fee: Money,
    total: Money,
}

/// [`Amounts`] as read, before each text is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmountsText {
    subtotal: String,
    tier_discount: String,
    loyalty_discount: String,
    tax: String,
    late_fee: String,
    total: String,
}

impl TryFrom<AmountsText> for Amounts {
    type Error = String;

    fn try_from(text: AmountsText) -> Result<Amounts, String> {
        let texts = [
            text.subtotal,
            text.tier_discount,
            text.loyalty_discount,
            text.tax,
            text.late_fee,
            text.total,
        ];
        let mut cents = [0_i64; 6];
        for ((slot, text), name) in cents.iter_mut().zip(&texts).zip(pricing::Breakdown::NAMES) {
            *slot = parse_cents(text)
                .ok_or_else(|| format!("{name} {text:?} is not an amount with two decimals"))?;
        }
        Ok(Amounts::of(cents))
    }
}

impl Amounts {
    /// The amounts of `cents`, in [`pricing::Breakdown::NAMES`] order.
    pub(crate) fn of(cents: [i64; 6]) -> Amounts {
        let [
            subtotal,
            tier_discount,
            loyalty_discount,
            tax,
            late_fee,
            total,
        ] = cents.map(Money::from_minor_units);
        Amounts {
            subtotal,
            tier_discount,
            loyalty_discount,
            tax,
            late_fee,
            total,
        }
    }

    /// The cents, in [`pricing::Breakdown::NAMES`] order.
    pub(crate) fn cents(&self) -> [i64; 6] {
        [
            self.subtotal,
            self.tier_discount,
            self.loyalty_discount,
            self.tax,
            self.late_fee,
            self.total,
        ]
        .map(Money::minor_units)
    }
}

/// Cents as a decimal amount with two places: `-1234.56`.
pub(crate) fn money(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let magnitude = cents.unsigned_abs();
    format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
}

/// A change of money, signed: `+5.00`, `-0.01`, `0.00`.
pub(crate) fn signed(cents: i128) -> String {
    if cents > 0 {
        format!("+{}", money(cents))
    } else {
        money(cents)
    }
}
