//! What `ledgerly reprice` found, summed as the invoices stream by, and the
//! report in its three formats: `diff`'s shape (compared, changed, money
//! per line, up and down) with real customers in it (largest changes by
//! invoice and by customer) and the deploy gate's verdict per invoice
//! (changes under the invoice's own rates version are undeclared).
//!
//! Money is summed per currency, in integer cents (`i128`): two currencies
//! are never added up. Every list is bounded by `--top`.

use std::fmt::Write as _;

use billing::{Declared, IssuedInvoice, Repriced};
use serde::Serialize;

use crate::batch::read::fields::printable;
use crate::output::markdown::markdown;
use crate::output::money::{Amounts, money, signed};

use super::customers::{CustomerChange, Customers};

/// The amounts of a breakdown, in output order.
const FIELDS: [&str; 6] = pricing::Breakdown::NAMES;
/// Where the total is in a breakdown.
const TOTAL: usize = 5;

/// One invoice whose total changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InvoiceChange {
    pub(super) id: String,
    pub(super) customer: String,
    pub(super) currency: &'static str,
    pub(super) declared: Declared,
    pub(super) stored: i64,
    pub(super) repriced: i64,
}

impl InvoiceChange {
    fn change(&self) -> i128 {
        i128::from(self.repriced) - i128::from(self.stored)
    }
}

/// The money of one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CurrencyMoney {
    pub(super) currency: &'static str,
    /// Repriced minus stored, per line.
    pub(super) moved: [i128; 6],
    /// Invoices whose total goes up, and by how much.
    pub(super) up: (u64, i128),
    /// Invoices whose total goes down, and by how much (negative).
    pub(super) down: (u64, i128),
}

/// Invoices and changes under one [`Declared`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Count {
    pub(super) compared: u64,
    pub(super) changed: u64,
}

/// An invoice this build refuses to price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Refusal {
    pub(super) id: String,
    pub(super) error: String,
}

/// What the window holds, and the build it was repriced with.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Window {
    pub(super) since: String,
    pub(super) until: String,
    pub(super) rates_version: Option<String>,
    pub(super) rates_fingerprint: String,
}

/// Everything the report says, summed as invoices are added.
#[derive(Debug)]
pub(super) struct Report {
    pub(super) window: Window,
    pub(super) compared: u64,
    pub(super) changed: u64,
    /// Supplementary invoices in the window: no rate table prices them.
    pub(super) not_repriced: u64,
    /// Same version, other version, unknown.
    pub(super) by_version: [Count; 3],
    pub(super) money: Vec<CurrencyMoney>,
    pub(super) largest: Vec<InvoiceChange>,
    pub(super) refused: u64,
    pub(super) refusals: Vec<Refusal>,
    pub(super) customers: Customers,
    pub(super) top: usize,
}

/// [`Report`] after the customers' sums are merged.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) report: Report,
    pub(super) customers_changed: u64,
    pub(super) customers_largest: Vec<CustomerChange>,
}

fn slot(declared: Declared) -> usize {
    match declared {
        Declared::SameVersion => 0,
        Declared::OtherVersion => 1,
        Declared::Unknown => 2,
    }
}

const DECLARED: [Declared; 3] = [
    Declared::SameVersion,
    Declared::OtherVersion,
    Declared::Unknown,
];

impl Report {
    pub(super) fn new(window: Window, top: usize, customers: Customers) -> Report {
        Report {
            window,
            compared: 0,
            changed: 0,
            not_repriced: 0,
            by_version: [Count::default(); 3],
            money: Vec::new(),
            largest: Vec::new(),
            refused: 0,
            refusals: Vec::new(),
            customers,
            top,
        }
    }

    /// Changes under the invoices' own rates version: what the gate refuses.
    pub(super) fn undeclared(&self) -> u64 {
        self.by_version[slot(Declared::SameVersion)].changed
    }

    /// Adds one invoice of the window.
    pub(super) fn add(
        &mut self,
        invoice: &IssuedInvoice,
        repriced: Option<Repriced>,
    ) -> std::io::Result<()> {
        let Some(repriced) = repriced else {
            self.not_repriced += 1;
            return Ok(());
        };
        self.compared += 1;
        let count = &mut self.by_version[slot(repriced.declared())];
        count.compared += 1;
        if !repriced.changed() {
            return Ok(());
        }
        self.changed += 1;
        count.changed += 1;
        let new = match repriced.repriced() {
            Ok(new) => new,
            Err(error) => {
                self.refused += 1;
                self.refusals.push(Refusal {
                    id: invoice.id().to_string(),
                    error: error.to_string(),
                });
                if self.refusals.len() >= self.top.saturating_mul(2).max(1) {
                    self.refusals.sort_by(|a, b| a.id.cmp(&b.id));
                    self.refusals.truncate(self.top);
                }
                return Ok(());
            }
        };
        let stored = repriced.stored();
        let currency = invoice.currency().code();
        if !self.money.iter().any(|m| m.currency == currency) {
            self.money.push(CurrencyMoney {
                currency,
                ..CurrencyMoney::default()
            });
            self.money.sort_by_key(|m| m.currency);
        }
        let Some(money) = self.money.iter_mut().find(|m| m.currency == currency) else {
            return Ok(());
        };
        for ((moved, old), new) in money.moved.iter_mut().zip(stored).zip(new) {
            *moved += i128::from(new) - i128::from(old);
        }
        let change = i128::from(new[TOTAL]) - i128::from(stored[TOTAL]);
        if change > 0 {
            money.up.0 += 1;
            money.up.1 += change;
        } else if change < 0 {
            money.down.0 += 1;
            money.down.1 += change;
        }
        if change != 0 {
            self.customers
                .add(invoice.customer().as_str(), currency, change)?;
            self.largest.push(InvoiceChange {
                id: invoice.id().to_string(),
                customer: invoice.customer().to_string(),
                currency,
                declared: repriced.declared(),
                stored: stored[TOTAL],
                repriced: new[TOTAL],
            });
            // Fewer than 2 × top held (none at top 0): cut when it doubles.
            if self.largest.len() >= self.top.saturating_mul(2) {
                cut_largest(&mut self.largest, self.top);
            }
        }
        Ok(())
    }

    /// Merges the customers' sums and cuts every list to `top`.
    pub(super) fn finish(mut self) -> std::io::Result<Finished> {
        cut_largest(&mut self.largest, self.top);
        self.refusals.sort_by(|a, b| a.id.cmp(&b.id));
        self.refusals.truncate(self.top);
        let customers = std::mem::replace(&mut self.customers, Customers::new(1));
        let (customers_changed, customers_largest) = customers.finish(self.top)?;
        Ok(Finished {
            report: self,
            customers_changed,
            customers_largest,
        })
    }
}

/// Largest change of total (in absolute value) first, ties by id.
fn cut_largest(largest: &mut Vec<InvoiceChange>, top: usize) {
    largest.sort_by(|a, b| {
        b.change()
            .unsigned_abs()
            .cmp(&a.change().unsigned_abs())
            .then_with(|| a.id.cmp(&b.id))
    });
    largest.truncate(top);
}

/// The report as one JSON object.
#[derive(Serialize)]
struct Json<'a> {
    window: &'a Window,
    compared: u64,
    changed: u64,
    unchanged: u64,
    undeclared: u64,
    not_repriced: u64,
    by_version: Vec<JsonCount>,
    money: Vec<JsonMoney>,
    largest: Vec<JsonInvoice<'a>>,
    customers: JsonCustomers<'a>,
    refused: u64,
    refusals: &'a [Refusal],
}

#[derive(Serialize)]
struct JsonCount {
    rates_version: &'static str,
    compared: u64,
    changed: u64,
}

#[derive(Serialize)]
struct JsonMoney {
    currency: &'static str,
    moved: Amounts,
    up: JsonSide,
    down: JsonSide,
}

#[derive(Serialize)]
struct JsonSide {
    invoices: u64,
    amount: String,
}

#[derive(Serialize)]
struct JsonInvoice<'a> {
    id: &'a str,
    customer: &'a str,
    currency: &'static str,
    rates_version: &'static str,
    stored_total: String,
    repriced_total: String,
    change: String,
}

#[derive(Serialize)]
struct JsonCustomers<'a> {
    changed: u64,
    largest: Vec<JsonCustomer<'a>>,
}

#[derive(Serialize)]
struct JsonCustomer<'a> {
    customer: &'a str,
    currency: &'a str,
    invoices: u64,
    change: String,
}

/// Six sums of cents as [`Amounts`], which hold `i64` cents each: a sum too
/// large for that (no window of real invoices comes near 92 quadrillion)
/// is held at the bound rather than wrapped.
fn amounts(sums: [i128; 6]) -> Amounts {
    Amounts::of(sums.map(|sum| {
        i64::try_from(sum.clamp(i128::from(i64::MIN), i128::from(i64::MAX))).unwrap_or_default()
    }))
}

pub(super) fn render_json(finished: &Finished) -> String {
    let report = &finished.report;
    let json = Json {
        window: &report.window,
        compared: report.compared,
        changed: report.changed,
        unchanged: report.compared - report.changed,
        undeclared: report.undeclared(),
        not_repriced: report.not_repriced,
        by_version: DECLARED
            .iter()
            .map(|declared| {
                let count = report.by_version[slot(*declared)];
                JsonCount {
                    rates_version: declared.as_str(),
                    compared: count.compared,
                    changed: count.changed,
                }
            })
            .collect(),
        money: report
            .money
            .iter()
            .map(|m| JsonMoney {
                currency: m.currency,
                moved: amounts(m.moved),
                up: JsonSide {
                    invoices: m.up.0,
                    amount: money(m.up.1),
                },
                down: JsonSide {
                    invoices: m.down.0,
                    amount: money(m.down.1),
                },
            })
            .collect(),
        largest: report
            .largest
            .iter()
            .map(|c| JsonInvoice {
                id: &c.id,
                customer: &c.customer,
                currency: c.currency,
                rates_version: c.declared.as_str(),
                stored_total: money(i128::from(c.stored)),
                repriced_total: money(i128::from(c.repriced)),
                change: signed(c.change()),
            })
            .collect(),
        customers: JsonCustomers {
            changed: finished.customers_changed,
            largest: finished
                .customers_largest
                .iter()
                .map(|c| JsonCustomer {
                    customer: &c.customer,
                    currency: &c.currency,
                    invoices: c.invoices,
                    change: signed(c.change),
                })
                .collect(),
        },
        refused: report.refused,
        refusals: &report.refusals,
    };
    let mut text = serde_json::to_string(&json).unwrap_or_default();
    text.push('\n');
    text
}

/// What the rates-version rows say, for text and markdown.
const VERSION_ROWS: [&str; 3] = [
    "issued under this build's rates version (a change is undeclared)",
    "issued under another rates version (a declared change)",
    "issued before rates versions were recorded",
];

fn headline(finished: &Finished) -> String {
    let report = &finished.report;
    format!(
        "{} invoice(s) issued from {} to {} repriced with rates version {} ({}): {} changed, {} unchanged",
        report.compared,
        report.window.since,
        report.window.until,
        report.window.rates_version.as_deref().unwrap_or("unknown"),
        report.window.rates_fingerprint,
        report.changed,
        report.compared - report.changed
    )
}

pub(super) fn render_text(finished: &Finished) -> String {
    let report = &finished.report;
    let mut text = headline(finished);
    text.push('\n');
    for (row, declared) in VERSION_ROWS.iter().zip(DECLARED) {
        let count = report.by_version[slot(declared)];
        let _ = writeln!(
            text,
            "  {:>8} compared, {:>8} changed: {row}",
            count.compared, count.changed
        );
    }
    if report.not_repriced > 0 {
        let _ = writeln!(
            text,
            "  {:>8} supplementary invoice(s) not repriced (no rate table prices them)",
            report.not_repriced
        );
    }
    for m in &report.money {
        let _ = writeln!(
            text,
            "money moved in {} (repriced minus stored):",
            m.currency
        );
        for (name, cents) in FIELDS.iter().zip(m.moved) {
            let _ = writeln!(text, "  {name:<17} {:>16}", signed(cents));
        }
        let _ = writeln!(
            text,
            "  up {} invoice(s) by {}, down {} by {}",
            m.up.0,
            signed(m.up.1),
            m.down.0,
            money(m.down.1)
        );
    }
    if !report.largest.is_empty() {
        let _ = writeln!(text, "largest changes by invoice:");
        for c in &report.largest {
            let _ = writeln!(
                text,
                "  {:<24} {:<16} {} {:>12} -> {:>12} {:>12}  {}",
                printable(&c.id),
                printable(&c.customer),
                c.currency,
                money(i128::from(c.stored)),
                money(i128::from(c.repriced)),
                signed(c.change()),
                c.declared.as_str()
            );
        }
    }
    if finished.customers_changed > 0 {
        let _ = writeln!(
            text,
            "largest changes by customer ({} customer(s) changed):",
            finished.customers_changed
        );
        for c in &finished.customers_largest {
            let _ = writeln!(
                text,
                "  {:<24} {} {:>8} invoice(s) {:>14}",
                printable(&c.customer),
                c.currency,
                c.invoices,
                signed(c.change)
            );
        }
    }
    if report.refused > 0 {
        let _ = writeln!(text, "refused by this build: {}", report.refused);
        for r in &report.refusals {
            let _ = writeln!(text, "  {}: {}", printable(&r.id), printable(&r.error));
        }
    }
    text
}

pub(super) fn render_markdown(finished: &Finished) -> String {
    let report = &finished.report;
    let cell = markdown;
    // The headline's words are this build's own (numbers, times, the
    // fingerprint): nothing from the ledger, so nothing to escape.
    let mut text = format!(
        "#### Repricing the ledger: {} of {} invoice(s) change\n\n{}.\n\n| rates version of the invoice | compared | changed |\n|---|---:|---:|\n",
        report.changed,
        report.compared,
        headline(finished)
    );
    for (row, declared) in VERSION_ROWS.iter().zip(DECLARED) {
        let count = report.by_version[slot(declared)];
        let _ = writeln!(text, "| {row} | {} | {} |", count.compared, count.changed);
    }
    if !report.money.is_empty() {
        text.push_str("\n| currency |");
        for name in FIELDS {
            let _ = write!(text, " {name} |");
        }
        text.push_str(" up | down |\n|---|");
        text.push_str(&"---:|".repeat(8));
        text.push('\n');
        for m in &report.money {
            let _ = write!(text, "| {} |", m.currency);
            for cents in m.moved {
                let _ = write!(text, " {} |", signed(cents));
            }
            let _ = writeln!(
                text,
                " {} ({}) | {} ({}) |",
                m.up.0,
                signed(m.up.1),
                m.down.0,
                money(m.down.1)
            );
        }
    }
    if !report.largest.is_empty() {
        text.push_str("\n| largest changes by invoice | customer | currency | stored | repriced | change | rates version |\n|---|---|---|---:|---:|---:|---|\n");
        for c in &report.largest {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&c.id),
                cell(&c.customer),
                c.currency,
                money(i128::from(c.stored)),
                money(i128::from(c.repriced)),
                signed(c.change()),
                c.declared.as_str()
            );
        }
    }
    if finished.customers_changed > 0 {
        let _ = write!(
            text,
            "\n{} customer(s) changed.\n\n| largest changes by customer | currency | invoices | change |\n|---|---|---:|---:|\n",
            finished.customers_changed
        );
        for c in &finished.customers_largest {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} |",
                cell(&c.customer),
                c.currency,
                c.invoices,
                signed(c.change)
            );
        }
    }
    if report.refused > 0 {
        let _ = write!(
            text,
            "\n{} invoice(s) this build refuses to price.\n\n| refused | error |\n|---|---|\n",
            report.refused
        );
        for r in &report.refusals {
            let _ = writeln!(text, "| {} | {} |", cell(&r.id), cell(&r.error));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use billing::{CustomerId, InvoiceId, IssuedBreakdown, IssuedParts, Rates, reprice_issued};
    use payment_gateway::{Currency, PaymentMethod};

    use super::*;

    /// A currency's sums: moved per line, up, down.
    type Sums<'a> = (&'a str, [i128; 6], (u64, i128), (u64, i128));

    /// The worked example as this build prices it: 141.69.
    const RIGHT: [i64; 6] = [15000, -2250, -255, 1000, 674, 14169];
    /// The lesson's typo, gold at 0.12: 146.69 (5.00 more).
    const TYPO: [i64; 6] = [15000, -1800, -264, 1035, 698, 14669];
    /// 1.00 less than the build prices it.
    const LOW: [i64; 6] = [14900, -2250, -255, 1000, 674, 14069];
    /// The same total with two lines moved by a cent.
    const SHIFTED: [i64; 6] = [15000, -2249, -255, 999, 674, 14169];

    /// The worked example's inputs (`items` as stored) issued as `id` of
    /// `customer` in `currency` at `stored`, under rates `version`.
    fn issued(
        id: &str,
        customer: &str,
        currency: Currency,
        stored: [i64; 6],
        version: Option<&str>,
        items: &str,
    ) -> IssuedInvoice {
        IssuedInvoice::restore(IssuedParts {
            id: InvoiceId::new(id).unwrap(),
            customer: CustomerId::new(customer).unwrap(),
            payment_method: PaymentMethod::new("tok_success").unwrap(),
            currency,
            line_items: items.to_owned(),
            tier: "gold".to_owned(),
            loyalty_member: true,
            days_overdue: 45,
            breakdown: IssuedBreakdown::new(stored).unwrap(),
            rates: Rates::new(pricing::RATES, version.map(str::to_owned)),
            issued_at: std::time::UNIX_EPOCH,
        })
        .unwrap()
    }

    fn window() -> Window {
        Window {
            since: "since".to_owned(),
            until: "until".to_owned(),
            rates_version: Some("1".to_owned()),
            rates_fingerprint: "fnv1a64:be3a7a911fe6b6f8".to_owned(),
        }
    }

    /// A window of every kind of invoice, summed with `top`.
    fn summed(top: usize) -> Finished {
        held(top).0
    }

    /// [`summed`], and the most largest changes and refusals held at once.
    fn held(top: usize) -> (Finished, usize, usize) {
        let build = Rates::current();
        let mut report = Report::new(window(), top, Customers::new(1000));
        let invoices = [
            issued(
                "INV-1",
                "cus_a",
                Currency::Usd,
                TYPO,
                Some("1"),
                "40x3 15x2",
            ),
            issued("INV-2", "cus_a", Currency::Usd, LOW, Some("1"), "40x3 15x2"),
            issued(
                "INV-3",
                "cus_b",
                Currency::Eur,
                TYPO,
                Some("0"),
                "40x3 15x2",
            ),
            issued("INV-4", "cus_c", Currency::Usd, RIGHT, None, "40x3 15x2"),
            issued(
                "INV-5",
                "cus_c",
                Currency::Usd,
                RIGHT,
                Some("1"),
                "40x3 15xten",
            ),
            issued(
                "INV-6",
                "cus_d",
                Currency::Gbp,
                SHIFTED,
                Some("1"),
                "40x3 15x2",
            ),
            issued(
                "INV-0",
                "cus_e",
                Currency::Usd,
                RIGHT,
                Some("1"),
                "40x3 15xtwo",
            ),
            issued(
                "INV-7",
                "cus_e",
                Currency::Usd,
                RIGHT,
                Some("1"),
                "40x3 15x2",
            ),
        ];
        let (mut largest, mut refusals) = (0, 0);
        for invoice in &invoices {
            report
                .add(invoice, reprice_issued(invoice, &build))
                .unwrap();
            largest = largest.max(report.largest.len());
            refusals = refusals.max(report.refusals.len());
        }
        // A supplementary invoice: nothing to reprice.
        report.add(&invoices[0], None).unwrap();
        (report.finish().unwrap(), largest, refusals)
    }

    #[test]
    fn the_lists_held_while_summing_stay_under_twice_top_and_are_sorted_only_when_full() {
        // 3 changes of the total and 2 refusals come in.
        assert_eq!((held(0).1, held(0).2), (0, 0));
        assert_eq!((held(1).1, held(1).2), (1, 1));
        assert_eq!((held(2).1, held(2).2), (3, 2));
        assert_eq!((held(10).1, held(10).2), (3, 2));
    }

    #[test]
    fn every_invoice_is_counted_under_its_rates_version_and_money_per_currency_and_direction() {
        let finished = summed(10);
        let report = &finished.report;
        assert_eq!(
            (
                report.compared,
                report.changed,
                report.refused,
                report.not_repriced
            ),
            (8, 6, 2, 1)
        );
        let counts: Vec<(u64, u64)> = report
            .by_version
            .iter()
            .map(|count| (count.compared, count.changed))
            .collect();
        assert_eq!(counts, [(6, 5), (1, 1), (1, 0)]);
        assert_eq!(report.undeclared(), 5);
        let money: Vec<Sums<'_>> = report
            .money
            .iter()
            .map(|m| (m.currency, m.moved, m.up, m.down))
            .collect();
        assert_eq!(
            money,
            [
                ("EUR", [0, -450, 9, -35, -24, -500], (0, 0), (1, -500)),
                ("GBP", [0, -1, 0, 1, 0, 0], (0, 0), (0, 0)),
                ("USD", [100, -450, 9, -35, -24, -400], (1, 100), (1, -500)),
            ]
        );
        let largest: Vec<(&str, i128)> = report
            .largest
            .iter()
            .map(|c| (c.id.as_str(), c.change()))
            .collect();
        assert_eq!(largest, [("INV-1", -500), ("INV-3", -500), ("INV-2", 100)]);
        let refusals: Vec<&str> = report.refusals.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(refusals, ["INV-0", "INV-5"]);
        assert_eq!(finished.customers_changed, 2, "cus_a in USD, cus_b in EUR");
        let customers: Vec<(&str, u64, i128)> = finished
            .customers_largest
            .iter()
            .map(|c| (c.customer.as_str(), c.invoices, c.change))
            .collect();
        assert_eq!(customers, [("cus_b", 1, -500), ("cus_a", 2, -400)]);
    }

    #[test]
    fn every_list_is_cut_to_top_largest_first() {
        let finished = summed(2);
        let ids: Vec<&str> = finished
            .report
            .largest
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["INV-1", "INV-3"]);
        assert_eq!(finished.report.refusals.len(), 2);
        assert_eq!(finished.customers_largest.len(), 2);
        let none = summed(0);
        assert!(none.report.largest.is_empty() && none.report.refusals.is_empty());
        assert_eq!(none.report.changed, 6, "the counts do not depend on top");
        assert_eq!(none.customers_changed, 2);
    }

    #[test]
    fn the_reports_show_each_section_only_when_it_has_something() {
        let full = summed(10);
        let text = render_text(&full);
        let markdown = render_markdown(&full);
        for (report, wanted) in [
            (&text, "1 supplementary invoice(s) not repriced"),
            (&text, "money moved in EUR (repriced minus stored):"),
            (&text, "  up 1 invoice(s) by +1.00, down 1 by -5.00"),
            (&text, "largest changes by invoice:"),
            (
                &text,
                "largest changes by customer (2 customer(s) changed):",
            ),
            (&text, "refused by this build: 2"),
            (
                &markdown,
                "| USD | +1.00 | -4.50 | +0.09 | -0.35 | -0.24 | -4.00 | 1 (+1.00) | 1 (-5.00) |",
            ),
            (&markdown, "| largest changes by invoice |"),
            (&markdown, "2 customer(s) changed."),
            (&markdown, "2 invoice(s) this build refuses to price."),
        ] {
            assert!(
                report.contains(wanted),
                "{wanted:?} missing from:\n{report}"
            );
        }
        let json: serde_json::Value = serde_json::from_str(&render_json(&full)).unwrap();
        assert_eq!(json["undeclared"], 5);
        assert_eq!(json["unchanged"], 2);
        assert_eq!(json["money"][2]["up"]["amount"], "1.00");

        let empty = Report::new(window(), 10, Customers::new(10))
            .finish()
            .unwrap();
        let text = render_text(&empty);
        let markdown = render_markdown(&empty);
        for (report, unwanted) in [
            (&text, "not repriced"),
            (&text, "money moved"),
            (&text, "largest changes"),
            (&text, "refused"),
            (&markdown, "| currency |"),
            (&markdown, "largest changes"),
            (&markdown, "customer(s) changed"),
            (&markdown, "refuses"),
        ] {
            assert!(!report.contains(unwanted), "{unwanted:?} in:\n{report}");
        }
        assert!(
            text.starts_with("0 invoice(s) issued from since to until"),
            "{text}"
        );
    }

    #[test]
    fn sums_beyond_what_a_record_holds_are_held_at_the_bounds() {
        let held = amounts([i128::MAX, i128::MIN, 5, -5, 0, i128::from(i64::MAX) + 1]);
        assert_eq!(held.cents(), [i64::MAX, i64::MIN, 5, -5, 0, i64::MAX]);
    }
}
