//! How a run ends: its status on success, its errors, and their exit codes.

use std::fmt::Display;
use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap::error::ErrorKind;
use pricing::PricingError;

use crate::cli::Cli;
use crate::csv_input::CsvInputError;

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
/// Exit code: the output could not be written (`EX_IOERR`).
pub(crate) const EXIT_OUTPUT: u8 = 74;

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
    /// The command line is wrong; clap prints it with the usage.
    #[error(transparent)]
    Usage(Box<clap::Error>),
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
}

impl AppError {
    /// A usage error found after clap parsed the command line, printed the
    /// way clap prints its own.
    pub(crate) fn usage(message: impl Display) -> AppError {
        let mut command = Cli::command();
        command.build();
        let error = match command.find_subcommand_mut("invoice") {
            Some(invoice) => invoice.error(ErrorKind::ArgumentConflict, message),
            None => command.error(ErrorKind::ArgumentConflict, message),
        };
        AppError::Usage(Box::new(error))
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
            AppError::Usage(_) => EXIT_USAGE,
            AppError::Invalid(_) | AppError::InvalidCsv(_) | AppError::BadRecord { .. } => {
                EXIT_INVALID
            }
            AppError::Input { .. } => EXIT_NO_INPUT,
            AppError::Output(_) => EXIT_OUTPUT,
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
        assert_eq!(Status::Differences.exit_code(), 1);
        let record = AppError::BadRecord {
            path: PathBuf::from("old.jsonl"),
            line: 3,
            message: "not json".to_owned(),
        };
        assert_eq!(record.exit_code(), 65);
        assert_eq!(record.to_string(), "old.jsonl line 3: not json");
        assert_eq!(AppError::usage("bad").exit_code(), 2);
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

    #[test]
    fn usage_errors_carry_clap_usage_exit_code() {
        let AppError::Usage(error) = AppError::usage("bad") else {
            panic!("not a usage error");
        };
        assert_eq!(error.exit_code(), i32::from(EXIT_USAGE));
        assert!(error.to_string().contains("bad"));
    }
}
