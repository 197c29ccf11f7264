//! What every command that talks to the sandbox processor shares (`charge`,
//! `reconcile`, `correct apply`): the fake gateway over its books, with its
//! latency and its account's rate limit; the meter that counts the requests
//! a run sends; and the pace that keeps them under the limit. One copy, so
//! lookups and refunds go through the same in-flight and rate-limit
//! machinery as charges.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use billing::{Pace, Paced, ThreadSleeper};
use ledger_store::AnyBooks;
use payment_gateway::{
    Capture, Charge, ChargeRequest, FakeGateway, GatewayError, IdempotencyKey, Lookup,
    PaymentGateway, RateLimit, Refund, RefundRequest, SystemClock,
};

/// Requests in flight per worker when `--concurrency` is not given. A
/// processor answering in 300 ms then takes about 53 invoices a second from
/// one worker: over Stripe's test-mode limit (25/s) and half its live one
/// (100/s), so a run meets the limit with one worker in test mode and with
/// two in live mode, where the pace takes over; and 16 threads blocked on
/// their round trips cost well under a MiB. Measured with `cargo xtask
/// charge-bench` (BENCHMARKS.md).
pub(crate) const DEFAULT_CONCURRENCY: usize = 16;
/// The most requests in flight a worker may keep: a thread each.
pub(crate) const MAX_CONCURRENCY: usize = 1024;

/// `--concurrency`: 1 to [`MAX_CONCURRENCY`].
pub(crate) fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(format!(
            "{} is not a number of requests in flight from 1 to {MAX_CONCURRENCY}",
            pricing::excerpt(text)
        )),
    }
}

/// The requests a run keeps in flight: `concurrency`, or one when the
/// sandbox has no latency. Requests in flight pay only when each waits on a
/// round trip; a sandbox with none answers from this process in
/// microseconds, where threads would only share its books' lock (9 423
/// invoices/s one at a time against 8 522 with 16, `scripts/bench pace`)
/// and would capture in an order of their own, so charge ids would no
/// longer follow the input as the README's examples show.
pub(crate) fn in_flight(concurrency: usize, latency: Duration) -> usize {
    if latency.is_zero() { 1 } else { concurrency }
}

/// The sandbox processor over `books`: each request takes `latency`, and
/// the account answers at most `rate_limit` requests per second (shared by
/// every process on these books) when one is given.
pub(crate) fn processor(
    books: AnyBooks,
    latency: Duration,
    rate_limit: Option<NonZeroU32>,
) -> FakeGateway<AnyBooks> {
    let gateway = FakeGateway::with_books(books)
        .with_clock(SystemClock)
        .with_latency(latency)
        .without_request_log();
    match rate_limit {
        Some(limit) => gateway.with_rate_limit(RateLimit::new(limit)),
        None => gateway,
    }
}

/// The gateway a run sends through: `gateway`, metered, paced by `pace`.
pub(crate) type Client<'a, G> = Paced<'a, &'a Metered<G>, ThreadSleeper, SystemClock>;

/// `metered` paced by `pace`, as every command sends.
pub(crate) fn client<'a, G: PaymentGateway>(
    metered: &'a Metered<G>,
    pace: &'a Pace,
) -> Client<'a, G> {
    Paced::new(metered, pace, ThreadSleeper, SystemClock)
}

/// What a run sent, for its summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Requests {
    /// Every request: charges, lookups, searches, refunds.
    pub(crate) sent: u64,
    /// Of those, the ones the processor answered `rate_limited`.
    pub(crate) rate_limited: u64,
    /// Charge requests sent again for an invoice within the run (after a
    /// transient failure, a lost reply or a 429), counted as each invoice's
    /// record is written.
    pub(crate) retries: u64,
}

/// A gateway that counts what is sent through it: the charge requests of
/// each invoice (the request's reference), taken as its record is written,
/// so it holds at most the invoices in flight; and the run's totals.
pub(crate) struct Metered<G> {
    inner: G,
    per_invoice: Mutex<HashMap<String, usize>>,
    totals: Mutex<Requests>,
}

impl<G> Metered<G> {
    pub(crate) fn new(inner: G) -> Self {
        Metered {
            inner,
            per_invoice: Mutex::new(HashMap::new()),
            totals: Mutex::new(Requests::default()),
        }
    }

    fn totals(&self) -> MutexGuard<'_, Requests> {
        self.totals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many charge requests `id` sent since it was last taken; the ones
    /// beyond its first count as retries.
    pub(crate) fn take(&self, id: &str) -> usize {
        let sent = self
            .per_invoice
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
            .unwrap_or(0);
        let again = u64::try_from(sent.saturating_sub(1)).unwrap_or(u64::MAX);
        let mut totals = self.totals();
        totals.retries = totals.retries.saturating_add(again);
        sent
    }

    /// What was sent so far.
    pub(crate) fn requests(&self) -> Requests {
        *self.totals()
    }

    /// Counts one request and its answer.
    fn count<T>(&self, answer: Result<T, GatewayError>) -> Result<T, GatewayError> {
        let mut totals = self.totals();
        totals.sent = totals.sent.saturating_add(1);
        if matches!(answer, Err(GatewayError::RateLimited { .. })) {
            totals.rate_limited = totals.rate_limited.saturating_add(1);
        }
        answer
    }
}

impl<G: PaymentGateway> PaymentGateway for Metered<G> {
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        *self
            .per_invoice
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(request.reference().to_owned())
            .or_default() += 1;
        self.count(self.inner.charge(request))
    }

    fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        self.count(self.inner.lookup(key))
    }

    fn find_captures(&self, references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        self.count(self.inner.find_captures(references))
    }

    fn refund(&self, request: &RefundRequest) -> Result<Refund, GatewayError> {
        self.count(self.inner.refund(request))
    }

    fn lookup_refund(&self, key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        self.count(self.inner.lookup_refund(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_gateway::{Amount, Currency, PaymentMethod};

    fn request(key: &str, token: &str) -> ChargeRequest {
        ChargeRequest::new(
            IdempotencyKey::new(key).unwrap(),
            PaymentMethod::new(token).unwrap(),
            Amount::new(500, Currency::Usd).unwrap(),
            "INV-1",
        )
    }

    #[test]
    fn the_meter_counts_every_request_and_the_charges_sent_again_as_retries() {
        let metered = Metered::new(FakeGateway::new());
        assert!(metered.charge(&request("k1", "tok_transient_2")).is_err());
        assert!(metered.charge(&request("k1", "tok_transient_2")).is_err());
        metered.charge(&request("k1", "tok_transient_2")).unwrap();
        metered.lookup(&IdempotencyKey::new("k1").unwrap()).unwrap();
        assert_eq!(metered.take("INV-1"), 3);
        assert_eq!(metered.take("INV-1"), 0, "taken once");
        assert_eq!(
            metered.requests(),
            Requests {
                sent: 4,
                rate_limited: 0,
                retries: 2
            }
        );
    }

    #[test]
    fn a_rate_limited_answer_is_counted_as_such() {
        let limit = NonZeroU32::new(1).unwrap();
        let metered = Metered::new(FakeGateway::new().with_rate_limit(RateLimit::new(limit)));
        metered.charge(&request("k1", "tok_success")).unwrap();
        assert!(matches!(
            metered.charge(&request("k2", "tok_success")),
            Err(GatewayError::RateLimited { .. })
        ));
        assert_eq!(metered.requests().rate_limited, 1);
        assert_eq!(metered.requests().sent, 2);
    }

    #[test]
    fn the_meter_passes_searches_and_refunds_through_and_counts_them() {
        let metered = Metered::new(FakeGateway::new());
        let charge = metered.charge(&request("k1", "tok_success")).unwrap();
        assert_eq!(metered.find_captures(&["INV-1"]).unwrap().len(), 1);
        let refund = RefundRequest::new(
            IdempotencyKey::new("r1").unwrap(),
            charge.id().clone(),
            Amount::new(100, Currency::Usd).unwrap(),
            "INV-1-CN01".to_owned(),
        );
        let refunded = metered.refund(&refund).unwrap();
        let found = metered
            .lookup_refund(&IdempotencyKey::new("r1").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(found.id(), refunded.id());
        assert_eq!(metered.requests().sent, 4);
    }

    #[test]
    fn a_sandbox_without_latency_is_sent_one_request_at_a_time() {
        assert_eq!(in_flight(64, Duration::ZERO), 1);
        assert_eq!(in_flight(64, Duration::from_millis(300)), 64);
        assert_eq!(in_flight(1, Duration::from_millis(300)), 1);
    }

    #[test]
    fn concurrency_is_a_number_of_requests_from_1_to_1024() {
        assert_eq!(parse_concurrency("64"), Ok(64));
        assert_eq!(parse_concurrency("1"), Ok(1));
        assert_eq!(parse_concurrency("1024"), Ok(1024));
        for refused in ["0", "1025", "-1", "many", ""] {
            assert!(parse_concurrency(refused).is_err(), "{refused}");
        }
    }
}
