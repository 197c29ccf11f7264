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
//! line up still compare correctly, at the cost of holding the records that
//! are out of step.
//!
//! Amounts are compared as whole cents in integers (`i64` per record, sums
//! in `i128`), parsed from their two-decimal text: never a float.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AppError, Status, input_name};

/// What `ledgerly diff --help` shows after the flags.
pub(crate) const HELP: &str = "\
OLD and NEW are JSON Lines outputs of `ledgerly invoice --format jsonl` for
the same input (for example the live release's and a candidate's pricing of
the reference book from `ledgerly sample`). Records are matched by id, or by
position when they have none. Both files are read in lockstep, so memory
stays flat when they line up (the same input gives the same order); records
that are out of step wait in memory until their partner turns up.

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
const FIELDS: [&str; 6] = [
    "subtotal",
    "tier_discount",
    "loyalty_discount",
    "tax",
    "late_fee",
    "total",
];

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

    /// How many of the largest changes (and of the other lists) to show
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

/// Runs `ledgerly diff`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let old = Records::open(&args.old)?;
    let new = Records::open(&args.new)?;
    let report = compare(old, new, args.top)?;
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

/// A record as `ledgerly invoice --format jsonl` writes it: a priced
/// invoice (`id` when the input had one, six amounts) or an error record
/// (`line`, `id`, `error`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default)]
    line: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    subtotal: Option<String>,
    #[serde(default)]
    tier_discount: Option<String>,
    #[serde(default)]
    loyalty_discount: Option<String>,
    #[serde(default)]
    tax: Option<String>,
    #[serde(default)]
    late_fee: Option<String>,
    #[serde(default)]
    total: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// What a record says about its invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Priced: the six amounts in cents, in [`FIELDS`] order.
    Priced([i64; 6]),
    /// Refused, with the message.
    Error(String),
}

/// One record of OLD or NEW.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    /// The record's number in its file, from 1 (blank lines do not count).
    position: u64,
    id: Option<String>,
    outcome: Outcome,
}

impl Record {
    /// How the report names the record: its id, or its position.
    fn label(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!("record {}", self.position),
        }
    }

    /// What pairs the record with its partner in the other file.
    fn key(&self) -> Key {
        match &self.id {
            Some(id) => Key::Id(id.clone()),
            None => Key::Position(self.position),
        }
    }
}

/// A record's identity across the two files.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Id(String),
    Position(u64),
}

/// Parses an amount as written by `ledgerly invoice`: an optional `-`,
/// digits, a point and exactly two digits. Returns whole cents.
fn parse_cents(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.')?;
    let well_formed = !whole.is_empty()
        && fraction.len() == 2
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit());
    if !well_formed {
        return None;
    }
    let cents = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(fraction.parse::<i64>().ok()?)?;
    Some(if negative { -cents } else { cents })
}

/// Turns a decoded line into a record, or says what is wrong with it.
fn record(wire: Wire, position: u64) -> Result<Record, String> {
    let amounts = [
        wire.subtotal,
        wire.tier_discount,
        wire.loyalty_discount,
        wire.tax,
        wire.late_fee,
        wire.total,
    ];
    let present = amounts.iter().filter(|amount| amount.is_some()).count();
    let outcome = match (wire.error, present) {
        (Some(error), 0) => Outcome::Error(error),
        (None, 6) => {
            let mut cents = [0_i64; 6];
            for ((slot, amount), name) in cents.iter_mut().zip(&amounts).zip(FIELDS) {
                let text = amount.as_deref().unwrap_or_default();
                *slot = parse_cents(text)
                    .ok_or_else(|| format!("{name} {text:?} is not an amount with two decimals"))?;
            }
            Outcome::Priced(cents)
        }
        (Some(_), _) => return Err("a record has either an error or amounts, not both".to_owned()),
        (None, _) => {
            return Err(
                "not a record of `ledgerly invoice`: expected the six amounts or an error"
                    .to_owned(),
            );
        }
    };
    // A priced record has no `line`; `ledgerly invoice` writes it only on errors.
    if wire.line.is_some() && matches!(outcome, Outcome::Priced(_)) {
        return Err("a priced record has no line field".to_owned());
    }
    Ok(Record {
        position,
        id: wire.id,
        outcome,
    })
}

/// The records of one file, read one line at a time.
struct Records {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    line: u64,
    position: u64,
    buffer: Vec<u8>,
}

impl Records {
    fn open(path: &Path) -> Result<Records, AppError> {
        let reader: Box<dyn Read> = if path.as_os_str() == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path).map_err(|source| AppError::input(path, source))?)
        };
        Ok(Records::new(path, BufReader::new(reader)))
    }

    fn new(path: &Path, reader: impl BufRead + 'static) -> Records {
        Records {
            path: input_name(path),
            reader: Box::new(reader),
            line: 0,
            position: 0,
            buffer: Vec::new(),
        }
    }

    /// The next record, `None` at the end of the file.
    fn next_record(&mut self) -> Result<Option<Record>, AppError> {
        loop {
            self.buffer.clear();
            self.reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|source| AppError::Input {
                    path: self.path.clone(),
                    source,
                })?;
            // Nothing read at all is the end of the file. (Tested on the
            // buffer rather than on the count read_until returns, so that no
            // comparison here can be turned into a loop that never ends.)
            if self.buffer.is_empty() {
                return Ok(None);
            }
            self.line += 1;
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.position += 1;
            let bad = |message: String| AppError::BadRecord {
                path: self.path.clone(),
                line: self.line,
                message,
            };
            let wire: Wire = serde_json::from_slice(&self.buffer)
                .map_err(|error| bad(format!("not a record of `ledgerly invoice`: {error}")))?;
            return record(wire, self.position).map(Some).map_err(bad);
        }
    }
}

/// One invoice whose amounts changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    label: String,
    position: u64,
    old: [i64; 6],
    new: [i64; 6],
}

impl Change {
    fn total_delta(&self) -> i128 {
        i128::from(self.new[TOTAL]) - i128::from(self.old[TOTAL])
    }
}

/// An invoice priced in one file and refused in the other, or refused in
/// both for different reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ErrorChange {
    id: String,
    old: String,
    new: String,
}

/// Everything the report says.
#[derive(Debug, Default)]
struct Report {
    compared: u64,
    changed: u64,
    unchanged: u64,
    only_in_old: u64,
    only_in_new: u64,
    errors_old: u64,
    errors_new: u64,
    /// New minus old, per field, over the compared priced invoices.
    moved: [i128; 6],
    up: (u64, i128),
    down: (u64, i128),
    /// The largest changes, largest first, at most `top`.
    largest: Vec<Change>,
    error_changes: Vec<ErrorChange>,
    error_changes_count: u64,
    only_old_labels: Vec<String>,
    only_new_labels: Vec<String>,
    top: usize,
}

impl Report {
    fn differs(&self) -> bool {
        self.changed > 0 || self.only_in_old > 0 || self.only_in_new > 0
    }

    fn pair(&mut self, old: &Record, new: &Record) {
        self.compared += 1;
        match (&old.outcome, &new.outcome) {
            (Outcome::Priced(before), Outcome::Priced(after)) => {
                if before == after {
                    self.unchanged += 1;
                    return;
                }
                self.changed += 1;
                for ((moved, b), a) in self.moved.iter_mut().zip(before).zip(after) {
                    *moved += i128::from(*a) - i128::from(*b);
                }
                let change = Change {
                    label: old.label(),
                    position: old.position,
                    old: *before,
                    new: *after,
                };
                let delta = change.total_delta();
                if delta > 0 {
                    self.up.0 += 1;
                    self.up.1 += delta;
                } else if delta < 0 {
                    self.down.0 += 1;
                    self.down.1 += delta;
                }
                self.keep_largest(change);
            }
            (Outcome::Error(before), Outcome::Error(after)) if before == after => {
                self.unchanged += 1;
            }
            _ => {
                self.changed += 1;
                self.error_changes_count += 1;
                if self.error_changes.len() < self.top {
                    self.error_changes.push(ErrorChange {
                        id: old.label(),
                        old: describe(&old.outcome),
                        new: describe(&new.outcome),
                    });
                }
            }
        }
    }

    /// Keeps the `top` largest changes seen so far, in bounded memory: the
    /// list is cut back to `top` whenever it doubles.
    fn keep_largest(&mut self, change: Change) {
        if self.top == 0 {
            return;
        }
        self.largest.push(change);
        if self.largest.len() >= 2 * self.top {
            self.cut_largest();
        }
    }

    /// Largest change of the total first; ties in file order.
    fn cut_largest(&mut self) {
        self.largest.sort_by(|a, b| {
            b.total_delta()
                .abs()
                .cmp(&a.total_delta().abs())
                .then(a.position.cmp(&b.position))
        });
        self.largest.truncate(self.top);
    }
}

/// An outcome in a few words, for the list of error changes.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Priced(cents) => format!("priced, total {}", money(i128::from(cents[TOTAL]))),
        Outcome::Error(message) => format!("error: {message}"),
    }
}

/// Records waiting for their partner, by key, first come first served.
#[derive(Default)]
struct Pending(HashMap<Key, VecDeque<Record>>);

impl Pending {
    fn take(&mut self, key: &Key) -> Option<Record> {
        let queue = self.0.get_mut(key)?;
        let record = queue.pop_front();
        if queue.is_empty() {
            self.0.remove(key);
        }
        record
    }

    fn put(&mut self, record: Record) {
        self.0.entry(record.key()).or_default().push_back(record);
    }

    /// What is left, in file order.
    fn into_sorted(self) -> Vec<Record> {
        let mut left: Vec<Record> = self.0.into_values().flatten().collect();
        left.sort_by_key(|record| record.position);
        left
    }
}

/// Reads both files in lockstep and compares each record with its partner.
fn compare(mut old: Records, mut new: Records, top: usize) -> Result<Report, AppError> {
    let mut report = Report {
        top,
        ..Report::default()
    };
    let mut waiting_old = Pending::default();
    let mut waiting_new = Pending::default();
    loop {
        let before = old.next_record()?;
        let after = new.next_record()?;
        if before.is_none() && after.is_none() {
            break;
        }
        if let Some(record) = before {
            report.errors_old += u64::from(matches!(record.outcome, Outcome::Error(_)));
            match waiting_new.take(&record.key()) {
                Some(partner) => report.pair(&record, &partner),
                None => waiting_old.put(record),
            }
        }
        if let Some(record) = after {
            report.errors_new += u64::from(matches!(record.outcome, Outcome::Error(_)));
            match waiting_old.take(&record.key()) {
                Some(partner) => report.pair(&partner, &record),
                None => waiting_new.put(record),
            }
        }
    }
    for record in waiting_old.into_sorted() {
        report.only_in_old += 1;
        if report.only_old_labels.len() < top {
            report.only_old_labels.push(record.label());
        }
    }
    for record in waiting_new.into_sorted() {
        report.only_in_new += 1;
        if report.only_new_labels.len() < top {
            report.only_new_labels.push(record.label());
        }
    }
    report.cut_largest();
    Ok(report)
}

/// Cents as a decimal amount with two places: `-1234.56`.
fn money(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let magnitude = cents.unsigned_abs();
    format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
}

/// A change of money, signed: `+5.00`, `-0.01`, `0.00`.
fn signed(cents: i128) -> String {
    if cents > 0 {
        format!("+{}", money(cents))
    } else {
        money(cents)
    }
}

/// The headline: what a reviewer reads first.
fn headline(report: &Report) -> String {
    if report.differs() {
        format!(
            "{} of {} compared invoices change; total moved {}",
            report.changed,
            report.compared,
            signed(report.moved[TOTAL])
        )
    } else {
        format!("no differences: {} invoices compared", report.compared)
    }
}

fn render_text(report: &Report, old: &Path, new: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "diff {} -> {}", old.display(), new.display());
    let _ = writeln!(out, "{}", headline(report));
    let _ = writeln!(
        out,
        "compared {}, changed {}, unchanged {}, only in old {}, only in new {}, error records old {} new {}",
        report.compared,
        report.changed,
        report.unchanged,
        report.only_in_old,
        report.only_in_new,
        report.errors_old,
        report.errors_new
    );
    let _ = writeln!(out, "money moved (new - old):");
    for (name, moved) in FIELDS.iter().zip(report.moved) {
        let _ = writeln!(out, "  {name:<17} {:>20}", signed(moved));
    }
    let _ = writeln!(
        out,
        "totals up on {} invoices ({}), down on {} ({})",
        report.up.0,
        signed(report.up.1),
        report.down.0,
        signed(report.down.1)
    );
    if !report.largest.is_empty() {
        let _ = writeln!(out, "largest changes (of the total):");
        for change in &report.largest {
            let _ = writeln!(
                out,
                "  {:<16} {:>20} -> {:>20}  {:>20}",
                change.label,
                money(i128::from(change.old[TOTAL])),
                money(i128::from(change.new[TOTAL])),
                signed(change.total_delta())
            );
        }
    }
    list_text(
        &mut out,
        "only in old",
        report.only_in_old,
        &report.only_old_labels,
    );
    list_text(
        &mut out,
        "only in new",
        report.only_in_new,
        &report.only_new_labels,
    );
    if report.error_changes_count > 0 {
        let _ = writeln!(
            out,
            "errors changed on {} invoices:",
            report.error_changes_count
        );
        for change in &report.error_changes {
            let _ = writeln!(out, "  {}: {} -> {}", change.id, change.old, change.new);
        }
    }
    out
}

fn list_text(out: &mut String, what: &str, count: u64, labels: &[String]) {
    if count == 0 {
        return;
    }
    let more = count - labels.len() as u64;
    let _ = write!(out, "{what} ({count}): {}", labels.join(", "));
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out.push('\n');
}

/// The JSON report: counts as numbers, money as signed two-decimal strings.
#[derive(Serialize)]
struct JsonReport<'a> {
    old: String,
    new: String,
    differs: bool,
    compared: u64,
    changed: u64,
    unchanged: u64,
    only_in_old: u64,
    only_in_new: u64,
    error_records_old: u64,
    error_records_new: u64,
    money_moved: JsonMoved,
    totals_up: JsonCount,
    totals_down: JsonCount,
    largest_changes: Vec<JsonChange<'a>>,
    only_in_old_ids: &'a [String],
    only_in_new_ids: &'a [String],
    error_changes: &'a [ErrorChange],
}

#[derive(Serialize)]
struct JsonMoved {
    subtotal: String,
    tier_discount: String,
    loyalty_discount: String,
    tax: String,
    late_fee: String,
    total: String,
}

#[derive(Serialize)]
struct JsonCount {
    invoices: u64,
    amount: String,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    id: &'a str,
    old_total: String,
    new_total: String,
    change: String,
}

fn render_json(report: &Report, old: &Path, new: &Path) -> String {
    let [
        subtotal,
        tier_discount,
        loyalty_discount,
        tax,
        late_fee,
        total,
    ] = report.moved.map(signed);
    let json = JsonReport {
        old: old.display().to_string(),
        new: new.display().to_string(),
        differs: report.differs(),
        compared: report.compared,
        changed: report.changed,
        unchanged: report.unchanged,
        only_in_old: report.only_in_old,
        only_in_new: report.only_in_new,
        error_records_old: report.errors_old,
        error_records_new: report.errors_new,
        money_moved: JsonMoved {
            subtotal,
            tier_discount,
            loyalty_discount,
            tax,
            late_fee,
            total,
        },
        totals_up: JsonCount {
            invoices: report.up.0,
            amount: signed(report.up.1),
        },
        totals_down: JsonCount {
            invoices: report.down.0,
            amount: signed(report.down.1),
        },
        largest_changes: report
            .largest
            .iter()
            .map(|change| JsonChange {
                id: &change.label,
                old_total: money(i128::from(change.old[TOTAL])),
                new_total: money(i128::from(change.new[TOTAL])),
                change: signed(change.total_delta()),
            })
            .collect(),
        only_in_old_ids: &report.only_old_labels,
        only_in_new_ids: &report.only_new_labels,
        error_changes: &report.error_changes,
    };
    // Serializing plain strings and integers cannot fail.
    let mut text = serde_json::to_string(&json).unwrap_or_default();
    text.push('\n');
    text
}

/// Escapes what would break a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn render_markdown(report: &Report, old: &Path, new: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#### Repricing: {}\n", headline(report));
    let _ = writeln!(
        out,
        "`{}` → `{}`\n",
        cell(&old.display().to_string()),
        cell(&new.display().to_string())
    );
    let _ = writeln!(out, "| invoices | count |\n|---|---:|");
    for (what, count) in [
        ("compared", report.compared),
        ("changed", report.changed),
        ("unchanged", report.unchanged),
        ("only in old", report.only_in_old),
        ("only in new", report.only_in_new),
        ("error records in old", report.errors_old),
        ("error records in new", report.errors_new),
    ] {
        let _ = writeln!(out, "| {what} | {count} |");
    }
    let _ = writeln!(out, "\n| money moved (new − old) | amount |\n|---|---:|");
    for (name, moved) in FIELDS.iter().zip(report.moved) {
        let _ = writeln!(out, "| {name} | {} |", signed(moved));
    }
    let _ = writeln!(
        out,
        "\nTotals up on {} invoices ({}), down on {} ({}).",
        report.up.0,
        signed(report.up.1),
        report.down.0,
        signed(report.down.1)
    );
    if !report.largest.is_empty() {
        let _ = writeln!(
            out,
            "\n**Largest changes** (top {} by change of the total)\n\n| id | old total | new total | change |\n|---|---:|---:|---:|",
            report.largest.len()
        );
        for change in &report.largest {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&change.label),
                money(i128::from(change.old[TOTAL])),
                money(i128::from(change.new[TOTAL])),
                signed(change.total_delta())
            );
        }
    }
    list_markdown(
        &mut out,
        "Only in old",
        report.only_in_old,
        &report.only_old_labels,
    );
    list_markdown(
        &mut out,
        "Only in new",
        report.only_in_new,
        &report.only_new_labels,
    );
    if report.error_changes_count > 0 {
        let _ = writeln!(
            out,
            "\n**Errors changed** on {} invoices\n\n| id | old | new |\n|---|---|---|",
            report.error_changes_count
        );
        for change in &report.error_changes {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(&change.id),
                cell(&change.old),
                cell(&change.new)
            );
        }
    }
    out
}

fn list_markdown(out: &mut String, what: &str, count: u64, labels: &[String]) {
    if count == 0 {
        return;
    }
    let shown: Vec<String> = labels
        .iter()
        .map(|label| format!("`{}`", cell(label)))
        .collect();
    let _ = write!(out, "\n**{what}** ({count}): {}", shown.join(", "));
    let more = count - labels.len() as u64;
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(name: &str, text: &str) -> Records {
        Records::new(Path::new(name), io::Cursor::new(text.as_bytes().to_vec()))
    }

    fn priced(id: &str, total: &str) -> String {
        format!(
            "{{\"id\":\"{id}\",\"subtotal\":\"{total}\",\"tier_discount\":\"0.00\",\"loyalty_discount\":\"0.00\",\"tax\":\"0.00\",\"late_fee\":\"0.00\",\"total\":\"{total}\"}}\n"
        )
    }

    fn diff(old: &str, new: &str, top: usize) -> Report {
        compare(records("old.jsonl", old), records("new.jsonl", new), top).unwrap()
    }

    fn bad(old: &str) -> String {
        match compare(records("old.jsonl", old), records("new.jsonl", ""), 10) {
            Err(error) => error.to_string(),
            Ok(report) => panic!("accepted: {report:?}"),
        }
    }

    #[test]
    fn amounts_parse_as_exact_cents_and_nothing_else_does() {
        assert_eq!(parse_cents("0.00"), Some(0));
        assert_eq!(parse_cents("141.69"), Some(14_169));
        assert_eq!(parse_cents("-22.50"), Some(-2_250));
        assert_eq!(
            parse_cents("944622000000000.00"),
            Some(94_462_200_000_000_000)
        );
        for text in [
            "",
            "1",
            "1.5",
            "1.505",
            ".50",
            "-",
            "1.-5",
            "+1.00",
            "1e2.00",
            "99999999999999999999.00",
            "0.x0",
        ] {
            assert_eq!(parse_cents(text), None, "{text:?}");
        }
    }

    #[test]
    fn money_prints_two_decimals_and_signs_changes() {
        assert_eq!(money(0), "0.00");
        assert_eq!(money(-1), "-0.01");
        assert_eq!(money(14_169), "141.69");
        assert_eq!(signed(500), "+5.00");
        assert_eq!(signed(-250), "-2.50");
        assert_eq!(signed(0), "0.00");
    }

    #[test]
    fn identical_outputs_differ_nowhere() {
        let book = format!(
            "{}{}\n{}",
            priced("A", "1.00"),
            priced("B", "2.00"),
            "{\"line\":4,\"id\":null,\"error\":\"bad\"}\n"
        );
        let report = diff(&book, &book, 10);
        assert!(!report.differs());
        assert_eq!(
            (report.compared, report.changed, report.unchanged),
            (3, 0, 3)
        );
        assert_eq!((report.errors_old, report.errors_new), (1, 1));
        assert_eq!(report.moved, [0; 6]);
        assert!(report.largest.is_empty());
    }

    #[test]
    fn a_changed_total_is_counted_summed_and_listed_by_id() {
        let old = format!(
            "{}{}{}",
            priced("A", "1.00"),
            priced("B", "2.00"),
            priced("C", "3.00")
        );
        let new = format!(
            "{}{}{}",
            priced("A", "1.50"),
            priced("B", "2.00"),
            priced("C", "1.00")
        );
        let report = diff(&old, &new, 10);
        assert!(report.differs());
        assert_eq!(
            (report.compared, report.changed, report.unchanged),
            (3, 2, 1)
        );
        assert_eq!(report.moved[0], -150);
        assert_eq!(report.moved[TOTAL], -150);
        assert_eq!(report.up, (1, 50));
        assert_eq!(report.down, (1, -200));
        let labels: Vec<&str> = report.largest.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["C", "A"]);
    }

    #[test]
    fn only_the_top_n_largest_changes_are_kept_largest_first_ties_in_file_order() {
        let mut old = String::new();
        let mut new = String::new();
        for n in 1..=50_i64 {
            old.push_str(&priced(&format!("I{n}"), "10.00"));
            // Changes of n % 7 cents: several ties.
            new.push_str(&priced(&format!("I{n}"), &money(1000 + i128::from(n % 7))));
        }
        let report = diff(&old, &new, 4);
        let labels: Vec<&str> = report.largest.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["I6", "I13", "I20", "I27"]);
        assert_eq!(report.changed, 50 - 7);
        assert!(diff(&old, &new, 0).largest.is_empty());
    }

    #[test]
    fn records_in_one_file_only_are_reported_by_id() {
        let old = format!(
            "{}{}{}",
            priced("A", "1.00"),
            priced("B", "2.00"),
            priced("C", "3.00")
        );
        let new = format!(
            "{}{}{}",
            priced("A", "1.00"),
            priced("C", "3.00"),
            priced("D", "4.00")
        );
        let report = diff(&old, &new, 10);
        assert!(report.differs());
        assert_eq!((report.compared, report.changed), (2, 0));
        assert_eq!((report.only_in_old, report.only_in_new), (1, 1));
        assert_eq!(report.only_old_labels, ["B"]);
        assert_eq!(report.only_new_labels, ["D"]);
        let text = render_text(&report, Path::new("o"), Path::new("n"));
        assert!(text.contains("only in old (1): B\n"), "{text}");
        assert!(text.contains("only in new (1): D\n"), "{text}");
    }

    #[test]
    fn out_of_order_records_still_pair_by_id() {
        let old = format!(
            "{}{}{}",
            priced("A", "1.00"),
            priced("B", "2.00"),
            priced("C", "3.00")
        );
        let new = format!(
            "{}{}{}",
            priced("C", "3.00"),
            priced("A", "1.00"),
            priced("B", "2.01")
        );
        let report = diff(&old, &new, 10);
        assert_eq!(
            (report.compared, report.changed, report.unchanged),
            (3, 1, 2)
        );
        assert_eq!((report.only_in_old, report.only_in_new), (0, 0));
        assert_eq!(report.largest[0].label, "B");
    }

    #[test]
    fn records_without_ids_pair_by_position() {
        let line = |total: &str| priced("X", total).replace("\"id\":\"X\",", "");
        let old = format!("{}{}", line("1.00"), line("2.00"));
        let new = format!("{}\n{}{}", line("1.00"), line("2.50"), line("9.00"));
        let report = diff(&old, &new, 10);
        assert_eq!((report.compared, report.changed), (2, 1));
        assert_eq!(report.largest[0].label, "record 2");
        assert_eq!(report.only_new_labels, ["record 3"]);
    }

    #[test]
    fn duplicate_ids_pair_first_with_first() {
        let old = format!("{}{}", priced("A", "1.00"), priced("A", "2.00"));
        let new = format!("{}{}", priced("A", "1.00"), priced("A", "2.00"));
        assert!(!diff(&old, &new, 10).differs());
    }

    #[test]
    fn an_invoice_that_becomes_an_error_is_a_change() {
        let old = format!("{}{}", priced("A", "1.00"), priced("B", "2.00"));
        let new = format!(
            "{}{}",
            "{\"line\":1,\"id\":\"A\",\"error\":\"line item 1: price -5 is negative\"}\n",
            "{\"line\":2,\"id\":\"B\",\"error\":\"other\"}\n"
        );
        let report = diff(&old, &new, 1);
        assert!(report.differs());
        assert_eq!((report.changed, report.error_changes_count), (2, 2));
        assert_eq!(report.error_changes.len(), 1);
        assert_eq!(report.error_changes[0].old, "priced, total 1.00");
        assert_eq!(
            report.error_changes[0].new,
            "error: line item 1: price -5 is negative"
        );
        let both = "{\"line\":1,\"id\":\"A\",\"error\":\"x\"}\n";
        let other = "{\"line\":1,\"id\":\"A\",\"error\":\"y\"}\n";
        assert_eq!(diff(both, other, 5).changed, 1);
        assert_eq!(diff(both, both, 5).changed, 0);
    }

    #[test]
    fn a_bad_record_names_the_file_and_line() {
        assert_eq!(
            bad(&format!("{}\nnot json\n", priced("A", "1.00"))),
            "old.jsonl line 3: not a record of `ledgerly invoice`: expected ident at line 1 column 2"
        );
        assert_eq!(
            bad("{\"id\":\"A\",\"total\":\"1.00\"}\n"),
            "old.jsonl line 1: not a record of `ledgerly invoice`: expected the six amounts or an error"
        );
        assert_eq!(
            bad(&priced("A", "1.5")),
            "old.jsonl line 1: subtotal \"1.5\" is not an amount with two decimals"
        );
        assert!(bad("{\"id\":\"A\",\"colour\":\"red\"}\n").contains("unknown field `colour`"));
        assert_eq!(
            bad("{\"line\":1,\"error\":\"x\",\"total\":\"1.00\"}\n"),
            "old.jsonl line 1: a record has either an error or amounts, not both"
        );
        assert_eq!(
            bad(&priced("A", "1.00").replace('{', "{\"line\":1,")),
            "old.jsonl line 1: a priced record has no line field"
        );
    }

    #[test]
    fn the_renderers_show_the_headline_money_and_largest_changes() {
        let old = format!("{}{}", priced("REF-1", "141.69"), priced("REF-2", "5.00"));
        let new = format!("{}{}", priced("REF-1", "146.69"), priced("REF-2", "5.00"));
        let report = diff(&old, &new, 10);
        let text = render_text(&report, Path::new("old.jsonl"), Path::new("new.jsonl"));
        assert!(
            text.starts_with(
                "diff old.jsonl -> new.jsonl\n1 of 2 compared invoices change; total moved +5.00\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  total                            +5.00\n"),
            "{text}"
        );
        assert!(text.contains("  REF-1                          141.69 ->               146.69                 +5.00\n"), "{text}");
        let markdown = render_markdown(&report, Path::new("old.jsonl"), Path::new("new.jsonl"));
        assert!(markdown.contains("| changed | 1 |"), "{markdown}");
        assert!(markdown.contains("| total | +5.00 |"), "{markdown}");
        assert!(
            markdown.contains("| REF-1 | 141.69 | 146.69 | +5.00 |"),
            "{markdown}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_json(&report, Path::new("o"), Path::new("n"))).unwrap();
        assert_eq!(json["differs"], true);
        assert_eq!(json["changed"].to_string(), "1");
        assert_eq!(json["money_moved"]["total"], "+5.00");
        assert_eq!(json["largest_changes"][0]["id"], "REF-1");
        assert_eq!(json["largest_changes"][0]["change"], "+5.00");
        let same = diff(&old, &old, 10);
        assert!(
            render_text(&same, Path::new("o"), Path::new("n"))
                .contains("no differences: 2 invoices compared")
        );
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn a_change_of_the_lines_alone_counts_as_changed_but_moves_no_total() {
        let old = priced("A", "1.00");
        let new = old.replace("\"tier_discount\":\"0.00\"", "\"tier_discount\":\"-0.01\"");
        let report = diff(&old, &new, 10);
        assert_eq!(
            (report.changed, report.up, report.down),
            (1, (0, 0), (0, 0))
        );
        assert_eq!(report.moved, [0, -1, 0, 0, 0, 0]);
        assert_eq!(report.largest.len(), 1);
    }

    #[test]
    fn duplicate_ids_out_of_step_still_pair_first_with_first() {
        let old = format!(
            "{}{}{}",
            priced("A", "1.00"),
            priced("A", "2.00"),
            priced("B", "3.00")
        );
        let new = format!(
            "{}{}{}",
            priced("B", "3.00"),
            priced("A", "1.00"),
            priced("A", "2.00")
        );
        let report = diff(&old, &new, 10);
        assert!(!report.differs(), "{report:?}");
        assert_eq!(report.compared, 3);
    }

    #[test]
    fn the_largest_changes_are_cut_back_to_top_only_when_twice_top_are_held() {
        let mut report = Report {
            top: 4,
            ..Report::default()
        };
        let mut lengths = Vec::new();
        for n in 0..12_u64 {
            report.keep_largest(Change {
                label: n.to_string(),
                position: n,
                old: [0; 6],
                new: [0, 0, 0, 0, 0, i64::try_from(n).unwrap()],
            });
            lengths.push(report.largest.len());
        }
        assert_eq!(lengths, [1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 4]);
        report.cut_largest();
        let labels: Vec<&str> = report.largest.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["11", "10", "9", "8"]);
    }

    #[test]
    fn lists_longer_than_top_say_how_many_more() {
        let old = format!(
            "{}{}{}",
            priced("A", "1.00"),
            priced("B", "2.00"),
            priced("C", "3.00")
        );
        let new = format!(
            "{}{}{}",
            priced("X", "1.00"),
            priced("Y", "2.00"),
            priced("Z", "3.00")
        );
        let report = diff(&old, &new, 2);
        assert_eq!((report.only_in_old, report.only_in_new), (3, 3));
        let text = render_text(&report, Path::new("o"), Path::new("n"));
        assert!(
            text.contains("only in old (3): A, B and 1 more\n"),
            "{text}"
        );
        assert!(
            text.contains("only in new (3): X, Y and 1 more\n"),
            "{text}"
        );
        let markdown = render_markdown(&report, Path::new("o"), Path::new("n"));
        assert!(
            markdown.contains("\n**Only in old** (3): `A`, `B` and 1 more\n"),
            "{markdown}"
        );
        assert!(
            markdown.contains("\n**Only in new** (3): `X`, `Y` and 1 more\n"),
            "{markdown}"
        );
        let all = diff(&old, &new, 3);
        let markdown = render_markdown(&all, Path::new("o"), Path::new("n"));
        assert!(
            markdown.contains("\n**Only in old** (3): `A`, `B`, `C`\n"),
            "{markdown}"
        );
    }

    #[test]
    fn error_changes_are_listed_in_every_format_and_absent_when_there_are_none() {
        let old = format!("{}{}", priced("A", "1.00"), priced("B", "2.00"));
        let new = format!(
            "{}{}",
            "{\"line\":1,\"id\":\"A\",\"error\":\"price | bad\"}\n",
            priced("B", "2.00")
        );
        let report = diff(&old, &new, 10);
        let text = render_text(&report, Path::new("o"), Path::new("n"));
        assert!(
            text.ends_with(
                "errors changed on 1 invoices:\n  A: priced, total 1.00 -> error: price | bad\n"
            ),
            "{text}"
        );
        let markdown = render_markdown(&report, Path::new("o"), Path::new("n"));
        assert!(
            markdown.ends_with("| A | priced, total 1.00 | error: price \\| bad |\n"),
            "{markdown}"
        );
        let json = render_json(&report, Path::new("o"), Path::new("n"));
        assert!(
            json.contains("\"error_changes\":[{\"id\":\"A\",\"old\":\"priced, total 1.00\",\"new\":\"error: price | bad\"}]"),
            "{json}"
        );
        let same = diff(&old, &old, 10);
        for rendered in [
            render_text(&same, Path::new("o"), Path::new("n")),
            render_markdown(&same, Path::new("o"), Path::new("n")),
        ] {
            assert!(
                !rendered.to_lowercase().contains("errors changed"),
                "{rendered}"
            );
            assert!(
                !rendered.to_lowercase().contains("only in old ("),
                "{rendered}"
            );
            assert!(!rendered.contains("Only in"), "{rendered}");
            assert!(
                !rendered.to_lowercase().contains("largest changes"),
                "{rendered}"
            );
        }
    }

    #[test]
    fn a_record_missing_from_either_file_alone_is_a_difference() {
        let one = priced("A", "1.00");
        let two = format!("{}{}", priced("A", "1.00"), priced("B", "2.00"));
        let extra = diff(&one, &two, 10);
        assert_eq!(
            (extra.changed, extra.only_in_old, extra.only_in_new),
            (0, 0, 1)
        );
        assert!(extra.differs());
        let missing = diff(&two, &one, 10);
        assert_eq!(
            (missing.changed, missing.only_in_old, missing.only_in_new),
            (0, 1, 0)
        );
        assert!(missing.differs());
    }
}
