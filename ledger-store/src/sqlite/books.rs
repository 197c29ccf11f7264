//! The sandbox processor's books in a SQLite file of their own.

use std::path::Path;
use std::sync::MutexGuard;

use payment_gateway::{
    BooksError, BooksTransaction, Capture, ChargeId, IdempotencyKey, KeyRecord, RefundRecord,
    SandboxBooks, StoredResult, unix_millis,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::SqliteFile;
use super::schema::FileKind;
use crate::StoreError;
use crate::book_rows::{
    CAPTURE_COLUMNS, CaptureRow, KeyRow, REFUND_COLUMNS, RefundRow, eight_columns, into_capture,
    into_key_record, into_refund, invalid, outcome_columns, refund_columns,
};
use crate::paging::sql_int;

/// The books' migrations, in order. Never edit one that shipped: add the
/// next.
const MIGRATIONS: &[&str] = &[
    // 1: idempotency records and captures.
    "CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        first_seen_ms INTEGER NOT NULL,
        requests INTEGER NOT NULL CHECK (requests >= 0),
        -- The first processed request and its result, once there is one.
        payment_method TEXT,
        amount INTEGER,
        currency TEXT,
        reference TEXT,
        outcome TEXT CHECK (outcome IN ('captured', 'declined')),
        -- The charge id of a capture, or the decline code.
        detail TEXT,
        CHECK ((outcome IS NULL) = (detail IS NULL))
    ) STRICT;
    CREATE TABLE captures (
        number INTEGER PRIMARY KEY CHECK (number >= 1),
        charge_id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL,
        payment_method TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        reference TEXT NOT NULL,
        captured_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX captures_by_key ON captures (idempotency_key, number);",
    // 2: captures found by their reference (the invoice id), so that a
    // ledger that forgot is held to the processor's captures in one query
    // per batch.
    "CREATE INDEX captures_by_reference ON captures (reference, number);",
    // 3: refunds, kept for good, found by key (a lookup) and by charge
    // (the cap on what a charge's refunds give back).
    "CREATE TABLE refunds (
        number INTEGER PRIMARY KEY CHECK (number >= 1),
        refund_id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL,
        charge_id TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        reference TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        payment_method TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        lookups INTEGER NOT NULL CHECK (lookups >= 0)
    ) STRICT;
    CREATE INDEX refunds_by_key ON refunds (idempotency_key, number);
    CREATE INDEX refunds_by_charge ON refunds (charge_id, number);",
    // 4: the account's rate-limit clock (`--sandbox-rate-limit`), one row
    // shared by every process that charges through these books.
    "CREATE TABLE rate_limit (
        account INTEGER PRIMARY KEY CHECK (account = 1),
        due_us INTEGER NOT NULL
    ) STRICT;",
];

const KIND: FileKind = FileKind {
    name: "sandbox books",
    // "LSBX"
    application_id: 0x4C53_4258,
    // A sandbox: its books must survive a killed process (WAL commits do),
    // not a power cut, and a sync per request would make it the bottleneck.
    synchronous: "NORMAL",
    migrations: MIGRATIONS,
};

/// The sandbox processor's [`SandboxBooks`] in a SQLite file of their own:
/// it stands for another company's system, so it never shares a file or a
/// transaction with the ledger.
///
/// Commits survive a killed process; being a sandbox, they are not synced
/// against a power cut (`synchronous = NORMAL`), unlike the ledger's.
///
/// Each request's check-and-record is one `BEGIN IMMEDIATE` transaction, so
/// requests from several processes on one file are serial: one key captures
/// once, and transient counters persist with the rest.
#[derive(Debug)]
pub struct SqliteSandboxBooks {
    file: SqliteFile,
}

impl SqliteSandboxBooks {
    /// The newest schema version this binary writes.
    pub const SCHEMA_VERSION: i64 = 4;

    /// Opens the books at `path`, creating and migrating them as needed;
    /// books written by a newer schema are refused and left untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteSandboxBooks, StoreError> {
        Ok(SqliteSandboxBooks {
            file: SqliteFile::open(path.as_ref(), KIND)?,
        })
    }

    /// Opens the existing books at `path` for reading only, as
    /// [`SqliteLedger::open_read_only`](crate::SqliteLedger::open_read_only)
    /// opens a ledger.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteSandboxBooks, StoreError> {
        Ok(SqliteSandboxBooks {
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
}

fn failed(error: &rusqlite::Error) -> BooksError {
    BooksError::new(format!("sqlite: {error}"))
}

fn read_capture(row: &Row<'_>) -> rusqlite::Result<CaptureRow> {
    Ok(eight_columns!(row, get))
}

fn read_refund(row: &Row<'_>) -> rusqlite::Result<RefundRow> {
    Ok(refund_columns!(row, get))
}

/// The refunds `sql` selects (a `SELECT {REFUND_COLUMNS} ...` with `params`).
fn query_refunds(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RefundRecord>, BooksError> {
    let mut statement = connection.prepare(sql).map_err(|e| failed(&e))?;
    let rows = statement
        .query_map(params, read_refund)
        .map_err(|e| failed(&e))?;
    rows.map(|row| row.map_err(|e| failed(&e)).and_then(into_refund))
        .collect()
}

fn read_key(
    connection: &Connection,
    key: &IdempotencyKey,
) -> Result<Option<KeyRecord>, BooksError> {
    let mut statement = connection
        .prepare(
            "SELECT first_seen_ms, requests, payment_method, amount, currency, reference, \
             outcome, detail FROM idempotency_keys WHERE key = ?1",
        )
        .map_err(|e| failed(&e))?;
    let row: Option<KeyRow> = statement
        .query_row([key.as_str()], |row| Ok(eight_columns!(row, get)))
        .optional()
        .map_err(|e| failed(&e))?;
    row.map(|row| into_key_record(key, row)).transpose()
}

/// One request's reads and writes, inside its immediate transaction.
struct SqliteTransaction<'a> {
    transaction: &'a Transaction<'a>,
}

impl BooksTransaction for SqliteTransaction<'_> {
    fn key_record(&mut self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        read_key(self.transaction, key)
    }

    fn put_key_record(
        &mut self,
        key: &IdempotencyKey,
        record: &KeyRecord,
    ) -> Result<(), BooksError> {
        let request = record.stored().map(StoredResult::request);
        let (outcome, detail) = outcome_columns(record);
        self.transaction
            .prepare(
                "INSERT OR REPLACE INTO idempotency_keys (key, first_seen_ms, requests, \
                 payment_method, amount, currency, reference, outcome, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    key.as_str(),
                    unix_millis(record.first_seen()),
                    record.requests(),
                    request.map(|r| r.payment_method().as_str().to_owned()),
                    request.map(|r| r.amount().minor_units()),
                    request.map(|r| r.amount().currency().code()),
                    request.map(|r| r.reference().to_owned()),
                    outcome,
                    detail,
                ])
            })
            .map_err(|e| failed(&e))?;
        Ok(())
    }

    fn capture_count(&mut self) -> Result<u64, BooksError> {
        count(self.transaction)
    }

    fn insert_capture(&mut self, capture: &Capture) -> Result<(), BooksError> {
        let request = capture.request();
        self.transaction
            .prepare(&format!(
                "INSERT INTO captures ({CAPTURE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))
            .and_then(|mut statement| {
                statement.execute(params![
                    sql_int(capture.number()),
                    capture.charge().id().as_str(),
                    request.idempotency_key().as_str(),
                    request.payment_method().as_str(),
                    capture.charge().amount().minor_units(),
                    capture.charge().amount().currency().code(),
                    request.reference(),
                    unix_millis(capture.captured_at()),
                ])
            })
            .map_err(|e| failed(&e))?;
        Ok(())
    }

    fn capture_for_charge(&mut self, charge: &ChargeId) -> Result<Option<Capture>, BooksError> {
        let mut statement = self
            .transaction
            .prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE charge_id = ?1"
            ))
            .map_err(|e| failed(&e))?;
        let row = statement
            .query_row([charge.as_str()], read_capture)
            .optional()
            .map_err(|e| failed(&e))?;
        row.map(into_capture).transpose()
    }

    fn refunds_for_charge(&mut self, charge: &ChargeId) -> Result<Vec<RefundRecord>, BooksError> {
        query_refunds(
            self.transaction,
            &format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE charge_id = ?1 ORDER BY number"),
            [charge.as_str()],
        )
    }

    fn refund_for_key(&mut self, key: &IdempotencyKey) -> Result<Option<RefundRecord>, BooksError> {
        let found = query_refunds(
            self.transaction,
            &format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE idempotency_key = ?1 \
                 ORDER BY number DESC LIMIT 1"
            ),
            [key.as_str()],
        )?;
        Ok(found.into_iter().next())
    }

    fn refund_count(&mut self) -> Result<u64, BooksError> {
        // Numbered without gaps, as captures are.
        let count: i64 = self
            .transaction
            .query_row("SELECT coalesce(max(number), 0) FROM refunds", [], |row| {
                row.get(0)
            })
            .map_err(|e| failed(&e))?;
        u64::try_from(count).map_err(invalid)
    }

    fn put_refund(&mut self, record: &RefundRecord) -> Result<(), BooksError> {
        let refund = record.refund();
        let request = refund.request();
        self.transaction
            .prepare(&format!(
                "INSERT INTO refunds ({REFUND_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (number) DO UPDATE SET status = excluded.status, \
                 lookups = excluded.lookups"
            ))
            .and_then(|mut statement| {
                statement.execute(params![
                    sql_int(record.number()),
                    refund.id().as_str(),
                    request.idempotency_key().as_str(),
                    request.charge().as_str(),
                    request.amount().minor_units(),
                    request.amount().currency().code(),
                    request.reference(),
                    refund.status().as_str(),
                    record.payment_method().as_str(),
                    unix_millis(record.created_at()),
                    record.lookups(),
                ])
            })
            .map_err(|e| failed(&e))?;
        Ok(())
    }

    fn rate_clock(&mut self) -> Result<Option<i64>, BooksError> {
        self.transaction
            .query_row(
                "SELECT due_us FROM rate_limit WHERE account = 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| failed(&e))
    }

    fn put_rate_clock(&mut self, due_us: i64) -> Result<(), BooksError> {
        self.transaction
            .execute(
                "INSERT INTO rate_limit (account, due_us) VALUES (1, ?1) \
                 ON CONFLICT (account) DO UPDATE SET due_us = excluded.due_us",
                [due_us],
            )
            .map_err(|e| failed(&e))?;
        Ok(())
    }
}

fn count(connection: &Connection) -> Result<u64, BooksError> {
    // Captures are numbered 1, 2, … without gaps, so the highest number is
    // the count; reading it is one step down the primary key, where
    // `count(*)` would scan every capture for every new one.
    let count: i64 = connection
        .query_row("SELECT coalesce(max(number), 0) FROM captures", [], |row| {
            row.get(0)
        })
        .map_err(|e| failed(&e))?;
    u64::try_from(count).map_err(invalid)
}

impl SandboxBooks for SqliteSandboxBooks {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
    ) -> Result<(), BooksError> {
        let mut connection = self.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| failed(&e))?;
        work(&mut SqliteTransaction {
            transaction: &transaction,
        })?;
        transaction.commit().map_err(|e| failed(&e))
    }

    fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        read_key(&self.lock(), key)
    }

    fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE idempotency_key = ?1 \
                 ORDER BY number LIMIT 1"
            ))
            .map_err(|e| failed(&e))?;
        let row = statement
            .query_row([key.as_str()], read_capture)
            .optional()
            .map_err(|e| failed(&e))?;
        row.map(into_capture).transpose()
    }

    fn captures_for_references(&self, references: &[&str]) -> Result<Vec<Capture>, BooksError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE reference = ?1 ORDER BY number"
            ))
            .map_err(|e| failed(&e))?;
        // One indexed query per reference: in process, a few microseconds
        // each, and no statement longer than SQLite's limit of variables.
        let mut found = Vec::new();
        for reference in references {
            let rows = statement
                .query_map([reference], read_capture)
                .map_err(|e| failed(&e))?;
            for row in rows {
                found.push(into_capture(row.map_err(|e| failed(&e))?)?);
            }
        }
        found.sort_by_key(Capture::number);
        Ok(found)
    }

    fn capture_count(&self) -> Result<u64, BooksError> {
        count(&self.lock())
    }

    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE number > ?1 ORDER BY number LIMIT ?2"
            ))
            .map_err(|e| failed(&e))?;
        let rows = statement
            .query_map(params![sql_int(after), sql_int(limit)], read_capture)
            .map_err(|e| failed(&e))?;
        rows.map(|row| row.map_err(|e| failed(&e)).and_then(into_capture))
            .collect()
    }

    fn refunds_after(&self, after: u64, limit: usize) -> Result<Vec<RefundRecord>, BooksError> {
        let connection = self.lock();
        // Books of an older schema (opened read-only, so not migrated)
        // have no refunds table: no refund was ever made in them.
        let exists: bool = connection
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'refunds'",
                [],
                |row| row.get(0),
            )
            .map_err(|e| failed(&e))?;
        if !exists {
            return Ok(Vec::new());
        }
        query_refunds(
            &connection,
            &format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE number > ?1 ORDER BY number LIMIT ?2"
            ),
            params![sql_int(after), sql_int(limit)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_version_is_the_number_of_migrations() {
        assert_eq!(
            usize::try_from(SqliteSandboxBooks::SCHEMA_VERSION).ok(),
            Some(MIGRATIONS.len())
        );
    }
}
