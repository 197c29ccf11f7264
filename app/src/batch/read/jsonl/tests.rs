//! The JSON Lines readers' tests: the general reader, and the fast path
//! against it.

use super::fast::fast_parse;
use super::*;
use pricing::Terms;
use proptest::prelude::*;

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
        parse_line(br#"{"tier":"platinum","line_items":[{"price":"10","quantity":1}]}"#).unwrap();
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
    let rejected = parse_line(b"{\"id\":\"A-1\",\"tier\":\"\xff\",\"line_items\":[]}").unwrap_err();
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
    let rejected =
        parse_line(br#"{"id":"INV-9","colour":"red","line_items":[{"price":"1","quantity":1}]}"#)
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
            .starts_with("invalid invoice JSON: invalid type: string \"yes\", expected a boolean")
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
    for (line, error) in [
        (
            &br#"{"line_items":[{"price":"1","quantity":1},{"price":"-5","quantity":1}]}"#[..],
            "line item 2: price -5 is negative",
        ),
        (
            br#"{"line_items":[{"price":"1.00001","quantity":1}]}"#,
            "line item 1: price 1.00001 has more than 4 decimal places",
        ),
        (
            br#"{"line_items":[{"price":"1","quantity":2.5}]}"#,
            "line item 1: quantity \"2.5\" is not a whole number from 1 to 1000000",
        ),
        (
            br#"{"line_items":[]}"#,
            "an invoice needs at least one line item",
        ),
        (
            br#"{"days_overdue":-3,"line_items":[{"price":"1","quantity":1}]}"#,
            "days overdue -3 is negative",
        ),
    ] {
        assert_eq!(error_of(line), error);
    }
}

#[test]
fn refuses_huge_numbers_without_rounding_them() {
    for (line, error) in [
        (
            &br#"{"line_items":[{"price":1e400,"quantity":1}]}"#[..],
            "line item 1: price 1e400 is above the maximum of 1000000000",
        ),
        (
            br#"{"line_items":[{"price":"1000000000.01","quantity":1}]}"#,
            "line item 1: price 1000000000.01 is above the maximum of 1000000000",
        ),
        (
            br#"{"line_items":[{"price":"1","quantity":99999999999999999999}]}"#,
            "line item 1: quantity \"99999999999999999999\" is not a whole number from 1 to 1000000",
        ),
    ] {
        assert_eq!(error_of(line), error);
    }
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

/// An invoice as both readers give it back: its id, terms and line items,
/// or the id and message of its rejection. Compared as values.
type Read = Result<(Option<String>, Terms, Vec<LineItem>), (Option<String>, String)>;

/// What `parse_line_into` makes of `line`.
fn read_into(line: &[u8]) -> Read {
    let mut items = vec![LineItem::new("99".parse().unwrap(), "9".parse().unwrap())];
    match parse_line_into(line, &mut items) {
        Ok(header) => Ok((header.id.map(Cow::into_owned), header.terms, items)),
        Err(rejected) => Err((rejected.id.map(Cow::into_owned), rejected.error.to_string())),
    }
}

/// What `parse_line` makes of `line`.
fn read_whole(line: &[u8]) -> Read {
    match parse_line(line) {
        Ok(invoice) => Ok((
            invoice.id.map(Cow::into_owned),
            invoice.input.terms().clone(),
            invoice.input.line_items().to_vec(),
        )),
        Err(rejected) => Err((rejected.id.map(Cow::into_owned), rejected.error.to_string())),
    }
}

/// Checks that the fast path reads `line` itself (`fast`) or leaves it to
/// the general reader, and that both readers make the same of it.
fn assert_readers_agree(line: &str, fast: bool) {
    assert_eq!(
        fast_parse(line.as_bytes(), &mut Vec::new()).is_some(),
        fast,
        "{line}"
    );
    assert_eq!(
        read_into(line.as_bytes()),
        read_whole(line.as_bytes()),
        "{line}"
    );
}

#[test]
fn the_fast_path_reads_a_plain_invoice() {
    let line = br#"{"id":"INV-1","tier":"gold","loyalty_member":true,"days_overdue":45,"line_items":[{"price":"40.00","quantity":3},{"price":15,"quantity":2},{"price":0.1,"quantity":1}]}"#;
    let mut items = Vec::new();
    let header = fast_parse(line, &mut items).unwrap();
    assert_eq!(header.id.as_deref(), Some("INV-1"));
    assert_eq!(
        header.terms,
        Terms::new(Tier::Gold, true, DaysOverdue::from(45))
    );
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
    let quantities = [
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
    ];
    let days = [
        "45.0",
        "-0",
        "1e9",
        r#""3""#,
        "18446744073709551616",
        "4294967296",
        "-1",
        "2.5",
        "true",
    ];
    let lines = quantities
        .iter()
        .map(|quantity| format!(r#"{{"line_items":[{{"price":"1","quantity":{quantity}}}]}}"#))
        .chain(days.iter().map(|days| {
            format!(r#"{{"days_overdue":{days},"line_items":[{{"price":"1","quantity":1}}]}}"#)
        }));
    for line in lines {
        assert_readers_agree(&line, false);
    }
}

#[test]
fn number_quantities_and_days_keep_their_outcomes() {
    let quantity = |text: &str| {
        read_into(format!(r#"{{"line_items":[{{"price":"1","quantity":{text}}}]}}"#).as_bytes())
    };
    let items = |quantity: u64| {
        let item = LineItem::new("1".parse().unwrap(), Quantity::new(quantity).unwrap());
        Ok((None, Terms::default(), vec![item]))
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
            Err((None, format!("line item 1: {found}"))),
            "{text}"
        );
    }
    let days = |text: &str| {
        read_into(
            format!(r#"{{"days_overdue":{text},"line_items":[{{"price":"1","quantity":1}}]}}"#)
                .as_bytes(),
        )
    };
    assert_eq!(days("-0").unwrap().1, Terms::default());
    assert_eq!(
        days("-1"),
        Err((None, "days overdue -1 is negative".to_owned()))
    );
    assert_eq!(
        days("4294967296"),
        Err((
            None,
            r#"days overdue "4294967296" is not a whole number from 0 to 4294967295"#.to_owned()
        ))
    );
    // A whole number in any spelling, as for quantities.
    assert_eq!(
        days("3.0").unwrap().1,
        Terms::new(Tier::None, false, DaysOverdue::from(3))
    );
    assert_eq!(
        days("true"),
        Err((
            None,
            "days_overdue must be a whole JSON number, found true".to_owned()
        ))
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
        br#"{"id":"D2","line_items":[{"price":"1","price":"2","quantity":1}]}"#,
        br#"{"line_items":[{"price":-0,"quantity":1},{"price":-0.0,"quantity":2}]}"#,
        // Leading zeros, which JSON does not allow in a number.
        br#"{"line_items":[{"price":1,"quantity":007}]}"#,
        br#"{"line_items":[{"price":1,"quantity":00}]}"#,
        br#"{"days_overdue":045,"line_items":[{"price":1,"quantity":1}]}"#,
        br#"{"line_items":[{"price":01.5,"quantity":1}]}"#,
        // A closer that does not match its opener, anywhere.
        br#"{"line_items":[{"price":1,"quantity":1}}}"#,
        br#"{"line_items":[{"price":1,"quantity":1]]}"#,
        br#"{"line_items":[{"price":1,"quantity":1}]]"#,
        br#"{"id":"A";"line_items":[{"price":1,"quantity":1}]}"#,
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

/// JSON whitespace between tokens: none, the spaced layout, or any of the
/// four JSON whitespace bytes.
fn gap() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(String::new()),
        2 => Just(" ".to_owned()),
        1 => "[ \t\r\n]{1,3}",
    ]
}

/// A value for a price: strings and numbers in plain and other spellings,
/// and values the readers must refuse.
fn price_value() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "(0|[1-9][0-9]{0,9})(\\.[0-9]{1,5})?",
        8 => "\"(0|[1-9][0-9]{0,9})(\\.[0-9]{1,5})?\"",
        1 => "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
        1 => "0[0-9]{1,3}|-|1\\.|\\.5|\"\\u0031\"|\"1\\\\n\"|\" 1\"|null|true|\\{\\}|\\[\\]",
    ]
}

/// A value for a quantity or `days_overdue`.
fn count_value() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => "[1-9][0-9]{0,5}",
        1 => Just("0".to_owned()),
        1 => "-?[0-9]{1,3}(\\.[0-9])?(e[0-9])?|[0-9]{19,21}|4294967296|null|\"3\"|true",
    ]
}

/// A value for `id` or `tier`: plain names, the tiers, and texts that need
/// escapes, break a field rule, or are not strings.
fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "\"[A-Za-z0-9-]{0,12}\"",
        6 => prop::sample::select(vec!["\"gold\"", "\"silver\"", "\"bronze\"", "\"none\"", "\"platinum\""]).prop_map(str::to_owned),
        1 => prop::sample::select(vec![
            "null", "\" gold\"", "\"gold \"", "\"A\\nB\"", "\"\\u0041\"", "\"é\"", "\"A\u{7f}\"", "\"A\tB\"", "7", "\"\\\"\"", "\"\u{a0}gold\"", "\"gold\u{2003}\"", "\"\u{85}\"",
        ]).prop_map(str::to_owned),
    ]
}

/// A line item object: its two members in either order, sometimes one
/// missing, doubled or joined by a stranger.
fn line_item() -> impl Strategy<Value = String> {
    (
        price_value(),
        count_value(),
        any::<bool>(),
        0_u8..40,
        gap(),
        gap(),
    )
        .prop_map(|(price, quantity, swapped, oddity, a, b)| {
            let mut members = vec![
                format!("\"price\"{a}:{b}{price}"),
                format!("\"quantity\"{b}:{a}{quantity}"),
            ];
            if swapped {
                members.reverse();
            }
            match oddity {
                0 => {
                    members.pop();
                }
                1 => members.push("\"quantity\":1".to_owned()),
                2 => members.push("\"colour\":\"red\"".to_owned()),
                _ => {}
            }
            format!("{{{a}{}{b}}}", members.join(&format!("{a},{b}")))
        })
}

/// An invoice line: its members in a random order, some left out, null or
/// doubled, laid out compact or spaced, sometimes with something after it.
fn invoice_line() -> impl Strategy<Value = String> {
    (
        (
            text_value(),
            text_value(),
            prop_oneof![Just("true"), Just("false"), Just("null"), Just("1")],
            count_value(),
        ),
        prop_oneof![1 => Just(Vec::new()), 9 => prop::collection::vec(line_item(), 1..4)],
        prop::collection::vec(any::<bool>(), 5),
        any::<prop::sample::Index>(),
        0_u8..40,
        gap(),
        gap(),
    )
        .prop_map(
            |((id, tier, member, days), items, present, order, oddity, a, b)| {
                let mut members = Vec::new();
                let candidates = [
                    ("id", id),
                    ("tier", tier),
                    ("loyalty_member", member.to_owned()),
                    ("days_overdue", days),
                    (
                        "line_items",
                        format!("[{a}{}{b}]", items.join(&format!("{a},{b}"))),
                    ),
                ];
                for ((name, value), present) in candidates.into_iter().zip(&present) {
                    if *present || name == "line_items" {
                        members.push(format!("\"{name}\"{a}:{b}{value}"));
                    }
                }
                let turn = order.index(members.len());
                members.rotate_left(turn);
                match oddity {
                    0 => members.push("\"line_items\":[{\"price\":1,\"quantity\":1}]".to_owned()),
                    1 => members.push("\"id\":\"again\"".to_owned()),
                    2 => members.push("\"colour\":\"red\"".to_owned()),
                    3 => members.retain(|member| !member.starts_with("\"line_items\"")),
                    _ => {}
                }
                let tail = match oddity {
                    4 => " x",
                    5 => " \t",
                    6 => ",",
                    _ => "",
                };
                format!("{a}{{{b}{}{a}}}{tail}", members.join(&format!("{b},{a}")))
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_fast_path_and_the_general_reader_agree_on_any_near_invoice_line(line in invoice_line()) {
        prop_assert_eq!(read_into(line.as_bytes()), read_whole(line.as_bytes()), "{}", line);
    }
}

#[test]
fn the_fast_path_reads_the_compact_and_the_spaced_layouts_itself() {
    for line in [
        r#"{"id":"REF-000002","tier":"gold","loyalty_member":false,"days_overdue":30,"line_items":[{"price":"19.99","quantity":3}]}"#,
        r#"{"days_overdue":0,"line_items":[{"price":0,"quantity":1},{"price":"0.5","quantity":10}]}"#,
        r#"{"id": "SP-0000002", "tier": "silver", "loyalty_member": false, "days_overdue": 98, "line_items": [{"price": "14900.0379", "quantity": 29}, {"price": 14199.2543, "quantity": 1}]}"#,
        "\t{ \"line_items\" :\r\n[ { \"quantity\" : 2 , \"price\" : 0.5 } ] , \"id\" : null , \"tier\" : null , \"loyalty_member\" : null , \"days_overdue\" : null } ",
    ] {
        assert_readers_agree(line, true);
    }
}

#[test]
fn member_names_that_only_begin_like_ours_are_left_to_the_general_reader() {
    let valid = r#"{"id":"A","tier":"gold","loyalty_member":true,"days_overdue":3,"line_items":[{"price":1,"quantity":2}]}"#;
    assert!(fast_parse(valid.as_bytes(), &mut Vec::new()).is_some());
    for name in [
        "id",
        "tier",
        "loyalty_member",
        "days_overdue",
        "line_items",
        "price",
        "quantity",
    ] {
        // Longer, shorter, and as long but for the last letter.
        let last_changed = format!("{}X", &name[..name.len() - 1]);
        for other in [
            format!("{name}s"),
            name[..1].to_owned(),
            name[..name.len() - 1].to_owned(),
            last_changed,
        ] {
            let line = valid.replacen(&format!("\"{name}\""), &format!("\"{other}\""), 1);
            assert_readers_agree(&line, false);
        }
    }
}
