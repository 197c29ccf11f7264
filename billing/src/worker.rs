//! A worker of a charge run: the rules by which workers that share one
//! input and one ledger divide it, and what each invoice of a batch comes
//! to. The command line reads the lines and writes the records; what is
//! claimed, collected, reported as another worker's or taken over is
//! decided here, where billing's own tests reach it.
//!
//! - A batch is issued first (priced once, frozen), then each issued
//!   invoice whose line names another payment method gets it (a new card
//!   after a decline; a paid invoice keeps its own).
//! - Then the batch is claimed in one commit: only what this worker got is
//!   collected, and its claims are dropped after; an invoice another worker
//!   holds is that worker's to report ([`Settled::HeldBy`]).
//! - At the end of its input a worker sweeps the claims: every claim whose
//!   lease ran out (its worker died) is taken over and collected, and while
//!   other workers hold live claims it waits for them, so that a worker's
//!   run ends when the whole run is settled.
//!
//! - A worker also collects the supplementary invoices that billed
//!   undercharges asked for ([`Worker::collect_supplementary`]): found
//!   through their credit notes, claimed and collected like the invoices
//!   it takes over.
//!
//! Claims divide work; they do not guard money: a lease that runs out
//! under a live worker costs a repeated request under the same idempotency
//! key, never a second capture (the ledger's rules hold whoever claims).

use std::collections::HashSet;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use payment_gateway::{Clock, Currency, PaymentGateway};
use pricing::Money;

use crate::supplementary::billed_by;
use crate::{
    BillingError, BillingService, ClaimOutcome, Claims, Corrections, CreditNote, CreditNoteId,
    CreditNoteKind, Invoice, InvoiceId, InvoiceStatus, IssuedInvoice, Ledger, Payment, Sleeper,
    WorkerId, supplementary_id,
};

/// Attempts in doubt, and claims, read at a time by
/// [`Worker::unsettled_remain`]: memory for one page, whatever the ledger holds.
const DOUBT_PAGE: usize = 256;

/// What became of one invoice of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Not issued: pricing refused the invoice, or its id was issued
    /// before with other content (the error names the field).
    Refused(BillingError),
    /// Issued, and collected by this worker (or refused its new payment
    /// method): what collecting gave.
    Collected {
        /// The issued total.
        total: Money,
        /// Its currency.
        currency: Currency,
        /// The payment, or why there is none.
        result: Result<Payment, BillingError>,
    },
    /// Issued, and another worker holds its claim: that worker collects
    /// and reports it.
    HeldBy {
        /// The issued total.
        total: Money,
        /// Its currency.
        currency: Currency,
        /// The worker that holds it.
        worker: WorkerId,
    },
}

/// An invoice a worker took over at the end of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenOver {
    /// The invoice.
    pub id: InvoiceId,
    /// Its issued total.
    pub total: Money,
    /// Its currency.
    pub currency: Currency,
    /// What collecting it gave.
    pub result: Result<Payment, BillingError>,
}

/// What the end-of-input sweep tells its caller as it goes.
#[derive(Debug)]
pub enum Sweep<'a> {
    /// These invoices' claims had run out: taken over and collected.
    TakenOver(&'a [TakenOver]),
    /// Other workers hold this many live claims: the sweep waits for them
    /// (said before each wait).
    Waiting {
        /// How many claims other workers hold.
        held_elsewhere: usize,
    },
}

/// One worker of a charge run over `service`, known to the others as `id`,
/// its claims lasting `lease`.
#[derive(Debug)]
pub struct Worker<'s, G, L, S, C> {
    service: &'s BillingService<G, L, S, C>,
    id: WorkerId,
    lease: Duration,
}

impl<'s, G, L, S, C> Worker<'s, G, L, S, C>
where
    G: PaymentGateway,
    L: Ledger + Claims,
    S: Sleeper,
    C: Clock,
{
    /// A worker named `id` whose claims last `lease`.
    pub fn new(service: &'s BillingService<G, L, S, C>, id: WorkerId, lease: Duration) -> Self {
        Worker { service, id, lease }
    }

    /// Who this worker is in its claims.
    pub fn id(&self) -> &WorkerId {
        &self.id
    }

    /// The service it collects through.
    pub fn service(&self) -> &'s BillingService<G, L, S, C> {
        self.service
    }

    /// Issues `invoices` (no id twice) in one commit, gives each issued
    /// invoice the payment method its line names when that changed,
    /// claims them, collects the ones this worker got and drops its claims
    /// on them. One [`Settled`] per invoice, in order; `Err` only when the
    /// ledger failed.
    pub fn charge_batch(&self, invoices: &[Invoice]) -> Result<Vec<Settled>, BillingError> {
        let issued = self.service.issue_all(invoices)?;
        let mut settled: Vec<Option<Settled>> = Vec::with_capacity(invoices.len());
        let mut to_claim = Vec::with_capacity(invoices.len());
        for (invoice, result) in invoices.iter().zip(issued) {
            match result {
                Ok(issued) => match self.change_method(&issued, invoice) {
                    Ok(()) => {
                        to_claim.push((settled.len(), issued));
                        settled.push(None);
                    }
                    Err(error) => settled.push(Some(Settled::Collected {
                        total: issued.breakdown().total(),
                        currency: issued.currency(),
                        result: Err(error),
                    })),
                },
                Err(
                    error @ (BillingError::Pricing { .. } | BillingError::AlreadyIssued { .. }),
                ) => {
                    settled.push(Some(Settled::Refused(error)));
                }
                Err(error) => return Err(error),
            }
        }
        let ids: Vec<InvoiceId> = to_claim
            .iter()
            .map(|(_, issued)| issued.id().clone())
            .collect();
        let outcomes = self.claim(&ids)?;
        let mut mine = Vec::with_capacity(ids.len());
        for ((index, issued), outcome) in to_claim.iter().zip(outcomes) {
            match outcome {
                ClaimOutcome::Claimed => mine.push((*index, issued)),
                ClaimOutcome::HeldBy(worker) => {
                    settled[*index] = Some(Settled::HeldBy {
                        total: issued.breakdown().total(),
                        currency: issued.currency(),
                        worker,
                    });
                }
            }
        }
        let mine_ids: Vec<InvoiceId> = mine.iter().map(|(_, issued)| issued.id().clone()).collect();
        let payments = self.collect_claimed(&mine_ids);
        for ((index, issued), result) in mine.into_iter().zip(payments) {
            settled[index] = Some(Settled::Collected {
                total: issued.breakdown().total(),
                currency: issued.currency(),
                result,
            });
        }
        Ok(settled
            .into_iter()
            .zip(invoices)
            .map(|(settled, invoice)| {
                settled.unwrap_or_else(|| {
                    Settled::Refused(BillingError::NotFound(invoice.id().clone()))
                })
            })
            .collect())
    }

    /// The end-of-input sweep: takes over and collects every claim whose
    /// lease ran out, `page` claims read at a time, and, while other
    /// workers hold live claims, says so and waits `poll` (the service's
    /// sleeper) before looking again. Returns when no other worker holds a
    /// claim. `report` hears each step; its error ends the sweep.
    pub fn sweep<E: From<BillingError>>(
        &self,
        page: usize,
        poll: Duration,
        mut report: impl FnMut(Sweep<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let page = page.max(1);
        loop {
            let mut after: Option<InvoiceId> = None;
            let mut held_elsewhere = 0_usize;
            loop {
                let claims = self
                    .service
                    .ledger()
                    .claims(after.as_ref(), page)
                    .map_err(BillingError::from)?;
                let (free, held): (Vec<_>, Vec<_>) = claims
                    .iter()
                    .partition(|claim| claim.expired() || claim.worker() == &self.id);
                held_elsewhere += held.len();
                let free: Vec<InvoiceId> = free.iter().map(|c| c.invoice().clone()).collect();
                let taken = self.take_over(&free)?;
                if !taken.is_empty() {
                    report(Sweep::TakenOver(&taken))?;
                }
                match claims.last() {
                    Some(last) if claims.len() == page => after = Some(last.invoice().clone()),
                    _ => break,
                }
            }
            if held_elsewhere == 0 {
                return Ok(());
            }
            report(Sweep::Waiting { held_elsewhere })?;
            self.service.sleeper().sleep(poll);
        }
    }

    /// Whether any payment attempt in the ledger is in doubt with no live
    /// worker to settle it: pending or unknown, and its invoice not under
    /// another worker's live claim. Asked after the sweep, so that a
    /// worker's success means the whole run is settled (every invoice paid
    /// or finally declined) but for what other live workers are collecting
    /// right now, which they settle and report themselves.
    ///
    /// Workers started later may claim new batches after the sweep looked,
    /// so an attempt pending right now is not, by itself, money in doubt:
    /// with 3 workers killed and restarted at random, about 1 run in 6
    /// had a worker exit 1 on another's batch in flight. The three reads
    /// need no transaction across them: an attempt unsettled both before
    /// and after the claims were read was unsettled throughout (an outcome
    /// never goes back to pending), and a worker holds its claim for as
    /// long as its attempt is pending; so an attempt found unsettled twice
    /// and unclaimed in between has no live worker behind it.
    pub fn unsettled_remain(&self) -> Result<bool, BillingError> {
        let ledger = self.service.ledger();
        let mut after: Option<(InvoiceId, u32)> = None;
        loop {
            let before =
                ledger.unsettled_attempts(after.as_ref().map(|(id, n)| (id, *n)), DOUBT_PAGE)?;
            let Some(last) = before.last() else {
                return Ok(false);
            };
            after = Some((last.invoice().clone(), last.number()));
            let held = self.held_elsewhere()?;
            let ids: Vec<InvoiceId> = before.iter().map(|a| a.invoice().clone()).collect();
            let now = ledger.get_all(&ids)?;
            let in_doubt = before.iter().zip(now).any(|(attempt, record)| {
                let still = record.is_some_and(|record| {
                    record.attempts().iter().any(|stored| {
                        stored.number() == attempt.number() && stored.outcome().is_unsettled()
                    })
                });
                still && !held.contains(attempt.invoice())
            });
            if in_doubt {
                return Ok(true);
            }
        }
    }

    /// The invoices other workers hold live claims on, read a page at a
    /// time (claims are few: a batch per live worker).
    fn held_elsewhere(&self) -> Result<HashSet<InvoiceId>, BillingError> {
        let mut held = HashSet::new();
        let mut after: Option<InvoiceId> = None;
        loop {
            let claims = self
                .service
                .ledger()
                .claims(after.as_ref(), DOUBT_PAGE)
                .map_err(BillingError::from)?;
            held.extend(
                claims
                    .iter()
                    .filter(|claim| !claim.expired() && claim.worker() != &self.id)
                    .map(|claim| claim.invoice().clone()),
            );
            // Ends on an empty page: one read more than needed, once a run.
            match claims.last() {
                Some(last) => after = Some(last.invoice().clone()),
                None => return Ok(held),
            }
        }
    }

    /// Claims and collects `ids` (invoices whose worker's claim ran out, or
    /// supplementary invoices);
    /// the ones another worker claimed first are left to it.
    fn take_over(&self, ids: &[InvoiceId]) -> Result<Vec<TakenOver>, BillingError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mine: Vec<InvoiceId> = ids
            .iter()
            .zip(self.claim(ids)?)
            .filter(|(_, outcome)| *outcome == ClaimOutcome::Claimed)
            .map(|(id, _)| id.clone())
            .collect();
        let stored = self.service.ledger().get_all(&mine)?;
        let payments = self.collect_claimed(&mine);
        Ok(mine
            .into_iter()
            .zip(stored)
            .zip(payments)
            // A claim on an invoice the ledger does not have holds nothing.
            .filter_map(|((id, record), result)| {
                let record = record?;
                Some(TakenOver {
                    id,
                    total: record.invoice().breakdown().total(),
                    currency: record.invoice().currency(),
                    result,
                })
            })
            .collect())
    }

    /// Claims `ids` for this worker in one commit: what it found for each.
    fn claim(&self, ids: &[InvoiceId]) -> Result<Vec<ClaimOutcome>, BillingError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.service.ledger().claim(&self.id, ids, self.lease)?)
    }

    /// Collects the invoices this worker claimed, then drops its claims.
    /// Once requests were sent their results are returned whatever comes
    /// after: a ledger that fails to drop the claims (its disk filled up)
    /// costs only the wait for their leases, never the records of money
    /// that moved (a capture the ledger could not record is reported as
    /// such, with its charge id).
    ///
    /// With requests in flight a batch can outlast a lease (a rate limit
    /// paces it): the claims are renewed every third of the lease while it
    /// runs, so no other worker takes over invoices this one is collecting.
    /// A renewal that fails leaves the lease to run out, which costs the
    /// taker-over requests under the same keys, never money twice.
    fn collect_claimed(&self, mine: &[InvoiceId]) -> Vec<Result<Payment, BillingError>> {
        let payments = if self.service.concurrency() > 1 && !mine.is_empty() {
            let (done, finished) = mpsc::channel::<()>();
            std::thread::scope(|scope| {
                scope.spawn(move || {
                    let every = self.lease / 3;
                    while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(every) {
                        let _renewed = self.service.ledger().claim(&self.id, mine, self.lease);
                    }
                });
                let payments = self.service.collect_all(mine);
                drop(done);
                payments
            })
        } else {
            self.service.collect_all(mine)
        };
        let _leases_run_out_instead = self.service.ledger().release(&self.id, mine);
        payments
    }

    /// Gives the issued invoice the line's payment method when it names
    /// another one (a new card after a decline); a paid invoice keeps its
    /// own, and collecting it returns its payment.
    fn change_method(&self, issued: &IssuedInvoice, invoice: &Invoice) -> Result<(), BillingError> {
        if issued.payment_method() == invoice.payment_method() {
            return Ok(());
        }
        match self
            .service
            .change_payment_method(invoice.id(), invoice.payment_method())
        {
            Ok(_) | Err(BillingError::AlreadyPaid { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

impl<G, L, S, C> Worker<'_, G, L, S, C>
where
    G: PaymentGateway,
    L: Ledger + Claims + Corrections,
    S: Sleeper,
    C: Clock,
{
    /// Collects the supplementary invoices of billed credit notes that are
    /// not settled yet: never attempted, or an attempt left pending or
    /// unknown (resumed under its own key). A declined one stays declined,
    /// as any invoice does until it is given a new payment method. The
    /// credit notes are read `page` at a time; `report` hears each page's
    /// collected invoices as [`Sweep::TakenOver`], and its error ends the
    /// walk.
    pub fn collect_supplementary<E: From<BillingError>>(
        &self,
        page: usize,
        mut report: impl FnMut(Sweep<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let page = page.max(1);
        let ledger = self.service.ledger();
        let mut after: Option<CreditNoteId> = None;
        loop {
            let notes = ledger
                .credit_notes(None, after.as_ref(), page)
                .map_err(BillingError::from)?;
            let billed: Vec<(InvoiceId, &CreditNote)> = notes
                .iter()
                .filter(|note| note.kind() == CreditNoteKind::Billed)
                .filter_map(|note| Some((supplementary_id(note.id()).ok()?, note)))
                .collect();
            let ids: Vec<InvoiceId> = billed.iter().map(|(id, _)| id.clone()).collect();
            let records = ledger.get_all(&ids).map_err(BillingError::from)?;
            let due: Vec<InvoiceId> = billed
                .into_iter()
                .zip(records)
                .filter(|((_, note), record)| {
                    record.as_ref().is_some_and(|record| {
                        billed_by(record.invoice(), note)
                            && matches!(
                                record.status(),
                                InvoiceStatus::Open | InvoiceStatus::Unknown
                            )
                    })
                })
                .map(|((id, _), _)| id)
                .collect();
            let taken = self.take_over(&due)?;
            if !taken.is_empty() {
                report(Sweep::TakenOver(&taken))?;
            }
            match notes.last() {
                Some(last) if notes.len() == page => after = Some(last.id().clone()),
                _ => return Ok(()),
            }
        }
    }
}
