//! One invoice from one line of JSON Lines.
//!
//! Only `line_items` is required; unknown fields and wrong types are
//! refused. Prices may be JSON numbers or decimal strings, and a number is
//! read from its text (borrowed as a [`RawValue`]), never through a float:
//! `0.1` and `"0.1"` are the same exact amount.

use std::borrow::Cow;
use std::fmt;

use pricing::{
    DaysOverdue, LineItem, Price, PricingError, PricingInput, Quantity, Tier, excerpt, prefix,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::batch::read::fields::{self, FieldError};

mod fast;

pub(crate) use fast::parse_line_into;

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
        /// An excerpt of the JSON text found instead.
        found: String,
    },
    /// A quantity is not a JSON number.
    #[error("line item {item}: quantity must be a whole JSON number, found {found}")]
    QuantityType {
        /// The 1-based position of the line item.
        item: usize,
        /// An excerpt of the JSON text found instead.
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
    /// A text field breaks the rules of every reader (`crate::batch::read::fields`).
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// Only a JSON object is an invoice or a line item. serde's derived
/// structs also read a JSON array positionally (`["INV-A","gold",…]`),
/// which nobody means; this reads `T` from an object and nothing else, and
/// names what it expected in words, never by an internal type name.
struct Object<T>(T);

/// What an [`Object`] is called in messages.
trait Named {
    /// `an invoice object`, `a line item object`.
    const WHAT: &'static str;
}

impl<'de, T: Deserialize<'de> + Named> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Named> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::WHAT)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Object<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
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
    /// `null` means absent, as for every optional field.
    #[serde(default)]
    loyalty_member: Option<bool>,
    #[serde(borrow, default)]
    days_overdue: Option<&'a RawValue>,
    line_items: LineItems,
}

impl Named for RawInvoice<'_> {
    const WHAT: &'static str = "an invoice object";
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
                while let Some(Object(raw)) = seq.next_element::<Object<RawLineItem<'de>>>()? {
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

impl Named for RawLineItem<'_> {
    const WHAT: &'static str = "a line item object";
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
    let Object(raw): Object<RawInvoice<'_>> = deserialize_line(line)?;
    let id = raw.id.map(|text| text.0);
    let checked = match &id {
        Some(id) => fields::check("id", id).map_err(LineError::from),
        None => Ok(()),
    };
    match checked.and_then(|()| {
        validate(
            raw.tier,
            raw.loyalty_member.unwrap_or(false),
            raw.days_overdue,
            raw.line_items.0,
        )
    }) {
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
    loyalty_member: Option<bool>,
    #[serde(borrow, default)]
    days_overdue: Option<&'a RawValue>,
    line_items: LineItems,
}

impl Named for RawChargeInvoice<'_> {
    const WHAT: &'static str = "an invoice object";
}

/// Reads one invoice to collect from one line (without its line break).
pub(crate) fn parse_charge_line(line: &[u8]) -> Result<ChargeInvoice<'_>, Rejected<'_>> {
    let Object(raw): Object<RawChargeInvoice<'_>> = deserialize_line(line)?;
    let id = raw.id.0;
    let checked = [
        ("id", Some(&id)),
        ("customer", Some(&raw.customer.0)),
        ("payment_method", Some(&raw.payment_method.0)),
        ("currency", raw.currency.as_ref().map(|text| &text.0)),
    ]
    .into_iter()
    .try_for_each(|(field, value)| value.map_or(Ok(()), |value| fields::check(field, value)))
    .map_err(LineError::from);
    match checked.and_then(|()| {
        validate(
            raw.tier,
            raw.loyalty_member.unwrap_or(false),
            raw.days_overdue,
            raw.line_items.0,
        )
    }) {
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
        Some(bare) => format!(
            "{} at column {}",
            prefix(bare, JSON_MESSAGE_CHARS),
            error.column()
        ),
        None => prefix(&message, JSON_MESSAGE_CHARS).into_owned(),
    }
}

/// The most characters of serde's message an error record keeps: serde
/// quotes a value of the wrong type whole (`invalid type: string "…"`),
/// and an error must not grow with its input; serde's own words around a
/// short value are longer than [`excerpt`]'s 64 characters.
const JSON_MESSAGE_CHARS: usize = 256;

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
            .ok_or_else(|| LineError::DaysOverdueType(excerpt(raw.get())))?
            .parse()?,
    };
    // A tier name pricing does not know applies no discount (the domain
    // rule); the batch warns about it once per name.
    let tier = match tier {
        None => Tier::None,
        Some(name) => {
            fields::check("tier", &name.0)?;
            Tier::from_name(&name.0)
        }
    };
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
        found: excerpt(raw.price.get()),
    })?;
    let price: Price = price_text
        .parse()
        .map_err(|source| LineError::LineItem { item, source })?;
    let quantity: Quantity = number_text(raw.quantity)
        .ok_or_else(|| LineError::QuantityType {
            item,
            found: excerpt(raw.quantity.get()),
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
mod tests;
