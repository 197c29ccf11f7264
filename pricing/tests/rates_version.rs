//! The rate table's version is pinned to its values.
//!
//! A change of any rate or of the late-fee threshold changes what customers
//! pay. Tests that check a rate can be edited in the same commit ("fix the
//! failing test"), so this pin asks for something a typo does not come
//! with: a new `RATES_VERSION`. The deploy gate compares that version with
//! the live release's, and refuses changed totals under an unchanged one.

use pricing::{RATES, RATES_VERSION};

/// The version and fingerprint of the rate table as last changed on purpose.
/// Update both, together with `RATES_VERSION` in `pricing/src/rates.rs`,
/// when a rate changes deliberately.
const PINNED_VERSION: u32 = 1;
const PINNED_FINGERPRINT: &str = "fnv1a64:be3a7a911fe6b6f8";

#[test]
fn the_rate_table_is_the_one_pinned_for_its_version() {
    let fingerprint = RATES.fingerprint();
    assert!(
        fingerprint == PINNED_FINGERPRINT,
        "the rate table changed (fingerprint {fingerprint}, pinned {PINNED_FINGERPRINT}): \
         if this is deliberate, bump RATES_VERSION in pricing/src/rates.rs and update \
         PINNED_VERSION and PINNED_FINGERPRINT in pricing/tests/rates_version.rs"
    );
}

#[test]
fn rates_version_is_the_pinned_version() {
    assert_eq!(
        RATES_VERSION, PINNED_VERSION,
        "RATES_VERSION is {RATES_VERSION} but the rate table was pinned as version \
         {PINNED_VERSION}: update PINNED_VERSION and PINNED_FINGERPRINT in \
         pricing/tests/rates_version.rs together with the rates"
    );
}
