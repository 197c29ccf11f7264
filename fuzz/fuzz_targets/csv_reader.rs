//! Arbitrary bytes as a CSV batch: the reader and the batch path must never
//! panic, and `ledgerly::fuzzing::check` must find one record per invoice
//! (per run of rows sharing an id), in order, the same however the batch is
//! cut up, with every priced breakdown adding up to its total.
#![no_main]

use ledgerly::fuzzing::{self, InputFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Err(breach) = fuzzing::check(input, InputFormat::Csv) {
        panic!("{breach}");
    }
});
