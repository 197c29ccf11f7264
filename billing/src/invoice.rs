//! Invoices, their identifiers and their payment status.

use std::fmt;

use payment_gateway::{
    Charge, Currency, DeclineCode, IdempotencyKey, InvalidRequest, PaymentMethod,
};
use pricing::{Breakdown, PricingError, PricingInput};

/// The longest invoice or customer id, in bytes. It keeps every idempotency
/// key derived from an invoice id well inside the gateway's 255-byte limit.
const MAX_ID_LEN: usize = 128;

/// Which identifier was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// An [`InvoiceId`].
    Invoice,
    /// A [`CustomerId`].
    Customer,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Invoice => "invoice id",
            IdKind::Customer => "customer id",
        })
    }
}

/// Why an invoice or customer id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// The id is empty.
    #[error("{kind} is empty")]
    Empty {
        /// Which id.
        kind: IdKind,
    },
    /// The id is longer than 128 bytes.
    #[error("{kind} {value:?} is {length} bytes long, above the maximum of 128")]
    TooLong {
        /// Which id.
        kind: IdKind,
        /// The refused id.
        value: String,
        /// Its length in bytes.
        length: usize,
    },
    /// The id contains a control character (a newline, a tab, …).
    #[error("{kind} {value:?} contains a control character")]
    ControlCharacter {
        /// Which id.
        kind: IdKind,
        /// The refused id.
        value: String,
    },
}

fn validate_id(kind: IdKind, value: String) -> Result<String, InvalidId> {
    if value.is_empty() {
        return Err(InvalidId::Empty { kind });
    }
    if value.len() > MAX_ID_LEN {
        let length = value.len();
        return Err(InvalidId::TooLong {
            kind,
            value,
            length,
        });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidId::ControlCharacter { kind, value });
    }
    Ok(value)
}

/// An invoice's id: 1 to 128 bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvoiceId(String);

impl InvoiceId {
    /// Validates an invoice id.
    pub fn new(id: impl Into<String>) -> Result<InvoiceId, InvalidId> {
        validate_id(IdKind::Invoice, id.into()).map(InvoiceId)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A customer's id: 1 to 128 bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerId(String);

impl CustomerId {
    /// Validates a customer id.
    pub fn new(id: impl Into<String>) -> Result<CustomerId, InvalidId> {
        validate_id(IdKind::Customer, id.into()).map(CustomerId)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a paid invoice was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// The gateway captured the total: its charge, with the charge id and
    /// the amount. The only way an invoice with something to pay is paid.
    Charged(Charge),
    /// The total was zero, so nothing was charged and there is no charge id.
    NothingDue,
}

/// Where an invoice stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Not paid yet. A charge attempt may be in doubt (its reply was lost
    /// and the retries ran out); collecting again settles it without
    /// charging twice.
    Open,
    /// Paid; never charged again.
    Paid(Payment),
    /// The last charge attempt was declined with `code`. The next collect is
    /// a new attempt, under a new idempotency key.
    PaymentFailed {
        /// The processor's reason.
        code: DeclineCode,
    },
}

impl InvoiceStatus {
    /// Whether the invoice is paid, by a charge or because nothing was due.
    pub const fn is_paid(&self) -> bool {
        matches!(self, InvoiceStatus::Paid(_))
    }
}

/// An invoice to collect: who pays, with what, for what, and where it stands.
///
/// The pricing input and the currency never change after creation, so the
/// total, and with it every charge request for the invoice, stays the same.
/// Only the billing service moves the status, so an invoice is paid only
/// through a gateway charge id or a zero total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    id: InvoiceId,
    customer: CustomerId,
    payment_method: PaymentMethod,
    currency: Currency,
    pricing: PricingInput,
    status: InvoiceStatus,
    payment_attempt: u32,
}

impl Invoice {
    /// A new, open invoice, on its first payment attempt.
    pub fn new(
        id: InvoiceId,
        customer: CustomerId,
        payment_method: PaymentMethod,
        currency: Currency,
        pricing: PricingInput,
    ) -> Invoice {
        Invoice {
            id,
            customer,
            payment_method,
            currency,
            pricing,
            status: InvoiceStatus::Open,
            payment_attempt: 1,
        }
    }

    /// The invoice's id.
    pub fn id(&self) -> &InvoiceId {
        &self.id
    }

    /// The customer who pays.
    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    /// The payment-method token charged.
    pub fn payment_method(&self) -> &PaymentMethod {
        &self.payment_method
    }

    /// The currency the total is charged in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// What pricing needs to price the invoice.
    pub fn pricing(&self) -> &PricingInput {
        &self.pricing
    }

    /// Where the invoice stands.
    pub fn status(&self) -> &InvoiceStatus {
        &self.status
    }

    /// The number of the current payment attempt, from 1. It advances only
    /// when an attempt is declined, so every retry within an attempt (after
    /// a transient failure or a lost reply, even in a later `collect`) uses
    /// the same idempotency key.
    pub fn payment_attempt(&self) -> u32 {
        self.payment_attempt
    }

    /// The idempotency key of the current payment attempt:
    /// `invoice:<id>:attempt:<n>`. Derived, never random, so that a retry
    /// can only ever find the first charge, not make a second one.
    pub fn idempotency_key(&self) -> Result<IdempotencyKey, InvalidRequest> {
        IdempotencyKey::new(format!(
            "invoice:{}:attempt:{}",
            self.id, self.payment_attempt
        ))
    }

    /// Prices the invoice.
    pub fn price(&self) -> Result<Breakdown, PricingError> {
        pricing::price(&self.pricing)
    }

    pub(crate) fn mark_paid(&mut self, payment: Payment) {
        self.status = InvoiceStatus::Paid(payment);
    }

    pub(crate) fn reopen(&mut self) {
        self.status = InvoiceStatus::Open;
    }

    /// Records a decline and moves to the next payment attempt; `false` if
    /// the attempt counter is at its maximum and cannot move.
    pub(crate) fn record_decline(&mut self, code: DeclineCode) -> bool {
        self.status = InvoiceStatus::PaymentFailed { code };
        match self.payment_attempt.checked_add(1) {
            Some(next) => {
                self.payment_attempt = next;
                true
            }
            None => false,
        }
    }

    pub(crate) fn change_payment_method(&mut self, payment_method: PaymentMethod) {
        self.payment_method = payment_method;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_non_empty_short_and_free_of_control_characters() {
        assert_eq!(
            InvoiceId::new(""),
            Err(InvalidId::Empty {
                kind: IdKind::Invoice
            })
        );
        assert!(InvoiceId::new("i".repeat(128)).is_ok());
        assert_eq!(
            InvoiceId::new("i".repeat(129)).unwrap_err().to_string(),
            format!(
                "invoice id {:?} is 129 bytes long, above the maximum of 128",
                "i".repeat(129)
            )
        );
        assert_eq!(
            CustomerId::new("cus\n1").unwrap_err().to_string(),
            "customer id \"cus\\n1\" contains a control character"
        );
        assert_eq!(InvoiceId::new("INV 1").unwrap().as_str(), "INV 1");
    }

    #[test]
    fn the_longest_invoice_id_still_makes_a_valid_idempotency_key() {
        let mut invoice = sample(&"i".repeat(128));
        invoice.payment_attempt = u32::MAX;
        let key = invoice.idempotency_key().unwrap();
        assert!(key.as_str().ends_with(":attempt:4294967295"));
    }

    #[test]
    fn a_decline_advances_the_attempt_and_so_the_key() {
        let mut invoice = sample("INV-7");
        assert_eq!(
            invoice.idempotency_key().unwrap().as_str(),
            "invoice:INV-7:attempt:1"
        );
        assert!(invoice.record_decline(DeclineCode::ExpiredCard));
        assert_eq!(
            invoice.idempotency_key().unwrap().as_str(),
            "invoice:INV-7:attempt:2"
        );
        invoice.payment_attempt = u32::MAX;
        assert!(!invoice.record_decline(DeclineCode::ExpiredCard));
        assert_eq!(invoice.payment_attempt(), u32::MAX);
    }

    fn sample(id: &str) -> Invoice {
        let items = vec![pricing::LineItem::new(
            "10".parse().unwrap(),
            "1".parse().unwrap(),
        )];
        Invoice::new(
            InvoiceId::new(id).unwrap(),
            CustomerId::new("cus_1").unwrap(),
            PaymentMethod::new("tok_success").unwrap(),
            Currency::Usd,
            PricingInput::new(items, pricing::Tier::None, false, 0.into()).unwrap(),
        )
    }
}
