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

use crate::util::{fixture, ledgerly, on_ledger, refused, scratch, stdout_of};

/// Where a test's ledger and sandbox books live: a scratch directory's
/// files, or a schema of its own on the PostgreSQL test server.
pub(crate) enum Place {
    File(tempfile::TempDir),
    Postgres(ledger_store::testing::Schema),
}

impl Place {
    /// A fresh SQLite ledger.
    pub(crate) fn file() -> Place {
        Place::File(scratch())
    }

    /// A fresh PostgreSQL ledger, or `None` when there is no test server
    /// (said once; a failure under `CI=true`).
    pub(crate) fn postgres() -> Option<Place> {
        ledger_store::testing::server()
            .map(|server| Place::Postgres(ledger_store::testing::Schema::new(&server)))
    }

    /// Every place a test can run here: the file, and PostgreSQL when there
    /// is a server.
    pub(crate) fn all() -> Vec<Place> {
        std::iter::once(Place::file())
            .chain(Place::postgres())
            .collect()
    }

    /// The `--db` value: the file's path or the database's URL (the
    /// sandbox's books sit beside it either way).
    pub(crate) fn db(&self) -> std::ffi::OsString {
        match self {
            Place::File(dir) => dir.path().join("ledgerly.db").into_os_string(),
            Place::Postgres(schema) => schema.url().into(),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Place::File(_) => "sqlite",
            Place::Postgres(_) => "postgres",
        }
    }

    /// `ledgerly <command> --db <this place>`.
    pub(crate) fn command(&self, command: &[&str]) -> assert_cmd::Command {
        let mut ledgerly = ledgerly();
        ledgerly.args(command).arg("--db").arg(self.db());
        ledgerly
    }

    /// `ledgerly charge` here as a child process, its records to `out`;
    /// `extra` flags added.
    fn spawn_charge_to(&self, input: &Path, latency: &str, extra: &[&str], out: Stdio) -> Child {
        Command::new(cargo_bin!("ledgerly"))
            .env_remove("LEDGERLY_DB")
            .args(["--quiet", "charge", "--sandbox-latency", latency, "--input"])
            .arg(input)
            .arg("--db")
            .arg(self.db())
            .args(extra)
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// [`spawn_charge_to`](Place::spawn_charge_to), its records dropped.
    pub(crate) fn spawn_charge(&self, input: &Path, latency: &str, extra: &[&str]) -> Child {
        self.spawn_charge_to(input, latency, extra, Stdio::null())
    }
}

/// `count` invoices paid with `tok_success`, one JSON line each.
pub(crate) fn write_invoices(dir: &Path, count: usize) -> PathBuf {
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
pub(crate) fn records(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The JSON Lines records `ledgerly <command>` prints for the scratch
/// ledger in `dir`.
pub(crate) fn listed(dir: &tempfile::TempDir, command: &[&str]) -> Vec<Value> {
    records(&stdout_of(&mut on_ledger(dir, command)))
}

/// A scratch ledger on which `tests/fixtures/charge.jsonl` was charged
/// (exit 1: some of its invoices are declined or fail).
pub(crate) fn charged_fixture() -> tempfile::TempDir {
    let dir = scratch();
    on_ledger(&dir, &["charge", "--input", &fixture("charge.jsonl")])
        .assert()
        .code(1);
    dir
}

/// A scratch ledger that a charge of no invoices created: its directory
/// and the ledger file's path.
fn empty_ledger() -> (tempfile::TempDir, PathBuf) {
    let dir = scratch();
    on_ledger(&dir, &["charge", "--input", "-"])
        .write_stdin("")
        .assert()
        .success();
    let ledger = dir.path().join("ledgerly.db");
    (dir, ledger)
}

/// What the processor's books and the ledger say, compared.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub(crate) invoices: usize,
    pub(crate) paid: usize,
    pub(crate) captures: usize,
    /// Invoices the processor captured more than once.
    pub(crate) double_captures: usize,
    /// Paid invoices with no capture under their charge id.
    pub(crate) paid_without_capture: usize,
    /// Captured invoices the ledger does not show paid by that capture.
    pub(crate) captured_not_paid: usize,
}

pub(crate) fn compare(place: &Place) -> Comparison {
    let captures = records(&stdout_of(&mut place.command(&["sandbox", "captures"])));
    let invoices = records(&stdout_of(&mut place.command(&["invoices"])));
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

/// A small deterministic generator for the kill moments (splitmix64),
/// seeded from the clock; the seed is printed so a failure can be replayed.
pub(crate) struct Moments(pub(crate) u64);

impl Moments {
    pub(crate) fn next_below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

#[test]
fn a_second_run_captures_nothing_new_and_reports_the_stored_charges() {
    for place in Place::all() {
        second_run_captures_nothing_new(&place);
    }
}

fn second_run_captures_nothing_new(place: &Place) {
    let input = fixture("charge.jsonl");
    place
        .command(&["charge", "--input", &input])
        .assert()
        .code(1);
    let first = stdout_of(&mut place.command(&["sandbox", "captures"]));
    assert_eq!(records(&first).len(), 4, "{}: {first}", place.name());
    // The second run: every paid invoice is reported with its stored charge
    // id after 0 requests; only the unpaid ones are tried again.
    let second = stdout_of(&mut place.command(&["charge", "--input", &input]));
    let second = records(&second);
    assert_eq!(second[0]["charge_id"], "ch_fake_000001");
    assert_eq!(second[0]["requests"], 0);
    for record in &second {
        if record["outcome"] == "paid" {
            assert_eq!(record["requests"], 0, "{record}");
        }
    }
    let after = stdout_of(&mut place.command(&["sandbox", "captures"]));
    assert_eq!(after, first, "the second run captured something");
    let comparison = compare(place);
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

/// The claims of a killed run last this long in the tests, so that the
/// runs after it take them over within the test.
const TEST_LEASE: &str = "2s";

#[test]
fn runs_killed_at_random_moments_and_run_again_capture_each_invoice_once() {
    // 5 ms per request: a run needs 2 s for them all, and each kill
    // interrupts it after a few dozen, so the kills fall all through it.
    const INVOICES: usize = 400;
    const KILLS: usize = 20;
    let place = Place::file();
    let dir = scratch();
    let input = write_invoices(dir.path(), INVOICES);
    let seed = seed();
    let mut moments = Moments(seed);
    let started = Instant::now();
    let mut killed = 0;
    let lease = ["--claim-timeout", TEST_LEASE];
    for _ in 0..KILLS {
        let mut child = place.spawn_charge(&input, "5ms", &lease);
        std::thread::sleep(Duration::from_millis(20 + moments.next_below(500)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    let midway = compare(&place);
    // A reconcile settles what the killed runs left pending without
    // charging: the processor's captures and the ledger agree at once. The
    // attempts the processor never saw stay for the final run (exit 1
    // while there are some), never to a new key.
    place
        .command(&["reconcile"])
        .assert()
        .code(predicate::in_iter([0, 1]));
    let reconciled = compare(&place);
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
    // The final run charges the rest, taking over the last killed run's
    // claims once they run out.
    let status = finished(&mut place.spawn_charge(&input, "0", &lease));
    assert_eq!(status.code(), Some(0));
    let comparison = compare(&place);
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
    assert_eq!(comparison, all_paid_once(INVOICES), "seed {seed}");
}

/// How long a run in these tests may take before it counts as hung: a
/// few seconds each when they work, so a run still going after a minute
/// is a failure (killed), not a test that never ends.
const HUNG: Duration = Duration::from_secs(60);

/// The child's exit status, once it exits; killed and a failure after
/// [`HUNG`].
pub(crate) fn finished(child: &mut Child) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        let hung = started.elapsed() > HUNG;
        if hung {
            let _ = child.kill();
        }
        assert!(
            !hung,
            "a ledgerly charge run was still going after {HUNG:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every invoice paid, each with one capture, nothing else.
fn all_paid_once(invoices: usize) -> Comparison {
    Comparison {
        invoices,
        paid: invoices,
        captures: invoices,
        ..Comparison::default()
    }
}

/// A seed from the clock, printed with any failure so it can be replayed.
pub(crate) fn seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

#[test]
fn three_workers_killed_and_restarted_at_random_moments_on_postgres_capture_each_invoice_once() {
    // Three workers share one run on PostgreSQL; every 50–300 ms one of
    // them, chosen at random, is killed and started again, 15 times. Then
    // the last three run to the end, taking over the dead workers' claims.
    const INVOICES: usize = 600;
    const WORKERS: usize = 3;
    const KILLS: usize = 15;
    let Some(place) = Place::postgres() else {
        return;
    };
    let dir = scratch();
    let input = write_invoices(dir.path(), INVOICES);
    let seed = seed();
    let mut moments = Moments(seed);
    let started = Instant::now();
    let lease = ["--claim-timeout", TEST_LEASE];
    // The schema exists before the workers start, so they race for
    // invoices, not for creating tables.
    place
        .command(&["charge", "--input", "-"])
        .write_stdin("")
        .assert()
        .success();
    let mut workers: Vec<Child> = (0..WORKERS)
        .map(|_| place.spawn_charge(&input, "5ms", &lease))
        .collect();
    let mut killed = 0;
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(50 + moments.next_below(250)));
        let slot = usize::try_from(moments.next_below(WORKERS as u64)).unwrap();
        if workers[slot].try_wait().unwrap().is_none() {
            workers[slot].kill().unwrap();
            killed += 1;
        }
        workers[slot].wait().unwrap();
        workers[slot] = place.spawn_charge(&input, "5ms", &lease);
    }
    let codes: Vec<Option<i32>> = workers
        .into_iter()
        .map(|mut worker| finished(&mut worker).code())
        .collect();
    let after_workers = compare(&place);
    // A final run, or a reconcile, settles anything a race left unknown.
    let status = finished(&mut place.spawn_charge(&input, "0", &lease));
    assert_eq!(status.code(), Some(0), "seed {seed}");
    let comparison = compare(&place);
    eprintln!(
        "postgres kill test (seed {seed}): {WORKERS} workers, {killed} kills, {INVOICES} invoices, \
         last workers exited {codes:?}, {} paid and {} captured after them, {} captures, \
         {} double captures, {} paid without capture, {:?}",
        after_workers.paid,
        after_workers.captures,
        comparison.captures,
        comparison.double_captures,
        comparison.paid_without_capture,
        started.elapsed()
    );
    assert_eq!(after_workers.double_captures, 0, "seed {seed}");
    assert_eq!(
        codes,
        [Some(0); WORKERS],
        "seed {seed}: the last workers settle the run"
    );
    assert_eq!(after_workers, all_paid_once(INVOICES), "seed {seed}");
    assert_eq!(comparison, all_paid_once(INVOICES), "seed {seed}");
}

#[test]
fn several_runs_at_once_on_one_ledger_divide_the_invoices_and_capture_each_once() {
    for place in Place::all() {
        several_runs_at_once(&place, &[]);
    }
}

#[test]
fn runs_given_one_worker_name_still_divide_the_invoices_and_send_each_request_once() {
    // A copied unit file, or containers whose hostname and pid are equal:
    // every run is `--worker billing`, and none may take another's claims
    // for its own.
    for place in Place::all() {
        several_runs_at_once(&place, &["--worker", "billing"]);
    }
}

// The counts go to stderr (shown with --nocapture), as in the tests.
#[allow(clippy::print_stderr)]
fn several_runs_at_once(place: &Place, flags: &[&str]) {
    const INVOICES: usize = 300;
    const RUNS: usize = 3;
    let dir = scratch();
    let input = write_invoices(dir.path(), INVOICES);
    // The ledger exists before the runs start, so they race for invoices,
    // not for creating the file.
    place
        .command(&["charge", "--input", "-"])
        .write_stdin("")
        .assert()
        .success();
    let started = Instant::now();
    let children: Vec<Child> = (0..RUNS)
        .map(|n| {
            let out = std::fs::File::create(dir.path().join(format!("run-{n}.jsonl"))).unwrap();
            place.spawn_charge_to(&input, "1ms", flags, out.into())
        })
        .collect();
    let codes: Vec<Option<i32>> = children
        .into_iter()
        .map(|mut child| finished(&mut child).code())
        .collect();
    let concurrent = compare(place);
    // What each run said: every invoice once per run, collected by one of
    // them (one request each: tok_success) and reported claimed by the
    // others.
    let mut collected: HashMap<String, usize> = HashMap::new();
    let mut requests = 0;
    let mut claimed = 0;
    for n in 0..RUNS {
        let text = std::fs::read_to_string(dir.path().join(format!("run-{n}.jsonl"))).unwrap();
        let said = records(&text);
        assert_eq!(said.len(), INVOICES, "{}: run {n}", place.name());
        for record in &said {
            requests += record["requests"].as_u64().unwrap();
            if record["outcome"] == "claimed" {
                claimed += 1;
            } else {
                assert_eq!(record["outcome"], "paid", "{record}");
                *collected
                    .entry(record["id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
    }
    eprintln!(
        "concurrency test ({}): {RUNS} runs at once (exit codes {codes:?}), {INVOICES} invoices, \
         {} paid after them, {requests} requests, {claimed} records of invoices another run \
         held, {} captures, {} double captures, {:?}",
        place.name(),
        concurrent.paid,
        concurrent.captures,
        concurrent.double_captures,
        started.elapsed()
    );
    assert_eq!(codes, [Some(0); RUNS], "{}", place.name());
    assert_eq!(concurrent, all_paid_once(INVOICES), "{}", place.name());
    // Divided, not repeated: each invoice's one request, sent by one run,
    // whose record says paid; the other runs' records say claimed, or paid
    // from the ledger with 0 requests when they came after.
    assert_eq!(requests, INVOICES as u64, "{}", place.name());
    assert_eq!(collected.len(), INVOICES, "{}", place.name());
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
                "has schema version 99, newer than the 5 this ledgerly knows; use a newer ledgerly (it was not changed)",
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
    ledgerly()
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
        ledgerly()
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
    ledgerly()
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
fn an_invoice_another_worker_holds_is_reported_claimed_then_taken_over_when_its_claim_runs_out() {
    let (dir, ledger) = empty_ledger();
    // A worker that died holding INV-2: its claim runs out in 3 s.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    rusqlite::Connection::open(&ledger)
        .unwrap()
        .execute(
            "INSERT INTO claims (invoice_id, worker, expires_at_ms) VALUES ('INV-2', 'dead:1', ?1)",
            [i64::try_from(now_ms).unwrap() + 3000],
        )
        .unwrap();
    let line = |n: u32, token: &str| {
        format!(
            "{{\"id\":\"INV-{n}\",\"customer\":\"c\",\"payment_method\":\"{token}\",\"line_items\":[{{\"price\":\"{n}\",\"quantity\":1}}]}}\n"
        )
    };

    // Taken over, INV-2 is declined: the run that took it over exits 1.
    on_ledger(&dir, &["charge", "--format", "text", "--input", "-"])
        .write_stdin(format!(
            "{}{}{}",
            line(1, "tok_success"),
            line(2, "tok_card_declined"),
            line(3, "tok_success")
        ))
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1)
        .stdout(
            "line 1  INV-1  paid      1.08 USD  charge ch_fake_000001  (1 request)\n\
             line 2  INV-2  claimed   2.16 USD  by worker dead:1  (0 requests)\n\
             line 3  INV-3  paid      3.24 USD  charge ch_fake_000002  (1 request)\n\
             line 0  INV-2  declined  2.16 USD  card_declined  (1 request)\n",
        )
        .stderr(predicate::str::contains(
            "waiting: other workers hold 1 claim(s); their invoices are settled by them, \
             or taken over here if their claims run out",
        ));
    let comparison = compare(&Place::File(dir));
    assert_eq!((comparison.paid, comparison.captures), (2, 2));
    assert_eq!(comparison.double_captures, 0);
}

#[test]
fn every_claim_that_ran_out_is_taken_over_page_after_page() {
    // 2 100 claims that ran out, more than one page of the sweep (2 048),
    // on invoices the ledger does not have: taken over, found to hold
    // nothing, and released.
    let (dir, ledger) = empty_ledger();
    let mut connection = rusqlite::Connection::open(&ledger).unwrap();
    let insert = connection.transaction().unwrap();
    for n in 0..2100 {
        insert
            .execute(
                "INSERT INTO claims (invoice_id, worker, expires_at_ms) VALUES (?1, 'dead:1', 0)",
                [format!("GHOST-{n:04}")],
            )
            .unwrap();
    }
    insert.commit().unwrap();

    on_ledger(&dir, &["charge", "--input", "-"])
        .write_stdin("")
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .stdout("");

    let left: i64 = connection
        .query_row("SELECT count(*) FROM claims", [], |row| row.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn a_claim_must_last_and_a_worker_needs_a_name() {
    for (flag, value, message) in [
        ("--claim-timeout", "0", "a claim must last longer than 0"),
        ("--claim-timeout", "5", "is not a whole number with a unit"),
        ("--worker", "", "worker id is empty"),
    ] {
        refused(&["charge", "--input", "-", flag, value], 2, message);
    }
}
