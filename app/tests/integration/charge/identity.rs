//! What makes an invoice the same invoice across runs, through the real
//! binary: a ledger restored from a backup taken before the charge (here, a
//! new ledger beside the kept books) collects the same input again, and
//! what the processor captured is recorded as paid with its own charge id,
//! never charged again; an id typed in another Unicode normalization form
//! is the same invoice.

use std::path::Path;

use serde_json::Value;

use crate::charge::ledger::{records, write_invoices};
use crate::util::{ledgerly, scratch, stdout_of};

/// The records `ledgerly <args> --db <ledger>` writes, quietly, with the
/// sandbox's books at `books` when given.
fn records_of(args: &[&str], ledger: &Path, books: Option<&Path>) -> Vec<Value> {
    let mut command = ledgerly();
    command.arg("--quiet").args(args).arg("--db").arg(ledger);
    if let Some(books) = books {
        command.arg("--sandbox-db").arg(books);
    }
    records(&stdout_of(&mut command))
}

#[test]
fn a_restored_ledger_records_what_the_processor_captured_and_charges_only_the_rest() {
    let dir = scratch();
    let input = write_invoices(dir.path(), 30);
    let books = dir.path().join("ledgerly-sandbox.db");
    let charge = |ledger: &str, input: &Path| {
        let input = input.to_str().unwrap();
        records_of(
            &["charge", "--input", input],
            &dir.path().join(ledger),
            Some(&books),
        )
    };
    // The first 20 invoices were charged into a ledger since lost.
    let first_twenty = dir.path().join("first.jsonl");
    let text = std::fs::read_to_string(&input).unwrap();
    let twenty: Vec<&str> = text.lines().take(20).collect();
    let twenty = twenty.join("\n") + "\n";
    std::fs::write(&first_twenty, twenty).unwrap();
    let before = charge("lost.db", &first_twenty);

    let after = charge("restored.db", &input);

    assert_eq!(after.len(), 30);
    for (n, record) in after.iter().enumerate() {
        assert_eq!(record["outcome"], "paid", "{record}");
        if n < 20 {
            assert_eq!(record["requests"], 0, "found at the processor: {record}");
            assert_eq!(record["charge_id"], before[n]["charge_id"], "{record}");
        } else {
            assert_eq!(record["requests"], 1, "{record}");
        }
    }
    let captures = records_of(
        &["sandbox", "captures"],
        &dir.path().join("restored.db"),
        Some(&books),
    );
    assert_eq!(captures.len(), 30, "one capture each");
}

#[test]
fn ids_that_are_the_same_text_in_another_normalization_form_are_one_invoice() {
    let dir = scratch();
    let line = |id: &str| {
        format!(
            "{{\"id\":\"{id}\",\"customer\":\"cus-caf\u{e9}\",\"payment_method\":\"tok_success\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}\n"
        )
    };
    // Composed (NFC), then decomposed (NFD, as macOS writes it).
    let input = dir.path().join("cafe.jsonl");
    std::fs::write(&input, line("INV-caf\u{e9}") + &line("INV-cafe\u{301}")).unwrap();
    let ledger = dir.path().join("ledgerly.db");

    let written = records_of(
        &["charge", "--input", input.to_str().unwrap()],
        &ledger,
        None,
    );

    assert_eq!(written.len(), 2);
    assert_eq!(written[0]["requests"], 1);
    assert_eq!(written[1]["requests"], 0, "the same invoice, already paid");
    assert_eq!(written[0]["charge_id"], written[1]["charge_id"]);
    assert_eq!(written[1]["id"], "INV-caf\u{e9}", "shown in NFC");
    assert_eq!(records_of(&["invoices"], &ledger, None).len(), 1);
}
