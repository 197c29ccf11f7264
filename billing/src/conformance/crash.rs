//! Crash safety: the crash-and-rerun property that backends drive with
//! proptest, and a crash at every point of `collect` then a rerun.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use payment_gateway::{
    Capture, Charge, ChargeRequest, Currency, DeclineCode, FakeGateway, Fault, GatewayError,
    IdempotencyKey, InMemoryBooks, Lookup, PaymentGateway, PaymentMethod, Refund, RefundRequest,
    TestToken,
};

use crate::{
    Attempt, AttemptUpdate, BillingService, Invoice, InvoiceFilter, InvoiceId, InvoiceRecord,
    InvoiceStatus, IssueOutcome, IssuedInvoice, Ledger, LedgerError, Payment, RecordingSleeper,
};

use super::{WORKED_TOTAL, clock, id, issue_all, policy, record, worked_example};

/// Where a run dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// Right after the pending attempt was committed, before the request.
    AfterAttemptWritten,
    /// After the processor captured, before the ledger recorded it.
    AfterCaptureBeforeRecord,
    /// Right after the outcome was recorded.
    AfterRecorded,
}

impl CrashPoint {
    /// Every crash point.
    pub const ALL: [CrashPoint; 3] = [
        CrashPoint::AfterAttemptWritten,
        CrashPoint::AfterCaptureBeforeRecord,
        CrashPoint::AfterRecorded,
    ];
}

/// One run of `collect` over a storage and the processor's books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Where it dies, if it does (the first time it reaches that point).
    pub crash: Option<CrashPoint>,
    /// Gateway faults its requests meet, in order.
    pub faults: Vec<Fault>,
    /// How many hours after the run before it it starts: 25 and more
    /// outlive the processor's idempotency keys.
    pub hours_later: u32,
}

/// The panic payload of an injected crash.
struct Crash;

/// A ledger that dies at a crash point.
struct CrashingLedger<L> {
    inner: L,
    crash: Option<CrashPoint>,
    armed: AtomicBool,
}

impl<L: Ledger> CrashingLedger<L> {
    fn die_at(&self, point: CrashPoint) {
        if self.crash == Some(point) && self.armed.swap(false, Ordering::SeqCst) {
            std::panic::panic_any(Crash);
        }
    }
}

impl<L: Ledger> Ledger for CrashingLedger<L> {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        self.inner.issue(invoices)
    }
    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        self.inner.get(id)
    }
    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
        self.inner.begin_attempts(attempts)?;
        self.die_at(CrashPoint::AfterAttemptWritten);
        Ok(())
    }
    fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError> {
        self.inner.finish_attempts(updates)?;
        self.die_at(CrashPoint::AfterRecorded);
        Ok(())
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

/// A gateway that dies right after the processor captured.
struct CrashingGateway<G> {
    inner: G,
    armed: AtomicBool,
}

impl<G: PaymentGateway> PaymentGateway for CrashingGateway<G> {
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        let reply = self.inner.charge(request);
        if reply.is_ok() && self.armed.swap(false, Ordering::SeqCst) {
            std::panic::panic_any(Crash);
        }
        reply
    }
    fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        self.inner.lookup(key)
    }
    fn find_captures(&self, references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        self.inner.find_captures(references)
    }

    fn refund(&self, request: &RefundRequest) -> Result<Refund, GatewayError> {
        self.inner.refund(request)
    }
    fn lookup_refund(&self, key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        self.inner.lookup_refund(key)
    }
}

/// Runs `collect_all` over two worked-example invoices paid with `token`
/// (ids `<prefix>CRASH-1` and `<prefix>CRASH-2`, so that several schedules
/// can share one storage),
/// once per entry of `runs` (each a fresh service and gateway on the same
/// storage and processor books, dying where the run says), then twice more
/// without faults or crash, and checks after every run that each invoice
/// was captured 0 times or once for exactly its total, and after the last
/// that each is paid exactly when it was captured, with the captured
/// charge's id.
pub fn crash_and_rerun<L: Ledger>(
    open: &dyn Fn() -> L,
    prefix: &str,
    token: TestToken,
    runs: &[Run],
) {
    let ids = [
        id(&format!("{prefix}CRASH-1")),
        id(&format!("{prefix}CRASH-2")),
    ];
    let invoices: Vec<Invoice> = ids
        .iter()
        .map(|id| worked_example(id.as_str(), &token.to_string()))
        .collect();
    issue_all(open, &invoices);
    let books = Arc::new(InMemoryBooks::new());
    let clock = clock();
    let last = Run {
        crash: None,
        faults: Vec::new(),
        hours_later: 0,
    };
    // Two clean runs: the first may only learn, by a lookup, that a crashed
    // run's attempt was declined; the second then pays with a new attempt.
    for run in runs.iter().chain([&last, &last]) {
        clock.advance(Duration::from_secs(u64::from(run.hours_later) * 3600));
        let gateway = CrashingGateway {
            inner: FakeGateway::with_books(Arc::clone(&books)).with_clock(clock.clone()),
            armed: AtomicBool::new(run.crash == Some(CrashPoint::AfterCaptureBeforeRecord)),
        };
        gateway.inner.push_faults(run.faults.iter().copied());
        let ledger = CrashingLedger {
            inner: open(),
            crash: run.crash,
            armed: AtomicBool::new(true),
        };
        let service = BillingService::new(
            &gateway,
            &ledger,
            RecordingSleeper::new(),
            clock.clone(),
            policy(3),
        );
        let outcome = catch_unwind(AssertUnwindSafe(|| service.collect_all(&ids)));
        if let Err(payload) = outcome
            && !payload.is::<Crash>()
        {
            std::panic::resume_unwind(payload);
        }
        let processor = FakeGateway::with_books(Arc::clone(&books));
        for invoice in &ids {
            let captures = processor.captures_for(invoice.as_str());
            assert!(
                captures.len() <= 1,
                "{invoice} captured {} times: {runs:?}",
                captures.len()
            );
            let total = processor.captured_total_for(invoice.as_str(), Currency::Usd);
            assert!(
                total == 0 || total == i128::from(WORKED_TOTAL),
                "{invoice} captured {total}: {runs:?}"
            );
        }
    }
    let processor = FakeGateway::with_books(Arc::clone(&books));
    for invoice in &ids {
        let captures = processor.captures_for(invoice.as_str());
        let status = record(&open(), invoice.as_str()).status();
        match (captures.first(), &status) {
            (Some(capture), InvoiceStatus::Paid(Payment::Charged(charge))) => {
                assert_eq!(charge, capture.charge(), "{invoice}: {runs:?}");
            }
            (None, status) => assert!(
                !status.is_paid(),
                "{invoice} paid without a capture: {runs:?}"
            ),
            (Some(_), status) => {
                panic!("{invoice} captured but {status:?} after the last run: {runs:?}")
            }
        }
        if matches!(
            token,
            TestToken::Success | TestToken::ReplyLost | TestToken::RequestLost
        ) {
            assert!(
                status.is_paid(),
                "{invoice} is {status:?} after a clean last run: {runs:?}"
            );
        }
    }
}

/// A crash at each point of `collect`, for each kind of card, then a rerun
/// (right away and 25 hours later): every invoice ends captured once and
/// paid with that charge, or neither.
pub fn a_crash_at_every_point_of_collect_is_resumed_with_one_capture<L: Ledger>(
    open: &dyn Fn() -> L,
) {
    // A panic message per injected crash would drown the test output.
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<Crash>() {
            quiet(info);
        }
    }));
    let tokens = [
        TestToken::Success,
        TestToken::ReplyLost,
        TestToken::RequestLost,
        TestToken::Transient { failures: 2 },
        TestToken::Decline(DeclineCode::InsufficientFunds),
    ];
    for (n, token) in tokens.into_iter().enumerate() {
        for (m, point) in CrashPoint::ALL.into_iter().enumerate() {
            for hours_later in [0, 25] {
                crash_and_rerun(
                    open,
                    &format!("{n}{m}{hours_later}-"),
                    token,
                    &[
                        Run {
                            crash: Some(point),
                            faults: Vec::new(),
                            hours_later: 0,
                        },
                        Run {
                            crash: Some(point),
                            faults: vec![Fault::ReplyLost],
                            hours_later,
                        },
                    ],
                );
            }
        }
    }
}
