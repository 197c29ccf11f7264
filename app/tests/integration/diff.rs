//! `ledgerly diff` as the deploy gate runs it (and what the gate's three
//! commands, `rates`, `sample` and `diff`, share: output that cannot be
//! written, a closed pipe): the real binary, its stdout, stderr and exit
//! code. `rates.rs` and `sample.rs` hold the other two commands' own tests.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::assert::Assert;

use predicates::prelude::*;

use crate::util::{Unwritable, assert_output_error, ledgerly, run, run_unwritable};

/// A file of this test's own under cargo's per-target scratch directory.
pub(crate) fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reprice");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, contents).unwrap();
    path
}

pub(crate) fn output_of(args: &[&str]) -> Vec<u8> {
    ledgerly()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone()
}

/// Prices `book` with this binary as `ledgerly invoice` does in the gate.
pub(crate) fn price(book: &[u8], input_format: &str) -> Vec<u8> {
    let output = ledgerly()
        .args(["invoice", "--input", "-", "--input-format", input_format])
        .args(["--format", "jsonl"])
        .write_stdin(book)
        .assert()
        .success()
        .get_output()
        .clone();
    output.stdout
}

/// A file of `ledgerly invoice` records, one per `(id, total)`, each
/// total its subtotal (no discount, tax or fee).
fn book(name: &str, records: &[(&str, &str)]) -> PathBuf {
    let text: String = records
        .iter()
        .map(|(id, total)| priced(id, total))
        .collect();
    scratch(name, text.as_bytes())
}

/// `ledgerly diff <old> <new> <options…>`, its outcome to assert on.
fn diff(old: &Path, new: &Path, options: &[&str]) -> Assert {
    ledgerly()
        .arg("diff")
        .args([old, new])
        .args(options)
        .assert()
}

pub(crate) fn priced(id: &str, total: &str) -> String {
    format!(
        "{{\"id\":\"{id}\",\"subtotal\":\"{total}\",\"tier_discount\":\"0.00\",\
         \"loyalty_discount\":\"0.00\",\"tax\":\"0.00\",\"late_fee\":\"0.00\",\"total\":\"{total}\"}}\n"
    )
}

#[test]
fn diff_of_identical_pricings_exits_0() {
    let priced_book = price(&output_of(&["sample", "--count", "200"]), "jsonl");
    let old = scratch("same-old.jsonl", &priced_book);
    let new = scratch("same-new.jsonl", &priced_book);
    diff(&old, &new, &[])
        .code(0)
        .stdout(predicate::str::contains(
            "no differences: 200 invoices compared",
        ))
        .stderr("");
}

#[test]
fn diff_of_a_changed_total_exits_1_and_names_the_invoice() {
    let old = book("changed-old.jsonl", &[("A", "141.69"), ("B", "5.00")]);
    let new = book("changed-new.jsonl", &[("A", "146.69"), ("B", "5.00")]);
    diff(&old, &new, &[])
        .code(1)
        .stdout(predicate::str::contains(
            "1 of 2 compared invoices change; total moved +5.00",
        ))
        .stdout(predicate::str::contains("  A "))
        .stdout(predicate::str::contains("141.69 ->"));
    diff(&old, &new, &["--format", "markdown"])
        .code(1)
        .stdout(predicate::str::contains("| A | 141.69 | 146.69 | +5.00 |"));
    diff(&old, &new, &["--format", "json"])
        .code(1)
        .stdout(predicate::str::contains(
            "\"money_moved\":{\"subtotal\":\"+5.00\"",
        ));
}

#[test]
fn diff_reports_records_missing_from_either_side() {
    let old = book("missing-old.jsonl", &[("A", "1.00"), ("B", "2.00")]);
    let new = book("missing-new.jsonl", &[("A", "1.00"), ("C", "3.00")]);
    diff(&old, &new, &[])
        .code(1)
        .stdout(predicate::str::contains("only in old (1): B\n"))
        .stdout(predicate::str::contains("only in new (1): C\n"));
}

#[test]
fn diff_refuses_a_bad_record_naming_the_file_and_line() {
    let old = scratch(
        "bad-old.jsonl",
        format!("{}\n{{\"id\":\"B\"}}\n", priced("A", "1.00")).as_bytes(),
    );
    let new = book("bad-new.jsonl", &[("A", "1.00")]);
    diff(&old, &new, &[])
        .code(65)
        .stdout("")
        .stderr(predicate::str::contains(
            "bad-old.jsonl line 3: not a record of `ledgerly invoice`",
        ));
}

#[test]
fn diff_of_a_missing_file_exits_66_naming_it() {
    let new = book("present.jsonl", &[("A", "1.00")]);
    ledgerly()
        .args(["diff", "no-such-old.jsonl"])
        .arg(&new)
        .assert()
        .code(66)
        .stderr(predicate::str::starts_with(
            "error: cannot read no-such-old.jsonl:",
        ));
}

#[test]
fn diff_usage_errors_exit_2() {
    run(&["diff", "only-one.jsonl"]).code(2);
    run(&["diff", "a.jsonl", "b.jsonl", "--top", "many"]).code(2);
    run(&["sample"]).code(2);
    run(&["rates", "--format", "yaml"]).code(2);
}

#[test]
fn a_repriced_book_shows_every_changed_invoice_with_top_as_large_as_the_book() {
    // Stand-in for a gold-rate change: every total of REF-000001..=REF-000008
    // (the gold corner cases) moves by one cent.
    let priced_book =
        String::from_utf8(price(&output_of(&["sample", "--count", "100"]), "jsonl")).unwrap();
    let changed: String = priced_book
        .lines()
        .enumerate()
        .map(|(index, line)| {
            if index < 8 {
                line.replace("\"total\":\"55.05\"", "\"total\":\"55.06\"")
                    .replace("\"total\":\"57.81\"", "\"total\":\"57.82\"")
                    .replace("\"total\":\"53.95\"", "\"total\":\"53.96\"")
                    .replace("\"total\":\"56.65\"", "\"total\":\"56.66\"")
            } else {
                line.to_owned()
            }
        })
        .map(|line| line + "\n")
        .collect();
    let old = scratch("book-old.jsonl", priced_book.as_bytes());
    let new = scratch("book-new.jsonl", changed.as_bytes());
    let output = diff(&old, &new, &["--top", "100"])
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    assert!(
        text.contains("8 of 100 compared invoices change; total moved +0.08"),
        "{text}"
    );
    for n in 1..=8 {
        assert!(
            text.contains(&format!("  REF-{n:06} ")),
            "REF-{n:06} missing:\n{text}"
        );
    }
}

#[test]
fn output_that_cannot_be_written_exits_74_for_each_command() {
    let old = book("full-old.jsonl", &[("A", "1.00")]);
    let old = old.to_str().unwrap();
    for args in [
        vec!["rates"],
        vec!["sample", "--count", "10"],
        vec!["diff", old, old],
    ] {
        assert_output_error(&args);
    }
}

#[test]
fn a_closed_pipe_ends_each_command_quietly_with_its_status() {
    let old = book("pipe-old.jsonl", &[("A", "1.00")]);
    let new = book("pipe-new.jsonl", &[("A", "2.00")]);
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    for (args, status) in [
        (vec!["rates"], 0),
        (vec!["rates", "--format", "json"], 0),
        (vec!["sample", "--count", "1000000"], 0),
        (vec!["diff", old, old], 0),
        (vec!["diff", old, new], 1),
    ] {
        let (code, stderr) = run_unwritable(&args, Unwritable::ClosedPipe, false);
        assert_eq!(code, Some(status), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn diff_reads_old_from_stdin_when_named_dash() {
    let new = book("stdin-new.jsonl", &[("A", "1.00")]);
    ledgerly()
        .args(["diff", "-"])
        .arg(&new)
        .write_stdin(priced("A", "1.25"))
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("diff - -> "))
        .stdout(predicate::str::contains("total moved -0.25"));
}

#[test]
fn two_readers_of_one_stdin_are_a_usage_error() {
    ledgerly()
        .args(["diff", "-", "-"])
        .write_stdin(priced("A", "1.00"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "OLD and NEW cannot both be - (stdin)",
        ));
}

#[test]
fn diff_of_empty_files_succeeds_but_says_no_record_was_read() {
    let empty = scratch("empty.jsonl", b"");
    let blank = scratch("blank.jsonl", b"\n\n");
    for quiet in [false, true] {
        let mut diff = ledgerly();
        if quiet {
            diff.arg("--quiet");
        }
        diff.arg("diff")
            .arg(&empty)
            .arg(&blank)
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "no differences: 0 invoices compared",
            ))
            .stderr(predicate::str::starts_with(
                "warning: no record was read from ",
            ));
    }
}

#[test]
fn the_headline_counts_the_records_found_in_one_file_only() {
    let old = book(
        "one-side-old.jsonl",
        &[("A", "1.00"), ("B", "1.00"), ("C", "1.00")],
    );
    let new = book("one-side-new.jsonl", &[("A", "1.00"), ("D", "1.00")]);
    diff(&old, &new, &[])
        .code(1)
        .stdout(predicate::str::contains(
            "0 of 1 compared invoices change; total moved 0.00; \
             3 in one file only (2 only in old, 1 only in new)",
        ));
}

#[test]
fn a_top_of_any_size_shows_at_most_ten_thousand_changes() {
    let (mut old, mut new) = (String::new(), String::new());
    for n in 0..10_050 {
        old.push_str(&priced(&format!("I{n:05}"), "1.00"));
        new.push_str(&priced(&format!("I{n:05}"), "2.00"));
    }
    let old = scratch("top-old.jsonl", old.as_bytes());
    let new = scratch("top-new.jsonl", new.as_bytes());
    for top in ["9223372036854775808", "18446744073709551615"] {
        let output = diff(&old, &new, &["--top", top, "--format", "json"])
            .code(1)
            .get_output()
            .stdout
            .clone();
        let report: serde_json::Value = serde_json::from_slice(&output).unwrap();
        assert_eq!(
            report["largest_changes"].as_array().unwrap().len(),
            10_000,
            "{top}"
        );
    }
}
