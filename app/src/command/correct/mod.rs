//! `ledgerly correct plan|apply|verify`: when a wrong rate table reached
//! customers, the credit notes that set the money right, planned as a dry
//! run a person approves, applied exactly as approved (pinned by the plan's
//! digest), and verified. The rules are billing's (`billing::correct`,
//! `billing::Corrector`); this module reads flags and files and writes
//! records.
//!
//! A plan is JSON Lines, one record per invoice the right table changes
//! ([`PlanRecord`]); each record carries the correction (its id, reason,
//! the wrong table's fingerprint and the right table's values), so that
//! `apply` needs nothing but the file and the digest the reviewer saw.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use billing::Rates;
use pricing::{Decimal, RATES, RATES_VERSION, RateTable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AppError, Cmd, Status};
use crate::output::money::Amounts;

mod apply;
mod plan;
mod verify;

/// What `ledgerly correct plan --help` shows above its exit codes.
pub(crate) const PLAN_HELP: &str = "\
A dry run that changes nothing: re-prices, from its stored inputs, every invoice
the ledger issued under the wrong rate table (named by its fingerprint, as
`ledgerly rates` prints it) with the right one (this build's, or --right-rates:
another release's `ledgerly rates --format json`), and writes one record per
invoice whose breakdown changes, in id order: its status, effective breakdown
(issued minus earlier credit notes), corrected breakdown, the credit note's lines
(effective minus corrected: nothing is rounded again) and the action that settles
it: refund (paid), reduce_due (not paid yet), none (only the lines move), absorb
(an undercharge; `correct apply --undercharge bill` bills it instead), or
blocked (a payment is in doubt: reconcile first).
Prints the plan's digest (sha256 of its JSON Lines) on stderr: approve that, and
`correct apply --expect-digest` applies exactly what was approved.

Examples:
  ledgerly correct plan --wrong-rates fnv1a64:3e8fed09b0157015 --correction 2026-12-gold > plan.jsonl
  ledgerly correct plan --wrong-rates fnv1a64:3e8fed09b0157015 --correction 2026-12-gold --format markdown";

/// What `ledgerly correct apply --help` shows above its exit codes.
pub(crate) const APPLY_HELP: &str = "\
Applies an approved plan, exactly: a plan whose digest is not --expect-digest is
refused (exit 65) and nothing is written. Each entry is re-derived from the ledger
under its invoice's claim (the claims `charge` uses, so several hosts divide a
plan); one that no longer matches is reported `drifted` and left alone. Each
credit note is written once (a rerun finds it); a paid invoice's refund attempt is
committed before its request leaves, under the key refund:<credit note>:attempt:1,
and an unknown outcome is looked up, never sent under a new key. Writes one record
per entry: id, credit_note, credited, settlement (refunded, due_lowered,
lines_only, absorbed, billed, not_billed, refund_unknown, refund_failed, drifted,
blocked, held), refund_id, supplementary_invoice (when billed), requests.
An undercharge is absorbed (recorded, nothing asked of the customer) unless
--undercharge bill: then a supplementary invoice <invoice>-SUP01 of the
difference is issued, once, and the next `ledgerly charge` collects it.

Examples:
  ledgerly correct apply --plan plan.jsonl --expect-digest sha256:...";

/// What `ledgerly correct verify --help` shows above its exit codes.
pub(crate) const VERIFY_HELP: &str = "\
Recomputes everything a correction touched: every corrected invoice minus its
credit notes equals, line by line, what the right rates give; every post-payment
credit note was refunded exactly its total, and the processor says so; no charge
was refunded above its capture. Prints what does not hold, one line each, then a
summary.

Examples:
  ledgerly correct verify --correction 2026-12-gold";

/// `ledgerly correct`: plan, apply and verify a correction.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: CorrectCommand,
}

/// The subcommands of `ledgerly correct`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CorrectCommand {
    /// Plan the credit notes a right rate table calls for (a dry run)
    Plan(plan::Args),
    /// Apply an approved plan: credit notes and refunds, exactly once
    Apply(apply::Args),
    /// Check that a correction holds
    Verify(verify::Args),
}

/// The ledger and the sandbox's books a correction works on: the same
/// flags for plan, apply and verify.
#[derive(Debug, clap::Args)]
pub(crate) struct Stores {
    /// The ledger: a SQLite file, or a postgres:// URL [default: `LEDGERLY_DB`, else ledgerly.db]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    /// The sandbox processor's books: a SQLite file, or a postgres:// URL [default: ledgerly-sandbox.db beside the ledger file, or the ledger's database]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) sandbox_db: Option<PathBuf>,
}

/// Runs `ledgerly correct …`.
pub(crate) fn run(args: &Args, console: crate::console::Console) -> Result<Status, AppError> {
    match &args.command {
        CorrectCommand::Plan(args) => plan::run(args),
        CorrectCommand::Apply(args) => apply::run(args, console),
        CorrectCommand::Verify(args) => verify::run(args),
    }
}

/// A rate table as a plan carries it (and as `ledgerly rates --format json`
/// prints it): its version, fingerprint, each rate as exact decimal text,
/// and the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RatesJson {
    version: Option<serde_json::Value>,
    fingerprint: String,
    gold_discount: String,
    silver_discount: String,
    bronze_discount: String,
    loyalty_discount: String,
    sales_tax: String,
    late_fee: String,
    late_fee_after_days: u32,
}

impl RatesJson {
    /// `table`, named `version`.
    pub(crate) fn of(table: &RateTable, version: Option<&str>) -> RatesJson {
        let [gold, silver, bronze, loyalty, tax, late] =
            table.rates().map(|(_, rate)| rate.to_string());
        RatesJson {
            version: version.map(|version| serde_json::Value::String(version.to_owned())),
            fingerprint: table.fingerprint(),
            gold_discount: gold,
            silver_discount: silver,
            bronze_discount: bronze,
            loyalty_discount: loyalty,
            sales_tax: tax,
            late_fee: late,
            late_fee_after_days: table.late_fee_after_days,
        }
    }

    /// The rates it names: each value exact, every rate a fraction, and
    /// the fingerprint the values give (a table edited by hand is refused).
    pub(crate) fn rates(&self) -> Result<Rates, String> {
        let rate = |name: &str, text: &str| {
            Decimal::from_str_exact(text)
                .map_err(|_| format!("rate {name} {text:?} is not an exact decimal"))
        };
        let table = RateTable {
            gold_discount: rate("gold_discount", &self.gold_discount)?,
            silver_discount: rate("silver_discount", &self.silver_discount)?,
            bronze_discount: rate("bronze_discount", &self.bronze_discount)?,
            loyalty_discount: rate("loyalty_discount", &self.loyalty_discount)?,
            sales_tax: rate("sales_tax", &self.sales_tax)?,
            late_fee: rate("late_fee", &self.late_fee)?,
            late_fee_after_days: self.late_fee_after_days,
        }
        .checked()
        .map_err(|error| error.to_string())?;
        if table.fingerprint() != self.fingerprint {
            return Err(format!(
                "the rates' values have fingerprint {}, not the {} they name",
                table.fingerprint(),
                self.fingerprint
            ));
        }
        let version = match &self.version {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
        };
        Ok(Rates::new(table, version))
    }
}

/// This build's rates, as `ledgerly rates` names them.
pub(crate) fn this_builds_rates() -> RatesJson {
    RatesJson::of(&RATES, Some(&RATES_VERSION.to_string()))
}

/// The right rates of a plan: a `ledgerly rates --format json` file, or
/// this build's.
pub(crate) fn right_rates(file: Option<&Path>, command: Cmd) -> Result<RatesJson, AppError> {
    let Some(path) = file else {
        return Ok(this_builds_rates());
    };
    let text = fs::read_to_string(path).map_err(|source| AppError::input(path, source))?;
    let json: RatesJson = serde_json::from_str(&text).map_err(|error| AppError::BadRecord {
        path: path.to_path_buf(),
        line: 1,
        message: format!("not the output of `ledgerly rates --format json`: {error}"),
    })?;
    json.rates()
        .map_err(|message| AppError::usage(command, format!("--right-rates: {message}")))?;
    Ok(json)
}

/// One record of a plan: an invoice the right rates change, what they do
/// to it, and the correction it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlanRecord {
    pub(crate) id: String,
    pub(crate) status: String,
    pub(crate) currency: String,
    pub(crate) effective: Amounts,
    pub(crate) corrected: Amounts,
    pub(crate) credit: Amounts,
    pub(crate) action: String,
    /// Why an entry is blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    pub(crate) correction: String,
    pub(crate) correction_reason: String,
    pub(crate) wrong_rates: String,
    pub(crate) right_rates: RatesJson,
}

/// `sha256:` and the hex SHA-256 of everything `reader` holds, read a
/// block at a time.
pub(crate) fn digest_of(mut reader: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

/// `sha256:` and the hex of a finished digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("sha256:");
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod digest_tests {
    use std::io::{self, Read};

    use super::digest_of;

    /// A reader that gives its parts in order, each a read's bytes or its
    /// error, then the end.
    struct Flaky {
        parts: Vec<io::Result<Vec<u8>>>,
    }

    impl Read for Flaky {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.parts.is_empty() {
                return Ok(0);
            }
            let part = self.parts.remove(0)?;
            buffer[..part.len()].copy_from_slice(&part);
            Ok(part.len())
        }
    }

    #[test]
    fn an_interrupted_read_is_retried_and_any_other_error_ends_the_digest() {
        let whole = digest_of(&b"{\"id\":1}\n"[..]).unwrap();
        let interrupted = Flaky {
            parts: vec![
                Ok(b"{\"id\"".to_vec()),
                Err(io::Error::from(io::ErrorKind::Interrupted)),
                Ok(b":1}\n".to_vec()),
            ],
        };
        assert_eq!(digest_of(interrupted).unwrap(), whole);
        let failing = Flaky {
            parts: vec![
                Ok(b"{".to_vec()),
                Err(io::Error::other("disk gone")),
                Ok(b"}".to_vec()),
            ],
        };
        assert_eq!(digest_of(failing).unwrap_err().to_string(), "disk gone");
    }
}
