//! The sandbox processor's rate limit (`--sandbox-rate-limit`): an account
//! may send `R` requests per second, whatever the number of hosts sending
//! them, as a real processor allows (Stripe: 100 per second in live mode,
//! 25 in test mode); beyond it a request is answered
//! [`GatewayError::RateLimited`](crate::GatewayError::RateLimited) with a
//! retry-after hint and moves no money.
//!
//! The limit is GCRA (the generic cell rate algorithm, a token bucket kept
//! as one number): the account's clock says when its next request is due
//! under the limit; a request is admitted unless it comes more than the
//! burst tolerance before that, and each admitted request moves the clock
//! on by `1/R`. The clock lives in the books, so every process sharing them
//! shares the limit, and a refused request does not move it.

use std::num::NonZeroU32;
use std::time::Duration;

/// A bucket of a quarter of a second's requests: short bursts (a few
/// requests arriving together from several threads) pass, a second's worth
/// never does.
const BURST_DIVISOR: u32 = 4;

/// Requests per second for the whole account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    per_second: NonZeroU32,
}

/// What the limit says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted: the account's clock moves on to `due_us`.
    Admitted {
        /// The account's new clock, in microseconds since the Unix epoch.
        due_us: i64,
    },
    /// Refused: nothing was processed; try again after `retry_after`.
    Limited {
        /// How long to wait.
        retry_after: Duration,
    },
}

impl RateLimit {
    /// `per_second` requests per second.
    pub const fn new(per_second: NonZeroU32) -> RateLimit {
        RateLimit { per_second }
    }

    /// Requests per second.
    pub const fn per_second(self) -> NonZeroU32 {
        self.per_second
    }

    /// The time between two requests at the limit, in microseconds.
    fn interval_us(self) -> i64 {
        (1_000_000 / i64::from(self.per_second.get())).max(1)
    }

    /// How far ahead of the account's clock a request may come: a burst of
    /// a quarter of a second's requests (at least one).
    fn tolerance_us(self) -> i64 {
        let burst = (self.per_second.get() / BURST_DIVISOR).max(1);
        self.interval_us() * i64::from(burst - 1)
    }

    /// Whether a request arriving at `now_us` (microseconds since the Unix
    /// epoch) is admitted, given the account's clock `due_us` (`None`
    /// before the first request).
    pub fn admit(self, due_us: Option<i64>, now_us: i64) -> Admission {
        let due = due_us.map_or(now_us, |due| due.max(now_us));
        let early = due.saturating_sub(now_us);
        let tolerance = self.tolerance_us();
        if early > tolerance {
            let wait = u64::try_from(early - tolerance).unwrap_or(u64::MAX);
            return Admission::Limited {
                retry_after: Duration::from_micros(wait.max(1)),
            };
        }
        Admission::Admitted {
            due_us: due.saturating_add(self.interval_us()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limit(per_second: u32) -> RateLimit {
        RateLimit::new(NonZeroU32::new(per_second).unwrap())
    }

    #[test]
    fn a_quarter_seconds_burst_passes_then_one_request_per_interval() {
        let limit = limit(100);
        let mut due = None;
        for _ in 0..25 {
            match limit.admit(due, 0) {
                Admission::Admitted { due_us } => due = Some(due_us),
                Admission::Limited { .. } => panic!("the burst of 25 is admitted"),
            }
        }
        assert_eq!(due, Some(250_000));
        assert_eq!(
            limit.admit(due, 0),
            Admission::Limited {
                retry_after: Duration::from_millis(10)
            }
        );
        // A refusal does not move the clock: 10 ms later one more passes.
        assert_eq!(
            limit.admit(due, 10_000),
            Admission::Admitted { due_us: 260_000 }
        );
    }

    #[test]
    fn one_request_per_second_has_no_burst() {
        let limit = limit(1);
        let Admission::Admitted { due_us } = limit.admit(None, 5) else {
            panic!("the first request is admitted");
        };
        assert_eq!(due_us, 1_000_005);
        assert_eq!(
            limit.admit(Some(due_us), 500_005),
            Admission::Limited {
                retry_after: Duration::from_millis(500)
            }
        );
    }

    proptest! {
        /// Whatever the arrivals, no window of `w` seconds admits more
        /// than `R·w` plus the burst, and a refused request is told to wait
        /// no longer than until it would pass.
        #[test]
        fn no_window_admits_more_than_the_rate_and_the_burst(
            per_second in 1_u32..500,
            gaps in proptest::collection::vec(0_i64..20_000, 1..400),
        ) {
            let limit = limit(per_second);
            let burst = i64::from((per_second / BURST_DIVISOR).max(1));
            let mut due = None;
            let mut now = 0_i64;
            let mut admitted: Vec<i64> = Vec::new();
            for gap in gaps {
                now += gap;
                match limit.admit(due, now) {
                    Admission::Admitted { due_us } => {
                        due = Some(due_us);
                        admitted.push(now);
                    }
                    Admission::Limited { retry_after } => {
                        let later = now + i64::try_from(retry_after.as_micros()).unwrap();
                        let passes = matches!(
                            limit.admit(due, later),
                            Admission::Admitted { .. }
                        );
                        prop_assert!(passes);
                    }
                }
            }
            for (i, start) in admitted.iter().enumerate() {
                for (j, end) in admitted.iter().enumerate().skip(i) {
                    let window = end - start;
                    let count = i64::try_from(j - i + 1).unwrap();
                    let allowed = burst + window * i64::from(per_second) / 1_000_000;
                    prop_assert!(count <= allowed + 1, "{count} in {window} us");
                }
            }
        }
    }
}
