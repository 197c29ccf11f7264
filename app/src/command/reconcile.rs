//! `ledgerly reconcile`: settles every payment attempt left pending or
//! unknown (a killed run, a lost reply, exhausted retries) by asking the
//! sandbox processor what became of its idempotency key, never by charging.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use billing::{BillingService, RetryPolicy, ThreadSleeper};
use payment_gateway::{FakeGateway, SystemClock};

use crate::error::{AppError, Status, closed_pipe_or};
use crate::signals;
use crate::store::{self, Open};
use crate::time::parse_duration;

/// What `ledgerly reconcile --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
Settles every payment attempt whose outcome is pending or unknown by looking its
idempotency key up at the sandbox processor; nothing is ever charged:
  captured under the key   the attempt is captured, the invoice paid
  declined                 the decline is recorded
  no record of the key     nothing was captured: the attempt is failed and the
                           invoice open again, for the next charge run, but only
                           when the attempt is older than --grace (a younger one
                           may still be in flight in a run that is going on)
  the lookup fails, or another amount was captured: it stays unknown, for a person
Prints one line: how many attempts were settled, how many captured, how many stay
unknown.

Examples:
  ledgerly reconcile
  ledgerly reconcile --grace 0   # no charge run is going on
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

    /// An attempt the processor has no record of is settled as failed only
    /// when it was last touched this long ago (0, or a whole number with
    /// us, ms, s or m)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub(crate) grace: Duration,
}

/// Runs `ledgerly reconcile`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let ledger_location = store::ledger_location(args.db.as_deref());
    let sandbox_location = store::sandbox_location(args.sandbox_db.as_deref(), &ledger_location);
    let ledger = store::open_ledger(&ledger_location, Open::Existing)?;
    let books = store::open_books(&sandbox_location, Open::Existing)?;
    let gateway = FakeGateway::with_books(books)
        .with_clock(SystemClock)
        .without_request_log();
    let service = BillingService::new(
        &gateway,
        &ledger,
        ThreadSleeper,
        SystemClock,
        RetryPolicy::default(),
    );
    let report = service.reconcile(args.grace)?;
    let line = format!(
        "reconciled: {} attempt(s) settled ({} captured), {} still unknown\n",
        report.settled(),
        report.captured(),
        report.still_unknown()
    );
    let status = if report.still_unknown() == 0 {
        Status::Success
    } else {
        Status::SomeUnpaid
    };
    let mut out = io::stdout().lock();
    let written = signals::writing(|| out.write_all(line.as_bytes()).and_then(|()| out.flush()));
    if let Err(error) = written {
        return closed_pipe_or(error, status);
    }
    Ok(status)
}
