//! Cuts a byte stream into blocks of whole lines, so a batch can be priced
//! block by block in parallel with memory bounded by the block size.
//!
//! A line that grows past the limit before its line break is read is not
//! kept in memory: it is skipped up to its line break and reported as
//! [`Block::TooLong`], so one runaway line cannot exhaust memory and still
//! yields its error record. No line longer than the limit plus one block is
//! ever held; the caller refuses the rest of the over-long lines (those that
//! happened to arrive whole inside one block).

use std::io::{self, BufRead, BufReader, Read};

use crate::batch::pool::BufferPool;

/// The longest line accepted (8 MiB). A longer line is skipped (not held in
/// memory) and reported as an error record.
pub(crate) const MAX_LINE: usize = 8 << 20;

/// Why a line was not read: it is longer than [`MAX_LINE`].
#[derive(Debug, thiserror::Error)]
#[error("line is longer than the limit of {MAX_LINE} bytes")]
pub(crate) struct LineTooLong;

/// Whether a line is blank: blank lines are not invoices, and are skipped
/// silently (their numbers still count).
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// A piece of the input, in input order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Block {
    /// One or more whole lines, each ending in `\n` except possibly the last
    /// line of the input.
    Lines {
        /// The 1-based number of the first line in `data`.
        first_line: u64,
        /// The lines' bytes, line breaks included.
        data: Vec<u8>,
    },
    /// A line longer than the limit; its bytes were skipped.
    TooLong {
        /// The 1-based number of the line.
        line: u64,
    },
}

/// Reads blocks of whole lines of about `block_size` bytes.
pub(crate) struct LineBlocks<'p, R> {
    reader: BufReader<R>,
    /// Where block buffers come from; the consumer returns them there.
    pool: &'p BufferPool,
    block_size: usize,
    max_line: usize,
    next_line: u64,
    /// The start of a line whose end has not been read yet.
    carry: Vec<u8>,
    eof: bool,
    /// Whether a byte-order mark at the very start was looked for yet.
    bom_checked: bool,
}

/// The UTF-8 byte-order mark some tools write first; it is not part of the
/// first line, in JSON Lines as in CSV.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// How much one read asks for. A read that returns less has emptied the
/// source for now (a pipe holds at most 64 KiB; a file returns what is
/// asked): the input is a live stream, and the lines that arrived are
/// handed on at once rather than waiting for a full block.
const READ_SIZE: usize = 65_536;

impl<'p, R: Read> LineBlocks<'p, R> {
    /// Blocks of about `block_size` bytes in buffers from `pool`; a line
    /// that grows past `max_line` bytes becomes [`Block::TooLong`].
    pub(crate) fn new(reader: R, pool: &'p BufferPool, block_size: usize, max_line: usize) -> Self {
        LineBlocks {
            reader: BufReader::with_capacity(READ_SIZE, reader),
            pool,
            block_size: block_size.max(1),
            max_line,
            next_line: 1,
            carry: Vec::new(),
            eof: false,
            bom_checked: false,
        }
    }

    /// Appends up to `want` bytes from the reader to `data`: fewer at the
    /// end of the input, or when a read comes back short (the source is a
    /// live stream with nothing more to give yet). Returns whether the read
    /// came back short.
    fn fill(&mut self, data: &mut Vec<u8>, want: usize) -> io::Result<bool> {
        let mut left = want;
        while left > 0 {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                self.eof = true;
                return Ok(true);
            }
            let short = available.len() < READ_SIZE;
            let taken = available.len().min(left);
            data.extend_from_slice(&available[..taken]);
            self.reader.consume(taken);
            left -= taken;
            if short {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Drops a byte-order mark at the very start of the input, once enough
    /// of it has arrived to tell: undecided only while what arrived could
    /// still be the start of a mark (a first block of `a\n` decides it).
    fn skip_bom(&mut self, data: &mut Vec<u8>) {
        if self.bom_checked || (data.len() < BOM.len() && BOM.starts_with(data) && !self.eof) {
            return;
        }
        self.bom_checked = true;
        if data.starts_with(BOM) {
            data.drain(..BOM.len());
        }
    }

    /// Skips the rest of an over-long line up to and including its line
    /// break, keeping what follows it. An input that has ended is not read
    /// again: a terminal would wait for a second end-of-file. A line of
    /// nothing but whitespace is blank, however long: `None`.
    fn skip_line(&mut self, mut data: Vec<u8>) -> io::Result<Option<Block>> {
        let line = self.next_line;
        self.next_line += 1;
        let mut blank = true;
        loop {
            let end = memchr::memchr(b'\n', &data);
            let part = &data[..end.unwrap_or(data.len())];
            blank = blank && is_blank(part);
            if let Some(end) = end {
                self.carry.extend_from_slice(&data[end + 1..]);
                break;
            }
            if self.eof {
                break;
            }
            data.clear();
            self.fill(&mut data, self.block_size)?;
        }
        self.pool.put(data);
        Ok((!blank).then_some(Block::TooLong { line }))
    }

    fn next_block(&mut self) -> io::Result<Option<Block>> {
        loop {
            if let Some(block) = self.read_block()? {
                return Ok(Some(block));
            }
            // An over-long blank line was skipped: on to what follows it,
            // unless the input ended with it.
            if self.eof && self.carry.is_empty() {
                return Ok(None);
            }
        }
    }

    /// The next block; `None` at the end of the input, or after skipping an
    /// over-long blank line (the caller reads on).
    fn read_block(&mut self) -> io::Result<Option<Block>> {
        let mut data = self
            .pool
            .take_with_capacity(self.block_size.max(self.carry.len()));
        data.extend_from_slice(&self.carry);
        self.carry.clear();
        loop {
            if !self.eof && data.len() < self.block_size {
                let want = self.block_size - data.len();
                let short = self.fill(&mut data, want)?;
                self.skip_bom(&mut data);
                // Keep reading unless a short read brought whole lines.
                if !(short && memchr::memchr(b'\n', &data).is_some()) {
                    continue;
                }
            }
            self.skip_bom(&mut data);
            if let Some(last_break) = memchr::memrchr(b'\n', &data) {
                let end = last_break + 1;
                self.carry.extend_from_slice(&data[end..]);
                data.truncate(end);
                break;
            }
            // No line break: `data` is the start of one line.
            if data.len() > self.max_line {
                return self.skip_line(data);
            }
            if self.eof {
                break;
            }
            let want = self.block_size;
            self.fill(&mut data, want)?;
        }
        if data.is_empty() {
            self.pool.put(data);
            return Ok(None);
        }
        let first_line = self.next_line;
        let breaks = memchr::memchr_iter(b'\n', &data).count();
        let unterminated = usize::from(data.last() != Some(&b'\n'));
        self.next_line += u64::try_from(breaks + unterminated).unwrap_or(u64::MAX);
        Ok(Some(Block::Lines { first_line, data }))
    }
}

impl<R: Read> Iterator for LineBlocks<'_, R> {
    type Item = io::Result<Block>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

/// The lines of a block's data with their 1-based numbers, without line
/// breaks (`\n` or `\r\n`).
pub(crate) fn numbered_lines(first_line: u64, data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
    let lines = std::iter::from_fn(move || {
        let end = ends.next()?;
        let line = &data[start..end];
        start = end + 1;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    });
    (first_line..).zip(lines)
}

#[cfg(test)]
mod tests;
