//! The checks every [`SandboxBooks`] backend must pass (feature
//! `conformance`): the sandbox processor's idempotency records and captures
//! behave the same in memory, in a SQLite file and in PostgreSQL.
//!
//! Each check is a function taking `open`, which opens a handle on one set
//! of books that starts empty: every call opens the *same* books (for a
//! file or a database, a new connection to them; for memory, another handle
//! on the same maps), as a restarted process or another host would. A check
//! panics, naming what broke, when the books break a rule, so a backend's
//! tests call them from `#[test]` functions, most simply through
//! [`conformance_tests!`]:
//!
//! ```
//! # #[cfg(feature = "conformance")] {
//! use payment_gateway::InMemoryBooks;
//! use std::sync::Arc;
//!
//! fn open_memory() -> impl Fn() -> Arc<InMemoryBooks> + Sync {
//!     let shared = Arc::new(InMemoryBooks::new());
//!     move || Arc::clone(&shared)
//! }
//! payment_gateway::conformance::captures_are_read_back_a_page_at_a_time(&open_memory());
//! # }
//! ```
//!
//! The suite lives here, beside the trait, so that the books' rules are
//! written once by the crate that states them, as billing's suite is for
//! its ledgers.
//!
//! [`conformance_tests!`]: crate::conformance_tests

// A conformance check is a test: a broken rule is a panic with a message,
// which the calling `#[test]` reports as a failure.
#![allow(clippy::unwrap_used, clippy::panic, clippy::missing_panics_doc)]

use crate::{
    Amount, BooksError, Capture, Charge, ChargeId, ChargeRequest, Currency, FakeGateway, Fault,
    GatewayError, IdempotencyKey, KEY_LIFETIME, KeyRecord, Lookup, ManualClock, PaymentGateway,
    PaymentMethod, Refund, RefundRecord, RefundRefusal, RefundRequest, RefundStatus, SandboxBooks,
    unix_millis,
};

/// Generates one `#[test]` per conformance check, each on fresh books from
/// `$fresh` (an expression giving a new opener: `Fn() -> B + Sync`).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            transient_counters_persist_across_reopening,
            declines_lost_replies_and_conflicts_persist_across_reopening,
            transient_counters_declines_and_lost_replies_persist_together,
            a_second_gateway_on_the_books_continues_their_transient_counters,
            a_reply_lost_key_replays_its_charge_to_a_fresh_gateway,
            keys_expire_after_24_hours_but_captures_stay_findable,
            concurrent_requests_with_one_key_capture_once,
            concurrent_requests_with_one_key_among_others_capture_once_numbered_without_gaps,
            captures_are_read_back_a_page_at_a_time,
            captures_are_found_by_their_references_for_good,
            a_transaction_counts_its_own_captures_with_the_committed_ones,
            refunds_are_idempotent_capped_by_their_capture_and_kept_for_good,
            refunds_evolve_as_the_charged_payment_method_says,
            refund_keys_expire_after_24_hours_but_refunds_stay_findable,
            concurrent_refunds_of_one_charge_never_give_back_more_than_it_captured,
            the_rate_limit_is_shared_by_every_gateway_on_the_books_and_moves_no_money,
        );
    };
    (@each $fresh:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::$check(&$fresh);
            }
        )*
    };
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

/// A request for `cents` US cents under `key`, paid with `token`, for
/// invoice `INV-1`.
fn request(key: &str, token: &str, cents: i64) -> ChargeRequest {
    ChargeRequest::new(
        IdempotencyKey::new(key).unwrap(),
        PaymentMethod::new(token).unwrap(),
        Amount::new(cents, Currency::Usd).unwrap(),
        "INV-1",
    )
}

fn is_transient(result: &Result<Charge, GatewayError>) -> bool {
    matches!(result, Err(GatewayError::Transient { .. }))
}

fn is_ambiguous(result: &Result<Charge, GatewayError>) -> bool {
    matches!(result, Err(GatewayError::Ambiguous { .. }))
}

/// Declines a request under key `declined` and loses the reply to one
/// under `lost`, for a later handle on the same books to replay.
fn decline_and_lose_a_reply(gateway: &impl PaymentGateway) {
    let _ = gateway.charge(&request("declined", "tok_insufficient_funds", 100));
    assert!(is_ambiguous(&gateway.charge(&request(
        "lost",
        "tok_reply_lost",
        100
    ))));
}

/// What [`decline_and_lose_a_reply`] wrote, as a later handle sees it: the
/// decline replayed, another amount under its key a conflict, and the lost
/// reply's charge replayed (returned).
fn assert_decline_and_lost_reply_replayed(gateway: &impl PaymentGateway) -> Charge {
    assert!(matches!(
        gateway.charge(&request("declined", "tok_insufficient_funds", 100)),
        Err(GatewayError::Declined { .. })
    ));
    assert!(matches!(
        gateway.charge(&request("declined", "tok_insufficient_funds", 200)),
        Err(GatewayError::IdempotencyConflict { .. })
    ));
    gateway
        .charge(&request("lost", "tok_reply_lost", 100))
        .unwrap()
}

/// A transient token's failures are counted in the books, so a process
/// that reopens them carries on where the last one stopped, and a replay
/// finds the capture.
pub fn transient_counters_persist_across_reopening<B: SandboxBooks>(open: &(dyn Fn() -> B + Sync)) {
    let charge = request("k1", "tok_transient_2", 700);
    {
        let gateway = FakeGateway::with_books(open());
        assert!(is_transient(&gateway.charge(&charge)));
    }
    {
        let gateway = FakeGateway::with_books(open());
        assert!(is_transient(&gateway.charge(&charge)));
        gateway.charge(&charge).unwrap();
    }

    let books = open();
    let gateway = FakeGateway::with_books(&books);
    let replayed = gateway.charge(&charge).unwrap();

    assert_eq!(replayed.id().as_str(), "ch_fake_000001");
    assert_eq!(books.capture_count().unwrap(), 1);
    let record = books.key_record(charge.idempotency_key()).unwrap().unwrap();
    assert_eq!(record.requests(), 4);
    assert_eq!(
        gateway.lookup(charge.idempotency_key()).unwrap(),
        Lookup::Captured(replayed)
    );
}

/// A decline is replayed, a changed request under its key is a conflict,
/// and a lost reply's capture is replayed, after the books were reopened.
pub fn declines_lost_replies_and_conflicts_persist_across_reopening<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    // A handle dropped at the end of the statement, as a process that ended.
    decline_and_lose_a_reply(&FakeGateway::with_books(open()));
    let gateway = FakeGateway::with_books(open());

    let replayed = assert_decline_and_lost_reply_replayed(&gateway);
    assert_eq!(gateway.captures()[0].charge(), &replayed);
    assert_eq!(gateway.capture_count(), 1);
}

/// Transient counters, declines and lost replies written by one handle,
/// all carried on by the next: the lost reply's capture keeps its number.
pub fn transient_counters_declines_and_lost_replies_persist_together<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let charge = request("k1", "tok_transient_2", 700);
    {
        let gateway = FakeGateway::with_books(open());
        assert!(is_transient(&gateway.charge(&charge)));
        decline_and_lose_a_reply(&gateway);
    }
    let books = open();
    let gateway = FakeGateway::with_books(&books);

    assert!(is_transient(&gateway.charge(&charge)));
    let charged = gateway.charge(&charge).unwrap();
    // The lost reply captured first, as ch_fake_000001.
    assert_eq!(charged.id().as_str(), "ch_fake_000002");
    assert_eq!(
        books
            .key_record(charge.idempotency_key())
            .unwrap()
            .unwrap()
            .requests(),
        3
    );
    let replayed = assert_decline_and_lost_reply_replayed(&gateway);
    assert_eq!(
        gateway.lookup(&key("lost")).unwrap(),
        Lookup::Captured(replayed)
    );
    assert_eq!(books.capture_count().unwrap(), 2);
}

/// Two gateways on the same books share their transient counters and
/// captures; the requests each received are its own.
pub fn a_second_gateway_on_the_books_continues_their_transient_counters<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let first = FakeGateway::with_books(open());
    let charge = request("k1", "tok_transient_2", 700);
    assert!(is_transient(&first.charge(&charge)));

    let second = FakeGateway::with_books(open());
    assert!(is_transient(&second.charge(&charge)));
    let captured = second.charge(&charge).unwrap();

    assert_eq!(
        first.lookup(&key("k1")).unwrap(),
        Lookup::Captured(captured)
    );
    assert_eq!(first.capture_count(), 1);
    // Requests received are each gateway value's own.
    assert_eq!((first.request_count(), second.request_count()), (1, 2));
}

/// A lost reply's capture is in the books, so a fresh gateway on them
/// replays it instead of charging again.
pub fn a_reply_lost_key_replays_its_charge_to_a_fresh_gateway<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let books = open();
    let charge = request("k1", "tok_reply_lost", 14169);
    assert!(is_ambiguous(
        &FakeGateway::with_books(&books).charge(&charge)
    ));

    let replayed = FakeGateway::with_books(&books).charge(&charge).unwrap();

    assert_eq!(replayed.id().as_str(), "ch_fake_000001");
    assert_eq!(books.capture_count().unwrap(), 1);
}

/// Under the manual clock a key is forgotten 24 hours after its first
/// request, so the same request then charges anew, but its capture is
/// still found by the key; captures keep their time and number.
pub fn keys_expire_after_24_hours_but_captures_stay_findable<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    let charge = request("k1", "tok_success", 500);
    let first = FakeGateway::with_books(open())
        .with_clock(clock.clone())
        .charge(&charge)
        .unwrap();

    let record = open().key_record(charge.idempotency_key()).unwrap();
    assert_eq!(record.map(|record| record.requests()), Some(1));

    clock.advance(KEY_LIFETIME);
    let gateway = FakeGateway::with_books(open()).with_clock(clock.clone());
    assert_eq!(
        gateway.lookup(charge.idempotency_key()).unwrap(),
        Lookup::Captured(first.clone())
    );
    let second = gateway.charge(&charge).unwrap();

    assert_ne!(second.id(), first.id(), "an expired key is a new request");
    assert_eq!(gateway.capture_count(), 2);
    let captures = gateway.captures();
    let times: Vec<i64> = captures
        .iter()
        .map(|capture| unix_millis(capture.captured_at()))
        .collect();
    assert_eq!(times, [1_764_583_200_000, 1_764_669_600_000]);
    let numbers: Vec<u64> = captures.iter().map(Capture::number).collect();
    assert_eq!(numbers, [1, 2]);
}

/// Six handles, each sending the same request under one shared key ten
/// times at once (with a key of its own before each when `own_keys`): the
/// charge ids the shared key's requests were answered with.
fn shared_key_at_once<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
    own_keys: bool,
) -> Vec<String> {
    drop(open());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|n| {
                scope.spawn(move || {
                    let gateway = FakeGateway::with_books(open());
                    (0..10)
                        .map(|i| {
                            if own_keys {
                                let _ = gateway.charge(&request(
                                    &format!("own-{n}-{i}"),
                                    "tok_success",
                                    1,
                                ));
                            }
                            gateway
                                .charge(&request("shared", "tok_success", 900))
                                .unwrap()
                                .id()
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Six handles sending the same request ten times each, at once: one
/// capture, and every reply is that charge.
pub fn concurrent_requests_with_one_key_capture_once<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let replies = shared_key_at_once(open, false);

    let books = open();
    assert_eq!(books.capture_count().unwrap(), 1);
    assert_eq!(replies.len(), 60);
    assert!(replies.iter().all(|id| id == "ch_fake_000001"));
}

/// Six handles each sending keys of their own between requests under one
/// shared key, at once: the shared key captures once, every capture is
/// numbered without gaps, and a page after the last but one holds one.
pub fn concurrent_requests_with_one_key_among_others_capture_once_numbered_without_gaps<
    B: SandboxBooks,
>(
    open: &(dyn Fn() -> B + Sync),
) {
    let replies = shared_key_at_once(open, true);

    let books = open();
    assert_eq!(
        books.capture_count().unwrap(),
        61,
        "60 own keys and the shared one"
    );
    assert_eq!(replies.len(), 60);
    assert!(replies.iter().all(|id| id == &replies[0]));
    let mut numbers = Vec::new();
    FakeGateway::with_books(&books)
        .for_each_capture(|capture| numbers.push(capture.number()))
        .unwrap();
    assert_eq!(
        numbers,
        (1..=61).collect::<Vec<u64>>(),
        "numbered without gaps"
    );
    assert_eq!(books.captures_after(60, 10).unwrap().len(), 1);
}

/// More captures than the gateway reads per page (1000) are all read back,
/// in order; a page stops at its limit and at the last capture.
pub fn captures_are_read_back_a_page_at_a_time<B: SandboxBooks>(open: &(dyn Fn() -> B + Sync)) {
    let books = open();
    let gateway = FakeGateway::with_books(&books);
    for n in 0..1205 {
        gateway
            .charge(&request(&format!("k{n}"), "tok_success", 1))
            .unwrap();
    }

    let mut numbers = Vec::new();
    gateway
        .for_each_capture(|capture| numbers.push(capture.number()))
        .unwrap();

    assert_eq!(numbers, (1..=1205).collect::<Vec<u64>>());
    assert_eq!(books.captures_after(1200, 10).unwrap().len(), 5);
    assert_eq!(
        books.captures_after(0, 1).unwrap()[0]
            .request()
            .idempotency_key()
            .as_str(),
        "k0"
    );
}

/// The captures of a batch of invoices are found by their references (the
/// invoice ids) in one request, in capture order, under whatever keys made
/// them and long after those keys expired: what a ledger that forgot is
/// held to before it charges again.
pub fn captures_are_found_by_their_references_for_good<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let books = open();
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    let gateway = FakeGateway::with_books(&books).with_clock(clock.clone());
    let charge = |key: &str, reference: &str, cents: i64| {
        ChargeRequest::new(
            IdempotencyKey::new(key).unwrap(),
            PaymentMethod::new("tok_success").unwrap(),
            Amount::new(cents, Currency::Usd).unwrap(),
            reference,
        )
    };
    gateway
        .charge(&charge("invoice:A:attempt:2", "A", 100))
        .unwrap();
    gateway
        .charge(&charge("invoice:B:attempt:1", "B", 200))
        .unwrap();
    gateway.charge(&charge("other", "A", 300)).unwrap();
    gateway
        .charge(&charge("invoice:C:attempt:1", "C", 400))
        .unwrap();
    clock.advance(KEY_LIFETIME * 30);

    let found = FakeGateway::with_books(open())
        .with_clock(clock.clone())
        .find_captures(&["A", "C", "NONE"])
        .unwrap();

    let seen: Vec<(&str, &str, i64)> = found
        .iter()
        .map(|capture| {
            (
                capture.request().reference(),
                capture.request().idempotency_key().as_str(),
                capture.charge().amount().minor_units(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("A", "invoice:A:attempt:2", 100),
            ("A", "other", 300),
            ("C", "invoice:C:attempt:1", 400)
        ]
    );
    assert_eq!(books.captures_for_references(&[]).unwrap(), []);
    assert_eq!(gateway.search_count(), 0);
}

/// Inside a transaction the books count its own captures with the
/// committed ones and read its own records; a transaction whose work fails
/// keeps nothing.
pub fn a_transaction_counts_its_own_captures_with_the_committed_ones<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let books = open();
    let gateway = FakeGateway::with_books(&books);
    gateway.charge(&request("k1", "tok_success", 100)).unwrap();
    gateway.charge(&request("k2", "tok_success", 100)).unwrap();
    let template = gateway.captures()[0].clone();

    books
        .transaction(&mut |tx| {
            assert_eq!(tx.capture_count()?, 2);
            // A charge id of its own: a backend may keep them unique.
            tx.insert_capture(&Capture::new(
                3,
                Charge::new(
                    ChargeId::new("ch_fake_000003").unwrap(),
                    template.charge().amount(),
                ),
                template.request().clone(),
                template.captured_at(),
            ))?;
            assert_eq!(tx.capture_count()?, 3);
            assert!(tx.key_record(&key("k1"))?.is_some());
            Ok(())
        })
        .unwrap();

    assert_eq!(books.capture_count().unwrap(), 3);
    // A transaction whose work fails keeps nothing.
    let failed = books.transaction(&mut |tx| {
        tx.put_key_record(&key("k9"), &KeyRecord::new(std::time::UNIX_EPOCH, 1, None))?;
        Err(BooksError::new("changed my mind"))
    });
    assert_eq!(failed, Err(BooksError::new("changed my mind")));
    assert_eq!(books.key_record(&key("k9")).unwrap(), None);
}

/// A refund of `cents` US cents against `charge` under `key`, for credit
/// note `INV-1-CN01`.
fn refund_request(key: &str, charge: &Charge, cents: i64) -> RefundRequest {
    RefundRequest::new(
        IdempotencyKey::new(key).unwrap(),
        charge.id().clone(),
        Amount::new(cents, Currency::Usd).unwrap(),
        "INV-1-CN01",
    )
}

/// A charge of `cents` US cents paid with `token`, under key `charge`.
fn charged(gateway: &impl PaymentGateway, token: &str, cents: i64) -> Charge {
    gateway.charge(&request("charge", token, cents)).unwrap()
}

fn refused(result: Result<Refund, GatewayError>) -> RefundRefusal {
    match result {
        Err(GatewayError::RefundRefused(refusal)) => refusal,
        other => panic!("not refused: {other:?}"),
    }
}

/// A refund is stored once per key (the same request replays it, another
/// is a conflict), the refunds of a charge never give back more than it
/// captured, a refund names a charge of the processor in its currency, and
/// every refund is read back, in order, by another handle.
pub fn refunds_are_idempotent_capped_by_their_capture_and_kept_for_good<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let gateway = FakeGateway::with_books(open());
    let charge = charged(&gateway, "tok_success", 500);

    let first = gateway.refund(&refund_request("r1", &charge, 300)).unwrap();
    assert_eq!(first.status(), RefundStatus::Succeeded);
    assert_eq!(first.id().as_str(), "re_fake_000001");
    let again = FakeGateway::with_books(open());
    assert_eq!(
        again.refund(&refund_request("r1", &charge, 300)),
        Ok(first.clone())
    );
    assert!(matches!(
        again.refund(&refund_request("r1", &charge, 200)),
        Err(GatewayError::IdempotencyConflict { .. })
    ));
    let above = refused(again.refund(&refund_request("r2", &charge, 201)));
    assert!(
        matches!(above, RefundRefusal::AboveCapture { refunded: 300, .. }),
        "{above:?}"
    );
    let rest = again.refund(&refund_request("r3", &charge, 200)).unwrap();
    assert_eq!(rest.id().as_str(), "re_fake_000002");
    assert!(matches!(
        refused(again.refund(&refund_request("r4", &charge, 1))),
        RefundRefusal::AboveCapture { refunded: 500, .. }
    ));

    let unknown = Charge::new(ChargeId::new("ch_other").unwrap(), charge.amount());
    assert!(matches!(
        refused(again.refund(&refund_request("r5", &unknown, 1))),
        RefundRefusal::UnknownCharge(_)
    ));
    let euros = RefundRequest::new(
        key("r6"),
        charge.id().clone(),
        Amount::new(1, Currency::Eur).unwrap(),
        "INV-1-CN01",
    );
    assert!(matches!(
        refused(again.refund(&euros)),
        RefundRefusal::OtherCurrency { .. }
    ));

    let reopened = FakeGateway::with_books(open());
    let refunds: Vec<(u64, Refund)> = reopened
        .refunds()
        .into_iter()
        .map(|record| (record.number(), record.refund().clone()))
        .collect();
    assert_eq!(refunds, [(1, first), (2, rest)]);
    assert_eq!(reopened.refunded_total_for(charge.id()), 500);
    assert_eq!(
        reopened.lookup_refund(&key("r2")).unwrap(),
        None,
        "a refusal stores nothing"
    );
}

/// The charged payment method's test token decides how a refund of it
/// evolves, lookup after lookup, whichever handle asks: pending for N
/// lookups then succeeded; succeeded then failed (which gives the amount
/// back to the capture's room); refused for a disputed charge.
pub fn refunds_evolve_as_the_charged_payment_method_says<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let gateway = FakeGateway::with_books(open());
    let pending = gateway
        .charge(&request("c-pending", "tok_refund_pending_2", 400))
        .unwrap();
    let late = gateway
        .charge(&request("c-late", "tok_refund_fails_late", 400))
        .unwrap();
    let disputed = gateway
        .charge(&request("c-disputed", "tok_disputed", 400))
        .unwrap();

    let refund = gateway.refund(&refund_request("p", &pending, 400)).unwrap();
    assert_eq!(refund.status(), RefundStatus::Pending);
    let statuses: Vec<RefundStatus> = (0..4)
        .map(|_| {
            FakeGateway::with_books(open())
                .lookup_refund(&key("p"))
                .unwrap()
                .unwrap()
                .status()
        })
        .collect();
    assert_eq!(
        statuses,
        [
            RefundStatus::Pending,
            RefundStatus::Pending,
            RefundStatus::Succeeded,
            RefundStatus::Succeeded
        ]
    );
    assert!(matches!(
        refused(gateway.refund(&refund_request("p2", &pending, 1))),
        RefundRefusal::AboveCapture { .. }
    ));

    let refund = gateway.refund(&refund_request("l", &late, 400)).unwrap();
    assert_eq!(refund.status(), RefundStatus::Succeeded);
    let looked = FakeGateway::with_books(open()).lookup_refund(&key("l"));
    assert_eq!(
        looked.unwrap().map(|r| r.status()),
        Some(RefundStatus::Failed)
    );
    assert_eq!(gateway.refunded_total_for(late.id()), 0);
    // The failed refund no longer counts against the capture.
    assert!(gateway.refund(&refund_request("l2", &late, 400)).is_ok());

    assert!(matches!(
        refused(gateway.refund(&refund_request("d", &disputed, 1))),
        RefundRefusal::Disputed(_)
    ));
    let lookups: Vec<u32> = gateway
        .refunds()
        .iter()
        .map(RefundRecord::lookups)
        .collect();
    assert_eq!(lookups, [4, 1, 0]);
}

/// A refund whose reply was lost is found by its key after the key expired
/// (where sending it again would be a new refund, which only the cap
/// stops), and stays in the books.
pub fn refund_keys_expire_after_24_hours_but_refunds_stay_findable<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    let gateway = FakeGateway::with_books(open()).with_clock(clock.clone());
    let charge = charged(&gateway, "tok_success", 500);
    gateway.push_faults([Fault::ReplyLost]);
    let lost = gateway.refund(&refund_request("r1", &charge, 200));
    assert!(
        matches!(lost, Err(GatewayError::Ambiguous { .. })),
        "{lost:?}"
    );

    clock.advance(KEY_LIFETIME);
    let later = FakeGateway::with_books(open()).with_clock(clock.clone());
    let found = later.lookup_refund(&key("r1")).unwrap().unwrap();
    assert_eq!(found.id().as_str(), "re_fake_000001");
    assert_eq!(found.amount().minor_units(), 200);

    let resent = later.refund(&refund_request("r1", &charge, 200)).unwrap();
    assert_eq!(
        resent.id().as_str(),
        "re_fake_000002",
        "an expired key is a new refund"
    );
    // The key is fresh again with the new refund: the same request replays it.
    assert_eq!(
        later.refund(&refund_request("r1", &charge, 200)),
        Ok(resent)
    );
    assert_eq!(later.refunded_total_for(charge.id()), 400);
    let times: Vec<i64> = later
        .refunds()
        .iter()
        .map(|record| unix_millis(record.created_at()))
        .collect();
    assert_eq!(times, [1_764_583_200_000, 1_764_669_600_000]);
}

/// Six handles refunding one charge of 300 at once, 100 under a key of
/// their own each: exactly three refunds are accepted, and together they
/// give back exactly the capture.
pub fn concurrent_refunds_of_one_charge_never_give_back_more_than_it_captured<B: SandboxBooks>(
    open: &(dyn Fn() -> B + Sync),
) {
    let charge = charged(&FakeGateway::with_books(open()), "tok_success", 300);
    let accepted: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|n| {
                let charge = &charge;
                scope.spawn(move || {
                    FakeGateway::with_books(open())
                        .refund(&refund_request(&format!("r{n}"), charge, 100))
                        .is_ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| usize::from(handle.join().unwrap()))
            .sum()
    });
    let gateway = FakeGateway::with_books(open());
    assert_eq!(accepted, 3);
    assert_eq!(gateway.refunded_total_for(charge.id()), 300);
    let numbers: Vec<u64> = gateway.refunds().iter().map(RefundRecord::number).collect();
    assert_eq!(numbers, [1, 2, 3]);
}

/// Every gateway on the books shares one account's rate limit: at 4
/// requests per second (no burst), a second request in the same instant,
/// from another gateway or another process, is answered `rate_limited`
/// with the wait until it passes, and captures nothing; after that wait it
/// passes, under the same key, once.
pub fn the_rate_limit_is_shared_by_every_gateway_on_the_books_and_moves_no_money<
    B: SandboxBooks,
>(
    open: &(dyn Fn() -> B + Sync),
) {
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    let limit = crate::RateLimit::new(std::num::NonZeroU32::new(4).unwrap());
    let gateway = |clock: &ManualClock| {
        FakeGateway::with_books(open())
            .with_clock(clock.clone())
            .with_rate_limit(limit)
    };
    let (first, second) = (gateway(&clock), gateway(&clock));
    first.charge(&request("rl-1", "tok_success", 500)).unwrap();

    let refused = second.charge(&request("rl-2", "tok_success", 700));

    assert_eq!(
        refused,
        Err(GatewayError::RateLimited {
            retry_after: std::time::Duration::from_millis(250)
        })
    );
    assert_eq!(second.rate_limited_count(), 1);
    assert!(second.charge(&request("rl-3", "tok_success", 700)).is_err());
    assert_eq!(second.rate_limited_count(), 2);
    assert_eq!(open().capture_count().unwrap(), 1, "a 429 captures nothing");
    // Lookups count too: the account's requests, whatever they are.
    assert!(matches!(
        first.lookup(&key("rl-1")),
        Err(GatewayError::RateLimited { .. })
    ));
    clock.advance(std::time::Duration::from_millis(250));
    second.charge(&request("rl-2", "tok_success", 700)).unwrap();
    assert_eq!(open().capture_count().unwrap(), 2);
}
