//! Why pricing refuses an input.

use rust_decimal::Decimal;

/// Everything pricing can refuse. Each message is lowercase and names the
/// offending value, so a caller can show it to a person unchanged.
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
