//! Issuing: a new invoice stored and read back unchanged, a repeat a
//! no-op, different content under an issued id refused, batches, reads.

use std::time::Duration;

use payment_gateway::{Currency, FakeGateway};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};

use crate::{
    BillingError, CustomerId, Invoice, InvoiceFilter, InvoiceStatus, IssueOutcome, IssuedBreakdown,
    IssuedInvoice, IssuedParts, Ledger, Payment,
};

use super::{clock, free_invoice, id, issue_all, method, record, service, worked_example};

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

/// The same inputs issued under another rate table are the same invoice: a
/// release that changed a rate (on purpose, its version bumped) must still
/// collect the open invoices an earlier release issued, and collecting them
/// charges the stored total, never a total priced again today.
pub fn the_same_inputs_issued_under_other_rates_are_the_same_invoice_and_its_stored_total_is_charged<
    L: Ledger,
>(
    open: &dyn Fn() -> L,
) {
    let typo = issued_under_the_typo("INV-1");
    assert_eq!(
        open().issue(std::slice::from_ref(&typo)).unwrap(),
        [IssueOutcome::Inserted]
    );
    let gateway = FakeGateway::new();
    let service = service(&gateway, open(), &clock());

    let again = service
        .issue(&worked_example("INV-1", "tok_success"))
        .unwrap();
    let payment = service.collect(&id("INV-1")).unwrap();

    assert_eq!(again, typo, "the stored invoice, as issued");
    assert!(matches!(payment, Payment::Charged(_)));
    assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 14669);
    assert_eq!(record(&open(), "INV-1").invoice(), &typo);
}

/// The lesson's worked example as issued under its typo (gold 12 %): the
/// same inputs, another breakdown (146.69).
fn issued_under_the_typo(invoice: &str) -> IssuedInvoice {
    IssuedInvoice::restore(IssuedParts {
        breakdown: IssuedBreakdown::new([15000, -1800, -264, 1035, 698, 14669]).unwrap(),
        ..issue_all(
            &|| crate::InMemoryLedger::new(),
            &[worked_example(invoice, "tok_success")],
        )
        .remove(0)
        .parts()
        .clone()
    })
    .unwrap()
}

/// Different inputs under an issued id are refused, naming the first field
/// that differs, and the issued invoice stays as it was. An invoice is
/// identified by its inputs: the stored amounts are not compared with
/// today's pricing (see the check above).
pub fn issuing_different_content_under_an_issued_id_is_refused_naming_the_field<L: Ledger>(
    open: &dyn Fn() -> L,
) {
    let typo = issued_under_the_typo("INV-1");
    assert_eq!(
        open().issue(std::slice::from_ref(&typo)).unwrap(),
        [IssueOutcome::Inserted]
    );
    let service = service(FakeGateway::new(), open(), &clock());
    let more = worked_example("INV-1", "tok_success");
    let more = Invoice::new(
        more.id().clone(),
        more.customer().clone(),
        more.payment_method().clone(),
        more.currency(),
        PricingInput::new(
            vec![
                LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
                LineItem::new("15".parse().unwrap(), "3".parse().unwrap()),
            ],
            Tier::Gold,
            true,
            DaysOverdue::from(45),
        )
        .unwrap(),
    );

    let error = service.issue(&more).unwrap_err();

    assert_eq!(
        error.to_string(),
        "invoice INV-1 was already issued with a different line items: 40x3 15x2, now 40x3 15x3"
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
