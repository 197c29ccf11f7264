//! The sandbox processor's books in PostgreSQL: the SQLite books' tables,
//! for workers on several hosts charging through one sandbox.

use std::sync::{Mutex, MutexGuard, PoisonError};

use payment_gateway::{
    BooksError, BooksTransaction, Capture, IdempotencyKey, KeyRecord, SandboxBooks, StoredResult,
    unix_millis,
};
use postgres::{Client, Row, Transaction};

use super::{Kind, describe, redact};
use crate::StoreError;
use crate::books::{CaptureRow, KeyRow, into_capture, into_key_record};

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

const CAPTURE_COLUMNS: &str = "number, charge_id, idempotency_key, payment_method, amount, \
     currency, reference, captured_at_ms";

/// The sandbox processor's [`SandboxBooks`] in a PostgreSQL database. It
/// stands for another company's system: its own connection, never a
/// transaction shared with the ledger, even in the same database.
///
/// Being a sandbox, its commits do not wait for the server's disk
/// (`synchronous_commit = off`: a commit survives a killed client, the
/// server's crash may lose the last few); the ledger's do.
pub struct PgSandboxBooks {
    url: String,
    client: Mutex<Client>,
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
    pub const SCHEMA_VERSION: i64 = 1;

    /// Connects to the database at `url`, creating and migrating the books'
    /// tables as needed; books written by a newer schema are refused.
    pub fn connect(url: &str) -> Result<PgSandboxBooks, StoreError> {
        let mut client = super::connect(url, KIND)?;
        client
            .batch_execute("SET synchronous_commit = off")
            .map_err(|error| StoreError::Postgres {
                url: redact(url),
                message: describe(&error),
            })?;
        Ok(PgSandboxBooks {
            url: redact(url),
            client: Mutex::new(client),
        })
    }

    /// The database's URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lock(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// By value so that it reads `map_err(failed)`.
#[allow(clippy::needless_pass_by_value)]
fn failed(error: postgres::Error) -> BooksError {
    BooksError::new(format!("postgres: {}", describe(&error)))
}

fn read_capture(row: &Row) -> Result<CaptureRow, postgres::Error> {
    Ok((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
        row.try_get(5)?,
        row.try_get(6)?,
        row.try_get(7)?,
    ))
}

fn read_key(
    client: &mut impl postgres::GenericClient,
    key: &IdempotencyKey,
) -> Result<Option<KeyRecord>, BooksError> {
    let row = client
        .query_opt(
            "SELECT first_seen_ms, requests, payment_method, amount, currency, reference, \
             outcome, detail FROM idempotency_keys WHERE key = $1",
            &[&key.as_str()],
        )
        .map_err(failed)?;
    let Some(row) = row else { return Ok(None) };
    let values: KeyRow = (|| {
        Ok::<_, postgres::Error>((
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
            row.try_get(6)?,
            row.try_get(7)?,
        ))
    })()
    .map_err(failed)?;
    into_key_record(key, values).map(Some)
}

fn count(client: &mut impl postgres::GenericClient) -> Result<u64, BooksError> {
    let count: i64 = client
        .query_one("SELECT coalesce(max(number), 0) FROM captures", &[])
        .and_then(|row| row.try_get(0))
        .map_err(failed)?;
    u64::try_from(count)
        .map_err(|error| BooksError::new(format!("unreadable capture count: {error}")))
}

/// One request's reads and writes, inside its locked transaction.
struct PgTransaction<'a, 'c> {
    transaction: &'a mut Transaction<'c>,
}

impl BooksTransaction for PgTransaction<'_, '_> {
    fn key_record(&mut self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        read_key(self.transaction, key)
    }

    fn put_key_record(
        &mut self,
        key: &IdempotencyKey,
        record: &KeyRecord,
    ) -> Result<(), BooksError> {
        let stored = record.stored();
        let request = stored.map(StoredResult::request);
        let (outcome, detail) = match stored.map(StoredResult::outcome) {
            Some(Ok(charge)) => (Some("captured"), Some(charge.id().as_str().to_owned())),
            Some(Err(code)) => (Some("declined"), Some(code.as_str().to_owned())),
            None => (None, None),
        };
        self.transaction
            .execute(
                "INSERT INTO idempotency_keys (key, first_seen_ms, requests, payment_method, \
                 amount, currency, reference, outcome, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (key) DO UPDATE SET first_seen_ms = excluded.first_seen_ms, \
                 requests = excluded.requests, payment_method = excluded.payment_method, \
                 amount = excluded.amount, currency = excluded.currency, \
                 reference = excluded.reference, outcome = excluded.outcome, \
                 detail = excluded.detail",
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
        count(self.transaction)
    }

    fn insert_capture(&mut self, capture: &Capture) -> Result<(), BooksError> {
        let request = capture.request();
        self.transaction
            .execute(
                &format!(
                    "INSERT INTO captures ({CAPTURE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    &i64::try_from(capture.number()).unwrap_or(i64::MAX),
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
}

impl SandboxBooks for PgSandboxBooks {
    fn transaction(
        &self,
        work: &mut dyn FnMut(&mut dyn BooksTransaction) -> Result<(), BooksError>,
    ) -> Result<(), BooksError> {
        let mut client = self.lock();
        let mut transaction = client.transaction().map_err(failed)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&REQUEST_LOCK])
            .map_err(failed)?;
        work(&mut PgTransaction {
            transaction: &mut transaction,
        })?;
        transaction.commit().map_err(failed)
    }

    fn key_record(&self, key: &IdempotencyKey) -> Result<Option<KeyRecord>, BooksError> {
        read_key(&mut *self.lock(), key)
    }

    fn capture_for_key(&self, key: &IdempotencyKey) -> Result<Option<Capture>, BooksError> {
        let row = self
            .lock()
            .query_opt(
                &format!(
                    "SELECT {CAPTURE_COLUMNS} FROM captures WHERE idempotency_key = $1 \
                     ORDER BY number LIMIT 1"
                ),
                &[&key.as_str()],
            )
            .map_err(failed)?;
        row.map(|row| read_capture(&row).map_err(failed).and_then(into_capture))
            .transpose()
    }

    fn capture_count(&self) -> Result<u64, BooksError> {
        count(&mut *self.lock())
    }

    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<Capture>, BooksError> {
        let rows = self
            .lock()
            .query(
                &format!(
                    "SELECT {CAPTURE_COLUMNS} FROM captures WHERE number > $1 ORDER BY number LIMIT $2"
                ),
                &[
                    &i64::try_from(after).unwrap_or(i64::MAX),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .map_err(failed)?;
        rows.iter()
            .map(|row| read_capture(row).map_err(failed).and_then(into_capture))
            .collect()
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
