//! `ledgerly invoices` (and `sandbox captures`, `sandbox refunds`) through the real binary:
//! filtered by status and id, in every format, listed whole past their
//! first page, never writing what they read.

use predicates::prelude::*;

use crate::charge::ledger::{charged_fixture, listed, write_invoices};
use crate::util::{fixture, on_ledger, scratch, stdout_of};

#[test]
fn invoices_filter_by_status_and_id() {
    let dir = charged_fixture();
    let failed = listed(&dir, &["invoices", "--status", "failed"]);
    let ids: Vec<&str> = failed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["INV-5"]);
    assert_eq!(failed[0]["attempts"][0]["outcome"], "declined");
    assert_eq!(failed[0]["attempts"][0]["detail"], "insufficient_funds");
    let one = listed(&dir, &["invoices", "--id", "INV-1"]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["total"], "141.69");
    assert_eq!(one[0]["tier_discount"], "-22.50");
    assert_eq!(one[0]["charge_id"], "ch_fake_000001");
    assert_eq!(
        one[0]["attempts"][0]["idempotency_key"],
        "invoice:INV-1:attempt:1"
    );
    let csv = stdout_of(&mut on_ledger(
        &dir,
        &["invoices", "--format", "csv", "--id", "INV-2"],
    ));
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,customer,status,charge_id,"));
    assert!(
        rows[1].starts_with("INV-2,cus_2,paid,ch_fake_000003,USD,10.00,"),
        "{csv}"
    );
    assert!(rows[1].ends_with(",2,captured (ch_fake_000003)"), "{csv}");
    on_ledger(&dir, &["invoices", "--status", "lost"])
        .assert()
        .code(2);
}

#[test]
fn invoices_and_captures_are_listed_whole_past_their_first_page() {
    // `invoices` reads 256 invoices a page, `sandbox captures` 1000
    // captures a page: 1001 fill both first pages and start the next.
    const INVOICES: usize = 1001;
    let dir = scratch();
    let input = write_invoices(dir.path(), INVOICES);
    on_ledger(
        &dir,
        &["--quiet", "charge", "--input", input.to_str().unwrap()],
    )
    .assert()
    .success();
    let captures = listed(&dir, &["sandbox", "captures"]);
    let numbers: Vec<u64> = captures
        .iter()
        .map(|capture| capture["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=1001).collect::<Vec<u64>>());
    // Numbered in the order the processor captured them, which requests
    // in flight need not keep: every invoice, once.
    let mut references: Vec<&str> = captures
        .iter()
        .map(|capture| capture["reference"].as_str().unwrap())
        .collect();
    references.sort_unstable();
    references.dedup();
    assert_eq!(references.len(), 1001);
    let invoices = listed(&dir, &["invoices"]);
    let ids: Vec<&str> = invoices
        .iter()
        .map(|invoice| invoice["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=INVOICES).map(|n| format!("INV-{n:05}")).collect();
    assert_eq!(ids, expected);
}

/// The ledger as schema 1 left it: before claims.
const BACK_TO_SCHEMA_1: &str =
    "DROP TABLE claims; PRAGMA user_version = 1; PRAGMA wal_checkpoint(TRUNCATE);";

/// What makes a SQLite file another program's database.
const ANOTHER_PROGRAMS_TABLE: &str =
    "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');";

/// Runs `batch` on the ledger file in `dir`, as another program would,
/// and returns the [`snapshot`] of `dir` after it.
fn ledger_after_sql(dir: &tempfile::TempDir, batch: &str) -> Vec<(String, u64)> {
    rusqlite::Connection::open(dir.path().join("ledgerly.db"))
        .unwrap()
        .execute_batch(batch)
        .unwrap();
    snapshot(dir.path())
}

/// Every database file in `dir` with a hash of its bytes, to hold a
/// read-only command to. SQLite's `-shm` index (and an empty `-wal`),
/// which a reader of a WAL-mode file may create when they are missing,
/// hold none of the data and are left out.
fn snapshot(dir: &std::path::Path) -> Vec<(String, u64)> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(Result::unwrap)
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let empty = entry.metadata().unwrap().len() == 0;
            !(name.ends_with("-shm") || name.ends_with("-wal") && empty)
        })
        .map(|entry| {
            let mut hasher = DefaultHasher::new();
            std::fs::read(entry.path()).unwrap().hash(&mut hasher);
            (
                entry.file_name().to_string_lossy().into_owned(),
                hasher.finish(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_listings_never_write_what_they_read() {
    let dir = charged_fixture();
    // A ledger of an older schema (before claims) and books of an older
    // schema (before refunds), as an older release left them: a newer
    // listing must read them, not migrate them.
    rusqlite::Connection::open(dir.path().join("ledgerly-sandbox.db"))
        .unwrap()
        .execute_batch(
            "DROP TABLE refunds; PRAGMA user_version = 2; PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
    let before = ledger_after_sql(&dir, BACK_TO_SCHEMA_1);

    let listed_invoices = listed(&dir, &["invoices"]);
    let captures = listed(&dir, &["sandbox", "captures"]);
    let refunds = listed(&dir, &["sandbox", "refunds"]);

    assert_eq!(listed_invoices.len(), 8);
    assert_eq!(captures.len(), 4);
    assert!(refunds.is_empty(), "{refunds:?}");
    assert_eq!(snapshot(dir.path()), before, "the listings changed a file");
}

#[test]
fn refunds_are_listed_from_the_books_as_they_stand_in_every_format() {
    use payment_gateway::{
        Amount, ChargeId, Currency, FakeGateway, IdempotencyKey, PaymentGateway, RefundRequest,
    };
    let dir = charged_fixture();
    let books = ledger_store::SqliteSandboxBooks::open(dir.path().join("ledgerly-sandbox.db"));
    let gateway = FakeGateway::with_books(books.unwrap());
    let request = RefundRequest::new(
        IdempotencyKey::new("refund:INV-1-CN01:attempt:1").unwrap(),
        ChargeId::new("ch_fake_000001").unwrap(),
        Amount::new(500, Currency::Usd).unwrap(),
        "INV-1-CN01",
    );
    gateway.refund(&request).unwrap();
    drop(gateway);

    let refunds = listed(&dir, &["sandbox", "refunds"]);
    assert_eq!(refunds.len(), 1);
    let refund = &refunds[0];
    assert_eq!(refund["number"], 1);
    assert_eq!(refund["refund_id"], "re_fake_000001");
    assert_eq!(refund["charge_id"], "ch_fake_000001");
    assert_eq!(refund["idempotency_key"], "refund:INV-1-CN01:attempt:1");
    assert_eq!(refund["reference"], "INV-1-CN01");
    assert_eq!(refund["amount"], "5.00");
    assert_eq!(refund["currency"], "USD");
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["created_at"], "1970-01-01T00:00:00.000Z");
    let csv = stdout_of(&mut on_ledger(
        &dir,
        &["sandbox", "refunds", "--format", "csv"],
    ));
    assert_eq!(
        csv,
        "number,refund_id,charge_id,idempotency_key,reference,amount,currency,status,created_at\n\
         1,re_fake_000001,ch_fake_000001,refund:INV-1-CN01:attempt:1,INV-1-CN01,5.00,USD,succeeded,1970-01-01T00:00:00.000Z\n"
    );
    let text = stdout_of(&mut on_ledger(
        &dir,
        &["sandbox", "refunds", "--format", "text"],
    ));
    assert_eq!(
        text,
        "re_fake_000001  ch_fake_000001  INV-1-CN01  5.00 USD  succeeded  refund:INV-1-CN01:attempt:1  1970-01-01T00:00:00.000Z\n"
    );
}

#[test]
fn a_database_of_another_program_is_refused_untouched_by_every_command() {
    let dir = scratch();
    let before = ledger_after_sql(&dir, ANOTHER_PROGRAMS_TABLE);

    for command in [
        &["invoices"][..],
        &["reconcile"][..],
        &["charge", "--input", &fixture("charge.jsonl")][..],
    ] {
        on_ledger(&dir, command)
            .assert()
            .code(74)
            .stderr(predicate::str::contains("is not a ledgerly ledger file"));
        assert_eq!(snapshot(dir.path()), before, "{command:?} changed a file");
    }
}
