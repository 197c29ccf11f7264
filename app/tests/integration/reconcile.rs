//! `ledgerly reconcile` through the real binary: unknown attempts settled
//! by lookup after the grace, never by charging; a missing ledger refused.

use predicates::prelude::*;

use crate::charge::ledger::{Place, charged_fixture, compare, listed};
use crate::util::{fixture, on_ledger, scratch};

#[test]
fn reconcile_settles_by_lookup_and_leaves_an_attempt_the_processor_never_saw_to_its_own_key() {
    let dir = charged_fixture();
    let charge = ["--quiet", "charge", "--input", &fixture("charge.jsonl")];
    // INV-8's retries ran out: its attempt is unknown, and the processor
    // has no record of it. However old, it is never given a new key (its
    // request may still be on its way): the next charge run resends it.
    let line = "reconciled: 0 attempt(s) settled (0 captured), 1 still unknown \
                (1 not at the processor: the next charge run resends them under their own keys)\n";
    on_ledger(&dir, &["reconcile"])
        .assert()
        .code(1)
        .stdout(line);
    on_ledger(&dir, &["reconcile", "--grace", "0"])
        .assert()
        .code(1)
        .stdout(line)
        .stderr(predicate::str::starts_with(
            "warning: --grace is no longer used",
        ));
    let open = listed(&dir, &["invoices", "--status", "open"]);
    let ids: Vec<&str> = open.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["INV-6"]);
    // tok_transient_9 fails nine requests: two more runs, the same key
    // (each still exits 1 for INV-5's decline and INV-6's refusal).
    on_ledger(&dir, &charge).assert().code(1);
    on_ledger(&dir, &charge).assert().code(1);
    let inv8 = listed(&dir, &["invoices", "--id", "INV-8"]);
    assert_eq!(inv8[0]["status"], "paid");
    assert_eq!(inv8[0]["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(
        inv8[0]["attempts"][0]["idempotency_key"],
        "invoice:INV-8:attempt:1"
    );
    on_ledger(&dir, &["reconcile"])
        .assert()
        .success()
        .stdout("reconciled: 0 attempt(s) settled (0 captured), 0 still unknown\n");
    assert_eq!(compare(&Place::File(dir)).captures, 5);
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
