//! Applying a correction through the fake gateway and the in-memory
//! ledger: the lesson's typo charged, corrected and refunded exactly once,
//! whatever fails on the way. Every assertion about money is made on the
//! fake's books, not on what the corrector believes.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use billing::{
    BillingError, BillingService, CorrectionId, CorrectionRecord, Corrections, Corrector,
    CreditNoteKind, CustomerId, InMemoryLedger, Invoice, InvoiceId, Ledger, Lines, Payment,
    PlanEntry, Rates, RecordingSleeper, RefundOutcome, RetryPolicy, Settlement, Sweep, Undercharge,
    Worker, WorkerId, is_supplementary,
};
use payment_gateway::{
    Currency, FakeGateway, Fault, ManualClock, PaymentGateway, PaymentMethod, RefundStatus,
};
use pricing::{DaysOverdue, LineItem, PricingInput, RATES, RateTable, Tier};

type Service<'a> =
    BillingService<&'a FakeGateway, &'a InMemoryLedger, RecordingSleeper, ManualClock>;

/// The lesson's typo: gold at 0.12.
fn typo() -> Rates {
    let mut table: RateTable = RATES;
    table.gold_discount = "0.12".parse().unwrap();
    Rates::new(table, Some("1".to_owned()))
}

fn worked_example(id: &str, token: &str) -> Invoice {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    Invoice::new(
        InvoiceId::new(id).unwrap(),
        CustomerId::new("cus_1").unwrap(),
        PaymentMethod::new(token).unwrap(),
        Currency::Usd,
        PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap(),
    )
}

fn service<'a>(gateway: &'a FakeGateway, ledger: &'a InMemoryLedger) -> Service<'a> {
    let policy = RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(4)).unwrap();
    BillingService::new(
        gateway,
        ledger,
        RecordingSleeper::new(),
        ManualClock::at_unix_millis(1_764_583_200_000),
        policy,
    )
}

/// The typo release issues `invoices` (and charges those in `paid`).
fn typo_release(
    gateway: &FakeGateway,
    ledger: &InMemoryLedger,
    invoices: &[Invoice],
    paid: &[&str],
) {
    let release = service(gateway, ledger).with_rates(typo());
    for result in release.issue_all(invoices).unwrap() {
        assert_eq!(result.unwrap().breakdown().total().minor_units(), 14669);
    }
    for id in paid {
        release.collect(&InvoiceId::new(*id).unwrap()).unwrap();
    }
}

fn correction() -> CorrectionRecord {
    CorrectionRecord::new(
        CorrectionId::new("2026-12-gold").unwrap(),
        "gold was 0.12",
        typo().fingerprint(),
        Rates::current(),
        "sha256:plan",
        "ledgerly test",
        std::time::UNIX_EPOCH,
    )
}

fn corrector<'s, 'a>(
    service: &'s Service<'a>,
    worker: &str,
) -> Corrector<'s, &'a FakeGateway, &'a InMemoryLedger, RecordingSleeper, ManualClock> {
    Corrector::new(
        service,
        &correction(),
        WorkerId::new(worker).unwrap(),
        Duration::from_secs(60),
    )
    .unwrap()
}

/// The typo release's ledger and processor, INV-1 charged 146.69.
fn lesson_charged() -> (FakeGateway, InMemoryLedger) {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    typo_release(
        &gateway,
        &ledger,
        &[worked_example("INV-1", "tok_success")],
        &["INV-1"],
    );
    (gateway, ledger)
}

/// The lesson's credit: 5.00 (tier 4.50, loyalty -0.09, tax 0.35, late fee 0.24).
fn entry(id: &str) -> PlanEntry {
    PlanEntry {
        invoice: InvoiceId::new(id).unwrap(),
        credit: Lines::new([0, 450, -9, 35, 24, 500]).unwrap(),
    }
}

#[test]
fn the_lessons_typo_paid_at_146_69_is_refunded_5_00_once_and_verified() {
    let (gateway, ledger) = lesson_charged();
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 14669);
    let service = service(&gateway, &ledger);
    let corrector = corrector(&service, "w1");

    let applied = corrector.apply(&entry("INV-1")).unwrap();
    assert_eq!(applied.settlement, Settlement::Refunded);
    let note = applied.credit_note.unwrap();
    assert_eq!(note.id().to_string(), "INV-1-CN01");
    assert_eq!(note.credited().cents(), [0, 450, -9, 35, 24, 500]);
    assert_eq!(applied.refund_id.unwrap().as_str(), "re_fake_000001");
    let charge = gateway.captures()[0].charge().id().clone();
    assert_eq!(gateway.refunded_total_for(&charge), 500);

    // Again, and from another worker: settled, nothing sent, nothing written.
    let again = corrector.apply(&entry("INV-1")).unwrap();
    assert_eq!(
        (again.settlement, again.requests),
        (Settlement::Refunded, 0)
    );
    let other = corrector_again(&service).apply(&entry("INV-1")).unwrap();
    assert_eq!(other.settlement, Settlement::Refunded);
    assert_eq!(gateway.refunds().len(), 1);
    assert_eq!(
        ledger
            .credit_notes_of(&InvoiceId::new("INV-1").unwrap())
            .unwrap()
            .len(),
        1
    );

    let verification = corrector.verify().unwrap();
    assert_eq!(verification.findings, []);
    assert_eq!((verification.credit_notes, verification.refunded), (1, 500));
}

fn corrector_again<'s, 'a>(
    service: &'s Service<'a>,
) -> Corrector<'s, &'a FakeGateway, &'a InMemoryLedger, RecordingSleeper, ManualClock> {
    corrector(service, "w2")
}

#[test]
fn an_unpaid_invoice_has_its_amount_due_lowered_and_the_next_charge_collects_141_69() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    typo_release(
        &gateway,
        &ledger,
        &[worked_example("INV-1", "tok_success")],
        &[],
    );
    let service = service(&gateway, &ledger);

    let applied = corrector(&service, "w1").apply(&entry("INV-1")).unwrap();
    assert_eq!(applied.settlement, Settlement::DueLowered);
    let Payment::Charged(charge) = service.collect(&InvoiceId::new("INV-1").unwrap()).unwrap()
    else {
        panic!("not charged");
    };
    assert_eq!(charge.amount().minor_units(), 14169);
    assert!(gateway.refunds().is_empty());
    assert_eq!(corrector(&service, "w1").verify().unwrap().findings, []);
}

/// INV-1 charged by the typo release; the correction's refund made, its
/// reply lost, and the processor down for every retry: what the apply
/// reported (an unknown refund).
fn lost_refund(gateway: &FakeGateway, ledger: &InMemoryLedger) -> billing::Applied {
    typo_release(
        gateway,
        ledger,
        &[worked_example("INV-1", "tok_success")],
        &["INV-1"],
    );
    gateway.push_faults([Fault::ReplyLost, Fault::Unavailable, Fault::Unavailable]);
    let applied = corrector(&service(gateway, ledger), "w1")
        .apply(&entry("INV-1"))
        .unwrap();
    assert!(
        matches!(applied.settlement, Settlement::RefundUnknown(_)),
        "{applied:?}"
    );
    applied
}

#[test]
fn a_refund_whose_outcome_is_lost_is_settled_by_lookup_never_sent_under_a_new_key() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let applied = lost_refund(&gateway, &ledger);
    let service = service(&gateway, &ledger);
    let note = applied.credit_note.unwrap();
    let attempt = &ledger.refund_attempts(note.id()).unwrap()[0];
    assert!(matches!(attempt.outcome(), RefundOutcome::Unknown(_)));

    let reconciled = Corrector::reconcile_refunds(&service).unwrap();
    assert_eq!((reconciled.settled, reconciled.still_unknown), (1, 0));
    let again = corrector(&service, "w1").apply(&entry("INV-1")).unwrap();
    assert_eq!(
        (again.settlement, again.requests),
        (Settlement::Refunded, 0)
    );
    assert_eq!(gateway.refunds().len(), 1);
    let keys: Vec<String> = gateway
        .refunds()
        .iter()
        .map(|record| {
            record
                .refund()
                .request()
                .idempotency_key()
                .as_str()
                .to_owned()
        })
        .collect();
    assert_eq!(keys, ["refund:INV-1-CN01:attempt:1"]);
}

#[test]
fn a_refund_that_fails_late_or_is_refused_is_never_refunded_again_and_verify_says_so() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    typo_release(
        &gateway,
        &ledger,
        &[
            worked_example("LATE", "tok_refund_fails_late"),
            worked_example("DISPUTED", "tok_disputed"),
        ],
        &["LATE", "DISPUTED"],
    );
    let service = service(&gateway, &ledger);
    let corrector = corrector(&service, "w1");

    assert_eq!(
        corrector.apply(&entry("LATE")).unwrap().settlement,
        Settlement::Refunded
    );
    let disputed = corrector.apply(&entry("DISPUTED")).unwrap();
    assert!(
        matches!(&disputed.settlement, Settlement::RefundFailed(reason) if reason.contains("disputed")),
        "{disputed:?}"
    );
    let sent = gateway.refund_request_count();
    for id in ["LATE", "DISPUTED"] {
        assert_eq!(corrector.apply(&entry(id)).unwrap().requests, 0);
    }
    assert_eq!(
        gateway.refund_request_count(),
        sent,
        "nothing refunds again"
    );

    let findings = corrector.verify().unwrap().findings;
    let subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(subjects, ["DISPUTED-CN01", "LATE-CN01"], "{findings:?}");
    assert!(findings[1].problem.contains("failed"), "{findings:?}");
    assert_eq!(gateway.refunds()[0].refund().status(), RefundStatus::Failed);
}

#[test]
fn an_entry_the_ledger_no_longer_gives_has_drifted_and_an_invoice_in_doubt_is_blocked() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    typo_release(
        &gateway,
        &ledger,
        &[
            worked_example("INV-1", "tok_success"),
            worked_example("INV-2", "tok_reply_lost"),
        ],
        &["INV-1"],
    );
    // INV-2's charge: captured, the reply lost and every retry too.
    gateway.push_faults([Fault::ReplyLost, Fault::Unavailable, Fault::Unavailable]);
    let release = service(&gateway, &ledger).with_rates(typo());
    assert!(release.collect(&InvoiceId::new("INV-2").unwrap()).is_err());
    let service = service(&gateway, &ledger);
    let corrector = corrector(&service, "w1");

    let mut wrong = entry("INV-1");
    wrong.credit = Lines::new([0, 450, 0, 0, 0, 450]).unwrap();
    let drifted = corrector.apply(&wrong).unwrap();
    assert!(
        matches!(drifted.settlement, Settlement::Drifted(_)),
        "{drifted:?}"
    );
    assert!(ledger.credit_notes_of(&wrong.invoice).unwrap().is_empty());
    let blocked = corrector.apply(&entry("INV-2")).unwrap();
    assert_eq!(blocked.settlement.name(), "blocked");
    assert!(gateway.refunds().is_empty());
    let missing = corrector.apply(&entry("INV-9")).unwrap();
    assert!(matches!(missing.settlement, Settlement::Drifted(_)));
}

#[test]
fn three_appliers_of_one_plan_at_once_refund_each_invoice_once() {
    let gateway = FakeGateway::new();
    let ledger = Arc::new(InMemoryLedger::new());
    let invoices: Vec<Invoice> = (1..=30)
        .map(|n| worked_example(&format!("INV-{n:02}"), "tok_success"))
        .collect();
    let ids: Vec<String> = (1..=30).map(|n| format!("INV-{n:02}")).collect();
    let paid: Vec<&str> = ids.iter().map(String::as_str).collect();
    typo_release(&gateway, &ledger, &invoices, &paid);

    std::thread::scope(|scope| {
        for worker in ["w1", "w2", "w3"] {
            let (gateway, ledger, ids) = (&gateway, &ledger, &ids);
            scope.spawn(move || {
                let service = service(gateway, ledger);
                let corrector = corrector(&service, worker);
                for id in ids {
                    corrector.apply(&entry(id)).unwrap();
                }
            });
        }
    });

    // Whatever held what, a last pass settles the rest.
    let service = service(&gateway, &ledger);
    for id in &ids {
        assert_eq!(
            corrector(&service, "w4")
                .apply(&entry(id))
                .unwrap()
                .settlement,
            Settlement::Refunded
        );
    }
    assert_eq!(gateway.refunds().len(), 30);
    for capture in gateway.captures() {
        assert_eq!(gateway.refunded_total_for(capture.charge().id()), 500);
    }
}

#[test]
fn a_refund_reply_lost_past_the_keys_expiry_is_found_by_lookup_and_never_sent_again() {
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    let gateway = FakeGateway::new().with_clock(clock.clone());
    let ledger = InMemoryLedger::new();
    lost_refund(&gateway, &ledger);
    let service = service(&gateway, &ledger);

    // A day later the processor has forgotten the key; the refund stands.
    clock.advance(Duration::from_secs(25 * 60 * 60));
    let again = corrector(&service, "w1").apply(&entry("INV-1")).unwrap();
    assert_eq!(again.settlement, Settlement::Refunded);
    assert_eq!(again.requests, 1, "one lookup, no refund sent");
    assert_eq!(gateway.refunds().len(), 1);
    assert_eq!(corrector(&service, "w1").verify().unwrap().findings, []);
}

#[test]
fn what_an_entry_came_to_is_named_and_settled_or_not_with_its_reason() {
    let cases = [
        (Settlement::Refunded, "refunded", true, None),
        (Settlement::DueLowered, "due_lowered", true, None),
        (Settlement::LinesOnly, "lines_only", true, None),
        (Settlement::Absorbed, "absorbed", true, None),
        (
            Settlement::Billed(InvoiceId::new("INV-1-SUP01").unwrap()),
            "billed",
            true,
            None,
        ),
        (
            Settlement::NotBilled("taken".to_owned()),
            "not_billed",
            false,
            Some("taken"),
        ),
        (
            Settlement::RefundUnknown("lost".to_owned()),
            "refund_unknown",
            false,
            Some("lost"),
        ),
        (
            Settlement::RefundFailed("refused".to_owned()),
            "refund_failed",
            false,
            Some("refused"),
        ),
        (
            Settlement::Drifted("changed".to_owned()),
            "drifted",
            false,
            Some("changed"),
        ),
        (
            Settlement::HeldBy(WorkerId::new("w9").unwrap()),
            "held",
            false,
            Some("held by worker w9"),
        ),
    ];
    for (settlement, name, settled, reason) in cases {
        assert_eq!(settlement.name(), name);
        assert_eq!(settlement.is_settled(), settled, "{name}");
        assert_eq!(settlement.reason().as_deref(), reason, "{name}");
    }
    let blocked = Settlement::Blocked(billing::Blocked::PaymentInDoubt);
    assert!(blocked.reason().unwrap().contains("reconcile"));
}

#[test]
fn a_refund_sent_again_after_a_transient_failure_counts_every_request() {
    let (gateway, ledger) = lesson_charged();
    let service = service(&gateway, &ledger);
    gateway.push_faults([Fault::Unavailable]);
    let applied = corrector(&service, "w1").apply(&entry("INV-1")).unwrap();
    assert_eq!(applied.settlement, Settlement::Refunded);
    assert_eq!(
        applied.requests, 3,
        "a lookup, a refused request, the refund"
    );
    assert_eq!(gateway.refunds().len(), 1);
}

#[test]
fn reconcile_leaves_a_refund_the_processor_never_saw_or_still_pends_unknown() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    typo_release(
        &gateway,
        &ledger,
        &[
            worked_example("LOST", "tok_success"),
            worked_example("SLOW", "tok_refund_pending_5"),
        ],
        &["LOST", "SLOW"],
    );
    let service = service(&gateway, &ledger);
    gateway.push_faults([Fault::RequestLost, Fault::Unavailable, Fault::Unavailable]);
    let corrector = corrector(&service, "w1");
    for id in ["LOST", "SLOW"] {
        let applied = corrector.apply(&entry(id)).unwrap();
        assert!(
            matches!(applied.settlement, Settlement::RefundUnknown(_)),
            "{applied:?}"
        );
    }
    let reconciled = Corrector::reconcile_refunds(&service).unwrap();
    assert_eq!((reconciled.settled, reconciled.still_unknown), (0, 2));
    assert_eq!(gateway.refunds().len(), 1, "reconcile sends nothing");
}

/// A second correction of INV-1, to gold at 100 %: its entry as a plan
/// derives it from the ledger, applied.
fn gold_for_free(service: &Service<'_>, ledger: &InMemoryLedger) -> billing::Applied {
    let mut free = RATES;
    free.gold_discount = "1".parse().unwrap();
    let second = CorrectionRecord::new(
        CorrectionId::new("gold-free").unwrap(),
        "gold is free",
        typo().fingerprint(),
        Rates::new(free, None),
        "sha256:plan2",
        "ledgerly test",
        std::time::UNIX_EPOCH,
    );
    let id = InvoiceId::new("INV-1").unwrap();
    let record = Ledger::get(ledger, &id).unwrap().unwrap();
    let earlier: Vec<Lines> = ledger
        .credit_notes_of(&id)
        .unwrap()
        .iter()
        .map(billing::CreditNote::credited)
        .collect();
    let credit = billing::correct(&record, &earlier, &free, Undercharge::Absorb)
        .unwrap()
        .unwrap()
        .credit();
    let worker = WorkerId::new("w2").unwrap();
    let corrector = Corrector::new(service, &second, worker, Duration::from_secs(60)).unwrap();
    let applied = corrector
        .apply(&PlanEntry {
            invoice: id,
            credit,
        })
        .unwrap();
    // Refunds up to the capture, not past it: verify finds nothing wrong.
    assert_eq!(corrector.verify().unwrap().findings, []);
    applied
}

#[test]
fn a_later_correction_refunds_up_to_the_capture_and_not_past_it() {
    // Paid 146.69; 5.00 refunded, then 141.69: the whole capture, allowed.
    let (gateway, ledger) = lesson_charged();
    let paid = service(&gateway, &ledger);
    corrector(&paid, "w1").apply(&entry("INV-1")).unwrap();
    let second = gold_for_free(&paid, &ledger);
    assert_eq!(second.settlement, Settlement::Refunded);
    let charge = gateway.captures()[0].charge().id().clone();
    assert_eq!(gateway.refunded_total_for(&charge), 14669);

    // Not paid when the typo was corrected: 141.69 charged, and the second
    // correction refunds all of it; the pre-payment credit note (5.00) was
    // never charged, so it takes nothing from the capture's room.
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    typo_release(
        &gateway,
        &ledger,
        &[worked_example("INV-1", "tok_success")],
        &[],
    );
    let unpaid = service(&gateway, &ledger);
    corrector(&unpaid, "w1").apply(&entry("INV-1")).unwrap();
    unpaid.collect(&InvoiceId::new("INV-1").unwrap()).unwrap();
    let second = gold_for_free(&unpaid, &ledger);
    assert_eq!(second.settlement, Settlement::Refunded, "{second:?}");
    let charge = gateway.captures()[0].charge().id().clone();
    assert_eq!(gateway.refunded_total_for(&charge), 14169);
}

#[test]
fn an_unpaid_invoice_credited_in_full_is_paid_with_nothing_due_and_nothing_sent() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    typo_release(
        &gateway,
        &ledger,
        &[worked_example("INV-1", "tok_success")],
        &[],
    );
    let service = service(&gateway, &ledger);
    let credited = gold_for_free(&service, &ledger);
    assert_eq!(credited.settlement, Settlement::DueLowered);
    assert_eq!(credited.credit_note.unwrap().credited().total(), 14669);
    let requests = gateway.request_count();
    assert_eq!(
        service.collect(&InvoiceId::new("INV-1").unwrap()),
        Ok(Payment::NothingDue)
    );
    assert_eq!(gateway.request_count(), requests, "nothing was charged");
    assert!(gateway.captures().is_empty());
}

#[test]
fn verify_reports_a_credit_note_that_does_not_add_up_to_the_right_rates_or_exceeds_the_capture() {
    use billing::{Corrections, CreditNote, CreditNoteId, CreditNoteKind};
    let (gateway, ledger) = lesson_charged();
    let service = service(&gateway, &ledger);
    let corrector = corrector(&service, "w1");
    // Written by hand, as a broken writer would: 200.00 credited after a
    // capture of 146.69, with no refund attempt.
    let note = CreditNote::new(
        CreditNoteId::new(InvoiceId::new("INV-1").unwrap(), 1),
        CorrectionId::new("2026-12-gold").unwrap(),
        CreditNoteKind::PostPayment,
        Currency::Usd,
        Lines::new([20000, 0, 0, 0, 0, 20000]).unwrap(),
        Lines::new([15000, -2250, -255, 1000, 674, 14169]).unwrap(),
        std::time::UNIX_EPOCH,
    )
    .unwrap();
    ledger.issue_credit_note(&note, None).unwrap();

    let problems: Vec<String> = corrector
        .verify()
        .unwrap()
        .findings
        .into_iter()
        .map(|finding| format!("{}: {}", finding.subject, finding.problem))
        .collect();
    assert_eq!(
        problems,
        [
            "INV-1-CN01: the invoice minus its credit notes is [-5000, -1800, -264, 1035, 698, -5331], the right rates give [15000, -2250, -255, 1000, 674, 14169]",
            "INV-1-CN01: post-payment credit notes of 200.00 exceed the capture of 146.69",
            "INV-1-CN01: refunded 0.00 of its 200.00: refund attempts none",
        ]
    );
}

#[test]
fn a_plan_of_more_than_a_page_is_verified_and_reconciled_to_its_last_entry() {
    const INVOICES: usize = 257;
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let ids: Vec<String> = (1..=INVOICES).map(|n| format!("INV-{n:03}")).collect();
    let invoices: Vec<Invoice> = ids
        .iter()
        .map(|id| worked_example(id, "tok_success"))
        .collect();
    let paid: Vec<&str> = ids.iter().map(String::as_str).collect();
    typo_release(&gateway, &ledger, &invoices, &paid);
    let service = service(&gateway, &ledger);
    let corrector = corrector(&service, "w1");
    // Every refund request is lost on its way, each of its three tries.
    gateway.push_faults(vec![Fault::RequestLost; 3 * INVOICES]);
    for id in &ids {
        let applied = corrector.apply(&entry(id)).unwrap();
        assert!(matches!(applied.settlement, Settlement::RefundUnknown(_)));
    }
    let reconciled = Corrector::reconcile_refunds(&service).unwrap();
    assert_eq!((reconciled.settled, reconciled.still_unknown), (0, 257));
    assert_eq!(corrector.verify().unwrap().credit_notes, 257);
}

/// The typo the other way: gold at 0.18, so the lesson's invoice was
/// charged too little.
fn generous() -> Rates {
    let mut table: RateTable = RATES;
    table.gold_discount = "0.18".parse().unwrap();
    Rates::new(table, Some("1".to_owned()))
}

/// INV-1 issued and charged under [`generous`], and the billing corrector
/// of that table to the right one, with its plan's entry.
fn undercharged(
    gateway: &FakeGateway,
    ledger: &InMemoryLedger,
) -> (CorrectionRecord, PlanEntry, i64) {
    let release = service(gateway, ledger).with_rates(generous());
    let issued = release
        .issue_all(&[worked_example("INV-1", "tok_success")])
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    release.collect(issued.id()).unwrap();
    let correction = CorrectionRecord::new(
        CorrectionId::new("2026-12-gold-back").unwrap(),
        "gold was 0.18",
        generous().fingerprint(),
        Rates::current(),
        "sha256:plan",
        "ledgerly test",
        std::time::UNIX_EPOCH,
    );
    let record = ledger.get(issued.id()).unwrap().unwrap();
    let credit = billing::correct(&record, &[], &RATES, Undercharge::Bill)
        .unwrap()
        .unwrap()
        .credit();
    assert!(credit.total() < 0, "an undercharge: {credit:?}");
    let entry = PlanEntry {
        invoice: issued.id().clone(),
        credit,
    };
    (correction, entry, issued.breakdown().total().minor_units())
}

/// A corrector of `correction` as worker `worker` that bills undercharges.
fn billing<'s, 'a>(
    service: &'s Service<'a>,
    correction: &CorrectionRecord,
    worker: &str,
) -> Corrector<'s, &'a FakeGateway, &'a InMemoryLedger, RecordingSleeper, ManualClock> {
    Corrector::new(
        service,
        correction,
        WorkerId::new(worker).unwrap(),
        Duration::from_secs(60),
    )
    .unwrap()
    .with_undercharge(Undercharge::Bill)
}

fn collect_supplementary(service: &Service<'_>, worker: &str) -> Vec<String> {
    let worker = Worker::new(
        service,
        WorkerId::new(worker).unwrap(),
        Duration::from_secs(60),
    );
    let mut collected = Vec::new();
    worker
        .collect_supplementary::<BillingError>(1, |event| {
            if let Sweep::TakenOver(taken) = event {
                collected.extend(taken.iter().map(|invoice| invoice.id.to_string()));
            }
            Ok(())
        })
        .unwrap();
    collected
}

#[test]
fn an_undercharge_billed_is_one_supplementary_invoice_across_reruns_collected_once() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let (correction, entry, charged) = undercharged(&gateway, &ledger);
    let service = service(&gateway, &ledger);
    let billing = |worker: &str| billing(&service, &correction, worker);

    let applied = billing("w1").apply(&entry).unwrap();
    let sup = InvoiceId::new("INV-1-SUP01").unwrap();
    assert_eq!(applied.settlement, Settlement::Billed(sup.clone()));
    let note = applied.credit_note.unwrap();
    assert_eq!(note.kind(), CreditNoteKind::Billed);
    // Again, and from another applier: the same supplementary invoice.
    assert_eq!(
        billing("w1").apply(&entry).unwrap().settlement,
        Settlement::Billed(sup.clone())
    );
    assert_eq!(
        billing("w2").apply(&entry).unwrap().settlement,
        Settlement::Billed(sup.clone())
    );
    let invoices = ledger.records();
    assert_eq!(
        invoices.len(),
        2,
        "the invoice and one supplementary invoice"
    );
    let supplementary = ledger.get(&sup).unwrap().unwrap();
    assert!(is_supplementary(supplementary.invoice()));
    let due = supplementary.invoice().breakdown().total().minor_units();
    // What was charged plus what is billed is what the right rates ask.
    assert_eq!(charged + due, 14169);
    assert_eq!(due, -note.credited().total());

    // Collected once by the next run, and by no later one.
    assert_eq!(collect_supplementary(&service, "w1"), ["INV-1-SUP01"]);
    assert_eq!(collect_supplementary(&service, "w2"), Vec::<String>::new());
    assert_eq!(
        gateway.captured_total_for("INV-1-SUP01", Currency::Usd),
        i128::from(due)
    );
    assert_eq!(
        gateway.captures().len(),
        2,
        "the invoice's and the supplementary's"
    );
    assert_eq!(billing("w1").verify().unwrap().findings, []);
}

#[test]
fn an_undercharge_is_absorbed_unless_billing_is_asked_for() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let (correction, entry, _) = undercharged(&gateway, &ledger);
    let service = service(&gateway, &ledger);
    let corrector = Corrector::new(
        &service,
        &correction,
        WorkerId::new("w1").unwrap(),
        Duration::from_secs(60),
    )
    .unwrap();

    let applied = corrector.apply(&entry).unwrap();

    assert_eq!(applied.settlement, Settlement::Absorbed);
    assert_eq!(
        applied.credit_note.unwrap().kind(),
        CreditNoteKind::Absorbed
    );
    assert_eq!(ledger.records().len(), 1, "no supplementary invoice");
    assert_eq!(collect_supplementary(&service, "w1"), Vec::<String>::new());
    assert_eq!(gateway.captures().len(), 1);
}

#[test]
fn a_billed_credit_note_whose_supplementary_invoice_was_not_written_gets_it_on_the_rerun() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let (correction, entry, _) = undercharged(&gateway, &ledger);
    let service = service(&gateway, &ledger);
    let billing = || billing(&service, &correction, "w1");
    let corrector = billing();
    // The disk fills up after the credit note (the claim, the note): the
    // supplementary invoice is not written and the apply fails.
    ledger.fill_disk_after(2);
    assert!(corrector.apply(&entry).is_err());
    let invoice = InvoiceId::new("INV-1").unwrap();
    assert_eq!(ledger.credit_notes_of(&invoice).unwrap().len(), 1);
    assert_eq!(ledger.records().len(), 1);
    let findings = corrector.verify().unwrap().findings;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].problem.contains("was not issued"),
        "{findings:?}"
    );
    ledger.fill_disk_after(usize::MAX);

    let applied = billing().apply(&entry).unwrap();

    assert_eq!(
        applied.settlement,
        Settlement::Billed(InvoiceId::new("INV-1-SUP01").unwrap())
    );
    assert_eq!(ledger.credit_notes_of(&invoice).unwrap().len(), 1);
    assert_eq!(ledger.records().len(), 2);
    assert_eq!(billing().verify().unwrap().findings, []);
}

#[test]
fn an_id_taken_by_another_invoice_is_not_billed_and_verify_says_so() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let (correction, entry, _) = undercharged(&gateway, &ledger);
    let service = service(&gateway, &ledger);
    service
        .issue_all(&[worked_example("INV-1-SUP01", "tok_success")])
        .unwrap();
    let corrector = billing(&service, &correction, "w1");

    let applied = corrector.apply(&entry).unwrap();

    let Settlement::NotBilled(reason) = &applied.settlement else {
        panic!("{applied:?}");
    };
    assert!(reason.contains("INV-1-SUP01 is taken"), "{reason}");
    assert!(!applied.settlement.is_settled());
    let findings = corrector.verify().unwrap().findings;
    assert!(
        findings[0]
            .problem
            .contains("is not its supplementary invoice"),
        "{findings:?}"
    );
    // The customer's own invoice is never collected as a supplementary one.
    assert_eq!(collect_supplementary(&service, "w1"), Vec::<String>::new());
}

#[test]
fn the_processors_cap_refuses_a_refund_above_the_capture_when_the_ledger_does_not_check() {
    // 145.00 of the 146.69 capture refunded by hand at the processor: the
    // ledger never heard of it, and its own check is off besides.
    let (gateway, ledger) = lesson_charged();
    let charge = gateway.captures()[0].charge().id().clone();
    let by_hand = payment_gateway::RefundRequest::new(
        payment_gateway::IdempotencyKey::new("by-hand-1").unwrap(),
        charge.clone(),
        payment_gateway::Amount::new(14500, Currency::Usd).unwrap(),
        "dashboard".to_owned(),
    );
    PaymentGateway::refund(&gateway, &by_hand).unwrap();
    let service = service(&gateway, &ledger);
    let corrector = corrector(&service, "w1").without_the_ledgers_capture_check();

    let applied = corrector.apply(&entry("INV-1")).unwrap();

    let Settlement::RefundFailed(reason) = &applied.settlement else {
        panic!("{applied:?}");
    };
    assert!(reason.contains("above its capture"), "{reason}");
    assert_eq!(gateway.refunded_total_for(&charge), 14500);
    // Nothing refunds again on its own, and verify says what is missing.
    let again = corrector.apply(&entry("INV-1")).unwrap();
    assert_eq!((again.requests, gateway.refunds().len()), (0, 1));
    let findings = corrector.verify().unwrap().findings;
    assert!(
        findings[0].problem.contains("refunded 0.00 of its 5.00"),
        "{findings:?}"
    );
}

#[test]
fn a_service_keeps_at_least_one_request_in_flight_and_says_how_many() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    assert_eq!(service(&gateway, &ledger).concurrency(), 1);
    assert_eq!(
        service(&gateway, &ledger).with_concurrency(8).concurrency(),
        8
    );
    assert_eq!(
        service(&gateway, &ledger).with_concurrency(0).concurrency(),
        1
    );
}

#[test]
fn supplementary_invoices_past_the_first_page_of_credit_notes_are_collected_too() {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let release = service(&gateway, &ledger).with_rates(generous());
    let invoices = [
        worked_example("INV-1", "tok_success"),
        worked_example("INV-2", "tok_success"),
    ];
    for issued in release.issue_all(&invoices).unwrap() {
        release.collect(issued.unwrap().id()).unwrap();
    }
    let correction = CorrectionRecord::new(
        CorrectionId::new("2026-12-gold-back").unwrap(),
        "gold was 0.18",
        generous().fingerprint(),
        Rates::current(),
        "sha256:plan",
        "ledgerly test",
        std::time::UNIX_EPOCH,
    );
    let service = service(&gateway, &ledger);
    let corrector = billing(&service, &correction, "w1");
    for id in ["INV-1", "INV-2"] {
        let id = InvoiceId::new(id).unwrap();
        let record = ledger.get(&id).unwrap().unwrap();
        let credit = billing::correct(&record, &[], &RATES, Undercharge::Bill)
            .unwrap()
            .unwrap()
            .credit();
        let applied = corrector
            .apply(&PlanEntry {
                invoice: id,
                credit,
            })
            .unwrap();
        assert!(matches!(applied.settlement, Settlement::Billed(_)));
    }

    // One credit note a page: the second is on the second page.
    assert_eq!(
        collect_supplementary(&service, "w1"),
        ["INV-1-SUP01", "INV-2-SUP01"]
    );
}
