//! The backend conformance suite and the crash-safety property, against the
//! in-memory ledger. Run with `--features conformance` (the workspace's
//! `ledger-store` tests turn the feature on, so `cargo test --workspace`
//! runs these too).
#![cfg(feature = "conformance")]

use std::sync::Arc;

use billing::InMemoryLedger;
use billing::conformance;
use billing::conformance::strategies::{run, token};
use proptest::prelude::*;

/// A new in-memory storage; every call of the returned opener is a handle
/// on it.
fn fresh() -> impl Fn() -> Arc<InMemoryLedger> + Sync {
    let shared = Arc::new(InMemoryLedger::new());
    move || Arc::clone(&shared)
}

billing::conformance_tests!(fresh());

proptest! {
    /// Random schedules of crashes, gateway faults and day-long pauses,
    /// then a clean rerun: captured money is 0 or exactly the total, at
    /// most one capture per invoice, paid exactly when captured, with the
    /// captured charge's id.
    #[test]
    fn any_schedule_of_crashes_and_reruns_captures_each_invoice_at_most_once(
        token in token(),
        runs in proptest::collection::vec(run(), 0..6),
    ) {
        conformance::crash_and_rerun(&fresh(), "", token, &runs);
    }
}
