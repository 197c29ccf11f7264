//! `ledgerly reconcile` through the real binary: unknown attempts settled
//! by lookup after the grace, never by charging; a missing ledger refused.

use predicates::prelude::*;

use crate::charge::ledger::{Place, charged_fixture, compare, listed};
use crate::util::{on_ledger, scratch};

#[test]
fn reconcile_settles_unknown_attempts_by_lookup_after_the_grace_and_needs_a_ledger() {
    let dir = charged_fixture();
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
    let open = listed(&dir, &["invoices", "--status", "open"]);
    let ids: Vec<&str> = open.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["INV-6", "INV-8"]);
    assert_eq!(compare(&Place::File(dir)).captures, 4);
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
