//! The injected clock: the libraries never read the system time themselves.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tells the time. Injected wherever time matters (when an idempotency key
/// expires, when a payment attempt was written), so that tests can move time
/// by hours without waiting and the libraries never read a clock of their
/// own.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The operating system's wall clock, for real use: the one place the time
/// is read, chosen by the binary rather than by a library.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to, for tests. Clones share one time,
/// so a test can hand a clone to the gateway and another to billing and move
/// both at once.
///
/// ```
/// use payment_gateway::{Clock, ManualClock};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let clock = ManualClock::at_unix_millis(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(25 * 3600));
/// assert_eq!(shared.now(), UNIX_EPOCH + Duration::from_millis(1_000) + Duration::from_secs(25 * 3600));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: SystemTime) -> ManualClock {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// A clock standing `millis` milliseconds after the Unix epoch.
    pub fn at_unix_millis(millis: i64) -> ManualClock {
        ManualClock::new(from_unix_millis(millis))
    }

    /// Moves the time forward by `by` (saturating at the latest time the
    /// platform can represent, so a huge step cannot panic).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add(by).unwrap_or(*now);
    }

    /// Sets the time to `now`, backwards too: real clocks jump.
    pub fn set(&self, now: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }
}

/// Stands at the Unix epoch until moved.
impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new(UNIX_EPOCH)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `time` as milliseconds since the Unix epoch, negative before it, the
/// form storage keeps timestamps in. Saturates at `i64`'s bounds, some 292
/// million years away.
pub fn unix_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The time `millis` milliseconds after (or, negative, before) the Unix
/// epoch: the inverse of [`unix_millis`] to the millisecond. Saturates at
/// the epoch ± what the platform can represent.
pub fn from_unix_millis(millis: i64) -> SystemTime {
    let offset = Duration::from_millis(millis.unsigned_abs());
    let moved = if millis >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    moved.unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_millis_round_trip_on_both_sides_of_the_epoch() {
        for millis in [0, 1, -1, 1_764_582_400_123, -86_400_000] {
            assert_eq!(unix_millis(from_unix_millis(millis)), millis);
        }
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_its_time() {
        let clock = ManualClock::default();
        let shared = clock.clone();
        assert_eq!(shared.now(), UNIX_EPOCH);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(unix_millis(shared.now()), 1500);
        clock.set(from_unix_millis(-5));
        assert_eq!(unix_millis(shared.now()), -5);
    }

    /// Reads a generic clock, here a reference to one.
    fn now_through<C: Clock>(clock: C) -> SystemTime {
        clock.now()
    }

    #[test]
    fn the_system_clock_is_after_the_clock_of_this_code_being_written() {
        // 2026-01-01: a lower bound that cannot flake.
        assert!(unix_millis(SystemClock.now()) > 1_767_225_600_000);
        let boxed: Box<dyn Clock> = Box::new(ManualClock::at_unix_millis(7));
        assert_eq!(unix_millis(boxed.now()), 7);
        assert_eq!(unix_millis(now_through(&*boxed)), 7);
        assert_eq!(
            unix_millis(Arc::new(ManualClock::at_unix_millis(9)).now()),
            9
        );
    }
}
