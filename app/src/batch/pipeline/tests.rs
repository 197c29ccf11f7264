use super::*;
use crate::batch::write::Format;

/// Chunks of numbers; each number becomes one line of output, and odd
/// numbers count as invalid.
fn numbers(count: u64, per_chunk: u64) -> impl Iterator<Item = io::Result<Vec<u64>>> + Send {
    (0..count.div_ceil(per_chunk))
        .map(move |chunk| Ok((chunk * per_chunk..((chunk + 1) * per_chunk).min(count)).collect()))
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

/// Runs a batch of `chunks` through `echo` with two workers, quietly,
/// writing `preamble` and the records to `out`.
fn echo_into(
    chunks: impl Iterator<Item = io::Result<Vec<u64>>> + Send,
    preamble: &[u8],
    out: &mut impl Write,
) -> Result<Summary, BatchError> {
    run(
        chunks,
        2,
        preamble,
        echo,
        out,
        &mut quiet(),
        &BufferPool::default(),
    )
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

impl Full {
    fn after(room: usize, kind: io::ErrorKind) -> Full {
        Full { room, kind }
    }
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
    let mut out = Full::after(10, io::ErrorKind::BrokenPipe);
    let summary = echo_into(numbers(100_000, 100), &[], &mut out).unwrap();
    assert!(summary.closed);
    // The first chunk was cut off, but its first records may have been
    // read (`| head -1`): it counts for the status.
    assert_eq!((summary.invoices, summary.invalid), (100, 50));
}

#[test]
fn the_preamble_goes_out_with_the_first_records_or_alone_at_a_clean_end() {
    let mut out = Vec::new();
    echo_into(numbers(4, 2), b"head\n", &mut out).unwrap();
    assert!(
        out.starts_with(b"head\n{"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(memchr::memchr_iter(b'\n', &out).count(), 5);
    let mut out = Vec::new();
    echo_into(numbers(0, 2), b"head\n", &mut out).unwrap();
    assert_eq!(out, b"head\n");
}

#[test]
fn no_preamble_before_an_input_that_fails_at_once() {
    let mut out = Vec::new();
    let chunks = std::iter::once(Err::<Vec<u64>, _>(io::Error::other("unreadable")));
    let error = echo_into(chunks, b"head\n", &mut out).unwrap_err();
    assert!(matches!(error, BatchError::Input(_)));
    assert!(out.is_empty());
}

#[test]
fn other_output_errors_fail_the_batch() {
    let mut out = Full::after(10, io::ErrorKind::StorageFull);
    let error = echo_into(numbers(1000, 100), &[], &mut out).unwrap_err();
    assert!(matches!(error, BatchError::Output(ref e) if e.kind() == io::ErrorKind::StorageFull));
}
