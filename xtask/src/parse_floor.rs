//! `cargo xtask parse-floor FILE`: the parse-only floor of `scripts/bench`.
//!
//! Every line of a JSON Lines file is parsed by `serde_json` into
//! [`IgnoredAny`] (the whole value is checked and nothing is kept), on two
//! threads: the file is split into two halves at a line boundary and each
//! thread reads its half in 1 MiB blocks. No pricing, no output: no invoice
//! pipeline on this input can be faster than this, so `scripts/bench`
//! reports ledgerly's JSON Lines time as a multiple of it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::thread;

use serde::de::IgnoredAny;

/// The threads of the floor, as many as ledgerly's workers on this machine.
const THREADS: u64 = 2;

/// The read buffer of each thread, the block size ledgerly reads in.
const BLOCK: usize = 1 << 20;

/// Parses every line of `path`; prints the lines parsed and those that
/// were not JSON.
pub(crate) fn run(path: &str) -> Result<(), String> {
    let length = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {path}: {error}"))?
        .len();
    let mut bounds = vec![0];
    for part in 1..THREADS {
        let start = line_start_after(path, length * part / THREADS)?;
        bounds.push(start.max(*bounds.last().unwrap_or(&0)));
    }
    bounds.push(length);
    let counts = thread::scope(|scope| {
        let workers: Vec<_> = bounds
            .windows(2)
            .map(|range| {
                let (start, end) = (range[0], range[1]);
                scope.spawn(move || parse_range(path, start, end))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err("a thread panicked".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let lines: u64 = counts.iter().map(|count| count.0).sum();
    let invalid: u64 = counts.iter().map(|count| count.1).sum();
    println!("parse-floor: {lines} lines parsed, {invalid} not JSON, {THREADS} threads");
    Ok(())
}

/// The offset of the first line that starts at or after `offset`.
fn line_start_after(path: &str, offset: u64) -> Result<u64, String> {
    if offset == 0 {
        return Ok(0);
    }
    let mut file = File::open(path).map_err(|error| format!("cannot open {path}: {error}"))?;
    file.seek(SeekFrom::Start(offset - 1))
        .map_err(|error| error.to_string())?;
    let mut skipped = Vec::new();
    let read = BufReader::new(file)
        .read_until(b'\n', &mut skipped)
        .map_err(|error| error.to_string())?;
    Ok(offset - 1 + read as u64)
}

/// Parses the lines from `start` to `end`; (lines, lines that were not JSON).
fn parse_range(path: &str, start: u64, end: u64) -> Result<(u64, u64), String> {
    let mut file = File::open(path).map_err(|error| format!("cannot open {path}: {error}"))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|error| error.to_string())?;
    let mut reader = BufReader::with_capacity(BLOCK, file.take(end - start));
    let mut line = Vec::new();
    let (mut lines, mut invalid) = (0, 0);
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|error| error.to_string())?;
        if read == 0 {
            return Ok((lines, invalid));
        }
        lines += 1;
        if serde_json::from_slice::<IgnoredAny>(&line).is_err() {
            invalid += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_split_at_line_boundaries_and_every_line_is_parsed_once() {
        let path = std::env::temp_dir().join(format!("parse-floor-{}.jsonl", std::process::id()));
        std::fs::write(&path, "{\"a\": 1}\n{\"b\": [2, 3]}\nnot json\n{}\n").unwrap();
        let path_text = path.to_str().unwrap();
        // Offsets inside a line move to the start of the next one.
        assert_eq!(line_start_after(path_text, 0).unwrap(), 0);
        assert_eq!(line_start_after(path_text, 3).unwrap(), 9);
        assert_eq!(line_start_after(path_text, 9).unwrap(), 9);
        assert_eq!(line_start_after(path_text, 10).unwrap(), 23);
        let first = parse_range(path_text, 0, 23).unwrap();
        let second = parse_range(path_text, 23, 35).unwrap();
        assert_eq!((first, second), ((2, 0), (2, 1)));
        std::fs::remove_file(&path).unwrap();
    }
}
