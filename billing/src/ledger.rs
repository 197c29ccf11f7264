//! Where billing remembers: the [`Ledger`] trait every storage backend
//! implements, and [`InMemoryLedger`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use payment_gateway::{Charge, PaymentMethod};

use crate::claims::ClaimMap;
use crate::documents::Documents;
use crate::{
    Attempt, AttemptOutcome, AttemptUpdate, InvoiceId, InvoiceStatus, IssuedInvoice, Payment,
    StatusKind, UpdateRule,
};

/// What kind of failure a [`LedgerError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerErrorKind {
    /// The write contradicts what is stored (an attempt number already
    /// taken, a second capture): another run got there first. Reading again
    /// shows what it wrote.
    Conflict,
    /// The invoice or attempt written to does not exist.
    NotFound,
    /// The storage failed (I/O, corruption, a record billing cannot read).
    Other,
}

/// Why a ledger could not read or write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invoice repository failed: {message}")]
pub struct LedgerError {
    kind: LedgerErrorKind,
    message: String,
}

impl LedgerError {
    /// A storage failure described by `message`.
    pub fn new(message: impl Into<String>) -> LedgerError {
        LedgerError {
            kind: LedgerErrorKind::Other,
            message: message.into(),
        }
    }

    /// A write that contradicts what is stored.
    pub fn conflict(message: impl Into<String>) -> LedgerError {
        LedgerError {
            kind: LedgerErrorKind::Conflict,
            message: message.into(),
        }
    }

    /// A write to an invoice or attempt that does not exist.
    pub fn not_found(message: impl Into<String>) -> LedgerError {
        LedgerError {
            kind: LedgerErrorKind::NotFound,
            message: message.into(),
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> LedgerErrorKind {
        self.kind
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// An issued invoice with its payment attempts, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    invoice: IssuedInvoice,
    attempts: Vec<Attempt>,
}

impl InvoiceRecord {
    /// `invoice` with `attempts`, which must be numbered 1, 2, … in order,
    /// as a backend reads them.
    pub fn new(
        invoice: IssuedInvoice,
        attempts: Vec<Attempt>,
    ) -> Result<InvoiceRecord, LedgerError> {
        for (index, attempt) in attempts.iter().enumerate() {
            let expected = u32::try_from(index).ok().and_then(|i| i.checked_add(1));
            if attempt.invoice() != invoice.id() || Some(attempt.number()) != expected {
                return Err(LedgerError::new(format!(
                    "invoice {} has attempt {} of invoice {} in place {}",
                    invoice.id(),
                    attempt.number(),
                    attempt.invoice(),
                    index + 1
                )));
            }
        }
        Ok(InvoiceRecord { invoice, attempts })
    }

    /// The issued invoice.
    pub fn invoice(&self) -> &IssuedInvoice {
        &self.invoice
    }

    /// Its payment attempts, oldest first.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The latest attempt, if any.
    pub fn latest_attempt(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// How the invoice was paid, if it was: the captured attempt's charge,
    /// or nothing due for a zero total.
    pub fn payment(&self) -> Option<Payment> {
        let captured = self
            .attempts
            .iter()
            .find_map(|attempt| match attempt.outcome() {
                AttemptOutcome::Captured(id) => Some(Charge::new(id.clone(), attempt.amount())),
                _ => None,
            });
        match captured {
            Some(charge) => Some(Payment::Charged(charge)),
            None if self.invoice.breakdown().total().is_zero() => Some(Payment::NothingDue),
            None => None,
        }
    }

    /// Where the invoice stands, from its total and its attempts: paid when
    /// an attempt captured (or nothing was due), else by the latest attempt
    /// (none or refused: open; declined: failed; pending or unknown:
    /// unknown).
    pub fn status(&self) -> InvoiceStatus {
        if let Some(payment) = self.payment() {
            return InvoiceStatus::Paid(payment);
        }
        match self.latest_attempt().map(Attempt::outcome) {
            None | Some(AttemptOutcome::Failed(_)) => InvoiceStatus::Open,
            Some(AttemptOutcome::Declined(code)) => InvoiceStatus::PaymentFailed { code: *code },
            // A capture was found above; this arm is for completeness.
            Some(
                AttemptOutcome::Captured(_) | AttemptOutcome::Pending | AttemptOutcome::Unknown(_),
            ) => InvoiceStatus::Unknown,
        }
    }
}

/// Which invoices a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    status: Option<StatusKind>,
    id: Option<InvoiceId>,
}

impl InvoiceFilter {
    /// Every invoice.
    pub fn all() -> InvoiceFilter {
        InvoiceFilter::default()
    }

    /// Only invoices with this status.
    #[must_use]
    pub fn with_status(mut self, status: StatusKind) -> InvoiceFilter {
        self.status = Some(status);
        self
    }

    /// Only the invoice with this id.
    #[must_use]
    pub fn with_id(mut self, id: InvoiceId) -> InvoiceFilter {
        self.id = Some(id);
        self
    }

    /// The status asked for, if any.
    pub fn status(&self) -> Option<StatusKind> {
        self.status
    }

    /// The id asked for, if any.
    pub fn id(&self) -> Option<&InvoiceId> {
        self.id.as_ref()
    }

    /// Whether `record` passes.
    pub fn matches(&self, record: &InvoiceRecord) -> bool {
        self.id
            .as_ref()
            .is_none_or(|id| id == record.invoice().id())
            && self
                .status
                .is_none_or(|status| status == record.status().kind())
    }
}

/// What [`Ledger::issue`] found for one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    /// The invoice was new and is now stored.
    Inserted,
    /// An invoice with that id was already stored: this one. Billing compares
    /// the two; the stored one is kept either way.
    Existing(Box<IssuedInvoice>),
}

/// Where billing keeps issued invoices and their payment attempts.
///
/// Billing's logic runs against this trait only, so a backend (in memory,
/// `SQLite`, `PostgreSQL`) is a storage choice, not a change to billing. Every
/// backend keeps the same rules, which `billing::conformance` (feature
/// `conformance`) checks by name:
///
/// - Each method that writes commits before it returns `Ok`: a pending
///   attempt is durable before its request is sent. The slice methods write
///   all their items in one commit (several pending rows can share one), or
///   none of them.
/// - Issued invoices are never changed, except their payment method.
/// - An attempt is appended with the next number, only when the invoice has
///   no capture and its latest attempt is final (declined or failed); any
///   other append is a [`Conflict`](LedgerErrorKind::Conflict), which is
///   how two runs racing for one invoice learn that the other began first.
/// - An outcome is recorded by [`AttemptUpdate::applies_to`]; an invoice
///   never holds two captured attempts.
/// - Listings are pages in id order, so that memory does not grow with the
///   number of invoices.
///
/// Methods take `&self` so one ledger can be shared (by reference or `Arc`,
/// both of which are ledgers too); an implementation that keeps state uses
/// interior mutability. `Send + Sync`: billing keeps several requests in
/// flight on threads that share it.
pub trait Ledger: Send + Sync {
    /// Stores each invoice unless one with its id is stored already, in one
    /// commit; says for each which it was, in order.
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError>;

    /// The invoice with `id` and its attempts, or `None` if there is none.
    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError>;

    /// [`get`](Ledger::get) for each of `ids`, in order. A backend that can
    /// read many at once (one snapshot, one round trip) overrides it.
    fn get_all(&self, ids: &[InvoiceId]) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
        ids.iter().map(|id| self.get(id)).collect()
    }

    /// Appends pending `attempts` (at most one per invoice), in one commit.
    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError>;

    /// Records outcomes, in one commit.
    fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError>;

    /// Replaces the payment method the invoice's next new attempt charges.
    fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethod,
    ) -> Result<(), LedgerError>;

    /// At most `limit` invoices that pass `filter`, with ids after `after`,
    /// in id order.
    fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<InvoiceRecord>, LedgerError>;

    /// At most `limit` attempts that are pending or unknown, after the
    /// attempt `after` (invoice id, number), in (invoice id, number) order.
    fn unsettled_attempts(
        &self,
        after: Option<(&InvoiceId, u32)>,
        limit: usize,
    ) -> Result<Vec<Attempt>, LedgerError>;

    /// What the pre-payment credit notes of each of `ids` took off its
    /// total, in cents, in order (0 for none): an unpaid invoice's amount
    /// due is its total less this, and that is what a new attempt charges.
    fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError>;
}

macro_rules! forward_ledger {
    ($wrapper:ty) => {
        impl<L: Ledger + ?Sized> Ledger for $wrapper {
            fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
                (**self).issue(invoices)
            }
            fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
                (**self).get(id)
            }
            fn get_all(
                &self,
                ids: &[InvoiceId],
            ) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
                (**self).get_all(ids)
            }
            fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
                (**self).begin_attempts(attempts)
            }
            fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError> {
                (**self).finish_attempts(updates)
            }
            fn change_payment_method(
                &self,
                id: &InvoiceId,
                payment_method: &PaymentMethod,
            ) -> Result<(), LedgerError> {
                (**self).change_payment_method(id, payment_method)
            }
            fn list(
                &self,
                filter: &InvoiceFilter,
                after: Option<&InvoiceId>,
                limit: usize,
            ) -> Result<Vec<InvoiceRecord>, LedgerError> {
                (**self).list(filter, after, limit)
            }
            fn unsettled_attempts(
                &self,
                after: Option<(&InvoiceId, u32)>,
                limit: usize,
            ) -> Result<Vec<Attempt>, LedgerError> {
                (**self).unsettled_attempts(after, limit)
            }
            fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError> {
                (**self).credited_before_payment(ids)
            }
        }
    };
}

forward_ledger!(&L);
forward_ledger!(Arc<L>);
forward_ledger!(Box<L>);

/// Whether `attempt` may be appended to `record`, by the rules of [`Ledger`]:
/// the next number, no capture, the latest attempt final. Backends call it
/// inside their write transaction.
pub fn check_append(record: &InvoiceRecord, attempt: &Attempt) -> Result<(), LedgerError> {
    let id = record.invoice().id();
    if attempt.invoice() != id {
        return Err(LedgerError::new(format!(
            "attempt of invoice {} appended to invoice {id}",
            attempt.invoice()
        )));
    }
    if *attempt.outcome() != AttemptOutcome::Pending {
        return Err(LedgerError::new(format!(
            "attempt {} of invoice {id} is appended {}, not pending",
            attempt.number(),
            attempt.outcome().name()
        )));
    }
    let latest = record.latest_attempt();
    let next = latest.map_or(Some(1), |latest| latest.number().checked_add(1));
    if next != Some(attempt.number()) {
        return Err(LedgerError::conflict(format!(
            "invoice {id} has {} attempts, so the next is not attempt {}",
            record.attempts().len(),
            attempt.number()
        )));
    }
    if record.payment().is_some() {
        return Err(LedgerError::conflict(format!(
            "invoice {id} is already paid"
        )));
    }
    if let Some(latest) = latest
        && latest.outcome().is_unsettled()
    {
        return Err(LedgerError::conflict(format!(
            "invoice {id} attempt {} is still {}",
            latest.number(),
            latest.outcome().name()
        )));
    }
    Ok(())
}

/// Applies `update` to `record` by [`AttemptUpdate::applies_to`]; `Ok(false)`
/// when it is ignored. Backends that keep records as values call it.
pub fn apply_update(
    record: &mut InvoiceRecord,
    update: &AttemptUpdate,
) -> Result<bool, LedgerError> {
    let id = record.invoice.id().clone();
    let index = usize::try_from(update.number())
        .ok()
        .and_then(|number| number.checked_sub(1))
        .filter(|&index| index < record.attempts.len())
        .ok_or_else(|| {
            LedgerError::not_found(format!("invoice {id} has no attempt {}", update.number()))
        })?;
    match update.applies_to(record.attempts[index].outcome()) {
        UpdateRule::Ignore => Ok(false),
        UpdateRule::Conflict => Err(LedgerError::conflict(format!(
            "invoice {id} attempt {} was captured as {}, not {}",
            update.number(),
            record.attempts[index].outcome(),
            update.outcome()
        ))),
        UpdateRule::Apply => {
            let other_capture = record.attempts.iter().enumerate().any(|(i, attempt)| {
                i != index && matches!(attempt.outcome(), AttemptOutcome::Captured(_))
            });
            if other_capture && matches!(update.outcome(), AttemptOutcome::Captured(_)) {
                return Err(LedgerError::conflict(format!(
                    "invoice {id} already has a captured attempt; attempt {} cannot be captured too",
                    update.number()
                )));
            }
            let attempt = record.attempts[index].clone().updated(update);
            record.attempts[index] = attempt;
            Ok(true)
        }
    }
}

/// A ledger in memory, for tests and the sandbox. It never fails, unless a
/// test fills its "disk" ([`InMemoryLedger::fill_disk_after`]).
#[derive(Debug)]
pub struct InMemoryLedger {
    records: Mutex<BTreeMap<InvoiceId, InvoiceRecord>>,
    claims: ClaimMap,
    documents: Mutex<Documents>,
    /// How many more writes succeed before every write fails.
    writes_left: AtomicUsize,
}

impl Default for InMemoryLedger {
    fn default() -> InMemoryLedger {
        InMemoryLedger {
            records: Mutex::default(),
            claims: ClaimMap::default(),
            documents: Mutex::default(),
            writes_left: AtomicUsize::new(usize::MAX),
        }
    }
}

impl InMemoryLedger {
    /// An empty ledger.
    pub fn new() -> InMemoryLedger {
        InMemoryLedger::default()
    }

    /// Fills the ledger's disk after `writes` more writes: every write
    /// after them fails as a storage failure does (`disk full`), reads
    /// still work. For tests of what a full disk in the middle of a run
    /// leaves behind.
    pub fn fill_disk_after(&self, writes: usize) {
        self.writes_left.store(writes, Ordering::SeqCst);
    }

    /// One write's room on the disk, or the failure of a full one.
    pub(crate) fn room_for_a_write(&self) -> Result<(), LedgerError> {
        self.writes_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .map(|_| ())
            .map_err(|_| LedgerError::new("disk full"))
    }

    /// Who holds which invoice.
    pub(crate) fn claims(&self) -> &ClaimMap {
        &self.claims
    }

    /// The corrections' documents, even if a thread panicked while
    /// holding the lock (each write is one insert).
    pub(crate) fn documents(&self) -> MutexGuard<'_, Documents> {
        self.documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every invoice, in id order.
    pub fn records(&self) -> Vec<InvoiceRecord> {
        self.lock().values().cloned().collect()
    }

    /// The map, even if a thread panicked while holding the lock: every
    /// write below is prepared on a copy and swapped in whole, so a
    /// poisoned lock holds nothing half-written.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<InvoiceId, InvoiceRecord>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ledger for InMemoryLedger {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        self.room_for_a_write()?;
        let mut records = self.lock();
        Ok(invoices
            .iter()
            .map(|invoice| {
                if let Some(stored) = records.get(invoice.id()) {
                    return IssueOutcome::Existing(Box::new(stored.invoice.clone()));
                }
                records.insert(
                    invoice.id().clone(),
                    InvoiceRecord {
                        invoice: invoice.clone(),
                        attempts: Vec::new(),
                    },
                );
                IssueOutcome::Inserted
            })
            .collect())
    }

    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        Ok(self.lock().get(id).cloned())
    }

    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
        self.room_for_a_write()?;
        let mut records = self.lock();
        let mut changed: BTreeMap<InvoiceId, InvoiceRecord> = BTreeMap::new();
        for attempt in attempts {
            let id = attempt.invoice();
            let Some(mut record) = changed.remove(id).or_else(|| records.get(id).cloned()) else {
                return Err(LedgerError::not_found(format!("invoice {id} not found")));
            };
            check_append(&record, attempt)?;
            record.attempts.push(attempt.clone());
            changed.insert(id.clone(), record);
        }
        records.extend(changed);
        Ok(())
    }

    fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError> {
        self.room_for_a_write()?;
        let mut records = self.lock();
        let mut changed: BTreeMap<InvoiceId, InvoiceRecord> = BTreeMap::new();
        for update in updates {
            let id = update.invoice();
            let Some(mut record) = changed.remove(id).or_else(|| records.get(id).cloned()) else {
                return Err(LedgerError::not_found(format!("invoice {id} not found")));
            };
            apply_update(&mut record, update)?;
            changed.insert(id.clone(), record);
        }
        records.extend(changed);
        Ok(())
    }

    fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethod,
    ) -> Result<(), LedgerError> {
        self.room_for_a_write()?;
        let mut records = self.lock();
        let record = records
            .get_mut(id)
            .ok_or_else(|| LedgerError::not_found(format!("invoice {id} not found")))?;
        record.invoice = record
            .invoice
            .clone()
            .with_payment_method(payment_method.clone());
        Ok(())
    }

    fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<InvoiceRecord>, LedgerError> {
        let records = self.lock();
        Ok(records
            .values()
            .filter(|record| after.is_none_or(|after| record.invoice.id() > after))
            .filter(|record| filter.matches(record))
            .take(limit)
            .cloned()
            .collect())
    }

    fn unsettled_attempts(
        &self,
        after: Option<(&InvoiceId, u32)>,
        limit: usize,
    ) -> Result<Vec<Attempt>, LedgerError> {
        let records = self.lock();
        Ok(records
            .values()
            .flat_map(|record| record.attempts.iter())
            .filter(|attempt| {
                after
                    .is_none_or(|(id, number)| (attempt.invoice(), attempt.number()) > (id, number))
            })
            .filter(|attempt| attempt.outcome().is_unsettled())
            .take(limit)
            .cloned()
            .collect())
    }

    fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError> {
        let documents = self.documents();
        Ok(ids
            .iter()
            .map(|id| documents.credited_before_payment(id))
            .collect())
    }
}
