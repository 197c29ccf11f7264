//! The checks of the corrections' documents: one credit note per invoice
//! and correction, refund attempts that only move forward, the amount due
//! an unpaid invoice's pre-payment credit notes leave, and the listings.

use payment_gateway::{ChargeId, RefundId};

use super::{WORKED_TOTAL, clock, id, issue_all, service, worked_example};
use crate::{
    CorrectionId, CorrectionRecord, Corrections, CreditNote, CreditNoteId, CreditNoteIssued,
    CreditNoteKind, Ledger, Lines, Payment, Rates, RefundAttempt, RefundOutcome,
};
use payment_gateway::{Amount, Clock, Currency, FakeGateway};

fn correction_id(text: &str) -> CorrectionId {
    CorrectionId::new(text).unwrap()
}

/// Correction `name`: gold 0.12 to this build's rates.
fn correction(name: &str) -> CorrectionRecord {
    CorrectionRecord::new(
        correction_id(name),
        "gold was 0.12",
        "fnv1a64:0000000000000001",
        Rates::current(),
        "sha256:00",
        "ledgerly 0.1.0",
        clock().now(),
    )
}

/// The lesson's credit note (5.00) of `invoice`'s `number`-th, for
/// correction `name`, of `kind`.
fn five_dollars(invoice: &str, number: u32, name: &str, kind: CreditNoteKind) -> CreditNote {
    CreditNote::new(
        CreditNoteId::new(id(invoice), number),
        correction_id(name),
        kind,
        Currency::Usd,
        Lines::new([0, 450, -9, 35, 24, 500]).unwrap(),
        Lines::new([15000, -2250, -255, 1000, 674, WORKED_TOTAL]).unwrap(),
        clock().now(),
    )
    .unwrap()
}

fn refund_of(note: &CreditNote, outcome: RefundOutcome) -> RefundAttempt {
    RefundAttempt::new(
        note.id().clone(),
        1,
        ChargeId::new("ch_fake_000001").unwrap(),
        Amount::new(note.credited().total(), Currency::Usd).unwrap(),
        outcome,
        clock().now(),
        clock().now(),
    )
    .unwrap()
}

/// INV-1 and INV-2 issued, correction `fix-1` recorded: a new handle.
fn two_invoices_and_fix_1<L: Ledger + Corrections>(open: &dyn Fn() -> L) -> L {
    issue_all(
        open,
        &[
            worked_example("INV-1", "tok_success"),
            worked_example("INV-2", "tok_success"),
        ],
    );
    let ledger = open();
    ledger.record_correction(&correction("fix-1")).unwrap();
    ledger
}

/// A correction is stored once (a second with its id gets the first back);
/// an invoice gets one credit note per correction, whoever writes it, and
/// a post-payment one's refund attempt is committed pending with it; both
/// read back exactly.
pub fn a_credit_note_is_written_once_per_invoice_and_correction<L: Ledger + Corrections>(
    open: &dyn Fn() -> L,
) {
    issue_all(open, &[worked_example("INV-1", "tok_success")]);
    let ledger = open();
    let first = correction("fix-1");
    assert_eq!(ledger.record_correction(&first).unwrap(), first);
    let mut again = correction("fix-1");
    again = CorrectionRecord::new(
        again.id().clone(),
        "another reason",
        again.wrong_fingerprint(),
        again.right().clone(),
        again.plan_digest(),
        again.release(),
        again.created_at(),
    );
    assert_eq!(open().record_correction(&again).unwrap(), first);
    assert_eq!(
        open().correction(&correction_id("fix-1")).unwrap(),
        Some(first)
    );
    assert_eq!(open().correction(&correction_id("fix-2")).unwrap(), None);

    let note = five_dollars("INV-1", 1, "fix-1", CreditNoteKind::PostPayment);
    let refund = refund_of(&note, RefundOutcome::Pending);
    assert_eq!(
        ledger.issue_credit_note(&note, Some(&refund)).unwrap(),
        CreditNoteIssued::Inserted
    );
    let second = five_dollars("INV-1", 2, "fix-1", CreditNoteKind::PostPayment);
    assert_eq!(
        open()
            .issue_credit_note(&second, Some(&refund_of(&second, RefundOutcome::Pending)))
            .unwrap(),
        CreditNoteIssued::Existing(Box::new(note.clone()))
    );
    let reader = open();
    assert_eq!(
        reader.credit_notes_of(&id("INV-1")).unwrap(),
        std::slice::from_ref(&note)
    );
    assert_eq!(
        reader.refund_attempts(note.id()).unwrap(),
        std::slice::from_ref(&refund)
    );
    assert_eq!(refund.key().as_str(), "refund:INV-1-CN01:attempt:1");
    assert!(reader.credit_notes_of(&id("INV-2")).unwrap().is_empty());
    let missing = five_dollars("INV-9", 1, "fix-1", CreditNoteKind::PrePayment);
    assert!(reader.issue_credit_note(&missing, None).is_err());
}

/// A refund attempt's outcome moves forward only: an unsettled one to
/// anything, a success only to a late failure, a failure never; the
/// unsettled ones are listed in order, a page at a time.
pub fn refund_outcomes_move_forward_only_and_unsettled_ones_are_listed<L: Ledger + Corrections>(
    open: &dyn Fn() -> L,
) {
    issue_all(
        open,
        &[
            worked_example("INV-1", "tok_success"),
            worked_example("INV-2", "tok_success"),
            worked_example("INV-3", "tok_success"),
        ],
    );
    let ledger = open();
    ledger.record_correction(&correction("fix-1")).unwrap();
    let notes: Vec<CreditNote> = ["INV-1", "INV-2", "INV-3"]
        .iter()
        .map(|invoice| five_dollars(invoice, 1, "fix-1", CreditNoteKind::PostPayment))
        .collect();
    for note in &notes {
        ledger
            .issue_credit_note(note, Some(&refund_of(note, RefundOutcome::Pending)))
            .unwrap();
    }
    let at = clock().now();
    let refunded = RefundOutcome::Succeeded(RefundId::new("re_fake_000001").unwrap());
    let lost = RefundOutcome::Unknown("reply lost".to_owned());
    ledger.finish_refund(notes[0].id(), 1, &lost, at).unwrap();
    ledger
        .finish_refund(notes[0].id(), 1, &refunded, at)
        .unwrap();
    ledger.finish_refund(notes[1].id(), 1, &lost, at).unwrap();
    let outcome = |note: &CreditNote| {
        open().refund_attempts(note.id()).unwrap()[0]
            .outcome()
            .clone()
    };
    assert_eq!(outcome(&notes[0]), refunded);
    // A stale report of doubt never undoes a success.
    ledger.finish_refund(notes[0].id(), 1, &lost, at).unwrap();
    assert_eq!(outcome(&notes[0]), refunded);
    let failed = RefundOutcome::Failed("card closed".to_owned());
    ledger.finish_refund(notes[0].id(), 1, &failed, at).unwrap();
    assert_eq!(outcome(&notes[0]), failed);
    ledger
        .finish_refund(notes[0].id(), 1, &refunded, at)
        .unwrap();
    assert_eq!(outcome(&notes[0]), failed, "a failure is final");
    assert!(
        ledger
            .finish_refund(notes[0].id(), 2, &refunded, at)
            .is_err()
    );

    let unsettled = open().unsettled_refunds(None, 1).unwrap();
    assert_eq!(unsettled.len(), 1);
    assert_eq!(unsettled[0].credit_note(), notes[1].id());
    assert_eq!(unsettled[0].outcome(), &lost);
    let next = open()
        .unsettled_refunds(Some((notes[1].id(), 1)), 10)
        .unwrap();
    let ids: Vec<String> = next.iter().map(|a| a.credit_note().to_string()).collect();
    assert_eq!(ids, ["INV-3-CN01"]);
}

/// Pre-payment credit notes lower an unpaid invoice's amount due, and the
/// next charge collects exactly that; the others do not.
pub fn the_next_charge_collects_the_amount_due_after_pre_payment_credit_notes<
    L: Ledger + Corrections,
>(
    open: &dyn Fn() -> L,
) {
    let ledger = two_invoices_and_fix_1(open);
    ledger
        .issue_credit_note(
            &five_dollars("INV-1", 1, "fix-1", CreditNoteKind::PrePayment),
            None,
        )
        .unwrap();
    let zero = CreditNote::new(
        CreditNoteId::new(id("INV-2"), 1),
        correction_id("fix-1"),
        CreditNoteKind::LinesOnly,
        Currency::Usd,
        Lines::new([0, 100, 0, -100, 0, 0]).unwrap(),
        Lines::new([15000, -2150, -255, 900, 674, WORKED_TOTAL]).unwrap(),
        clock().now(),
    )
    .unwrap();
    ledger.issue_credit_note(&zero, None).unwrap();
    assert_eq!(
        open()
            .credited_before_payment(&[id("INV-1"), id("INV-2"), id("INV-9")])
            .unwrap(),
        [500, 0, 0]
    );

    let gateway = FakeGateway::new();
    let collector = service(&gateway, open(), &clock());
    let Payment::Charged(charge) = collector.collect(&id("INV-1")).unwrap() else {
        panic!("INV-1 was not charged");
    };
    assert_eq!(charge.amount().minor_units(), WORKED_TOTAL - 500);
    let Payment::Charged(charge) = collector.collect(&id("INV-2")).unwrap() else {
        panic!("INV-2 was not charged");
    };
    assert_eq!(charge.amount().minor_units(), WORKED_TOTAL);
}

/// Credit notes are listed in (invoice, number) order, a page at a time,
/// all of them or one correction's.
pub fn credit_notes_page_in_order_and_filter_by_correction<L: Ledger + Corrections>(
    open: &dyn Fn() -> L,
) {
    let ledger = two_invoices_and_fix_1(open);
    ledger.record_correction(&correction("fix-2")).unwrap();
    for (invoice, number, name) in [
        ("INV-2", 1, "fix-1"),
        ("INV-1", 1, "fix-1"),
        ("INV-1", 2, "fix-2"),
    ] {
        ledger
            .issue_credit_note(
                &five_dollars(invoice, number, name, CreditNoteKind::PrePayment),
                None,
            )
            .unwrap();
    }
    let names = |notes: Vec<CreditNote>| {
        notes
            .iter()
            .map(|note| note.id().to_string())
            .collect::<Vec<_>>()
    };
    let reader = open();
    assert_eq!(
        names(reader.credit_notes(None, None, 10).unwrap()),
        ["INV-1-CN01", "INV-1-CN02", "INV-2-CN01"]
    );
    let first = reader.credit_notes(None, None, 1).unwrap();
    assert_eq!(
        names(reader.credit_notes(None, Some(first[0].id()), 1).unwrap()),
        ["INV-1-CN02"]
    );
    assert_eq!(
        names(
            reader
                .credit_notes(Some(&correction_id("fix-1")), None, 10)
                .unwrap()
        ),
        ["INV-1-CN01", "INV-2-CN01"]
    );
    assert!(
        reader
            .credit_notes(Some(&correction_id("fix-3")), None, 10)
            .unwrap()
            .is_empty()
    );
}
