//! Why pricing refuses an input.

use std::borrow::Cow;

use rust_decimal::Decimal;

/// Everything pricing can refuse. Each message is lowercase and names the
/// offending value, so a caller can show it to a person unchanged. A value
/// held as text is an [`excerpt`] of the input, so an error never grows
/// with what it refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PricingError {
    /// The price text is not a decimal number.
    #[error("price {0:?} is not a decimal number")]
    InvalidPrice(String),
    /// The price is below zero (named as it was written).
    #[error("price {0} is negative")]
    NegativePrice(String),
    /// The price has more than [`Price::MAX_DECIMAL_PLACES`](crate::Price::MAX_DECIMAL_PLACES) significant decimal places.
    #[error("price {0} has more than 4 decimal places")]
    TooManyDecimalPlaces(String),
    /// The price is above [`Price::MAX`](crate::Price::MAX).
    #[error("price {0} is above the maximum of 1000000000")]
    PriceTooLarge(String),
    /// The quantity is not a whole number from 1 to [`Quantity::MAX`](crate::Quantity::MAX).
    #[error("quantity {0:?} is not a whole number from 1 to 1000000")]
    InvalidQuantity(String),
    /// `days_overdue` is below zero.
    #[error("days overdue {0} is negative")]
    NegativeDaysOverdue(String),
    /// `days_overdue` is not a whole number that fits the supported range.
    #[error("days overdue {0:?} is not a whole number from 0 to 4294967295")]
    InvalidDaysOverdue(String),
    /// The tier name is not one pricing knows (only strict parsing refuses it).
    #[error("unknown tier {0:?} (expected one of: none, bronze, silver, gold)")]
    UnknownTier(String),
    /// The invoice has no line items.
    #[error("an invoice needs at least one line item")]
    NoLineItems,
    /// The subtotal is too large to price exactly.
    #[error("subtotal {0} is above the largest amount ledgerly prices exactly (10000000000000000)")]
    SubtotalTooLarge(Decimal),
    /// A rate of a rate table is not a fraction from 0 to 1 with at most
    /// [`RateTable::MAX_RATE_PLACES`](crate::RateTable::MAX_RATE_PLACES) decimal places.
    #[error("rate {name} {value} is not a fraction from 0 to 1 with at most 6 decimal places")]
    InvalidRate {
        /// The rate's name (`gold_discount`, ...).
        name: &'static str,
        /// The value refused.
        value: Decimal,
    },
    /// An amount does not fit in a signed 64-bit count of cents.
    #[error("amount {0} does not fit in a 64-bit count of cents")]
    AmountOutOfRange(Decimal),
}

/// The most characters of an offending value an error quotes.
pub const QUOTED_CHARS: usize = 64;

/// `value` as an error message quotes it: whole when short, else its first
/// [`QUOTED_CHARS`] characters and `…`. An error names the value it refuses
/// but never grows with it: a 1 MiB price must not make a 1 MiB error
/// record. Callers that quote input in errors of their own use this one
/// (`payment_gateway::excerpt` keeps the same rule: neither crate may
/// depend on the other, see ARCHITECTURE.md).
pub fn excerpt(value: &str) -> String {
    prefix(value, QUOTED_CHARS).into_owned()
}

/// The first `chars` characters of `text` and `…`, or `text` itself when it
/// is no longer: borrowed then, so a caller that bounds every message (most
/// of them short) copies none of them.
pub fn prefix(text: &str, chars: usize) -> Cow<'_, str> {
    let Some((end, _)) = text.char_indices().nth(chars) else {
        return Cow::Borrowed(text);
    };
    let mut cut = String::with_capacity(end + '…'.len_utf8());
    cut.push_str(&text[..end]);
    cut.push('…');
    Cow::Owned(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_the_value_up_to_64_characters_then_a_mark() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"é".repeat(64)), "é".repeat(64));
        assert_eq!(excerpt(&"é".repeat(65)), format!("{}…", "é".repeat(64)));
        assert!(matches!(prefix("abc", 3), Cow::Borrowed("abc")));
        assert_eq!(prefix("abcd", 3), "abc…");
        assert_eq!(prefix("abc", 0), "…");
    }
}
