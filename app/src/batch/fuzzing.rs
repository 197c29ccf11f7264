//! What the fuzz targets in `fuzz/` drive: the batch path on bytes in
//! memory, and the oracle that checks what it wrote. Not an API for other
//! crates; it is public only because a fuzz target is another crate.
//!
//! [`check`] runs the real batch pipeline (line blocks or CSV invoices,
//! worker threads, in-order writer, the real output writers) and holds its
//! output to what a plain serial read of the same input says it must be:
//!
//! - exactly one output record per input invoice (per non-blank JSON Lines
//!   line, per group of CSV rows), in input order, each naming its line,
//!   with three workers and blocks of a few bytes;
//! - the JSON Lines output (one worker, one block) telling the same story
//!   as the CSV output;
//! - every priced record's breakdown adding up to its total, to the cent,
//!   and matching `pricing::price` of the invoice the reader read.
//!
//! Every breach is an `Err` naming it; the fuzz target turns it into a
//! crash, and a regression test (`app/tests/integration/fuzz_regressions.rs`) replays
//! every seed and every crash found through the same function.
//!
//! # Example
//!
//! The batch path the fuzz targets drive, on bytes in memory: one output
//! record per input invoice, in input order, each naming its input line
//! (40.00 × 3 plus 8 % tax is 129.60; line 3 is not JSON).
//!
//! ```
//! use ledgerly::fuzzing::{self, InputFormat};
//!
//! let input = b"{\"id\":\"A\",\"line_items\":[{\"price\":\"40.00\",\"quantity\":3}]}\n\nnot json\n";
//! let records = fuzzing::price_batch(input, InputFormat::Jsonl).unwrap();
//! assert_eq!(records.len(), 2);
//! assert_eq!((records[0].line, records[0].total.as_deref()), (1, Some("129.60")));
//! assert_eq!((records[1].line, records[1].total.as_deref()), (3, None));
//! ```

use std::fmt::Display;
use std::io;
use std::time::Duration;

use pricing::{Breakdown, PricingInput};

use crate::batch::pool::BufferPool;
use crate::batch::pricer::{Job, PriceError, Source, price_all};
use crate::batch::read::csv::{CsvInputError, CsvInvoices};
use crate::batch::read::jsonl;
use crate::batch::read::lines::{LineBlocks, LineTooLong, MAX_LINE, numbered_lines};
use crate::batch::write::{CSV_HEADER, Format};
use crate::progress::Diagnostics;

/// The format of the input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON invoice per line.
    Jsonl,
    /// The CSV header, then one row per line item.
    Csv,
}

/// One output record, as the batch's CSV output states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The input line the record names: the invoice's first line, or the
    /// line at fault for an error record.
    pub line: u64,
    /// The invoice id, empty when there is none.
    pub id: String,
    /// The total as written, for a priced record.
    pub total: Option<String>,
    /// Subtotal, tier discount, loyalty discount, tax, late fee and total,
    /// as written, for a priced record.
    pub amounts: Option<[String; 6]>,
    /// The error message, for an error record.
    pub error: Option<String>,
}

/// How the batch is cut up: one worker with blocks larger than any fuzz
/// input, or several workers with tiny blocks, so that block and chunk
/// boundaries fall everywhere and chunks come back out of turn.
#[derive(Debug, Clone, Copy)]
struct Shape {
    workers: usize,
    block_size: usize,
    csv_chunk: usize,
}

const SERIAL: Shape = Shape {
    workers: 1,
    block_size: 1 << 16,
    csv_chunk: 4096,
};

const PARALLEL: Shape = Shape {
    workers: 3,
    block_size: 7,
    csv_chunk: 2,
};

/// Prices `input` through the batch path (one worker) and reads its CSV
/// output back as records; `Err` when the input cannot be read at all (a
/// CSV input without the header) or the output is malformed.
pub fn price_batch(input: &[u8], format: InputFormat) -> Result<Vec<Record>, String> {
    let output = run_batch(input, format, Format::Csv, SERIAL)?;
    read_csv_output(&output)
}

/// Prices `input` through the batch path twice (CSV output on three
/// workers, JSON Lines output on one) and checks both outputs against a
/// plain serial read of the input (see the module documentation). Returns the records, or what was breached.
/// A CSV input without the header must be refused, and that is `Ok` with
/// no records.
pub fn check(input: &[u8], format: InputFormat) -> Result<Vec<Record>, String> {
    // The CSV output names every record's line, so it is the one that shows
    // the order; it comes from the parallel run with its tiny blocks.
    let output = run_batch(input, format, Format::Csv, PARALLEL);
    let (output, expected) = match (output, expected_records(input, format)) {
        (Err(error), Err(expected)) if error == expected => return Ok(Vec::new()),
        (Ok(output), Ok(expected)) => (output, expected),
        (got, expected) => {
            return Err(format!(
                "the batch and a plain read disagree on refusing the input: {got:?} against {expected:?}"
            ));
        }
    };
    let records = read_csv_output(&output)?;
    if records.len() != expected.len() {
        return Err(format!(
            "{} output records for {} input invoices",
            records.len(),
            expected.len()
        ));
    }
    for (index, (got, want)) in records.iter().zip(&expected).enumerate() {
        if got != want {
            return Err(format!(
                "record {index}: wrote {got:?}, the input says {want:?}"
            ));
        }
        adds_up(got).map_err(|error| format!("record {index}: {error}"))?;
    }
    check_invoice_count(input, format, &records)?;

    let jsonl = run_batch(input, format, Format::Jsonl, SERIAL)?;
    let jsonl_records = read_jsonl_output(&jsonl)?;
    if jsonl_records.len() != records.len() {
        return Err(format!(
            "{} JSON Lines records but {} CSV records",
            jsonl_records.len(),
            records.len()
        ));
    }
    for (index, (from_jsonl, from_csv)) in jsonl_records.iter().zip(&records).enumerate() {
        // A priced JSON record carries no line number.
        let line_agrees = from_jsonl.error.is_none() || from_jsonl.line == from_csv.line;
        let same = from_jsonl.id == from_csv.id
            && from_jsonl.amounts == from_csv.amounts
            && from_jsonl.error == from_csv.error;
        if !(same && line_agrees) {
            return Err(format!(
                "record {index}: JSON Lines wrote {from_jsonl:?}, CSV wrote {from_csv:?}"
            ));
        }
    }
    Ok(records)
}

/// Runs the batch pipeline on `input` and returns its output bytes, or the
/// message of the error that stopped it.
fn run_batch(
    input: &[u8],
    input_format: InputFormat,
    format: Format,
    shape: Shape,
) -> Result<Vec<u8>, String> {
    let source = match input_format {
        InputFormat::Jsonl => Source::Jsonl {
            block_size: shape.block_size,
        },
        // Chunks of a few bytes: every invoice boundary is a chunk's.
        InputFormat::Csv => Source::Csv {
            block_size: shape.block_size,
            chunk_bytes: shape.csv_chunk,
        },
    };
    let mut out = Vec::new();
    let mut diagnostics = Diagnostics::new(io::sink(), false, Duration::ZERO);
    let job = Job {
        source,
        format,
        workers: shape.workers,
    };
    price_all(
        input,
        job,
        &mut out,
        &mut diagnostics,
        &BufferPool::default(),
    )
    .map_err(|error| match error {
        PriceError::Csv(error) => error.to_string(),
        PriceError::Batch(error) => error.to_string(),
    })?;
    Ok(out)
}

/// The record an invoice must yield, worked out without the batch path:
/// priced by `pricing::price` and written with `Money`'s `Display`.
fn expected(line: u64, id: Option<&str>, input: Result<&PricingInput, &dyn Display>) -> Record {
    let id = id.unwrap_or_default().to_owned();
    let refused = |error: &dyn Display| Record {
        line,
        id: id.clone(),
        total: None,
        amounts: None,
        error: Some(error.to_string()),
    };
    match input.map(pricing::price) {
        Ok(Ok(breakdown)) => priced(line, id.clone(), &breakdown),
        Ok(Err(error)) => refused(&error),
        Err(error) => refused(error),
    }
}

fn priced(line: u64, id: String, breakdown: &Breakdown) -> Record {
    let amounts = breakdown.amounts().map(|money| money.to_string());
    Record {
        line,
        id,
        total: Some(amounts[5].clone()),
        amounts: Some(amounts),
        error: None,
    }
}

/// The records a plain serial read of `input` calls for, or the message of
/// the refusal of the whole input.
fn expected_records(input: &[u8], format: InputFormat) -> Result<Vec<Record>, String> {
    match format {
        InputFormat::Jsonl => Ok(numbered_lines(1, input)
            .filter(|(_, bytes)| !bytes.iter().all(u8::is_ascii_whitespace))
            .map(|(line, bytes)| {
                if bytes.len() > MAX_LINE {
                    return expected(line, None, Err(&LineTooLong));
                }
                match jsonl::parse_line(bytes) {
                    Ok(invoice) => expected(line, invoice.id.as_deref(), Ok(&invoice.input)),
                    Err(rejected) => expected(line, rejected.id.as_deref(), Err(&rejected.error)),
                }
            })
            .collect()),
        InputFormat::Csv => {
            // One block holding the whole input: a plain serial read.
            let pool = BufferPool::default();
            let blocks = LineBlocks::new(input, &pool, input.len().max(1), MAX_LINE);
            let invoices = CsvInvoices::new(blocks, &pool).map_err(|error| error.to_string())?;
            invoices
                .map(|invoice| {
                    let invoice =
                        invoice.map_err(|error| CsvInputError::Read(error).to_string())?;
                    let input = invoice
                        .input
                        .as_ref()
                        .map_err(|error| error as &dyn Display);
                    Ok(expected(invoice.line, invoice.id.as_deref(), input))
                })
                .collect()
        }
    }
}

/// Counts the input's invoices a second way, independently of the readers'
/// own grouping: non-blank lines of JSON Lines; for CSV, runs of rows
/// sharing a non-empty `invoice_id`, every row with an empty id on its own.
/// Each record must name a line of its own invoice.
fn check_invoice_count(
    input: &[u8],
    format: InputFormat,
    records: &[Record],
) -> Result<(), String> {
    let invoices: Vec<Vec<u64>> = match format {
        InputFormat::Jsonl => input
            .split(|&byte| byte == b'\n')
            .zip(1..)
            .filter(|(bytes, _)| !bytes.iter().all(u8::is_ascii_whitespace))
            .map(|(_, line)| vec![line])
            .collect(),
        InputFormat::Csv => csv_row_groups(input),
    };
    if invoices.len() != records.len() {
        return Err(format!(
            "the input holds {} invoices but {} records were written",
            invoices.len(),
            records.len()
        ));
    }
    for (index, (lines, record)) in invoices.iter().zip(records).enumerate() {
        if !lines.contains(&record.line) {
            return Err(format!(
                "record {index} names line {}, not a line of its invoice (lines {lines:?})",
                record.line
            ));
        }
    }
    Ok(())
}

/// The line numbers of the rows of each CSV invoice, after the header,
/// worked out on its own terms: every non-blank physical line after the
/// first non-blank one (the header) is a row; a row's key is its first
/// field (unquoted, when its quote closes before a comma or the end of the
/// line); consecutive rows with the same non-empty key are one invoice, and
/// a row without a key is an invoice of its own. So a stray quote must cost
/// its own row and nothing else, and every record must name a physical line.
fn csv_row_groups(input: &[u8]) -> Vec<Vec<u64>> {
    let input = input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input);
    let mut groups: Vec<Vec<u64>> = Vec::new();
    let mut previous_key: Option<Vec<u8>> = None;
    let mut header_seen = false;
    for (bytes, line) in input.split(|&byte| byte == b'\n').zip(1_u64..) {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let key = if bytes.len() > MAX_LINE {
            None
        } else {
            oracle_key(bytes)
        };
        match (groups.last_mut(), &key) {
            (Some(group), Some(key)) if previous_key.as_ref() == Some(key) => group.push(line),
            _ => groups.push(vec![line]),
        }
        previous_key = key;
    }
    groups
}

/// A CSV row's first field as the oracle reads it, when non-empty.
fn oracle_key(row: &[u8]) -> Option<Vec<u8>> {
    let key = if let Some(quoted) = row.strip_prefix(b"\"") {
        let mut key = Vec::new();
        let mut rest = quoted;
        loop {
            let at = rest.iter().position(|&b| b == b'"')?;
            key.extend_from_slice(&rest[..at]);
            rest = &rest[at + 1..];
            match rest.first() {
                Some(b'"') => {
                    key.push(b'"');
                    rest = &rest[1..];
                }
                Some(b',') | None => break key,
                Some(_) => return None,
            }
        }
    } else {
        row.split(|&b| b == b',')
            .next()
            .unwrap_or_default()
            .to_vec()
    };
    (!key.is_empty()).then_some(key)
}

/// Reads the batch's CSV output back: the exact header, then one record
/// per row.
fn read_csv_output(output: &[u8]) -> Result<Vec<Record>, String> {
    let body = output
        .strip_prefix(CSV_HEADER.as_bytes())
        .ok_or("the CSV output does not start with its header")?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body);
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|error| format!("unreadable CSV output: {error}"))?;
        // A text cell that begins with `'` had one put in front to keep a
        // spreadsheet from running it as a formula (`put_csv_field`).
        let field = |index: usize| {
            let cell = row.get(index).unwrap_or_default();
            cell.strip_prefix('\'').unwrap_or(cell).to_owned()
        };
        let line = field(0)
            .parse()
            .map_err(|_| format!("CSV output row {row:?} has no line number"))?;
        let error = field(8);
        let amounts: [String; 6] = std::array::from_fn(|index| field(index + 2));
        let record = if error.is_empty() {
            Record {
                line,
                id: field(1),
                total: Some(amounts[5].clone()),
                amounts: Some(amounts),
                error: None,
            }
        } else if amounts.iter().all(String::is_empty) {
            Record {
                line,
                id: field(1),
                total: None,
                amounts: None,
                error: Some(error),
            }
        } else {
            return Err(format!(
                "CSV output row {row:?} has both amounts and an error"
            ));
        };
        records.push(record);
    }
    Ok(records)
}

/// The JSON Lines output's amount keys, in [`Record::amounts`] order.
const JSON_AMOUNTS: [&str; 6] = Breakdown::NAMES;

/// Reads the batch's JSON Lines output back: one object per line, either
/// priced (an optional `id` and the six amounts) or an error record
/// (`line`, `id` string or null, `error`). Priced records have line 0.
fn read_jsonl_output(output: &[u8]) -> Result<Vec<Record>, String> {
    let text =
        std::str::from_utf8(output).map_err(|error| format!("JSON Lines output: {error}"))?;
    let mut records = Vec::new();
    for line in text.lines() {
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)
            .map_err(|error| format!("JSON Lines output {line:?} is not an object: {error}"))?;
        let string = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
        let id = string("id").unwrap_or_default().to_owned();
        let record = if let Some(error) = string("error") {
            let line_number = value
                .get("line")
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| format!("JSON Lines error record {line:?} has no line"))?;
            let id_ok = matches!(
                value.get("id"),
                Some(serde_json::Value::Null | serde_json::Value::String(_))
            );
            if value.len() != 3 || !id_ok {
                return Err(format!("JSON Lines error record {line:?} is malformed"));
            }
            Record {
                line: line_number,
                id,
                total: None,
                amounts: None,
                error: Some(error.to_owned()),
            }
        } else {
            let mut amounts: [String; 6] = Default::default();
            for (amount, key) in amounts.iter_mut().zip(JSON_AMOUNTS) {
                string(key)
                    .ok_or_else(|| format!("JSON Lines record {line:?} has no {key}"))?
                    .clone_into(amount);
            }
            let keys = JSON_AMOUNTS.len() + usize::from(string("id").is_some());
            if value.len() != keys {
                return Err(format!("JSON Lines record {line:?} has unexpected keys"));
            }
            Record {
                line: 0,
                id,
                total: Some(amounts[5].clone()),
                amounts: Some(amounts),
                error: None,
            }
        };
        records.push(record);
    }
    Ok(records)
}

/// Checks that a priced record's breakdown lines add up to its total, in
/// cents read from the written text.
fn adds_up(record: &Record) -> Result<(), String> {
    let Some(amounts) = &record.amounts else {
        return Ok(());
    };
    let mut cents = [0_i64; 6];
    for (value, text) in cents.iter_mut().zip(amounts) {
        *value = parse_cents(text).ok_or_else(|| format!("{text:?} is not an amount"))?;
    }
    let sum = cents[..5]
        .iter()
        .try_fold(0_i64, |sum, &line| sum.checked_add(line))
        .ok_or("the breakdown lines overflow")?;
    if sum == cents[5] {
        Ok(())
    } else {
        Err(format!(
            "the breakdown {amounts:?} does not add up to its total"
        ))
    }
}

/// Cents from `-?digits.dd`, exactly two decimals.
fn parse_cents(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (units, cents) = digits.split_once('.')?;
    let all_digits =
        |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if !all_digits(units) || cents.len() != 2 || !all_digits(cents) {
        return None;
    }
    let value = format!("{units}{cents}").parse::<i64>().ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_cents_with_exactly_two_decimals() {
        assert_eq!(parse_cents("141.69"), Some(14_169));
        assert_eq!(parse_cents("-22.50"), Some(-2250));
        assert_eq!(parse_cents("0.00"), Some(0));
        for bad in ["1.5", "1", ".50", "1.505", "-", "1,50", "+1.50", "1.5x"] {
            assert_eq!(parse_cents(bad), None, "{bad}");
        }
    }

    fn record(amounts: [&str; 6]) -> Record {
        Record {
            line: 1,
            id: String::new(),
            total: Some(amounts[5].to_owned()),
            amounts: Some(amounts.map(str::to_owned)),
            error: None,
        }
    }

    #[test]
    fn a_breakdown_that_does_not_add_up_is_caught() {
        assert!(
            adds_up(&record([
                "150.00", "-22.50", "-2.55", "10.00", "6.74", "141.69"
            ]))
            .is_ok()
        );
        let error = adds_up(&record([
            "150.00", "-22.50", "-2.55", "10.00", "6.74", "141.70",
        ]));
        assert!(error.unwrap_err().contains("does not add up"));
    }

    #[test]
    fn a_missing_or_extra_record_is_caught() {
        let one = [Record {
            line: 1,
            id: String::new(),
            total: None,
            amounts: None,
            error: Some("x".to_owned()),
        }];
        assert!(check_invoice_count(b"a\n\nb\n", InputFormat::Jsonl, &one).is_err());
        assert!(check_invoice_count(b"a\n", InputFormat::Jsonl, &one).is_ok());
        assert!(check_invoice_count(b"\na\n", InputFormat::Jsonl, &one).is_err());
    }

    #[test]
    fn csv_rows_group_by_consecutive_non_empty_ids() {
        let input = b"head\nA,1\nA,2\n,3\n,4\nB,5\nA,6\n";
        assert_eq!(
            csv_row_groups(input),
            vec![vec![2, 3], vec![4], vec![5], vec![6], vec![7]]
        );
    }
}
