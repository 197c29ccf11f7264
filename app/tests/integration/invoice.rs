//! The `ledgerly` binary as a user runs it: stdout, stderr and exit code.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as StdCommand, Stdio};
use std::thread;

use assert_cmd::cargo::cargo_bin;
use predicates::prelude::*;

use crate::util::{
    WORKED_EXAMPLE, assert_output_error, bash_output, fixture, help_says, ledgerly, lines, refused,
    run, stdout_of,
};

#[test]
fn the_worked_example_prints_an_aligned_breakdown_totalling_141_69() {
    let assert = ledgerly()
        .args(WORKED_EXAMPLE)
        .assert()
        .success()
        .stderr("");
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert_eq!(
        stdout,
        "subtotal           150.00\n\
         tier discount      -22.50\n\
         loyalty discount    -2.55\n\
         tax                 10.00\n\
         late fee             6.74\n\
         total              141.69\n"
    );
}

#[test]
fn the_worked_example_as_json_is_one_object_of_two_decimal_strings() {
    ledgerly()
        .args(WORKED_EXAMPLE)
        .args(["--format", "json"])
        .assert()
        .success()
        .stderr("")
        .stdout(
            "{\"subtotal\":\"150.00\",\"tier_discount\":\"-22.50\",\"loyalty_discount\":\"-2.55\",\
             \"tax\":\"10.00\",\"late_fee\":\"6.74\",\"total\":\"141.69\"}\n",
        );
}

#[test]
fn flags_default_to_no_tier_no_membership_and_not_overdue() {
    run(&["invoice", "--item", "12.50x2", "--format", "json"])
        .success()
        .stdout(
            "{\"subtotal\":\"25.00\",\"tier_discount\":\"0.00\",\"loyalty_discount\":\"0.00\",\
             \"tax\":\"2.00\",\"late_fee\":\"0.00\",\"total\":\"27.00\"}\n",
        );
}

#[test]
fn a_misspelt_tier_is_a_usage_error_listing_the_valid_names() {
    let args = ["invoice", "--item", "40x3", "--tier", "glod"];
    refused(&args, 2, "invalid value 'glod' for '--tier <TIER>'");
    refused(&args, 2, "[possible values: none, bronze, silver, gold]");
}

#[test]
fn a_malformed_item_is_a_usage_error_naming_the_value() {
    refused(
        &["invoice", "--item", "40by3"],
        2,
        "invalid value '40by3' for '--item <PRICExQTY>': expected PRICExQTY, such as 40x3 or 12.50x2",
    );
    refused(
        &["invoice", "--item", "40x0"],
        2,
        "quantity \"0\" is not a whole number from 1 to 1000000",
    );
}

#[test]
fn flags_and_input_cannot_be_combined() {
    refused(
        &[
            "invoice",
            "--item",
            "1x1",
            "--input",
            &fixture("good.jsonl"),
        ],
        2,
        "cannot be used with",
    );
}

#[test]
fn one_invoice_refused_by_pricing_exits_65() {
    let mut args = vec!["invoice"];
    for _ in 0..11 {
        args.extend(["--item", "1000000000x1000000"]);
    }
    ledgerly()
        .args(args)
        .assert()
        .code(65)
        .stdout("")
        .stderr(predicate::str::starts_with("error: subtotal "));
}

#[test]
fn help_shows_examples_and_exit_codes() {
    help_says(
        &["invoice", "--help"],
        &[
            "ledgerly invoice --item 40x3 --item 15x2 --tier gold --loyalty-member --days-overdue 45",
            "ledgerly invoice --input invoices.jsonl --format jsonl",
            "65  at least one invoice was invalid",
            "74  the output could not be written",
        ],
    );
}

const MIXED_JSONL_OUTPUT: [&str; 11] = [
    r#"{"id":"INV-1","subtotal":"150.00","tier_discount":"-22.50","loyalty_discount":"-2.55","tax":"10.00","late_fee":"6.74","total":"141.69"}"#,
    r#"{"id":"INV-2","subtotal":"10.00","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.80","late_fee":"0.00","total":"10.80"}"#,
    r#"{"line":4,"id":"INV-3","error":"line item 1: price -5 is negative"}"#,
    r#"{"line":5,"id":null,"error":"invalid invoice JSON: expected ident at column 2"}"#,
    r#"{"id":"INV-5","subtotal":"0.30","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.02","late_fee":"0.00","total":"0.32"}"#,
    r#"{"id":"INV-6","subtotal":"121.25","tier_discount":"0.00","loyalty_discount":"0.00","tax":"9.70","late_fee":"6.55","total":"137.50"}"#,
    r#"{"line":8,"id":"INV-7","error":"line item 1: price 1e400 is above the maximum of 1000000000"}"#,
    r#"{"line":9,"id":"INV-8","error":"line item 1: quantity \"99999999999999999999\" is not a whole number from 1 to 1000000"}"#,
    r#"{"line":10,"id":"INV-9","error":"invalid invoice JSON: unknown field `colour`, expected one of `id`, `tier`, `loyalty_member`, `days_overdue`, `line_items` at column 22"}"#,
    r#"{"id":"INV-10","subtotal":"1.00","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.08","late_fee":"0.00","total":"1.08"}"#,
    r#"{"line":12,"id":"INV-11","error":"an invoice needs at least one line item"}"#,
];

const UNKNOWN_TIER_WARNINGS: &str = "warning: unknown tier \"platinum\" applies no discount\n\
                                     warning: unknown tier \"diamond\" applies no discount\n";

#[test]
fn a_mixed_jsonl_batch_prices_the_good_and_names_the_bad_in_input_order() {
    // Covers: error records with their line (the blank line 3 is skipped but
    // counted), 0.1 priced exactly, exponent numbers, numbers too large
    // refused, unknown fields refused, unknown tiers priced without discount
    // and warned about once per name, and exit 65.
    run(&[
        "invoice",
        "--input",
        &fixture("mixed.jsonl"),
        "--format",
        "jsonl",
    ])
    .code(65)
    .stdout(lines(&MIXED_JSONL_OUTPUT))
    .stderr(UNKNOWN_TIER_WARNINGS);
}

#[test]
fn batch_output_defaults_to_json_lines() {
    run(&["invoice", "--input", &fixture("mixed.jsonl")])
        .code(65)
        .stdout(lines(&MIXED_JSONL_OUTPUT));
}

#[test]
fn stdin_needs_an_input_format_and_then_reads_like_a_file() {
    let input = std::fs::read(fixture("mixed.jsonl")).unwrap();
    ledgerly()
        .args(["invoice", "--input", "-"])
        .write_stdin(input.clone())
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("cannot tell the format of stdin"));
    ledgerly()
        .args(["invoice", "--input", "-", "--input-format", "jsonl"])
        .write_stdin(input)
        .assert()
        .code(65)
        .stdout(lines(&MIXED_JSONL_OUTPUT))
        .stderr(UNKNOWN_TIER_WARNINGS);
}

#[test]
fn a_batch_of_valid_invoices_exits_0() {
    run(&["invoice", "--input", &fixture("good.jsonl"), "--format", "jsonl"])
        .success()
        .stderr("")
        .stdout(lines(&[
            r#"{"id":"INV-1","subtotal":"150.00","tier_discount":"-22.50","loyalty_discount":"-2.55","tax":"10.00","late_fee":"6.74","total":"141.69"}"#,
            r#"{"id":"INV-2","subtotal":"99.95","tier_discount":"-9.99","loyalty_discount":"0.00","tax":"7.19","late_fee":"0.00","total":"97.15"}"#,
            r#"{"subtotal":"0.01","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.00","late_fee":"0.00","total":"0.01"}"#,
        ]));
}

#[test]
fn an_invalid_utf8_line_yields_its_error_record_and_the_rest_is_priced() {
    let mut input = b"{\"id\":\"A\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n".to_vec();
    input.extend_from_slice(b"{\"id\":\"B\",\"tier\":\"g\xffld\",\"line_items\":[]}\n");
    input.extend_from_slice(b"{\"id\":\"C\",\"line_items\":[{\"price\":\"2\",\"quantity\":1}]}\n");
    ledgerly()
        .args(["invoice", "--input", "-", "--input-format", "jsonl"])
        .write_stdin(input)
        .assert()
        .code(65)
        .stdout(lines(&[
            r#"{"id":"A","subtotal":"1.00","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.08","late_fee":"0.00","total":"1.08"}"#,
            r#"{"line":2,"id":"B","error":"line is not valid UTF-8 (invalid byte at offset 19)"}"#,
            r#"{"id":"C","subtotal":"2.00","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.16","late_fee":"0.00","total":"2.16"}"#,
        ]));
}

#[test]
fn a_mixed_csv_batch_groups_rows_and_names_the_row_at_fault() {
    run(&["invoice", "--input", &fixture("mixed.csv"), "--format", "jsonl"])
        .code(65)
        .stderr("warning: unknown tier \"platinum\" applies no discount\n")
        .stdout(lines(&[
            r#"{"id":"INV-1","subtotal":"150.00","tier_discount":"-22.50","loyalty_discount":"-2.55","tax":"10.00","late_fee":"6.74","total":"141.69"}"#,
            r#"{"id":"INV-2","subtotal":"10.00","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.80","late_fee":"0.00","total":"10.80"}"#,
            r#"{"line":6,"id":"INV-3","error":"tier \"gold\" disagrees with \"silver\" on line 5, the first row of invoice \"INV-3\""}"#,
            r#"{"id":"INV-4","subtotal":"0.30","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.02","late_fee":"0.00","total":"0.32"}"#,
            r#"{"line":8,"id":"INV-5","error":"price -1 is negative"}"#,
            r#"{"line":10,"id":"INV-6","error":"loyalty_member \"yes\" is not true or false"}"#,
        ]));
}

#[test]
fn csv_output_has_a_header_and_one_row_per_invoice() {
    run(&["invoice", "--input", &fixture("mixed.csv"), "--format", "csv"])
        .code(65)
        .stdout(
            "line,id,subtotal,tier_discount,loyalty_discount,tax,late_fee,total,error\n\
             2,INV-1,150.00,-22.50,-2.55,10.00,6.74,141.69,\n\
             4,INV-2,10.00,0.00,0.00,0.80,0.00,10.80,\n\
             6,INV-3,,,,,,,\"tier \"\"gold\"\" disagrees with \"\"silver\"\" on line 5, the first row of invoice \"\"INV-3\"\"\"\n\
             7,INV-4,0.30,0.00,0.00,0.02,0.00,0.32,\n\
             8,INV-5,,,,,,,price -1 is negative\n\
             10,INV-6,,,,,,,\"loyalty_member \"\"yes\"\" is not true or false\"\n",
        );
}

#[test]
fn json_lines_can_be_priced_into_csv() {
    run(&[
        "invoice",
        "--input",
        &fixture("good.jsonl"),
        "--format",
        "csv",
    ])
    .success()
    .stdout(
        "line,id,subtotal,tier_discount,loyalty_discount,tax,late_fee,total,error\n\
             1,INV-1,150.00,-22.50,-2.55,10.00,6.74,141.69,\n\
             2,INV-2,99.95,-9.99,0.00,7.19,0.00,97.15,\n\
             3,,0.01,0.00,0.00,0.00,0.00,0.01,\n",
    );
}

#[test]
fn a_valid_csv_batch_exits_0() {
    run(&[
        "invoice",
        "--input",
        &fixture("good.csv"),
        "--format",
        "csv",
    ])
    .success()
    .stderr("")
    .stdout(
        "line,id,subtotal,tier_discount,loyalty_discount,tax,late_fee,total,error\n\
             2,INV-1,150.00,-22.50,-2.55,10.00,6.74,141.69,\n\
             4,INV-2,99.95,-9.99,0.00,7.19,0.00,97.15,\n",
    );
}

#[test]
fn a_csv_file_with_the_wrong_header_exits_65() {
    ledgerly()
        .args(["invoice", "--input", "-", "--input-format", "csv"])
        .write_stdin("id,price\nA,1\n")
        .assert()
        .code(65)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: CSV header must be exactly \"invoice_id,tier,loyalty_member,days_overdue,price,quantity\"",
        ));
}

#[test]
fn batch_text_output_keeps_the_aligned_layout() {
    let stdout = stdout_of(ledgerly().args([
        "invoice",
        "--input",
        &fixture("mixed.jsonl"),
        "--format",
        "text",
    ]));
    insta::assert_snapshot!("mixed_batch_text", stdout);
}

#[test]
fn a_batch_cannot_print_as_one_json_object() {
    refused(
        &[
            "invoice",
            "--input",
            &fixture("good.jsonl"),
            "--format",
            "json",
        ],
        2,
        "use --format jsonl, csv or text",
    );
}

#[test]
fn an_unknown_extension_without_input_format_is_a_usage_error() {
    refused(
        &["invoice", "--input", "invoices.json"],
        2,
        "cannot tell the format of invoices.json: name it .jsonl, .ndjson or .csv, or pass --input-format jsonl|csv",
    );
}

#[test]
fn a_missing_input_file_exits_66_naming_the_path() {
    run(&["invoice", "--input", "no/such/invoices.jsonl"])
        .code(66)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: cannot read no/such/invoices.jsonl: ",
        ));
}

#[test]
fn an_unreadable_input_exits_66() {
    // A directory opens on Linux but cannot be read as a file.
    let dir = std::env::temp_dir().join(format!("ledgerly-cli-test-{}.jsonl", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let assert = run(&["invoice", "--input", &dir.display().to_string()]);
    std::fs::remove_dir(&dir).unwrap();
    assert
        .code(66)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "error: cannot read {}: ",
            dir.display()
        )));
}

#[test]
fn failed_output_exits_74() {
    assert_output_error(&WORKED_EXAMPLE);
    assert_output_error(&["invoice", "--input", &fixture("good.jsonl")]);
}

#[test]
fn a_closed_pipe_ends_the_batch_quietly() {
    let mut child = StdCommand::new(cargo_bin!("ledgerly"))
        .args(["invoice", "--input", "-", "--input-format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Far more output than a pipe buffers, so ledgerly must write after the
    // reader has gone.
    let feeder = thread::spawn(move || {
        let line = b"{\"id\":\"INV-1\",\"line_items\":[{\"price\":\"40.00\",\"quantity\":3}]}\n";
        for _ in 0..200_000 {
            if stdin.write_all(line).is_err() {
                break;
            }
        }
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader of stdout is dropped here, like `| head -1`.
    assert!(first.starts_with("{\"id\":\"INV-1\","), "{first}");
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, "");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn unknown_tiers_are_warned_about_once_each_across_a_long_batch() {
    let mut input = String::new();
    for i in 0..90_000 {
        let tier = ["platinum", "gold", "Gold"][i % 3];
        writeln!(
            input,
            "{{\"tier\":\"{tier}\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}"
        )
        .unwrap();
    }
    let output = ledgerly()
        .args(["invoice", "--input", "-", "--input-format", "jsonl"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "warning: unknown tier \"platinum\" applies no discount\n\
         warning: unknown tier \"Gold\" applies no discount\n"
    );
    let records = String::from_utf8(output.stdout).unwrap();
    assert_eq!(records.lines().count(), 90_000);
    // Input order is kept across chunks and workers: gold is every third.
    for (i, record) in records.lines().enumerate() {
        let discounted = record.contains("\"tier_discount\":\"-0.15\"");
        assert_eq!(discounted, i % 3 == 1, "record {i}: {record}");
    }
}

#[test]
fn an_empty_or_closed_input_succeeds_but_says_no_invoice_was_read() {
    for (input_format, format) in [("jsonl", "jsonl"), ("csv", "csv"), ("jsonl", "text")] {
        for stdin in ["", "\n\n"] {
            ledgerly()
                .args([
                    "--quiet",
                    "invoice",
                    "--input",
                    "-",
                    "--input-format",
                    input_format,
                ])
                .args(["--format", format])
                .write_stdin(stdin)
                .assert()
                .success()
                .stderr("warning: no invoice was read from stdin\n");
        }
    }
    // stdin closed outright (`<&-`): the runtime gives it /dev/null.
    let output = bash_output(r#""$0" invoice --input - --input-format jsonl <&-"#);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "warning: no invoice was read from stdin\n"
    );
}
