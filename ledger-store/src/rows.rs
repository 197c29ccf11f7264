//! The columns of the ledger's rows as plain values, and their conversion
//! into billing's types: one copy for every backend, which only reads the
//! columns.

use billing::{
    Attempt, AttemptOutcome, CustomerId, InvoiceId, IssuedBreakdown, IssuedInvoice, IssuedParts,
    LedgerError, MAX_LEASE, Rates,
};
use payment_gateway::{Amount, Currency, PaymentMethod, from_unix_millis};

/// The invoice columns, in the order both backends select them.
pub(crate) const INVOICE_COLUMNS: &str = "id, customer, payment_method, currency, line_items, tier, \
     loyalty_member, days_overdue, subtotal, tier_discount, loyalty_discount, tax, late_fee, \
     total, gold_discount_rate, silver_discount_rate, bronze_discount_rate, \
     loyalty_discount_rate, sales_tax_rate, late_fee_rate, late_fee_after_days, rates_version, \
     issued_at_ms";

/// The attempt columns, in the order both backends select them.
pub(crate) const ATTEMPT_COLUMNS: &str = "invoice_id, number, idempotency_key, payment_method, amount, \
     currency, outcome, detail, created_at_ms, updated_at_ms";

/// A lease in milliseconds, capped at [`MAX_LEASE`]: what both backends store
/// as a claim's `expires_at_ms` less now..
pub(crate) fn lease_ms(lease: std::time::Duration) -> i64 {
    i64::try_from(lease.min(MAX_LEASE).as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn invalid(error: impl std::fmt::Display) -> LedgerError {
    LedgerError::new(format!("unreadable ledger record: {error}"))
}

/// The columns of one invoice row, as read.
#[derive(Clone)]
pub(crate) struct InvoiceRow {
    pub(crate) id: String,
    pub(crate) customer: String,
    pub(crate) payment_method: String,
    pub(crate) currency: String,
    pub(crate) line_items: String,
    pub(crate) tier: String,
    pub(crate) loyalty_member: bool,
    pub(crate) days_overdue: i64,
    pub(crate) amounts: [i64; 6],
    pub(crate) rates: [String; 6],
    pub(crate) late_fee_after_days: i64,
    pub(crate) rates_version: Option<String>,
    pub(crate) issued_at_ms: i64,
}

impl InvoiceRow {
    pub(crate) fn into_invoice(self) -> Result<IssuedInvoice, LedgerError> {
        let texts: [&str; 6] = std::array::from_fn(|i| self.rates[i].as_str());
        let late_fee_after_days = u32::try_from(self.late_fee_after_days).map_err(invalid)?;
        let rates =
            Rates::from_text(texts, late_fee_after_days, self.rates_version).map_err(invalid)?;
        IssuedInvoice::restore(IssuedParts {
            id: InvoiceId::new(self.id).map_err(invalid)?,
            customer: CustomerId::new(self.customer).map_err(invalid)?,
            payment_method: PaymentMethod::new(self.payment_method).map_err(invalid)?,
            currency: self.currency.parse::<Currency>().map_err(invalid)?,
            line_items: self.line_items,
            tier: self.tier,
            loyalty_member: self.loyalty_member,
            days_overdue: u32::try_from(self.days_overdue).map_err(invalid)?,
            breakdown: IssuedBreakdown::new(self.amounts).map_err(invalid)?,
            rates,
            issued_at: from_unix_millis(self.issued_at_ms),
        })
        .map_err(invalid)
    }
}

/// The columns of one attempt row, as read.
#[derive(Clone)]
pub(crate) struct AttemptRow {
    pub(crate) invoice_id: String,
    pub(crate) number: i64,
    pub(crate) key: String,
    pub(crate) payment_method: String,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) outcome: String,
    pub(crate) detail: Option<String>,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
}

impl AttemptRow {
    pub(crate) fn into_attempt(self) -> Result<Attempt, LedgerError> {
        let currency = self.currency.parse::<Currency>().map_err(invalid)?;
        Attempt::restore(
            InvoiceId::new(self.invoice_id).map_err(invalid)?,
            u32::try_from(self.number).map_err(invalid)?,
            &self.key,
            PaymentMethod::new(self.payment_method).map_err(invalid)?,
            Amount::new(self.amount, currency).map_err(invalid)?,
            AttemptOutcome::from_parts(&self.outcome, self.detail.as_deref()).map_err(invalid)?,
            from_unix_millis(self.created_at_ms),
            from_unix_millis(self.updated_at_ms),
        )
        .map_err(invalid)
    }
}

/// An [`InvoiceRow`] from a row of either backend, columns in
/// [`INVOICE_COLUMNS`] order: `$get` is the backend's fallible column
/// getter (`get` for rusqlite, `try_get` for postgres).
macro_rules! invoice_row {
    ($row:expr, $get:ident) => {
        $crate::rows::InvoiceRow {
            id: $row.$get(0)?,
            customer: $row.$get(1)?,
            payment_method: $row.$get(2)?,
            currency: $row.$get(3)?,
            line_items: $row.$get(4)?,
            tier: $row.$get(5)?,
            loyalty_member: $row.$get(6)?,
            days_overdue: $row.$get(7)?,
            amounts: [
                $row.$get(8)?,
                $row.$get(9)?,
                $row.$get(10)?,
                $row.$get(11)?,
                $row.$get(12)?,
                $row.$get(13)?,
            ],
            rates: [
                $row.$get(14)?,
                $row.$get(15)?,
                $row.$get(16)?,
                $row.$get(17)?,
                $row.$get(18)?,
                $row.$get(19)?,
            ],
            late_fee_after_days: $row.$get(20)?,
            rates_version: $row.$get(21)?,
            issued_at_ms: $row.$get(22)?,
        }
    };
}

/// An [`AttemptRow`] from a row of either backend, columns in
/// [`ATTEMPT_COLUMNS`] order.
macro_rules! attempt_row {
    ($row:expr, $get:ident) => {
        $crate::rows::AttemptRow {
            invoice_id: $row.$get(0)?,
            number: $row.$get(1)?,
            key: $row.$get(2)?,
            payment_method: $row.$get(3)?,
            amount: $row.$get(4)?,
            currency: $row.$get(5)?,
            outcome: $row.$get(6)?,
            detail: $row.$get(7)?,
            created_at_ms: $row.$get(8)?,
            updated_at_ms: $row.$get(9)?,
        }
    };
}

pub(crate) use {attempt_row, invoice_row};
