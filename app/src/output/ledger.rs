//! The records of `ledgerly invoices` (an invoice as issued, its status and
//! its attempt history) and `ledgerly sandbox captures` (what the sandbox
//! processor captured): JSON Lines, CSV or text. Amounts are two-decimal
//! strings, times RFC 3339 in UTC.

use std::io::{self, Write};

use billing::{Attempt, CreditNote, InvoiceRecord, Payment};
use payment_gateway::{Capture, RefundRecord};
use pricing::Money;
use serde::Serialize;

use crate::batch::read::fields::printable;
use crate::batch::write::CsvCell::{Number, Text};
use crate::batch::write::put_csv_row;
use crate::time::timestamp;

/// How `invoices` and `sandbox captures` write their records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ListFormat {
    /// One JSON object per line
    Jsonl,
    /// One CSV row per record, after a header
    Csv,
    /// Lines of text for a person
    Text,
}

/// The charge id a paid invoice was paid with, if any.
fn charge_id(record: &InvoiceRecord) -> Option<String> {
    match record.payment() {
        Some(Payment::Charged(charge)) => Some(charge.id().as_str().to_owned()),
        Some(Payment::NothingDue) | None => None,
    }
}

/// An attempt's JSON object.
#[derive(Serialize)]
struct AttemptRecord<'a> {
    number: u32,
    idempotency_key: &'a str,
    payment_method: &'a str,
    amount: Money,
    currency: &'static str,
    outcome: &'static str,
    detail: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

impl<'a> AttemptRecord<'a> {
    fn of(attempt: &'a Attempt) -> Self {
        AttemptRecord {
            number: attempt.number(),
            idempotency_key: attempt.key().as_str(),
            payment_method: attempt.payment_method().as_str(),
            amount: Money::from_minor_units(attempt.amount().minor_units()),
            currency: attempt.amount().currency().code(),
            outcome: attempt.outcome().name(),
            detail: attempt.outcome().detail(),
            created_at: timestamp(attempt.created_at()),
            updated_at: timestamp(attempt.updated_at()),
        }
    }
}

/// An invoice's JSON object, fields in this order.
#[derive(Serialize)]
struct InvoiceJson<'a> {
    id: &'a str,
    customer: &'a str,
    status: &'static str,
    charge_id: Option<String>,
    currency: &'static str,
    subtotal: Money,
    tier_discount: Money,
    loyalty_discount: Money,
    tax: Money,
    late_fee: Money,
    total: Money,
    payment_method: &'a str,
    tier: &'a str,
    loyalty_member: bool,
    days_overdue: u32,
    line_items: &'a str,
    rates_version: Option<&'a str>,
    issued_at: String,
    attempts: Vec<AttemptRecord<'a>>,
}

/// The CSV header of `invoices`.
pub(crate) const INVOICES_CSV_HEADER: &str = "id,customer,status,charge_id,currency,subtotal,\
tier_discount,loyalty_discount,tax,late_fee,total,payment_method,tier,loyalty_member,\
days_overdue,line_items,issued_at,attempts,last_outcome\n";

/// Appends one invoice's record.
pub(crate) fn write_invoice(
    out: &mut Vec<u8>,
    format: ListFormat,
    record: &InvoiceRecord,
) -> io::Result<()> {
    let invoice = record.invoice();
    let status = record.status().kind().as_str();
    let b = invoice.breakdown();
    match format {
        ListFormat::Jsonl => {
            let json = InvoiceJson {
                id: invoice.id().as_str(),
                customer: invoice.customer().as_str(),
                status,
                charge_id: charge_id(record),
                currency: invoice.currency().code(),
                subtotal: b.subtotal(),
                tier_discount: b.tier_discount(),
                loyalty_discount: b.loyalty_discount(),
                tax: b.tax(),
                late_fee: b.late_fee(),
                total: b.total(),
                payment_method: invoice.payment_method().as_str(),
                tier: invoice.tier(),
                loyalty_member: invoice.loyalty_member(),
                days_overdue: invoice.days_overdue(),
                line_items: invoice.line_items(),
                rates_version: invoice.rates().version(),
                issued_at: timestamp(invoice.issued_at()),
                attempts: record.attempts().iter().map(AttemptRecord::of).collect(),
            };
            serde_json::to_writer(&mut *out, &json)?;
            out.push(b'\n');
        }
        ListFormat::Csv => {
            let last = record
                .latest_attempt()
                .map(|attempt| attempt.outcome().to_string())
                .unwrap_or_default();
            let fields = [
                Text(invoice.id().to_string()),
                Text(invoice.customer().to_string()),
                Text(status.to_owned()),
                Text(charge_id(record).unwrap_or_default()),
                Text(invoice.currency().code().to_owned()),
                Number(b.subtotal().to_string()),
                Number(b.tier_discount().to_string()),
                Number(b.loyalty_discount().to_string()),
                Number(b.tax().to_string()),
                Number(b.late_fee().to_string()),
                Number(b.total().to_string()),
                Text(invoice.payment_method().as_str().to_owned()),
                Text(invoice.tier().to_owned()),
                Text(invoice.loyalty_member().to_string()),
                Number(invoice.days_overdue().to_string()),
                Text(invoice.line_items().to_owned()),
                Text(timestamp(invoice.issued_at())),
                Number(record.attempts().len().to_string()),
                Text(last),
            ];
            put_csv_row(out, &fields);
        }
        ListFormat::Text => {
            let paid_by = match record.payment() {
                Some(Payment::Charged(charge)) => format!("  charge {}", charge.id()),
                Some(Payment::NothingDue) => "  nothing was due".to_owned(),
                None => String::new(),
            };
            writeln!(
                out,
                "{}  {status:<8} {} {}{}  customer {}  issued {}",
                printable(invoice.id().as_str()),
                b.total(),
                invoice.currency(),
                printable(&paid_by),
                printable(invoice.customer().as_str()),
                timestamp(invoice.issued_at()),
            )?;
            for attempt in record.attempts() {
                writeln!(
                    out,
                    "  attempt {}  {}  {}  {}  {}",
                    attempt.number(),
                    printable(&attempt.outcome().to_string()),
                    attempt.amount(),
                    printable(attempt.payment_method().as_str()),
                    timestamp(attempt.updated_at()),
                )?;
            }
        }
    }
    Ok(())
}

/// A capture's JSON object.
#[derive(Serialize)]
struct CaptureJson<'a> {
    number: u64,
    charge_id: &'a str,
    idempotency_key: &'a str,
    reference: &'a str,
    amount: Money,
    currency: &'static str,
    captured_at: String,
}

/// The CSV header of `sandbox captures`.
pub(crate) const CAPTURES_CSV_HEADER: &str =
    "number,charge_id,idempotency_key,reference,amount,currency,captured_at\n";

/// Appends one capture's record.
pub(crate) fn write_capture(
    out: &mut Vec<u8>,
    format: ListFormat,
    capture: &Capture,
) -> io::Result<()> {
    let amount = capture.charge().amount();
    let json = CaptureJson {
        number: capture.number(),
        charge_id: capture.charge().id().as_str(),
        idempotency_key: capture.request().idempotency_key().as_str(),
        reference: capture.request().reference(),
        amount: Money::from_minor_units(amount.minor_units()),
        currency: amount.currency().code(),
        captured_at: timestamp(capture.captured_at()),
    };
    match format {
        ListFormat::Jsonl => {
            serde_json::to_writer(&mut *out, &json)?;
            out.push(b'\n');
        }
        ListFormat::Csv => {
            let fields = [
                Number(json.number.to_string()),
                Text(json.charge_id.to_owned()),
                Text(json.idempotency_key.to_owned()),
                Text(json.reference.to_owned()),
                Number(json.amount.to_string()),
                Text(json.currency.to_owned()),
                Text(json.captured_at.clone()),
            ];
            put_csv_row(out, &fields);
        }
        ListFormat::Text => writeln!(
            out,
            "{}  {}  {} {}  {}  {}",
            json.charge_id,
            printable(json.reference),
            json.amount,
            json.currency,
            printable(json.idempotency_key),
            json.captured_at
        )?,
    }
    Ok(())
}

/// A refund's JSON object.
#[derive(Serialize)]
struct RefundJson<'a> {
    number: u64,
    refund_id: &'a str,
    charge_id: &'a str,
    idempotency_key: &'a str,
    reference: &'a str,
    amount: Money,
    currency: &'static str,
    status: &'static str,
    created_at: String,
}

/// The CSV header of `sandbox refunds`.
pub(crate) const REFUNDS_CSV_HEADER: &str =
    "number,refund_id,charge_id,idempotency_key,reference,amount,currency,status,created_at\n";

/// Appends one refund's record, as it stands now.
pub(crate) fn write_refund(
    out: &mut Vec<u8>,
    format: ListFormat,
    record: &RefundRecord,
) -> io::Result<()> {
    let refund = record.refund();
    let request = refund.request();
    let amount = refund.amount();
    let json = RefundJson {
        number: record.number(),
        refund_id: refund.id().as_str(),
        charge_id: request.charge().as_str(),
        idempotency_key: request.idempotency_key().as_str(),
        reference: request.reference(),
        amount: Money::from_minor_units(amount.minor_units()),
        currency: amount.currency().code(),
        status: refund.status().as_str(),
        created_at: timestamp(record.created_at()),
    };
    match format {
        ListFormat::Jsonl => {
            serde_json::to_writer(&mut *out, &json)?;
            out.push(b'\n');
        }
        ListFormat::Csv => {
            let fields = [
                Number(json.number.to_string()),
                Text(json.refund_id.to_owned()),
                Text(json.charge_id.to_owned()),
                Text(json.idempotency_key.to_owned()),
                Text(json.reference.to_owned()),
                Number(json.amount.to_string()),
                Text(json.currency.to_owned()),
                Text(json.status.to_owned()),
                Text(json.created_at.clone()),
            ];
            put_csv_row(out, &fields);
        }
        ListFormat::Text => writeln!(
            out,
            "{}  {}  {}  {} {}  {}  {}  {}",
            json.refund_id,
            json.charge_id,
            printable(json.reference),
            json.amount,
            json.currency,
            json.status,
            printable(json.idempotency_key),
            json.created_at
        )?,
    }
    Ok(())
}

/// A credit note's JSON object.
#[derive(Serialize)]
struct CreditNoteJson<'a> {
    credit_note: String,
    invoice: &'a str,
    correction: &'a str,
    kind: &'static str,
    currency: &'static str,
    credited: crate::output::money::Amounts,
    corrected: crate::output::money::Amounts,
    created_at: String,
}

/// The CSV header of `credit-notes`: the credited lines, then the
/// corrected total.
pub(crate) const CREDIT_NOTES_CSV_HEADER: &str = "credit_note,invoice,correction,kind,currency,\
subtotal,tier_discount,loyalty_discount,tax,late_fee,total,corrected_total,created_at\n";

/// Appends one credit note's record.
pub(crate) fn write_credit_note(
    out: &mut Vec<u8>,
    format: ListFormat,
    note: &CreditNote,
) -> io::Result<()> {
    let json = CreditNoteJson {
        credit_note: note.id().to_string(),
        invoice: note.invoice().as_str(),
        correction: note.correction().as_str(),
        kind: note.kind().as_str(),
        currency: note.currency().code(),
        credited: crate::output::money::Amounts::of(note.credited().cents()),
        corrected: crate::output::money::Amounts::of(note.corrected().cents()),
        created_at: timestamp(note.created_at()),
    };
    let credited = note.credited().cents().map(Money::from_minor_units);
    match format {
        ListFormat::Jsonl => {
            serde_json::to_writer(&mut *out, &json)?;
            out.push(b'\n');
        }
        ListFormat::Csv => {
            let mut fields = vec![
                Text(json.credit_note.clone()),
                Text(json.invoice.to_owned()),
                Text(json.correction.to_owned()),
                Text(json.kind.to_owned()),
                Text(json.currency.to_owned()),
            ];
            fields.extend(credited.iter().map(|amount| Number(amount.to_string())));
            fields.push(Number(
                Money::from_minor_units(note.corrected().total()).to_string(),
            ));
            fields.push(Text(json.created_at.clone()));
            put_csv_row(out, &fields);
        }
        ListFormat::Text => writeln!(
            out,
            "{}  {}  {}  {} {}  {}",
            printable(&json.credit_note),
            printable(json.correction),
            json.kind,
            credited[5],
            json.currency,
            json.created_at
        )?,
    }
    Ok(())
}
