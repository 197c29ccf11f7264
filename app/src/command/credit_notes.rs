//! `ledgerly credit-notes`: the ledger's credit notes, each with its
//! credited and corrected lines; streamed a page at a time in (invoice,
//! number) order, read-only.

use std::io::{self, Write};
use std::path::PathBuf;

use billing::{CorrectionId, Corrections, CreditNoteId, InvoiceId};

use crate::error::{AppError, Cmd, Status, closed_pipe_or};
use crate::output::ledger::{CREDIT_NOTES_CSV_HEADER, ListFormat, write_credit_note};
use crate::signals;
use crate::store::{self, Open};

/// Credit notes read per page.
const PAGE: usize = 256;

/// What `ledgerly credit-notes --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
Lists the ledger's credit notes in (invoice, number) order: each with its invoice,
the correction that wrote it, its kind (pre_payment: lowered the amount due;
post_payment: refunded; lines_only: a zero total; absorbed: an undercharge, not
billed; billed: an undercharge billed by its supplementary invoice <invoice>-SUP01),
the credited lines and the invoice's lines after it. An issued invoice is
never edited: the invoice minus its credit notes is what it now says.

Examples:
  ledgerly credit-notes
  ledgerly credit-notes --invoice INV-1 --format text
  ledgerly credit-notes --correction 2026-12-gold --format csv > credit-notes.csv";

/// `ledgerly credit-notes`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The ledger: a SQLite file, or a postgres:// URL [default: `LEDGERLY_DB`, else ledgerly.db]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    /// Only the credit notes of this invoice
    #[arg(long, value_name = "ID")]
    pub(crate) invoice: Option<String>,

    /// Only the credit notes of this correction
    #[arg(long, value_name = "ID")]
    pub(crate) correction: Option<String>,

    /// The output format
    #[arg(long, value_enum, default_value_t = ListFormat::Jsonl)]
    pub(crate) format: ListFormat,
}

/// Runs `ledgerly credit-notes`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let invoice = args
        .invoice
        .as_deref()
        .map(InvoiceId::new)
        .transpose()
        .map_err(|error| AppError::usage(Cmd::CreditNotes, format!("--invoice: {error}")))?;
    let correction = args
        .correction
        .as_deref()
        .map(CorrectionId::new)
        .transpose()
        .map_err(|error| AppError::usage(Cmd::CreditNotes, format!("--correction: {error}")))?;
    let ledger = store::open_ledger(&store::ledger_location(args.db.as_deref()), Open::ReadOnly)?;
    let mut out = io::stdout().lock();
    let mut records = Vec::with_capacity(64 * 1024);
    if args.format == ListFormat::Csv {
        records.extend_from_slice(CREDIT_NOTES_CSV_HEADER.as_bytes());
    }
    let mut after: Option<CreditNoteId> = None;
    loop {
        let page = match &invoice {
            // One invoice's credit notes are few: one read.
            Some(id) => ledger.credit_notes_of(id)?,
            None => ledger.credit_notes(correction.as_ref(), after.as_ref(), PAGE)?,
        };
        for note in page
            .iter()
            .filter(|note| correction.as_ref().is_none_or(|id| note.correction() == id))
        {
            write_credit_note(&mut records, args.format, note).map_err(AppError::Output)?;
        }
        let written = signals::writing(|| out.write_all(&records).and_then(|()| out.flush()));
        if let Err(error) = written {
            return closed_pipe_or(error, Status::Success);
        }
        records.clear();
        signals::stop_if_asked(&mut out);
        match page.last() {
            Some(last) if invoice.is_none() && page.len() == PAGE => {
                after = Some(last.id().clone());
            }
            _ => return Ok(Status::Success),
        }
    }
}
