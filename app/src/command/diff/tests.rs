use std::path::Path;

use super::compare::*;
use super::read::*;
use super::render::*;
use super::*;
use crate::output::money::parse_cents;

fn records(name: &str, text: &str) -> Records {
    Records::new(Path::new(name), io::Cursor::new(text.as_bytes().to_vec()))
}

fn priced(id: &str, total: &str) -> String {
    format!(
        "{{\"id\":\"{id}\",\"subtotal\":\"{total}\",\"tier_discount\":\"0.00\",\"loyalty_discount\":\"0.00\",\"tax\":\"0.00\",\"late_fee\":\"0.00\",\"total\":\"{total}\"}}\n"
    )
}

/// The records of `ledgerly invoice`, one per `(id, total)`, each total
/// its subtotal.
fn book(records: &[(&str, &str)]) -> String {
    records
        .iter()
        .map(|(id, total)| priced(id, total))
        .collect()
}

fn diff(old: &str, new: &str, top: usize) -> Report {
    compare(records("old.jsonl", old), records("new.jsonl", new), top).unwrap()
}

/// A rendering of `report` for old file `o` and new file `n`.
fn text_of(report: &Report) -> String {
    render_text(report, Path::new("o"), Path::new("n"))
}

fn markdown_of(report: &Report) -> String {
    render_markdown(report, Path::new("o"), Path::new("n"))
}

fn json_of(report: &Report) -> String {
    render_json(report, Path::new("o"), Path::new("n"))
}

/// Checks that `text` contains `part`, showing the whole text if not.
fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "{part:?} not in:\n{text}");
}

fn bad(old: &str) -> String {
    match compare(records("old.jsonl", old), records("new.jsonl", ""), 10) {
        Err(error) => error.to_string(),
        Ok(report) => panic!("accepted: {report:?}"),
    }
}

#[test]
fn amounts_parse_as_exact_cents_and_nothing_else_does() {
    assert_eq!(parse_cents("0.00"), Some(0));
    assert_eq!(parse_cents("141.69"), Some(14_169));
    assert_eq!(parse_cents("-22.50"), Some(-2_250));
    assert_eq!(
        parse_cents("944622000000000.00"),
        Some(94_462_200_000_000_000)
    );
    for text in [
        "",
        "1",
        "1.5",
        "1.505",
        ".50",
        "-",
        "1.-5",
        "+1.00",
        "1e2.00",
        "99999999999999999999.00",
        "0.x0",
    ] {
        assert_eq!(parse_cents(text), None, "{text:?}");
    }
}

#[test]
fn money_prints_two_decimals_and_signs_changes() {
    assert_eq!(money(0), "0.00");
    assert_eq!(money(-1), "-0.01");
    assert_eq!(money(14_169), "141.69");
    assert_eq!(signed(500), "+5.00");
    assert_eq!(signed(-250), "-2.50");
    assert_eq!(signed(0), "0.00");
}

#[test]
fn identical_outputs_differ_nowhere() {
    let book = format!(
        "{}{}\n{}",
        priced("A", "1.00"),
        priced("B", "2.00"),
        "{\"line\":4,\"id\":null,\"error\":\"bad\"}\n"
    );
    let report = diff(&book, &book, 10);
    assert!(!report.differs());
    assert_eq!(
        (report.compared, report.changed, report.unchanged),
        (3, 0, 3)
    );
    assert_eq!((report.errors_old, report.errors_new), (1, 1));
    assert_eq!(report.moved, [0; 6]);
    assert!(report.largest.is_empty());
}

#[test]
fn a_changed_total_is_counted_summed_and_listed_by_id() {
    let old = book(&[("A", "1.00"), ("B", "2.00"), ("C", "3.00")]);
    let new = book(&[("A", "1.50"), ("B", "2.00"), ("C", "1.00")]);
    let report = diff(&old, &new, 10);
    assert!(report.differs());
    assert_eq!(
        (report.compared, report.changed, report.unchanged),
        (3, 2, 1)
    );
    assert_eq!(report.moved[0], -150);
    assert_eq!(report.moved[TOTAL], -150);
    assert_eq!(report.up, (1, 50));
    assert_eq!(report.down, (1, -200));
    let labels: Vec<&str> = report.largest.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["C", "A"]);
}

#[test]
fn only_the_top_n_largest_changes_are_kept_largest_first_ties_in_file_order() {
    let mut old = String::new();
    let mut new = String::new();
    for n in 1..=50_i64 {
        old.push_str(&priced(&format!("I{n}"), "10.00"));
        // Changes of n % 7 cents: several ties.
        new.push_str(&priced(&format!("I{n}"), &money(1000 + i128::from(n % 7))));
    }
    let report = diff(&old, &new, 4);
    let labels: Vec<&str> = report.largest.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["I6", "I13", "I20", "I27"]);
    assert_eq!(report.changed, 50 - 7);
    assert!(diff(&old, &new, 0).largest.is_empty());
}

#[test]
fn records_in_one_file_only_are_reported_by_id() {
    let old = book(&[("A", "1.00"), ("B", "2.00"), ("C", "3.00")]);
    let new = book(&[("A", "1.00"), ("C", "3.00"), ("D", "4.00")]);
    let report = diff(&old, &new, 10);
    assert!(report.differs());
    assert_eq!((report.compared, report.changed), (2, 0));
    assert_eq!((report.only_in_old, report.only_in_new), (1, 1));
    assert_eq!(report.only_old_labels, ["B"]);
    assert_eq!(report.only_new_labels, ["D"]);
    let text = text_of(&report);
    assert_contains(&text, "only in old (1): B\n");
    assert_contains(&text, "only in new (1): D\n");
}

#[test]
fn out_of_order_records_still_pair_by_id() {
    let old = book(&[("A", "1.00"), ("B", "2.00"), ("C", "3.00")]);
    let new = book(&[("C", "3.00"), ("A", "1.00"), ("B", "2.01")]);
    let report = diff(&old, &new, 10);
    assert_eq!(
        (report.compared, report.changed, report.unchanged),
        (3, 1, 2)
    );
    assert_eq!((report.only_in_old, report.only_in_new), (0, 0));
    assert_eq!(report.largest[0].label, "B");
}

#[test]
fn records_without_ids_pair_by_position() {
    let line = |total: &str| priced("X", total).replace("\"id\":\"X\",", "");
    let old = format!("{}{}", line("1.00"), line("2.00"));
    let new = format!("{}\n{}{}", line("1.00"), line("2.50"), line("9.00"));
    let report = diff(&old, &new, 10);
    assert_eq!((report.compared, report.changed), (2, 1));
    assert_eq!(report.largest[0].label, "record 2");
    assert_eq!(report.only_new_labels, ["record 3"]);
}

#[test]
fn duplicate_ids_pair_first_with_first() {
    let old = book(&[("A", "1.00"), ("A", "2.00")]);
    let new = book(&[("A", "1.00"), ("A", "2.00")]);
    assert!(!diff(&old, &new, 10).differs());
}

#[test]
fn an_invoice_that_becomes_an_error_is_a_change() {
    let old = book(&[("A", "1.00"), ("B", "2.00")]);
    let new = format!(
        "{}{}",
        "{\"line\":1,\"id\":\"A\",\"error\":\"line item 1: price -5 is negative\"}\n",
        "{\"line\":2,\"id\":\"B\",\"error\":\"other\"}\n"
    );
    let report = diff(&old, &new, 1);
    assert!(report.differs());
    assert_eq!((report.changed, report.error_changes_count), (2, 2));
    assert_eq!(report.error_changes.len(), 1);
    assert_eq!(report.error_changes[0].old, "priced, total 1.00");
    assert_eq!(
        report.error_changes[0].new,
        "error: line item 1: price -5 is negative"
    );
    let both = "{\"line\":1,\"id\":\"A\",\"error\":\"x\"}\n";
    let other = "{\"line\":1,\"id\":\"A\",\"error\":\"y\"}\n";
    assert_eq!(diff(both, other, 5).changed, 1);
    assert_eq!(diff(both, both, 5).changed, 0);
}

#[test]
fn a_bad_record_names_the_file_and_line() {
    assert_eq!(
        bad(&format!("{}\nnot json\n", priced("A", "1.00"))),
        "old.jsonl line 3: not a record of `ledgerly invoice`: expected ident at line 1 column 2"
    );
    assert_eq!(
        bad("{\"id\":\"A\",\"total\":\"1.00\"}\n"),
        "old.jsonl line 1: not a record of `ledgerly invoice`: expected the six amounts or an error"
    );
    assert_eq!(
        bad(&priced("A", "1.5")),
        "old.jsonl line 1: subtotal \"1.5\" is not an amount with two decimals"
    );
    assert!(bad("{\"id\":\"A\",\"colour\":\"red\"}\n").contains("unknown field `colour`"));
    assert_eq!(
        bad("{\"line\":1,\"error\":\"x\",\"total\":\"1.00\"}\n"),
        "old.jsonl line 1: a record has either an error or amounts, not both"
    );
    assert_eq!(
        bad(&priced("A", "1.00").replace('{', "{\"line\":1,")),
        "old.jsonl line 1: a priced record has no line field"
    );
}

#[test]
fn the_renderers_show_the_headline_money_and_largest_changes() {
    let old = book(&[("REF-1", "141.69"), ("REF-2", "5.00")]);
    let new = book(&[("REF-1", "146.69"), ("REF-2", "5.00")]);
    let report = diff(&old, &new, 10);
    let text = render_text(&report, Path::new("old.jsonl"), Path::new("new.jsonl"));
    assert!(
        text.starts_with(
            "diff old.jsonl -> new.jsonl\n1 of 2 compared invoices change; total moved +5.00\n"
        ),
        "{text}"
    );
    assert_contains(&text, "  total                            +5.00\n");
    assert_contains(
        &text,
        "  REF-1                          141.69 ->               146.69                 +5.00\n",
    );
    let markdown = render_markdown(&report, Path::new("old.jsonl"), Path::new("new.jsonl"));
    assert_contains(&markdown, "| changed | 1 |");
    assert_contains(&markdown, "| total | +5.00 |");
    // Ids are escaped (issue 20, item 10): `-` is punctuation.
    assert_contains(&markdown, "| REF-1 | 141.69 | 146.69 | +5.00 |");
    let json: serde_json::Value = serde_json::from_str(&json_of(&report)).unwrap();
    assert_eq!(json["differs"], true);
    assert_eq!(json["changed"].to_string(), "1");
    assert_eq!(json["money_moved"]["total"], "+5.00");
    assert_eq!(json["largest_changes"][0]["id"], "REF-1");
    assert_eq!(json["largest_changes"][0]["change"], "+5.00");
    let same = diff(&old, &old, 10);
    assert!(text_of(&same).contains("no differences: 2 invoices compared"));
}

// A line break in a cell is now shown as `\n` rather than as a space (issue
// 20, item 10: every input text is escaped by `markdown`).
#[test]
fn markdown_cells_cannot_break_the_table() {
    assert_eq!(markdown("a|b\nc"), "a\\|b\\\\nc");
}

/// Ids that would be markup if copied raw.
const HOSTILE: [&str; 6] = [
    "![x](http://evil.example/p.png)",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "A|B",
    "**bold** _em_ `code` # ~~s~~",
    "A\nB\u{1b}[2J\rC",
];

#[test]
fn markdown_shows_hostile_text_literally() {
    assert_eq!(
        markdown("![x](http://e.example/p.png)"),
        "\\!\\[x\\]\\(http\\:\\/\\/e\\.example\\/p\\.png\\)"
    );
    assert_eq!(
        markdown("<img src=x>&amp;"),
        "&lt;img src\\=x&gt;&amp;amp\\;"
    );
    assert_eq!(markdown("A\u{1b}[2J"), "A\\\\u\\{1b\\}\\[2J");
    assert_eq!(markdown("INV 1 é"), "INV 1 é");
    for id in HOSTILE {
        let shown = markdown(id);
        // Nothing Markdown acts on is left unescaped, and the row stays one line.
        let mut chars = shown.chars();
        while let Some(c) = chars.next() {
            assert!(!c.is_control() && c != '<' && c != '>', "{shown}");
            if c == '\\' {
                assert!(
                    chars.next().is_some_and(|next| next.is_ascii_punctuation()),
                    "{shown}"
                );
            } else {
                assert!(!c.is_ascii_punctuation() || c == '&' || c == ';', "{shown}");
            }
        }
    }
}

#[test]
fn every_report_escapes_the_ids_it_copies() {
    // `priced` copies an id raw into JSON: these need JSON's escapes.
    let json = |id: &str| {
        serde_json::to_string(id)
            .unwrap()
            .trim_matches('"')
            .to_owned()
    };
    let old: String = HOSTILE.iter().map(|id| priced(&json(id), "1.00")).collect();
    let new = HOSTILE
        .iter()
        .enumerate()
        .map(|(index, id)| {
            if index == 0 {
                format!(
                    "{{\"line\":1,\"id\":{},\"error\":\"<b>bad</b>\"}}\n",
                    serde_json::to_string(id).unwrap()
                )
            } else {
                priced(&json(id), "2.00")
            }
        })
        .collect::<String>()
        + &priced("![new](http://e.example)", "1.00");
    let report = diff(&old, &new, 10);
    let md = markdown_of(&report);
    for id in HOSTILE {
        assert_contains(&md, &format!("| {} |", markdown(id)));
    }
    assert_contains(&md, "error\\: &lt;b&gt;bad&lt;\\/b&gt;");
    assert_contains(&md, "(1): \\!\\[new\\]");
    for raw in ["<img", "![", "](", "\u{1b}", "<b>"] {
        assert!(!md.contains(raw), "{raw:?} in {md}");
    }
    // Every table row is one line of the right number of cells.
    for row in md.lines().filter(|line| line.starts_with('|')) {
        let cells = row.replace("\\|", "").matches('|').count();
        assert!(cells == 3 || cells == 4 || cells == 5, "{row}");
    }
    let text = text_of(&report);
    assert_contains(&text, "A\\nB\\u{1b}[2J\\rC");
    assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text}");
    assert_contains(&text, "only in new (1): ![new](http://e.example)\n");
}

#[test]
fn a_change_of_the_lines_alone_counts_as_changed_but_moves_no_total() {
    let old = priced("A", "1.00");
    let new = old.replace("\"tier_discount\":\"0.00\"", "\"tier_discount\":\"-0.01\"");
    let report = diff(&old, &new, 10);
    assert_eq!(
        (report.changed, report.up, report.down),
        (1, (0, 0), (0, 0))
    );
    assert_eq!(report.moved, [0, -1, 0, 0, 0, 0]);
    assert_eq!(report.largest.len(), 1);
}

#[test]
fn duplicate_ids_out_of_step_still_pair_first_with_first() {
    let old = book(&[("A", "1.00"), ("A", "2.00"), ("B", "3.00")]);
    let new = book(&[("B", "3.00"), ("A", "1.00"), ("A", "2.00")]);
    let report = diff(&old, &new, 10);
    assert!(!report.differs(), "{report:?}");
    assert_eq!(report.compared, 3);
}

#[test]
fn the_largest_changes_are_cut_back_to_top_only_when_twice_top_are_held() {
    let mut report = Report {
        top: 4,
        ..Report::default()
    };
    let mut lengths = Vec::new();
    for n in 0..12_u64 {
        report.keep_largest(Change {
            label: n.to_string(),
            position: n,
            old: [0; 6],
            new: [0, 0, 0, 0, 0, i64::try_from(n).unwrap()],
        });
        lengths.push(report.largest.len());
    }
    assert_eq!(lengths, [1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 4]);
    report.cut_largest();
    let labels: Vec<&str> = report.largest.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["11", "10", "9", "8"]);
}

#[test]
fn lists_longer_than_top_say_how_many_more() {
    let old = book(&[("A", "1.00"), ("B", "2.00"), ("C", "3.00")]);
    let new = book(&[("X", "1.00"), ("Y", "2.00"), ("Z", "3.00")]);
    let report = diff(&old, &new, 2);
    assert_eq!((report.only_in_old, report.only_in_new), (3, 3));
    let text = text_of(&report);
    assert_contains(&text, "only in old (3): A, B and 1 more\n");
    assert_contains(&text, "only in new (3): X, Y and 1 more\n");
    let markdown = markdown_of(&report);
    // Ids are escaped text now, not code spans (issue 20, item 10): inside
    // backticks a backslash escape would show.
    assert_contains(&markdown, "\n**Only in old** (3): A, B and 1 more\n");
    assert_contains(&markdown, "\n**Only in new** (3): X, Y and 1 more\n");
    let all = diff(&old, &new, 3);
    let markdown = markdown_of(&all);
    assert_contains(&markdown, "\n**Only in old** (3): A, B, C\n");
}

#[test]
fn error_changes_are_listed_in_every_format_and_absent_when_there_are_none() {
    let old = book(&[("A", "1.00"), ("B", "2.00")]);
    let new = format!(
        "{}{}",
        "{\"line\":1,\"id\":\"A\",\"error\":\"price | bad\"}\n",
        priced("B", "2.00")
    );
    let report = diff(&old, &new, 10);
    let text = text_of(&report);
    assert!(
        text.ends_with(
            "errors changed on 1 invoices:\n  A: priced, total 1.00 -> error: price | bad\n"
        ),
        "{text}"
    );
    let markdown = markdown_of(&report);
    assert!(
        // Input text is escaped, punctuation and all (issue 20, item 10).
        markdown.ends_with("| A | priced\\, total 1\\.00 | error\\: price \\| bad |\n"),
        "{markdown}"
    );
    let json = json_of(&report);
    assert_contains(
        &json,
        "\"error_changes\":[{\"id\":\"A\",\"old\":\"priced, total 1.00\",\"new\":\"error: price | bad\"}]",
    );
    let same = diff(&old, &old, 10);
    for rendered in [text_of(&same), markdown_of(&same)] {
        assert!(
            !rendered.to_lowercase().contains("errors changed"),
            "{rendered}"
        );
        assert!(
            !rendered.to_lowercase().contains("only in old ("),
            "{rendered}"
        );
        assert!(!rendered.contains("Only in"), "{rendered}");
        assert!(
            !rendered.to_lowercase().contains("largest changes"),
            "{rendered}"
        );
    }
}

#[test]
fn a_record_missing_from_either_file_alone_is_a_difference() {
    let one = priced("A", "1.00");
    let two = book(&[("A", "1.00"), ("B", "2.00")]);
    let extra = diff(&one, &two, 10);
    assert_eq!(
        (extra.changed, extra.only_in_old, extra.only_in_new),
        (0, 0, 1)
    );
    assert!(extra.differs());
    let missing = diff(&two, &one, 10);
    assert_eq!(
        (missing.changed, missing.only_in_old, missing.only_in_new),
        (0, 1, 0)
    );
    assert!(missing.differs());
}

/// One record of a random file: an id from a few (so that ids repeat) or
/// none, and a total or an error.
fn random_line(id: Option<u8>, outcome: Result<u16, u8>, line: usize) -> String {
    let id = id.map_or(String::new(), |id| format!("\"id\":\"I{id}\","));
    match outcome {
        Ok(cents) => format!(
            "{{{id}\"subtotal\":\"0.00\",\"tier_discount\":\"0.00\",\"loyalty_discount\":\"0.00\",\"tax\":\"0.00\",\"late_fee\":\"0.00\",\"total\":\"{}.{:02}\"}}\n",
            cents / 100,
            cents % 100
        ),
        Err(reason) => format!("{{\"line\":{line},{id}\"error\":\"reason {reason}\"}}\n"),
    }
}

fn random_file() -> impl Strategy<Value = String> {
    let record = (
        proptest::option::weighted(0.8, 0_u8..40),
        prop_oneof![4 => (0_u16..300).prop_map(Ok), 1 => (0_u8..3).prop_map(Err)],
    );
    proptest::collection::vec(record, 0..60).prop_map(|records| {
        records
            .into_iter()
            .enumerate()
            .map(|(line, (id, outcome))| random_line(id, outcome, line + 1))
            .collect()
    })
}

fn within(old: &str, new: &str, top: usize, limits: Limits) -> String {
    let report = compare_within(records("o", old), records("n", new), top, limits).unwrap();
    json_of(&report)
}

use proptest::prelude::*;

proptest! {
    /// The spilled comparison (sorted runs on disk, joined by key) reports
    /// exactly what the lockstep one does, whatever the files' orders,
    /// repeated ids, records without ids and error records, and whatever
    /// the sizes of the runs and the number merged at once.
    #[test]
    fn files_compared_on_disk_give_the_report_of_files_compared_in_memory(
        old in random_file(),
        new in random_file(),
        top in 0_usize..6,
        waiting in 0_usize..4,
        run in 1_usize..5,
        fan_in in 2_usize..4,
    ) {
        let in_memory = Limits { waiting: usize::MAX, run: 1, fan_in: 2 };
        let on_disk = Limits { waiting, run, fan_in };
        prop_assert_eq!(within(&old, &new, top, on_disk), within(&old, &new, top, in_memory));
    }

    /// What the report lists (largest changes, error changes, records in
    /// one file only) does not depend on NEW's order: each list is the
    /// first `top` by OLD's (or NEW's) position, not the first met.
    #[test]
    fn a_report_does_not_depend_on_the_order_of_new(
        old in random_file(),
        seed in any::<u64>(),
        top in 1_usize..4,
    ) {
        // NEW: OLD's records with ids (unique ones), some totals changed,
        // in a shuffled order. Only records with ids pair across orders.
        let mut seen = std::collections::HashSet::new();
        let lines: Vec<&str> = old
            .lines()
            .filter(|line| {
                let value: serde_json::Value = serde_json::from_str(line).unwrap();
                value.get("id").is_some_and(|id| seen.insert(id.to_string()))
            })
            .collect();
        let join = |lines: &[&str]| lines.iter().flat_map(|line| [*line, "\n"]).collect::<String>();
        let old = join(&lines);
        let changed: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| if i % 3 == 0 { line.replace("\"total\":\"", "\"total\":\"9") } else { (*line).to_owned() })
            .collect();
        let mut shuffled = changed.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).unwrap();
            shuffled.swap(i, j);
        }
        let limits = Limits::PRODUCT;
        prop_assert_eq!(
            within(&old, &join(&shuffled.iter().map(String::as_str).collect::<Vec<_>>()), top, limits),
            within(&old, &join(&changed.iter().map(String::as_str).collect::<Vec<_>>()), top, limits)
        );
    }
}

#[test]
fn a_run_file_reads_back_what_was_written_and_a_changed_one_is_an_error_not_a_panic() {
    let records = [
        Record {
            position: 7,
            id: Some("A é".to_owned()),
            outcome: Outcome::Error("bad".to_owned()),
        },
        Record {
            position: u64::MAX,
            id: None,
            outcome: Outcome::Priced([i64::MIN, -1, 0, 1, 2, i64::MAX]),
        },
    ];
    let mut bytes = Vec::new();
    for record in &records {
        spill::write_record(&mut bytes, record).unwrap();
    }
    let mut input = bytes.as_slice();
    for record in &records {
        assert_eq!(
            spill::read_record(&mut input).unwrap().as_ref(),
            Some(record)
        );
    }
    assert_eq!(spill::read_record(&mut input).unwrap(), None);
    // Cut anywhere inside the first record: an error, never a record.
    let first = bytes.len() - 8 - 1 - 1 - 48;
    for cut in 9..first {
        assert!(
            spill::read_record(&mut &bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // An unknown tag, and a text longer than the file.
    let mut tag = bytes.clone();
    tag[8] = 9;
    assert!(spill::read_record(&mut tag.as_slice()).is_err());
    let mut long = bytes.clone();
    long[9..17].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(spill::read_record(&mut long.as_slice()).is_err());
    // Sides spill, merge and read back in key order.
    let mut side = spill::Side::new(1, 2);
    for record in records.iter().rev() {
        side.push(record.clone()).unwrap();
    }
    let mut merged = side.into_sorted().unwrap();
    assert_eq!(merged.next_record().unwrap().as_ref(), Some(&records[0]));
    assert_eq!(merged.next_record().unwrap().as_ref(), Some(&records[1]));
    assert_eq!(merged.next_record().unwrap(), None);
}

#[test]
fn records_waiting_for_their_partner_are_counted_as_they_come_and_go() {
    let record = |position: u64, id: &str| Record {
        position,
        id: Some(id.to_owned()),
        outcome: Outcome::Priced([0; 6]),
    };
    let mut waiting = Pending::default();
    assert_eq!(waiting.len(), 0);
    waiting.put(record(1, "A"));
    waiting.put(record(2, "A"));
    waiting.put(record(3, "B"));
    assert_eq!(waiting.len(), 3);
    // First come, first served within a key.
    assert_eq!(
        waiting.take(&Key::Id("A".to_owned())).map(|r| r.position),
        Some(1)
    );
    assert_eq!(waiting.take(&Key::Id("C".to_owned())), None);
    assert_eq!(waiting.len(), 2);
    assert_eq!(
        waiting.take(&Key::Id("A".to_owned())).map(|r| r.position),
        Some(2)
    );
    assert_eq!(waiting.take(&Key::Id("A".to_owned())), None);
    assert_eq!(waiting.len(), 1);
    let left: Vec<u64> = waiting.into_records().map(|r| r.position).collect();
    assert_eq!(left, [3]);
}

#[test]
fn a_first_n_list_is_cut_back_only_when_it_doubles() {
    // A cut sorts the list: it is done once per `top` items, not per item.
    let mut list = Vec::new();
    for position in [9, 8, 7] {
        keep_first(&mut list, 2, position, |p| *p);
    }
    assert_eq!(list, [9, 8, 7], "three of at most four: not cut yet");
    keep_first(&mut list, 2, 6, |p| *p);
    assert_eq!(list, [6, 7], "four: cut back to the first two by position");
    let mut none = Vec::new();
    keep_first(&mut none, 0, 1, |p| *p);
    assert!(none.is_empty());
}

#[test]
fn a_comparison_spills_once_more_records_wait_than_its_limit() {
    // Three records of OLD wait (NEW has none of them yet).
    let old = book(&[("A", "1.00"), ("B", "1.00"), ("C", "1.00")]);
    let new = book(&[("X", "1.00"), ("Y", "1.00"), ("Z", "1.00"), ("A", "1.00")]);
    let spilled = |waiting| {
        let limits = Limits {
            waiting,
            run: 2,
            fan_in: 2,
        };
        compare_within(records("o", &old), records("n", &new), 10, limits)
            .unwrap()
            .spilled
    };
    // At most six wait at once (A, B, C and X, Y, Z), until A pairs.
    assert!(spilled(5), "six waiting, more than five");
    assert!(!spilled(6), "six waiting at the most: not more than six");
    assert!(!diff(&old, &old, 10).spilled, "files in step never spill");
}
