//! The sandbox processor's books: its idempotency records and its captures,
//! behind a trait so that they can live in memory or in a file of their own.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::{Charge, ChargeId, ChargeRequest, DeclineCode, IdempotencyKey, RefundRecord};

/// Why the sandbox's books could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sandbox books failed: {message}")]
pub struct BooksError {
    message: String,
}

impl BooksError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> BooksError {
        BooksError {
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// One capture: money the fake took, the request that took it, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    number: u64,
    charge: Charge,
    request: ChargeRequest,
    captured_at: SystemTime,
}

impl Capture {
    /// The `number`-th capture (from 1): `charge`, taken by `request` at
    /// `captured_at`. Books implementations rebuild stored captures with it.
    pub fn new(
        number: u64,
        charge: Charge,
        request: ChargeRequest,
        captured_at: SystemTime,
    ) -> Capture {
        Capture {
            number,
            charge,
            request,
            captured_at,
        }
    }

    /// Its place in capture order, from 1.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The charge, with its id and amount.
    pub fn charge(&self) -> &Charge {
        &self.charge
    }

    /// The request that was charged (its key, token, amount and reference).
    pub fn request(&self) -> &ChargeRequest {
        &self.request
    }

    /// When the processor captured it, by the gateway's clock.
    pub fn captured_at(&self) -> SystemTime {
        self.captured_at
    }
}

/// The first processed result for an idempotency key, and the request it
/// answered: a later request with the same key must match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    request: ChargeRequest,
    outcome: Result<Charge, DeclineCode>,
}

impl StoredResult {
    /// `request` answered with `outcome`: a charge, or a decline code.
    pub fn new(request: ChargeRequest, outcome: Result<Charge, DeclineCode>) -> StoredResult {
        StoredResult { request, outcome }
    }

    /// The request first processed under the key.
    pub fn request(&self) -> &ChargeRequest {
        &self.request
    }

    /// Its result.
    pub fn outcome(&self) -> &Result<Charge, DeclineCode> {
        &self.outcome
    }
}

/// What the processor remembers about one idempotency key: when it was
/// first used (it expires 24 hours later), how many requests used it (the
/// `tok_transient_<N>`, `tok_reply_lost` and `tok_request_lost` tokens
/// behave by that count, so it has to persist with the rest), and the
/// stored result once a request was processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    first_seen: SystemTime,
    requests: u32,
    stored: Option<StoredResult>,
}

impl KeyRecord {
    /// A record of a key first used at `first_seen`, by `requests` requests
    /// so far, with its stored result if one was processed.
    pub fn new(first_seen: SystemTime, requests: u32, stored: Option<StoredResult>) -> KeyRecord {
        KeyRecord {
            first_seen,
            requests,
            stored,
        }
    }

    /// When the key was first used.
    pub fn first_seen(&self) -> SystemTime {
        self.first_seen
    }

    /// How many requests used the key.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The first processed result, if any.
    pub fn stored(&self) -> Option<&StoredResult> {
        self.stored.as_ref()
    }

    pub(crate) fn count_request(&mut self) {
        self.requests = self.requests.saturating_add(1);
    }

    pub(crate) fn store(&mut self, result: StoredResult) {
        self.stored = Some(result);
    }
}

/// The reads and writes of one request, inside one transaction of the
/// books: either all of them are kept, or none.
pub trait BooksTransaction {
    /// The record of `key`, expired or not (the gateway decides).
    fn key_record(&mut self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError>;

    /// Stores `record` for `key`, replacing the one before.
    fn put_key_record(
        &mut self,
        key: &IdempotencyKey,
        record: &KeyRecord,
    ) -> Result<(), BooksError>;

    /// How many captures there are, this transaction's included.
    fn capture_count(&mut self) -> Result<u64, BooksError>;

    /// Adds `capture`, whose number is one above [`capture_count`](Self::capture_count).
    fn insert_capture(&mut self, capture: &Capture) -> Result<(), BooksError>;

    /// The capture whose charge has id `charge`.
    fn capture_for_charge(&mut self, charge: &ChargeId) -> Result<Option<Capture>, BooksError>;

    /// Every refund of `charge`, in refund order.
    fn refunds_for_charge(&mut self, charge: &ChargeId) -> Result<Vec<RefundRecord>, BooksError>;

    /// The latest refund made under `key`, expired or not (the gateway
    /// decides), this transaction's included.
    fn refund_for_key(&mut self, key: &IdempotencyKey) -> Result<Option<RefundRecord>, BooksError>;

    /// How many refunds there are, this transaction's included.
    fn refund_count(&mut self) -> Result<u64, BooksError>;

    /// Stores `refund`: a new one (its number one above
    /// [`refund_count`](Self::refund_count)), or the next state of a stored
    /// one (the same number: only its status and lookup count change).
    fn put_refund(&mut self, refund: &RefundRecord) -> Result<(), BooksError>;

    /// The account's rate-limit clock: when its next request is due under
    /// the limit (GCRA's theoretical arrival time), in microseconds since
    /// the Unix epoch; `None` before any request was admitted.
    fn rate_clock(&mut self) -> Result<Option<i64>, BooksError>;

    /// Sets the account's rate-limit clock (see [`rate_clock`](Self::rate_clock)).
    fn put_rate_clock(&mut self, due_us: i64) -> Result<(), BooksError>;
}

/// Where the sandbox processor keeps its books.
///
/// The fake gateway runs each request's check-and-record inside one
/// [`transaction`](SandboxBooks::transaction), so an implementation shared by
/// several threads or OS processes (a file) must make the transactions
/// serializable: two requests with one key then capture once. The books
/// stand for another company's system, so they never share a transaction
/// with the ledger.
pub trait SandboxBooks: Send + Sync {
    /// Runs `work` in one transaction: commits what it wrote when it returns
    /// `Ok`, keeps nothing when it returns `Err` or the commit fails.
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
    ) -> Result<(), BooksError>;

    /// The record of `key`, outside any transaction.
    fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError>;

    /// The capture made under `key`, if any. Captures are kept for good with
    /// the key that made them (as a processor keeps a charge's metadata), so
    /// this still answers after the key's idempotency record expired.
    fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError>;

    /// Every capture whose request's reference (the invoice id) is one of
    /// `references`, in capture order: what a ledger that forgot a capture
    /// is held to before it charges again (a processor keeps its charges
    /// and their metadata for good; Stripe finds them by its search API).
    fn captures_for_references(&self, references: &[&str]) -> Result<Vec<Capture>, BooksError>;

    /// How many captures there are.
    fn capture_count(&self) -> Result<u64, BooksError>;

    /// At most `limit` captures numbered above `after`, in order: a page, so
    /// that listing every capture needs memory for one page only.
    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError>;

    /// At most `limit` refunds numbered above `after`, in order, as they
    /// stand now.
    fn refunds_after(&self, after: u64, limit: usize) -> Result<Vec<RefundRecord>, BooksError>;
}

/// Books behind a reference or an `Arc` are the same books: one forwarding
/// impl per pointer type, written once.
macro_rules! forward_books {
    ($($wrapper:ty),*) => {$(
        impl<B: SandboxBooks + ?Sized> SandboxBooks for $wrapper {
            fn transaction(
                &self,
                work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
            ) -> Result<(), BooksError> {
                (**self).transaction(work)
            }
            fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
                (**self).key_record(key)
            }
            fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError> {
                (**self).capture_for_key(key)
            }
            fn captures_for_references(
                &self,
                references: &[&str],
            ) -> Result<Vec<Capture>, BooksError> {
                (**self).captures_for_references(references)
            }
            fn capture_count(&self) -> Result<u64, BooksError> {
                (**self).capture_count()
            }
            fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError> {
                (**self).captures_after(after, limit)
            }
            fn refunds_after(
                &self,
                after: u64,
                limit: usize,
            ) -> Result<Vec<RefundRecord>, BooksError> {
                (**self).refunds_after(after, limit)
            }
        }
    )*};
}

forward_books!(&B, std::sync::Arc<B>);

/// Books kept in memory, for tests and a sandbox that forgets on exit. A
/// transaction holds the lock from start to commit, so transactions are
/// serial; its writes are staged and applied only when it succeeds.
#[derive(Debug, Default)]
pub struct InMemoryBooks {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    keys: HashMap<IdempotencyKey, KeyRecord>,
    captures: Vec<Capture>,
    /// In refund order: a refund's number is its index plus one.
    refunds: Vec<RefundRecord>,
    rate_clock: Option<i64>,
}

impl InMemoryBooks {
    /// Empty books.
    pub fn new() -> InMemoryBooks {
        InMemoryBooks::default()
    }

    /// The state, even if a thread panicked while holding the lock: writes
    /// are applied only after a transaction succeeded, each a single insert
    /// or push, so a poisoned lock holds nothing half-written.
    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A transaction's staged writes over the committed state.
struct Staged<'a> {
    state: &'a MemoryState,
    keys: HashMap<IdempotencyKey, KeyRecord>,
    captures: Vec<Capture>,
    /// New refunds and new states of stored ones, by number.
    refunds: HashMap<u64, RefundRecord>,
    rate_clock: Option<i64>,
}

impl Staged<'_> {
    /// Every refund as this transaction sees it, in refund order.
    fn all_refunds(&self) -> Vec<RefundRecord> {
        let stored = self.state.refunds.len();
        let mut all: Vec<RefundRecord> = self
            .state
            .refunds
            .iter()
            .map(|refund| self.refunds.get(&refund.number()).unwrap_or(refund).clone())
            .collect();
        let mut added: Vec<&RefundRecord> = self
            .refunds
            .values()
            .filter(|refund| usize::try_from(refund.number()).map_or(true, |n| n > stored))
            .collect();
        added.sort_by_key(|refund| refund.number());
        all.extend(added.into_iter().cloned());
        all
    }
}

impl BooksTransaction for Staged<'_> {
    fn key_record(&mut self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        Ok(self
            .keys
            .get(key)
            .or_else(|| self.state.keys.get(key))
            .cloned())
    }

    fn put_key_record(
        &mut self,
        key: &IdempotencyKey,
        record: &KeyRecord,
    ) -> Result<(), BooksError> {
        self.keys.insert(key.clone(), record.clone());
        Ok(())
    }

    fn capture_count(&mut self) -> Result<u64, BooksError> {
        let count = self.state.captures.len() + self.captures.len();
        u64::try_from(count).map_err(|_| BooksError::new(format!("{count} captures overflow")))
    }

    fn insert_capture(&mut self, capture: &Capture) -> Result<(), BooksError> {
        self.captures.push(capture.clone());
        Ok(())
    }

    fn capture_for_charge(&mut self, charge: &ChargeId) -> Result<Option<Capture>, BooksError> {
        Ok(self
            .state
            .captures
            .iter()
            .chain(&self.captures)
            .find(|capture| capture.charge().id() == charge)
            .cloned())
    }

    fn refunds_for_charge(&mut self, charge: &ChargeId) -> Result<Vec<RefundRecord>, BooksError> {
        let mut all = self.all_refunds();
        all.retain(|refund| refund.refund().request().charge() == charge);
        Ok(all)
    }

    fn refund_for_key(&mut self, key: &IdempotencyKey) -> Result<Option<RefundRecord>, BooksError> {
        Ok(self
            .all_refunds()
            .into_iter()
            .rev()
            .find(|refund| refund.refund().request().idempotency_key() == key))
    }

    fn refund_count(&mut self) -> Result<u64, BooksError> {
        let count = self.all_refunds().len();
        u64::try_from(count).map_err(|_| BooksError::new(format!("{count} refunds overflow")))
    }

    fn put_refund(&mut self, refund: &RefundRecord) -> Result<(), BooksError> {
        self.refunds.insert(refund.number(), refund.clone());
        Ok(())
    }

    fn rate_clock(&mut self) -> Result<Option<i64>, BooksError> {
        Ok(self.rate_clock.or(self.state.rate_clock))
    }

    fn put_rate_clock(&mut self, due_us: i64) -> Result<(), BooksError> {
        self.rate_clock = Some(due_us);
        Ok(())
    }
}

impl SandboxBooks for InMemoryBooks {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
    ) -> Result<(), BooksError> {
        let mut state = self.lock();
        let mut staged = Staged {
            state: &state,
            keys: HashMap::new(),
            captures: Vec::new(),
            refunds: HashMap::new(),
            rate_clock: None,
        };
        work(&mut staged)?;
        let Staged {
            keys,
            captures,
            refunds,
            rate_clock,
            ..
        } = staged;
        state.keys.extend(keys);
        if rate_clock.is_some() {
            state.rate_clock = rate_clock;
        }
        state.captures.extend(captures);
        // New states of stored refunds in place, then the new ones in order.
        let mut refunds: Vec<RefundRecord> = refunds.into_values().collect();
        refunds.sort_by_key(RefundRecord::number);
        for refund in refunds {
            let index = usize::try_from(refund.number().saturating_sub(1)).unwrap_or(usize::MAX);
            match state.refunds.get_mut(index) {
                Some(stored) => *stored = refund,
                None => state.refunds.push(refund),
            }
        }
        Ok(())
    }

    fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        Ok(self.lock().keys.get(key).cloned())
    }

    fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError> {
        Ok(self
            .lock()
            .captures
            .iter()
            .find(|capture| capture.request().idempotency_key() == key)
            .cloned())
    }

    fn captures_for_references(&self, references: &[&str]) -> Result<Vec<Capture>, BooksError> {
        Ok(self
            .lock()
            .captures
            .iter()
            .filter(|capture| references.contains(&capture.request().reference()))
            .cloned()
            .collect())
    }

    fn capture_count(&self) -> Result<u64, BooksError> {
        let count = self.lock().captures.len();
        u64::try_from(count).map_err(|_| BooksError::new(format!("{count} captures overflow")))
    }

    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError> {
        Ok(self
            .lock()
            .captures
            .iter()
            .filter(|capture| capture.number() > after)
            .take(limit)
            .cloned()
            .collect())
    }

    fn refunds_after(&self, after: u64, limit: usize) -> Result<Vec<RefundRecord>, BooksError> {
        Ok(self
            .lock()
            .refunds
            .iter()
            .filter(|refund| refund.number() > after)
            .take(limit)
            .cloned()
            .collect())
    }
}
