//! Prices a batch in parallel while keeping input order and bounded memory.
//!
//! One thread reads the input in chunks, workers turn chunks into output
//! bytes, and the calling thread writes them. Chunks go to the workers in
//! turn (chunk k to worker k mod n) and the writer takes results back in the
//! same turn, so output order is input order without a reordering buffer.
//! The reader hands chunks over hand to hand (a rendezvous channel: it
//! holds its next chunk until a worker takes it), and each result channel
//! holds at most one chunk, so memory is bounded by a few chunks however
//! long the input is: with 8 MiB lines, 54 MiB peak instead of 70 MiB with
//! a one-chunk queue per worker (`cargo xtask hostile`), at the same speed.

use std::io::{self, Write};
use std::panic;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use crate::output::Records;
use crate::pool::BufferPool;
use crate::progress::Diagnostics;
use crate::signals;

/// What a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Summary {
    /// Input invoices with a record written.
    pub(crate) invoices: u64,
    /// Of those, the invalid ones.
    pub(crate) invalid: u64,
    /// Whether the reader of the output went away (a closed pipe) before
    /// the end.
    pub(crate) closed: bool,
}

/// Why a batch stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    /// The input could not be read.
    #[error("{0}")]
    Input(io::Error),
    /// The output could not be written.
    #[error("{0}")]
    Output(io::Error),
}

/// Runs `process` over every chunk of `chunks` on `workers` threads and
/// writes the resulting records to `out` in input order, after `preamble`
/// (a CSV header), which is written with the first records, or at the end
/// when there are none, but never when the input fails before any chunk.
///
/// Output that can no longer be written because its reader went away
/// (`BrokenPipe`) ends the batch quietly with [`Summary::closed`] set.
#[allow(clippy::too_many_arguments)] // Each is one part of the pipeline; a struct would only rename them.
pub(crate) fn run<T, I, F, W, E>(
    chunks: I,
    workers: usize,
    preamble: &[u8],
    process: F,
    out: &mut W,
    diagnostics: &mut Diagnostics<E>,
    pool: &BufferPool,
) -> Result<Summary, BatchError>
where
    T: Send,
    I: Iterator<Item = io::Result<T>> + Send,
    F: Fn(T) -> io::Result<Records> + Sync,
    W: Write,
    E: Write,
{
    let workers = workers.max(1);
    thread::scope(|scope| {
        let (to_workers, work): (Vec<SyncSender<T>>, Vec<Receiver<T>>) =
            (0..workers).map(|_| sync_channel(0)).unzip();
        let (to_writer, results): (Vec<SyncSender<io::Result<Records>>>, Vec<_>) =
            (0..workers).map(|_| sync_channel(1)).unzip();

        let reader = scope.spawn(move || read_chunks(chunks, &to_workers));
        let process = &process;
        for (work, to_writer) in work.into_iter().zip(to_writer) {
            scope.spawn(move || {
                for chunk in work {
                    if to_writer.send(process(chunk)).is_err() {
                        // The writer stopped; nothing more is wanted.
                        break;
                    }
                }
            });
        }

        let mut preamble = preamble;
        let written = write_in_order(&results, &mut preamble, out, diagnostics, pool);
        // Dropping the receivers stops workers and reader early when the
        // writer stopped before the end.
        drop(results);
        let read = match reader.join() {
            Ok(read) => read,
            Err(payload) => panic::resume_unwind(payload),
        };
        let summary = written?;
        if summary.closed {
            return Ok(summary);
        }
        read.map_err(BatchError::Input)?;
        // No records at all: the header alone, once the input read whole.
        if !preamble.is_empty() {
            match out.write_all(preamble).and_then(|()| out.flush()) {
                Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {}
                Err(error) => return Err(BatchError::Output(error)),
                Ok(()) => {}
            }
        }
        Ok(summary)
    })
}

/// Hands chunks to the workers in turn until the input ends, the input
/// fails, or the workers are gone.
fn read_chunks<T, I>(chunks: I, to_workers: &[SyncSender<T>]) -> io::Result<()>
where
    I: Iterator<Item = io::Result<T>>,
{
    for (chunk, to_worker) in chunks.zip(to_workers.iter().cycle()) {
        if to_worker.send(chunk?).is_err() {
            break;
        }
    }
    Ok(())
}

/// Writes the workers' results in input order.
fn write_in_order<W: Write, E: Write>(
    results: &[Receiver<io::Result<Records>>],
    preamble: &mut &[u8],
    out: &mut W,
    diagnostics: &mut Diagnostics<E>,
    pool: &BufferPool,
) -> Result<Summary, BatchError> {
    let mut summary = Summary::default();
    // A worker's channel closes only after its last chunk, and chunk k went
    // to worker k mod n, so the first closed channel in turn is the end.
    for result in results
        .iter()
        .cycle()
        .map_while(|results| results.recv().ok())
    {
        let records = result.map_err(BatchError::Output)?;
        diagnostics.unknown_tiers(records.unknown_tiers());
        if !preamble.is_empty() {
            // The CSV header goes out with the first records, never before
            // an input that fails on its first read.
            let preamble = std::mem::take(preamble);
            if let Err(error) = out.write_all(preamble) {
                return closed_or_failed(error, summary, diagnostics);
            }
        }
        let written =
            signals::writing(|| out.write_all(records.bytes()).and_then(|()| out.flush()));
        // Records of a chunk that was cut off by a closed pipe may have
        // reached the reader (`| head -1` can show the first of them), so
        // they count for the status as well.
        summary.invoices += records.invoices();
        summary.invalid += records.invalid();
        if let Err(error) = written {
            return closed_or_failed(error, summary, diagnostics);
        }
        diagnostics.progress(summary.invoices);
        pool.put(records.into_bytes());
        // Only whole chunks of whole records have been written.
        signals::stop_if_asked(out);
    }

    diagnostics.finish();
    match out.flush() {
        Ok(()) => Ok(summary),
        Err(error) => closed_or_failed(error, summary, diagnostics),
    }
}

fn closed_or_failed<E: Write>(
    error: io::Error,
    mut summary: Summary,
    diagnostics: &mut Diagnostics<E>,
) -> Result<Summary, BatchError> {
    diagnostics.clear();
    if error.kind() == io::ErrorKind::BrokenPipe {
        summary.closed = true;
        Ok(summary)
    } else {
        Err(BatchError::Output(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Format;

    /// Chunks of numbers; each number becomes one line of output, and odd
    /// numbers count as invalid.
    fn numbers(count: u64, per_chunk: u64) -> impl Iterator<Item = io::Result<Vec<u64>>> + Send {
        (0..count.div_ceil(per_chunk)).map(move |chunk| {
            Ok((chunk * per_chunk..((chunk + 1) * per_chunk).min(count)).collect())
        })
    }

    fn echo(chunk: Vec<u64>) -> io::Result<Records> {
        let mut records = Records::new(Format::Jsonl, Vec::new());
        for n in chunk {
            if n % 2 == 1 {
                records.reject(n, None, &"odd")?;
            } else {
                let input = pricing::PricingInput::new(
                    vec![pricing::LineItem::new(
                        n.to_string().parse().unwrap(),
                        "1".parse().unwrap(),
                    )],
                    pricing::Tier::None,
                    false,
                    pricing::DaysOverdue::default(),
                )
                .unwrap();
                records.price(n, None, &input)?;
            }
        }
        Ok(records)
    }

    fn quiet() -> Diagnostics<Vec<u8>> {
        Diagnostics::new(Vec::new(), false, std::time::Duration::ZERO)
    }

    #[test]
    fn output_keeps_input_order_with_any_number_of_workers() {
        let serial = {
            let mut out = Vec::new();
            run(
                numbers(1000, 7),
                1,
                &[],
                echo,
                &mut out,
                &mut quiet(),
                &BufferPool::default(),
            )
            .unwrap();
            out
        };
        assert_eq!(memchr::memchr_iter(b'\n', &serial).count(), 1000);
        for workers in [2, 3, 8] {
            let mut out = Vec::new();
            let summary = run(
                numbers(1000, 7),
                workers,
                &[],
                echo,
                &mut out,
                &mut quiet(),
                &BufferPool::default(),
            )
            .unwrap();
            assert_eq!(out, serial, "{workers} workers");
            assert_eq!(
                summary,
                Summary {
                    invoices: 1000,
                    invalid: 500,
                    closed: false
                }
            );
        }
    }

    #[test]
    fn an_input_error_is_reported_after_the_chunks_before_it() {
        let chunks = numbers(10, 5)
            .take(1)
            .chain(std::iter::once(Err(io::Error::other("unreadable"))));
        let mut out = Vec::new();
        let error = run(
            chunks,
            2,
            &[],
            echo,
            &mut out,
            &mut quiet(),
            &BufferPool::default(),
        )
        .unwrap_err();
        assert!(matches!(error, BatchError::Input(ref e) if e.to_string() == "unreadable"));
        assert_eq!(memchr::memchr_iter(b'\n', &out).count(), 5);
    }

    /// Accepts `room` bytes, then fails with `kind`.
    struct Full {
        room: usize,
        kind: io::ErrorKind,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(self.kind.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_batch_quietly() {
        let mut out = Full {
            room: 10,
            kind: io::ErrorKind::BrokenPipe,
        };
        let summary = run(
            numbers(100_000, 100),
            2,
            &[],
            echo,
            &mut out,
            &mut quiet(),
            &BufferPool::default(),
        )
        .unwrap();
        assert!(summary.closed);
        // The first chunk was cut off, but its first records may have been
        // read (`| head -1`): it counts for the status.
        assert_eq!((summary.invoices, summary.invalid), (100, 50));
    }

    #[test]
    fn the_preamble_goes_out_with_the_first_records_or_alone_at_a_clean_end() {
        let mut out = Vec::new();
        run(
            numbers(4, 2),
            2,
            b"head\n",
            echo,
            &mut out,
            &mut quiet(),
            &BufferPool::default(),
        )
        .unwrap();
        assert!(
            out.starts_with(b"head\n{"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(memchr::memchr_iter(b'\n', &out).count(), 5);
        let mut out = Vec::new();
        run(
            numbers(0, 2),
            2,
            b"head\n",
            echo,
            &mut out,
            &mut quiet(),
            &BufferPool::default(),
        )
        .unwrap();
        assert_eq!(out, b"head\n");
    }

    #[test]
    fn no_preamble_before_an_input_that_fails_at_once() {
        let mut out = Vec::new();
        let chunks = std::iter::once(Err::<Vec<u64>, _>(io::Error::other("unreadable")));
        let error = run(
            chunks,
            2,
            b"head\n",
            echo,
            &mut out,
            &mut quiet(),
            &BufferPool::default(),
        )
        .unwrap_err();
        assert!(matches!(error, BatchError::Input(_)));
        assert!(out.is_empty());
    }

    #[test]
    fn other_output_errors_fail_the_batch() {
        let mut out = Full {
            room: 10,
            kind: io::ErrorKind::StorageFull,
        };
        let error = run(
            numbers(1000, 100),
            2,
            &[],
            echo,
            &mut out,
            &mut quiet(),
            &BufferPool::default(),
        )
        .unwrap_err();
        assert!(
            matches!(error, BatchError::Output(ref e) if e.kind() == io::ErrorKind::StorageFull)
        );
    }
}
