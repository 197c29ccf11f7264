//! The backend conformance suite and the crash-safety property, against the
//! in-memory ledger. Run with `--features conformance` (the workspace's
//! `ledger-store` tests turn the feature on, so `cargo test --workspace`
//! runs these too).
#![cfg(feature = "conformance")]

use std::sync::Arc;

use billing::InMemoryLedger;
use billing::conformance::{self, CrashPoint, Run};
use payment_gateway::{DeclineCode, Fault, TestToken};
use proptest::prelude::*;
use proptest::sample::select;

/// A new in-memory storage; every call of the returned opener is a handle
/// on it.
fn fresh() -> impl Fn() -> Arc<InMemoryLedger> + Sync {
    let shared = Arc::new(InMemoryLedger::new());
    move || Arc::clone(&shared)
}

billing::conformance_tests!(fresh());

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::Unavailable),
        Just(Fault::RequestLost),
        Just(Fault::ReplyLost),
        select(DeclineCode::ALL.to_vec()).prop_map(Fault::Decline),
    ]
}

fn run() -> impl Strategy<Value = Run> {
    (
        proptest::option::weighted(0.8, select(CrashPoint::ALL.to_vec())),
        proptest::collection::vec(fault(), 0..4),
        prop_oneof![3 => Just(0_u32), 1 => Just(25_u32)],
    )
        .prop_map(|(crash, faults, hours_later)| Run {
            crash,
            faults,
            hours_later,
        })
}

fn token() -> impl Strategy<Value = TestToken> {
    prop_oneof![
        Just(TestToken::Success),
        Just(TestToken::ReplyLost),
        Just(TestToken::RequestLost),
        (0_u32..3).prop_map(|failures| TestToken::Transient { failures }),
        select(DeclineCode::ALL.to_vec()).prop_map(TestToken::Decline),
    ]
}

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
