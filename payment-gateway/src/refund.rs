//! Refunds: what a caller asks the processor to give back against a charge,
//! what the processor did, and why it may refuse.
//!
//! A refund follows the charges' rules: its request carries an idempotency
//! key derived from what is refunded (`refund:<credit note>:attempt:<n>`),
//! the first result for a key is returned for every later request with it
//! (a different request under the same key is a conflict, never a second
//! refund), and an outcome that is unknown is settled by
//! [`PaymentGateway::lookup_refund`](crate::PaymentGateway::lookup_refund),
//! which finds a refund for good, after its key has expired.

use std::fmt;
use std::time::SystemTime;

use crate::{Amount, ChargeId, IdempotencyKey, InvalidChargeId, PaymentMethod, excerpt};

/// A processor's refund id: `re_…`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RefundId(String);

impl RefundId {
    /// A refund id: not empty, at most 255 bytes.
    pub fn new(id: impl Into<String>) -> Result<RefundId, InvalidChargeId> {
        let id = id.into();
        if id.is_empty() || id.len() > 255 {
            return Err(InvalidChargeId(excerpt(&id)));
        }
        Ok(RefundId(id))
    }

    /// The id the fake gateway gives its `number`-th refund.
    pub(crate) fn fake(number: u64) -> RefundId {
        RefundId(format!("re_fake_{number:06}"))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a refund stands at the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    /// Accepted, not yet paid out: ask again later
    /// ([`PaymentGateway::lookup_refund`](crate::PaymentGateway::lookup_refund)).
    Pending,
    /// Paid back to the customer's payment method.
    Succeeded,
    /// Failed after it was accepted (the card was closed): the money stayed
    /// with the merchant, and counts no more against the charge's capture.
    Failed,
}

impl RefundStatus {
    /// Every status.
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Pending,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
    ];

    /// The processor's word for it: `pending`, `succeeded`, `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }
}

/// A refund status that is not one of [`RefundStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown refund status {0:?}")]
pub struct UnknownRefundStatus(pub String);

crate::by_exact_name!(RefundStatus, UnknownRefundStatus, |name: &str| {
    UnknownRefundStatus(excerpt(name))
});

/// A request to give `amount` back against `charge`, made idempotent by
/// `idempotency_key`, with the caller's `reference` (the credit note id)
/// attached as metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    idempotency_key: IdempotencyKey,
    charge: ChargeId,
    amount: Amount,
    reference: String,
}

impl RefundRequest {
    /// A refund request; its parts are validated by their own constructors.
    pub fn new(
        idempotency_key: IdempotencyKey,
        charge: ChargeId,
        amount: Amount,
        reference: impl Into<String>,
    ) -> RefundRequest {
        RefundRequest {
            idempotency_key,
            charge,
            amount,
            reference: reference.into(),
        }
    }

    /// The idempotency key.
    pub fn idempotency_key(&self) -> &IdempotencyKey {
        &self.idempotency_key
    }

    /// The charge refunded.
    pub fn charge(&self) -> &ChargeId {
        &self.charge
    }

    /// How much to give back, in the charge's currency.
    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// The caller's reference (the credit note id).
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

/// A refund the processor accepted, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    id: RefundId,
    request: RefundRequest,
    status: RefundStatus,
}

impl Refund {
    /// Refund `id`, made by `request`, now `status`.
    pub fn new(id: RefundId, request: RefundRequest, status: RefundStatus) -> Refund {
        Refund {
            id,
            request,
            status,
        }
    }

    /// The processor's id.
    pub fn id(&self) -> &RefundId {
        &self.id
    }

    /// The request that made it (its key, charge, amount and reference).
    pub fn request(&self) -> &RefundRequest {
        &self.request
    }

    /// The amount given back (or to be given back).
    pub fn amount(&self) -> Amount {
        self.request.amount
    }

    /// Where it stands.
    pub fn status(&self) -> RefundStatus {
        self.status
    }

    pub(crate) fn set_status(&mut self, status: RefundStatus) {
        self.status = status;
    }
}

/// What the sandbox processor's books keep of one refund: the refund, its
/// place in refund order, when it was made, the charged payment method
/// (whose test token decides how the refund evolves) and how many lookups
/// asked about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    number: u64,
    refund: Refund,
    payment_method: PaymentMethod,
    created_at: SystemTime,
    lookups: u32,
}

impl RefundRecord {
    /// The `number`-th refund (from 1). Books implementations rebuild stored
    /// refunds with it.
    pub fn new(
        number: u64,
        refund: Refund,
        payment_method: PaymentMethod,
        created_at: SystemTime,
        lookups: u32,
    ) -> RefundRecord {
        RefundRecord {
            number,
            refund,
            payment_method,
            created_at,
            lookups,
        }
    }

    /// Its place in refund order, from 1.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The refund.
    pub fn refund(&self) -> &Refund {
        &self.refund
    }

    /// The payment method the refunded charge was made with.
    pub fn payment_method(&self) -> &PaymentMethod {
        &self.payment_method
    }

    /// When the processor accepted it, by the gateway's clock.
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }

    /// How many lookups asked about it.
    pub fn lookups(&self) -> u32 {
        self.lookups
    }

    pub(crate) fn refund_mut(&mut self) -> &mut Refund {
        &mut self.refund
    }

    pub(crate) fn count_lookup(&mut self) {
        self.lookups = self.lookups.saturating_add(1);
    }
}

/// Why the processor refused a refund. Final, and no money moved: the same
/// request gets the same answer, and only another request (after the cause
/// is fixed) may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    /// No charge of the processor has this id.
    #[error("no charge {0} to refund")]
    UnknownCharge(ChargeId),
    /// The refund is in another currency than the charge.
    #[error("charge {charge} was captured in {captured}, not in {requested}")]
    OtherCurrency {
        /// The charge.
        charge: ChargeId,
        /// The charge's currency code.
        captured: &'static str,
        /// The refund's currency code.
        requested: &'static str,
    },
    /// The charge's refunds (pending or succeeded) and this one would give
    /// back more than was captured.
    #[error(
        "refund of {requested} would take charge {charge}'s refunds above its capture of {captured} ({refunded} minor units refunded already)"
    )]
    AboveCapture {
        /// The charge.
        charge: ChargeId,
        /// What it captured.
        captured: Amount,
        /// What its pending and succeeded refunds give back, in minor units.
        refunded: i64,
        /// This refund's amount.
        requested: Amount,
    },
    /// The charge is disputed: the card network, not the merchant, decides
    /// what is given back.
    #[error("charge {0} is disputed and cannot be refunded")]
    Disputed(ChargeId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_status_is_written_and_read_back_by_its_name_only() {
        let names: Vec<&str> = RefundStatus::ALL
            .iter()
            .map(|status| status.as_str())
            .collect();
        assert_eq!(names, ["pending", "succeeded", "failed"]);
        for status in RefundStatus::ALL {
            assert_eq!(status.to_string().parse::<RefundStatus>(), Ok(status));
        }
        assert_eq!(
            "Pending".parse::<RefundStatus>(),
            Err(UnknownRefundStatus("Pending".to_owned()))
        );
    }

    #[test]
    fn a_refund_id_is_its_text() {
        let id = RefundId::new("re_1").unwrap();
        assert_eq!((id.to_string(), id.as_str()), ("re_1".to_owned(), "re_1"));
        assert!(RefundId::new("").is_err());
        assert!(RefundId::new("r".repeat(256)).is_err());
        assert_eq!(RefundId::fake(7).as_str(), "re_fake_000007");
    }
}
