//! How often and how patiently a charge is retried, and the injected sleep.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Why a retry policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetryPolicyError {
    /// A policy must allow at least one request.
    #[error("retry policy needs at least 1 attempt, got 0")]
    NoAttempts,
    /// The first delay is longer than the cap on every delay.
    #[error("base delay {base:?} is above the maximum delay {max:?}")]
    BaseAboveMax {
        /// The refused base delay.
        base: Duration,
        /// The cap.
        max: Duration,
    },
}

/// Bounded exponential backoff: at most `max_attempts` gateway requests per
/// `collect`, waiting `base_delay`, then twice that, then four times, … but
/// never more than `max_delay`, between them.
///
/// There is no jitter, so tests can assert the exact schedule; a deployment
/// where many clients retry in step would add it through its [`Sleeper`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl RetryPolicy {
    /// A policy of at most `max_attempts` requests (at least 1), with delays
    /// from `base_delay` doubling up to `max_delay` (at least `base_delay`).
    pub fn new(
        max_attempts: u32,
        base_delay: Duration,
        max_delay: Duration,
    ) -> Result<RetryPolicy, RetryPolicyError> {
        if max_attempts == 0 {
            return Err(RetryPolicyError::NoAttempts);
        }
        if base_delay > max_delay {
            return Err(RetryPolicyError::BaseAboveMax {
                base: base_delay,
                max: max_delay,
            });
        }
        Ok(RetryPolicy {
            max_attempts,
            base_delay,
            max_delay,
        })
    }

    /// The most gateway requests one `collect` makes.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before the first retry.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The cap on every delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The delay before retry number `retry` (1 for the first retry, which
    /// is the second request): `base_delay × 2^(retry − 1)`, capped at
    /// `max_delay`. Retry 0 is the first request, which does not wait.
    ///
    /// ```
    /// use billing::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_millis(500))?;
    /// let delays: Vec<u128> = (1..=4).map(|n| policy.delay_before_retry(n).as_millis()).collect();
    /// assert_eq!(delays, [100, 200, 400, 500]);
    /// # Ok::<(), billing::RetryPolicyError>(())
    /// ```
    pub fn delay_before_retry(&self, retry: u32) -> Duration {
        if retry == 0 {
            return Duration::ZERO;
        }
        // A doubling that overflows is far above any sane cap, so it is the cap.
        1_u32
            .checked_shl(retry - 1)
            .and_then(|factor| self.base_delay.checked_mul(factor))
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }
}

/// At most 4 requests, 250 ms apart at first, then 500 ms and 1 s; no delay
/// above 5 s.
impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// Waits between retries. Injected, so tests record the delays instead of
/// sleeping, and the libraries never read a clock.
pub trait Sleeper: Send + Sync {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration);
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    fn sleep(&self, duration: Duration) {
        (**self).sleep(duration);
    }
}

/// Sleeps the current thread, for real use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Records each requested delay and returns at once, for tests and
/// dry runs.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    delays: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    /// A sleeper with nothing recorded.
    pub fn new() -> RecordingSleeper {
        RecordingSleeper::default()
    }

    /// Every delay requested so far, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.delays
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) {
        self.delays
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(duration);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn refuses_zero_attempts_and_a_base_above_the_cap() {
        assert_eq!(
            RetryPolicy::new(0, ms(1), ms(1)),
            Err(RetryPolicyError::NoAttempts)
        );
        assert_eq!(
            RetryPolicy::new(3, ms(2), ms(1)),
            Err(RetryPolicyError::BaseAboveMax {
                base: ms(2),
                max: ms(1)
            })
        );
        assert!(RetryPolicy::new(1, ms(0), ms(0)).is_ok());
    }

    #[test]
    fn delays_double_from_the_base_and_stop_at_the_cap() {
        let policy = RetryPolicy::new(u32::MAX, ms(100), ms(1000)).unwrap();
        let delays: Vec<Duration> = (0..=6).map(|n| policy.delay_before_retry(n)).collect();
        assert_eq!(
            delays,
            [
                ms(0),
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1000),
                ms(1000)
            ]
        );
    }

    #[test]
    fn huge_retry_numbers_are_capped_instead_of_overflowing() {
        let policy = RetryPolicy::new(u32::MAX, ms(1), Duration::MAX).unwrap();
        assert_eq!(policy.delay_before_retry(33), Duration::MAX);
        assert_eq!(policy.delay_before_retry(u32::MAX), Duration::MAX);
        assert_eq!(policy.delay_before_retry(32), ms(1 << 31));
    }

    #[test]
    fn default_policy_is_four_attempts_from_250_ms() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.max_attempts(), 4);
        assert_eq!(policy.delay_before_retry(1), ms(250));
        assert_eq!(policy.delay_before_retry(3), ms(1000));
        assert!(RetryPolicy::new(4, policy.base_delay(), policy.max_delay()).is_ok());
    }

    /// Sleeps through a generic sleeper, here a reference to one.
    fn sleep_through<S: Sleeper>(sleeper: S, duration: Duration) {
        sleeper.sleep(duration);
    }

    #[test]
    fn recording_sleeper_keeps_every_delay_in_order() {
        let sleeper = RecordingSleeper::new();
        sleeper.sleep(ms(3));
        sleep_through(&sleeper, ms(1));
        assert_eq!(sleeper.delays(), [ms(3), ms(1)]);
    }
}
