//! `ledgerly correct plan|apply|verify` and `credit-notes` through the real
//! binary, on a ledger that a release with the lesson's typo (gold 0.12)
//! charged: the plan, the approval by digest, the refund of 5.00 exactly
//! once, the lowered amount due collected by `charge`, and `verify`.

use std::path::Path;
use std::time::Duration;

use billing::{BillingService, CustomerId, Invoice, InvoiceId, Rates, RetryPolicy, ThreadSleeper};
use ledger_store::{SqliteLedger, SqliteSandboxBooks};
use payment_gateway::{Currency, FakeGateway, PaymentMethod, SystemClock};
use pricing::{DaysOverdue, LineItem, PricingInput, RATES, Tier};
use serde_json::Value;
use std::path::PathBuf;

use std::process::{Child, Command, Stdio};

use ledger_store::{AnyBooks, AnyLedger};

use crate::charge::ledger::{Moments, Place, finished, listed, records, seed};
use crate::util::{on_ledger, scratch, stdout_of};

/// The lesson's typo table, as the release that had it named it.
fn typo() -> Rates {
    let mut table = RATES;
    table.gold_discount = "0.12".parse().unwrap();
    Rates::new(table, Some("1".to_owned()))
}

/// The lesson's invoice (40×3, 15×2) for `tier`, paid with `token`.
fn lesson(id: &str, tier: Tier, token: &str) -> Invoice {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    Invoice::new(
        InvoiceId::new(id).unwrap(),
        CustomerId::new("cus_1").unwrap(),
        PaymentMethod::new(token).unwrap(),
        Currency::Usd,
        PricingInput::new(items, tier, true, DaysOverdue::from(45)).unwrap(),
    )
}

/// What the typo release left in `dir`: INV-1 charged 146.69, INV-2
/// issued at 146.69 and not charged yet, INV-3 (silver, which the typo
/// did not touch) charged.
fn typo_release(dir: &Path) {
    let ledger = SqliteLedger::open(dir.join("ledgerly.db")).unwrap();
    let books = SqliteSandboxBooks::open(dir.join("ledgerly-sandbox.db")).unwrap();
    let gateway = FakeGateway::with_books(books);
    let policy = RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(1)).unwrap();
    let release = BillingService::new(&gateway, &ledger, ThreadSleeper, SystemClock, policy)
        .with_rates(typo());
    let invoices = [
        lesson("INV-1", Tier::Gold, "tok_success"),
        lesson("INV-2", Tier::Gold, "tok_success"),
        lesson("INV-3", Tier::Silver, "tok_success"),
    ];
    for issued in release.issue_all(&invoices).unwrap() {
        issued.unwrap();
    }
    for id in ["INV-1", "INV-3"] {
        release.collect(&InvoiceId::new(id).unwrap()).unwrap();
    }
}

fn plan_args(fingerprint: &str) -> Vec<String> {
    [
        "correct",
        "plan",
        "--wrong-rates",
        fingerprint,
        "--correction",
        "2026-12-gold",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Saves a `correct plan` run's records to `file`, as a reviewer would,
/// and returns the digest it printed on stderr.
fn saved(plan: &std::process::Output, file: &Path) -> String {
    std::fs::write(file, &plan.stdout).unwrap();
    String::from_utf8_lossy(&plan.stderr)
        .split_whitespace()
        .find(|word| word.starts_with("sha256:"))
        .unwrap()
        .to_owned()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The plan of the typo's correction on `dir`'s ledger, checked: INV-1
/// refunded 5.00 line by line, INV-2's amount due lowered 5.00. Its
/// records, its digest and the file it was saved to.
fn planned(dir: &tempfile::TempDir, wrong: &str) -> (Vec<Value>, String, PathBuf) {
    // The plan: INV-1 refunded 5.00, INV-2's amount due lowered 5.00.
    let plan = on_ledger(dir, &strs(&plan_args(wrong))).output().unwrap();
    assert_eq!(plan.status.code(), Some(1));
    let entries = records(&String::from_utf8(plan.stdout.clone()).unwrap());
    let summary: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["credit"]["total"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("INV-1", "refund", "5.00"), ("INV-2", "reduce_due", "5.00")]
    );
    assert_eq!(entries[0]["credit"]["tier_discount"], "4.50");
    assert_eq!(entries[0]["credit"]["loyalty_discount"], "-0.09");
    assert_eq!(entries[0]["credit"]["tax"], "0.35");
    assert_eq!(entries[0]["credit"]["late_fee"], "0.24");
    assert_eq!(entries[0]["effective"]["total"], "146.69");
    assert_eq!(entries[0]["corrected"]["total"], "141.69");
    let plan_file = dir.path().join("plan.jsonl");
    let digest = saved(&plan, &plan_file);

    (entries, digest, plan_file)
}

#[test]
fn the_lessons_typo_is_planned_approved_refunded_once_collected_and_verified() {
    let dir = scratch();
    typo_release(dir.path());
    let wrong = typo().fingerprint();

    let (entries, digest, plan_file) = planned(&dir, &wrong);
    let plan_path = plan_file.to_str().unwrap();
    assert_eq!(entries.len(), 2);

    // A plan whose digest is not the approved one applies nothing.
    on_ledger(
        &dir,
        &[
            "correct",
            "apply",
            "--plan",
            plan_path,
            "--expect-digest",
            "sha256:00",
        ],
    )
    .assert()
    .code(65)
    .stderr(predicates::str::contains("nothing was applied"));
    assert!(listed(&dir, &["credit-notes"]).is_empty());

    let apply = [
        "correct",
        "apply",
        "--plan",
        plan_path,
        "--expect-digest",
        &digest,
    ];
    let applied = listed(&dir, &apply);
    let outcomes: Vec<(&str, &str, &str)> = applied
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap(),
                a["credit_note"].as_str().unwrap(),
                a["settlement"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("INV-1", "INV-1-CN01", "refunded"),
            ("INV-2", "INV-2-CN01", "due_lowered")
        ]
    );
    assert_eq!(applied[0]["refund_id"], "re_fake_000001");
    assert_eq!(applied[0]["credited"]["total"], "5.00");
    on_ledger(&dir, &apply).assert().success();
    let refunds = listed(&dir, &["sandbox", "refunds"]);
    assert_eq!(refunds.len(), 1, "a rerun refunds nothing again");
    assert_eq!(refunds[0]["amount"], "5.00");
    assert_eq!(refunds[0]["reference"], "INV-1-CN01");

    // The unpaid invoice is collected at its corrected total.
    let input = dir.path().join("inv-2.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"INV-2\",\"customer\":\"cus_1\",\"payment_method\":\"tok_success\",\"tier\":\"gold\",\"loyalty_member\":true,\"days_overdue\":45,\"line_items\":[{\"price\":\"40.00\",\"quantity\":3},{\"price\":\"15\",\"quantity\":2}]}\n",
    )
    .unwrap();
    on_ledger(&dir, &["charge", "--input", input.to_str().unwrap()])
        .assert()
        .success();
    let captures = listed(&dir, &["sandbox", "captures"]);
    let amounts: Vec<&str> = captures
        .iter()
        .map(|c| c["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["146.69", "150.03", "141.69"]);

    let verify = stdout_of(&mut on_ledger(
        &dir,
        &["correct", "verify", "--correction", "2026-12-gold"],
    ));
    assert_eq!(
        verify,
        "correction 2026-12-gold: 2 credit note(s) checked, 5.00 refunded, everything holds\n"
    );
    let notes = listed(&dir, &["credit-notes"]);
    let kinds: Vec<(&str, &str)> = notes
        .iter()
        .map(|n| {
            (
                n["credit_note"].as_str().unwrap(),
                n["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("INV-1-CN01", "post_payment"),
            ("INV-2-CN01", "pre_payment")
        ]
    );

    // Once applied, the same correction plans nothing.
    on_ledger(&dir, &strs(&plan_args(&wrong)))
        .assert()
        .success()
        .stdout("");
}

/// The lesson's invoice line, as `charge` reads it.
const LESSON_LINE: &str = "{\"id\":\"INV-1\",\"customer\":\"cus_1\",\"payment_method\":\"tok_success\",\"tier\":\"gold\",\"loyalty_member\":true,\"days_overdue\":45,\"line_items\":[{\"price\":\"40.00\",\"quantity\":3},{\"price\":\"15\",\"quantity\":2}]}\n";

#[test]
fn an_undercharge_billed_is_one_supplementary_invoice_that_charge_collects_once() {
    // The typo the other way: gold at 0.18 charged the lesson's invoice
    // too little.
    let dir = scratch();
    let mut generous = RATES;
    generous.gold_discount = "0.18".parse().unwrap();
    let generous = Rates::new(generous, Some("1".to_owned()));
    {
        let ledger = SqliteLedger::open(dir.path().join("ledgerly.db")).unwrap();
        let books = SqliteSandboxBooks::open(dir.path().join("ledgerly-sandbox.db")).unwrap();
        let gateway = FakeGateway::with_books(books);
        let release = BillingService::new(
            &gateway,
            &ledger,
            ThreadSleeper,
            SystemClock,
            RetryPolicy::default(),
        )
        .with_rates(generous.clone());
        release
            .issue_all(&[lesson("INV-1", Tier::Gold, "tok_success")])
            .unwrap()
            .pop()
            .unwrap()
            .unwrap();
        release.collect(&InvoiceId::new("INV-1").unwrap()).unwrap();
    }
    let plan = on_ledger(&dir, &strs(&plan_args(&generous.fingerprint())))
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(1));
    let entries = records(&String::from_utf8(plan.stdout.clone()).unwrap());
    assert_eq!(entries[0]["action"], "absorb");
    let credit = entries[0]["credit"]["total"].as_str().unwrap().to_owned();
    assert!(credit.starts_with('-'), "an undercharge: {credit}");
    let plan_file = dir.path().join("plan.jsonl");
    let digest = saved(&plan, &plan_file);
    let apply = [
        "correct",
        "apply",
        "--plan",
        plan_file.to_str().unwrap(),
        "--expect-digest",
        &digest,
        "--undercharge",
        "bill",
    ];

    for _ in 0..2 {
        let applied = listed(&dir, &apply);
        assert_eq!(applied[0]["settlement"], "billed");
        assert_eq!(applied[0]["supplementary_invoice"], "INV-1-SUP01");
    }
    let input = dir.path().join("inv-1.jsonl");
    std::fs::write(&input, LESSON_LINE).unwrap();
    let charged = listed(&dir, &["charge", "--input", input.to_str().unwrap()]);
    let lines: Vec<(u64, &str, &str, u64)> = charged
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["id"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [(1, "INV-1", "paid", 0), (0, "INV-1-SUP01", "paid", 1)]
    );
    assert_eq!(charged[1]["total"], credit.trim_start_matches('-'));
    // A later run collects nothing again.
    let again = listed(&dir, &["charge", "--input", input.to_str().unwrap()]);
    assert_eq!(again.len(), 1);
    let captures = listed(&dir, &["sandbox", "captures"]);
    let amounts: Vec<&str> = captures
        .iter()
        .map(|c| c["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts.len(), 2, "{amounts:?}");
    // What was charged plus what was billed is what the right rates ask.
    let cents = |text: &str| -> i64 { text.replace('.', "").parse().unwrap() };
    assert_eq!(cents(amounts[0]) + cents(amounts[1]), 14169);
    on_ledger(&dir, &["correct", "verify", "--correction", "2026-12-gold"])
        .assert()
        .success();
    let notes = listed(&dir, &["credit-notes"]);
    assert_eq!(notes[0]["kind"], "billed");
}

#[test]
fn a_plan_names_its_tables_correctly_or_is_refused() {
    let dir = scratch();
    typo_release(dir.path());
    on_ledger(
        &dir,
        &[
            "correct",
            "plan",
            "--wrong-rates",
            "gold",
            "--correction",
            "c",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicates::str::contains("is not a fingerprint"));
    on_ledger(&dir, &strs(&plan_args(&RATES.fingerprint())))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("is the right table itself"));
    // A fingerprint no invoice has: nothing to correct.
    on_ledger(&dir, &strs(&plan_args("fnv1a64:0000000000000000")))
        .assert()
        .success()
        .stdout("");
    let markdown = stdout_of(&mut on_ledger(
        &dir,
        &[
            &strs(&plan_args(&typo().fingerprint()))[..],
            &["--format", "markdown"],
        ]
        .concat(),
    ));
    assert!(
        markdown.contains("**2 invoice(s)** to correct"),
        "{markdown}"
    );
    assert!(markdown.contains("| refund | 1 | 5.00 |"), "{markdown}");
}

/// `count` invoices of the lesson (`TYPO-0001` …) that the typo release
/// issued and charged on the ledger at `place` (its books beside it).
fn typo_release_at(place: &Place, count: usize) {
    let db = place.db();
    let location = ledger_store::Location::parse(db.to_str().unwrap());
    let books_location = match &location {
        ledger_store::Location::File(path) => {
            ledger_store::Location::File(path.with_file_name("ledgerly-sandbox.db"))
        }
        postgres @ ledger_store::Location::Postgres(_) => postgres.clone(),
    };
    let gateway = FakeGateway::with_books(AnyBooks::open(&books_location).unwrap());
    let ids = typo_issued_at(place, count);
    let ledger = AnyLedger::open(&location).unwrap();
    let policy = RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(1)).unwrap();
    let release = BillingService::new(&gateway, &ledger, ThreadSleeper, SystemClock, policy);
    for result in release.collect_all(&ids) {
        result.unwrap();
    }
}

/// The plan of the typo's correction at `place`: the file and its digest.
fn plan_at(place: &Place, dir: &Path) -> (PathBuf, String) {
    let output = place
        .command(&strs(&plan_args(&typo().fingerprint())))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "the plan lists the invoices");
    let file = dir.join("plan.jsonl");
    let digest = saved(&output, &file);
    (file, digest)
}

/// `ledgerly correct apply` of `plan` at `place`, as a child process.
fn spawn_apply(place: &Place, plan: &Path, digest: &str, latency: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin!("ledgerly"))
        .env_remove("LEDGERLY_DB")
        .args([
            "--quiet",
            "correct",
            "apply",
            "--claim-timeout",
            "1s",
            "--sandbox-latency",
            latency,
        ])
        .arg("--plan")
        .arg(plan)
        .args(["--expect-digest", digest, "--db"])
        .arg(place.db())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// What the processor refunded at `place`: refunds in all, credit notes
/// refunded more than once, and refunds not of exactly 5.00.
fn refunds_at(place: &Place) -> (usize, usize, usize) {
    let listed = String::from_utf8(
        place
            .command(&["sandbox", "refunds"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let refunds = records(&listed);
    let mut references: Vec<&str> = refunds
        .iter()
        .map(|r| r["reference"].as_str().unwrap())
        .collect();
    references.sort_unstable();
    let total = references.len();
    references.dedup();
    let wrong_amounts = refunds.iter().filter(|r| r["amount"] != "5.00").count();
    (total, total - references.len(), wrong_amounts)
}

// The counts go to stderr (shown with --nocapture), as in the charge tests.
#[allow(clippy::print_stderr)]
/// Applies of one plan killed at random moments, then a reconcile and a
/// last apply once the killed runs' claims ran out: every paid invoice
/// refunded exactly 5.00, once, and verify holds.
fn killed_applies_refund_each_credit_note_once(place: &Place, appliers: usize) {
    const INVOICES: usize = 120;
    const KILLS: usize = 12;
    let dir = scratch();
    typo_release_at(place, INVOICES);
    let (plan, digest) = plan_at(place, dir.path());
    let seed = seed();
    let mut moments = Moments(seed);
    let mut running: Vec<Child> = (0..appliers)
        .map(|_| spawn_apply(place, &plan, &digest, "3ms"))
        .collect();
    let mut killed = 0;
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(20 + moments.next_below(300)));
        let slot = usize::try_from(moments.next_below(appliers as u64)).unwrap();
        if running[slot].try_wait().unwrap().is_none() {
            running[slot].kill().unwrap();
            killed += 1;
        }
        running[slot].wait().unwrap();
        running[slot] = spawn_apply(place, &plan, &digest, "3ms");
    }
    for mut child in running {
        finished(&mut child);
    }
    let midway = refunds_at(place);
    place
        .command(&["reconcile"])
        .assert()
        .code(predicates::prelude::predicate::in_iter([0, 1]));
    // The killed runs' claims (1 s) run out; the last apply settles the rest.
    std::thread::sleep(Duration::from_millis(1100));
    let last = finished(&mut spawn_apply(place, &plan, &digest, "0"));
    let after = refunds_at(place);
    eprintln!(
        "correct kill test on {} (seed {seed}): {appliers} applier(s), {killed} kills, {INVOICES} invoices, \
         {} refunds before the last apply, {} after, {} double refunds, {} of another amount",
        place.name(),
        midway.0,
        after.0,
        after.1,
        after.2
    );
    assert_eq!(last.code(), Some(0), "seed {seed}");
    assert_eq!(midway.1, 0, "seed {seed}: a credit note refunded twice");
    assert_eq!(after, (INVOICES, 0, 0), "seed {seed}");
    place
        .command(&["correct", "verify", "--correction", "2026-12-gold"])
        .assert()
        .success();
}

#[test]
fn applies_killed_at_random_moments_refund_each_credit_note_once() {
    for place in Place::all() {
        killed_applies_refund_each_credit_note_once(&place, 1);
    }
}

#[test]
fn three_appliers_killed_and_restarted_on_one_plan_refund_each_credit_note_once() {
    for place in Place::all() {
        killed_applies_refund_each_credit_note_once(&place, 3);
    }
}

/// The charge input of the invoices `typo_release_at` issued.
fn typo_input(dir: &Path, count: usize) -> PathBuf {
    use std::fmt::Write as _;
    let mut text = String::new();
    for n in 1..=count {
        let _ = writeln!(
            text,
            "{{\"id\":\"TYPO-{n:04}\",\"customer\":\"cus_1\",\"payment_method\":\"tok_success\",\"tier\":\"gold\",\"loyalty_member\":true,\"days_overdue\":45,\"line_items\":[{{\"price\":\"40.00\",\"quantity\":3}},{{\"price\":\"15\",\"quantity\":2}}]}}"
        );
    }
    let path = dir.join("typo.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// `count` invoices of the lesson (`TYPO-0001` …) that the typo release
/// issued at `place` and did not charge; their ids.
fn typo_issued_at(place: &Place, count: usize) -> Vec<InvoiceId> {
    let db = place.db();
    let location = ledger_store::Location::parse(db.to_str().unwrap());
    let ledger = AnyLedger::open(&location).unwrap();
    let policy = RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(1)).unwrap();
    let gateway = FakeGateway::new();
    let release = BillingService::new(&gateway, &ledger, ThreadSleeper, SystemClock, policy)
        .with_rates(typo());
    let invoices: Vec<Invoice> = (1..=count)
        .map(|n| lesson(&format!("TYPO-{n:04}"), Tier::Gold, "tok_success"))
        .collect();
    for issued in release.issue_all(&invoices).unwrap() {
        issued.unwrap();
    }
    invoices
        .iter()
        .map(|invoice| invoice.id().clone())
        .collect()
}

/// What `ledgerly <command>` lists at `place`, as records.
fn listed_at(place: &Place, command: &[&str]) -> Vec<Value> {
    records(&String::from_utf8(place.command(command).output().unwrap().stdout).unwrap())
}

/// Each capture at `place` is the lowered due with no refund, or the
/// issued total refunded 5.00 once; how many were the lowered due.
fn lowered_or_refunded(place: &Place) -> usize {
    let refunds = listed_at(place, &["sandbox", "refunds"]);
    let mut lowered = 0;
    for capture in &listed_at(place, &["sandbox", "captures"]) {
        let id = capture["reference"].as_str().unwrap();
        let refunded: Vec<&Value> = refunds
            .iter()
            .filter(|refund| {
                refund["reference"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{id}-CN"))
            })
            .collect();
        match capture["amount"].as_str().unwrap() {
            "141.69" => {
                lowered += 1;
                assert!(refunded.is_empty(), "{id}: a lowered due and a refund");
            }
            "146.69" => {
                assert_eq!(
                    refunded.len(),
                    1,
                    "{id}: charged in full, refunded {refunded:?}"
                );
                assert_eq!(refunded[0]["amount"], "5.00");
            }
            other => assert_eq!(other, "141.69 or 146.69", "{id} captured {other}"),
        }
    }
    lowered
}

// The counts go to stderr (shown with --nocapture), as in the charge tests.
#[allow(clippy::print_stderr)]
#[test]
fn a_charge_racing_an_apply_lowers_the_due_or_refunds_never_both() {
    const INVOICES: usize = 60;
    for place in Place::all() {
        let dir = scratch();
        typo_issued_at(&place, INVOICES);
        let (plan, digest) = plan_at(&place, dir.path());
        let input = typo_input(dir.path(), INVOICES);
        let input = input.to_str().unwrap();
        let mut apply = spawn_apply(&place, &plan, &digest, "2ms");
        let charge = [
            "--quiet",
            "charge",
            "--sandbox-latency",
            "2ms",
            "--claim-timeout",
            "1s",
        ];
        let raced = place
            .command(&[&charge[..], &["--input", input]].concat())
            .output()
            .unwrap();
        finished(&mut apply);
        // An invoice charged before its credit note was written has
        // drifted from the plan: a new plan refunds it. Then a last charge
        // collects whatever is still open.
        std::thread::sleep(Duration::from_millis(1100));
        let replan = place
            .command(&strs(&plan_args(&typo().fingerprint())))
            .output()
            .unwrap();
        if replan.status.code() == Some(1) {
            let (plan, digest) = plan_at(&place, dir.path());
            finished(&mut spawn_apply(&place, &plan, &digest, "0"));
        }
        place
            .command(&["--quiet", "charge", "--input", input])
            .assert()
            .success();
        let captures = listed_at(&place, &["sandbox", "captures"]).len();
        assert_eq!(
            captures,
            INVOICES,
            "{}: charge exited {:?}",
            place.name(),
            raced.status.code()
        );
        let lowered = lowered_or_refunded(&place);
        eprintln!(
            "charge racing apply on {}: {INVOICES} invoices, {lowered} charged their lowered due, {} charged in full and refunded",
            place.name(),
            INVOICES - lowered
        );
    }
}
