//! Ledgerly's billing: prices an [`Invoice`] with `pricing` and collects its
//! total through a [`PaymentGateway`](payment_gateway::PaymentGateway),
//! exactly once.
//!
//! [`BillingService::collect`] charges the total in cents under an
//! idempotency key derived from the invoice id and its payment attempt
//! (`invoice:<id>:attempt:<n>`), never a random one, so that retrying after a
//! timeout or a lost reply finds the first charge instead of making a second.
//! Transient and ambiguous failures are retried with bounded exponential
//! backoff ([`RetryPolicy`]) through an injected [`Sleeper`]; a decline is
//! recorded with its code and ends the attempt; an invoice becomes paid only
//! with the gateway's charge, or without one when its total is zero.
//!
//! ```
//! use billing::{
//!     BillingService, CustomerId, InMemoryInvoiceRepository, Invoice, InvoiceId,
//!     InvoiceStatus, Payment, RecordingSleeper, RetryPolicy,
//! };
//! use payment_gateway::{Currency, FakeGateway, PaymentMethod};
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
//! let repository = InMemoryInvoiceRepository::with_invoices([invoice]);
//! let sleeper = RecordingSleeper::new();
//! let policy = RetryPolicy::new(4, Duration::from_millis(100), Duration::from_secs(1))?;
//! let service = BillingService::new(&gateway, &repository, &sleeper, policy);
//!
//! let Payment::Charged(charge) = service.collect(&id)? else {
//!     unreachable!("a positive total is charged")
//! };
//! assert_eq!(charge.amount().to_string(), "141.69 USD");
//! assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 14169);
//! assert_eq!(sleeper.delays(), [Duration::from_millis(100), Duration::from_millis(200)]);
//!
//! // Collecting a paid invoice again returns the payment and charges nothing.
//! assert_eq!(service.collect(&id)?, Payment::Charged(charge));
//! assert_eq!(gateway.capture_count(), 1);
//! assert!(service.invoice(&id)?.status().is_paid());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate does no I/O, reads no clock and never panics on input.
#![deny(missing_docs)]

mod error;
mod invoice;
mod repository;
mod retry;
mod service;

pub use error::BillingError;
pub use invoice::{CustomerId, IdKind, InvalidId, Invoice, InvoiceId, InvoiceStatus, Payment};
pub use repository::{InMemoryInvoiceRepository, InvoiceRepository, RepositoryError};
pub use retry::{RecordingSleeper, RetryPolicy, RetryPolicyError, Sleeper, ThreadSleeper};
pub use service::BillingService;
