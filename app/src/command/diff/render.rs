//! The report in the three formats: text for a terminal, JSON for
//! scripts, Markdown for a job summary.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::compare::{ErrorChange, Report};
use super::{FIELDS, TOTAL};
use crate::batch::read::fields::printable;

pub(super) use crate::output::money::{money, signed};

/// The headline: what a reviewer reads first.
pub(super) fn headline(report: &Report) -> String {
    if report.differs() {
        let mut line = format!(
            "{} of {} compared invoices change; total moved {}",
            report.changed,
            report.compared,
            signed(report.moved[TOTAL])
        );
        // Records with no partner are not in the comparison: the headline
        // says so, or a release that drops invoices would read "0 change".
        let unmatched = report.only_in_old + report.only_in_new;
        if unmatched > 0 {
            let _ = write!(
                line,
                "; {unmatched} in one file only ({} only in old, {} only in new)",
                report.only_in_old, report.only_in_new
            );
        }
        line
    } else {
        format!("no differences: {} invoices compared", report.compared)
    }
}

pub(super) fn render_text(report: &Report, old: &Path, new: &Path) -> String {
    let mut out = String::new();
    // Ids, error messages and paths come from the files compared, which may
    // hold anything: `printable` shows their control characters escaped,
    // so an escape sequence is never sent to the terminal.
    let _ = writeln!(
        out,
        "diff {} -> {}",
        printable(&old.display().to_string()),
        printable(&new.display().to_string())
    );
    let _ = writeln!(out, "{}", headline(report));
    let _ = writeln!(
        out,
        "compared {}, changed {}, unchanged {}, only in old {}, only in new {}, error records old {} new {}",
        report.compared,
        report.changed,
        report.unchanged,
        report.only_in_old,
        report.only_in_new,
        report.errors_old,
        report.errors_new
    );
    let _ = writeln!(out, "money moved (new - old):");
    for (name, moved) in FIELDS.iter().zip(report.moved) {
        let _ = writeln!(out, "  {name:<17} {:>20}", signed(moved));
    }
    let _ = writeln!(
        out,
        "totals up on {} invoices ({}), down on {} ({})",
        report.up.0,
        signed(report.up.1),
        report.down.0,
        signed(report.down.1)
    );
    if !report.largest.is_empty() {
        let _ = writeln!(out, "largest changes (of the total):");
        for change in &report.largest {
            let _ = writeln!(
                out,
                "  {:<16} {:>20} -> {:>20}  {:>20}",
                printable(&change.label),
                money(i128::from(change.old[TOTAL])),
                money(i128::from(change.new[TOTAL])),
                signed(change.total_delta())
            );
        }
    }
    list_text(
        &mut out,
        "only in old",
        report.only_in_old,
        &report.only_old_labels,
    );
    list_text(
        &mut out,
        "only in new",
        report.only_in_new,
        &report.only_new_labels,
    );
    if report.error_changes_count > 0 {
        let _ = writeln!(
            out,
            "errors changed on {} invoices:",
            report.error_changes_count
        );
        for change in &report.error_changes {
            let _ = writeln!(
                out,
                "  {}: {} -> {}",
                printable(&change.id),
                printable(&change.old),
                printable(&change.new)
            );
        }
    }
    out
}

pub(super) fn list_text(out: &mut String, what: &str, count: u64, labels: &[String]) {
    if count == 0 {
        return;
    }
    let more = count - labels.len() as u64;
    let shown: Vec<_> = labels.iter().map(|label| printable(label)).collect();
    let _ = write!(out, "{what} ({count}): {}", shown.join(", "));
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out.push('\n');
}

/// The JSON report: counts as numbers, money as signed two-decimal strings.
#[derive(Serialize)]
pub(super) struct JsonReport<'a> {
    pub(super) old: String,
    pub(super) new: String,
    pub(super) differs: bool,
    pub(super) compared: u64,
    pub(super) changed: u64,
    pub(super) unchanged: u64,
    pub(super) only_in_old: u64,
    pub(super) only_in_new: u64,
    pub(super) error_records_old: u64,
    pub(super) error_records_new: u64,
    pub(super) money_moved: JsonMoved,
    pub(super) totals_up: JsonCount,
    pub(super) totals_down: JsonCount,
    pub(super) largest_changes: Vec<JsonChange<'a>>,
    pub(super) only_in_old_ids: &'a [String],
    pub(super) only_in_new_ids: &'a [String],
    pub(super) error_changes: &'a [ErrorChange],
}

#[derive(Serialize)]
pub(super) struct JsonMoved {
    pub(super) subtotal: String,
    pub(super) tier_discount: String,
    pub(super) loyalty_discount: String,
    pub(super) tax: String,
    pub(super) late_fee: String,
    pub(super) total: String,
}

#[derive(Serialize)]
pub(super) struct JsonCount {
    pub(super) invoices: u64,
    pub(super) amount: String,
}

#[derive(Serialize)]
pub(super) struct JsonChange<'a> {
    pub(super) id: &'a str,
    pub(super) old_total: String,
    pub(super) new_total: String,
    pub(super) change: String,
}

pub(super) fn render_json(report: &Report, old: &Path, new: &Path) -> String {
    let [
        subtotal,
        tier_discount,
        loyalty_discount,
        tax,
        late_fee,
        total,
    ] = report.moved.map(signed);
    let json = JsonReport {
        old: old.display().to_string(),
        new: new.display().to_string(),
        differs: report.differs(),
        compared: report.compared,
        changed: report.changed,
        unchanged: report.unchanged,
        only_in_old: report.only_in_old,
        only_in_new: report.only_in_new,
        error_records_old: report.errors_old,
        error_records_new: report.errors_new,
        money_moved: JsonMoved {
            subtotal,
            tier_discount,
            loyalty_discount,
            tax,
            late_fee,
            total,
        },
        totals_up: JsonCount {
            invoices: report.up.0,
            amount: signed(report.up.1),
        },
        totals_down: JsonCount {
            invoices: report.down.0,
            amount: signed(report.down.1),
        },
        largest_changes: report
            .largest
            .iter()
            .map(|change| JsonChange {
                id: &change.label,
                old_total: money(i128::from(change.old[TOTAL])),
                new_total: money(i128::from(change.new[TOTAL])),
                change: signed(change.total_delta()),
            })
            .collect(),
        only_in_old_ids: &report.only_old_labels,
        only_in_new_ids: &report.only_new_labels,
        error_changes: &report.error_changes,
    };
    // Serializing plain strings and integers cannot fail.
    let mut text = serde_json::to_string(&json).unwrap_or_default();
    text.push('\n');
    text
}

pub(super) use crate::output::markdown::markdown;

pub(super) fn render_markdown(report: &Report, old: &Path, new: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#### Repricing: {}\n", headline(report));
    let _ = writeln!(
        out,
        "{} → {}\n",
        markdown(&old.display().to_string()),
        markdown(&new.display().to_string())
    );
    let _ = writeln!(out, "| invoices | count |\n|---|---:|");
    for (what, count) in [
        ("compared", report.compared),
        ("changed", report.changed),
        ("unchanged", report.unchanged),
        ("only in old", report.only_in_old),
        ("only in new", report.only_in_new),
        ("error records in old", report.errors_old),
        ("error records in new", report.errors_new),
    ] {
        let _ = writeln!(out, "| {what} | {count} |");
    }
    let _ = writeln!(out, "\n| money moved (new − old) | amount |\n|---|---:|");
    for (name, moved) in FIELDS.iter().zip(report.moved) {
        let _ = writeln!(out, "| {name} | {} |", signed(moved));
    }
    let _ = writeln!(
        out,
        "\nTotals up on {} invoices ({}), down on {} ({}).",
        report.up.0,
        signed(report.up.1),
        report.down.0,
        signed(report.down.1)
    );
    if !report.largest.is_empty() {
        let _ = writeln!(
            out,
            "\n**Largest changes** (top {} by change of the total)\n\n| id | old total | new total | change |\n|---|---:|---:|---:|",
            report.largest.len()
        );
        for change in &report.largest {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                markdown(&change.label),
                money(i128::from(change.old[TOTAL])),
                money(i128::from(change.new[TOTAL])),
                signed(change.total_delta())
            );
        }
    }
    list_markdown(
        &mut out,
        "Only in old",
        report.only_in_old,
        &report.only_old_labels,
    );
    list_markdown(
        &mut out,
        "Only in new",
        report.only_in_new,
        &report.only_new_labels,
    );
    if report.error_changes_count > 0 {
        let _ = writeln!(
            out,
            "\n**Errors changed** on {} invoices\n\n| id | old | new |\n|---|---|---|",
            report.error_changes_count
        );
        for change in &report.error_changes {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                markdown(&change.id),
                markdown(&change.old),
                markdown(&change.new)
            );
        }
    }
    out
}

pub(super) fn list_markdown(out: &mut String, what: &str, count: u64, labels: &[String]) {
    if count == 0 {
        return;
    }
    let shown: Vec<String> = labels.iter().map(|label| markdown(label)).collect();
    let _ = write!(out, "\n**{what}** ({count}): {}", shown.join(", "));
    let more = count - labels.len() as u64;
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out.push('\n');
}
