//! `ledgerly invoices` (and `sandbox captures`) through the real binary:
//! filtered by status and id, in every format, listed whole past their
//! first page.

use crate::charge::ledger::{charged_fixture, listed, write_invoices};
use crate::util::{on_ledger, scratch, stdout_of};

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
    assert_eq!(captures[1000]["reference"], "INV-01001");
    let invoices = listed(&dir, &["invoices"]);
    let ids: Vec<&str> = invoices
        .iter()
        .map(|invoice| invoice["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=INVOICES).map(|n| format!("INV-{n:05}")).collect();
    assert_eq!(ids, expected);
}
