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

use crate::charge::ledger::{listed, records};
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
    let stderr = String::from_utf8(plan.stderr).unwrap();
    let digest = stderr
        .split_whitespace()
        .find(|word| word.starts_with("sha256:"))
        .unwrap()
        .to_owned();
    let plan_file = dir.path().join("plan.jsonl");
    std::fs::write(&plan_file, &plan.stdout).unwrap();

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
