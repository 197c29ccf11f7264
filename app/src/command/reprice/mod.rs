//! `ledgerly reprice`: what this build's rates do to the invoices a ledger
//! issued in a window, read-only. The deploy gate points it at
//! production's ledger, so the reviewer sees real customers' invoices, not
//! only the reference book.
//!
//! Each invoice issued in the window is priced again from its stored
//! inputs with this build's table (`billing::reprice_issued`, the engine of
//! `correct plan`) and compared with its stored breakdown. The ledger is
//! streamed a page at a time in id order, and every list is bounded by
//! `--top`; the sums per customer spill to temporary files past 100 000
//! customers (customers.rs), so memory stays flat in the window's size.
//! The ledger is opened read-only (SQLite read-only, PostgreSQL in read-only
//! transactions), so a read-only role or a replica will do.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use billing::{InvoiceFilter, InvoiceId, Ledger, Rates, reprice_issued};

use crate::error::{AppError, Cmd, Status, closed_pipe_or};
use crate::store::{self, Open};
use crate::time::{parse_since, timestamp};

mod customers;
mod report;

use customers::{Customers, IN_MEMORY};
use report::{Report, Window, render_json, render_markdown, render_text};

/// Invoices read per page.
const PAGE: usize = 512;

/// The longest list a report shows, as `diff`'s.
const MAX_TOP: usize = 10_000;

/// What `ledgerly reprice --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
Prices again, with this build's rates, every invoice the ledger issued since
--since, and compares each with its stored breakdown: how many change, the
money per line and currency, the largest changes by invoice and by customer.
A change to an invoice issued under this build's own rates version is
undeclared (the deploy gate refuses it); one issued under another version
is the declared change between the two. Never writes: the ledger is opened
read-only, so a read-only role, a replica or a read-only file will do.

Examples:
  ledgerly reprice --db ledgerly.db
  ledgerly reprice --db \"$LEDGER_URL\" --since 2026-11-01 --format markdown >> \"$GITHUB_STEP_SUMMARY\"
  ledgerly reprice --since 7d --format json --summary reprice.json";

/// `ledgerly reprice`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The ledger: a SQLite file, or a postgres:// URL [default: `LEDGERLY_DB`, else ledgerly.db]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    /// The window's start: a date (2026-11-01, midnight UTC), or days or hours back (35d, 12h)
    #[arg(long, value_name = "DURATION|DATE", default_value = "35d")]
    pub(crate) since: String,

    /// How many of the largest changes (and of the other lists) to show; at most 10000
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) top: usize,

    /// The report's format (markdown suits a GitHub job summary)
    #[arg(long, value_enum, default_value_t = RepriceFormat::Text)]
    pub(crate) format: RepriceFormat,

    /// Also write the report as one JSON object to FILE (for a script that judges it)
    #[arg(long, value_name = "FILE")]
    pub(crate) summary: Option<PathBuf>,
}

/// The report formats of `ledgerly reprice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RepriceFormat {
    /// Aligned text for a terminal or a log
    Text,
    /// One JSON object
    Json,
    /// Tables for a GitHub job summary
    Markdown,
}

/// Runs `ledgerly reprice`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let now = SystemTime::now();
    let since = parse_since(&args.since, now)
        .map_err(|error| AppError::usage(Cmd::Reprice, format!("--since: {error}")))?;
    let build = Rates::current();
    let ledger = store::open_ledger(&store::ledger_location(args.db.as_deref()), Open::ReadOnly)?;
    let window = Window {
        since: timestamp(since),
        until: timestamp(now),
        rates_version: build.version().map(str::to_owned),
        rates_fingerprint: build.fingerprint(),
    };
    let mut report = Report::new(window, args.top.min(MAX_TOP), Customers::new(IN_MEMORY));
    let mut after: Option<InvoiceId> = None;
    loop {
        let page = ledger.list(&InvoiceFilter::all(), after.as_ref(), PAGE)?;
        for record in &page {
            let invoice = record.invoice();
            if in_window(invoice.issued_at(), since) {
                report
                    .add(invoice, reprice_issued(invoice, &build))
                    .map_err(AppError::Scratch)?;
            }
        }
        // Ends on an empty page: one read more than needed, once a run.
        match page.last() {
            Some(last) => after = Some(last.invoice().id().clone()),
            None => break,
        }
    }
    let finished = report.finish().map_err(AppError::Scratch)?;
    let status = if finished.report.changed == 0 {
        Status::Success
    } else {
        Status::Differences
    };
    if let Some(path) = &args.summary {
        std::fs::write(path, render_json(&finished)).map_err(|error| {
            AppError::Output(io::Error::new(
                error.kind(),
                format!("summary {}: {error}", path.display()),
            ))
        })?;
    }
    let text = match args.format {
        RepriceFormat::Text => render_text(&finished),
        RepriceFormat::Json => render_json(&finished),
        RepriceFormat::Markdown => render_markdown(&finished),
    };
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(status),
        Err(error) => closed_pipe_or(error, status),
    }
}

/// Whether an invoice issued at `issued_at` is in the window that starts at
/// `since` (included). One issued after now (a clock ahead elsewhere) is
/// still issued, so the window has no end.
fn in_window(issued_at: SystemTime, since: SystemTime) -> bool {
    issued_at >= since
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_window_includes_its_first_instant_and_everything_after() {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(in_window(since, since));
        assert!(in_window(since + Duration::from_secs(86_400 * 365), since));
        assert!(!in_window(since - Duration::from_millis(1), since));
    }
}
