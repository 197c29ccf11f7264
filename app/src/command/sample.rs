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
mod tests {
    use super::*;
    use pricing::{
        DaysOverdue, Decimal, LineItem, Money, PricingInput, Tier, add_late_fee, add_tax,
        apply_loyalty_discount, apply_tier_discount, calculate_subtotal,
    };

    fn book(count: u64, seed: u64, format: SampleFormat) -> String {
        let mut bytes = Vec::new();
        write_book(&mut bytes, count, seed, format).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn input(invoice: &Invoice) -> PricingInput {
        let items = invoice
            .items
            .iter()
            .map(|item| {
                LineItem::new(
                    item.price.parse().unwrap(),
                    u64::from(item.quantity).to_string().parse().unwrap(),
                )
            })
            .collect();
        let tier = invoice.tier.map_or(Tier::None, Tier::from_name);
        PricingInput::new(
            items,
            tier,
            invoice.loyalty_member,
            DaysOverdue::from(invoice.days_overdue),
        )
        .unwrap()
    }

    /// The exact total before its one rounding.
    fn exact_total(input: &PricingInput) -> Decimal {
        let subtotal = calculate_subtotal(input.line_items()).unwrap();
        let tiered = apply_tier_discount(subtotal, input.tier()).unwrap();
        let loyal = apply_loyalty_discount(tiered, input.loyalty_member()).unwrap();
        add_late_fee(add_tax(loyal).unwrap(), input.days_overdue()).unwrap()
    }

    #[test]
    fn splitmix64_yields_the_reference_stream() {
        // The published first outputs of splitmix64 for seed 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
        let mut rng = SplitMix64::new(7);
        let mut seen = [0; 3];
        for _ in 0..1000 {
            let value = rng.between(3, 5);
            assert!((3..=5).contains(&value), "{value}");
            seen[usize::try_from(value - 3).unwrap()] += 1;
        }
        assert!(seen.iter().all(|count| *count > 250), "{seen:?}");
    }

    /// FNV-1a 64 of `bytes`, to pin a whole book in one number.
    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    #[test]
    fn the_reference_book_is_pinned_byte_for_byte() {
        // The deploy gate's book (2000 invoices, seed 14). If this changes,
        // the gate compares a different book than the live release's
        // reports were made with: change it on purpose only, and say so.
        let jsonl = book(2000, 14, SampleFormat::Jsonl);
        let csv = book(2000, 14, SampleFormat::Csv);
        assert_eq!(
            (jsonl.len(), fnv1a(jsonl.as_bytes())),
            (337_367, 7_187_392_846_196_768_803),
            "jsonl"
        );
        assert_eq!(
            (csv.len(), fnv1a(csv.as_bytes())),
            (174_246, 14_071_112_433_867_246_337),
            "csv"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        for format in [SampleFormat::Jsonl, SampleFormat::Csv] {
            assert_eq!(book(500, 14, format), book(500, 14, format));
        }
    }

    #[test]
    fn different_seeds_give_different_random_invoices_after_the_same_corner_cases() {
        let one: Vec<Invoice> = Book::new(300, 1).collect();
        let two: Vec<Invoice> = Book::new(300, 2).collect();
        let corners = usize::try_from(CORNER_CASES).unwrap();
        assert_eq!(one[..corners], two[..corners]);
        assert_ne!(one[corners..], two[corners..]);
    }

    #[test]
    fn the_book_has_exactly_count_invoices_with_ids_in_order() {
        assert_eq!(book(0, 1, SampleFormat::Jsonl), "");
        assert_eq!(book(0, 1, SampleFormat::Csv), CSV_HEADER);
        let invoices: Vec<Invoice> = Book::new(CORNER_CASES + 5, 9).collect();
        assert_eq!(invoices.len(), usize::try_from(CORNER_CASES + 5).unwrap());
        for (index, invoice) in invoices.iter().enumerate() {
            assert_eq!(invoice.id, format!("REF-{:06}", index + 1));
        }
        // Fewer than the corner cases: the first ones only.
        let few: Vec<Invoice> = Book::new(3, 9).collect();
        assert_eq!(few[..], invoices[..3]);
    }

    #[test]
    fn the_first_invoices_enumerate_every_tier_membership_and_threshold_side() {
        let invoices: Vec<Invoice> = Book::new(48, 1).collect();
        let mut seen = Vec::new();
        for invoice in &invoices {
            seen.push((invoice.tier, invoice.loyalty_member, invoice.days_overdue));
        }
        for tier in TIERS {
            for member in [false, true] {
                for days in BOUNDARY_DAYS {
                    assert!(
                        seen.contains(&(tier, member, days)),
                        "{tier:?} {member} {days}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_invoice_of_a_large_book_is_within_the_rules_and_prices() {
        for invoice in Book::new(5000, 14) {
            assert!((1..=4).contains(&invoice.items.len()), "{invoice:?}");
            let input = input(&invoice);
            pricing::price(&input).unwrap();
        }
    }

    #[test]
    fn the_book_covers_midpoints_small_and_large_amounts_and_both_price_spellings() {
        let mut midpoints = 0;
        let mut smallest = false;
        let mut largest = false;
        let mut zero = false;
        let mut numbers = 0;
        let mut strings = 0;
        let mut fee = [false, false];
        for invoice in Book::new(2000, 14) {
            let input = input(&invoice);
            let exact = exact_total(&input);
            let cents = exact * Decimal::ONE_HUNDRED;
            if cents.fract() == Decimal::new(5, 1) {
                midpoints += 1;
            }
            let total = pricing::price(&input).unwrap().total();
            zero |= total == Money::ZERO;
            smallest |= total == Money::from_minor_units(1);
            largest |= total.minor_units() > 100_000_000_000_000_000;
            fee[usize::from(invoice.days_overdue > 30)] = true;
            for item in &invoice.items {
                if item.as_number {
                    numbers += 1;
                } else {
                    strings += 1;
                }
            }
        }
        assert!(midpoints >= 8, "{midpoints} midpoints");
        assert!(zero && smallest && largest, "{zero} {smallest} {largest}");
        assert!(numbers > 100 && strings > 100, "{numbers} {strings}");
        assert_eq!(fee, [true, true]);
    }

    #[test]
    fn random_invoices_cover_every_tier_and_the_day_buckets() {
        let random: Vec<Invoice> = Book::new(3000, 5)
            .skip(usize::try_from(CORNER_CASES).unwrap())
            .collect();
        for tier in TIERS {
            assert!(
                random.iter().any(|invoice| invoice.tier == tier),
                "{tier:?}"
            );
        }
        for days in [0, 30, 31] {
            assert!(random.iter().any(|invoice| invoice.days_overdue == days));
        }
        assert!(random.iter().any(|invoice| invoice.days_overdue > 364));
        assert!(random.iter().any(|invoice| invoice.loyalty_member));
        assert!(random.iter().any(|invoice| !invoice.loyalty_member));
        assert!(random.iter().any(|invoice| invoice.items.len() == 4));
        let quantities = random.iter().flat_map(|invoice| &invoice.items);
        assert!(quantities.clone().any(|item| item.quantity > 20));
        assert!(quantities.clone().any(|item| item.price.len() > 13));
    }

    #[test]
    fn jsonl_and_csv_spell_the_same_invoice() {
        let invoice = Invoice {
            id: "REF-000001".to_owned(),
            tier: None,
            loyalty_member: true,
            days_overdue: 31,
            items: vec![
                Item {
                    price: "40.00".to_owned(),
                    as_number: false,
                    quantity: 3,
                },
                Item {
                    price: "15".to_owned(),
                    as_number: true,
                    quantity: 2,
                },
            ],
        };
        let mut jsonl = String::new();
        invoice.write_jsonl(&mut jsonl);
        assert_eq!(
            jsonl,
            "{\"id\":\"REF-000001\",\"loyalty_member\":true,\"days_overdue\":31,\
             \"line_items\":[{\"price\":\"40.00\",\"quantity\":3},{\"price\":15,\"quantity\":2}]}\n"
        );
        let mut csv = String::new();
        invoice.write_csv(&mut csv);
        assert_eq!(
            csv,
            "REF-000001,,true,31,40.00,3\nREF-000001,,true,31,15,2\n"
        );
    }

    #[test]
    fn decimal_text_keeps_exactly_the_asked_places() {
        assert_eq!(decimal_text(0, 2), "0.00");
        assert_eq!(decimal_text(1, 4), "0.0001");
        assert_eq!(decimal_text(123_456, 4), "12.3456");
        assert_eq!(decimal_text(123_400, 2), "12.34");
        assert_eq!(decimal_text(10_000_000_000_000, 4), "1000000000.0000");
    }
}
