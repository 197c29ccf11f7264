//! Helpers every test module shares.

use std::path::PathBuf;

use std::process::Output;

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};

/// The worked example's flags: 40 × 3 and 15 × 2, gold, loyalty member,
/// 45 days overdue (total 141.69).
pub(crate) const WORKED_EXAMPLE: [&str; 10] = [
    "invoice",
    "--item",
    "40x3",
    "--item",
    "15x2",
    "--tier",
    "gold",
    "--loyalty-member",
    "--days-overdue",
    "45",
];

/// What `ledgerly charge` says on stderr before its records.
pub(crate) const SANDBOX_NOTICE: &str =
    "sandbox: charging through the fake test-mode gateway; no money moves\n";

/// What `charge` warns at its end when the ledger still holds a pending or
/// unknown attempt (the fixture's INV-8 runs out of retries).
pub(crate) const UNSETTLED_WARNING: &str = "warning: some payment attempts in the ledger stay \
    pending or unknown: `ledgerly invoices --status unknown` lists them; charge again, or reconcile\n";

/// A check of a charge run's stderr: `expected`, then its summary line
/// (`charge: N invoices in …`), which says how long the run took and so
/// differs from run to run.
pub(crate) fn then_summary(expected: impl Into<String>) -> impl predicates::Predicate<str> {
    let expected = expected.into();
    predicates::function::function(move |stderr: &str| {
        stderr.strip_prefix(expected.as_str()).is_some_and(|rest| {
            rest.starts_with("charge: ") && rest.ends_with('\n') && rest.lines().count() == 1
        })
    })
}

/// The `ledgerly` binary of this build, as a command to run, with no
/// `LEDGERLY_DB` from the environment.
pub(crate) fn ledgerly() -> Command {
    let mut command = cargo_bin_cmd!("ledgerly");
    command.env_remove("LEDGERLY_DB");
    // Every run in these tests ends in seconds: one still going after a
    // minute is killed and fails its test, so no bug can hang the suite.
    command.timeout(std::time::Duration::from_secs(60));
    command
}

/// Runs `ledgerly` with `args` and no input: the outcome, to assert on.
pub(crate) fn run(args: &[&str]) -> Assert {
    ledgerly().args(args).assert()
}

/// `ledgerly invoice` reading `input_format` on stdin and writing `format`.
pub(crate) fn invoice_stdin<'a>(input_format: &'a str, format: &'a str) -> [&'a str; 7] {
    [
        "invoice",
        "--input",
        "-",
        "--input-format",
        input_format,
        "--format",
        format,
    ]
}

/// Runs `script` in bash with `$0` the `ledgerly` binary, for what only a
/// shell sets up (a closed stdin or stdout, a redirect, a pipeline).
pub(crate) fn bash_output(script: &str) -> Output {
    std::process::Command::new("bash")
        .args(["-c", script, cargo_bin!("ledgerly").to_str().unwrap()])
        .output()
        .unwrap()
}

/// Runs `ledgerly` with `args` and its stdout on `/dev/full`, and checks
/// it reports the output error every command gives when stdout cannot be
/// written: exit 74 and `error: cannot write output: …` on stderr.
pub(crate) fn assert_output_error(args: &[&str]) {
    let (code, stderr) = run_unwritable(args, Unwritable::Full, false);
    assert_eq!(code, Some(74), "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("error: cannot write output: "),
        "{args:?}: {stderr}"
    );
}

/// A fresh directory for one test's ledger and sandbox books, under the
/// target directory; removed when dropped.
pub(crate) fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ledger-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// `ledgerly <command> --db <dir>/ledgerly.db`: the command on the
/// scratch ledger in `dir` (the sandbox's books beside it, by default).
pub(crate) fn on_ledger(dir: &tempfile::TempDir, command: &[&str]) -> Command {
    let mut ledgerly = ledgerly();
    ledgerly
        .args(command)
        .arg("--db")
        .arg(dir.path().join("ledgerly.db"));
    ledgerly
}

/// The path of `tests/fixtures/<name>`.
pub(crate) fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    path.display().to_string()
}

/// The workspace's root, where the README and docs/examples live.
pub(crate) fn workspace_root() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), ".."].iter().collect()
}

/// What `command` prints on stdout, whatever its exit code.
pub(crate) fn stdout_of(command: &mut Command) -> String {
    String::from_utf8(command.output().unwrap().stdout).unwrap()
}

/// Runs `ledgerly` with `args` (a `--help`) and checks that it succeeds,
/// each of `wanted` on stdout.
pub(crate) fn help_says(args: &[&str], wanted: &[&str]) {
    let mut help = run(args).success();
    for text in wanted {
        help = help.stdout(predicates::str::contains(*text));
    }
}

/// Runs `ledgerly` with `args` and checks that it refused: exit `code`,
/// nothing on stdout, and `message` on stderr.
pub(crate) fn refused(args: &[&str], code: i32, message: &str) {
    run(args)
        .code(code)
        .stdout("")
        .stderr(predicates::str::contains(message));
}

/// `lines`, each followed by a line break: the text of records as a
/// command writes them.
pub(crate) fn lines(lines: &[&str]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Where a run's stdout goes when it cannot be written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unwritable {
    /// A pipe whose reader is gone before the first write (`| head` done).
    ClosedPipe,
    /// `/dev/full`, where every write fails (a full disk).
    Full,
}

/// Runs `ledgerly` with `args` and no input, its stdout `unwritable`, its
/// stderr on `/dev/full` when `stderr_full` (else captured); its exit code
/// and what stderr got.
pub(crate) fn run_unwritable(
    args: &[&str],
    stdout: Unwritable,
    stderr_full: bool,
) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ledgerly"));
    command.args(args).stdin(std::process::Stdio::null());
    match stdout {
        Unwritable::ClosedPipe => command.stdout(std::process::Stdio::piped()),
        Unwritable::Full => command.stdout(std::fs::File::create("/dev/full").unwrap()),
    };
    if stderr_full {
        command.stderr(std::fs::File::create("/dev/full").unwrap());
    } else {
        command.stderr(std::process::Stdio::piped());
    }
    let mut child = command.spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
