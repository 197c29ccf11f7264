//! `ledgerly sandbox captures`: what the sandbox processor captured, from
//! its own books (not from the ledger), so anyone can check that money
//! moved once: a charge id, the idempotency key and reference (the invoice
//! id) it was captured under, the amount and the time; streamed a page at a
//! time, in capture order.

use std::io::{self, Write};
use std::path::PathBuf;

use payment_gateway::SandboxBooks;

use crate::error::{AppError, Status, closed_pipe_or};
use crate::output::ledger::{CAPTURES_CSV_HEADER, ListFormat, write_capture};
use crate::signals;
use crate::store::{self, Open};

/// How many captures are read per page.
const PAGE: usize = 1000;

/// What `ledgerly sandbox captures --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
Lists every capture the sandbox processor made, in the order it made them, from
its own books (ledgerly-sandbox.db beside the ledger unless --sandbox-db): the
processor's word, to check the ledger against. An invoice captured twice would
show as two captures with the same reference.

Examples:
  ledgerly sandbox captures
  ledgerly sandbox captures --format text --sandbox-db /var/lib/ledgerly/ledgerly-sandbox.db";

/// `ledgerly sandbox`: the sandbox processor's books.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What to show.
    #[command(subcommand)]
    pub(crate) command: SandboxCommand,
}

/// The subcommands of `ledgerly sandbox`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SandboxCommand {
    /// List what the sandbox processor captured (charge id, idempotency key, reference, amount, currency, time)
    Captures(CapturesArgs),
}

/// `ledgerly sandbox captures`.
#[derive(Debug, clap::Args)]
pub(crate) struct CapturesArgs {
    /// The sandbox processor's books: a SQLite file, or a postgres:// URL [default: ledgerly-sandbox.db beside the ledger file, or the ledger's database]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) sandbox_db: Option<PathBuf>,

    /// The ledger whose neighbour the books are, when --sandbox-db is not given
    /// [default: `LEDGERLY_DB`, else ledgerly.db]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    /// The output format
    #[arg(long, value_enum, default_value_t = ListFormat::Jsonl)]
    pub(crate) format: ListFormat,
}

/// Runs `ledgerly sandbox …`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    match &args.command {
        SandboxCommand::Captures(args) => captures(args),
    }
}

fn captures(args: &CapturesArgs) -> Result<Status, AppError> {
    let location = store::books_location(args.db.as_deref(), args.sandbox_db.as_deref());
    let books = store::open_books(&location, Open::ReadOnly)?;
    let mut out = io::stdout().lock();
    let mut records = Vec::with_capacity(64 * 1024);
    if args.format == ListFormat::Csv {
        records.extend_from_slice(CAPTURES_CSV_HEADER.as_bytes());
    }
    let mut after = 0;
    loop {
        let page = books.captures_after(after, PAGE)?;
        for capture in &page {
            write_capture(&mut records, args.format, capture).map_err(AppError::Output)?;
            after = capture.number();
        }
        let written = signals::writing(|| out.write_all(&records).and_then(|()| out.flush()));
        if let Err(error) = written {
            return closed_pipe_or(error, Status::Success);
        }
        records.clear();
        signals::stop_if_asked(&mut out);
        if page.len() < PAGE {
            return Ok(Status::Success);
        }
    }
}
