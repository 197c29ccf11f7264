//! Properties over random valid invoices, checked against an independent
//! oracle: integer arithmetic in units of 10⁻¹² with the rates written out
//! again as whole percentages, so a typo in the rate table or a slip in the
//! pipeline shows up as a disagreement rather than being copied into the
//! expected values.

// A panic in a property is a failing case that proptest shrinks and reports.
#![allow(clippy::unwrap_used)]

use pricing::{
    Breakdown, DaysOverdue, LineItem, Money, Price, PricingError, PricingInput, Quantity, Tier,
    price,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// One generated line: price in ten-thousandths, and quantity.
#[derive(Debug, Clone, Copy)]
struct Line {
    price_units: i64,
    quantity: u32,
}

fn line() -> impl Strategy<Value = Line> {
    let price_units = prop_oneof![
        0_i64..=10_000,             // up to 1.0000
        0_i64..=100_000_000,        // up to 10 000
        0_i64..=10_000_000_000_000, // up to the 1 000 000 000 maximum
    ];
    let quantity = prop_oneof![1_u32..=10, 1_u32..=1_000_000];
    (price_units, quantity).prop_map(|(price_units, quantity)| Line {
        price_units,
        quantity,
    })
}

fn tier() -> impl Strategy<Value = Tier> {
    prop_oneof![
        Just(Tier::None),
        Just(Tier::Bronze),
        Just(Tier::Silver),
        Just(Tier::Gold),
        "[a-z]{0,8}".prop_map(|name| Tier::from_name(&name)),
    ]
}

fn days() -> impl Strategy<Value = u32> {
    prop_oneof![0_u32..=60, any::<u32>()]
}

fn to_item(line: Line) -> LineItem {
    let price = Price::new(Decimal::new(line.price_units, 4)).unwrap();
    LineItem::new(price, Quantity::new(u64::from(line.quantity)).unwrap())
}

fn priced(lines: &[Line], tier: &Tier, loyalty: bool, days: u32) -> Breakdown {
    let items = lines.iter().copied().map(to_item).collect();
    let input = PricingInput::new(items, tier.clone(), loyalty, DaysOverdue::from(days)).unwrap();
    price(&input).unwrap()
}

/// The total in cents computed with integers only, rates as whole percents.
fn oracle_total_cents(lines: &[Line], tier: &Tier, loyalty: bool, days: u32) -> i128 {
    let subtotal: i128 = lines
        .iter()
        .map(|l| i128::from(l.price_units) * i128::from(l.quantity))
        .sum(); // units of 10⁻⁴
    let tier_pct = match tier {
        Tier::Gold => 85,
        Tier::Silver => 90,
        Tier::Bronze => 95,
        _ => 100,
    };
    let loyalty_pct = if loyalty { 98 } else { 100 };
    let late_pct = if days > 30 { 105 } else { 100 };
    let exact = subtotal * tier_pct * loyalty_pct * 108 * late_pct; // units of 10⁻¹²
    // Half away from zero to cents (10⁻²): amounts here are never negative.
    let unit = 10_i128.pow(10);
    (exact + unit / 2) / unit
}

fn lines() -> impl Strategy<Value = Vec<Line>> {
    prop::collection::vec(line(), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn breakdown_lines_sum_to_the_total(lines in lines(), tier in tier(), loyalty: bool, days in days()) {
        let invoice = priced(&lines, &tier, loyalty, days);
        let sum = invoice
            .lines()
            .iter()
            .try_fold(Money::ZERO, |acc, (_, line)| acc.checked_add(*line))
            .unwrap();
        prop_assert_eq!(sum, invoice.total());
    }

    #[test]
    fn total_is_the_exact_amount_rounded_once(lines in lines(), tier in tier(), loyalty: bool, days in days()) {
        let invoice = priced(&lines, &tier, loyalty, days);
        let expected = oracle_total_cents(&lines, &tier, loyalty, days);
        prop_assert_eq!(i128::from(invoice.total().minor_units()), expected);
    }

    #[test]
    fn discount_and_fee_lines_have_the_right_sign(lines in lines(), tier in tier(), loyalty: bool, days in days()) {
        let invoice = priced(&lines, &tier, loyalty, days);
        prop_assert!(invoice.tier_discount() <= Money::ZERO);
        prop_assert!(invoice.loyalty_discount() <= Money::ZERO);
        prop_assert!(invoice.tax() >= Money::ZERO);
        prop_assert!(invoice.late_fee() >= Money::ZERO);
        if days <= 30 {
            prop_assert_eq!(invoice.late_fee(), Money::ZERO);
        }
        if !loyalty {
            prop_assert_eq!(invoice.loyalty_discount(), Money::ZERO);
        }
    }

    #[test]
    fn a_larger_discount_tier_never_raises_the_total(lines in lines(), loyalty: bool, days in days()) {
        let totals: Vec<Money> = [Tier::Gold, Tier::Silver, Tier::Bronze, Tier::None]
            .iter()
            .map(|tier| priced(&lines, tier, loyalty, days).total())
            .collect();
        prop_assert!(totals.windows(2).all(|pair| pair[0] <= pair[1]), "{:?}", totals);
    }

    #[test]
    fn more_days_overdue_never_lowers_the_total(
        lines in lines(), tier in tier(), loyalty: bool, days in days(), extra in 0_u32..100,
    ) {
        let later = days.saturating_add(extra);
        let earlier_total = priced(&lines, &tier, loyalty, days).total();
        let later_total = priced(&lines, &tier, loyalty, later).total();
        prop_assert!(earlier_total <= later_total);
    }

    #[test]
    fn negative_prices_are_refused(units in 1_i64..=10_000_000_000_000, scale in 0_u32..=4) {
        let amount = Decimal::new(-units, scale);
        prop_assert_eq!(Price::new(amount), Err(PricingError::NegativePrice(amount.to_string())));
        prop_assert_eq!(amount.to_string().parse::<Price>(), Err(PricingError::NegativePrice(amount.to_string())));
    }

    #[test]
    fn prices_with_more_than_four_decimal_places_are_refused(
        whole in 0_i64..=999_999_999, extra in 1_i64..=9, scale in 5_u32..=12,
    ) {
        // A non-zero last digit guarantees the value really has `scale` places.
        let mantissa = i128::from(whole) * 10_i128.pow(scale) + i128::from(extra);
        let amount = Decimal::try_from_i128_with_scale(mantissa, scale).unwrap();
        prop_assert_eq!(Price::new(amount), Err(PricingError::TooManyDecimalPlaces(amount.to_string())));
    }

    #[test]
    fn prices_above_one_billion_are_refused(excess in 1_i64..=i64::MAX / 100_000, scale in 0_u32..=4) {
        let amount = Decimal::from(1_000_000_000) + Decimal::new(excess, scale);
        prop_assert_eq!(Price::new(amount), Err(PricingError::PriceTooLarge(amount.to_string())));
    }

    #[test]
    fn quantities_outside_one_to_a_million_are_refused(
        count in prop_oneof![Just(0_u64), 1_000_001_u64..=u64::MAX],
    ) {
        prop_assert_eq!(Quantity::new(count), Err(PricingError::InvalidQuantity(count.to_string())));
    }

    #[test]
    fn fractional_quantities_are_refused(whole in 0_u32..=1_000_000, frac in 1_u32..=99) {
        let text = format!("{whole}.{frac:02}");
        prop_assert_eq!(text.parse::<Quantity>(), Err(PricingError::InvalidQuantity(text.clone())));
    }

    #[test]
    fn negative_days_overdue_are_refused(days in i64::MIN..0) {
        prop_assert_eq!(DaysOverdue::try_from(days), Err(PricingError::NegativeDaysOverdue(days.to_string())));
    }

    #[test]
    fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,40}") {
        // Whatever the text, parsing returns; valid prices round-trip exactly.
        if let Ok(price) = text.parse::<Price>() {
            prop_assert!(price.amount() >= Decimal::ZERO);
            prop_assert!(price.amount().normalize().scale() <= 4);
        }
        let _ = text.parse::<Quantity>();
        let _ = text.parse::<DaysOverdue>();
    }
}

#[test]
fn an_invoice_with_no_line_items_is_refused() {
    assert_eq!(
        PricingInput::new(Vec::new(), Tier::Gold, false, DaysOverdue::from(0)),
        Err(PricingError::NoLineItems)
    );
}

/// Ways of writing the number `digits × 10^-scale` (with a sign): plain,
/// padded with leading and trailing zeros (beyond what a `Decimal` holds),
/// and with exponents that move the point either way.
fn spellings(negative: bool, digits: u64, scale: u32, pad: usize) -> Vec<String> {
    let sign = if negative { "-" } else { "" };
    let text = digits.to_string();
    let scale = scale as usize;
    // 0.DIGITS × 10^shift is DIGITS × 10^-scale.
    let shift = i64::try_from(text.len()).unwrap() - i64::try_from(scale).unwrap();
    let plain = if scale == 0 {
        text.clone()
    } else if text.len() > scale {
        format!(
            "{}.{}",
            &text[..text.len() - scale],
            &text[text.len() - scale..]
        )
    } else {
        format!("0.{}{}", "0".repeat(scale - text.len()), text)
    };
    let padded = if plain.contains('.') {
        format!("{}{plain}{}", "0".repeat(pad), "0".repeat(pad + 30))
    } else {
        format!("{}{plain}.{}", "0".repeat(pad), "0".repeat(pad + 30))
    };
    vec![
        format!("{sign}{plain}"),
        format!("{sign}{padded}"),
        format!("{sign}{text}e-{scale}"),
        format!("{sign}{text}E-{scale}"),
        format!("{sign}{text}{}e-{}", "0".repeat(pad), scale + pad),
        format!("{sign}0.{text}e{shift}"),
        format!("{sign}0.{text}{}E{shift:+}", "0".repeat(pad)),
        format!("{sign}{plain}e0"),
        format!("{sign}{padded}E+0"),
    ]
}

/// What a parse said, without the text it names: the verdict and amount.
fn verdict<T: std::fmt::Debug, E>(
    result: &Result<T, E>,
) -> Result<String, std::mem::Discriminant<E>> {
    match result {
        Ok(value) => Ok(format!("{value:?}")),
        Err(error) => Err(std::mem::discriminant(error)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every spelling of the same exact value gets the same verdict and the
    /// same amount, for prices, quantities and days overdue alike.
    #[test]
    fn every_spelling_of_a_value_gets_the_same_verdict(
        negative: bool,
        digits in prop_oneof![0_u64..=2_000, 0_u64..=10_000_000_000_000, 999_999_990_000_u64..=1_000_000_010_000],
        scale in 0_u32..=8,
        pad in 0_usize..=40,
    ) {
        let texts = spellings(negative, digits, scale, pad);
        let price = verdict(&texts[0].parse::<Price>());
        let quantity = verdict(&texts[0].parse::<Quantity>());
        let days = verdict(&texts[0].parse::<DaysOverdue>());
        for text in &texts[1..] {
            prop_assert_eq!(&verdict(&text.parse::<Price>()), &price, "price {} vs {}", text, &texts[0]);
            prop_assert_eq!(&verdict(&text.parse::<Quantity>()), &quantity, "quantity {} vs {}", text, &texts[0]);
            prop_assert_eq!(&verdict(&text.parse::<DaysOverdue>()), &days, "days {} vs {}", text, &texts[0]);
        }
        // The verdict is the exact value's: a price is accepted exactly when
        // it is 0, or positive, at most 10^9, with at most 4 decimals.
        let normalized_scale = {
            let (mut d, mut s) = (digits, scale);
            while s > 0 && d % 10 == 0 { d /= 10; s -= 1; }
            if d == 0 { 0 } else { s }
        };
        let value_ok = digits == 0
            || (!negative && normalized_scale <= 4 && u128::from(digits) <= 1_000_000_000 * 10_u128.pow(scale));
        prop_assert_eq!(price.is_ok(), value_ok, "{}", &texts[0]);
    }
}
