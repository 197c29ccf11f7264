//! How priced invoices and error records are written: an aligned text
//! breakdown, one JSON object, JSON Lines or CSV.
//!
//! Every writer appends to an `io::Write`. The batch path writes into a
//! `Vec<u8>` per chunk of invoices and hands the bytes to the output thread,
//! so these functions are on the hot path: amounts are written as digits
//! directly rather than through `fmt`.

use std::collections::HashMap;
use std::fmt::Display;
use std::io::{self, Write};

use pricing::{Breakdown, Money, Tier};

use crate::batch::read::fields::printable;

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

/// The most bytes [`put_money`] writes: an i64 of cents has at most 19
/// digits; with the sign and the point that is 21.
const MONEY_ROOM: usize = 21;

/// Writes `money` as `Display` prints it into `buffer` at `at` and returns
/// where it ends. The batch output writes six amounts per invoice, millions
/// of times, so the length is worked out first and the digits are written
/// in place right to left, two at a time, with no intermediate copy.
fn put_money<const N: usize>(buffer: &mut [u8; N], at: usize, money: Money) -> usize {
    let cents = money.minor_units().unsigned_abs();
    let mut whole = cents / 100;
    // No whole units at all print as `0`, one digit.
    let whole_digits = whole.checked_ilog10().map_or(1, |log| log as usize + 1);
    let sign = usize::from(money.minor_units() < 0);
    let end = at + sign + whole_digits + 3;
    let point = end - 3;
    buffer[point..end].copy_from_slice(&{
        let [tens, units] = two_digits(cents);
        [b'.', tens, units]
    });
    let mut digit_end = point;
    while whole >= 10 {
        buffer[digit_end - 2..digit_end].copy_from_slice(&two_digits(whole));
        digit_end -= 2;
        whole /= 100;
    }
    if digit_end > at + sign {
        buffer[digit_end - 1] = two_digits(whole)[1];
    }
    if sign == 1 {
        buffer[at] = b'-';
    }
    end
}

/// Copies `bytes` into `buffer` at `at` and returns where they end. Small
/// enough to be inlined, so copies of constant prefixes become a few moves.
fn put<const N: usize>(buffer: &mut [u8; N], at: usize, bytes: &[u8]) -> usize {
    let end = at + bytes.len();
    buffer[at..end].copy_from_slice(bytes);
    end
}

/// The last two ASCII digits of `value`.
fn two_digits(value: u64) -> [u8; 2] {
    const PAIRS: &[u8; 200] = b"\
        0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let index = (value % 100) as usize * 2;
    [PAIRS[index], PAIRS[index + 1]]
}

/// Appends `text` as a JSON string literal, escaped as JSON requires.
fn write_json_string(out: &mut Vec<u8>, text: &str) -> io::Result<()> {
    // Ids rarely need escaping; copying those directly skips setting up a
    // serializer for each record. Anything else goes through `serde_json`.
    if text
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
    {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    serde_json::to_writer(out, text).map_err(io::Error::from)
}

/// What precedes each amount of a priced JSON record, in the order of
/// [`Breakdown::lines`] and then the total. Written out whole, so each is
/// one fixed-size copy on the hot path; a test checks them against the
/// names `Breakdown::lines` gives.
const JSON_AMOUNT_PREFIXES: [&[u8]; 6] = [
    b"\"subtotal\":\"",
    b"\",\"tier_discount\":\"",
    b"\",\"loyalty_discount\":\"",
    b"\",\"tax\":\"",
    b"\",\"late_fee\":\"",
    b"\",\"total\":\"",
];

/// Room for the amounts of a priced JSON record and their keys, exactly:
/// the prefixes' 87 bytes, six amounts of at most [`MONEY_ROOM`] bytes, and
/// the closing three (a test adds them up).
const JSON_AMOUNTS_ROOM: usize = 87 + 6 * MONEY_ROOM + 3;

/// Appends a priced invoice as one JSON object on one line: `id` (only when
/// the input had one), then the breakdown lines and the total, each a string
/// with exactly two decimals.
pub(crate) fn write_json_priced(
    out: &mut Vec<u8>,
    id: Option<&str>,
    breakdown: &Breakdown,
) -> io::Result<()> {
    out.push(b'{');
    if let Some(id) = id {
        out.extend_from_slice(b"\"id\":");
        write_json_string(out, id)?;
        out.push(b',');
    }
    let [
        (_, subtotal),
        (_, tier),
        (_, loyalty),
        (_, tax),
        (_, late_fee),
    ] = breakdown.lines();
    // The amounts and their keys go into one stack buffer, appended to the
    // output in one copy: the prefixes are constants and the amounts are
    // written in place, so nothing else is copied.
    let mut record = [0_u8; JSON_AMOUNTS_ROOM];
    let [p0, p1, p2, p3, p4, p5] = JSON_AMOUNT_PREFIXES;
    let mut end = put(&mut record, 0, p0);
    end = put_money(&mut record, end, subtotal);
    end = put(&mut record, end, p1);
    end = put_money(&mut record, end, tier);
    end = put(&mut record, end, p2);
    end = put_money(&mut record, end, loyalty);
    end = put(&mut record, end, p3);
    end = put_money(&mut record, end, tax);
    end = put(&mut record, end, p4);
    end = put_money(&mut record, end, late_fee);
    end = put(&mut record, end, p5);
    end = put_money(&mut record, end, breakdown.total());
    end = put(&mut record, end, b"\"}\n");
    out.extend_from_slice(&record[..end]);
    Ok(())
}

/// Appends an error record as one JSON object on one line:
/// `{"line": N, "id": …, "error": "…"}`, with `id` null when the invoice's
/// id could not be read.
pub(crate) fn write_json_error(
    out: &mut Vec<u8>,
    line: u64,
    id: Option<&str>,
    error: &dyn Display,
) -> io::Result<()> {
    out.extend_from_slice(b"{\"line\":");
    out.extend_from_slice(itoa::Buffer::new().format(line).as_bytes());
    out.extend_from_slice(b",\"id\":");
    match id {
        Some(id) => write_json_string(out, id)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"error\":");
    write_json_string(out, &error.to_string())?;
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Appends the aligned breakdown: labels on the left, amounts right-aligned
/// in one column as wide as the widest amount. Written into one stack
/// buffer with the amounts' digits put in place, as the JSON and CSV
/// records are, so text output costs about what they cost.
pub(crate) fn write_text_breakdown(out: &mut impl Write, breakdown: &Breakdown) -> io::Result<()> {
    let mut amounts = [[0_u8; MONEY_ROOM]; 6];
    let mut lengths = [0_usize; 6];
    for ((amount, length), money) in amounts
        .iter_mut()
        .zip(&mut lengths)
        .zip(breakdown.amounts())
    {
        *length = put_money(amount, 0, money);
    }
    let width = lengths.iter().copied().max().unwrap_or(0);
    let mut buffer = [b' '; TEXT_BREAKDOWN_ROOM];
    let mut at = 0;
    for ((label, amount), length) in TEXT_LABELS.iter().zip(&amounts).zip(lengths) {
        buffer[at..at + label.len()].copy_from_slice(label.as_bytes());
        // The buffer starts as spaces: padding is a jump, not a write.
        at += LABEL_WIDTH + COLUMN_GAP + width - length;
        buffer[at..at + length].copy_from_slice(&amount[..length]);
        at += length;
        buffer[at] = b'\n';
        at += 1;
    }
    out.write_all(&buffer[..at])
}

/// Room for the six lines of a text breakdown, each as wide as it can be.
const TEXT_BREAKDOWN_ROOM: usize = 6 * (LABEL_WIDTH + COLUMN_GAP + MONEY_ROOM + 1);

/// Appends the heading of one invoice in batch text output.
fn write_text_heading(out: &mut impl Write, line: u64, id: Option<&str>) -> io::Result<()> {
    // Text is for people and terminals: a control character in an id
    // (a line break faking a breakdown line, an escape sequence) is shown
    // escaped, never acted on.
    let mut digits = itoa::Buffer::new();
    let line = digits.format(line);
    match id {
        Some(id) => {
            out.write_all(b"invoice ")?;
            out.write_all(printable(id).as_bytes())?;
            out.write_all(b" (line ")?;
        }
        None => out.write_all(b"invoice at line ")?,
    }
    out.write_all(line.as_bytes())?;
    out.write_all(if id.is_some() { b")\n" } else { b"\n" })
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
    writeln!(out, "error: {}", printable(&error.to_string()))?;
    out.write_all(b"\n")
}

/// Appends `text` as one CSV text field: every CSV output of ledgerly
/// writes its text through here (the batch records, `invoices` and
/// `sandbox captures`), so one function answers what a cell can hold.
///
/// It is quoted the way the `csv` crate quotes when it must (a comma, a
/// quote, `\r` or `\n` inside; quotes doubled), so the rows are what a CSV
/// reader expects (a unit test compares the two). Writing the row in place
/// instead of through a `csv::Writer` per row (which allocates and zeroes
/// an 8 KiB buffer each time) is what makes CSV output as cheap as JSON
/// Lines.
///
/// Text that begins with `=`, `+`, `-`, `@`, a tab or `\r` would be run as
/// a formula by a spreadsheet that opens the file (OWASP's "CSV
/// injection": an id `=HYPERLINK(…)` in an export is a link that leaks
/// the sheet), so it gets a leading `'`, as OWASP recommends. Text that
/// begins with `'` gets one too, so the rule is reversible: a reader drops
/// one leading `'` from a cell that has one and has the text back. Numbers
/// ledgerly formats itself (an amount such as `-22.50`, a count) are not
/// text and do not come here: they stay numbers.
pub(crate) fn put_csv_field(out: &mut Vec<u8>, text: &str) {
    let formula = matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    );
    if !text
        .bytes()
        .any(|byte| matches!(byte, b',' | b'"' | b'\r' | b'\n'))
    {
        if formula {
            out.push(b'\'');
        }
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    if formula {
        out.push(b'\'');
    }
    for (index, part) in text.split('"').enumerate() {
        if index > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(part.as_bytes());
    }
    out.push(b'"');
}

/// A cell of a CSV row.
pub(crate) enum CsvCell {
    /// Text from an input or the books (an id, a name, a message), written
    /// by [`put_csv_field`].
    Text(String),
    /// A number ledgerly formatted itself (an amount, a count): digits, a
    /// sign and a point, which need no quotes, written as they are so a
    /// negative amount stays a number.
    Number(String),
}

/// Appends one CSV row of `cells` and its line end.
pub(crate) fn put_csv_row(out: &mut Vec<u8>, cells: &[CsvCell]) {
    for (index, cell) in cells.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        match cell {
            CsvCell::Text(text) => put_csv_field(out, text),
            CsvCell::Number(number) => out.extend_from_slice(number.as_bytes()),
        }
    }
    out.push(b'\n');
}

/// Room for the row's end (`,` for the empty error field, then `\n`) and
/// the six amounts of a CSV row, each after its comma: 134 bytes.
const CSV_AMOUNTS_ROOM: usize = 2 + 6 * (1 + MONEY_ROOM);

/// Appends a priced invoice as a CSV row: line, id, the amounts, no error.
pub(crate) fn write_csv_priced(
    out: &mut Vec<u8>,
    line: u64,
    id: Option<&str>,
    breakdown: &Breakdown,
) {
    out.extend_from_slice(itoa::Buffer::new().format(line).as_bytes());
    out.push(b',');
    put_csv_field(out, id.unwrap_or(""));
    let mut buffer = [0_u8; CSV_AMOUNTS_ROOM];
    let mut at = 0;
    for money in breakdown.amounts() {
        buffer[at] = b',';
        at = put_money(&mut buffer, at + 1, money);
    }
    // The empty error field, and the end of the row.
    at = put(&mut buffer, at, b",\n");
    out.extend_from_slice(&buffer[..at]);
}

/// Appends an error record as a CSV row: line, id, empty amounts, the error.
pub(crate) fn write_csv_error(out: &mut Vec<u8>, line: u64, id: Option<&str>, error: &dyn Display) {
    out.extend_from_slice(itoa::Buffer::new().format(line).as_bytes());
    out.push(b',');
    put_csv_field(out, id.unwrap_or(""));
    out.extend_from_slice(b",,,,,,,");
    put_csv_field(out, &error.to_string());
    out.push(b'\n');
}

/// The output of one chunk of a batch: the records' bytes in input order,
/// what they counted, and the unknown tier names they priced with.
#[derive(Debug)]
pub(crate) struct Records {
    format: Format,
    bytes: Vec<u8>,
    invoices: u64,
    invalid: u64,
    /// Each unknown tier name priced in this chunk, in order, with how many
    /// invoices had it.
    unknown_tiers: Vec<(String, u64)>,
    tier_index: HashMap<String, usize>,
}

impl Records {
    /// An empty chunk of records in `format`, written into `buffer`.
    pub(crate) fn new(format: Format, mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        Records {
            format,
            bytes: buffer,
            invoices: 0,
            invalid: 0,
            unknown_tiers: Vec::new(),
            tier_index: HashMap::new(),
        }
    }

    /// Appends the record of an invoice priced as `breakdown`, counting
    /// `tier` when pricing did not know it. Pricing itself is the chunk
    /// pricer's (`batch::pricer`): writers only write.
    pub(crate) fn priced(
        &mut self,
        line: u64,
        id: Option<&str>,
        breakdown: &Breakdown,
        tier: &Tier,
    ) -> io::Result<()> {
        if let Tier::Unrecognized(name) = tier {
            // A map, not a search of the list: a chunk can hold thousands
            // of distinct names, and time must stay linear.
            if let Some(&at) = self.tier_index.get(name) {
                self.unknown_tiers[at].1 += 1;
            } else {
                self.tier_index
                    .insert(name.clone(), self.unknown_tiers.len());
                self.unknown_tiers.push((name.clone(), 1));
            }
        }
        self.invoices += 1;
        let out = &mut self.bytes;
        match self.format {
            Format::Json | Format::Jsonl => write_json_priced(out, id, breakdown),
            Format::Csv => {
                write_csv_priced(out, line, id, breakdown);
                Ok(())
            }
            Format::Text => write_text_priced(out, line, id, breakdown),
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
            Format::Csv => {
                write_csv_error(out, line, id, error);
                Ok(())
            }
            Format::Text => write_text_error(out, line, id, error),
        }
    }

    /// The records' bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The records' bytes, to reuse the buffer.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// How many input invoices these records stand for.
    pub(crate) fn invoices(&self) -> u64 {
        self.invoices
    }

    /// How many of them were invalid.
    pub(crate) fn invalid(&self) -> u64 {
        self.invalid
    }

    /// The unknown tier names priced in this chunk, each once, in order,
    /// with how many invoices had each.
    pub(crate) fn unknown_tiers(&self) -> &[(String, u64)] {
        &self.unknown_tiers
    }
}

#[cfg(test)]
mod tests;
