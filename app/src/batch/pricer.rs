//! Turns one chunk of a batch's input into its records: the work each
//! batch worker does (read the invoices, price them, write their records).
//! The `invoice` command and the fuzz targets share it.

use std::io::{self, Read, Write};

use pricing::{LineItem, Terms};

use crate::batch::pipeline::{self, BatchError, Summary};
use crate::batch::read::csv::{CsvChunks, CsvInputError};
use crate::batch::write::CSV_HEADER;
use crate::progress::Diagnostics;

use crate::batch::pool::BufferPool;
use crate::batch::read::csv::CsvChunk;
use crate::batch::read::jsonl;
use crate::batch::read::lines::{
    Block, LineBlocks, LineTooLong, MAX_LINE, is_blank, numbered_lines,
};
use crate::batch::write::{Format, Records};

/// How a batch's input is cut: JSON Lines in blocks of whole lines, or
/// CSV in chunks of whole invoices (rows grouped by id), each worth about
/// this many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// JSON Lines, read in blocks of `block_size` bytes.
    Jsonl {
        /// Bytes per block.
        block_size: usize,
    },
    /// CSV, read in blocks of `block_size` bytes, priced in chunks of
    /// about `chunk_bytes`.
    Csv {
        /// Bytes per block.
        block_size: usize,
        /// Bytes per chunk of whole invoices.
        chunk_bytes: usize,
    },
}

/// One batch to run: how its input is cut, how its records are written,
/// and how many workers price it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job {
    /// How the input is cut.
    pub(crate) source: Source,
    /// How the records are written.
    pub(crate) format: Format,
    /// How many threads price chunks.
    pub(crate) workers: usize,
}

/// Why a batch stopped: a CSV input whose header is wrong or cannot be
/// read, or the pipeline's input or output failing.
#[derive(Debug)]
pub(crate) enum PriceError {
    /// The CSV header is not ours, or reading it failed.
    Csv(CsvInputError),
    /// The input or the output failed during the batch.
    Batch(BatchError),
}

/// Prices every invoice of `input` as `job` says and writes the records,
/// in input order, to `out` (CSV with its header): the one way a batch
/// runs, for the `invoice` command and the fuzz oracle.
pub(crate) fn price_all<R: Read + Send, W: Write, E: Write>(
    input: R,
    job: Job,
    out: &mut W,
    diagnostics: &mut Diagnostics<E>,
    pool: &BufferPool,
) -> Result<Summary, PriceError> {
    let Job {
        source,
        format,
        workers,
    } = job;
    let preamble = if format == Format::Csv {
        CSV_HEADER.as_bytes()
    } else {
        &[]
    };
    let run = match source {
        Source::Jsonl { block_size } => pipeline::run(
            LineBlocks::new(input, pool, block_size, MAX_LINE),
            workers,
            preamble,
            |block| price_jsonl_block(block, format, pool),
            out,
            diagnostics,
            pool,
        ),
        Source::Csv {
            block_size,
            chunk_bytes,
        } => {
            let blocks = LineBlocks::new(input, pool, block_size, MAX_LINE);
            let chunks = CsvChunks::new(blocks, pool, chunk_bytes).map_err(PriceError::Csv)?;
            pipeline::run(
                chunks,
                workers,
                preamble,
                |chunk| price_csv_rows(chunk, format, pool),
                out,
                diagnostics,
                pool,
            )
        }
    };
    run.map_err(PriceError::Batch)
}

/// Prices the invoices of one block of JSON Lines.
pub(crate) fn price_jsonl_block(
    block: Block,
    format: Format,
    pool: &BufferPool,
) -> io::Result<Records> {
    match block {
        Block::TooLong { line } => {
            let mut records = Records::new(format, pool.take_with_capacity(128));
            records.reject(line, None, &LineTooLong)?;
            Ok(records)
        }
        Block::Lines { first_line, data } => {
            // Priced records are about as long as the invoices they price.
            let mut records = Records::new(format, pool.take_with_capacity(data.len() + 4096));
            // One buffer of line items for the whole block, reused invoice
            // after invoice.
            let mut items = Vec::with_capacity(16);
            for (line, bytes) in numbered_lines(first_line, &data) {
                if is_blank(bytes) {
                    continue;
                }
                if bytes.len() > MAX_LINE {
                    records.reject(line, None, &LineTooLong)?;
                    continue;
                }
                match jsonl::parse_line_into(bytes, &mut items) {
                    Ok(invoice) => {
                        price_items(
                            &mut records,
                            line,
                            invoice.id.as_deref(),
                            &items,
                            &invoice.terms,
                        )?;
                    }
                    Err(rejected) => {
                        records.reject(line, rejected.id.as_deref(), &rejected.error)?;
                    }
                }
            }
            pool.put(data);
            Ok(records)
        }
    }
}

/// Reads, validates and prices one chunk of CSV rows (whole invoices).
pub(crate) fn price_csv_rows(
    chunk: CsvChunk,
    format: Format,
    pool: &BufferPool,
) -> io::Result<Records> {
    let mut records = Records::new(format, pool.take_with_capacity(chunk.len() * 96));
    // One buffer of line items for the whole chunk, reused invoice after
    // invoice.
    let mut items = Vec::with_capacity(16);
    chunk.each_invoice(&mut items, |invoice| {
        let id = invoice.id.as_deref();
        match &invoice.input {
            Ok((items, terms)) => price_items(&mut records, invoice.line, id, items, terms),
            Err(error) => records.reject(invoice.line, id, error),
        }
    })?;
    pool.put(chunk.into_data());
    Ok(records)
}

/// Prices one invoice given as its parts (its line items in a buffer the
/// caller reuses) and appends its record, or its error record when pricing
/// refuses it: the batch engine's one call into `pricing`.
fn price_items(
    records: &mut Records,
    line: u64,
    id: Option<&str>,
    line_items: &[LineItem],
    terms: &Terms,
) -> io::Result<()> {
    match pricing::price_line_items(line_items, terms) {
        Ok(breakdown) => records.priced(line, id, &breakdown, terms.tier()),
        Err(error) => records.reject(line, id, &error),
    }
}

#[cfg(test)]
impl Records {
    /// [`price_items`] on an invoice's parts, for the tests.
    pub(crate) fn price(
        &mut self,
        line: u64,
        id: Option<&str>,
        input: &pricing::PricingInput,
    ) -> io::Result<()> {
        price_items(self, line, id, input.line_items(), input.terms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonl_output(input: &str, format: Format) -> (String, u64, u64) {
        let block = Block::Lines {
            first_line: 1,
            data: input.as_bytes().to_vec(),
        };
        let records = price_jsonl_block(block, format, &BufferPool::default()).unwrap();
        (
            String::from_utf8(records.bytes().to_vec()).unwrap(),
            records.invoices(),
            records.invalid(),
        )
    }

    #[test]
    fn a_jsonl_block_yields_one_record_per_invoice_in_order() {
        let input = concat!(
            r#"{"id":"A","tier":"gold","loyalty_member":true,"days_overdue":45,"line_items":[{"price":"40.00","quantity":3},{"price":15,"quantity":2}]}"#,
            "\n\n",
            r#"{"id":"B","line_items":[{"price":"-1","quantity":1}]}"#,
            "\nnot json\n",
            r#"{"line_items":[{"price":0.1,"quantity":3}]}"#,
            "\n"
        );
        let (out, invoices, invalid) = jsonl_output(input, Format::Jsonl);
        assert_eq!(
            out,
            concat!(
                r#"{"id":"A","subtotal":"150.00","tier_discount":"-22.50","loyalty_discount":"-2.55","tax":"10.00","late_fee":"6.74","total":"141.69"}"#,
                "\n",
                r#"{"line":3,"id":"B","error":"line item 1: price -1 is negative"}"#,
                "\n",
                r#"{"line":4,"id":null,"error":"invalid invoice JSON: expected ident at column 2"}"#,
                "\n",
                r#"{"subtotal":"0.30","tier_discount":"0.00","loyalty_discount":"0.00","tax":"0.02","late_fee":"0.00","total":"0.32"}"#,
                "\n",
            )
        );
        assert_eq!((invoices, invalid), (4, 2));
    }

    #[test]
    fn an_over_long_line_yields_its_error_record() {
        let records = price_jsonl_block(
            Block::TooLong { line: 9 },
            Format::Jsonl,
            &BufferPool::default(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(records.bytes().to_vec()).unwrap(),
            "{\"line\":9,\"id\":null,\"error\":\"line is longer than the limit of 8388608 bytes\"}\n"
        );
        assert_eq!((records.invoices(), records.invalid()), (1, 1));
    }

    #[test]
    fn a_line_over_the_limit_inside_a_block_is_refused_and_one_at_it_is_read() {
        // Both lines arrive whole in one block, so the block reader did not
        // skip them; the limit is applied line by line.
        // Line 1 is exactly MAX_LINE bytes, line 2 one more: "x" and spaces.
        let mut data = b"x".to_vec();
        data.extend(std::iter::repeat_n(b' ', MAX_LINE - 1));
        data.extend_from_slice(b"\nx");
        data.extend(std::iter::repeat_n(b' ', MAX_LINE));
        data.extend_from_slice(b"\n");
        let block = Block::Lines {
            first_line: 1,
            data,
        };
        let records = price_jsonl_block(block, Format::Jsonl, &BufferPool::default()).unwrap();
        assert_eq!(
            String::from_utf8(records.bytes().to_vec()).unwrap(),
            concat!(
                "{\"line\":1,\"id\":null,\"error\":\"invalid invoice JSON: expected value at column 1\"}\n",
                "{\"line\":2,\"id\":null,\"error\":\"line is longer than the limit of 8388608 bytes\"}\n"
            )
        );
    }
}
