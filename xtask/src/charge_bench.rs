//! `cargo xtask charge-bench`: `ledgerly charge` of 10 000 and 100 000
//! `tok_success` invoices, each on a fresh durable ledger and sandbox
//! books, through the release binary under GNU time. Prints invoices per
//! second and peak resident memory for each size: a benchmark, not a timed
//! test (issue 11 asks for at least 5 000 invoices/s and flat memory).

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::hostile::{peak_mib_from, prepare, write_charge_input};

/// The sizes charged, each on a fresh ledger.
const SIZES: [u64; 2] = [10_000, 100_000];

pub(crate) fn run() -> Result<(), String> {
    let (dir, binary) = prepare("charge-bench")?;
    println!("| invoices | exit | records out | wall (s) | invoices/s | peak RSS (MiB) |");
    println!("|---|---|---|---|---|---|");
    for size in SIZES {
        let input = dir.join(format!("charge-{size}.jsonl"));
        write_charge_input(&input, "B", size)?;
        for name in [
            "ledgerly.db",
            "ledgerly.db-wal",
            "ledgerly.db-shm",
            "ledgerly-sandbox.db",
            "ledgerly-sandbox.db-wal",
            "ledgerly-sandbox.db-shm",
        ] {
            let _ = fs::remove_file(dir.join(name));
        }
        let measured = measure(&binary, &input, &dir)?;
        let per_second = size.saturating_mul(1000) / measured.millis.max(1);
        println!(
            "| {size} | {} | {} | {}.{:03} | {per_second} | {} |",
            measured.code,
            measured.records,
            measured.millis / 1000,
            measured.millis % 1000,
            measured.peak_mib
        );
    }
    Ok(())
}

struct Measured {
    code: String,
    records: u64,
    millis: u64,
    peak_mib: String,
}

fn measure(binary: &Path, input: &Path, dir: &Path) -> Result<Measured, String> {
    let out_path = dir.join("out");
    let time_path = dir.join("time");
    let started = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&time_path)
        .arg(binary)
        .args(["--quiet", "charge", "--input"])
        .arg(input)
        .arg("--db")
        .arg(dir.join("ledgerly.db"))
        .stdout(File::create(&out_path).map_err(|error| error.to_string())?)
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .status()
        .map_err(|error| format!("cannot run /usr/bin/time (GNU time): {error}"))?;
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let bytes = fs::read(&out_path).map_err(|error| error.to_string())?;
    #[allow(clippy::naive_bytecount)]
    let records = bytes.iter().filter(|&&byte| byte == b'\n').count();
    let peak_mib = peak_mib_from(&time_path)?;
    Ok(Measured {
        code: status
            .code()
            .map_or_else(|| "signal".to_owned(), |code| code.to_string()),
        records: u64::try_from(records).unwrap_or(u64::MAX),
        millis,
        peak_mib,
    })
}
