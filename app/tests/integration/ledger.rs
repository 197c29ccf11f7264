//! The durable ledger through the real binary: a rerun charges nothing
//! twice, a run killed at random moments and run again captures each
//! invoice once, several runs at once on one ledger do too, and a ledger
//! from a newer ledgerly is refused. Every check compares the sandbox
//! processor's own books (`sandbox captures`) with the ledger (`invoices`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::cargo::cargo_bin;
use predicates::prelude::*;
use serde_json::Value;

use crate::util::{fixture, on_ledger, scratch, stdout_of};

/// `count` invoices paid with `tok_success`, one JSON line each.
fn write_invoices(dir: &Path, count: usize) -> PathBuf {
    let mut text = String::new();
    for n in 1..=count {
        let _ = writeln!(
            text,
            "{{\"id\":\"INV-{n:05}\",\"customer\":\"cus_{n}\",\"payment_method\":\"tok_success\",\"line_items\":[{{\"price\":\"{}.25\",\"quantity\":1}}]}}",
            n % 97 + 1
        );
    }
    let path = dir.join("invoices.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// JSON Lines output as values.
fn records(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// What the processor's books and the ledger say, compared.
#[derive(Debug, Default, PartialEq, Eq)]
struct Comparison {
    invoices: usize,
    paid: usize,
    captures: usize,
    /// Invoices the processor captured more than once.
    double_captures: usize,
    /// Paid invoices with no capture under their charge id.
    paid_without_capture: usize,
    /// Captured invoices the ledger does not show paid by that capture.
    captured_not_paid: usize,
}

fn compare(dir: &tempfile::TempDir) -> Comparison {
    let captures = records(&stdout_of(&mut on_ledger(dir, &["sandbox", "captures"])));
    let invoices = records(&stdout_of(&mut on_ledger(dir, &["invoices"])));
    let mut by_reference: HashMap<String, Vec<String>> = HashMap::new();
    for capture in &captures {
        by_reference
            .entry(capture["reference"].as_str().unwrap().to_owned())
            .or_default()
            .push(capture["charge_id"].as_str().unwrap().to_owned());
    }
    let mut paid_by: HashMap<String, String> = HashMap::new();
    let mut comparison = Comparison {
        invoices: invoices.len(),
        captures: captures.len(),
        ..Comparison::default()
    };
    for invoice in &invoices {
        let id = invoice["id"].as_str().unwrap().to_owned();
        if invoice["status"] == "paid" {
            comparison.paid += 1;
            if let Some(charge) = invoice["charge_id"].as_str() {
                let found = by_reference
                    .get(&id)
                    .is_some_and(|charges| charges.iter().any(|c| c == charge));
                if !found {
                    comparison.paid_without_capture += 1;
                }
                paid_by.insert(id, charge.to_owned());
            }
        }
    }
    for (reference, charges) in &by_reference {
        if charges.len() > 1 {
            comparison.double_captures += 1;
        }
        if charges
            .iter()
            .any(|charge| paid_by.get(reference) != Some(charge))
        {
            comparison.captured_not_paid += 1;
        }
    }
    comparison
}

/// `ledgerly charge` on the scratch ledger, as a child process.
fn spawn_charge(dir: &tempfile::TempDir, input: &Path, latency: &str) -> Child {
    Command::new(cargo_bin!("ledgerly"))
        .env_remove("LEDGERLY_DB")
        .args(["--quiet", "charge", "--sandbox-latency", latency, "--input"])
        .arg(input)
        .arg("--db")
        .arg(dir.path().join("ledgerly.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A small deterministic generator for the kill moments (splitmix64),
/// seeded from the clock; the seed is printed so a failure can be replayed.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

#[test]
fn a_second_run_captures_nothing_new_and_reports_the_stored_charges() {
    let dir = scratch();
    let input = fixture("charge.jsonl");
    on_ledger(&dir, &["charge", "--input", &input])
        .assert()
        .code(1);
    let first = stdout_of(&mut on_ledger(&dir, &["sandbox", "captures"]));
    assert_eq!(records(&first).len(), 4, "{first}");
    // The second run: every paid invoice is reported with its stored charge
    // id after 0 requests; only the unpaid ones are tried again.
    let second = stdout_of(&mut on_ledger(&dir, &["charge", "--input", &input]));
    let second = records(&second);
    assert_eq!(second[0]["charge_id"], "ch_fake_000001");
    assert_eq!(second[0]["requests"], 0);
    for record in &second {
        if record["outcome"] == "paid" {
            assert_eq!(record["requests"], 0, "{record}");
        }
    }
    let after = stdout_of(&mut on_ledger(&dir, &["sandbox", "captures"]));
    assert_eq!(after, first, "the second run captured something");
    let comparison = compare(&dir);
    assert_eq!(comparison.double_captures, 0);
    assert_eq!(comparison.paid_without_capture, 0);
    assert_eq!(comparison.captured_not_paid, 0);
}

#[test]
fn an_invoice_issued_again_with_other_content_is_refused_naming_the_field() {
    let dir = scratch();
    let line = |price: &str| {
        format!(
            "{{\"id\":\"A\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"line_items\":[{{\"price\":\"{price}\",\"quantity\":1}}]}}\n"
        )
    };
    on_ledger(&dir, &["charge", "--input", "-"])
        .write_stdin(line("1"))
        .assert()
        .success();
    on_ledger(&dir, &["charge", "--input", "-"])
        .write_stdin(line("2"))
        .assert()
        .code(65)
        .stdout(
            "{\"line\":1,\"id\":\"A\",\"error\":\"invoice A was already issued with a different line items: 1x1, now 2x1\"}\n",
        );
}

#[test]
fn runs_killed_at_random_moments_and_run_again_capture_each_invoice_once() {
    // 5 ms per request: a run needs 2 s for them all, and each kill
    // interrupts it after a few dozen, so the kills fall all through it.
    const INVOICES: usize = 400;
    const KILLS: usize = 20;
    let dir = scratch();
    let input = write_invoices(dir.path(), INVOICES);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into();
    let mut moments = Moments(seed);
    let started = Instant::now();
    let mut killed = 0;
    for _ in 0..KILLS {
        let mut child = spawn_charge(&dir, &input, "5ms");
        std::thread::sleep(Duration::from_millis(20 + moments.next_below(500)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    let midway = compare(&dir);
    // A reconcile settles what the killed runs left pending without
    // charging: the processor's captures and the ledger agree at once.
    on_ledger(&dir, &["reconcile", "--grace", "0"])
        .assert()
        .success();
    let reconciled = compare(&dir);
    assert_eq!(reconciled.captures, midway.captures, "seed {seed}");
    assert_eq!(reconciled.paid, reconciled.captures, "seed {seed}");
    assert_eq!(
        (
            reconciled.double_captures,
            reconciled.paid_without_capture,
            reconciled.captured_not_paid
        ),
        (0, 0, 0),
        "seed {seed}"
    );
    // The final run charges the rest.
    let status = spawn_charge(&dir, &input, "0").wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let comparison = compare(&dir);
    eprintln!(
        "kill test (seed {seed}): {killed} kills of {KILLS} runs, {INVOICES} invoices, \
         {} paid and {} captured before the final run, {} captures, {} double captures, {:?}",
        midway.paid,
        midway.captures,
        comparison.captures,
        comparison.double_captures,
        started.elapsed()
    );
    assert_eq!(midway.double_captures, 0, "seed {seed}");
    assert_eq!(
        comparison,
        Comparison {
            invoices: INVOICES,
            paid: INVOICES,
            captures: INVOICES,
            ..Comparison::default()
        },
        "seed {seed}"
    );
}

#[test]
fn several_runs_at_once_on_one_ledger_capture_each_invoice_once() {
    const INVOICES: usize = 300;
    const RUNS: usize = 3;
    let dir = scratch();
    let input = write_invoices(dir.path(), INVOICES);
    // The ledger exists before the runs start, so they race for invoices,
    // not for creating the file.
    on_ledger(&dir, &["charge", "--input", "-"])
        .write_stdin("")
        .assert()
        .success();
    let started = Instant::now();
    let children: Vec<Child> = (0..RUNS)
        .map(|_| spawn_charge(&dir, &input, "1ms"))
        .collect();
    let codes: Vec<Option<i32>> = children
        .into_iter()
        .map(|mut child| child.wait().unwrap().code())
        .collect();
    let concurrent = compare(&dir);
    // One more run, or a reconcile, settles anything a race left unknown.
    let status = spawn_charge(&dir, &input, "0").wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let comparison = compare(&dir);
    eprintln!(
        "concurrency test: {RUNS} runs at once (exit codes {codes:?}), {INVOICES} invoices, \
         {} paid after them, {} captures, {} double captures, {:?}",
        concurrent.paid,
        comparison.captures,
        comparison.double_captures,
        started.elapsed()
    );
    assert_eq!(concurrent.double_captures, 0);
    assert_eq!(
        comparison,
        Comparison {
            invoices: INVOICES,
            paid: INVOICES,
            captures: INVOICES,
            ..Comparison::default()
        }
    );
}

#[test]
fn reconcile_settles_unknown_attempts_by_lookup_after_the_grace_and_needs_a_ledger() {
    let dir = scratch();
    on_ledger(&dir, &["charge", "--input", &fixture("charge.jsonl")])
        .assert()
        .code(1);
    // INV-8's retries ran out: its attempt is unknown, and the processor
    // has no record of a capture. Within the grace it may be in flight.
    on_ledger(&dir, &["reconcile"])
        .assert()
        .code(1)
        .stdout("reconciled: 0 attempt(s) settled (0 captured), 1 still unknown\n");
    on_ledger(&dir, &["reconcile", "--grace", "0"])
        .assert()
        .success()
        .stdout("reconciled: 1 attempt(s) settled (0 captured), 0 still unknown\n");
    let open = records(&stdout_of(&mut on_ledger(
        &dir,
        &["invoices", "--status", "open"],
    )));
    let ids: Vec<&str> = open.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["INV-6", "INV-8"]);
    assert_eq!(compare(&dir).captures, 4);
    let empty = scratch();
    on_ledger(&empty, &["reconcile"])
        .assert()
        .code(66)
        .stderr(predicate::str::contains("error: ledger "))
        .stderr(predicate::str::contains("does not exist"));
    on_ledger(&empty, &["invoices"]).assert().code(66);
    on_ledger(&empty, &["sandbox", "captures"])
        .assert()
        .code(66);
}

#[test]
fn invoices_filter_by_status_and_id() {
    let dir = scratch();
    on_ledger(&dir, &["charge", "--input", &fixture("charge.jsonl")])
        .assert()
        .code(1);
    let failed = records(&stdout_of(&mut on_ledger(
        &dir,
        &["invoices", "--status", "failed"],
    )));
    let ids: Vec<&str> = failed.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["INV-5"]);
    assert_eq!(failed[0]["attempts"][0]["outcome"], "declined");
    assert_eq!(failed[0]["attempts"][0]["detail"], "insufficient_funds");
    let one = records(&stdout_of(&mut on_ledger(
        &dir,
        &["invoices", "--id", "INV-1"],
    )));
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
fn a_ledger_from_a_newer_ledgerly_is_refused_and_left_untouched() {
    let dir = scratch();
    let ledger = dir.path().join("ledgerly.db");
    on_ledger(&dir, &["charge", "--input", &fixture("charge.jsonl")])
        .assert()
        .code(1);
    {
        let connection = rusqlite::Connection::open(&ledger).unwrap();
        connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA user_version = 99;")
            .unwrap();
    }
    let before = std::fs::read(&ledger).unwrap();
    for command in [
        &["charge", "--input", &fixture("charge.jsonl")][..],
        &["invoices"][..],
        &["reconcile"][..],
    ] {
        on_ledger(&dir, command)
            .assert()
            .code(78)
            .stdout("")
            .stderr(predicate::str::contains(
                "has schema version 99, newer than the 1 this ledgerly knows; use a newer ledgerly (the file was not changed)",
            ));
    }
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
}

#[test]
fn ledgerly_db_names_the_ledger_unless_db_does_and_the_books_sit_beside_it() {
    let dir = scratch();
    let from_env = dir.path().join("env").join("books.db");
    std::fs::create_dir_all(from_env.parent().unwrap()).unwrap();
    let input = "{\"id\":\"A\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n";
    crate::util::ledgerly()
        .env("LEDGERLY_DB", &from_env)
        .args(["--quiet", "charge", "--input", "-"])
        .write_stdin(input)
        .assert()
        .success();
    assert!(from_env.exists());
    assert!(dir.path().join("env").join("ledgerly-sandbox.db").exists());
    // --db wins over the environment: a ledger of its own, charged afresh.
    on_ledger(&dir, &["--quiet", "charge", "--input", "-"])
        .env("LEDGERLY_DB", &from_env)
        .write_stdin(input)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"requests\":1"));
    let csv = stdout_of(
        crate::util::ledgerly()
            .env("LEDGERLY_DB", &from_env)
            .args(["sandbox", "captures", "--format", "csv"]),
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "number,charge_id,idempotency_key,reference,amount,currency,captured_at"
    );
    assert!(
        rows[1].starts_with("1,ch_fake_000001,invoice:A:attempt:1,A,1.08,USD,"),
        "{csv}"
    );
    assert_eq!(rows.len(), 2);
    let sandbox = dir.path().join("elsewhere.db");
    crate::util::ledgerly()
        .args(["sandbox", "captures", "--sandbox-db"])
        .arg(&sandbox)
        .assert()
        .code(66)
        .stderr(predicate::str::contains("sandbox books"));
}

#[test]
fn a_bad_duration_or_id_is_a_usage_error() {
    let dir = scratch();
    on_ledger(&dir, &["charge", "--input", "-", "--sandbox-latency", "2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "is not a whole number with a unit",
        ));
    on_ledger(&dir, &["invoices", "--id", ""])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--id: invoice id is empty"));
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
    let captures = records(&stdout_of(&mut on_ledger(&dir, &["sandbox", "captures"])));
    let numbers: Vec<u64> = captures
        .iter()
        .map(|capture| capture["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=1001).collect::<Vec<u64>>());
    assert_eq!(captures[1000]["reference"], "INV-01001");
    let invoices = records(&stdout_of(&mut on_ledger(&dir, &["invoices"])));
    let ids: Vec<&str> = invoices
        .iter()
        .map(|invoice| invoice["id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=INVOICES).map(|n| format!("INV-{n:05}")).collect();
    assert_eq!(ids, expected);
}
