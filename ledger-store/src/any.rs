//! The backend a location names: a SQLite file or a PostgreSQL database,
//! behind one type each for the ledger and the books, so that a command
//! is written once for both.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use billing::{
    Attempt, AttemptUpdate, ClaimOutcome, Claims, CorrectionId, CorrectionRecord, Corrections,
    CreditNote, CreditNoteId, CreditNoteIssued, HeldClaim, InvoiceFilter, InvoiceId, InvoiceRecord,
    IssueOutcome, IssuedInvoice, Ledger, LedgerError, RefundAttempt, RefundOutcome, WorkerId,
};
use payment_gateway::{
    BooksError, BooksTransaction, Capture, IdempotencyKey, KeyRecord, PaymentMethod, RefundRecord,
    SandboxBooks,
};

use crate::{PgLedger, PgSandboxBooks, SqliteLedger, SqliteSandboxBooks, StoreError, redact};

/// Where a ledger or the sandbox's books live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database, by its `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Location {
    /// What `text` names: a PostgreSQL database when it is a `postgres://`
    /// or `postgresql://` URL (the scheme in any case, as URLs allow) or a
    /// key=value connection string the driver reads (`host=db user=u
    /// dbname=ledgerly`), else a file path. A connection string is never
    /// taken for a file, which would be created under its name (secrets
    /// included) and shown in messages.
    pub fn parse(text: impl AsRef<Path>) -> Location {
        let path = text.as_ref();
        let Some(text) = path.to_str() else {
            return Location::File(path.to_path_buf());
        };
        for scheme in ["postgres://", "postgresql://"] {
            if text.len() >= scheme.len()
                && text.is_char_boundary(scheme.len())
                && text[..scheme.len()].eq_ignore_ascii_case(scheme)
            {
                // The driver reads the scheme in lower case only.
                return Location::Postgres(format!("{scheme}{}", &text[scheme.len()..]));
            }
        }
        if text.contains('=') && text.parse::<postgres::Config>().is_ok() {
            return Location::Postgres(text.to_owned());
        }
        Location::File(path.to_path_buf())
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }
}

impl fmt::Display for Location {
    /// The path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// The ledger at a [`Location`].
// One per command, never in a collection: boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyLedger {
    /// In a SQLite file.
    Sqlite(SqliteLedger),
    /// In a PostgreSQL database.
    Postgres(PgLedger),
}

impl AnyLedger {
    /// Opens (creating and migrating as needed) the ledger at `location`.
    pub fn open(location: &Location) -> Result<AnyLedger, StoreError> {
        match location {
            Location::File(path) => SqliteLedger::open(path).map(AnyLedger::Sqlite),
            Location::Postgres(url) => PgLedger::connect(url).map(AnyLedger::Postgres),
        }
    }

    /// Opens the existing ledger at `location` for reading only: nothing is
    /// created, migrated or written, whatever the backend.
    pub fn open_read_only(location: &Location) -> Result<AnyLedger, StoreError> {
        match location {
            Location::File(path) => SqliteLedger::open_read_only(path).map(AnyLedger::Sqlite),
            Location::Postgres(url) => PgLedger::connect_read_only(url).map(AnyLedger::Postgres),
        }
    }
}

macro_rules! each {
    ($self:ident, $backend:ident => $call:expr) => {
        match $self {
            AnyLedger::Sqlite($backend) => $call,
            AnyLedger::Postgres($backend) => $call,
        }
    };
}

impl Ledger for AnyLedger {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        each!(self, ledger => ledger.issue(invoices))
    }
    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        each!(self, ledger => ledger.get(id))
    }
    fn get_all(&self, ids: &[InvoiceId]) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
        each!(self, ledger => ledger.get_all(ids))
    }
    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
        each!(self, ledger => ledger.begin_attempts(attempts))
    }
    fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError> {
        each!(self, ledger => ledger.finish_attempts(updates))
    }
    fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethod,
    ) -> Result<(), LedgerError> {
        each!(self, ledger => ledger.change_payment_method(id, payment_method))
    }
    fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<InvoiceRecord>, LedgerError> {
        each!(self, ledger => ledger.list(filter, after, limit))
    }
    fn unsettled_attempts(
        &self,
        after: Option<(&InvoiceId, u32)>,
        limit: usize,
    ) -> Result<Vec<Attempt>, LedgerError> {
        each!(self, ledger => ledger.unsettled_attempts(after, limit))
    }
    fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError> {
        each!(self, ledger => ledger.credited_before_payment(ids))
    }
}

impl Claims for AnyLedger {
    fn claim(
        &self,
        worker: &WorkerId,
        ids: &[InvoiceId],
        lease: Duration,
    ) -> Result<Vec<ClaimOutcome>, LedgerError> {
        each!(self, ledger => ledger.claim(worker, ids, lease))
    }
    fn release(&self, worker: &WorkerId, ids: &[InvoiceId]) -> Result<(), LedgerError> {
        each!(self, ledger => ledger.release(worker, ids))
    }
    fn claims(
        &self,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<HeldClaim>, LedgerError> {
        each!(self, ledger => ledger.claims(after, limit))
    }
}

/// The sandbox's books at a [`Location`].
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AnyBooks {
    /// In a SQLite file.
    Sqlite(SqliteSandboxBooks),
    /// In a PostgreSQL database.
    Postgres(PgSandboxBooks),
}

impl AnyBooks {
    /// Opens (creating and migrating as needed) the books at `location`.
    pub fn open(location: &Location) -> Result<AnyBooks, StoreError> {
        match location {
            Location::File(path) => SqliteSandboxBooks::open(path).map(AnyBooks::Sqlite),
            Location::Postgres(url) => PgSandboxBooks::connect(url).map(AnyBooks::Postgres),
        }
    }

    /// Opens the existing books at `location` for reading only.
    pub fn open_read_only(location: &Location) -> Result<AnyBooks, StoreError> {
        match location {
            Location::File(path) => SqliteSandboxBooks::open_read_only(path).map(AnyBooks::Sqlite),
            Location::Postgres(url) => {
                PgSandboxBooks::connect_read_only(url).map(AnyBooks::Postgres)
            }
        }
    }
}

impl Corrections for AnyLedger {
    fn record_correction(
        &self,
        correction: &CorrectionRecord,
    ) -> Result<CorrectionRecord, LedgerError> {
        each!(self, ledger => ledger.record_correction(correction))
    }
    fn correction(&self, id: &CorrectionId) -> Result<Option<CorrectionRecord>, LedgerError> {
        each!(self, ledger => ledger.correction(id))
    }
    fn issue_credit_note(
        &self,
        note: &CreditNote,
        refund: Option<&RefundAttempt>,
    ) -> Result<CreditNoteIssued, LedgerError> {
        each!(self, ledger => ledger.issue_credit_note(note, refund))
    }
    fn credit_notes_of(&self, invoice: &InvoiceId) -> Result<Vec<CreditNote>, LedgerError> {
        each!(self, ledger => ledger.credit_notes_of(invoice))
    }
    fn credit_notes(
        &self,
        correction: Option<&CorrectionId>,
        after: Option<&CreditNoteId>,
        limit: usize,
    ) -> Result<Vec<CreditNote>, LedgerError> {
        each!(self, ledger => ledger.credit_notes(correction, after, limit))
    }
    fn refund_attempts(
        &self,
        credit_note: &CreditNoteId,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        each!(self, ledger => ledger.refund_attempts(credit_note))
    }
    fn finish_refund(
        &self,
        credit_note: &CreditNoteId,
        number: u32,
        outcome: &RefundOutcome,
        at: SystemTime,
    ) -> Result<(), LedgerError> {
        each!(self, ledger => ledger.finish_refund(credit_note, number, outcome, at))
    }
    fn unsettled_refunds(
        &self,
        after: Option<(&CreditNoteId, u32)>,
        limit: usize,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        each!(self, ledger => ledger.unsettled_refunds(after, limit))
    }
}

macro_rules! each_books {
    ($self:ident, $backend:ident => $call:expr) => {
        match $self {
            AnyBooks::Sqlite($backend) => $call,
            AnyBooks::Postgres($backend) => $call,
        }
    };
}

impl SandboxBooks for AnyBooks {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
    ) -> Result<(), BooksError> {
        each_books!(self, books => books.transaction(work))
    }
    fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        each_books!(self, books => books.key_record(key))
    }
    fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError> {
        each_books!(self, books => books.capture_for_key(key))
    }
    fn captures_for_references(&self, references: &[&str]) -> Result<Vec<Capture>, BooksError> {
        each_books!(self, books => books.captures_for_references(references))
    }
    fn capture_count(&self) -> Result<u64, BooksError> {
        each_books!(self, books => books.capture_count())
    }
    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError> {
        each_books!(self, books => books.captures_after(after, limit))
    }
    fn refunds_after(&self, after: u64, limit: usize) -> Result<Vec<RefundRecord>, BooksError> {
        each_books!(self, books => books.refunds_after(after, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_names_a_database_and_anything_else_a_file() {
        assert_eq!(
            Location::parse("postgres://u@h/db"),
            Location::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Location::parse("postgresql://u@h/db"),
            Location::Postgres("postgresql://u@h/db".into())
        );
        for file in [
            "ledgerly.db",
            "postgres",
            "./postgres://x",
            "/var/lib/l.db",
            "",
        ] {
            assert_eq!(Location::parse(file), Location::File(file.into()), "{file}");
            assert!(!Location::parse(file).is_postgres());
        }
        assert!(Location::parse("postgres://h/db").is_postgres());
        assert_eq!(
            Location::parse("postgres://u:pw@h/db").to_string(),
            "postgres://u:***@h/db"
        );
        assert_eq!(Location::parse("a/b.db").to_string(), "a/b.db");
    }

    #[test]
    fn a_database_in_any_spelling_is_a_database_and_never_shows_its_password() {
        assert_eq!(
            Location::parse("POSTGRES://u:s3cret@h/db"),
            Location::Postgres("postgres://u:s3cret@h/db".into())
        );
        assert!(Location::parse("PostgreSQL://h/db").is_postgres());
        for text in [
            "POSTGRES://u:s3cret@h/db",
            "host=db user=u password=s3cret dbname=ledgerly",
            "host=/run/postgresql user=u password=s3cret",
            "postgres://u@h/db?password=s3cret",
        ] {
            let location = Location::parse(text);
            assert!(location.is_postgres(), "{text}");
            assert!(
                !location.to_string().contains("s3cret"),
                "{text}: {location}"
            );
        }
        // Not a known parameter: a file whose name holds `=`.
        assert!(!Location::parse("reports=2026.db").is_postgres());
    }
}
