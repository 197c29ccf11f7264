use super::*;
use crate::batch::read::lines::MAX_LINE;

const HEAD: &str = "invoice_id,tier,loyalty_member,days_overdue,price,quantity\n";

fn read(input: &[u8]) -> Result<Vec<CsvInvoice>, CsvInputError> {
    let pool = BufferPool::default();
    let blocks = LineBlocks::new(input, &pool, 64, MAX_LINE);
    Ok(CsvInvoices::new(blocks, &pool)?
        .collect::<io::Result<_>>()
        .unwrap())
}

fn invoices(body: &str) -> Vec<CsvInvoice> {
    read(format!("{HEAD}{body}").as_bytes()).unwrap()
}

fn total(invoice: &CsvInvoice) -> String {
    let input = invoice.input.as_ref().unwrap();
    pricing::price(input).unwrap().total().to_string()
}

#[test]
fn consecutive_rows_with_one_id_form_one_invoice() {
    let got = invoices("INV-1,gold,true,45,40.00,3\nINV-1,gold,true,45,15,2\nINV-2,,,,10,1\n");
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].line, got[0].id.as_deref()), (2, Some("INV-1")));
    assert_eq!(got[0].input.as_ref().unwrap().line_items().len(), 2);
    assert_eq!(total(&got[0]), "141.69");
    assert_eq!((got[1].line, got[1].id.as_deref()), (4, Some("INV-2")));
    assert_eq!(total(&got[1]), "10.80");
}

#[test]
fn empty_invoice_fields_mean_none_false_and_zero() {
    let got = invoices("A,,,,10,1\n");
    let input = got[0].input.as_ref().unwrap();
    assert_eq!(input.tier(), &Tier::None);
    assert!(!input.loyalty_member());
    assert_eq!(input.days_overdue().get(), 0);
}

#[test]
fn the_same_id_later_again_is_a_new_invoice() {
    let got = invoices("A,,,,1,1\nB,,,,1,1\nA,,,,1,1\n");
    let ids: Vec<_> = got
        .iter()
        .map(|i| (i.line, i.id.clone().unwrap()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (2, "A".to_owned()),
            (3, "B".to_owned()),
            (4, "A".to_owned())
        ]
    );
}

#[test]
fn rows_without_an_id_are_invoices_of_their_own() {
    let got = invoices(",,,,1,1\n,,,,2,1\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, None);
    assert_eq!((got[1].line, got[1].id.as_deref()), (3, None));
}

#[test]
fn disagreeing_invoice_fields_name_the_row_and_the_first_row() {
    let got = invoices("A,gold,true,45,1,1\nA,silver,true,45,1,1\nB,,,,1,1\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].line, 3);
    assert_eq!(
        got[0].input.as_ref().unwrap_err().to_string(),
        "tier \"silver\" disagrees with \"gold\" on line 2, the first row of invoice \"A\""
    );
    assert!(got[1].input.is_ok());
}

#[test]
fn each_invoice_level_field_must_agree() {
    for (rows, disagreeing) in [
        (
            "A,gold,true,45,1,1\nA,gold,false,45,1,1\n",
            "loyalty_member",
        ),
        ("A,gold,true,45,1,1\nA,gold,true,46,1,1\n", "days_overdue"),
    ] {
        let got = invoices(rows);
        assert!(
            matches!(
                got[0].input,
                Err(RowError::Disagrees { field, .. }) if field == disagreeing
            ),
            "{disagreeing}: {:?}",
            got[0].input
        );
    }
    // Equal values written differently agree.
    let got = invoices("A,,,45,1,1\nA,none,false,045,1,1\n");
    assert!(got[0].input.is_ok(), "{:?}", got[0].input);
}

#[test]
fn a_bad_row_names_its_own_line_and_spoils_only_its_invoice() {
    let got = invoices("A,,,,1,1\nA,,,,-2,1\nA,,,,x,1\nB,,,,1,1\n");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].line, 3);
    assert_eq!(
        got[0].input.as_ref().unwrap_err(),
        &RowError::Pricing(PricingError::NegativePrice("-2".parse().unwrap()))
    );
    assert!(got[1].input.is_ok());
}

#[test]
fn a_row_ending_in_a_comma_ends_with_an_empty_field() {
    let fields = |line: &[u8]| -> Vec<Vec<u8>> {
        split(line)
            .unwrap()
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    };
    assert_eq!(fields(b"a,"), [b"a".to_vec(), Vec::<u8>::new()]);
    assert_eq!(fields(b"\"a\","), [b"a".to_vec(), Vec::new()]);
    assert_eq!(fields(b","), [Vec::<u8>::new(), Vec::new()]);
    assert_eq!(fields(b"a"), [b"a".to_vec()]);
    assert_eq!(
        invoices("A,,,,1,\n")[0]
            .input
            .as_ref()
            .unwrap_err()
            .to_string(),
        "quantity \"\" is not a whole number from 1 to 1000000"
    );
}

#[test]
fn refuses_malformed_rows() {
    let cases = [
        ("A,,,,1\n", "row has 5 fields, expected 6"),
        (
            "A,,yes,,1,1\n",
            "loyalty_member \"yes\" is not true or false",
        ),
        ("A,,,-1,1,1\n", "days overdue -1 is negative"),
        (
            "A,,,,1,0\n",
            "quantity \"0\" is not a whole number from 1 to 1000000",
        ),
        (
            "A,,,,1.00001,1\n",
            "price 1.00001 has more than 4 decimal places",
        ),
    ];
    for (body, message) in cases {
        let got = invoices(body);
        assert_eq!(got[0].line, 2);
        assert_eq!(
            got[0].input.as_ref().unwrap_err().to_string(),
            message,
            "{body}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn the_one_pass_split_gives_the_fields_the_general_split_gives(
        row in proptest::collection::vec(
            proptest::sample::select(vec![
                &b"A"[..], b",", b",", b",", b"\"", b"gold", b" ", b"\xff", b"\xc3\xa9", b"1.5", b"",
            ]),
            0..16,
        )
    ) {
        let row = row.concat();
        if let Some(plain) = plain_fields(&row) {
            let general = split(&row).unwrap();
            let general: Vec<&[u8]> = general.iter().map(|field| &field[..]).collect();
            let plain: Vec<&[u8]> = plain.iter().map(|field| field.as_bytes()).collect();
            proptest::prop_assert_eq!(plain, general);
        } else {
            // Left to the general split: a quote, invalid UTF-8, or
            // not six fields.
            let general = split(&row);
            let six_plain_fields = general.as_ref().is_ok_and(|fields| fields.len() == 6)
                && !row.contains(&b'"')
                && str::from_utf8(&row).is_ok();
            proptest::prop_assert!(!six_plain_fields);
        }
    }
}

#[test]
fn later_rows_repeating_the_first_rows_terms_join_it_and_any_other_text_is_read_again() {
    let got = invoices(concat!(
        "A,gold,true,45,40.00,3\n",
        "A,gold,true,45,15,2\n",
        "B,gold,true,45,1,1\n",
        "B,gold,true,045,1,1\n",
        "C,gold,true,45,1,1\n",
        "C,gold,TRUE,45,1,1\n",
        "D,gold,,,1,1\n",
        "D,gold,false,0,1,1\n",
    ));
    assert_eq!(total(&got[0]), "141.69");
    // `045` is another text for the same 45 days: it agrees.
    assert_eq!(got[1].input.as_ref().unwrap().line_items().len(), 2);
    assert_eq!(
        got[2].input.as_ref().unwrap_err(),
        &RowError::LoyaltyMember("TRUE".to_owned())
    );
    assert_eq!(got[2].line, 7);
    // Empty fields and their spelt-out defaults agree too.
    assert_eq!(got[3].input.as_ref().unwrap().line_items().len(), 2);
}

#[test]
fn refuses_invalid_utf8_in_a_field() {
    let mut input = HEAD.as_bytes().to_vec();
    input.extend_from_slice(b"A,gol\xffd,,,1,1\n");
    let got = read(&input).unwrap();
    assert_eq!(
        got[0].input.as_ref().unwrap_err(),
        &RowError::InvalidUtf8("tier")
    );
}

#[test]
fn a_quote_that_does_not_close_on_its_line_costs_that_row_only() {
    // Line 2 opens a quote it never closes; line 3 is a row of its own
    // (its stray quote is literal), and line 4 is read as usual.
    let got = invoices("\"A,,,,1,1\nB\",,,,1,1\nC,,,,1,1\n");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].line, 2);
    assert_eq!(got[0].input.as_ref().unwrap_err(), &RowError::UnclosedQuote);
    assert_eq!((got[1].line, got[1].id.as_deref()), (3, Some("B\"")));
    assert_eq!((got[2].line, got[2].id.as_deref()), (4, Some("C")));
    assert!(got[2].input.is_ok());
}

#[test]
fn quoted_fields_are_unquoted_and_a_closing_quote_must_end_its_field() {
    let got = invoices("\"A,1\",\"gold\",,,\"10\",1\n\"B\"\"\",,,,1,1\n\"C\"x,,,,1,1\n");
    assert_eq!(got[0].id.as_deref(), Some("A,1"));
    assert_eq!(total(&got[0]), "9.18");
    assert_eq!(got[1].id.as_deref(), Some("B\""));
    assert_eq!(
        got[2].input.as_ref().unwrap_err(),
        &RowError::AfterQuote('x')
    );
}

#[test]
fn line_numbers_are_physical_with_crlf_and_blank_lines() {
    let input = "invoice_id,tier,loyalty_member,days_overdue,price,quantity\r\nA,,,,1,1\r\n\r\n  \r\nB,,,,x,1\r\nB,,,,1,1\r\n";
    let got = read(input.as_bytes()).unwrap();
    assert_eq!(got.iter().map(|i| i.line).collect::<Vec<_>>(), [2, 5]);
    assert_eq!(
        got[1].input.as_ref().unwrap_err().to_string(),
        "price \"x\" is not a decimal number"
    );
}

#[test]
fn one_rule_for_numbers_and_text_in_both_formats() {
    for (body, message) in [
        ("A,,,,+5,1\n", "price \"+5\" is not a decimal number"),
        (
            "A,,,,5,+1\n",
            "quantity \"+1\" is not a whole number from 1 to 1000000",
        ),
        (
            "A, gold,,,5,1\n",
            "tier \" gold\" has leading or trailing whitespace",
        ),
        (
            "A ,,,,5,1\n",
            "invoice_id \"A \" has leading or trailing whitespace",
        ),
        (
            "A,,, 4,5,1\n",
            "days overdue \" 4\" is not a whole number from 0 to 4294967295",
        ),
    ] {
        assert_eq!(
            invoices(body)[0].input.as_ref().unwrap_err().to_string(),
            message,
            "{body}"
        );
    }
    // Whole numbers in any spelling, as in JSON.
    let got = invoices("A,,,45.0,1.5e1,3.0\n");
    assert_eq!(got[0].input.as_ref().unwrap().days_overdue().get(), 45);
    assert_eq!(total(&got[0]), "51.03");
}

#[test]
fn an_over_long_row_is_an_invoice_of_its_own() {
    let pool = BufferPool::default();
    let input = format!("{HEAD}A,,,,1,1\nA,,,,1,{}\nB,,,,1,1\n", "1".repeat(100));
    let blocks = LineBlocks::new(input.as_bytes(), &pool, 16, 50);
    let got: Vec<_> = CsvInvoices::new(blocks, &pool)
        .unwrap()
        .collect::<io::Result<_>>()
        .unwrap();
    assert_eq!(got.iter().map(|i| i.line).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(
        got[1].input.as_ref().unwrap_err(),
        &RowError::TooLong(LineTooLongError)
    );
    assert!(got[0].input.is_ok() && got[2].input.is_ok());
}

#[test]
fn the_header_must_be_exact_but_may_carry_a_byte_order_mark() {
    let error = read(b"id,tier\nA,gold\n").err().unwrap();
    assert_eq!(
        error.to_string(),
        "CSV header must be exactly \"invoice_id,tier,loyalty_member,days_overdue,price,quantity\", found \"id,tier\""
    );
    let with_bom = format!("\u{feff}{HEAD}A,,,,1,1\n");
    assert_eq!(read(with_bom.as_bytes()).unwrap().len(), 1);
}

#[test]
fn an_empty_input_has_no_invoices() {
    assert_eq!(read(b"").unwrap().len(), 0);
    assert_eq!(invoices("").len(), 0);
}

fn chunk_lines(input: &str, chunk_bytes: usize) -> Vec<Vec<u64>> {
    let pool = BufferPool::default();
    let blocks = LineBlocks::new(input.as_bytes(), &pool, 5, MAX_LINE);
    CsvChunks::new(blocks, &pool, chunk_bytes)
        .unwrap()
        .map(|chunk| {
            chunk
                .unwrap()
                .invoices()
                .map(|invoice| invoice.line)
                .collect()
        })
        .collect()
}

#[test]
fn chunks_are_cut_between_invoices_never_inside_one() {
    let input = format!("{HEAD}A,,,,1,1\nA,,,,1,1\nA,,,,1,1\nB,,,,1,1\n,,,,1,1\n,,,,1,1\n");
    // One byte per chunk: every invoice is a chunk of its own, however
    // many rows it has.
    assert_eq!(chunk_lines(&input, 1), [vec![2], vec![5], vec![6], vec![7]]);
    assert_eq!(chunk_lines(&input, 1 << 20), [vec![2, 5, 6, 7]]);
    let got = invoices("A,,,,1,1\nA,,,,2,1\nA,,,,3,1\n");
    assert_eq!(got[0].input.as_ref().unwrap().line_items().len(), 3);
}

/// Hands out `data`, then fails.
struct FailsAfter<'a>(&'a [u8]);

impl Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::other("disk gone"));
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn a_read_error_right_after_the_header_is_returned_not_taken_for_the_end() {
    let pool = BufferPool::default();
    let blocks = LineBlocks::new(FailsAfter(HEAD.as_bytes()), &pool, 1 << 20, MAX_LINE);
    let mut chunks = CsvChunks::new(blocks, &pool, 1 << 20).unwrap();
    assert_eq!(chunks.next().unwrap().unwrap_err().to_string(), "disk gone");
}

#[test]
fn an_invoice_of_thousands_of_rows_is_kept_whole() {
    let got = invoices(&"A,,,,1,1\n".repeat(5000));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].input.as_ref().unwrap().line_items().len(), 5000);
}

/// The invoices of `HEAD` and `body` under other limits on an
/// invoice's rows and bytes, with the lines of their first rows.
fn limited(body: &str, max_rows: usize, max_invoice_bytes: usize) -> Vec<CsvInvoice> {
    let pool = BufferPool::default();
    let input = format!("{HEAD}{body}");
    let blocks = LineBlocks::new(input.as_bytes(), &pool, 64, MAX_LINE);
    let chunks = CsvChunks::new(blocks, &pool, CHUNK_BYTES)
        .unwrap()
        .with_limits(max_rows, max_invoice_bytes);
    chunks
        .flat_map(|chunk| chunk.unwrap().invoices().collect::<Vec<_>>())
        .collect()
}

fn outcomes(invoices: &[CsvInvoice]) -> Vec<(u64, Result<usize, &RowError>)> {
    invoices
        .iter()
        .map(|invoice| {
            let input = invoice.input.as_ref();
            (invoice.line, input.map(|input| input.line_items().len()))
        })
        .collect()
}

#[test]
fn an_invoice_of_more_rows_than_the_limit_is_refused_at_its_first_row() {
    let rows = |n: usize| "A,,,,1,1\n".repeat(n) + "B,,,,1,1\n";
    assert_eq!(
        outcomes(&limited(&rows(3), 3, 1 << 20)),
        [(2, Ok(3)), (5, Ok(1))]
    );
    // The rows past the limit are counted, not kept.
    assert_eq!(
        outcomes(&limited(&rows(5), 3, 1 << 20)),
        [(2, Err(&RowError::TooManyRows)), (7, Ok(1))]
    );
}

#[test]
fn an_invoice_of_more_bytes_than_the_limit_is_refused_at_its_first_row() {
    // Each row holds 8 bytes (its line break is not kept): three fill
    // 24 bytes, a fourth is past the limit.
    let rows = |n: usize| "A,,,,1,1\n".repeat(n) + "B,,,,1,1\n";
    assert_eq!(
        outcomes(&limited(&rows(3), MAX_ROWS, 24)),
        [(2, Ok(3)), (5, Ok(1))]
    );
    assert_eq!(
        outcomes(&limited(&rows(4), MAX_ROWS, 24)),
        [(2, Err(&RowError::TooManyRows)), (6, Ok(1))]
    );
    // What counts is each invoice's own rows, not the chunk before it.
    let body = "C,,,,1,1\n".repeat(3) + &rows(3);
    assert_eq!(
        outcomes(&limited(&body, MAX_ROWS, 24)),
        [(2, Ok(3)), (5, Ok(3)), (8, Ok(1))]
    );
}

#[test]
fn a_read_error_comes_after_the_rows_read_before_it() {
    let input = format!("{HEAD}A,,,,1,1\nB,,,,1,1\n");
    let pool = BufferPool::default();
    let blocks = LineBlocks::new(FailsAfter(input.as_bytes()), &pool, 1 << 20, MAX_LINE);
    let mut chunks = CsvChunks::new(blocks, &pool, 1 << 20).unwrap();
    let first = chunks.next().unwrap().unwrap();
    assert_eq!(first.invoices().map(|i| i.line).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(chunks.next().unwrap().unwrap_err().to_string(), "disk gone");
    assert!(chunks.next().is_none());
}
