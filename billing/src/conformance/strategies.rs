//! proptest strategies for [`crash_and_rerun`](super::crash_and_rerun), one copy for every
//! backend's property test.

use std::ops::Range;

use payment_gateway::{DeclineCode, Fault, TestToken};
use proptest::prelude::*;
use proptest::sample::select;

use super::{CrashPoint, Run};

/// A gateway fault: unavailable, a lost request or reply, a decline.
pub fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::Unavailable),
        Just(Fault::RequestLost),
        Just(Fault::ReplyLost),
        select(DeclineCode::ALL.to_vec()).prop_map(Fault::Decline),
    ]
}

/// One run: a crash point (four times in five), up to three faults,
/// and a quarter of the time 25 hours after the one before.
pub fn run() -> impl Strategy<Value = Run> {
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

/// The card the invoice is paid with (a transient one failing up to twice).
pub fn token() -> impl Strategy<Value = TestToken> {
    token_failing(0..3)
}

/// The card the invoice is paid with, a transient one failing a number of
/// times in `failures`: the one mix of cards for every property test.
pub fn token_failing(failures: Range<u32>) -> impl Strategy<Value = TestToken> {
    prop_oneof![
        Just(TestToken::Success),
        Just(TestToken::ReplyLost),
        Just(TestToken::RequestLost),
        failures.prop_map(|failures| TestToken::Transient { failures }),
        select(DeclineCode::ALL.to_vec()).prop_map(TestToken::Decline),
    ]
}
