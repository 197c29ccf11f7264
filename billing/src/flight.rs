//! Requests in flight (`DOMAIN.md` §6): a batch's requests, whose attempts
//! are already committed pending, sent up to `concurrency` at a time.
//!
//! A processor answers in hundreds of milliseconds; one request at a time,
//! a worker charges three invoices a second whatever its ledger can do. The
//! gateway trait is blocking, so each request in flight is a thread blocked
//! on its round trip: scoped threads, started per batch and joined before
//! it ends, borrowing the service. Threads rather than async because every
//! gateway, ledger and sleeper here is blocking (an async runtime would
//! wrap each call in `spawn_blocking`, a thread all the same) and because a
//! few hundred threads blocked on sockets cost their stacks' touched pages
//! (tens of KiB each), not CPU: memory grows linearly in `concurrency`, not
//! in the number of invoices. At `concurrency` 1 nothing is spawned: the
//! jobs run on the caller's thread, exactly as before.
//!
//! Nothing here decides anything about money: the jobs are the service's
//! own (look up, then charge under the attempt's key), run as they would be
//! one after another.

use std::sync::Mutex;
use std::sync::mpsc;

/// Runs `work` on each of `jobs` with up to `concurrency` running at once,
/// and hands each output to `done` on the calling thread, with the job's
/// index, as it finishes (in any order).
pub(crate) fn run<J, R>(
    concurrency: usize,
    jobs: &[J],
    work: impl Fn(&J) -> R + Sync,
    mut done: impl FnMut(usize, R),
) where
    J: Sync,
    R: Send,
{
    let threads = concurrency.min(jobs.len());
    if threads <= 1 {
        for (index, job) in jobs.iter().enumerate() {
            done(index, work(job));
        }
        return;
    }
    let next = Mutex::new(0_usize);
    let (sender, outputs) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let sender = sender.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                loop {
                    let index = {
                        let mut next = next
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let index = *next;
                        *next += 1;
                        index
                    };
                    let Some(job) = jobs.get(index) else {
                        return;
                    };
                    // The receiver lives until every output is in.
                    let _ = sender.send((index, work(job)));
                }
            });
        }
        drop(sender);
        for (index, output) in outputs {
            done(index, output);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn every_job_runs_once_and_at_most_concurrency_run_at_once() {
        for concurrency in [1, 2, 7, 64] {
            let running = AtomicUsize::new(0);
            let most = AtomicUsize::new(0);
            let jobs: Vec<usize> = (0..40).collect();
            let mut outputs = vec![None; jobs.len()];
            run(
                concurrency,
                &jobs,
                |job| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                    job * 10
                },
                |index, output| {
                    assert!(
                        outputs[index].replace(output).is_none(),
                        "job {index} twice"
                    );
                },
            );
            let outputs: Vec<usize> = outputs.into_iter().map(Option::unwrap).collect();
            assert_eq!(outputs, (0..40).map(|job| job * 10).collect::<Vec<_>>());
            let most = most.load(Ordering::SeqCst);
            assert!(most <= concurrency, "{most} at once, allowed {concurrency}");
            if concurrency > 1 {
                assert!(most > 1, "concurrency {concurrency} ran one at a time");
            }
        }
    }

    #[test]
    fn one_at_a_time_runs_in_order_on_the_callers_thread() {
        let caller = std::thread::current().id();
        let mut order = Vec::new();
        run(
            1,
            &[1, 2, 3],
            |job| {
                assert_eq!(std::thread::current().id(), caller);
                *job
            },
            |index, output| order.push((index, output)),
        );
        assert_eq!(order, [(0, 1), (1, 2), (2, 3)]);
    }
}
