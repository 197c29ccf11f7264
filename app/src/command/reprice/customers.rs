//! The changes per customer, summed in bounded memory: a table of at most
//! [`IN_MEMORY`] customers, spilled as a sorted run to an unnamed
//! temporary file (removed by the system when the run ends, even on kill
//! -9) whenever it fills; at the end the runs are merged by key, each
//! customer's sums added up, and only the largest kept. A window with fewer
//! changed customers than the table holds never touches the disk.
//!
//! A key is the customer and the currency (money of two currencies is
//! never added up), joined by a tab: ids hold no control characters, so a
//! tab or a newline never appears inside one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};

/// Customers summed in memory before a run is written: about 10 MB.
pub(super) const IN_MEMORY: usize = 100_000;

/// Runs merged into one when this many are written: read buffers of 8 KB.
const FAN_IN: usize = 64;

/// One customer's changed invoices in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CustomerChange {
    pub(super) customer: String,
    pub(super) currency: String,
    pub(super) invoices: u64,
    /// New total minus stored total, summed, in cents.
    pub(super) change: i128,
}

/// The sums so far.
#[derive(Debug)]
pub(super) struct Customers {
    table: HashMap<String, (u64, i128)>,
    runs: Vec<File>,
    limit: usize,
}

impl Customers {
    /// Sums of at most `limit` customers held in memory ([`IN_MEMORY`] in
    /// the product; tests use a few to reach the runs).
    pub(super) fn new(limit: usize) -> Customers {
        Customers {
            table: HashMap::new(),
            runs: Vec::new(),
            limit: limit.max(1),
        }
    }

    /// Adds one changed invoice of `customer` in `currency`.
    pub(super) fn add(&mut self, customer: &str, currency: &str, change: i128) -> io::Result<()> {
        let entry = self
            .table
            .entry(format!("{customer}\t{currency}"))
            .or_insert((0, 0));
        entry.0 += 1;
        entry.1 += change;
        if self.table.len() >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the table as one sorted run.
    fn spill(&mut self) -> io::Result<()> {
        if self.table.is_empty() {
            return Ok(());
        }
        let mut entries: Vec<(String, (u64, i128))> = self.table.drain().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = BufWriter::new(tempfile::tempfile()?);
        for (key, (invoices, change)) in entries {
            writeln!(out, "{key}\t{invoices}\t{change}")?;
        }
        self.runs.push(rewound(out)?);
        if self.runs.len() >= FAN_IN {
            let merged = Merge::new(std::mem::take(&mut self.runs))?;
            let mut out = BufWriter::new(tempfile::tempfile()?);
            for entry in merged {
                let (key, invoices, change) = entry?;
                writeln!(out, "{key}\t{invoices}\t{change}")?;
            }
            self.runs.push(rewound(out)?);
        }
        Ok(())
    }

    /// How many runs are written (a test's view of when it spills).
    #[cfg(test)]
    pub(super) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The number of changed customers, and the `top` largest changes (in
    /// absolute value; ties by customer, then currency).
    pub(super) fn finish(mut self, top: usize) -> io::Result<(u64, Vec<CustomerChange>)> {
        let mut count = 0_u64;
        let mut largest: Vec<(String, u64, i128)> = Vec::new();
        let mut keep = |key: String, invoices: u64, change: i128| {
            count += 1;
            keep_largest(&mut largest, top, (key, invoices, change));
        };
        if self.runs.is_empty() {
            for (key, (invoices, change)) in self.table.drain() {
                keep(key, invoices, change);
            }
        } else {
            self.spill()?;
            for entry in Merge::new(std::mem::take(&mut self.runs))? {
                let (key, invoices, change) = entry?;
                keep(key, invoices, change);
            }
        }
        cut(&mut largest, top);
        let largest = largest
            .into_iter()
            .map(|(key, invoices, change)| {
                let (customer, currency) = key.rsplit_once('\t').unwrap_or((key.as_str(), ""));
                CustomerChange {
                    customer: customer.to_owned(),
                    currency: currency.to_owned(),
                    invoices,
                    change,
                }
            })
            .collect();
        Ok((count, largest))
    }
}

/// Adds `entry` to `largest`, which holds fewer than `2 × top` entries:
/// cut back to the `top` largest whenever it doubles.
fn keep_largest(largest: &mut Vec<(String, u64, i128)>, top: usize, entry: (String, u64, i128)) {
    if top == 0 {
        return;
    }
    largest.push(entry);
    if largest.len() >= top.saturating_mul(2) {
        cut(largest, top);
    }
}

/// Largest change (in absolute value) first, ties by key; the first `top`.
fn cut(largest: &mut Vec<(String, u64, i128)>, top: usize) {
    largest.sort_by(|a, b| {
        b.2.unsigned_abs()
            .cmp(&a.2.unsigned_abs())
            .then_with(|| a.0.cmp(&b.0))
    });
    largest.truncate(top);
}

/// A written run, flushed and rewound for reading.
fn rewound(out: BufWriter<File>) -> io::Result<File> {
    let mut file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.rewind()?;
    Ok(file)
}

/// Runs merged by key, each key's sums added up: keys come out in order,
/// once each.
struct Merge {
    readers: Vec<io::Lines<BufReader<File>>>,
    heap: BinaryHeap<Reverse<(String, usize, u64, i128)>>,
}

impl Merge {
    fn new(runs: Vec<File>) -> io::Result<Merge> {
        let mut merge = Merge {
            readers: runs
                .into_iter()
                .map(|run| BufReader::new(run).lines())
                .collect(),
            heap: BinaryHeap::new(),
        };
        for index in 0..merge.readers.len() {
            merge.refill(index)?;
        }
        Ok(merge)
    }

    /// Reads run `index`'s next entry into the heap.
    fn refill(&mut self, index: usize) -> io::Result<()> {
        let Some(line) = self.readers[index].next().transpose()? else {
            return Ok(());
        };
        let corrupt = || io::Error::new(io::ErrorKind::InvalidData, "a customer run is corrupt");
        let mut fields = line.rsplitn(3, '\t');
        let change = fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or_else(corrupt)?;
        let invoices = fields
            .next()
            .and_then(|f| f.parse().ok())
            .ok_or_else(corrupt)?;
        let key = fields.next().ok_or_else(corrupt)?.to_owned();
        self.heap.push(Reverse((key, index, invoices, change)));
        Ok(())
    }

    fn next_entry(&mut self) -> io::Result<Option<(String, u64, i128)>> {
        let Some(Reverse((key, index, mut invoices, mut change))) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(index)?;
        while let Some(Reverse((next, ..))) = self.heap.peek()
            && *next == key
        {
            let Some(Reverse((_, index, more, moved))) = self.heap.pop() else {
                break;
            };
            invoices += more;
            change += moved;
            self.refill(index)?;
        }
        Ok(Some((key, invoices, change)))
    }
}

impl Iterator for Merge {
    type Item = io::Result<(String, u64, i128)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same changes summed with a table of `limit`, as (count, top 5).
    fn summed(changes: &[(&str, &str, i128)], limit: usize) -> (u64, Vec<CustomerChange>, usize) {
        let mut customers = Customers::new(limit);
        for (customer, currency, change) in changes {
            customers.add(customer, currency, *change).unwrap();
        }
        let runs = customers.runs();
        let (count, largest) = customers.finish(5).unwrap();
        (count, largest, runs)
    }

    #[test]
    fn sums_spilled_to_runs_are_the_sums_held_in_memory() {
        // 300 customers, each met several times, in an order that spreads
        // every customer over several runs.
        let names: Vec<String> = (0..300).map(|n| format!("cus {n:03}")).collect();
        let mut changes = Vec::new();
        for round in 0..4_i128 {
            for (n, name) in names.iter().enumerate() {
                let n = i128::try_from(n).unwrap();
                let currency = if n % 7 == 0 { "EUR" } else { "USD" };
                changes.push((name.as_str(), currency, (n * 37 + round * 11) % 500 - 250));
            }
        }
        let (count, largest, runs) = summed(&changes, usize::MAX);
        assert_eq!(runs, 0);
        assert_eq!(count, 300);
        for limit in [1, 2, 7, 50, 299] {
            let (spilled_count, spilled, runs) = summed(&changes, limit);
            assert!(runs > 0, "limit {limit} never spilled");
            assert_eq!(
                (spilled_count, &spilled),
                (count, &largest),
                "limit {limit}"
            );
        }
        assert_eq!(largest.len(), 5);
        assert!(largest.iter().all(|c| c.invoices == 4));
        assert!(
            largest
                .windows(2)
                .all(|w| w[0].change.unsigned_abs() >= w[1].change.unsigned_abs())
        );
    }

    #[test]
    fn one_customer_in_two_currencies_is_two_keys_and_ties_go_by_customer() {
        let (count, largest, _) = summed(
            &[
                ("b", "USD", 5),
                ("a", "USD", -5),
                ("a", "EUR", 5),
                ("a", "USD", 0),
            ],
            2,
        );
        assert_eq!(count, 3);
        let keys: Vec<(&str, &str, u64, i128)> = largest
            .iter()
            .map(|c| {
                (
                    c.customer.as_str(),
                    c.currency.as_str(),
                    c.invoices,
                    c.change,
                )
            })
            .collect();
        assert_eq!(
            keys,
            [("a", "EUR", 1, 5), ("a", "USD", 2, -5), ("b", "USD", 1, 5)]
        );
    }

    #[test]
    fn the_largest_held_are_fewer_than_twice_top_and_the_top_largest_survive() {
        let mut largest = Vec::new();
        let mut most = 0;
        for n in 0..100_i128 {
            keep_largest(&mut largest, 5, (format!("c{n:03}"), 1, n - 50));
            most = most.max(largest.len());
        }
        // Sorted only when it doubles, not on every entry.
        assert_eq!(most, 9);
        cut(&mut largest, 5);
        let changes: Vec<i128> = largest.iter().map(|entry| entry.2).collect();
        assert_eq!(changes, [-50, -49, 49, -48, 48]);
        keep_largest(&mut largest, 0, ("c".to_owned(), 1, 1000));
        assert_eq!(largest.len(), 5, "top 0 keeps nothing more");
    }

    #[test]
    fn runs_are_merged_into_one_when_the_fan_in_is_reached_and_not_before() {
        let names: Vec<String> = (0..FAN_IN).map(|n| format!("c{n:02}")).collect();
        let mut customers = Customers::new(1);
        for name in &names[..FAN_IN - 1] {
            customers.add(name, "USD", 1).unwrap();
        }
        assert_eq!(customers.runs(), FAN_IN - 1);
        customers.add(&names[FAN_IN - 1], "USD", 1).unwrap();
        assert_eq!(customers.runs(), 1);
        assert_eq!(customers.finish(3).unwrap().0, 64);
    }

    #[test]
    fn more_runs_than_the_fan_in_are_merged_into_one_on_the_way() {
        let names: Vec<String> = (0..200).map(|n| format!("c{n}")).collect();
        let changes: Vec<(&str, &str, i128)> =
            names.iter().map(|name| (name.as_str(), "USD", 1)).collect();
        let (count, _, runs) = summed(&changes, 1);
        assert_eq!(count, 200);
        assert!(runs < FAN_IN, "{runs} runs open");
        assert_eq!(summed(&[], 1).0, 0);
    }
}
