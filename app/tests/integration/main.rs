//! The `ledgerly` crate's integration tests, one binary (as ripgrep and just
//! have it): the real binary driven as a user drives it — stdout, stderr and
//! exit code — plus the fuzz replay, with shared helpers in `util`.

// The helpers run only inside tests, where a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod charge;
mod conventions;
mod correct;
mod diff;
mod escape;
mod fuzz_regressions;
mod hostile;
mod invoice;
mod invoices;
mod layers;
mod rates;
mod readme;
mod reconcile;
mod reprice;
mod sample;
mod util;
