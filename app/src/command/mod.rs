//! The subcommands, one module each. A command is a thin layer: it opens
//! its input, hands records to readers, pricing or billing, and writers,
//! and returns a [`Status`](crate::error::Status). Commands depend only on
//! the modules below them, never on one another. `rates`, `sample` and
//! `diff` make the reference-book workflow of the production approval, and
//! `reprice` shows it on the invoices a ledger issued;
//! `charge`, `invoices`, `reconcile` and `sandbox` work on the durable
//! ledger and the sandbox's books; `correct` and `credit-notes` set money
//! right when a wrong rate reached customers.

pub(crate) mod charge;
pub(crate) mod correct;
pub(crate) mod credit_notes;
pub(crate) mod diff;
pub(crate) mod invoice;
pub(crate) mod invoices;
pub(crate) mod rates;
pub(crate) mod reconcile;
pub(crate) mod reprice;
pub(crate) mod sample;
pub(crate) mod sandbox;
