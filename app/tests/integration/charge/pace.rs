//! `ledgerly charge` at a real processor's pace (`DOMAIN.md` §6): many
//! requests in flight per worker, under an account's rate limit shared by
//! every worker, and none of the guarantees weaker than one at a time:
//! killed runs with 64 requests in flight still capture each invoice once,
//! and workers that all meet 429s still pay every invoice once.

use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

use super::ledger::{Comparison, Moments, Place, compare, finished, seed, write_invoices};
use crate::util::scratch;

/// A lease the kill tests' runs renew and outlive.
const LEASE: &str = "2s";

fn all_paid_once(invoices: usize) -> Comparison {
    Comparison {
        invoices,
        paid: invoices,
        captures: invoices,
        ..Comparison::default()
    }
}

#[test]
fn runs_with_64_requests_in_flight_killed_at_random_moments_capture_each_invoice_once() {
    // 300 ms a request and 64 in flight: a run's batches hold dozens of
    // requests on their way when the kill comes.
    const INVOICES: usize = 600;
    const KILLS: usize = 8;
    for place in Place::all() {
        let dir = scratch();
        let input = write_invoices(dir.path(), INVOICES);
        let seed = seed();
        let mut moments = Moments(seed);
        let started = Instant::now();
        let flags = ["--claim-timeout", LEASE, "--concurrency", "64"];
        let mut killed = 0;
        for _ in 0..KILLS {
            let mut child = place.spawn_charge(&input, "300ms", &flags);
            std::thread::sleep(Duration::from_millis(300 + moments.next_below(1_200)));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                killed += 1;
            }
            child.wait().unwrap();
        }
        let midway = compare(&place);
        place
            .command(&["reconcile", "--concurrency", "64"])
            .assert()
            .code(predicate::in_iter([0, 1]));
        let reconciled = compare(&place);
        assert_eq!(reconciled.captures, midway.captures, "seed {seed}");
        assert_eq!(
            (
                reconciled.double_captures,
                reconciled.paid_without_capture,
                reconciled.captured_not_paid,
                reconciled.paid
            ),
            (0, 0, 0, reconciled.captures),
            "{} seed {seed}",
            place.name()
        );
        let status = finished(&mut place.spawn_charge(&input, "300ms", &flags));
        assert_eq!(status.code(), Some(0), "{} seed {seed}", place.name());
        let comparison = compare(&place);
        eprintln!(
            "in-flight kill test on {} (seed {seed}): {killed} kills of {KILLS} runs, 64 in \
             flight at 300 ms, {INVOICES} invoices, {} captured before the final run, {} \
             captures, {} double captures, {:?}",
            place.name(),
            midway.captures,
            comparison.captures,
            comparison.double_captures,
            started.elapsed()
        );
        assert_eq!(midway.double_captures, 0, "seed {seed}");
        assert_eq!(
            comparison,
            all_paid_once(INVOICES),
            "{} seed {seed}",
            place.name()
        );
    }
}

#[test]
fn workers_that_meet_the_rate_limit_still_pay_every_invoice_once() {
    // Three workers, 16 in flight each, on an account allowing 40 requests
    // a second: each that sends its share is answered 429 and slows down.
    const INVOICES: usize = 240;
    const WORKERS: usize = 3;
    for place in Place::all() {
        let dir = scratch();
        let input = write_invoices(dir.path(), INVOICES);
        // The schema exists before the workers start.
        place
            .command(&["charge", "--input", "-"])
            .write_stdin("")
            .assert()
            .success();
        let summaries: Vec<_> = (0..WORKERS)
            .map(|worker| dir.path().join(format!("summary-{worker}.json")))
            .collect();
        let mut children: Vec<_> = summaries
            .iter()
            .map(|summary| {
                let summary = summary.to_str().unwrap();
                place.spawn_charge(
                    &input,
                    "20ms",
                    &[
                        "--concurrency",
                        "16",
                        "--sandbox-rate-limit",
                        "40",
                        "--summary",
                        summary,
                    ],
                )
            })
            .collect();
        for child in &mut children {
            assert_eq!(finished(child).code(), Some(0), "{}", place.name());
        }
        let mut limited = 0;
        for summary in &summaries {
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
            assert_eq!(json["total"], INVOICES, "{json}");
            // A worker that sent its share met the limit (one that started
            // last may find every invoice claimed by the others).
            let (sent, rate_limited) = (
                json["requests"].as_u64().unwrap(),
                json["rate_limited"].as_u64().unwrap(),
            );
            assert!(sent < 40 || rate_limited > 0, "{}: {json}", place.name());
            limited += rate_limited;
        }
        assert!(limited > 0, "{}: no worker met the limit", place.name());
        assert_eq!(compare(&place), all_paid_once(INVOICES), "{}", place.name());
    }
}
