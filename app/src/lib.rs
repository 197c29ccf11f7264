//! The `ledgerly` command: prices invoices exactly, one from flags or
//! millions from JSON Lines or CSV, streamed and in parallel.
//!
//! The binary is a one-line `main` that calls [`run`]; everything else lives
//! in this library so that fuzz targets can reach the readers (see the
//! hidden `fuzzing` module). The modules stay private: this is not an API
//! for other crates.
//!
//! The modules split the work so each can be tested on its own: `cli`
//! parses the command line, `jsonl` and `csv_input` read invoices, `output`
//! writes records, `charge` collects invoices through billing's sandbox,
//! `lines` and `batch` stream a large input through worker threads,
//! `progress` speaks on stderr, and `error` maps every outcome to its exit
//! code. Only this crate does I/O; pricing is the `pricing` crate.
//!
//! # Example
//!
//! The batch path the fuzz targets drive, on bytes in memory: one output
//! record per input invoice, in input order, each naming its input line
//! (40.00 × 3 plus 8 % tax is 129.60; line 3 is not JSON).
//!
//! ```
//! use ledgerly::fuzzing::{self, InputFormat};
//!
//! let input = b"{\"id\":\"A\",\"line_items\":[{\"price\":\"40.00\",\"quantity\":3}]}\n\nnot json\n";
//! let records = fuzzing::price_batch(input, InputFormat::Jsonl).unwrap();
//! assert_eq!(records.len(), 2);
//! assert_eq!((records[0].line, records[0].total.as_deref()), (1, Some("129.60")));
//! assert_eq!((records[1].line, records[1].total.as_deref()), (3, None));
//! ```
#![deny(missing_docs)]

mod batch;
mod charge;
mod cli;
mod command;
mod csv_input;
mod error;
pub mod fuzzing;
mod invoice;
mod jsonl;
mod lines;
mod output;
mod pool;
mod progress;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::AppError;

/// Runs the `ledgerly` command with the process's arguments and returns its
/// exit code: 0, 1 (charge: something unpaid), 2 usage, 65 invalid data,
/// 66 input missing or unreadable, 74 output failed.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Invoice(args) => invoice::run(args),
        Command::Charge(args) => charge::run(&args),
        Command::Rates(args) => command::rates::run(&args),
        Command::Sample(args) => command::sample::run(&args),
        Command::Diff(args) => command::diff::run(&args),
    };
    match result {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(AppError::Usage(error)) => {
            // clap prints usage errors itself, with the usage line.
            let _ = error.print();
            ExitCode::from(error::EXIT_USAGE)
        }
        Err(error) => {
            // If stderr is gone too, the exit code is all that is left.
            let _ = writeln!(io::stderr(), "error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
