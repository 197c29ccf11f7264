//! `ledgerly reconcile`: settles every payment attempt left pending or
//! unknown (a killed run, a lost reply, exhausted retries) by asking the
//! sandbox processor what became of its idempotency key, never by charging.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use std::num::NonZeroU32;
use std::time::Instant;

use billing::{BillingService, Corrector, Pace, RetryPolicy, ThreadSleeper};
use payment_gateway::SystemClock;

use crate::console::Console;
use crate::error::{AppError, Status, closed_pipe_or};
use crate::output::summary::Summary;
use crate::sandbox::{self, Metered};
use crate::signals;
use crate::store::{self, Open};
use crate::time::parse_duration;
use crate::workers::parse_latency;

/// What `ledgerly reconcile --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
Settles every payment attempt whose outcome is pending or unknown by looking its
idempotency key up at the sandbox processor; nothing is ever charged:
  captured under the key   the attempt is captured, the invoice paid
  declined                 the decline is recorded
  no record of the key     it stays as it is, however old: its request may still
                           be on its way (nothing proves it ended), so its invoice
                           is never given a new key; the next charge run resends
                           it under its own key, which the processor answers once
  the lookup fails, or another amount was captured: it stays unknown, for a person
An outcome another run records meanwhile stands and stops nothing else.
Refund attempts of credit notes (`ledgerly correct apply`) left pending or unknown
are settled the same way, by looking their keys up, never by refunding.
Prints one line: how many attempts were settled, how many captured, how many stay
unknown and, of those, how many the processor has no record of. Lookups go out up
to --concurrency at a time, paced under the processor's rate limit as `charge`'s
requests are; the run's summary (requests, rate-limited answers, time) follows on
stderr unless --quiet, and in --summary FILE as JSON.

Examples:
  ledgerly reconcile
  ledgerly reconcile --db /var/lib/ledgerly/ledgerly.db";

/// `ledgerly reconcile`: settle unknown attempts by lookups.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The ledger: a SQLite file, or a postgres:// URL [default: `LEDGERLY_DB`, else ledgerly.db]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    /// The sandbox processor's books: a SQLite file, or a postgres:// URL [default: ledgerly-sandbox.db beside the ledger file, or the ledger's database]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) sandbox_db: Option<PathBuf>,

    /// The account's rate limit at the sandbox processor, in requests per
    /// second for every process sharing its books [default: unlimited]
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) sandbox_rate_limit: Option<u32>,

    /// Lookups kept in flight at once
    #[arg(long, value_name = "N", default_value_t = sandbox::DEFAULT_CONCURRENCY, value_parser = sandbox::parse_concurrency)]
    pub(crate) concurrency: usize,

    /// Real time each sandbox request takes (as for `charge`)
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_latency)]
    pub(crate) sandbox_latency: Duration,

    /// Also write the run's summary to FILE, as one JSON object
    #[arg(long, value_name = "FILE")]
    pub(crate) summary: Option<PathBuf>,

    /// No longer used, accepted so that existing cron lines still run: an
    /// attempt the processor has no record of is never settled as failed,
    /// however old (it was once, after this grace, which let a request still
    /// on its way capture beside the next run's new key)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub(crate) grace: Option<Duration>,
}

/// Runs `ledgerly reconcile`.
pub(crate) fn run(args: &Args, console: Console) -> Result<Status, AppError> {
    if args.grace.is_some() {
        console.warning(
            "--grace is no longer used: an attempt the processor has no record of is left \
             for the next charge run, which resends it under its own key",
        );
    }
    let (ledger, books) = store::open_ledger_and_books(
        args.db.as_deref(),
        args.sandbox_db.as_deref(),
        Open::Existing,
    )?;
    let started = Instant::now();
    let limit = args.sandbox_rate_limit.and_then(NonZeroU32::new);
    let processor = sandbox::processor(books, args.sandbox_latency, limit);
    let metered = Metered::new(&processor);
    let pace = Pace::new();
    let gateway = sandbox::client(&metered, &pace);
    let service = BillingService::new(
        &gateway,
        &ledger,
        ThreadSleeper,
        SystemClock,
        RetryPolicy::default(),
    )
    .with_concurrency(sandbox::in_flight(args.concurrency, args.sandbox_latency));
    let report = service.reconcile()?;
    let refunds = Corrector::reconcile_refunds(&service)?;
    let mut line = format!(
        "reconciled: {} attempt(s) settled ({} captured), {} still unknown",
        report.settled(),
        report.captured(),
        report.still_unknown()
    );
    if report.not_at_processor() > 0 {
        let _ = write!(
            line,
            " ({} not at the processor: the next charge run resends them under their own keys)",
            report.not_at_processor()
        );
    }
    if report.changed_meanwhile() > 0 {
        let _ = write!(
            line,
            "; {} settled by another run meanwhile",
            report.changed_meanwhile()
        );
    }
    if refunds.settled + refunds.still_unknown > 0 {
        let _ = write!(
            line,
            "; refunds: {} settled, {} still unknown",
            refunds.settled, refunds.still_unknown
        );
    }
    line.push('\n');
    let status = if report.still_unknown() == 0 && refunds.still_unknown == 0 {
        Status::Success
    } else {
        Status::SomeUnpaid
    };
    let mut out = io::stdout().lock();
    let written = signals::writing(|| out.write_all(line.as_bytes()).and_then(|()| out.flush()));
    if let Err(error) = written {
        return closed_pipe_or(error, status);
    }
    let mut summary = Summary::default();
    for (outcome, count) in [
        ("captured", report.captured()),
        (
            "declined",
            report.settled().saturating_sub(report.captured()),
        ),
        ("still unknown", report.still_unknown()),
        ("refunds settled", refunds.settled),
        ("refunds still unknown", refunds.still_unknown),
    ] {
        summary.add(outcome, count);
    }
    let (requests, elapsed) = (metered.requests(), started.elapsed());
    console.notice(
        &mut io::stderr(),
        summary.line("reconcile", "attempts", requests, elapsed),
    );
    if let Some(path) = &args.summary {
        summary.write_json(path, "reconcile", "attempts", requests, elapsed)?;
    }
    Ok(status)
}
