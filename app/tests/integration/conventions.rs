//! The command-line conventions users expect of a tool like ripgrep or
//! cargo: a version that names its commit, completions and a man page from
//! the same definition as `--help`, `--quiet` for cron, `--color` and
//! `NO_COLOR`, help that reaches every subcommand.

use predicates::prelude::*;

use crate::util::{
    SANDBOX_NOTICE, UNSETTLED_WARNING, Unwritable, WORKED_EXAMPLE, assert_output_error, fixture,
    help_says, invoice_stdin, ledgerly, on_ledger, refused, run, run_unwritable, scratch,
    stdout_of,
};

#[test]
fn the_version_names_the_package_version_and_the_commit() {
    let stdout = stdout_of(ledgerly().arg("--version"));
    let version = stdout.trim_end();
    let commit = version
        .strip_prefix(concat!("ledgerly ", env!("CARGO_PKG_VERSION"), " (commit "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected version line {version:?}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "commit {commit:?}"
    );
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_ledgerly()"),
        ("zsh", "#compdef ledgerly"),
        ("fish", "complete -c ledgerly"),
        ("elvish", "edit:completion:arg-completer[ledgerly]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout_of(ledgerly().args(["completions", shell]));
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        // The subcommands and their flags are in the script.
        assert!(
            script.contains("invoice") && script.contains("input"),
            "{shell}"
        );
    }
    refused(&["completions", "tcsh"], 2, "invalid value 'tcsh'");
}

#[test]
fn the_man_page_is_roff_naming_every_subcommand() {
    let page = stdout_of(ledgerly().arg("man"));
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq \\(aq"),
        "{}",
        &page[..80.min(page.len())]
    );
    assert!(page.contains(".TH ledgerly 1"));
    for subcommand in ["invoice", "charge", "completions"] {
        assert!(
            page.contains(&format!("ledgerly\\-{subcommand}")),
            "{subcommand}"
        );
    }
}

#[test]
fn quiet_leaves_out_the_sandbox_notice_but_not_the_records() {
    // Each run on a ledger of its own, so both charge afresh.
    let loud = on_ledger(&scratch(), &["charge", "--input", &fixture("charge.jsonl")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(loud.stderr)
            .unwrap()
            .starts_with(SANDBOX_NOTICE)
    );
    let quiet = on_ledger(
        &scratch(),
        &["--quiet", "charge", "--input", &fixture("charge.jsonl")],
    )
    .output()
    .unwrap();
    // Warnings are not notices: the fixture's INV-8 stays unknown.
    assert_eq!(String::from_utf8(quiet.stderr).unwrap(), UNSETTLED_WARNING);
    assert_eq!(quiet.stdout, loud.stdout);
    assert_eq!(quiet.status.code(), loud.status.code());
}

#[test]
fn quiet_keeps_warnings_and_errors() {
    run(&["invoice", "-q", "--input", &fixture("mixed.jsonl")])
        .code(65)
        .stderr(predicate::str::contains(
            "warning: unknown tier \"platinum\" applies no discount",
        ));
    run(&["invoice", "--quiet", "--input", "no/such/file.jsonl"])
        .code(66)
        .stderr(predicate::str::starts_with(
            "error: cannot read no/such/file.jsonl: ",
        ));
}

#[test]
fn color_always_colors_the_error_prefix_and_never_or_no_color_do_not() {
    // Not a terminal, and NO_COLOR set: auto means no color either way.
    for (color, no_color, prefix) in [
        ("always", "", "\u{1b}[1;31merror:\u{1b}[0m cannot read"),
        ("never", "", "error: cannot read"),
        ("auto", "1", "error: cannot read"),
    ] {
        ledgerly()
            .args(["invoice", "--input", "no/such/file.jsonl", "--color", color])
            .env("NO_COLOR", no_color)
            .assert()
            .code(66)
            .stderr(predicate::str::starts_with(prefix));
    }
}

#[test]
fn every_subcommand_has_help_with_a_usage_line() {
    for subcommand in ["invoice", "charge", "completions", "man"] {
        help_says(&[subcommand, "--help"], &["Usage: ledgerly"]);
    }
    help_says(
        &["--help"],
        &["Exit codes", "  1   charge: every invoice was read"],
    );
}

#[test]
fn help_that_cannot_be_written_is_an_output_error() {
    assert_output_error(&["--help"]);
}

#[test]
fn help_into_a_closed_pipe_ends_quietly_with_status_0() {
    assert_eq!(
        run_unwritable(&["--help"], Unwritable::ClosedPipe, false),
        (Some(0), String::new())
    );
}

#[test]
fn a_usage_error_exits_2_even_when_stderr_cannot_be_written() {
    assert_eq!(
        run_unwritable(&["--no-such-flag"], Unwritable::ClosedPipe, true),
        (Some(2), String::new())
    );
}

#[test]
fn the_csv_header_of_an_empty_batch_that_cannot_be_written_is_an_output_error() {
    assert_output_error(&invoice_stdin("jsonl", "csv"));
}

#[test]
fn the_csv_header_of_an_empty_batch_into_a_closed_pipe_ends_quietly() {
    assert_eq!(
        run_unwritable(
            &invoice_stdin("jsonl", "csv"),
            Unwritable::ClosedPipe,
            false
        ),
        (Some(0), String::new())
    );
}

#[test]
fn color_always_styles_help_and_never_leaves_it_plain() {
    let help = |color: &str| stdout_of(ledgerly().args(["--color", color, "invoice", "--help"]));
    assert!(help("always").contains("\u{1b}["), "{}", help("always"));
    assert!(!help("never").contains('\u{1b}'));
    assert!(!help("auto").contains('\u{1b}'), "not a terminal");
}

#[test]
fn flags_and_global_flags_mix_in_any_order() {
    ledgerly()
        .arg("--color=never")
        .args(WORKED_EXAMPLE)
        .arg("-q")
        .args(["--format", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"total\":\"141.69\""));
}
