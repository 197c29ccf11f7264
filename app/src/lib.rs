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
//! The layers, each depending only on those below it (ARCHITECTURE.md
//! draws them; `app/tests/integration/layers.rs` holds the imports to it):
//! - this file and `cli/` own clap: they parse, render usage errors and
//!   dispatch; `command/<name>.rs` is one subcommand each, flags in and
//!   records out, never importing the command line or another command;
//! - the services: `input` opens a file or stdin, `store` and `time` the
//!   ledger's files and values, `workers` who a worker is and its flags,
//!   `output` the ledger commands' records,
//!   `console`, `progress` and `signals` stderr and stops, `error` every
//!   outcome's exit code, from one table;
//! - `batch/`, the engine: readers (`read/`), the chunk pricer, the writers
//!   of priced invoices, the in-order pipeline and the buffer pool; it
//!   imports only itself, `pricing`, std, `progress` and `signals`.
//!
//! Only this crate does I/O; pricing is the `pricing` crate, charging the
//! `billing` crate.
#![deny(missing_docs)]

mod batch;
mod cli;
mod command;
mod console;
mod error;
mod input;
mod output;
mod progress;
mod sandbox;
mod signals;
mod store;
mod time;
mod workers;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use batch::fuzzing;

use std::io::{self, Write};
use std::process::ExitCode;

use crate::cli::Command;
use crate::console::Console;
use crate::error::{AppError, EXIT_OUTPUT, EXIT_USAGE};

/// Runs the `ledgerly` command with the process's arguments and returns its
/// exit code, one of those in the table `ledgerly --help` prints.
pub fn run() -> ExitCode {
    limit_arenas_under_an_address_space_limit();
    let cli = match cli::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    // Color resolved against `NO_COLOR` and the terminal now.
    let console = Console::new(cli.global.quiet, cli.global.color.enabled_on_stderr());
    signals::install();
    let result = match cli.command {
        Command::Invoice(args) => command::invoice::run(args, console),
        Command::Charge(args) => command::charge::run(&args, console),
        Command::Completions(args) => cli::completions::run(&args),
        Command::Man => cli::completions::run_man(),
        Command::Rates(args) => command::rates::run(&args),
        Command::Sample(args) => command::sample::run(&args),
        Command::Diff(args) => command::diff::run(&args, console),
        Command::Invoices(args) => command::invoices::run(&args),
        Command::Reconcile(args) => command::reconcile::run(&args, console),
        Command::Sandbox(args) => command::sandbox::run(&args),
        Command::Correct(args) => command::correct::run(&args, console),
        Command::CreditNotes(args) => command::credit_notes::run(&args),
        Command::Reprice(args) => command::reprice::run(&args),
    };
    match result {
        Ok(status) => ExitCode::from(status.exit_code()),
        Err(AppError::Usage { command, message }) => {
            clap_exit(&cli::usage_error(command, &message))
        }
        Err(error) => {
            console.error(&error);
            ExitCode::from(error.exit_code())
        }
    }
}

/// glibc gives each thread that allocates an arena of its own, reserving
/// 64 MiB of address space for it; under an address-space limit
/// (`ulimit -v`) the batch's few threads would exhaust that with little
/// memory in use, and a limit must never be enforced by a failed
/// allocation. So under such a limit, and only then, ledgerly runs itself
/// again (the same process, by `exec`) with `MALLOC_ARENA_MAX=1`: one
/// arena, its memory then bounded by what the batch holds.
fn limit_arenas_under_an_address_space_limit() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let limited = std::fs::read_to_string("/proc/self/limits").is_ok_and(|limits| {
        limits
            .lines()
            .find(|line| line.starts_with("Max address space"))
            .is_some_and(|line| !line.contains("unlimited"))
    });
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    if limited {
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(name) = args.next() {
            command.arg0(name);
        }
        // `exec` returns only when it failed; then carry on as we are.
        let _ = command.args(args).env("MALLOC_ARENA_MAX", "1").exec();
    }
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
        // clap's own code: 2 for a usage error (on stderr), 0 for help and
        // the version.
        _ => ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE)),
    }
}
