//! `ledgerly charge` as a user runs it: sandbox collection through billing.

mod identity;
pub(crate) mod ledger;
mod pace;

use assert_cmd::assert::Assert;
use predicates::prelude::*;

use crate::util::{
    SANDBOX_NOTICE, UNSETTLED_WARNING, fixture, help_says, ledgerly, lines, on_ledger, refused,
    scratch, then_summary,
};

/// `ledgerly charge --input - <flags>` on a new scratch ledger, reading
/// `stdin`: the outcome, to assert on.
fn charge_stdin(flags: &[&str], stdin: &'static str) -> Assert {
    let mut args = vec!["charge", "--input", "-"];
    args.extend_from_slice(flags);
    on_ledger(&scratch(), &args).write_stdin(stdin).assert()
}

#[test]
fn each_invoice_is_paid_with_a_charge_id_or_declined_with_its_code() {
    // The fixture walks through the sandbox tokens: a success, a decline
    // retried with a new card, transient failures retried with backoff, a
    // paid invoice collected again (no second charge), a lost reply, an
    // unknown token, a zero total, and retries that run out.
    let dir = scratch();
    on_ledger(&dir, &["charge", "--input", &fixture("charge.jsonl")])
        .assert()
        .code(1)
        .stderr(then_summary(format!("{SANDBOX_NOTICE}{UNSETTLED_WARNING}")))
        .stdout(lines(&[
            r#"{"line":1,"id":"INV-1","outcome":"paid","total":"141.69","currency":"USD","requests":1,"charge_id":"ch_fake_000001"}"#,
            r#"{"line":2,"id":"INV-2","outcome":"declined","total":"10.80","currency":"USD","requests":1,"decline_code":"card_declined"}"#,
            r#"{"line":3,"id":"INV-3","outcome":"paid","total":"10.80","currency":"EUR","requests":3,"charge_id":"ch_fake_000002"}"#,
            r#"{"line":4,"id":"INV-2","outcome":"paid","total":"10.80","currency":"USD","requests":1,"charge_id":"ch_fake_000003"}"#,
            r#"{"line":5,"id":"INV-1","outcome":"paid","total":"141.69","currency":"USD","requests":0,"charge_id":"ch_fake_000001"}"#,
            r#"{"line":6,"id":"INV-4","outcome":"paid","total":"1.08","currency":"USD","requests":2,"charge_id":"ch_fake_000004"}"#,
            r#"{"line":7,"id":"INV-5","outcome":"declined","total":"1.08","currency":"USD","requests":1,"decline_code":"insufficient_funds"}"#,
            r#"{"line":8,"id":"INV-6","outcome":"failed","total":"1.08","currency":"USD","requests":1,"error":"invoice INV-6 charge request was refused, nothing was charged: no such payment method \"tok_bogus\""}"#,
            r#"{"line":9,"id":"INV-7","outcome":"paid","total":"0.00","currency":"USD","requests":0,"charge_id":null}"#,
            r#"{"line":10,"id":"INV-8","outcome":"failed","total":"1.08","currency":"USD","requests":4,"error":"invoice INV-8 is still open after 4 charge requests, the last one failing with: gateway temporarily unavailable, nothing was charged: simulated outage 4 of 9 for this idempotency key; collecting it again is safe"}"#,
        ]));
}

#[test]
fn every_invoice_paid_exits_0() {
    charge_stdin(
        &["--format", "text"],
        "{\"id\":\"INV-1\",\"customer\":\"cus_1\",\"payment_method\":\"tok_success\",\"tier\":\"gold\",\"loyalty_member\":true,\"days_overdue\":45,\"line_items\":[{\"price\":\"40.00\",\"quantity\":3},{\"price\":15,\"quantity\":2}]}\n",
    )
    .success()
    .stderr(then_summary(SANDBOX_NOTICE))
    .stdout("line 1  INV-1  paid      141.69 USD  charge ch_fake_000001  (1 request)\n");
}

#[test]
fn more_attempts_let_transient_failures_through() {
    charge_stdin(
        &["--max-attempts", "3"],
        "{\"id\":\"A\",\"customer\":\"c\",\"payment_method\":\"tok_transient_2\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
    )
    .success()
    .stdout(predicate::str::contains("\"requests\":3,\"charge_id\":\"ch_fake_000001\""));
}

#[test]
fn invalid_invoices_exit_65_and_the_others_are_still_collected() {
    charge_stdin(
        &[],
        concat!(
            "{\"id\":\"A\",\"line_items\":[]}\n",
            "{\"id\":\"B\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"currency\":\"JPY\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
            "{\"id\":\"C\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
            "{\"id\":\"C\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"line_items\":[{\"price\":\"2\",\"quantity\":1}]}\n",
        ),
    )
    .code(65)
    .stdout(lines(&[
        r#"{"line":1,"id":"A","error":"invalid invoice JSON: missing field `customer` at column 26"}"#,
        r#"{"line":2,"id":"B","error":"currency \"JPY\" is not supported (expected one of: USD, EUR, GBP)"}"#,
        r#"{"line":3,"id":"C","outcome":"paid","total":"1.08","currency":"USD","requests":1,"charge_id":"ch_fake_000001"}"#,
        r#"{"line":4,"id":"C","error":"invoice C was already issued with a different line items: 1x1, now 2x1"}"#,
    ]));
}

#[test]
fn charge_help_lists_the_sandbox_tokens_and_exit_codes() {
    help_says(
        &["charge", "--help"],
        &[
            "tok_transient_<N>",
            "1   every invoice was read, but at least one was not paid",
        ],
    );
}

#[test]
fn a_missing_charge_input_exits_66() {
    refused(
        &["charge", "--input", "no/such/file.jsonl"],
        66,
        "error: cannot read no/such/file.jsonl: ",
    );
}

#[test]
fn an_invoice_read_again_for_another_customer_or_currency_is_refused() {
    // Each second line differs from its first in one field only.
    let output = charge_stdin(
        &[],
        concat!(
            "{\"id\":\"D\",\"customer\":\"c1\",\"payment_method\":\"tok_success\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
            "{\"id\":\"D\",\"customer\":\"c2\",\"payment_method\":\"tok_success\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
            "{\"id\":\"E\",\"customer\":\"c1\",\"payment_method\":\"tok_success\",\"currency\":\"USD\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
            "{\"id\":\"E\",\"customer\":\"c1\",\"payment_method\":\"tok_success\",\"currency\":\"EUR\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
        ),
    )
    .code(65)
    .get_output()
    .stdout
    .clone();
    let lines: Vec<_> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 4);
    for (line, id, field, first, now) in [
        (2, "D", "customer", "c1", "c2"),
        (4, "E", "currency", "USD", "EUR"),
    ] {
        assert_eq!(
            lines[line - 1],
            format!(
                r#"{{"line":{line},"id":"{id}","error":"invoice {id} was already issued with a different {field}: {first}, now {now}"}}"#
            )
        );
    }
}

#[test]
fn an_empty_input_succeeds_but_says_no_invoice_was_read() {
    let dir = scratch();
    for stdin in ["", "\n"] {
        on_ledger(&dir, &["--quiet", "charge", "--input", "-"])
            .write_stdin(stdin)
            .assert()
            .success()
            .stdout("")
            .stderr("warning: no invoice was read from stdin\n");
    }
}

#[test]
fn a_run_exits_0_only_when_no_attempt_in_the_ledger_stays_in_doubt() {
    // Another run (or worker) left INV-8 unknown: its retries ran out.
    let dir = scratch();
    on_ledger(
        &dir,
        &["--quiet", "charge", "--input", &fixture("charge.jsonl")],
    )
    .assert()
    .code(1);
    let paid = "{\"id\":\"NEW-1\",\"customer\":\"cus_1\",\"payment_method\":\"tok_success\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n";

    // This run's own invoices are all paid, but the run is not settled.
    on_ledger(&dir, &["--quiet", "charge", "--input", "-"])
        .write_stdin(paid)
        .assert()
        .code(1)
        .stderr(UNSETTLED_WARNING);

    // Once INV-8 is settled (charged again under its own key, twice: nine
    // outages), a run that pays its own invoices exits 0.
    for _ in 0..2 {
        on_ledger(
            &dir,
            &["--quiet", "charge", "--input", &fixture("charge.jsonl")],
        )
        .assert()
        .code(1);
    }
    on_ledger(&dir, &["--quiet", "charge", "--input", "-"])
        .write_stdin(paid)
        .assert()
        .success()
        .stderr("");
}

#[test]
fn small_promises_of_the_charge_command_hold() {
    let dir = scratch();
    // A currency is case-sensitive like every text field.
    let lower = "{\"id\":\"L-1\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"currency\":\"usd\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n";
    on_ledger(&dir, &["--quiet", "charge", "--input", "-"])
        .write_stdin(lower)
        .assert()
        .code(65)
        .stdout(predicate::str::contains(
            "currency \\\"usd\\\" is not supported",
        ));
    // A blank worker name, or an absurd sandbox latency, is a usage error.
    for args in [
        &["charge", "--input", "-", "--worker", "  "][..],
        &["charge", "--input", "-", "--sandbox-latency", "9999999m"][..],
    ] {
        on_ledger(&dir, args).write_stdin("").assert().code(2);
    }
    // A ledger that is not a regular file is refused, with no journal left
    // beside it.
    let not_a_file = dir.path().join("a-directory");
    std::fs::create_dir(&not_a_file).unwrap();
    ledgerly()
        .env("LEDGERLY_DB", &not_a_file)
        .args(["charge", "--input", "-"])
        .write_stdin("")
        .assert()
        .code(74)
        .stderr(predicate::str::contains("not a regular file"));
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert!(
        left.iter().all(|name| !name.starts_with("a-directory-")),
        "{left:?}"
    );
}
