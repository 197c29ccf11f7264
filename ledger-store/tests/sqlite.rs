//! What only SQLite files can show: schema versions, file kinds, reopening,
//! several connections at once, the write lock, and a constraint of the
//! file. The rules every ledger and every set of books must keep are the
//! conformance suites' (`sqlite_conformance.rs`).

// Fixture helpers open files and build values from literals known to be
// valid; a panic there is a broken test, reported as a failure.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use billing::{
    Attempt, AttemptOutcome, BillingService, CustomerId, Invoice, InvoiceFilter, InvoiceId,
    InvoiceStatus, Ledger, LedgerErrorKind, Payment, RecordingSleeper, RetryPolicy, StatusKind,
};
use ledger_store::{SqliteLedger, SqliteSandboxBooks, StoreError};
use payment_gateway::{
    Amount, Currency, FakeGateway, ManualClock, PaymentGateway, PaymentMethod, unix_millis,
};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};
use rusqlite::Connection;
use tempfile::TempDir;

fn invoice(id: &str, token: &str) -> Invoice {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    Invoice::new(
        InvoiceId::new(id).unwrap(),
        CustomerId::new("cus_1").unwrap(),
        PaymentMethod::new(token).unwrap(),
        Currency::Usd,
        PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap(),
    )
}

fn set_user_version(path: &Path, version: i64) {
    let connection = Connection::open(path).unwrap();
    connection
        .execute_batch(&format!("PRAGMA user_version = {version}"))
        .unwrap();
}

/// A new ledger file in `dir` holding `INV-1` (paid with `tok_success`),
/// issued at the standing clock's time: its path and the open ledger.
fn holding_inv_1(dir: &TempDir) -> (PathBuf, SqliteLedger) {
    let path = dir.path().join("ledger.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    service(FakeGateway::new(), &ledger, &ManualClock::default())
        .issue(&invoice("INV-1", "tok_success"))
        .unwrap();
    (path, ledger)
}

/// Checks that the file at `path` is at the schema version this binary
/// writes.
fn assert_current_schema(path: &Path) {
    assert_eq!(
        SqliteLedger::schema_version(path).unwrap(),
        SqliteLedger::SCHEMA_VERSION
    );
}

fn service<G: PaymentGateway, L: Ledger>(
    gateway: G,
    ledger: L,
    clock: &ManualClock,
) -> BillingService<G, L, RecordingSleeper, ManualClock> {
    let policy = RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(2)).unwrap();
    BillingService::new(
        gateway,
        ledger,
        RecordingSleeper::new(),
        clock.clone(),
        policy,
    )
}

#[test]
fn a_new_ledger_records_the_schema_version_this_binary_writes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ledger.db");
    assert_eq!(SqliteLedger::schema_version(&path).unwrap(), 0);

    let ledger = SqliteLedger::open(&path).unwrap();

    assert_eq!(ledger.path(), path);
    assert_current_schema(&path);
    drop(ledger);
    // Opening again migrates nothing and keeps the version.
    SqliteLedger::open(&path).unwrap();
    assert_current_schema(&path);
}

#[test]
fn a_ledger_written_by_a_newer_schema_is_refused_and_left_untouched() {
    let dir = TempDir::new().unwrap();
    let (path, ledger) = holding_inv_1(&dir);
    drop(ledger);
    set_user_version(&path, SqliteLedger::SCHEMA_VERSION + 1);

    let error = SqliteLedger::open(&path).unwrap_err();

    assert_eq!(
        error,
        StoreError::NewerSchema {
            path: path.display().to_string(),
            kind: "ledger",
            found: SqliteLedger::SCHEMA_VERSION + 1,
            supported: SqliteLedger::SCHEMA_VERSION,
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "ledger {} has schema version 6, newer than the 5 this ledgerly knows; use a newer ledgerly (it was not changed)",
            path.display()
        )
    );
    assert_eq!(SqliteLedger::schema_version(&path).unwrap(), 6);
    set_user_version(&path, SqliteLedger::SCHEMA_VERSION);
    let reopened = SqliteLedger::open(&path).unwrap();
    assert!(
        reopened
            .get(&InvoiceId::new("INV-1").unwrap())
            .unwrap()
            .is_some()
    );
}

#[test]
fn sandbox_books_written_by_a_newer_schema_are_refused_too() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("sandbox.db");
    let books = SqliteSandboxBooks::open(&path).unwrap();
    assert_eq!(books.path(), path);
    drop(books);
    set_user_version(&path, SqliteSandboxBooks::SCHEMA_VERSION + 5);

    assert!(matches!(
        SqliteSandboxBooks::open(&path),
        Err(StoreError::NewerSchema {
            kind: "sandbox books",
            found: 9,
            supported: 4,
            ..
        })
    ));
}

#[test]
fn a_ledger_is_never_opened_as_sandbox_books_nor_the_other_way_round() {
    let dir = TempDir::new().unwrap();
    let ledger = dir.path().join("ledger.db");
    let books = dir.path().join("sandbox.db");
    drop(SqliteLedger::open(&ledger).unwrap());
    drop(SqliteSandboxBooks::open(&books).unwrap());

    let as_books = SqliteSandboxBooks::open(&ledger).unwrap_err();
    let as_ledger = SqliteLedger::open(&books).unwrap_err();

    assert_eq!(
        as_books.to_string(),
        format!("{} is not a ledgerly sandbox books file", ledger.display())
    );
    assert!(matches!(
        as_ledger,
        StoreError::WrongKind {
            expected: "ledger",
            ..
        }
    ));
}

#[test]
fn a_file_that_is_not_a_database_is_an_sqlite_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        b"these are not the pages you are looking for, not at all",
    )
    .unwrap();

    let error = SqliteLedger::open(&path).unwrap_err();

    assert!(matches!(&error, StoreError::Sqlite { .. }), "{error:?}");
    assert!(error.to_string().starts_with(&path.display().to_string()));
}

#[test]
fn the_ledger_survives_reopening_with_its_attempt_history() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ledger.db");
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    {
        let ledger = SqliteLedger::open(&path).unwrap();
        let billing = service(FakeGateway::new(), &ledger, &clock);
        billing
            .issue(&invoice("INV-1", "tok_card_declined"))
            .unwrap();
        assert!(billing.collect(&InvoiceId::new("INV-1").unwrap()).is_err());
    }

    let ledger = SqliteLedger::open(&path).unwrap();
    let record = ledger
        .get(&InvoiceId::new("INV-1").unwrap())
        .unwrap()
        .unwrap();

    assert_eq!(record.status().kind(), StatusKind::Failed);
    assert_eq!(record.attempts().len(), 1);
    assert_eq!(
        record.attempts()[0].outcome().to_string(),
        "declined (card_declined)"
    );
    assert_eq!(
        unix_millis(record.attempts()[0].created_at()),
        1_764_583_200_000
    );
    assert_eq!(record.invoice().breakdown().total().minor_units(), 14169);
}

#[test]
fn two_connections_collecting_the_same_invoices_at_once_capture_each_once_in_the_sqlite_books() {
    let dir = TempDir::new().unwrap();
    let ledger_path = dir.path().join("ledger.db");
    let books_path = dir.path().join("sandbox.db");
    let clock = ManualClock::at_unix_millis(1_764_583_200_000);
    let ids: Vec<InvoiceId> = (0..60)
        .map(|n| InvoiceId::new(format!("INV-{n:03}")).unwrap())
        .collect();
    {
        let ledger = SqliteLedger::open(&ledger_path).unwrap();
        let billing = service(FakeGateway::new(), &ledger, &clock);
        for (n, id) in ids.iter().enumerate() {
            let token = ["tok_success", "tok_reply_lost", "tok_request_lost"][n % 3];
            billing.issue(&invoice(id.as_str(), token)).unwrap();
        }
    }

    std::thread::scope(|scope| {
        for reversed in [false, true, false] {
            let (ledger_path, books_path, clock, ids) =
                (&ledger_path, &books_path, clock.clone(), ids.clone());
            scope.spawn(move || {
                let gateway =
                    FakeGateway::with_books(SqliteSandboxBooks::open(books_path).unwrap())
                        .with_clock(clock.clone());
                let billing = service(gateway, SqliteLedger::open(ledger_path).unwrap(), &clock);
                let mut order = ids;
                if reversed {
                    order.reverse();
                }
                for chunk in order.chunks(7) {
                    let _ = billing.collect_all(chunk);
                }
            });
        }
    });
    // A last run settles whatever a race left unknown.
    let processor = FakeGateway::with_books(SqliteSandboxBooks::open(&books_path).unwrap())
        .with_clock(clock.clone());
    let ledger = SqliteLedger::open(&ledger_path).unwrap();
    for result in service(&processor, &ledger, &clock).collect_all(&ids) {
        result.unwrap();
    }

    assert_eq!(processor.capture_count(), ids.len());
    for id in &ids {
        let captures = processor.captures_for(id.as_str());
        assert_eq!(captures.len(), 1, "{id}");
        assert_eq!(
            ledger.get(id).unwrap().unwrap().status(),
            InvoiceStatus::Paid(Payment::Charged(captures[0].charge().clone()))
        );
    }
    let paid = ledger
        .list(
            &InvoiceFilter::all().with_status(StatusKind::Paid),
            None,
            1000,
        )
        .unwrap();
    assert_eq!(paid.len(), ids.len());
}

#[test]
fn a_database_of_another_program_is_refused_even_before_its_first_migration() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("other.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA application_id = 7")
        .unwrap();

    assert!(matches!(
        SqliteLedger::open(&path),
        Err(StoreError::WrongKind {
            expected: "ledger",
            ..
        })
    ));
}

#[test]
fn a_ledger_being_created_waits_for_another_connection_to_let_go_of_its_write_lock() {
    // The switch to WAL needs the file to itself, and while another
    // connection holds the write lock SQLite refuses it at once instead of
    // waiting out the busy timeout, so the open waits and tries again (for
    // 2 s at most). Another connection holds the write lock of the (still
    // empty) file for 100 ms after the open starts: long enough for its
    // first try to be refused, well within the 2 s it waits.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ledger.db");
    let writer = Connection::open(&path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (started, start) = mpsc::channel();
    let opened = std::thread::scope(|scope| {
        let path = &path;
        let open = scope.spawn(move || {
            started.send(()).unwrap();
            SqliteLedger::open(path)
                .map(drop)
                .map_err(|error| error.to_string())
        });
        start.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        writer.execute_batch("COMMIT").unwrap();
        open.join().unwrap()
    });

    assert_eq!(opened, Ok(()));
    assert_current_schema(&path);
}

#[test]
fn a_write_a_constraint_of_the_file_refuses_is_a_conflict_to_read_again() {
    // Every rule of `Ledger` is checked before the write, so only a
    // constraint of the file itself can still refuse one (as the unique
    // index would for another run's capture): here a trigger that refuses
    // every new attempt. Billing then reads again instead of failing.
    let dir = TempDir::new().unwrap();
    let (path, ledger) = holding_inv_1(&dir);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER taken BEFORE INSERT ON attempts \
             BEGIN SELECT RAISE(ABORT, 'attempt taken'); END;",
        )
        .unwrap();
    let at = payment_gateway::from_unix_millis(1_764_583_200_000);
    let attempt = Attempt::restore(
        InvoiceId::new("INV-1").unwrap(),
        1,
        "invoice:INV-1:attempt:1",
        PaymentMethod::new("tok_success").unwrap(),
        Amount::new(14169, Currency::Usd).unwrap(),
        AttemptOutcome::Pending,
        at,
        at,
    )
    .unwrap();

    let error = ledger.begin_attempts(&[attempt]).unwrap_err();

    assert_eq!(error.kind(), LedgerErrorKind::Conflict);
    assert_eq!(error.message(), "sqlite: attempt taken");
}

/// This host's boot id and milliseconds since boot, as the ledger reads
/// them (Linux's `/proc`).
fn host_boot_clock() -> (String, i64) {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap();
    let (seconds, hundredths) = uptime
        .split_whitespace()
        .next()
        .unwrap()
        .split_once('.')
        .unwrap();
    let ms = seconds.parse::<i64>().unwrap() * 1000 + hundredths.parse::<i64>().unwrap() * 10;
    (boot_id.trim().to_owned(), ms)
}

#[test]
fn claims_run_out_on_the_hosts_boot_clock_whatever_a_processs_wall_clock_said() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ledger.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    let (boot_id, uptime) = host_boot_clock();
    let wall = unix_millis(std::time::SystemTime::now());
    let hour: i64 = 3_600_000;
    // A process an hour ahead, killed: its lease ends in an hour by its wall
    // clock, but ran out on the boot clock every process shares.
    // A process an hour behind, alive: its lease ended an hour ago by the
    // wall clock, but lasts another minute on the boot clock.
    // A claim of another boot: its process ended with the reboot.
    let rows = [
        (
            "AHEAD",
            wall + hour,
            Some(boot_id.as_str()),
            Some(uptime - 1),
        ),
        (
            "BEHIND",
            wall - hour,
            Some(boot_id.as_str()),
            Some(uptime + 60_000),
        ),
        (
            "REBOOTED",
            wall + hour,
            Some("another-boot"),
            Some(uptime + 60_000),
        ),
        ("OLD-SCHEMA", wall + hour, None, None),
    ];
    let connection = Connection::open(&path).unwrap();
    for (invoice, expires, boot, expires_uptime) in rows {
        connection
            .execute(
                "INSERT INTO claims (invoice_id, worker, expires_at_ms, boot_id, expires_uptime_ms) \
                 VALUES (?1, 'dead:1', ?2, ?3, ?4)",
                rusqlite::params![invoice, expires, boot, expires_uptime],
            )
            .unwrap();
    }

    let claims = billing::Claims::claims(&ledger, None, 10).unwrap();

    let expired: Vec<(&str, bool)> = claims
        .iter()
        .map(|claim| (claim.invoice().as_str(), claim.expired()))
        .collect();
    assert_eq!(
        expired,
        [
            ("AHEAD", true),
            ("BEHIND", false),
            ("OLD-SCHEMA", false),
            ("REBOOTED", true)
        ]
    );
    let me = billing::WorkerId::new("me").unwrap();
    let ids: Vec<InvoiceId> = ["AHEAD", "BEHIND", "REBOOTED"]
        .iter()
        .map(|id| InvoiceId::new(*id).unwrap())
        .collect();
    let outcomes = billing::Claims::claim(&ledger, &me, &ids, Duration::from_secs(30)).unwrap();
    assert_eq!(
        outcomes,
        [
            billing::ClaimOutcome::Claimed,
            billing::ClaimOutcome::HeldBy(billing::WorkerId::new("dead:1").unwrap()),
            billing::ClaimOutcome::Claimed
        ]
    );
}

#[test]
fn a_device_or_a_directory_is_refused_as_a_ledger_before_sqlite_opens_it() {
    let dir = TempDir::new().unwrap();
    for path in [Path::new("/dev/null"), dir.path()] {
        for opened in [
            SqliteLedger::open(path).map(drop),
            SqliteLedger::open_read_only(path).map(drop),
        ] {
            assert!(
                matches!(opened, Err(StoreError::Unsupported { .. })),
                "{}: {opened:?}",
                path.display()
            );
        }
    }
    assert!(!Path::new("/dev/null-journal").exists());
}
