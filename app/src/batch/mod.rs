//! The batch engine: millions of invoices priced in parallel, in input
//! order, with memory bounded however long the input is. Half of the app,
//! with one rule: it imports only `pricing`, std and itself, plus the two
//! small interfaces of the process it runs in (`crate::progress` for the
//! progress line, `crate::signals` for a stop on SIGINT/SIGTERM that ends on
//! a record boundary). A layer test (`app/tests/integration/layers.rs`)
//! holds it to that.
//!
//! - `read`: input cut into blocks of whole lines (`lines`), the text
//!   field rules (`fields`), the JSON Lines reader (`jsonl`, with its fast
//!   scanner) and the CSV reader (`csv`);
//! - `pricer`: one chunk of input into its records, the only caller of
//!   `pricing` here;
//! - `write`: the records of priced invoices (text, JSON, JSON Lines, CSV),
//!   writers that only write;
//! - `pipeline`: the reader thread, the workers and the in-order writer;
//! - `pool`: reused buffers;
//! - `fuzzing` (feature `fuzzing`): the batch on bytes in memory and its
//!   oracle, for the fuzz targets.

#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub(crate) mod pipeline;
pub(crate) mod pool;
pub(crate) mod pricer;
pub(crate) mod read;
pub(crate) mod write;
