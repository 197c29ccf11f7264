//! A worker of a charge run on the in-memory ledger, the fake gateway, a
//! recording sleeper and a clock that stands still: what it claims and
//! collects, what it leaves to another worker, what it takes over, and a
//! payment method changed on a re-read. Money is checked on the fake's own
//! record of what it captured.

// Fixture helpers build values from literals known to be valid; a panic
// there is a broken test, reported as a failure.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use billing::{
    Attempt, AttemptOutcome, AttemptUpdate, BillingError, BillingService, ClaimOutcome, Claims,
    CustomerId, HeldClaim, InMemoryLedger, Invoice, InvoiceFilter, InvoiceId, InvoiceRecord,
    IssueOutcome, IssuedInvoice, Ledger, LedgerError, Payment, RecordingSleeper, RetryPolicy,
    Settled, Sweep, Worker, WorkerId,
};
use payment_gateway::{ChargeId, Currency, FakeGateway, ManualClock, PaymentMethod};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};

const HOUR: Duration = Duration::from_secs(3600);
/// The worked example's total: 141.69.
const TOTAL: i64 = 14169;

fn invoice(id: &str, token: &str, price: &str) -> Invoice {
    Invoice::new(
        InvoiceId::new(id).unwrap(),
        CustomerId::new("cus_1").unwrap(),
        PaymentMethod::new(token).unwrap(),
        Currency::Usd,
        PricingInput::new(
            vec![
                LineItem::new(price.parse().unwrap(), "3".parse().unwrap()),
                LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
            ],
            Tier::Gold,
            true,
            DaysOverdue::from(45),
        )
        .unwrap(),
    )
}

/// The worked example (141.69) as invoice `id`, paid with `token`.
fn worked(id: &str, token: &str) -> Invoice {
    invoice(id, token, "40.00")
}

fn worker_id(name: &str) -> WorkerId {
    WorkerId::new(name).unwrap()
}

/// A service that holds a fake gateway, an in-memory ledger, a recording
/// sleeper and a clock that stands still: each test's whole setting, read
/// back through the service's accessors.
type Service = BillingService<FakeGateway, InMemoryLedger, RecordingSleeper, ManualClock>;

fn service() -> Service {
    BillingService::new(
        FakeGateway::new(),
        InMemoryLedger::new(),
        RecordingSleeper::new(),
        ManualClock::default(),
        RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(1)).unwrap(),
    )
}

/// Worker `w1` on `service`, its claims lasting an hour.
fn w1(service: &Service) -> Worker<'_, FakeGateway, InMemoryLedger, RecordingSleeper, ManualClock> {
    Worker::new(service, worker_id("w1"), HOUR)
}

fn paid(settled: &Settled) -> bool {
    matches!(
        settled,
        Settled::Collected {
            result: Ok(Payment::Charged(_)),
            ..
        }
    )
}

#[test]
fn a_batch_is_issued_claimed_collected_in_order_and_its_claims_dropped() {
    let service = service();
    let worker = w1(&service);

    let settled = worker
        .charge_batch(&[
            worked("INV-1", "tok_success"),
            worked("INV-2", "tok_card_declined"),
        ])
        .unwrap();

    assert_eq!(settled.len(), 2);
    assert!(paid(&settled[0]), "{settled:?}");
    let Settled::Collected { total, result, .. } = &settled[1] else {
        panic!("{settled:?}");
    };
    assert_eq!(total.minor_units(), TOTAL);
    assert!(
        matches!(result, Err(BillingError::Declined { .. })),
        "{result:?}"
    );
    assert_eq!(
        service.gateway().captured_total_for("INV-1", Currency::Usd),
        i128::from(TOTAL)
    );
    assert_eq!(service.gateway().capture_count(), 1);
    assert_eq!(
        service.ledger().claims(None, 10).unwrap(),
        [],
        "claims dropped after collecting"
    );
    assert_eq!(worker.id().as_str(), "w1");
}

#[test]
fn an_invoice_issued_before_with_other_content_is_refused_naming_the_field() {
    let service = service();
    let worker = w1(&service);
    worker
        .charge_batch(&[worked("INV-1", "tok_card_declined")])
        .unwrap();

    let settled = worker
        .charge_batch(&[invoice("INV-1", "tok_card_declined", "41.00")])
        .unwrap();

    let [Settled::Refused(BillingError::AlreadyIssued { field, .. })] = settled.as_slice() else {
        panic!("{settled:?}");
    };
    assert_eq!(*field, "line items");
    assert_eq!(service.gateway().capture_count(), 0);
}

#[test]
fn an_invoice_another_worker_holds_is_left_to_it_and_not_charged() {
    let service = service();
    service.issue(&worked("INV-1", "tok_success")).unwrap();
    let other = worker_id("w2");
    service
        .ledger()
        .claim(&other, &[InvoiceId::new("INV-1").unwrap()], HOUR)
        .unwrap();

    let settled = w1(&service)
        .charge_batch(&[
            worked("INV-1", "tok_success"),
            worked("INV-2", "tok_success"),
        ])
        .unwrap();

    let Settled::HeldBy {
        total,
        worker: holder,
        ..
    } = &settled[0]
    else {
        panic!("{settled:?}");
    };
    assert_eq!((total.minor_units(), holder), (TOTAL, &other));
    assert!(paid(&settled[1]));
    assert!(
        service.gateway().captures_for("INV-1").is_empty(),
        "the other worker's to collect"
    );
    assert_eq!(service.gateway().capture_count(), 1);
}

#[test]
fn a_new_payment_method_after_a_decline_is_charged_and_a_paid_invoice_keeps_its_own() {
    let service = service();
    let worker = w1(&service);
    let declined = worker
        .charge_batch(&[worked("INV-1", "tok_card_declined")])
        .unwrap();
    assert!(!paid(&declined[0]));

    let retried = worker
        .charge_batch(&[worked("INV-1", "tok_success")])
        .unwrap();
    assert!(paid(&retried[0]), "{retried:?}");
    // Read again with yet another card: paid already, nothing is sent.
    let requests = service.gateway().request_count();
    let again = worker
        .charge_batch(&[worked("INV-1", "tok_insufficient_funds")])
        .unwrap();

    assert_eq!(again, retried, "the stored payment, returned");
    assert_eq!(service.gateway().request_count(), requests);
    assert_eq!(service.gateway().capture_count(), 1);
}

#[test]
fn the_sweep_takes_over_claims_that_ran_out_and_collects_them() {
    let service = service();
    let ids: Vec<InvoiceId> = (1..=5)
        .map(|n| InvoiceId::new(format!("INV-{n}")).unwrap())
        .collect();
    for id in &ids {
        service.issue(&worked(id.as_str(), "tok_success")).unwrap();
    }
    // A worker that died: its claims ran out at once.
    service
        .ledger()
        .claim(&worker_id("dead"), &ids, Duration::ZERO)
        .unwrap();
    let worker = w1(&service);

    let mut taken = Vec::new();
    worker
        .sweep(2, Duration::from_millis(100), |event| {
            match event {
                Sweep::TakenOver(invoices) => taken.extend(invoices.iter().cloned()),
                Sweep::Waiting { .. } => panic!("nobody else holds a claim"),
            }
            Ok::<(), BillingError>(())
        })
        .unwrap();

    let taken_ids: Vec<&str> = taken.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        taken_ids,
        ["INV-1", "INV-2", "INV-3", "INV-4", "INV-5"],
        "page after page"
    );
    assert!(
        taken
            .iter()
            .all(|t| t.result.is_ok() && t.total.minor_units() == TOTAL)
    );
    assert_eq!(service.gateway().capture_count(), 5);
    assert_eq!(service.ledger().claims(None, 10).unwrap(), []);
    assert!(
        service.sleeper().delays().is_empty(),
        "no wait when no one else holds a claim"
    );
}

#[test]
fn the_sweep_waits_while_another_worker_holds_a_live_claim() {
    let service = service();
    let held = [InvoiceId::new("INV-1").unwrap()];
    service.issue(&worked("INV-1", "tok_success")).unwrap();
    let other = worker_id("w2");
    service.ledger().claim(&other, &held, HOUR).unwrap();
    let worker = w1(&service);

    let mut waits = Vec::new();
    worker
        .sweep(10, Duration::from_millis(100), |event| {
            if let Sweep::Waiting { held_elsewhere } = event {
                waits.push(held_elsewhere);
                // The other worker finishes while this one waits.
                service.ledger().release(&other, &held).unwrap();
            }
            Ok::<(), BillingError>(())
        })
        .unwrap();

    assert_eq!(waits, [1]);
    assert_eq!(service.sleeper().delays(), [Duration::from_millis(100)]);
    assert_eq!(
        service.gateway().capture_count(),
        0,
        "the other worker's invoice is not taken"
    );
}

#[test]
fn an_error_of_the_report_ends_the_sweep() {
    let service = service();
    service.issue(&worked("INV-1", "tok_success")).unwrap();
    service
        .ledger()
        .claim(&worker_id("w2"), &[InvoiceId::new("INV-1").unwrap()], HOUR)
        .unwrap();
    let worker = w1(&service);

    let ended = worker.sweep(10, Duration::from_millis(100), |_| {
        Err(BillingError::NotFound(InvoiceId::new("stop").unwrap()))
    });

    assert_eq!(
        ended,
        Err(BillingError::NotFound(InvoiceId::new("stop").unwrap()))
    );
    assert!(service.sleeper().delays().is_empty());
}

#[test]
fn a_disk_that_fills_after_the_requests_loses_no_record_of_what_was_captured() {
    let service = service();
    let worker = w1(&service);
    // Issue, claim and the pending attempts are written; the outcomes and
    // the dropping of the claims find the disk full.
    service.ledger().fill_disk_after(3);

    let settled = worker
        .charge_batch(&[
            worked("INV-1", "tok_success"),
            worked("INV-2", "tok_success"),
        ])
        .unwrap();

    let captures = service.gateway().captures();
    assert_eq!(captures.len(), 2);
    for (settled, capture) in settled.iter().zip(&captures) {
        let Settled::Collected {
            result:
                Err(BillingError::PaymentNotRecorded {
                    charge_id, error, ..
                }),
            ..
        } = settled
        else {
            panic!("{settled:?}");
        };
        assert_eq!(
            charge_id,
            capture.charge().id(),
            "the record names the capture"
        );
        assert_eq!(error.message(), "disk full");
    }
    // The ledger kept what it wrote before: both attempts pending, to be
    // settled by lookup (never charged again) once the disk has room.
    service.ledger().fill_disk_after(usize::MAX);
    let again = worker
        .charge_batch(&[
            worked("INV-1", "tok_success"),
            worked("INV-2", "tok_success"),
        ])
        .unwrap();
    assert!(again.iter().all(paid), "{again:?}");
    assert_eq!(service.gateway().captures().len(), 2, "settled by lookup");
}

#[test]
fn a_worker_knows_when_an_attempt_in_the_ledger_stays_in_doubt() {
    let service = service();
    let worker = w1(&service);
    let first = worker.charge_batch(&[worked("INV-1", "tok_success")]);
    assert!(paid(&first.unwrap()[0]));
    assert!(!worker.unsettled_remain().unwrap(), "all settled");

    // One request per charge here: the transient failure leaves INV-2's
    // attempt unknown, money in doubt until it is settled.
    worker
        .charge_batch(&[worked("INV-2", "tok_transient_1")])
        .unwrap();
    assert!(worker.unsettled_remain().unwrap(), "INV-2 in doubt");

    let settled = worker
        .charge_batch(&[worked("INV-2", "tok_transient_1")])
        .unwrap();
    assert!(paid(&settled[0]), "{settled:?}");
    assert!(!worker.unsettled_remain().unwrap(), "settled again");
}

#[test]
fn an_attempt_another_live_worker_holds_is_its_to_settle_until_its_claim_runs_out() {
    let service = service();
    let worker = w1(&service);
    // INV-2's attempt is left unknown, as a worker that is still collecting
    // it would leave it between its request and its lookup.
    worker
        .charge_batch(&[worked("INV-2", "tok_transient_1")])
        .unwrap();
    let ids = [InvoiceId::new("INV-2").unwrap()];
    let ledger = service.ledger();

    ledger.claim(&worker_id("w2"), &ids, HOUR).unwrap();
    assert!(
        !worker.unsettled_remain().unwrap(),
        "w2 is collecting INV-2"
    );

    ledger.release(&worker_id("w2"), &ids).unwrap();
    assert!(worker.unsettled_remain().unwrap(), "no one holds INV-2");

    ledger
        .claim(&worker_id("dead"), &ids, Duration::ZERO)
        .unwrap();
    assert!(worker.unsettled_remain().unwrap(), "a claim that ran out");

    ledger.release(&worker_id("dead"), &ids).unwrap();
    ledger.claim(&worker_id("w1"), &ids, HOUR).unwrap();
    assert!(
        worker.unsettled_remain().unwrap(),
        "the asking worker's own claim covers nothing: it is not collecting"
    );
}

#[test]
fn the_check_for_money_in_doubt_reads_every_page_of_attempts_and_claims() {
    // More attempts in doubt and more claims than one read returns (256).
    let service = service();
    let worker = w1(&service);
    let invoices: Vec<Invoice> = (0..600)
        .map(|n| worked(&format!("INV-{n:03}"), "tok_transient_1"))
        .collect();
    worker.charge_batch(&invoices).unwrap();
    let ids: Vec<InvoiceId> = invoices.iter().map(|i| i.id().clone()).collect();
    let ledger = service.ledger();

    ledger.claim(&worker_id("w2"), &ids, HOUR).unwrap();
    assert!(!worker.unsettled_remain().unwrap(), "w2 holds all 600");

    ledger.release(&worker_id("w2"), &ids[599..]).unwrap();
    assert!(worker.unsettled_remain().unwrap(), "INV-599 is no one's");
}

#[test]
fn an_attempt_settled_while_the_claims_are_read_is_not_money_in_doubt() {
    // The race the end-of-run check meets: an attempt is unsettled when it
    // is read, then its worker records the capture and drops its claim
    // before the claims are read. Read once, it would look orphaned.
    let service = BillingService::new(
        FakeGateway::new(),
        SettlingLedger::default(),
        RecordingSleeper::new(),
        ManualClock::default(),
        RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(1)).unwrap(),
    );
    let worker = Worker::new(&service, worker_id("w1"), HOUR);
    worker
        .charge_batch(&[worked("INV-2", "tok_transient_1")])
        .unwrap();
    *service.ledger().on_claims.lock().unwrap() = Some(AttemptUpdate::new(
        InvoiceId::new("INV-2").unwrap(),
        1,
        AttemptOutcome::Captured(ChargeId::new("ch_by_w2").unwrap()),
        UNIX_EPOCH,
    ));

    assert!(!worker.unsettled_remain().unwrap());
    assert!(
        service.ledger().on_claims.lock().unwrap().is_none(),
        "the capture was recorded during the check"
    );
}

/// An in-memory ledger that records one outcome the next time its claims
/// are read: another worker finishing between two reads of a check.
#[derive(Default)]
struct SettlingLedger {
    inner: InMemoryLedger,
    on_claims: Mutex<Option<AttemptUpdate>>,
}

impl Ledger for SettlingLedger {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        self.inner.issue(invoices)
    }
    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        self.inner.get(id)
    }
    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
        self.inner.begin_attempts(attempts)
    }
    fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError> {
        self.inner.finish_attempts(updates)
    }
    fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethod,
    ) -> Result<(), LedgerError> {
        self.inner.change_payment_method(id, payment_method)
    }
    fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<InvoiceRecord>, LedgerError> {
        self.inner.list(filter, after, limit)
    }
    fn unsettled_attempts(
        &self,
        after: Option<(&InvoiceId, u32)>,
        limit: usize,
    ) -> Result<Vec<Attempt>, LedgerError> {
        self.inner.unsettled_attempts(after, limit)
    }
    fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError> {
        self.inner.credited_before_payment(ids)
    }
}

impl Claims for SettlingLedger {
    fn claim(
        &self,
        worker: &WorkerId,
        ids: &[InvoiceId],
        lease: Duration,
    ) -> Result<Vec<ClaimOutcome>, LedgerError> {
        self.inner.claim(worker, ids, lease)
    }
    fn release(&self, worker: &WorkerId, ids: &[InvoiceId]) -> Result<(), LedgerError> {
        self.inner.release(worker, ids)
    }
    fn claims(
        &self,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<HeldClaim>, LedgerError> {
        if let Some(update) = self.on_claims.lock().unwrap().take() {
            self.inner.finish_attempts(&[update])?;
        }
        self.inner.claims(after, limit)
    }
}

#[test]
fn claims_are_renewed_while_a_batch_with_requests_in_flight_outlasts_its_lease() {
    // Two requests in flight, each taking 1.5 s of real time, under a
    // lease of 600 ms: without renewal the claims would run out at 0.6 s
    // and another worker would take the invoices over.
    let service = BillingService::new(
        FakeGateway::new().with_latency(Duration::from_millis(1_500)),
        InMemoryLedger::new(),
        RecordingSleeper::new(),
        ManualClock::default(),
        RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(1)).unwrap(),
    )
    .with_concurrency(2);
    let worker = Worker::new(&service, worker_id("w1"), Duration::from_millis(600));
    let invoices = [
        worked("INV-1", "tok_success"),
        worked("INV-2", "tok_success"),
    ];
    let ids = [
        InvoiceId::new("INV-1").unwrap(),
        InvoiceId::new("INV-2").unwrap(),
    ];

    let (settled, held) = std::thread::scope(|scope| {
        let batch = scope.spawn(|| worker.charge_batch(&invoices).unwrap());
        std::thread::sleep(Duration::from_millis(1_200));
        let held = service
            .ledger()
            .claim(&worker_id("w2"), &ids, Duration::from_secs(1))
            .unwrap();
        (batch.join().unwrap(), held)
    });

    assert_eq!(
        held,
        [
            ClaimOutcome::HeldBy(worker_id("w1")),
            ClaimOutcome::HeldBy(worker_id("w1"))
        ]
    );
    assert!(settled.iter().all(paid), "{settled:?}");
}
