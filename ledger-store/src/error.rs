//! Why a ledger or sandbox file cannot be opened or used.

/// Why a file could not be opened as a ledger or as the sandbox's books.
/// Failures while reading and writing are billing's
/// [`LedgerError`](billing::LedgerError) and payment-gateway's
/// [`BooksError`](payment_gateway::BooksError) instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The file was written by a newer schema than this binary knows; it is
    /// left untouched. The command line maps this to its own exit code.
    #[error(
        "{kind} {path} has schema version {found}, newer than the {supported} this ledgerly knows; use a newer ledgerly (it was not changed)"
    )]
    NewerSchema {
        /// The file.
        path: String,
        /// `ledger` or `sandbox books`.
        kind: &'static str,
        /// The version in the file.
        found: i64,
        /// The newest version this binary knows.
        supported: i64,
    },
    /// The file is a database of another kind (a ledger opened as the
    /// sandbox's books, say) or of another program.
    #[error("{path} is not a ledgerly {expected} file")]
    WrongKind {
        /// The file.
        path: String,
        /// What it was opened as.
        expected: &'static str,
    },
    /// The file's storage cannot give what the ledger needs.
    #[error("{path} cannot be used: {message}")]
    Unsupported {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// PostgreSQL refused the connection, or failed to migrate the tables.
    #[error("{url}: {message}")]
    Postgres {
        /// The database's URL, without its password.
        url: String,
        /// What PostgreSQL said.
        message: String,
    },
    /// SQLite failed to open, read or migrate the file.
    #[error("{path}: {message}")]
    Sqlite {
        /// The file.
        path: String,
        /// SQLite's message.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn sqlite(path: &std::path::Path, error: &rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: path.display().to_string(),
            message: error.to_string(),
        }
    }
}
