//! How a run ends: its status on success, its errors, and their exit codes.

use std::fmt::{Display, Write as _};
use std::io;
use std::path::{Path, PathBuf};

use pricing::PricingError;

use crate::batch::read::csv::CsvInputError;

/// Exit code: every invoice was priced.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: every invoice was read, but not every one was paid.
pub(crate) const EXIT_UNPAID: u8 = 1;
/// Exit code: the command line was wrong (clap's own code for usage errors).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: at least one invoice was invalid (`EX_DATAERR`).
pub(crate) const EXIT_INVALID: u8 = 65;
/// Exit code: the input is missing or unreadable (`EX_NOINPUT`).
pub(crate) const EXIT_NO_INPUT: u8 = 66;
/// Exit code: the output could not be written, or the ledger or the
/// sandbox's books could not be read or written (`EX_IOERR`).
pub(crate) const EXIT_OUTPUT: u8 = 74;
/// Exit code: the ledger or the sandbox's books were written by a newer
/// ledgerly (`EX_CONFIG`); the file or database is left untouched.
pub(crate) const EXIT_NEWER_SCHEMA: u8 = 78;

/// The commands whose exit codes the table below documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmd {
    /// `ledgerly invoice`.
    Invoice,
    /// `ledgerly charge`.
    Charge,
    /// `ledgerly rates`.
    Rates,
    /// `ledgerly sample`.
    Sample,
    /// `ledgerly diff`.
    Diff,
    /// `ledgerly reprice`.
    Reprice,
    /// `ledgerly invoices`.
    Invoices,
    /// `ledgerly reconcile`.
    Reconcile,
    /// `ledgerly sandbox captures`.
    SandboxCaptures,
    /// `ledgerly sandbox refunds`.
    SandboxRefunds,
    /// `ledgerly correct plan`.
    CorrectPlan,
    /// `ledgerly correct apply`.
    CorrectApply,
    /// `ledgerly correct verify`.
    CorrectVerify,
    /// `ledgerly credit-notes`.
    CreditNotes,
}

impl Cmd {
    /// The subcommand's name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cmd::Invoice => "invoice",
            Cmd::Charge => "charge",
            Cmd::Rates => "rates",
            Cmd::Sample => "sample",
            Cmd::Diff => "diff",
            Cmd::Reprice => "reprice",
            Cmd::Invoices => "invoices",
            Cmd::Reconcile => "reconcile",
            Cmd::SandboxCaptures => "sandbox captures",
            Cmd::SandboxRefunds => "sandbox refunds",
            Cmd::CorrectPlan => "correct plan",
            Cmd::CorrectApply => "correct apply",
            Cmd::CorrectVerify => "correct verify",
            Cmd::CreditNotes => "credit-notes",
        }
    }
}

/// One meaning of an exit code, for the commands that give it that meaning.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExitCodeDoc {
    /// The exit code.
    pub(crate) code: u8,
    /// The commands it has this meaning for.
    pub(crate) commands: &'static [Cmd],
    /// What it means, as help and the README say it.
    pub(crate) meaning: &'static str,
}

const ALL: &[Cmd] = &[
    Cmd::Invoice,
    Cmd::Charge,
    Cmd::Rates,
    Cmd::Sample,
    Cmd::Diff,
    Cmd::Reprice,
    Cmd::Invoices,
    Cmd::Reconcile,
    Cmd::SandboxCaptures,
    Cmd::SandboxRefunds,
    Cmd::CorrectPlan,
    Cmd::CorrectApply,
    Cmd::CorrectVerify,
    Cmd::CreditNotes,
];
/// The commands that read an input file.
const READERS: &[Cmd] = &[Cmd::Invoice, Cmd::Charge, Cmd::Diff, Cmd::CorrectApply];
/// The commands that open the ledger or the sandbox's books.
const LEDGER_USERS: &[Cmd] = &[
    Cmd::Charge,
    Cmd::Reprice,
    Cmd::Invoices,
    Cmd::Reconcile,
    Cmd::SandboxCaptures,
    Cmd::SandboxRefunds,
    Cmd::CorrectPlan,
    Cmd::CorrectApply,
    Cmd::CorrectVerify,
    Cmd::CreditNotes,
];
/// The commands that read the ledger or the books without creating them.
const LEDGER_READERS: &[Cmd] = &[
    Cmd::Reprice,
    Cmd::Invoices,
    Cmd::Reconcile,
    Cmd::SandboxCaptures,
    Cmd::SandboxRefunds,
    Cmd::CorrectPlan,
    Cmd::CorrectApply,
    Cmd::CorrectVerify,
    Cmd::CreditNotes,
];

/// One row of [`EXIT_CODES`], so the table reads one line per meaning.
const fn doc(code: u8, commands: &'static [Cmd], meaning: &'static str) -> ExitCodeDoc {
    ExitCodeDoc {
        code,
        commands,
        meaning,
    }
}

/// Every exit code and what it means, per command: the one table that
/// renders every help screen's "Exit codes" section, and that a test checks
/// the README's table against. The constants above are the codes the code
/// returns; a test checks each appears here.
pub(crate) const EXIT_CODES: &[ExitCodeDoc] = &[
    doc(EXIT_OK, &[Cmd::Invoice], "every invoice was priced"),
    doc(EXIT_OK, &[Cmd::Charge], "every invoice was paid"),
    doc(
        EXIT_OK,
        &[Cmd::Rates, Cmd::Sample],
        "the output was written",
    ),
    doc(EXIT_OK, &[Cmd::Diff], "no record differs"),
    doc(
        EXIT_OK,
        &[
            Cmd::Invoices,
            Cmd::SandboxCaptures,
            Cmd::SandboxRefunds,
            Cmd::CreditNotes,
        ],
        "the listing was written (it may be empty)",
    ),
    doc(EXIT_OK, &[Cmd::CorrectPlan], "nothing is to be corrected"),
    doc(
        EXIT_OK,
        &[Cmd::Reprice],
        "no invoice of the window prices differently",
    ),
    doc(
        EXIT_OK,
        &[Cmd::CorrectApply],
        "every entry of the plan is settled",
    ),
    doc(
        EXIT_OK,
        &[Cmd::CorrectVerify],
        "everything the correction touched holds",
    ),
    doc(
        EXIT_OK,
        &[Cmd::Reconcile],
        "every pending or unknown attempt is settled",
    ),
    doc(
        EXIT_UNPAID,
        &[Cmd::Charge],
        "every invoice was read, but at least one was not paid (declined, refused, or still open after its retries); payment outcomes are not input errors",
    ),
    doc(
        EXIT_UNPAID,
        &[Cmd::Reconcile],
        "some attempts stay unknown (the lookup failed, the amounts disagree, or the processor has no record of them: the next charge run resends those under their own keys), or some refund attempts do",
    ),
    doc(
        EXIT_UNPAID,
        &[Cmd::Diff],
        "some record differs: an amount, an error, or a record in one file only",
    ),
    doc(
        EXIT_UNPAID,
        &[Cmd::Reprice],
        "some invoice of the window prices differently, or this build refuses to price it",
    ),
    doc(
        EXIT_UNPAID,
        &[Cmd::CorrectPlan],
        "some invoice is to be corrected (the plan lists it)",
    ),
    doc(
        EXIT_UNPAID,
        &[Cmd::CorrectApply],
        "some entry is not settled: drifted, blocked, held by another applier, or its refund unknown (reconcile settles it) or failed",
    ),
    doc(
        EXIT_UNPAID,
        &[Cmd::CorrectVerify],
        "something does not hold (each finding is listed)",
    ),
    doc(
        EXIT_USAGE,
        ALL,
        "usage error (unknown flag, misspelt tier, malformed --item, stdin without --input-format, --format json for a batch, ...)",
    ),
    doc(
        EXIT_INVALID,
        &[Cmd::Invoice],
        "at least one invoice was invalid (the others are still priced and printed), or a CSV header is wrong",
    ),
    doc(
        EXIT_INVALID,
        &[Cmd::Charge],
        "at least one invoice was invalid (the others are still collected)",
    ),
    doc(
        EXIT_INVALID,
        &[Cmd::Diff],
        "a record is not a record of `ledgerly invoice` (the message names the file and line)",
    ),
    doc(
        EXIT_INVALID,
        &[Cmd::CorrectApply],
        "the plan's digest is not --expect-digest, or a line is not a plan's record: nothing of it is applied",
    ),
    doc(
        EXIT_INVALID,
        &[Cmd::CorrectPlan],
        "--right-rates is not the output of `ledgerly rates --format json`",
    ),
    doc(
        EXIT_NO_INPUT,
        READERS,
        "the input file is missing or unreadable (the message names the path)",
    ),
    doc(
        EXIT_NO_INPUT,
        LEDGER_READERS,
        "the ledger or the sandbox's books do not exist (the message names the path)",
    ),
    doc(
        EXIT_OUTPUT,
        ALL,
        "the output could not be written (for example a full disk)",
    ),
    doc(
        EXIT_OUTPUT,
        &[Cmd::Diff],
        "files out of step could not be compared in temporary files (TMPDIR full or unwritable)",
    ),
    doc(
        EXIT_OUTPUT,
        &[Cmd::Reprice],
        "the sums of more than 100 000 customers could not be kept in temporary files (TMPDIR full or unwritable)",
    ),
    doc(
        EXIT_OUTPUT,
        LEDGER_USERS,
        "the ledger or the sandbox's books cannot be opened, read or written (the message names the file)",
    ),
    doc(
        EXIT_NEWER_SCHEMA,
        LEDGER_USERS,
        "the ledger or the sandbox's books were written by a newer ledgerly: refused and left untouched (use that ledgerly, or a backup)",
    ),
];

/// The "Exit codes" section of `command`'s help, from [`EXIT_CODES`].
pub(crate) fn exit_codes_help(command: Cmd) -> String {
    let mut help = String::from("Exit codes:\n");
    for doc in EXIT_CODES
        .iter()
        .filter(|doc| doc.commands.contains(&command))
    {
        let _ = writeln!(help, "  {:<4}{}", doc.code, doc.meaning);
    }
    help.push_str(CLOSED_PIPE);
    help
}

/// The "Exit codes" section of `ledgerly --help`: every code, and which
/// commands give it which meaning.
pub(crate) fn all_exit_codes_help() -> String {
    let mut help = String::from("Exit codes (see each command's --help):\n");
    for doc in EXIT_CODES {
        let names: Vec<&str> = doc.commands.iter().map(|command| command.name()).collect();
        let _ = writeln!(
            help,
            "  {:<4}{}: {}",
            doc.code,
            names.join(", "),
            doc.meaning
        );
    }
    help.push_str(CLOSED_PIPE);
    help
}

/// What every command does when its output's reader goes away.
const CLOSED_PIPE: &str =
    "A closed pipe (for example `| head`) ends quietly, with the status of the records written.";

/// A closed pipe ends quietly with `status`; any other output error fails.
pub(crate) fn closed_pipe_or(error: io::Error, status: Status) -> Result<Status, AppError> {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Ok(status)
    } else {
        Err(AppError::Output(error))
    }
}

/// How messages name the input at `path`: `stdin` for `-`.
pub(crate) fn input_name(path: &Path) -> PathBuf {
    if path.as_os_str() == "-" {
        PathBuf::from("stdin")
    } else {
        path.to_path_buf()
    }
}

/// How a run that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Every invoice was priced (or, for `charge`, paid).
    Success,
    /// At least one invoice was invalid; the others were priced.
    SomeInvalid,
    /// Every invoice was valid, but at least one was not paid.
    SomeUnpaid,
    /// `diff`: the two outputs differ.
    Differences,
}

impl Status {
    /// The status's exit code.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Status::Success => EXIT_OK,
            Status::SomeInvalid => EXIT_INVALID,
            Status::SomeUnpaid | Status::Differences => EXIT_UNPAID,
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// The command line is wrong in a way only the command sees (a value
    /// clap accepted, refused by the command). This layer keeps the data;
    /// `lib.rs`, which owns clap, prints it as clap prints its own usage
    /// errors (`cli::usage_error`).
    #[error("{message}")]
    Usage {
        /// The subcommand whose usage it is.
        command: Cmd,
        /// What is wrong, naming the flag.
        message: String,
    },
    /// The one invoice given by flags is refused by pricing.
    #[error(transparent)]
    Invalid(#[from] PricingError),
    /// A CSV input cannot be read as invoices at all.
    #[error(transparent)]
    InvalidCsv(CsvInputError),
    /// The input is missing or unreadable.
    #[error("cannot read {}: {source}", path.display())]
    Input {
        /// The input's path (`stdin` for `-`).
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The output could not be written.
    #[error("cannot write output: {0}")]
    Output(io::Error),
    /// A temporary file could not be written or read (`diff` of files
    /// that do not line up).
    #[error("cannot use a temporary file (TMPDIR): {0}")]
    Scratch(io::Error),
    /// A record of an input file is not what the command reads (`diff`).
    #[error("{} line {line}: {message}", path.display())]
    BadRecord {
        /// The input's path (`stdin` for `-`).
        path: PathBuf,
        /// The record's line, from 1.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The ledger or the sandbox's books cannot be opened (a newer schema,
    /// a file of another kind, a SQLite failure).
    #[error(transparent)]
    Store(ledger_store::StoreError),
    /// A command that reads the ledger or the books found no file.
    #[error("{kind} {} does not exist", path.display())]
    NoStore {
        /// `ledger` or `sandbox books`.
        kind: &'static str,
        /// The path looked at.
        path: PathBuf,
    },
    /// The ledger failed while it was read or written.
    #[error(transparent)]
    Billing(#[from] billing::BillingError),
    /// The sandbox's books failed while they were read.
    #[error(transparent)]
    Books(#[from] payment_gateway::BooksError),
}

/// A ledger failure is billing's repository failure, exit 74.
impl From<billing::LedgerError> for AppError {
    fn from(error: billing::LedgerError) -> AppError {
        AppError::Billing(billing::BillingError::Repository(error))
    }
}

impl AppError {
    /// A usage error found after clap parsed the command line, printed the
    /// way clap prints its own.
    pub(crate) fn usage(command: Cmd, message: impl Display) -> AppError {
        AppError::Usage {
            command,
            message: message.to_string(),
        }
    }

    /// The input at `path` (`-` for stdin) could not be read.
    pub(crate) fn input(path: &Path, source: io::Error) -> AppError {
        AppError::Input {
            path: input_name(path),
            source,
        }
    }

    /// The error's exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            AppError::Usage { .. } => EXIT_USAGE,
            AppError::Invalid(_) | AppError::InvalidCsv(_) | AppError::BadRecord { .. } => {
                EXIT_INVALID
            }
            AppError::Input { .. } | AppError::NoStore { .. } => EXIT_NO_INPUT,
            AppError::Store(ledger_store::StoreError::NewerSchema { .. }) => EXIT_NEWER_SCHEMA,
            AppError::Output(_)
            | AppError::Scratch(_)
            | AppError::Store(_)
            | AppError::Billing(_)
            | AppError::Books(_) => EXIT_OUTPUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_documented_exit_code() {
        assert_eq!(Status::Success.exit_code(), 0);
        assert_eq!(Status::SomeInvalid.exit_code(), 65);
        assert_eq!(Status::SomeUnpaid.exit_code(), 1);
        assert_eq!(AppError::usage(Cmd::Invoice, "bad").exit_code(), 2);
        assert_eq!(Status::Differences.exit_code(), 1);
        let record = AppError::BadRecord {
            path: PathBuf::from("old.jsonl"),
            line: 3,
            message: "not json".to_owned(),
        };
        assert_eq!(record.exit_code(), 65);
        assert_eq!(record.to_string(), "old.jsonl line 3: not json");
        assert_eq!(AppError::Invalid(PricingError::NoLineItems).exit_code(), 65);
        let header = CsvInputError::Header {
            expected: String::new(),
            found: String::new(),
        };
        assert_eq!(AppError::InvalidCsv(header).exit_code(), 65);
        let input = AppError::Input {
            path: PathBuf::from("a.csv"),
            source: io::ErrorKind::NotFound.into(),
        };
        assert_eq!(input.exit_code(), 66);
        assert_eq!(input.to_string(), "cannot read a.csv: entity not found");
        let stdin = AppError::input(Path::new("-"), io::ErrorKind::InvalidData.into());
        assert_eq!(stdin.to_string(), "cannot read stdin: invalid data");
        assert_eq!(
            AppError::Output(io::ErrorKind::StorageFull.into()).exit_code(),
            74
        );
    }

    /// The README's exit-code table, row by row, as [`EXIT_CODES`] renders it.
    fn readme_rows() -> Vec<String> {
        EXIT_CODES
            .iter()
            .map(|doc| {
                let names: Vec<String> = doc
                    .commands
                    .iter()
                    .map(|c| format!("`{}`", c.name()))
                    .collect();
                format!("| {} | {} | {} |", doc.code, names.join(", "), doc.meaning)
            })
            .collect()
    }

    #[test]
    fn the_readme_exit_code_table_is_the_one_in_the_code() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        let section = readme
            .split("\n## Exit codes\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("the README has an '## Exit codes' section");
        let table: Vec<&str> = section
            .lines()
            .filter(|line| line.starts_with("| ") && !line.starts_with("| code "))
            .collect();
        assert_eq!(
            table,
            readme_rows(),
            "update the README's table from EXIT_CODES (app/src/error.rs)"
        );
    }

    #[test]
    fn every_exit_code_the_code_returns_is_in_the_table() {
        for code in [
            EXIT_OK,
            EXIT_UNPAID,
            EXIT_USAGE,
            EXIT_INVALID,
            EXIT_NO_INPUT,
            EXIT_OUTPUT,
            EXIT_NEWER_SCHEMA,
        ] {
            assert!(
                EXIT_CODES.iter().any(|doc| doc.code == code),
                "exit code {code}"
            );
        }
        let invoice = exit_codes_help(Cmd::Invoice);
        assert!(
            invoice.starts_with("Exit codes:\n  0   every invoice was priced\n  2   usage error")
        );
        assert!(!invoice.contains("not paid"));
        assert!(exit_codes_help(Cmd::Charge).contains("  1   every invoice was read"));
        assert!(
            all_exit_codes_help()
                .contains("  66  invoice, charge, diff, correct apply: the input file is missing")
        );
    }

    #[test]
    fn usage_errors_keep_their_command_and_message() {
        let AppError::Usage { command, message } = AppError::usage(Cmd::Invoice, "bad") else {
            panic!("not a usage error");
        };
        assert_eq!((command, message.as_str()), (Cmd::Invoice, "bad"));
    }
}
