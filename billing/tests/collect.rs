//! `collect` against the fake gateway, without network and without sleeping:
//! the Rust counterpart of the lesson's `test_billing.py`. Every assertion
//! about money is made on the fake's record of what it captured, not on what
//! the billing service believes.

// Fixture helpers build invoices from literals known to be valid; a panic
// there is a broken test, reported as a failure.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use billing::{
    Attempt, AttemptOutcome, AttemptUpdate, BillingError, BillingService, CustomerId,
    InMemoryLedger, Invoice, InvoiceFilter, InvoiceId, InvoiceRecord, InvoiceStatus, IssueOutcome,
    IssuedInvoice, Ledger, LedgerError, Payment, RecordingSleeper, RetryPolicy,
};
use payment_gateway::{
    Amount, Capture, Charge, ChargeId, ChargeRequest, Currency, DeclineCode, FakeGateway, Fault,
    GatewayError, IdempotencyKey, InvalidRequest, Lookup, ManualClock, PaymentGateway,
    PaymentMethod, Refund, RefundRequest,
};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};

/// The worked example's total: 141.69.
const TOTAL: i64 = 14169;
const BASE: Duration = Duration::from_millis(100);

fn worked_example() -> PricingInput {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap()
}

fn invoice_with(id: &str, token: &str, pricing: PricingInput) -> Invoice {
    Invoice::new(
        InvoiceId::new(id).unwrap(),
        CustomerId::new("cus_1").unwrap(),
        PaymentMethod::new(token).unwrap(),
        Currency::Usd,
        pricing,
    )
}

fn id(text: &str) -> InvoiceId {
    InvoiceId::new(text).unwrap()
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::new(max_attempts, BASE, Duration::from_secs(10)).unwrap()
}

/// A ledger holding `invoices`, issued.
fn issued(invoices: impl IntoIterator<Item = Invoice>) -> InMemoryLedger {
    let ledger = InMemoryLedger::new();
    issue_into(&ledger, invoices);
    ledger
}

fn issue_into(ledger: &impl Ledger, invoices: impl IntoIterator<Item = Invoice>) {
    let service = BillingService::new(
        FakeGateway::new(),
        ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(1),
    );
    for invoice in invoices {
        service.issue(&invoice).unwrap();
    }
}

/// A fake gateway, a ledger holding one issued invoice `INV-1` paid with
/// `token`, a recording sleeper and a clock that stands still.
struct Fixture {
    gateway: FakeGateway,
    ledger: InMemoryLedger,
    sleeper: RecordingSleeper,
    clock: ManualClock,
}

impl Fixture {
    fn new(token: &str) -> Fixture {
        Fixture::with_gateway(token, FakeGateway::new())
    }

    fn with_gateway(token: &str, gateway: FakeGateway) -> Fixture {
        Fixture {
            gateway,
            ledger: issued([invoice_with("INV-1", token, worked_example())]),
            sleeper: RecordingSleeper::new(),
            clock: ManualClock::default(),
        }
    }

    fn service(
        &self,
        max_attempts: u32,
    ) -> BillingService<&FakeGateway, &InMemoryLedger, &RecordingSleeper, &ManualClock> {
        BillingService::new(
            &self.gateway,
            &self.ledger,
            &self.sleeper,
            &self.clock,
            policy(max_attempts),
        )
    }

    fn record(&self) -> InvoiceRecord {
        self.ledger.get(&id("INV-1")).unwrap().unwrap()
    }

    fn status(&self) -> InvoiceStatus {
        self.record().status()
    }

    /// Money the fake captured for INV-1, in cents.
    fn captured(&self) -> i128 {
        self.gateway.captured_total_for("INV-1", Currency::Usd)
    }

    fn keys_sent(&self) -> Vec<String> {
        self.gateway
            .requests()
            .iter()
            .map(|request| request.idempotency_key().as_str().to_owned())
            .collect()
    }

    fn only_captured_charge(&self) -> Charge {
        let captures = self.gateway.captures();
        assert_eq!(captures.len(), 1, "expected exactly one capture");
        captures[0].charge().clone()
    }
}

#[test]
fn a_successful_charge_captures_the_total_once_and_marks_the_invoice_paid_with_its_id() {
    let fixture = Fixture::new("tok_success");

    let payment = fixture.service(3).collect(&id("INV-1")).unwrap();

    let captured = fixture.only_captured_charge();
    assert_eq!(fixture.captured(), i128::from(TOTAL));
    assert_eq!(
        captured.amount(),
        Amount::new(TOTAL, Currency::Usd).unwrap()
    );
    assert_eq!(payment, Payment::Charged(captured.clone()));
    assert_eq!(
        fixture.status(),
        InvoiceStatus::Paid(Payment::Charged(captured))
    );
    assert_eq!(fixture.keys_sent(), ["invoice:INV-1:attempt:1"]);
    assert!(fixture.sleeper.delays().is_empty());
}

#[test]
fn each_decline_code_is_recorded_and_nothing_is_captured_or_retried() {
    for code in DeclineCode::ALL {
        let fixture = Fixture::new(&format!("tok_{code}"));

        let result = fixture.service(5).collect(&id("INV-1"));

        assert_eq!(
            result,
            Err(BillingError::Declined {
                invoice: id("INV-1"),
                code
            }),
            "{code}"
        );
        assert_eq!(fixture.status(), InvoiceStatus::PaymentFailed { code });
        assert_eq!(fixture.captured(), 0, "{code}");
        assert_eq!(fixture.gateway.request_count(), 1, "{code}");
        assert!(fixture.sleeper.delays().is_empty(), "{code}");
    }
}

#[test]
fn transient_failures_then_success_capture_exactly_once_under_one_key() {
    let fixture = Fixture::new("tok_transient_2");

    let payment = fixture.service(4).collect(&id("INV-1")).unwrap();

    assert_eq!(payment, Payment::Charged(fixture.only_captured_charge()));
    assert_eq!(fixture.captured(), i128::from(TOTAL));
    assert_eq!(fixture.keys_sent(), ["invoice:INV-1:attempt:1"; 3]);
    assert_eq!(fixture.sleeper.delays(), [BASE, BASE * 2]);
    assert!(fixture.status().is_paid());
}

#[test]
fn a_lost_reply_is_retried_with_the_same_key_and_captures_once() {
    let fixture = Fixture::new("tok_reply_lost");

    let payment = fixture.service(3).collect(&id("INV-1")).unwrap();

    // The retry found the charge the lost reply was about, not a new one.
    assert_eq!(payment, Payment::Charged(fixture.only_captured_charge()));
    assert_eq!(fixture.captured(), i128::from(TOTAL));
    assert_eq!(fixture.keys_sent(), ["invoice:INV-1:attempt:1"; 2]);
    assert!(fixture.status().is_paid());
}

#[test]
fn a_lost_request_is_retried_and_captures_once() {
    let fixture = Fixture::new("tok_request_lost");

    let payment = fixture.service(3).collect(&id("INV-1")).unwrap();

    assert_eq!(payment, Payment::Charged(fixture.only_captured_charge()));
    assert_eq!(fixture.keys_sent(), ["invoice:INV-1:attempt:1"; 2]);
}

#[test]
fn exhausted_retries_leave_the_invoice_unknown_and_report_a_retryable_error() {
    let fixture = Fixture::new("tok_transient_5");

    let error = fixture.service(3).collect(&id("INV-1")).unwrap_err();

    assert!(
        matches!(
            &error,
            BillingError::RetriesExhausted {
                attempts: 3,
                last: GatewayError::Transient { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert!(error.to_string().contains("collecting it again is safe"));
    assert_eq!(fixture.status(), InvoiceStatus::Unknown);
    assert_eq!(fixture.captured(), 0);
    assert_eq!(fixture.sleeper.delays(), [BASE, BASE * 2]);
}

#[test]
fn collecting_again_after_exhausted_retries_reuses_the_key_and_captures_once() {
    let fixture = Fixture::new("tok_transient_5");
    let service = fixture.service(3);
    assert!(service.collect(&id("INV-1")).unwrap_err().is_retryable());

    let payment = service.collect(&id("INV-1")).unwrap();

    assert_eq!(payment, Payment::Charged(fixture.only_captured_charge()));
    assert_eq!(fixture.keys_sent(), ["invoice:INV-1:attempt:1"; 6]);
}

#[test]
fn a_charge_whose_reply_was_lost_is_found_by_the_next_collect_not_repeated() {
    // The first request captures but its reply is lost, and the retries
    // after it fail too: the outcome is unknown while the money is captured.
    let fixture = Fixture::with_gateway(
        "tok_success",
        FakeGateway::with_faults([Fault::ReplyLost, Fault::Unavailable, Fault::Unavailable]),
    );
    let service = fixture.service(3);
    let error = service.collect(&id("INV-1")).unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(fixture.status(), InvoiceStatus::Unknown);
    assert_eq!(fixture.captured(), i128::from(TOTAL));

    let payment = service.collect(&id("INV-1")).unwrap();

    assert_eq!(payment, Payment::Charged(fixture.only_captured_charge()));
    assert_eq!(fixture.captured(), i128::from(TOTAL));
    assert!(fixture.status().is_paid());
}

#[test]
fn changing_the_card_while_a_charge_is_in_doubt_settles_the_first_charge_instead_of_charging_the_new_card()
 {
    // A lost reply leaves the first card's charge in doubt; then the
    // customer switches cards. The attempt in doubt keeps its card and key,
    // so the next collect asks the processor about it, finds the capture,
    // and never charges the new card.
    let fixture = Fixture::new("tok_reply_lost");
    let service = fixture.service(1);
    assert!(service.collect(&id("INV-1")).unwrap_err().is_retryable());
    assert_eq!(fixture.status(), InvoiceStatus::Unknown);
    service
        .change_payment_method(&id("INV-1"), &PaymentMethod::new("tok_success").unwrap())
        .unwrap();

    let payment = service.collect(&id("INV-1")).unwrap();

    assert_eq!(payment, Payment::Charged(fixture.only_captured_charge()));
    assert_eq!(fixture.gateway.capture_count(), 1);
    assert_eq!(fixture.captured(), i128::from(TOTAL));
    assert_eq!(fixture.keys_sent(), ["invoice:INV-1:attempt:1"]);
    assert_eq!(fixture.gateway.lookup_count(), 1);
    assert_eq!(
        fixture.gateway.captures()[0]
            .request()
            .payment_method()
            .as_str(),
        "tok_reply_lost"
    );
}

#[test]
fn an_idempotency_conflict_is_recorded_as_unknown_and_moves_no_more_money() {
    // Someone used the invoice's key for another amount first (a bug
    // elsewhere, or another system, under another reference: a capture
    // under the invoice's own reference would be found before sending): the
    // processor refuses the charge, and the attempt is left for a person to
    // reconcile.
    let fixture = Fixture::new("tok_success");
    let foreign = ChargeRequest::new(
        IdempotencyKey::new("invoice:INV-1:attempt:1").unwrap(),
        PaymentMethod::new("tok_success").unwrap(),
        Amount::new(100, Currency::Usd).unwrap(),
        "OTHER-SYSTEM",
    );
    fixture.gateway.charge(&foreign).unwrap();

    let error = fixture.service(3).collect(&id("INV-1")).unwrap_err();

    assert!(
        matches!(
            &error,
            BillingError::IdempotencyConflict {
                error: GatewayError::IdempotencyConflict { .. },
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert!(
        error
            .to_string()
            .starts_with("invoice INV-1 needs reconciling with the processor: ")
    );
    assert_eq!(fixture.status(), InvoiceStatus::Unknown);
    assert_eq!(fixture.gateway.capture_count(), 1);
    assert_eq!(
        fixture
            .gateway
            .captured_total_for("OTHER-SYSTEM", Currency::Usd),
        100
    );
    assert_eq!(fixture.captured(), 0);
}

#[test]
fn collecting_a_paid_invoice_twice_does_not_charge_again() {
    let fixture = Fixture::new("tok_success");
    let service = fixture.service(3);
    let first = service.collect(&id("INV-1")).unwrap();

    let second = service.collect(&id("INV-1")).unwrap();

    assert_eq!(first, second);
    assert_eq!(fixture.gateway.capture_count(), 1);
    assert_eq!(fixture.gateway.request_count(), 1);
    assert_eq!(fixture.captured(), i128::from(TOTAL));
}

#[test]
fn a_zero_total_is_paid_without_a_charge() {
    let free = PricingInput::new(
        vec![LineItem::new("0".parse().unwrap(), "5".parse().unwrap())],
        Tier::None,
        false,
        DaysOverdue::from(90),
    )
    .unwrap();
    let gateway = FakeGateway::new();
    let ledger = issued([invoice_with("FREE", "tok_success", free)]);
    let sleeper = RecordingSleeper::new();
    let service = BillingService::new(
        &gateway,
        &ledger,
        &sleeper,
        ManualClock::default(),
        policy(3),
    );

    let payment = service.collect(&id("FREE")).unwrap();

    assert_eq!(payment, Payment::NothingDue);
    let record = service.invoice(&id("FREE")).unwrap();
    assert_eq!(record.status(), InvoiceStatus::Paid(Payment::NothingDue));
    assert!(record.attempts().is_empty());
    assert_eq!(gateway.request_count(), 0);
    assert_eq!(gateway.capture_count(), 0);
}

#[test]
fn backoff_delays_double_from_the_base_and_stop_at_the_cap() {
    let fixture = Fixture::new("tok_transient_6");
    let capped = RetryPolicy::new(7, BASE, BASE * 5).unwrap();
    let service = BillingService::new(
        &fixture.gateway,
        &fixture.ledger,
        &fixture.sleeper,
        &fixture.clock,
        capped,
    );

    service.collect(&id("INV-1")).unwrap();

    assert_eq!(
        fixture.sleeper.delays(),
        [BASE, BASE * 2, BASE * 4, BASE * 5, BASE * 5, BASE * 5]
    );
    assert_eq!(fixture.gateway.capture_count(), 1);
}

#[test]
fn a_single_attempt_policy_never_sleeps() {
    let fixture = Fixture::new("tok_transient_1");

    let error = fixture.service(1).collect(&id("INV-1")).unwrap_err();

    assert!(matches!(
        error,
        BillingError::RetriesExhausted { attempts: 1, .. }
    ));
    assert!(fixture.sleeper.delays().is_empty());
    assert_eq!(fixture.gateway.request_count(), 1);
}

#[test]
fn a_declined_invoice_collected_again_is_a_new_attempt_under_a_new_key() {
    let fixture = Fixture::with_gateway(
        "tok_success",
        FakeGateway::with_faults([Fault::Decline(DeclineCode::InsufficientFunds)]),
    );
    let service = fixture.service(3);
    assert!(matches!(
        service.collect(&id("INV-1")),
        Err(BillingError::Declined {
            code: DeclineCode::InsufficientFunds,
            ..
        })
    ));

    let payment = service.collect(&id("INV-1")).unwrap();

    assert_eq!(payment, Payment::Charged(fixture.only_captured_charge()));
    assert_eq!(
        fixture.keys_sent(),
        ["invoice:INV-1:attempt:1", "invoice:INV-1:attempt:2"]
    );
    assert_eq!(
        fixture.status(),
        InvoiceStatus::Paid(Payment::Charged(fixture.only_captured_charge()))
    );
}

#[test]
fn a_declined_invoice_can_be_paid_with_a_new_payment_method() {
    let fixture = Fixture::new("tok_expired_card");
    let service = fixture.service(3);
    assert!(service.collect(&id("INV-1")).is_err());
    service
        .change_payment_method(&id("INV-1"), &PaymentMethod::new("tok_success").unwrap())
        .unwrap();

    service.collect(&id("INV-1")).unwrap();

    let captures = fixture.gateway.captures();
    assert_eq!(captures.len(), 1);
    assert_eq!(
        captures[0].request().payment_method().as_str(),
        "tok_success"
    );
    assert_eq!(
        captures[0].request().idempotency_key().as_str(),
        "invoice:INV-1:attempt:2"
    );
}

#[test]
fn an_unknown_payment_method_is_refused_and_the_invoice_stays_open() {
    let fixture = Fixture::new("pm_card_visa");

    let error = fixture.service(3).collect(&id("INV-1")).unwrap_err();

    assert_eq!(
        error,
        BillingError::ChargeRejected {
            invoice: id("INV-1"),
            error: InvalidRequest::UnknownPaymentMethod("pm_card_visa".to_owned()),
        }
    );
    assert!(!error.is_retryable());
    assert_eq!(fixture.status(), InvoiceStatus::Open);
    assert_eq!(fixture.gateway.request_count(), 1);
    assert_eq!(fixture.captured(), 0);
}

#[test]
fn an_unknown_invoice_is_reported_not_found_and_nothing_is_charged() {
    let fixture = Fixture::new("tok_success");

    let error = fixture.service(3).collect(&id("INV-404")).unwrap_err();

    assert_eq!(error, BillingError::NotFound(id("INV-404")));
    assert_eq!(error.to_string(), "invoice INV-404 not found");
    assert_eq!(fixture.gateway.request_count(), 0);
}

#[test]
fn an_invoice_pricing_refuses_is_not_issued_and_so_never_charged() {
    let billion = || LineItem::new("1000000000".parse().unwrap(), "1000000".parse().unwrap());
    let too_large = PricingInput::new(vec![billion(); 11], Tier::None, false, 0.into()).unwrap();
    let gateway = FakeGateway::new();
    let ledger = InMemoryLedger::new();
    let service = BillingService::new(
        &gateway,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    );

    let error = service
        .issue(&invoice_with("BIG", "tok_success", too_large))
        .unwrap_err();

    assert!(matches!(error, BillingError::Pricing { .. }), "{error:?}");
    assert_eq!(ledger.get(&id("BIG")).unwrap(), None);
    assert_eq!(
        service.collect(&id("BIG")),
        Err(BillingError::NotFound(id("BIG")))
    );
    assert_eq!(gateway.request_count(), 0);
}

#[test]
fn a_paid_invoice_keeps_its_payment_method() {
    let fixture = Fixture::new("tok_success");
    let service = fixture.service(3);
    service.collect(&id("INV-1")).unwrap();

    let error = service
        .change_payment_method(
            &id("INV-1"),
            &PaymentMethod::new("tok_card_declined").unwrap(),
        )
        .unwrap_err();

    assert_eq!(
        error,
        BillingError::AlreadyPaid {
            invoice: id("INV-1")
        }
    );
    assert_eq!(
        fixture.record().invoice().payment_method().as_str(),
        "tok_success"
    );
}

#[test]
fn two_invoices_are_charged_under_their_own_keys() {
    let gateway = FakeGateway::new();
    let ledger = issued([
        invoice_with("INV-1", "tok_reply_lost", worked_example()),
        invoice_with("INV-2", "tok_reply_lost", worked_example()),
    ]);
    let service = BillingService::new(
        &gateway,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    );

    service.collect(&id("INV-1")).unwrap();
    service.collect(&id("INV-2")).unwrap();

    assert_eq!(
        gateway.captured_total_for("INV-1", Currency::Usd),
        i128::from(TOTAL)
    );
    assert_eq!(
        gateway.captured_total_for("INV-2", Currency::Usd),
        i128::from(TOTAL)
    );
    assert_eq!(gateway.capture_count(), 2);
}

/// A ledger whose next outcome write can be made to fail once.
#[derive(Default)]
struct FlakyLedger {
    inner: InMemoryLedger,
    fail_next_finish: AtomicBool,
}

impl Ledger for FlakyLedger {
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
        if self.fail_next_finish.swap(false, Ordering::SeqCst) {
            return Err(LedgerError::new("disk full"));
        }
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

#[test]
fn a_payment_the_ledger_failed_to_record_is_recorded_by_the_next_collect_without_a_second_charge() {
    let gateway = FakeGateway::new();
    let ledger = FlakyLedger::default();
    issue_into(
        &ledger,
        [invoice_with("INV-1", "tok_success", worked_example())],
    );
    ledger.fail_next_finish.store(true, Ordering::SeqCst);
    let service = BillingService::new(
        &gateway,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    );

    let error = service.collect(&id("INV-1")).unwrap_err();

    assert!(
        matches!(&error, BillingError::PaymentNotRecorded { charge_id, .. } if charge_id.as_str() == "ch_fake_000001"),
        "{error:?}"
    );
    assert!(error.is_retryable());
    // The pending attempt, written before the request, is what remains.
    assert_eq!(
        service.invoice(&id("INV-1")).unwrap().status(),
        InvoiceStatus::Unknown
    );

    let payment = service.collect(&id("INV-1")).unwrap();

    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.request_count(), 1);
    assert_eq!(
        payment,
        Payment::Charged(gateway.captures()[0].charge().clone())
    );
    assert!(service.invoice(&id("INV-1")).unwrap().status().is_paid());
}

/// A gateway that reports capturing one cent less than asked.
struct ShortChangingGateway;

impl PaymentGateway for ShortChangingGateway {
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        let amount = request.amount();
        Ok(Charge::new(
            ChargeId::new("ch_short").unwrap(),
            Amount::new(amount.minor_units() - 1, amount.currency())?,
        ))
    }

    fn lookup(&self, _key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        Ok(Lookup::NotFound)
    }

    fn find_captures(&self, _references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        Ok(Vec::new())
    }

    fn refund(&self, _request: &RefundRequest) -> Result<Refund, GatewayError> {
        Err(GatewayError::Transient {
            reason: "not used".to_owned(),
        })
    }

    fn lookup_refund(&self, _key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        Ok(None)
    }
}

#[test]
fn a_charge_of_the_wrong_amount_leaves_the_invoice_unknown_for_reconciliation() {
    let ledger = issued([invoice_with("INV-1", "tok_success", worked_example())]);
    let service = BillingService::new(
        ShortChangingGateway,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    );

    let error = service.collect(&id("INV-1")).unwrap_err();

    assert_eq!(
        error.to_string(),
        "invoice INV-1 was charged 141.68 USD by charge ch_short, not its total of 141.69 USD; it needs reconciling"
    );
    assert_eq!(
        service.invoice(&id("INV-1")).unwrap().status(),
        InvoiceStatus::Unknown
    );
}

/// A ledger that reads in batches only, or whose batch read is broken, to
/// show which read `collect_all` uses.
struct BatchReads {
    inner: InMemoryLedger,
    get_fails: bool,
    get_all_short: bool,
}

impl Ledger for BatchReads {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        self.inner.issue(invoices)
    }
    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        if self.get_fails {
            return Err(LedgerError::new("one by one is not supported"));
        }
        self.inner.get(id)
    }
    fn get_all(&self, ids: &[InvoiceId]) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
        let mut records = self.inner.get_all(ids)?;
        if self.get_all_short {
            records.pop();
        }
        Ok(records)
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

fn collect_two_through(ledger: &BatchReads) -> Vec<Result<Payment, BillingError>> {
    issue_into(
        ledger,
        [
            invoice_with("INV-1", "tok_success", worked_example()),
            invoice_with("INV-2", "tok_success", worked_example()),
        ],
    );
    let service = BillingService::new(
        FakeGateway::new(),
        ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    );
    service.collect_all(&[id("INV-1"), id("INV-2")])
}

#[test]
fn a_batch_collect_reads_its_invoices_in_one_batch_read() {
    let ledger = BatchReads {
        inner: InMemoryLedger::new(),
        get_fails: true,
        get_all_short: false,
    };

    let results = collect_two_through(&ledger);

    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[test]
fn a_batch_read_that_answers_for_fewer_invoices_is_replaced_by_single_reads() {
    let ledger = BatchReads {
        inner: InMemoryLedger::new(),
        get_fails: false,
        get_all_short: true,
    };

    let results = collect_two_through(&ledger);

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(ledger.inner.records().len(), 2);
    assert!(ledger.inner.records().iter().all(|r| r.status().is_paid()));
}

/// A ledger that counts reads and can fail its next appends.
#[derive(Default)]
struct Instrumented {
    inner: InMemoryLedger,
    failing_begins: std::sync::atomic::AtomicU32,
    gets: std::sync::atomic::AtomicU32,
    unsettled_reads: std::sync::atomic::AtomicU32,
}

impl Instrumented {
    fn count(counter: &std::sync::atomic::AtomicU32) -> u32 {
        counter.load(Ordering::SeqCst)
    }
}

impl Ledger for Instrumented {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        self.inner.issue(invoices)
    }
    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id)
    }
    fn get_all(&self, ids: &[InvoiceId]) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
        self.inner.get_all(ids)
    }
    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
        let failing = self
            .failing_begins
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(LedgerError::new("disk full"));
        }
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
        self.unsettled_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.unsettled_attempts(after, limit)
    }
    fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError> {
        self.inner.credited_before_payment(ids)
    }
}

fn service_on<'a>(
    gateway: &'a FakeGateway,
    ledger: &'a Instrumented,
) -> BillingService<&'a FakeGateway, &'a Instrumented, RecordingSleeper, ManualClock> {
    BillingService::new(
        gateway,
        ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    )
}

#[test]
fn an_attempt_the_ledger_failed_to_write_is_not_sent_and_not_written_again() {
    let ledger = Instrumented::default();
    issue_into(
        &ledger,
        [invoice_with("INV-1", "tok_success", worked_example())],
    );
    ledger.failing_begins.store(1, Ordering::SeqCst);
    let gateway = FakeGateway::new();

    let error = service_on(&gateway, &ledger)
        .collect(&id("INV-1"))
        .unwrap_err();

    assert_eq!(
        error,
        BillingError::Repository(LedgerError::new("disk full"))
    );
    assert!(error.is_retryable());
    assert_eq!(gateway.request_count(), 0);
    assert!(ledger.inner.records()[0].attempts().is_empty());
    // A storage failure is not a race: nothing is read again to re-plan.
    assert_eq!(Instrumented::count(&ledger.gets), 0);
}

#[test]
fn when_a_batch_of_attempts_cannot_be_written_each_is_written_on_its_own() {
    let ledger = Instrumented::default();
    issue_into(
        &ledger,
        [
            invoice_with("INV-1", "tok_success", worked_example()),
            invoice_with("INV-2", "tok_success", worked_example()),
        ],
    );
    ledger.failing_begins.store(2, Ordering::SeqCst);
    let gateway = FakeGateway::new();

    let results = service_on(&gateway, &ledger).collect_all(&[id("INV-1"), id("INV-2")]);

    // The batch and INV-1's own write failed; INV-2's went through.
    assert_eq!(
        results[0],
        Err(BillingError::Repository(LedgerError::new("disk full")))
    );
    assert!(results[1].is_ok(), "{:?}", results[1]);
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 0);
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(Instrumented::count(&ledger.gets), 0);
}

#[test]
fn when_a_batch_of_outcomes_cannot_be_recorded_each_is_recorded_on_its_own() {
    let ledger = FlakyLedger::default();
    issue_into(
        &ledger,
        [
            invoice_with("INV-1", "tok_success", worked_example()),
            invoice_with("INV-2", "tok_card_declined", worked_example()),
        ],
    );
    ledger.fail_next_finish.store(true, Ordering::SeqCst);
    let gateway = FakeGateway::new();
    let service = BillingService::new(
        &gateway,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    );

    let results = service.collect_all(&[id("INV-1"), id("INV-2")]);

    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(matches!(results[1], Err(BillingError::Declined { .. })));
    assert!(service.invoice(&id("INV-1")).unwrap().status().is_paid());
    assert_eq!(
        service.invoice(&id("INV-2")).unwrap().status(),
        InvoiceStatus::PaymentFailed {
            code: DeclineCode::CardDeclined
        }
    );
}

#[test]
fn reconcile_reads_every_page_of_unsettled_attempts_and_no_more() {
    let ledger = Instrumented::default();
    let invoices: Vec<Invoice> = (0..501)
        .map(|n| invoice_with(&format!("INV-{n:03}"), "tok_success", worked_example()))
        .collect();
    issue_into(&ledger, invoices.clone());
    let attempts: Vec<Attempt> = invoices
        .iter()
        .map(|invoice| pending_attempt(invoice.id()))
        .collect();
    ledger.inner.begin_attempts(&attempts).unwrap();
    let gateway = FakeGateway::new();

    let report = service_on(&gateway, &ledger).reconcile().unwrap();

    // A fresh processor has no record of any: each looked up, none settled.
    assert_eq!(
        (
            report.settled(),
            report.still_unknown(),
            report.not_at_processor()
        ),
        (0, 501, 501)
    );
    // 500, then 1, and no third read.
    assert_eq!(Instrumented::count(&ledger.unsettled_reads), 2);

    let small = Instrumented::default();
    issue_into(
        &small,
        [invoice_with("ONE", "tok_success", worked_example())],
    );
    small
        .inner
        .begin_attempts(&[pending_attempt(&id("ONE"))])
        .unwrap();
    let report = service_on(&gateway, &small).reconcile().unwrap();
    assert_eq!(report.not_at_processor(), 1);
    assert_eq!(Instrumented::count(&small.unsettled_reads), 1);
}

/// A pending first attempt for the worked example, written by a run that
/// then died.
fn pending_attempt(invoice: &InvoiceId) -> Attempt {
    let ledger = issued([invoice_with(
        invoice.as_str(),
        "tok_success",
        worked_example(),
    )]);
    let gateway = FakeGateway::with_faults([Fault::RequestLost]);
    let service = BillingService::new(
        &gateway,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(1),
    );
    let _lost = service.collect(invoice);
    let unknown = ledger.get(invoice).unwrap().unwrap().attempts()[0].clone();
    Attempt::restore(
        unknown.invoice().clone(),
        1,
        unknown.key().as_str(),
        unknown.payment_method().clone(),
        unknown.amount(),
        AttemptOutcome::Pending,
        unknown.created_at(),
        unknown.updated_at(),
    )
    .unwrap()
}

/// A gateway whose lookups report a capture of one cent less than asked.
struct ShortLookups;

impl PaymentGateway for ShortLookups {
    fn charge(&self, _request: &ChargeRequest) -> Result<Charge, GatewayError> {
        Err(GatewayError::Transient {
            reason: "not used".to_owned(),
        })
    }

    fn lookup(&self, _key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        Ok(Lookup::Captured(Charge::new(
            ChargeId::new("ch_short").unwrap(),
            Amount::new(TOTAL - 1, Currency::Usd).unwrap(),
        )))
    }

    fn find_captures(&self, _references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        Ok(Vec::new())
    }

    fn refund(&self, _request: &RefundRequest) -> Result<Refund, GatewayError> {
        Err(GatewayError::Transient {
            reason: "not used".to_owned(),
        })
    }

    fn lookup_refund(&self, _key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        Ok(None)
    }
}

#[test]
fn reconcile_leaves_an_attempt_unknown_when_the_processor_captured_another_amount() {
    let ledger = issued([invoice_with("INV-1", "tok_success", worked_example())]);
    ledger
        .begin_attempts(&[pending_attempt(&id("INV-1"))])
        .unwrap();
    let service = BillingService::new(
        ShortLookups,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(3),
    );

    let report = service.reconcile().unwrap();

    assert_eq!((report.settled(), report.still_unknown()), (0, 1));
    assert_eq!(
        service.invoice(&id("INV-1")).unwrap().status(),
        InvoiceStatus::Unknown
    );
}

/// A processor that, while `reconcile` looks INV-1 up, sees another run
/// record INV-1's capture under another charge id first.
struct RacedLookups<'a> {
    ledger: &'a InMemoryLedger,
}

impl PaymentGateway for RacedLookups<'_> {
    fn charge(&self, _request: &ChargeRequest) -> Result<Charge, GatewayError> {
        Err(GatewayError::Transient {
            reason: "not used".to_owned(),
        })
    }

    fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        let charge = |id: &str| {
            Charge::new(
                ChargeId::new(id).unwrap(),
                Amount::new(TOTAL, Currency::Usd).unwrap(),
            )
        };
        if key.as_str().starts_with("invoice:INV-1:") {
            let other_run = AttemptUpdate::new(
                id("INV-1"),
                1,
                AttemptOutcome::Captured(ChargeId::new("ch_other_run").unwrap()),
                std::time::UNIX_EPOCH,
            );
            self.ledger.finish_attempts(&[other_run]).unwrap();
            return Ok(Lookup::Captured(charge("ch_seen_here")));
        }
        Ok(Lookup::Captured(charge("ch_inv_2")))
    }

    fn find_captures(&self, _references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        Ok(Vec::new())
    }

    fn refund(&self, _request: &RefundRequest) -> Result<Refund, GatewayError> {
        Err(GatewayError::Transient {
            reason: "not used".to_owned(),
        })
    }

    fn lookup_refund(&self, _key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        Ok(None)
    }
}

/// A service on `ledger` whose processor races another run (see
/// [`RacedLookups`]).
fn raced(
    ledger: &InMemoryLedger,
) -> BillingService<RacedLookups<'_>, &InMemoryLedger, RecordingSleeper, ManualClock> {
    BillingService::new(
        RacedLookups { ledger },
        ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy(1),
    )
}

#[test]
fn an_outcome_another_run_records_meanwhile_stands_and_the_others_are_still_settled() {
    let ledger = issued([
        invoice_with("INV-1", "tok_success", worked_example()),
        invoice_with("INV-2", "tok_success", worked_example()),
    ]);
    ledger
        .begin_attempts(&[pending_attempt(&id("INV-1")), pending_attempt(&id("INV-2"))])
        .unwrap();
    let service = raced(&ledger);

    let report = service.reconcile().unwrap();

    assert_eq!(
        (
            report.settled(),
            report.captured(),
            report.changed_meanwhile()
        ),
        (1, 1, 1)
    );
    assert_eq!(report.still_unknown(), 0);
    let paid_with = |invoice: &str| match service.invoice(&id(invoice)).unwrap().payment() {
        Some(Payment::Charged(charge)) => charge.id().as_str().to_owned(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        paid_with("INV-1"),
        "ch_other_run",
        "the first capture stands"
    );
    assert_eq!(paid_with("INV-2"), "ch_inv_2");
}

#[test]
fn a_ledger_that_cannot_record_what_reconcile_learned_is_an_error_not_a_race() {
    let ledger = issued([invoice_with("INV-1", "tok_success", worked_example())]);
    ledger
        .begin_attempts(&[pending_attempt(&id("INV-1"))])
        .unwrap();
    let service = raced(&ledger);
    // The other run's write is the last the disk has room for.
    ledger.fill_disk_after(1);

    let error = service.reconcile().unwrap_err();

    assert!(error.to_string().contains("disk full"), "{error}");
}
