//! Opening a database file: connection settings, the kind of file, and
//! migrations with a recorded schema version.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::StoreError;

/// How long a connection waits for another one's write lock before giving
/// up: long enough for several processes sharing one file to take turns.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many WAL pages accumulate before a commit checkpoints them into the
/// database (SQLite's default is 1000). Each checkpoint syncs both files,
/// and the sandbox writes a few pages per request, so at the default a run
/// of `ledgerly charge` spent most of its wall time in those syncs (100 000
/// invoices: 2.2k/s on disk against 6k/s on tmpfs); 16 384 pages (64 MiB
/// of WAL at most between checkpoints) makes them rare.
const WAL_AUTOCHECKPOINT: u32 = 16_384;

/// What a file holds, recorded in its `application_id` so that a ledger is
/// never opened as the sandbox's books or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileKind {
    /// The name used in messages.
    pub(crate) name: &'static str,
    /// `PRAGMA application_id`.
    pub(crate) application_id: i32,
    /// `PRAGMA synchronous`: `FULL` where a commit must survive a power cut,
    /// `NORMAL` where surviving a killed process is enough.
    pub(crate) synchronous: &'static str,
    /// The migrations, in order: migration `n` (from 1) takes the schema
    /// from version `n - 1` to `n`. Never edit one that shipped; add one.
    pub(crate) migrations: &'static [&'static str],
}

/// Opens `path` as a file of `kind`: creates it if missing, sets WAL mode,
/// its sync level and the busy timeout, checks what it is, and migrates it to
/// the newest schema this binary knows. A file written by a newer schema is
/// refused, so an older binary (a rollback) never writes to it.
pub(crate) fn open(path: &Path, kind: FileKind) -> Result<Connection, StoreError> {
    let failed = |error: rusqlite::Error| StoreError::sqlite(path, &error);
    refuse_what_is_not_a_file(path)?;
    let mut connection = Connection::open(path).map_err(failed)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    // What the file is, before anything is written to it: a database of
    // another program is refused untouched (not even switched to WAL).
    check_kind(path, &connection, kind, Access::ReadWrite)?;
    // WAL lets readers and one writer work at once across processes; the
    // synchronous level says whether a commit must survive a power cut.
    let mode = journal_mode_wal(&connection).map_err(failed)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unsupported {
            path: path.display().to_string(),
            message: format!("journal mode {mode} instead of wal"),
        });
    }
    connection
        .execute_batch(&format!(
            "PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT};",
            kind.synchronous
        ))
        .map_err(failed)?;
    migrate(path, &mut connection, kind)?;
    Ok(connection)
}

/// Opens the existing file of `kind` at `path` for reading only: nothing
/// is created, switched, stamped or migrated, so a listing works on a file
/// the user may only read (an auditor, a backup on read-only media) and
/// never changes what it reads. A file of another kind, or written by a
/// newer schema, is refused untouched. An older schema is read as it is:
/// every table a reader queries exists since version 1.
///
/// SQLite reads a WAL-mode file through its `-shm` index, which it creates
/// beside the file when it is missing; where it cannot (read-only media, a
/// directory the user may not write), nobody can be writing the file
/// either, so it is opened as immutable instead.
pub(crate) fn open_read_only(path: &Path, kind: FileKind) -> Result<Connection, StoreError> {
    let failed = |error: rusqlite::Error| StoreError::sqlite(path, &error);
    refuse_what_is_not_a_file(path)?;
    let open = |connection: Connection| -> Result<Connection, StoreError> {
        connection.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
        check_kind(path, &connection, kind, Access::ReadOnly)?;
        Ok(connection)
    };
    let shared = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(failed)
        .and_then(open);
    match shared {
        Err(StoreError::Sqlite { .. }) => {
            // A URI's own characters in the path are escaped.
            let escaped = path
                .display()
                .to_string()
                .replace('%', "%25")
                .replace('?', "%3f")
                .replace('#', "%23");
            let uri = format!("file:{escaped}?immutable=1");
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
            Connection::open_with_flags(uri, flags)
                .map_err(failed)
                .and_then(open)
        }
        other => other,
    }
}

/// Whether a command may write the file it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// A device, a directory or a pipe is no ledger: refused before SQLite
/// opens it, which would leave a journal beside `/dev/null`.
fn refuse_what_is_not_a_file(path: &Path) -> Result<(), StoreError> {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => Err(StoreError::Unsupported {
            path: path.display().to_string(),
            message: "not a regular file".to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Checks that the file at `path` is one of `kind`, written by a schema this
/// binary knows. For a write, a file with no id and no tables at all is a
/// new one (SQLite creates an empty file); for a read, only a file of
/// `kind` will do. Reads only.
fn check_kind(
    path: &Path,
    connection: &Connection,
    kind: FileKind,
    access: Access,
) -> Result<(), StoreError> {
    let failed = |error: rusqlite::Error| StoreError::sqlite(path, &error);
    // One statement, so one snapshot: another process creating the file
    // at the same moment is seen before its first commit or after it.
    let (application_id, version, tables): (i64, i64, i64) = connection
        .query_row(
            "SELECT (SELECT application_id FROM pragma_application_id), \
                    (SELECT user_version FROM pragma_user_version), \
                    (SELECT count(*) FROM sqlite_master)",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .map_err(failed)?;
    let new = application_id == 0 && version == 0 && tables == 0;
    if application_id != i64::from(kind.application_id) && !(new && access == Access::ReadWrite) {
        return Err(StoreError::WrongKind {
            path: path.display().to_string(),
            expected: kind.name,
        });
    }
    let supported = i64::try_from(kind.migrations.len()).unwrap_or(i64::MAX);
    if version > supported {
        return Err(StoreError::NewerSchema {
            path: path.display().to_string(),
            kind: kind.name,
            found: version,
            supported,
        });
    }
    Ok(())
}

/// Switches to WAL. The switch needs a lock the busy timeout does not wait
/// for, so when several processes create one file at once, the losers wait
/// and try again (the winner's switch is then already done).
fn journal_mode_wal(connection: &Connection) -> Result<String, rusqlite::Error> {
    let mut tries = 0_u32;
    loop {
        match connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)) {
            Err(error)
                if tries < 200
                    && error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

fn migrate(path: &Path, connection: &mut Connection, kind: FileKind) -> Result<(), StoreError> {
    let failed = |error: rusqlite::Error| StoreError::sqlite(path, &error);
    // One process migrates at a time: the immediate transaction takes the
    // write lock, and the version is read again under it.
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    check_kind(path, &transaction, kind, Access::ReadWrite)?;
    let version: i64 = transaction
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(failed)?;
    let start = usize::try_from(version).unwrap_or(0);
    for (index, step) in kind.migrations.iter().enumerate().skip(start) {
        transaction.execute_batch(step).map_err(failed)?;
        let reached = index.saturating_add(1);
        // PRAGMA takes no parameters; `reached` is a number we produced.
        transaction
            .execute_batch(&format!("PRAGMA user_version = {reached}"))
            .map_err(failed)?;
    }
    transaction
        .execute_batch(&format!("PRAGMA application_id = {}", kind.application_id))
        .map_err(failed)?;
    transaction.commit().map_err(failed)
}

/// The schema version recorded in the file at `path`, without migrating it.
pub(crate) fn version_of(path: &Path) -> Result<i64, StoreError> {
    let failed = |error: rusqlite::Error| StoreError::sqlite(path, &error);
    let connection = Connection::open(path).map_err(failed)?;
    connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(failed)
}
