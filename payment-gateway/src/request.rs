//! What a caller asks a gateway to charge, and what a successful charge is.

use std::fmt;

use crate::{Amount, InvalidChargeId, InvalidRequest, excerpt};

/// The longest idempotency key, payment-method token or charge id accepted,
/// in bytes (the limit card processors commonly put on idempotency keys).
const MAX_LEN: usize = 255;

/// The key that makes a charge idempotent: the processor remembers the first
/// result for a key and returns it for every later request with that key.
///
/// A caller must derive it from what it is charging for (an invoice and its
/// attempt number), never generate it afresh per request: a retry with a new
/// key is a second charge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key, in bytes.
    pub const MAX_LEN: usize = MAX_LEN;

    /// A key: not empty, at most [`IdempotencyKey::MAX_LEN`] bytes.
    pub fn new(key: impl Into<String>) -> Result<IdempotencyKey, InvalidRequest> {
        token(
            key.into(),
            InvalidRequest::EmptyIdempotencyKey,
            |key, length| InvalidRequest::IdempotencyKeyTooLong { key, length },
        )
        .map(IdempotencyKey)
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Prints the key quoted (`"invoice:INV-1:attempt:1"`), so an error message
/// shows exactly where it starts and ends.
impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A payment-method token, as a processor issues it for a saved card
/// (`tok_…`, `pm_…`). The gateway decides whether it knows the token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PaymentMethod(String);

impl PaymentMethod {
    /// A token: not empty, at most 255 bytes.
    pub fn new(token: impl Into<String>) -> Result<PaymentMethod, InvalidRequest> {
        self::token(
            token.into(),
            InvalidRequest::EmptyPaymentMethod,
            |token, length| InvalidRequest::PaymentMethodTooLong { token, length },
        )
        .map(PaymentMethod)
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A processor's text (a key, a token): not empty, at most [`MAX_LEN`]
/// bytes. A refusal quotes an [`excerpt`] of it, never the whole text.
fn token(
    text: String,
    empty: InvalidRequest,
    too_long: fn(String, usize) -> InvalidRequest,
) -> Result<String, InvalidRequest> {
    if text.is_empty() {
        return Err(empty);
    }
    if text.len() > MAX_LEN {
        return Err(too_long(excerpt(&text), text.len()));
    }
    Ok(text)
}

/// A request to charge `amount` to `payment_method`, made idempotent by
/// `idempotency_key`, with the caller's `reference` (the invoice id) attached
/// the way processors attach metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    idempotency_key: IdempotencyKey,
    payment_method: PaymentMethod,
    amount: Amount,
    reference: String,
}

impl ChargeRequest {
    /// A charge request; its parts are validated by their own constructors.
    pub fn new(
        idempotency_key: IdempotencyKey,
        payment_method: PaymentMethod,
        amount: Amount,
        reference: impl Into<String>,
    ) -> ChargeRequest {
        ChargeRequest {
            idempotency_key,
            payment_method,
            amount,
            reference: reference.into(),
        }
    }

    /// The idempotency key.
    pub fn idempotency_key(&self) -> &IdempotencyKey {
        &self.idempotency_key
    }

    /// The payment-method token to charge.
    pub fn payment_method(&self) -> &PaymentMethod {
        &self.payment_method
    }

    /// The amount and its currency.
    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// The caller's reference, such as the invoice id.
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

/// The processor's identifier for a charge that captured money.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChargeId(String);

impl ChargeId {
    /// A charge id: not empty, at most 255 bytes.
    pub fn new(id: impl Into<String>) -> Result<ChargeId, InvalidChargeId> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_LEN {
            return Err(InvalidChargeId(id));
        }
        Ok(ChargeId(id))
    }

    /// The id the fake gateway gives its `number`-th capture. The format is
    /// never empty and far below the length limit, so no check is needed.
    pub(crate) fn fake(number: u64) -> ChargeId {
        ChargeId(format!("ch_fake_{number:06}"))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChargeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A successful charge: money was captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    id: ChargeId,
    amount: Amount,
}

impl Charge {
    /// A charge of `amount` known to the processor as `id`.
    pub fn new(id: ChargeId, amount: Amount) -> Charge {
        Charge { id, amount }
    }

    /// The processor's id for the charge.
    pub fn id(&self) -> &ChargeId {
        &self.id
    }

    /// The amount captured.
    pub fn amount(&self) -> Amount {
        self.amount
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_must_be_non_empty_and_at_most_255_bytes() {
        assert_eq!(
            IdempotencyKey::new(""),
            Err(InvalidRequest::EmptyIdempotencyKey)
        );
        assert!(IdempotencyKey::new("k".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::new("k".repeat(256)),
            Err(InvalidRequest::IdempotencyKeyTooLong {
                key: format!("{}…", "k".repeat(64)),
                length: 256
            })
        );
    }

    #[test]
    fn a_refusal_quotes_at_most_64_characters_of_what_it_refuses() {
        let huge = "é".repeat(1 << 19);
        for message in [
            IdempotencyKey::new(huge.clone()).unwrap_err().to_string(),
            PaymentMethod::new(huge.clone()).unwrap_err().to_string(),
            huge.parse::<crate::Currency>().unwrap_err().to_string(),
        ] {
            assert!(message.len() < 256, "{} bytes", message.len());
            assert!(
                message.contains(&format!("{}…", "é".repeat(64))),
                "{message}"
            );
        }
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"x".repeat(64)), "x".repeat(64));
    }

    #[test]
    fn payment_method_must_be_non_empty_and_at_most_255_bytes() {
        assert_eq!(
            PaymentMethod::new(""),
            Err(InvalidRequest::EmptyPaymentMethod)
        );
        assert!(PaymentMethod::new("t".repeat(255)).is_ok());
        assert!(PaymentMethod::new("t".repeat(256)).is_err());
        assert_eq!(
            PaymentMethod::new("tok_success").unwrap().as_str(),
            "tok_success"
        );
    }

    #[test]
    fn charge_id_must_be_non_empty_and_at_most_255_bytes() {
        assert_eq!(ChargeId::new(""), Err(InvalidChargeId(String::new())));
        assert!(ChargeId::new("c".repeat(256)).is_err());
        assert_eq!(ChargeId::new("ch_1").unwrap().to_string(), "ch_1");
    }

    #[test]
    fn payment_method_prints_as_its_bare_token() {
        assert_eq!(
            PaymentMethod::new("tok_success").unwrap().to_string(),
            "tok_success"
        );
    }

    #[test]
    fn key_prints_quoted_so_messages_show_its_bounds() {
        assert_eq!(IdempotencyKey::new("a b").unwrap().to_string(), "\"a b\"");
    }
}
