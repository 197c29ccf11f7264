//! How many invoices per second `collect_all` charges with the durable
//! SQLite ledger and the SQLite sandbox books. A measurement, not a test:
//!
//! ```text
//! cargo run --release -p ledger-store --example throughput -- 100000 256
//! ```
//!
//! Arguments: how many `tok_success` invoices (default 20 000), and how many
//! share one commit (default 256). The files go to a temporary directory.

// A benchmark reports on stdout; a broken setup is a panic with its reason.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use billing::{BillingService, CustomerId, Invoice, InvoiceId, RetryPolicy, ThreadSleeper};
use ledger_store::{SqliteLedger, SqliteSandboxBooks};
use payment_gateway::{Currency, FakeGateway, PaymentMethod, SystemClock};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(20_000, |a| a.parse().expect("a count"));
    let batch: usize = args
        .next()
        .map_or(256, |a| a.parse().expect("a batch size"));
    let dir = std::env::temp_dir().join(format!("ledgerly-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gateway =
        FakeGateway::with_books(SqliteSandboxBooks::open(dir.join("sandbox.db")).unwrap())
            .with_clock(SystemClock)
            .without_request_log();
    let ledger = SqliteLedger::open(dir.join("ledger.db")).unwrap();
    let policy = RetryPolicy::new(4, Duration::from_millis(50), Duration::from_secs(1)).unwrap();
    let service = BillingService::new(&gateway, &ledger, ThreadSleeper, SystemClock, policy);
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    let pricing = PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap();

    let start = Instant::now();
    let mut paid = 0_usize;
    let mut next = 0_usize;
    while next < count {
        let end = (next + batch).min(count);
        let invoices: Vec<Invoice> = (next..end)
            .map(|n| {
                Invoice::new(
                    InvoiceId::new(format!("INV-{n:08}")).unwrap(),
                    CustomerId::new("cus_1").unwrap(),
                    PaymentMethod::new("tok_success").unwrap(),
                    Currency::Usd,
                    pricing.clone(),
                )
            })
            .collect();
        let ids: Vec<InvoiceId> = invoices.iter().map(|i| i.id().clone()).collect();
        for issued in service.issue_all(&invoices).unwrap() {
            issued.unwrap();
        }
        paid += service.collect_all(&ids).into_iter().flatten().count();
        next = end;
    }
    let elapsed = start.elapsed();
    let millis = elapsed.as_millis().max(1);
    let per_second = u128::try_from(paid).unwrap() * 1000 / millis;
    println!(
        "{paid} of {count} invoices issued and paid in {millis} ms, {batch} per commit: {per_second} invoices/s; captures: {}",
        gateway.capture_count()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
