//! The records of `ledgerly charge`: one per input invoice, as JSON Lines
//! or text.

use std::io::{self, Write};

use payment_gateway::Currency;
use pricing::Money;
use serde::Serialize;

use std::borrow::Cow;

use crate::batch::read::fields::printable;

/// The output formats of `ledgerly charge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ChargeFormat {
    /// One JSON object per line, one line per input invoice
    Jsonl,
    /// One line of text per input invoice
    Text,
}

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
    /// Another worker sharing the run holds the invoice's claim: it
    /// collects it and reports it; this run sent nothing for it.
    Claimed {
        /// The worker holding the claim.
        worker: String,
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
    Worker(&'a str),
}

/// An invalid invoice's JSON record, as `ledgerly invoice` writes it.
#[derive(Serialize)]
struct InvalidRecord<'a> {
    line: u64,
    id: Option<&'a str>,
    error: &'a str,
}

impl Outcome {
    /// Its name in a record: `paid`, `declined`, `failed` or `claimed`.
    pub(crate) const fn name(&self) -> &'static str {
        match self {
            Outcome::Paid { .. } => "paid",
            Outcome::Declined { .. } => "declined",
            Outcome::Failed { .. } => "failed",
            Outcome::Claimed { .. } => "claimed",
        }
    }
}

/// Appends a collected invoice's record.
pub(crate) fn write_collected(
    out: &mut Vec<u8>,
    format: ChargeFormat,
    line: u64,
    id: &str,
    collected: &Collected,
) -> io::Result<()> {
    let outcome = collected.outcome.name();
    let detail = match &collected.outcome {
        Outcome::Paid { charge_id } => Detail::ChargeId(charge_id.as_deref()),
        Outcome::Declined { code } => Detail::DeclineCode(code),
        Outcome::Failed { error } => Detail::Error(error),
        Outcome::Claimed { worker } => Detail::Worker(worker),
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
                Detail::Worker(worker) => format!("by worker {worker}"),
            };
            let requests = collected.requests;
            let plural = if requests == 1 { "" } else { "s" };
            writeln!(
                out,
                "line {line}  {}  {outcome:<8}  {} {}  {}  ({requests} request{plural})",
                printable(id),
                collected.total,
                collected.currency,
                printable(&detail)
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
            let id = id.map_or(Cow::Borrowed("(no id)"), printable);
            writeln!(out, "line {line}  {id}  invalid   {}", printable(error))
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
    fn an_invoice_another_worker_holds_names_that_worker() {
        let claimed = collected(
            Outcome::Claimed {
                worker: "billing-2:4242".to_owned(),
            },
            0,
        );
        assert_eq!(
            written(ChargeFormat::Jsonl, &claimed),
            "{\"line\":3,\"id\":\"INV-1\",\"outcome\":\"claimed\",\"total\":\"141.69\",\"currency\":\"USD\",\"requests\":0,\"worker\":\"billing-2:4242\"}\n"
        );
        assert_eq!(
            written(ChargeFormat::Text, &claimed),
            "line 3  INV-1  claimed   141.69 USD  by worker billing-2:4242  (0 requests)\n"
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
}
