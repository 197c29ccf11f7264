//! `cargo xtask <task>`: what `scripts/ci` needs beyond running commands —
//! reading JSON and TOML, checking the mutants configuration — in Rust, so
//! the script stays bash orchestration with no third language inside it.
//!
//! Tasks (each prints what it found; exit 1 means the check failed, 2 a
//! usage error):
//! - `metadata target-directory` / `metadata version <package>`: from
//!   `cargo metadata` on stdin.
//! - `coverage <summary.json>`: the line-coverage figure of
//!   `cargo llvm-cov report --json --summary-only`.
//! - `mutants-exclusions <unfiltered-listing> <examined-count>`: every
//!   `exclude_re` of `.cargo/mutants.toml` must still match a mutant.
//! - `mutants-outcomes <outcomes.json>`: cargo-mutants' counts, one line.
//! - `hostile [--quick]`: the hostile input shapes through the release
//!   binary, with peak memory and time for each (`--quick`: a tenth of the
//!   sizes).
//! - `parse-floor <file.jsonl>`: every line parsed into `IgnoredAny` on two
//!   threads, the parse-only floor `scripts/bench --peers` times (run it
//!   optimised: `cargo run --release -p xtask -- parse-floor FILE`).
//! - `charge-bench`: `ledgerly charge` of 10 000 and 100 000 `tok_success`
//!   invoices on a fresh durable ledger each, invoices/s and peak memory.
//! - `pace-bench`: `ledgerly charge` at a processor's pace: requests in
//!   flight, a rate limit shared by three workers, memory, no latency.
//! - `reprice-bench`: `ledgerly reprice` of 100 000 and 1 000 000 issued
//!   invoices, every one changed, beside the plain read of `invoices`.
//! - `workers-bench [URL]`: `ledgerly charge` of 100 000 invoices by 1, 2
//!   and 4 workers on one PostgreSQL (a throwaway cluster unless URL names
//!   one) beside one worker on SQLite: invoices/s, memory per worker.

// A command-line tool: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::process::ExitCode;

use serde_json::Value;

mod charge_bench;
mod hostile;
mod pace_bench;
mod parse_floor;
mod reprice_bench;
mod workers_bench;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["metadata", field @ ..] => metadata(field),
        ["coverage", summary] => coverage(summary),
        ["mutants-exclusions", listing, examined] => mutants_exclusions(listing, examined),
        ["mutants-outcomes", outcomes] => mutants_outcomes(outcomes),
        ["hostile"] => hostile::run(false),
        ["hostile", "--quick"] => hostile::run(true),
        ["parse-floor", file] => parse_floor::run(file),
        ["charge-bench"] => charge_bench::run(),
        ["pace-bench"] => pace_bench::run(),
        ["reprice-bench"] => reprice_bench::run(),
        ["workers-bench"] => workers_bench::run(None),
        ["workers-bench", url] => workers_bench::run(Some(url)),
        _ => {
            eprintln!(
                "usage: cargo xtask metadata target-directory | metadata version <package> | \
                 coverage <summary.json> | mutants-exclusions <listing> <count> | \
                 mutants-outcomes <outcomes.json> | hostile [--quick] | \
                 parse-floor <file.jsonl> | charge-bench | pace-bench | reprice-bench | workers-bench [URL]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads and parses a JSON file.
fn json_file(path: &str) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))?;
    serde_json::from_str(&text).map_err(|error| format!("{path} is not JSON: {error}"))
}

/// A field of `cargo metadata --no-deps --format-version 1`, read on stdin.
fn metadata(field: &[&str]) -> Result<(), String> {
    let metadata: Value = serde_json::from_reader(std::io::stdin().lock())
        .map_err(|error| format!("cargo metadata on stdin is not JSON: {error}"))?;
    let found = match field {
        ["target-directory"] => metadata["target_directory"].as_str().map(str::to_owned),
        ["version", package] => metadata["packages"]
            .as_array()
            .and_then(|packages| packages.iter().find(|p| p["name"] == **package))
            .and_then(|p| p["version"].as_str())
            .map(str::to_owned),
        _ => return Err(format!("unknown metadata field {field:?}")),
    };
    let found = found.ok_or_else(|| format!("cargo metadata has no {}", field.join(" ")))?;
    println!("{found}");
    Ok(())
}

/// Prints the line coverage of a `cargo llvm-cov` JSON summary. The gate
/// itself is `--fail-under-lines`, which fails without saying the figure.
fn coverage(summary: &str) -> Result<(), String> {
    let summary = json_file(summary)?;
    let lines = &summary["data"][0]["totals"]["lines"];
    let (Some(covered), Some(count), Some(percent)) = (
        lines["covered"].as_u64(),
        lines["count"].as_u64(),
        lines["percent"].as_number(),
    ) else {
        return Err("the coverage summary has no data[0].totals.lines".to_owned());
    };
    if count == 0 {
        return Err("coverage: no lines were measured".to_owned());
    }
    // The percentage is printed from its JSON text, rounded to two places
    // by text, so no float is involved in what a reviewer reads.
    println!(
        "coverage: {} % of lines ({covered} of {count})",
        two_places(&percent.to_string())
    );
    Ok(())
}

/// `text` (a JSON number) cut to at most two decimal places.
fn two_places(text: &str) -> String {
    match text.split_once('.') {
        Some((whole, fraction)) => format!("{whole}.{:0<2}", &fraction[..fraction.len().min(2)]),
        None => format!("{text}.00"),
    }
}

/// Fails when an `exclude_re` pattern of `.cargo/mutants.toml` matches none
/// of the mutants in `listing` (`cargo mutants --list --no-config`): a
/// stale exclusion would hide nothing today and something unknown later.
fn mutants_exclusions(listing: &str, examined: &str) -> Result<(), String> {
    let listing =
        fs::read_to_string(listing).map_err(|error| format!("cannot read {listing}: {error}"))?;
    let mutants: Vec<&str> = listing.lines().collect();
    let examined: usize = examined
        .parse()
        .map_err(|_| format!("the examined count {examined:?} is not a number"))?;
    let config = fs::read_to_string(".cargo/mutants.toml")
        .map_err(|error| format!("cannot read .cargo/mutants.toml: {error}"))?;
    let config: toml::Table =
        toml::from_str(&config).map_err(|error| format!(".cargo/mutants.toml: {error}"))?;
    let patterns = config
        .get("exclude_re")
        .and_then(toml::Value::as_array)
        .map(|patterns| {
            patterns
                .iter()
                .filter_map(toml::Value::as_str)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut stale = Vec::new();
    for pattern in patterns {
        let regex = regex::Regex::new(pattern)
            .map_err(|error| format!("exclusion {pattern:?}: {error}"))?;
        if !mutants.iter().any(|mutant| regex.is_match(mutant)) {
            eprintln!("mutants: the exclusion {pattern:?} matches no mutant");
            stale.push(pattern);
        }
    }
    println!(
        "mutants: {examined} mutants to test; {} excluded by .cargo/mutants.toml (each with its reason there)",
        mutants.len().saturating_sub(examined)
    );
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} stale exclusion(s): update .cargo/mutants.toml",
            stale.len()
        ))
    }
}

/// Prints cargo-mutants' counts from its `outcomes.json`.
fn mutants_outcomes(outcomes: &str) -> Result<(), String> {
    let outcomes = json_file(outcomes)?;
    let count = |key: &str| outcomes[key].as_u64().unwrap_or(0);
    println!(
        "mutants: caught {}, missed {}, unviable {}, timeout {} (of {})",
        count("caught"),
        count("missed"),
        count("unviable"),
        count("timeout"),
        count("total_mutants")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_cut_to_two_places_by_text() {
        assert_eq!(two_places("97.6716"), "97.67");
        assert_eq!(two_places("90.5"), "90.50");
        assert_eq!(two_places("100"), "100.00");
    }
}
