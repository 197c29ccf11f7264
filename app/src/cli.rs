//! The command line: subcommands, flags and their parsers.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pricing::{DaysOverdue, LineItem, PricingError, Tier};

use crate::output::Format;

/// The exit codes, as `--help` lists them (a macro so `concat!` can reuse
/// the text in both help screens).
macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0   every invoice was priced
  2   usage error (unknown flag, misspelt tier, malformed --item, ...)
  65  at least one invoice was invalid (the others are still priced and printed)
  66  the input file is missing or unreadable
  74  the output could not be written
A closed pipe (for example `| head`) ends quietly, with the status of the records written."
    };
}

const INVOICE_HELP: &str = concat!(
    "\
Examples:
  One invoice from flags (the worked example, total 141.69):
    ledgerly invoice --item 40x3 --item 15x2 --tier gold --loyalty-member --days-overdue 45
  The same as one JSON object:
    ledgerly invoice --item 40x3 --item 15x2 --tier gold --loyalty-member --days-overdue 45 --format json
  A batch, JSON Lines in, JSON Lines out (one record per input invoice, in input order):
    ledgerly invoice --input invoices.jsonl --format jsonl
  A batch from CSV, or from stdin:
    ledgerly invoice --input invoices.csv --format csv
    cat invoices.jsonl | ledgerly invoice --input - --input-format jsonl

JSON Lines input, one invoice per line, only line_items required (blank lines are skipped):
  {\"id\": \"INV-1\", \"tier\": \"gold\", \"loyalty_member\": true, \"days_overdue\": 45,
   \"line_items\": [{\"price\": \"40.00\", \"quantity\": 3}, {\"price\": 15, \"quantity\": 2}]}
CSV input, one row per line item; consecutive rows with one invoice_id form one invoice:
  invoice_id,tier,loyalty_member,days_overdue,price,quantity
In a batch, a tier name pricing does not know applies no discount and is warned about once.
An invalid invoice yields an error record naming its input line: {\"line\": N, \"id\": ..., \"error\": \"...\"}

",
    exit_codes!()
);

const CHARGE_HELP: &str = "\
Sandbox only: invoices are charged through Ledgerly's fake test-mode gateway and
no money moves. The payment_method token decides each outcome, as in a card
processor's test mode:
  tok_success                       the charge succeeds
  tok_card_declined, tok_insufficient_funds, tok_expired_card, tok_incorrect_cvc,
  tok_lost_card, tok_stolen_card    declined with that code
  tok_transient_<N>                 the first N requests fail transiently, then it succeeds
                                    (retried with backoff, up to --max-attempts requests)
  tok_reply_lost                    charged, but the reply is lost once; the retry with
                                    the same idempotency key finds the charge
  tok_request_lost                  the first request is lost before it is processed
An invoice id seen again in the same input is collected again: after a decline
with a new payment_method it is a new attempt; a paid invoice is not charged twice.

Input: JSON Lines, one invoice per line, as for `ledgerly invoice` plus who pays:
  {\"id\": \"INV-1\", \"customer\": \"cus_1\", \"payment_method\": \"tok_success\",
   \"currency\": \"USD\", \"tier\": \"gold\", \"loyalty_member\": true, \"days_overdue\": 45,
   \"line_items\": [{\"price\": \"40.00\", \"quantity\": 3}, {\"price\": 15, \"quantity\": 2}]}
id, customer, payment_method and line_items are required; currency is USD, EUR or GBP
(default USD).

Output, one record per input invoice in input order:
  {\"line\":1,\"id\":\"INV-1\",\"outcome\":\"paid\",\"total\":\"141.69\",\"currency\":\"USD\",\"requests\":1,\"charge_id\":\"ch_fake_000001\"}
  {\"line\":2,\"id\":\"INV-2\",\"outcome\":\"declined\",\"total\":\"10.80\",\"currency\":\"USD\",\"requests\":1,\"decline_code\":\"card_declined\"}
outcome is paid (charge_id null when nothing was due), declined, or failed (with
error); an invalid invoice yields {\"line\": N, \"id\": ..., \"error\": \"...\"}.

Examples:
  ledgerly charge --input invoices.jsonl
  ledgerly charge --input invoices.jsonl --format text

Exit codes:
  0   every invoice was paid
  1   every invoice was read, but at least one was not paid (declined, refused,
      or still open after its retries); payment outcomes are not input errors
  2   usage error
  65  at least one invoice was invalid (the others are still collected)
  66  the input file is missing or unreadable
  74  the output could not be written";

/// Ledgerly prices invoices exactly: discounts, tax and late fee on exact
/// decimals, rounded once to cents.
#[derive(Debug, Parser)]
#[command(name = "ledgerly", version, after_help = exit_codes!())]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Price one invoice from flags, or a batch of invoices from a file
    #[command(
        override_usage = "ledgerly invoice --item <PRICExQTY>... [--tier <TIER>] [--loyalty-member] [--days-overdue <DAYS>] [--format text|json]\n       \
                          ledgerly invoice --input <PATH> [--input-format jsonl|csv] [--format jsonl|csv|text]",
        after_help = INVOICE_HELP
    )]
    Invoice(InvoiceArgs),
    /// Price and collect each invoice of a file through billing and the sandbox gateway
    #[command(after_help = CHARGE_HELP)]
    Charge(ChargeArgs),
    /// Print the rate table pricing applies, and its version
    #[command(after_help = crate::command::rates::HELP)]
    Rates(crate::command::rates::Args),
    /// Write a deterministic reference book of invoices (every tier and boundary, then random ones)
    #[command(after_help = crate::command::sample::HELP)]
    Sample(crate::command::sample::Args),
    /// Compare two JSON Lines outputs of `ledgerly invoice` for the same input
    #[command(after_help = crate::command::diff::HELP)]
    Diff(crate::command::diff::Args),
}

/// `ledgerly charge`: collect a file of invoices in the sandbox.
#[derive(Debug, Args)]
pub(crate) struct ChargeArgs {
    /// The invoices to collect, as JSON Lines: a file, or - for stdin
    #[arg(long, value_name = "PATH")]
    pub(crate) input: PathBuf,

    /// The output format
    #[arg(long, value_enum, default_value_t = ChargeFormat::Jsonl)]
    pub(crate) format: ChargeFormat,

    /// The most charge requests per invoice, retries included
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub(crate) max_attempts: u32,
}

/// The output formats of `ledgerly charge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ChargeFormat {
    /// One JSON object per line, one line per input invoice
    Jsonl,
    /// One line of text per input invoice
    Text,
}

/// `ledgerly invoice`: one invoice from flags, or a batch from `--input`.
#[derive(Debug, Args)]
pub(crate) struct InvoiceArgs {
    /// A line item: unit price x quantity, such as 40x3 or 12.50x2 (repeat for more items)
    #[arg(
        long = "item",
        value_name = "PRICExQTY",
        value_parser = parse_item,
        required_unless_present = "input",
        help_heading = "One invoice from flags"
    )]
    pub(crate) items: Vec<LineItem>,

    /// The customer's tier [default: none]
    #[arg(
        long,
        value_name = "TIER",
        value_parser = tier_parser(),
        help_heading = "One invoice from flags"
    )]
    pub(crate) tier: Option<Tier>,

    /// The customer is a loyalty member (2 % off)
    #[arg(long, help_heading = "One invoice from flags")]
    pub(crate) loyalty_member: bool,

    /// How many days the invoice is overdue (a late fee applies above 30) [default: 0]
    #[arg(
        long,
        value_name = "DAYS",
        value_parser = parse_days,
        allow_negative_numbers = true,
        help_heading = "One invoice from flags"
    )]
    pub(crate) days_overdue: Option<DaysOverdue>,

    /// Price a batch from this file, or - for stdin
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["items", "tier", "loyalty_member", "days_overdue"],
        help_heading = "A batch from a file"
    )]
    pub(crate) input: Option<PathBuf>,

    /// The input's format [default: from the file's extension: .jsonl, .ndjson or .csv]
    #[arg(
        long,
        value_enum,
        requires = "input",
        conflicts_with_all = ["items", "tier", "loyalty_member", "days_overdue"],
        help_heading = "A batch from a file"
    )]
    pub(crate) input_format: Option<InputFormat>,

    /// The output format [default: text for one invoice, jsonl for a batch; json is for one invoice only]
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
}

/// The batch input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InputFormat {
    /// JSON Lines: one invoice object per line
    Jsonl,
    /// CSV: one line item per row under the header `invoice_id,tier,loyalty_member,days_overdue,price,quantity`
    Csv,
}

/// Why an `--item` value is not a line item.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ItemError {
    /// The value has no `x` between price and quantity.
    #[error("expected PRICExQTY, such as 40x3 or 12.50x2")]
    Shape,
    /// The price or the quantity is refused.
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// Parses `PRICExQTY`, such as `40x3` or `12.50x2`.
pub(crate) fn parse_item(text: &str) -> Result<LineItem, ItemError> {
    let (price, quantity) = text.split_once('x').ok_or(ItemError::Shape)?;
    Ok(LineItem::new(price.parse()?, quantity.parse()?))
}

/// Parses `--days-overdue`.
fn parse_days(text: &str) -> Result<DaysOverdue, PricingError> {
    text.parse()
}

/// Accepts only the tier names pricing knows, so a misspelt tier is a
/// usage error rather than a silent full price; clap lists the valid names
/// and suggests the closest one.
fn tier_parser() -> impl TypedValueParser<Value = Tier> {
    PossibleValuesParser::new(Tier::KNOWN_NAMES).try_map(|name| name.parse::<Tier>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn invoice_args(args: &[&str]) -> Result<InvoiceArgs, clap::Error> {
        let command_line = ["ledgerly", "invoice"].iter().chain(args);
        Cli::try_parse_from(command_line).map(|cli| match cli.command {
            Command::Invoice(args) => args,
            _ => panic!("parsed as another command"),
        })
    }

    #[test]
    fn parses_the_worked_example_flags() {
        let args = invoice_args(&[
            "--item",
            "40x3",
            "--item",
            "15x2",
            "--tier",
            "gold",
            "--loyalty-member",
            "--days-overdue",
            "45",
        ])
        .unwrap();
        assert_eq!(args.items.len(), 2);
        assert_eq!(args.items[0].price().to_string(), "40");
        assert_eq!(args.items[0].quantity().get(), 3);
        assert_eq!(args.tier, Some(Tier::Gold));
        assert!(args.loyalty_member);
        assert_eq!(args.days_overdue.map(DaysOverdue::get), Some(45));
        assert_eq!(args.input, None);
    }

    #[test]
    fn parses_items_with_decimals_and_refuses_malformed_ones() {
        let item = parse_item("12.50x2").unwrap();
        assert_eq!(item.price().to_string(), "12.5");
        assert_eq!(item.quantity().get(), 2);
        assert_eq!(parse_item("40"), Err(ItemError::Shape));
        assert_eq!(
            parse_item("40x0"),
            Err(ItemError::Pricing(PricingError::InvalidQuantity(
                "0".to_owned()
            )))
        );
        assert_eq!(
            parse_item("fortyx3"),
            Err(ItemError::Pricing(PricingError::InvalidPrice(
                "forty".to_owned()
            )))
        );
    }

    #[test]
    fn a_misspelt_tier_is_a_usage_error() {
        let error = invoice_args(&["--item", "1x1", "--tier", "glod"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidValue);
        assert_eq!(error.exit_code(), 2);
        let message = error.to_string();
        assert!(message.contains("'glod'"), "{message}");
        assert!(message.contains("none, bronze, silver, gold"), "{message}");
    }

    #[test]
    fn a_negative_days_overdue_is_refused_with_the_domain_message() {
        let error = invoice_args(&["--item", "1x1", "--days-overdue", "-3"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        assert!(error.to_string().contains("days overdue -3 is negative"));
    }

    #[test]
    fn flags_and_input_are_mutually_exclusive() {
        let error = invoice_args(&["--item", "1x1", "--input", "a.jsonl"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
        let error = invoice_args(&["--tier", "gold", "--input", "a.jsonl"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn an_item_or_an_input_is_required() {
        let error = invoice_args(&[]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn charge_needs_an_input_and_at_least_one_attempt() {
        let error = Cli::try_parse_from(["ledgerly", "charge"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        let error = Cli::try_parse_from([
            "ledgerly",
            "charge",
            "--input",
            "a.jsonl",
            "--max-attempts",
            "0",
        ])
        .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        let cli = Cli::try_parse_from(["ledgerly", "charge", "--input", "a.jsonl"]).unwrap();
        let Command::Charge(args) = cli.command else {
            panic!("not charge");
        };
        assert_eq!(args.max_attempts, 4);
        assert_eq!(args.format, ChargeFormat::Jsonl);
    }

    #[test]
    fn input_format_needs_an_input() {
        let error = invoice_args(&["--input-format", "csv"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        let error = invoice_args(&["--item", "1x1", "--input-format", "csv"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
    }
}
