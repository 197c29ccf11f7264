//! The few value formats of time the ledger commands share: instants as
//! RFC 3339 in UTC, and the duration flags (`--claim-timeout 30s`, `--sandbox-latency
//! 100ms`), in one module.

use std::time::{Duration, SystemTime};

use payment_gateway::unix_millis;

/// `time` as RFC 3339 in UTC with milliseconds: `2026-12-01T10:52:37.123Z`.
pub(crate) fn timestamp(time: SystemTime) -> String {
    let millis = unix_millis(time);
    let days = millis.div_euclid(86_400_000);
    let of_day = millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Why a duration flag is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duration {0:?} is not a whole number with a unit: us, ms, s or m (for example 2ms)")]
pub(crate) struct InvalidDuration(String);

/// A duration as the flags take it: `0`, or a whole number followed by
/// `us`, `ms`, `s` or `m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration(text.to_owned());
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(invalid());
    }
    let number: u64 = number.parse().map_err(|_| invalid())?;
    match unit {
        "us" => Ok(Duration::from_micros(number)),
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => number
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// The days since 1970-01-01 of a proleptic Gregorian date: the inverse of
/// [`civil_from_days`] (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Why a `--since` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is neither a date (2026-11-01, from its midnight UTC) nor a whole number of days or hours back (35d, 12h), nor a duration (90m)"
)]
pub(crate) struct InvalidSince(String);

/// The start of a window, as `--since` takes it: a date `YYYY-MM-DD` (its
/// midnight UTC), `<N>d` or `<N>h` back from `now`, or any duration
/// [`parse_duration`] takes, back from `now`. A start before 1970 is 1970.
pub(crate) fn parse_since(text: &str, now: SystemTime) -> Result<SystemTime, InvalidSince> {
    let invalid = || InvalidSince(text.to_owned());
    if let Some(date) = parse_date(text) {
        let millis = date.checked_mul(86_400_000).ok_or_else(invalid)?;
        return Ok(payment_gateway::from_unix_millis(millis.max(0)));
    }
    let back = match (text.strip_suffix('d'), text.strip_suffix('h')) {
        (Some(days), _) => hours(days, 24).ok_or_else(invalid)?,
        (_, Some(count)) => hours(count, 1).ok_or_else(invalid)?,
        _ => parse_duration(text).map_err(|_| invalid())?,
    };
    Ok(now
        .checked_sub(back)
        .unwrap_or(SystemTime::UNIX_EPOCH)
        .max(SystemTime::UNIX_EPOCH))
}

/// `count` (digits only) times `per` hours.
fn hours(count: &str, per: u64) -> Option<Duration> {
    // Digits only: `parse` alone would take `+5` (an empty count fails it).
    if !count.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = count
        .parse::<u64>()
        .ok()?
        .checked_mul(per)?
        .checked_mul(3600)?;
    Some(Duration::from_secs(seconds))
}

/// `YYYY-MM-DD` as days since 1970-01-01, when it is a date of the calendar.
fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    let year: i64 = text[0..4].parse().ok()?;
    let month: i64 = text[5..7].parse().ok()?;
    let day: i64 = text[8..10].parse().ok()?;
    let days = days_from_civil(year, month, day);
    // A day the calendar does not have (02-30) comes back as another date.
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_gateway::from_unix_millis;

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(timestamp(from_unix_millis(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            timestamp(from_unix_millis(1_764_583_200_123)),
            "2025-12-01T10:00:00.123Z"
        );
        assert_eq!(
            timestamp(from_unix_millis(951_782_400_000)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(timestamp(from_unix_millis(-1)), "1969-12-31T23:59:59.999Z");
    }

    /// The Gregorian rules spelled out: every fourth year is a leap year,
    /// except every hundredth, except every four hundredth.
    fn days_in_month(year: i64, month: i64) -> i64 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    #[test]
    fn every_day_from_1600_to_2400_has_the_date_a_calendar_counted_day_by_day_gives() {
        // Two whole 400-year cycles and the century days around them
        // (1700, 1800 and 1900 have no 29 February; 2000 and 2400 do).
        let days_before_1970: i64 = (1600..1970)
            .map(|year| {
                (1..=12)
                    .map(|month| days_in_month(year, month))
                    .sum::<i64>()
            })
            .sum();
        let (mut year, mut month, mut day) = (1600, 1, 1);
        for days in -days_before_1970..=(2400 - 1970 + 1) * 366 {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            day += 1;
            if day > days_in_month(year, month) {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
        assert!(year > 2400, "the walk ends in {year}");
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2ms"), Ok(Duration::from_millis(2)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "2", "ms", "2h", "-1ms", "1.5s", "99999999999999999999m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("2h").unwrap_err().to_string(),
            "duration \"2h\" is not a whole number with a unit: us, ms, s or m (for example 2ms)"
        );
    }

    #[test]
    fn a_date_is_its_midnight_utc_and_a_day_the_calendar_lacks_is_refused() {
        let now = from_unix_millis(1_800_000_000_000);
        assert_eq!(
            timestamp(parse_since("2026-11-01", now).unwrap()),
            "2026-11-01T00:00:00.000Z"
        );
        assert_eq!(
            timestamp(parse_since("2000-02-29", now).unwrap()),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(parse_since("1969-12-31", now), Ok(SystemTime::UNIX_EPOCH));
        for text in [
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "26-11-01",
            "2026/11/01",
            "2026-11-01T00:00:00Z",
        ] {
            assert!(parse_since(text, now).is_err(), "{text}");
        }
    }

    #[test]
    fn days_and_hours_count_back_from_now_and_never_before_1970() {
        let now = from_unix_millis(1_800_000_000_000);
        let back = |text| {
            now.duration_since(parse_since(text, now).unwrap())
                .unwrap()
                .as_secs()
        };
        assert_eq!(back("35d"), 35 * 86_400);
        assert_eq!(back("12h"), 12 * 3600);
        assert_eq!(back("90m"), 90 * 60);
        assert_eq!(back("0"), 0);
        assert_eq!(parse_since("99999999d", now), Ok(SystemTime::UNIX_EPOCH));
        for text in [
            "d",
            "h",
            "-1d",
            "+1d",
            "+5h",
            "1.5d",
            "35 d",
            "35",
            "",
            "18446744073709551615d",
        ] {
            assert!(parse_since(text, now).is_err(), "{text}");
        }
        let error = parse_since("soon", now).unwrap_err().to_string();
        assert!(error.starts_with("\"soon\" is neither a date"), "{error}");
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in (-800_000..800_000).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }
}
