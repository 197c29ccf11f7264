//! Ledgerly's billing: issues an [`Invoice`] (prices it once, with
//! `pricing`, and freezes the result) and collects the issued total through
//! a [`PaymentGateway`](payment_gateway::PaymentGateway), exactly once, with
//! every payment attempt written down in a [`Ledger`].
//!
//! - [`BillingService::issue`] prices the invoice and stores the breakdown
//!   in cents and the rates it used; issuing it again is a no-op, issuing
//!   something else under its id is refused, naming the field.
//! - [`BillingService::collect`] charges the *stored* total under an
//!   idempotency key derived from the invoice id and the attempt number
//!   (`invoice:<id>:attempt:<n>`), never a random one. The attempt is
//!   committed, pending, before its request is sent, and its outcome
//!   (captured, declined, failed, unknown) recorded after. Transient and
//!   ambiguous failures are retried with bounded exponential backoff
//!   ([`RetryPolicy`]) through an injected [`Sleeper`]. An attempt left
//!   pending or unknown is resumed under the same key after asking the
//!   processor ([`PaymentGateway::lookup`](payment_gateway::PaymentGateway::lookup));
//!   a new key is used only after a decline.
//! - [`BillingService::reconcile`] settles pending and unknown attempts by
//!   lookups alone.
//! - An invoice's [`InvoiceStatus`] is never stored: it follows from its
//!   total and its attempts.
//!
//! ```
//! use billing::{
//!     BillingService, CustomerId, InMemoryLedger, Invoice, InvoiceId, InvoiceStatus, Payment,
//!     RecordingSleeper, RetryPolicy,
//! };
//! use payment_gateway::{Currency, FakeGateway, ManualClock, PaymentMethod};
//! use pricing::{DaysOverdue, LineItem, PricingInput, Tier};
//! use std::time::Duration;
//!
//! // The lesson's worked example, paid with a card whose processor is down
//! // for the first two requests.
//! let items = vec![
//!     LineItem::new("40.00".parse()?, "3".parse()?),
//!     LineItem::new("15".parse()?, "2".parse()?),
//! ];
//! let id = InvoiceId::new("INV-1")?;
//! let invoice = Invoice::new(
//!     id.clone(),
//!     CustomerId::new("cus_1")?,
//!     PaymentMethod::new("tok_transient_2")?,
//!     Currency::Usd,
//!     PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45))?,
//! );
//!
//! let gateway = FakeGateway::new();
//! let ledger = InMemoryLedger::new();
//! let sleeper = RecordingSleeper::new();
//! let clock = ManualClock::at_unix_millis(1_764_583_200_000);
//! let policy = RetryPolicy::new(4, Duration::from_millis(100), Duration::from_secs(1))?;
//! let service = BillingService::new(&gateway, &ledger, &sleeper, &clock, policy);
//!
//! // Issued once: the breakdown is frozen in cents.
//! let issued = service.issue(&invoice)?;
//! assert_eq!(issued.breakdown().total().to_string(), "141.69");
//! assert_eq!(service.issue(&invoice)?, issued);
//!
//! let Payment::Charged(charge) = service.collect(&id)? else {
//!     unreachable!("a positive total is charged")
//! };
//! assert_eq!(charge.amount().to_string(), "141.69 USD");
//! assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 14169);
//! assert_eq!(sleeper.delays(), [Duration::from_millis(100), Duration::from_millis(200)]);
//!
//! // Collecting a paid invoice again returns the payment and sends nothing.
//! assert_eq!(service.collect(&id)?, Payment::Charged(charge.clone()));
//! assert_eq!(gateway.request_count(), 3);
//! let record = service.invoice(&id)?;
//! assert_eq!(record.status(), InvoiceStatus::Paid(Payment::Charged(charge)));
//! assert_eq!(record.attempts().len(), 1);
//! assert_eq!(record.attempts()[0].key().as_str(), "invoice:INV-1:attempt:1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `conformance` feature, [`conformance`] holds the checks every
//! [`Ledger`] backend must pass.
//!
//! The crate does no I/O (the ledger and the gateway are injected), reads no
//! clock (the [`Clock`](payment_gateway::Clock) is injected too) and never
//! panics on input.
#![deny(missing_docs)]

mod attempt;
mod claims;
#[cfg(feature = "conformance")]
pub mod conformance;
mod correction;
mod corrector;
mod documents;
mod error;
mod flight;
mod invoice;
mod ledger;
mod pace;
mod repricing;
mod retry;
mod service;
mod supplementary;
mod worker;

pub use attempt::{Attempt, AttemptOutcome, AttemptUpdate, InvalidRecord, UpdateRule, attempt_key};
pub use claims::{ClaimOutcome, Claims, HeldClaim, MAX_LEASE, WorkerId};
pub use correction::{
    Action, Blocked, Correction, CorrectionError, Lines, Undercharge, correct, pricing_input,
    reprice,
};
pub use corrector::{
    Applied, Corrector, Finding, PlanEntry, RefundsReconciled, Settlement, Verification,
};
pub use documents::{
    CorrectionId, CorrectionRecord, Corrections, CreditNote, CreditNoteId, CreditNoteIssued,
    CreditNoteKind, RefundAttempt, RefundOutcome, UnknownCreditNoteKind, refund_key,
    refund_update_allowed,
};
pub use error::BillingError;
pub use invoice::{
    CustomerId, IdKind, InvalidId, Invoice, InvoiceId, InvoiceStatus, IssuedBreakdown,
    IssuedInvoice, IssuedParts, Payment, Rates, StatusKind, UnknownStatus,
};
pub use ledger::{
    InMemoryLedger, InvoiceFilter, InvoiceRecord, IssueOutcome, Ledger, LedgerError,
    LedgerErrorKind, apply_update, check_append,
};
pub use pace::{GROWTH_DIVISOR, MAX_RATE_LIMITED, Pace, Paced};
pub use repricing::{Declared, Repriced, reprice_issued};
pub use retry::{RecordingSleeper, RetryPolicy, RetryPolicyError, Sleeper, ThreadSleeper};
pub use service::{BillingService, Reconciliation};
pub use supplementary::{
    SUPPLEMENTARY_RATES_VERSION, SUPPLEMENTARY_TABLE, SupplementaryError, is_supplementary,
    supplementary_id, supplementary_invoice,
};
pub use worker::{Settled, Sweep, TakenOver, Worker};
