//! `ledgerly rates` as the deploy gate reads it: the table, the threshold
//! and the version, as text and as JSON.

use predicates::prelude::*;

use crate::diff::output_of;
use crate::util::ledgerly;

#[test]
fn rates_prints_every_rate_the_threshold_and_the_version() {
    ledgerly()
        .arg("rates")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "rates version 1 (fingerprint fnv1a64:",
        ))
        .stdout(predicate::str::contains("gold discount        0.15\n"))
        .stdout(predicate::str::contains("silver discount      0.10\n"))
        .stdout(predicate::str::contains("late fee after days  30\n"))
        .stderr("");
}

#[test]
fn rates_as_json_starts_with_the_version_a_shell_script_can_read() {
    let json = String::from_utf8(output_of(&["rates", "--format", "json"])).unwrap();
    assert!(
        json.starts_with("{\"version\":1,\"fingerprint\":\"fnv1a64:"),
        "{json}"
    );
    assert!(json.contains("\"gold_discount\":\"0.15\""), "{json}");
    assert!(json.ends_with("\"late_fee_after_days\":30}\n"), "{json}");
}
