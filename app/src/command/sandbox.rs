//! `ledgerly sandbox captures` and `ledgerly sandbox refunds`: what the
//! sandbox processor captured and refunded, from its own books (not from
//! the ledger), so anyone can check that money moved once: a charge id (a
//! refund id), the idempotency key and reference (the invoice id, the
//! credit note id) it was made under, the amount, a refund's status and
//! the time; streamed a page at a time, in the processor's order.

use std::io::{self, Write};
use std::path::PathBuf;

use ledger_store::AnyBooks;
use payment_gateway::{BooksError, SandboxBooks};

use crate::error::{AppError, Status, closed_pipe_or};
use crate::output::ledger::{
    CAPTURES_CSV_HEADER, ListFormat, REFUNDS_CSV_HEADER, write_capture, write_refund,
};
use crate::signals;
use crate::store::{self, Open};

/// How many captures or refunds are read per page.
const PAGE: usize = 1000;

/// What `ledgerly sandbox refunds --help` shows above its exit codes.
pub(crate) const REFUNDS_HELP: &str = "\
Lists every refund the sandbox processor accepted, in the order it accepted them,
as each stands now (pending, succeeded or failed), from its own books
(ledgerly-sandbox.db beside the ledger unless --sandbox-db): the processor's word,
to hold the ledger's credit notes to. A credit note refunded twice would show as
two refunds with the same reference.

Examples:
  ledgerly sandbox refunds
  ledgerly sandbox refunds --format csv --sandbox-db /var/lib/ledgerly/ledgerly-sandbox.db";

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
    Captures(BooksArgs),
    /// List what the sandbox processor refunded (refund id, charge id, idempotency key, reference, amount, currency, status, time)
    Refunds(BooksArgs),
}

/// `ledgerly sandbox captures` and `ledgerly sandbox refunds`.
#[derive(Debug, clap::Args)]
pub(crate) struct BooksArgs {
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
        SandboxCommand::Captures(args) => list(
            args,
            CAPTURES_CSV_HEADER,
            |books, after| books.captures_after(after, PAGE),
            |out, format, capture| {
                write_capture(out, format, capture)?;
                Ok(capture.number())
            },
        ),
        SandboxCommand::Refunds(args) => list(
            args,
            REFUNDS_CSV_HEADER,
            |books, after| books.refunds_after(after, PAGE),
            |out, format, refund| {
                write_refund(out, format, refund)?;
                Ok(refund.number())
            },
        ),
    }
}

/// Lists the books' records a page at a time: `page` reads the records
/// numbered above a number, `write` appends one and says its number.
fn list<T>(
    args: &BooksArgs,
    csv_header: &str,
    page: impl Fn(&AnyBooks, u64) -> Result<Vec<T>, BooksError>,
    write: impl Fn(&mut Vec<u8>, ListFormat, &T) -> io::Result<u64>,
) -> Result<Status, AppError> {
    let location = store::books_location(args.db.as_deref(), args.sandbox_db.as_deref());
    let books = store::open_books(&location, Open::ReadOnly)?;
    let mut out = io::stdout().lock();
    let mut records = Vec::with_capacity(64 * 1024);
    if args.format == ListFormat::Csv {
        records.extend_from_slice(csv_header.as_bytes());
    }
    let mut after = 0;
    loop {
        let page = page(&books, after)?;
        for record in &page {
            after = write(&mut records, args.format, record).map_err(AppError::Output)?;
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
