//! The billing service: issue once, charge once, record every attempt.

use std::collections::HashMap;

use payment_gateway::{
    Amount, Charge, ChargeRequest, Clock, DeclineCode, GatewayError, Lookup, PaymentGateway,
    PaymentMethod,
};

use crate::flight;
use crate::{
    Attempt, AttemptOutcome, AttemptUpdate, BillingError, Invoice, InvoiceId, InvoiceRecord,
    IssueOutcome, IssuedInvoice, Ledger, LedgerError, LedgerErrorKind, Payment, Rates, RetryPolicy,
    Sleeper,
};

/// How many unsettled attempts [`BillingService::reconcile`] reads at once.
const RECONCILE_PAGE: usize = 500;

/// Issues invoices and collects them through a payment gateway, charging
/// each one at most once, with every attempt written down in a [`Ledger`].
///
/// The gateway, the ledger, the sleeper and the clock are injected, so tests
/// run against [`payment_gateway::FakeGateway`], an
/// [`InMemoryLedger`](crate::InMemoryLedger), a
/// [`RecordingSleeper`](crate::RecordingSleeper) and a
/// [`ManualClock`](payment_gateway::ManualClock), and never sleep; billing
/// itself does no I/O.
///
/// Exactly-once rests on three things, none of them this process's memory:
///
/// - an attempt is committed to the ledger, pending, before its request is
///   sent, so a run that dies leaves a record of what it may have done;
/// - its idempotency key is derived from the invoice id and the attempt
///   number, so every request for one attempt (a retry, a rerun, a second
///   process) names the same charge at the processor;
/// - an attempt found pending or unknown is first looked up at the
///   processor, and only charged again (with the same key) when the
///   processor has nothing captured under it; keys expire at processors,
///   captures do not.
#[derive(Debug)]
pub struct BillingService<G, L, S, C> {
    gateway: G,
    ledger: L,
    sleeper: S,
    clock: C,
    policy: RetryPolicy,
    rates: Rates,
    concurrency: usize,
}

/// How the requests of one attempt ended.
enum Outcome {
    Charged(Charge),
    Declined(DeclineCode),
    Exhausted { attempts: u32, last: GatewayError },
    Refused(GatewayError),
}

/// What collecting one invoice needs to do, once its record is read.
enum Plan {
    /// Nothing to send: the result is known.
    Done(Result<Payment, BillingError>),
    /// Settle this pending or unknown attempt: look it up, then charge with
    /// its key if nothing was captured.
    Resume(Attempt),
    /// Append this new pending attempt, then charge.
    Begin(Attempt),
}

/// What a lookup says of an unsettled attempt.
enum Settle {
    /// The processor's word: record it.
    Update(AttemptUpdate),
    /// The processor has no record of it: leave it for the next run.
    NotAtProcessor,
    /// No word to go by (the lookup failed, another amount was captured).
    Unknown,
}

/// What [`BillingService::reconcile`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciliation {
    settled: u64,
    captured: u64,
    still_unknown: u64,
    not_at_processor: u64,
    changed_meanwhile: u64,
}

impl Reconciliation {
    /// How many attempts were settled by the processor's word (captured or
    /// declined).
    pub fn settled(&self) -> u64 {
        self.settled
    }

    /// How many of the settled attempts had captured money.
    pub fn captured(&self) -> u64 {
        self.captured
    }

    /// How many stay pending or unknown: the processor has no record of
    /// them, the lookup failed, or the amounts disagree.
    pub fn still_unknown(&self) -> u64 {
        self.still_unknown
    }

    /// Of those, how many the processor has no record of. Never marked
    /// failed: nothing proves that their request is not still on its way
    /// (a run sends a batch's requests one after another, with backoff),
    /// so a new key would let both capture. The next charge run resends
    /// each under its own key, which the processor answers at most once.
    pub fn not_at_processor(&self) -> u64 {
        self.not_at_processor
    }

    /// How many another run settled while this one looked them up: its
    /// outcome stands (a capture is never replaced), and nothing stops the
    /// settling of the others.
    pub fn changed_meanwhile(&self) -> u64 {
        self.changed_meanwhile
    }
}

impl<G: PaymentGateway, L: Ledger, S: Sleeper, C: Clock> BillingService<G, L, S, C> {
    /// A service charging through `gateway`, keeping invoices and attempts
    /// in `ledger`, waiting between retries with `sleeper` as `policy` says,
    /// and stamping records with `clock`'s time.
    pub fn new(gateway: G, ledger: L, sleeper: S, clock: C, policy: RetryPolicy) -> Self {
        BillingService {
            gateway,
            ledger,
            sleeper,
            clock,
            policy,
            rates: Rates::current(),
            concurrency: 1,
        }
    }

    /// The same service, keeping up to `concurrency` gateway requests in
    /// flight (at least one): a batch's charges, and `reconcile`'s lookups.
    #[must_use]
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How many gateway requests it keeps in flight at most.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The same service, issuing invoices priced with `rates` instead of
    /// this build's ([`Rates::current`]): a release whose table differs.
    #[must_use]
    pub fn with_rates(mut self, rates: Rates) -> Self {
        self.rates = rates;
        self
    }

    /// The gateway.
    pub fn gateway(&self) -> &G {
        &self.gateway
    }

    /// The ledger.
    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    /// The sleeper.
    pub fn sleeper(&self) -> &S {
        &self.sleeper
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The retry policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// The invoice with `id`, with its attempts.
    pub fn invoice(&self, id: &InvoiceId) -> Result<InvoiceRecord, BillingError> {
        self.ledger
            .get(id)?
            .ok_or_else(|| BillingError::NotFound(id.clone()))
    }

    /// Issues `invoice`: prices it once, with the current rates, and stores
    /// the breakdown and the rates. Issuing the same invoice again returns
    /// the stored one and changes nothing; issuing a different one under the
    /// same id is refused with [`BillingError::AlreadyIssued`], naming the
    /// first field that differs.
    pub fn issue(&self, invoice: &Invoice) -> Result<IssuedInvoice, BillingError> {
        let mut results = self.issue_all(std::slice::from_ref(invoice))?;
        results
            .pop()
            .unwrap_or_else(|| Err(BillingError::NotFound(invoice.id().clone())))
    }

    /// Issues several invoices in one ledger commit; each gets its own
    /// result, as [`issue`](Self::issue) would give it. `Err` only when the
    /// ledger failed, and then none was issued.
    pub fn issue_all(
        &self,
        invoices: &[Invoice],
    ) -> Result<Vec<Result<IssuedInvoice, BillingError>>, BillingError> {
        let now = self.clock.now();
        let priced: Vec<Result<IssuedInvoice, BillingError>> = invoices
            .iter()
            .map(|invoice| {
                IssuedInvoice::price(invoice, self.rates.clone(), now).map_err(|error| {
                    BillingError::Pricing {
                        invoice: invoice.id().clone(),
                        error,
                    }
                })
            })
            .collect();
        let to_store: Vec<IssuedInvoice> = priced
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let mut stored = self.ledger.issue(&to_store)?.into_iter().zip(to_store);
        Ok(priced
            .into_iter()
            .map(|result| {
                result?;
                match stored.next() {
                    Some((IssueOutcome::Inserted, issued)) => Ok(issued),
                    Some((IssueOutcome::Existing(first), issued)) => {
                        match first.first_difference(&issued) {
                            None => Ok(*first),
                            Some((field, first, now)) => Err(BillingError::AlreadyIssued {
                                invoice: issued.id().clone(),
                                field,
                                first,
                                now,
                            }),
                        }
                    }
                    None => Err(BillingError::Repository(LedgerError::new(
                        "the ledger answered for fewer invoices than it was given",
                    ))),
                }
            })
            .collect())
    }

    /// Collects the issued invoice `id`: charges its stored total, once.
    ///
    /// - A paid invoice is not charged again; its payment is returned and no
    ///   request is sent.
    /// - A zero total is paid without a charge ([`Payment::NothingDue`]).
    /// - An attempt left pending or unknown (by a lost reply, exhausted
    ///   retries or a run that stopped) is resumed: the processor is asked
    ///   about its key first, and only if nothing was captured is it charged
    ///   again, under the same key.
    /// - Otherwise a new attempt is written down, pending, and committed;
    ///   then the total is charged under its key, transient and ambiguous
    ///   failures retried with the policy's backoff; then the outcome is
    ///   recorded.
    /// - A decline is final for the attempt: the invoice becomes
    ///   [`PaymentFailed`](crate::InvoiceStatus::PaymentFailed) with the
    ///   code, and the next `collect` starts a new attempt under a new key.
    pub fn collect(&self, id: &InvoiceId) -> Result<Payment, BillingError> {
        self.collect_all(std::slice::from_ref(id))
            .pop()
            .unwrap_or_else(|| Err(BillingError::NotFound(id.clone())))
    }

    /// Collects several invoices, each as [`collect`](Self::collect) does,
    /// with their new pending attempts written in one commit and their
    /// outcomes in another: many requests share the cost of a durable
    /// commit. The results are in the order of `ids`.
    pub fn collect_all(&self, ids: &[InvoiceId]) -> Vec<Result<Payment, BillingError>> {
        let mut results: Vec<Option<Result<Payment, BillingError>>> = vec![None; ids.len()];
        let mut work: Vec<(usize, Attempt, bool)> = Vec::new();
        let mut begins: Vec<(usize, Attempt)> = Vec::new();
        // One read for the batch when the ledger can; else one per invoice.
        let records: Vec<Result<Option<InvoiceRecord>, LedgerError>> =
            match self.ledger.get_all(ids) {
                Ok(records) if records.len() == ids.len() => records.into_iter().map(Ok).collect(),
                _ => ids.iter().map(|id| self.ledger.get(id)).collect(),
            };
        // What pre-payment credit notes took off each total: the amount due
        // is what a new attempt charges. One read for the batch.
        let credited = self.ledger.credited_before_payment(ids);
        for (index, (id, record)) in ids.iter().zip(records).enumerate() {
            let credited = match &credited {
                Ok(all) => all.get(index).copied().ok_or_else(|| {
                    LedgerError::new(format!("no credited amount read for invoice {id}"))
                }),
                Err(error) => Err(error.clone()),
            };
            match self.plan_record(id, record, credited) {
                Plan::Done(result) => results[index] = Some(result),
                Plan::Resume(attempt) => work.push((index, attempt, true)),
                Plan::Begin(attempt) => begins.push((index, attempt)),
            }
        }
        let found = self.captured_before(&mut begins, &mut results);
        self.begin(begins, &mut work, &mut results);

        // Every attempt of `work` is committed (pending, or unsettled from
        // before): its requests may leave, up to `concurrency` at once.
        let mut executed = vec![None; work.len()];
        flight::run(
            self.concurrency,
            &work,
            |(_, attempt, resume)| match found.get(attempt.invoice().as_str()) {
                // The processor holds a capture of this invoice the ledger
                // does not know: recorded, never charged again.
                Some(charge) => self.settle_charge(attempt, charge.clone()),
                None => self.execute(attempt, *resume),
            },
            |job, output| executed[job] = Some(output),
        );
        let mut updates = Vec::new();
        let mut finished = Vec::new();
        for ((index, attempt, _), output) in work.iter().zip(executed) {
            let (update, result) = output
                .unwrap_or_else(|| (None, Err(BillingError::NotFound(attempt.invoice().clone()))));
            if let Some(update) = update {
                updates.push(update);
                finished.push((*index, result));
            } else {
                results[*index] = Some(result);
            }
        }
        self.finish(&updates, finished, &mut results);

        results
            .into_iter()
            .zip(ids)
            .map(|(result, id)| result.unwrap_or_else(|| Err(BillingError::NotFound(id.clone()))))
            .collect()
    }

    /// Replaces the payment method that the invoice's next new attempt
    /// charges. An attempt already written keeps the method it was sent
    /// with, so a pending or unknown attempt is still settled against the
    /// card it may have charged.
    pub fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethod,
    ) -> Result<InvoiceRecord, BillingError> {
        let record = self.invoice(id)?;
        if record.payment().is_some() {
            return Err(BillingError::AlreadyPaid {
                invoice: id.clone(),
            });
        }
        self.ledger.change_payment_method(id, payment_method)?;
        self.invoice(id)
    }

    /// Settles every attempt whose outcome is pending or unknown by asking
    /// the gateway ([`PaymentGateway::lookup`]), never by charging:
    ///
    /// - a capture under its key is recorded (the invoice is then paid);
    /// - a decline is recorded;
    /// - an attempt the processor has no record of stays as it is: its
    ///   request may still be on its way (nothing proves it ended), so it
    ///   is never replaced by a new key; the next charge run resends it
    ///   under its own key;
    /// - a lookup that fails, or a capture of another amount, leaves the
    ///   attempt unknown.
    ///
    /// Attempts are read a page at a time and each page's outcomes are
    /// written in one commit; an outcome another run recorded meanwhile
    /// stands, and never stops the others from being recorded.
    pub fn reconcile(&self) -> Result<Reconciliation, BillingError> {
        let mut report = Reconciliation::default();
        let mut after: Option<(InvoiceId, u32)> = None;
        loop {
            let cursor = after.as_ref().map(|(id, number)| (id, *number));
            let page = self.ledger.unsettled_attempts(cursor, RECONCILE_PAGE)?;
            let mut settled: Vec<Option<Settle>> = Vec::new();
            settled.resize_with(page.len(), || None);
            flight::run(
                self.concurrency,
                &page,
                |attempt| self.settle_by_lookup(attempt),
                |index, settle| settled[index] = Some(settle),
            );
            let mut updates = Vec::new();
            for settle in settled {
                match settle.unwrap_or(Settle::Unknown) {
                    Settle::Update(update) => updates.push(update),
                    Settle::NotAtProcessor => {
                        report.still_unknown += 1;
                        report.not_at_processor += 1;
                    }
                    Settle::Unknown => report.still_unknown += 1,
                }
            }
            self.record_settled(&updates, &mut report)?;
            match page.last() {
                Some(last) if page.len() == RECONCILE_PAGE => {
                    after = Some((last.invoice().clone(), last.number()));
                }
                _ => return Ok(report),
            }
        }
    }

    /// Records a page of settled outcomes in one commit; when that is
    /// refused, one by one, so that an attempt another run settled meanwhile
    /// (a conflict) costs only its own update.
    fn record_settled(
        &self,
        updates: &[AttemptUpdate],
        report: &mut Reconciliation,
    ) -> Result<(), BillingError> {
        let count = |report: &mut Reconciliation, update: &AttemptUpdate| {
            report.settled += 1;
            if matches!(update.outcome(), AttemptOutcome::Captured(_)) {
                report.captured += 1;
            }
        };
        if updates.is_empty() {
            return Ok(());
        }
        if self.ledger.finish_attempts(updates).is_ok() {
            for update in updates {
                count(report, update);
            }
            return Ok(());
        }
        for update in updates {
            match self.ledger.finish_attempts(std::slice::from_ref(update)) {
                Ok(()) => count(report, update),
                Err(error) if error.kind() == LedgerErrorKind::Conflict => {
                    report.changed_meanwhile += 1;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// What the processor says of `attempt`.
    fn settle_by_lookup(&self, attempt: &Attempt) -> Settle {
        let outcome = match self.gateway.lookup(attempt.key()) {
            Ok(Lookup::Captured(charge)) if charge.amount() == attempt.amount() => {
                AttemptOutcome::Captured(charge.id().clone())
            }
            Ok(Lookup::Declined(code)) => AttemptOutcome::Declined(code),
            Ok(Lookup::NotFound) => return Settle::NotAtProcessor,
            Ok(Lookup::Captured(_)) | Err(_) => return Settle::Unknown,
        };
        Settle::Update(AttemptUpdate::new(
            attempt.invoice().clone(),
            attempt.number(),
            outcome,
            self.clock.now(),
        ))
    }

    /// Reads the invoice and decides what collecting it needs.
    fn plan(&self, id: &InvoiceId) -> Plan {
        let credited = self
            .ledger
            .credited_before_payment(std::slice::from_ref(id))
            .and_then(|all| {
                all.first().copied().ok_or_else(|| {
                    LedgerError::new(format!("no credited amount read for invoice {id}"))
                })
            });
        self.plan_record(id, self.ledger.get(id), credited)
    }

    /// Decides what collecting the invoice `id`, read as `record`, needs.
    fn plan_record(
        &self,
        id: &InvoiceId,
        record: Result<Option<InvoiceRecord>, LedgerError>,
        credited: Result<i64, LedgerError>,
    ) -> Plan {
        let record = match record {
            Ok(Some(record)) => record,
            Ok(None) => return Plan::Done(Err(BillingError::NotFound(id.clone()))),
            Err(error) => return Plan::Done(Err(error.into())),
        };
        if let Some(payment) = record.payment() {
            return Plan::Done(Ok(payment));
        }
        let invoice = record.invoice();
        let total = invoice.breakdown().total();
        let latest = record.latest_attempt();
        // An attempt in doubt is resumed with its own amount, never
        // re-amounted, whatever was credited since.
        if let Some(attempt) = latest
            && attempt.outcome().is_unsettled()
        {
            return Plan::Resume(attempt.clone());
        }
        // The amount due: the total less what pre-payment credit notes took
        // off. Unknown (the read failed) is never guessed as nothing.
        let credited = match credited {
            Ok(credited) => credited,
            Err(error) => return Plan::Done(Err(error.into())),
        };
        let due = total.minor_units().saturating_sub(credited);
        if due == 0 && credited > 0 {
            // Credited in full before payment: nothing is left to charge.
            return Plan::Done(Ok(Payment::NothingDue));
        }
        // A stored total is never negative and a zero one is paid above,
        // and a credit note never takes more than the total, so this
        // refusal only guards a backend that broke the rules.
        let Ok(amount) = Amount::new(due, invoice.currency()) else {
            return Plan::Done(Err(BillingError::NegativeTotal {
                invoice: id.clone(),
                total,
            }));
        };
        let Some(number) = latest.map_or(Some(1), |latest| latest.number().checked_add(1)) else {
            return Plan::Done(Err(BillingError::NoAttemptsLeft {
                invoice: id.clone(),
            }));
        };
        let now = self.clock.now();
        match Attempt::pending(
            id.clone(),
            number,
            invoice.payment_method().clone(),
            amount,
            now,
        ) {
            Ok(attempt) => Plan::Begin(attempt),
            Err(error) => Plan::Done(Err(BillingError::ChargeRejected {
                invoice: id.clone(),
                error,
            })),
        }
    }

    /// The processor's captures of the invoices about to begin a new
    /// attempt, by invoice id: one request for the whole batch.
    ///
    /// A ledger restored from a backup, or one that lost its `-wal`, no
    /// longer knows an attempt it made, so it would begin it again under the
    /// same key, which the processor forgot after 24 hours: a second
    /// capture. The processor does not forget its captures. When it cannot
    /// be asked, nothing proves that no capture exists, so no new attempt is
    /// begun: those invoices are left for the next run.
    fn captured_before(
        &self,
        begins: &mut Vec<(usize, Attempt)>,
        results: &mut [Option<Result<Payment, BillingError>>],
    ) -> HashMap<String, Charge> {
        if begins.is_empty() {
            return HashMap::new();
        }
        let references: Vec<&str> = begins
            .iter()
            .map(|(_, attempt)| attempt.invoice().as_str())
            .collect();
        match self.gateway.find_captures(&references) {
            Ok(captures) => {
                let mut found = HashMap::new();
                // The first capture of an invoice is its payment.
                for capture in captures {
                    found
                        .entry(capture.request().reference().to_owned())
                        .or_insert_with(|| capture.charge().clone());
                }
                found
            }
            Err(error) => {
                for (index, attempt) in begins.drain(..) {
                    results[index] = Some(Err(lookup_failed(&attempt, error.clone())));
                }
                HashMap::new()
            }
        }
    }

    /// Commits the new pending attempts, all in one commit if it can; when
    /// that is refused, one by one, and an invoice whose attempt another run
    /// appended first is planned again (it then resumes that attempt).
    fn begin(
        &self,
        begins: Vec<(usize, Attempt)>,
        work: &mut Vec<(usize, Attempt, bool)>,
        results: &mut [Option<Result<Payment, BillingError>>],
    ) {
        if begins.is_empty() {
            return;
        }
        let attempts: Vec<Attempt> = begins.iter().map(|(_, attempt)| attempt.clone()).collect();
        let batch = self.ledger.begin_attempts(&attempts);
        let single = begins.len() == 1;
        for (index, attempt) in begins {
            let begun = match &batch {
                Ok(()) => Ok(()),
                Err(error) if single => Err(error.clone()),
                Err(_) => self.ledger.begin_attempts(std::slice::from_ref(&attempt)),
            };
            match begun {
                Ok(()) => work.push((index, attempt, false)),
                Err(error) if error.kind() == LedgerErrorKind::Conflict => {
                    match self.plan(attempt.invoice()) {
                        Plan::Done(result) => results[index] = Some(result),
                        Plan::Resume(resumed) => work.push((index, resumed, true)),
                        // Appended and settled by another run in between:
                        // this run leaves it to the next.
                        Plan::Begin(_) => results[index] = Some(Err(error.into())),
                    }
                }
                Err(error) => results[index] = Some(Err(error.into())),
            }
        }
    }

    /// Records the outcomes, all in one commit if it can, else one by one;
    /// a capture that could not be recorded is reported as such.
    fn finish(
        &self,
        updates: &[AttemptUpdate],
        finished: Vec<(usize, Result<Payment, BillingError>)>,
        results: &mut [Option<Result<Payment, BillingError>>],
    ) {
        if updates.is_empty() {
            return;
        }
        let batch = self.ledger.finish_attempts(updates);
        for (update, (index, result)) in updates.iter().zip(finished) {
            let recorded = match &batch {
                Ok(()) => Ok(()),
                Err(error) if updates.len() == 1 => Err(error.clone()),
                // One bad update must not cost the others their record.
                Err(_) => self.ledger.finish_attempts(std::slice::from_ref(update)),
            };
            results[index] = Some(match (recorded, result) {
                (Ok(()), result) => result,
                (Err(error), Ok(Payment::Charged(charge))) => {
                    Err(BillingError::PaymentNotRecorded {
                        invoice: update.invoice().clone(),
                        charge_id: charge.id().clone(),
                        error,
                    })
                }
                (Err(error), _) => Err(error.into()),
            });
        }
    }

    /// Sends the attempt's request (after a lookup, when resuming) and says
    /// what to record and what to report.
    fn execute(
        &self,
        attempt: &Attempt,
        resume: bool,
    ) -> (Option<AttemptUpdate>, Result<Payment, BillingError>) {
        let id = attempt.invoice().clone();
        if resume {
            match self.gateway.lookup(attempt.key()) {
                Ok(Lookup::Captured(charge)) => return self.settle_charge(attempt, charge),
                Ok(Lookup::Declined(code)) => {
                    return (
                        Some(self.update(attempt, AttemptOutcome::Declined(code))),
                        Err(BillingError::Declined { invoice: id, code }),
                    );
                }
                // Nothing was captured under the key. A ledger that forgot
                // may hold an older attempt than the processor did, so the
                // invoice's captures under any key are asked for too; with
                // none, sending the key again, even to a processor that
                // forgot it, cannot charge twice.
                Ok(Lookup::NotFound) => match self.gateway.find_captures(&[id.as_str()]) {
                    Ok(captures) => {
                        if let Some(capture) = captures.into_iter().next() {
                            return self.settle_charge(attempt, capture.charge().clone());
                        }
                    }
                    Err(error) => return (None, Err(lookup_failed(attempt, error))),
                },
                Err(error) => return (None, Err(lookup_failed(attempt, error))),
            }
        }
        match self.charge_with_retries(&attempt.request()) {
            Outcome::Charged(charge) => self.settle_charge(attempt, charge),
            Outcome::Declined(code) => (
                Some(self.update(attempt, AttemptOutcome::Declined(code))),
                Err(BillingError::Declined { invoice: id, code }),
            ),
            Outcome::Exhausted { attempts, last } => (
                Some(self.update(attempt, AttemptOutcome::Unknown(last.to_string()))),
                Err(BillingError::RetriesExhausted {
                    invoice: id,
                    attempts,
                    last,
                }),
            ),
            Outcome::Refused(GatewayError::InvalidRequest(error)) => (
                Some(self.update(attempt, AttemptOutcome::Failed(error.to_string()))),
                Err(BillingError::ChargeRejected { invoice: id, error }),
            ),
            // A conflict means the key was used with other parameters, and
            // that first request may have captured: unknown, for a person.
            Outcome::Refused(error) => (
                Some(self.update(attempt, AttemptOutcome::Unknown(error.to_string()))),
                Err(BillingError::IdempotencyConflict { invoice: id, error }),
            ),
        }
    }

    /// Records a charge the processor reported, unless its amount is not
    /// the attempt's.
    fn settle_charge(
        &self,
        attempt: &Attempt,
        charge: Charge,
    ) -> (Option<AttemptUpdate>, Result<Payment, BillingError>) {
        let expected = attempt.amount();
        if charge.amount() != expected {
            let error = BillingError::ChargeAmountMismatch {
                invoice: attempt.invoice().clone(),
                charge,
                expected,
            };
            let outcome = AttemptOutcome::Unknown(error.to_string());
            return (Some(self.update(attempt, outcome)), Err(error));
        }
        let outcome = AttemptOutcome::Captured(charge.id().clone());
        (
            Some(self.update(attempt, outcome)),
            Ok(Payment::Charged(charge)),
        )
    }

    fn update(&self, attempt: &Attempt, outcome: AttemptOutcome) -> AttemptUpdate {
        AttemptUpdate::new(
            attempt.invoice().clone(),
            attempt.number(),
            outcome,
            self.clock.now(),
        )
    }

    /// Sends `request` until it succeeds, is declined or refused, or the
    /// policy's attempts run out.
    fn charge_with_retries(&self, request: &ChargeRequest) -> Outcome {
        let mut attempts: u32 = 1;
        loop {
            match self.gateway.charge(request) {
                Ok(charge) => return Outcome::Charged(charge),
                Err(GatewayError::Declined { code }) => return Outcome::Declined(code),
                Err(error) if error.is_retryable() => {
                    if attempts >= self.policy.max_attempts() {
                        return Outcome::Exhausted {
                            attempts,
                            last: error,
                        };
                    }
                    self.sleeper.sleep(self.policy.delay_before_retry(attempts));
                    // Below `max_attempts`, so adding one cannot overflow.
                    attempts += 1;
                }
                Err(error) => return Outcome::Refused(error),
            }
        }
    }
}

/// `attempt` could not be settled or begun because the processor could not
/// be asked: nothing was sent, and the next run asks again.
fn lookup_failed(attempt: &Attempt, error: GatewayError) -> BillingError {
    BillingError::LookupFailed {
        invoice: attempt.invoice().clone(),
        attempt: attempt.number(),
        error,
    }
}
