//! billing's backend conformance suite and crash-safety property against
//! the SQLite ledger, and the sandbox books' conformance suite against the
//! SQLite books (through `AnyLedger` and `AnyBooks`, as the command line
//! opens them): each check on a new file in a temporary directory, every
//! handle a new connection to it, as a second process would open.

// Fixture helpers open files and build values from literals known to be
// valid; a panic there is a broken test, reported as a failure.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use billing::conformance;
use billing::conformance::strategies::{run, token};
use ledger_store::{AnyBooks, AnyLedger, Location};
use proptest::prelude::*;
use tempfile::TempDir;

/// A new file; the opener opens a new connection to it each call, with
/// `open` (a ledger or books). The directory is removed when the opener is
/// dropped.
fn fresh_file<T>(open: fn(&Location) -> T) -> impl Fn() -> T + Sync {
    let dir = TempDir::new().unwrap();
    let path: PathBuf = dir.path().join("store.db");
    move || {
        let _keep = &dir;
        open(&Location::File(path.clone()))
    }
}

/// A new ledger file.
fn fresh() -> impl Fn() -> AnyLedger + Sync {
    fresh_file(|location| AnyLedger::open(location).unwrap())
}

billing::conformance_tests!(fresh());

/// The sandbox books' suite, each check on a new books file.
mod books {
    use super::*;

    payment_gateway::conformance_tests!(fresh_file(|location| AnyBooks::open(location).unwrap()));
}

proptest! {
    // Each case writes a file with full sync, so fewer cases than in memory.
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random crash, fault and 25-hour schedules on a SQLite ledger, then a
    /// clean rerun: at most one capture per invoice, of exactly its total,
    /// paid exactly when captured, with the captured charge's id.
    #[test]
    fn any_schedule_of_crashes_and_reruns_on_sqlite_captures_each_invoice_at_most_once(
        token in token(),
        runs in proptest::collection::vec(run(), 0..5),
    ) {
        conformance::crash_and_rerun(&fresh(), "", token, &runs);
    }
}
