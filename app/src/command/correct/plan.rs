//! `ledgerly correct plan`: the dry run. Streams the ledger a page at a
//! time in id order (memory flat for any ledger), re-prices each invoice
//! issued under the wrong table with `billing::correct`, and writes one
//! record per invoice whose breakdown changes; the digest of the JSON Lines
//! is computed as they are written (or would be, for text and markdown).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use billing::{
    Action, CorrectionId, Corrections, CreditNote, InvoiceFilter, InvoiceId, InvoiceRecord, Ledger,
    Lines, Undercharge, correct,
};
use sha2::{Digest, Sha256};

use super::{PlanRecord, RatesJson, hex, right_rates};
use crate::batch::read::fields::printable;
use crate::error::{AppError, Cmd, Status, closed_pipe_or};
use crate::output::markdown::markdown;
use crate::output::money::{Amounts, money};
use crate::signals;
use crate::store::{self, Open};

/// Invoices read per page.
const PAGE: usize = 256;

/// How many of the largest credits the text and markdown reports list.
const TOP: usize = 10;

/// `ledgerly correct plan`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) stores: super::Stores,

    /// The wrong rate table's fingerprint, as `ledgerly rates` printed it for the release that issued the invoices
    #[arg(long, value_name = "FINGERPRINT")]
    pub(crate) wrong_rates: String,

    /// The correction's id (1 to 128 bytes), as the credit notes will name it
    #[arg(long, value_name = "ID")]
    pub(crate) correction: String,

    /// The right rates: a file of `ledgerly rates --format json` [default: this build's rates]
    #[arg(long, value_name = "FILE")]
    pub(crate) right_rates: Option<PathBuf>,

    /// Why the correction is made, recorded with it [default: names the two tables]
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,

    /// The output format (markdown suits a GitHub job summary)
    #[arg(long, value_enum, default_value_t = PlanFormat::Jsonl)]
    pub(crate) format: PlanFormat,
}

/// The formats of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlanFormat {
    /// One JSON object per invoice: the plan `apply` takes
    Jsonl,
    /// A summary for a terminal or a log
    Text,
    /// The summary as tables, for a job summary
    Markdown,
}

/// What the text and markdown reports say.
#[derive(Debug, Default)]
struct Summary {
    entries: u64,
    by_action: Vec<(&'static str, u64, i128)>,
    credited: [i128; 6],
    largest: Vec<(i64, String, &'static str)>,
}

impl Summary {
    fn add(&mut self, id: &str, action: Action, credit: &Lines) {
        self.entries += 1;
        let name = action.as_str();
        let total = i128::from(credit.total());
        match self
            .by_action
            .iter_mut()
            .find(|(known, _, _)| *known == name)
        {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += total;
            }
            None => self.by_action.push((name, 1, total)),
        }
        for (sum, cents) in self.credited.iter_mut().zip(credit.cents()) {
            *sum += i128::from(cents);
        }
        self.largest.push((credit.total(), id.to_owned(), name));
        if self.largest.len() >= 2 * TOP {
            self.cut();
        }
    }

    /// The largest credits, largest (in absolute value) first, ties by id.
    fn largest(&self) -> Vec<(i64, String, &'static str)> {
        let mut largest = self.largest.clone();
        sort_largest(&mut largest);
        largest
    }

    /// Keeps the [`TOP`] largest credits.
    fn cut(&mut self) {
        sort_largest(&mut self.largest);
    }
}

/// Sorts credits largest (in absolute value) first, ties by id, and keeps
/// the [`TOP`] first.
fn sort_largest(credits: &mut Vec<(i64, String, &'static str)>) {
    credits.sort_by(|a, b| {
        b.0.unsigned_abs()
            .cmp(&a.0.unsigned_abs())
            .then(a.1.cmp(&b.1))
    });
    credits.truncate(TOP);
}

/// Runs `ledgerly correct plan`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let correction = CorrectionId::new(args.correction.as_str())
        .map_err(|error| AppError::usage(Cmd::CorrectPlan, format!("--correction: {error}")))?;
    if !is_fingerprint(&args.wrong_rates) {
        return Err(AppError::usage(
            Cmd::CorrectPlan,
            format!(
                "--wrong-rates {:?} is not a fingerprint (fnv1a64: and 16 hex digits, as `ledgerly rates` prints it)",
                pricing::excerpt(&args.wrong_rates)
            ),
        ));
    }
    let right = right_rates(args.right_rates.as_deref(), Cmd::CorrectPlan)?;
    let table = right
        .rates()
        .map_err(|message| AppError::usage(Cmd::CorrectPlan, message))?
        .table();
    if table.fingerprint() == args.wrong_rates {
        return Err(AppError::usage(
            Cmd::CorrectPlan,
            format!(
                "--wrong-rates {} is the right table itself: nothing can change",
                args.wrong_rates
            ),
        ));
    }
    let reason = args.reason.clone().unwrap_or_else(|| {
        format!(
            "invoices priced with rates {} corrected to {}",
            args.wrong_rates,
            table.fingerprint()
        )
    });
    let ledger = store::open_ledger(
        &store::ledger_location(args.stores.db.as_deref()),
        Open::ReadOnly,
    )?;
    let template = Template {
        correction: correction.as_str(),
        reason: &reason,
        wrong: &args.wrong_rates,
        right: &right,
    };
    let mut out = io::stdout().lock();
    let mut hasher = Sha256::new();
    let mut summary = Summary::default();
    let mut records = Vec::with_capacity(64 * 1024);
    let mut after: Option<InvoiceId> = None;
    loop {
        let page = ledger.list(&InvoiceFilter::all(), after.as_ref(), PAGE)?;
        for record in &page {
            let Some(line) = entry(
                &ledger,
                record,
                &table,
                &args.wrong_rates,
                &template,
                &mut summary,
            )?
            else {
                continue;
            };
            hasher.update(&line);
            if args.format == PlanFormat::Jsonl {
                records.extend_from_slice(&line);
            }
        }
        let written = signals::writing(|| out.write_all(&records).and_then(|()| out.flush()));
        records.clear();
        if let Err(error) = written {
            return closed_pipe_or(error, status(&summary));
        }
        signals::stop_if_asked(&mut out);
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.invoice().id().clone()),
            _ => break,
        }
    }
    let digest = hex(&hasher.finalize());
    let report = match args.format {
        PlanFormat::Jsonl => String::new(),
        PlanFormat::Text => text(&summary, &template, &digest),
        PlanFormat::Markdown => markdown_report(&summary, &template, &digest),
    };
    let written = signals::writing(|| out.write_all(report.as_bytes()).and_then(|()| out.flush()));
    if let Err(error) = written {
        return closed_pipe_or(error, status(&summary));
    }
    // Quiet or not: the digest is what a reviewer approves.
    let _ = writeln!(
        io::stderr(),
        "plan digest: {digest} ({} invoice(s) to correct)",
        summary.entries
    );
    Ok(status(&summary))
}

/// Exit 1 when something is to be corrected, as `diff` exits 1 when
/// something differs.
fn status(summary: &Summary) -> Status {
    if summary.entries == 0 {
        Status::Success
    } else {
        Status::Differences
    }
}

/// `fnv1a64:` and 16 lowercase hex digits.
fn is_fingerprint(text: &str) -> bool {
    text.strip_prefix("fnv1a64:").is_some_and(|hex| {
        hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What every record of the plan repeats: the correction.
struct Template<'a> {
    correction: &'a str,
    reason: &'a str,
    wrong: &'a str,
    right: &'a RatesJson,
}

/// The record of `record`, as a JSON line, when the right table changes
/// it.
fn entry(
    ledger: &impl Corrections,
    record: &InvoiceRecord,
    table: &pricing::RateTable,
    wrong: &str,
    template: &Template<'_>,
    summary: &mut Summary,
) -> Result<Option<Vec<u8>>, AppError> {
    let invoice = record.invoice();
    if invoice.rates().fingerprint() != wrong {
        return Ok(None);
    }
    let notes = ledger.credit_notes_of(invoice.id())?;
    let earlier: Vec<Lines> = notes.iter().map(CreditNote::credited).collect();
    let correction = correct(record, &earlier, table, Undercharge::Absorb)
        .map_err(|error| billing::LedgerError::new(error.to_string()))?;
    let Some(correction) = correction else {
        return Ok(None);
    };
    let action = correction.action();
    summary.add(invoice.id().as_str(), action, &correction.credit());
    let line = PlanRecord {
        id: invoice.id().to_string(),
        status: record.status().kind().as_str().to_owned(),
        currency: invoice.currency().code().to_owned(),
        effective: Amounts::of(correction.effective().cents()),
        corrected: Amounts::of(correction.corrected().cents()),
        credit: Amounts::of(correction.credit().cents()),
        action: action.as_str().to_owned(),
        reason: match action {
            Action::Blocked(blocked) => Some(blocked.reason().to_owned()),
            _ => None,
        },
        correction: template.correction.to_owned(),
        correction_reason: template.reason.to_owned(),
        wrong_rates: template.wrong.to_owned(),
        right_rates: template.right.clone(),
    };
    let mut bytes = serde_json::to_vec(&line).map_err(|error| AppError::Output(error.into()))?;
    bytes.push(b'\n');
    Ok(Some(bytes))
}

/// The summary for a terminal.
fn text(summary: &Summary, template: &Template<'_>, digest: &str) -> String {
    let mut text = format!(
        "correction {}: rates {} -> {}\n{} invoice(s) to correct\n",
        template.correction, template.wrong, template.right.fingerprint, summary.entries
    );
    for (action, count, total) in &summary.by_action {
        let _ = writeln!(text, "  {action:<11} {count:>8}  credit {}", money(*total));
    }
    let _ = writeln!(text, "credited per line:");
    for (name, cents) in pricing::Breakdown::NAMES.iter().zip(summary.credited) {
        let _ = writeln!(text, "  {name:<17} {:>14}", money(cents));
    }
    let largest = summary.largest();
    if !largest.is_empty() {
        let _ = writeln!(text, "largest credits:");
        for (cents, id, action) in &largest {
            let _ = writeln!(
                text,
                "  {:<24} {:>12}  {action}",
                printable(id),
                money(i128::from(*cents))
            );
        }
    }
    let _ = writeln!(text, "plan digest: {digest}");
    text
}

/// The summary for a job summary.
fn markdown_report(summary: &Summary, template: &Template<'_>, digest: &str) -> String {
    let cell = markdown;
    let mut text = format!(
        "### Correction `{}`\n\nRates `{}` → `{}`: **{} invoice(s)** to correct.\n\nPlan digest: `{digest}`\n\n| action | invoices | credit |\n|---|---:|---:|\n",
        cell(template.correction),
        template.wrong,
        template.right.fingerprint,
        summary.entries
    );
    for (action, count, total) in &summary.by_action {
        let _ = writeln!(text, "| {action} | {count} | {} |", money(*total));
    }
    text.push_str("\n| line | credited |\n|---|---:|\n");
    for (name, cents) in pricing::Breakdown::NAMES.iter().zip(summary.credited) {
        let _ = writeln!(text, "| {name} | {} |", money(cents));
    }
    let largest = summary.largest();
    if !largest.is_empty() {
        text.push_str("\n| largest credits | credit | action |\n|---|---:|---|\n");
        for (cents, id, action) in &largest {
            let _ = writeln!(
                text,
                "| {} | {} | {action} |",
                cell(id),
                money(i128::from(*cents))
            );
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_fnv1a64_and_sixteen_lowercase_hex_digits() {
        assert!(is_fingerprint(&pricing::RATES.fingerprint()));
        for text in [
            "",
            "fnv1a64:",
            "fnv1a64:3E8FED09B0157015",
            "fnv1a64:3e8fed09b015701",
            "sha256:3e8fed09b0157015",
            "fnv1a64:3e8fed09b01570150",
        ] {
            assert!(!is_fingerprint(text), "{text}");
        }
    }
}
