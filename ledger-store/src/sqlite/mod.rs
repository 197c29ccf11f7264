//! The SQLite backends: the ledger ([`SqliteLedger`]) and the sandbox's
//! books ([`SqliteSandboxBooks`]), each in a file of its own.
//!
//! Both files use WAL mode and a busy timeout, so several processes can
//! share them; every write is one immediate transaction. Each file records
//! what it holds (`application_id`) and its schema version
//! (`user_version`), and migrates forward on open ([`schema`]).

mod books;
mod ledger;
mod schema;

pub use books::SqliteSandboxBooks;
pub use ledger::SqliteLedger;
