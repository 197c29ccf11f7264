//! `ledgerly invoices`: the ledger's invoices, each as issued (its frozen
//! breakdown), with its status, charge id and attempt history; streamed a
//! page at a time, in id order, so memory does not grow with the ledger.

use std::io::{self, Write};
use std::path::PathBuf;

use billing::{InvoiceFilter, InvoiceId, Ledger, StatusKind};

use crate::error::{AppError, Cmd, Status, closed_pipe_or};
use crate::output::ledger::{INVOICES_CSV_HEADER, ListFormat, write_invoice};
use crate::signals;
use crate::store::{self, Open};

/// How many invoices are read per page.
const PAGE: usize = 256;

/// What `ledgerly invoices --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
Lists the ledger's invoices in id order, each as it was issued (the breakdown frozen
in cents), with its status, charge id and payment attempts. The status follows from
the attempts: paid (captured, or nothing due), failed (the last attempt was
declined), unknown (the last attempt is pending or its outcome unknown: a rerun of
charge or `ledgerly reconcile` settles it), open (no attempt yet, or one refused
before the processor processed it).

Examples:
  ledgerly invoices
  ledgerly invoices --status unknown --format text
  ledgerly invoices --id INV-1 --db /var/lib/ledgerly/ledgerly.db
  ledgerly invoices --format csv > invoices.csv";

/// A status to filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StatusArg {
    /// No attempt yet, or the last one was refused before it was processed
    Open,
    /// Captured, or nothing was due
    Paid,
    /// The last attempt was declined
    Failed,
    /// The last attempt is pending or its outcome unknown
    Unknown,
}

impl StatusArg {
    fn kind(self) -> StatusKind {
        match self {
            StatusArg::Open => StatusKind::Open,
            StatusArg::Paid => StatusKind::Paid,
            StatusArg::Failed => StatusKind::Failed,
            StatusArg::Unknown => StatusKind::Unknown,
        }
    }
}

/// `ledgerly invoices`: list the ledger.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The ledger: a SQLite file, or a postgres:// URL [default: `LEDGERLY_DB`, else ledgerly.db]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    /// Only invoices with this status
    #[arg(long, value_enum)]
    pub(crate) status: Option<StatusArg>,

    /// Only the invoice with this id
    #[arg(long, value_name = "ID")]
    pub(crate) id: Option<String>,

    /// The output format
    #[arg(long, value_enum, default_value_t = ListFormat::Jsonl)]
    pub(crate) format: ListFormat,
}

/// Runs `ledgerly invoices`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let mut filter = InvoiceFilter::all();
    if let Some(status) = args.status {
        filter = filter.with_status(status.kind());
    }
    if let Some(id) = &args.id {
        let id = InvoiceId::new(id.as_str())
            .map_err(|error| AppError::usage(Cmd::Invoices, format!("--id: {error}")))?;
        filter = filter.with_id(id);
    }
    let ledger = store::open_ledger(&store::ledger_location(args.db.as_deref()), Open::ReadOnly)?;
    let mut out = io::stdout().lock();
    let mut records = Vec::with_capacity(64 * 1024);
    if args.format == ListFormat::Csv {
        records.extend_from_slice(INVOICES_CSV_HEADER.as_bytes());
    }
    let mut after: Option<InvoiceId> = None;
    loop {
        let page = ledger
            .list(&filter, after.as_ref(), PAGE)
            .map_err(billing::BillingError::from)?;
        for record in &page {
            write_invoice(&mut records, args.format, record).map_err(AppError::Output)?;
        }
        let written = signals::writing(|| out.write_all(&records).and_then(|()| out.flush()));
        if let Err(error) = written {
            return closed_pipe_or(error, Status::Success);
        }
        records.clear();
        signals::stop_if_asked(&mut out);
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.invoice().id().clone()),
            _ => return Ok(Status::Success),
        }
    }
}
