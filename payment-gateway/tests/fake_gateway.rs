//! The fake gateway behaves like a card processor's test mode: tokens decide
//! outcomes, faults can be scripted, idempotency holds, and its record of
//! captured money is exact.

// The helpers below build requests from literals known to be valid; a panic
// there is a broken test, reported as a failure.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use payment_gateway::{
    Amount, Charge, ChargeRequest, Currency, DeclineCode, FakeGateway, Fault, GatewayError,
    IdempotencyKey, InvalidRequest, PaymentGateway, PaymentMethod, RequestField, TestToken,
};

fn request(
    key: &str,
    token: &str,
    cents: i64,
    currency: Currency,
    reference: &str,
) -> ChargeRequest {
    ChargeRequest::new(
        IdempotencyKey::new(key).unwrap(),
        PaymentMethod::new(token).unwrap(),
        Amount::new(cents, currency).unwrap(),
        reference,
    )
}

fn usd(key: &str, token: &str, cents: i64) -> ChargeRequest {
    request(key, token, cents, Currency::Usd, "INV-1")
}

fn is_transient(result: &Result<Charge, GatewayError>) -> bool {
    matches!(result, Err(GatewayError::Transient { .. }))
}

fn is_ambiguous(result: &Result<Charge, GatewayError>) -> bool {
    matches!(result, Err(GatewayError::Ambiguous { .. }))
}

#[test]
fn success_token_captures_the_amount_once() {
    let gateway = FakeGateway::new();
    let charge = gateway.charge(&usd("k1", "tok_success", 14169)).unwrap();

    assert_eq!(charge.id().as_str(), "ch_fake_000001");
    assert_eq!(charge.amount(), Amount::new(14169, Currency::Usd).unwrap());
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 14169);
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Eur), 0);
    assert_eq!(gateway.captured_total_for("INV-2", Currency::Usd), 0);
    let captures = gateway.captures_for("INV-1");
    assert_eq!(captures.len(), 1);
    assert_eq!(captures[0].charge(), &charge);
    assert_eq!(captures[0].request().idempotency_key().as_str(), "k1");
}

#[test]
fn each_decline_token_declines_with_its_code_and_captures_nothing() {
    for code in DeclineCode::ALL {
        let gateway = FakeGateway::new();
        let token = format!("tok_{code}");
        assert_eq!(token, TestToken::Decline(code).to_string());

        let result = gateway.charge(&usd("k1", &token, 500));

        assert_eq!(result, Err(GatewayError::Declined { code }), "{token}");
        assert_eq!(gateway.capture_count(), 0, "{token}");
    }
}

#[test]
fn a_decline_is_replayed_for_the_same_key_and_a_new_key_is_processed_afresh() {
    let gateway = FakeGateway::with_faults([Fault::Decline(DeclineCode::InsufficientFunds)]);
    let declined = Err(GatewayError::Declined {
        code: DeclineCode::InsufficientFunds,
    });

    assert_eq!(
        gateway.charge(&usd("attempt-1", "tok_success", 500)),
        declined
    );
    assert_eq!(
        gateway.charge(&usd("attempt-1", "tok_success", 500)),
        declined
    );
    assert_eq!(gateway.capture_count(), 0);

    assert!(
        gateway
            .charge(&usd("attempt-2", "tok_success", 500))
            .is_ok()
    );
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn transient_token_fails_n_times_per_key_then_succeeds() {
    let gateway = FakeGateway::new();
    let first = usd("k1", "tok_transient_2", 700);

    assert!(is_transient(&gateway.charge(&first)));
    assert!(is_transient(&gateway.charge(&first)));
    assert_eq!(gateway.capture_count(), 0);
    assert!(gateway.charge(&first).is_ok());
    assert_eq!(gateway.capture_count(), 1);

    // Another key meets its own two outages.
    let second = usd("k2", "tok_transient_2", 700);
    assert!(is_transient(&gateway.charge(&second)));
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn reply_lost_captures_then_a_retry_with_the_same_key_returns_the_stored_charge() {
    let gateway = FakeGateway::new();
    let charge = usd("k1", "tok_reply_lost", 14169);

    assert!(is_ambiguous(&gateway.charge(&charge)));
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 14169);

    let replayed = gateway.charge(&charge).unwrap();
    let again = gateway.charge(&charge).unwrap();

    assert_eq!(replayed, again);
    assert_eq!(replayed.id(), gateway.captures()[0].charge().id());
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.request_count(), 3);
}

#[test]
fn reply_lost_retried_with_a_new_key_captures_twice_which_the_record_shows() {
    // The double charge a billing bug would cause: the fake must expose it.
    let gateway = FakeGateway::new();

    assert!(is_ambiguous(&gateway.charge(&usd(
        "k1",
        "tok_reply_lost",
        14169
    ))));
    assert!(is_ambiguous(&gateway.charge(&usd(
        "k2",
        "tok_reply_lost",
        14169
    ))));

    assert_eq!(gateway.capture_count(), 2);
    assert_eq!(
        gateway.captured_total_for("INV-1", Currency::Usd),
        2 * 14169
    );
}

#[test]
fn request_lost_captures_nothing_and_a_retry_succeeds_once() {
    let gateway = FakeGateway::new();
    let charge = usd("k1", "tok_request_lost", 900);

    assert!(is_ambiguous(&gateway.charge(&charge)));
    assert_eq!(gateway.capture_count(), 0);
    assert!(gateway.charge(&charge).is_ok());
    assert!(gateway.charge(&charge).is_ok());
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn same_key_and_same_request_returns_the_first_result_without_a_new_capture() {
    let gateway = FakeGateway::new();
    let charge = usd("k1", "tok_success", 1000);

    let first = gateway.charge(&charge).unwrap();
    let second = gateway.charge(&charge).unwrap();

    assert_eq!(first, second);
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 1000);
}

#[test]
fn same_key_with_a_different_amount_is_a_conflict_and_moves_no_money() {
    let gateway = FakeGateway::new();
    gateway.charge(&usd("k1", "tok_success", 1000)).unwrap();

    let result = gateway.charge(&usd("k1", "tok_success", 2000));

    let error = result.unwrap_err();
    assert_eq!(
        error,
        GatewayError::IdempotencyConflict {
            key: IdempotencyKey::new("k1").unwrap(),
            field: RequestField::Amount,
            first: "10.00 USD".to_owned(),
            now: "20.00 USD".to_owned(),
        }
    );
    assert_eq!(
        error.to_string(),
        "idempotency key \"k1\" was first used with amount 10.00 USD, not 20.00 USD"
    );
    assert!(!error.is_retryable());
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 1000);
}

#[test]
fn same_key_with_a_different_currency_is_a_conflict_and_moves_no_money() {
    let gateway = FakeGateway::new();
    gateway.charge(&usd("k1", "tok_success", 1000)).unwrap();

    let result = gateway.charge(&request("k1", "tok_success", 1000, Currency::Eur, "INV-1"));

    assert!(matches!(
        result,
        Err(GatewayError::IdempotencyConflict {
            field: RequestField::Currency,
            ..
        })
    ));
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Eur), 0);
}

#[test]
fn same_key_with_a_different_payment_method_or_reference_is_a_conflict() {
    let gateway = FakeGateway::new();
    gateway.charge(&usd("k1", "tok_success", 1000)).unwrap();

    let other_card = gateway.charge(&usd("k1", "tok_transient_0", 1000));
    let other_invoice = gateway.charge(&request("k1", "tok_success", 1000, Currency::Usd, "INV-2"));

    assert!(matches!(
        other_card,
        Err(GatewayError::IdempotencyConflict {
            field: RequestField::PaymentMethod,
            ..
        })
    ));
    assert!(matches!(
        other_invoice,
        Err(GatewayError::IdempotencyConflict {
            field: RequestField::Reference,
            ..
        })
    ));
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn a_conflict_is_reported_for_a_key_whose_first_request_was_declined() {
    let gateway = FakeGateway::new();
    let _declined = gateway.charge(&usd("k1", "tok_card_declined", 1000));

    let retry_with_other_card = gateway.charge(&usd("k1", "tok_success", 1000));

    assert!(matches!(
        retry_with_other_card,
        Err(GatewayError::IdempotencyConflict { .. })
    ));
    assert_eq!(gateway.capture_count(), 0);
}

#[test]
fn unknown_token_is_an_invalid_request_that_stores_nothing() {
    let gateway = FakeGateway::new();

    let result = gateway.charge(&usd("k1", "pm_card_visa", 1000));

    assert_eq!(
        result,
        Err(GatewayError::InvalidRequest(
            InvalidRequest::UnknownPaymentMethod("pm_card_visa".to_owned())
        ))
    );
    assert_eq!(gateway.capture_count(), 0);
    // Nothing was stored for the key, so the corrected request goes through.
    assert!(gateway.charge(&usd("k1", "tok_success", 1000)).is_ok());
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn scripted_faults_come_first_in_order_then_the_token_decides() {
    let gateway = FakeGateway::with_faults([Fault::Unavailable, Fault::RequestLost]);
    gateway.push_faults([Fault::ReplyLost]);
    let charge = usd("k1", "tok_success", 300);

    assert_eq!(gateway.remaining_faults(), 3);
    assert!(is_transient(&gateway.charge(&charge)));
    assert!(is_ambiguous(&gateway.charge(&charge)));
    assert_eq!(gateway.capture_count(), 0);
    assert!(is_ambiguous(&gateway.charge(&charge)));
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.remaining_faults(), 0);

    let replayed = gateway.charge(&charge).unwrap();
    assert_eq!(replayed.id(), gateway.captures()[0].charge().id());
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn a_scripted_decline_does_not_override_a_stored_charge() {
    let gateway = FakeGateway::new();
    let charge = usd("k1", "tok_success", 300);
    let first = gateway.charge(&charge).unwrap();
    gateway.push_faults([Fault::Decline(DeclineCode::LostCard)]);

    assert_eq!(gateway.charge(&charge), Ok(first));
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn every_request_is_recorded_whatever_its_outcome() {
    let gateway = FakeGateway::with_faults([Fault::Unavailable]);
    let _ = gateway.charge(&usd("k1", "tok_success", 100));
    let _ = gateway.charge(&usd("k2", "nope", 100));
    let _ = gateway.charge(&usd("k3", "tok_expired_card", 100));

    let keys: Vec<String> = gateway
        .requests()
        .iter()
        .map(|r| r.idempotency_key().as_str().to_owned())
        .collect();
    assert_eq!(keys, ["k1", "k2", "k3"]);
    assert_eq!(gateway.capture_count(), 0);
}

#[test]
fn a_shared_gateway_charges_through_references_arcs_and_boxes() {
    let gateway = Arc::new(FakeGateway::new());
    let by_ref: &dyn PaymentGateway = &*gateway;
    by_ref.charge(&usd("k1", "tok_success", 100)).unwrap();
    let boxed: Box<dyn PaymentGateway> = Box::new(Arc::clone(&gateway));
    boxed.charge(&usd("k2", "tok_success", 100)).unwrap();

    assert_eq!(gateway.capture_count(), 2);
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::Unavailable),
        Just(Fault::RequestLost),
        Just(Fault::ReplyLost),
        proptest::sample::select(DeclineCode::ALL.to_vec()).prop_map(Fault::Decline),
    ]
}

proptest! {
    /// Whatever the faults, one idempotency key captures at most once, and
    /// every successful reply for it names that one capture.
    #[test]
    fn one_key_captures_at_most_once_under_any_faults(
        faults in proptest::collection::vec(fault(), 0..16),
        calls in 1_usize..24,
    ) {
        let gateway = FakeGateway::with_faults(faults);
        let charge = usd("k1", "tok_success", 4242);
        let mut replies = Vec::new();
        for _ in 0..calls {
            if let Ok(reply) = gateway.charge(&charge) {
                replies.push(reply);
            }
        }
        let captures = gateway.captures();
        prop_assert!(captures.len() <= 1);
        for reply in &replies {
            prop_assert_eq!(reply, captures[0].charge());
        }
        let total = gateway.captured_total_for("INV-1", Currency::Usd);
        prop_assert!(total == 0 || total == 4242);
    }
}

// ---- Lookups, key expiry and shared books -------------------------------

use payment_gateway::{
    BooksError, BooksTransaction, Capture, Clock, InMemoryBooks, KEY_LIFETIME, KeyRecord, Lookup,
    ManualClock, RefundRecord, SandboxBooks, unix_millis,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

#[test]
fn a_lookup_finds_the_capture_a_lost_reply_was_about_without_charging() {
    let gateway = FakeGateway::new();
    assert!(is_ambiguous(&gateway.charge(&usd(
        "k1",
        "tok_reply_lost",
        14169
    ))));

    let found = gateway.lookup(&key("k1")).unwrap();

    assert_eq!(
        found,
        Lookup::Captured(gateway.captures()[0].charge().clone())
    );
    assert_eq!(gateway.lookup(&key("k2")).unwrap(), Lookup::NotFound);
    assert_eq!(gateway.capture_count(), 1);
    assert_eq!(gateway.request_count(), 1);
    assert_eq!(gateway.lookup_count(), 2);
}

#[test]
fn a_lookup_reports_a_decline_and_a_lost_request_as_nothing_captured() {
    let gateway = FakeGateway::new();
    let _declined = gateway.charge(&usd("k1", "tok_lost_card", 100));
    let _lost = gateway.charge(&usd("k2", "tok_request_lost", 100));

    assert_eq!(
        gateway.lookup(&key("k1")).unwrap(),
        Lookup::Declined(DeclineCode::LostCard)
    );
    assert_eq!(gateway.lookup(&key("k2")).unwrap(), Lookup::NotFound);
}

#[test]
fn a_key_expires_24_hours_after_its_first_request_and_is_then_charged_afresh() {
    let clock = ManualClock::at_unix_millis(1_000_000);
    let gateway = FakeGateway::new().with_clock(clock.clone());
    let charge = usd("k1", "tok_success", 500);
    let first = gateway.charge(&charge).unwrap();

    clock.advance(KEY_LIFETIME.checked_sub(Duration::from_millis(1)).unwrap());
    assert_eq!(gateway.charge(&charge).unwrap(), first);
    assert_eq!(gateway.capture_count(), 1);

    clock.advance(Duration::from_millis(1));
    let second = gateway.charge(&charge).unwrap();

    // The double charge that billing must avoid by looking up instead.
    assert_ne!(second.id(), first.id());
    assert_eq!(gateway.capture_count(), 2);
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 1000);
}

#[test]
fn a_capture_is_still_found_by_its_key_after_the_key_expired() {
    let clock = ManualClock::default();
    let gateway = FakeGateway::new().with_clock(clock.clone());
    let charge = gateway.charge(&usd("k1", "tok_success", 500)).unwrap();
    let _declined = gateway.charge(&usd("k2", "tok_card_declined", 500));

    clock.advance(Duration::from_secs(25 * 3600));

    assert_eq!(
        gateway.lookup(&key("k1")).unwrap(),
        Lookup::Captured(charge)
    );
    // The decline was only in the idempotency record, which is forgotten.
    assert_eq!(gateway.lookup(&key("k2")).unwrap(), Lookup::NotFound);
}

#[test]
fn an_expired_key_with_a_different_amount_is_a_new_request_not_a_conflict() {
    let clock = ManualClock::default();
    let gateway = FakeGateway::new().with_clock(clock.clone());
    gateway.charge(&usd("k1", "tok_success", 500)).unwrap();
    clock.advance(KEY_LIFETIME);

    assert!(gateway.charge(&usd("k1", "tok_success", 700)).is_ok());
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 1200);
}

#[test]
fn captures_remember_when_they_happened_by_the_injected_clock() {
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    let gateway = FakeGateway::new().with_clock(clock.clone());
    gateway.charge(&usd("k1", "tok_success", 100)).unwrap();
    clock.advance(Duration::from_secs(60));
    gateway.charge(&usd("k2", "tok_success", 100)).unwrap();

    let times: Vec<i64> = gateway
        .captures()
        .iter()
        .map(|capture| unix_millis(capture.captured_at()))
        .collect();
    assert_eq!(times, [1_764_583_200_000, 1_764_583_260_000]);
    assert_eq!(
        gateway
            .captures()
            .iter()
            .map(Capture::number)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(unix_millis(clock.now()), 1_764_583_260_000);
}

#[test]
fn captures_are_read_page_by_page_and_all_of_them_are_seen() {
    let gateway = FakeGateway::new();
    for n in 0..2500 {
        gateway
            .charge(&usd(&format!("k{n}"), "tok_success", 1))
            .unwrap();
    }
    let mut seen = 0_u64;
    gateway
        .for_each_capture(|capture| {
            seen += 1;
            assert_eq!(capture.number(), seen);
        })
        .unwrap();
    assert_eq!(seen, 2500);
    assert_eq!(
        gateway.captures()[2499].charge().id().as_str(),
        "ch_fake_002500"
    );
}

#[test]
fn latency_makes_each_request_take_real_time() {
    let gateway = FakeGateway::new().with_latency(Duration::from_millis(20));
    let start = Instant::now();
    gateway.charge(&usd("k1", "tok_success", 100)).unwrap();
    let _ = gateway.lookup(&key("k1")).unwrap();
    // A lower bound only, so it cannot flake.
    assert!(start.elapsed() >= Duration::from_millis(40));
}

/// Books whose transactions fail at commit, after the work ran (and,
/// when `stuck`, whose pages of refunds never move past the first).
#[derive(Default)]
struct FailingBooks {
    inner: InMemoryBooks,
    stuck: bool,
}

impl SandboxBooks for FailingBooks {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
    ) -> Result<(), BooksError> {
        let discarded: Result<(), BooksError> = Err(BooksError::new("disk full"));
        self.inner.transaction(&mut |books| {
            work(books)?;
            // Roll back what the work wrote, as a failed commit would.
            discarded.clone()
        })
    }
    fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        self.inner.key_record(key)
    }
    fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError> {
        self.inner.capture_for_key(key)
    }
    fn captures_for_references(&self, references: &[&str]) -> Result<Vec<Capture>, BooksError> {
        self.inner.captures_for_references(references)
    }
    fn capture_count(&self) -> Result<u64, BooksError> {
        self.inner.capture_count()
    }
    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError> {
        self.inner.captures_after(after, limit)
    }
    fn refunds_after(&self, after: u64, limit: usize) -> Result<Vec<RefundRecord>, BooksError> {
        self.inner
            .refunds_after(if self.stuck { 0 } else { after }, limit)
    }
}

#[test]
fn a_failed_commit_of_the_books_is_an_ambiguous_outcome_that_keeps_nothing() {
    let gateway = FakeGateway::with_books(FailingBooks::default());

    let result = gateway.charge(&usd("k1", "tok_success", 100));

    assert_eq!(
        result,
        Err(GatewayError::Ambiguous {
            reason: "sandbox books failed: disk full".to_owned()
        })
    );
    assert!(result.unwrap_err().is_retryable());
    assert_eq!(gateway.capture_count(), 0);
    assert_eq!(gateway.books().inner.key_record(&key("k1")).unwrap(), None);
    assert_eq!(BooksError::new("x").message(), "x");
}

#[test]
fn concurrent_requests_with_one_key_capture_once() {
    let gateway = Arc::new(FakeGateway::new());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let gateway = Arc::clone(&gateway);
            std::thread::spawn(move || gateway.charge(&usd("k1", "tok_success", 900)).unwrap())
        })
        .collect();
    let replies: Vec<Charge> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    assert_eq!(gateway.capture_count(), 1);
    assert!(
        replies
            .iter()
            .all(|reply| reply == gateway.captures()[0].charge())
    );
}

#[test]
fn without_the_request_log_requests_are_counted_but_not_kept() {
    let gateway = FakeGateway::new().without_request_log();
    gateway.charge(&usd("k1", "tok_success", 100)).unwrap();
    let _declined = gateway.charge(&usd("k2", "tok_card_declined", 100));

    assert_eq!(gateway.request_count(), 2);
    assert!(gateway.requests().is_empty());
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn keys_live_exactly_24_hours_as_at_stripe() {
    assert_eq!(KEY_LIFETIME, Duration::from_secs(86_400));
    let clock = ManualClock::default();
    let gateway = FakeGateway::new().with_clock(clock.clone());
    let first = gateway.charge(&usd("k1", "tok_success", 500)).unwrap();
    clock.advance(Duration::from_secs(23 * 3600 + 3599));
    assert_eq!(
        gateway.charge(&usd("k1", "tok_success", 500)).unwrap(),
        first
    );
    assert_eq!(gateway.capture_count(), 1);
}

#[test]
fn a_fake_gateway_shows_its_books_and_latency_when_debugged() {
    let gateway = FakeGateway::new().with_latency(Duration::from_millis(7));
    let shown = format!("{gateway:?}");
    assert!(shown.starts_with("FakeGateway {"), "{shown}");
    assert!(shown.contains("latency: 7ms"), "{shown}");
    assert!(shown.contains("books: InMemoryBooks"), "{shown}");
}

/// What the books hold after one capture (`k1`) and one decline (`k2`).
fn check_one_capture_one_decline(books: impl SandboxBooks) {
    assert_eq!(books.capture_count().unwrap(), 1);
    assert_eq!(books.captures_after(0, 10).unwrap().len(), 1);
    assert!(books.capture_for_key(&key("k1")).unwrap().is_some());
    assert!(books.capture_for_key(&key("k2")).unwrap().is_none());
    assert_eq!(books.key_record(&key("k2")).unwrap().unwrap().requests(), 1);
    books
        .transaction(&mut |tx| {
            assert_eq!(tx.capture_count()?, 1);
            Ok(())
        })
        .unwrap();
}

#[test]
fn books_answer_the_same_through_references_and_arcs() {
    let books = Arc::new(InMemoryBooks::new());
    FakeGateway::with_books(Arc::clone(&books))
        .charge(&usd("k1", "tok_success", 100))
        .unwrap();
    let _declined = FakeGateway::with_books(&*books).charge(&usd("k2", "tok_card_declined", 100));

    check_one_capture_one_decline(&*books);
    check_one_capture_one_decline(Arc::clone(&books));
}

/// A refund of `cents` US cents against `charge` under `key`, for credit
/// note `INV-1-CN01`.
fn refund_of(key: &str, charge: &Charge, cents: i64) -> payment_gateway::RefundRequest {
    payment_gateway::RefundRequest::new(
        IdempotencyKey::new(key).unwrap(),
        charge.id().clone(),
        Amount::new(cents, Currency::Usd).unwrap(),
        "INV-1-CN01",
    )
}

#[test]
fn refunds_and_their_lookups_are_counted_and_keep_their_reference() {
    let gateway = FakeGateway::new();
    let charge = gateway
        .charge(&usd("c1", "tok_refund_pending_0", 500))
        .unwrap();
    let refund = gateway.refund(&refund_of("r1", &charge, 200)).unwrap();
    // Pending for no lookup at all: succeeded at once.
    assert_eq!(refund.status(), payment_gateway::RefundStatus::Succeeded);
    assert_eq!(refund.request().reference(), "INV-1-CN01");
    assert_eq!(refund.id().to_string(), "re_fake_000001");
    let _ = gateway.refund(&refund_of("r1", &charge, 200));
    assert_eq!(gateway.refund_request_count(), 2);
    let lookups = gateway.lookup_count();
    gateway.lookup_refund(&key("r1")).unwrap();
    gateway.lookup_refund(&key("r9")).unwrap();
    assert_eq!(gateway.lookup_count(), lookups + 2);
    let stored = gateway.refunds();
    assert_eq!(stored[0].refund().request().reference(), "INV-1-CN01");
    assert_eq!(stored[0].lookups(), 1);
}

#[test]
fn a_transaction_sees_its_own_refunds_beside_the_committed_ones_once_each() {
    let gateway = FakeGateway::new();
    let charge = gateway.charge(&usd("c1", "tok_success", 500)).unwrap();
    let first = gateway.refund(&refund_of("r1", &charge, 100)).unwrap();
    let books = gateway.books();
    let method = PaymentMethod::new("tok_success").unwrap();
    let mut seen = Vec::new();
    books
        .transaction(&mut |tx| {
            // A new state of refund 1 and new refunds 2 and 3, all staged.
            let stored = tx.refund_for_key(&key("r1"))?.unwrap();
            tx.put_refund(&RefundRecord::new(
                1,
                stored.refund().clone(),
                method.clone(),
                std::time::UNIX_EPOCH,
                7,
            ))?;
            let second = payment_gateway::Refund::new(
                first.id().clone(),
                refund_of("r2", &charge, 50),
                payment_gateway::RefundStatus::Succeeded,
            );
            tx.put_refund(&RefundRecord::new(
                2,
                second.clone(),
                method.clone(),
                std::time::UNIX_EPOCH,
                0,
            ))?;
            tx.put_refund(&RefundRecord::new(
                3,
                second.clone(),
                method.clone(),
                std::time::UNIX_EPOCH,
                0,
            ))?;
            seen.push(tx.refund_count()?);
            seen.push(u64::try_from(tx.refunds_for_charge(charge.id())?.len()).unwrap());
            seen.push(u64::from(tx.refund_for_key(&key("r1"))?.unwrap().lookups()));
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, [3, 3, 7]);
    let after_first: Vec<u64> = books
        .refunds_after(1, 10)
        .unwrap()
        .iter()
        .map(RefundRecord::number)
        .collect();
    assert_eq!(after_first, [2, 3]);
    let numbers: Vec<(u64, u32)> = gateway
        .refunds()
        .iter()
        .map(|r| (r.number(), r.lookups()))
        .collect();
    assert_eq!(numbers, [(1, 7), (2, 0), (3, 0)]);
}

#[test]
fn books_whose_refund_pages_do_not_move_on_are_read_no_further() {
    let books = FailingBooks {
        stuck: true,
        ..FailingBooks::default()
    };
    let writer = FakeGateway::with_books(&books.inner);
    let charge = writer.charge(&usd("c1", "tok_success", 500)).unwrap();
    writer.refund(&refund_of("r1", &charge, 100)).unwrap();
    let gateway = FakeGateway::with_books(books);
    let mut visited = 0;
    let result = gateway.for_each_refund(|_| visited += 1);
    assert_eq!(
        result,
        Err(BooksError::new(
            "the books' page after refund 1 ends at refund 1"
        ))
    );
    assert_eq!(visited, 2, "the first page, and the same page once more");
}
