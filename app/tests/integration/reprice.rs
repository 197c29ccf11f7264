//! `ledgerly reprice` through the real binary, on SQLite and PostgreSQL
//! ledgers that releases issued: what this build's rates change in the
//! invoices of a window, per invoice, customer and currency; which changes
//! were declared (another rates version) and which were not (the build's
//! own version); and that it never writes what it reads.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use billing::{BillingService, CustomerId, Invoice, InvoiceId, Rates, RetryPolicy, ThreadSleeper};
use ledger_store::{AnyLedger, Location};
use payment_gateway::{Currency, FakeGateway, ManualClock, PaymentMethod};
use pricing::{DaysOverdue, LineItem, PricingInput, RATES, Tier};
use serde_json::Value;

use crate::charge::ledger::Place;

/// The lesson's typo table (gold 0.12) under rates version `version`: "1",
/// this build's own, makes it an undeclared change; "0", a declared one.
fn typo(version: &str) -> Rates {
    let mut table = RATES;
    table.gold_discount = "0.12".parse().unwrap();
    Rates::new(table, Some(version.to_owned()))
}

/// The lesson's invoice (40×3, 15×2, loyalty, 45 days) for `customer`.
fn lesson(id: &str, customer: &str, tier: Tier, currency: Currency) -> Invoice {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    Invoice::new(
        InvoiceId::new(id).unwrap(),
        CustomerId::new(customer).unwrap(),
        PaymentMethod::new("tok_success").unwrap(),
        currency,
        PricingInput::new(items, tier, true, DaysOverdue::from(45)).unwrap(),
    )
}

/// Issues `invoices` into `place`'s ledger as a release with `rates` would,
/// at `issued_at`.
fn issue(place: &Place, rates: Rates, issued_at: SystemTime, invoices: &[Invoice]) {
    let ledger = AnyLedger::open(&Location::parse(place.db())).unwrap();
    let policy = RetryPolicy::new(1, Duration::from_millis(1), Duration::from_millis(1)).unwrap();
    let clock = ManualClock::new(issued_at);
    let release = BillingService::new(FakeGateway::new(), &ledger, ThreadSleeper, clock, policy)
        .with_rates(rates);
    for issued in release.issue_all(invoices).unwrap() {
        issued.unwrap();
    }
}

/// What the typo release issued yesterday: three gold invoices of two
/// customers (two currencies), one silver, which the typo did not touch.
fn typo_book(place: &Place, version: &str) {
    let yesterday = SystemTime::now() - Duration::from_secs(86_400);
    issue(
        place,
        typo(version),
        yesterday,
        &[
            lesson("INV-1", "cus_a", Tier::Gold, Currency::Usd),
            lesson("INV-2", "cus_a", Tier::Gold, Currency::Usd),
            lesson("INV-3", "cus_b", Tier::Gold, Currency::Eur),
            lesson("INV-4", "cus_b", Tier::Silver, Currency::Usd),
        ],
    );
}

/// `ledgerly reprice --format json` on `place`: the exit code and the
/// report.
fn repriced(place: &Place, extra: &[&str]) -> (i32, Value) {
    let output = place
        .command(&["reprice", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|code| code <= 1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_slice(&output.stdout).unwrap();
    (output.status.code().unwrap(), report)
}

#[test]
fn a_change_under_the_builds_own_rates_version_is_reported_as_undeclared_per_invoice_customer_and_currency()
 {
    for place in Place::all() {
        typo_book(&place, "1");
        let (code, report) = repriced(&place, &[]);
        let at = place.name();
        assert_eq!(code, 1, "{at}: {report}");
        assert_eq!(report["compared"], 4, "{at}");
        assert_eq!(report["changed"], 3, "{at}");
        assert_eq!(report["unchanged"], 1, "{at}");
        assert_eq!(report["undeclared"], 3, "{at}");
        assert_eq!(report["by_version"][0]["rates_version"], "same_version");
        assert_eq!(report["by_version"][0]["changed"], 3, "{at}");
        // 146.69 issued, 141.69 due: 5.00 less per gold invoice, per currency.
        let money = report["money"].as_array().unwrap();
        assert_eq!(money.len(), 2, "{at}: {money:?}");
        assert_eq!(money[0]["currency"], "EUR");
        assert_eq!(money[0]["moved"]["total"], "-5.00");
        assert_eq!(money[1]["currency"], "USD");
        assert_eq!(money[1]["moved"]["total"], "-10.00");
        assert_eq!(money[1]["moved"]["tier_discount"], "-9.00");
        assert_eq!(money[1]["down"]["invoices"], 2);
        assert_eq!(money[1]["up"]["invoices"], 0);
        let largest = report["largest"].as_array().unwrap();
        assert_eq!(largest.len(), 3, "{at}");
        assert_eq!(largest[0]["id"], "INV-1");
        assert_eq!(largest[0]["stored_total"], "146.69");
        assert_eq!(largest[0]["repriced_total"], "141.69");
        assert_eq!(largest[0]["change"], "-5.00");
        assert_eq!(largest[0]["rates_version"], "same_version");
        let customers = &report["customers"];
        assert_eq!(customers["changed"], 2, "{at}: cus_a in USD, cus_b in EUR");
        assert_eq!(customers["largest"][0]["customer"], "cus_a");
        assert_eq!(customers["largest"][0]["invoices"], 2);
        assert_eq!(customers["largest"][0]["change"], "-10.00");
        assert_eq!(customers["largest"][1]["customer"], "cus_b");
        assert_eq!(customers["largest"][1]["currency"], "EUR");
    }
}

#[test]
fn a_change_from_another_rates_version_is_declared_and_the_text_and_markdown_say_so() {
    let place = Place::file();
    typo_book(&place, "0");
    let (code, report) = repriced(&place, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["undeclared"], 0);
    assert_eq!(report["by_version"][1]["rates_version"], "other_version");
    assert_eq!(report["by_version"][1]["changed"], 3);
    let text = place.command(&["reprice"]).assert().code(1);
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    assert!(text.contains("3 changed, 1 unchanged"), "{text}");
    assert!(
        text.contains("       3 changed: issued under another rates version (a declared change)"),
        "{text}"
    );
    let markdown = place
        .command(&["reprice", "--format", "markdown"])
        .assert()
        .code(1);
    let markdown = String::from_utf8_lossy(&markdown.get_output().stdout).into_owned();
    assert!(
        markdown.starts_with("#### Repricing the ledger: 3 of 4 invoice(s) change"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| cus\\_a | USD | 2 | -10.00 |"),
        "{markdown}"
    );
}

#[test]
fn invoices_issued_before_the_window_are_left_out() {
    let place = Place::file();
    typo_book(&place, "1");
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    issue(
        &place,
        typo("1"),
        long_ago,
        &[lesson("OLD-1", "cus_c", Tier::Gold, Currency::Gbp)],
    );
    assert_eq!(repriced(&place, &[]).1["compared"], 4);
    assert_eq!(
        repriced(&place, &["--since", "2020-01-01"]).1["compared"],
        5
    );
    assert_eq!(repriced(&place, &["--since", "2h"]).1["compared"], 0);
    let (code, report) = repriced(&place, &["--since", "0"]);
    assert_eq!((code, &report["compared"]), (0, &Value::from(0)));
    place
        .command(&["reprice", "--since", "last week"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--since: \"last week\" is neither a date",
        ));
}

#[test]
fn a_ledger_this_build_issued_reprices_without_a_change_and_exits_0() {
    let place = Place::file();
    issue(
        &place,
        Rates::current(),
        SystemTime::now(),
        &[lesson("INV-1", "cus_a", Tier::Gold, Currency::Usd)],
    );
    let (code, report) = repriced(&place, &["--summary", "/dev/null"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["changed"], 0);
    assert_eq!(report["customers"]["changed"], 0);
    assert_eq!(report["window"]["rates_version"], "1");
}

#[test]
fn repricing_never_writes_the_ledger_and_reads_one_it_may_not_write() {
    for place in Place::all() {
        typo_book(&place, "1");
        let before = contents(&place);
        let summary = crate::util::scratch();
        let file = summary.path().join("reprice.json");
        let (code, report) = repriced(&place, &["--summary", file.to_str().unwrap()]);
        assert_eq!(code, 1, "{report}");
        let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(written, report, "--summary holds the report");
        assert_eq!(contents(&place), before, "{}: reprice wrote", place.name());
    }
    // A file and a directory no one may write (as root, which may write
    // anyway, the bytes are still checked): a read-only copy or a replica.
    let place = Place::file();
    typo_book(&place, "1");
    let before = contents(&place);
    let Place::File(dir) = &place else {
        unreachable!("Place::file")
    };
    let read_only = |mode| {
        use std::os::unix::fs::PermissionsExt;
        let set = |path: &std::path::Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        set(&dir.path().join("ledgerly.db"), mode & 0o666);
        set(dir.path(), mode);
    };
    read_only(0o555);
    let (code, report) = repriced(&place, &[]);
    read_only(0o755);
    assert_eq!((code, &report["changed"]), (1, &Value::from(3)));
    assert_eq!(contents(&place), before);
}

/// Every invoice of `place`'s ledger as `ledgerly invoices` lists it.
fn contents(place: &Place) -> String {
    let output = place.command(&["invoices"]).output().unwrap();
    assert!(output.status.success());
    let mut text = String::from_utf8(output.stdout).unwrap();
    if let Place::File(dir) = place {
        let bytes = std::fs::read(dir.path().join("ledgerly.db")).unwrap();
        let _ = write!(
            text,
            "\nledgerly.db: {} bytes, {:x}",
            bytes.len(),
            fnv(&bytes)
        );
    }
    text
}

/// A 64-bit FNV-1a of `bytes`: enough to tell two files apart.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
