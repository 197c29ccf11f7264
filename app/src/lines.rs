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

use crate::pool::BufferPool;

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
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read, like a pipe,
    /// and, like a terminal, must not be read again once it has said the
    /// input ended (a terminal would wait for a second end-of-file).
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        ended: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.ended {
                return Err(io::Error::other("read again after the end of the input"));
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.ended = n == 0 && !buf.is_empty();
            Ok(n)
        }
    }

    fn blocks(input: &[u8], block_size: usize, max_line: usize, step: usize) -> Vec<Block> {
        let reader = Trickle {
            data: input,
            step,
            ended: false,
        };
        // Every block holds at least one byte of input, so there are never
        // more blocks than bytes; taking one more shows any extra block.
        LineBlocks::new(reader, &BufferPool::default(), block_size, max_line)
            .take(input.len() + 1)
            .collect::<io::Result<_>>()
            .unwrap()
    }

    fn lines_of(blocks: &[Block]) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for block in blocks {
            match block {
                Block::Lines { first_line, data } => {
                    for (number, line) in numbered_lines(*first_line, data) {
                        out.push((number, String::from_utf8_lossy(line).into_owned()));
                    }
                }
                Block::TooLong { line } => out.push((*line, "<too long>".to_owned())),
            }
        }
        out
    }

    fn numbered(lines: &[(u64, &str)]) -> Vec<(u64, String)> {
        lines.iter().map(|&(n, s)| (n, s.to_owned())).collect()
    }

    #[test]
    fn every_line_arrives_once_with_its_number_whatever_the_block_size() {
        let input = b"one\ntwo\n\nfour\r\nfive";
        let expected = numbered(&[(1, "one"), (2, "two"), (3, ""), (4, "four"), (5, "five")]);
        for block_size in 1..=input.len() + 1 {
            for step in [1, 2, 3, 7, 64] {
                assert_eq!(
                    lines_of(&blocks(input, block_size, 100, step)),
                    expected,
                    "block size {block_size}, step {step}"
                );
            }
        }
    }

    #[test]
    fn blocks_hold_whole_lines_and_number_their_first_line() {
        let got = blocks(b"aa\nbb\ncc\n", 7, 100, 64);
        assert_eq!(
            got,
            vec![
                Block::Lines {
                    first_line: 1,
                    data: b"aa\nbb\n".to_vec()
                },
                Block::Lines {
                    first_line: 3,
                    data: b"cc\n".to_vec()
                },
            ]
        );
    }

    #[test]
    fn an_empty_input_has_no_blocks() {
        assert_eq!(blocks(b"", 8, 100, 64), vec![]);
    }

    #[test]
    fn a_line_growing_past_the_limit_is_skipped_and_reported_in_place() {
        let long = "x".repeat(50);
        let input = format!("a\n{long}\nb\n{long}");
        // Block sizes below the line's length: the line's end is not in the
        // block that starts it, so it grows past the limit while read.
        for block_size in [1, 4, 16, 40] {
            assert_eq!(
                lines_of(&blocks(input.as_bytes(), block_size, 10, 5)),
                numbered(&[(1, "a"), (2, "<too long>"), (3, "b"), (4, "<too long>")]),
                "block size {block_size}"
            );
        }
    }

    #[test]
    fn the_input_is_not_read_again_once_it_has_ended() {
        // `blocks` fails on a read after the end; an over-long last line,
        // terminated or not, used to cause one.
        let long = "z".repeat(30);
        for input in [
            "",
            "a",
            "a\n",
            &long,
            &format!("{long}\n"),
            &format!("a\n{long}"),
        ] {
            for block_size in [1, 3, 8, 64] {
                for step in [1, 4, 64] {
                    let got = lines_of(&blocks(input.as_bytes(), block_size, 10, step));
                    assert_eq!(
                        got.len(),
                        input.lines().count(),
                        "{input:?}, block size {block_size}, step {step}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_line_at_the_limit_is_kept() {
        let line = "y".repeat(10);
        let input = format!("{line}\n{line}");
        assert_eq!(
            lines_of(&blocks(input.as_bytes(), 4, 10, 3)),
            numbered(&[(1, &line), (2, &line)])
        );
    }

    #[test]
    fn read_errors_are_passed_on() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let error = LineBlocks::new(Broken, &BufferPool::default(), 8, 100)
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(error.to_string(), "disk on fire");
    }

    #[test]
    fn numbered_lines_strip_line_breaks() {
        let got: Vec<_> = numbered_lines(7, b"a\r\nb\n").collect();
        assert_eq!(got, vec![(7, &b"a"[..]), (8, &b"b"[..])]);
        let got: Vec<_> = numbered_lines(1, b"\n\nc").collect();
        assert_eq!(got, vec![(1, &b""[..]), (2, &b""[..]), (3, &b"c"[..])]);
        let got: Vec<_> = numbered_lines(1, b"\n").collect();
        assert_eq!(got, vec![(1, &b""[..])]);
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_not_part_of_the_first_line() {
        let got = blocks(b"\xef\xbb\xbfa\nb\xef\xbb\xbf\n", 4, 100, 1);
        assert_eq!(
            lines_of(&got),
            [(1, "a".to_owned()), (2, "b\u{feff}".to_owned())]
        );
        assert_eq!(
            lines_of(&blocks(b"\xef\xbb", 4, 100, 1)),
            [(1, "\u{fffd}".to_owned())]
        );
    }

    #[test]
    fn only_a_byte_order_mark_at_the_very_start_is_dropped() {
        // A second mark, and one that starts a later block, are text.
        assert_eq!(
            lines_of(&blocks(b"\xef\xbb\xbf\xef\xbb\xbfa\n", 64, 100, 64)),
            [(1, "\u{feff}a".to_owned())]
        );
        assert_eq!(
            lines_of(&blocks(b"a\n\xef\xbb\xbfb\n", 2, 100, 64)),
            [(1, "a".to_owned()), (2, "\u{feff}b".to_owned())]
        );
    }

    /// Fails its first read as interrupted by a signal, then reads `data`.
    struct Interrupted<'a> {
        data: &'a [u8],
        interrupted: bool,
    }

    impl Read for Interrupted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.data.read(buf)
        }
    }

    #[test]
    fn a_read_interrupted_by_a_signal_is_tried_again() {
        let reader = Interrupted {
            data: b"a\nb\n",
            interrupted: false,
        };
        let got: Vec<Block> = LineBlocks::new(reader, &BufferPool::default(), 64, 100)
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(lines_of(&got), numbered(&[(1, "a"), (2, "b")]));
    }

    #[test]
    fn blocks_stay_about_their_size_when_every_read_is_full() {
        // A file (here a slice) fills every read, so no read comes back
        // short before the end: the block size alone ends a block.
        let input = format!("{}\n", "x".repeat(99)).repeat(3000);
        let block_size = 1 << 16;
        let got = LineBlocks::new(input.as_bytes(), &BufferPool::default(), block_size, 1000)
            .collect::<io::Result<Vec<Block>>>()
            .unwrap();
        for block in &got {
            let Block::Lines { data, .. } = block else {
                panic!("{block:?}")
            };
            assert!(data.len() <= block_size, "{}", data.len());
        }
        assert_eq!(lines_of(&got).len(), 3000);
    }

    #[test]
    fn an_over_long_blank_line_is_skipped_like_any_blank_line() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b' ', 50));
        input.extend_from_slice(b"\t\r\nb\n");
        input.extend(std::iter::repeat_n(b' ', 50));
        let got = blocks(&input, 8, 20, 3);
        assert!(
            got.iter()
                .all(|block| !matches!(block, Block::TooLong { .. }))
        );
        assert_eq!(lines_of(&got), [(1, "a".to_owned()), (3, "b".to_owned())]);
        // A long line with anything else in it is still too long.
        let got = blocks(b"a\n                         x\nb\n", 8, 20, 3);
        assert!(got.contains(&Block::TooLong { line: 2 }));
    }

    /// A live stream: one line has arrived, and the next read would wait.
    struct Live {
        sent: bool,
    }

    impl Read for Live {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.sent {
                return Err(io::Error::other(
                    "read again before handing on the line that arrived",
                ));
            }
            self.sent = true;
            buf[..2].copy_from_slice(b"a\n");
            Ok(2)
        }
    }

    #[test]
    fn lines_of_a_live_stream_are_handed_on_before_the_block_is_full() {
        let pool = BufferPool::default();
        let mut live = LineBlocks::new(Live { sent: false }, &pool, 1 << 20, 100);
        let first = live.next().unwrap().unwrap();
        assert_eq!(
            first,
            Block::Lines {
                first_line: 1,
                data: b"a\n".to_vec()
            }
        );
    }
}
