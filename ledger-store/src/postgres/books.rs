//! The sandbox processor's books in PostgreSQL: the SQLite books' tables,
//! for workers on several hosts charging through one sandbox.

use std::sync::{Mutex, MutexGuard, PoisonError};

use payment_gateway::{
    BooksError, BooksTransaction, Capture, ChargeId, IdempotencyKey, KeyRecord, RefundRecord,
    SandboxBooks, StoredResult, unix_millis,
};
use postgres::{Client, Row, Statement};

use super::{Kind, describe, redact};
use crate::StoreError;
use crate::book_rows::{
    CAPTURE_COLUMNS, CaptureRow, KeyRow, REFUND_COLUMNS, RefundRow, eight_columns, into_capture,
    into_key_record, into_refund, outcome_columns, refund_columns,
};
use crate::paging::sql_int;

/// The books' migrations, in the SQLite books' order and numbering.
const MIGRATIONS: &[&str] = &[
    // 1: idempotency records and captures.
    "CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        first_seen_ms BIGINT NOT NULL,
        requests BIGINT NOT NULL CHECK (requests >= 0),
        payment_method TEXT,
        amount BIGINT,
        currency TEXT,
        reference TEXT,
        outcome TEXT CHECK (outcome IN ('captured', 'declined')),
        detail TEXT,
        CHECK ((outcome IS NULL) = (detail IS NULL))
    );
    CREATE TABLE captures (
        number BIGINT PRIMARY KEY CHECK (number >= 1),
        charge_id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL,
        payment_method TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        reference TEXT NOT NULL,
        captured_at_ms BIGINT NOT NULL
    );
    CREATE INDEX captures_by_key ON captures (idempotency_key, number);",
    // 2: captures found by their reference (the invoice id), so that a
    // ledger that forgot is held to the processor's captures in one query
    // per batch.
    "CREATE INDEX captures_by_reference ON captures (reference, number);",
    // 3: refunds, kept for good, found by key (a lookup) and by charge
    // (the cap on what a charge's refunds give back).
    "CREATE TABLE refunds (
        number BIGINT PRIMARY KEY CHECK (number >= 1),
        refund_id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL,
        charge_id TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        reference TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        payment_method TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        lookups BIGINT NOT NULL CHECK (lookups >= 0)
    );
    CREATE INDEX refunds_by_key ON refunds (idempotency_key, number);
    CREATE INDEX refunds_by_charge ON refunds (charge_id, number);",
    // 4: the account's rate-limit clock (`--sandbox-rate-limit`), one row
    // shared by every host that charges through these books.
    "CREATE TABLE rate_limit (
        account BIGINT PRIMARY KEY CHECK (account = 1),
        due_us BIGINT NOT NULL
    );",
];

const KIND: Kind = Kind {
    name: "sandbox books",
    lock: 0x4C53_4258,
    migrations: MIGRATIONS,
};

/// Every request's check-and-record holds this advisory lock, so requests
/// from every host are serial, as they are on one SQLite file: one key
/// captures once, and captures are numbered without gaps.
const REQUEST_LOCK: i64 = 0x4C53_4252;

/// The sandbox processor's [`SandboxBooks`] in a PostgreSQL database. It
/// stands for another company's system: its own connection, never a
/// transaction shared with the ledger, even in the same database.
///
/// Being a sandbox, its commits do not wait for the server's disk
/// (`synchronous_commit = off`: a commit survives a killed client, the
/// server's crash may lose the last few); the ledger's do.
pub struct PgSandboxBooks {
    url: String,
    connection: Mutex<Connection>,
}

/// The connection and its statements, prepared once: a statement sent as
/// text is parsed on every request, one more round trip each.
struct Connection {
    client: Client,
    /// Set while a request's transaction is open: still set when one was
    /// cut short by a panic, so the next one rolls it back first.
    in_transaction: bool,
    key: Statement,
    put_key: Statement,
    count: Statement,
    insert_capture: Statement,
    capture_for_key: Statement,
    captures_for_references: Statement,
    captures_after: Statement,
    /// Prepared at first use: books of an older schema, opened read-only,
    /// have no refunds table, and listing their captures must still work.
    refunds: Option<RefundStatements>,
}

/// The statements of refunds (books schema 3).
struct RefundStatements {
    capture_for_charge: Statement,
    refunds_for_charge: Statement,
    refund_for_key: Statement,
    refund_count: Statement,
    put_refund: Statement,
    refunds_after: Statement,
}

impl RefundStatements {
    fn prepare(client: &mut Client) -> Result<RefundStatements, postgres::Error> {
        Ok(RefundStatements {
            capture_for_charge: client.prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE charge_id = $1"
            ))?,
            refunds_for_charge: client.prepare(&format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE charge_id = $1 ORDER BY number"
            ))?,
            refund_for_key: client.prepare(&format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE idempotency_key = $1 \
                 ORDER BY number DESC LIMIT 1"
            ))?,
            refund_count: client.prepare("SELECT coalesce(max(number), 0) FROM refunds")?,
            put_refund: client.prepare(&format!(
                "INSERT INTO refunds ({REFUND_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (number) DO UPDATE SET status = excluded.status, \
                 lookups = excluded.lookups"
            ))?,
            refunds_after: client.prepare(&format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE number > $1 ORDER BY number LIMIT $2"
            ))?,
        })
    }
}

impl Connection {
    fn prepare(mut client: Client) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            key: client.prepare(
                "SELECT first_seen_ms, requests, payment_method, amount, currency, reference, \
                 outcome, detail FROM idempotency_keys WHERE key = $1",
            )?,
            put_key: client.prepare(
                "INSERT INTO idempotency_keys (key, first_seen_ms, requests, payment_method, \
                 amount, currency, reference, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (key) DO UPDATE SET first_seen_ms = excluded.first_seen_ms, \
                 requests = excluded.requests, payment_method = excluded.payment_method, \
                 amount = excluded.amount, currency = excluded.currency, \
                 reference = excluded.reference, outcome = excluded.outcome, \
                 detail = excluded.detail",
            )?,
            // Captures are numbered 1, 2, … without gaps, so the highest
            // number is the count, one step down the primary key.
            count: client.prepare("SELECT coalesce(max(number), 0) FROM captures")?,
            insert_capture: client.prepare(&format!(
                "INSERT INTO captures ({CAPTURE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))?,
            capture_for_key: client.prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE idempotency_key = $1 \
                 ORDER BY number LIMIT 1"
            ))?,
            captures_for_references: client.prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE reference = ANY($1) ORDER BY number"
            ))?,
            captures_after: client.prepare(&format!(
                "SELECT {CAPTURE_COLUMNS} FROM captures WHERE number > $1 ORDER BY number LIMIT $2"
            ))?,
            refunds: None,
            client,
            in_transaction: false,
        })
    }
}

impl Connection {
    /// The client and the refunds' statements, prepared at first use.
    fn refunds(&mut self) -> Result<(&mut Client, &RefundStatements), BooksError> {
        if self.refunds.is_none() {
            self.refunds = Some(RefundStatements::prepare(&mut self.client).map_err(failed)?);
        }
        match &self.refunds {
            Some(statements) => Ok((&mut self.client, statements)),
            None => Err(BooksError::new("refund statements were not prepared")),
        }
    }
}

impl std::fmt::Debug for PgSandboxBooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSandboxBooks")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PgSandboxBooks {
    /// The newest schema version this binary writes (the SQLite books').
    pub const SCHEMA_VERSION: i64 = 4;

    /// Connects to the database at `url`, creating and migrating the books'
    /// tables as needed; books written by a newer schema are refused.
    pub fn connect(url: &str) -> Result<PgSandboxBooks, StoreError> {
        PgSandboxBooks::with_client(url, super::connect(url, KIND)?)
    }

    /// Connects to the books at `url` for reading only (see
    /// `postgres::connect_read_only`).
    pub fn connect_read_only(url: &str) -> Result<PgSandboxBooks, StoreError> {
        PgSandboxBooks::with_client(url, super::connect_read_only(url, KIND)?)
    }

    fn with_client(url: &str, mut client: Client) -> Result<PgSandboxBooks, StoreError> {
        let connection = client
            .batch_execute("SET synchronous_commit = off")
            .and_then(|()| Connection::prepare(client))
            .map_err(|error| StoreError::Postgres {
                url: redact(url),
                message: describe(&error),
            })?;
        Ok(PgSandboxBooks {
            url: redact(url),
            connection: Mutex::new(connection),
        })
    }

    /// The database's URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

// By value so that it reads `map_err(failed)`.
#[allow(clippy::needless_pass_by_value)]
fn failed(error: postgres::Error) -> BooksError {
    BooksError::new(format!("postgres: {}", describe(&error)))
}

fn read_capture(row: &Row) -> Result<CaptureRow, postgres::Error> {
    Ok(eight_columns!(row, try_get))
}

fn read_refunds(rows: &[Row]) -> Result<Vec<RefundRecord>, BooksError> {
    rows.iter()
        .map(|row| {
            let values: RefundRow =
                (|| Ok::<_, postgres::Error>(refund_columns!(row, try_get)))().map_err(failed)?;
            into_refund(values)
        })
        .collect()
}

fn read_key(
    connection: &mut Connection,
    key: &IdempotencyKey,
) -> Result<Option<KeyRecord>, BooksError> {
    let row = connection
        .client
        .query_opt(&connection.key, &[&key.as_str()])
        .map_err(failed)?;
    let Some(row) = row else { return Ok(None) };
    let values: KeyRow =
        (|| Ok::<_, postgres::Error>(eight_columns!(row, try_get)))().map_err(failed)?;
    into_key_record(key, values).map(Some)
}

fn count(connection: &mut Connection) -> Result<u64, BooksError> {
    let count: i64 = connection
        .client
        .query_one(&connection.count, &[])
        .and_then(|row| row.try_get(0))
        .map_err(failed)?;
    u64::try_from(count)
        .map_err(|error| BooksError::new(format!("unreadable capture count: {error}")))
}

/// One request's reads and writes, inside its locked transaction (begun
/// and ended by [`PgSandboxBooks::transaction`]).
struct PgTransaction<'a> {
    connection: &'a mut Connection,
}

impl BooksTransaction for PgTransaction<'_> {
    fn key_record(&mut self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        read_key(self.connection, key)
    }

    fn put_key_record(
        &mut self,
        key: &IdempotencyKey,
        record: &KeyRecord,
    ) -> Result<(), BooksError> {
        let request = record.stored().map(StoredResult::request);
        let (outcome, detail) = outcome_columns(record);
        let connection = &mut *self.connection;
        connection
            .client
            .execute(
                &connection.put_key,
                &[
                    &key.as_str(),
                    &unix_millis(record.first_seen()),
                    &i64::from(record.requests()),
                    &request.map(|r| r.payment_method().as_str()),
                    &request.map(|r| r.amount().minor_units()),
                    &request.map(|r| r.amount().currency().code()),
                    &request.map(payment_gateway::ChargeRequest::reference),
                    &outcome,
                    &detail,
                ],
            )
            .map_err(failed)?;
        Ok(())
    }

    fn capture_count(&mut self) -> Result<u64, BooksError> {
        count(self.connection)
    }

    fn insert_capture(&mut self, capture: &Capture) -> Result<(), BooksError> {
        let request = capture.request();
        let connection = &mut *self.connection;
        connection
            .client
            .execute(
                &connection.insert_capture,
                &[
                    &sql_int(capture.number()),
                    &capture.charge().id().as_str(),
                    &request.idempotency_key().as_str(),
                    &request.payment_method().as_str(),
                    &capture.charge().amount().minor_units(),
                    &capture.charge().amount().currency().code(),
                    &request.reference(),
                    &unix_millis(capture.captured_at()),
                ],
            )
            .map_err(failed)?;
        Ok(())
    }

    fn capture_for_charge(&mut self, charge: &ChargeId) -> Result<Option<Capture>, BooksError> {
        let (client, statements) = self.connection.refunds()?;
        let row = client
            .query_opt(&statements.capture_for_charge, &[&charge.as_str()])
            .map_err(failed)?;
        row.map(|row| read_capture(&row).map_err(failed).and_then(into_capture))
            .transpose()
    }

    fn refunds_for_charge(&mut self, charge: &ChargeId) -> Result<Vec<RefundRecord>, BooksError> {
        let (client, statements) = self.connection.refunds()?;
        let rows = client
            .query(&statements.refunds_for_charge, &[&charge.as_str()])
            .map_err(failed)?;
        read_refunds(&rows)
    }

    fn refund_for_key(&mut self, key: &IdempotencyKey) -> Result<Option<RefundRecord>, BooksError> {
        let (client, statements) = self.connection.refunds()?;
        let rows = client
            .query(&statements.refund_for_key, &[&key.as_str()])
            .map_err(failed)?;
        Ok(read_refunds(&rows)?.into_iter().next())
    }

    fn refund_count(&mut self) -> Result<u64, BooksError> {
        let (client, statements) = self.connection.refunds()?;
        let count: i64 = client
            .query_one(&statements.refund_count, &[])
            .and_then(|row| row.try_get(0))
            .map_err(failed)?;
        u64::try_from(count)
            .map_err(|error| BooksError::new(format!("unreadable refund count: {error}")))
    }

    fn put_refund(&mut self, record: &RefundRecord) -> Result<(), BooksError> {
        let refund = record.refund();
        let request = refund.request();
        let (client, statements) = self.connection.refunds()?;
        client
            .execute(
                &statements.put_refund,
                &[
                    &sql_int(record.number()),
                    &refund.id().as_str(),
                    &request.idempotency_key().as_str(),
                    &request.charge().as_str(),
                    &request.amount().minor_units(),
                    &request.amount().currency().code(),
                    &request.reference(),
                    &refund.status().as_str(),
                    &record.payment_method().as_str(),
                    &unix_millis(record.created_at()),
                    &i64::from(record.lookups()),
                ],
            )
            .map_err(failed)?;
        Ok(())
    }

    fn rate_clock(&mut self) -> Result<Option<i64>, BooksError> {
        let row = self
            .connection
            .client
            .query_opt("SELECT due_us FROM rate_limit WHERE account = 1", &[])
            .map_err(failed)?;
        row.map(|row| row.try_get(0)).transpose().map_err(failed)
    }

    fn put_rate_clock(&mut self, due_us: i64) -> Result<(), BooksError> {
        self.connection
            .client
            .execute(
                "INSERT INTO rate_limit (account, due_us) VALUES (1, $1) \
                 ON CONFLICT (account) DO UPDATE SET due_us = excluded.due_us",
                &[&due_us],
            )
            .map_err(failed)?;
        Ok(())
    }
}

impl SandboxBooks for PgSandboxBooks {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
    ) -> Result<(), BooksError> {
        let mut connection = self.lock();
        if connection.in_transaction {
            connection
                .client
                .batch_execute("ROLLBACK")
                .map_err(failed)?;
        }
        // Begun and locked in one round trip; a request is a handful of
        // them, and they are what a sandbox request costs.
        connection.in_transaction = true;
        let done = connection
            .client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({REQUEST_LOCK})"
            ))
            .map_err(failed)
            .and_then(|()| {
                work(&mut PgTransaction {
                    connection: &mut connection,
                })
            });
        let end = if done.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = connection.client.batch_execute(end).map_err(failed);
        connection.in_transaction = false;
        done.and(ended)
    }

    fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        read_key(&mut self.lock(), key)
    }

    fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError> {
        let mut connection = self.lock();
        let connection = &mut *connection;
        let row = connection
            .client
            .query_opt(&connection.capture_for_key, &[&key.as_str()])
            .map_err(failed)?;
        row.map(|row| read_capture(&row).map_err(failed).and_then(into_capture))
            .transpose()
    }

    fn captures_for_references(&self, references: &[&str]) -> Result<Vec<Capture>, BooksError> {
        let mut connection = self.lock();
        let connection = &mut *connection;
        let rows = connection
            .client
            .query(&connection.captures_for_references, &[&references])
            .map_err(failed)?;
        rows.iter()
            .map(|row| read_capture(row).map_err(failed).and_then(into_capture))
            .collect()
    }

    fn capture_count(&self) -> Result<u64, BooksError> {
        count(&mut self.lock())
    }

    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError> {
        let mut connection = self.lock();
        let connection = &mut *connection;
        let rows = connection
            .client
            .query(
                &connection.captures_after,
                &[&sql_int(after), &sql_int(limit)],
            )
            .map_err(failed)?;
        rows.iter()
            .map(|row| read_capture(row).map_err(failed).and_then(into_capture))
            .collect()
    }

    fn refunds_after(&self, after: u64, limit: usize) -> Result<Vec<RefundRecord>, BooksError> {
        let mut connection = self.lock();
        // Books of an older schema (opened read-only, so not migrated)
        // have no refunds table: no refund was ever made in them.
        let exists: bool = connection
            .client
            .query_one("SELECT to_regclass('refunds') IS NOT NULL", &[])
            .and_then(|row| row.try_get(0))
            .map_err(failed)?;
        if !exists {
            return Ok(Vec::new());
        }
        let (client, statements) = connection.refunds()?;
        let rows = client
            .query(
                &statements.refunds_after,
                &[&sql_int(after), &sql_int(limit)],
            )
            .map_err(failed)?;
        read_refunds(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_version_is_the_number_of_migrations_and_the_sqlite_books() {
        assert_eq!(
            usize::try_from(PgSandboxBooks::SCHEMA_VERSION).ok(),
            Some(MIGRATIONS.len())
        );
        assert_eq!(
            PgSandboxBooks::SCHEMA_VERSION,
            crate::SqliteSandboxBooks::SCHEMA_VERSION
        );
    }
}
