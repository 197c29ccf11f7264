//! Ledgerly's durable storage, in SQLite files (SQLite is compiled in:
//! nothing to install):
//!
//! - [`SqliteLedger`]: billing's [`Ledger`](billing::Ledger), the issued
//!   invoices and their append-only payment attempts;
//! - [`SqliteSandboxBooks`]: the sandbox processor's
//!   [`SandboxBooks`](payment_gateway::SandboxBooks), its idempotency
//!   records and captures, in a file of their own (the processor stands for
//!   another company's system: never one transaction across both files).
//!
//! Both files use WAL mode and a busy timeout, so several processes can
//! share them (the ledger with `synchronous = FULL`: a commit survives a
//! power cut; the sandbox's books with `NORMAL`: a killed process); every write is one immediate
//! transaction. Each records its schema version (`PRAGMA user_version`) and
//! migrates forward on open; a file written by a newer schema is refused
//! with [`StoreError::NewerSchema`] and left untouched.
//!
//! ```
//! use billing::{BillingService, CustomerId, Invoice, InvoiceId, RecordingSleeper, RetryPolicy};
//! use ledger_store::{SqliteLedger, SqliteSandboxBooks};
//! use payment_gateway::{Currency, FakeGateway, ManualClock, PaymentMethod};
//! use pricing::{DaysOverdue, LineItem, PricingInput, Tier};
//!
//! let dir = std::env::temp_dir().join(format!("ledger-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let clock = ManualClock::at_unix_millis(1_764_583_200_000);
//! let gateway = FakeGateway::with_books(SqliteSandboxBooks::open(dir.join("sandbox.db"))?)
//!     .with_clock(clock.clone());
//! let ledger = SqliteLedger::open(dir.join("ledger.db"))?;
//! let service = BillingService::new(&gateway, &ledger, RecordingSleeper::new(), clock, RetryPolicy::default());
//!
//! let items = vec![LineItem::new("40".parse()?, "3".parse()?), LineItem::new("15".parse()?, "2".parse()?)];
//! let id = InvoiceId::new("INV-1")?;
//! service.issue(&Invoice::new(
//!     id.clone(),
//!     CustomerId::new("cus_1")?,
//!     PaymentMethod::new("tok_success")?,
//!     Currency::Usd,
//!     PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45))?,
//! ))?;
//! let first = service.collect(&id)?;
//!
//! // Another process (here: other connections) sees the payment and charges nothing.
//! let again = BillingService::new(
//!     FakeGateway::with_books(SqliteSandboxBooks::open(dir.join("sandbox.db"))?),
//!     SqliteLedger::open(dir.join("ledger.db"))?,
//!     RecordingSleeper::new(),
//!     ManualClock::default(),
//!     RetryPolicy::default(),
//! );
//! assert_eq!(again.collect(&id)?, first);
//! assert_eq!(again.gateway().capture_count(), 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod any;
mod book_rows;
mod document_rows;
mod error;
mod paging;
mod postgres;
mod rows;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use any::{AnyBooks, AnyLedger, Location};
pub use error::StoreError;
pub use postgres::{PgLedger, PgSandboxBooks, redact};
pub use sqlite::{SqliteLedger, SqliteSandboxBooks};
