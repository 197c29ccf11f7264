//! Input and output under hostile use, one test per class of defect: every
//! spelling of a number gets its exact value's verdict, only objects are
//! invoices, one rule per field in both formats, physical line numbers,
//! output failures reported, whole records on a signal, live streaming,
//! bounded warnings, no money moved on a typo, no spoofed text.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use predicates::prelude::*;

use crate::util::{
    bash_output, invoice_stdin, ledgerly, lines, on_ledger, run, scratch, stdout_of,
};

/// Prices JSON Lines given on stdin and returns (stdout, stderr, code).
fn price_jsonl(input: &str, format: &str) -> (String, String, Option<i32>) {
    let output = ledgerly()
        .args(invoice_stdin("jsonl", format))
        .write_stdin(input)
        .output()
        .unwrap();
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        output.status.code(),
    )
}

/// Prices the JSON Lines `input` (one invoice a line) and asserts the
/// exit code and the records, one a line.
fn assert_jsonl_prices(input: &[&str], code: i32, records: &[&str]) {
    let (out, _, exit) = price_jsonl(&lines(input), "jsonl");
    assert_eq!(exit, Some(code), "{out}");
    assert_eq!(out, lines(records));
}

fn price_csv(body: &str) -> (String, Option<i32>) {
    let output = ledgerly()
        .args(invoice_stdin("csv", "csv"))
        .write_stdin(format!(
            "invoice_id,tier,loyalty_member,days_overdue,price,quantity\n{body}"
        ))
        .output()
        .unwrap();
    (
        String::from_utf8(output.stdout).unwrap(),
        output.status.code(),
    )
}

#[test]
fn exponent_spellings_are_checked_on_their_exact_value() {
    assert_jsonl_prices(
        &[
            r#"{"id":"A","line_items":[{"price":"0.99999999999999999999999999999999e0","quantity":1}]}"#,
            r#"{"id":"B","line_items":[{"price":"-0.00000000000000000000000000000001e0","quantity":1}]}"#,
            r#"{"id":"C","line_items":[{"price":"1","quantity":2.9999999999999999999999999999999e0}]}"#,
        ],
        65,
        &[
            r#"{"line":1,"id":"A","error":"line item 1: price 0.99999999999999999999999999999999e0 has more than 4 decimal places"}"#,
            r#"{"line":2,"id":"B","error":"line item 1: price -0.00000000000000000000000000000001e0 is negative"}"#,
            r#"{"line":3,"id":"C","error":"line item 1: quantity \"2.9999999999999999999999999999999e0\" is not a whole number from 1 to 1000000"}"#,
        ],
    );
}

#[test]
fn exact_values_with_any_number_of_trailing_zeros_are_accepted_or_refused_for_what_they_are() {
    assert_jsonl_prices(
        &[
            r#"{"id":"A","line_items":[{"price":"1.00000000000000000000000000000","quantity":1}]}"#,
            r#"{"id":"B","line_items":[{"price":"1000000000.00000000000000000001","quantity":1}]}"#,
        ],
        65,
        &[
            r#"{"id":"A","subtotal":"1.00","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.08","late_fee":"0.00","total":"1.08"}"#,
            r#"{"line":2,"id":"B","error":"line item 1: price 1000000000.00000000000000000001 is above the maximum of 1000000000"}"#,
        ],
    );
}

#[test]
fn arrays_are_not_invoices_or_line_items_and_no_internal_name_is_shown() {
    assert_jsonl_prices(
        &[
            r#"["INV-A","gold",true,45,[["40.00",3],[15,2]]]"#,
            r#"{"id":"B","line_items":[["40.00",3]]}"#,
        ],
        65,
        &[
            r#"{"line":1,"id":null,"error":"invalid invoice JSON: invalid type: sequence, expected an invoice object at column 0"}"#,
            r#"{"line":2,"id":"B","error":"invalid invoice JSON: invalid type: sequence, expected a line item object at column 24"}"#,
        ],
    );
    on_ledger(&scratch(), &["charge", "--input", "-"])
        .write_stdin("[\"INV-A\",\"cus\",\"tok_success\",null,\"gold\",true,45,[[\"40.00\",3]]]\n")
        .assert()
        .code(65)
        .stdout(predicate::str::contains("expected an invoice object"));
}

#[test]
fn null_means_absent_and_whole_numbers_are_whole_in_any_spelling() {
    let (out, _, code) = price_jsonl(
        r#"{"id":"A","tier":null,"loyalty_member":null,"days_overdue":45.0,"line_items":[{"price":"10","quantity":3.0}]}"#,
        "jsonl",
    );
    assert_eq!(code, Some(0));
    assert!(
        out.contains(r#""late_fee":"1.62","total":"34.02""#),
        "{out}"
    );
}

#[test]
fn text_fields_follow_one_rule_in_both_formats() {
    assert_jsonl_prices(
        &[
            r#"{"id":"A","tier":" gold","line_items":[{"price":"10","quantity":1}]}"#,
            r#"{"id":"B\u001b[2J","line_items":[{"price":"10","quantity":1}]}"#,
        ],
        65,
        &[
            r#"{"line":1,"id":"A","error":"tier \" gold\" has leading or trailing whitespace"}"#,
            r#"{"line":2,"id":"B\u001b[2J","error":"id \"B\\u{1b}[2J\" contains a control character"}"#,
        ],
    );
    let (out, code) = price_csv("A, gold,,,10,1\nB,,,,+5,1\nC,,,,5,+1\n");
    assert_eq!(code, Some(65));
    assert_eq!(
        out,
        lines(&[
            "line,id,subtotal,tier_discount,loyalty_discount,tax,late_fee,total,error",
            r#"2,A,,,,,,,"tier "" gold"" has leading or trailing whitespace""#,
            r#"3,B,,,,,,,"price ""+5"" is not a decimal number""#,
            r#"4,C,,,,,,,"quantity ""+1"" is not a whole number from 1 to 1000000""#,
        ])
    );
}

#[test]
fn a_byte_order_mark_starts_json_lines_as_it_starts_csv() {
    let (out, _, code) = price_jsonl(
        "\u{feff}{\"id\":\"A\",\"line_items\":[{\"price\":\"10\",\"quantity\":1}]}\n",
        "jsonl",
    );
    assert_eq!(code, Some(0));
    assert!(out.starts_with(r#"{"id":"A","subtotal":"10.00""#), "{out}");
}

#[test]
fn csv_records_name_their_physical_line_with_crlf_and_blank_lines() {
    let input = "invoice_id,tier,loyalty_member,days_overdue,price,quantity\r\nA,,,,x,1\r\n\r\n\r\nB,,,,1,0\r\nC,,,,1,1\r\n";
    let output = ledgerly()
        .args(invoice_stdin("csv", "csv"))
        .write_stdin(input)
        .output()
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    let records: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(records, ["2", "5", "6"], "{out}");
}

#[test]
fn a_stray_quote_costs_its_own_row_and_nothing_after_it() {
    let mut body = String::from("A,,,,\"10,1\n");
    for n in 0..1000 {
        let _ = writeln!(body, "I{n},,,,1,1");
    }
    let (out, code) = price_csv(&body);
    assert_eq!(code, Some(65));
    assert_eq!(out.lines().count(), 1 + 1 + 1000);
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("2,A,,,,,,,a quoted field is not closed on its line")
    );
}

/// A stdout on `/dev/null` opened read-write (Python's
/// `subprocess.DEVNULL`, `daemon(3)`, supervisors) and a closed stdout
/// (`>&-`, where the Rust runtime puts a read-write `/dev/null` before
/// `main`) cannot be told apart: both are a normal run, since refusing the
/// first would stop a billing cron job run that way from ever running.
#[test]
fn stdout_on_a_read_write_dev_null_or_closed_is_a_normal_run_for_every_command() {
    let dir = scratch();
    let input = dir.path().join("one.jsonl");
    std::fs::write(
        &input,
        "{\"id\":\"A\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
    )
    .unwrap();
    let db = dir.path().join("ledgerly.db");
    for redirect in ["1<>/dev/null", ">&-"] {
        for args in [
            "invoice --item 40x3".to_owned(),
            format!(
                "--quiet charge --input {} --db {}",
                input.display(),
                db.display()
            ),
        ] {
            let output = bash_output(&format!(r#""$0" {args} {redirect}"#));
            assert_eq!(
                output.status.code(),
                Some(0),
                "{args} {redirect}: {output:?}"
            );
            assert_eq!(output.stderr, b"", "{args} {redirect}");
        }
    }
}

#[test]
fn an_unreadable_input_prints_no_csv_header() {
    let dir = std::env::temp_dir();
    run(&[
        "invoice",
        "--input",
        dir.to_str().unwrap(),
        "--input-format",
        "csv",
        "--format",
        "csv",
    ])
    .code(66)
    .stdout("");
}

#[test]
fn head_of_a_batch_whose_first_record_is_an_error_exits_65() {
    let mut input = String::from("{\"id\":\"BAD\",\"line_items\":[]}\n");
    for _ in 0..200_000 {
        input.push_str("{\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n");
    }
    let output = StdCommand::new("bash")
        .args([
            "-c",
            r#""$0" invoice --input - --input-format jsonl | head -1; exit "${PIPESTATUS[0]}""#,
            cargo_bin!("ledgerly").to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || {
                let _ = stdin.write_all(input.as_bytes());
            });
            let output = child.wait_with_output();
            let _ = writer.join();
            output
        })
        .unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "{\"line\":1,\"id\":\"BAD\",\"error\":\"an invoice needs at least one line item\"}\n"
    );
    assert_eq!(output.status.code(), Some(65));
}

/// Starts `ledgerly invoice` reading JSON Lines from a pipe we write.
fn live_invoice() -> std::process::Child {
    StdCommand::new(cargo_bin!("ledgerly"))
        .args(["invoice", "--input", "-", "--input-format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

const ONE: &str = "{\"id\":\"L\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n";

#[test]
fn a_record_comes_out_while_the_input_is_still_open() {
    let mut child = live_invoice();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(ONE.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sent, got) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sent.send(line);
    });
    // The input is still open: the record must come out before it ends
    // (the wait is only there so a regression fails instead of hanging).
    let line = got
        .recv_timeout(Duration::from_secs(20))
        .expect("no record while the input was open");
    assert!(
        line.starts_with("{\"id\":\"L\",\"subtotal\":\"1.00\""),
        "{line}"
    );
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_terminated_run_ends_on_a_record_boundary_with_exit_143() {
    let mut child = live_invoice();
    let mut stdin = child.stdin.take().unwrap();
    for _ in 0..50 {
        stdin.write_all(ONE.as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0_u8; 1];
    stdout.read_exact(&mut first).unwrap();
    terminate(&child);
    // One more invoice, then the end of the input: a run that stopped at
    // the signal never reads them (the write may find the pipe closed), one
    // that ignored the signal ends with exit 0 instead of waiting forever.
    let _ = stdin.write_all(ONE.as_bytes());
    drop(stdin);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    let out = [&first[..], &rest].concat();
    assert!(out.ends_with(b"}\n"), "{}", String::from_utf8_lossy(&out));
}

/// Sends SIGTERM to `child` (a child not yet waited for, so its id is
/// still its own even once it has exited); says whether `kill` could.
fn send_sigterm(child: &std::process::Child) -> bool {
    StdCommand::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn terminate(child: &std::process::Child) {
    assert!(send_sigterm(child), "kill -TERM {} failed", child.id());
}

/// Starts `ledgerly --quiet charge` on the scratch ledger in `dir` over
/// `count` invoices paid with `tok_success` (INV-1, INV-2, …), each request
/// to the sandbox taking `latency`, so a batch holds one invoice; its
/// records come through a pipe.
fn slow_charge(dir: &tempfile::TempDir, count: usize, latency: &str) -> std::process::Child {
    let mut input = String::new();
    for n in 1..=count {
        let _ = writeln!(
            input,
            r#"{{"id":"INV-{n}","customer":"c","payment_method":"tok_success","line_items":[{{"price":"1","quantity":1}}]}}"#
        );
    }
    let path = dir.path().join("invoices.jsonl");
    std::fs::write(&path, input).unwrap();
    StdCommand::new(cargo_bin!("ledgerly"))
        .env_remove("LEDGERLY_DB")
        // One request at a time: these tests follow one invoice in flight.
        .args([
            "--quiet",
            "charge",
            "--concurrency",
            "1",
            "--sandbox-latency",
            latency,
        ])
        .arg("--input")
        .arg(&path)
        .arg("--db")
        .arg(dir.path().join("ledgerly.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Each invoice in the ledger with its status, in id order (none while
/// the ledger is still being created).
fn statuses(dir: &tempfile::TempDir) -> Vec<(String, String)> {
    stdout_of(&mut on_ledger(dir, &["invoices"]))
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                record["id"].as_str().unwrap().to_owned(),
                record["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status(id: &str, status: &str) -> (String, String) {
    (id.to_owned(), status.to_owned())
}

/// Waits, without a clock, until `child`'s request for INV-1 is under way:
/// its attempt is written down (pending, so the invoice shows as unknown)
/// before the request is sent. Returns early if `child` exits.
fn wait_for_the_first_request(child: &mut std::process::Child, dir: &tempfile::TempDir) {
    while child.try_wait().unwrap().is_none() && statuses(dir) != [status("INV-1", "unknown")] {}
}

#[test]
fn a_terminated_charge_finishes_the_invoice_in_flight_writes_its_record_and_exits_143() {
    let dir = scratch();
    let mut child = slow_charge(&dir, 3, "500ms");
    wait_for_the_first_request(&mut child, &dir);
    terminate(&child);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143), "{out}");
    // The request in flight was answered and its record written whole;
    // the next invoice was never issued.
    assert_eq!(
        out,
        lines(&[
            r#"{"line":1,"id":"INV-1","outcome":"paid","total":"1.08","currency":"USD","requests":1,"charge_id":"ch_fake_000001"}"#
        ])
    );
    assert_eq!(statuses(&dir), [status("INV-1", "paid")]);
}

#[test]
fn a_second_sigterm_stops_a_charge_at_once_with_the_request_in_flight_left_unknown() {
    let dir = scratch();
    let mut child = slow_charge(&dir, 3, "500ms");
    wait_for_the_first_request(&mut child, &dir);
    // Signals until the run ends: the first asks it to stop after INV-1,
    // a later one stops it there and then (two sent at once can arrive as
    // one, hence as many as it takes).
    while child.try_wait().unwrap().is_none() {
        send_sigterm(&child);
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert_eq!(out, "");
    // The attempt stays pending, for a rerun or `ledgerly reconcile`.
    assert_eq!(statuses(&dir), [status("INV-1", "unknown")]);
}

#[test]
fn unknown_tier_warnings_are_capped_with_a_count_of_the_rest() {
    let mut input = String::new();
    for n in 0..30 {
        let _ = writeln!(
            input,
            r#"{{"tier":"t{n}","line_items":[{{"price":"1","quantity":1}}]}}"#
        );
    }
    let (_, stderr, code) = price_jsonl(&input, "jsonl");
    assert_eq!(code, Some(0));
    assert_eq!(stderr.lines().count(), 21, "{stderr}");
    assert!(stderr.ends_with("warning: 10 more invoice(s) had unknown tier names beyond the first 20 shown; each applied no discount\n"));
}

#[test]
fn charge_refuses_an_unknown_tier_unless_told_to_charge_it_without_discount() {
    let input = "{\"id\":\"A\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"tier\":\"glod\",\"line_items\":[{\"price\":\"10\",\"quantity\":1}]}\n";
    let dir = scratch();
    on_ledger(&dir, &["--quiet", "charge", "--input", "-"])
        .write_stdin(input)
        .assert()
        .code(65)
        .stderr("")
        .stdout(lines(&[r#"{"line":1,"id":"A","error":"unknown tier \"glod\": charge refuses a tier pricing does not know (pass --allow-unknown-tiers to charge it without a tier discount)"}"#]));
    on_ledger(
        &dir,
        &["--quiet", "charge", "--input", "-", "--allow-unknown-tiers"],
    )
    .write_stdin(input)
    .assert()
    .success()
    .stderr("warning: unknown tier \"glod\" applies no discount\n")
    .stdout(predicate::str::contains(
        r#""outcome":"paid","total":"10.80""#,
    ));
}

#[test]
fn text_output_cannot_be_spoofed_by_an_id() {
    let (out, _, code) = price_jsonl(
        "{\"id\":\"X\\ntotal 0.00\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n",
        "text",
    );
    assert_eq!(code, Some(65));
    assert!(
        out.starts_with("invoice X\\ntotal 0.00 (line 1)\n"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|line| line.starts_with("total")).count(),
        0
    );
}

#[test]
fn a_whitespace_line_longer_than_the_limit_is_blank() {
    let mut input = " ".repeat(9 << 20);
    input.push('\n');
    input.push_str(ONE);
    let (out, _, code) = price_jsonl(&input, "jsonl");
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 1);
}

#[test]
fn help_reaches_the_new_flag() {
    let help = stdout_of(ledgerly().args(["charge", "--help"]));
    assert!(help.contains("--allow-unknown-tiers"));
}

#[test]
fn stdout_sent_to_dev_null_by_a_shell_is_not_a_closed_stdout() {
    let output = bash_output(r#""$0" invoice --item 40x3 > /dev/null"#);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stderr, b"");
}

/// The environment of a running `ledgerly`, started by bash with `setup`
/// before it (`exec`, so the process is the one bash started).
fn environment_under(setup: &str) -> String {
    let mut child = StdCommand::new("bash")
        .args([
            "-c",
            &format!(r#"{setup}; exec "$0" invoice --input - --input-format jsonl"#),
            cargo_bin!("ledgerly").to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(ONE.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Once a record is out, the process runs ledgerly's own code.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    drop(stdin);
    child.wait().unwrap();
    String::from_utf8_lossy(&environ).into_owned()
}

#[test]
fn under_an_address_space_limit_malloc_keeps_one_arena() {
    assert!(
        environment_under("ulimit -v 4000000")
            .split('\0')
            .any(|var| var == "MALLOC_ARENA_MAX=1")
    );
    assert!(!environment_under("true").contains("MALLOC_ARENA_MAX"));
}

#[test]
fn no_password_reaches_any_output_whatever_the_urls_shape() {
    // Nothing listens on port 1: every command fails to connect and says
    // so, naming the database without its secret.
    let secret = "s3cr/et?x";
    let shapes = [
        format!("postgres://billing:{secret}@127.0.0.1:1/ledgerly"),
        format!("POSTGRES://billing:{secret}@127.0.0.1:1/ledgerly"),
        format!("postgres://billing@127.0.0.1:1/ledgerly?password={secret}"),
        "postgresql://billing:s3cr%2Fet%3Fx@127.0.0.1:1/ledgerly".to_owned(),
        format!("host=127.0.0.1 port=1 user=billing password={secret} dbname=ledgerly"),
    ];
    let dir = scratch();
    for url in &shapes {
        for command in [
            &["charge", "--input", "-"][..],
            &["invoices"][..],
            &["reconcile"][..],
            &["sandbox", "captures"][..],
        ] {
            let output = ledgerly()
                .current_dir(dir.path())
                .args(command)
                .arg("--db")
                .arg(url)
                .write_stdin("")
                .output()
                .unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(output.status.code(), Some(74), "{command:?} {url}: {said}");
            assert!(!said.contains("s3cr"), "{command:?} {url}: {said}");
        }
    }
    // No file was created under a connection string's name.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
