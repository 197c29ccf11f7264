//! Attempts: appended only after a final one, batches all or nothing, a
//! capture never replaced, and the status they give the invoice.

use std::time::Duration;

use payment_gateway::{Amount, Charge, ChargeId, Clock, Currency, DeclineCode, FakeGateway};

use crate::{
    AttemptOutcome, BillingError, InvoiceStatus, Ledger, LedgerError, LedgerErrorKind, Payment,
    StatusKind,
};

use super::{
    WORKED_TOTAL, assert_conflict, captured, clock, declined, id, issue_all, method, pending,
    record, service, update, worked_example,
};

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
