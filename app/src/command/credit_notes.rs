//! `ledgerly credit-notes`: the ledger's credit notes, each with its
//! credited and corrected lines; streamed a page at a time in (invoice,
//! number) order, read-only.

use std::io::{self, Write};
use std::path::PathBuf;

use billing::{CorrectionId, Corrections, CreditNote, CreditNoteId, InvoiceId};

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
            // One invoice's credit notes are few: one read, of every
            // correction, kept to the one asked for.
            Some(id) => of_correction(ledger.credit_notes_of(id)?, correction.as_ref()),
            None => ledger.credit_notes(correction.as_ref(), after.as_ref(), PAGE)?,
        };
        for note in &page {
            write_credit_note(&mut records, args.format, note).map_err(AppError::Output)?;
        }
        let written = signals::writing(|| out.write_all(&records).and_then(|()| out.flush()));
        if let Err(error) = written {
            return closed_pipe_or(error, Status::Success);
        }
        records.clear();
        signals::stop_if_asked(&mut out);
        // Pages end on an empty one; one invoice's notes are one read.
        match (page.last(), &invoice) {
            (Some(last), None) => after = Some(last.id().clone()),
            _ => return Ok(Status::Success),
        }
    }
}

/// The credit notes of `correction` among `notes`, or all of them.
fn of_correction(notes: Vec<CreditNote>, correction: Option<&CorrectionId>) -> Vec<CreditNote> {
    notes
        .into_iter()
        .filter(|note| correction.is_none_or(|id| note.correction() == id))
        .collect()
}

#[cfg(test)]
mod tests {
    use billing::{CreditNoteKind, Lines};
    use payment_gateway::Currency;

    use super::*;

    fn note(invoice: &str, number: u32, correction: &str) -> CreditNote {
        CreditNote::new(
            CreditNoteId::new(InvoiceId::new(invoice).unwrap(), number),
            CorrectionId::new(correction).unwrap(),
            CreditNoteKind::LinesOnly,
            Currency::Usd,
            Lines::new([0; 6]).unwrap(),
            Lines::new([100, 0, 0, 0, 0, 100]).unwrap(),
            std::time::UNIX_EPOCH,
        )
        .unwrap()
    }

    #[test]
    fn one_invoices_notes_are_kept_to_the_correction_asked_for() {
        let notes = vec![note("INV-1", 1, "fix-a"), note("INV-1", 2, "fix-b")];
        let ids = |notes: Vec<CreditNote>| -> Vec<String> {
            notes.iter().map(|n| n.id().to_string()).collect()
        };
        assert_eq!(ids(of_correction(notes.clone(), None)).len(), 2);
        let fix_b = CorrectionId::new("fix-b").unwrap();
        assert_eq!(
            ids(of_correction(notes.clone(), Some(&fix_b))),
            ["INV-1-CN02"]
        );
        let other = CorrectionId::new("fix-c").unwrap();
        assert!(of_correction(notes, Some(&other)).is_empty());
    }
}
