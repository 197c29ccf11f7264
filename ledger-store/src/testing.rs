//! What tests need to run against a real PostgreSQL (feature `testing`):
//! the server a test run names, and a schema of its own per check.
//!
//! The server is named by `LEDGERLY_TEST_POSTGRES` (a URL whose user may
//! create schemas; `scripts/postgres start DIR` prints one for a throwaway
//! cluster, and `scripts/ci test` starts one). Without it a test says once
//! that it was skipped and passes, except under `CI=true`, where a missing
//! server is a failure: CI never skips them silently.

// Test support: a broken fixture is a panic, which the test reports.
#![allow(clippy::panic, clippy::missing_panics_doc)]

use std::io::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use postgres::{Client, NoTls};

/// The variable that names the test server.
pub const SERVER_ENV: &str = "LEDGERLY_TEST_POSTGRES";

/// The test server's URL, or `None` (said once on stderr) when there is
/// none and this is not CI. Under `CI=true` a missing server panics.
pub fn server() -> Option<String> {
    static SAID: Once = Once::new();
    match std::env::var(SERVER_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{SERVER_ENV} is not set under CI=true: the PostgreSQL tests must run \
                 (scripts/ci test starts a throwaway cluster)"
            );
            // Straight to stderr: the test harness shows what `eprintln!`
            // prints only when a test fails, and a skip must be seen.
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: no PostgreSQL ({SERVER_ENV} is not set); run `scripts/ci test`, \
                     or `export {SERVER_ENV}=$(scripts/postgres start /tmp/pg)`"
                );
            });
            None
        }
    }
}

/// `server` with its database replaced by `database`, whatever the URL's
/// shape (a socket cluster's `postgres:///postgres?host=…`, the workflow's
/// `postgres://user@localhost:5432/ledgerly`, or a key=value string): the
/// last `dbname` wins in the driver's parser, and the driver's own parser
/// checks that it did. Never by replacing text of one shape.
pub fn with_database(server: &str, database: &str) -> String {
    let derived = if server.contains("://") {
        let joiner = if server.contains('?') { '&' } else { '?' };
        format!("{server}{joiner}dbname={database}")
    } else {
        format!("{server} dbname={database}")
    };
    let config: postgres::Config = derived
        .parse()
        .unwrap_or_else(|error| panic!("{SERVER_ENV} is not a connection string: {error}"));
    assert_eq!(
        config.get_dbname(),
        Some(database),
        "the derived URL must name database {database}"
    );
    derived
}

/// A schema of its own on the server, dropped with this value: a fresh,
/// empty database for one check, without the cost of a database.
#[derive(Debug)]
pub struct Schema {
    server: String,
    name: String,
}

impl Schema {
    /// A new schema on `server`.
    pub fn new(server: &str) -> Schema {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Client::connect(server, NoTls)
            .unwrap_or_else(|error| panic!("cannot connect to {SERVER_ENV}: {error}"));
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .unwrap_or_else(|error| panic!("cannot create schema {name}: {error}"));
        Schema {
            server: server.to_owned(),
            name,
        }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's URL with this schema first on the search path.
    pub fn url(&self) -> String {
        let joiner = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{joiner}options=-csearch_path%3D{}",
            self.server, self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&self.server, NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
