//! Invoices from CSV: one row per line item under the header
//! `invoice_id,tier,loyalty_member,days_overdue,price,quantity`.
//!
//! Consecutive rows with the same `invoice_id` form one invoice, and their
//! invoice-level fields (`tier`, `loyalty_member`, `days_overdue`) must
//! agree. A row with an empty `invoice_id` is an invoice of its own, without
//! an id. Empty invoice-level fields mean no tier, not a member, 0 days.
//!
//! A row is one physical line, read through the same block reader as JSON
//! Lines: the 8 MiB line limit bounds a row, CRLF and LF both end one, a
//! line's number is its number in the file, blank lines are skipped (and
//! counted). A field may be quoted (`"a,b"`, `""` for a quote inside), but a
//! quoted field must close on its own line: no field of an invoice holds a
//! line break, and so a stray opening quote costs the row it is on (an error
//! record naming that line) and nothing after it — reading goes on with the
//! next line.
//!
//! An invalid invoice becomes one error; its line is the row at fault (the
//! first row of the invoice when the fault is the invoice's, such as a
//! subtotal too large to price).

use std::borrow::Cow;
use std::io::{self, Read};
use std::ops::Range;
use std::str;

#[cfg(any(test, feature = "fuzzing"))]
use pricing::PricingInput;
use pricing::{DaysOverdue, LineItem, PricingError, Terms, Tier, excerpt};

use crate::batch::pool::BufferPool;
use crate::batch::read::fields::{self, FieldError};
use crate::batch::read::lines::{Block, LineBlocks, LineTooLong, is_blank};

/// The header a CSV input must start with.
pub(crate) const HEADER: [&str; 6] = [
    "invoice_id",
    "tier",
    "loyalty_member",
    "days_overdue",
    "price",
    "quantity",
];

/// The most rows one invoice may have: the line items of an invoice are
/// held in memory until it is priced, so this bounds that memory (24 MiB),
/// as the line limit bounds a JSON Lines invoice.
pub(crate) const MAX_ROWS: usize = 1_000_000;

/// An invoice read from CSV rows with line items of its own: its input
/// line, its id, and what pricing needs or why it is invalid. The serial
/// path of the fuzz oracle and the tests; batch workers take
/// [`ChunkInvoice`]s.
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Debug)]
pub(crate) struct CsvInvoice {
    /// The line of its first row, or of the row at fault.
    pub(crate) line: u64,
    /// The `invoice_id`, when the row had a non-empty, readable one.
    pub(crate) id: Option<String>,
    /// The invoice to price, or why it cannot be priced.
    pub(crate) input: Result<PricingInput, RowError>,
}

/// An invoice of a [`CsvChunk`] as a batch worker prices it: borrowed from
/// the chunk, its line items in the worker's reused buffer, so a chunk's
/// invoices cost no allocation of their own.
#[derive(Debug)]
pub(crate) struct ChunkInvoice<'a> {
    /// The line of its first row, or of the row at fault.
    pub(crate) line: u64,
    /// The `invoice_id`, when the row had a non-empty, readable one.
    pub(crate) id: Option<Cow<'a, str>>,
    /// The invoice's line items and terms, or why it cannot be priced.
    pub(crate) input: Result<(&'a [LineItem], Terms), RowError>,
}

/// Why the rows of an invoice are not a valid invoice.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RowError {
    /// A field's bytes are not UTF-8.
    #[error("field {0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// The row does not have one field per header column.
    #[error("row has {0} fields, expected 6")]
    FieldCount(usize),
    /// A quoted field does not close on its line.
    #[error("a quoted field is not closed on its line (a field cannot hold a line break)")]
    UnclosedQuote,
    /// Something other than a comma follows a closing quote.
    #[error("a closing quote must end its field, found {0:?} after it")]
    AfterQuote(char),
    /// The row is longer than the line limit.
    #[error(transparent)]
    TooLong(#[from] LineTooLongError),
    /// The invoice has more rows than [`MAX_ROWS`] or more bytes than
    /// [`MAX_INVOICE_BYTES`].
    #[error("invoice has more than {MAX_ROWS} rows or more than 64 MiB of them")]
    TooManyRows,
    /// `loyalty_member` is neither `true`, `false` nor empty. Like every
    /// value quoted here, an [`excerpt`] of the field: an error never grows
    /// with the input it refuses.
    #[error("loyalty_member {0:?} is not true or false")]
    LoyaltyMember(String),
    /// An invoice-level field differs from the invoice's first row.
    #[error(
        "{field} {found:?} disagrees with {first:?} on line {first_line}, the first row of invoice {id:?}"
    )]
    Disagrees {
        /// The field's header name.
        field: &'static str,
        /// This row's value.
        found: String,
        /// The first row's value.
        first: String,
        /// The line of the invoice's first row.
        first_line: u64,
        /// The invoice id.
        id: String,
    },
    /// A text field breaks a rule of every reader.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// Pricing refused a value.
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// [`LineTooLong`] as a comparable error of a row.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", LineTooLong)]
pub(crate) struct LineTooLongError;

/// Why a CSV input cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CsvInputError {
    /// The first row is not the expected header.
    #[error("CSV header must be exactly {expected:?}, found {found:?}")]
    Header {
        /// The expected header line.
        expected: String,
        /// The first line found.
        found: String,
    },
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] io::Error),
}

/// The invoice-level fields of a row, parsed.
#[derive(Debug, PartialEq, Eq)]
struct InvoiceFields {
    tier: Tier,
    loyalty_member: bool,
    days_overdue: DaysOverdue,
}

/// An invoice being assembled from its rows: `'d` is the chunk's data it
/// borrows texts from, `'i` the reused buffer its line items go into.
struct Pending<'d, 'i> {
    line: u64,
    id: Option<Cow<'d, str>>,
    /// The first row's raw invoice-level fields, for messages and to
    /// recognize later rows that repeat them.
    first_texts: [Cow<'d, str>; 3],
    fields: Option<InvoiceFields>,
    items: &'i mut Vec<LineItem>,
    error: Option<(u64, RowError)>,
}

impl<'d, 'i> Pending<'d, 'i> {
    fn new(key: Option<Cow<'d, [u8]>>, line: u64, items: &'i mut Vec<LineItem>) -> Self {
        items.clear();
        let id = key.and_then(|key| match key {
            Cow::Borrowed(bytes) => str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Cow::Owned(bytes) => String::from_utf8(bytes).ok().map(Cow::Owned),
        });
        Pending {
            line,
            id,
            first_texts: Default::default(),
            fields: None,
            items,
            error: None,
        }
    }

    /// The invoice: its line, id, and terms (its items are in the buffer),
    /// or why it cannot be priced.
    fn finish(self) -> ChunkInvoice<'i>
    where
        'd: 'i,
    {
        let Pending {
            line,
            id,
            fields,
            items,
            error,
            ..
        } = self;
        let (line, input) = match (error, fields) {
            (Some((at, error)), _) => (at, Err(error)),
            (None, Some(f)) => (
                line,
                Ok((
                    &items[..],
                    Terms::new(f.tier, f.loyalty_member, f.days_overdue),
                )),
            ),
            // Without fields the first row failed, so `error` is set; this
            // arm keeps the match total without a panic.
            (None, None) => (line, Err(RowError::FieldCount(0))),
        };
        ChunkInvoice { line, id, input }
    }
}

/// One physical line of the input, as a worker reads it from its chunk.
#[derive(Clone, Copy)]
enum Row<'a> {
    /// A line's bytes, without its line break.
    Line(&'a [u8]),
    /// A line longer than the limit, not held in memory.
    TooLong,
}

/// Where a row of a [`CsvChunk`] is: its line, and its bytes in the
/// chunk's data (`None` for a line longer than the limit).
#[derive(Debug, Clone)]
struct RowAt {
    line: u64,
    bytes: Option<Range<usize>>,
}

/// The rows of whole invoices, cut by the reader where one invoice ends and
/// the next begins (it reads only each row's first field for that), parsed
/// and validated by a batch worker: so CSV input is read in parallel, as
/// JSON Lines is.
#[derive(Debug, Default)]
pub(crate) struct CsvChunk {
    data: Vec<u8>,
    rows: Vec<RowAt>,
    /// The index in `rows` where each invoice starts.
    starts: Vec<usize>,
    /// The invoices (indexes into `starts`) that had more rows than
    /// [`MAX_ROWS`], or more bytes than [`MAX_INVOICE_BYTES`]: their further
    /// rows were counted, not kept.
    oversized: Vec<usize>,
}

impl CsvChunk {
    /// How many invoices the chunk holds.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// Parses and validates the chunk's invoices and hands each to `each`,
    /// in input order, its line items in `items` (cleared first).
    pub(crate) fn each_invoice<E>(
        &self,
        items: &mut Vec<LineItem>,
        mut each: impl FnMut(ChunkInvoice<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let ends = self
            .starts
            .iter()
            .skip(1)
            .copied()
            .chain(std::iter::once(self.rows.len()));
        for (index, (&start, end)) in self.starts.iter().zip(ends).enumerate() {
            let rows = &self.rows[start..end];
            let row = |at: &RowAt| match &at.bytes {
                Some(range) => Row::Line(&self.data[range.clone()]),
                None => Row::TooLong,
            };
            let first = &rows[0];
            let key = match row(first) {
                Row::Line(bytes) => first_field(bytes).filter(|key| !key.is_empty()),
                Row::TooLong => None,
            };
            let mut pending = Pending::new(key, first.line, items);
            for at in rows {
                add_row(&mut pending, row(at), at.line);
            }
            if self.oversized.contains(&index) && pending.error.is_none() {
                pending.error = Some((first.line, RowError::TooManyRows));
            }
            each(pending.finish())?;
        }
        Ok(())
    }

    /// The chunk's invoices, parsed and validated, in input order, each
    /// with its own line items: the serial path of the fuzz oracle and the
    /// tests.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn invoices(&self) -> impl Iterator<Item = CsvInvoice> + '_ {
        let mut invoices = Vec::new();
        let collected: Result<(), std::convert::Infallible> =
            self.each_invoice(&mut Vec::new(), |invoice| {
                invoices.push(CsvInvoice {
                    line: invoice.line,
                    id: invoice.id.map(Cow::into_owned),
                    input: invoice.input.and_then(|(items, terms)| {
                        PricingInput::with_terms(items.to_vec(), terms).map_err(RowError::from)
                    }),
                });
                Ok(())
            });
        let Ok(()) = collected;
        invoices.into_iter()
    }

    /// Gives the data buffer back, to be reused.
    pub(crate) fn into_data(self) -> Vec<u8> {
        self.data
    }
}

/// The physical lines of an input, one at a time, from its blocks.
struct Rows<'p, R> {
    blocks: LineBlocks<'p, R>,
    pool: &'p BufferPool,
    data: Vec<u8>,
    offset: usize,
    next_line: u64,
}

impl<R: Read> Rows<'_, R> {
    /// The next non-blank line: its number, and its bytes appended to
    /// `out` (`None` for a line longer than the limit); `None` at the end.
    fn next_row(&mut self, out: &mut Vec<u8>) -> io::Result<Option<(u64, Option<Range<usize>>)>> {
        loop {
            if self.offset >= self.data.len() {
                let used = std::mem::take(&mut self.data);
                self.pool.put(used);
                self.offset = 0;
                match self.blocks.next().transpose()? {
                    None => return Ok(None),
                    Some(Block::TooLong { line }) => return Ok(Some((line, None))),
                    Some(Block::Lines { first_line, data }) => {
                        self.data = data;
                        self.next_line = first_line;
                    }
                }
                continue;
            }
            let rest = &self.data[self.offset..];
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = &rest[..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let number = self.next_line;
            self.offset += end + 1;
            self.next_line += 1;
            if !is_blank(line) {
                let start = out.len();
                out.extend_from_slice(line);
                return Ok(Some((number, Some(start..out.len()))));
            }
        }
    }
}

/// How much row data a chunk gathers before it is cut at the next
/// invoice's first row (1 MiB, as for JSON Lines blocks; any size gives the
/// same records).
pub(crate) const CHUNK_BYTES: usize = 1_048_576;

/// The chunks of whole invoices of a CSV input, after its header.
pub(crate) struct CsvChunks<'p, R> {
    rows: Rows<'p, R>,
    chunk_bytes: usize,
    /// The first row of the next chunk, read while cutting this one: its
    /// line and bytes (`None` for an over-long line).
    carry: Option<(u64, Option<Vec<u8>>)>,
    /// The key of the invoice being gathered, when a later row can join it
    /// (a buffer reused from invoice to invoice).
    key: Vec<u8>,
    has_key: bool,
    /// The rows and bytes of the invoice being gathered.
    invoice_rows: usize,
    invoice_bytes: usize,
    /// A read error that came after rows already gathered: it is returned
    /// after their chunk, so none of them is lost.
    failed: Option<io::Error>,
    done: bool,
    /// [`MAX_ROWS`] and [`MAX_INVOICE_BYTES`], smaller in tests.
    max_rows: usize,
    max_invoice_bytes: usize,
}

/// The most bytes of rows one CSV invoice may have (64 MiB): with
/// [`MAX_ROWS`], what bounds the memory an invoice's rows take.
pub(crate) const MAX_INVOICE_BYTES: usize = 64 << 20;

impl<'p, R: Read> CsvChunks<'p, R> {
    /// Checks the header (the first non-blank line; a byte-order mark before
    /// it is skipped by the block reader) and reads chunks of about
    /// `chunk_bytes` from the rows after it. An empty input has no chunks.
    pub(crate) fn new(
        blocks: LineBlocks<'p, R>,
        pool: &'p BufferPool,
        chunk_bytes: usize,
    ) -> Result<Self, CsvInputError> {
        let mut rows = Rows {
            blocks,
            pool,
            data: Vec::new(),
            offset: 0,
            next_line: 1,
        };
        let expected = HEADER.join(",");
        let mut header = Vec::new();
        let done = match rows.next_row(&mut header)? {
            None => true,
            Some((_, Some(_))) if header == expected.as_bytes() => false,
            Some((_, Some(_))) => {
                return Err(CsvInputError::Header {
                    expected,
                    found: excerpt(&String::from_utf8_lossy(&header)),
                });
            }
            Some((_, None)) => {
                return Err(CsvInputError::Header {
                    expected,
                    found: LineTooLong.to_string(),
                });
            }
        };
        Ok(CsvChunks {
            rows,
            chunk_bytes: chunk_bytes.max(1),
            carry: None,
            key: Vec::new(),
            has_key: false,
            invoice_rows: 0,
            invoice_bytes: 0,
            failed: None,
            done,
            max_rows: MAX_ROWS,
            max_invoice_bytes: MAX_INVOICE_BYTES,
        })
    }

    /// The same reader with other limits on an invoice's rows and bytes, so
    /// that a test reaches them with a few rows.
    #[cfg(test)]
    fn with_limits(mut self, max_rows: usize, max_invoice_bytes: usize) -> Self {
        self.max_rows = max_rows;
        self.max_invoice_bytes = max_invoice_bytes;
        self
    }

    fn next_chunk(&mut self) -> io::Result<Option<CsvChunk>> {
        // The data buffer comes from the pool that workers give it back to:
        // a fresh one per chunk would leave the pool to fill up with spare
        // ones (32 of about 2 MiB: 67 MiB peak on 1 M invoices instead of
        // 10, `scripts/bench`).
        let mut chunk = CsvChunk {
            data: self
                .rows
                .pool
                .take_with_capacity(self.chunk_bytes.min(CHUNK_BYTES) + 4096),
            rows: Vec::new(),
            starts: Vec::new(),
            oversized: Vec::new(),
        };
        if let Some((line, bytes)) = self.carry.take() {
            let bytes = bytes.map(|bytes| {
                chunk.data.extend_from_slice(&bytes);
                0..bytes.len()
            });
            chunk.starts.push(0);
            chunk.rows.push(RowAt { line, bytes });
        }
        while !self.done {
            let before = chunk.data.len();
            let next = match self.rows.next_row(&mut chunk.data) {
                Ok(next) => next,
                Err(error) if chunk.rows.is_empty() => return Err(error),
                Err(error) => {
                    self.failed = Some(error);
                    self.done = true;
                    break;
                }
            };
            let Some((line, bytes)) = next else {
                self.done = true;
                break;
            };
            let key = bytes
                .as_ref()
                .and_then(|range| first_field(&chunk.data[range.clone()]))
                .filter(|key| !key.is_empty());
            let joins = self.has_key && key.as_deref() == Some(&self.key[..]);
            if joins {
                let length = chunk.data.len() - before;
                if self.invoice_rows >= self.max_rows
                    || self.invoice_bytes + length > self.max_invoice_bytes
                {
                    // Counted, not kept: the invoice is refused as too large.
                    chunk.data.truncate(before);
                    let index = chunk.starts.len().saturating_sub(1);
                    if chunk.oversized.last() != Some(&index) {
                        chunk.oversized.push(index);
                    }
                    continue;
                }
                self.invoice_rows += 1;
                self.invoice_bytes += length;
                chunk.rows.push(RowAt { line, bytes });
                continue;
            }
            // The row starts an invoice: the chunk may end before it.
            self.has_key = key.is_some();
            self.key.clear();
            self.key
                .extend_from_slice(key.as_deref().unwrap_or_default());
            self.invoice_rows = 1;
            self.invoice_bytes = chunk.data.len() - before;
            if before >= self.chunk_bytes {
                let carried = bytes.map(|_| chunk.data.split_off(before));
                self.carry = Some((line, carried));
                return Ok(Some(chunk));
            }
            chunk.starts.push(chunk.rows.len());
            chunk.rows.push(RowAt { line, bytes });
        }
        Ok((!chunk.rows.is_empty()).then_some(chunk))
    }
}

impl<R: Read> Iterator for CsvChunks<'_, R> {
    type Item = io::Result<CsvChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.failed.take() {
            return Some(Err(error));
        }
        match self.next_chunk() {
            Ok(chunk) => chunk.map(Ok),
            Err(error) => {
                self.done = true;
                self.carry = None;
                Some(Err(error))
            }
        }
    }
}

/// The invoices of a CSV input, in input order, read one chunk at a time
/// on the calling thread: the serial path (the fuzz oracle, tests).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) struct CsvInvoices<'p, R> {
    chunks: CsvChunks<'p, R>,
    ready: std::vec::IntoIter<CsvInvoice>,
}

#[cfg(any(test, feature = "fuzzing"))]
impl<'p, R: Read> CsvInvoices<'p, R> {
    /// Checks the header and reads invoices from the rows after it.
    pub(crate) fn new(
        blocks: LineBlocks<'p, R>,
        pool: &'p BufferPool,
    ) -> Result<Self, CsvInputError> {
        Ok(CsvInvoices {
            chunks: CsvChunks::new(blocks, pool, CHUNK_BYTES)?,
            ready: Vec::new().into_iter(),
        })
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl<R: Read> Iterator for CsvInvoices<'_, R> {
    type Item = io::Result<CsvInvoice>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(invoice) = self.ready.next() {
                return Some(Ok(invoice));
            }
            match self.chunks.next()? {
                Ok(chunk) => self.ready = chunk.invoices().collect::<Vec<_>>().into_iter(),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

/// The first field of a row, unquoted, when it can be read: the key that
/// groups rows into invoices.
fn first_field(line: &[u8]) -> Option<Cow<'_, [u8]>> {
    let mut fields = Fields { line, at: 0 };
    fields.next_field().ok().flatten()
}

/// The fields of one row, read one after another.
struct Fields<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    /// The next field, unquoted; `None` after the last one.
    fn next_field(&mut self) -> Result<Option<Cow<'a, [u8]>>, RowError> {
        if self.at > self.line.len() {
            return Ok(None);
        }
        let rest = &self.line[self.at..];
        if rest.first() != Some(&b'"') {
            // Unquoted: up to the next comma; a quote inside is literal.
            let end = memchr::memchr(b',', rest).unwrap_or(rest.len());
            self.at += end + 1;
            return Ok(Some(Cow::Borrowed(&rest[..end])));
        }
        let mut field = Vec::new();
        let mut i = 1;
        loop {
            let Some(quote) = memchr::memchr(b'"', &rest[i..]) else {
                return Err(RowError::UnclosedQuote);
            };
            field.extend_from_slice(&rest[i..i + quote]);
            i += quote + 1;
            match rest.get(i) {
                Some(b'"') => {
                    field.push(b'"');
                    i += 1;
                }
                Some(b',') | None => {
                    self.at += i + 1;
                    return Ok(Some(Cow::Owned(field)));
                }
                Some(_) => {
                    let after = String::from_utf8_lossy(&rest[i..])
                        .chars()
                        .next()
                        .unwrap_or('?');
                    return Err(RowError::AfterQuote(after));
                }
            }
        }
    }
}

/// Splits a row into its fields.
fn split(line: &[u8]) -> Result<Vec<Cow<'_, [u8]>>, RowError> {
    let mut fields = Fields { line, at: 0 };
    let mut all = Vec::with_capacity(HEADER.len());
    while let Some(field) = fields.next_field()? {
        all.push(field);
    }
    Ok(all)
}

/// Validates one row into `pending`; the first fault of an invoice is kept
/// and later rows of a faulty invoice are only consumed.
fn add_row<'d>(pending: &mut Pending<'d, '_>, row: Row<'d>, line: u64) {
    if pending.error.is_some() {
        return;
    }
    let checked = match row {
        Row::TooLong => Err(RowError::TooLong(LineTooLongError)),
        Row::Line(bytes) => match plain_fields(bytes) {
            Some(plain) => check_row(pending, HEADER.len(), |index| {
                Ok(Cow::Borrowed(plain[index]))
            }),
            None => split(bytes).and_then(|mut record| {
                let count = record.len();
                check_row(pending, count, |index| {
                    match std::mem::take(&mut record[index]) {
                        Cow::Borrowed(bytes) => str::from_utf8(bytes).map(Cow::Borrowed).ok(),
                        Cow::Owned(bytes) => String::from_utf8(bytes).map(Cow::Owned).ok(),
                    }
                    .ok_or(RowError::InvalidUtf8(HEADER[index]))
                })
            }),
        },
    };
    if let Err(error) = checked {
        pending.error = Some((line, error));
        // A faulty invoice keeps no items: they will not be priced.
        pending.items.clear();
    }
}

/// The six fields of a row in the shape nearly every row has: valid UTF-8,
/// no quotes, exactly five commas. One pass over the row instead of a
/// search per field and a UTF-8 check per field; `None` for any other row,
/// which [`split`] reads (and so words what is wrong with it).
fn plain_fields(line: &[u8]) -> Option<[&str; 6]> {
    let text = str::from_utf8(line).ok()?;
    let mut commas = [0_usize; 5];
    let mut count = 0;
    for (at, &byte) in line.iter().enumerate() {
        match byte {
            b',' => {
                *commas.get_mut(count)? = at;
                count += 1;
            }
            b'"' => return None,
            _ => {}
        }
    }
    if count != commas.len() {
        return None;
    }
    let [first, second, third, fourth, fifth] = commas;
    // Each cut is at an ASCII comma, so at a character boundary.
    Some([
        text.get(..first)?,
        text.get(first + 1..second)?,
        text.get(second + 1..third)?,
        text.get(third + 1..fourth)?,
        text.get(fourth + 1..fifth)?,
        text.get(fifth + 1..)?,
    ])
}

/// Checks one row of `count` fields, read one at a time by `field` (in
/// column order, so the first fault in the row is the one reported), and
/// adds its line item to `pending`.
fn check_row<'d>(
    pending: &mut Pending<'d, '_>,
    count: usize,
    mut field: impl FnMut(usize) -> Result<Cow<'d, str>, RowError>,
) -> Result<(), RowError> {
    if count != HEADER.len() {
        return Err(RowError::FieldCount(count));
    }
    let id = field(0)?;
    let first_row = pending.fields.is_none();
    // Rows join an invoice by their id, so a later row's id is the first
    // row's, which passed.
    if first_row {
        fields::check("invoice_id", &id)?;
    }
    let texts = [field(1)?, field(2)?, field(3)?];
    // A later row that repeats the first row's invoice-level texts has its
    // fields; nothing needs reading again (nearly every row of a
    // multi-row invoice).
    if first_row || texts != pending.first_texts {
        let fields = InvoiceFields {
            tier: if texts[0].is_empty() {
                Tier::None
            } else {
                fields::check("tier", &texts[0])?;
                Tier::from_name(&texts[0])
            },
            loyalty_member: match &*texts[1] {
                "true" => true,
                "false" | "" => false,
                other => return Err(RowError::LoyaltyMember(excerpt(other))),
            },
            days_overdue: if texts[2].is_empty() {
                DaysOverdue::default()
            } else {
                texts[2].parse()?
            },
        };
        match &pending.fields {
            None => {
                pending.first_texts = texts;
                pending.fields = Some(fields);
            }
            Some(first) if *first == fields => {}
            Some(first) => {
                let index = if first.tier != fields.tier {
                    0
                } else if first.loyalty_member != fields.loyalty_member {
                    1
                } else {
                    2
                };
                return Err(RowError::Disagrees {
                    field: HEADER[index + 1],
                    found: excerpt(&texts[index]),
                    first: excerpt(&pending.first_texts[index]),
                    first_line: pending.line,
                    id: excerpt(&id),
                });
            }
        }
    }
    let item = LineItem::new(field(4)?.parse()?, field(5)?.parse()?);
    pending.items.push(item);
    Ok(())
}

#[cfg(test)]
mod tests;
