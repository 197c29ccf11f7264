//! `ledgerly diff OLD NEW`: what a pricing change does to a book of invoices.
//!
//! OLD and NEW are two JSON Lines outputs of `ledgerly invoice` for the same
//! input, typically the live release's and a candidate's. Records are
//! matched by `id`, or by their position when they have none. Both files
//! are read in lockstep: `ledgerly invoice` writes one record per input
//! invoice in input order, so for the same input the records line up and
//! each pair is compared and forgotten at once; memory stays flat. A record
//! whose partner has not turned up yet waits in a table keyed by id until it
//! does (or is reported as present in one file only), so inputs that do not
//! line up still compare correctly. When too many records wait (files in
//! different orders, or with disjoint ids), the rest of the comparison is
//! done on disk, in sorted runs joined by key (spill.rs), so memory stays
//! bounded whatever the files.
//!
//! Amounts are compared as whole cents in integers (`i64` per record, sums
//! in `i128`), parsed from their two-decimal text: never a float.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::console::Console;
use crate::error::{AppError, Cmd, Status, input_name};

mod compare;
mod read;
mod render;
mod spill;
#[cfg(test)]
mod tests;

use compare::compare;
use read::Records;
use render::{render_json, render_markdown, render_text};

/// What `ledgerly diff --help` shows after the flags.
pub(crate) const HELP: &str = "\
OLD and NEW are JSON Lines outputs of `ledgerly invoice --format jsonl` for
the same input (for example the live release's and a candidate's pricing of
the reference book from `ledgerly sample`). Records are matched by id, or by
position when they have none. Both files are read in lockstep, so memory
stays flat when they line up (the same input gives the same order). Records
that are out of step wait in memory until their partner turns up; past
50 000 of them, the comparison continues in temporary files (TMPDIR), so
memory stays bounded for files in any order.

Reports how many invoices were compared, changed and unchanged, the money
moved in each field and in the total (new minus old, exact cents), the
largest changes by id, records present in one file only, and error records.

Examples:
  ledgerly sample --count 2000 --seed 14 > book.jsonl
  old/ledgerly invoice --input book.jsonl > old.jsonl
  new/ledgerly invoice --input book.jsonl > new.jsonl
  ledgerly diff old.jsonl new.jsonl
  ledgerly diff old.jsonl new.jsonl --format markdown >> \"$GITHUB_STEP_SUMMARY\"";

/// The amounts of a priced record, in output order.
const FIELDS: [&str; 6] = pricing::Breakdown::NAMES;

/// Where the total is in a record's amounts.
const TOTAL: usize = 5;

/// `ledgerly diff`: compare two pricings of one book.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The earlier pricing (JSON Lines from `ledgerly invoice`), or - for stdin
    #[arg(value_name = "OLD")]
    pub(crate) old: PathBuf,

    /// The later pricing of the same input
    #[arg(value_name = "NEW")]
    pub(crate) new: PathBuf,

    /// How many of the largest changes (and of the other lists) to show; at most 10000
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) top: usize,

    /// The report's format (markdown suits a GitHub job summary)
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub(crate) format: DiffFormat,
}

/// The report formats of `ledgerly diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DiffFormat {
    /// Aligned text for a terminal or a log
    Text,
    /// One JSON object
    Json,
    /// Tables for a GitHub job summary or a pull request
    Markdown,
}

/// The longest list a report shows: a larger `--top` is cut to it, so that
/// no value of the flag costs more than a list a reviewer can read.
const MAX_TOP: usize = 10_000;

/// Runs `ledgerly diff`.
pub(crate) fn run(args: &Args, console: Console) -> Result<Status, AppError> {
    if args.old.as_os_str() == "-" && args.new.as_os_str() == "-" {
        // Two readers of one stdin would each take some of its lines.
        return Err(AppError::usage(
            Cmd::Diff,
            "OLD and NEW cannot both be - (stdin): name at least one file",
        ));
    }
    let old = Records::open(&args.old)?;
    let new = Records::open(&args.new)?;
    let report = compare(old, new, args.top.min(MAX_TOP))?;
    if report.spilled {
        console.notice(
            &mut io::stderr(),
            "note: more records were out of step than wait in memory: compared in temporary files",
        );
    }
    if report.compared + report.only_in_old + report.only_in_new == 0 {
        console.warning(format_args!(
            "no record was read from {} or {}",
            input_name(&args.old).display(),
            input_name(&args.new).display()
        ));
    }
    let text = match args.format {
        DiffFormat::Text => render_text(&report, &args.old, &args.new),
        DiffFormat::Json => render_json(&report, &args.old, &args.new),
        DiffFormat::Markdown => render_markdown(&report, &args.old, &args.new),
    };
    let status = if report.differs() {
        Status::Differences
    } else {
        Status::Success
    };
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(status),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(status),
        Err(error) => Err(AppError::Output(error)),
    }
}
