//! The checks every [`Ledger`] backend must pass (feature `conformance`).
//!
//! Each check is a function taking `open`, which opens a handle on one
//! storage that starts empty: every call opens the *same* storage (for a
//! file, a new connection to it; for memory, another handle on the same
//! maps), as a second process or a rerun would. A check panics, naming what
//! broke, when the backend breaks a rule, so a backend's tests call them
//! from `#[test]` functions, most simply through [`conformance_tests!`]:
//!
//! ```
//! # #[cfg(feature = "conformance")] {
//! use billing::InMemoryLedger;
//! use std::sync::Arc;
//!
//! fn open_memory() -> impl Fn() -> Arc<InMemoryLedger> + Sync {
//!     let shared = Arc::new(InMemoryLedger::new());
//!     move || Arc::clone(&shared)
//! }
//! billing::conformance::issue_stores_a_new_invoice_and_returns_it_unchanged(&open_memory());
//! # }
//! ```
//!
//! [`crash_and_rerun`] is the crash-safety property: faults injected at each
//! point of `collect` (after the attempt is written, after the processor
//! captured but before the ledger recorded it, after recording), then fresh
//! services on the same storage rerun; backends drive it with proptest.
//!
//! [`conformance_tests!`]: crate::conformance_tests

// A conformance check is a test: a broken rule is a panic with a message,
// which the calling `#[test]` reports as a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use payment_gateway::{
    Amount, Charge, ChargeId, ChargeRequest, Clock, Currency, DeclineCode, FakeGateway, Fault,
    GatewayError, IdempotencyKey, InMemoryBooks, Lookup, ManualClock, PaymentGateway,
    PaymentMethod, TestToken, from_unix_millis, unix_millis,
};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};

use crate::{
    Attempt, AttemptOutcome, AttemptUpdate, BillingError, BillingService, ClaimOutcome, Claims,
    CustomerId, HeldClaim, Invoice, InvoiceFilter, InvoiceId, InvoiceRecord, InvoiceStatus,
    IssueOutcome, IssuedBreakdown, IssuedInvoice, IssuedParts, Ledger, LedgerError,
    LedgerErrorKind, Payment, RecordingSleeper, RetryPolicy, StatusKind, WorkerId,
};

/// Generates one `#[test]` per conformance check, each on a fresh storage
/// from `$fresh` (an expression giving a new opener: `Fn() -> L + Sync`).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            issue_stores_a_new_invoice_and_returns_it_unchanged,
            issuing_the_same_invoice_again_is_a_no_op,
            issuing_different_content_under_an_issued_id_is_refused_naming_the_field,
            a_batch_issue_reports_each_invoice_in_order,
            an_unknown_invoice_is_none,
            get_all_reads_each_invoice_in_the_order_asked,
            a_pending_attempt_is_stored_before_anything_is_sent,
            an_attempt_is_appended_only_after_a_final_one,
            a_batch_of_attempts_is_written_all_or_nothing,
            a_capture_is_never_replaced_and_a_stale_outcome_is_ignored,
            an_invoice_never_holds_two_captured_attempts,
            writes_to_a_missing_invoice_or_attempt_are_not_found,
            the_status_follows_from_the_attempts,
            a_new_payment_method_is_used_by_the_next_attempt_only,
            listings_page_in_id_order_and_filter_by_status_and_id,
            unsettled_attempts_page_in_order,
            timestamps_and_amounts_round_trip_exactly,
            a_paid_invoice_sends_no_request_and_a_zero_total_is_paid_without_a_charge,
            a_rerun_resumes_a_pending_attempt_under_its_key,
            a_rerun_25_hours_later_charges_nothing_twice,
            reconcile_settles_by_lookup_never_by_charging,
            a_crash_at_every_point_of_collect_is_resumed_with_one_capture,
            two_services_collecting_the_same_invoices_at_once_capture_each_once,
            a_batch_collect_shares_commits_and_charges_each_once,
            a_claimed_invoice_is_held_from_other_workers_until_released,
            a_claim_whose_lease_ran_out_is_taken_over,
            workers_claiming_at_once_get_each_invoice_once,
            claims_are_listed_in_pages_saying_whose_and_whether_expired,
            a_filtered_listing_reads_past_the_first_chunk_of_invoices,
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

/// The worked example's total, in cents.
pub const WORKED_TOTAL: i64 = 14169;

fn id(text: &str) -> InvoiceId {
    InvoiceId::new(text).unwrap()
}

fn method(token: &str) -> PaymentMethod {
    PaymentMethod::new(token).unwrap()
}

/// The worked example (141.69) as invoice `invoice`, paid with `token`.
pub fn worked_example(invoice: &str, token: &str) -> Invoice {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    Invoice::new(
        id(invoice),
        CustomerId::new("cus_1").unwrap(),
        method(token),
        Currency::Usd,
        PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap(),
    )
}

fn free_invoice(invoice: &str) -> Invoice {
    let items = vec![LineItem::new("0".parse().unwrap(), "5".parse().unwrap())];
    Invoice::new(
        id(invoice),
        CustomerId::new("cus_0").unwrap(),
        method("tok_success"),
        Currency::Eur,
        PricingInput::new(items, Tier::None, false, DaysOverdue::from(0)).unwrap(),
    )
}

/// A clock at 2025-12-01 10:00:00.123 UTC, shared by a check's services and
/// gateways.
fn clock() -> ManualClock {
    ManualClock::at_unix_millis(1_764_583_200_123)
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::new(
        max_attempts,
        Duration::from_millis(1),
        Duration::from_millis(4),
    )
    .unwrap()
}

type Service<G, L> = BillingService<G, L, RecordingSleeper, ManualClock>;

fn service<G: PaymentGateway, L: Ledger>(
    gateway: G,
    ledger: L,
    clock: &ManualClock,
) -> Service<G, L> {
    BillingService::new(
        gateway,
        ledger,
        RecordingSleeper::new(),
        clock.clone(),
        policy(3),
    )
}

/// Issues `invoices` into a new handle from `open`, at the standard clock.
fn issue_all<L: Ledger>(open: &dyn Fn() -> L, invoices: &[Invoice]) -> Vec<IssuedInvoice> {
    let service = service(FakeGateway::new(), open(), &clock());
    service
        .issue_all(invoices)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn record<L: Ledger>(ledger: &L, invoice: &str) -> InvoiceRecord {
    ledger
        .get(&id(invoice))
        .unwrap()
        .unwrap_or_else(|| panic!("invoice {invoice} is not in the ledger"))
}

fn pending(invoice: &str, number: u32, at: SystemTime) -> Attempt {
    Attempt::pending(
        id(invoice),
        number,
        method("tok_success"),
        Amount::new(WORKED_TOTAL, Currency::Usd).unwrap(),
        at,
    )
    .unwrap()
}

fn update(invoice: &str, number: u32, outcome: AttemptOutcome, at: SystemTime) -> AttemptUpdate {
    AttemptUpdate::new(id(invoice), number, outcome, at)
}

fn captured(charge: &str) -> AttemptOutcome {
    AttemptOutcome::Captured(ChargeId::new(charge).unwrap())
}

fn declined() -> AttemptOutcome {
    AttemptOutcome::Declined(DeclineCode::CardDeclined)
}

fn assert_conflict(result: Result<(), LedgerError>, what: &str) {
    match result {
        Err(error) if error.kind() == LedgerErrorKind::Conflict => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

// ---- Issuing -------------------------------------------------------------

/// A new invoice is stored, and read back exactly as issued: breakdown in
/// cents, rates as exact decimals, line items, issue time.
pub fn issue_stores_a_new_invoice_and_returns_it_unchanged<L: Ledger>(open: &dyn Fn() -> L) {
    let issued = issue_all(open, &[worked_example("INV-1", "tok_success")]).remove(0);
    assert_eq!(
        issued
            .breakdown()
            .amounts()
            .map(pricing::Money::minor_units),
        [15000, -2250, -255, 1000, 674, 14169]
    );
    assert_eq!(issued.line_items(), "40x3 15x2");
    assert_eq!(issued.tier(), "gold");
    assert_eq!(
        issued.rates().values().map(|rate| rate.to_string()),
        ["0.15", "0.10", "0.05", "0.02", "0.08", "0.05"]
    );
    assert_eq!(issued.rates().late_fee_after_days(), 30);

    let stored = record(&open(), "INV-1");
    assert_eq!(stored.invoice(), &issued, "read back differs from issued");
    assert!(stored.attempts().is_empty());
    assert_eq!(stored.status(), InvoiceStatus::Open);
}

/// Issuing the same content again returns the first issue and changes
/// nothing, even at a later time.
pub fn issuing_the_same_invoice_again_is_a_no_op<L: Ledger>(open: &dyn Fn() -> L) {
    let first = issue_all(open, &[worked_example("INV-1", "tok_success")]).remove(0);
    let later = clock();
    later.advance(Duration::from_secs(3600));
    let service = service(FakeGateway::new(), open(), &later);

    let again = service
        .issue(&worked_example("INV-1", "tok_success"))
        .unwrap();

    assert_eq!(again, first);
    assert_eq!(record(&open(), "INV-1").invoice(), &first);
}

/// Different content under an issued id is refused, naming the first field
/// that differs, and the issued invoice stays as it was.
pub fn issuing_different_content_under_an_issued_id_is_refused_naming_the_field<L: Ledger>(
    open: &dyn Fn() -> L,
) {
    // As if issued under the lesson's typo (gold 12 %): the same input,
    // another total.
    let typo = IssuedInvoice::restore(IssuedParts {
        breakdown: IssuedBreakdown::new([15000, -1800, -264, 1035, 698, 14669]).unwrap(),
        ..issue_all(
            &|| crate::InMemoryLedger::new(),
            &[worked_example("INV-1", "tok_success")],
        )
        .remove(0)
        .parts()
        .clone()
    })
    .unwrap();
    assert_eq!(
        open().issue(std::slice::from_ref(&typo)).unwrap(),
        [IssueOutcome::Inserted]
    );
    let service = service(FakeGateway::new(), open(), &clock());

    let error = service
        .issue(&worked_example("INV-1", "tok_success"))
        .unwrap_err();

    assert_eq!(
        error.to_string(),
        "invoice INV-1 was already issued with a different tier discount: -18.00, now -22.50"
    );
    let mut other_customer = worked_example("INV-1", "tok_success");
    other_customer = Invoice::new(
        other_customer.id().clone(),
        CustomerId::new("cus_2").unwrap(),
        other_customer.payment_method().clone(),
        other_customer.currency(),
        other_customer.pricing().clone(),
    );
    assert!(matches!(
        service.issue(&other_customer),
        Err(BillingError::AlreadyIssued {
            field: "customer",
            ..
        })
    ));
    assert_eq!(record(&open(), "INV-1").invoice(), &typo);
}

/// A batch issue answers for each invoice in order, new or existing, and
/// a refused one does not stop the others.
pub fn a_batch_issue_reports_each_invoice_in_order<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("B", "tok_success")]);
    let service = service(FakeGateway::new(), open(), &clock());
    let mut changed = free_invoice("B");
    changed = Invoice::new(
        changed.id().clone(),
        CustomerId::new("cus_1").unwrap(),
        method("tok_success"),
        Currency::Usd,
        changed.pricing().clone(),
    );

    let results = service
        .issue_all(&[
            worked_example("C", "tok_success"),
            worked_example("B", "tok_success"),
            changed,
            free_invoice("A"),
        ])
        .unwrap();

    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().id().as_str(), "C");
    assert_eq!(results[1].as_ref().unwrap().id().as_str(), "B");
    assert!(matches!(
        &results[2],
        Err(BillingError::AlreadyIssued {
            field: "line items",
            ..
        })
    ));
    assert!(results[3].as_ref().unwrap().breakdown().total().is_zero());
    let ids: Vec<String> = open()
        .list(&InvoiceFilter::all(), None, 10)
        .unwrap()
        .iter()
        .map(|r| r.invoice().id().to_string())
        .collect();
    assert_eq!(ids, ["A", "B", "C"]);
}

/// An id never issued reads as `None`.
pub fn an_unknown_invoice_is_none<L: Ledger>(open: &dyn Fn() -> L) {
    assert_eq!(open().get(&id("INV-404")).unwrap(), None);
}

/// `get_all` answers for each id in the order asked, `None` for unknown ids.
pub fn get_all_reads_each_invoice_in_the_order_asked<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(
        open,
        &[worked_example("A", "tok_success"), free_invoice("B")],
    );

    let records = open()
        .get_all(&[id("B"), id("NOPE"), id("A"), id("B")])
        .unwrap();

    let ids: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.as_ref().map(|r| r.invoice().id().as_str()))
        .collect();
    assert_eq!(ids, [Some("B"), None, Some("A"), Some("B")]);
    assert!(open().get_all(&[]).unwrap().is_empty());
}

// ---- Attempts ------------------------------------------------------------

/// A begun attempt is pending and visible to another handle at once: it is
/// committed before its request could be sent.
pub fn a_pending_attempt_is_stored_before_anything_is_sent<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let at = clock().now();
    open().begin_attempts(&[pending("INV-1", 1, at)]).unwrap();

    let stored = record(&open(), "INV-1");

    assert_eq!(stored.attempts(), [pending("INV-1", 1, at)]);
    assert_eq!(stored.status(), InvoiceStatus::Unknown);
    assert_eq!(
        stored.attempts()[0].key().as_str(),
        "invoice:INV-1:attempt:1"
    );
}

/// An attempt is appended with the next number, only when the latest is
/// final and nothing was captured; anything else is a conflict.
pub fn an_attempt_is_appended_only_after_a_final_one<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let ledger = open();
    let at = clock().now();
    assert_conflict(
        ledger.begin_attempts(&[pending("INV-1", 2, at)]),
        "attempt 2 first",
    );
    ledger.begin_attempts(&[pending("INV-1", 1, at)]).unwrap();
    assert_conflict(
        ledger.begin_attempts(&[pending("INV-1", 1, at)]),
        "attempt 1 twice",
    );
    assert_conflict(
        ledger.begin_attempts(&[pending("INV-1", 2, at)]),
        "attempt 2 while 1 is pending",
    );
    ledger
        .finish_attempts(&[update(
            "INV-1",
            1,
            AttemptOutcome::Unknown("lost".into()),
            at,
        )])
        .unwrap();
    assert_conflict(
        ledger.begin_attempts(&[pending("INV-1", 2, at)]),
        "attempt 2 while 1 is unknown",
    );
    ledger
        .finish_attempts(&[update("INV-1", 1, declined(), at)])
        .unwrap();
    ledger.begin_attempts(&[pending("INV-1", 2, at)]).unwrap();
    ledger
        .finish_attempts(&[update("INV-1", 2, captured("ch_1"), at)])
        .unwrap();
    assert_conflict(
        ledger.begin_attempts(&[pending("INV-1", 3, at)]),
        "attempt 3 after a capture",
    );
    assert_eq!(record(&open(), "INV-1").attempts().len(), 2);
}

/// A batch of attempts is one commit: when one is refused, none is stored.
pub fn a_batch_of_attempts_is_written_all_or_nothing<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(
        open,
        &[
            worked_example("A", "tok_success"),
            worked_example("B", "tok_success"),
        ],
    );
    let at = clock().now();
    let ledger = open();
    ledger.begin_attempts(&[pending("B", 1, at)]).unwrap();

    assert_conflict(
        ledger.begin_attempts(&[pending("A", 1, at), pending("B", 1, at)]),
        "a batch with a taken number",
    );
    assert!(
        record(&open(), "A").attempts().is_empty(),
        "half a batch was kept"
    );

    ledger.begin_attempts(&[pending("A", 1, at)]).unwrap();
    let result = ledger.finish_attempts(&[
        update("A", 1, captured("ch_a"), at),
        update("B", 7, captured("ch_b"), at),
    ]);
    assert!(
        result.is_err(),
        "an update of a missing attempt was accepted"
    );
    assert_eq!(
        record(&open(), "A").attempts()[0].outcome(),
        &AttemptOutcome::Pending,
        "half a batch of outcomes was kept"
    );
}

/// A capture is the processor's word: it is never replaced (the same one
/// again is ignored, another charge id is a conflict), it replaces anything
/// else, and a settled outcome is not moved by a stale one.
pub fn a_capture_is_never_replaced_and_a_stale_outcome_is_ignored<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let ledger = open();
    let at = clock().now();
    let later = at + Duration::from_secs(5);
    ledger.begin_attempts(&[pending("INV-1", 1, at)]).unwrap();
    ledger
        .finish_attempts(&[update(
            "INV-1",
            1,
            AttemptOutcome::Failed("gone".into()),
            at,
        )])
        .unwrap();
    ledger
        .finish_attempts(&[update(
            "INV-1",
            1,
            AttemptOutcome::Unknown("stale".into()),
            later,
        )])
        .unwrap();
    assert_eq!(
        record(&ledger, "INV-1").attempts()[0].outcome(),
        &AttemptOutcome::Failed("gone".into()),
        "a settled outcome was replaced by a stale one"
    );

    ledger
        .finish_attempts(&[update("INV-1", 1, captured("ch_1"), later)])
        .unwrap();
    ledger
        .finish_attempts(&[update("INV-1", 1, captured("ch_1"), later)])
        .unwrap();
    ledger
        .finish_attempts(&[update(
            "INV-1",
            1,
            AttemptOutcome::Unknown("late".into()),
            later,
        )])
        .unwrap();
    assert_conflict(
        ledger.finish_attempts(&[update("INV-1", 1, captured("ch_2"), later)]),
        "another charge id",
    );

    let attempt = record(&open(), "INV-1").attempts()[0].clone();
    assert_eq!(attempt.outcome(), &captured("ch_1"));
    assert_eq!(attempt.updated_at(), later);
    assert_eq!(attempt.created_at(), at);
}

/// However the writes interleave, an invoice holds at most one captured
/// attempt, and paid is only ever derived from one.
pub fn an_invoice_never_holds_two_captured_attempts<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let ledger = open();
    let at = clock().now();
    ledger.begin_attempts(&[pending("INV-1", 1, at)]).unwrap();
    ledger
        .finish_attempts(&[update(
            "INV-1",
            1,
            AttemptOutcome::Failed("not found".into()),
            at,
        )])
        .unwrap();
    ledger.begin_attempts(&[pending("INV-1", 2, at)]).unwrap();
    ledger
        .finish_attempts(&[update("INV-1", 2, captured("ch_2"), at)])
        .unwrap();

    // A late report that attempt 1 captured after all.
    assert_conflict(
        ledger.finish_attempts(&[update("INV-1", 1, captured("ch_1"), at)]),
        "a second captured attempt",
    );

    let stored = record(&open(), "INV-1");
    let captures = stored
        .attempts()
        .iter()
        .filter(|a| matches!(a.outcome(), AttemptOutcome::Captured(_)))
        .count();
    assert_eq!(captures, 1);
    assert_eq!(
        stored.status(),
        InvoiceStatus::Paid(Payment::Charged(Charge::new(
            ChargeId::new("ch_2").unwrap(),
            Amount::new(WORKED_TOTAL, Currency::Usd).unwrap()
        )))
    );
}

/// Writing to an invoice or attempt that does not exist is `NotFound`.
pub fn writes_to_a_missing_invoice_or_attempt_are_not_found<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let ledger = open();
    let at = clock().now();
    let kind = |result: Result<(), LedgerError>| result.unwrap_err().kind();
    assert_eq!(
        kind(ledger.begin_attempts(&[pending("NOPE", 1, at)])),
        LedgerErrorKind::NotFound
    );
    assert_eq!(
        kind(ledger.finish_attempts(&[update("INV-1", 1, declined(), at)])),
        LedgerErrorKind::NotFound
    );
    assert_eq!(
        kind(ledger.finish_attempts(&[update("NOPE", 1, declined(), at)])),
        LedgerErrorKind::NotFound
    );
    assert_eq!(
        kind(ledger.change_payment_method(&id("NOPE"), &method("tok_success"))),
        LedgerErrorKind::NotFound
    );
}

/// Open with no attempt or a refused one; unknown while pending or unknown;
/// failed after a decline; paid with the captured charge.
pub fn the_status_follows_from_the_attempts<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let ledger = open();
    let at = clock().now();
    let status = || record(&open(), "INV-1").status();
    assert_eq!(status(), InvoiceStatus::Open);
    ledger.begin_attempts(&[pending("INV-1", 1, at)]).unwrap();
    assert_eq!(status(), InvoiceStatus::Unknown);
    ledger
        .finish_attempts(&[update(
            "INV-1",
            1,
            AttemptOutcome::Failed("no card".into()),
            at,
        )])
        .unwrap();
    assert_eq!(status(), InvoiceStatus::Open);
    ledger.begin_attempts(&[pending("INV-1", 2, at)]).unwrap();
    ledger
        .finish_attempts(&[update(
            "INV-1",
            2,
            AttemptOutcome::Unknown("lost".into()),
            at,
        )])
        .unwrap();
    assert_eq!(status(), InvoiceStatus::Unknown);
    ledger
        .finish_attempts(&[update("INV-1", 2, declined(), at)])
        .unwrap();
    assert_eq!(
        status(),
        InvoiceStatus::PaymentFailed {
            code: DeclineCode::CardDeclined
        }
    );
    ledger.begin_attempts(&[pending("INV-1", 3, at)]).unwrap();
    ledger
        .finish_attempts(&[update("INV-1", 3, captured("ch_9"), at)])
        .unwrap();
    assert_eq!(status().kind(), StatusKind::Paid);
}

/// A changed payment method is charged by the next new attempt; the
/// attempts already written keep theirs.
pub fn a_new_payment_method_is_used_by_the_next_attempt_only<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(open, &[worked_example("INV-1", "tok_expired_card")]);
    let gateway = FakeGateway::new();
    let service = service(&gateway, open(), &clock());
    assert!(matches!(
        service.collect(&id("INV-1")),
        Err(BillingError::Declined { .. })
    ));

    service
        .change_payment_method(&id("INV-1"), &method("tok_success"))
        .unwrap();
    service.collect(&id("INV-1")).unwrap();

    let stored = record(&open(), "INV-1");
    let methods: Vec<&str> = stored
        .attempts()
        .iter()
        .map(|a| a.payment_method().as_str())
        .collect();
    assert_eq!(methods, ["tok_expired_card", "tok_success"]);
    assert_eq!(stored.invoice().payment_method().as_str(), "tok_success");
    assert_eq!(gateway.capture_count(), 1);
}

// ---- Listings ------------------------------------------------------------

/// Listings come in pages in id order, and filter by status and by id.
pub fn listings_page_in_id_order_and_filter_by_status_and_id<L: Ledger>(open: &dyn Fn() -> L) {
    let invoices: Vec<Invoice> = (0..7)
        .map(|n| {
            let token = if n % 2 == 0 {
                "tok_success"
            } else {
                "tok_card_declined"
            };
            worked_example(&format!("INV-{n}"), token)
        })
        .collect();
    issue_all(open, &invoices);
    let service = service(FakeGateway::new(), open(), &clock());
    for n in 0..6 {
        let _ = service.collect(&id(&format!("INV-{n}")));
    }
    let ledger = open();

    let mut seen = Vec::new();
    let mut after: Option<InvoiceId> = None;
    // Seven invoices in pages of three: a fourth page means the cursor is
    // ignored, and the check fails instead of paging forever.
    for page_number in 0.. {
        assert!(page_number < 4, "listing does not end: {seen:?}");
        let page = ledger
            .list(&InvoiceFilter::all(), after.as_ref(), 3)
            .unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.invoice().id().clone());
        seen.extend(page.iter().map(|r| r.invoice().id().to_string()));
    }
    assert_eq!(
        seen,
        [
            "INV-0", "INV-1", "INV-2", "INV-3", "INV-4", "INV-5", "INV-6"
        ]
    );

    let ids = |filter: InvoiceFilter| -> Vec<String> {
        ledger
            .list(&filter, None, 100)
            .unwrap()
            .iter()
            .map(|r| r.invoice().id().to_string())
            .collect()
    };
    assert_eq!(
        ids(InvoiceFilter::all().with_status(StatusKind::Paid)),
        ["INV-0", "INV-2", "INV-4"]
    );
    assert_eq!(
        ids(InvoiceFilter::all().with_status(StatusKind::Failed)),
        ["INV-1", "INV-3", "INV-5"]
    );
    assert_eq!(
        ids(InvoiceFilter::all().with_status(StatusKind::Open)),
        ["INV-6"]
    );
    assert!(ids(InvoiceFilter::all().with_status(StatusKind::Unknown)).is_empty());
    assert_eq!(ids(InvoiceFilter::all().with_id(id("INV-3"))), ["INV-3"]);
    let by_id = InvoiceFilter::all().with_id(id("INV-3"));
    assert_eq!(ledger.list(&by_id, Some(&id("INV-2")), 5).unwrap().len(), 1);
    assert!(
        ledger
            .list(&by_id, Some(&id("INV-3")), 5)
            .unwrap()
            .is_empty()
    );
    assert!(
        ledger
            .list(&by_id, Some(&id("INV-4")), 5)
            .unwrap()
            .is_empty()
    );
    assert!(ledger.list(&by_id, None, 0).unwrap().is_empty());
    assert!(
        ledger
            .list(&InvoiceFilter::all(), None, 0)
            .unwrap()
            .is_empty()
    );
    assert!(
        ids(InvoiceFilter::all()
            .with_id(id("INV-3"))
            .with_status(StatusKind::Paid))
        .is_empty()
    );
    let paged = ledger
        .list(
            &InvoiceFilter::all().with_status(StatusKind::Paid),
            Some(&id("INV-0")),
            1,
        )
        .unwrap();
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0].invoice().id().as_str(), "INV-2");
}

/// Unsettled attempts (pending and unknown only) come in pages in
/// (invoice, number) order.
pub fn unsettled_attempts_page_in_order<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(
        open,
        &[
            worked_example("A", "tok_success"),
            worked_example("B", "tok_success"),
            worked_example("C", "tok_success"),
        ],
    );
    let ledger = open();
    let at = clock().now();
    ledger
        .begin_attempts(&[
            pending("A", 1, at),
            pending("B", 1, at),
            pending("C", 1, at),
        ])
        .unwrap();
    ledger
        .finish_attempts(&[
            update("A", 1, declined(), at),
            update("C", 1, AttemptOutcome::Unknown("lost".into()), at),
        ])
        .unwrap();
    ledger.begin_attempts(&[pending("A", 2, at)]).unwrap();

    let all: Vec<(String, u32)> = ledger
        .unsettled_attempts(None, 10)
        .unwrap()
        .iter()
        .map(|a| (a.invoice().to_string(), a.number()))
        .collect();
    assert_eq!(
        all,
        [
            ("A".to_owned(), 2),
            ("B".to_owned(), 1),
            ("C".to_owned(), 1)
        ]
    );
    let page = ledger.unsettled_attempts(Some((&id("A"), 2)), 1).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!((page[0].invoice().as_str(), page[0].number()), ("B", 1));
    assert!(
        ledger
            .unsettled_attempts(Some((&id("C"), 1)), 10)
            .unwrap()
            .is_empty()
    );
}

/// Times keep their millisecond, amounts their cents and currency, rates
/// their exact text and version.
pub fn timestamps_and_amounts_round_trip_exactly<L: Ledger>(open: &dyn Fn() -> L) {
    let base = issue_all(&|| crate::InMemoryLedger::new(), &[free_invoice("EUR-0")]).remove(0);
    let odd = IssuedInvoice::restore(IssuedParts {
        rates: crate::Rates::from_text(
            ["0.1234", "0.1", "0.05", "0.020", "0.0825", "0.05"],
            45,
            Some("2026-12-rates".to_owned()),
        )
        .unwrap(),
        issued_at: from_unix_millis(1_764_583_200_999),
        ..base.parts().clone()
    })
    .unwrap();
    open().issue(std::slice::from_ref(&odd)).unwrap();
    let stored = record(&open(), "EUR-0");
    assert_eq!(stored.invoice(), &odd);
    assert_eq!(stored.invoice().rates().version(), Some("2026-12-rates"));
    assert_eq!(
        stored.invoice().rates().values()[3].to_string(),
        "0.020",
        "a rate lost its exact text"
    );
    assert_eq!(unix_millis(stored.invoice().issued_at()), 1_764_583_200_999);
    assert_eq!(stored.status(), InvoiceStatus::Paid(Payment::NothingDue));
}

// ---- Collecting through the ledger ---------------------------------------

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
    let books = Arc::new(InMemoryBooks::new());
    let clock = clock();
    let gateway = || FakeGateway::with_books(Arc::clone(&books)).with_clock(clock.clone());
    let once = BillingService::new(
        gateway(),
        open(),
        RecordingSleeper::new(),
        clock.clone(),
        policy(1),
    );
    assert!(once.collect(&id("LOST-REPLY")).unwrap_err().is_retryable());
    // A run that died right after writing its attempt.
    open()
        .begin_attempts(&[pending("NEVER-SENT", 1, clock.now())])
        .unwrap();

    clock.advance(Duration::from_secs(25 * 3600));
    let later = gateway();
    let rerun = service(&later, open(), &clock);
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
/// capture is recorded, a decline too, one the processor never saw becomes
/// failed once it is older than the grace period; nothing is charged.
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
    let books = Arc::new(InMemoryBooks::new());
    let clock = clock();
    let gateway = || FakeGateway::with_books(Arc::clone(&books)).with_clock(clock.clone());
    let once = BillingService::new(
        gateway(),
        open(),
        RecordingSleeper::new(),
        clock.clone(),
        policy(1),
    );
    assert!(once.collect(&id("CAPTURED")).is_err());
    once.collect(&id("PAID")).unwrap();
    open()
        .begin_attempts(&[pending("UNSENT", 1, clock.now())])
        .unwrap();
    clock.advance(Duration::from_secs(120));
    open()
        .begin_attempts(&[pending("FRESH", 1, clock.now())])
        .unwrap();

    let reconciler = gateway();
    let report = service(&reconciler, open(), &clock)
        .reconcile(Duration::from_secs(60))
        .unwrap();

    assert_eq!(
        (report.settled(), report.captured(), report.still_unknown()),
        (2, 1, 1)
    );
    assert_eq!(reconciler.request_count(), 0, "reconcile charged");
    assert_eq!(reconciler.capture_count(), 2);
    assert!(record(&open(), "CAPTURED").status().is_paid());
    assert_eq!(record(&open(), "UNSENT").status(), InvoiceStatus::Open);
    assert_eq!(record(&open(), "FRESH").status(), InvoiceStatus::Unknown);

    // Once everything is settled there is nothing left to do.
    clock.advance(Duration::from_secs(120));
    let again = service(&reconciler, open(), &clock)
        .reconcile(Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        (again.settled(), again.captured(), again.still_unknown()),
        (1, 0, 0)
    );
    let last = service(&reconciler, open(), &clock)
        .reconcile(Duration::from_secs(60))
        .unwrap();
    assert_eq!(last, crate::Reconciliation::default());
}

// ---- Crash safety --------------------------------------------------------

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

// ---- Concurrency ---------------------------------------------------------

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

/// A listing filtered by status finds what it asks for however many
/// invoices that do not pass come before (600 here: more than a backend
/// reads per query), and stops at its limit.
pub fn a_filtered_listing_reads_past_the_first_chunk_of_invoices<L: Ledger>(open: &dyn Fn() -> L) {
    let invoices: Vec<Invoice> = (0..600)
        .map(|n| worked_example(&format!("MANY-{n:03}"), "tok_success"))
        .collect();
    issue_all(open, &invoices);
    let gateway = FakeGateway::new();
    service(&gateway, open(), &clock())
        .collect(&id("MANY-599"))
        .unwrap();
    let ledger = open();

    let paid = ledger
        .list(
            &InvoiceFilter::all().with_status(StatusKind::Paid),
            None,
            10,
        )
        .unwrap();
    let open_ones = ledger
        .list(
            &InvoiceFilter::all().with_status(StatusKind::Open),
            None,
            1000,
        )
        .unwrap();
    let first_300 = ledger
        .list(
            &InvoiceFilter::all().with_status(StatusKind::Open),
            None,
            300,
        )
        .unwrap();

    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].invoice().id().as_str(), "MANY-599");
    assert_eq!(open_ones.len(), 599);
    assert_eq!(first_300.len(), 300);
    assert_eq!(first_300[299].invoice().id().as_str(), "MANY-299");
}

// ---- Claims --------------------------------------------------------------

fn worker(name: &str) -> WorkerId {
    WorkerId::new(name).unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

/// A claim keeps an invoice from other workers until its holder releases
/// it; the holder may claim it again (renewing the lease), and a release by
/// anyone else changes nothing.
pub fn a_claimed_invoice_is_held_from_other_workers_until_released<L: Ledger + Claims>(
    open: &dyn Fn() -> L,
) {
    let ledger = open();
    let (a, b) = (id("CLAIM-A"), id("CLAIM-B"));
    let (one, two) = (worker("host-1:101"), worker("host-2:202"));

    let first = ledger.claim(&one, &[a.clone(), b.clone()], HOUR).unwrap();
    assert_eq!(first, [ClaimOutcome::Claimed, ClaimOutcome::Claimed]);
    let other = open().claim(&two, &[a.clone(), b.clone()], HOUR).unwrap();
    let held = ClaimOutcome::HeldBy(one.clone());
    assert_eq!(other, [held.clone(), held.clone()]);
    assert_eq!(
        ledger.claim(&one, std::slice::from_ref(&a), HOUR).unwrap(),
        [ClaimOutcome::Claimed],
        "the holder renews its own claim"
    );

    open().release(&two, std::slice::from_ref(&a)).unwrap();
    assert_eq!(
        open().claim(&two, std::slice::from_ref(&a), HOUR).unwrap(),
        std::slice::from_ref(&held),
        "a release by another worker drops nothing"
    );

    ledger.release(&one, std::slice::from_ref(&a)).unwrap();
    assert_eq!(
        open().claim(&two, &[a, b], HOUR).unwrap(),
        [ClaimOutcome::Claimed, held],
        "a released invoice is free, the other still held"
    );
}

/// A claim whose lease ran out (its worker died) is taken over by the next
/// worker that asks, and is then that worker's.
pub fn a_claim_whose_lease_ran_out_is_taken_over<L: Ledger + Claims>(open: &dyn Fn() -> L) {
    let a = id("LEASE-A");
    let (dead, alive) = (worker("dead:1"), worker("alive:2"));

    assert_eq!(
        open()
            .claim(&dead, std::slice::from_ref(&a), Duration::ZERO)
            .unwrap(),
        [ClaimOutcome::Claimed]
    );
    assert_eq!(
        open()
            .claim(&alive, std::slice::from_ref(&a), HOUR)
            .unwrap(),
        [ClaimOutcome::Claimed],
        "a lease of zero has run out"
    );
    assert_eq!(
        open().claim(&dead, std::slice::from_ref(&a), HOUR).unwrap(),
        [ClaimOutcome::HeldBy(alive)],
        "the old holder lost it"
    );
    // Leases beyond the cap are kept, capped.
    let far = id("LEASE-FAR");
    assert_eq!(
        open()
            .claim(&dead, std::slice::from_ref(&far), Duration::MAX)
            .unwrap(),
        [ClaimOutcome::Claimed]
    );
    assert_eq!(
        open().claim(&worker("x"), &[far], HOUR).unwrap(),
        [ClaimOutcome::HeldBy(dead)]
    );
}

/// Four workers, each with its own handle, claiming the same invoices at
/// once: each invoice goes to exactly one of them.
pub fn workers_claiming_at_once_get_each_invoice_once<L: Ledger + Claims>(
    open: &(dyn Fn() -> L + Sync),
) {
    let ids: Vec<InvoiceId> = (0..60).map(|n| id(&format!("RUSH-{n:02}"))).collect();
    let won: Vec<Vec<InvoiceId>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let ids = &ids;
                scope.spawn(move || {
                    let me = worker(&format!("rush:{n}"));
                    let ledger = open();
                    let mut mine = Vec::new();
                    // In slices of 7, in another order per worker.
                    let mut order: Vec<InvoiceId> = ids.clone();
                    order.rotate_left(n * 15);
                    for chunk in order.chunks(7) {
                        let outcomes = ledger.claim(&me, chunk, HOUR).unwrap();
                        for (id, outcome) in chunk.iter().zip(outcomes) {
                            if outcome == ClaimOutcome::Claimed {
                                mine.push(id.clone());
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<InvoiceId> = won.into_iter().flatten().collect();
    all.sort();
    assert_eq!(all, ids, "each invoice claimed by exactly one worker");
}

/// The claims are listed a page at a time in id order, each with its
/// holder and whether its lease ran out; a released claim is gone.
pub fn claims_are_listed_in_pages_saying_whose_and_whether_expired<L: Ledger + Claims>(
    open: &dyn Fn() -> L,
) {
    let ledger = open();
    let (one, two) = (worker("one:1"), worker("two:2"));
    let ids: Vec<InvoiceId> = (0..5).map(|n| id(&format!("LIST-{n}"))).collect();
    ledger.claim(&one, &ids[..3], HOUR).unwrap();
    ledger.claim(&two, &ids[3..], Duration::ZERO).unwrap();
    ledger.release(&one, &ids[1..2]).unwrap();
    assert_eq!(open().claims(None, 0).unwrap(), []);

    let first = open().claims(None, 2).unwrap();
    let rest = open().claims(Some(first[1].invoice()), 10).unwrap();

    assert_eq!(
        first,
        [
            HeldClaim::new(ids[0].clone(), one.clone(), false),
            HeldClaim::new(ids[2].clone(), one.clone(), false),
        ]
    );
    assert_eq!(
        rest,
        [
            HeldClaim::new(ids[3].clone(), two.clone(), true),
            HeldClaim::new(ids[4].clone(), two.clone(), true),
        ]
    );
    assert_eq!(rest[0].worker(), &two);
    assert!(rest[0].expired() && !first[0].expired());
}

/// proptest strategies for [`crash_and_rerun`], one copy for every
/// backend's property test.
pub mod strategies {
    use payment_gateway::{DeclineCode, Fault, TestToken};
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::{CrashPoint, Run};

    /// A gateway fault: unavailable, a lost request or reply, a decline.
    pub fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            Just(Fault::Unavailable),
            Just(Fault::RequestLost),
            Just(Fault::ReplyLost),
            select(DeclineCode::ALL.to_vec()).prop_map(Fault::Decline),
        ]
    }

    /// One run: a crash point (four times in five), up to three faults,
    /// and a quarter of the time 25 hours after the one before.
    pub fn run() -> impl Strategy<Value = Run> {
        (
            proptest::option::weighted(0.8, select(CrashPoint::ALL.to_vec())),
            proptest::collection::vec(fault(), 0..4),
            prop_oneof![3 => Just(0_u32), 1 => Just(25_u32)],
        )
            .prop_map(|(crash, faults, hours_later)| Run {
                crash,
                faults,
                hours_later,
            })
    }

    /// The card the invoice is paid with.
    pub fn token() -> impl Strategy<Value = TestToken> {
        prop_oneof![
            Just(TestToken::Success),
            Just(TestToken::ReplyLost),
            Just(TestToken::RequestLost),
            (0_u32..3).prop_map(|failures| TestToken::Transient { failures }),
            select(DeclineCode::ALL.to_vec()).prop_map(TestToken::Decline),
        ]
    }
}
