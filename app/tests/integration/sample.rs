//! `ledgerly sample`: the deterministic reference book the deploy gate
//! prices with both releases.

use predicates::prelude::*;

use crate::diff::{output_of, price};
use crate::util::ledgerly;

#[test]
fn the_same_seed_writes_the_same_book_and_another_seed_another() {
    let args = ["sample", "--count", "300", "--seed", "7"];
    let one = output_of(&args);
    assert_eq!(one, output_of(&args));
    assert_eq!(String::from_utf8_lossy(&one).lines().count(), 300);
    let other = output_of(&["sample", "--count", "300", "--seed", "8"]);
    assert_ne!(one, other);
    // The corner cases come first whatever the seed.
    assert_eq!(one[..2000], other[..2000]);
}

#[test]
fn the_book_prices_without_an_error_and_warns_once_about_platinum() {
    let book = output_of(&["sample", "--count", "2000"]);
    ledgerly()
        .args(["invoice", "--input", "-", "--input-format", "jsonl"])
        .write_stdin(book)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"error\"").not())
        .stdout(predicate::str::contains("{\"id\":\"REF-002000\","))
        .stderr("warning: unknown tier \"platinum\" applies no discount\n");
}

#[test]
fn the_csv_and_jsonl_books_price_to_the_same_totals() {
    let jsonl = price(
        &output_of(&["sample", "--count", "1500", "--seed", "3"]),
        "jsonl",
    );
    let csv_book = output_of(&[
        "sample", "--count", "1500", "--seed", "3", "--format", "csv",
    ]);
    assert!(csv_book.starts_with(b"invoice_id,tier,loyalty_member,days_overdue,price,quantity\n"));
    let csv = price(&csv_book, "csv");
    assert_eq!(jsonl.len(), csv.len());
    assert_eq!(jsonl, csv);
}
