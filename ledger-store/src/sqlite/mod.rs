//! The SQLite backends: the ledger ([`SqliteLedger`]) and the sandbox's
//! books ([`SqliteSandboxBooks`]), each in a file of its own.
//!
//! Both files use WAL mode and a busy timeout, so several processes can
//! share them; every write is one immediate transaction. Each file records
//! what it holds (`application_id`) and its schema version
//! (`user_version`), and migrates forward on open ([`schema`]).

mod books;
mod corrections;
mod ledger;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use crate::StoreError;

/// One open file of ours: its path and its one connection, behind a mutex.
/// The ledger and the books each hold one.
#[derive(Debug)]
struct SqliteFile {
    path: PathBuf,
    connection: Mutex<Connection>,
}

impl SqliteFile {
    /// Opens the file of `kind` at `path`, creating and migrating it as
    /// needed ([`schema::open`]).
    fn open(path: &Path, kind: schema::FileKind) -> Result<SqliteFile, StoreError> {
        let connection = schema::open(path, kind)?;
        Ok(SqliteFile {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    /// Opens the existing file of `kind` at `path` for reading only
    /// ([`schema::open_read_only`]).
    fn open_read_only(path: &Path, kind: schema::FileKind) -> Result<SqliteFile, StoreError> {
        let connection = schema::open_read_only(path, kind)?;
        Ok(SqliteFile {
            path: path.to_owned(),
            connection: Mutex::new(connection),
        })
    }

    /// The connection, even if a thread panicked while holding it: SQLite
    /// rolls back a transaction that was not committed, so nothing is half
    /// written.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

pub use books::SqliteSandboxBooks;
pub use ledger::SqliteLedger;
