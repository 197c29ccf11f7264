//! The PostgreSQL backends: the ledger ([`PgLedger`]) and the sandbox's
//! books ([`PgSandboxBooks`]) in a database several hosts share.
//!
//! The same rules as the SQLite files, kept by the database instead of a
//! file lock: every write is one transaction, committed before the method
//! returns; each kind records its schema version (in `ledgerly_schema`) and
//! migrates forward on connect, under an advisory lock so that hosts
//! starting at once migrate once; a database written by a newer schema is
//! refused and left untouched.

mod books;
mod corrections;
mod ledger;

use std::error::Error as _;

pub use books::PgSandboxBooks;
pub use ledger::PgLedger;
use postgres::{Client, NoTls};

use crate::StoreError;

/// What a set of tables holds, its migrations, and the advisory lock its
/// migrations run under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// The name used in messages and in `ledgerly_schema`.
    pub(crate) name: &'static str,
    /// `pg_advisory_xact_lock`'s key while migrating (the SQLite files'
    /// application id, for the same kind).
    pub(crate) lock: i64,
    /// The migrations, in order: migration `n` (from 1) takes the schema
    /// from version `n - 1` to `n`. Never edit one that shipped; add one.
    pub(crate) migrations: &'static [&'static str],
}

/// `url` with its password, if any, replaced by `***`: messages name the
/// database, never its secret, whatever the URL's shape.
///
/// Every place the driver could read a password from is masked: the user
/// information of a URL (up to its last `@`, so an unencoded `/`, `?` or `@`
/// in the password is masked too) and every `password=` parameter, in a URL
/// or a key=value connection string. Then the password the driver's own
/// parser finds is looked for in what is left, as a last net; a text the
/// driver cannot parse is shown only as its scheme.
pub fn redact(url: &str) -> String {
    let mut shown = mask_user_info(url);
    shown = mask_password_parameters(&shown);
    match url.parse::<postgres::Config>() {
        Ok(config) => {
            // Both places the driver reads are masked above; this net is
            // for a spelling they missed (an escape in a key=value string).
            // A password of one or two characters left after them would be
            // one the user's text does not hold, and replacing it would
            // garble every other word.
            if let Some(password) = config.get_password() {
                let password = String::from_utf8_lossy(password);
                if password.chars().count() >= 3 {
                    shown = shown.replace(password.as_ref(), "***");
                }
            }
            shown
        }
        Err(_) => match url.find("://") {
            Some(end) => format!("{}://…", &url[..end]),
            // Without `=` there is no parameter, so no password to hide.
            None if !url.contains('=') => url.to_owned(),
            None => "a connection string that does not parse".to_owned(),
        },
    }
}

/// A URL's `user:password@` with the password masked.
fn mask_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    // The driver ends the user information at the first `@`; masking up to
    // the last one covers that and any stranger reading.
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Every `password=` parameter's value masked: up to the next `&` in a
/// URL's query, up to the next space (or the closing quote) in a key=value
/// string.
fn mask_password_parameters(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("password=") {
        let value_start = at + "password=".len();
        shown.push_str(&rest[..value_start]);
        let value = &rest[value_start..];
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            quoted.find('\'').map_or(value.len(), |close| close + 2)
        } else {
            value.find(['&', ' ']).unwrap_or(value.len())
        };
        shown.push_str("***");
        rest = &value[end..];
    }
    shown.push_str(rest);
    shown
}

/// What PostgreSQL said, in one line: its message for a database error,
/// else the client's description and its cause.
pub(crate) fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match error.source() {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

/// Connects to `url` and migrates `kind`'s tables to the newest schema this
/// binary knows, refusing a newer one.
pub(crate) fn connect(url: &str, kind: Kind) -> Result<Client, StoreError> {
    let failed = |error: postgres::Error| StoreError::Postgres {
        url: redact(url),
        message: describe(&error),
    };
    let mut client = Client::connect(url, NoTls).map_err(failed)?;
    migrate(url, &mut client, kind)?;
    Ok(client)
}

/// Connects to `url` for reading `kind`'s tables only: the session's
/// transactions are read-only (a write fails, so a read-only role or a
/// replica will do), nothing is migrated, and a database without `kind`'s
/// tables, or with a newer schema, is refused.
pub(crate) fn connect_read_only(url: &str, kind: Kind) -> Result<Client, StoreError> {
    let failed = |error: postgres::Error| StoreError::Postgres {
        url: redact(url),
        message: describe(&error),
    };
    let mut client = Client::connect(url, NoTls).map_err(failed)?;
    client
        .batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        .map_err(failed)?;
    match read_version(&mut client, kind.name).map_err(failed)? {
        0 => Err(StoreError::WrongKind {
            path: redact(url),
            expected: kind.name,
        }),
        version => refuse_newer(url, kind, version).map(|()| client),
    }
}

/// Refuses `kind`'s tables at `url` when a newer ledgerly wrote them.
fn refuse_newer(url: &str, kind: Kind, version: i64) -> Result<(), StoreError> {
    let supported = i64::try_from(kind.migrations.len()).unwrap_or(i64::MAX);
    if version > supported {
        return Err(StoreError::NewerSchema {
            path: redact(url),
            kind: kind.name,
            found: version,
            supported,
        });
    }
    Ok(())
}

/// `kind`'s schema version in the database (0 when it has none).
fn read_version(client: &mut Client, kind: &str) -> Result<i64, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('ledgerly_schema') IS NOT NULL", &[])?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    client
        .query_opt(
            "SELECT version FROM ledgerly_schema WHERE kind = $1",
            &[&kind],
        )?
        .map_or(Ok(0), |row| row.try_get(0))
}

fn migrate(url: &str, client: &mut Client, kind: Kind) -> Result<(), StoreError> {
    let failed = |error: postgres::Error| StoreError::Postgres {
        url: redact(url),
        message: describe(&error),
    };
    let supported = i64::try_from(kind.migrations.len()).unwrap_or(i64::MAX);
    let mut transaction = client.transaction().map_err(failed)?;
    // One host migrates at a time; the version is read under the lock.
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&kind.lock])
        .map_err(failed)?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS ledgerly_schema (
                kind TEXT PRIMARY KEY,
                version BIGINT NOT NULL CHECK (version >= 0)
            )",
        )
        .map_err(failed)?;
    let version: i64 = transaction
        .query_opt(
            "SELECT version FROM ledgerly_schema WHERE kind = $1",
            &[&kind.name],
        )
        .map_err(failed)?
        .map_or(Ok(0), |row| row.try_get(0))
        .map_err(failed)?;
    refuse_newer(url, kind, version)?;
    let start = usize::try_from(version).unwrap_or(0);
    for step in kind.migrations.iter().skip(start) {
        transaction.batch_execute(step).map_err(failed)?;
    }
    transaction
        .execute(
            "INSERT INTO ledgerly_schema (kind, version) VALUES ($1, $2) \
             ON CONFLICT (kind) DO UPDATE SET version = excluded.version",
            &[&kind.name, &supported],
        )
        .map_err(failed)?;
    transaction.commit().map_err(failed)
}

/// The schema version `kind` has in the database at `url` (0 when it has
/// none), without migrating it.
pub(crate) fn version_of(url: &str, kind: &str) -> Result<i64, StoreError> {
    let failed = |error: postgres::Error| StoreError::Postgres {
        url: redact(url),
        message: describe(&error),
    };
    let mut client = Client::connect(url, NoTls).map_err(failed)?;
    read_version(&mut client, kind).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown_whatever_the_urls_shape() {
        let secret = "s3cr/et?x";
        for url in [
            "postgres://billing:s3cr/et?x@db/ledgerly".to_owned(),
            "postgres://billing@db/ledgerly?password=s3cr/et?x".to_owned(),
            "postgres://billing@db/ledgerly?sslmode=disable&password=s3cr/et?x&x=1".to_owned(),
            "postgresql://billing:s3cr%2Fet%3Fx@db/ledgerly".to_owned(),
            "host=db user=billing password=s3cr/et?x dbname=ledgerly".to_owned(),
            "host=db user=billing password='s3cr/et?x' dbname=ledgerly".to_owned(),
            format!("postgres://billing:{secret}@db:5432/ledgerly?host=/run/pg"),
        ] {
            let shown = redact(&url);
            assert!(!shown.contains("s3cr"), "{url} -> {shown}");
            assert!(
                shown.contains("billing") || shown.ends_with("://…"),
                "{url} -> {shown}"
            );
        }
        // A text the driver cannot parse is shown as its scheme only.
        assert_eq!(
            redact("postgres://billing:s3cret@db:notaport/x"),
            "postgres://…"
        );
    }

    #[test]
    fn a_password_in_a_url_is_never_shown() {
        assert_eq!(
            redact("postgres://billing:s3cret@db.internal:5432/ledgerly"),
            "postgres://billing:***@db.internal:5432/ledgerly"
        );
        assert_eq!(
            redact("postgresql://billing:p@ss@db/ledgerly?sslmode=disable"),
            "postgresql://billing:***@db/ledgerly?sslmode=disable"
        );
        for kept in [
            "postgres://billing@db/ledgerly",
            "postgres://db/ledgerly?user=a",
            "postgres:///ledgerly?host=/tmp",
            "not a url",
        ] {
            assert_eq!(redact(kept), kept);
        }
    }

    #[test]
    fn a_quoted_password_is_masked_up_to_its_closing_quote_and_no_further() {
        assert_eq!(
            redact("host=db password='hunter 22' user=billing dbname=ledgerly"),
            "host=db password=*** user=billing dbname=ledgerly"
        );
    }

    #[test]
    fn a_connection_string_that_does_not_parse_is_never_echoed() {
        let shown = redact("host=db password=hunter22 port=notaport");
        assert_eq!(shown, "a connection string that does not parse");
    }
}
