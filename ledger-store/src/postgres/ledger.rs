//! The PostgreSQL ledger: the SQLite ledger's tables and rules in a
//! database that several hosts share.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use billing::{
    Attempt, AttemptUpdate, ClaimOutcome, Claims, HeldClaim, InvoiceFilter, InvoiceId,
    InvoiceRecord, IssueOutcome, IssuedInvoice, Ledger, LedgerError, WorkerId, apply_update,
    check_append,
};
use payment_gateway::{PaymentMethod, unix_millis};
use postgres::{Client, IsolationLevel, Row, Transaction};

use super::{Kind, describe, redact};
use crate::StoreError;
use crate::document_rows::{POSTGRES_BILLED_MIGRATION, documents_migration};
use crate::paging::{self, LIST_CHUNK, sql_int};
use crate::rows::{
    ATTEMPT_COLUMNS, AttemptRow, INVOICE_COLUMNS, InvoiceRow, attempt_row, invalid, invoice_row,
    lease_ms,
};

/// The ledger's migrations, in the SQLite ledger's order and numbering.
/// Ids compare byte by byte (`COLLATE "C"`), as Rust and SQLite compare
/// them, so a listing's pages follow the same order on every backend
/// whatever the database's locale.
const MIGRATIONS: &[&str] = &[
    // 1: invoices frozen at issue, and the append-only attempts.
    r#"CREATE TABLE invoices (
        id TEXT COLLATE "C" PRIMARY KEY,
        customer TEXT NOT NULL,
        payment_method TEXT NOT NULL,
        currency TEXT NOT NULL,
        line_items TEXT NOT NULL,
        tier TEXT NOT NULL,
        loyalty_member BOOLEAN NOT NULL,
        days_overdue BIGINT NOT NULL CHECK (days_overdue >= 0),
        subtotal BIGINT NOT NULL,
        tier_discount BIGINT NOT NULL,
        loyalty_discount BIGINT NOT NULL,
        tax BIGINT NOT NULL,
        late_fee BIGINT NOT NULL,
        total BIGINT NOT NULL CHECK (total >= 0),
        gold_discount_rate TEXT NOT NULL,
        silver_discount_rate TEXT NOT NULL,
        bronze_discount_rate TEXT NOT NULL,
        loyalty_discount_rate TEXT NOT NULL,
        sales_tax_rate TEXT NOT NULL,
        late_fee_rate TEXT NOT NULL,
        late_fee_after_days BIGINT NOT NULL CHECK (late_fee_after_days >= 0),
        rates_version TEXT,
        issued_at_ms BIGINT NOT NULL,
        CHECK (subtotal + tier_discount + loyalty_discount + tax + late_fee = total)
    );
    CREATE TABLE attempts (
        invoice_id TEXT COLLATE "C" NOT NULL REFERENCES invoices (id),
        number BIGINT NOT NULL CHECK (number >= 1),
        idempotency_key TEXT NOT NULL UNIQUE,
        payment_method TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('pending', 'captured', 'declined', 'failed', 'unknown')),
        detail TEXT,
        created_at_ms BIGINT NOT NULL,
        updated_at_ms BIGINT NOT NULL,
        PRIMARY KEY (invoice_id, number),
        CHECK ((outcome = 'pending') = (detail IS NULL)),
        CHECK (outcome <> 'captured' OR length(detail) > 0)
    );
    CREATE UNIQUE INDEX one_capture_per_invoice ON attempts (invoice_id)
        WHERE outcome = 'captured';
    CREATE INDEX unsettled_attempts ON attempts (invoice_id, number)
        WHERE outcome IN ('pending', 'unknown');"#,
    // 2: which worker is collecting which invoice, until when, on the
    // database's clock (one clock for every host).
    r#"CREATE TABLE claims (
        invoice_id TEXT COLLATE "C" PRIMARY KEY,
        worker TEXT NOT NULL,
        expires_at_ms BIGINT NOT NULL
    );"#,
    // 3: nothing here. The SQLite ledger times its claims on the host's
    // boot clock from this version on; PostgreSQL's are on the server's
    // clock already. The versions stay equal, one number per schema.
    "SELECT 1;",
    // 4: the documents of corrections (the SQLite ledger's, in BIGINTs).
    documents_migration!("BIGINT", ""),
    // 5: a credit note may be `billed`: an undercharge billed with a
    // supplementary invoice.
    POSTGRES_BILLED_MIGRATION,
];

const KIND: Kind = Kind {
    name: "ledger",
    lock: 0x4C44_4752,
    migrations: MIGRATIONS,
};

/// How often a write that lost a deadlock or a serialization race is tried
/// again before the error is returned.
const WRITE_TRIES: u32 = 5;

/// The database's clock in Unix milliseconds, inside SQL.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Billing's [`Ledger`] (and [`Claims`]) in a PostgreSQL database.
///
/// - Every write is one transaction, committed before the method returns
///   (with the server's `synchronous_commit`, on by default: a pending
///   attempt is durable before its request is sent). Batches share one
///   commit and one statement per table (`unnest` of arrays), so a batch of
///   2048 costs a few round trips, not thousands.
/// - Every write that touches attempts first locks the invoices' rows in id
///   order (`SELECT … ORDER BY id FOR UPDATE`): two hosts working on one
///   invoice take turns, and overlapping batches cannot deadlock. The rules
///   of [`Ledger`] are checked under those locks; the primary key and a
///   unique index keep them whatever happens.
/// - Reads are one `REPEATABLE READ` snapshot each.
///
/// One value holds one connection behind a mutex; open one per thread or
/// process for parallel work.
pub struct PgLedger {
    url: String,
    client: Mutex<Client>,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PgLedger {
    /// The newest schema version this binary writes (the SQLite ledger's).
    pub const SCHEMA_VERSION: i64 = 5;

    /// Connects to the database at `url` (`postgres://user@host/db`),
    /// creating and migrating the ledger's tables as needed. A ledger
    /// written by a newer schema is refused with
    /// [`StoreError::NewerSchema`] and left untouched.
    pub fn connect(url: &str) -> Result<PgLedger, StoreError> {
        let client = super::connect(url, KIND)?;
        Ok(PgLedger {
            url: redact(url),
            client: Mutex::new(client),
        })
    }

    /// Connects to the ledger at `url` for reading only (see
    /// `postgres::connect_read_only`): a read-only role will do.
    pub fn connect_read_only(url: &str) -> Result<PgLedger, StoreError> {
        let client = super::connect_read_only(url, KIND)?;
        Ok(PgLedger {
            url: redact(url),
            client: Mutex::new(client),
        })
    }

    /// The ledger's schema version in the database at `url`, without
    /// migrating it (0 when it has none).
    pub fn schema_version(url: &str) -> Result<i64, StoreError> {
        super::version_of(url, KIND.name)
    }

    /// The database's URL, without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection, even if a thread panicked while holding it: an open
    /// transaction is rolled back when its guard is dropped.
    fn lock(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn write<T>(
        &self,
        mut work: impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>,
    ) -> Result<T, LedgerError> {
        self.write_checked(|transaction| work(transaction).map(Ok))
    }

    /// A write whose work may refuse it by billing's rules: `Ok(Err(_))`
    /// rolls back with that refusal. A deadlock or serialization failure
    /// runs the work again, up to [`WRITE_TRIES`] times in all.
    pub(super) fn write_checked<T>(
        &self,
        mut work: impl FnMut(&mut Transaction<'_>) -> Result<Result<T, LedgerError>, postgres::Error>,
    ) -> Result<T, LedgerError> {
        let mut client = self.lock();
        let mut tries = 1;
        loop {
            let result = client.transaction().and_then(|mut transaction| {
                let value = work(&mut transaction)?;
                if value.is_ok() {
                    transaction.commit()?;
                }
                Ok(value)
            });
            match result {
                Err(error) if tries < WRITE_TRIES && is_retryable(&error) => tries += 1,
                Err(error) => return Err(failed(&error)),
                Ok(value) => return value,
            }
        }
    }

    pub(super) fn read<T>(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut client = self.lock();
        let mut transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|error| failed(&error))?;
        work(&mut transaction)
    }
}

/// A deadlock or serialization failure: the transaction did nothing and
/// may simply run again.
fn is_retryable(error: &postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| matches!(code.code(), "40001" | "40P01"))
}

/// A PostgreSQL failure as billing sees it: an integrity violation (class
/// 23) is another run's write that got there first, anything else a
/// storage failure.
pub(super) fn failed(error: &postgres::Error) -> LedgerError {
    let message = format!("postgres: {}", describe(error));
    match error.code() {
        Some(code) if code.code().starts_with("23") => LedgerError::conflict(message),
        _ => LedgerError::new(message),
    }
}

fn read_invoice(row: &Row) -> Result<InvoiceRow, postgres::Error> {
    Ok(invoice_row!(row, try_get))
}

fn read_attempt(row: &Row) -> Result<AttemptRow, postgres::Error> {
    Ok(attempt_row!(row, try_get))
}

/// The invoices `ids` name, with their attempts, in two queries; `None`
/// for an id with no invoice, in the order of `ids`.
fn records(
    transaction: &mut Transaction<'_>,
    ids: &[&str],
) -> Result<Result<Vec<Option<InvoiceRecord>>, LedgerError>, postgres::Error> {
    let invoice_rows = transaction.query(
        &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = ANY($1)"),
        &[&ids],
    )?;
    let attempt_rows = transaction.query(
        &format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE invoice_id = ANY($1) \
             ORDER BY invoice_id, number"
        ),
        &[&ids],
    )?;
    let mut invoices = HashMap::with_capacity(invoice_rows.len());
    for row in &invoice_rows {
        let invoice = read_invoice(row)?;
        invoices.insert(invoice.id.clone(), invoice);
    }
    let mut attempts: HashMap<String, Vec<AttemptRow>> = HashMap::new();
    for row in &attempt_rows {
        let attempt = read_attempt(row)?;
        attempts
            .entry(attempt.invoice_id.clone())
            .or_default()
            .push(attempt);
    }
    Ok(assemble(ids, &invoices, &attempts))
}

/// Billing's records from the rows, in the order of `ids` (an id asked
/// twice is read twice).
fn assemble(
    ids: &[&str],
    invoices: &HashMap<String, InvoiceRow>,
    attempts: &HashMap<String, Vec<AttemptRow>>,
) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
    ids.iter()
        .map(|id| {
            let Some(row) = invoices.get(*id) else {
                return Ok(None);
            };
            let invoice = row.clone().into_invoice()?;
            let attempts = attempts
                .get(*id)
                .map(|rows| {
                    rows.iter()
                        .map(|row| row.clone().into_attempt())
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?
                .unwrap_or_default();
            InvoiceRecord::new(invoice, attempts).map(Some)
        })
        .collect()
}

/// Locks the rows of the invoices `ids` names, in id order, for the rest of
/// the transaction.
fn lock_invoices(transaction: &mut Transaction<'_>, ids: &[&str]) -> Result<(), postgres::Error> {
    transaction.execute(
        "SELECT 1 FROM invoices WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&ids],
    )?;
    Ok(())
}

/// The records of `ids` under the write locks, each once, keyed by id.
fn locked_records(
    transaction: &mut Transaction<'_>,
    ids: &[&str],
) -> Result<Result<HashMap<String, InvoiceRecord>, LedgerError>, postgres::Error> {
    lock_invoices(transaction, ids)?;
    Ok(records(transaction, ids)?.map(|records| {
        records
            .into_iter()
            .flatten()
            .map(|record| (record.invoice().id().as_str().to_owned(), record))
            .collect()
    }))
}

impl Ledger for PgLedger {
    fn issue(&self, invoices: &[IssuedInvoice]) -> Result<Vec<IssueOutcome>, LedgerError> {
        self.write_checked(|transaction| {
            let columns = Columns::of(invoices);
            // Inserted in id order, so two hosts issuing overlapping batches
            // take the same locks in the same order; an id stored already
            // (or twice in the batch) is left alone and read back.
            let inserted: Vec<String> = transaction
                .query(
                    &format!(
                        "INSERT INTO invoices ({INVOICE_COLUMNS}) \
                         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
                           $5::text[], $6::text[], $7::boolean[], $8::bigint[], $9::bigint[], \
                           $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], \
                           $14::bigint[], $15::text[], $16::text[], $17::text[], $18::text[], \
                           $19::text[], $20::text[], $21::bigint[], $22::text[], $23::bigint[]) \
                         AS t ORDER BY 1 \
                         ON CONFLICT (id) DO NOTHING RETURNING id"
                    ),
                    &columns.params(),
                )?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
            let mut fresh: std::collections::HashSet<&str> =
                inserted.iter().map(String::as_str).collect();
            let existing: Vec<&str> = invoices
                .iter()
                .map(|invoice| invoice.id().as_str())
                .filter(|id| !fresh.contains(id))
                .collect();
            let stored = match records(transaction, &existing)? {
                Ok(stored) => stored,
                Err(error) => return Ok(Err(error)),
            };
            let mut stored: HashMap<String, IssuedInvoice> = stored
                .into_iter()
                .flatten()
                .map(|record| {
                    (
                        record.invoice().id().as_str().to_owned(),
                        record.invoice().clone(),
                    )
                })
                .collect();
            Ok(invoices
                .iter()
                .map(|invoice| {
                    let id = invoice.id().as_str();
                    // The first of an id inserted in this batch is new; any
                    // later one finds it.
                    if fresh.remove(id) {
                        stored.insert(id.to_owned(), invoice.clone());
                        return Ok(IssueOutcome::Inserted);
                    }
                    stored
                        .get(id)
                        .map(|stored| IssueOutcome::Existing(Box::new(stored.clone())))
                        .ok_or_else(|| {
                            LedgerError::new(format!("invoice {id} was neither new nor stored"))
                        })
                })
                .collect())
        })
    }

    fn get(&self, id: &InvoiceId) -> Result<Option<InvoiceRecord>, LedgerError> {
        Ok(self.get_all(std::slice::from_ref(id))?.pop().flatten())
    }

    fn get_all(&self, ids: &[InvoiceId]) -> Result<Vec<Option<InvoiceRecord>>, LedgerError> {
        let ids: Vec<&str> = ids.iter().map(InvoiceId::as_str).collect();
        self.read(|transaction| records(transaction, &ids).map_err(|error| failed(&error))?)
    }

    fn begin_attempts(&self, attempts: &[Attempt]) -> Result<(), LedgerError> {
        let ids: Vec<&str> = attempts.iter().map(|a| a.invoice().as_str()).collect();
        self.write_checked(|transaction| {
            let mut records = match locked_records(transaction, &ids)? {
                Ok(records) => records,
                Err(error) => return Ok(Err(error)),
            };
            for attempt in attempts {
                let id = attempt.invoice();
                let Some(record) = records.get_mut(id.as_str()) else {
                    return Ok(Err(LedgerError::not_found(format!(
                        "invoice {id} not found"
                    ))));
                };
                if let Err(error) = check_append(record, attempt) {
                    return Ok(Err(error));
                }
                let mut attempts = record.attempts().to_vec();
                attempts.push(attempt.clone());
                *record = match InvoiceRecord::new(record.invoice().clone(), attempts) {
                    Ok(record) => record,
                    Err(error) => return Ok(Err(error)),
                };
            }
            let numbers: Vec<i64> = attempts.iter().map(|a| i64::from(a.number())).collect();
            let keys: Vec<&str> = attempts.iter().map(|a| a.key().as_str()).collect();
            let methods: Vec<&str> = attempts
                .iter()
                .map(|a| a.payment_method().as_str())
                .collect();
            let amounts: Vec<i64> = attempts.iter().map(|a| a.amount().minor_units()).collect();
            let currencies: Vec<&str> = attempts
                .iter()
                .map(|a| a.amount().currency().code())
                .collect();
            let created: Vec<i64> = attempts
                .iter()
                .map(|a| unix_millis(a.created_at()))
                .collect();
            let updated: Vec<i64> = attempts
                .iter()
                .map(|a| unix_millis(a.updated_at()))
                .collect();
            transaction.execute(
                &format!(
                    "INSERT INTO attempts ({ATTEMPT_COLUMNS}) \
                     SELECT i, n, k, m, a, c, 'pending', NULL, cr, up FROM unnest($1::text[], \
                       $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], \
                       $7::bigint[], $8::bigint[]) AS t (i, n, k, m, a, c, cr, up) ORDER BY i, n"
                ),
                &[
                    &ids,
                    &numbers,
                    &keys,
                    &methods,
                    &amounts,
                    &currencies,
                    &created,
                    &updated,
                ],
            )?;
            Ok(Ok(()))
        })
    }

    fn finish_attempts(&self, updates: &[AttemptUpdate]) -> Result<(), LedgerError> {
        let ids: Vec<&str> = updates.iter().map(|u| u.invoice().as_str()).collect();
        self.write_checked(|transaction| {
            let mut records = match locked_records(transaction, &ids)? {
                Ok(records) => records,
                Err(error) => return Ok(Err(error)),
            };
            let mut applied = Vec::with_capacity(updates.len());
            for update in updates {
                let id = update.invoice();
                let Some(record) = records.get_mut(id.as_str()) else {
                    return Ok(Err(LedgerError::not_found(format!(
                        "invoice {id} not found"
                    ))));
                };
                match apply_update(record, update) {
                    Ok(true) => applied.push(update),
                    Ok(false) => {}
                    Err(error) => return Ok(Err(error)),
                }
            }
            if applied.is_empty() {
                return Ok(Ok(()));
            }
            let ids: Vec<&str> = applied.iter().map(|u| u.invoice().as_str()).collect();
            let numbers: Vec<i64> = applied.iter().map(|u| i64::from(u.number())).collect();
            let outcomes: Vec<&str> = applied.iter().map(|u| u.outcome().name()).collect();
            let details: Vec<Option<String>> = applied
                .iter()
                .map(|u| u.outcome().detail().map(str::to_owned))
                .collect();
            let at: Vec<i64> = applied.iter().map(|u| unix_millis(u.at())).collect();
            // An attempt updated twice in one batch ends as its last update,
            // as it would one update at a time.
            transaction.execute(
                "UPDATE attempts AS a SET outcome = u.o, detail = u.d, updated_at_ms = u.t \
                 FROM (SELECT DISTINCT ON (i, n) i, n, o, d, t FROM unnest($1::text[], \
                   $2::bigint[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY \
                   AS x (i, n, o, d, t, ord) ORDER BY i, n, ord DESC) AS u \
                 WHERE a.invoice_id = u.i AND a.number = u.n",
                &[&ids, &numbers, &outcomes, &details, &at],
            )?;
            Ok(Ok(()))
        })
    }

    fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethod,
    ) -> Result<(), LedgerError> {
        let changed = self.write(|transaction| {
            transaction.execute(
                "UPDATE invoices SET payment_method = $2 WHERE id = $1",
                &[&id.as_str(), &payment_method.as_str()],
            )
        })?;
        if changed == 0 {
            return Err(LedgerError::not_found(format!("invoice {id} not found")));
        }
        Ok(())
    }

    fn list(
        &self,
        filter: &InvoiceFilter,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<InvoiceRecord>, LedgerError> {
        if let Some(id) = filter.id() {
            let record = self.get(id)?;
            return Ok(paging::by_id(filter, id, after, limit, record));
        }
        self.read(|transaction| {
            // One query for a page's ids and two for their records, so the
            // records come with the page.
            let page = |cursor: &str| {
                let ids: Vec<String> = transaction
                    .query(
                        "SELECT id FROM invoices WHERE id > $1 ORDER BY id LIMIT $2",
                        &[&cursor, &sql_int(LIST_CHUNK)],
                    )
                    .and_then(|rows| rows.iter().map(|row| row.try_get(0)).collect())
                    .map_err(|error| failed(&error))?;
                let chunk: Vec<&str> = ids.iter().map(String::as_str).collect();
                let records = records(transaction, &chunk).map_err(|error| failed(&error))??;
                Ok(ids.into_iter().zip(records).collect())
            };
            paging::filtered(filter, after, limit, page, |_, record| Ok(record))
        })
    }

    fn unsettled_attempts(
        &self,
        after: Option<(&InvoiceId, u32)>,
        limit: usize,
    ) -> Result<Vec<Attempt>, LedgerError> {
        let (id, number) = after.map_or(("", 0), |(id, number)| (id.as_str(), i64::from(number)));
        let limit = sql_int(limit);
        self.read(|transaction| {
            let rows = transaction
                .query(
                    &format!(
                        "SELECT {ATTEMPT_COLUMNS} FROM attempts \
                         WHERE outcome IN ('pending', 'unknown') AND (invoice_id, number) > ($1, $2) \
                         ORDER BY invoice_id, number LIMIT $3"
                    ),
                    &[&id, &number, &limit],
                )
                .map_err(|error| failed(&error))?;
            rows.iter()
                .map(|row| {
                    read_attempt(row)
                        .map_err(|error| failed(&error))
                        .and_then(AttemptRow::into_attempt)
                })
                .collect()
        })
    }

    fn credited_before_payment(&self, ids: &[InvoiceId]) -> Result<Vec<i64>, LedgerError> {
        let texts: Vec<&str> = ids.iter().map(InvoiceId::as_str).collect();
        self.read(|transaction| {
            // One round trip for the batch.
            let rows = transaction
                .query(
                    "SELECT invoice_id, sum(total)::BIGINT FROM credit_notes \
                     WHERE invoice_id = ANY($1) AND kind = 'pre_payment' GROUP BY invoice_id",
                    &[&texts],
                )
                .map_err(|error| failed(&error))?;
            let mut credited = HashMap::new();
            for row in &rows {
                let id: &str = row.try_get(0).map_err(|error| failed(&error))?;
                let total: i64 = row.try_get(1).map_err(|error| failed(&error))?;
                credited.insert(id.to_owned(), total);
            }
            Ok(texts
                .iter()
                .map(|id| credited.get(*id).copied().unwrap_or(0))
                .collect())
        })
    }
}

impl Claims for PgLedger {
    fn claim(
        &self,
        worker: &WorkerId,
        ids: &[InvoiceId],
        lease: Duration,
    ) -> Result<Vec<ClaimOutcome>, LedgerError> {
        // An upsert cannot touch one row twice: each id once, in id order
        // (so that overlapping claims lock in the same order).
        let mut unique: Vec<&str> = ids.iter().map(InvoiceId::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let lease = lease_ms(lease);
        let (claimed, holders) = self.write(|transaction| {
            // Inserted, taken over when the lease ran out, or renewed by its
            // holder: returned. Held by another worker: not.
            let claimed: Vec<String> = transaction
                .query(
                    &format!(
                        "INSERT INTO claims (invoice_id, worker, expires_at_ms) \
                         SELECT id, $2, {NOW_MS} + $3 FROM unnest($1::text[]) AS t (id) \
                         ORDER BY id \
                         ON CONFLICT (invoice_id) DO UPDATE \
                         SET worker = excluded.worker, expires_at_ms = excluded.expires_at_ms \
                         WHERE claims.expires_at_ms <= {NOW_MS} OR claims.worker = excluded.worker \
                         RETURNING invoice_id"
                    ),
                    &[&unique, &worker.as_str(), &lease],
                )?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?;
            let held: Vec<&str> = unique
                .iter()
                .copied()
                .filter(|id| !claimed.iter().any(|c| c == id))
                .collect();
            let holders: HashMap<String, String> = transaction
                .query(
                    "SELECT invoice_id, worker FROM claims WHERE invoice_id = ANY($1)",
                    &[&held],
                )?
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect::<Result<_, postgres::Error>>()?;
            Ok((claimed, holders))
        })?;
        let claimed: std::collections::HashSet<String> = claimed.into_iter().collect();
        ids.iter()
            .map(|id| {
                if claimed.contains(id.as_str()) {
                    return Ok(ClaimOutcome::Claimed);
                }
                let holder = holders.get(id.as_str()).ok_or_else(|| {
                    LedgerError::new(format!("invoice {id} is neither claimed nor held"))
                })?;
                WorkerId::new(holder.clone())
                    .map(ClaimOutcome::HeldBy)
                    .map_err(invalid)
            })
            .collect()
    }

    fn release(&self, worker: &WorkerId, ids: &[InvoiceId]) -> Result<(), LedgerError> {
        let ids: Vec<&str> = ids.iter().map(InvoiceId::as_str).collect();
        self.write(|transaction| {
            transaction.execute(
                "DELETE FROM claims WHERE worker = $1 AND invoice_id = ANY($2)",
                &[&worker.as_str(), &ids],
            )
        })?;
        Ok(())
    }

    fn claims(
        &self,
        after: Option<&InvoiceId>,
        limit: usize,
    ) -> Result<Vec<HeldClaim>, LedgerError> {
        let after = after.map_or("", InvoiceId::as_str);
        let limit = sql_int(limit);
        self.read(|transaction| {
            let rows = transaction
                .query(
                    &format!(
                        "SELECT invoice_id, worker, expires_at_ms <= {NOW_MS} FROM claims \
                         WHERE invoice_id > $1 ORDER BY invoice_id LIMIT $2"
                    ),
                    &[&after, &limit],
                )
                .map_err(|error| failed(&error))?;
            rows.iter()
                .map(|row| {
                    let (invoice, worker, expired): (String, String, bool) = (
                        row.try_get(0).map_err(|error| failed(&error))?,
                        row.try_get(1).map_err(|error| failed(&error))?,
                        row.try_get(2).map_err(|error| failed(&error))?,
                    );
                    Ok(HeldClaim::new(
                        InvoiceId::new(invoice).map_err(invalid)?,
                        WorkerId::new(worker).map_err(invalid)?,
                        expired,
                    ))
                })
                .collect()
        })
    }
}

/// The columns of a batch of invoices, one array each, for one `unnest`.
struct Columns<'a> {
    text: [Vec<&'a str>; 6],
    loyalty_member: Vec<bool>,
    days_overdue: Vec<i64>,
    amounts: [Vec<i64>; 6],
    rates: [Vec<String>; 6],
    late_fee_after_days: Vec<i64>,
    rates_version: Vec<Option<&'a str>>,
    issued_at_ms: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn of(invoices: &'a [IssuedInvoice]) -> Columns<'a> {
        let mut columns = Columns {
            text: Default::default(),
            loyalty_member: Vec::with_capacity(invoices.len()),
            days_overdue: Vec::with_capacity(invoices.len()),
            amounts: Default::default(),
            rates: Default::default(),
            late_fee_after_days: Vec::with_capacity(invoices.len()),
            rates_version: Vec::with_capacity(invoices.len()),
            issued_at_ms: Vec::with_capacity(invoices.len()),
        };
        for invoice in invoices {
            let parts = invoice.parts();
            let texts = [
                parts.id.as_str(),
                parts.customer.as_str(),
                parts.payment_method.as_str(),
                parts.currency.code(),
                parts.line_items.as_str(),
                parts.tier.as_str(),
            ];
            for (column, value) in columns.text.iter_mut().zip(texts) {
                column.push(value);
            }
            columns.loyalty_member.push(parts.loyalty_member);
            columns.days_overdue.push(i64::from(parts.days_overdue));
            let amounts = parts.breakdown.amounts().map(pricing::Money::minor_units);
            for (column, value) in columns.amounts.iter_mut().zip(amounts) {
                column.push(value);
            }
            for (column, rate) in columns.rates.iter_mut().zip(parts.rates.values()) {
                column.push(rate.to_string());
            }
            columns
                .late_fee_after_days
                .push(i64::from(parts.rates.late_fee_after_days()));
            columns.rates_version.push(parts.rates.version());
            columns.issued_at_ms.push(unix_millis(parts.issued_at));
        }
        columns
    }

    fn params(&self) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::with_capacity(23);
        for column in &self.text {
            params.push(column);
        }
        params.push(&self.loyalty_member);
        params.push(&self.days_overdue);
        for column in &self.amounts {
            params.push(column);
        }
        for column in &self.rates {
            params.push(column);
        }
        params.push(&self.late_fee_after_days);
        params.push(&self.rates_version);
        params.push(&self.issued_at_ms);
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_of_schema_4_keeps_its_documents_and_takes_billed_credit_notes_after_migration_5() {
        let Some(server) = crate::testing::server() else {
            return;
        };
        let schema = crate::testing::Schema::new(&server);
        let url = schema.url();
        let mut v4 = Client::connect(&url, postgres::NoTls).unwrap();
        let mut setup = String::from(
            "CREATE TABLE ledgerly_schema (kind TEXT PRIMARY KEY, version BIGINT NOT NULL);",
        );
        for step in &MIGRATIONS[..4] {
            setup.push_str(step);
            setup.push(';');
        }
        setup.push_str(&crate::document_rows::migration_5::schema_4_rows("true"));
        setup.push_str(";INSERT INTO ledgerly_schema VALUES ('ledger', 4);");
        v4.batch_execute(&setup).unwrap();

        let ledger = PgLedger::connect(&url).unwrap();

        assert_eq!(PgLedger::schema_version(&url).unwrap(), 5);
        crate::document_rows::migration_5::assert_kept_and_billable(&ledger);
        // The old checks are gone and the new ones hold: a billed credit
        // note with a positive total is still refused.
        v4.batch_execute(
            "INSERT INTO corrections VALUES ('fix-4', 'x', 'fnv1a64:d', 'fnv1a64:e', NULL,
                '0.15', '0.10', '0.05', '0.02', '0.08', '0.05', 30, 'sha256:ab', 'test', 0)",
        )
        .unwrap();
        let refused = v4
            .batch_execute(
                "INSERT INTO credit_notes VALUES ('INV-1', 9, 'fix-4', 'billed', 'USD',
                    0, 1, 0, 0, 0, 1, 15000, -2250, -255, 1000, 674, 14169, 0)",
            )
            .unwrap_err();
        assert!(
            format!("{refused:?}").contains("credit_notes_kind_total"),
            "a billed credit note must be negative: {refused:?}"
        );
    }

    #[test]
    fn the_schema_version_is_the_number_of_migrations_and_the_sqlite_ledgers() {
        assert_eq!(
            usize::try_from(PgLedger::SCHEMA_VERSION).ok(),
            Some(MIGRATIONS.len())
        );
        assert_eq!(
            PgLedger::SCHEMA_VERSION,
            crate::SqliteLedger::SCHEMA_VERSION
        );
    }
}
