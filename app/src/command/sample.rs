//! `ledgerly sample`: a deterministic reference book of invoices.
//!
//! The book starts with the corner cases, enumerated on purpose (every tier
//! including one pricing does not know, members and not, both sides of the
//! late-fee threshold, exact half-cent midpoints of the total, the smallest
//! and the largest amounts the rules accept), then continues with random
//! invoices from a seeded generator. The same count and seed give the same
//! bytes on every run and platform: the generator is a small integer PRNG
//! (splitmix64) of our own, not a library whose stream could change with a
//! version bump, and nothing depends on hashing, time or threads.
//!
//! The deploy gate prices this book with the candidate and with the live
//! release and diffs the two outputs, so the book is what decides which
//! pricing changes a reviewer sees.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::ops::Range;

use crate::error::{AppError, Status};

/// What `ledgerly sample --help` shows after the flags.
pub(crate) const HELP: &str = "\
The book begins with the corner cases, in a fixed order (the worked example;
every tier, including the unknown `platinum` and an absent tier, for members
and not, at 0, 30, 31 and 3650 days overdue; exact half-cent midpoints of the
total; a zero price, the smallest and the largest prices and quantities the
rules accept), then random invoices. The same --count and --seed give the
same bytes, everywhere. It streams: memory stays flat for any count.

The output is what `ledgerly invoice` reads:
  ledgerly sample --count 2000 --seed 14 | ledgerly invoice --input - --input-format jsonl
  ledgerly sample --count 2000 --seed 14 --format csv > book.csv";

/// `ledgerly sample`: write a reference book of invoices.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How many invoices to write (the corner cases first)
    #[arg(long, value_name = "N")]
    pub(crate) count: u64,

    /// The seed of the random invoices that follow the corner cases
    #[arg(long, value_name = "S", default_value_t = 14)]
    pub(crate) seed: u64,

    /// The output format, one of those `ledgerly invoice` reads
    #[arg(long, value_enum, default_value_t = SampleFormat::Jsonl)]
    pub(crate) format: SampleFormat,
}

/// The output formats of `ledgerly sample`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SampleFormat {
    /// One invoice object per line
    Jsonl,
    /// One row per line item, under the header `ledgerly invoice` expects
    Csv,
}

/// The CSV input header of `ledgerly invoice`.
const CSV_HEADER: &str = "invoice_id,tier,loyalty_member,days_overdue,price,quantity\n";

/// Runs `ledgerly sample`.
pub(crate) fn run(args: &Args) -> Result<Status, AppError> {
    let stdout = io::stdout().lock();
    let mut out = BufWriter::new(stdout);
    match write_book(&mut out, args.count, args.seed, args.format).and_then(|()| out.flush()) {
        Ok(()) => Ok(Status::Success),
        // A closed pipe (`| head`) ends quietly, as for every command.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(Status::Success),
        Err(error) => Err(AppError::Output(error)),
    }
}

/// Writes `count` invoices of the book for `seed` to `out`, one at a time.
pub(crate) fn write_book(
    out: &mut impl Write,
    count: u64,
    seed: u64,
    format: SampleFormat,
) -> io::Result<()> {
    let mut text = String::new();
    if format == SampleFormat::Csv {
        out.write_all(CSV_HEADER.as_bytes())?;
    }
    for invoice in Book::new(count, seed) {
        text.clear();
        match format {
            SampleFormat::Jsonl => invoice.write_jsonl(&mut text),
            SampleFormat::Csv => invoice.write_csv(&mut text),
        }
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// splitmix64 (Steele, Lea and Flood, 2014): one 64-bit state, a fixed
/// sequence of wrapping integer operations, so it yields the same stream on
/// every platform.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator for `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number from `low` to `high`, both included. The modulo's slight
    /// bias does not matter for a test book; determinism does.
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

/// One line item as the book writes it: the price's exact text, and whether
/// JSON Lines writes it as a JSON number or as a string (the reader takes
/// both, and both must price the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// The unit price, as decimal text.
    pub(crate) price: String,
    /// Written as a JSON number rather than a string.
    pub(crate) as_number: bool,
    /// The quantity.
    pub(crate) quantity: u32,
}

/// One invoice of the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invoice {
    /// `REF-` and the invoice's number from 1, six digits or more.
    pub(crate) id: String,
    /// The tier's name; `None` leaves the field out (no discount).
    pub(crate) tier: Option<&'static str>,
    /// Loyalty membership.
    pub(crate) loyalty_member: bool,
    /// Days overdue.
    pub(crate) days_overdue: u32,
    /// One to four line items.
    pub(crate) items: Vec<Item>,
}

impl Invoice {
    /// Appends the invoice as one JSON Lines line.
    fn write_jsonl(&self, out: &mut String) {
        // Ids, tiers and prices are ours (ASCII letters, digits, `-`, `.`),
        // so nothing needs escaping.
        let _ = write!(out, "{{\"id\":\"{}\"", self.id);
        if let Some(tier) = self.tier {
            let _ = write!(out, ",\"tier\":\"{tier}\"");
        }
        let _ = write!(
            out,
            ",\"loyalty_member\":{},\"days_overdue\":{},\"line_items\":[",
            self.loyalty_member, self.days_overdue
        );
        for (index, item) in self.items.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let quote = if item.as_number { "" } else { "\"" };
            let _ = write!(
                out,
                "{{\"price\":{quote}{}{quote},\"quantity\":{}}}",
                item.price, item.quantity
            );
        }
        out.push_str("]}\n");
    }

    /// Appends the invoice as CSV rows, one per line item.
    fn write_csv(&self, out: &mut String) {
        for item in &self.items {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{}",
                self.id,
                self.tier.unwrap_or(""),
                self.loyalty_member,
                self.days_overdue,
                item.price,
                item.quantity
            );
        }
    }
}

/// The tiers the book uses: the four pricing knows (`none` spelt out), an
/// absent tier, and one sales sold before pricing knew it.
const TIERS: [Option<&str>; 6] = [
    Some("gold"),
    Some("silver"),
    Some("bronze"),
    Some("none"),
    None,
    Some("platinum"),
];

/// Days overdue around the threshold (30: no fee; 31: fee) and far past it.
const BOUNDARY_DAYS: [u32; 4] = [0, 30, 31, 3650];

/// One corner case written out: tier, loyalty, days, (price, quantity)...
type Case = (
    Option<&'static str>,
    bool,
    u32,
    &'static [(&'static str, u32)],
);

/// The corner cases besides the tier × loyalty × days grid, in book order.
/// The midpoints are the billing rules' own (`pricing/tests/rules.rs`): each
/// exact total ends in a half cent, so half away from zero and half to even
/// round it differently (or, for the last two, the same way, upwards).
const CASES: [Case; 18] = [
    // The worked example of the billing rules: 141.69.
    (Some("gold"), true, 45, &[("40.00", 3), ("15", 2)]),
    // Exact half-cent midpoints of the total.
    (Some("none"), false, 0, &[("0.375", 1)]),
    (Some("bronze"), false, 0, &[("2.5", 1)]),
    (Some("gold"), false, 0, &[("7.5", 1)]),
    (Some("silver"), false, 0, &[("3.75", 1)]),
    (Some("none"), true, 0, &[("18.75", 1)]),
    (Some("none"), false, 45, &[("7.5", 1)]),
    (None, false, 0, &[("0.125", 1)]),
    (None, true, 0, &[("6.25", 1)]),
    // The smallest amounts: a zero price, one cent, the finest price.
    (Some("gold"), true, 90, &[("0", 5)]),
    (Some("gold"), true, 31, &[("0.01", 3)]),
    (None, false, 0, &[("0.01", 1)]),
    (None, false, 0, &[("0.0001", 1)]),
    // The largest price and quantity, alone and four times over.
    (Some("gold"), true, 31, &[("1000000000", 1_000_000)]),
    (
        Some("platinum"),
        false,
        3650,
        &[("999999999.9999", 1_000_000); 4],
    ),
    (Some("silver"), true, 0, &[("0.01", 1_000_000)]),
    // Four decimals, several items, prices as numbers and strings.
    (
        Some("bronze"),
        true,
        31,
        &[("12.3456", 7), ("0.0005", 999), ("5000", 1), ("19.99", 20)],
    ),
    (Some("gold"), false, 30, &[("1234.5678", 3), ("0.99", 1)]),
];

/// How many invoices open every book: the grid, then [`CASES`].
pub(crate) const CORNER_CASES: u64 = (TIERS.len() * 2 * BOUNDARY_DAYS.len() + CASES.len()) as u64;

/// The book: an iterator of `count` invoices, the corner cases first.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    rng: SplitMix64,
    /// The indexes still to write. A range rather than a counter compared
    /// with the count, so no mutated comparison can make the book endless.
    indexes: Range<u64>,
}

impl Book {
    /// The first `count` invoices of the book for `seed`.
    pub(crate) fn new(count: u64, seed: u64) -> Self {
        Book {
            rng: SplitMix64::new(seed),
            indexes: 0..count,
        }
    }

    /// The corner case at `index` (below [`CORNER_CASES`]).
    fn corner(index: usize) -> (Option<&'static str>, bool, u32, Vec<Item>) {
        let grid = TIERS.len() * 2 * BOUNDARY_DAYS.len();
        if index < grid {
            // 19.99 × 3 = 59.97: every step of every tier shows in cents.
            let days = BOUNDARY_DAYS[index % BOUNDARY_DAYS.len()];
            let member = (index / BOUNDARY_DAYS.len()) % 2 == 1;
            let tier = TIERS[index / (2 * BOUNDARY_DAYS.len())];
            let item = Item {
                price: "19.99".to_owned(),
                as_number: index.is_multiple_of(3),
                quantity: 3,
            };
            return (tier, member, days, vec![item]);
        }
        let (tier, member, days, items) = CASES[index - grid];
        let items = items
            .iter()
            .enumerate()
            .map(|(position, (price, quantity))| Item {
                price: (*price).to_owned(),
                as_number: position % 2 == 1,
                quantity: *quantity,
            })
            .collect();
        (tier, member, days, items)
    }

    /// A random invoice.
    fn random(&mut self) -> (Option<&'static str>, bool, u32, Vec<Item>) {
        let rng = &mut self.rng;
        let tier = TIERS[usize::try_from(rng.between(0, 5)).unwrap_or(0)];
        let member = rng.next_u64() % 2 == 1;
        let days = match rng.between(0, 9) {
            0 => 0,
            1 => 30,
            2 => 31,
            3 => u32::try_from(rng.between(365, 3650)).unwrap_or(365),
            _ => u32::try_from(rng.between(0, 90)).unwrap_or(0),
        };
        let count = rng.between(1, 4);
        let items = (0..count)
            .map(|_| {
                // Prices in ten-thousandths (the finest the rules accept).
                let (units, decimals) = match rng.between(0, 19) {
                    // Up to the largest price, 1 000 000 000.
                    0 => (rng.between(0, 10_000_000_000_000), 4),
                    // Sub-cent prices, four decimals.
                    1 => (rng.between(1, 99_999), 4),
                    // Eighths: prone to exact half-cent totals.
                    2 => (rng.between(1, 800) * 1250, 4),
                    _ => (rng.between(1, 500_000) * 100, 2),
                };
                let quantity = if rng.between(0, 19) == 0 {
                    rng.between(1, 1_000_000)
                } else {
                    rng.between(1, 20)
                };
                Item {
                    price: decimal_text(units, decimals),
                    as_number: rng.between(0, 2) == 0,
                    quantity: u32::try_from(quantity).unwrap_or(1),
                }
            })
            .collect();
        (tier, member, days, items)
    }
}

/// `units` ten-thousandths as decimal text with `decimals` (2 or 4) places.
fn decimal_text(units: u64, decimals: u32) -> String {
    let whole = units / 10_000;
    let fraction = units % 10_000;
    if decimals == 4 {
        format!("{whole}.{fraction:04}")
    } else {
        format!("{whole}.{:02}", fraction / 100)
    }
}

impl Iterator for Book {
    type Item = Invoice;

    fn next(&mut self) -> Option<Invoice> {
        let index = self.indexes.next()?;
        let (tier, loyalty_member, days_overdue, items) = match usize::try_from(index) {
            Ok(corner) if index < CORNER_CASES => Book::corner(corner),
            _ => self.random(),
        };
        Some(Invoice {
            id: format!("REF-{:06}", index + 1),
            tier,
            loyalty_member,
            days_overdue,
            items,
        })
    }
}

#[cfg(test)]
mod tests;
