//! `ledgerly correct verify`: everything a correction touched, recomputed
//! by `billing::Corrector::verify`; one line per finding, then a summary.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use billing::{BillingService, CorrectionId, Corrections, Corrector, RetryPolicy, ThreadSleeper};
use payment_gateway::{FakeGateway, SystemClock};

use crate::batch::read::fields::printable;
use crate::error::{AppError, Cmd, Status, closed_pipe_or};
use crate::output::money::money;
use crate::signals;
use crate::store::{self, Open};
use crate::workers::worker_id;

/// `ledgerly correct verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) stores: super::Stores,

    /// The correction to verify
    #[arg(long, value_name = "ID")]
    pub(crate) correction: String,
}

/// Runs `ledgerly correct verify`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let id = CorrectionId::new(args.correction.as_str())
        .map_err(|error| AppError::usage(Cmd::CorrectVerify, format!("--correction: {error}")))?;
    // The ledger is only read. The processor is asked about each refund,
    // and a lookup is a request to it: the sandbox's books count it.
    let ledger = store::open_ledger(
        &store::ledger_location(args.stores.db.as_deref()),
        Open::ReadOnly,
    )?;
    let books = store::open_books(
        &store::books_location(args.stores.db.as_deref(), args.stores.sandbox_db.as_deref()),
        Open::Existing,
    )?;
    let Some(correction) = ledger.correction(&id)? else {
        return Err(AppError::usage(
            Cmd::CorrectVerify,
            format!("--correction: the ledger has no correction {id}"),
        ));
    };
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
    // Verifying claims nothing: the worker is only the corrector's name.
    let worker =
        worker_id(Some("verify")).map_err(|error| AppError::usage(Cmd::CorrectVerify, error))?;
    let corrector = Corrector::of_recorded(&service, correction, worker, Duration::from_secs(1));
    let report = corrector.verify()?;
    let mut text = String::new();
    for finding in &report.findings {
        let _ = writeln!(
            text,
            "{}: {}",
            printable(&finding.subject),
            printable(&finding.problem)
        );
    }
    let _ = writeln!(
        text,
        "correction {}: {} credit note(s) checked, {} refunded, {}",
        printable(id.as_str()),
        report.credit_notes,
        money(report.refunded),
        if report.findings.is_empty() {
            "everything holds".to_owned()
        } else {
            format!("{} finding(s)", report.findings.len())
        }
    );
    let status = if report.findings.is_empty() {
        Status::Success
    } else {
        Status::SomeUnpaid
    };
    let mut out = io::stdout().lock();
    if let Err(error) =
        signals::writing(|| out.write_all(text.as_bytes()).and_then(|()| out.flush()))
    {
        return closed_pipe_or(error, status);
    }
    Ok(status)
}
