//! The `ledgerly` command: prices invoices exactly, one from flags or
//! millions from JSON Lines or CSV, streamed and in parallel.
//!
//! The modules split the work so each can be tested on its own: `cli`
//! parses the command line, `jsonl` and `csv_input` read invoices, `output`
//! writes records, `charge` collects invoices through billing's sandbox, `lines` and `batch` stream a large input through worker
//! threads, `progress` speaks on stderr, and `error` maps every outcome to
//! its exit code. Only this crate does I/O; pricing is the `pricing` crate.

mod batch;
mod charge;
mod cli;
mod csv_input;
mod error;
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Invoice(args) => invoice::run(args),
        Command::Charge(args) => charge::run(&args),
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
