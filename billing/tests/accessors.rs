//! What the getters, `Display` impls and shared-ownership wrappers hand back:
//! the CLI prints these values, so a getter that returned the wrong thing
//! would show a customer the wrong id or hide a repository failure.

// Fixture helpers build values from literals known to be valid; a panic
// there is a broken test, reported as a failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use billing::{
    BillingService, CustomerId, InMemoryLedger, Invoice, InvoiceFilter, InvoiceId, Ledger,
    LedgerError, LedgerErrorKind, RecordingSleeper, RetryPolicy, Sleeper, ThreadSleeper,
};
use payment_gateway::Clock;
use payment_gateway::{Currency, FakeGateway, ManualClock, PaymentMethod};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};

fn invoice(id: &str, customer: &str) -> Invoice {
    let items = vec![LineItem::new("10".parse().unwrap(), "1".parse().unwrap())];
    Invoice::new(
        InvoiceId::new(id).unwrap(),
        CustomerId::new(customer).unwrap(),
        PaymentMethod::new("tok_success").unwrap(),
        Currency::Usd,
        PricingInput::new(items, Tier::None, false, DaysOverdue::from(0)).unwrap(),
    )
}

#[test]
fn customer_id_shows_its_text() {
    let customer = CustomerId::new("cus_42").unwrap();
    assert_eq!(customer.as_str(), "cus_42");
    assert_eq!(customer.to_string(), "cus_42");
}

#[test]
fn payment_method_shows_its_token() {
    let method = PaymentMethod::new("tok_insufficient_funds").unwrap();
    assert_eq!(method.to_string(), "tok_insufficient_funds");
}

#[test]
fn repository_error_keeps_its_message_and_kind() {
    let error = LedgerError::new("disk full");
    assert_eq!(error.message(), "disk full");
    assert_eq!(error.kind(), LedgerErrorKind::Other);
    assert_eq!(error.to_string(), "invoice repository failed: disk full");
    assert_eq!(LedgerError::conflict("x").kind(), LedgerErrorKind::Conflict);
    assert_eq!(
        LedgerError::not_found("x").kind(),
        LedgerErrorKind::NotFound
    );
}

fn issue_through<L: Ledger>(ledger: L, invoices: &[Invoice]) {
    let service = BillingService::new(
        FakeGateway::new(),
        ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        RetryPolicy::default(),
    );
    for result in service.issue_all(invoices).unwrap() {
        result.unwrap();
    }
}

#[test]
fn in_memory_ledger_lists_every_invoice_in_id_order() {
    let ledger = InMemoryLedger::new();
    issue_through(&ledger, &[invoice("B", "c1"), invoice("A", "c2")]);
    let ids: Vec<String> = ledger
        .records()
        .iter()
        .map(|r| r.invoice().id().as_str().to_owned())
        .collect();
    assert_eq!(ids, ["A", "B"]);
}

#[test]
fn an_arc_or_boxed_ledger_reads_and_writes_the_same_invoices() {
    let shared = Arc::new(InMemoryLedger::new());
    issue_through(Arc::clone(&shared), &[invoice("INV-9", "cus_9")]);
    let boxed: Box<dyn Ledger> = Box::new(Arc::clone(&shared));
    let loaded = boxed
        .get(&InvoiceId::new("INV-9").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(loaded.invoice().customer().as_str(), "cus_9");
    assert_eq!(
        boxed.list(&InvoiceFilter::all(), None, 10).unwrap().len(),
        1
    );
    assert_eq!(shared.records().len(), 1);
}

#[test]
fn retry_policy_and_service_report_their_settings() {
    let policy =
        RetryPolicy::new(3, Duration::from_millis(40), Duration::from_millis(500)).unwrap();
    assert_eq!(policy.max_attempts(), 3);
    assert_eq!(policy.base_delay(), Duration::from_millis(40));
    assert_eq!(policy.max_delay(), Duration::from_millis(500));
    let clock = ManualClock::at_unix_millis(42);
    let service = BillingService::new(
        FakeGateway::new(),
        InMemoryLedger::new(),
        RecordingSleeper::new(),
        clock.clone(),
        policy,
    );
    assert_eq!(service.policy(), policy);
    assert_eq!(payment_gateway::unix_millis(service.clock().now()), 42);
    assert_eq!(service.gateway().request_count(), 0);
    assert!(service.ledger().records().is_empty());
    assert!(service.sleeper().delays().is_empty());
}

#[test]
fn thread_sleeper_waits_at_least_the_delay() {
    // A lower bound only: `thread::sleep` never returns early, so this cannot
    // flake, and it is not a speed target.
    let start = Instant::now();
    ThreadSleeper.sleep(Duration::from_millis(20));
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn an_issued_invoice_shows_what_it_was_issued_with() {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    let invoice = Invoice::new(
        InvoiceId::new("INV-1").unwrap(),
        CustomerId::new("cus_7").unwrap(),
        PaymentMethod::new("tok_success").unwrap(),
        Currency::Eur,
        PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap(),
    );
    let service = BillingService::new(
        FakeGateway::new(),
        InMemoryLedger::new(),
        RecordingSleeper::new(),
        ManualClock::at_unix_millis(1_764_583_200_000),
        RetryPolicy::default(),
    );

    let issued = service.issue(&invoice).unwrap();

    assert_eq!(issued.id().as_str(), "INV-1");
    assert_eq!(issued.customer().as_str(), "cus_7");
    assert_eq!(issued.payment_method().as_str(), "tok_success");
    assert_eq!(issued.currency(), Currency::Eur);
    assert_eq!(issued.line_items(), "40x3 15x2");
    assert_eq!(issued.tier(), "gold");
    assert!(issued.loyalty_member());
    assert_eq!(issued.days_overdue(), 45);
    assert_eq!(
        payment_gateway::unix_millis(issued.issued_at()),
        1_764_583_200_000
    );
    let lines = issued.breakdown();
    assert_eq!(
        [
            lines.subtotal(),
            lines.tier_discount(),
            lines.loyalty_discount(),
            lines.tax(),
            lines.late_fee(),
            lines.total(),
        ]
        .map(|money| money.to_string()),
        ["150.00", "-22.50", "-2.55", "10.00", "6.74", "141.69"]
    );
    assert_eq!(issued.rates().version(), Some("1"));

    let plain = Invoice::new(
        InvoiceId::new("INV-2").unwrap(),
        CustomerId::new("cus_7").unwrap(),
        PaymentMethod::new("tok_success").unwrap(),
        Currency::Usd,
        PricingInput::new(
            vec![LineItem::new("10".parse().unwrap(), "1".parse().unwrap())],
            Tier::None,
            false,
            DaysOverdue::from(3),
        )
        .unwrap(),
    );
    let issued = service.issue(&plain).unwrap();
    assert!(!issued.loyalty_member());
    assert_eq!(issued.days_overdue(), 3);
    assert_eq!(issued.tier(), "none");
}

#[test]
fn an_invoice_filter_reports_what_it_asks_for() {
    let all = InvoiceFilter::all();
    assert_eq!((all.status(), all.id()), (None, None));
    let narrow = InvoiceFilter::all()
        .with_status(billing::StatusKind::Paid)
        .with_id(InvoiceId::new("INV-3").unwrap());
    assert_eq!(narrow.status(), Some(billing::StatusKind::Paid));
    assert_eq!(narrow.id().map(InvoiceId::as_str), Some("INV-3"));
}
