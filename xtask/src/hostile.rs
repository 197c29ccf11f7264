//! `cargo xtask hostile`: the hostile input shapes of the input contract,
//! each run through the release `ledgerly` under GNU time, so the memory
//! promise (flat, bounded by a small multiple of the 8 MiB line limit) is
//! measured, not asserted by a timed test. Prints one row per shape: what
//! came out, the exit code, peak resident memory and wall time.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One shape: its name, the input file (or device), and the arguments.
struct Shape {
    name: &'static str,
    /// Given as `--input`; `None` when the arguments name the files.
    input: Option<PathBuf>,
    args: Vec<String>,
    /// Stop it after this many seconds (an endless input).
    limit: Option<u32>,
}

impl Shape {
    /// `ledgerly invoice` of `input`, run to its end: most shapes.
    fn invoice(name: &'static str, input: PathBuf) -> Shape {
        Shape {
            name,
            input: Some(input),
            args: vec!["invoice".to_owned()],
            limit: None,
        }
    }
}

/// What one run measured.
struct Measured {
    records: u64,
    code: String,
    peak_mib: String,
    seconds: String,
    stderr_bytes: u64,
}

pub(crate) fn run(quick: bool) -> Result<(), String> {
    let (dir, binary) = prepare("hostile")?;
    let scale: u64 = if quick { 10 } else { 1 };
    let shapes = make_shapes(&dir, scale)?;
    println!("| shape | records out | exit | peak RSS (MiB) | wall (s) | stderr (bytes) |");
    println!("|---|---|---|---|---|---|");
    for shape in shapes {
        let measured = measure(&binary, &shape, &dir)?;
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            shape.name,
            measured.records,
            measured.code,
            measured.peak_mib,
            measured.seconds,
            measured.stderr_bytes
        );
    }
    Ok(())
}

/// What every measuring task starts with: its scratch directory
/// `target/<name>` (made if missing) and the release `ledgerly`, built.
pub(crate) fn prepare(name: &str) -> Result<(PathBuf, PathBuf), String> {
    let root = workspace_root()?;
    let dir = root.join("target").join(name);
    fs::create_dir_all(&dir)
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    build_release(&root)?;
    Ok((dir, root.join("target").join("release").join("ledgerly")))
}

/// `cargo build --release` of `ledgerly` in the workspace at `root`.
pub(crate) fn build_release(root: &Path) -> Result<(), String> {
    let status = Command::new("cargo")
        .args(["build", "--release", "--locked", "-p", "ledgerly"])
        .current_dir(root)
        .status()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("the release build failed".to_owned())
    }
}

/// Writes `count` invoices paid with `tok_success`, ids `<prefix>-0000000`
/// on, each gold with one line item of 2 × 1.50 to 500.50: the input of
/// the charge benchmarks.
pub(crate) fn write_charge_input(path: &Path, prefix: &str, count: u64) -> Result<(), String> {
    write_lines(path, count, |n| {
        format!(
            "{{\"id\":\"{prefix}-{n:07}\",\"customer\":\"cus_{n}\",\"payment_method\":\"tok_success\",\"tier\":\"gold\",\"line_items\":[{{\"price\":\"{}.50\",\"quantity\":2}}]}}",
            n % 500 + 1
        )
    })
}

/// The peak resident memory GNU time wrote as the last line of
/// `time_path` (`-f %M`, in KiB), in MiB with one decimal.
pub(crate) fn peak_mib_from(time_path: &Path) -> Result<String, String> {
    let timing = fs::read_to_string(time_path).map_err(|error| error.to_string())?;
    let kib: u64 = timing
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or(0);
    Ok(mib(kib))
}

/// `kib` KiB in MiB with one decimal (rounded down).
pub(crate) fn mib(kib: u64) -> String {
    format!("{}.{}", kib / 1024, (kib % 1024) * 10 / 1024)
}

pub(crate) fn workspace_root() -> Result<PathBuf, String> {
    let here = std::env::current_dir().map_err(|error| error.to_string())?;
    here.ancestors()
        .find(|dir| dir.join("Cargo.lock").exists() && dir.join("app").exists())
        .map(Path::to_path_buf)
        .ok_or_else(|| "run cargo xtask hostile inside the workspace".to_owned())
}

/// Writes a file line by line.
pub(crate) fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let file =
        File::create(path).map_err(|error| format!("cannot create {}: {error}", path.display()))?;
    let mut out = BufWriter::new(file);
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Writes `count` lines, line `n` (from 0) being `line(n)`.
fn write_lines(path: &Path, count: u64, line: impl Fn(u64) -> String) -> Result<(), String> {
    write_file(path, |out| {
        for n in 0..count {
            writeln!(out, "{}", line(n))?;
        }
        Ok(())
    })
}

const CSV_HEADER: &str = "invoice_id,tier,loyalty_member,days_overdue,price,quantity\n";

fn make_shapes(dir: &Path, scale: u64) -> Result<Vec<Shape>, String> {
    let [stray, many, tiers, long_names, field, charge] = write_inputs(dir, scale)?;
    let [priced, disjoint, reversed] = write_pricings(dir, scale)?;
    // A fresh ledger and sandbox books (beside it) for each run: on an old
    // one every invoice would already be paid.
    let ledger = dir.join("ledger.db");
    for stale in [
        "ledger.db",
        "ledger.db-wal",
        "ledger.db-shm",
        "ledgerly-sandbox.db",
        "ledgerly-sandbox.db-wal",
        "ledgerly-sandbox.db-shm",
    ] {
        let _ = fs::remove_file(dir.join(stale));
    }
    let args = |list: &[&str]| list.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
    Ok(vec![
        Shape {
            name: "/dev/zero as CSV (5 s, then SIGTERM)",
            input: Some(PathBuf::from("/dev/zero")),
            args: args(&["invoice", "--input-format", "csv"]),
            limit: Some(5),
        },
        Shape::invoice("stray quote, then 1 M invoices (CSV)", stray),
        Shape::invoice("8 lines of 8 MiB, 290 k items each", many),
        Shape::invoice("1 M distinct unknown tiers", tiers),
        Shape::invoice("300 tier names of 1 MiB", long_names),
        Shape::invoice("one 200 MiB CSV field", field),
        Shape {
            name: "charge, 200 k invoices, durable ledger",
            input: Some(charge),
            args: vec![
                "--quiet".to_owned(),
                "charge".to_owned(),
                "--db".to_owned(),
                ledger.display().to_string(),
            ],
            limit: None,
        },
        diff(
            "diff, two 1 M pricings with disjoint ids",
            &priced,
            &disjoint,
        ),
        diff("diff, a 1 M pricing and its reverse", &priced, &reversed),
    ])
}

/// `ledgerly diff OLD NEW`: files that never line up, so that every record
/// waits for its partner (the spill to disk is what keeps memory bounded).
fn diff(name: &'static str, old: &Path, new: &Path) -> Shape {
    Shape {
        name,
        input: None,
        args: vec![
            "diff".to_owned(),
            old.display().to_string(),
            new.display().to_string(),
        ],
        limit: None,
    }
}

/// Two pricings as `ledgerly invoice` writes them, and one with the same
/// records under other ids, and one in reverse order.
fn write_pricings(dir: &Path, scale: u64) -> Result<[PathBuf; 3], String> {
    let invoices = 1_000_000 / scale;
    let record = |prefix: &str, n: u64| {
        format!(
            "{{\"id\":\"{prefix}-{n:07}\",\"subtotal\":\"10.00\",\"tier_discount\":\"0.00\",\"loyalty_discount\":\"0.00\",\"tax\":\"0.80\",\"late_fee\":\"0.00\",\"total\":\"10.80\"}}"
        )
    };
    let priced = dir.join("priced.jsonl");
    write_lines(&priced, invoices, |n| record("P", n))?;
    let disjoint = dir.join("priced-disjoint.jsonl");
    write_lines(&disjoint, invoices, |n| record("Q", n))?;
    let reversed = dir.join("priced-reversed.jsonl");
    write_lines(&reversed, invoices, |n| record("P", invoices - 1 - n))?;
    Ok([priced, disjoint, reversed])
}

/// Writes the input files of the shapes (a tenth of each with `scale` 10).
fn write_inputs(dir: &Path, scale: u64) -> Result<[PathBuf; 6], String> {
    let invoices = 1_000_000 / scale;

    let stray = dir.join("stray-quote.csv");
    write_file(&stray, |out| {
        out.write_all(CSV_HEADER.as_bytes())?;
        out.write_all(b"STRAY,gold,true,45,\"40.00,3\n")?;
        for n in 0..invoices {
            writeln!(out, "INV-{n},silver,false,31,19.99,2")?;
        }
        Ok(())
    })?;

    // Lines just under the 8 MiB limit, each a few hundred thousand items.
    let many = dir.join("many-items.jsonl");
    write_file(&many, |out| {
        for n in 0..8 {
            write!(out, "{{\"id\":\"BIG-{n}\",\"line_items\":[")?;
            let item = "{\"price\":\"1.25\",\"quantity\":3}";
            let count = (8 << 20) / (item.len() + 1) - 16;
            for i in 0..count {
                if i > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(item.as_bytes())?;
            }
            out.write_all(b"]}\n")?;
        }
        Ok(())
    })?;

    let tiers = dir.join("distinct-tiers.jsonl");
    write_lines(&tiers, invoices, |n| {
        format!("{{\"tier\":\"tier-{n}\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}")
    })?;

    let long_names = dir.join("long-tier-names.jsonl");
    let name = "x".repeat(1 << 20);
    write_lines(&long_names, 300 / scale, |n| {
        format!("{{\"tier\":\"{name}{n}\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}")
    })?;

    let field = dir.join("huge-field.csv");
    write_file(&field, |out| {
        out.write_all(CSV_HEADER.as_bytes())?;
        let mut line = String::from("HUGE,,,,");
        line.push_str(&"9".repeat(200 << 20));
        writeln!(out, "{line},1")?;
        writeln!(out, "AFTER,,,,1,1")
    })?;

    let charge = dir.join("charge.jsonl");
    write_lines(&charge, 200_000 / scale, |n| {
        format!(
            "{{\"id\":\"C-{n}\",\"customer\":\"cus_{n}\",\"payment_method\":\"tok_success\",\"line_items\":[{{\"price\":\"10\",\"quantity\":1}}]}}"
        )
    })?;

    Ok([stray, many, tiers, long_names, field, charge])
}

fn measure(binary: &Path, shape: &Shape, dir: &Path) -> Result<Measured, String> {
    let out_path = dir.join("out");
    let err_path = dir.join("err");
    let time_path = dir.join("time");
    let mut command = Command::new("/usr/bin/time");
    command.args(["-f", "%M %e", "-o"]).arg(&time_path);
    if let Some(limit) = shape.limit {
        // `--preserve-status`: the table shows ledgerly's own exit code.
        command.args([
            "timeout",
            "--preserve-status",
            "-s",
            "TERM",
            &limit.to_string(),
        ]);
    }
    command.arg(binary).args(&shape.args);
    if let Some(input) = &shape.input {
        command.arg("--input").arg(input);
    }
    let status = command
        .stdout(File::create(&out_path).map_err(|error| error.to_string())?)
        .stderr(File::create(&err_path).map_err(|error| error.to_string())?)
        .stdin(Stdio::null())
        .status()
        .map_err(|error| format!("cannot run /usr/bin/time (GNU time): {error}"))?;
    let timing = fs::read_to_string(&time_path).map_err(|error| error.to_string())?;
    let last = timing.lines().last().unwrap_or_default();
    let mut fields = last.split_whitespace();
    let kib: u64 = fields.next().and_then(|kib| kib.parse().ok()).unwrap_or(0);
    let seconds = fields.next().unwrap_or("?").to_owned();
    let records = count_lines(&out_path)?;
    let stderr_bytes = fs::metadata(&err_path).map_or(0, |meta| meta.len());
    let peak_mib = mib(kib);
    Ok(Measured {
        records,
        code: status
            .code()
            .map_or_else(|| "signal".to_owned(), |code| code.to_string()),
        peak_mib,
        seconds,
        stderr_bytes,
    })
}

fn count_lines(path: &Path) -> Result<u64, String> {
    let bytes = fs::read(path).map_err(|error| error.to_string())?;
    // A measuring tool, run once per shape: no crate for counting bytes.
    #[allow(clippy::naive_bytecount)]
    let lines = bytes.iter().filter(|&&byte| byte == b'\n').count();
    Ok(u64::try_from(lines).unwrap_or(u64::MAX))
}
