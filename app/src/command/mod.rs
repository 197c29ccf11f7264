//! The subcommands, one module each. A command is a thin layer: it opens
//! its input, hands records to readers, pricing or billing, and writers,
//! and returns a [`Status`](crate::error::Status). Commands depend only on
//! the modules below them, never on one another.

pub(crate) mod charge;
pub(crate) mod completions;
pub(crate) mod invoice;
