//! `ledgerly rates`: the rate table this build prices with, and its version.
//!
//! Users ask "which rates is this build using?", and the deploy gate asks
//! the same of two releases: it compares the `version` of
//! `ledgerly rates --format json` between the candidate and the live one.

use std::fmt::Write as _;
use std::io::{self, Write};

use pricing::{RATES, RATES_VERSION, RateTable};

use crate::error::{AppError, Status};

/// What `ledgerly rates --help` shows after the flags.
pub(crate) const HELP: &str = "\
Prints every rate and the late-fee threshold as exact decimals, with the
table's version (bumped by hand with each deliberate change) and its
fingerprint (a hash of the values).

Examples:
  ledgerly rates
  ledgerly rates --format json";

/// `ledgerly rates`: print the rate table.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The output format
    #[arg(long, value_enum, default_value_t = RatesFormat::Text)]
    pub(crate) format: RatesFormat,
}

/// The output formats of `ledgerly rates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RatesFormat {
    /// One aligned line per rate
    Text,
    /// One JSON object: version, fingerprint, each rate as a decimal string, the threshold
    Json,
}

/// Runs `ledgerly rates`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let text = render(&RATES, RATES_VERSION, args.format);
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(Status::Success),
        // A closed pipe (`| head`) ends quietly, as for every command.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(Status::Success),
        Err(error) => Err(AppError::Output(error)),
    }
}

/// The table in `format`, ending with a newline.
pub(crate) fn render(table: &RateTable, version: u32, format: RatesFormat) -> String {
    let fingerprint = table.fingerprint();
    match format {
        RatesFormat::Text => {
            let mut text = format!("rates version {version} (fingerprint {fingerprint})\n");
            for (name, rate) in table.rates() {
                let _ = writeln!(text, "{:<20} {rate}", name.replace('_', " "));
            }
            let _ = writeln!(
                text,
                "{:<20} {}",
                "late fee after days", table.late_fee_after_days
            );
            text
        }
        RatesFormat::Json => {
            // Written by hand, in a fixed order with `version` first, so a
            // shell script can read the version with sed (deploy.sh does).
            let mut json = format!("{{\"version\":{version},\"fingerprint\":\"{fingerprint}\"");
            for (name, rate) in table.rates() {
                let _ = write!(json, ",\"{name}\":\"{rate}\"");
            }
            let _ = writeln!(
                json,
                ",\"late_fee_after_days\":{}}}",
                table.late_fee_after_days
            );
            json
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_the_version_every_rate_and_the_threshold() {
        let text = render(&RATES, 7, RatesFormat::Text);
        let expected = format!(
            "rates version 7 (fingerprint {})\n\
             gold discount        0.15\n\
             silver discount      0.10\n\
             bronze discount      0.05\n\
             loyalty discount     0.02\n\
             sales tax            0.08\n\
             late fee             0.05\n\
             late fee after days  30\n",
            RATES.fingerprint()
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn json_is_one_object_with_exact_decimal_strings() {
        let json = render(&RATES, 3, RatesFormat::Json);
        assert!(json.ends_with("}\n"));
        assert_eq!(json.lines().count(), 1);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["version"].to_string(), "3");
        assert_eq!(value["fingerprint"], RATES.fingerprint().as_str());
        assert_eq!(value["gold_discount"], "0.15");
        assert_eq!(value["silver_discount"], "0.10");
        assert_eq!(value["bronze_discount"], "0.05");
        assert_eq!(value["loyalty_discount"], "0.02");
        assert_eq!(value["sales_tax"], "0.08");
        assert_eq!(value["late_fee"], "0.05");
        assert_eq!(value["late_fee_after_days"].to_string(), "30");
        assert!(json.starts_with("{\"version\":3,"));
    }

    #[test]
    fn a_changed_table_prints_its_own_values() {
        let mut typo = RATES;
        typo.gold_discount = pricing::Decimal::new(12, 2);
        typo.late_fee_after_days = 20;
        let json = render(&typo, 2, RatesFormat::Json);
        assert!(json.contains("\"gold_discount\":\"0.12\""), "{json}");
        assert!(json.contains("\"late_fee_after_days\":20}"), "{json}");
        assert!(json.contains(&typo.fingerprint()));
        assert_ne!(typo.fingerprint(), RATES.fingerprint());
    }
}
