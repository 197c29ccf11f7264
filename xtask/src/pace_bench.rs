//! `cargo xtask pace-bench`: `ledgerly charge` at a real processor's pace
//! (`DOMAIN.md` §6), `tok_success` invoices through the release binary
//! under GNU time, each run on a fresh ledger and fresh sandbox books:
//!
//! - one worker, one request at a time, at 300 ms a request (today's way);
//! - one worker, `--sandbox-rate-limit 100`, `--concurrency 64`;
//! - one worker, no limit, `--concurrency 64`;
//! - three workers on one ledger and one processor limited to 100/s;
//! - peak memory at 1 200 and at 12 000 invoices (64 in flight, 300 ms);
//! - no latency, one at a time and at the default concurrency, against
//!   today's 8 000 invoices/s.
//!
//! Prints a Markdown table: invoices/s, the share of requests answered
//! `rate_limited`, peak resident memory. A benchmark, not a timed test.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::hostile::{peak_mib_from, prepare, write_charge_input};

/// One scenario: how many invoices, how many workers, and the flags each
/// worker gets.
struct Scenario {
    name: &'static str,
    invoices: u64,
    workers: usize,
    flags: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "1 worker, 1 in flight, 300 ms",
        invoices: 60,
        workers: 1,
        flags: &["--sandbox-latency", "300ms", "--concurrency", "1"],
    },
    Scenario {
        name: "1 worker, 64 in flight, 300 ms, limit 100/s",
        invoices: 3_000,
        workers: 1,
        flags: &[
            "--sandbox-latency",
            "300ms",
            "--concurrency",
            "64",
            "--sandbox-rate-limit",
            "100",
        ],
    },
    Scenario {
        name: "1 worker, 64 in flight, 300 ms, no limit",
        invoices: 3_000,
        workers: 1,
        flags: &["--sandbox-latency", "300ms", "--concurrency", "64"],
    },
    Scenario {
        name: "3 workers, 64 in flight each, 300 ms, limit 100/s shared",
        invoices: 6_000,
        workers: 3,
        flags: &[
            "--sandbox-latency",
            "300ms",
            "--concurrency",
            "64",
            "--sandbox-rate-limit",
            "100",
        ],
    },
    Scenario {
        name: "memory: 1 200 invoices, 64 in flight, 300 ms",
        invoices: 1_200,
        workers: 1,
        flags: &["--sandbox-latency", "300ms", "--concurrency", "64"],
    },
    Scenario {
        name: "memory: 12 000 invoices, 64 in flight, 300 ms",
        invoices: 12_000,
        workers: 1,
        flags: &["--sandbox-latency", "300ms", "--concurrency", "64"],
    },
    Scenario {
        name: "no latency, 1 in flight",
        invoices: 100_000,
        workers: 1,
        flags: &["--concurrency", "1"],
    },
    Scenario {
        name: "no latency, --concurrency 16 (one at a time: no round trip to wait on)",
        invoices: 100_000,
        workers: 1,
        flags: &[],
    },
];

pub(crate) fn run() -> Result<(), String> {
    let (dir, binary) = prepare("pace-bench")?;
    println!(
        "| scenario | invoices | exits | wall (s) | invoices/s | requests | rate limited | peak RSS per worker (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for scenario in SCENARIOS {
        let input = dir.join(format!("pace-{}.jsonl", scenario.invoices));
        write_charge_input(&input, "P", scenario.invoices)?;
        let place = dir.join("run");
        let _ = fs::remove_dir_all(&place);
        fs::create_dir_all(&place).map_err(|error| error.to_string())?;
        let measured = measure(&binary, &input, &place, scenario)?;
        let per_second = scenario.invoices.saturating_mul(1000) / measured.millis.max(1);
        let limited_share = measured
            .rate_limited
            .saturating_mul(1000)
            .checked_div(measured.requests)
            .unwrap_or(0);
        println!(
            "| {} | {} | {} | {}.{:03} | {per_second} | {} | {} ({}.{} %) | {} |",
            scenario.name,
            scenario.invoices,
            measured.codes,
            measured.millis / 1000,
            measured.millis % 1000,
            measured.requests,
            measured.rate_limited,
            limited_share / 10,
            limited_share % 10,
            measured.peak_mib.join(", "),
        );
    }
    Ok(())
}

struct Measured {
    codes: String,
    millis: u64,
    requests: u64,
    rate_limited: u64,
    peak_mib: Vec<String>,
}

fn spawn(
    binary: &Path,
    input: &Path,
    place: &Path,
    scenario: &Scenario,
    worker: usize,
) -> Result<(Child, PathBuf, PathBuf), String> {
    let time_path = place.join(format!("time-{worker}"));
    let summary = place.join(format!("summary-{worker}.json"));
    let child = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&time_path)
        .arg(binary)
        .args(["--quiet", "charge", "--input"])
        .arg(input)
        .arg("--db")
        .arg(place.join("ledgerly.db"))
        .args(["--worker", &format!("bench-{worker}"), "--summary"])
        .arg(&summary)
        .args(scenario.flags)
        .stdout(File::create(place.join(format!("out-{worker}"))).map_err(|e| e.to_string())?)
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot run /usr/bin/time (GNU time): {error}"))?;
    Ok((child, time_path, summary))
}

fn measure(
    binary: &Path,
    input: &Path,
    place: &Path,
    scenario: &Scenario,
) -> Result<Measured, String> {
    // The ledger's schema exists before the workers start, so they race
    // for invoices, not for creating tables.
    let empty = place.join("empty.jsonl");
    fs::write(&empty, "").map_err(|error| error.to_string())?;
    Command::new(binary)
        .args(["--quiet", "charge", "--input"])
        .arg(&empty)
        .arg("--db")
        .arg(place.join("ledgerly.db"))
        .stdout(Stdio::null())
        .status()
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    let mut running = Vec::new();
    for worker in 0..scenario.workers {
        running.push(spawn(binary, input, place, scenario, worker)?);
    }
    let mut codes = Vec::new();
    let mut measured = Measured {
        codes: String::new(),
        millis: 0,
        requests: 0,
        rate_limited: 0,
        peak_mib: Vec::new(),
    };
    let mut finished = Vec::new();
    for (mut child, time_path, summary) in running {
        let status = child.wait().map_err(|error| error.to_string())?;
        codes.push(
            status
                .code()
                .map_or_else(|| "signal".to_owned(), |code| code.to_string()),
        );
        finished.push((time_path, summary));
    }
    measured.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    for (time_path, summary) in finished {
        measured.peak_mib.push(peak_mib_from(&time_path)?);
        let text = fs::read_to_string(&summary).map_err(|error| error.to_string())?;
        measured.requests += field(&text, "requests");
        measured.rate_limited += field(&text, "rate_limited");
    }
    measured.codes = codes.join(",");
    Ok(measured)
}

/// A whole-number field of the summary's JSON object.
fn field(json: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    json.split(&key)
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}
