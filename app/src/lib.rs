//! The `ledgerly` command: prices invoices exactly, one from flags or
//! millions from JSON Lines or CSV, streamed and in parallel, and collects
//! them through billing's sandbox.
//!
//! The binary is a one-line `main` that calls [`run`]; everything else lives
//! in this library so that fuzz targets can reach the readers (through the
//! hidden `fuzzing` module, behind the `fuzzing` feature that only the fuzz
//! workspace and the replay test enable). The modules stay private: this is
//! not an API for other crates.
//!
//! The layers, each depending only on those below it:
//! - `cli` parses the command line; `command/<name>.rs` is one subcommand
//!   each, a thin layer over the rest;
//! - `input` opens a file or stdin; `lines` cuts it into blocks of whole
//!   lines; `jsonl` and `csv_input` read invoices; `pricer` prices a chunk
//!   into records; `batch` runs chunks through worker threads in input
//!   order; `output` writes records;
//! - `console` and `progress` speak on stderr; `error` maps every outcome to
//!   its exit code, from one table.
//!
//! Only this crate does I/O; pricing is the `pricing` crate, charging the
//! `billing` crate.
#![deny(missing_docs)]

mod batch;
mod cli;
mod command;
mod console;
mod csv_input;
mod error;
mod fields;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod input;
mod jsonl;
mod lines;
mod output;
mod pool;
mod pricer;
mod progress;
mod signals;

use std::io::{self, Write};
use std::process::ExitCode;

use crate::cli::Command;
use crate::console::Console;
use crate::error::{AppError, EXIT_OUTPUT, EXIT_USAGE};

/// Runs the `ledgerly` command with the process's arguments and returns its
/// exit code, one of those in the table `ledgerly --help` prints.
pub fn run() -> ExitCode {
    let cli = match cli::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    let console = Console::from_flags(cli.global);
    signals::install();
    // Writes to a closed stdout (`>&-`) would be discarded without an
    // error by the standard library; a run that cannot write says so.
    if let Err(error) = stdout_is_open() {
        console.error(AppError::Output(error));
        return ExitCode::from(EXIT_OUTPUT);
    }
    let result = match cli.command {
        Command::Invoice(args) => command::invoice::run(args, console),
        Command::Charge(args) => command::charge::run(&args, console),
        Command::Completions(args) => command::completions::run(&args),
        Command::Man => command::completions::run_man(),
    };
    match result {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(AppError::Usage(error)) => clap_exit(&error),
        Err(error) => {
            console.error(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

/// Whether file descriptor 1 is open: duplicating it fails when it is not
/// (Rust's stdout treats a closed descriptor as a sink that takes all).
fn stdout_is_open() -> io::Result<()> {
    use std::os::fd::AsFd;
    io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(drop)
        .map_err(|error| io::Error::new(error.kind(), format!("stdout is closed ({error})")))
}

/// Ends the run the way clap says: a usage error on stderr (exit 2), or
/// `--help` / `--version` on stdout (exit 0), where a failed write is an
/// output error (74) and a closed pipe ends quietly.
fn clap_exit(error: &clap::Error) -> ExitCode {
    let printed = error.print().and_then(|()| {
        if error.use_stderr() {
            Ok(())
        } else {
            io::stdout().flush()
        }
    });
    match printed {
        Err(failure) if !error.use_stderr() && failure.kind() != io::ErrorKind::BrokenPipe => {
            let _ = writeln!(io::stderr(), "error: cannot write output: {failure}");
            ExitCode::from(EXIT_OUTPUT)
        }
        _ if error.use_stderr() => ExitCode::from(EXIT_USAGE),
        _ => ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE)),
    }
}
