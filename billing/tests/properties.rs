//! Properties of `collect` under any script of gateway faults, checked on the
//! fake gateway's record of captured money: it is 0 or exactly the invoice's
//! total, and the invoice is paid if and only if it was captured.

// A panic in a property is a failing case that proptest shrinks and reports.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use billing::conformance::strategies::{fault, token_failing};
use billing::{
    BillingError, BillingService, CustomerId, InMemoryLedger, Invoice, InvoiceId, InvoiceRecord,
    InvoiceStatus, Payment, RecordingSleeper, RetryPolicy,
};
use payment_gateway::{Currency, FakeGateway, ManualClock, PaymentMethod};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};
use proptest::prelude::*;
use proptest::sample::select;

/// Invoices with whole-cent prices; a zero price now and then makes a zero
/// total possible.
fn pricing_input() -> impl Strategy<Value = PricingInput> {
    let line = (prop_oneof![Just(0_u32), 1_u32..=500_000], 1_u32..=5);
    let tier = select(vec![Tier::None, Tier::Bronze, Tier::Silver, Tier::Gold]);
    (
        proptest::collection::vec(line, 1..4),
        tier,
        any::<bool>(),
        0_u32..=60,
    )
        .prop_map(|(lines, tier, loyalty, days)| {
            let items = lines
                .into_iter()
                .map(|(cents, quantity)| {
                    let price = format!("{}.{:02}", cents / 100, cents % 100);
                    LineItem::new(
                        price.parse().unwrap(),
                        quantity.to_string().parse().unwrap(),
                    )
                })
                .collect();
            PricingInput::new(items, tier, loyalty, DaysOverdue::from(days)).unwrap()
        })
}

/// Checks what must hold after every `collect`, whatever it returned:
/// no money beyond the total, at most one capture, paid only with the
/// captured charge, and a decline only when nothing was captured.
fn check_step(
    gateway: &FakeGateway,
    invoice: &InvoiceRecord,
    total: i64,
    result: &Result<Payment, BillingError>,
) -> Result<(), TestCaseError> {
    let captured = gateway.captured_total_for("INV-1", Currency::Usd);
    let capture_list = gateway.captures_for("INV-1");
    prop_assert!(
        captured == 0 || captured == i128::from(total),
        "captured {captured} of {total}"
    );
    prop_assert!(capture_list.len() <= 1, "{} captures", capture_list.len());
    if total == 0 {
        prop_assert_eq!(gateway.request_count(), 0);
        prop_assert_eq!(invoice.status(), InvoiceStatus::Paid(Payment::NothingDue));
        return Ok(());
    }
    match invoice.status() {
        InvoiceStatus::Paid(Payment::Charged(charge)) => {
            prop_assert_eq!(capture_list.len(), 1);
            prop_assert_eq!(&charge, capture_list[0].charge());
        }
        InvoiceStatus::Paid(Payment::NothingDue) => {
            prop_assert!(false, "a positive total was marked paid without a charge");
        }
        InvoiceStatus::PaymentFailed { .. } => prop_assert_eq!(captured, 0),
        InvoiceStatus::Open => prop_assert_eq!(captured, 0),
        InvoiceStatus::Unknown => {}
    }
    match result {
        Ok(payment) => prop_assert_eq!(invoice.status(), InvoiceStatus::Paid(payment.clone())),
        Err(BillingError::Declined { .. }) => prop_assert_eq!(captured, 0),
        Err(_) => prop_assert!(!invoice.status().is_paid()),
    }
    // Settled outcomes tell the truth about the money.
    if matches!(result, Ok(_) | Err(BillingError::Declined { .. })) {
        prop_assert_eq!(invoice.status().is_paid(), captured == i128::from(total));
    }
    Ok(())
}

fn setup(token: &str, pricing: PricingInput) -> (InvoiceId, InMemoryLedger, i64) {
    let id = InvoiceId::new("INV-1").unwrap();
    let total = pricing::price(&pricing).unwrap().total().minor_units();
    let invoice = Invoice::new(
        id.clone(),
        CustomerId::new("cus_1").unwrap(),
        PaymentMethod::new(token).unwrap(),
        Currency::Usd,
        pricing,
    );
    let ledger = InMemoryLedger::new();
    BillingService::new(
        FakeGateway::new(),
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        RetryPolicy::default(),
    )
    .issue(&invoice)
    .unwrap();
    (id, ledger, total)
}

proptest! {
    /// With a card that works once the faults are over, collecting until it
    /// succeeds ends paid with exactly the total captured, once, and no step
    /// on the way ever captures more or claims more.
    #[test]
    fn any_fault_script_ends_with_the_total_captured_once_and_the_invoice_paid(
        faults in proptest::collection::vec(fault(), 0..16),
        max_attempts in 1_u32..5,
        pricing in pricing_input(),
    ) {
        let (id, repository, total) = setup("tok_success", pricing);
        let collects = faults.len() + 1;
        let gateway = FakeGateway::with_faults(faults);
        let policy = RetryPolicy::new(max_attempts, Duration::from_millis(1), Duration::from_millis(8)).unwrap();
        let service = BillingService::new(&gateway, &repository, RecordingSleeper::new(), ManualClock::default(), policy);

        // Each collect uses up at least one fault, so the last one meets none.
        let mut result = service.collect(&id);
        check_step(&gateway, &service.invoice(&id).unwrap(), total, &result)?;
        for _ in 1..collects {
            if result.is_ok() {
                break;
            }
            result = service.collect(&id);
            check_step(&gateway, &service.invoice(&id).unwrap(), total, &result)?;
        }

        prop_assert!(result.is_ok(), "still unpaid: {:?}", result);
        prop_assert!(service.invoice(&id).unwrap().status().is_paid());
        let expected = if total == 0 { 0 } else { i128::from(total) };
        prop_assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), expected);
    }

    /// With any test card and any faults, every collect leaves the money
    /// captured at 0 or the total, and a settled invoice is paid if and only
    /// if it was captured.
    #[test]
    fn any_card_and_fault_script_never_captures_more_than_the_total(
        faults in proptest::collection::vec(fault(), 0..16),
        // Transient cards failing up to five times, past every retry policy here.
        token in token_failing(0..6),
        max_attempts in 1_u32..5,
        collects in 1_usize..8,
        pricing in pricing_input(),
    ) {
        let (id, repository, total) = setup(&token.to_string(), pricing);
        let gateway = FakeGateway::with_faults(faults);
        let policy = RetryPolicy::new(max_attempts, Duration::from_millis(1), Duration::from_millis(8)).unwrap();
        let service = BillingService::new(&gateway, &repository, RecordingSleeper::new(), ManualClock::default(), policy);

        for _ in 0..collects {
            let result = service.collect(&id);
            check_step(&gateway, &service.invoice(&id).unwrap(), total, &result)?;
        }
    }
}

/// What collecting `tokens` (one invoice each) through a fresh fake gives,
/// with `concurrency` requests in flight: each invoice's result as text,
/// the captures by reference, and the requests sent.
fn collected_with(
    tokens: &[payment_gateway::TestToken],
    concurrency: usize,
    max_attempts: u32,
) -> (Vec<String>, Vec<(String, i64)>, usize) {
    let (gateway, ledger) = (FakeGateway::new(), InMemoryLedger::new());
    let policy = RetryPolicy::new(
        max_attempts,
        Duration::from_millis(1),
        Duration::from_millis(2),
    )
    .unwrap();
    let service = BillingService::new(
        &gateway,
        &ledger,
        RecordingSleeper::new(),
        ManualClock::default(),
        policy,
    )
    .with_concurrency(concurrency);
    let invoices: Vec<Invoice> = tokens
        .iter()
        .enumerate()
        .map(|(n, token)| {
            billing::conformance::worked_example(&format!("INV-{n}"), &token.to_string())
        })
        .collect();
    for issued in service.issue_all(&invoices).unwrap() {
        issued.unwrap();
    }
    let ids: Vec<InvoiceId> = invoices
        .iter()
        .map(|invoice| invoice.id().clone())
        .collect();
    let results = service
        .collect_all(&ids)
        .into_iter()
        .map(|result| match result {
            Ok(Payment::Charged(charge)) => format!("paid {}", charge.amount()),
            Ok(payment) => format!("{payment:?}"),
            Err(error) => format!("{error}"),
        })
        .collect();
    let mut captures: Vec<(String, i64)> = gateway
        .captures()
        .iter()
        .map(|capture| {
            (
                capture.request().reference().to_owned(),
                capture.charge().amount().minor_units(),
            )
        })
        .collect();
    captures.sort();
    (results, captures, gateway.request_count())
}

proptest! {
    /// Requests in flight change when requests are sent, never what they
    /// come to: any mix of cards (declines, transient failures with retries,
    /// lost replies, lost requests) collected with 1 and with N requests in
    /// flight gives every invoice the same result, the same captures (one at
    /// most per invoice) and the same number of requests.
    #[test]
    fn requests_in_flight_give_every_invoice_what_one_at_a_time_gives(
        tokens in proptest::collection::vec(token_failing(0..4), 1..40),
        concurrency in 2_usize..64,
        max_attempts in 1_u32..4,
    ) {
        let serial = collected_with(&tokens, 1, max_attempts);
        let parallel = collected_with(&tokens, concurrency, max_attempts);
        prop_assert_eq!(&serial, &parallel);
        let mut references: Vec<&String> = parallel.1.iter().map(|(reference, _)| reference).collect();
        references.dedup();
        prop_assert_eq!(references.len(), parallel.1.len(), "an invoice captured twice");
    }
}
