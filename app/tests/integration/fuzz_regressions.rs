//! Every fuzz seed and every input the fuzzers found a crash with, replayed
//! through the same oracle the fuzz targets use (`ledgerly::fuzzing::check`),
//! so `cargo test` keeps them fixed without a nightly toolchain.

use std::fs;
use std::path::PathBuf;

use ledgerly::fuzzing::{self, InputFormat};

/// The files of `fuzz/seeds/<target>/`, sorted, with their contents.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "fuzz", "seeds", target]
        .iter()
        .collect();
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| (path.display().to_string(), fs::read(&path).unwrap()))
        .collect()
}

/// Checks that `target` has a seed corpus (`corpus` names it if not) and
/// that every seed in it passes the fuzz oracle read as `format`.
fn every_seed_passes(target: &str, format: InputFormat, corpus: &str) {
    let seeds = seeds(target);
    assert!(seeds.len() >= 4, "the {corpus} seed corpus is missing");
    for (name, input) in seeds {
        // On a breach the Err holds what the oracle caught.
        assert_eq!(fuzzing::check(&input, format).map(drop), Ok(()), "{name}");
    }
}

#[test]
fn every_jsonl_seed_passes_the_fuzz_oracle() {
    every_seed_passes("jsonl_reader", InputFormat::Jsonl, "JSON Lines");
}

#[test]
fn every_csv_seed_passes_the_fuzz_oracle() {
    every_seed_passes("csv_reader", InputFormat::Csv, "CSV");
}

#[test]
fn the_jsonl_seed_with_escapes_and_crlf_prices_its_two_invoices() {
    let input = fs::read(
        [
            env!("CARGO_MANIFEST_DIR"),
            "..",
            "fuzz",
            "seeds",
            "jsonl_reader",
            "escapes_crlf.jsonl",
        ]
        .iter()
        .collect::<PathBuf>(),
    )
    .unwrap();
    let records = fuzzing::check(&input, InputFormat::Jsonl).unwrap();
    let summary: Vec<_> = records
        .iter()
        .map(|r| (r.line, r.id.as_str(), r.total.as_deref(), r.error.is_some()))
        .collect();
    // The id decodes its escapes, and is then refused: it ends in a line
    // break (a control character, which no id may hold). Line 4 is refused
    // (days_overdue is a string), after two blank lines.
    assert_eq!(
        summary,
        vec![(1, "café \"q\" \\ \n", None, true), (4, "", None, true)]
    );
}

#[test]
fn a_csv_input_without_the_header_is_refused_whole() {
    let records = fuzzing::check(
        b"id,tier,loyalty_member,days_overdue,price,quantity\nA,,,,1,1\n",
        InputFormat::Csv,
    )
    .unwrap();
    assert!(records.is_empty());
    assert!(
        fuzzing::price_batch(b"nope\n", InputFormat::Csv)
            .unwrap_err()
            .contains("CSV header")
    );
}

#[test]
fn the_oracle_sees_one_record_per_csv_invoice_in_order() {
    let input = b"invoice_id,tier,loyalty_member,days_overdue,price,quantity\n\
A,gold,true,45,40.00,3\nA,gold,true,45,15,2\n,,,,1,1\n,,,,x,1\nA,,,,1,1\n";
    let records = fuzzing::check(input, InputFormat::Csv).unwrap();
    let lines: Vec<_> = records.iter().map(|r| (r.line, r.id.as_str())).collect();
    assert_eq!(lines, vec![(2, "A"), (4, ""), (5, ""), (6, "A")]);
    assert_eq!(records[0].total.as_deref(), Some("141.69"));
    assert!(records[2].error.as_deref().unwrap().contains('x'));
}
