//! `cargo xtask reprice-bench`: `ledgerly reprice` of 100 000 and 1 000 000
//! issued invoices on a SQLite ledger, beside `ledgerly invoices` (the same
//! read of every invoice, with nothing priced: the floor), through the
//! release binary under GNU time. Prints wall time, invoices per second and
//! peak resident memory for each: a benchmark, not a timed test (issue 23
//! asks for memory flat in the window's size and the time at 1 M).
//!
//! The ledger is charged by the release binary, then every invoice is made
//! to differ by one cent under another rates version (`sqlite3`, Debian's
//! package), so every invoice and every customer (one each) changes: the
//! worst case of the report, whose sums per customer spill to temporary
//! files past 100 000 customers.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::hostile::{peak_mib_from, prepare, write_charge_input};

/// The sizes repriced, each on a fresh ledger.
const SIZES: [u64; 2] = [100_000, 1_000_000];

/// Every invoice one cent dearer than its inputs price, under rates
/// version 0: a declared change on every invoice.
const TAMPER: &str =
    "UPDATE invoices SET subtotal = subtotal + 1, total = total + 1, rates_version = '0';";

pub(crate) fn run() -> Result<(), String> {
    let (dir, binary) = prepare("reprice-bench")?;
    println!("| invoices | command | exit | wall (s) | invoices/s | peak RSS (MiB) |");
    println!("|---|---|---|---|---|---|");
    for size in SIZES {
        let input = dir.join(format!("reprice-{size}.jsonl"));
        write_charge_input(&input, "R", size)?;
        for entry in fs::read_dir(&dir).map_err(|error| error.to_string())? {
            let path = entry.map_err(|error| error.to_string())?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("ledgerly") {
                let _ = fs::remove_file(&path);
            }
        }
        let db = dir.join("ledgerly.db");
        eprintln!("reprice-bench: charging {size} invoices into a fresh ledger");
        let charged = Command::new(&binary)
            .args(["--quiet", "charge", "--input"])
            .arg(&input)
            .arg("--db")
            .arg(&db)
            .stdout(Stdio::null())
            .status()
            .map_err(|error| error.to_string())?;
        if !charged.success() {
            return Err(format!("charging {size} invoices failed: {charged}"));
        }
        let tampered = Command::new("sqlite3")
            .arg(&db)
            .arg(TAMPER)
            .status()
            .map_err(|error| format!("cannot run sqlite3 (Debian's sqlite3 package): {error}"))?;
        if !tampered.success() {
            return Err(format!("sqlite3 failed: {tampered}"));
        }
        for (name, args) in [
            (
                "reprice",
                &["reprice", "--since", "2000-01-01", "--format", "json"][..],
            ),
            ("invoices (the read floor)", &["invoices"][..]),
        ] {
            let measured = measure(&binary, args, &db, &dir)?;
            let per_second = size.saturating_mul(1000) / measured.millis.max(1);
            println!(
                "| {size} | {name} | {} | {}.{:03} | {per_second} | {} |",
                measured.code,
                measured.millis / 1000,
                measured.millis % 1000,
                measured.peak_mib
            );
        }
    }
    Ok(())
}

struct Measured {
    code: String,
    millis: u64,
    peak_mib: String,
}

fn measure(binary: &Path, args: &[&str], db: &Path, dir: &Path) -> Result<Measured, String> {
    let time_path = dir.join("time");
    let started = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&time_path)
        .arg(binary)
        .arg("--quiet")
        .args(args)
        .arg("--db")
        .arg(db)
        .stdout(File::create(dir.join("out")).map_err(|error| error.to_string())?)
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .status()
        .map_err(|error| format!("cannot run /usr/bin/time (GNU time): {error}"))?;
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(Measured {
        code: status
            .code()
            .map_or_else(|| "signal".to_owned(), |code| code.to_string()),
        millis,
        peak_mib: peak_mib_from(&time_path)?,
    })
}
