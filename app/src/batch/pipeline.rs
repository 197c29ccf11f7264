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

use crate::batch::pool::BufferPool;
use crate::batch::write::Records;
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
        let mut summary = written?;
        if summary.closed {
            return Ok(summary);
        }
        read.map_err(BatchError::Input)?;
        // No records at all: the header alone, once the input read whole.
        if !preamble.is_empty() {
            match out.write_all(preamble).and_then(|()| out.flush()) {
                Err(error) if error.kind() == io::ErrorKind::BrokenPipe => summary.closed = true,
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
mod tests;
