//! The validated inputs of pricing. Each type checks its invariant in its
//! constructor and keeps its field private, so a value that exists is valid.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::number::Exact;
use crate::{PricingError, RATES, RateTable, excerpt};

/// A unit price: not negative, at most 4 significant decimal places, at most
/// one billion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(Decimal);

impl Price {
    /// The largest accepted unit price.
    pub const MAX: Decimal = dec!(1000000000);
    /// The most significant decimal places a price may have (`0.0001`).
    pub const MAX_DECIMAL_PLACES: u32 = 4;

    /// Validates an exact decimal as a price.
    ///
    /// Trailing zeros do not count as decimal places: `15.500000` is the
    /// price `15.5`, because spreadsheets export prices padded like that.
    pub fn new(amount: Decimal) -> Result<Price, PricingError> {
        if amount.is_zero() {
            // `-0` is zero, not a negative price.
            return Ok(Price(Decimal::ZERO));
        }
        if amount.is_sign_negative() {
            return Err(PricingError::NegativePrice(amount.to_string()));
        }
        // A mantissa of at most 10^9 cannot exceed 10^9 at any scale; the
        // full comparison, which rescales one side, runs only above that.
        if amount.mantissa() > MAX_PRICE_MANTISSA && amount > Self::MAX {
            return Err(PricingError::PriceTooLarge(amount.to_string()));
        }
        let normalized = amount.normalize();
        if normalized.scale() > Self::MAX_DECIMAL_PLACES {
            return Err(PricingError::TooManyDecimalPlaces(amount.to_string()));
        }
        Ok(Price(normalized))
    }

    /// The price as an exact decimal.
    pub fn amount(self) -> Decimal {
        self.0
    }
}

/// [`Price::MAX`] as a bare mantissa at scale 0.
const MAX_PRICE_MANTISSA: i128 = 1_000_000_000;

/// Parses a price from its decimal text: `40`, `40.00`, `-1` (refused as
/// negative), or a JSON number's text such as `4.0E1`. Nothing else is a
/// number here: no spaces, no `+`, no digit separators, no `NaN`.
impl FromStr for Price {
    type Err = PricingError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // The short path reads the shape nearly every price has; it gives
        // exactly what the general path gives for that shape (a unit test
        // and a proptest check it against `general_price`). A refusal is
        // left to the general path, so the message names the text as
        // written (`007.00001`, not `7.00001`).
        short_price(text).map_or_else(|| general_price(text), Ok)
    }
}

/// The price of a short plain decimal that is a valid price, normalized by
/// hand: trailing zeros come off the `i64` mantissa, which is several times
/// cheaper than `Decimal::normalize` and gives the same mantissa and scale
/// (the proptest below compares both). `None` for anything else, refusals
/// included, which the general path words.
fn short_price(text: &str) -> Option<Price> {
    let (mut mantissa, places) = short_plain_parts(text)?;
    // A loop bounded by the places, so that no slip in it can spin
    // forever on `0.00`.
    let mut scale = places;
    for _ in 0..places {
        if mantissa % 10 != 0 {
            break;
        }
        mantissa /= 10;
        scale -= 1;
    }
    if scale > Price::MAX_DECIMAL_PLACES {
        return None;
    }
    // At most 10^9 (`Price::MAX`): the mantissa at most 10^(9 + scale).
    let largest = i64::try_from(MAX_PRICE_MANTISSA)
        .ok()?
        .checked_mul(10_i64.pow(scale))?;
    if mantissa > largest {
        return None;
    }
    Decimal::try_new(mantissa, scale).ok().map(Price)
}

/// The general path: any spelling of a number (exponents, leading and
/// trailing zeros of any length), checked on its exact value before it
/// becomes a `Decimal`, so nothing is rounded into or out of range.
fn general_price(text: &str) -> Result<Price, PricingError> {
    let exact = Exact::parse(text).ok_or_else(|| PricingError::InvalidPrice(excerpt(text)))?;
    if exact.is_zero() {
        // `-0` is zero, not a negative price.
        return Ok(Price(Decimal::ZERO));
    }
    if exact.is_negative() {
        return Err(PricingError::NegativePrice(excerpt(text)));
    }
    // 10^9 is `Price::MAX`.
    if !exact.at_most_power_of_ten(9) {
        return Err(PricingError::PriceTooLarge(excerpt(text)));
    }
    if exact.decimal_places() > u64::from(Price::MAX_DECIMAL_PLACES) {
        return Err(PricingError::TooManyDecimalPlaces(excerpt(text)));
    }
    // At most 10 whole and 4 decimal digits now: exact in a Decimal.
    exact
        .mantissa_and_scale()
        .and_then(|(mantissa, scale)| Decimal::try_new(mantissa, scale).ok())
        .map(|amount| Price(amount.normalize()))
        .ok_or_else(|| PricingError::InvalidPrice(excerpt(text)))
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The exact decimal of `text` when it is `digits(.digits)?` with at most
/// [`SHORT_DIGITS`] digits in all, the shape nearly every price has; `None`
/// for anything else, which then takes the general path.
///
/// The result equals what `Decimal::from_str_exact` gives for the same text,
/// mantissa and scale alike (`40.00` is 4000 at scale 2): the mantissa is
/// the digits without the point and the scale the number of fraction
/// digits. Eighteen digits always fit an `i64`, so nothing is rounded.
#[cfg(test)]
fn short_plain_decimal(text: &str) -> Option<Decimal> {
    let (mantissa, scale) = short_plain_parts(text)?;
    Decimal::try_new(mantissa, scale).ok()
}

/// The mantissa and scale of `text` when it is `digits(.digits)?` with at
/// most [`SHORT_DIGITS`] digits: the digits without the point, and the
/// number of fraction digits (`40.00` is 4000 at scale 2).
fn short_plain_parts(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    // At most one byte is the point, so this bounds the digits read below.
    let too_long =
        bytes.len() > SHORT_DIGITS + 1 || (bytes.len() > SHORT_DIGITS && !bytes.contains(&b'.'));
    if bytes.is_empty() || too_long {
        return None;
    }
    let mut mantissa: i64 = 0;
    let mut point = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'0'..=b'9' => mantissa = mantissa * 10 + i64::from(byte - b'0'),
            b'.' if point.is_none() && index > 0 && index + 1 < bytes.len() => {
                point = Some(index);
            }
            _ => return None,
        }
    }
    let scale = point.map_or(0, |index| bytes.len() - index - 1);
    // Decimal's largest scale (28) is beyond any 19-byte text's.
    Some((mantissa, u32::try_from(scale).ok()?))
}

/// The most digits [`short_plain_parts`] reads; more could overflow an
/// `i64` mantissa.
const SHORT_DIGITS: usize = 18;

/// A line item quantity: a whole number from 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(u32);

impl Quantity {
    /// The largest accepted quantity.
    pub const MAX: u32 = 1_000_000;

    /// Validates a count as a quantity.
    pub fn new(count: u64) -> Result<Quantity, PricingError> {
        match u32::try_from(count) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Quantity(n)),
            _ => Err(PricingError::InvalidQuantity(count.to_string())),
        }
    }

    /// The quantity as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Parses a quantity from its text: any spelling of a whole number from 1
/// to 1 000 000 (`3`, `3.0`, as some JSON writers emit, `3e0`); `2.5`, `0`,
/// `-1`, `+3` and `1e9` are refused.
impl FromStr for Quantity {
    type Err = PricingError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || PricingError::InvalidQuantity(excerpt(text));
        let count = whole_number(text).ok_or_else(invalid)?;
        Quantity::new(count).map_err(|_| invalid())
    }
}

/// The exact value of `text` when it is a whole number from 0 to 10^18 in
/// any spelling (`3`, `3.0`, `3e0`, `30e-1`, `-0`); `None` for anything else
/// (`2.5`, `-1`, `+3`, `2.9999999999999999999999999999999e0`).
fn whole_number(text: &str) -> Option<u64> {
    short_whole_number(text).or_else(|| exact_whole_number(text))
}

/// [`whole_number`] for plain digits, the shape nearly every quantity and
/// `days_overdue` has (`3`, `045`): at most 18 of them always fit a `u64`,
/// and the value is what the exact reading gives (a proptest checks it).
fn short_whole_number(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > SHORT_DIGITS {
        return None;
    }
    bytes.iter().try_fold(0_u64, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + u64::from(byte - b'0'))
    })
}

/// [`whole_number`] for any spelling, on the exact value.
fn exact_whole_number(text: &str) -> Option<u64> {
    // `whole` refuses a fraction; only the sign is left to check.
    let exact = Exact::parse(text)?;
    if exact.is_negative() {
        return None;
    }
    exact.whole()
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// One line of an invoice: a unit price times a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineItem {
    price: Price,
    quantity: Quantity,
}

impl LineItem {
    /// A line item from a validated price and quantity.
    pub fn new(price: Price, quantity: Quantity) -> LineItem {
        LineItem { price, quantity }
    }

    /// The unit price.
    pub fn price(self) -> Price {
        self.price
    }

    /// The quantity.
    pub fn quantity(self) -> Quantity {
        self.quantity
    }
}

/// A customer's tier, which sets the tier discount.
///
/// Sales may sell a tier before pricing knows it, so an unrecognized name is
/// a tier too: it applies no discount ([`Tier::from_name`]). Where a person
/// types the tier, parse it strictly with [`str::parse`] instead, so a typo
/// is an error rather than a silent full price.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Tier {
    /// No tier: no discount.
    #[default]
    None,
    /// Bronze tier.
    Bronze,
    /// Silver tier.
    Silver,
    /// Gold tier.
    Gold,
    /// A tier name pricing does not know; it applies no discount.
    Unrecognized(String),
}

impl Tier {
    /// The tier names pricing knows, as `FromStr` accepts them.
    pub const KNOWN_NAMES: [&'static str; 4] = ["none", "bronze", "silver", "gold"];

    /// The tier of that name, or [`Tier::Unrecognized`]: the domain rule
    /// that an unknown tier applies no discount.
    pub fn from_name(name: &str) -> Tier {
        name.parse()
            .unwrap_or_else(|_| Tier::Unrecognized(name.to_owned()))
    }

    /// The tier's name.
    pub fn name(&self) -> &str {
        match self {
            Tier::None => "none",
            Tier::Bronze => "bronze",
            Tier::Silver => "silver",
            Tier::Gold => "gold",
            Tier::Unrecognized(name) => name,
        }
    }

    /// The fraction this tier takes off the subtotal, from [`RATES`].
    pub fn discount_rate(&self) -> Decimal {
        self.discount_rate_in(&RATES)
    }

    /// The fraction this tier takes off the subtotal in `rates`.
    pub fn discount_rate_in(&self, rates: &RateTable) -> Decimal {
        match self {
            Tier::Gold => rates.gold_discount,
            Tier::Silver => rates.silver_discount,
            Tier::Bronze => rates.bronze_discount,
            Tier::None | Tier::Unrecognized(_) => Decimal::ZERO,
        }
    }
}

/// Strict parsing: only the names in [`Tier::KNOWN_NAMES`].
impl FromStr for Tier {
    type Err = PricingError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "none" => Ok(Tier::None),
            "bronze" => Ok(Tier::Bronze),
            "silver" => Ok(Tier::Silver),
            "gold" => Ok(Tier::Gold),
            _ => Err(PricingError::UnknownTier(excerpt(name))),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many days an invoice is overdue: never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DaysOverdue(u32);

impl DaysOverdue {
    /// The number of days.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for DaysOverdue {
    fn from(days: u32) -> Self {
        DaysOverdue(days)
    }
}

impl TryFrom<i64> for DaysOverdue {
    type Error = PricingError;

    fn try_from(days: i64) -> Result<Self, Self::Error> {
        if days < 0 {
            return Err(PricingError::NegativeDaysOverdue(days.to_string()));
        }
        u32::try_from(days)
            .map(DaysOverdue)
            .map_err(|_| PricingError::InvalidDaysOverdue(days.to_string()))
    }
}

/// Parses a whole number of days in any spelling (`45`, `45.0`, `4.5e1`),
/// as quantities are; `-3` is refused as negative, `4.5` as not whole.
impl FromStr for DaysOverdue {
    type Err = PricingError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || PricingError::InvalidDaysOverdue(excerpt(text));
        // Plain digits are never negative: only other spellings need the
        // exact reading for the sign.
        if let Some(days) = short_whole_number(text) {
            return u32::try_from(days).map(DaysOverdue).map_err(|_| invalid());
        }
        if Exact::parse(text).is_some_and(Exact::is_negative) {
            return Err(PricingError::NegativeDaysOverdue(excerpt(text)));
        }
        let days = whole_number(text).ok_or_else(invalid)?;
        u32::try_from(days).map(DaysOverdue).map_err(|_| invalid())
    }
}

impl fmt::Display for DaysOverdue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An invoice's terms: everything pricing needs besides its line items —
/// the customer's tier, loyalty membership and how overdue the invoice is.
///
/// One value instead of three loose parameters, so a reader that keeps line
/// items in a reused buffer hands pricing the items and the terms, and a
/// fourth term would be added here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Terms {
    tier: Tier,
    loyalty_member: bool,
    days_overdue: DaysOverdue,
}

impl Terms {
    /// The terms of an invoice: every combination is valid.
    pub fn new(tier: Tier, loyalty_member: bool, days_overdue: DaysOverdue) -> Terms {
        Terms {
            tier,
            loyalty_member,
            days_overdue,
        }
    }

    /// The customer's tier.
    pub fn tier(&self) -> &Tier {
        &self.tier
    }

    /// Whether the customer is a loyalty member.
    pub fn loyalty_member(&self) -> bool {
        self.loyalty_member
    }

    /// How many days the invoice is overdue.
    pub fn days_overdue(&self) -> DaysOverdue {
        self.days_overdue
    }
}

/// Everything pricing needs to know about one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingInput {
    line_items: Vec<LineItem>,
    terms: Terms,
}

impl PricingInput {
    /// An invoice to price; it needs at least one line item.
    pub fn new(
        line_items: Vec<LineItem>,
        tier: Tier,
        loyalty_member: bool,
        days_overdue: DaysOverdue,
    ) -> Result<PricingInput, PricingError> {
        PricingInput::with_terms(line_items, Terms::new(tier, loyalty_member, days_overdue))
    }

    /// An invoice to price from its line items and its terms; it needs at
    /// least one line item.
    pub fn with_terms(
        line_items: Vec<LineItem>,
        terms: Terms,
    ) -> Result<PricingInput, PricingError> {
        if line_items.is_empty() {
            return Err(PricingError::NoLineItems);
        }
        Ok(PricingInput { line_items, terms })
    }

    /// The line items; never empty.
    pub fn line_items(&self) -> &[LineItem] {
        &self.line_items
    }

    /// The invoice's terms.
    pub fn terms(&self) -> &Terms {
        &self.terms
    }

    /// The customer's tier.
    pub fn tier(&self) -> &Tier {
        self.terms.tier()
    }

    /// Whether the customer is a loyalty member.
    pub fn loyalty_member(&self) -> bool {
        self.terms.loyalty_member()
    }

    /// How many days the invoice is overdue.
    pub fn days_overdue(&self) -> DaysOverdue {
        self.terms.days_overdue()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_parses_plain_and_json_number_text() {
        assert_eq!("40".parse::<Price>().unwrap().amount(), dec!(40));
        assert_eq!("40.00".parse::<Price>().unwrap().amount(), dec!(40));
        assert_eq!("0.1".parse::<Price>().unwrap().amount(), dec!(0.1));
        assert_eq!("4.0E1".parse::<Price>().unwrap().amount(), dec!(40));
        assert_eq!("125e-3".parse::<Price>().unwrap().amount(), dec!(0.125));
        assert_eq!("15.500000".parse::<Price>().unwrap().amount(), dec!(15.5));
        assert_eq!("-0".parse::<Price>().unwrap().amount(), Decimal::ZERO);
    }

    #[test]
    fn price_refuses_text_that_is_not_a_decimal_number() {
        for text in [
            "", "-", "abc", "1,5", " 1", "1 ", "+1", "1.", ".5", "1_000", "NaN", "inf", "1e",
            "1e+", "0x10", "١",
        ] {
            assert_eq!(
                text.parse::<Price>(),
                Err(PricingError::InvalidPrice(text.to_owned())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn short_prices_parse_to_the_same_decimal_as_the_general_path() {
        for text in [
            "0",
            "7",
            "40",
            "40.00",
            "0.1",
            "15.500000",
            "007",
            "0.0000",
            "999999999999999999",
            "99999999999999999.9",
            "1.00001",
            "1000000000.01",
            "123456789.1234",
            "0.00000000000000001",
        ] {
            let fast = short_plain_decimal(text).unwrap();
            let general = Decimal::from_str_exact(text).unwrap();
            assert_eq!(fast, general, "{text:?}");
            assert_eq!(fast.scale(), general.scale(), "{text:?}");
            assert_eq!(fast.mantissa(), general.mantissa(), "{text:?}");
        }
    }

    #[test]
    fn short_price_parsing_leaves_other_shapes_to_the_general_path() {
        for text in [
            "",
            "-1",
            "-0",
            "1.",
            ".5",
            "1..2",
            "1.2.3",
            "4.0E1",
            "1e5",
            "+1",
            " 1",
            "1 ",
            "1_000",
            "1,5",
            "9999999999999999999",
            "1234567890.123456789",
            "١",
        ] {
            assert_eq!(short_plain_decimal(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_short_price_reading_normalizes_plain_prices_and_leaves_refusals() {
        let parts =
            |text: &str| short_price(text).map(|price| (price.0.mantissa(), price.0.scale()));
        assert_eq!(parts("19.99"), Some((1999, 2)));
        assert_eq!(parts("40.00"), Some((40, 0)));
        assert_eq!(parts("15.500000"), Some((155, 1)));
        assert_eq!(parts("0.0000"), Some((0, 0)));
        assert_eq!(parts("1000000000"), Some((1_000_000_000, 0)));
        assert_eq!(parts("999999999.9999"), Some((9_999_999_999_999, 4)));
        assert_eq!(parts("0.00010"), Some((1, 4)));
        for text in ["1.00001", "1000000000.01", "1000000001", "-1", "4.0E1", ""] {
            assert_eq!(parts(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_short_reading_takes_up_to_eighteen_plain_digits_and_nothing_else() {
        assert_eq!(short_whole_number("7"), Some(7));
        assert_eq!(short_whole_number("045"), Some(45));
        assert_eq!(
            short_whole_number("999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        for text in [
            "",
            "1000000000000000000",
            "3.0",
            "-1",
            "+1",
            "1e3",
            " 1",
            "١",
        ] {
            assert_eq!(short_whole_number(text), None, "{text:?}");
        }
        assert_eq!(
            "4294967295".parse::<DaysOverdue>().map(DaysOverdue::get),
            Ok(u32::MAX)
        );
        assert_eq!(
            "4294967296".parse::<DaysOverdue>(),
            Err(PricingError::InvalidDaysOverdue("4294967296".to_owned()))
        );
    }

    proptest::proptest! {
        #[test]
        fn days_overdue_in_plain_digits_read_as_in_any_other_spelling(days in 0_u64..=5_000_000_000, zeros in 0_usize..3) {
            let plain = format!("{}{days}", "0".repeat(zeros));
            let spelt = format!("{days}.0e0");
            proptest::prop_assert_eq!(
                plain.parse::<DaysOverdue>().map(DaysOverdue::get),
                spelt.parse::<DaysOverdue>().map(DaysOverdue::get).map_err(|_| PricingError::InvalidDaysOverdue(plain.clone()))
            );
        }

        #[test]
        fn plain_digits_read_as_the_exact_reading_reads_them(text in "[0-9]{0,20}|[0-9]{0,3}[^0-9][0-9]{0,3}") {
            if let Some(short) = short_whole_number(&text) {
                proptest::prop_assert_eq!(Some(short), exact_whole_number(&text));
            }
            proptest::prop_assert_eq!(whole_number(&text), exact_whole_number(&text));
        }

        #[test]
        fn price_parsing_agrees_with_the_general_path(text in "[0-9.]{0,21}|-?[0-9]{1,12}(\\.[0-9]{1,8})?") {
            let parsed = text.parse::<Price>();
            let general = general_price(&text);
            proptest::prop_assert_eq!(&parsed, &general);
            if let (Ok(parsed), Ok(general)) = (parsed, general) {
                proptest::prop_assert_eq!(parsed.to_string(), general.to_string());
                proptest::prop_assert_eq!(parsed.amount().mantissa(), general.amount().mantissa());
                proptest::prop_assert_eq!(parsed.amount().scale(), general.amount().scale());
            }
        }
    }

    #[test]
    fn price_with_more_digits_than_a_decimal_holds_gets_its_exact_verdict() {
        let text = "1.00000000000000000000000000000000001";
        assert_eq!(
            text.parse::<Price>(),
            Err(PricingError::TooManyDecimalPlaces(text.to_owned()))
        );
        assert_eq!(
            "1e99999999999".parse::<Price>(),
            Err(PricingError::PriceTooLarge("1e99999999999".to_owned()))
        );
        // Trailing zeros never count, whatever their number.
        assert_eq!(
            "1.00000000000000000000000000000"
                .parse::<Price>()
                .unwrap()
                .amount(),
            dec!(1)
        );
        assert_eq!(
            "1000000000.00000000000000000001".parse::<Price>(),
            Err(PricingError::PriceTooLarge(
                "1000000000.00000000000000000001".to_owned()
            ))
        );
        // Exponent spellings are checked on their exact value, never rounded first.
        for (text, error) in [
            (
                "0.99999999999999999999999999999999e0",
                PricingError::TooManyDecimalPlaces(
                    "0.99999999999999999999999999999999e0".to_owned(),
                ),
            ),
            (
                "-0.00000000000000000000000000000001e0",
                PricingError::NegativePrice("-0.00000000000000000000000000000001e0".to_owned()),
            ),
        ] {
            assert_eq!(text.parse::<Price>(), Err(error));
        }
        assert!(
            "2.9999999999999999999999999999999e0"
                .parse::<Quantity>()
                .is_err()
        );
        assert_eq!("45.0".parse::<DaysOverdue>().unwrap().get(), 45);
        assert!("+5".parse::<Quantity>().is_err());
    }

    #[test]
    fn price_refuses_negative_too_precise_and_too_large_amounts() {
        assert_eq!(
            Price::new(dec!(-0.01)),
            Err(PricingError::NegativePrice("-0.01".to_owned()))
        );
        assert_eq!(
            Price::new(dec!(1.00001)),
            Err(PricingError::TooManyDecimalPlaces("1.00001".to_owned()))
        );
        assert_eq!(
            Price::new(dec!(1000000000.0001)),
            Err(PricingError::PriceTooLarge("1000000000.0001".to_owned()))
        );
        assert_eq!(
            Price::new(dec!(1000000000)).unwrap().amount(),
            dec!(1000000000)
        );
        assert_eq!(Price::new(dec!(0.0001)).unwrap().amount(), dec!(0.0001));
    }

    #[test]
    fn price_error_messages_name_the_value() {
        assert_eq!(
            "-5".parse::<Price>().unwrap_err().to_string(),
            "price -5 is negative"
        );
        assert_eq!(
            "abc".parse::<Price>().unwrap_err().to_string(),
            "price \"abc\" is not a decimal number"
        );
    }

    #[test]
    fn quantity_accepts_whole_numbers_from_one_to_a_million() {
        assert_eq!("1".parse::<Quantity>().unwrap().get(), 1);
        assert_eq!("1000000".parse::<Quantity>().unwrap().get(), 1_000_000);
        assert_eq!("3.0".parse::<Quantity>().unwrap().get(), 3);
        assert_eq!("3e0".parse::<Quantity>().unwrap().get(), 3);
        assert_eq!(Quantity::new(7).unwrap().to_string(), "7");
    }

    #[test]
    fn quantity_refuses_everything_else_naming_the_text() {
        for text in [
            "0",
            "-1",
            "2.5",
            "1000001",
            "1e9",
            "",
            "x",
            "99999999999999999999999",
            "4294967297",
        ] {
            assert_eq!(
                text.parse::<Quantity>(),
                Err(PricingError::InvalidQuantity(text.to_owned())),
                "{text:?}"
            );
        }
        assert_eq!(
            Quantity::new(u64::MAX),
            Err(PricingError::InvalidQuantity(u64::MAX.to_string()))
        );
    }

    #[test]
    fn days_overdue_refuses_negative_and_non_integer_values() {
        assert_eq!("45".parse::<DaysOverdue>().unwrap().get(), 45);
        assert_eq!(
            "-1".parse::<DaysOverdue>(),
            Err(PricingError::NegativeDaysOverdue("-1".to_owned()))
        );
        assert_eq!(
            "4.5".parse::<DaysOverdue>(),
            Err(PricingError::InvalidDaysOverdue("4.5".to_owned()))
        );
        assert_eq!(
            DaysOverdue::try_from(i64::from(u32::MAX) + 1),
            Err(PricingError::InvalidDaysOverdue("4294967296".to_owned()))
        );
        assert_eq!(DaysOverdue::try_from(0_i64).unwrap().get(), 0);
        assert_eq!(DaysOverdue::from(12_u32).to_string(), "12");
    }

    #[test]
    fn tier_parses_strictly_but_from_name_keeps_unknown_names() {
        assert_eq!("gold".parse::<Tier>(), Ok(Tier::Gold));
        assert_eq!("silver".parse::<Tier>(), Ok(Tier::Silver));
        assert_eq!("bronze".parse::<Tier>(), Ok(Tier::Bronze));
        assert_eq!("none".parse::<Tier>(), Ok(Tier::None));
        assert_eq!(
            "golld".parse::<Tier>(),
            Err(PricingError::UnknownTier("golld".to_owned()))
        );
        assert_eq!(
            Tier::from_name("platinum"),
            Tier::Unrecognized("platinum".to_owned())
        );
        assert_eq!(Tier::from_name("gold"), Tier::Gold);
        for name in Tier::KNOWN_NAMES {
            assert_eq!(Tier::from_name(name).name(), name);
        }
        assert_eq!(Tier::from_name("platinum").to_string(), "platinum");
    }

    #[test]
    fn pricing_input_needs_a_line_item() {
        assert_eq!(
            PricingInput::new(Vec::new(), Tier::Gold, true, DaysOverdue::from(0)),
            Err(PricingError::NoLineItems)
        );
        let item = LineItem::new(Price::new(dec!(2)).unwrap(), Quantity::new(3).unwrap());
        let input = PricingInput::new(vec![item], Tier::Gold, true, DaysOverdue::from(4)).unwrap();
        assert_eq!(input.line_items(), &[item]);
        assert_eq!(input.tier(), &Tier::Gold);
        assert!(input.loyalty_member());
        assert_eq!(input.days_overdue().get(), 4);
        let terms = Terms::new(Tier::Silver, false, DaysOverdue::from(9));
        let other = PricingInput::with_terms(vec![item], terms.clone()).unwrap();
        assert!(!other.loyalty_member());
        assert_eq!(other.terms(), &terms);
        assert_eq!(
            (other.tier(), other.days_overdue().get()),
            (&Tier::Silver, 9)
        );
        assert!(
            !terms.loyalty_member()
                && Terms::new(Tier::None, true, DaysOverdue::from(0)).loyalty_member()
        );
        assert_eq!(item.price().to_string(), "2");
        assert_eq!(item.quantity().get(), 3);
    }
}
