//! Where invoices are kept.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::{Invoice, InvoiceId};

/// Why a repository could not load or store an invoice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invoice repository failed: {message}")]
pub struct RepositoryError {
    message: String,
}

impl RepositoryError {
    /// A failure described by `message`, for implementations backed by
    /// storage that can fail.
    pub fn new(message: impl Into<String>) -> RepositoryError {
        RepositoryError {
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Loads and stores invoices by id.
///
/// Methods take `&self` so one repository can be shared (by reference or
/// `Arc`, both of which are repositories too); an implementation that keeps
/// state uses interior mutability.
pub trait InvoiceRepository {
    /// The invoice with `id`, or `None` if there is none.
    fn get(&self, id: &InvoiceId) -> Result<Option<Invoice>, RepositoryError>;

    /// Stores `invoice`, replacing any invoice with the same id.
    fn save(&self, invoice: &Invoice) -> Result<(), RepositoryError>;
}

impl<R: InvoiceRepository + ?Sized> InvoiceRepository for &R {
    fn get(&self, id: &InvoiceId) -> Result<Option<Invoice>, RepositoryError> {
        (**self).get(id)
    }

    fn save(&self, invoice: &Invoice) -> Result<(), RepositoryError> {
        (**self).save(invoice)
    }
}

impl<R: InvoiceRepository + ?Sized> InvoiceRepository for Arc<R> {
    fn get(&self, id: &InvoiceId) -> Result<Option<Invoice>, RepositoryError> {
        (**self).get(id)
    }

    fn save(&self, invoice: &Invoice) -> Result<(), RepositoryError> {
        (**self).save(invoice)
    }
}

/// Invoices kept in memory, for tests and the sandbox. It never fails.
#[derive(Debug, Default)]
pub struct InMemoryInvoiceRepository {
    invoices: Mutex<BTreeMap<InvoiceId, Invoice>>,
}

impl InMemoryInvoiceRepository {
    /// An empty repository.
    pub fn new() -> InMemoryInvoiceRepository {
        InMemoryInvoiceRepository::default()
    }

    /// A repository holding `invoices`; a later invoice replaces an earlier
    /// one with the same id.
    pub fn with_invoices(invoices: impl IntoIterator<Item = Invoice>) -> InMemoryInvoiceRepository {
        let map = invoices
            .into_iter()
            .map(|invoice| (invoice.id().clone(), invoice))
            .collect();
        InMemoryInvoiceRepository {
            invoices: Mutex::new(map),
        }
    }

    /// Every invoice, in id order.
    pub fn invoices(&self) -> Vec<Invoice> {
        self.lock().values().cloned().collect()
    }

    /// The map, even if a thread panicked while holding the lock: each
    /// update is a single insert, so a poisoned lock holds nothing
    /// half-written.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<InvoiceId, Invoice>> {
        self.invoices.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl InvoiceRepository for InMemoryInvoiceRepository {
    fn get(&self, id: &InvoiceId) -> Result<Option<Invoice>, RepositoryError> {
        Ok(self.lock().get(id).cloned())
    }

    fn save(&self, invoice: &Invoice) -> Result<(), RepositoryError> {
        self.lock().insert(invoice.id().clone(), invoice.clone());
        Ok(())
    }
}
