//! Outputs are safe where they are read: an id that is a spreadsheet
//! formula is inert in every CSV output, the amounts beside it stay
//! numbers, and an error quotes at most an excerpt of a huge value.

use std::fmt::Write as _;

use crate::util::{invoice_stdin, ledgerly, on_ledger, scratch, stdout_of};

/// Ids a spreadsheet would run as formulas.
const FORMULAS: [&str; 4] = [
    "=HYPERLINK(\"http://x.example\",\"y\")",
    "+1",
    "-2+3",
    "@SUM(1)",
];

/// The cells of a CSV output, row by row, as a CSV reader reads them.
fn cells(csv: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv.as_bytes())
        .records()
        .map(|row| row.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// One JSON Lines invoice per id of [`FORMULAS`], gold, 150.00, with
/// `fields` after the id.
fn formula_invoices(fields: &str) -> String {
    let mut input = String::new();
    for id in FORMULAS {
        let id = serde_json::to_string(id).unwrap();
        let _ = writeln!(
            input,
            "{{\"id\":{id}{fields},\"tier\":\"gold\",\"line_items\":[{{\"price\":\"150\",\"quantity\":1}}]}}"
        );
    }
    input
}

/// `text` with the `'` a spreadsheet needs in front.
fn inert(text: &str) -> String {
    format!("'{text}")
}

#[test]
fn batch_csv_ids_are_never_formulas_and_amounts_stay_numbers() {
    let mut input = formula_invoices("");
    // The field rules refuse a tab-led id; the error record still names it.
    input.push_str("{\"id\":\"\\tA\",\"line_items\":[{\"price\":\"1\",\"quantity\":1}]}\n");
    let output = ledgerly()
        .args(invoice_stdin("jsonl", "csv"))
        .write_stdin(input)
        .output()
        .unwrap();
    let rows = cells(&String::from_utf8(output.stdout).unwrap());
    for (row, id) in rows.iter().zip(FORMULAS) {
        assert_eq!(row[1], inert(id));
        assert_eq!(row[3], "-22.50", "an amount is a number: {row:?}");
    }
    let refused = &rows[4];
    assert_eq!(refused[1], "'\tA", "{refused:?}");
    assert_eq!(refused[8], "id \"\\tA\" contains a control character");
}

#[test]
fn listing_csv_text_cells_are_never_formulas_and_amounts_stay_numbers() {
    let dir = scratch();
    let input = formula_invoices(",\"customer\":\"@cus\",\"payment_method\":\"tok_success\"");
    let path = dir.path().join("hostile.jsonl");
    std::fs::write(&path, input).unwrap();
    on_ledger(
        &dir,
        &["--quiet", "charge", "--input", path.to_str().unwrap()],
    )
    .assert()
    .success();
    let invoices = cells(&stdout_of(&mut on_ledger(
        &dir,
        &["invoices", "--format", "csv"],
    )));
    // Listed in id order.
    let mut ids: Vec<String> = FORMULAS.iter().map(|id| inert(id)).collect();
    ids.sort();
    assert_eq!(
        invoices.iter().map(|row| &row[0]).collect::<Vec<_>>(),
        ids.iter().collect::<Vec<_>>()
    );
    for row in &invoices {
        assert_eq!(row[1], "'@cus");
        assert_eq!(row[6], "-22.50", "an amount is a number: {row:?}");
    }
    let captures = cells(&stdout_of(&mut on_ledger(
        &dir,
        &["sandbox", "captures", "--format", "csv"],
    )));
    assert_eq!(captures.len(), FORMULAS.len());
    for (row, id) in captures.iter().zip(FORMULAS) {
        assert!(row[0].parse::<u64>().is_ok(), "{row:?}");
        assert_eq!(row[3], inert(id), "the reference is the invoice id");
        assert_eq!(row[4], "137.70", "{row:?}");
    }
}

#[test]
fn an_error_record_of_a_huge_value_is_small() {
    const MIB: usize = 1 << 20;
    let huge = "9".repeat(MIB);
    let tier = "g".repeat(MIB);
    let jsonl = format!(
        "{{\"id\":\"P\",\"line_items\":[{{\"price\":\"{huge}\",\"quantity\":1}}]}}\n\
         {{\"id\":\"Q\",\"line_items\":[{{\"price\":\"1\",\"quantity\":\"{huge}\"}}]}}\n\
         {{\"id\":\"D\",\"days_overdue\":\"-{huge}\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}\n\
         {{\"id\":\"T\",\"tier\":\" {tier}\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}\n\
         {{\"id\":\"M\",\"loyalty_member\":\"{tier}\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}\n"
    );
    let csv = format!(
        "invoice_id,tier,loyalty_member,days_overdue,price,quantity\n\
         L,,{tier},,1,1\n\
         X,gold,,,1,1\n\
         X,{tier},,,1,1\n\
         Y,,,,{huge},1\n"
    );
    for (format, input, count) in [("jsonl", jsonl, 5), ("csv", csv, 3)] {
        let out = stdout_of(
            ledgerly()
                .args(invoice_stdin(format, "jsonl"))
                .write_stdin(input),
        );
        let errors: Vec<&str> = out
            .lines()
            .filter(|line| line.contains("\"error\""))
            .collect();
        assert_eq!(errors.len(), count, "{format}: {out:.400}");
        for record in errors {
            assert!(
                record.len() < 400,
                "{format}: {} bytes: {record:.400}",
                record.len()
            );
            assert!(record.contains('…'), "{format}: {record}");
        }
    }
}

#[test]
fn charge_refuses_a_huge_unknown_tier_in_a_small_record() {
    let dir = scratch();
    let tier = "g".repeat(1 << 20);
    let path = dir.path().join("tier.jsonl");
    std::fs::write(
        &path,
        format!(
            "{{\"id\":\"T\",\"customer\":\"c\",\"payment_method\":\"tok_success\",\"tier\":\"{tier}\",\"line_items\":[{{\"price\":\"1\",\"quantity\":1}}]}}\n"
        ),
    )
    .unwrap();
    let output = on_ledger(&dir, &["charge", "--input", path.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(65), "{out:.400}");
    assert!(out.len() < 400, "{} bytes: {out:.400}", out.len());
    assert!(out.contains("unknown tier \\\"ggg"), "{out}");
    assert!(out.contains('…'), "{out}");
}

/// pricing and payment-gateway each have an `excerpt` (neither may depend
/// on the other); every error of ledgerly quotes by one rule.
#[test]
fn the_two_excerpts_agree() {
    for value in [
        "",
        "gold",
        &"x".repeat(64),
        &"é".repeat(65),
        &"9".repeat(1 << 20),
    ] {
        assert_eq!(pricing::excerpt(value), payment_gateway::excerpt(value));
    }
}
