//! Where invoices come from in a batch: blocks of whole lines, the text
//! field rules every reader applies, and the two readers (JSON Lines, CSV),
//! each a general path and a fast path tested against it.

pub(crate) mod csv;
pub(crate) mod fields;
pub(crate) mod jsonl;
pub(crate) mod lines;
