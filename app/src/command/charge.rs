//! `ledgerly charge`: prices and collects each invoice of a JSON Lines file
//! through the billing service, with the fake gateway in sandbox mode.
//!
//! Invoices are collected one after another, in input order, against one
//! in-memory repository, so an invoice id seen again is the same invoice: a
//! declined invoice with a new payment method is a new payment attempt, and
//! a paid one returns its payment without a second charge. That is how a
//! user tries decline and retry scenarios without a processor account.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use billing::{
    BillingError, BillingService, CustomerId, InMemoryInvoiceRepository, Invoice, InvoiceId,
    InvoiceRepository, Payment, RetryPolicy, ThreadSleeper,
};
use payment_gateway::{Currency, FakeGateway, PaymentMethod};
use pricing::{Money, Tier};

use crate::console::Console;
use crate::error::{AppError, Cmd, Status, closed_pipe_or};
use crate::input::open_input;
use crate::jsonl::{self, ChargeInvoice};
use crate::lines::{Block, LineBlocks, LineTooLong, MAX_LINE, is_blank, numbered_lines};
use crate::output::charge::{Collected, Outcome, write_collected, write_invalid};
use crate::pool::BufferPool;
use crate::progress::Diagnostics;
use crate::signals;

/// What stderr says before the records, unless `--quiet`.
const SANDBOX_NOTICE: &str = "sandbox: charging through the fake test-mode gateway; no money moves";

/// The first retry waits this long; each later one twice as long as the one
/// before, up to [`MAX_DELAY`]. Short, because the sandbox has no processor
/// to spare, but real, so a run shows what a retry costs.
const BASE_DELAY: Duration = Duration::from_millis(50);
/// The longest wait between two requests.
const MAX_DELAY: Duration = Duration::from_secs(1);
/// Input is read in blocks of this many bytes (64 KiB; any size gives the
/// same records, see `command::invoice::BLOCK_SIZE`).
const BLOCK_SIZE: usize = 65_536;

/// What `ledgerly charge --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
Sandbox only: invoices are charged through Ledgerly's fake test-mode gateway and
no money moves. The payment_method token decides each outcome, as in a card
processor's test mode:
  tok_success                       the charge succeeds
  tok_card_declined, tok_insufficient_funds, tok_expired_card, tok_incorrect_cvc,
  tok_lost_card, tok_stolen_card    declined with that code
  tok_transient_<N>                 the first N requests fail transiently, then it succeeds
                                    (retried with backoff, up to --max-attempts requests)
  tok_reply_lost                    charged, but the reply is lost once; the retry with
                                    the same idempotency key finds the charge
  tok_request_lost                  the first request is lost before it is processed
An invoice id seen again in the same input is collected again: after a decline
with a new payment_method it is a new attempt; a paid invoice is not charged twice.

Input: JSON Lines, one invoice per line, as for `ledgerly invoice` plus who pays:
  {\"id\": \"INV-1\", \"customer\": \"cus_1\", \"payment_method\": \"tok_success\",
   \"currency\": \"USD\", \"tier\": \"gold\", \"loyalty_member\": true, \"days_overdue\": 45,
   \"line_items\": [{\"price\": \"40.00\", \"quantity\": 3}, {\"price\": 15, \"quantity\": 2}]}
id, customer, payment_method and line_items are required; currency is USD, EUR or GBP
(default USD).

Output, one record per input invoice in input order:
  {\"line\":1,\"id\":\"INV-1\",\"outcome\":\"paid\",\"total\":\"141.69\",\"currency\":\"USD\",\"requests\":1,\"charge_id\":\"ch_fake_000001\"}
  {\"line\":2,\"id\":\"INV-2\",\"outcome\":\"declined\",\"total\":\"10.80\",\"currency\":\"USD\",\"requests\":1,\"decline_code\":\"card_declined\"}
outcome is paid (charge_id null when nothing was due), declined, or failed (with
error); an invalid invoice yields {\"line\": N, \"id\": ..., \"error\": \"...\"}.

Examples:
  ledgerly charge --input invoices.jsonl
  ledgerly charge --input invoices.jsonl --format text";

/// `ledgerly charge`: collect a file of invoices in the sandbox.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The invoices to collect, as JSON Lines: a file, or - for stdin
    #[arg(long, value_name = "PATH")]
    pub(crate) input: PathBuf,

    /// The output format
    #[arg(long, value_enum, default_value_t = ChargeFormat::Jsonl)]
    pub(crate) format: ChargeFormat,

    /// The most charge requests per invoice, retries included
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub(crate) max_attempts: u32,

    /// Charge an invoice whose tier pricing does not know, without a tier
    /// discount (warned about once per name); without this flag such an
    /// invoice is refused (an error record, exit 65), since it would be
    /// billed at full price
    #[arg(long)]
    pub(crate) allow_unknown_tiers: bool,
}

/// The output formats of `ledgerly charge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ChargeFormat {
    /// One JSON object per line, one line per input invoice
    Jsonl,
    /// One line of text per input invoice
    Text,
}

/// The service `charge` collects through: the sandbox gateway and an
/// in-memory repository, borrowed for the run.
type Service<'a> = BillingService<&'a FakeGateway, &'a InMemoryInvoiceRepository, ThreadSleeper>;

/// What the records of a run said so far, for its exit status.
#[derive(Debug, Default)]
struct Tally {
    invalid: bool,
    unpaid: bool,
}

impl Tally {
    fn status(&self) -> Status {
        status(self.invalid, self.unpaid)
    }
}

/// One run of `charge`: what every input line is collected with, and what
/// the run has said so far.
struct Run<'a> {
    service: Service<'a>,
    format: ChargeFormat,
    allow_unknown_tiers: bool,
    diagnostics: Diagnostics<io::Stderr>,
    tally: Tally,
}

/// Runs `ledgerly charge`.
pub(crate) fn run(args: &Args, console: Console) -> Result<Status, AppError> {
    let policy = RetryPolicy::new(args.max_attempts, BASE_DELAY, MAX_DELAY)
        .map_err(|error| AppError::usage(Cmd::Charge, format!("--max-attempts: {error}")))?;
    let reader = open_input(&args.input)?;
    let gateway = FakeGateway::new();
    let repository = InMemoryInvoiceRepository::new();
    // The notice goes to stderr so the records on stdout stay machine-readable.
    console.notice(&mut io::stderr(), SANDBOX_NOTICE);
    let mut run = Run {
        service: BillingService::new(&gateway, &repository, ThreadSleeper, policy),
        format: args.format,
        allow_unknown_tiers: args.allow_unknown_tiers,
        diagnostics: Diagnostics::stderr(console),
        tally: Tally::default(),
    };

    let pool = BufferPool::default();
    let mut out = io::stdout().lock();
    let mut record = Vec::with_capacity(256);
    for block in LineBlocks::new(reader, &pool, BLOCK_SIZE, MAX_LINE) {
        let block = block.map_err(|source| AppError::input(&args.input, source))?;
        let lines: Box<dyn Iterator<Item = (u64, Option<&[u8]>)>> = match &block {
            Block::TooLong { line } => Box::new(std::iter::once((*line, None))),
            Block::Lines { first_line, data } => Box::new(
                numbered_lines(*first_line, data)
                    .filter(|(_, bytes)| !is_blank(bytes))
                    .map(|(line, bytes)| (line, Some(bytes))),
            ),
        };
        for (line, bytes) in lines {
            record.clear();
            // One invoice at a time, collected and written as one section
            // a signal does not cut: charging is slow next to writing, so
            // each outcome is shown as it happens, and a stop loses no
            // record of a request already sent.
            let written = signals::writing(|| {
                match bytes {
                    Some(bytes) => run.charge_line(line, bytes, &mut record),
                    None => run.refuse(line, None, &LineTooLong.to_string(), &mut record),
                }
                .and_then(|()| out.write_all(&record))
                .and_then(|()| out.flush())
            });
            if let Err(error) = written {
                return closed_pipe_or(error, run.tally.status());
            }
            signals::stop_if_asked(&mut out);
        }
        if let Block::Lines { data, .. } = block {
            pool.put(data);
        }
    }
    run.diagnostics.finish();
    Ok(run.tally.status())
}

impl Run<'_> {
    /// Reads, collects and records the invoice on one input line: its
    /// record goes to `record`, what it says to the tally.
    fn charge_line(&mut self, line: u64, bytes: &[u8], record: &mut Vec<u8>) -> io::Result<()> {
        let invoice = match jsonl::parse_charge_line(bytes) {
            Ok(invoice) => invoice,
            Err(rejected) => {
                let error = rejected.error.to_string();
                return self.refuse(line, rejected.id.as_deref(), &error, record);
            }
        };
        let id = invoice.id.clone();
        // A command that moves money is never more lenient than one that
        // only prices: a tier pricing does not know would be billed at full
        // price, so it is refused unless the operator says otherwise.
        if let Tier::Unrecognized(name) = invoice.input.tier() {
            if !self.allow_unknown_tiers {
                let error = format!(
                    "unknown tier {name:?}: charge refuses a tier pricing does not know \
                     (pass --allow-unknown-tiers to charge it without a tier discount)"
                );
                return self.refuse(line, Some(&id), &error, record);
            }
            self.diagnostics.unknown_tiers(&[(name.clone(), 1)]);
        }
        match collect(&self.service, invoice) {
            Ok(collected) => {
                self.tally.unpaid |= !matches!(collected.outcome, Outcome::Paid { .. });
                write_collected(record, self.format, line, &id, &collected)
            }
            Err(error) => self.refuse(line, Some(&id), &error, record),
        }
    }

    /// Records an invalid invoice.
    fn refuse(
        &mut self,
        line: u64,
        id: Option<&str>,
        error: &str,
        record: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.tally.invalid = true;
        write_invalid(record, self.format, line, id, error)
    }
}

/// The run's status: invalid input outranks unpaid invoices.
fn status(invalid: bool, unpaid: bool) -> Status {
    if invalid {
        Status::SomeInvalid
    } else if unpaid {
        Status::SomeUnpaid
    } else {
        Status::Success
    }
}

/// Prices and collects one invoice. `Err` is a message for an invalid
/// invoice: one whose fields billing refuses, that pricing refuses, or that
/// contradicts an earlier line with the same id. Declines and other failed
/// payments are outcomes, not errors.
fn collect(service: &Service<'_>, line: ChargeInvoice<'_>) -> Result<Collected, String> {
    let id = InvoiceId::new(line.id.as_ref()).map_err(|error| error.to_string())?;
    let customer = CustomerId::new(line.customer.as_ref()).map_err(|error| error.to_string())?;
    let method =
        PaymentMethod::new(line.payment_method.as_ref()).map_err(|error| error.to_string())?;
    let currency = match &line.currency {
        None => Currency::Usd,
        Some(code) => code
            .parse()
            .map_err(|error: payment_gateway::InvalidRequest| error.to_string())?,
    };
    let total = pricing::price(&line.input)
        .map_err(|error| error.to_string())?
        .total();

    match service.invoice(&id) {
        Err(BillingError::NotFound(_)) => {
            let invoice = Invoice::new(id.clone(), customer, method, currency, line.input);
            service
                .repository()
                .save(&invoice)
                .map_err(|error| error.to_string())?;
        }
        Ok(earlier) => {
            if earlier.customer() != &customer
                || earlier.currency() != currency
                || earlier.pricing() != &line.input
            {
                return Err(format!(
                    "invoice {id} was read before with a different customer, currency or line items"
                ));
            }
            // A paid invoice keeps its payment method; collecting it again
            // below returns its payment.
            if earlier.payment_method() != &method
                && !earlier.status().is_paid()
                && let Err(error) = service.change_payment_method(&id, method)
            {
                return Ok(failed(total, currency, 0, &error));
            }
        }
        Err(error) => return Ok(failed(total, currency, 0, &error)),
    }

    let requests_before = service.gateway().request_count();
    let result = service.collect(&id);
    let requests = service.gateway().request_count() - requests_before;
    Ok(match result {
        Ok(Payment::Charged(charge)) => Collected {
            total,
            currency,
            requests,
            outcome: Outcome::Paid {
                charge_id: Some(charge.id().as_str().to_owned()),
            },
        },
        Ok(Payment::NothingDue) => Collected {
            total,
            currency,
            requests,
            outcome: Outcome::Paid { charge_id: None },
        },
        Err(BillingError::Declined { code, .. }) => Collected {
            total,
            currency,
            requests,
            outcome: Outcome::Declined {
                code: code.as_str().to_owned(),
            },
        },
        Err(error) => failed(total, currency, requests, &error),
    })
}

fn failed(total: Money, currency: Currency, requests: usize, error: &BillingError) -> Collected {
    Collected {
        total,
        currency,
        requests,
        outcome: Outcome::Failed {
            error: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use clap::error::ErrorKind;

    #[test]
    fn charge_needs_an_input_and_at_least_one_attempt() {
        let error = Cli::try_parse_from(["ledgerly", "charge"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        let error = Cli::try_parse_from([
            "ledgerly",
            "charge",
            "--input",
            "a.jsonl",
            "--max-attempts",
            "0",
        ])
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        let cli = Cli::try_parse_from(["ledgerly", "charge", "--input", "a.jsonl"]).unwrap();
        let Command::Charge(args) = cli.command else {
            panic!("not charge");
        };
        assert_eq!(args.max_attempts, 4);
        assert_eq!(args.format, ChargeFormat::Jsonl);
    }

    #[test]
    fn invalid_input_outranks_unpaid_invoices_in_the_status() {
        assert_eq!(status(false, false), Status::Success);
        assert_eq!(status(false, true), Status::SomeUnpaid);
        assert_eq!(status(true, false), Status::SomeInvalid);
        assert_eq!(status(true, true), Status::SomeInvalid);
    }
}
