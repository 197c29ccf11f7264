//! The slow path of `diff`: files that do not line up, in bounded memory.
//!
//! What it gains: the lockstep comparison (compare.rs) holds every record
//! whose partner has not turned up yet, about 0.55 KB each, so two files of
//! 1 M disjoint or reordered records held 1.16 GiB. Once more than
//! [`WAITING_LIMIT`] records wait, the comparison hands over to this file:
//! every waiting record, and every record read after it, goes into sorted
//! runs of at most [`RUN`] records in unnamed temporary files (removed by
//! the system when the run ends, even on kill -9); at the end the runs of
//! each side are merged and the two sides joined by key. Memory is then one
//! run's buffer per side and one read buffer per run, whatever the size of
//! the files; [`FAN_IN`] bounds the number of runs (they are merged into one
//! when it is reached). The cost is writing the out-of-step part of the
//! files once (or a few times) to the temporary directory.
//!
//! When it is not used: files that line up (the same input priced twice,
//! which is what the deploy gate compares) never reach the limit and never
//! touch the disk.
//!
//! Pairing is the lockstep's: the k-th record of a key in OLD with the k-th
//! record of that key in NEW (the runs are sorted by key, then position), so
//! the report is the same whichever path made it; the tests check that
//! against the lockstep path on random files.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

use super::read::{Outcome, Record};

/// Records waiting in memory before the comparison spills: about 28 MB at
/// 0.55 KB a record.
pub(super) const WAITING_LIMIT: usize = 50_000;

/// Records per sorted run, per side: about 14 MB of buffer each.
pub(super) const RUN: usize = 25_000;

/// Runs per side before they are merged into one: 64 read buffers of 8 KB.
pub(super) const FAN_IN: usize = 64;

/// How two records are ordered in a run: by key (ids before positions,
/// which are records without an id), then by position.
pub(super) fn order(a: &Record, b: &Record) -> Ordering {
    key_order(a, b).then(a.position.cmp(&b.position))
}

/// How two records' keys compare: `Equal` when they are partners.
pub(super) fn key_order(a: &Record, b: &Record) -> Ordering {
    match (&a.id, &b.id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.position.cmp(&b.position),
    }
}

/// One side's records, spilled in sorted runs.
pub(super) struct Side {
    buffer: Vec<Record>,
    runs: Vec<File>,
    run_size: usize,
    fan_in: usize,
}

impl Side {
    /// A side whose runs hold `run_size` records, merged into one when
    /// `fan_in` are written ([`RUN`] and [`FAN_IN`] in the product; tests
    /// use a few records to reach every branch).
    pub(super) fn new(run_size: usize, fan_in: usize) -> Side {
        Side {
            buffer: Vec::new(),
            runs: Vec::new(),
            run_size: run_size.max(1),
            fan_in: fan_in.max(2),
        }
    }

    pub(super) fn push(&mut self, record: Record) -> io::Result<()> {
        self.buffer.push(record);
        if self.buffer.len() >= self.run_size {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffer as one sorted run.
    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.buffer.sort_by(order);
        let mut out = BufWriter::new(tempfile::tempfile()?);
        for record in self.buffer.drain(..) {
            write_record(&mut out, &record)?;
        }
        self.runs.push(finish(out)?);
        if self.runs.len() >= self.fan_in {
            // Merge every run into one, so that the final merge never holds
            // more than `fan_in` read buffers.
            let mut merged = Merged::new(std::mem::take(&mut self.runs))?;
            let mut out = BufWriter::new(tempfile::tempfile()?);
            while let Some(record) = merged.next_record()? {
                write_record(&mut out, &record)?;
            }
            self.runs.push(finish(out)?);
        }
        Ok(())
    }

    /// How many runs are written (a test's view of when it flushes).
    #[cfg(test)]
    pub(super) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Every record of the side, sorted by [`order`].
    pub(super) fn into_sorted(mut self) -> io::Result<Merged> {
        self.flush()?;
        Merged::new(self.runs)
    }
}

/// Flushes a run and rewinds it for reading.
fn finish(out: BufWriter<File>) -> io::Result<File> {
    let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.rewind()?;
    Ok(file)
}

/// The runs of one side merged into one sorted stream.
pub(super) struct Merged {
    runs: Vec<BufReader<File>>,
    /// Each run's next record, smallest first.
    heads: BinaryHeap<Reverse<Head>>,
}

/// A run's next record, ordered by [`order`].
struct Head(Record, usize);

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        order(&self.0, &other.0).then(self.1.cmp(&other.1))
    }
}

impl Merged {
    fn new(files: Vec<File>) -> io::Result<Merged> {
        let mut runs: Vec<BufReader<File>> = files.into_iter().map(BufReader::new).collect();
        let mut heads = BinaryHeap::with_capacity(runs.len());
        for (index, run) in runs.iter_mut().enumerate() {
            if let Some(record) = read_record(run)? {
                heads.push(Reverse(Head(record, index)));
            }
        }
        Ok(Merged { runs, heads })
    }

    /// The next record in [`order`], `None` when every run is read.
    pub(super) fn next_record(&mut self) -> io::Result<Option<Record>> {
        let Some(Reverse(Head(record, index))) = self.heads.pop() else {
            return Ok(None);
        };
        if let Some(next) = read_record(&mut self.runs[index])? {
            self.heads.push(Reverse(Head(next, index)));
        }
        Ok(Some(record))
    }
}

/// Tags of the run format (ours alone, read back by this process only).
const NO_ID: u8 = 0;
const ID: u8 = 1;
const PRICED: u8 = 0;
const ERROR: u8 = 1;

pub(super) fn write_record(out: &mut impl Write, record: &Record) -> io::Result<()> {
    out.write_all(&record.position.to_le_bytes())?;
    match &record.id {
        None => out.write_all(&[NO_ID])?,
        Some(id) => {
            out.write_all(&[ID])?;
            write_text(out, id)?;
        }
    }
    match &record.outcome {
        Outcome::Priced(cents) => {
            out.write_all(&[PRICED])?;
            for amount in cents {
                out.write_all(&amount.to_le_bytes())?;
            }
        }
        Outcome::Error(message) => {
            out.write_all(&[ERROR])?;
            write_text(out, message)?;
        }
    }
    Ok(())
}

fn write_text(out: &mut impl Write, text: &str) -> io::Result<()> {
    let length = u64::try_from(text.len()).map_err(io::Error::other)?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(text.as_bytes())
}

/// The next record of a run, `None` at its end.
pub(super) fn read_record(input: &mut impl Read) -> io::Result<Option<Record>> {
    let mut position = [0_u8; 8];
    match input.read_exact(&mut position) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let id = match read_byte(input)? {
        NO_ID => None,
        ID => Some(read_text(input)?),
        _ => return Err(corrupt()),
    };
    let outcome = match read_byte(input)? {
        PRICED => {
            let mut cents = [0_i64; 6];
            for amount in &mut cents {
                let mut bytes = [0_u8; 8];
                input.read_exact(&mut bytes)?;
                *amount = i64::from_le_bytes(bytes);
            }
            Outcome::Priced(cents)
        }
        ERROR => Outcome::Error(read_text(input)?),
        _ => return Err(corrupt()),
    };
    Ok(Some(Record {
        position: u64::from_le_bytes(position),
        id,
        outcome,
    }))
}

fn read_byte(input: &mut impl Read) -> io::Result<u8> {
    let mut byte = [0_u8; 1];
    input.read_exact(&mut byte)?;
    Ok(byte[0])
}

fn read_text(input: &mut impl Read) -> io::Result<String> {
    let mut length = [0_u8; 8];
    input.read_exact(&mut length)?;
    let length = u64::from_le_bytes(length);
    let mut text = Vec::new();
    // `take` so that a corrupt length cannot allocate more than the file has.
    input.take(length).read_to_end(&mut text)?;
    if u64::try_from(text.len()).ok() != Some(length) {
        return Err(corrupt());
    }
    String::from_utf8(text).map_err(|_| corrupt())
}

fn corrupt() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "a temporary file of diff was changed while it ran",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(position: u64, id: &str) -> Record {
        Record {
            position,
            id: Some(id.to_owned()),
            outcome: Outcome::Priced([0; 6]),
        }
    }

    #[test]
    fn a_side_writes_a_run_when_its_buffer_is_full_and_merges_them_at_its_fan_in() {
        let mut side = Side::new(2, 3);
        side.push(record(1, "C")).unwrap();
        assert_eq!(side.runs(), 0, "one record: still in the buffer");
        side.push(record(2, "B")).unwrap();
        assert_eq!(side.runs(), 1);
        for (position, id) in [(3, "A"), (4, "E")] {
            side.push(record(position, id)).unwrap();
        }
        assert_eq!(side.runs(), 2, "two runs, below the fan-in of three");
        for (position, id) in [(5, "D"), (6, "F")] {
            side.push(record(position, id)).unwrap();
        }
        // Three runs reached the fan-in and were merged into one.
        assert_eq!(side.runs(), 1);
        let mut merged = side.into_sorted().unwrap();
        let mut ids = Vec::new();
        while let Some(record) = merged.next_record().unwrap() {
            ids.push(record.id.unwrap());
        }
        assert_eq!(ids, ["A", "B", "C", "D", "E", "F"]);
    }

    #[test]
    fn heads_are_equal_exactly_when_they_order_equal() {
        let head = |position, id, run| Head(record(position, id), run);
        assert!(head(1, "A", 0) == head(1, "A", 0));
        assert!(head(1, "A", 0) != head(1, "A", 1));
        assert!(head(1, "A", 0) != head(2, "A", 0));
        assert!(head(1, "A", 0) < head(1, "B", 0));
    }

    /// A reader that fails as a disk does.
    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk failed"))
        }
    }

    #[test]
    fn a_run_that_cannot_be_read_is_an_error_never_its_end() {
        let error = read_record(&mut Failing).unwrap_err();
        assert_eq!(error.to_string(), "disk failed");
        assert_eq!(read_record(&mut io::empty()).unwrap(), None);
    }
}
