//! Why a charge did not happen, and why a request or an identifier is refused.

use std::fmt;

use crate::{Currency, IdempotencyKey};

/// Why a card processor declined a charge. A decline is final for that
/// charge attempt: retrying the same request cannot change the answer.
///
/// The codes are the card processors' own (`card_declined`,
/// `insufficient_funds`, …), so they can be shown to support staff and
/// matched against a processor's documentation unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeclineCode {
    /// The issuer declined without giving a reason (`card_declined`).
    CardDeclined,
    /// The account has too little money (`insufficient_funds`).
    InsufficientFunds,
    /// The card has expired (`expired_card`).
    ExpiredCard,
    /// The security code was wrong (`incorrect_cvc`).
    IncorrectCvc,
    /// The card was reported lost (`lost_card`).
    LostCard,
    /// The card was reported stolen (`stolen_card`).
    StolenCard,
}

impl DeclineCode {
    /// Every decline code.
    pub const ALL: [DeclineCode; 6] = [
        DeclineCode::CardDeclined,
        DeclineCode::InsufficientFunds,
        DeclineCode::ExpiredCard,
        DeclineCode::IncorrectCvc,
        DeclineCode::LostCard,
        DeclineCode::StolenCard,
    ];

    /// The processor's code, such as `insufficient_funds`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeclineCode::CardDeclined => "card_declined",
            DeclineCode::InsufficientFunds => "insufficient_funds",
            DeclineCode::ExpiredCard => "expired_card",
            DeclineCode::IncorrectCvc => "incorrect_cvc",
            DeclineCode::LostCard => "lost_card",
            DeclineCode::StolenCard => "stolen_card",
        }
    }
}

// A processor's code is read exactly as [`DeclineCode::as_str`] writes it.
crate::by_exact_name!(DeclineCode, UnknownDeclineCode, |code: &str| {
    UnknownDeclineCode(excerpt(code))
});

/// A decline code that is not one of [`DeclineCode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown decline code {0:?}")]
pub struct UnknownDeclineCode(pub String);

/// A charge identifier that is empty or too long to be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("charge id {0:?} is empty or longer than 255 bytes")]
pub struct InvalidChargeId(pub String);

/// A field of a charge request, as named in an idempotency conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestField {
    /// The amount in minor units.
    Amount,
    /// The currency.
    Currency,
    /// The payment-method token.
    PaymentMethod,
    /// The caller's reference (for Ledgerly, the invoice id; for a refund,
    /// the credit note id).
    Reference,
    /// The charge a refund gives money back against.
    Charge,
}

impl fmt::Display for RequestField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestField::Amount => "amount",
            RequestField::Currency => "currency",
            RequestField::PaymentMethod => "payment method",
            RequestField::Reference => "reference",
            RequestField::Charge => "charge",
        })
    }
}

/// Why a charge request is not one a processor would accept. Retrying the
/// same request cannot help; the request itself has to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequest {
    /// The amount is zero or negative.
    #[error("amount of {minor_units} minor units of {currency} is not above zero")]
    NonPositiveAmount {
        /// The refused amount.
        minor_units: i64,
        /// Its currency.
        currency: Currency,
    },
    /// The currency code is not a supported currency.
    #[error("currency {0:?} is not supported (expected one of: USD, EUR, GBP)")]
    UnsupportedCurrency(String),
    /// The idempotency key is empty.
    #[error("idempotency key is empty")]
    EmptyIdempotencyKey,
    /// The idempotency key is longer than [`IdempotencyKey::MAX_LEN`] bytes.
    #[error("idempotency key {key:?} is {length} bytes long, above the maximum of 255")]
    IdempotencyKeyTooLong {
        /// The refused key.
        key: String,
        /// Its length in bytes.
        length: usize,
    },
    /// The payment-method token is empty.
    #[error("payment method token is empty")]
    EmptyPaymentMethod,
    /// The payment-method token is longer than 255 bytes.
    #[error("payment method token {token:?} is {length} bytes long, above the maximum of 255")]
    PaymentMethodTooLong {
        /// The refused token.
        token: String,
        /// Its length in bytes.
        length: usize,
    },
    /// The processor does not know the payment-method token.
    #[error("no such payment method {0:?}")]
    UnknownPaymentMethod(String),
}

/// Why a charge did not (or may not have) happened.
///
/// The variants differ in what a caller may do next, which is the point of
/// keeping them apart: a [`Declined`](GatewayError::Declined) charge is final,
/// a [`Transient`](GatewayError::Transient) failure moved no money and is safe
/// to retry, and an [`Ambiguous`](GatewayError::Ambiguous) outcome may have
/// moved money, so it must be retried *with the same idempotency key* to find
/// out. [`GatewayError::is_retryable`] says which is which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The processor declined the charge; no money moved. Final for this
    /// charge attempt: the same request gets the same answer.
    #[error("charge declined: {code}")]
    Declined {
        /// The processor's reason.
        code: DeclineCode,
    },
    /// The gateway refused the request before processing it (unavailable,
    /// rate limited); no money moved and a retry is safe.
    #[error("gateway temporarily unavailable, nothing was charged: {reason}")]
    Transient {
        /// What went wrong, for logs.
        reason: String,
    },
    /// The request may or may not have been processed (the connection broke
    /// or the reply was lost). Retry with the same idempotency key: the
    /// processor then returns the first result instead of charging again.
    #[error("charge outcome unknown, retry with the same idempotency key: {reason}")]
    Ambiguous {
        /// What went wrong, for logs.
        reason: String,
    },
    /// The request is not one the processor accepts; nothing was processed
    /// or stored.
    #[error("invalid charge request: {0}")]
    InvalidRequest(#[from] InvalidRequest),
    /// The processor refused a refund: final, and nothing was given back.
    #[error("refund refused: {0}")]
    RefundRefused(#[from] crate::RefundRefusal),
    /// The account sent more requests than the processor allows per
    /// second (HTTP 429, like Stripe's): nothing was processed and no money
    /// moved. Retry the same request, with the same key, after
    /// `retry_after`, and slow down.
    #[error("rate limited, nothing was processed: retry after {} ms", retry_after.as_millis())]
    RateLimited {
        /// How long the processor asks the client to wait.
        retry_after: std::time::Duration,
    },
    /// The idempotency key was already used for a request that differs in
    /// `field`; nothing was processed. The first request's result stands.
    #[error("idempotency key {key} was first used with {field} {first}, not {now}")]
    IdempotencyConflict {
        /// The reused key.
        key: IdempotencyKey,
        /// The first field found to differ.
        field: RequestField,
        /// That field's value in the first request.
        first: String,
        /// That field's value in this request.
        now: String,
    },
}

impl GatewayError {
    /// Whether retrying the same request, with the same idempotency key, is
    /// safe and may succeed: true for transient, ambiguous and rate-limited
    /// outcomes.
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self,
            GatewayError::Transient { .. }
                | GatewayError::Ambiguous { .. }
                | GatewayError::RateLimited { .. }
        )
    }
}

/// The most characters of an offending value an error quotes.
const QUOTED_CHARS: usize = 64;

/// `value` as an error message quotes it: whole when short, else its first
/// 64 characters and `…`. An error names the value it refuses, but never
/// grows with it: a 1 MiB id must not make a 2 MiB error record.
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
    fn decline_codes_round_trip_through_their_text() {
        for code in DeclineCode::ALL {
            assert_eq!(code.as_str().parse::<DeclineCode>(), Ok(code));
            assert_eq!(code.to_string(), code.as_str());
        }
        assert_eq!(
            "Card_Declined".parse::<DeclineCode>(),
            Err(UnknownDeclineCode("Card_Declined".to_owned()))
        );
    }

    #[test]
    fn only_transient_ambiguous_and_rate_limited_outcomes_are_retryable() {
        let reason = String::from("test");
        assert!(
            GatewayError::Transient {
                reason: reason.clone()
            }
            .is_retryable()
        );
        assert!(GatewayError::Ambiguous { reason }.is_retryable());
        let limited = GatewayError::RateLimited {
            retry_after: std::time::Duration::from_millis(250),
        };
        assert!(limited.is_retryable());
        assert_eq!(
            limited.to_string(),
            "rate limited, nothing was processed: retry after 250 ms"
        );
        assert!(
            !GatewayError::Declined {
                code: DeclineCode::CardDeclined
            }
            .is_retryable()
        );
        assert!(!GatewayError::from(InvalidRequest::EmptyPaymentMethod).is_retryable());
    }

    #[test]
    fn messages_are_lowercase_and_name_the_value() {
        let declined = GatewayError::Declined {
            code: DeclineCode::InsufficientFunds,
        };
        assert_eq!(declined.to_string(), "charge declined: insufficient_funds");
        let unknown = GatewayError::from(InvalidRequest::UnknownPaymentMethod("tok_x".into()));
        assert_eq!(
            unknown.to_string(),
            "invalid charge request: no such payment method \"tok_x\""
        );
    }
}
