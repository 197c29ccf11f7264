//! Where the durable files are and how they are opened: the ledger
//! (`--db`, else `LEDGERLY_DB`, else `ledgerly.db`) and the sandbox
//! processor's books (`--sandbox-db`, else `ledgerly-sandbox.db` beside the
//! ledger). Times and durations are `time.rs`'s.

use std::path::{Path, PathBuf};

use ledger_store::{AnyBooks, AnyLedger, Location, StoreError};

use crate::error::AppError;

/// The ledger's file name when neither `--db` nor `LEDGERLY_DB` names one.
pub(crate) const DEFAULT_LEDGER: &str = "ledgerly.db";
/// The environment variable that overrides [`DEFAULT_LEDGER`].
pub(crate) const LEDGER_ENV: &str = "LEDGERLY_DB";
/// The sandbox's books' file name, beside the ledger.
pub(crate) const DEFAULT_SANDBOX: &str = "ledgerly-sandbox.db";

/// Whether a command may create a missing file (`charge`), needs it to
/// exist already (`reconcile`, which settles), or only reads it (the
/// listings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// Create the file if it is missing.
    Create,
    /// Refuse a missing file (exit 66).
    Existing,
    /// Refuse a missing file (exit 66), and open the others for reading
    /// only: nothing is created, migrated or written, so a listing works on
    /// a file the user may only read and never changes it.
    ReadOnly,
}

/// The ledger's location: `--db`, else `LEDGERLY_DB` (when set and not
/// empty), else `ledgerly.db` in the working directory. A `postgres://` or
/// `postgresql://` URL names a PostgreSQL database, anything else a file.
pub(crate) fn ledger_location(db: Option<&Path>) -> Location {
    Location::parse(ledger_path_from(
        db,
        std::env::var_os(LEDGER_ENV).map(PathBuf::from),
    ))
}

fn ledger_path_from(db: Option<&Path>, env: Option<PathBuf>) -> PathBuf {
    match (db, env) {
        (Some(db), _) => db.to_path_buf(),
        (None, Some(env)) if !env.as_os_str().is_empty() => env,
        _ => PathBuf::from(DEFAULT_LEDGER),
    }
}

/// The sandbox's books' location: `--sandbox-db`, else beside the ledger:
/// `ledgerly-sandbox.db` in the ledger file's directory, or the ledger's
/// own PostgreSQL database (tables of their own, never a shared
/// transaction).
pub(crate) fn sandbox_location(sandbox_db: Option<&Path>, ledger: &Location) -> Location {
    match (sandbox_db, ledger) {
        (Some(path), _) => Location::parse(path),
        (None, Location::File(ledger)) => Location::File(ledger.with_file_name(DEFAULT_SANDBOX)),
        (None, Location::Postgres(url)) => Location::Postgres(url.clone()),
    }
}

fn check_exists(location: &Location, kind: &'static str, open: Open) -> Result<(), AppError> {
    if let Location::File(path) = location
        && open != Open::Create
        && !path.exists()
    {
        return Err(AppError::NoStore {
            kind,
            path: path.clone(),
        });
    }
    Ok(())
}

/// How one kind of store is opened, for reading and writing or for
/// reading only.
struct Openers<T> {
    kind: &'static str,
    read_write: fn(&Location) -> Result<T, StoreError>,
    read_only: fn(&Location) -> Result<T, StoreError>,
}

impl<T> Openers<T> {
    /// Opens the store at `location` as `open` says; a missing file is
    /// refused unless it may be created, a newer schema always (exit 78).
    fn open(&self, location: &Location, open: Open) -> Result<T, AppError> {
        check_exists(location, self.kind, open)?;
        let opener = match open {
            Open::ReadOnly => self.read_only,
            Open::Create | Open::Existing => self.read_write,
        };
        opener(location).map_err(AppError::Store)
    }
}

/// How the ledger is opened.
const LEDGER: Openers<AnyLedger> = Openers {
    kind: "ledger",
    read_write: AnyLedger::open,
    read_only: AnyLedger::open_read_only,
};

/// How the sandbox's books are opened.
const BOOKS: Openers<AnyBooks> = Openers {
    kind: "sandbox books",
    read_write: AnyBooks::open,
    read_only: AnyBooks::open_read_only,
};

/// Opens the ledger at `location`.
pub(crate) fn open_ledger(location: &Location, open: Open) -> Result<AnyLedger, AppError> {
    LEDGER.open(location, open)
}

/// Opens the sandbox's books at `location`.
pub(crate) fn open_books(location: &Location, open: Open) -> Result<AnyBooks, AppError> {
    BOOKS.open(location, open)
}

/// The sandbox's books at `sandbox_db`, or beside the ledger at `db`.
pub(crate) fn books_location(db: Option<&Path>, sandbox_db: Option<&Path>) -> Location {
    sandbox_location(sandbox_db, &ledger_location(db))
}

/// The ledger at `db` and the sandbox's books beside it (or at
/// `sandbox_db`), both opened as `open` says: what every command that
/// talks to the sandbox processor starts with.
pub(crate) fn open_ledger_and_books(
    db: Option<&Path>,
    sandbox_db: Option<&Path>,
    open: Open,
) -> Result<(AnyLedger, AnyBooks), AppError> {
    let ledger = open_ledger(&ledger_location(db), open)?;
    let books = open_books(&books_location(db, sandbox_db), open)?;
    Ok((ledger, books))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_environment_then_the_default() {
        let flag = Path::new("a.db");
        assert_eq!(
            ledger_path_from(Some(flag), Some("b.db".into())),
            PathBuf::from("a.db")
        );
        assert_eq!(
            ledger_path_from(None, Some("b.db".into())),
            PathBuf::from("b.db")
        );
        assert_eq!(
            ledger_path_from(None, Some(PathBuf::new())),
            PathBuf::from("ledgerly.db")
        );
        assert_eq!(ledger_path_from(None, None), PathBuf::from("ledgerly.db"));
    }

    #[test]
    fn the_sandbox_books_sit_beside_the_ledger() {
        let file = |path: &str| Location::File(PathBuf::from(path));
        assert_eq!(
            sandbox_location(None, &file("ledgerly.db")),
            file("ledgerly-sandbox.db")
        );
        assert_eq!(
            sandbox_location(None, &file("/var/x/l.db")),
            file("/var/x/ledgerly-sandbox.db")
        );
        assert_eq!(
            sandbox_location(Some(Path::new("s.db")), &file("/var/x/l.db")),
            file("s.db")
        );
        let database = Location::Postgres("postgres://h/billing".into());
        assert_eq!(sandbox_location(None, &database), database);
        assert_eq!(
            sandbox_location(Some(Path::new("postgres://h/sandbox")), &file("l.db")),
            Location::Postgres("postgres://h/sandbox".into())
        );
    }
}
