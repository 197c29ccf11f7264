//! The processor's pace (`DOMAIN.md` §6): a client that slows down when
//! the processor says `rate_limited` and speeds up again, so that several
//! workers sharing one account converge to its limit together instead of
//! collecting 429s.
//!
//! [`Pace`] is the controller, one per process, shared by every request in
//! flight. Until the first 429 it holds nothing back. Then it spaces
//! requests evenly at a rate it adapts:
//!
//! - the first 429 starts the rate at half the requests then in flight per
//!   round trip (they were all sent at once, and too many);
//! - each later 429 cuts the rate by a tenth, unless its request was sent
//!   before the last cut (the requests sent at the old pace all come back
//!   429 together: one signal, not many, as TCP reacts once per window),
//!   never below nine tenths of what the processor let through in the last
//!   second or two; every 429 holds all requests until its retry-after;
//! - while the rate is what holds requests back, it grows by a twentieth
//!   of what the last cut left, per second (back to the limit in about two
//!   seconds after a cut from it).
//!
//! At the limit the rate saws between nine tenths of it and all of it:
//! about 95 % of the limit used, and every worker of the account backs off
//! on the same 429s. It reads no clock and sleeps on no thread of its own:
//! the times are given to it.
//!
//! [`Paced`] is a gateway that puts every request through a `Pace`: charges,
//! lookups, searches and refunds alike. A `rate_limited` reply moved no
//! money, so the same request, under the same key, is sent again once the
//! pace allows: it is neither a decline nor a failed attempt, and does not
//! count towards the retry policy's attempts (a processor that never stops
//! answering 429 is given up on after [`MAX_RATE_LIMITED`] replies, as a
//! transient failure).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use payment_gateway::{
    Capture, Charge, ChargeRequest, Clock, GatewayError, IdempotencyKey, Lookup, PaymentGateway,
    Refund, RefundRequest,
};

use crate::Sleeper;

/// The rate grows by this share of what the last cut left, per second.
pub const GROWTH_DIVISOR: u64 = 20;
/// How many `rate_limited` replies in a row one request takes before it is
/// given up on (then it is a transient failure, retried by the policy).
pub const MAX_RATE_LIMITED: u32 = 1_000;
/// Rates are kept in thousandths of a request per second.
const MILLI: u64 = 1_000;
/// The slowest pace: one request every ten seconds.
const MIN_RATE: u64 = MILLI / 10;
/// A 429 keeps nine tenths of the rate.
const KEEP_NUMERATOR: u64 = 9;
const KEEP_DENOMINATOR: u64 = 10;
/// What the processor let through is counted over windows of a second.
const WINDOW_US: i64 = 1_000_000;

/// A pace shared by every request of one process. See the module.
#[derive(Debug, Default)]
pub struct Pace {
    state: Mutex<PaceState>,
}

#[derive(Debug, Default, Clone)]
struct PaceState {
    /// Requests per thousand seconds; `None` until the first 429.
    rate: Option<u64>,
    /// How much it grows per second (a tenth of the last cut), in the same
    /// unit.
    growth: u64,
    /// When it last grew, µs.
    last_growth_us: i64,
    /// Requests sent and not answered yet.
    in_flight: u64,
    /// The earliest time the next request may start (µs).
    next_us: i64,
    /// No request before this (the latest retry-after), µs.
    hold_until_us: i64,
    /// When the rate was last cut, µs.
    last_cut_us: Option<i64>,
    /// The smoothed round trip (seven eighths of the last estimate and an
    /// eighth of the newest, as TCP's), µs.
    round_trip_us: i64,
    /// Answers (not 429) since `window_start_us`, and in the window before.
    window_start_us: i64,
    window_answered: u64,
    previous_answered: Option<u64>,
    /// Whether the last request waited for its slot: only a rate that holds
    /// requests back grows (a worker sending less than its pace allows
    /// learns nothing about the limit from its answers).
    binding: bool,
}

impl Pace {
    /// A pace that holds nothing back until told `rate_limited`.
    pub fn new() -> Pace {
        Pace::default()
    }

    fn state(&self) -> MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request wants to start at `now`: how long it must wait first. Its
    /// slot is taken, so the next caller waits for the one after; the
    /// request counts as in flight until it is answered.
    pub fn turn(&self, now: SystemTime) -> Duration {
        let now = micros(now);
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_add(1);
        let held = now.max(state.hold_until_us);
        let slot = held.max(state.next_us);
        state.binding = slot > held;
        if let Some(rate) = state.rate {
            state.next_us = slot.saturating_add(to_i64(MILLI * 1_000_000 / rate.max(1)));
        }
        duration_us(slot - now)
    }

    /// The processor answered (anything but `rate_limited`) at `now` a
    /// request sent `round_trip` before: the rate grows with the time since
    /// it last grew, while it holds requests back.
    pub fn answered(&self, now: SystemTime, round_trip: Duration) {
        let now = micros(now);
        let mut state = self.state();
        state.landed(round_trip);
        state.roll(now);
        state.window_answered = state.window_answered.saturating_add(1);
        let Some(rate) = state.rate else {
            return;
        };
        // At most a second's growth per answer: a pace left idle (a worker
        // between batches) has learnt nothing while it waited.
        let since = u64::try_from((now - state.last_growth_us).min(WINDOW_US)).unwrap_or(0);
        if !state.binding {
            state.last_growth_us = now;
            return;
        }
        let growth = since.saturating_mul(state.growth) / 1_000_000;
        if growth > 0 {
            state.rate = Some(rate.saturating_add(growth));
            state.last_growth_us = now;
        }
    }

    /// The processor answered `rate_limited` at `now` a request sent
    /// `round_trip` before, asking to wait `retry_after`: nothing starts
    /// before then, and the rate falls by a tenth (unless the request was
    /// sent before the last cut). The first 429 starts the rate at half the
    /// requests in flight per round trip.
    pub fn rate_limited(&self, now: SystemTime, retry_after: Duration, round_trip: Duration) {
        let now = micros(now);
        let mut state = self.state();
        let in_flight = state.in_flight;
        state.landed(round_trip);
        let hold = now.saturating_add(to_i64(
            u64::try_from(retry_after.as_micros()).unwrap_or(u64::MAX),
        ));
        state.hold_until_us = state.hold_until_us.max(hold);
        // Sent before the last cut: paced by the old rate, already cut for.
        let sent = now.saturating_sub(to_i64(
            u64::try_from(round_trip.as_micros()).unwrap_or(u64::MAX),
        ));
        if state.last_cut_us.is_some_and(|last| sent < last) {
            return;
        }
        let cut = if let Some(rate) = state.rate {
            rate / KEEP_DENOMINATOR * KEEP_NUMERATOR
        } else {
            // Requests per round trip, halved, per second.
            let round_trip = u64::try_from(state.round_trip_us.max(1)).unwrap_or(1);
            in_flight.saturating_mul(MILLI * 1_000_000) / 2 / round_trip
        };
        state.roll(now);
        let floor = state.answered_rate(now) / KEEP_DENOMINATOR * KEEP_NUMERATOR;
        let cut = cut.max(floor).max(MIN_RATE);
        state.rate = Some(cut);
        state.growth = (cut / GROWTH_DIVISOR).max(MIN_RATE);
        state.last_cut_us = Some(now);
        state.last_growth_us = now;
    }

    /// The pace in requests per second (rounded down), once a 429 set one.
    pub fn rate(&self) -> Option<u64> {
        self.state().rate.map(|rate| rate / MILLI)
    }
}

impl PaceState {
    /// Starts a new counting window once the current one is over.
    fn roll(&mut self, now: i64) {
        let elapsed = now - self.window_start_us;
        if elapsed >= WINDOW_US {
            self.previous_answered = (elapsed < 2 * WINDOW_US).then_some(self.window_answered);
            self.window_start_us = now;
            self.window_answered = 0;
        }
    }

    /// Answers per thousand seconds over this window and the one before,
    /// measured over at least a second (fewer answers than that in a first
    /// window never read as a high rate).
    fn answered_rate(&self, now: i64) -> u64 {
        let (count, start) = match self.previous_answered {
            Some(previous) => (
                previous.saturating_add(self.window_answered),
                self.window_start_us - WINDOW_US,
            ),
            None => (self.window_answered, self.window_start_us),
        };
        let span = u64::try_from((now - start).max(WINDOW_US)).unwrap_or(1);
        count.saturating_mul(MILLI * 1_000_000) / span.max(1)
    }

    /// A request came back after `round_trip`: no longer in flight, and a
    /// sample of the round trip.
    fn landed(&mut self, round_trip: Duration) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let sample = to_i64(u64::try_from(round_trip.as_micros()).unwrap_or(u64::MAX));
        self.round_trip_us = if self.round_trip_us == 0 {
            sample
        } else {
            self.round_trip_us.saturating_mul(7).saturating_add(sample) / 8
        };
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Microseconds since the Unix epoch (0 before it).
fn micros(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

fn duration_us(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

/// A gateway whose every request goes through `pace`, waiting with
/// `sleeper` and reading the time from `clock`. See the module.
#[derive(Debug)]
pub struct Paced<'p, G, S, C> {
    inner: G,
    pace: &'p Pace,
    sleeper: S,
    clock: C,
}

impl<'p, G: PaymentGateway, S: Sleeper, C: Clock> Paced<'p, G, S, C> {
    /// `inner`, paced by `pace`.
    pub fn new(inner: G, pace: &'p Pace, sleeper: S, clock: C) -> Self {
        Paced {
            inner,
            pace,
            sleeper,
            clock,
        }
    }

    /// The gateway it paces.
    pub fn inner(&self) -> &G {
        &self.inner
    }

    /// Sends `request` when the pace allows, again after each 429.
    fn send<T>(&self, request: impl Fn(&G) -> Result<T, GatewayError>) -> Result<T, GatewayError> {
        let mut limited: u32 = 0;
        loop {
            let wait = self.pace.turn(self.clock.now());
            if !wait.is_zero() {
                self.sleeper.sleep(wait);
            }
            let sent = self.clock.now();
            let answer = request(&self.inner);
            let now = self.clock.now();
            let round_trip = now.duration_since(sent).unwrap_or_default();
            match answer {
                Err(GatewayError::RateLimited { retry_after }) if limited < MAX_RATE_LIMITED => {
                    limited += 1;
                    self.pace.rate_limited(now, retry_after, round_trip);
                }
                Err(GatewayError::RateLimited { retry_after }) => {
                    return Err(GatewayError::Transient {
                        reason: format!(
                            "rate limited {limited} times in a row (retry after {} ms)",
                            retry_after.as_millis()
                        ),
                    });
                }
                answer => {
                    self.pace.answered(now, round_trip);
                    return answer;
                }
            }
        }
    }
}

impl<G: PaymentGateway, S: Sleeper, C: Clock> PaymentGateway for Paced<'_, G, S, C> {
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        self.send(|gateway| gateway.charge(request))
    }

    fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        self.send(|gateway| gateway.lookup(key))
    }

    fn find_captures(&self, references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        self.send(|gateway| gateway.find_captures(references))
    }

    fn refund(&self, request: &RefundRequest) -> Result<Refund, GatewayError> {
        self.send(|gateway| gateway.refund(request))
    }

    fn lookup_refund(&self, key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        self.send(|gateway| gateway.lookup_refund(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_gateway::{Admission, ManualClock, RateLimit};
    use proptest::prelude::*;
    use std::num::NonZeroU32;

    /// A round trip of 300 ms.
    const RTT: Duration = Duration::from_millis(300);
    const RTT_US: i64 = 300_000;

    fn at(us: i64) -> SystemTime {
        SystemTime::UNIX_EPOCH + duration_us(us)
    }

    #[test]
    fn nothing_is_held_back_until_the_first_429() {
        let pace = Pace::new();
        for _ in 0..100 {
            assert_eq!(pace.turn(at(5)), Duration::ZERO);
        }
        assert_eq!(pace.rate(), None);
    }

    #[test]
    fn the_first_429_paces_half_the_requests_in_flight_per_round_trip_and_holds_them() {
        let pace = Pace::new();
        for _ in 0..10 {
            pace.turn(at(0));
        }
        let round_trip = Duration::from_millis(100);
        pace.rate_limited(at(100_000), Duration::from_millis(30), round_trip);
        // Five per 100 ms: 50 per second, one every 20 ms after the hold.
        assert_eq!(pace.rate(), Some(50));
        assert_eq!(pace.turn(at(100_000)), Duration::from_millis(30));
        assert_eq!(pace.turn(at(100_000)), Duration::from_millis(50));
        // Another 429 to a request sent before the cut is the same signal:
        // held, not cut again; one to a request sent after cuts by a tenth.
        pace.rate_limited(at(150_000), Duration::from_millis(200), round_trip);
        assert_eq!(pace.rate(), Some(50));
        assert_eq!(pace.turn(at(150_000)), Duration::from_millis(200));
        pace.rate_limited(at(200_001), Duration::ZERO, round_trip);
        assert_eq!(pace.rate(), Some(45));
    }

    #[test]
    fn the_rate_grows_a_twentieth_of_its_cut_per_second_while_it_holds_requests_back() {
        let pace = Pace::new();
        for _ in 0..60 {
            pace.turn(at(0));
        }
        pace.rate_limited(at(RTT_US), Duration::ZERO, RTT);
        assert_eq!(pace.rate(), Some(100));
        // Requests wait for their slots: the pace binds, and grows 5/s.
        pace.turn(at(RTT_US));
        pace.turn(at(RTT_US));
        pace.answered(at(RTT_US + 1_000_000), RTT);
        assert_eq!(pace.rate(), Some(105));
        // A worker that sends less than its pace allows learns nothing.
        pace.turn(at(60_000_000));
        pace.answered(at(62_000_000), RTT);
        assert_eq!(pace.rate(), Some(105));
    }

    /// A pace cut by a 429 a second for 200 seconds, down to its floor,
    /// and the time of the last cut.
    fn cut_to_the_floor() -> (Pace, i64) {
        let pace = Pace::new();
        pace.turn(at(0));
        let mut now = 0;
        for _ in 0..200 {
            now += 1_000_000;
            pace.turn(at(now));
            pace.rate_limited(at(now), Duration::ZERO, Duration::ZERO);
        }
        assert_eq!(pace.state().rate, Some(MIN_RATE));
        (pace, now)
    }

    #[test]
    fn cuts_stop_at_one_request_every_ten_seconds() {
        let (pace, now) = cut_to_the_floor();
        assert_eq!(MIN_RATE, 100);
        // Long after the slots taken meanwhile: one now, the next 10 s on.
        let later = now + 10_000_000_000;
        assert_eq!(pace.turn(at(later)), Duration::ZERO);
        assert_eq!(pace.turn(at(later)), Duration::from_secs(10));
    }

    #[test]
    fn growth_too_small_for_one_answer_adds_up_over_many() {
        let pace = Pace::new();
        pace.turn(at(0));
        // One request in flight per second, halved: half a request a second,
        // growing by a tenth of one per second.
        pace.rate_limited(at(1_000_000), Duration::ZERO, Duration::from_secs(1));
        let start = pace.state().rate.unwrap();
        assert_eq!(start, 500);
        // An answer every millisecond for a second, each growing the rate
        // by less than a thousandth of a request per second.
        for ms in 1..=1_000 {
            pace.turn(at(0));
            pace.turn(at(0));
            pace.answered(at(1_000_000 + ms * 1_000), Duration::from_secs(1));
        }
        let grown = pace.state().rate.unwrap() - start;
        assert!(grown >= 90, "grew {grown}");
    }

    #[test]
    fn a_429_to_a_request_sent_at_the_cut_itself_cuts_again() {
        let pace = Pace::new();
        for _ in 0..20 {
            pace.turn(at(0));
        }
        pace.rate_limited(at(200_000), Duration::ZERO, RTT);
        let first = pace.state().rate.unwrap();
        // Sent at 200 000 µs, the cut's own time: paced by the new rate.
        pace.rate_limited(at(500_000), Duration::ZERO, RTT);
        assert_eq!(pace.state().rate, Some(first / 10 * 9));
    }

    #[test]
    fn a_cut_never_paces_below_what_the_processor_let_through_in_the_last_two_windows() {
        let (pace, _) = cut_to_the_floor();
        // Long after: 100 answers in one second, one more half a second
        // into the next, then a 429.
        let start = 1_000_000_000;
        for n in 0..100 {
            pace.answered(at(start + n * 10_000), Duration::ZERO);
        }
        pace.answered(at(start + 1_500_000), Duration::ZERO);
        pace.rate_limited(at(start + 1_800_000), Duration::ZERO, Duration::ZERO);
        // The window rolled at 1.5 s, keeping the 100 before: 101 answers
        // over the 1.3 s since a second before the new window, nine tenths
        // of it: 69 a second.
        assert_eq!(pace.rate(), Some(69));
    }

    /// A sleeper that moves a manual clock on by what it sleeps, so that a
    /// retry-after passes as it would in real time.
    struct Advancing(ManualClock);

    impl Sleeper for Advancing {
        fn sleep(&self, duration: Duration) {
            self.0.advance(duration);
        }
    }

    fn charge(key: &str) -> ChargeRequest {
        ChargeRequest::new(
            IdempotencyKey::new(key).unwrap(),
            payment_gateway::PaymentMethod::new("tok_success").unwrap(),
            payment_gateway::Amount::new(500, payment_gateway::Currency::Usd).unwrap(),
            "INV-1",
        )
    }

    #[test]
    fn a_429_is_waited_out_and_the_same_request_sent_again_once_the_pace_allows() {
        let clock = ManualClock::at_unix_millis(1_764_583_200_000);
        let limit = RateLimit::new(NonZeroU32::new(4).unwrap());
        let gateway = payment_gateway::FakeGateway::new()
            .with_clock(clock.clone())
            .with_rate_limit(limit);
        let pace = Pace::new();
        let paced = Paced::new(&gateway, &pace, Advancing(clock.clone()), clock.clone());

        paced.charge(&charge("k1")).unwrap();
        let second = paced.charge(&charge("k2")).unwrap();

        assert_eq!(second.amount().minor_units(), 500);
        // k2 was answered 429 once (4 a second, no burst), held for the
        // 250 ms asked, then admitted: two charges processed, two captures.
        assert_eq!(gateway.request_count(), 2);
        assert_eq!(gateway.rate_limited_count(), 1);
        assert_eq!(gateway.captures().len(), 2);
        assert!(pace.rate().is_some(), "the 429 set a pace");
        // Every other request goes through the same pace and reaches the
        // processor: a search and a refund lookup answer as it does.
        clock.advance(Duration::from_secs(10));
        assert_eq!(paced.find_captures(&["INV-1"]).unwrap().len(), 2);
        clock.advance(Duration::from_secs(10));
        let refund = RefundRequest::new(
            IdempotencyKey::new("r1").unwrap(),
            second.id().clone(),
            payment_gateway::Amount::new(100, payment_gateway::Currency::Usd).unwrap(),
            "INV-1-CN01".to_owned(),
        );
        let refunded = paced.refund(&refund).unwrap();
        clock.advance(Duration::from_secs(10));
        let found = paced
            .lookup_refund(&IdempotencyKey::new("r1").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(found.id(), refunded.id());
        assert_eq!(paced.inner().captures().len(), 2);
    }

    #[test]
    fn a_processor_that_never_stops_answering_429_is_given_up_on_as_a_transient_failure() {
        // The clock never moves: every request after the first is over the
        // limit, however long the client waits.
        let clock = ManualClock::at_unix_millis(1_764_583_200_000);
        let limit = RateLimit::new(NonZeroU32::new(1).unwrap());
        let gateway = payment_gateway::FakeGateway::new()
            .with_clock(clock.clone())
            .with_rate_limit(limit);
        let pace = Pace::new();
        let paced = Paced::new(&gateway, &pace, crate::RecordingSleeper::new(), clock);
        paced.charge(&charge("k1")).unwrap();

        let given_up = paced.charge(&charge("k2"));

        let Err(GatewayError::Transient { reason }) = given_up else {
            panic!("{given_up:?}");
        };
        assert!(
            reason.contains("rate limited 1000 times in a row"),
            "{reason}"
        );
        assert_eq!(
            gateway.rate_limited_count(),
            1 + usize::try_from(MAX_RATE_LIMITED).unwrap()
        );
        assert_eq!(gateway.captures().len(), 1, "nothing more captured");
    }

    /// A simulated run on a manual clock: `workers` clients, each with its
    /// own pace and `in_flight` requests in flight, a round trip of
    /// `rtt_us` (the processor decides half-way), sharing one account
    /// limited to `limit`/s; events in time order. Returns the times at
    /// the processor of the admitted requests and of the rate-limited ones.
    fn simulate(
        workers: usize,
        in_flight: usize,
        rtt_us: i64,
        limit: u32,
        until_us: i64,
    ) -> (Vec<i64>, Vec<i64>) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Event {
            Ready,
            Arrives,
            Back(Option<Duration>),
        }
        let rtt = duration_us(rtt_us);
        let limit = RateLimit::new(NonZeroU32::new(limit).unwrap());
        let paces: Vec<Pace> = (0..workers).map(|_| Pace::new()).collect();
        let mut events = BinaryHeap::new();
        for worker in 0..workers {
            for _ in 0..in_flight {
                events.push(Reverse((0_i64, worker, Event::Ready)));
            }
        }
        let (mut due, mut admitted, mut limited) = (None, Vec::new(), Vec::new());
        while let Some(Reverse((now, worker, event))) = events.pop() {
            if now > until_us {
                break;
            }
            let pace = &paces[worker];
            let next = match event {
                Event::Ready => {
                    let wait = i64::try_from(pace.turn(at(now)).as_micros()).unwrap();
                    (now + wait + rtt_us / 2, Event::Arrives)
                }
                Event::Arrives => match limit.admit(due, now) {
                    Admission::Admitted { due_us } => {
                        due = Some(due_us);
                        admitted.push(now);
                        (now + rtt_us / 2, Event::Back(None))
                    }
                    Admission::Limited { retry_after } => {
                        limited.push(now);
                        (now + rtt_us / 2, Event::Back(Some(retry_after)))
                    }
                },
                Event::Back(None) => {
                    pace.answered(at(now), rtt);
                    (now, Event::Ready)
                }
                Event::Back(Some(retry_after)) => {
                    pace.rate_limited(at(now), retry_after, rtt);
                    (now, Event::Ready)
                }
            };
            events.push(Reverse((next.0, worker, next.1)));
        }
        (admitted, limited)
    }

    /// How many of `times` fall in `[from, to)` µs.
    fn within(times: &[i64], from: i64, to: i64) -> usize {
        times
            .iter()
            .filter(|time| (from..to).contains(*time))
            .count()
    }

    #[test]
    fn three_workers_sharing_a_limit_converge_to_it_together() {
        let (admitted, limited) = simulate(3, 64, 300_000, 100, 30_000_000);
        // The last 20 seconds, past the first 429s.
        let (admitted, limited) = (
            within(&admitted, 10_000_000, 30_000_000),
            within(&limited, 10_000_000, 30_000_000),
        );
        // 90 to 101 per second over the 20 seconds.
        assert!((1_800..=2_020).contains(&admitted), "{admitted} in 20 s");
        // Under a fifth of the requests rate limited.
        assert!(
            limited * 5 < admitted + limited,
            "{limited} of {}",
            admitted + limited
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the limit, the workers and the round trip, the
        /// account's limit is met over any long window (the processor
        /// enforces it; the pace keeps the 429s a small share), most of
        /// the limit is used, and the share of 429s stays small.
        #[test]
        fn the_pace_uses_most_of_the_limit_and_collects_few_429s(
            workers in 1_usize..4,
            in_flight in 1_usize..80,
            rtt_ms in 20_i64..400,
            limit in 25_u32..200,
        ) {
            let rtt = rtt_ms * 1_000;
            let (admitted, limited) = simulate(workers, in_flight, rtt, limit, 40_000_000);
            let late = within(&admitted, 20_000_000, 40_000_000);
            let late_limited = within(&limited, 20_000_000, 40_000_000);
            let limit = usize::try_from(limit).unwrap();
            // What the clients could send in 20 s without any limit, and
            // what the limit allows in them.
            let capacity = usize::try_from(20_000_000 / rtt).unwrap() * workers * in_flight;
            let reachable = capacity.min(limit * 20);
            prop_assert!(late * 100 <= limit * 20 * 105, "{} in 20 s over {}/s", late, limit);
            prop_assert!(late * 4 >= reachable * 3, "{} in 20 s of a reachable {}", late, reachable);
            // Under three tenths of the requests rate limited.
            prop_assert!(
                late_limited * 10 < (late + late_limited) * 3,
                "{} of {} rate limited", late_limited, late + late_limited
            );
        }

        /// After the 429s stop (the limit is lifted), a pace that holds
        /// requests back grows again, a twentieth of its cut per second.
        #[test]
        fn the_pace_recovers_once_the_429s_stop(in_flight in 2_u64..300, seconds in 1_u64..30) {
            let pace = Pace::new();
            for _ in 0..in_flight {
                pace.turn(at(0));
            }
            pace.rate_limited(at(RTT_US), Duration::ZERO, RTT);
            let cut = pace.state().rate.unwrap();
            let mut now = RTT_US;
            for _ in 0..seconds * 10 {
                now += 100_000;
                pace.turn(at(now));
                pace.turn(at(now));
                pace.answered(at(now), RTT);
            }
            let grown = pace.state().rate.unwrap() - cut;
            let per_second = (cut / GROWTH_DIVISOR).max(MIN_RATE);
            prop_assert!(grown + 50 * seconds >= per_second * seconds, "grew {} from {}", grown, cut);
        }
    }
}
