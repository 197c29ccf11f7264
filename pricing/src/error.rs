//! Why pricing refuses an input.

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
    /// An amount does not fit in a signed 64-bit count of cents.
    #[error("amount {0} does not fit in a 64-bit count of cents")]
    AmountOutOfRange(Decimal),
}

/// The most characters of an offending value an error quotes.
const QUOTED_CHARS: usize = 64;

/// `value` as an error message quotes it: whole when short, else its first
/// 64 characters and `…`. An error names the value it refuses but never
/// grows with it: a 1 MiB price must not make a 1 MiB error record.
///
/// The same rule as `payment_gateway::excerpt` (neither crate depends on
/// the other, and a crate for one function would cost more than these
/// eight lines; the app's tests check the two agree). Callers that quote
/// input in errors of their own use this one.
pub fn excerpt(value: &str) -> String {
    match value.char_indices().nth(QUOTED_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_the_value_up_to_64_characters_then_a_mark() {
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"é".repeat(64)), "é".repeat(64));
        assert_eq!(excerpt(&"é".repeat(65)), format!("{}…", "é".repeat(64)));
    }
}
