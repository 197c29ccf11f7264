//! How priced invoices and error records are written: an aligned text
//! breakdown, one JSON object, JSON Lines or CSV.
//!
//! Every writer appends to an `io::Write`. The batch path writes into a
//! `Vec<u8>` per chunk of invoices and hands the bytes to the output thread,
//! so these functions are on the hot path: amounts are written as digits
//! directly rather than through `fmt`.

use std::fmt::Display;
use std::io::{self, Write};

use pricing::{Breakdown, Money, PricingInput, Tier};

/// The output formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// An aligned, itemized breakdown for people.
    Text,
    /// One JSON object (one invoice from flags only).
    Json,
    /// One JSON object per line, one line per input invoice.
    Jsonl,
    /// A header, then one CSV row per input invoice.
    Csv,
}

/// The CSV output header. `line` is the input line each invoice starts on
/// (or the line at fault, for an error record); `error` is empty for a
/// priced invoice and the amounts are empty for an error record.
pub(crate) const CSV_HEADER: &str =
    "line,id,subtotal,tier_discount,loyalty_discount,tax,late_fee,total,error\n";

/// The labels of the text breakdown, in invoice order, with the total last.
const TEXT_LABELS: [&str; 6] = [
    "subtotal",
    "tier discount",
    "loyalty discount",
    "tax",
    "late fee",
    "total",
];

/// The width of the label column: the longest label.
const LABEL_WIDTH: usize = 16;

/// Spaces between the label column and the widest amount.
const COLUMN_GAP: usize = 3;

/// A stack buffer that renders an amount exactly as [`Money`]'s `Display`
/// prints it (`-22.50`), without going through `fmt`.
#[derive(Default)]
struct MoneyText {
    buf: itoa::Buffer,
    bytes: [u8; 24],
}

impl MoneyText {
    /// The amount's text: an optional `-`, the whole units, `.`, two digits.
    fn format(&mut self, money: Money) -> &[u8] {
        let cents = money.minor_units();
        let abs = cents.unsigned_abs();
        let whole = self.buf.format(abs / 100).as_bytes();
        let mut len = 0;
        if cents < 0 {
            self.bytes[0] = b'-';
            len = 1;
        }
        // `whole` has at most 18 digits (i64::MIN / 100), so sign, digits,
        // point and two decimals fit the 24-byte buffer.
        self.bytes[len..len + whole.len()].copy_from_slice(whole);
        len += whole.len();
        let [tens, units] = two_digits(abs % 100);
        self.bytes[len] = b'.';
        self.bytes[len + 1] = tens;
        self.bytes[len + 2] = units;
        &self.bytes[..len + 3]
    }
}

/// The two ASCII digits of a number below 100.
fn two_digits(below_hundred: u64) -> [u8; 2] {
    let digit = |value: u64| b'0' + (value % 10) as u8;
    [digit(below_hundred / 10), digit(below_hundred)]
}

/// Appends `text` as a JSON string literal, escaped as JSON requires.
fn write_json_string(out: &mut impl Write, text: &str) -> io::Result<()> {
    serde_json::to_writer(out, text).map_err(io::Error::from)
}

/// Appends a priced invoice as one JSON object on one line: `id` (only when
/// the input had one), then the breakdown lines and the total, each a string
/// with exactly two decimals.
pub(crate) fn write_json_priced(
    out: &mut impl Write,
    id: Option<&str>,
    breakdown: &Breakdown,
) -> io::Result<()> {
    out.write_all(b"{")?;
    if let Some(id) = id {
        out.write_all(b"\"id\":")?;
        write_json_string(out, id)?;
        out.write_all(b",")?;
    }
    let mut text = MoneyText::default();
    for (name, amount) in breakdown.lines() {
        out.write_all(b"\"")?;
        out.write_all(name.as_bytes())?;
        out.write_all(b"\":\"")?;
        out.write_all(text.format(amount))?;
        out.write_all(b"\",")?;
    }
    out.write_all(b"\"total\":\"")?;
    out.write_all(text.format(breakdown.total()))?;
    out.write_all(b"\"}\n")
}

/// Appends an error record as one JSON object on one line:
/// `{"line": N, "id": …, "error": "…"}`, with `id` null when the invoice's
/// id could not be read.
pub(crate) fn write_json_error(
    out: &mut impl Write,
    line: u64,
    id: Option<&str>,
    error: &dyn Display,
) -> io::Result<()> {
    out.write_all(b"{\"line\":")?;
    out.write_all(itoa::Buffer::new().format(line).as_bytes())?;
    out.write_all(b",\"id\":")?;
    match id {
        Some(id) => write_json_string(out, id)?,
        None => out.write_all(b"null")?,
    }
    out.write_all(b",\"error\":")?;
    write_json_string(out, &error.to_string())?;
    out.write_all(b"}\n")
}

/// Appends the aligned breakdown: labels on the left, amounts right-aligned
/// in one column as wide as the widest amount.
pub(crate) fn write_text_breakdown(out: &mut impl Write, breakdown: &Breakdown) -> io::Result<()> {
    let lines = breakdown.lines();
    let amounts = [
        lines[0].1,
        lines[1].1,
        lines[2].1,
        lines[3].1,
        lines[4].1,
        breakdown.total(),
    ];
    let texts = amounts.map(|amount| amount.to_string());
    let width = texts.iter().map(String::len).max().unwrap_or(0);
    for (label, text) in TEXT_LABELS.iter().zip(&texts) {
        writeln!(
            out,
            "{label:<LABEL_WIDTH$}{:gap$}{text:>width$}",
            "",
            gap = COLUMN_GAP
        )?;
    }
    Ok(())
}

/// Appends the heading of one invoice in batch text output.
fn write_text_heading(out: &mut impl Write, line: u64, id: Option<&str>) -> io::Result<()> {
    match id {
        Some(id) => writeln!(out, "invoice {id} (line {line})"),
        None => writeln!(out, "invoice at line {line}"),
    }
}

/// Appends one priced invoice of a batch as text: a heading, the aligned
/// breakdown and a blank line.
pub(crate) fn write_text_priced(
    out: &mut impl Write,
    line: u64,
    id: Option<&str>,
    breakdown: &Breakdown,
) -> io::Result<()> {
    write_text_heading(out, line, id)?;
    write_text_breakdown(out, breakdown)?;
    out.write_all(b"\n")
}

/// Appends one error record of a batch as text: a heading, the error and a
/// blank line.
pub(crate) fn write_text_error(
    out: &mut impl Write,
    line: u64,
    id: Option<&str>,
    error: &dyn Display,
) -> io::Result<()> {
    write_text_heading(out, line, id)?;
    writeln!(out, "error: {error}")?;
    out.write_all(b"\n")
}

/// Appends one CSV row under [`CSV_HEADER`].
fn write_csv_row(out: &mut impl Write, fields: &[&str; 9]) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    writer.write_record(fields).map_err(io::Error::from)?;
    writer.flush()
}

/// Appends a priced invoice as a CSV row: line, id, the amounts, no error.
pub(crate) fn write_csv_priced(
    out: &mut impl Write,
    line: u64,
    id: Option<&str>,
    breakdown: &Breakdown,
) -> io::Result<()> {
    let lines = breakdown.lines();
    let line = line.to_string();
    let amounts = [
        lines[0].1.to_string(),
        lines[1].1.to_string(),
        lines[2].1.to_string(),
        lines[3].1.to_string(),
        lines[4].1.to_string(),
        breakdown.total().to_string(),
    ];
    write_csv_row(
        out,
        &[
            &line,
            id.unwrap_or(""),
            &amounts[0],
            &amounts[1],
            &amounts[2],
            &amounts[3],
            &amounts[4],
            &amounts[5],
            "",
        ],
    )
}

/// Appends an error record as a CSV row: line, id, empty amounts, the error.
pub(crate) fn write_csv_error(
    out: &mut impl Write,
    line: u64,
    id: Option<&str>,
    error: &dyn Display,
) -> io::Result<()> {
    let line = line.to_string();
    let error = error.to_string();
    write_csv_row(
        out,
        &[&line, id.unwrap_or(""), "", "", "", "", "", "", &error],
    )
}

/// The output of one chunk of a batch: the records' bytes in input order,
/// what they counted, and the unknown tier names they priced with.
#[derive(Debug)]
pub(crate) struct Records {
    format: Format,
    bytes: Vec<u8>,
    invoices: u64,
    invalid: u64,
    unknown_tiers: Vec<String>,
}

impl Records {
    /// An empty chunk of records in `format`, with room for `capacity` bytes.
    pub(crate) fn new(format: Format, capacity: usize) -> Self {
        Records {
            format,
            bytes: Vec::with_capacity(capacity),
            invoices: 0,
            invalid: 0,
            unknown_tiers: Vec::new(),
        }
    }

    /// Prices one invoice and appends its record, or its error record when
    /// pricing refuses it.
    pub(crate) fn price(
        &mut self,
        line: u64,
        id: Option<&str>,
        input: &PricingInput,
    ) -> io::Result<()> {
        let breakdown = match pricing::price(input) {
            Ok(breakdown) => breakdown,
            Err(error) => return self.reject(line, id, &error),
        };
        if let Tier::Unrecognized(name) = input.tier()
            && !self.unknown_tiers.contains(name)
        {
            self.unknown_tiers.push(name.clone());
        }
        self.invoices += 1;
        let out = &mut self.bytes;
        match self.format {
            Format::Json | Format::Jsonl => write_json_priced(out, id, &breakdown),
            Format::Csv => write_csv_priced(out, line, id, &breakdown),
            Format::Text => write_text_priced(out, line, id, &breakdown),
        }
    }

    /// Appends the error record of an invalid invoice.
    pub(crate) fn reject(
        &mut self,
        line: u64,
        id: Option<&str>,
        error: &dyn Display,
    ) -> io::Result<()> {
        self.invoices += 1;
        self.invalid += 1;
        let out = &mut self.bytes;
        match self.format {
            Format::Json | Format::Jsonl => write_json_error(out, line, id, error),
            Format::Csv => write_csv_error(out, line, id, error),
            Format::Text => write_text_error(out, line, id, error),
        }
    }

    /// The records' bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many input invoices these records stand for.
    pub(crate) fn invoices(&self) -> u64 {
        self.invoices
    }

    /// How many of them were invalid.
    pub(crate) fn invalid(&self) -> u64 {
        self.invalid
    }

    /// The unknown tier names priced in this chunk, each once, in order.
    pub(crate) fn unknown_tiers(&self) -> &[String] {
        &self.unknown_tiers
    }
}
