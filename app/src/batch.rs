//! Prices a batch in parallel while keeping input order and bounded memory.
//!
//! One thread reads the input in chunks, workers turn chunks into output
//! bytes, and the calling thread writes them. Any idle worker takes the next
//! chunk, so a worker that the machine's other work slows down holds up no
//! other (with chunks dealt out in turn, the others waited for it: 1.4 of 2
//! cores busy on a shared machine, against 1.7 for the parse-only floor,
//! `scripts/bench`). Each chunk carries its number, and the writer puts
//! results back into input order. Memory stays bounded by [`IN_FLIGHT_PER_WORKER`]
//! chunks per worker however long the input is: the reader needs a credit for every
//! chunk it reads, and the writer hands a credit back for every chunk it
//! has written.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::output::Records;
use crate::pool::BufferPool;
use crate::progress::Diagnostics;
use crate::signals;

/// The most chunks read and not yet written, per worker, plus one: enough
/// for each worker to have a chunk in hand and one result waiting while the
/// reader has the next one ready, and a bound on memory (with 8 MiB lines,
/// `cargo xtask hostile` measures the peak).
const IN_FLIGHT_PER_WORKER: usize = 2;

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

/// A worker's result for the chunk of that number, or the panic that
/// stopped it (handed to the writer so it stops waiting for the chunk, and
/// raised again when the batch ends).
enum Done {
    Records(u64, io::Result<Records>),
    Panicked,
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
    let in_flight = workers * IN_FLIGHT_PER_WORKER + 1;
    thread::scope(|scope| {
        // The reader hands chunks over hand to hand: it holds its next chunk
        // until a worker is free to take it. The workers share the receiving
        // end, and the last one to stop drops it, so a reader waiting to hand
        // over a chunk is told that nobody will take it.
        let (to_workers, work) = sync_channel::<(u64, T)>(0);
        let work = Arc::new(Mutex::new(work));
        let (to_writer, results) = sync_channel::<Done>(in_flight);
        let (credits, credit) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            // The channel has room for every credit.
            let _ = credits.send(());
        }

        let reader = scope.spawn(move || read_chunks(chunks, &to_workers, &credit));
        let process = &process;
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let to_writer = to_writer.clone();
            let work = Arc::clone(&work);
            handles.push(scope.spawn(move || work_on(&work, process, &to_writer)));
        }
        // The writer's channel closes when the last worker is done.
        drop(to_writer);
        drop(work);

        let mut preamble = preamble;
        let written = write_in_order(&results, &credits, &mut preamble, out, diagnostics, pool);
        // Dropping the receivers stops workers and reader early when the
        // writer stopped before the end.
        drop(results);
        drop(credits);
        for handle in handles {
            if let Err(payload) = handle.join() {
                panic::resume_unwind(payload);
            }
        }
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

/// Numbers the chunks and hands each to whichever worker is free, one
/// credit per chunk, until the input ends, the input fails, or the writer
/// or the workers are gone.
fn read_chunks<T, I>(
    chunks: I,
    to_workers: &SyncSender<(u64, T)>,
    credit: &Receiver<()>,
) -> io::Result<()>
where
    I: Iterator<Item = io::Result<T>>,
{
    let mut chunks = chunks;
    for number in 0.. {
        // No credit: the writer is gone, nothing more is wanted.
        if credit.recv().is_err() {
            break;
        }
        let Some(chunk) = chunks.next() else { break };
        if to_workers.send((number, chunk?)).is_err() {
            break;
        }
    }
    Ok(())
}

/// One worker: takes chunks until there are no more and sends each result
/// to the writer; stops early when the writer is gone.
fn work_on<T, F>(work: &Mutex<Receiver<(u64, T)>>, process: &F, to_writer: &SyncSender<Done>)
where
    F: Fn(T) -> io::Result<Records>,
{
    loop {
        // The lock is held only while waiting for the next chunk: the
        // reader hands each chunk to exactly one waiting worker.
        let next = match work.lock() {
            Ok(receiver) => receiver.recv(),
            // Another worker panicked while waiting; the batch is ending.
            Err(_) => return,
        };
        let Ok((number, chunk)) = next else { return };
        let done = match panic::catch_unwind(AssertUnwindSafe(|| process(chunk))) {
            Ok(result) => Done::Records(number, result),
            Err(payload) => {
                // The writer must not wait for this chunk forever.
                let _ = to_writer.send(Done::Panicked);
                panic::resume_unwind(payload);
            }
        };
        if to_writer.send(done).is_err() {
            // The writer stopped; nothing more is wanted.
            return;
        }
    }
}

/// Writes the workers' results in input order, handing a credit back to
/// the reader for every chunk written.
fn write_in_order<W: Write, E: Write>(
    results: &Receiver<Done>,
    credits: &SyncSender<()>,
    preamble: &mut &[u8],
    out: &mut W,
    diagnostics: &mut Diagnostics<E>,
    pool: &BufferPool,
) -> Result<Summary, BatchError> {
    let mut summary = Summary::default();
    // Results that came before their turn, at most one per credit.
    let mut early: Vec<(u64, io::Result<Records>)> = Vec::new();
    let mut next: u64 = 0;
    // The channel closes when every worker is done, and so every chunk
    // read has been priced and sent.
    while let Ok(done) = results.recv() {
        let Done::Records(number, result) = done else {
            // A worker panicked; the batch ends and the panic is raised.
            break;
        };
        early.push((number, result));
        while let Some(at) = early.iter().position(|(number, _)| *number == next) {
            let (_, result) = early.swap_remove(at);
            next += 1;
            let records = result.map_err(BatchError::Output)?;
            diagnostics.unknown_tiers(records.unknown_tiers());
            if !preamble.is_empty() {
                // The CSV header goes out with the first records, never
                // before an input that fails on its first read.
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
            // The reader may read one more chunk. It may be gone already
            // (the input ended); then no credit is wanted.
            let _ = credits.try_send(());
            // Only whole chunks of whole records have been written.
            signals::stop_if_asked(out);
        }
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

    /// Runs a batch without a preamble into memory, quietly: what it
    /// returned, and what it wrote.
    fn into_memory<T: Send>(
        chunks: impl Iterator<Item = io::Result<T>> + Send,
        workers: usize,
        process: impl Fn(T) -> io::Result<Records> + Sync,
    ) -> (Result<Summary, BatchError>, Vec<u8>) {
        let mut out = Vec::new();
        let summary = run(
            chunks,
            workers,
            &[],
            process,
            &mut out,
            &mut quiet(),
            &BufferPool::default(),
        );
        (summary, out)
    }

    #[test]
    fn output_keeps_input_order_with_any_number_of_workers() {
        let (_, serial) = into_memory(numbers(1000, 7), 1, echo);
        assert_eq!(memchr::memchr_iter(b'\n', &serial).count(), 1000);
        for workers in [2, 3, 8] {
            let (summary, out) = into_memory(numbers(1000, 7), workers, echo);
            let summary = summary.unwrap();
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
    fn a_slow_chunk_holds_up_no_other_worker() {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::time::{Duration, Instant};
        let (_, serial) = into_memory(numbers(100, 5), 1, echo);
        for workers in [2, 3] {
            let done = AtomicU64::new(0);
            let released = AtomicBool::new(false);
            // Two chunks per worker and one more may be in flight: while the
            // first chunk is held up, the other workers price every other
            // chunk in flight (4 with two workers, 6 with three).
            let others = (workers * IN_FLIGHT_PER_WORKER) as u64;
            let process = |chunk: Vec<u64>| {
                if chunk[0] == 0 {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while done.load(Ordering::SeqCst) < others && Instant::now() < deadline {
                        thread::sleep(Duration::from_millis(1));
                    }
                    released.store(done.load(Ordering::SeqCst) >= others, Ordering::SeqCst);
                }
                done.fetch_add(1, Ordering::SeqCst);
                echo(chunk)
            };
            let (summary, out) = into_memory(numbers(100, 5), workers, process);
            let summary = summary.unwrap();
            assert_eq!(summary.invoices, 100);
            // In input order all the same, the held-up chunk's first.
            assert_eq!(out, serial, "{workers} workers");
            // Held up until the others were done, not until the deadline.
            assert!(released.load(Ordering::SeqCst), "{workers} workers");
        }
    }

    #[test]
    fn a_worker_that_panics_ends_the_batch_with_its_panic() {
        let process = |chunk: Vec<u64>| {
            assert!(chunk[0] != 30, "chunk 30 is poison");
            echo(chunk)
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            into_memory(numbers(1000, 10), 2, process)
        }));
        let payload = outcome.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"chunk 30 is poison"));
    }

    #[test]
    fn an_input_error_is_reported_after_the_chunks_before_it() {
        let chunks = numbers(10, 5)
            .take(1)
            .chain(std::iter::once(Err(io::Error::other("unreadable"))));
        let (summary, out) = into_memory(chunks, 2, echo);
        let error = summary.unwrap_err();
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
