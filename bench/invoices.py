#!/usr/bin/env python3
"""bench/invoices.py, run as `scripts/bench invoice`: how fast `ledgerly
invoice` prices large batches, on every path users run, side by side with its
peers in the same run.

It builds ledgerly (`cargo build --release --locked -p ledgerly`) and, for
each size, writes two invoice shapes, each as JSON Lines and as CSV (the same
invoices in both), into the work directory:

  compact  what `ledgerly sample` writes: the corner cases, then random
           invoices, 1-4 line items, compact JSON;
  spaced   JSON as other tools lay it out (a space after `:` and `,`), 1-6
           line items, a third of the prices with four decimals, unknown
           tiers; written by this script from --seed.

Then it times the matrix, every input format (jsonl, csv) x every output
format (jsonl, csv, text):

  ledgerly invoice --input FILE --input-format IN --format OUT > /dev/null

and the legacy Python module on the compact JSON Lines file
(bench/legacy_peer.py, ../shared/legacy/pricing.py). With --peers it also
times, on the same files:

  DuckDB      bench/duckdb_peer.py in the bench's own virtualenv (duckdb
              from PyPI): the same pipeline with exact DECIMAL arithmetic,
              the same JSON Lines records in input order, checked record
              for record against ledgerly's;
  parse floor `cargo xtask parse-floor FILE` (release build): serde_json
              parses each line into IgnoredAny on two threads, no pricing
              and no output, the floor of any JSON Lines pipeline.

Runs are interleaved (one run of every command, then the next round), so a
busy spell on the shared machine hits every command alike and the ratios
hold. Each cell reports the median wall time, input MB/s, invoices/s, CPU
seconds (user + system over all threads, median, from GNU time) and peak RSS
(the largest of its runs). The targets of issue 13 are checked at the end as
ratios from this run; a missed target is reported, not an error.

With --compare OTHER_BINARY every benchmark file is also priced, in every
output format, by OTHER_BINARY (an older ledgerly), and the outputs are
compared byte for byte, one line per file and format.

Usage: scripts/bench invoice [--sizes 100000,1000000] [--runs 3] [--peers]
                              [--peer-runs 2] [--legacy-runs 2] [--compare BINARY]
                              [--workdir DIR] [--legacy DIR] [--seed N]
"""
import argparse
import filecmp
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GNU_TIME = "/usr/bin/time"

INPUT_FORMATS = ("jsonl", "csv")
OUTPUT_FORMATS = ("jsonl", "csv", "text")
SHAPES = ("compact", "spaced")
CSV_HEADER = "invoice_id,tier,loyalty_member,days_overdue,price,quantity\n"

# The targets of issue 13, each a ratio between two cells of one run.
TARGET_FLOOR = 1.5           # JSON Lines -> JSON Lines, at most this x the parse floor
TARGET_OUTPUT = 1.25         # CSV or text output, at most this x JSON Lines output
TARGET_CSV_INPUT = 1.5       # CSV input, at most this x JSON Lines input (same invoices)
TARGET_DUCKDB_JSONL = 10     # at least this x faster than DuckDB on JSON Lines input
TARGET_DUCKDB_CSV = 5        # ... and on CSV input
TARGET_MEMORY_GROWTH = 1.5   # peak RSS at the largest size, at most this x at the smallest

# The spaced shape: tiers include two that pricing does not know (no
# discount, warned about once each) and an absent one.
SPACED_TIERS = ("gold", "silver", "bronze", "none", None, "platinum", "diamond")
SPACED_MAX_ITEMS = 6
SPACED_LATE_THRESHOLD = 30   # days: the late fee starts above this
FOUR_DECIMALS_EVERY = 3      # one price in three has four decimals
LARGEST_PRICE_CENTS = 10_000_000   # prices up to 100 000.00
LARGEST_QUANTITY = 50


# ---------------------------------------------------------------- inputs --

def spaced_invoice(rng, number):
    """One random invoice of the spaced shape, as a dict in field order
    (tier left out when absent; prices as strings or as JSON numbers)."""
    invoice = {"id": f"SP-{number:07d}"}
    tier = rng.choice(SPACED_TIERS)
    if tier is not None:
        invoice["tier"] = tier
    invoice["loyalty_member"] = rng.random() < 0.5
    invoice["days_overdue"] = rng.choice(
        (0, SPACED_LATE_THRESHOLD, SPACED_LATE_THRESHOLD + 1, rng.randint(0, 120)))
    items = []
    for _ in range(rng.randint(1, SPACED_MAX_ITEMS)):
        if rng.randrange(FOUR_DECIMALS_EVERY) == 0:
            units = rng.randint(1, LARGEST_PRICE_CENTS * 100)
            price = f"{units // 10_000}.{units % 10_000:04d}"
        else:
            cents = rng.randint(1, LARGEST_PRICE_CENTS)
            price = f"{cents // 100}.{cents % 100:02d}"
        items.append((price, rng.random() < 0.5, rng.randint(1, LARGEST_QUANTITY)))
    invoice["line_items"] = items
    return invoice


def spaced_lines(invoice):
    """The invoice as one spaced JSON line and as its CSV rows."""
    head = ", ".join(f'"{key}": {json.dumps(value)}' for key, value in invoice.items()
                     if key != "line_items")
    items = ", ".join(
        f'{{"price": {price if as_number else json.dumps(price)}, "quantity": {quantity}}}'
        for price, as_number, quantity in invoice["line_items"])
    line = f'{{{head}, "line_items": [{items}]}}\n'
    fields = (invoice["id"], invoice.get("tier") or "",
              "true" if invoice["loyalty_member"] else "false", str(invoice["days_overdue"]))
    rows = "".join(",".join((*fields, price, str(quantity))) + "\n"
                   for price, _, quantity in invoice["line_items"])
    return line, rows


def write_spaced(jsonl_path, csv_path, count, seed):
    """Writes `count` spaced invoices for `seed`, as JSON Lines and as CSV.
    random.Random with an integer seed yields the same stream on every
    platform, so the same count and seed give the same bytes."""
    rng = random.Random(seed)
    with open(jsonl_path, "w", encoding="ascii") as jsonl, \
            open(csv_path, "w", encoding="ascii") as csv:
        csv.write(CSV_HEADER)
        for number in range(1, count + 1):
            line, rows = spaced_lines(spaced_invoice(rng, number))
            jsonl.write(line)
            csv.write(rows)


def write_compact(ledgerly, jsonl_path, csv_path, count, seed):
    """Writes `count` invoices of `ledgerly sample` for `seed` (the corner
    cases first, then random invoices) as JSON Lines and as CSV."""
    for path, form in ((jsonl_path, "jsonl"), (csv_path, "csv")):
        with open(path, "wb") as out:
            subprocess.run([ledgerly, "sample", "--count", str(count), "--seed", str(seed),
                            "--format", form], stdout=out, check=True)


def inputs(ledgerly, workdir, size, seed):
    """The benchmark files for `size`, written once and reused:
    {(shape, input format): path}."""
    files = {(shape, form): workdir / f"{shape}-{size}-{seed}.{form}"
             for shape in SHAPES for form in INPUT_FORMATS}
    for shape in SHAPES:
        jsonl, csv = files[(shape, "jsonl")], files[(shape, "csv")]
        if jsonl.exists() and csv.exists():
            continue
        print(f"generating {jsonl} and {csv}", flush=True)
        partial = (jsonl.with_suffix(".jsonl.partial"), csv.with_suffix(".csv.partial"))
        if shape == "compact":
            write_compact(ledgerly, *partial, size, seed)
        else:
            write_spaced(*partial, size, seed)
        partial[0].rename(jsonl)
        partial[1].rename(csv)
    return files


# ------------------------------------------------------------ measuring --

def run_once(command, stdout=None):
    """Runs `command` under GNU time with stdout to /dev/null (or the open
    file `stdout`); returns (wall seconds, CPU seconds, peak RSS in KiB)."""
    # GNU time measures the peak RSS. (wait4 from here would not: a child
    # forked from this Python process starts as a copy of it, and that copy's
    # memory counts towards the child's peak.)
    with open(os.devnull, "wb") as devnull, tempfile.NamedTemporaryFile("r") as peak, \
            tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        code = subprocess.call([GNU_TIME, "-f", "%U %S %M", "-o", peak.name, *map(str, command)],
                               stdout=stdout or devnull, stderr=errors)
        elapsed = time.perf_counter() - start
        user, system, peak_kib = peak.read().split()[-3:]
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if code != 0:
        sys.exit(f"bench: {' '.join(map(str, command))} exited {code}:\n{stderr}")
    return elapsed, float(user) + float(system), int(peak_kib)


def measure_interleaved(jobs):
    """Runs every job of `jobs` ({key: (command, runs)}) round by round, one
    run of each per round, so load on the machine spreads over all of them;
    returns {key: (median wall s, median CPU s, peak RSS KiB)}."""
    results = {key: [] for key in jobs}
    for round_index in range(max(runs for _, runs in jobs.values())):
        for key, (command, runs) in jobs.items():
            if round_index < runs:
                results[key].append(run_once(command))
    return {key: (statistics.median(r[0] for r in runs),
                  statistics.median(r[1] for r in runs),
                  max(r[2] for r in runs))
            for key, runs in results.items()}


def ledgerly_command(ledgerly, path, input_format, output_format):
    return [ledgerly, "invoice", "--input", path, "--input-format", input_format,
            "--format", output_format]


def outputs_identical(command_a, command_b, workdir):
    """Whether the two commands write the same bytes to stdout."""
    with tempfile.NamedTemporaryFile(dir=workdir) as a, \
            tempfile.NamedTemporaryFile(dir=workdir) as b:
        run_once(command_a, stdout=a)
        run_once(command_b, stdout=b)
        return filecmp.cmp(a.name, b.name, shallow=False)


def record_mismatches(ledgerly_cmd, duckdb_cmd, workdir):
    """Compares DuckDB's JSON Lines records with ledgerly's, line by line,
    as parsed JSON; returns (records, mismatching records, first mismatch)."""
    with tempfile.NamedTemporaryFile(dir=workdir) as ours, \
            tempfile.NamedTemporaryFile(dir=workdir) as theirs:
        run_once(ledgerly_cmd, stdout=ours)
        run_once(duckdb_cmd, stdout=theirs)
        records, mismatches, first = 0, 0, None
        with open(ours.name, encoding="utf-8") as a, open(theirs.name, encoding="utf-8") as b:
            for number, (line_a, line_b) in enumerate(zip(a, b), start=1):
                records += 1
                if json.loads(line_a) != json.loads(line_b):
                    mismatches += 1
                    first = first or (number, line_a.strip(), line_b.strip())
            # A record in one output only is a mismatch of its own.
            extra = sum(1 for _ in a) + sum(1 for _ in b)
        return records + extra, mismatches + extra, first


# ------------------------------------------------------------- reporting --

def cell_line(label, size, input_bytes, result):
    seconds, cpu, kib = result
    return (f"{label:<30} {size:>9}  {seconds:>8.3f}  {input_bytes / seconds / 1e6:>7.1f}"
            f"  {size / seconds:>11,.0f}  {cpu:>6.2f}  {kib / 1024:>7.1f} MiB")


def verdict(met, text):
    print(f"{'met   ' if met else 'MISSED'}  {text}")


def check_targets(results, sizes, peers):
    """Prints each target of issue 13, met or not, with its ratio at the
    largest size."""
    size = max(sizes)
    wall = {key[1:]: value[0] for key, value in results.items() if key[0] == size}
    print(f"\ntargets at {size} invoices (ratios of median wall times from this run):")
    for shape in SHAPES:
        if peers:
            ratio = wall[("ledgerly", shape, "jsonl", "jsonl")] / wall[("floor", shape, "jsonl", "")]
            verdict(ratio <= TARGET_FLOOR, f"{shape}: jsonl -> jsonl is {ratio:.2f}x the parse"
                    f" floor (target <= {TARGET_FLOOR}x)")
        for input_format in INPUT_FORMATS:
            base = wall[("ledgerly", shape, input_format, "jsonl")]
            for output_format in OUTPUT_FORMATS[1:]:
                ratio = wall[("ledgerly", shape, input_format, output_format)] / base
                verdict(ratio <= TARGET_OUTPUT,
                        f"{shape}: {input_format} -> {output_format} is {ratio:.2f}x"
                        f" {input_format} -> jsonl (target <= {TARGET_OUTPUT}x)")
        for output_format in OUTPUT_FORMATS:
            ratio = (wall[("ledgerly", shape, "csv", output_format)]
                     / wall[("ledgerly", shape, "jsonl", output_format)])
            verdict(ratio <= TARGET_CSV_INPUT,
                    f"{shape}: csv -> {output_format} is {ratio:.2f}x jsonl -> {output_format}"
                    f" per invoice (target <= {TARGET_CSV_INPUT}x)")
        if peers:
            for input_format, target in (("jsonl", TARGET_DUCKDB_JSONL), ("csv", TARGET_DUCKDB_CSV)):
                lead = (wall[("duckdb", shape, input_format, "jsonl")]
                        / wall[("ledgerly", shape, input_format, "jsonl")])
                verdict(lead >= target, f"{shape}: {input_format} -> jsonl is {lead:.1f}x faster"
                        f" than DuckDB (target >= {target}x)")
    if len(sizes) > 1:
        small = min(sizes)
        growth = max(results[(size, *key[1:])][2] / results[key][2]
                     for key in results if key[0] == small and key[1] == "ledgerly")
        verdict(growth <= TARGET_MEMORY_GROWTH,
                f"ledgerly's peak RSS at {size} is at most {growth:.2f}x that at {small},"
                f" over all cells (target <= {TARGET_MEMORY_GROWTH}x)")


# ------------------------------------------------------------------ tools --

def build(package):
    """Builds `package` in release mode; returns the binary's path."""
    print(f"building: cargo build --release --locked -p {package}", flush=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", package],
                   cwd=ROOT, check=True)
    return ROOT / "target" / "release" / package


def duckdb_python(workdir):
    """The bench virtualenv's python with duckdb installed (made once)."""
    venv = workdir / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} (python3 -m venv; pip install duckdb)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if subprocess.call([python, "-c", "import duckdb"], stderr=subprocess.DEVNULL) != 0:
        subprocess.run([python, "-m", "pip", "install", "--quiet", "duckdb"], check=True)
    version = subprocess.run([python, "-c", "import duckdb; print(duckdb.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"duckdb {version} ({python})")
    return python


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000",
                        help="invoice counts, comma-separated (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3,
                        help="ledgerly and floor runs per cell; the median counts"
                             " (default: %(default)s)")
    parser.add_argument("--peers", action="store_true",
                        help="also time DuckDB and the parse-only floor on the same files")
    parser.add_argument("--peer-runs", type=int, default=2,
                        help="DuckDB runs per cell (default: %(default)s)")
    parser.add_argument("--legacy-runs", type=int, default=2,
                        help="legacy runs per size, 0 for none (default: %(default)s)")
    parser.add_argument("--compare", metavar="BINARY",
                        help="check that BINARY's output is byte-identical on every file")
    parser.add_argument("--workdir", default=str(ROOT / "target" / "bench"),
                        help="where the generated files go (default: %(default)s)")
    parser.add_argument("--legacy", default=str(ROOT.parent / "shared" / "legacy"),
                        help="directory of the legacy pricing.py (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=20240601)
    return parser.parse_args()


def main():
    args = parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit(f"bench: {GNU_TIME} (GNU time) is missing: apt-get install time")
    legacy = Path(args.legacy)
    if args.legacy_runs and not (legacy / "pricing.py").is_file():
        sys.exit(f"bench: no legacy module at {legacy}/pricing.py (pass --legacy DIR)")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    ledgerly = build("ledgerly")
    floor = duckdb = None
    if args.peers:
        # Built here and timed as a binary: `cargo run --release -p xtask --
        # parse-floor FILE` is the same program plus cargo's own start-up.
        floor = build("xtask")
        duckdb = duckdb_python(workdir)
    print(f"machine: {os.cpu_count()} cores, load average "
          + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    print(f"runs: ledgerly and floor {args.runs}, DuckDB {args.peer_runs if args.peers else 0},"
          f" legacy {args.legacy_runs}; interleaved, medians of wall time\n", flush=True)

    results, sizes_of = {}, {}
    for size in sizes:
        files = inputs(ledgerly, workdir, size, args.seed)
        jobs = {}
        for (shape, input_format), path in files.items():
            for output_format in OUTPUT_FORMATS:
                jobs[(size, "ledgerly", shape, input_format, output_format)] = (
                    ledgerly_command(ledgerly, path, input_format, output_format), args.runs)
            if args.peers:
                jobs[(size, "duckdb", shape, input_format, "jsonl")] = (
                    [duckdb, ROOT / "bench" / "duckdb_peer.py", "--input-format",
                     input_format, path], args.peer_runs)
                if input_format == "jsonl":
                    jobs[(size, "floor", shape, "jsonl", "")] = (
                        [floor, "parse-floor", path], args.runs)
        if args.legacy_runs:
            jobs[(size, "legacy", "compact", "jsonl", "total")] = (
                [sys.executable, ROOT / "bench" / "legacy_peer.py", "--legacy", legacy,
                 files[("compact", "jsonl")]], args.legacy_runs)
        print(f"timing {len(jobs)} cells at {size} invoices", flush=True)
        results.update(measure_interleaved(jobs))
        sizes_of.update({key: files[(key[2], key[3])].stat().st_size for key in jobs})
        if args.peers:
            for shape in SHAPES:
                for input_format in INPUT_FORMATS:
                    path = files[(shape, input_format)]
                    records, mismatches, first = record_mismatches(
                        ledgerly_command(ledgerly, path, input_format, "jsonl"),
                        [duckdb, ROOT / "bench" / "duckdb_peer.py", "--input-format",
                         input_format, path], workdir)
                    print(f"DuckDB vs ledgerly, {path.name}: {records} records,"
                          f" {mismatches} mismatches"
                          + (f"; first, record {first[0]}:\n  ours   {first[1]}\n"
                             f"  DuckDB {first[2]}" if first else ""), flush=True)
        if args.compare:
            for (shape, input_format), path in files.items():
                for output_format in OUTPUT_FORMATS:
                    same = outputs_identical(
                        ledgerly_command(ledgerly, path, input_format, output_format),
                        ledgerly_command(args.compare, path, input_format, output_format),
                        workdir)
                    print(f"{'identical' if same else 'DIFFERENT'}  {path.name} --format"
                          f" {output_format}: this ledgerly and {args.compare}", flush=True)

    print(f"\n{'tool shape input -> output':<30} {'invoices':>9}  {'wall s':>8}  {'MB/s':>7}"
          f"  {'invoices/s':>11}  {'CPU s':>6}  {'peak RSS':>11}")
    for key, result in results.items():
        size, tool, shape, input_format, output_format = key
        label = f"{tool} {shape} {input_format} -> {output_format or '(parse)'}"
        print(cell_line(label, size, sizes_of[key], result))
    # Wall time is what the targets are about, but it depends on what else
    # the machine is running; CPU time (user + system, all threads) does not.
    print("MB/s: input bytes per wall second; CPU s: user + system over all threads;"
          " load average now " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    if args.legacy_runs:
        for size in sizes:
            lead = (results[(size, "legacy", "compact", "jsonl", "total")][0]
                    / results[(size, "ledgerly", "compact", "jsonl", "jsonl")][0])
            print(f"legacy module at {size}: ledgerly compact jsonl -> jsonl is {lead:.1f}x faster")
    check_targets(results, sizes, args.peers)


if __name__ == "__main__":
    main()
