//! The SQLite ledger: issued invoices and their payment attempts.

use std::path::Path;
use std::sync::MutexGuard;

use billing::{
    Attempt, AttemptUpdate, ClaimOutcome, Claims, HeldClaim, InvoiceFilter, InvoiceId,
    InvoiceRecord, IssueOutcome, IssuedInvoice, Ledger, LedgerError, LedgerErrorKind, WorkerId,
    apply_update, check_append,
};
use payment_gateway::{PaymentMethod, unix_millis};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Statement, Transaction, TransactionBehavior,
    params,
};

use super::SqliteFile;
use super::schema::{self, FileKind};
use crate::StoreError;
use crate::document_rows::{SQLITE_BILLED_MIGRATION, documents_migration};
use crate::paging::{self, LIST_CHUNK, sql_int};
use crate::rows::{
    ATTEMPT_COLUMNS, AttemptRow, INVOICE_COLUMNS, InvoiceRow, attempt_row, invoice_row, lease_ms,
};

/// The ledger's migrations, in order. Never edit one that shipped: add the
/// next. Money is integer cents; rates are exact decimal text; times are
/// Unix milliseconds.
const MIGRATIONS: &[&str] = &[
    // 1: invoices frozen at issue, and the append-only attempts.
    "CREATE TABLE invoices (
        id TEXT PRIMARY KEY,
        customer TEXT NOT NULL,
        payment_method TEXT NOT NULL,
        currency TEXT NOT NULL,
        line_items TEXT NOT NULL,
        tier TEXT NOT NULL,
        loyalty_member INTEGER NOT NULL CHECK (loyalty_member IN (0, 1)),
        days_overdue INTEGER NOT NULL CHECK (days_overdue >= 0),
        subtotal INTEGER NOT NULL,
        tier_discount INTEGER NOT NULL,
        loyalty_discount INTEGER NOT NULL,
        tax INTEGER NOT NULL,
        late_fee INTEGER NOT NULL,
        total INTEGER NOT NULL CHECK (total >= 0),
        gold_discount_rate TEXT NOT NULL,
        silver_discount_rate TEXT NOT NULL,
        bronze_discount_rate TEXT NOT NULL,
        loyalty_discount_rate TEXT NOT NULL,
        sales_tax_rate TEXT NOT NULL,
        late_fee_rate TEXT NOT NULL,
        late_fee_after_days INTEGER NOT NULL CHECK (late_fee_after_days >= 0),
        rates_version TEXT,
        issued_at_ms INTEGER NOT NULL,
        CHECK (subtotal + tier_discount + loyalty_discount + tax + late_fee = total)
    ) STRICT;
    CREATE TABLE attempts (
        invoice_id TEXT NOT NULL REFERENCES invoices (id),
        number INTEGER NOT NULL CHECK (number >= 1),
        idempotency_key TEXT NOT NULL UNIQUE,
        payment_method TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('pending', 'captured', 'declined', 'failed', 'unknown')),
        detail TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (invoice_id, number),
        -- A pending attempt has no detail; every other outcome has one, and
        -- a capture's is its charge id: never paid without a charge id.
        CHECK ((outcome = 'pending') = (detail IS NULL)),
        CHECK (outcome <> 'captured' OR length(detail) > 0)
    ) STRICT;
    -- Whatever the interleaving of runs, one captured attempt per invoice.
    CREATE UNIQUE INDEX one_capture_per_invoice ON attempts (invoice_id)
        WHERE outcome = 'captured';
    CREATE INDEX unsettled_attempts ON attempts (invoice_id, number)
        WHERE outcome IN ('pending', 'unknown');",
    // 2: which worker is collecting which invoice, until when (a lease on
    // this host's clock). No foreign key: a claim names work, and holds no
    // money.
    "CREATE TABLE claims (
        invoice_id TEXT PRIMARY KEY,
        worker TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL
    ) STRICT;",
    // 3: claims timed on the clock every process of the host shares, its
    // boot clock (`boot_id`, and the lease's end in milliseconds since
    // boot): a process whose wall clock is wrong (an hour ahead, killed)
    // no longer leaves a claim every later run waits on for that hour.
    "ALTER TABLE claims ADD COLUMN boot_id TEXT;
    ALTER TABLE claims ADD COLUMN expires_uptime_ms INTEGER;",
    // 4: the documents of corrections: corrections, credit notes (one per
    // invoice and correction), refund attempts (one live per credit note).
    documents_migration!("INTEGER", " STRICT"),
    // 5: a credit note may be `billed`: an undercharge billed with a
    // supplementary invoice.
    SQLITE_BILLED_MIGRATION,
];

const KIND: FileKind = FileKind {
    name: "ledger",
    // "LDGR"
    application_id: 0x4C44_4752,
    // A pending attempt must be on disk, power cut or not, before its
    // request is sent.
    synchronous: "FULL",
    migrations: MIGRATIONS,
};

/// Billing's [`Ledger`] in a SQLite file.
///
/// - Every write is one `BEGIN IMMEDIATE` transaction, committed before the
///   method returns, with `synchronous = FULL`: a pending attempt is on disk
///   before its request is sent. Batches ([`Ledger::begin_attempts`],
///   [`Ledger::finish_attempts`], [`Ledger::issue`]) share one commit.
/// - WAL mode and a busy timeout let several processes use one file at
///   once; the rules of [`Ledger`] are checked inside the write transaction,
///   and a unique index keeps one captured attempt per invoice whatever the
///   interleaving.
/// - Listings are pages; nothing loads every invoice.
///
/// One value holds one connection behind a mutex; open one per thread or
/// process for parallel work.
#[derive(Debug)]
pub struct SqliteLedger {
    file: SqliteFile,
}

impl SqliteLedger {
    /// The newest schema version this binary writes.
    pub const SCHEMA_VERSION: i64 = 5;

    /// Opens the ledger at `path`, creating and migrating it as needed. A
    /// ledger written by a newer schema is refused with
    /// [`StoreError::NewerSchema`] and left untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteLedger, StoreError> {
        Ok(SqliteLedger {
            file: SqliteFile::open(path.as_ref(), KIND)?,
        })
    }

    /// The schema version recorded in the file at `path`, without opening
    /// it as a ledger (0 for a new file).
    pub fn schema_version(path: impl AsRef<Path>) -> Result<i64, StoreError> {
        schema::version_of(path.as_ref())
    }

    /// Opens the existing ledger at `path` for reading only: nothing is
    /// created or migrated, a file of another kind is refused untouched,
    /// and a write through it fails. For the listings, which never write.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteLedger, StoreError> {
        Ok(SqliteLedger {
            file: SqliteFile::open_read_only(path.as_ref(), KIND)?,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.file.lock()
    }

    pub(super) fn write<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut connection = self.lock();
        let written = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)
            .and_then(|transaction| {
                let value = work(&transaction)?;
                transaction.commit().map_err(failed)?;
                Ok(value)
            });
        written.map_err(|error| self.naming_the_file(error))
    }

    /// A storage failure names the file it happened to (`database or disk
    /// is full` alone does not say which disk); a conflict or a missing
    /// record is billing's to read, as it is.
    fn naming_the_file(&self, error: LedgerError) -> LedgerError {
        match error.kind() {
            LedgerErrorKind::Other => LedgerError::new(format!(
                "ledger {}: {}",
                self.path().display(),
                error.message()
            )),
            LedgerErrorKind::Conflict | LedgerErrorKind::NotFound => error,
        }
    }

    pub(super) fn read<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut connection = self.lock();
        // One snapshot for the invoice and its attempts.
        connection
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(failed)
            .and_then(|transaction| work(&transaction))
            .map_err(|error| self.naming_the_file(error))
    }
}

/// A SQLite failure as billing sees it: a constraint is another run's write
/// that got there first, anything else a storage failure.
// By value so that it reads `map_err(failed)`, as `map_err` hands it over.
#[allow(clippy::needless_pass_by_value)]
pub(super) fn failed(error: rusqlite::Error) -> LedgerError {
    match error.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => LedgerError::conflict(format!("sqlite: {error}")),
        _ => LedgerError::new(format!("sqlite: {error}")),
    }
}

/// An invoice row as SQLite returns it.
fn read_invoice(row: &Row<'_>) -> rusqlite::Result<InvoiceRow> {
    Ok(invoice_row!(row, get))
}

/// An attempt row as SQLite returns it.
fn read_attempt(row: &Row<'_>) -> rusqlite::Result<AttemptRow> {
    Ok(attempt_row!(row, get))
}

/// The two reads of an invoice record, prepared once per transaction: SQL
/// parsing is a good part of the cost of a small query.
struct Readers<'t> {
    invoice: Statement<'t>,
    attempts: Statement<'t>,
}

impl<'t> Readers<'t> {
    fn new(transaction: &'t Transaction<'_>) -> Result<Readers<'t>, LedgerError> {
        Ok(Readers {
            invoice: transaction
                .prepare(&format!(
                    "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = ?1"
                ))
                .map_err(failed)?,
            attempts: transaction
                .prepare(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE invoice_id = ?1 ORDER BY number"
                ))
                .map_err(failed)?,
        })
    }

    fn invoice(&mut self, id: &str) -> Result<Option<IssuedInvoice>, LedgerError> {
        let row = self
            .invoice
            .query_row([id], read_invoice)
            .optional()
            .map_err(failed)?;
        row.map(InvoiceRow::into_invoice).transpose()
    }

    fn record(&mut self, id: &str) -> Result<Option<InvoiceRecord>, LedgerError> {
        let Some(invoice) = self.invoice(id)? else {
            return Ok(None);
        };
        let attempts = self
            .attempts
            .query_map([id], read_attempt)
            .map_err(failed)?
            .map(|row| row.map_err(failed).and_then(AttemptRow::into_attempt))
            .collect::<Result<Vec<_>, _>>()?;
        InvoiceRecord::new(invoice, attempts).map(Some)
    }
}

fn insert_invoice(
    statement: &mut Statement<'_>,
    invoice: &IssuedInvoice,
) -> Result<(), LedgerError> {
    let parts = invoice.parts();
    let amounts = parts.breakdown.amounts().map(pricing::Money::minor_units);
    let rates = parts.rates.values().map(|rate| rate.to_string());
    statement
        .execute(params![
            parts.id.as_str(),
            parts.customer.as_str(),
            parts.payment_method.as_str(),
            parts.currency.code(),
            parts.line_items,
            parts.tier,
            parts.loyalty_member,
            parts.days_overdue,
            amounts[0],
            amounts[1],
            amounts[2],
            amounts[3],
            amounts[4],
            amounts[5],
            rates[0],
            rates[1],
            rates[2],
            rates[3],
            rates[4],
            rates[5],
            parts.rates.late_fee_after_days(),
            parts.rates.version(),
            unix_millis(parts.issued_at),
        ])
        .map_err(failed)?;
    Ok(())
}

impl Ledger for SqliteLedger {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        self.write(|transaction| {
            let mut readers = Readers::new(transaction)?;
            let mut insert = transaction
                .prepare(&format!(
                    "INSERT INTO invoices ({INVOICE_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                      ?18, ?19, ?20, ?21, ?22, ?23)"
                ))
                .map_err(failed)?;
            let mut outcomes = Vec::with_capacity(invoices.len());
            for invoice in invoices {
                if let Some(stored) = readers.invoice(invoice.id().as_str())? {
                    outcomes.push(IssueOutcome::Existing(Box::new(stored)));
                } else {
                    insert_invoice(&mut insert, invoice)?;
                    outcomes.push(IssueOutcome::Inserted);
                }
            }
            Ok(outcomes)
        })
    }

    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        self.read(|transaction| Readers::new(transaction)?.record(id.as_str()))
    }

    fn get_all(&self, ids: &[InvoiceId]) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
        self.read(|transaction| {
            let mut readers = Readers::new(transaction)?;
            ids.iter().map(|id| readers.record(id.as_str())).collect()
        })
    }

    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
        self.write(|transaction| {
            let mut statement = transaction
                .prepare(&format!(
                    "INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, 'pending', NULL, ?7, ?8)"
                ))
                .map_err(failed)?;
            let mut readers = Readers::new(transaction)?;
            for attempt in attempts {
                let id = attempt.invoice();
                let record = readers
                    .record(id.as_str())?
                    .ok_or_else(|| LedgerError::not_found(format!("invoice {id} not found")))?;
                check_append(&record, attempt)?;
                statement
                    .execute(params![
                        id.as_str(),
                        attempt.number(),
                        attempt.key().as_str(),
                        attempt.payment_method().as_str(),
                        attempt.amount().minor_units(),
                        attempt.amount().currency().code(),
                        unix_millis(attempt.created_at()),
                        unix_millis(attempt.updated_at()),
                    ])
                    .map_err(failed)?;
            }
            Ok(())
        })
    }

    fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError> {
        self.write(|transaction| {
            let mut statement = transaction
                .prepare(
                    "UPDATE attempts SET outcome = ?3, detail = ?4, updated_at_ms = ?5 \
                     WHERE invoice_id = ?1 AND number = ?2",
                )
                .map_err(failed)?;
            let mut readers = Readers::new(transaction)?;
            for update in updates {
                let id = update.invoice();
                let mut record = readers
                    .record(id.as_str())?
                    .ok_or_else(|| LedgerError::not_found(format!("invoice {id} not found")))?;
                if apply_update(&mut record, update)? {
                    statement
                        .execute(params![
                            id.as_str(),
                            update.number(),
                            update.outcome().name(),
                            update.outcome().detail(),
                            unix_millis(update.at()),
                        ])
                        .map_err(failed)?;
                }
            }
            Ok(())
        })
    }

    fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethod,
    ) -> Result<(), LedgerError> {
        self.write(|transaction| {
            let changed = transaction
                .execute(
                    "UPDATE invoices SET payment_method = ?2 WHERE id = ?1",
                    params![id.as_str(), payment_method.as_str()],
                )
                .map_err(failed)?;
            if changed == 0 {
                return Err(LedgerError::not_found(format!("invoice {id} not found")));
            }
            Ok(())
        })
    }

    fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<InvoiceRecord>, LedgerError> {
        self.read(|transaction| {
            let mut readers = Readers::new(transaction)?;
            if let Some(id) = filter.id() {
                let record = readers.record(id.as_str())?;
                return Ok(paging::by_id(filter, id, after, limit, record));
            }
            let mut statement = transaction
                .prepare("SELECT id FROM invoices WHERE id > ?1 ORDER BY id LIMIT ?2")
                .map_err(failed)?;
            // Each record is read only when the listing still has room for it.
            let page = |cursor: &str| {
                statement
                    .query_map(params![cursor, sql_int(LIST_CHUNK)], |row| {
                        Ok((row.get(0)?, ()))
                    })
                    .map_err(failed)?
                    .collect::<Result<_, _>>()
                    .map_err(failed)
            };
            paging::filtered(filter, after, limit, page, |id, ()| readers.record(id))
        })
    }

    fn unsettled_attempts(
        &self,
        after: Option<(&InvoiceId, u32)>,
        limit: usize,
    ) -> Result<Vec<Attempt>, LedgerError> {
        // No invoice id is empty, so ("", 0) is before every attempt.
        let (id, number) = after.map_or(("", 0), |(id, number)| (id.as_str(), number));
        let limit = sql_int(limit);
        self.read(|transaction| {
            let mut statement = transaction
                .prepare(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM attempts \
                     WHERE outcome IN ('pending', 'unknown') AND (invoice_id, number) > (?1, ?2) \
                     ORDER BY invoice_id, number LIMIT ?3"
                ))
                .map_err(failed)?;
            let rows = statement
                .query_map(params![id, number, limit], read_attempt)
                .map_err(failed)?;
            rows.map(|row| row.map_err(failed).and_then(AttemptRow::into_attempt))
                .collect()
        })
    }

    fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError> {
        self.read(|transaction| {
            let mut statement = transaction
                .prepare(
                    "SELECT coalesce(sum(total), 0) FROM credit_notes \
                     WHERE invoice_id = ?1 AND kind = 'pre_payment'",
                )
                .map_err(failed)?;
            ids.iter()
                .map(|id| {
                    statement
                        .query_row([id.as_str()], |row| row.get(0))
                        .map_err(failed)
                })
                .collect()
        })
    }
}

/// The time as claims keep it: Unix milliseconds on this process's wall
/// clock, for a host without a boot clock ([`boot_clock`]).
fn now_ms() -> i64 {
    unix_millis(std::time::SystemTime::now())
}

/// The clock every process of this host shares, whatever its wall clock
/// says (a `faketime`, a clock set by hand): Linux's boot id and the
/// milliseconds since boot, read from `/proc`. A claim made under another
/// boot id is the claim of a process that a reboot ended. `None` where
/// there is no such clock; then claims fall back on the wall clock.
fn boot_clock() -> Option<(String, i64)> {
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
    // `12345.67 89.01`: seconds since boot, with hundredths.
    let (seconds, hundredths) = uptime.split_whitespace().next()?.split_once('.')?;
    let ms = seconds
        .parse::<i64>()
        .ok()?
        .checked_mul(1000)?
        .checked_add(hundredths.parse::<i64>().ok()?.checked_mul(10)?)?;
    Some((boot_id.trim().to_owned(), ms))
}

/// Whether a claim has run out, in SQL: on the boot clock when the claim
/// and this process both have one (a claim of another boot has run out),
/// else on the wall clock. Parameters: `?4` the wall clock now, `?5` the
/// boot id or NULL, `?6` the milliseconds since boot.
const RAN_OUT: &str = "(CASE WHEN claims.boot_id IS NOT NULL AND ?5 IS NOT NULL \
     THEN claims.boot_id <> ?5 OR claims.expires_uptime_ms <= ?6 \
     ELSE claims.expires_at_ms <= ?4 END)";

impl Claims for SqliteLedger {
    fn claim(
        &self,
        worker: &WorkerId,
        ids: &[InvoiceId],
        lease: std::time::Duration,
    ) -> Result<Vec<ClaimOutcome>, LedgerError> {
        self.write(|transaction| {
            let now = now_ms();
            let lease = lease_ms(lease);
            let expires = now.saturating_add(lease);
            let (boot_id, uptime) = boot_clock().unzip();
            let expires_uptime = uptime.map(|uptime| uptime.saturating_add(lease));
            // Inserted, or taken over when the lease ran out, or renewed by
            // its holder: one changed row. Held by another: none.
            let mut take = transaction
                .prepare(&format!(
                    "INSERT INTO claims (invoice_id, worker, expires_at_ms, boot_id, \
                     expires_uptime_ms) VALUES (?1, ?2, ?3, ?5, ?7) \
                     ON CONFLICT (invoice_id) DO UPDATE \
                     SET worker = excluded.worker, expires_at_ms = excluded.expires_at_ms, \
                     boot_id = excluded.boot_id, expires_uptime_ms = excluded.expires_uptime_ms \
                     WHERE {RAN_OUT} OR claims.worker = excluded.worker",
                ))
                .map_err(failed)?;
            let mut holder = transaction
                .prepare("SELECT worker FROM claims WHERE invoice_id = ?1")
                .map_err(failed)?;
            let mut outcomes = Vec::with_capacity(ids.len());
            for id in ids {
                let changed = take
                    .execute(params![
                        id.as_str(),
                        worker.as_str(),
                        expires,
                        now,
                        boot_id,
                        uptime,
                        expires_uptime
                    ])
                    .map_err(failed)?;
                if changed == 1 {
                    outcomes.push(ClaimOutcome::Claimed);
                } else {
                    let by: String = holder
                        .query_row([id.as_str()], |row| row.get(0))
                        .map_err(failed)?;
                    outcomes.push(ClaimOutcome::HeldBy(
                        WorkerId::new(by).map_err(crate::rows::invalid)?,
                    ));
                }
            }
            Ok(outcomes)
        })
    }

    fn release(&self, worker: &WorkerId, ids: &[InvoiceId]) -> Result<(), LedgerError> {
        self.write(|transaction| {
            let mut drop = transaction
                .prepare("DELETE FROM claims WHERE invoice_id = ?1 AND worker = ?2")
                .map_err(failed)?;
            for id in ids {
                drop.execute(params![id.as_str(), worker.as_str()])
                    .map_err(failed)?;
            }
            Ok(())
        })
    }

    fn claims(
        &self,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<HeldClaim>, LedgerError> {
        let after = after.map_or("", InvoiceId::as_str);
        let limit = sql_int(limit);
        self.read(|transaction| {
            let mut statement = transaction
                .prepare(&format!(
                    "SELECT invoice_id, worker, {RAN_OUT} FROM claims \
                     WHERE invoice_id > ?1 ORDER BY invoice_id LIMIT ?2",
                ))
                .map_err(failed)?;
            let (boot_id, uptime) = boot_clock().unzip();
            let rows = statement
                .query_map(
                    params![after, limit, None::<i64>, now_ms(), boot_id, uptime],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get(2)?,
                        ))
                    },
                )
                .map_err(failed)?;
            rows.map(|row| {
                let (invoice, worker, expired) = row.map_err(failed)?;
                Ok(HeldClaim::new(
                    InvoiceId::new(invoice).map_err(crate::rows::invalid)?,
                    WorkerId::new(worker).map_err(crate::rows::invalid)?,
                    expired,
                ))
            })
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_of_schema_1_is_migrated_to_claims_keeping_its_invoices() {
        let dir = std::env::temp_dir().join(format!("ledger-v1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v1.db");
        let _ = std::fs::remove_file(&path);
        {
            let v1 = Connection::open(&path).unwrap();
            v1.execute_batch(MIGRATIONS[0]).unwrap();
            v1.execute_batch(&format!(
                "PRAGMA user_version = 1; PRAGMA application_id = {};",
                KIND.application_id
            ))
            .unwrap();
        }

        let ledger = SqliteLedger::open(&path).unwrap();

        assert_eq!(
            SqliteLedger::schema_version(&path).unwrap(),
            SqliteLedger::SCHEMA_VERSION
        );
        let me = WorkerId::new("me").unwrap();
        let ids = [InvoiceId::new("INV-1").unwrap()];
        assert_eq!(
            ledger
                .claim(&me, &ids, std::time::Duration::from_secs(1))
                .unwrap(),
            [ClaimOutcome::Claimed]
        );
        drop(ledger);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_ledger_of_schema_4_keeps_its_documents_and_takes_billed_credit_notes_after_migration_5() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.db");
        {
            let v4 = Connection::open(&path).unwrap();
            v4.execute_batch("PRAGMA foreign_keys = ON").unwrap();
            for step in &MIGRATIONS[..4] {
                v4.execute_batch(step).unwrap();
            }
            v4.execute_batch(&crate::document_rows::migration_5::schema_4_rows("1"))
                .unwrap();
            v4.execute_batch(&format!(
                "PRAGMA user_version = 4; PRAGMA application_id = {};",
                KIND.application_id
            ))
            .unwrap();
        }

        let ledger = SqliteLedger::open(&path).unwrap();

        assert_eq!(SqliteLedger::schema_version(&path).unwrap(), 5);
        crate::document_rows::migration_5::assert_kept_and_billable(&ledger);
        drop(ledger);
        let check = Connection::open(&path).unwrap();
        let dangling: i64 = check
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0, "every refund attempt keeps its credit note");
        let indexes: i64 = check
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN \
                 ('one_live_refund_per_credit_note', 'unsettled_refunds')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 2, "the refund attempts' indexes are rebuilt");
    }

    #[test]
    fn the_schema_version_is_the_number_of_migrations() {
        assert_eq!(
            usize::try_from(SqliteLedger::SCHEMA_VERSION).ok(),
            Some(MIGRATIONS.len())
        );
    }
}
