//! The PostgreSQL backends against a real server: billing's conformance
//! suite and crash-safety property on `PgLedger`, the sandbox books'
//! conformance suite on `PgSandboxBooks`, and what schema versions, locks
//! and errors must do across hosts.
//!
//! The server is named by `LEDGERLY_TEST_POSTGRES` (a URL whose user may
//! create schemas; `scripts/postgres start DIR` prints one for a
//! throwaway cluster, and `scripts/ci test` starts one). Each check runs in
//! a schema of its own (`search_path`), dropped after. Without the
//! variable these tests say they were skipped and pass, except under
//! `CI=true`, where a missing server is a failure.

// Fixture helpers connect and build values from literals known to be
// valid; a panic there is a broken test, reported as a failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use billing::conformance;
use billing::conformance::strategies::{run, token};
use billing::{InvoiceId, Ledger};
use ledger_store::testing::{Schema, server, with_database};
use ledger_store::{AnyBooks, AnyLedger, Location, PgLedger, PgSandboxBooks, StoreError};
use payment_gateway::{Amount, Currency, FakeGateway, ManualClock, PaymentMethod};
use postgres::{Client, NoTls};
use proptest::prelude::*;

/// A new, empty ledger on the server; the opener connects anew each call,
/// through `AnyLedger` as the command line does (so the suite checks its
/// forwarding too).
fn fresh_on(server: &str) -> impl Fn() -> AnyLedger + Sync + use<> {
    let schema = Arc::new(Schema::new(server));
    move || AnyLedger::open(&Location::Postgres(schema.url())).unwrap()
}

/// New, empty sandbox books on the server; the opener connects anew each
/// call, through `AnyBooks` as the command line does.
fn fresh_books_on(server: &str) -> impl Fn() -> AnyBooks + Sync + use<> {
    let schema = Arc::new(Schema::new(server));
    move || AnyBooks::open(&Location::Postgres(schema.url())).unwrap()
}

/// `$fresh_on` the test server, or return from the test when there is none.
macro_rules! fresh {
    ($fresh_on:ident) => {
        match server() {
            Some(server) => $fresh_on(&server),
            None => return,
        }
    };
}

billing::conformance_tests!(fresh!(fresh_on));

/// The sandbox books' suite, each check in a schema of its own.
mod books {
    use super::*;

    payment_gateway::conformance_tests!(fresh!(fresh_books_on));
}

#[test]
fn any_schedule_of_crashes_and_reruns_on_postgres_captures_each_invoice_at_most_once() {
    let Some(server) = server() else { return };
    // Each case makes a schema of its own, so fewer cases than in memory.
    let config = ProptestConfig::with_cases(24);
    proptest!(config, |(token in token(), runs in proptest::collection::vec(run(), 0..5))| {
        conformance::crash_and_rerun(&fresh_on(&server), "", token, &runs);
    });
}

/// Issues the worked example under each of `ids` into `ledger`.
fn issue(ledger: &impl Ledger, ids: &[&str]) {
    let service = billing::BillingService::new(
        FakeGateway::new(),
        ledger,
        billing::RecordingSleeper::new(),
        ManualClock::at_unix_millis(1_764_583_200_000),
        billing::RetryPolicy::default(),
    );
    for id in ids {
        service
            .issue(&conformance::worked_example(id, "tok_success"))
            .unwrap();
    }
}

/// The first attempt of the worked example `id`, pending.
fn pending(id: &InvoiceId) -> billing::Attempt {
    let at = payment_gateway::from_unix_millis(1_764_583_200_000);
    billing::Attempt::restore(
        id.clone(),
        1,
        billing::attempt_key(id, 1).unwrap().as_str(),
        PaymentMethod::new("tok_success").unwrap(),
        Amount::new(conformance::WORKED_TOTAL, Currency::Usd).unwrap(),
        billing::AttemptOutcome::Pending,
        at,
        at,
    )
    .unwrap()
}

#[test]
fn a_ledger_written_by_a_newer_schema_is_refused_and_left_untouched_on_postgres() {
    let Some(server) = server() else { return };
    let schema = Schema::new(&server);
    let url = schema.url();
    drop(PgLedger::connect(&url).unwrap());
    assert_eq!(
        PgLedger::schema_version(&url).unwrap(),
        PgLedger::SCHEMA_VERSION
    );
    let mut admin = Client::connect(&url, NoTls).unwrap();
    admin
        .execute(
            "UPDATE ledgerly_schema SET version = 7 WHERE kind = 'ledger'",
            &[],
        )
        .unwrap();

    let error = PgLedger::connect(&url).unwrap_err();

    let StoreError::NewerSchema {
        kind,
        found,
        supported,
        ..
    } = error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        (kind, found, supported),
        ("ledger", 7, PgLedger::SCHEMA_VERSION)
    );
    assert_eq!(PgLedger::schema_version(&url).unwrap(), 7, "left untouched");
    // The books are versioned apart and still open.
    assert!(PgSandboxBooks::connect(&url).is_ok());
}

#[test]
fn a_server_that_refuses_is_an_error_naming_the_url_without_its_password() {
    let error =
        PgLedger::connect("postgres://billing:s3cret@localhost/db?host=/nonexistent").unwrap_err();

    let message = error.to_string();
    assert!(
        message.starts_with("postgres://billing:***@localhost/db?host=/nonexistent: "),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert!(
        message.contains("error connecting to server: "),
        "the client's words and their cause: {message}"
    );
}

#[test]
fn a_url_naming_another_database_is_derived_from_every_shape_of_server_url() {
    for server in [
        "postgres://ledgerly@localhost/postgres?host=/tmp/ledgerly-pg",
        "postgres://ledgerly@localhost:5432/ledgerly",
        "postgresql://ledgerly@127.0.0.1:54329/ledgerly?sslmode=disable",
        "postgres://ledgerly@localhost",
        "host=localhost port=5433 user=ledgerly dbname=ledgerly",
    ] {
        let derived = with_database(server, "no_such_database");
        let config: postgres::Config = derived.parse().unwrap();
        let original: postgres::Config = server.parse().unwrap();
        assert_eq!(config.get_dbname(), Some("no_such_database"), "{server}");
        assert_eq!(config.get_hosts(), original.get_hosts(), "{server}");
        assert_eq!(config.get_ports(), original.get_ports(), "{server}");
        assert_eq!(config.get_user(), original.get_user(), "{server}");
    }
}

#[test]
fn what_the_server_refuses_is_said_in_its_words_with_its_code() {
    let Some(server) = server() else { return };
    let missing = with_database(&server, "no_such_database");

    let error = PgLedger::connect(&missing).unwrap_err();

    let StoreError::Postgres { message, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        message,
        "database \"no_such_database\" does not exist (3D000)"
    );
}

#[test]
fn hosts_connecting_at_once_to_a_new_database_migrate_it_once() {
    let Some(server) = server() else { return };
    let schema = Schema::new(&server);
    let url = schema.url();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                PgLedger::connect(&url).unwrap();
                PgSandboxBooks::connect(&url).unwrap();
            });
        }
    });
    assert_eq!(
        PgLedger::schema_version(&url).unwrap(),
        PgLedger::SCHEMA_VERSION
    );
}

#[test]
fn invoice_ids_page_in_byte_order_whatever_the_database_locale() {
    let Some(server) = server() else { return };
    let open = fresh_on(&server);
    let ledger = open();
    // Byte order puts upper case, then '_', then lower case; a locale's
    // collation would interleave them.
    issue(&ledger, &["b-1", "B-2", "a_3", "A-4", "_5"]);
    let ids: Vec<String> = ledger
        .list(&billing::InvoiceFilter::all(), None, 10)
        .unwrap()
        .iter()
        .map(|record| record.invoice().id().to_string())
        .collect();
    assert_eq!(ids, ["A-4", "B-2", "_5", "a_3", "b-1"]);
    let after = ledger
        .list(
            &billing::InvoiceFilter::all(),
            Some(&InvoiceId::new("B-2").unwrap()),
            10,
        )
        .unwrap();
    assert_eq!(after.len(), 3);
}

#[test]
fn a_backend_shows_its_url_in_debug_output_and_never_a_password() {
    let Some(server) = server() else { return };
    let schema = Schema::new(&server);
    let url = schema.url();
    let ledger = PgLedger::connect(&url).unwrap();
    let books = PgSandboxBooks::connect(&url).unwrap();

    assert_eq!(ledger.url(), url);
    assert_eq!(books.url(), url);
    assert!(books.url().ends_with(schema.name()));
    assert_eq!(
        format!("{ledger:?}"),
        format!("PgLedger {{ url: {url:?}, .. }}")
    );
    assert_eq!(
        format!("{books:?}"),
        format!("PgSandboxBooks {{ url: {url:?}, .. }}")
    );
}

#[test]
fn a_write_that_loses_a_deadlock_is_run_again_and_commits() {
    let Some(server) = server() else { return };
    let schema = Schema::new(&server);
    let ledger = PgLedger::connect(&schema.url()).unwrap();
    issue(&ledger, &["LOCK-1", "LOCK-2"]);
    let ids = [
        InvoiceId::new("LOCK-1").unwrap(),
        InvoiceId::new("LOCK-2").unwrap(),
    ];
    // One batch of pending attempts, straight to the ledger (billing would
    // fall back to one at a time and hide the retry).
    let attempts: Vec<billing::Attempt> = ids.iter().map(pending).collect();
    // Another session holds LOCK-2's row; the ledger's batch locks LOCK-1,
    // then waits for LOCK-2; the other session then asks for LOCK-1: a
    // deadlock. The ledger waited first, so its backend detects it first
    // (deadlock_timeout) and its transaction is the one PostgreSQL aborts.
    let mut other = Client::connect(&schema.url(), NoTls).unwrap();
    let mut holding = other.transaction().unwrap();
    holding
        .execute("SELECT 1 FROM invoices WHERE id = 'LOCK-2' FOR UPDATE", &[])
        .unwrap();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| ledger.begin_attempts(&attempts));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let taken = holding.execute("SELECT 1 FROM invoices WHERE id = 'LOCK-1' FOR UPDATE", &[]);
        assert!(
            taken.is_ok(),
            "the other session won the deadlock: {taken:?}"
        );
        holding.rollback().unwrap();
        let written = writer.join().unwrap();
        assert!(written.is_ok(), "{written:?}");
    });

    for id in &ids {
        let record = ledger.get(id).unwrap().unwrap();
        assert_eq!(record.attempts().len(), 1, "{id}");
    }
}

#[test]
fn an_outcome_written_while_another_host_records_a_capture_never_replaces_it() {
    let Some(server) = server() else { return };
    let schema = Schema::new(&server);
    let ledger = PgLedger::connect(&schema.url()).unwrap();
    let at = payment_gateway::from_unix_millis(1_764_583_200_000);
    issue(&ledger, &["RACE-1"]);
    let id = InvoiceId::new("RACE-1").unwrap();
    ledger.begin_attempts(&[pending(&id)]).unwrap();
    // Another host is recording the capture: it holds the invoice's lock
    // and has written the capture, not yet committed.
    let mut other = Client::connect(&schema.url(), NoTls).unwrap();
    let mut recording = other.transaction().unwrap();
    recording
        .execute("SELECT 1 FROM invoices WHERE id = 'RACE-1' FOR UPDATE", &[])
        .unwrap();
    recording
        .execute(
            "UPDATE attempts SET outcome = 'captured', detail = 'ch_other' \
             WHERE invoice_id = 'RACE-1' AND number = 1",
            &[],
        )
        .unwrap();
    let stale = billing::AttemptUpdate::new(
        id.clone(),
        1,
        billing::AttemptOutcome::Unknown("reply lost".to_owned()),
        at,
    );

    std::thread::scope(|scope| {
        let writer = scope.spawn(|| ledger.finish_attempts(std::slice::from_ref(&stale)));
        std::thread::sleep(std::time::Duration::from_millis(300));
        recording.commit().unwrap();
        writer.join().unwrap().unwrap();
    });

    // The stale outcome waited for the capture, read it, and was ignored.
    let record = ledger.get(&id).unwrap().unwrap();
    assert_eq!(
        record.attempts()[0].outcome(),
        &billing::AttemptOutcome::Captured(payment_gateway::ChargeId::new("ch_other").unwrap())
    );
}

#[test]
fn an_integrity_violation_is_a_conflict_and_any_other_failure_is_not() {
    let Some(server) = server() else { return };
    let schema = Schema::new(&server);
    let ledger = PgLedger::connect(&schema.url()).unwrap();
    issue(&ledger, &["KEY-1"]);
    // What another run's write that got there first looks like to this
    // one: an integrity violation (here raised by a trigger, as no write
    // through the API can make one without a race).
    let mut admin = Client::connect(&schema.url(), NoTls).unwrap();
    admin
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'taken' USING ERRCODE = 'unique_violation'; END $$; \
             CREATE TRIGGER refuse BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .unwrap();
    let method = PaymentMethod::new("tok_card_declined").unwrap();
    let taken = ledger
        .change_payment_method(&InvoiceId::new("KEY-1").unwrap(), &method)
        .unwrap_err();
    assert_eq!(taken.kind(), billing::LedgerErrorKind::Conflict, "{taken}");

    // A failure that is no such race (here a table gone) is not a conflict.
    admin.batch_execute("DROP TABLE claims").unwrap();
    let worker = billing::WorkerId::new("w").unwrap();
    let gone = billing::Claims::claim(
        &ledger,
        &worker,
        &[InvoiceId::new("KEY-1").unwrap()],
        std::time::Duration::from_secs(1),
    )
    .unwrap_err();
    assert_eq!(gone.kind(), billing::LedgerErrorKind::Other, "{gone}");
}
