//! The records of the commands that work on the ledger: what `charge`
//! writes for each invoice, and the listings of `invoices` and `sandbox
//! captures`, and the summary a run ends with. (Priced invoices are the
//! batch engine's: `batch::write`.)

pub(crate) mod charge;
pub(crate) mod ledger;
pub(crate) mod markdown;
pub(crate) mod money;
pub(crate) mod summary;
