//! The fast path for JSON Lines invoices: nearly every line of a large
//! export is a valid invoice in the plain shape (each field once, strings
//! without escapes, whole-number quantities and `days_overdue`, prices as
//! strings or plain number text), and this path reads exactly that shape
//! with a hand-written scanner over the line's bytes: no `serde` visitor,
//! no raw values, no intermediate `RawInvoice`, line items into a buffer
//! the caller reuses.
//!
//! Gain, measured: 4 522 instructions per invoice in all against 7 717 with
//! every line read by the general reader, 41 % fewer (callgrind, 20 000
//! invoices of `ledgerly sample`, JSON Lines to JSON Lines, release build);
//! 5 749 against 9 667 on the spaced shape of `scripts/bench` (a space after
//! `:` and `,`, up to six items); the outputs byte-identical. Where the rest
//! goes is in docs/benchmarks.md.
//!
//! Fallback rule: anything this path does not accept as it is — an invalid
//! invoice, an escape, `3.0` as a quantity, an exponent, a field twice, an
//! unknown member, a text that breaks a field rule — makes
//! [`parse_line_into`] hand the line to the general reader
//! ([`super::parse_line`]), which alone decides what is wrong and words the
//! error, so both paths give the same invoice or the same rejection (a
//! proptest of near-invoice lines in `tests.rs` and the fuzz targets check
//! that).

use std::borrow::Cow;

use pricing::{DaysOverdue, LineItem, Price, Quantity, Terms, Tier};

use super::{Rejected, parse_line};
use crate::batch::read::fields;

/// The parts of an invoice read by [`parse_line_into`]; its line items are
/// in the caller's buffer.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    /// The invoice's `id`, when the line had one.
    pub(crate) id: Option<Cow<'a, str>>,
    /// The invoice's tier, loyalty membership and days overdue.
    pub(crate) terms: Terms,
}

/// Reads one invoice from one line (without its line break), as
/// [`parse_line`] does, but puts its line items into `items` (cleared
/// first), so a batch reuses one buffer for millions of invoices.
///
/// Nearly every line of a large export is a valid invoice with whole-number
/// quantities, so those lines take a fast path that reads quantities and
/// `days_overdue` as integers and prices as strings or number text, with no
/// raw values. Anything that path does not accept as it is (an invalid
/// invoice, `3.0` as a quantity, a field twice …) is read again by
/// [`parse_line`], which alone decides what is wrong and words the error, so
/// both paths give the same invoice or the same rejection.
pub(crate) fn parse_line_into<'a>(
    line: &'a [u8],
    items: &mut Vec<LineItem>,
) -> Result<Header<'a>, Rejected<'a>> {
    items.clear();
    if let Some(header) = fast_parse(line, items) {
        return Ok(header);
    }
    items.clear();
    let invoice = parse_line(line)?;
    items.extend_from_slice(invoice.input.line_items());
    Ok(Header {
        id: invoice.id,
        terms: invoice.input.terms().clone(),
    })
}

/// The invoice on `line` when it is valid and in the shape the fast path
/// reads, with its line items in `items`; `None` for anything else.
pub(super) fn fast_parse<'a>(line: &'a [u8], items: &mut Vec<LineItem>) -> Option<Header<'a>> {
    // One UTF-8 check of the whole line: every string below is then a
    // slice of valid text, and a line that is not UTF-8 goes to the general
    // reader, which words the refusal with the offset.
    let text = std::str::from_utf8(line).ok()?;
    let mut scan = Scanner {
        text,
        bytes: line,
        at: 0,
    };
    let mut id: Option<Option<&'a str>> = None;
    let mut tier: Option<Option<&'a str>> = None;
    let mut loyalty_member: Option<Option<bool>> = None;
    let mut days_overdue: Option<Option<u64>> = None;
    let mut has_items = false;
    scan.expect(b'{')?;
    // `{}` and every other object without `line_items` is refused, by the
    // general reader.
    loop {
        let key = scan.key()?;
        scan.expect(b':')?;
        match key {
            // A field given twice is refused by `parse_line` (serde's
            // `duplicate field`), so it must not be read here.
            Key::Id if id.is_none() => id = Some(scan.nullable(Scanner::string)?),
            Key::Tier if tier.is_none() => tier = Some(scan.nullable(Scanner::string)?),
            Key::LoyaltyMember if loyalty_member.is_none() => {
                loyalty_member = Some(scan.nullable(Scanner::boolean)?);
            }
            Key::DaysOverdue if days_overdue.is_none() => {
                days_overdue = Some(scan.nullable(Scanner::count)?);
            }
            Key::LineItems if !has_items => {
                scan.line_items(items)?;
                has_items = true;
            }
            _ => return None,
        }
        if !scan.separator(b'}')? {
            break;
        }
    }
    // Only whitespace may follow the object.
    scan.skip_whitespace();
    if scan.at != scan.bytes.len() || !has_items {
        return None;
    }
    let days_overdue = match days_overdue.flatten() {
        None => DaysOverdue::default(),
        Some(days) => DaysOverdue::from(u32::try_from(days).ok()?),
    };
    // As in `validate`: an unknown tier name applies no discount. A text
    // that breaks a field rule is left to the general reader, which words
    // the refusal.
    let id = id.flatten();
    let tier = tier.flatten();
    let unruly =
        |field, text: Option<&str>| text.is_some_and(|text| fields::check(field, text).is_err());
    if unruly("id", id) || unruly("tier", tier) {
        return None;
    }
    let tier = tier.map_or(Tier::None, Tier::from_name);
    Some(Header {
        id: id.map(Cow::Borrowed),
        terms: Terms::new(
            tier,
            loyalty_member.flatten().unwrap_or(false),
            days_overdue,
        ),
    })
}

/// Whether `bytes` starts with `word`: a comparison of a known length,
/// which compiles to a few loads instead of a call to `memcmp`.
#[allow(clippy::inline_always)] // See `impl Scanner`.
#[inline(always)]
fn starts<const N: usize>(bytes: &[u8], word: &[u8; N]) -> bool {
    bytes.get(..N).is_some_and(|head| head == word)
}

/// The member names the fast path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Tier,
    LoyaltyMember,
    DaysOverdue,
    LineItems,
    Price,
    Quantity,
}

/// The bytes that end a string's plain run: its closing quote and the
/// start of an escape. A raw control character, which JSON does not allow
/// in a string, is left in the slice: every string read here is an id or a
/// tier name, whose field rule refuses control characters, or a price,
/// whose reader refuses anything but a number, so such a line goes to the
/// general reader all the same, which words the refusal.
static ENDS_PLAIN_STRING: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Reads JSON tokens from a line of valid UTF-8, strictly: every method
/// answers `None` for anything outside the plain shape, and the line then
/// goes to the general reader.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

// The scanner's small steps are forced inline: the loop of `fast_parse` is
// then one function, 4 % fewer instructions per invoice than with the
// compiler's own choice (callgrind, 20 000 invoices of `ledgerly sample`:
// 90.4 M against 94.4 M).
#[allow(clippy::inline_always)]
impl<'a> Scanner<'a> {
    /// Skips JSON whitespace: space, tab, line feed, carriage return.
    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, consumed.
    #[inline(always)]
    fn next_byte(&mut self) -> Option<u8> {
        self.skip_whitespace();
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    /// Consumes `byte` after whitespace.
    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_byte()? == byte).then_some(())
    }

    /// After a member or element: `true` at a comma (another follows),
    /// `false` at `close`.
    #[inline(always)]
    fn separator(&mut self, close: u8) -> Option<bool> {
        match self.next_byte()? {
            b',' => Some(true),
            byte if byte == close => Some(false),
            _ => None,
        }
    }

    /// Whether the next token is the literal `word`; consumed if so.
    #[inline(always)]
    fn literal<const N: usize>(&mut self, word: &[u8; N]) -> bool {
        self.skip_whitespace();
        let found = starts(&self.bytes[self.at..], word);
        if found {
            self.at += N;
        }
        found
    }

    /// `null` as `None`, else the value `read` reads.
    #[inline(always)]
    // `None` leaves the line to the general reader, as everywhere here;
    // `Some(None)` is a `null`.
    #[allow(clippy::option_option)]
    fn nullable<T>(&mut self, read: fn(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.literal(b"null") {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// A string without escapes, as a slice of the line; one with an
    /// escape (which the general reader decodes) is `None`. A raw control
    /// character is left to the value's own check (see
    /// [`ENDS_PLAIN_STRING`]).
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        // Ids, tier names and prices are a few bytes long: a loop over a
        // table finds their end sooner than a vectorized search sets up.
        let mut end = start;
        while !ENDS_PLAIN_STRING[usize::from(*self.bytes.get(end)?)] {
            end += 1;
        }
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // Both ends are at ASCII quotes, so they are character boundaries.
        self.text.get(start..end)
    }

    /// A member name of an invoice or a line item, written plainly (with
    /// its closing quote); any other name, or one spelt with escapes, is
    /// `None`.
    #[inline(always)]
    fn key(&mut self) -> Option<Key> {
        self.expect(b'"')?;
        let rest = &self.bytes[self.at..];
        let (key, length) = match rest.first()? {
            b'i' if starts(rest, b"id\"") => (Key::Id, 3),
            b't' if starts(rest, b"tier\"") => (Key::Tier, 5),
            b'd' if starts(rest, b"days_overdue\"") => (Key::DaysOverdue, 13),
            b'p' if starts(rest, b"price\"") => (Key::Price, 6),
            b'q' if starts(rest, b"quantity\"") => (Key::Quantity, 9),
            b'l' if starts(rest, b"loyalty_member\"") => (Key::LoyaltyMember, 15),
            b'l' if starts(rest, b"line_items\"") => (Key::LineItems, 11),
            _ => return None,
        };
        self.at += length;
        Some(key)
    }

    /// `true` or `false`.
    #[inline(always)]
    fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true") {
            Some(true)
        } else if self.literal(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// The digits at the cursor, consumed (possibly none).
    #[inline(always)]
    fn digits(&mut self) -> &'a [u8] {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        &self.bytes[start..self.at]
    }

    /// A whole number written as JSON writes an integer (`0`, `45`, no
    /// sign, no leading zero) that fits a `u64`. A fraction or an exponent
    /// after the digits (`3.0`, `1e9`) is left where it is, and the
    /// caller's next step, which wants a `,` or a closer, refuses it: those
    /// spellings are the general reader's, which reads a number from its
    /// text (`3.0` is 3 there).
    #[inline(always)]
    fn count(&mut self) -> Option<u64> {
        self.skip_whitespace();
        let digits = self.digits();
        if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) {
            return None;
        }
        digits.iter().try_fold(0_u64, |count, &digit| {
            count.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    }

    /// A price's text: a string's contents (no escapes), or a JSON number
    /// in the plain grammar `(0|[1-9][0-9]*)(.[0-9]+)?` (an exponent, or
    /// a second point, is left for the caller's next step to refuse, as in
    /// [`Scanner::count`]). Both readers parse the same text.
    fn price_text(&mut self) -> Option<&'a str> {
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b'"') {
            return self.string();
        }
        // No sign: a negative price is refused anyway, and `-0` (zero) is
        // rare enough to leave to the general reader.
        let start = self.at;
        let whole = self.digits();
        if whole.is_empty() || (whole[0] == b'0' && whole.len() > 1) {
            return None;
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits().is_empty() {
                return None;
            }
        }
        self.text.get(start..self.at)
    }

    /// The `line_items` array, its items into `items`; an empty array is
    /// the general reader's to refuse.
    fn line_items(&mut self, items: &mut Vec<LineItem>) -> Option<()> {
        self.expect(b'[')?;
        loop {
            items.push(self.line_item()?);
            if !self.separator(b']')? {
                return Some(());
            }
        }
    }

    /// One line item: `price` and `quantity`, once each, in either order.
    fn line_item(&mut self) -> Option<LineItem> {
        self.expect(b'{')?;
        let mut price: Option<Price> = None;
        let mut quantity: Option<Quantity> = None;
        loop {
            match self.key()? {
                Key::Price if price.is_none() => {
                    self.expect(b':')?;
                    price = Some(self.price_text()?.parse().ok()?);
                }
                Key::Quantity if quantity.is_none() => {
                    self.expect(b':')?;
                    quantity = Some(Quantity::new(self.count()?).ok()?);
                }
                _ => return None,
            }
            if !self.separator(b'}')? {
                break;
            }
        }
        Some(LineItem::new(price?, quantity?))
    }
}
