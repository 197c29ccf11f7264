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
