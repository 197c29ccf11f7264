//! One invoice from one line of JSON Lines.
//!
//! Only `line_items` is required; unknown fields and wrong types are
//! refused. Prices may be JSON numbers or decimal strings, and a number is
//! read from its text (borrowed as a [`RawValue`]), never through a float:
//! `0.1` and `"0.1"` are the same exact amount.

use std::borrow::Cow;
use std::fmt;

use pricing::{DaysOverdue, LineItem, Price, PricingError, PricingInput, Quantity, Tier};
use serde::Deserialize;
use serde_json::value::RawValue;

/// An invoice read from one line, ready to price.
#[derive(Debug)]
pub(crate) struct Invoice<'a> {
    /// The invoice's `id`, when the line had one.
    pub(crate) id: Option<Cow<'a, str>>,
    /// What pricing needs.
    pub(crate) input: PricingInput,
}

/// A line that is not a valid invoice, with the invoice's id when it could
/// still be read.
#[derive(Debug)]
pub(crate) struct Rejected<'a> {
    /// The invoice's `id`, when the line is JSON with a string `id`.
    pub(crate) id: Option<Cow<'a, str>>,
    /// What is wrong with the line.
    pub(crate) error: LineError,
}

/// Why a line is not a valid invoice. Messages name the offending value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LineError {
    /// The line's bytes are not UTF-8.
    #[error("line is not valid UTF-8 (invalid byte at offset {0})")]
    InvalidUtf8(usize),
    /// The line is not JSON, or not an invoice object (wrong type, unknown
    /// or missing field).
    #[error("invalid invoice JSON: {0}")]
    Json(String),
    /// A price is neither a JSON number nor a string.
    #[error("line item {item}: price must be a number or a decimal string, found {found}")]
    PriceType {
        /// The 1-based position of the line item.
        item: usize,
        /// The JSON text found instead.
        found: String,
    },
    /// A quantity is not a JSON number.
    #[error("line item {item}: quantity must be a whole JSON number, found {found}")]
    QuantityType {
        /// The 1-based position of the line item.
        item: usize,
        /// The JSON text found instead.
        found: String,
    },
    /// `days_overdue` is not a JSON number.
    #[error("days_overdue must be a whole JSON number, found {0}")]
    DaysOverdueType(String),
    /// A line item's price or quantity is refused by pricing.
    #[error("line item {item}: {source}")]
    LineItem {
        /// The 1-based position of the line item.
        item: usize,
        /// What pricing refused.
        source: PricingError,
    },
    /// Pricing refused the invoice (for example `days_overdue` or no line
    /// items).
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// Text that is borrowed from the line when it has no escapes, and owned
/// only when JSON escapes had to be decoded. serde's own `Cow<str>` borrows
/// only when it is a field's whole type, not inside an `Option`, where it
/// would copy every id and tier name.
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> serde::de::Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                text: &'de str,
            ) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }

        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// The invoice object as it appears on the line, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvoice<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    tier: Option<Text<'a>>,
    #[serde(default)]
    loyalty_member: bool,
    #[serde(borrow, default)]
    days_overdue: Option<&'a RawValue>,
    line_items: LineItems,
}

/// The `line_items` array, validated item by item while it is parsed, so
/// the raw items need no vector of their own. The first invalid item is
/// kept; a structural JSON error anywhere still wins, as serde reports it.
struct LineItems(Result<Vec<LineItem>, LineError>);

impl<'de> Deserialize<'de> for LineItems {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemsVisitor;

        impl<'de> serde::de::Visitor<'de> for ItemsVisitor {
            type Value = LineItems;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of line items")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LineItems, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                let mut first_error = None;
                let mut position = 0;
                while let Some(raw) = seq.next_element::<RawLineItem<'de>>()? {
                    position += 1;
                    if first_error.is_none() {
                        match line_item(position, &raw) {
                            Ok(item) => items.push(item),
                            Err(error) => first_error = Some(error),
                        }
                    }
                }
                Ok(LineItems(first_error.map_or(Ok(items), Err)))
            }
        }

        deserializer.deserialize_seq(ItemsVisitor)
    }
}

/// One line item as it appears on the line, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLineItem<'a> {
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(borrow)]
    quantity: &'a RawValue,
}

/// Just the `id` of a line that is JSON but not a valid invoice, so its
/// error record can still name the invoice.
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
}

/// Reads one invoice from one line (without its line break).
pub(crate) fn parse_line(line: &[u8]) -> Result<Invoice<'_>, Rejected<'_>> {
    let raw: RawInvoice<'_> = deserialize_line(line)?;
    let id = raw.id.map(|text| text.0);
    match validate(
        raw.tier,
        raw.loyalty_member,
        raw.days_overdue,
        raw.line_items.0,
    ) {
        Ok(input) => Ok(Invoice { id, input }),
        Err(error) => Err(Rejected { id, error }),
    }
}

/// The JSON object on `line` as `T`, or the line's rejection.
fn deserialize_line<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, Rejected<'a>> {
    // One UTF-8 check of the whole line is cheaper than `from_slice`'s
    // check of every string and raw value on its own.
    let text = std::str::from_utf8(line).map_err(|invalid| Rejected {
        id: recover_id(line),
        error: LineError::InvalidUtf8(invalid.valid_up_to()),
    })?;
    serde_json::from_str(text).map_err(|error| Rejected {
        id: recover_id(line),
        error: LineError::Json(json_message(&error)),
    })
}

/// An invoice to collect, read from one line of `ledgerly charge` input:
/// an invoice as [`parse_line`] reads it plus who pays, with what, in which
/// currency.
#[derive(Debug)]
pub(crate) struct ChargeInvoice<'a> {
    /// The invoice's `id` (required here: billing keys payments by it).
    pub(crate) id: Cow<'a, str>,
    /// The paying customer's id.
    pub(crate) customer: Cow<'a, str>,
    /// The payment-method token.
    pub(crate) payment_method: Cow<'a, str>,
    /// The currency code, when the line names one.
    pub(crate) currency: Option<Cow<'a, str>>,
    /// What pricing needs.
    pub(crate) input: PricingInput,
}

/// A `ledgerly charge` line as it appears, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChargeInvoice<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    customer: Text<'a>,
    #[serde(borrow)]
    payment_method: Text<'a>,
    #[serde(borrow, default)]
    currency: Option<Text<'a>>,
    #[serde(borrow, default)]
    tier: Option<Text<'a>>,
    #[serde(default)]
    loyalty_member: bool,
    #[serde(borrow, default)]
    days_overdue: Option<&'a RawValue>,
    line_items: LineItems,
}

/// Reads one invoice to collect from one line (without its line break).
pub(crate) fn parse_charge_line(line: &[u8]) -> Result<ChargeInvoice<'_>, Rejected<'_>> {
    let raw: RawChargeInvoice<'_> = deserialize_line(line)?;
    let id = raw.id.0;
    match validate(
        raw.tier,
        raw.loyalty_member,
        raw.days_overdue,
        raw.line_items.0,
    ) {
        Ok(input) => Ok(ChargeInvoice {
            id,
            customer: raw.customer.0,
            payment_method: raw.payment_method.0,
            currency: raw.currency.map(|text| text.0),
            input,
        }),
        Err(error) => Err(Rejected {
            id: Some(id),
            error,
        }),
    }
}

/// The parts of an invoice read by [`parse_line_into`]; its line items are
/// in the caller's buffer.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    /// The invoice's `id`, when the line had one.
    pub(crate) id: Option<Cow<'a, str>>,
    /// The customer's tier.
    pub(crate) tier: Tier,
    /// Whether the customer is a loyalty member.
    pub(crate) loyalty_member: bool,
    /// How many days the invoice is overdue.
    pub(crate) days_overdue: DaysOverdue,
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
        tier: invoice.input.tier().clone(),
        loyalty_member: invoice.input.loyalty_member(),
        days_overdue: invoice.input.days_overdue(),
    })
}

/// The invoice on `line` when it is valid and in the shape the fast path
/// reads, with its line items in `items`; `None` for anything else.
fn fast_parse<'a>(line: &'a [u8], items: &mut Vec<LineItem>) -> Option<Header<'a>> {
    let text = std::str::from_utf8(line).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let header =
        serde::de::DeserializeSeed::deserialize(FastInvoice { items }, &mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(header)
}

/// The fields of an invoice line; any other name is refused.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Id,
    Tier,
    LoyaltyMember,
    DaysOverdue,
    LineItems,
}

/// Reads an invoice object on the fast path, its line items into `items`.
/// Every refusal here only means "let [`parse_line`] read it", so the
/// errors carry no detail.
struct FastInvoice<'i> {
    items: &'i mut Vec<LineItem>,
}

impl<'de> serde::de::DeserializeSeed<'de> for FastInvoice<'_> {
    type Value = Header<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Header<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FastInvoice<'_> {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an invoice object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        use serde::de::Error;
        let mut id: Option<Option<Text<'de>>> = None;
        let mut tier: Option<Option<Text<'de>>> = None;
        let mut loyalty_member: Option<bool> = None;
        let mut days_overdue: Option<Option<Count>> = None;
        let mut has_items = false;
        // A field given twice is refused by `parse_line` (serde's
        // `duplicate field`), so it must not be read here.
        let twice = || A::Error::custom("duplicate field");
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Id if id.is_none() => id = Some(map.next_value()?),
                Field::Tier if tier.is_none() => tier = Some(map.next_value()?),
                Field::LoyaltyMember if loyalty_member.is_none() => {
                    loyalty_member = Some(map.next_value()?);
                }
                Field::DaysOverdue if days_overdue.is_none() => {
                    days_overdue = Some(map.next_value()?);
                }
                Field::LineItems if !has_items => {
                    map.next_value_seed(FastItems {
                        items: &mut *self.items,
                    })?;
                    has_items = true;
                }
                _ => return Err(twice()),
            }
        }
        if self.items.is_empty() {
            return Err(A::Error::custom("no line items"));
        }
        let days_overdue = match days_overdue.flatten() {
            None => DaysOverdue::default(),
            Some(Count(days)) => u32::try_from(days)
                .map(DaysOverdue::from)
                .map_err(|_| A::Error::custom("days overdue out of range"))?,
        };
        Ok(Header {
            id: id.flatten().map(|text| text.0),
            // As in `validate`: an unknown name applies no discount.
            tier: tier
                .flatten()
                .map_or(Tier::None, |name| Tier::from_name(&name.0)),
            loyalty_member: loyalty_member.unwrap_or(false),
            days_overdue,
        })
    }
}

/// Reads the `line_items` array on the fast path into `items`.
struct FastItems<'i> {
    items: &'i mut Vec<LineItem>,
}

impl<'de> serde::de::DeserializeSeed<'de> for FastItems<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FastItems<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of line items")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        use serde::de::Error;
        while let Some(item) = seq.next_element::<FastLineItem<'de>>()? {
            let price: Price = price_text(item.price)
                .ok_or_else(|| A::Error::custom("price is neither a number nor a string"))?
                .parse()
                .map_err(A::Error::custom)?;
            self.items.push(LineItem::new(price, item.quantity));
        }
        Ok(())
    }
}

/// One line item on the fast path. The price stays a raw value: its text
/// is what is parsed, whether it is a JSON number or a string, and a raw
/// value costs less than `serde_json`'s `arbitrary_precision` number, which
/// copies the text into a fresh `String`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastLineItem<'a> {
    #[serde(borrow)]
    price: &'a RawValue,
    #[serde(deserialize_with = "fast_quantity")]
    quantity: Quantity,
}

/// A quantity written as a JSON integer from 1 to [`Quantity::MAX`].
fn fast_quantity<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Quantity, D::Error> {
    let Count(count) = Count::deserialize(deserializer)?;
    Quantity::new(count).map_err(serde::de::Error::custom)
}

/// A JSON integer from 0 to `u64::MAX`, and nothing else. `serde_json` reads
/// a plain integer straight into `visit_u64`, without the raw-value
/// protocol. Any other number (`3.0`, `1e9`, `-1`, one beyond `u64::MAX`)
/// or value is refused, so the line goes to [`parse_line`], which reads the
/// number from its text. The visitor has no `visit_f64`: serde's default
/// refuses a float, so none is ever read as a value here.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;

        impl serde::de::Visitor<'_> for CountVisitor {
            type Value = Count;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole JSON number")
            }

            fn visit_u64<E: serde::de::Error>(self, count: u64) -> Result<Count, E> {
                Ok(Count(count))
            }
        }

        deserializer.deserialize_u64(CountVisitor)
    }
}

/// The string `id` of a line that is a JSON object, if it has one.
fn recover_id(line: &[u8]) -> Option<Cow<'_, str>> {
    serde_json::from_slice::<IdOnly<'_>>(line)
        .ok()
        .and_then(|found| found.id)
        .map(|text| text.0)
}

/// `serde_json`'s message without its position: every record is one line, so
/// "line 1" would mislead; the column is kept.
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&position) {
        Some(bare) => format!("{bare} at column {}", error.column()),
        None => message,
    }
}

fn validate(
    tier: Option<Text<'_>>,
    loyalty_member: bool,
    days_overdue: Option<&RawValue>,
    line_items: Result<Vec<LineItem>, LineError>,
) -> Result<PricingInput, LineError> {
    let line_items = line_items?;
    let days_overdue = match days_overdue {
        None => DaysOverdue::default(),
        Some(raw) => number_text(raw)
            .ok_or_else(|| LineError::DaysOverdueType(raw.get().to_owned()))?
            .parse()?,
    };
    // A tier name pricing does not know applies no discount (the domain
    // rule); the batch warns about it once per name.
    let tier = tier.map_or(Tier::None, |name| Tier::from_name(&name.0));
    Ok(PricingInput::new(
        line_items,
        tier,
        loyalty_member,
        days_overdue,
    )?)
}

fn line_item(item: usize, raw: &RawLineItem<'_>) -> Result<LineItem, LineError> {
    let price_text = price_text(raw.price).ok_or_else(|| LineError::PriceType {
        item,
        found: raw.price.get().to_owned(),
    })?;
    let price: Price = price_text
        .parse()
        .map_err(|source| LineError::LineItem { item, source })?;
    let quantity: Quantity = number_text(raw.quantity)
        .ok_or_else(|| LineError::QuantityType {
            item,
            found: raw.quantity.get().to_owned(),
        })?
        .parse()
        .map_err(|source| LineError::LineItem { item, source })?;
    Ok(LineItem::new(price, quantity))
}

/// The text of a price: a JSON number's text or a JSON string's decoded
/// contents; `None` for any other JSON value.
fn price_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    match number_text(raw) {
        Some(number) => Some(Cow::Borrowed(number)),
        None => string_text(raw),
    }
}

/// The text of a JSON number, or `None` for any other JSON value.
fn number_text(raw: &RawValue) -> Option<&str> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'-' | b'0'..=b'9') => Some(text),
        _ => None,
    }
}

/// The decoded contents of a JSON string, or `None` for any other JSON value.
fn string_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced_total(line: &str) -> String {
        let invoice = parse_line(line.as_bytes()).unwrap();
        pricing::price(&invoice.input).unwrap().total().to_string()
    }

    fn error_of(line: &[u8]) -> String {
        parse_line(line).unwrap_err().error.to_string()
    }

    #[test]
    fn reads_the_domain_example_with_string_and_number_prices() {
        let line = r#"{"id": "INV-1", "tier": "gold", "loyalty_member": true, "days_overdue": 45, "line_items": [{"price": "40.00", "quantity": 3}, {"price": 15, "quantity": 2}]}"#;
        let invoice = parse_line(line.as_bytes()).unwrap();
        assert_eq!(invoice.id.as_deref(), Some("INV-1"));
        assert_eq!(invoice.input.tier(), &Tier::Gold);
        assert!(invoice.input.loyalty_member());
        assert_eq!(invoice.input.days_overdue().get(), 45);
        assert_eq!(invoice.input.line_items().len(), 2);
        assert_eq!(priced_total(line), "141.69");
    }

    #[test]
    fn only_line_items_is_required() {
        let invoice = parse_line(br#"{"line_items":[{"price":"10","quantity":1}]}"#).unwrap();
        assert_eq!(invoice.id, None);
        assert_eq!(invoice.input.tier(), &Tier::None);
        assert!(!invoice.input.loyalty_member());
        assert_eq!(invoice.input.days_overdue().get(), 0);
    }

    #[test]
    fn null_optional_fields_mean_absent() {
        let invoice =
            parse_line(br#"{"id":null,"tier":null,"days_overdue":null,"line_items":[{"price":"10","quantity":1}]}"#)
                .unwrap();
        assert_eq!(invoice.id, None);
        assert_eq!(invoice.input.tier(), &Tier::None);
        assert_eq!(invoice.input.days_overdue().get(), 0);
    }

    #[test]
    fn number_prices_are_read_from_their_text() {
        // 0.1 × 3 is 0.30000000000000004 in binary floating point.
        assert_eq!(
            priced_total(r#"{"line_items":[{"price":0.1,"quantity":3}]}"#),
            "0.32"
        );
        let invoice = parse_line(br#"{"line_items":[{"price":0.1,"quantity":3}]}"#).unwrap();
        assert_eq!(invoice.input.line_items()[0].price().to_string(), "0.1");
    }

    #[test]
    fn exponent_numbers_are_exact() {
        let invoice = parse_line(
            br#"{"line_items":[{"price":4.0E1,"quantity":3e0},{"price":"15e0","quantity":2}]}"#,
        )
        .unwrap();
        let items = invoice.input.line_items();
        assert_eq!(items[0].price().to_string(), "40");
        assert_eq!(items[0].quantity().get(), 3);
        assert_eq!(items[1].price().to_string(), "15");
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let invoice = parse_line(
            br#"{"id":"INV-\"7\"","tier":"g\u006fld","line_items":[{"price":"\u0031\u0030","quantity":1}]}"#,
        )
        .unwrap();
        assert_eq!(invoice.id.as_deref(), Some("INV-\"7\""));
        assert_eq!(invoice.input.tier(), &Tier::Gold);
        assert_eq!(invoice.input.line_items()[0].price().to_string(), "10");
    }

    #[test]
    fn unknown_tier_names_are_kept_for_the_no_discount_rule() {
        let invoice =
            parse_line(br#"{"tier":"platinum","line_items":[{"price":"10","quantity":1}]}"#)
                .unwrap();
        assert_eq!(
            invoice.input.tier(),
            &Tier::Unrecognized("platinum".to_owned())
        );
    }

    #[test]
    fn refuses_invalid_utf8_naming_the_offset() {
        let rejected = parse_line(b"{\"id\":\"A\xff\"}").unwrap_err();
        assert_eq!(rejected.id, None);
        assert_eq!(
            rejected.error.to_string(),
            "line is not valid UTF-8 (invalid byte at offset 8)"
        );
    }

    #[test]
    fn refuses_invalid_utf8_anywhere_in_the_line() {
        for line in [
            &b"{\"line_items\":[{\"price\":\"1\xc3\",\"quantity\":1}]}"[..],
            b"{\"tier\":\"g\xe9\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}",
            b"{\"line_items\":[{\"price\":1,\"quantity\":1}]}\xff",
            b"{\"line_items\xff\":[]}",
        ] {
            let rejected = parse_line(line).unwrap_err();
            assert!(
                matches!(rejected.error, LineError::InvalidUtf8(_)),
                "{:?}: {}",
                String::from_utf8_lossy(line),
                rejected.error
            );
        }
    }

    #[test]
    fn an_invalid_utf8_line_still_names_its_id() {
        let rejected =
            parse_line(b"{\"id\":\"A-1\",\"tier\":\"\xff\",\"line_items\":[]}").unwrap_err();
        assert_eq!(rejected.id.as_deref(), Some("A-1"));
    }

    #[test]
    fn refuses_broken_json_with_the_column() {
        assert_eq!(
            error_of(br#"{"line_items": [}"#),
            "invalid invoice JSON: expected value at column 17"
        );
    }

    #[test]
    fn refuses_unknown_fields_and_keeps_the_id() {
        let rejected = parse_line(
            br#"{"id":"INV-9","colour":"red","line_items":[{"price":"1","quantity":1}]}"#,
        )
        .unwrap_err();
        assert_eq!(rejected.id.as_deref(), Some("INV-9"));
        assert!(
            rejected
                .error
                .to_string()
                .starts_with("invalid invoice JSON: unknown field `colour`"),
            "{}",
            rejected.error
        );
    }

    #[test]
    fn refuses_a_missing_line_items_field() {
        assert_eq!(
            error_of(br#"{"id":"A"}"#),
            "invalid invoice JSON: missing field `line_items` at column 10"
        );
    }

    #[test]
    fn refuses_wrong_types() {
        assert!(
            error_of(br#"{"loyalty_member":"yes","line_items":[{"price":"1","quantity":1}]}"#)
                .starts_with(
                    "invalid invoice JSON: invalid type: string \"yes\", expected a boolean"
                )
        );
        assert_eq!(
            error_of(br#"{"line_items":[{"price":true,"quantity":1}]}"#),
            "line item 1: price must be a number or a decimal string, found true"
        );
        assert_eq!(
            error_of(br#"{"line_items":[{"price":"1","quantity":"3"}]}"#),
            "line item 1: quantity must be a whole JSON number, found \"3\""
        );
        assert_eq!(
            error_of(br#"{"days_overdue":"45","line_items":[{"price":"1","quantity":1}]}"#),
            "days_overdue must be a whole JSON number, found \"45\""
        );
        // The messages name what was expected instead.
        assert_eq!(
            error_of(br#"{"id":5,"line_items":[{"price":"1","quantity":1}]}"#),
            "invalid invoice JSON: invalid type: integer `5`, expected a string at column 7"
        );
        assert_eq!(
            error_of(br#"{"line_items":5}"#),
            "invalid invoice JSON: invalid type: integer `5`, expected an array of line items at column 15"
        );
    }

    #[test]
    fn refuses_what_pricing_refuses_naming_the_item() {
        assert_eq!(
            error_of(br#"{"line_items":[{"price":"1","quantity":1},{"price":"-5","quantity":1}]}"#),
            "line item 2: price -5 is negative"
        );
        assert_eq!(
            error_of(br#"{"line_items":[{"price":"1.00001","quantity":1}]}"#),
            "line item 1: price 1.00001 has more than 4 decimal places"
        );
        assert_eq!(
            error_of(br#"{"line_items":[{"price":"1","quantity":2.5}]}"#),
            "line item 1: quantity \"2.5\" is not a whole number from 1 to 1000000"
        );
        assert_eq!(
            error_of(br#"{"line_items":[]}"#),
            "an invoice needs at least one line item"
        );
        assert_eq!(
            error_of(br#"{"days_overdue":-3,"line_items":[{"price":"1","quantity":1}]}"#),
            "days overdue -3 is negative"
        );
    }

    #[test]
    fn refuses_huge_numbers_without_rounding_them() {
        assert_eq!(
            error_of(br#"{"line_items":[{"price":1e400,"quantity":1}]}"#),
            "line item 1: price \"1e400\" is not a decimal number"
        );
        assert_eq!(
            error_of(br#"{"line_items":[{"price":"1000000000.01","quantity":1}]}"#),
            "line item 1: price 1000000000.01 is above the maximum of 1000000000"
        );
        assert_eq!(
            error_of(br#"{"line_items":[{"price":"1","quantity":99999999999999999999}]}"#),
            "line item 1: quantity \"99999999999999999999\" is not a whole number from 1 to 1000000"
        );
    }

    #[test]
    fn a_charge_line_carries_customer_payment_method_and_currency() {
        let invoice = parse_charge_line(
            br#"{"id":"INV-1","customer":"cus_1","payment_method":"tok_success","currency":"eur","tier":"gold","line_items":[{"price":"10","quantity":1}]}"#,
        )
        .unwrap();
        assert_eq!(invoice.id, "INV-1");
        assert_eq!(invoice.customer, "cus_1");
        assert_eq!(invoice.payment_method, "tok_success");
        assert_eq!(invoice.currency.as_deref(), Some("eur"));
        assert_eq!(invoice.input.tier(), &Tier::Gold);
    }

    #[test]
    fn a_charge_line_needs_id_customer_and_payment_method() {
        for (line, missing) in [
            (
                &br#"{"customer":"c","payment_method":"t","line_items":[]}"#[..],
                "id",
            ),
            (
                br#"{"id":"A","payment_method":"t","line_items":[]}"#,
                "customer",
            ),
            (
                br#"{"id":"A","customer":"c","line_items":[]}"#,
                "payment_method",
            ),
        ] {
            let message = parse_charge_line(line).unwrap_err().error.to_string();
            assert!(
                message.starts_with(&format!("invalid invoice JSON: missing field `{missing}`")),
                "{message}"
            );
        }
        let rejected = parse_charge_line(
            br#"{"id":"A","customer":"c","payment_method":"t","line_items":[{"price":"-1","quantity":1}]}"#,
        )
        .unwrap_err();
        assert_eq!(rejected.id.as_deref(), Some("A"));
        assert_eq!(
            rejected.error.to_string(),
            "line item 1: price -1 is negative"
        );
    }

    /// What `parse_line_into` makes of `line`, in the terms `parse_line`
    /// uses, so the two can be compared.
    fn read_into(line: &[u8]) -> Result<String, String> {
        let mut items = vec![LineItem::new("99".parse().unwrap(), "9".parse().unwrap())];
        match parse_line_into(line, &mut items) {
            Ok(header) => Ok(format!(
                "{:?} {:?} {} {} {:?}",
                header.id,
                header.tier,
                header.loyalty_member,
                header.days_overdue.get(),
                items
            )),
            Err(rejected) => Err(format!("{:?} {}", rejected.id, rejected.error)),
        }
    }

    /// What `parse_line` makes of `line`.
    fn read_whole(line: &[u8]) -> Result<String, String> {
        match parse_line(line) {
            Ok(invoice) => Ok(format!(
                "{:?} {:?} {} {} {:?}",
                invoice.id,
                invoice.input.tier(),
                invoice.input.loyalty_member(),
                invoice.input.days_overdue().get(),
                invoice.input.line_items()
            )),
            Err(rejected) => Err(format!("{:?} {}", rejected.id, rejected.error)),
        }
    }

    #[test]
    fn the_fast_path_reads_a_plain_invoice() {
        let line = br#"{"id":"INV-1","tier":"gold","loyalty_member":true,"days_overdue":45,"line_items":[{"price":"40.00","quantity":3},{"price":15,"quantity":2},{"price":0.1,"quantity":1}]}"#;
        let mut items = Vec::new();
        let header = fast_parse(line, &mut items).unwrap();
        assert_eq!(header.id.as_deref(), Some("INV-1"));
        assert_eq!(header.tier, Tier::Gold);
        assert!(header.loyalty_member);
        assert_eq!(header.days_overdue.get(), 45);
        let read: Vec<_> = items
            .iter()
            .map(|item| (item.price().to_string(), item.quantity().get()))
            .collect();
        assert_eq!(
            read,
            [
                ("40".to_owned(), 3),
                ("15".to_owned(), 2),
                ("0.1".to_owned(), 1)
            ]
        );
        assert_eq!(read_into(line), read_whole(line));
    }

    #[test]
    fn the_fast_path_leaves_numbers_that_are_not_plain_integers_to_the_text_reader() {
        for quantity in [
            "3.0",
            "-0",
            "1e9",
            "3e0",
            r#""3""#,
            "18446744073709551616",
            "99999999999999999999",
            "-1",
            "0",
            "2.5",
            "null",
            "true",
        ] {
            let line = format!(r#"{{"line_items":[{{"price":"1","quantity":{quantity}}}]}}"#);
            assert!(
                fast_parse(line.as_bytes(), &mut Vec::new()).is_none(),
                "quantity {quantity}"
            );
            assert_eq!(
                read_into(line.as_bytes()),
                read_whole(line.as_bytes()),
                "quantity {quantity}"
            );
        }
        for days in [
            "45.0",
            "-0",
            "1e9",
            r#""3""#,
            "18446744073709551616",
            "4294967296",
            "-1",
            "2.5",
            "true",
        ] {
            let line =
                format!(r#"{{"days_overdue":{days},"line_items":[{{"price":"1","quantity":1}}]}}"#);
            assert!(
                fast_parse(line.as_bytes(), &mut Vec::new()).is_none(),
                "days_overdue {days}"
            );
            assert_eq!(
                read_into(line.as_bytes()),
                read_whole(line.as_bytes()),
                "days_overdue {days}"
            );
        }
    }

    #[test]
    fn number_quantities_and_days_keep_their_outcomes() {
        let quantity = |text: &str| {
            read_into(format!(r#"{{"line_items":[{{"price":"1","quantity":{text}}}]}}"#).as_bytes())
        };
        let items = |quantity: u32| {
            Ok(format!(
                "None None false 0 [LineItem {{ price: Price(1), quantity: Quantity({quantity}) }}]"
            ))
        };
        assert_eq!(quantity("3.0"), items(3));
        assert_eq!(quantity("3e0"), items(3));
        assert_eq!(quantity("1000000"), items(1_000_000));
        for (text, found) in [
            (
                "1e9",
                r#"quantity "1e9" is not a whole number from 1 to 1000000"#,
            ),
            (
                "-0",
                r#"quantity "-0" is not a whole number from 1 to 1000000"#,
            ),
            (
                "-1",
                r#"quantity "-1" is not a whole number from 1 to 1000000"#,
            ),
            (
                "2.5",
                r#"quantity "2.5" is not a whole number from 1 to 1000000"#,
            ),
            (
                "18446744073709551616",
                r#"quantity "18446744073709551616" is not a whole number from 1 to 1000000"#,
            ),
            (
                r#""3""#,
                r#"quantity must be a whole JSON number, found "3""#,
            ),
            ("null", "quantity must be a whole JSON number, found null"),
            ("true", "quantity must be a whole JSON number, found true"),
        ] {
            assert_eq!(
                quantity(text),
                Err(format!("None line item 1: {found}")),
                "{text}"
            );
        }
        let days = |text: &str| {
            read_into(
                format!(r#"{{"days_overdue":{text},"line_items":[{{"price":"1","quantity":1}}]}}"#)
                    .as_bytes(),
            )
        };
        assert!(days("-0").unwrap().contains(" false 0 "));
        assert_eq!(
            days("-1"),
            Err("None days overdue -1 is negative".to_owned())
        );
        assert_eq!(
            days("4294967296"),
            Err(
                r#"None days overdue "4294967296" is not a whole number from 0 to 4294967295"#
                    .to_owned()
            )
        );
        assert_eq!(
            days("3.0"),
            Err(r#"None days overdue "3.0" is not a whole number from 0 to 4294967295"#.to_owned())
        );
        assert_eq!(
            days("true"),
            Err("None days_overdue must be a whole JSON number, found true".to_owned())
        );
    }

    #[test]
    fn both_readers_agree_on_valid_and_invalid_lines() {
        for line in [
            &br#"{"id":"A","tier":"platinum","days_overdue":null,"line_items":[{"price":"0.1","quantity":3}]}"#[..],
            br#"{"tier":"silver","loyalty_member":false,"line_items":[{"price":1.5e1,"quantity":2},{"quantity":1,"price":"7"}]}"#,
            br#"{"id":"B","tier":"gold","tier":"silver","line_items":[{"price":"1","quantity":1}]}"#,
            br#"{"id":"B1","id":"B2","line_items":[{"price":"1","quantity":1}]}"#,
            br#"{"id":"B3","loyalty_member":true,"loyalty_member":false,"line_items":[{"price":"1","quantity":1}]}"#,
            br#"{"id":"B4","days_overdue":1,"days_overdue":40,"line_items":[{"price":"1","quantity":1}]}"#,
            br#"{"id":"C","line_items":[{"price":"1","quantity":1}],"line_items":[{"price":"2","quantity":1}]}"#,
            br#"{"id":"D","line_items":[{"price":"1","quantity":1,"quantity":2}]}"#,
            br#"{"id":"E","line_items":[]}"#,
            br#"{"id":"F"}"#,
            br#"{"id":"G","line_items":[{"price":"-1","quantity":1}]}"#,
            br#"{"id":"H","line_items":[{"price":-1,"quantity":1}]}"#,
            br#"{"id":"I","line_items":[{"price":{},"quantity":1}]}"#,
            br#"{"id":"J","line_items":[{"price":"1","quantity":1}]} x"#,
            br#"{"id":"K","colour":"red","line_items":[{"price":"1","quantity":1}]}"#,
            br#"{"id":"L","loyalty_member":null,"line_items":[{"price":"1","quantity":1}]}"#,
            br#"{"id":"MA","tier":"gold","line_items":[{"price":"1","quantity":1}]}"#,
            br#"["N",null,false,0,[]]"#,
            b"{\"id\":\"O\xff\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}",
            br#"{"line_items":[{"price":"1","quantity":1},{"price":"1","quantity":1.0}]}"#,
            br#"{"line_items":[{"price":1000000001,"quantity":1}]}"#,
        ] {
            assert_eq!(
                read_into(line),
                read_whole(line),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn json_messages_lose_the_misleading_line_number() {
        let error = serde_json::from_str::<u8>("x").unwrap_err();
        assert_eq!(json_message(&error), "expected value at column 1");
    }
}
