//! Applying a correction (`DOMAIN.md` §5): each entry of an approved plan
//! re-derived under its invoice's claim, its credit note written, and a
//! post-payment one refunded exactly once. The command line reads the plan
//! and writes the records; every rule is here, where billing's tests reach
//! it.
//!
//! - An entry is applied under the invoice's claim (the claims `charge`
//!   uses), so an applier and a charge run never act on one invoice at
//!   once, and several appliers divide a plan.
//! - The entry is re-derived from the ledger: when the credit it gives is
//!   not the one the plan shows, the entry has **drifted** and nothing is
//!   written. An invoice whose payment is in doubt is **blocked**.
//! - The credit note and, for a paid invoice, its first refund attempt
//!   (pending, key `refund:<credit note>:attempt:1`) are committed together
//!   before any request leaves. An invoice has one credit note per
//!   correction (the ledger's unique index): a rerun, or another applier,
//!   finds it and settles it instead of writing a second.
//! - A refund attempt that may have been sent is looked up first and sent
//!   again only under its own key; an unknown outcome stays unknown for
//!   `reconcile`. A failed refund (refused, or failed after it succeeded) is
//!   final here: nothing refunds again on its own; `verify` reports it.
//! - An undercharge is absorbed unless the corrector is told to bill it
//!   ([`Corrector::with_undercharge`]): then its billed credit note is
//!   written first and its supplementary invoice (see `supplementary`)
//!   issued after, by this run or the next.

use std::time::Duration;

use payment_gateway::{
    Amount, Clock, GatewayError, PaymentGateway, Refund, RefundId, RefundRequest, RefundStatus,
};
use pricing::RateTable;

use crate::correction::{Action, Blocked, Lines, Undercharge, correct, reprice};
use crate::documents::{
    CorrectionRecord, Corrections, CreditNote, CreditNoteId, CreditNoteIssued, CreditNoteKind,
    RefundAttempt, RefundOutcome,
};
use crate::supplementary::{billed_by, supplementary_id, supplementary_invoice};
use crate::{
    BillingError, BillingService, ClaimOutcome, Claims, InvoiceId, InvoiceRecord, IssueOutcome,
    Ledger, LedgerError, Payment, Sleeper, WorkerId,
};

/// One entry of an approved plan: the invoice and the credit the plan
/// showed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEntry {
    /// The invoice.
    pub invoice: InvoiceId,
    /// The credit note's lines the plan showed.
    pub credit: Lines,
}

/// How an entry ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Refunded: the processor paid the credit note's total back.
    Refunded,
    /// The amount due was lowered before payment.
    DueLowered,
    /// A zero total: only the lines moved.
    LinesOnly,
    /// An undercharge, recorded and absorbed.
    Absorbed,
    /// An undercharge, billed: this supplementary invoice asks for the
    /// difference, and the next charge run collects it.
    Billed(InvoiceId),
    /// An undercharge to bill whose supplementary invoice cannot be
    /// issued (its id is taken by another invoice, or too long): for a
    /// person.
    NotBilled(String),
    /// The refund's outcome is not known yet (the processor reports it
    /// pending, or no answer came): `ledgerly reconcile` settles it.
    RefundUnknown(String),
    /// The refund failed (refused, or failed after it succeeded): a person
    /// decides; nothing refunds again on its own.
    RefundFailed(String),
    /// The ledger no longer gives the credit the plan showed: nothing was
    /// written. Plan again.
    Drifted(String),
    /// Not corrected now (a payment is in doubt).
    Blocked(Blocked),
    /// Another applier (or a charge run) holds the invoice: it applies it.
    HeldBy(WorkerId),
}

impl Settlement {
    /// Its name in an apply record.
    pub fn name(&self) -> &'static str {
        match self {
            Settlement::Refunded => "refunded",
            Settlement::DueLowered => "due_lowered",
            Settlement::LinesOnly => "lines_only",
            Settlement::Absorbed => "absorbed",
            Settlement::Billed(_) => "billed",
            Settlement::NotBilled(_) => "not_billed",
            Settlement::RefundUnknown(_) => "refund_unknown",
            Settlement::RefundFailed(_) => "refund_failed",
            Settlement::Drifted(_) => "drifted",
            Settlement::Blocked(_) => "blocked",
            Settlement::HeldBy(_) => "held",
        }
    }

    /// Why, for the ones that did not settle.
    pub fn reason(&self) -> Option<String> {
        match self {
            Settlement::RefundUnknown(reason)
            | Settlement::RefundFailed(reason)
            | Settlement::Drifted(reason)
            | Settlement::NotBilled(reason) => Some(reason.clone()),
            Settlement::Blocked(blocked) => Some(blocked.reason().to_owned()),
            Settlement::HeldBy(worker) => Some(format!("held by worker {worker}")),
            Settlement::Refunded
            | Settlement::DueLowered
            | Settlement::LinesOnly
            | Settlement::Absorbed
            | Settlement::Billed(_) => None,
        }
    }

    /// Whether the entry is settled: nothing is left to do for it.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            Settlement::Refunded
                | Settlement::DueLowered
                | Settlement::LinesOnly
                | Settlement::Absorbed
                | Settlement::Billed(_)
        )
    }
}

/// What applying one entry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The invoice.
    pub invoice: InvoiceId,
    /// Its credit note of this correction, once written.
    pub credit_note: Option<CreditNote>,
    /// How it ended.
    pub settlement: Settlement,
    /// The processor's refund id, when refunded (or known).
    pub refund_id: Option<RefundId>,
    /// Requests sent to the processor for it (refunds and lookups).
    pub requests: u32,
}

/// What settling the unsettled refund attempts by lookup did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefundsReconciled {
    /// Attempts settled (succeeded or failed).
    pub settled: u64,
    /// Attempts still unknown (no record yet, pending, or the lookup
    /// failed): the next `reconcile` asks again; none is ever resent here.
    pub still_unknown: u64,
}

/// One finding of [`Corrector::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The credit note (or the invoice, as `<invoice>`) it is about.
    pub subject: String,
    /// What does not hold.
    pub problem: String,
}

/// What [`Corrector::verify`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Credit notes checked.
    pub credit_notes: u64,
    /// Refunded total, in minor units, of the succeeded refunds.
    pub refunded: i128,
    /// What does not hold; empty when all does.
    pub findings: Vec<Finding>,
}

/// Applies the correction `correction` through `service`, as worker
/// `worker` whose claims last `lease`.
#[derive(Debug)]
pub struct Corrector<'s, G, L, S, C> {
    service: &'s BillingService<G, L, S, C>,
    correction: CorrectionRecord,
    right: RateTable,
    worker: WorkerId,
    lease: Duration,
    undercharge: Undercharge,
    /// Whether a refund is first held to the capture by the ledger (always,
    /// but in the test of the processor's cap).
    check_capture: bool,
}

impl<'s, G, L, S, C> Corrector<'s, G, L, S, C>
where
    G: PaymentGateway,
    L: Ledger + Claims + Corrections,
    S: Sleeper,
    C: Clock,
{
    /// A corrector of `correction`, recorded in the ledger if it is not
    /// yet (the stored one wins: a rerun with another reason or digest
    /// applies the correction as first recorded, and a right table other
    /// than the stored one is refused).
    pub fn new(
        service: &'s BillingService<G, L, S, C>,
        correction: &CorrectionRecord,
        worker: WorkerId,
        lease: Duration,
    ) -> Result<Self, BillingError> {
        let stored = service.ledger().record_correction(correction)?;
        let (mine, theirs) = (correction.right().table(), stored.right().table());
        if mine.fingerprint() != theirs.fingerprint()
            || stored.wrong_fingerprint() != correction.wrong_fingerprint()
        {
            return Err(BillingError::Repository(LedgerError::conflict(format!(
                "correction {} was recorded from {} to {}, not from {} to {}",
                stored.id(),
                stored.wrong_fingerprint(),
                theirs.fingerprint(),
                correction.wrong_fingerprint(),
                mine.fingerprint()
            ))));
        }
        Ok(Corrector::of_recorded(service, stored, worker, lease))
    }

    /// A corrector of a correction the ledger already holds (`correction`,
    /// as read back), which writes nothing to set itself up: what `verify`
    /// uses on a ledger it may only read.
    pub fn of_recorded(
        service: &'s BillingService<G, L, S, C>,
        correction: CorrectionRecord,
        worker: WorkerId,
        lease: Duration,
    ) -> Self {
        let right = correction.right().table();
        Corrector {
            service,
            correction,
            right,
            worker,
            lease,
            undercharge: Undercharge::Absorb,
            check_capture: true,
        }
    }

    /// Test hook (feature `conformance`): refunds are no longer held to
    /// the capture by the ledger first, so a test can show that the
    /// processor's cap alone refuses a refund above the capture.
    #[cfg(feature = "conformance")]
    #[doc(hidden)]
    #[must_use]
    pub fn without_the_ledgers_capture_check(mut self) -> Self {
        self.check_capture = false;
        self
    }

    /// What this corrector makes of an undercharge: absorbed (the default)
    /// or billed with a supplementary invoice.
    #[must_use]
    pub fn with_undercharge(mut self, undercharge: Undercharge) -> Self {
        self.undercharge = undercharge;
        self
    }

    /// The correction, as the ledger keeps it.
    pub fn correction(&self) -> &CorrectionRecord {
        &self.correction
    }

    /// Applies one entry under its invoice's claim.
    pub fn apply(&self, entry: &PlanEntry) -> Result<Applied, BillingError> {
        let ledger = self.service.ledger();
        let ids = std::slice::from_ref(&entry.invoice);
        let claimed = ledger.claim(&self.worker, ids, self.lease)?;
        if let Some(ClaimOutcome::HeldBy(worker)) = claimed.into_iter().next() {
            return Ok(applied(entry, None, Settlement::HeldBy(worker), None, 0));
        }
        let result = self.apply_claimed(entry);
        // A release that fails leaves a claim that runs out on its own.
        let _released = ledger.release(&self.worker, ids);
        result
    }

    fn apply_claimed(&self, entry: &PlanEntry) -> Result<Applied, BillingError> {
        let ledger = self.service.ledger();
        let drifted =
            |reason: String| Ok(applied(entry, None, Settlement::Drifted(reason), None, 0));
        let Some(record) = ledger.get(&entry.invoice)? else {
            return drifted("the invoice is not in the ledger".to_owned());
        };
        let notes = ledger.credit_notes_of(&entry.invoice)?;
        if let Some(mine) = notes
            .iter()
            .find(|note| note.correction() == self.correction.id())
        {
            // Written before (a rerun, or another applier): settled, never
            // written again.
            return self.settle(entry, mine.clone());
        }
        let earlier: Vec<Lines> = notes.iter().map(CreditNote::credited).collect();
        let correction = correct(&record, &earlier, &self.right, self.undercharge)
            .map_err(|error| LedgerError::new(error.to_string()))?;
        let Some(correction) = correction else {
            return drifted("the right rates change nothing in it now".to_owned());
        };
        if correction.credit() != entry.credit {
            return drifted(format!(
                "the plan credits {} but the ledger now gives {}",
                cents(entry.credit.total()),
                cents(correction.credit().total())
            ));
        }
        let kind = match correction.action() {
            Action::Blocked(blocked) => {
                return Ok(applied(entry, None, Settlement::Blocked(blocked), None, 0));
            }
            Action::Refund => CreditNoteKind::PostPayment,
            Action::ReduceDue => CreditNoteKind::PrePayment,
            Action::None => CreditNoteKind::LinesOnly,
            Action::Absorb => CreditNoteKind::Absorbed,
            Action::Bill => CreditNoteKind::Billed,
        };
        let number = notes
            .iter()
            .map(|note| note.id().number())
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let now = self.service.clock().now();
        let note = CreditNote::new(
            CreditNoteId::new(entry.invoice.clone(), number),
            self.correction.id().clone(),
            kind,
            record.invoice().currency(),
            correction.credit(),
            correction.corrected(),
            now,
        )?;
        let refund = match kind {
            CreditNoteKind::PostPayment => match self.first_refund(&record, &notes, &note) {
                Ok(refund) => Some(refund),
                Err(reason) => return drifted(reason),
            },
            _ => None,
        };
        match ledger.issue_credit_note(&note, refund.as_ref())? {
            CreditNoteIssued::Inserted => self.settle(entry, note),
            CreditNoteIssued::Existing(existing) => self.settle(entry, *existing),
        }
    }

    /// The first refund attempt of a post-payment credit note: against the
    /// invoice's charge, for the note's total, which with the invoice's
    /// earlier post-payment credit notes must stay within the capture (the
    /// ledger's own check; the processor's cap is the last defence).
    fn first_refund(
        &self,
        record: &InvoiceRecord,
        notes: &[CreditNote],
        note: &CreditNote,
    ) -> Result<RefundAttempt, String> {
        let Some(Payment::Charged(charge)) = record.payment() else {
            return Err("the invoice is not paid by a charge".to_owned());
        };
        let earlier: i128 = notes
            .iter()
            .filter(|earlier| earlier.kind() == CreditNoteKind::PostPayment)
            .map(|earlier| i128::from(earlier.credited().total()))
            .sum();
        let total = note.credited().total();
        if self.check_capture
            && earlier + i128::from(total) > i128::from(charge.amount().minor_units())
        {
            return Err(format!(
                "refunds of {} would exceed the capture of {}",
                cents_i128(earlier + i128::from(total)),
                charge.amount()
            ));
        }
        let amount = Amount::new(total, charge.amount().currency()).map_err(|e| e.to_string())?;
        let now = self.service.clock().now();
        RefundAttempt::new(
            note.id().clone(),
            1,
            charge.id().clone(),
            amount,
            RefundOutcome::Pending,
            now,
            now,
        )
        .map_err(|error| error.to_string())
    }

    /// Settles a written credit note: a post-payment one by its refund.
    fn settle(&self, entry: &PlanEntry, note: CreditNote) -> Result<Applied, BillingError> {
        let settlement = match note.kind() {
            CreditNoteKind::PrePayment => Settlement::DueLowered,
            CreditNoteKind::LinesOnly => Settlement::LinesOnly,
            CreditNoteKind::Absorbed => Settlement::Absorbed,
            CreditNoteKind::Billed => self.bill(&note)?,
            CreditNoteKind::PostPayment => {
                let attempts = self.service.ledger().refund_attempts(note.id())?;
                let Some(attempt) = attempts.last() else {
                    let reason = "the credit note has no refund attempt".to_owned();
                    return Ok(applied(
                        entry,
                        Some(note),
                        Settlement::RefundUnknown(reason),
                        None,
                        0,
                    ));
                };
                let (outcome, requests) = match attempt.outcome() {
                    RefundOutcome::Pending | RefundOutcome::Unknown(_) => self.refund(attempt)?,
                    settled => (settled.clone(), 0),
                };
                let refund_id = match &outcome {
                    RefundOutcome::Succeeded(id) => Some(id.clone()),
                    _ => None,
                };
                let settlement = match outcome {
                    RefundOutcome::Succeeded(_) => Settlement::Refunded,
                    RefundOutcome::Failed(reason) => Settlement::RefundFailed(reason),
                    RefundOutcome::Pending => Settlement::RefundUnknown("not sent".to_owned()),
                    RefundOutcome::Unknown(reason) => Settlement::RefundUnknown(reason),
                };
                return Ok(applied(entry, Some(note), settlement, refund_id, requests));
            }
        };
        Ok(applied(entry, Some(note), settlement, None, 0))
    }

    /// Issues the supplementary invoice of a billed credit note, unless it
    /// is issued already (by an earlier run or another applier).
    fn bill(&self, note: &CreditNote) -> Result<Settlement, BillingError> {
        let ledger = self.service.ledger();
        let id = match supplementary_id(note.id()) {
            Ok(id) => id,
            Err(error) => return Ok(Settlement::NotBilled(error.to_string())),
        };
        let existing = if let Some(record) = ledger.get(&id)? {
            Some(record.invoice().clone())
        } else {
            let Some(original) = ledger.get(note.invoice())? else {
                return Ok(Settlement::NotBilled(format!(
                    "invoice {} is not in the ledger",
                    note.invoice()
                )));
            };
            let invoice =
                match supplementary_invoice(note, original.invoice(), self.service.clock().now()) {
                    Ok(invoice) => invoice,
                    Err(error) => return Ok(Settlement::NotBilled(error.to_string())),
                };
            match ledger.issue(std::slice::from_ref(&invoice))?.pop() {
                Some(IssueOutcome::Existing(stored)) => Some(*stored),
                Some(IssueOutcome::Inserted) | None => None,
            }
        };
        Ok(match existing {
            Some(stored) if !billed_by(&stored, note) => Settlement::NotBilled(format!(
                "invoice id {id} is taken by another invoice (of {})",
                stored.breakdown().total()
            )),
            _ => Settlement::Billed(id),
        })
    }

    /// Settles an unsettled refund attempt: looked up first, sent (again)
    /// only under its own key when the processor has no record of it; the
    /// outcome recorded. Returns it and the requests sent.
    fn refund(&self, attempt: &RefundAttempt) -> Result<(RefundOutcome, u32), BillingError> {
        let gateway = self.service.gateway();
        let mut requests = 1;
        let outcome = match gateway.lookup_refund(attempt.key()) {
            Ok(Some(refund)) => found(&refund, attempt),
            Ok(None) => {
                let (outcome, sent) = self.send(attempt);
                requests += sent;
                outcome
            }
            Err(error) => {
                RefundOutcome::Unknown(format!("the refund could not be looked up: {error}"))
            }
        };
        self.service.ledger().finish_refund(
            attempt.credit_note(),
            attempt.number(),
            &outcome,
            self.service.clock().now(),
        )?;
        Ok((outcome, requests))
    }

    /// Sends the attempt's request under its key, retrying what may be
    /// retried with the service's policy; the outcome and the requests.
    fn send(&self, attempt: &RefundAttempt) -> (RefundOutcome, u32) {
        let request = RefundRequest::new(
            attempt.key().clone(),
            attempt.charge().clone(),
            attempt.amount(),
            attempt.credit_note().to_string(),
        );
        let policy = self.service.policy();
        let mut sent: u32 = 1;
        loop {
            match self.service.gateway().refund(&request) {
                Ok(refund) => return (found(&refund, attempt), sent),
                Err(error) if error.is_retryable() && sent < policy.max_attempts() => {
                    self.service
                        .sleeper()
                        .sleep(policy.delay_before_retry(sent));
                    sent += 1;
                }
                Err(error @ GatewayError::IdempotencyConflict { .. }) => {
                    // The key was used with other parameters: that first
                    // request may have refunded. For a person.
                    return (RefundOutcome::Unknown(error.to_string()), sent);
                }
                Err(error) if error.is_retryable() => {
                    return (RefundOutcome::Unknown(error.to_string()), sent);
                }
                // Refused, or invalid: final, and nothing went back.
                Err(error) => return (RefundOutcome::Failed(error.to_string()), sent),
            }
        }
    }

    /// Settles every pending or unknown refund attempt by looking it up,
    /// never by refunding: what `ledgerly reconcile` does for refunds.
    pub fn reconcile_refunds(
        service: &BillingService<G, L, S, C>,
    ) -> Result<RefundsReconciled, BillingError> {
        const PAGE: usize = 256;
        let mut report = RefundsReconciled::default();
        let mut after: Option<(CreditNoteId, u32)> = None;
        loop {
            let page = service
                .ledger()
                .unsettled_refunds(after.as_ref().map(|(note, number)| (note, *number)), PAGE)?;
            for attempt in &page {
                let Ok(Some(refund)) = service.gateway().lookup_refund(attempt.key()) else {
                    report.still_unknown += 1;
                    continue;
                };
                let outcome = found(&refund, attempt);
                if outcome.is_unsettled() {
                    report.still_unknown += 1;
                } else {
                    report.settled += 1;
                }
                service.ledger().finish_refund(
                    attempt.credit_note(),
                    attempt.number(),
                    &outcome,
                    service.clock().now(),
                )?;
            }
            match page.last() {
                Some(last) if page.len() == PAGE => {
                    after = Some((last.credit_note().clone(), last.number()));
                }
                _ => return Ok(report),
            }
        }
    }

    /// Checks everything the correction touched: each invoice minus its
    /// credit notes equals the right table's breakdown line by line, each
    /// post-payment credit note was refunded exactly its total (and the
    /// processor says so), and no charge was refunded above its capture.
    pub fn verify(&self) -> Result<Verification, BillingError> {
        const PAGE: usize = 256;
        let ledger = self.service.ledger();
        let mut report = Verification::default();
        let mut after: Option<CreditNoteId> = None;
        loop {
            let page = ledger.credit_notes(Some(self.correction.id()), after.as_ref(), PAGE)?;
            for note in &page {
                report.credit_notes += 1;
                self.verify_note(note, &mut report)?;
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.id().clone()),
                _ => return Ok(report),
            }
        }
    }

    /// What is wrong with a billed credit note's supplementary invoice, if
    /// anything.
    fn supplementary_finding(&self, note: &CreditNote) -> Result<Option<String>, BillingError> {
        let id = match supplementary_id(note.id()) {
            Ok(id) => id,
            Err(error) => return Ok(Some(error.to_string())),
        };
        Ok(match self.service.ledger().get(&id)? {
            Some(record) if billed_by(record.invoice(), note) => None,
            Some(record) => Some(format!(
                "invoice {id} is not its supplementary invoice: it asks {}",
                record.invoice().breakdown().total()
            )),
            None => Some(format!(
                "its supplementary invoice {id} was not issued: apply again"
            )),
        })
    }

    fn verify_note(
        &self,
        note: &CreditNote,
        report: &mut Verification,
    ) -> Result<(), BillingError> {
        let ledger = self.service.ledger();
        let subject = note.id().to_string();
        let mut problem = |problem: String| {
            report.findings.push(Finding {
                subject: subject.clone(),
                problem,
            });
        };
        let Some(record) = ledger.get(note.invoice())? else {
            problem("its invoice is not in the ledger".to_owned());
            return Ok(());
        };
        let notes = ledger.credit_notes_of(note.invoice())?;
        let mut remaining = Lines::from(record.invoice().breakdown());
        for earlier in notes
            .iter()
            .filter(|earlier| earlier.id().number() <= note.id().number())
        {
            remaining = remaining
                .minus(&earlier.credited())
                .map_err(|error| LedgerError::new(error.to_string()))?;
        }
        let right = reprice(record.invoice(), &self.right)
            .map_err(|error| LedgerError::new(error.to_string()))?;
        if remaining != right || note.corrected() != right {
            problem(format!(
                "the invoice minus its credit notes is {:?}, the right rates give {:?}",
                remaining.cents(),
                right.cents()
            ));
        }
        let captured = match record.payment() {
            Some(Payment::Charged(charge)) => i128::from(charge.amount().minor_units()),
            _ => 0,
        };
        let credited_after_payment: i128 = notes
            .iter()
            .filter(|note| note.kind() == CreditNoteKind::PostPayment)
            .map(|note| i128::from(note.credited().total()))
            .sum();
        if credited_after_payment > captured {
            problem(format!(
                "post-payment credit notes of {} exceed the capture of {}",
                cents_i128(credited_after_payment),
                cents_i128(captured)
            ));
        }
        if note.kind() == CreditNoteKind::Billed
            && let Some(finding) = self.supplementary_finding(note)?
        {
            problem(finding);
        }
        if note.kind() != CreditNoteKind::PostPayment {
            return Ok(());
        }
        let attempts = ledger.refund_attempts(note.id())?;
        let succeeded: Vec<&RefundAttempt> = attempts
            .iter()
            .filter(|attempt| matches!(attempt.outcome(), RefundOutcome::Succeeded(_)))
            .collect();
        let refunded: i128 = succeeded
            .iter()
            .map(|attempt| i128::from(attempt.amount().minor_units()))
            .sum();
        report.refunded += refunded;
        if refunded != i128::from(note.credited().total()) {
            problem(format!(
                "refunded {} of its {}: refund attempts {}",
                cents_i128(refunded),
                cents(note.credited().total()),
                states(&attempts)
            ));
        }
        // The processor's word on each refund the ledger counts.
        for attempt in succeeded {
            match self.service.gateway().lookup_refund(attempt.key()) {
                Ok(Some(refund))
                    if refund.status() == RefundStatus::Succeeded
                        && refund.amount() == attempt.amount() => {}
                Ok(Some(refund)) => problem(format!(
                    "the processor reports refund {} as {} of {}",
                    refund.id(),
                    refund.status().as_str(),
                    refund.amount()
                )),
                Ok(None) => problem(format!(
                    "the processor has no refund under key {}",
                    attempt.key()
                )),
                Err(error) => problem(format!("the processor could not be asked: {error}")),
            }
        }
        Ok(())
    }
}

/// Refund attempts' outcomes, as `verify` lists them: `succeeded (re_1),
/// failed (…)`, or `none`.
fn states(attempts: &[RefundAttempt]) -> String {
    if attempts.is_empty() {
        return "none".to_owned();
    }
    let states: Vec<String> = attempts
        .iter()
        .map(|attempt| match attempt.outcome().detail() {
            Some(detail) => format!("{} ({detail})", attempt.outcome().name()),
            None => attempt.outcome().name().to_owned(),
        })
        .collect();
    states.join(", ")
}

/// An entry's record.
fn applied(
    entry: &PlanEntry,
    credit_note: Option<CreditNote>,
    settlement: Settlement,
    refund_id: Option<RefundId>,
    requests: u32,
) -> Applied {
    Applied {
        invoice: entry.invoice.clone(),
        credit_note,
        settlement,
        refund_id,
        requests,
    }
}

/// What the processor's refund means for the attempt: succeeded with its
/// id, failed, or still unknown while it is pending (or not the attempt's
/// amount: for a person).
fn found(refund: &Refund, attempt: &RefundAttempt) -> RefundOutcome {
    if refund.amount() != attempt.amount() {
        return RefundOutcome::Unknown(format!(
            "the processor's refund {} is of {}, not {}",
            refund.id(),
            refund.amount(),
            attempt.amount()
        ));
    }
    match refund.status() {
        RefundStatus::Succeeded => RefundOutcome::Succeeded(refund.id().clone()),
        RefundStatus::Pending => RefundOutcome::Unknown(format!(
            "refund {} is pending at the processor",
            refund.id()
        )),
        RefundStatus::Failed => {
            RefundOutcome::Failed(format!("refund {} failed at the processor", refund.id()))
        }
    }
}

/// Cents as `5.00` or `-0.09`, for messages.
fn cents(value: i64) -> String {
    pricing::Money::from_minor_units(value).to_string()
}

fn cents_i128(value: i128) -> String {
    i64::try_from(value).map_or_else(|_| format!("{value} cents"), cents)
}
