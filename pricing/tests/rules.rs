//! Boundary and table-driven tests of the billing rules: the cases the
//! lesson's nine tests miss, so that every plausible one-line slip in the
//! rate table or the pipeline turns the suite red.

// A panic in a test is a failing test, which is what these helpers want.
#![allow(clippy::unwrap_used)]

use pricing::{
    Breakdown, DaysOverdue, LineItem, MAX_SUBTOTAL, Money, Price, PricingError, PricingInput,
    Quantity, RATES, Tier, add_late_fee, calculate_invoice_total, price,
};
use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;

fn item(price: &str, quantity: u64) -> LineItem {
    LineItem::new(
        price.parse::<Price>().unwrap(),
        Quantity::new(quantity).unwrap(),
    )
}

fn priced(items: &[LineItem], tier: Tier, loyalty: bool, days: u32) -> Breakdown {
    let input = PricingInput::new(items.to_vec(), tier, loyalty, DaysOverdue::from(days)).unwrap();
    price(&input).unwrap()
}

fn worked_example() -> Breakdown {
    priced(&[item("40", 3), item("15", 2)], Tier::Gold, true, 45)
}

#[test]
fn rate_table_matches_the_billing_rules() {
    assert_eq!(RATES.gold_discount, dec!(0.15));
    assert_eq!(RATES.silver_discount, dec!(0.10));
    assert_eq!(RATES.bronze_discount, dec!(0.05));
    assert_eq!(RATES.loyalty_discount, dec!(0.02));
    assert_eq!(RATES.sales_tax, dec!(0.08));
    assert_eq!(RATES.late_fee, dec!(0.05));
    assert_eq!(RATES.late_fee_after_days, 30);
}

#[test]
fn worked_example_breakdown_line_by_line() {
    let invoice = worked_example();
    let lines: Vec<(&str, String)> = invoice
        .lines()
        .iter()
        .map(|(name, money)| (*name, money.to_string()))
        .collect();
    assert_eq!(
        lines,
        [
            ("subtotal", "150.00".to_owned()),
            ("tier_discount", "-22.50".to_owned()),
            ("loyalty_discount", "-2.55".to_owned()),
            ("tax", "10.00".to_owned()),
            ("late_fee", "6.74".to_owned()),
        ]
    );
    assert_eq!(invoice.total().to_string(), "141.69");
}

#[test]
fn worked_example_amounts_are_the_lines_then_the_total() {
    let amounts = worked_example().amounts().map(|money| money.to_string());
    assert_eq!(
        amounts,
        ["150.00", "-22.50", "-2.55", "10.00", "6.74", "141.69"]
    );
}

#[test]
fn worked_example_serializes_every_line_as_a_two_decimal_string() {
    let json = serde_json::to_string(&worked_example()).unwrap();
    assert_eq!(
        json,
        r#"{"subtotal":"150.00","tier_discount":"-22.50","loyalty_discount":"-2.55","tax":"10.00","late_fee":"6.74","total":"141.69"}"#
    );
}

#[test]
fn only_the_total_is_rounded_not_each_step() {
    // Rounding after every step gives 141.70 for the worked example: the
    // exact path 150 → 127.5 → 124.95 → 134.946 → 141.6933 must give 141.69.
    let round = |d: Decimal| d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let mut per_step = dec!(150);
    for factor in [dec!(0.85), dec!(0.98), dec!(1.08), dec!(1.05)] {
        per_step = round(per_step * factor);
    }
    assert_eq!(per_step, dec!(141.70), "the counterexample itself");
    assert_eq!(worked_example().total(), Money::from_minor_units(14169));
}

#[test]
fn gold_typo_changes_the_worked_example_to_146_69() {
    // The lesson's typo (gold 0.12) gives 146.69; the right rate gives 141.69.
    let with_typo = dec!(150) * (Decimal::ONE - dec!(0.12)) * dec!(0.98) * dec!(1.08) * dec!(1.05);
    assert_eq!(
        with_typo.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        dec!(146.69)
    );
    assert_ne!(worked_example().total().to_string(), "146.69");
}

#[test]
fn every_tier_applies_its_discount_to_the_worked_example() {
    // 150 with loyalty and 45 days overdue; only the tier changes.
    let cases = [
        ("gold", "-22.50", "141.69"),
        ("silver", "-15.00", "150.03"),
        ("bronze", "-7.50", "158.36"),
        ("none", "0.00", "166.70"),
        ("platinum", "0.00", "166.70"),
        ("Gold", "0.00", "166.70"),
        ("", "0.00", "166.70"),
    ];
    for (tier, discount, total) in cases {
        let invoice = priced(
            &[item("40", 3), item("15", 2)],
            Tier::from_name(tier),
            true,
            45,
        );
        assert_eq!(
            invoice.tier_discount().to_string(),
            discount,
            "tier {tier:?}"
        );
        assert_eq!(invoice.total().to_string(), total, "tier {tier:?}");
    }
}

#[test]
fn loyalty_takes_two_percent_after_the_tier_discount() {
    let member = priced(&[item("100", 1)], Tier::Silver, true, 0);
    let non_member = priced(&[item("100", 1)], Tier::Silver, false, 0);
    // 100 → 90 → 88.20 → 95.256
    assert_eq!(member.loyalty_discount().to_string(), "-1.80");
    assert_eq!(member.total().to_string(), "95.26");
    assert_eq!(non_member.loyalty_discount(), Money::ZERO);
    assert_eq!(non_member.total().to_string(), "97.20");
}

#[test]
fn tax_is_eight_percent_of_the_discounted_amount() {
    let invoice = priced(&[item("200", 1)], Tier::Bronze, false, 0);
    // 200 → 190 → 205.20
    assert_eq!(invoice.tax().to_string(), "15.20");
    assert_eq!(invoice.total().to_string(), "205.20");
}

#[test]
fn late_fee_starts_after_thirty_days_not_at_thirty() {
    let cases = [
        (0, "0.00"),
        (10, "0.00"),
        (20, "0.00"),
        (21, "0.00"),
        (29, "0.00"),
        (30, "0.00"),
        (31, "5.40"),
        (45, "5.40"),
        (u32::MAX, "5.40"),
    ];
    for (days, fee) in cases {
        let invoice = priced(&[item("100", 1)], Tier::None, false, days);
        assert_eq!(invoice.late_fee().to_string(), fee, "{days} days overdue");
    }
}

#[test]
fn late_fee_is_five_percent_of_the_taxed_amount() {
    assert_eq!(
        add_late_fee(dec!(108), DaysOverdue::from(31)).unwrap(),
        dec!(113.40)
    );
    assert_eq!(
        add_late_fee(dec!(108), DaysOverdue::from(30)).unwrap(),
        dec!(108)
    );
}

#[test]
fn exact_midpoints_round_half_away_from_zero() {
    // (price, tier, loyalty, days, half away from zero, what half-to-even would give)
    let cases = [
        ("0.375", "none", false, 0, "0.41", "0.40"),
        ("2.5", "bronze", false, 0, "2.57", "2.56"),
        ("7.5", "gold", false, 0, "6.89", "6.88"),
        ("3.75", "silver", false, 0, "3.65", "3.64"),
        ("18.75", "none", true, 0, "19.85", "19.84"),
        ("7.5", "none", false, 45, "8.51", "8.50"),
        // Midpoints where both strategies agree still round up.
        ("0.125", "none", false, 0, "0.14", "0.14"),
        ("6.25", "none", true, 0, "6.62", "6.62"),
    ];
    for (price, tier, loyalty, days, away, even) in cases {
        let total = calculate_invoice_total(
            &[item(price, 1)],
            &Tier::from_name(tier),
            loyalty,
            DaysOverdue::from(days),
        )
        .unwrap();
        assert_eq!(
            total.to_string(),
            away,
            "{price} {tier} loyalty={loyalty} days={days}"
        );
        if away != even {
            assert_ne!(total.to_string(), even);
        }
    }
}

#[test]
fn amounts_just_either_side_of_a_midpoint_round_to_nearest() {
    // 0.3749 × 1.08 = 0.404892 → 0.40; 0.3751 × 1.08 = 0.405108 → 0.41.
    let total = |p: &str| {
        calculate_invoice_total(&[item(p, 1)], &Tier::None, false, DaysOverdue::from(0))
            .unwrap()
            .to_string()
    };
    assert_eq!(total("0.3749"), "0.40");
    assert_eq!(total("0.3751"), "0.41");
}

#[test]
fn breakdown_lines_add_up_where_rounding_each_line_would_not() {
    // 0.01 × 3, gold, member, overdue: exact steps 0.03 → 0.0255 → 0.02499 →
    // 0.0269892 → 0.028338660. Rounding each step's change on its own would
    // not add up; differences of rounded running amounts always do.
    let invoice = priced(&[item("0.01", 3)], Tier::Gold, true, 31);
    let sum = invoice
        .lines()
        .iter()
        .try_fold(Money::ZERO, |acc, (_, line)| acc.checked_add(*line))
        .unwrap();
    assert_eq!(sum, invoice.total());
    assert_eq!(invoice.total().to_string(), "0.03");
    assert_eq!(invoice.tier_discount().to_string(), "0.00");
}

#[test]
fn zero_priced_invoice_totals_zero() {
    let invoice = priced(&[item("0", 5)], Tier::Gold, true, 90);
    assert_eq!(invoice.total(), Money::ZERO);
    assert!(invoice.lines().iter().all(|(_, line)| line.is_zero()));
}

#[test]
fn largest_single_line_prices_exactly() {
    let invoice = priced(&[item("1000000000", 1_000_000)], Tier::Gold, true, 31);
    // 1e15 × 0.85 × 0.98 × 1.08 × 1.05 = 944 622 000 000 000 exactly.
    assert_eq!(invoice.total().to_string(), "944622000000000.00");
}

#[test]
fn subtotal_above_the_exact_range_is_refused_not_rounded() {
    let items = vec![item("1000000000", 1_000_000); 11];
    let input = PricingInput::new(items, Tier::None, false, DaysOverdue::from(0)).unwrap();
    let err = price(&input).unwrap_err();
    // The message names the sum that is over the limit (the eleventh line
    // included), not the sum before it, which is exactly at the limit.
    assert_eq!(err, PricingError::SubtotalTooLarge(dec!(11000000000000000)));
    assert_eq!(
        err.to_string(),
        "subtotal 11000000000000000 is above the largest amount ledgerly prices exactly (10000000000000000)"
    );
    let at_limit = vec![item("1000000000", 1_000_000); 10];
    let input = PricingInput::new(at_limit, Tier::None, false, DaysOverdue::from(0)).unwrap();
    assert_eq!(price(&input).unwrap().subtotal().to_decimal(), MAX_SUBTOTAL);
}

#[test]
fn refusals_carry_lowercase_messages_naming_the_value() {
    let cases: [(Result<(), PricingError>, &str); 7] = [
        ("-1".parse::<Price>().map(drop), "price -1 is negative"),
        (
            "1.23456".parse::<Price>().map(drop),
            "price 1.23456 has more than 4 decimal places",
        ),
        (
            "1000000001".parse::<Price>().map(drop),
            "price 1000000001 is above the maximum of 1000000000",
        ),
        (
            "0".parse::<Quantity>().map(drop),
            "quantity \"0\" is not a whole number from 1 to 1000000",
        ),
        (
            "1.5".parse::<Quantity>().map(drop),
            "quantity \"1.5\" is not a whole number from 1 to 1000000",
        ),
        (
            "-2".parse::<DaysOverdue>().map(drop),
            "days overdue -2 is negative",
        ),
        (
            PricingInput::new(Vec::new(), Tier::None, false, DaysOverdue::from(0)).map(drop),
            "an invoice needs at least one line item",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
}

/// Every error that holds input text holds an excerpt: a 1 MiB price,
/// quantity, days overdue or tier makes a message of about 200 bytes, not
/// one of a mebibyte.
#[test]
fn errors_quote_a_bounded_prefix_of_a_huge_value() {
    const MIB: usize = 1 << 20;
    let digits = "9".repeat(MIB);
    let cases = [
        ("x".repeat(MIB).parse::<Price>().map(drop), "price \"xxx"),
        (
            format!("-{digits}").parse::<Price>().map(drop),
            "price -999",
        ),
        (digits.parse::<Price>().map(drop), "price 999"),
        (
            format!("0.{digits}").parse::<Price>().map(drop),
            "price 0.999",
        ),
        (digits.parse::<Quantity>().map(drop), "quantity \"999"),
        (
            digits.parse::<DaysOverdue>().map(drop),
            "days overdue \"999",
        ),
        (
            format!("-{digits}").parse::<DaysOverdue>().map(drop),
            "days overdue -999",
        ),
        (
            "g".repeat(MIB).parse::<Tier>().map(drop),
            "unknown tier \"ggg",
        ),
    ];
    for (result, start) in cases {
        let message = result.unwrap_err().to_string();
        assert!(message.starts_with(start), "{message:.80}");
        assert!(
            message.len() < 200,
            "{} bytes: {message:.80}",
            message.len()
        );
        assert!(message.contains('…'), "{message}");
    }
    assert_eq!(pricing::excerpt("gold"), "gold");
}
