//! `ledgerly correct apply`: an approved plan applied exactly. The file is
//! read twice, a block at a time: once for its digest (refused, with
//! nothing written, unless it is the approved one), once for its entries,
//! each handed to `billing::Corrector` and reported as one record.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use billing::{
    Applied, BillingService, CorrectionId, CorrectionRecord, Corrector, Lines, Pace, PlanEntry,
    RetryPolicy, Settlement, ThreadSleeper, Undercharge,
};
use payment_gateway::SystemClock;
use serde::Serialize;

use super::{PlanRecord, digest_of};
use crate::console::Console;
use crate::error::{AppError, Cmd, Status, closed_pipe_or, input_name};
use crate::output::money::Amounts;
use crate::sandbox::{self, Metered};
use crate::signals;
use crate::store::{self, Open};
use crate::workers::{parse_latency, parse_lease, worker_id};

/// `ledgerly correct apply`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) stores: super::Stores,

    /// The approved plan, as `correct plan` wrote it
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: PathBuf,

    /// The digest the reviewer approved (sha256:HEX): any other plan is refused
    #[arg(long, value_name = "sha256:HEX")]
    pub(crate) expect_digest: String,

    /// What an undercharge becomes: absorbed (recorded, nothing asked of the customer), or billed
    #[arg(long, value_enum, default_value_t = UnderchargeArg::Absorb)]
    pub(crate) undercharge: UnderchargeArg,

    /// Who this applier is in the claims it holds, with a nonce of this run added [default: hostname:pid]
    #[arg(long, value_name = "NAME")]
    pub(crate) worker: Option<String>,

    /// How long a claim lasts before another applier may take it over
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_lease)]
    pub(crate) claim_timeout: Duration,

    /// Real time each sandbox request takes (as for `charge`)
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_latency)]
    pub(crate) sandbox_latency: Duration,

    /// The account's rate limit at the sandbox processor, in requests per
    /// second (as for `charge`): refunds and lookups are paced under it
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) sandbox_rate_limit: Option<u32>,
}

/// What an undercharge becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum UnderchargeArg {
    /// Recorded and absorbed: nothing more is asked of the customer
    Absorb,
    /// A supplementary invoice of the difference, collected by the next `charge`
    Bill,
}

impl From<UnderchargeArg> for Undercharge {
    fn from(arg: UnderchargeArg) -> Undercharge {
        match arg {
            UnderchargeArg::Absorb => Undercharge::Absorb,
            UnderchargeArg::Bill => Undercharge::Bill,
        }
    }
}

/// One entry's record.
#[derive(Serialize)]
struct AppliedJson<'a> {
    id: &'a str,
    credit_note: Option<String>,
    credited: Option<Amounts>,
    settlement: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    refund_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplementary_invoice: Option<&'a str>,
    requests: u32,
}

/// Runs `ledgerly correct apply`.
pub(crate) fn run(args: &Args, console: Console) -> Result<Status, AppError> {
    let worker = worker_id(args.worker.as_deref())
        .map_err(|error| AppError::usage(Cmd::CorrectApply, format!("--worker: {error}")))?;
    let digest = approved_digest(args)?;
    let (ledger, books) = store::open_ledger_and_books(
        args.stores.db.as_deref(),
        args.stores.sandbox_db.as_deref(),
        Open::Existing,
    )?;
    let limit = args.sandbox_rate_limit.and_then(std::num::NonZeroU32::new);
    let processor = sandbox::processor(books, args.sandbox_latency, limit);
    let metered = Metered::new(&processor);
    let pace = Pace::new();
    let gateway = sandbox::client(&metered, &pace);
    console.notice(
        &mut io::stderr(),
        "note: refunds go to the sandbox processor; no real money moves",
    );
    let service = BillingService::new(
        &gateway,
        &ledger,
        ThreadSleeper,
        SystemClock,
        RetryPolicy::default(),
    );
    let mut corrector: Option<Corrector<'_, _, _, _, _>> = None;
    let mut out = io::stdout().lock();
    let mut status = Status::Success;
    let file = File::open(&args.plan).map_err(|source| AppError::input(&args.plan, source))?;
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let number = u64::try_from(index).map_or(u64::MAX, |index| index.saturating_add(1));
        let line = line.map_err(|source| AppError::input(&args.plan, source))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| AppError::BadRecord {
            path: input_name(&args.plan),
            line: number,
            message,
        };
        let (correction, entry) = read_entry(&line, &digest).map_err(bad)?;
        let current = match &corrector {
            Some(current) if current.correction().id() != correction.id() => {
                return Err(bad(format!(
                    "the plan mixes corrections {} and {}",
                    current.correction().id(),
                    correction.id()
                )));
            }
            Some(current) => current,
            None => corrector.insert(
                Corrector::new(&service, &correction, worker.clone(), args.claim_timeout)?
                    .with_undercharge(args.undercharge.into()),
            ),
        };
        let applied = current.apply(&entry)?;
        if !applied.settlement.is_settled() {
            status = Status::SomeUnpaid;
        }
        let mut bytes =
            serde_json::to_vec(&json(&applied)).map_err(|error| AppError::Output(error.into()))?;
        bytes.push(b'\n');
        if let Err(error) = signals::writing(|| out.write_all(&bytes).and_then(|()| out.flush())) {
            return closed_pipe_or(error, status);
        }
        signals::stop_if_asked(&mut out);
    }
    Ok(status)
}

/// The plan's digest, when it is the approved one: otherwise the plan is
/// refused before anything is read from it or written.
fn approved_digest(args: &Args) -> Result<String, AppError> {
    let file = File::open(&args.plan).map_err(|source| AppError::input(&args.plan, source))?;
    let digest = digest_of(file).map_err(|source| AppError::input(&args.plan, source))?;
    if digest != args.expect_digest {
        return Err(AppError::BadRecord {
            path: input_name(&args.plan),
            line: 0,
            message: format!(
                "the plan's digest is {digest}, not the approved {}: nothing was applied",
                pricing::excerpt(&args.expect_digest)
            ),
        });
    }
    Ok(digest)
}

/// One line of the plan: the correction it belongs to and its entry.
fn read_entry(line: &str, digest: &str) -> Result<(CorrectionRecord, PlanEntry), String> {
    let record: PlanRecord = serde_json::from_str(line)
        .map_err(|error| format!("not a record of `ledgerly correct plan`: {error}"))?;
    let correction = correction_of(&record, digest)?;
    let entry = PlanEntry {
        invoice: billing::InvoiceId::new(record.id.as_str()).map_err(|error| error.to_string())?,
        credit: Lines::new(record.credit.cents()).map_err(|error| error.to_string())?,
    };
    Ok((correction, entry))
}

/// The correction a plan record belongs to.
fn correction_of(record: &PlanRecord, digest: &str) -> Result<CorrectionRecord, String> {
    let right = record.right_rates.rates()?;
    Ok(CorrectionRecord::new(
        CorrectionId::new(record.correction.as_str()).map_err(|error| error.to_string())?,
        record.correction_reason.as_str(),
        record.wrong_rates.as_str(),
        right,
        digest,
        concat!(
            "ledgerly ",
            env!("CARGO_PKG_VERSION"),
            " (commit ",
            env!("LEDGERLY_BUILD_COMMIT"),
            ")"
        ),
        SystemTime::now(),
    ))
}

fn json(applied: &Applied) -> AppliedJson<'_> {
    AppliedJson {
        id: applied.invoice.as_str(),
        credit_note: applied
            .credit_note
            .as_ref()
            .map(|note| note.id().to_string()),
        credited: applied
            .credit_note
            .as_ref()
            .map(|note| Amounts::of(note.credited().cents())),
        settlement: applied.settlement.name(),
        reason: applied.settlement.reason(),
        refund_id: applied
            .refund_id
            .as_ref()
            .map(payment_gateway::RefundId::as_str),
        supplementary_invoice: match &applied.settlement {
            Settlement::Billed(id) => Some(id.as_str()),
            _ => None,
        },
        requests: applied.requests,
    }
}
