//! Collecting through the ledger: paid invoices, reruns that resume by
//! lookup, reconciling, and services collecting the same invoices at once.

use std::sync::Arc;
use std::time::Duration;

use payment_gateway::{
    Capture, Charge, ChargeRequest, Clock, Currency, FakeGateway, GatewayError, IdempotencyKey,
    InMemoryBooks, KEY_LIFETIME, Lookup, PaymentGateway, Refund, RefundRequest,
};

use crate::{Attempt, BillingError, Invoice, InvoiceId, InvoiceStatus, Ledger, Payment};

use super::{
    Processor, WORKED_TOTAL, clock, free_invoice, id, issue_all, method, pending, record, service,
    worked_example,
};

/// A paid invoice reports its stored charge and sends nothing; a zero
/// total is paid without a charge or an attempt.
pub fn a_paid_invoice_sends_no_request_and_a_zero_total_is_paid_without_a_charge<L: Ledger>(
    open: &dyn Fn() -> L,
) {
    issue_all(
        open,
        &[worked_example("INV-1", "tok_success"), free_invoice("FREE")],
    );
    let first = FakeGateway::new();
    let paid = service(&first, open(), &clock())
        .collect(&id("INV-1"))
        .unwrap();

    let second = FakeGateway::new();
    let rerun = service(&second, open(), &clock());
    assert_eq!(rerun.collect(&id("INV-1")).unwrap(), paid);
    assert_eq!(rerun.collect(&id("FREE")).unwrap(), Payment::NothingDue);

    assert_eq!(second.request_count() + second.lookup_count(), 0);
    assert!(record(&open(), "FREE").attempts().is_empty());
    assert_eq!(
        rerun.collect(&id("NOPE")),
        Err(BillingError::NotFound(id("NOPE")))
    );
}

/// An attempt a run left pending is resumed by the next run under the same
/// key, after a lookup, and captured once.
pub fn a_rerun_resumes_a_pending_attempt_under_its_key<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let at = clock().now();
    open().begin_attempts(&[pending("INV-1", 1, at)]).unwrap();
    let gateway = FakeGateway::new();

    let payment = service(&gateway, open(), &clock())
        .collect(&id("INV-1"))
        .unwrap();

    assert_eq!(gateway.lookup_count(), 1);
    let keys: Vec<String> = gateway
        .requests()
        .iter()
        .map(|r| r.idempotency_key().as_str().to_owned())
        .collect();
    assert_eq!(keys, ["invoice:INV-1:attempt:1"]);
    assert_eq!(
        payment,
        Payment::Charged(gateway.captures()[0].charge().clone())
    );
    assert_eq!(record(&open(), "INV-1").attempts().len(), 1);
}

/// A run whose replies were lost leaves attempts unknown; 25 hours later
/// the processor has forgotten the keys, and a rerun still charges nothing
/// twice: it looks the charges up instead.
pub fn a_rerun_25_hours_later_charges_nothing_twice<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(
        open,
        &[
            worked_example("LOST-REPLY", "tok_reply_lost"),
            worked_example("NEVER-SENT", "tok_success"),
        ],
    );
    let processor = Processor::new();
    let once = processor.once(open());
    assert!(once.collect(&id("LOST-REPLY")).unwrap_err().is_retryable());
    // A run that died right after writing its attempt.
    open()
        .begin_attempts(&[pending("NEVER-SENT", 1, processor.clock.now())])
        .unwrap();

    processor.clock.advance(Duration::from_secs(25 * 3600));
    let later = processor.gateway();
    let rerun = service(&later, open(), &processor.clock);
    let results = rerun.collect_all(&[id("LOST-REPLY"), id("NEVER-SENT")]);

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        later.captured_total_for("LOST-REPLY", Currency::Usd),
        i128::from(WORKED_TOTAL)
    );
    assert_eq!(
        later.captured_total_for("NEVER-SENT", Currency::Usd),
        i128::from(WORKED_TOTAL)
    );
    assert_eq!(later.capture_count(), 2);
    // Only the attempt that never reached the processor was sent.
    assert_eq!(later.request_count(), 1);
    for invoice in ["LOST-REPLY", "NEVER-SENT"] {
        assert!(record(&open(), invoice).status().is_paid(), "{invoice}");
    }
}

/// `reconcile` settles unknown and pending attempts by lookups only: a
/// capture is recorded, a decline too; one the processor has no record of
/// stays as it is, however old, and the next charge run resends it under
/// its own key; nothing is charged by reconcile.
pub fn reconcile_settles_by_lookup_never_by_charging<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(
        open,
        &[
            worked_example("CAPTURED", "tok_reply_lost"),
            worked_example("UNSENT", "tok_success"),
            worked_example("FRESH", "tok_success"),
            worked_example("PAID", "tok_success"),
        ],
    );
    let processor = Processor::new();
    let once = processor.once(open());
    assert!(once.collect(&id("CAPTURED")).is_err());
    once.collect(&id("PAID")).unwrap();
    open()
        .begin_attempts(&[pending("UNSENT", 1, processor.clock.now())])
        .unwrap();
    processor.clock.advance(Duration::from_secs(120));
    open()
        .begin_attempts(&[pending("FRESH", 1, processor.clock.now())])
        .unwrap();

    let reconciler = processor.gateway();
    let report = service(&reconciler, open(), &processor.clock)
        .reconcile()
        .unwrap();

    assert_eq!(
        (report.settled(), report.captured(), report.still_unknown()),
        (1, 1, 2)
    );
    assert_eq!(report.not_at_processor(), 2);
    assert_eq!(report.changed_meanwhile(), 0);
    assert_eq!(reconciler.request_count(), 0, "reconcile charged");
    assert_eq!(reconciler.capture_count(), 2);
    assert!(record(&open(), "CAPTURED").status().is_paid());
    assert_eq!(record(&open(), "UNSENT").status(), InvoiceStatus::Unknown);
    assert_eq!(record(&open(), "FRESH").status(), InvoiceStatus::Unknown);

    // However long it waits, an attempt the processor never saw is left as
    // it is: only a charge run settles it, under its own key.
    processor.clock.advance(Duration::from_secs(30 * 86_400));
    let again = service(&reconciler, open(), &processor.clock)
        .reconcile()
        .unwrap();
    assert_eq!((again.settled(), again.not_at_processor()), (0, 2));
    let charger = processor.gateway();
    let resumed =
        service(&charger, open(), &processor.clock).collect_all(&[id("UNSENT"), id("FRESH")]);
    assert!(resumed.iter().all(Result::is_ok), "{resumed:?}");
    for invoice in ["UNSENT", "FRESH"] {
        let attempts = record(&open(), invoice).attempts().to_vec();
        assert_eq!(attempts.len(), 1, "{invoice}: resent under its own key");
        assert_eq!(
            attempts[0].key().as_str(),
            format!("invoice:{invoice}:attempt:1")
        );
    }
    let last = service(&reconciler, open(), &processor.clock)
        .reconcile()
        .unwrap();
    assert_eq!(last, crate::Reconciliation::default());
}

/// The worked example issued as `invoice`, its first attempt written down
/// pending (by a run that has not sent it yet, or died), and the processor
/// that run talks to.
fn left_pending<L: Ledger>(open: &dyn Fn() -> L, invoice: &str) -> (Processor, Attempt) {
    issue_all(open, &[worked_example(invoice, "tok_success")]);
    let processor = Processor::new();
    let attempt = pending(invoice, 1, processor.clock.now());
    open()
        .begin_attempts(std::slice::from_ref(&attempt))
        .unwrap();
    (processor, attempt)
}

/// A run commits a batch's attempts pending, then sends them one after
/// another: one can wait unsent far longer than any grace. A `reconcile`
/// that finds no record of it meanwhile must not free its invoice for a new
/// key: when its request does arrive, the next run finds that capture under
/// the same key, and the invoice is captured once.
pub fn a_lookup_that_finds_nothing_never_opens_a_new_key<L: Ledger>(open: &dyn Fn() -> L) {
    let (processor, attempt) = left_pending(open, "SLOW");
    processor.clock.advance(Duration::from_secs(3600));

    let report = service(&processor.gateway(), open(), &processor.clock)
        .reconcile()
        .unwrap();
    // The first run's request, still on its way, arrives now.
    processor.gateway().charge(&attempt.request()).unwrap();
    let rerun = processor.gateway();
    let payment = service(&rerun, open(), &processor.clock)
        .collect(&id("SLOW"))
        .unwrap();

    assert_eq!(report.not_at_processor(), 1);
    assert!(matches!(payment, Payment::Charged(_)));
    assert_eq!(
        rerun.request_count(),
        0,
        "found by lookup, not charged again"
    );
    assert_eq!(processor.gateway().captures_for("SLOW").len(), 1);
    assert_eq!(record(&open(), "SLOW").attempts().len(), 1);
}

/// A ledger that forgot (restored from a backup taken before the charge, a
/// lost `-wal`, a new ledger beside kept books) is not a processor that
/// forgot: after the processor's 24-hour key expiry, the same invoice would
/// begin the same attempt under the same key and be charged again. Before
/// any new attempt, the invoice's captures at the processor are asked for,
/// one request per batch; what it captured is recorded, never charged.
pub fn a_ledger_that_forgot_is_held_to_the_processors_captures<L: Ledger>(open: &dyn Fn() -> L) {
    let processor = Processor::new();
    let invoices = [
        worked_example("PAID-1", "tok_success"),
        worked_example("PAID-2", "tok_success"),
        worked_example("DUE", "tok_success"),
    ];
    // What the ledger knew before it forgot: two invoices paid.
    let before = crate::InMemoryLedger::new();
    let first = service(processor.gateway(), &before, &processor.clock);
    for invoice in &invoices[..2] {
        first.issue(invoice).unwrap();
    }
    let paid = first.collect_all(&[id("PAID-1"), id("PAID-2")]);
    assert!(paid.iter().all(Result::is_ok), "{paid:?}");
    // A day and more later, the forgetful ledger is asked to collect all.
    processor
        .clock
        .advance(KEY_LIFETIME + Duration::from_secs(3600));
    let rerun = processor.gateway();
    let service = service(&rerun, open(), &processor.clock);
    for invoice in &invoices {
        service.issue(invoice).unwrap();
    }

    let results = service.collect_all(&[id("PAID-1"), id("PAID-2"), id("DUE")]);

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(rerun.request_count(), 1, "only DUE is charged");
    assert_eq!(rerun.search_count(), 1, "one search for the batch");
    for invoice in ["PAID-1", "PAID-2", "DUE"] {
        assert_eq!(rerun.captures_for(invoice).len(), 1, "{invoice}");
        let stored = record(&open(), invoice);
        assert!(stored.status().is_paid(), "{invoice}");
        assert_eq!(
            stored.payment(),
            Some(Payment::Charged(
                rerun.captures_for(invoice)[0].charge().clone()
            )),
            "{invoice}: paid with the processor's own capture"
        );
    }
}

/// A ledger that forgot part of an invoice's history (restored with its
/// first attempt pending, while the processor declined that one and
/// captured the next) resumes the pending attempt: the lookup by its key
/// finds nothing once the decline's key expired, and the invoice's captures
/// under any key are asked for before the key is sent again.
pub fn a_resumed_attempt_is_held_to_captures_under_other_keys<L: Ledger>(open: &dyn Fn() -> L) {
    let (processor, attempt) = left_pending(open, "INV-1");
    let earlier = processor.gateway();
    let declined = ChargeRequest::new(
        attempt.key().clone(),
        method("tok_card_declined"),
        attempt.amount(),
        "INV-1",
    );
    assert!(earlier.charge(&declined).is_err());
    let second = ChargeRequest::new(
        crate::attempt_key(&id("INV-1"), 2).unwrap(),
        method("tok_success"),
        attempt.amount(),
        "INV-1",
    );
    let captured = earlier.charge(&second).unwrap();
    processor
        .clock
        .advance(KEY_LIFETIME + Duration::from_secs(1));

    let rerun = processor.gateway();
    let payment = service(&rerun, open(), &processor.clock)
        .collect(&id("INV-1"))
        .unwrap();

    assert_eq!(payment, Payment::Charged(captured));
    assert_eq!(rerun.request_count(), 0, "never sent again");
    assert_eq!(rerun.captures_for("INV-1").len(), 1);
}

/// When the processor cannot be searched, nothing proves that an invoice
/// was not captured before: no new attempt is begun and nothing is sent.
pub fn no_new_attempt_begins_when_the_processors_captures_cannot_be_read<L: Ledger>(
    open: &dyn Fn() -> L,
) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let gateway = Unsearchable(FakeGateway::new());

    let result = service(&gateway, open(), &clock()).collect(&id("INV-1"));

    assert!(
        matches!(result, Err(BillingError::LookupFailed { .. })),
        "{result:?}"
    );
    assert_eq!(gateway.0.request_count(), 0);
    assert!(record(&open(), "INV-1").attempts().is_empty());
}

/// A gateway whose search by reference fails.
struct Unsearchable(FakeGateway);

impl PaymentGateway for Unsearchable {
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        self.0.charge(request)
    }
    fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        self.0.lookup(key)
    }
    fn find_captures(&self, _references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        Err(GatewayError::Transient {
            reason: "search unavailable".to_owned(),
        })
    }

    fn refund(&self, request: &RefundRequest) -> Result<Refund, GatewayError> {
        self.0.refund(request)
    }
    fn lookup_refund(&self, key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        self.0.lookup_refund(key)
    }
}

/// Two services, each with its own handle on the storage, collecting the
/// same invoices at once through one processor: each invoice is captured
/// once and paid with that capture.
pub fn two_services_collecting_the_same_invoices_at_once_capture_each_once<L: Ledger>(
    open: &(dyn Fn() -> L + Sync),
) {
    let invoices: Vec<Invoice> = (0..40)
        .map(|n| {
            let token = ["tok_success", "tok_reply_lost", "tok_transient_1"][n % 3];
            worked_example(&format!("RACE-{n:02}"), token)
        })
        .collect();
    issue_all(open, &invoices);
    let ids: Vec<InvoiceId> = invoices.iter().map(|i| i.id().clone()).collect();
    let books = Arc::new(InMemoryBooks::new());
    let clock = clock();
    std::thread::scope(|scope| {
        for reversed in [false, true] {
            let (books, clock, ids) = (Arc::clone(&books), clock.clone(), ids.clone());
            scope.spawn(move || {
                let gateway = FakeGateway::with_books(books).with_clock(clock.clone());
                let service = service(&gateway, open(), &clock);
                let order: Vec<InvoiceId> = if reversed {
                    ids.into_iter().rev().collect()
                } else {
                    ids
                };
                for id in &order {
                    let _ = service.collect(id);
                }
            });
        }
    });
    // A final pass settles whatever a race left unknown.
    let processor = FakeGateway::with_books(Arc::clone(&books)).with_clock(clock.clone());
    let finisher = service(&processor, open(), &clock);
    let _ = finisher.collect_all(&ids);
    for invoice in &ids {
        let captures = processor.captures_for(invoice.as_str());
        assert_eq!(
            captures.len(),
            1,
            "{invoice} captured {} times",
            captures.len()
        );
        assert_eq!(
            record(&open(), invoice.as_str()).status(),
            InvoiceStatus::Paid(Payment::Charged(captures[0].charge().clone())),
            "{invoice}"
        );
    }
}

/// A batch collect writes its new attempts together and its outcomes
/// together, and charges each invoice once (a repeated id included).
pub fn a_batch_collect_shares_commits_and_charges_each_once<L: Ledger>(open: &dyn Fn() -> L) {
    let invoices: Vec<Invoice> = (0..10)
        .map(|n| worked_example(&format!("BATCH-{n}"), "tok_success"))
        .collect();
    issue_all(open, &invoices);
    let mut ids: Vec<InvoiceId> = invoices.iter().map(|i| i.id().clone()).collect();
    ids.push(id("BATCH-3"));
    ids.push(id("MISSING"));
    let gateway = FakeGateway::new();

    let results = service(&gateway, open(), &clock()).collect_all(&ids);

    assert_eq!(results.len(), 12);
    assert!(results[..11].iter().all(Result::is_ok), "{results:?}");
    assert_eq!(results[11], Err(BillingError::NotFound(id("MISSING"))));
    assert_eq!(results[3], results[10]);
    assert_eq!(gateway.capture_count(), 10);
    for invoice in &invoices {
        assert!(record(&open(), invoice.id().as_str()).status().is_paid());
    }
}
