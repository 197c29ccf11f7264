//! The columns of the sandbox books' rows as plain values, and their
//! conversion into the gateway's types: one copy for both backends, which
//! only read and write the columns.

use payment_gateway::{
    Amount, BooksError, Capture, Charge, ChargeId, ChargeRequest, Currency, DeclineCode,
    IdempotencyKey, KeyRecord, PaymentMethod, Refund, RefundId, RefundRecord, RefundRequest,
    StoredResult, from_unix_millis,
};

/// The capture columns, in the order both backends select them.
pub(crate) const CAPTURE_COLUMNS: &str = "number, charge_id, idempotency_key, payment_method, amount, \
     currency, reference, captured_at_ms";

/// The refund columns, in the order both backends select and insert them.
pub(crate) const REFUND_COLUMNS: &str = "number, refund_id, idempotency_key, charge_id, amount, \
     currency, reference, status, payment_method, created_at_ms, lookups";

/// The columns of one refund row, as read.
pub(crate) type RefundRow = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
);

pub(crate) fn into_refund(row: RefundRow) -> Result<RefundRecord, BooksError> {
    let (number, id, key, charge, amount, currency, reference, status, method, at, lookups) = row;
    let currency: Currency = currency.parse().map_err(invalid)?;
    let request = RefundRequest::new(
        IdempotencyKey::new(key).map_err(invalid)?,
        ChargeId::new(charge).map_err(invalid)?,
        Amount::new(amount, currency).map_err(invalid)?,
        reference,
    );
    let refund = Refund::new(
        RefundId::new(id).map_err(invalid)?,
        request,
        status.parse().map_err(invalid)?,
    );
    Ok(RefundRecord::new(
        u64::try_from(number).map_err(invalid)?,
        refund,
        PaymentMethod::new(method).map_err(invalid)?,
        from_unix_millis(at),
        u32::try_from(lookups).map_err(invalid)?,
    ))
}

/// The eleven columns of a refund row, read with the backend's getter.
macro_rules! refund_columns {
    ($row:expr, $get:ident) => {
        (
            $row.$get(0)?,
            $row.$get(1)?,
            $row.$get(2)?,
            $row.$get(3)?,
            $row.$get(4)?,
            $row.$get(5)?,
            $row.$get(6)?,
            $row.$get(7)?,
            $row.$get(8)?,
            $row.$get(9)?,
            $row.$get(10)?,
        )
    };
}

pub(crate) use refund_columns;

pub(crate) fn invalid(error: impl std::fmt::Display) -> BooksError {
    BooksError::new(format!("unreadable sandbox record: {error}"))
}

/// The columns of one capture row, as read.
pub(crate) type CaptureRow = (i64, String, String, String, i64, String, String, i64);

pub(crate) fn into_capture(row: CaptureRow) -> Result<Capture, BooksError> {
    let (number, charge_id, key, method, amount, currency, reference, at) = row;
    let currency: Currency = currency.parse().map_err(invalid)?;
    let amount = Amount::new(amount, currency).map_err(invalid)?;
    let request = ChargeRequest::new(
        IdempotencyKey::new(key).map_err(invalid)?,
        PaymentMethod::new(method).map_err(invalid)?,
        amount,
        reference,
    );
    Ok(Capture::new(
        u64::try_from(number).map_err(invalid)?,
        Charge::new(ChargeId::new(charge_id).map_err(invalid)?, amount),
        request,
        from_unix_millis(at),
    ))
}

/// The columns of one idempotency key row, as read (the request and its
/// result are all `NULL` before a result).
pub(crate) type KeyRow = (
    i64,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) fn into_key_record(key: &IdempotencyKey, row: KeyRow) -> Result<KeyRecord, BooksError> {
    let (first_seen, requests, method, amount, currency, reference, outcome, detail) = row;
    let requests = u32::try_from(requests).map_err(invalid)?;
    let stored = match (method, amount, currency, reference, outcome, detail) {
        (
            Some(method),
            Some(amount),
            Some(currency),
            Some(reference),
            Some(outcome),
            Some(detail),
        ) => {
            let currency: Currency = currency.parse().map_err(invalid)?;
            let amount = Amount::new(amount, currency).map_err(invalid)?;
            let request = ChargeRequest::new(
                key.clone(),
                PaymentMethod::new(method).map_err(invalid)?,
                amount,
                reference,
            );
            let result = match outcome.as_str() {
                "captured" => Ok(Charge::new(ChargeId::new(detail).map_err(invalid)?, amount)),
                _ => Err(detail.parse::<DeclineCode>().map_err(invalid)?),
            };
            Some(StoredResult::new(request, result))
        }
        (None, None, None, None, None, None) => None,
        _ => return Err(invalid(format!("key {key} has half a stored result"))),
    };
    Ok(KeyRecord::new(
        from_unix_millis(first_seen),
        requests,
        stored,
    ))
}

/// A key record's `outcome` and `detail` columns: `captured` and the
/// charge id, `declined` and the code, or neither before a result.
pub(crate) fn outcome_columns(record: &KeyRecord) -> (Option<&'static str>, Option<String>) {
    match record.stored().map(StoredResult::outcome) {
        Some(Ok(charge)) => (Some("captured"), Some(charge.id().as_str().to_owned())),
        Some(Err(code)) => (Some("declined"), Some(code.as_str().to_owned())),
        None => (None, None),
    }
}

/// The eight columns of a capture row or a key row (both are eight wide),
/// read with the backend's getter (`get` for SQLite, `try_get` for
/// PostgreSQL), each error returned with `?`: one copy of the column
/// order for every read of either row.
macro_rules! eight_columns {
    ($row:expr, $get:ident) => {
        (
            $row.$get(0)?,
            $row.$get(1)?,
            $row.$get(2)?,
            $row.$get(3)?,
            $row.$get(4)?,
            $row.$get(5)?,
            $row.$get(6)?,
            $row.$get(7)?,
        )
    };
}

pub(crate) use eight_columns;
