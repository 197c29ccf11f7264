//! `ledgerly charge`: prices and collects each invoice of a JSON Lines file
//! through the billing service, with the fake gateway in sandbox mode.
//!
//! Invoices are collected one after another, in input order, against one
//! in-memory repository, so an invoice id seen again is the same invoice: a
//! declined invoice with a new payment method is a new payment attempt, and
//! a paid one returns its payment without a second charge. That is how a
//! user tries decline and retry scenarios without a processor account.

use std::io::{self, Write};
use std::time::Duration;

use billing::{
    BillingError, BillingService, CustomerId, InMemoryInvoiceRepository, Invoice, InvoiceId,
    InvoiceRepository, Payment, RetryPolicy, ThreadSleeper,
};
use payment_gateway::{Currency, FakeGateway, PaymentMethod};
use pricing::Money;
use serde::Serialize;

use crate::cli::{ChargeArgs, ChargeFormat};
use crate::error::{AppError, Status};
use crate::invoice::{MAX_LINE, closed_pipe_or, open_input};
use crate::jsonl::{self, ChargeInvoice};
use crate::lines::{Block, LineBlocks, numbered_lines};
use crate::pool::BufferPool;

/// The first retry waits this long; each later one twice as long as the one
/// before, up to [`MAX_DELAY`]. Short, because the sandbox has no processor
/// to spare, but real, so a run shows what a retry costs.
const BASE_DELAY: Duration = Duration::from_millis(50);
/// The longest wait between two requests.
const MAX_DELAY: Duration = Duration::from_secs(1);
/// Input is read in blocks of this many bytes (64 KiB; any size gives the
/// same records, see `invoice::BLOCK_SIZE`).
const BLOCK_SIZE: usize = 65_536;

/// How one input invoice ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Paid: with the gateway's charge id, or without one when nothing was
    /// due.
    Paid {
        /// The gateway's charge id; `None` for a zero total.
        charge_id: Option<String>,
    },
    /// The processor declined the charge with this code.
    Declined {
        /// The processor's decline code, such as `card_declined`.
        code: String,
    },
    /// The invoice is valid but was not paid for another reason (the
    /// request was refused, or the retries ran out).
    Failed {
        /// What billing reported.
        error: String,
    },
}

/// A collected invoice's record: its total and how collecting it ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Collected {
    /// The invoice's total.
    pub(crate) total: Money,
    /// The invoice's currency.
    pub(crate) currency: Currency,
    /// How many charge requests reached the gateway, retries included.
    pub(crate) requests: usize,
    /// How collecting ended.
    pub(crate) outcome: Outcome,
}

/// Runs `ledgerly charge`.
pub(crate) fn run(args: &ChargeArgs) -> Result<Status, AppError> {
    let policy = RetryPolicy::new(args.max_attempts, BASE_DELAY, MAX_DELAY)
        .map_err(|error| AppError::usage(format!("--max-attempts: {error}")))?;
    let reader = open_input(&args.input)?;
    let gateway = FakeGateway::new();
    let repository = InMemoryInvoiceRepository::new();
    let service = BillingService::new(&gateway, &repository, ThreadSleeper, policy);
    // The notice goes to stderr so the records on stdout stay machine-readable.
    let _ = writeln!(
        io::stderr(),
        "sandbox: charging through the fake test-mode gateway; no money moves"
    );

    let pool = BufferPool::default();
    let mut out = io::stdout().lock();
    let mut invalid = false;
    let mut unpaid = false;
    for block in LineBlocks::new(reader, &pool, BLOCK_SIZE, MAX_LINE) {
        let block = block.map_err(|source| AppError::input(&args.input, source))?;
        let mut records = pool.take_with_capacity(BLOCK_SIZE);
        match block {
            Block::TooLong { line } => {
                invalid = true;
                let error = format!("line is longer than the limit of {MAX_LINE} bytes");
                write_invalid(&mut records, args.format, line, None, &error)
                    .map_err(AppError::Output)?;
            }
            Block::Lines { first_line, data } => {
                for (line, bytes) in numbered_lines(first_line, &data) {
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match jsonl::parse_charge_line(bytes) {
                        Err(rejected) => {
                            invalid = true;
                            let error = rejected.error.to_string();
                            let id = rejected.id.as_deref();
                            write_invalid(&mut records, args.format, line, id, &error)
                                .map_err(AppError::Output)?;
                        }
                        Ok(invoice) => {
                            let id = invoice.id.clone();
                            match collect(&service, invoice) {
                                Err(error) => {
                                    invalid = true;
                                    write_invalid(
                                        &mut records,
                                        args.format,
                                        line,
                                        Some(&id),
                                        &error,
                                    )
                                    .map_err(AppError::Output)?;
                                }
                                Ok(collected) => {
                                    unpaid |= !matches!(collected.outcome, Outcome::Paid { .. });
                                    write_collected(
                                        &mut records,
                                        args.format,
                                        line,
                                        &id,
                                        &collected,
                                    )
                                    .map_err(AppError::Output)?;
                                }
                            }
                        }
                    }
                }
                pool.put(data);
            }
        }
        if let Err(error) = out.write_all(&records).and_then(|()| out.flush()) {
            return closed_pipe_or(error, status(invalid, unpaid));
        }
        pool.put(records);
    }
    Ok(status(invalid, unpaid))
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
fn collect(
    service: &BillingService<&FakeGateway, &InMemoryInvoiceRepository, ThreadSleeper>,
    line: ChargeInvoice<'_>,
) -> Result<Collected, String> {
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

/// A collected invoice's JSON record, fields in this order.
#[derive(Serialize)]
struct CollectedRecord<'a> {
    line: u64,
    id: &'a str,
    outcome: &'static str,
    total: Money,
    currency: &'static str,
    requests: usize,
    /// Flattened, so the variant's name is the last key.
    #[serde(flatten)]
    detail: Detail<'a>,
}

/// The outcome's detail: `"charge_id"`, `"decline_code"` or `"error"`.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Detail<'a> {
    ChargeId(Option<&'a str>),
    DeclineCode(&'a str),
    Error(&'a str),
}

/// An invalid invoice's JSON record, as `ledgerly invoice` writes it.
#[derive(Serialize)]
struct InvalidRecord<'a> {
    line: u64,
    id: Option<&'a str>,
    error: &'a str,
}

/// Appends a collected invoice's record.
pub(crate) fn write_collected(
    out: &mut Vec<u8>,
    format: ChargeFormat,
    line: u64,
    id: &str,
    collected: &Collected,
) -> io::Result<()> {
    let (outcome, detail) = match &collected.outcome {
        Outcome::Paid { charge_id } => ("paid", Detail::ChargeId(charge_id.as_deref())),
        Outcome::Declined { code } => ("declined", Detail::DeclineCode(code)),
        Outcome::Failed { error } => ("failed", Detail::Error(error)),
    };
    match format {
        ChargeFormat::Jsonl => {
            let record = CollectedRecord {
                line,
                id,
                outcome,
                total: collected.total,
                currency: collected.currency.code(),
                requests: collected.requests,
                detail,
            };
            serde_json::to_writer(&mut *out, &record)?;
            out.push(b'\n');
            Ok(())
        }
        ChargeFormat::Text => {
            let detail = match detail {
                Detail::ChargeId(Some(charge)) => format!("charge {charge}"),
                Detail::ChargeId(None) => "nothing was due".to_owned(),
                Detail::DeclineCode(code) | Detail::Error(code) => code.to_owned(),
            };
            let requests = collected.requests;
            let plural = if requests == 1 { "" } else { "s" };
            writeln!(
                out,
                "line {line}  {id}  {outcome:<8}  {} {}  {detail}  ({requests} request{plural})",
                collected.total, collected.currency
            )
        }
    }
}

/// Appends an invalid invoice's error record.
pub(crate) fn write_invalid(
    out: &mut Vec<u8>,
    format: ChargeFormat,
    line: u64,
    id: Option<&str>,
    error: &str,
) -> io::Result<()> {
    match format {
        ChargeFormat::Jsonl => {
            serde_json::to_writer(&mut *out, &InvalidRecord { line, id, error })?;
            out.push(b'\n');
            Ok(())
        }
        ChargeFormat::Text => {
            let id = id.unwrap_or("(no id)");
            writeln!(out, "line {line}  {id}  invalid   {error}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collected(outcome: Outcome, requests: usize) -> Collected {
        Collected {
            total: Money::from_minor_units(14169),
            currency: Currency::Usd,
            requests,
            outcome,
        }
    }

    fn written(format: ChargeFormat, record: &Collected) -> String {
        let mut out = Vec::new();
        write_collected(&mut out, format, 3, "INV-1", record).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_paid_invoice_names_its_charge() {
        let record = collected(
            Outcome::Paid {
                charge_id: Some("ch_fake_000001".to_owned()),
            },
            1,
        );
        assert_eq!(
            written(ChargeFormat::Jsonl, &record),
            "{\"line\":3,\"id\":\"INV-1\",\"outcome\":\"paid\",\"total\":\"141.69\",\"currency\":\"USD\",\"requests\":1,\"charge_id\":\"ch_fake_000001\"}\n"
        );
        assert_eq!(
            written(ChargeFormat::Text, &record),
            "line 3  INV-1  paid      141.69 USD  charge ch_fake_000001  (1 request)\n"
        );
    }

    #[test]
    fn nothing_due_is_paid_without_a_charge_id() {
        let record = collected(Outcome::Paid { charge_id: None }, 0);
        assert!(
            written(ChargeFormat::Jsonl, &record).ends_with("\"requests\":0,\"charge_id\":null}\n")
        );
        assert_eq!(
            written(ChargeFormat::Text, &record),
            "line 3  INV-1  paid      141.69 USD  nothing was due  (0 requests)\n"
        );
    }

    #[test]
    fn a_declined_invoice_names_its_code_and_a_failed_one_its_error() {
        let declined = collected(
            Outcome::Declined {
                code: "card_declined".to_owned(),
            },
            1,
        );
        assert!(
            written(ChargeFormat::Jsonl, &declined)
                .ends_with("\"outcome\":\"declined\",\"total\":\"141.69\",\"currency\":\"USD\",\"requests\":1,\"decline_code\":\"card_declined\"}\n")
        );
        let failed = collected(
            Outcome::Failed {
                error: "still open".to_owned(),
            },
            4,
        );
        assert!(
            written(ChargeFormat::Jsonl, &failed)
                .ends_with("\"requests\":4,\"error\":\"still open\"}\n")
        );
        assert_eq!(
            written(ChargeFormat::Text, &failed),
            "line 3  INV-1  failed    141.69 USD  still open  (4 requests)\n"
        );
    }

    #[test]
    fn an_invalid_invoice_is_an_error_record() {
        let mut out = Vec::new();
        write_invalid(&mut out, ChargeFormat::Jsonl, 7, Some("A"), "bad").unwrap();
        write_invalid(&mut out, ChargeFormat::Jsonl, 8, None, "worse").unwrap();
        write_invalid(&mut out, ChargeFormat::Text, 9, None, "worst").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"line\":7,\"id\":\"A\",\"error\":\"bad\"}\n\
             {\"line\":8,\"id\":null,\"error\":\"worse\"}\n\
             line 9  (no id)  invalid   worst\n"
        );
    }

    #[test]
    fn invalid_input_outranks_unpaid_invoices_in_the_status() {
        assert_eq!(status(false, false), Status::Success);
        assert_eq!(status(false, true), Status::SomeUnpaid);
        assert_eq!(status(true, false), Status::SomeInvalid);
        assert_eq!(status(true, true), Status::SomeInvalid);
    }
}
