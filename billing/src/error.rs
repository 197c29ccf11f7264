//! Why collecting an invoice did not end with it paid.

use payment_gateway::{Amount, Charge, ChargeId, DeclineCode, GatewayError, InvalidRequest};
use pricing::{Money, PricingError};

use crate::{InvoiceId, LedgerError};

/// Everything `collect` and its neighbours can report. Each message is
/// lowercase, names the invoice and the offending value, and says whether
/// collecting again is safe; [`BillingError::is_retryable`] says the same in
/// code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    /// No invoice has this id.
    #[error("invoice {0} not found")]
    NotFound(InvoiceId),
    /// Pricing refused the invoice; nothing was charged.
    #[error("invoice {invoice} cannot be priced, nothing was charged: {error}")]
    Pricing {
        /// The invoice.
        invoice: InvoiceId,
        /// Why pricing refused it.
        error: PricingError,
    },
    /// An invoice with this id was already issued, and this one differs from
    /// it in `field`; the issued invoice is kept unchanged.
    #[error("invoice {invoice} was already issued with a different {field}: {first}, now {now}")]
    AlreadyIssued {
        /// The invoice.
        invoice: InvoiceId,
        /// The first field that differs, such as `total`.
        field: &'static str,
        /// Its issued value.
        first: String,
        /// Its value now.
        now: String,
    },
    /// Asking the processor what became of an attempt failed, so the
    /// attempt stays as it was: nothing was charged. Collecting again is
    /// safe.
    #[error(
        "invoice {invoice} attempt {attempt} could not be looked up, nothing was charged: {error}; collecting it again is safe"
    )]
    LookupFailed {
        /// The invoice.
        invoice: InvoiceId,
        /// The attempt's number.
        attempt: u32,
        /// The gateway's failure.
        error: GatewayError,
    },
    /// The invoice's total is below zero, which no charge can collect.
    #[error("invoice {invoice} has a negative total of {total}, nothing was charged")]
    NegativeTotal {
        /// The invoice.
        invoice: InvoiceId,
        /// The total.
        total: Money,
    },
    /// The processor declined the charge; the invoice is now
    /// [`PaymentFailed`](crate::InvoiceStatus::PaymentFailed) with `code`, and
    /// its next collect is a new payment attempt.
    #[error("invoice {invoice} payment was declined: {code}")]
    Declined {
        /// The invoice.
        invoice: InvoiceId,
        /// The processor's reason.
        code: DeclineCode,
    },
    /// Every request allowed by the retry policy failed transiently or
    /// ambiguously. The attempt's outcome is recorded as unknown; collecting
    /// again looks it up and reuses the same idempotency key, so it finds a
    /// charge that did happen rather than making a second one.
    #[error(
        "invoice {invoice} is still open after {attempts} charge requests, the last one failing with: {last}; collecting it again is safe"
    )]
    RetriesExhausted {
        /// The invoice.
        invoice: InvoiceId,
        /// How many requests were made.
        attempts: u32,
        /// The last request's failure.
        last: GatewayError,
    },
    /// The gateway refused the charge request itself (an unknown payment
    /// method, for example); nothing was charged. The attempt is recorded as
    /// failed and the invoice is open: the next collect is a new attempt.
    #[error("invoice {invoice} charge request was refused, nothing was charged: {error}")]
    ChargeRejected {
        /// The invoice.
        invoice: InvoiceId,
        /// Why the request was refused.
        error: InvalidRequest,
    },
    /// The invoice's idempotency key was already used with different
    /// parameters, typically because the payment method changed while an
    /// earlier request's outcome was unknown. Nothing new was charged; the
    /// first request may have captured money, so a person must reconcile it
    /// with the processor before anything else is tried.
    #[error("invoice {invoice} needs reconciling with the processor: {error}")]
    IdempotencyConflict {
        /// The invoice.
        invoice: InvoiceId,
        /// The gateway's conflict error, naming the key and the field.
        error: GatewayError,
    },
    /// The gateway reports a charge of an amount other than the invoice's
    /// total. The attempt is recorded as unknown for a person to reconcile.
    #[error(
        "invoice {invoice} was charged {charged} by charge {charge_id}, not its total of {expected}; it needs reconciling",
        charged = charge.amount(),
        charge_id = charge.id()
    )]
    ChargeAmountMismatch {
        /// The invoice.
        invoice: InvoiceId,
        /// The charge the gateway reported.
        charge: Charge,
        /// The invoice's total.
        expected: Amount,
    },
    /// A paid invoice's payment method cannot change.
    #[error("invoice {invoice} is already paid, its payment method cannot change")]
    AlreadyPaid {
        /// The invoice.
        invoice: InvoiceId,
    },
    /// The invoice was declined so many times that its attempt counter
    /// cannot advance; it keeps its last decline.
    #[error("invoice {invoice} has used all 4294967295 payment attempts")]
    NoAttemptsLeft {
        /// The invoice.
        invoice: InvoiceId,
    },
    /// The gateway captured the money but the repository could not record
    /// the payment. Collecting again is safe: it reuses the idempotency key,
    /// gets the same charge back and records it.
    #[error(
        "invoice {invoice} was charged by {charge_id} but the payment could not be recorded: {error}; collecting it again records it without a second charge"
    )]
    PaymentNotRecorded {
        /// The invoice.
        invoice: InvoiceId,
        /// The charge that captured the money.
        charge_id: ChargeId,
        /// The repository's failure.
        error: LedgerError,
    },
    /// The repository failed before or after a charge that moved no money.
    #[error(transparent)]
    Repository(#[from] LedgerError),
}

impl BillingError {
    /// Whether calling `collect` again may succeed without anything being
    /// changed first: after exhausted retries, a failed lookup, an
    /// unrecorded payment or a repository failure.
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self,
            BillingError::RetriesExhausted { .. }
                | BillingError::LookupFailed { .. }
                | BillingError::PaymentNotRecorded { .. }
                | BillingError::Repository(_)
        )
    }
}
