//! What a run that talks to the processor did, said once at its end: on
//! stderr as one line, as cargo and rsync end theirs (left out by
//! `--quiet`), and with `--summary FILE` as one JSON object for the cron
//! job's monitoring. Rates and times are computed in integers: nothing here
//! is money, but the captured amounts are, and they never touch a float.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

use payment_gateway::Currency;
use serde::Serialize;

use crate::error::AppError;
use crate::output::money::money;
use crate::sandbox::Requests;

/// What a run did.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// What the run handled (`invoices`, `attempts`), by outcome, in the
    /// order the outcomes were first counted.
    outcomes: Vec<(&'static str, u64)>,
    /// Captured by this run's requests, in minor units, per currency code.
    captured: BTreeMap<&'static str, i128>,
}

/// The JSON object `--summary FILE` holds.
#[derive(Serialize)]
struct SummaryJson<'a> {
    command: &'a str,
    /// What was handled: invoices for `charge`, attempts for `reconcile`.
    unit: &'a str,
    total: u64,
    outcomes: BTreeMap<&'a str, u64>,
    captured: BTreeMap<&'a str, String>,
    requests: u64,
    rate_limited: u64,
    retries: u64,
    elapsed_ms: u128,
    per_second: String,
}

impl Summary {
    /// One more item with `outcome`.
    pub(crate) fn count(&mut self, outcome: &'static str) {
        self.add(outcome, 1);
    }

    /// `items` more with `outcome` (none: nothing is said of it).
    pub(crate) fn add(&mut self, outcome: &'static str, items: u64) {
        if items == 0 {
            return;
        }
        match self.outcomes.iter_mut().find(|(name, _)| *name == outcome) {
            Some((_, count)) => *count = count.saturating_add(items),
            None => self.outcomes.push((outcome, items)),
        }
    }

    /// `minor_units` of `currency` captured by this run.
    pub(crate) fn captured(&mut self, currency: Currency, minor_units: i64) {
        let total = self.captured.entry(currency.code()).or_default();
        *total = total.saturating_add(i128::from(minor_units));
    }

    fn total(&self) -> u64 {
        self.outcomes
            .iter()
            .fold(0, |total, (_, count)| total.saturating_add(*count))
    }

    /// The stderr line: `charge: 1200 invoices in 12.43 s (96.5/s): 1180
    /// paid, 20 declined; captured 171234.56 USD; 1262 requests (62 rate
    /// limited, 20 retries)`.
    pub(crate) fn line(
        &self,
        command: &str,
        unit: &str,
        requests: Requests,
        elapsed: Duration,
    ) -> String {
        let mut line = format!(
            "{command}: {} {unit} in {} s ({}/s)",
            self.total(),
            hundredths(elapsed.as_millis() / 10),
            per_second(self.total(), elapsed)
        );
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(name, count)| format!("{count} {name}"))
            .collect();
        if !outcomes.is_empty() {
            let _ = write!(line, ": {}", outcomes.join(", "));
        }
        if !self.captured.is_empty() {
            let amounts: Vec<String> = self
                .captured
                .iter()
                .map(|(code, cents)| format!("{} {code}", money(*cents)))
                .collect();
            let _ = write!(line, "; captured {}", amounts.join(", "));
        }
        let _ = write!(
            line,
            "; {} request(s) ({} rate limited, {} retries)",
            requests.sent, requests.rate_limited, requests.retries
        );
        line
    }

    /// Writes the JSON object to `path`.
    pub(crate) fn write_json(
        &self,
        path: &Path,
        command: &str,
        unit: &str,
        requests: Requests,
        elapsed: Duration,
    ) -> Result<(), AppError> {
        let json = SummaryJson {
            command,
            unit,
            total: self.total(),
            outcomes: self.outcomes.iter().copied().collect(),
            captured: self
                .captured
                .iter()
                .map(|(code, cents)| (*code, money(*cents)))
                .collect(),
            requests: requests.sent,
            rate_limited: requests.rate_limited,
            retries: requests.retries,
            elapsed_ms: elapsed.as_millis(),
            per_second: per_second(self.total(), elapsed),
        };
        let mut bytes =
            serde_json::to_vec(&json).map_err(|error| AppError::Output(error.into()))?;
        bytes.push(b'\n');
        std::fs::write(path, bytes).map_err(|error| {
            AppError::Output(io::Error::new(
                error.kind(),
                format!("summary {}: {error}", path.display()),
            ))
        })
    }
}

/// `count` per second over `elapsed`, with one decimal (`96.5`).
fn per_second(count: u64, elapsed: Duration) -> String {
    let millis = elapsed.as_millis().max(1);
    let tenths = u128::from(count).saturating_mul(10_000) / millis;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// Hundredths as `12.43`.
fn hundredths(value: u128) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        let mut summary = Summary::default();
        for _ in 0..3 {
            summary.count("paid");
        }
        summary.count("declined");
        summary.captured(Currency::Usd, 14169);
        summary.captured(Currency::Usd, 500);
        summary.captured(Currency::Eur, 1);
        summary
    }

    const SENT: Requests = Requests {
        sent: 9,
        rate_limited: 2,
        retries: 1,
    };

    #[test]
    fn the_line_says_what_was_handled_captured_and_sent() {
        let line = summary().line("charge", "invoices", SENT, Duration::from_millis(2_500));
        assert_eq!(
            line,
            "charge: 4 invoices in 2.50 s (1.6/s): 3 paid, 1 declined; captured 0.01 EUR, \
             146.69 USD; 9 request(s) (2 rate limited, 1 retries)"
        );
    }

    #[test]
    fn the_json_holds_the_same_figures_with_amounts_as_decimal_strings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        summary()
            .write_json(
                &path,
                "charge",
                "invoices",
                SENT,
                Duration::from_millis(2_500),
            )
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "command": "charge", "unit": "invoices", "total": 4,
                "outcomes": {"paid": 3, "declined": 1},
                "captured": {"EUR": "0.01", "USD": "146.69"},
                "requests": 9, "rate_limited": 2, "retries": 1,
                "elapsed_ms": 2500, "per_second": "1.6"
            })
        );
    }

    #[test]
    fn a_summary_that_cannot_be_written_is_an_output_error_naming_the_file() {
        let error = Summary::default()
            .write_json(
                Path::new("/nonexistent/dir/summary.json"),
                "charge",
                "invoices",
                Requests::default(),
                Duration::ZERO,
            )
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("summary /nonexistent/dir/summary.json")
        );
    }
}
