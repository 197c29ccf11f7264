//! `cargo xtask workers-bench [URL]`: `ledgerly charge` of 100 000
//! `tok_success` invoices by 1, 2 and 4 workers sharing one run on one
//! PostgreSQL, side by side with one worker on the SQLite ledger, each on
//! fresh storage, through the release binary. Prints invoices per second of
//! the whole run and peak resident memory per worker (GNU time), and checks
//! that the sandbox captured each invoice exactly once. A benchmark, not a
//! timed test (issue 12).
//!
//! Without a URL it starts a throwaway cluster with `scripts/postgres` and
//! stops it after; `psql` resets the schema between runs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::hostile::{build_release, peak_mib_from, workspace_root, write_charge_input};

/// Invoices per run.
const INVOICES: u64 = 100_000;
/// The worker counts on PostgreSQL.
const WORKERS: [usize; 3] = [1, 2, 4];

pub(crate) fn run(url: Option<&str>) -> Result<(), String> {
    let root = workspace_root()?;
    let dir = root.join("target").join("workers-bench");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    build_release(&root)?;
    let binary = root.join("target").join("release").join("ledgerly");
    let input = dir.join("charge.jsonl");
    write_charge_input(&input, "W", INVOICES)?;
    let cluster = match url {
        Some(url) => Cluster::Given(url.to_owned()),
        None => Cluster::start(&root, &dir.join("pg"))?,
    };
    let result = measure_all(&binary, &input, &dir, cluster.url());
    cluster.stop(&root);
    result
}

fn measure_all(binary: &Path, input: &Path, dir: &Path, url: &str) -> Result<(), String> {
    println!(
        "| ledger | workers | exit codes | captures (distinct) | wall (s) | invoices/s | peak RSS per worker (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let sqlite = dir.join("sqlite");
    fs::create_dir_all(&sqlite).map_err(|error| error.to_string())?;
    let db = sqlite.join("ledgerly.db");
    let run = charge(
        binary,
        input,
        &sqlite,
        db.as_os_str().to_str().unwrap_or_default(),
        1,
        None,
    )?;
    let captures = sqlite_captures(&sqlite.join("ledgerly-sandbox.db"))?;
    run.print("SQLite file", &captures);
    for workers in WORKERS {
        psql(
            url,
            "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;",
        )?;
        let run = charge(binary, input, dir, url, workers, None)?;
        let captures = psql(
            url,
            "SELECT count(*) || ' (' || count(DISTINCT reference) || ')' FROM captures",
        )?;
        run.print("PostgreSQL", captures.trim());
    }
    // The sandbox serialises every request (one capture numbering, as a
    // single processor would): the same runs with its books in one SQLite
    // file the workers share on this host, so that what remains is the
    // PostgreSQL ledger's own cost.
    for workers in WORKERS {
        psql(
            url,
            "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;",
        )?;
        let books = dir.join(format!("books-{workers}.db"));
        let run = charge(binary, input, dir, url, workers, Some(&books))?;
        run.print("PostgreSQL, books in SQLite", &sqlite_captures(&books)?);
    }
    Ok(())
}

struct Measured {
    workers: usize,
    codes: Vec<String>,
    millis: u64,
    peak_mib: Vec<String>,
}

impl Measured {
    fn print(&self, ledger: &str, captures: &str) {
        let per_second = INVOICES.saturating_mul(1000) / self.millis.max(1);
        println!(
            "| {ledger} | {} | {} | {captures} | {}.{:03} | {per_second} | {} |",
            self.workers,
            self.codes.join(" "),
            self.millis / 1000,
            self.millis % 1000,
            self.peak_mib.join(" ")
        );
    }
}

/// `workers` processes of `ledgerly charge` on `db`, started together;
/// the wall time runs until the last one exits.
fn charge(
    binary: &Path,
    input: &Path,
    dir: &Path,
    db: &str,
    workers: usize,
    books: Option<&Path>,
) -> Result<Measured, String> {
    let started = Instant::now();
    let children: Vec<(Child, PathBuf)> = (0..workers)
        .map(|n| {
            let time_path = dir.join(format!("time-{n}"));
            Command::new("/usr/bin/time")
                .args(["-f", "%M", "-o"])
                .arg(&time_path)
                .arg(binary)
                .args(["--quiet", "charge", "--input"])
                .arg(input)
                .args(["--db", db, "--worker", &format!("bench-{n}")])
                .args(books.map(|books| {
                    let mut flag = std::ffi::OsString::from("--sandbox-db=");
                    flag.push(books);
                    flag
                }))
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .stdin(Stdio::null())
                .spawn()
                .map(|child| (child, time_path))
                .map_err(|error| format!("cannot run /usr/bin/time (GNU time): {error}"))
        })
        .collect::<Result<_, _>>()?;
    let mut codes = Vec::new();
    let mut peak_mib = Vec::new();
    for (mut child, time_path) in children {
        let status = child.wait().map_err(|error| error.to_string())?;
        codes.push(
            status
                .code()
                .map_or_else(|| "signal".to_owned(), |code| code.to_string()),
        );
        peak_mib.push(peak_mib_from(&time_path)?);
    }
    Ok(Measured {
        workers,
        codes,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        peak_mib,
    })
}

fn psql(url: &str, sql: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run psql: {error}"))?;
    if !output.status.success() {
        return Err(format!("psql failed on {sql}"));
    }
    String::from_utf8(output.stdout).map_err(|error| error.to_string())
}

fn sqlite_captures(books: &Path) -> Result<String, String> {
    let output = Command::new("sqlite3")
        .arg(books)
        .arg("SELECT count(*) || ' (' || count(DISTINCT reference) || ')' FROM captures")
        .output()
        .map_err(|error| format!("cannot run sqlite3: {error}"))?;
    String::from_utf8(output.stdout)
        .map(|text| text.trim().to_owned())
        .map_err(|error| error.to_string())
}

/// The PostgreSQL the runs use: given, or started here and stopped after.
enum Cluster {
    Given(String),
    Started { url: String, dir: PathBuf },
}

impl Cluster {
    fn start(root: &Path, dir: &Path) -> Result<Cluster, String> {
        let output = Command::new("bash")
            .arg(root.join("scripts").join("postgres"))
            .arg("start")
            .arg(dir)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|error| format!("cannot run scripts/postgres: {error}"))?;
        if !output.status.success() {
            return Err("scripts/postgres start failed".to_owned());
        }
        let url = String::from_utf8(output.stdout)
            .map_err(|error| error.to_string())?
            .trim()
            .to_owned();
        Ok(Cluster::Started {
            url,
            dir: dir.to_path_buf(),
        })
    }

    fn url(&self) -> &str {
        match self {
            Cluster::Given(url) | Cluster::Started { url, .. } => url,
        }
    }

    fn stop(&self, root: &Path) {
        if let Cluster::Started { dir, .. } = self {
            let _ = Command::new("bash")
                .arg(root.join("scripts").join("postgres"))
                .arg("stop")
                .arg(dir)
                .status();
        }
    }
}
