//! Dividing one run's invoices between several workers: claims with a
//! lease.
//!
//! Claims are how several `ledgerly charge` processes, on one host or
//! several, share a run without doing each other's work: a worker claims
//! the invoices of a batch before collecting them, collects only those it
//! got, and releases them after. A claim whose lease ran out (its worker
//! died, or is stuck) is taken over by the next worker that asks.
//!
//! Claims divide the work; they are not what keeps an invoice from being
//! charged twice. That rests on the [`Ledger`](crate::Ledger)'s rules (an
//! attempt is appended only after a final one, one capture per invoice)
//! and on the idempotency key of each attempt. So a lease that runs out
//! under a live worker costs a repeated request at most, never a second
//! capture.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::invoice::text_id;
use crate::{IdKind, InMemoryLedger, InvoiceId, LedgerError};

text_id!(
    /// Who holds a claim: one worker process (by default `host:pid`). 1 to
    /// 128 bytes, no control characters.
    WorkerId,
    IdKind::Worker
);

/// What [`Claims::claim`] found for one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The invoice is this worker's until the lease runs out: it was free,
    /// its last claim's lease had run out, or this worker held it already
    /// (the lease is then renewed).
    Claimed,
    /// Another worker holds a live claim on it.
    HeldBy(WorkerId),
}

/// A claim as a backend keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldClaim {
    invoice: InvoiceId,
    worker: WorkerId,
    expired: bool,
}

impl HeldClaim {
    /// The claim of `worker` on `invoice`, whose lease has run out or not.
    pub fn new(invoice: InvoiceId, worker: WorkerId, expired: bool) -> HeldClaim {
        HeldClaim {
            invoice,
            worker,
            expired,
        }
    }

    /// The invoice claimed.
    pub fn invoice(&self) -> &InvoiceId {
        &self.invoice
    }

    /// Who holds it.
    pub fn worker(&self) -> &WorkerId {
        &self.worker
    }

    /// Whether its lease has run out (its worker died or is stuck), so the
    /// next worker to ask takes it over.
    pub fn expired(&self) -> bool {
        self.expired
    }
}

/// Where workers claim invoices. Backends keep the time of a lease on one
/// clock that every worker shares (the database's), so hosts whose clocks
/// disagree still agree on when a lease ran out.
pub trait Claims {
    /// Claims each of `ids` for `worker` for `lease` unless another worker
    /// holds a live claim on it, in one commit; says for each what it
    /// found, in order. A lease of zero runs out at once.
    fn claim(
        &self,
        worker: &WorkerId,
        ids: &[InvoiceId],
        lease: Duration,
    ) -> Result<Vec<ClaimOutcome>, LedgerError>;

    /// Drops `worker`'s claims on `ids` (the others' claims stay), in one
    /// commit.
    fn release(&self, worker: &WorkerId, ids: &[InvoiceId]) -> Result<(), LedgerError>;

    /// At most `limit` claims, live or expired, on invoices with ids after
    /// `after`, in id order: a page, so that a worker can look for claims
    /// to take over with memory for one page.
    fn claims(
        &self,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<HeldClaim>, LedgerError>;
}

macro_rules! forward_claims {
    ($wrapper:ty) => {
        impl<C: Claims + ?Sized> Claims for $wrapper {
            fn claim(
                &self,
                worker: &WorkerId,
                ids: &[InvoiceId],
                lease: Duration,
            ) -> Result<Vec<ClaimOutcome>, LedgerError> {
                (**self).claim(worker, ids, lease)
            }
            fn release(&self, worker: &WorkerId, ids: &[InvoiceId]) -> Result<(), LedgerError> {
                (**self).release(worker, ids)
            }
            fn claims(
                &self,
                after: Option<&InvoiceId>,
                limit: usize,
            ) -> Result<Vec<HeldClaim>, LedgerError> {
                (**self).claims(after, limit)
            }
        }
    };
}

forward_claims!(&C);
forward_claims!(std::sync::Arc<C>);

/// The longest lease a backend keeps; a longer one is cut to this. A year
/// is far beyond any run, and keeps lease arithmetic from overflowing.
pub const MAX_LEASE: Duration = Duration::from_secs(365 * 86_400);

/// The claims of an [`InMemoryLedger`]: who holds each invoice, until when.
#[derive(Debug, Default)]
pub(crate) struct ClaimMap {
    claims: Mutex<BTreeMap<InvoiceId, (WorkerId, Instant)>>,
}

impl Claims for InMemoryLedger {
    fn claim(
        &self,
        worker: &WorkerId,
        ids: &[InvoiceId],
        lease: Duration,
    ) -> Result<Vec<ClaimOutcome>, LedgerError> {
        self.room_for_a_write()?;
        let mut claims = self
            .claims()
            .claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        // Leases are capped at a year, so adding one cannot overflow.
        let expires = now.checked_add(lease.min(MAX_LEASE)).unwrap_or(now);
        Ok(ids
            .iter()
            .map(|id| match claims.get(id) {
                Some((holder, expires)) if holder != worker && *expires > now => {
                    ClaimOutcome::HeldBy(holder.clone())
                }
                _ => {
                    claims.insert(id.clone(), (worker.clone(), expires));
                    ClaimOutcome::Claimed
                }
            })
            .collect())
    }

    fn release(&self, worker: &WorkerId, ids: &[InvoiceId]) -> Result<(), LedgerError> {
        self.room_for_a_write()?;
        let mut claims = self
            .claims()
            .claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for id in ids {
            if claims.get(id).is_some_and(|(holder, _)| holder == worker) {
                claims.remove(id);
            }
        }
        Ok(())
    }

    fn claims(
        &self,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<HeldClaim>, LedgerError> {
        let claims = self
            .claims()
            .claims
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        Ok(claims
            .iter()
            .filter(|(id, _)| after.is_none_or(|after| *id > after))
            .take(limit)
            .map(|(id, (worker, expires))| {
                HeldClaim::new(id.clone(), worker.clone(), *expires <= now)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_id_is_validated_like_an_invoice_id_and_shown_as_given() {
        let worker = WorkerId::new("billing-2:4242").unwrap();
        assert_eq!(worker.as_str(), "billing-2:4242");
        assert_eq!(worker.to_string(), "billing-2:4242");
        assert_eq!(
            WorkerId::new("").unwrap_err().to_string(),
            "worker id is empty"
        );
        assert_eq!(
            WorkerId::new("a\nb").unwrap_err().to_string(),
            "worker id \"a\\nb\" contains a control character"
        );
        assert!(WorkerId::new("w".repeat(129)).is_err());
    }

    #[test]
    fn the_longest_lease_is_a_year() {
        assert_eq!(MAX_LEASE, Duration::from_secs(31_536_000));
    }

    #[test]
    fn a_held_claim_says_whose_it_is_and_whether_it_ran_out() {
        let claim = HeldClaim::new(
            InvoiceId::new("INV-1").unwrap(),
            WorkerId::new("w:1").unwrap(),
            true,
        );
        assert_eq!(claim.invoice().as_str(), "INV-1");
        assert_eq!(claim.worker().as_str(), "w:1");
        assert!(claim.expired());
        assert!(!HeldClaim::new(claim.invoice().clone(), claim.worker().clone(), false).expired());
    }

    #[test]
    fn claims_through_a_reference_or_an_arc_reach_the_same_ledger() {
        let ledger = std::sync::Arc::new(InMemoryLedger::new());
        let ids = [InvoiceId::new("INV-1").unwrap()];
        let (one, two) = (WorkerId::new("one").unwrap(), WorkerId::new("two").unwrap());
        let hour = Duration::from_secs(3600);

        assert_eq!(
            Claims::claim(&ledger, &one, &ids, hour).unwrap(),
            [ClaimOutcome::Claimed]
        );
        let by_ref: &InMemoryLedger = &ledger;
        assert_eq!(
            Claims::claim(&by_ref, &two, &ids, hour).unwrap(),
            [ClaimOutcome::HeldBy(one.clone())]
        );
        assert_eq!(Claims::claims(&by_ref, None, 10).unwrap().len(), 1);
        assert_eq!(Claims::claims(&ledger, None, 10).unwrap().len(), 1);
        Claims::release(&by_ref, &one, &ids).unwrap();
        assert_eq!(Claims::claims(&ledger, None, 10).unwrap(), []);
        Claims::claim(&ledger, &two, &ids, hour).unwrap();
        Claims::release(&ledger, &two, &ids).unwrap();
        assert_eq!(Claims::claims(&by_ref, None, 10).unwrap(), []);
    }
}
