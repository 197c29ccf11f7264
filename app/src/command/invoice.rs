//! `ledgerly invoice`: one invoice from flags, or a batch from a file.
//!
//! A thin layer: flags or a reader (JSON Lines, CSV) in, `pricing` in the
//! middle, a writer out; the batch runs through the parallel `batch`
//! pipeline with the block pricers of `pricer`.

use std::io::{self, Write};
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::thread;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use pricing::{DaysOverdue, LineItem, PricingError, PricingInput, Tier};

use crate::batch::pipeline::BatchError;
use crate::batch::pool::BufferPool;
use crate::batch::pricer::{Job, PriceError, Source, price_all};
use crate::batch::read::csv::{CHUNK_BYTES, CsvInputError};
use crate::batch::write::{self, Format};
use crate::console::Console;
use crate::error::{AppError, Cmd, Status, closed_pipe_or, input_name};
use crate::input::{InputFormat, format_of, open_input};
use crate::progress::Diagnostics;
use crate::signals;

/// The usage lines of `ledgerly invoice --help`: the two ways to call it.
pub(crate) const USAGE: &str = "ledgerly invoice --item <PRICExQTY>... [--tier <TIER>] [--loyalty-member] [--days-overdue <DAYS>] [--format text|json]\n       \
                          ledgerly invoice --input <PATH> [--input-format jsonl|csv] [--format jsonl|csv|text]";

/// The examples and input rules `ledgerly invoice --help` shows above its
/// exit codes.
pub(crate) const HELP: &str = "\
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
An invalid invoice yields an error record naming its input line: {\"line\": N, \"id\": ..., \"error\": \"...\"}";

/// `ledgerly invoice`: one invoice from flags, or a batch from `--input`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
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

/// How many bytes of JSON Lines input a chunk of work holds: large enough
/// that handing chunks between threads costs nothing noticeable, small
/// enough that a few chunks in flight keep memory low. 1 MiB, written as a
/// number: the size only tunes throughput, any size gives the same records.
const BLOCK_SIZE: usize = 1_048_576;

/// Runs `ledgerly invoice`.
pub(crate) fn run(args: Args, console: Console) -> Result<Status, AppError> {
    if let Some(path) = args.input {
        return batch(&path, args.input_format, args.format, console);
    }
    let input = PricingInput::new(
        args.items,
        args.tier.unwrap_or_default(),
        args.loyalty_member,
        args.days_overdue.unwrap_or_default(),
    )?;
    single(&input, args.format)
}

/// Prices one invoice and prints it as text or one JSON object.
fn single(input: &PricingInput, format: Option<Format>) -> Result<Status, AppError> {
    let breakdown = pricing::price(input)?;
    let mut bytes = Vec::new();
    match format.unwrap_or(Format::Text) {
        Format::Text => write::write_text_breakdown(&mut bytes, &breakdown),
        Format::Json => write::write_json_priced(&mut bytes, None, &breakdown),
        Format::Jsonl | Format::Csv => {
            return Err(AppError::usage(
                Cmd::Invoice,
                "one invoice from flags prints as --format text or json; jsonl and csv are for --input",
            ));
        }
    }
    .map_err(AppError::Output)?;
    let mut out = io::stdout().lock();
    match signals::writing(|| out.write_all(&bytes).and_then(|()| out.flush())) {
        Ok(()) => Ok(Status::Success),
        Err(error) => closed_pipe_or(error, Status::Success),
    }
}

/// Prices every invoice of a file (or stdin, for `-`).
fn batch(
    path: &Path,
    input_format: Option<InputFormat>,
    format: Option<Format>,
    console: Console,
) -> Result<Status, AppError> {
    let format = match format {
        None => Format::Jsonl,
        Some(Format::Json) => {
            return Err(AppError::usage(
                Cmd::Invoice,
                "a batch prints one record per invoice: use --format jsonl, csv or text",
            ));
        }
        Some(format) => format,
    };
    let Some(input_format) = input_format.or_else(|| format_of(path)) else {
        return Err(AppError::usage(
            Cmd::Invoice,
            format!(
                "cannot tell the format of {}: name it .jsonl, .ndjson or .csv, or pass --input-format jsonl|csv",
                input_name(path).display()
            ),
        ));
    };
    let input_error = |source| AppError::input(path, source);
    let reader = open_input(path)?;
    let workers = thread::available_parallelism().map_or(1, NonZero::get);
    let mut out = io::stdout().lock();
    let mut diagnostics = Diagnostics::stderr(console);
    let source = match input_format {
        InputFormat::Jsonl => Source::Jsonl {
            block_size: BLOCK_SIZE,
        },
        InputFormat::Csv => Source::Csv {
            block_size: BLOCK_SIZE,
            chunk_bytes: CHUNK_BYTES,
        },
    };
    let pool = BufferPool::default();
    let job = Job {
        source,
        format,
        workers,
    };
    let priced = price_all(reader, job, &mut out, &mut diagnostics, &pool);
    let summary = priced.map_err(|error| match error {
        PriceError::Csv(CsvInputError::Read(source))
        | PriceError::Batch(BatchError::Input(source)) => input_error(source),
        PriceError::Csv(header @ CsvInputError::Header { .. }) => AppError::InvalidCsv(header),
        PriceError::Batch(BatchError::Output(error)) => AppError::Output(error),
    })?;
    if summary.invoices == 0 && !summary.closed {
        // An empty or closed input is more often a mistake upstream (a
        // failed export, a wrong path in a pipe) than a day with nothing
        // to bill: it succeeds, but not without a word.
        console.warning(format_args!(
            "no invoice was read from {}",
            input_name(path).display()
        ));
    }
    Ok(if summary.invalid > 0 {
        Status::SomeInvalid
    } else {
        Status::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use clap::error::ErrorKind;

    /// `invoice`'s flags alone, parsed as the command line parses them
    /// (the command line itself is a layer above).
    #[derive(Debug, Parser)]
    struct Invoice {
        #[command(flatten)]
        args: Args,
    }

    fn invoice_args(args: &[&str]) -> Result<Args, clap::Error> {
        let command_line = ["invoice"].iter().chain(args);
        Invoice::try_parse_from(command_line).map(|invoice| invoice.args)
    }

    #[test]
    fn parses_the_worked_example_flags() {
        let flags: Vec<&str> =
            "--item 40x3 --item 15x2 --tier gold --loyalty-member --days-overdue 45"
                .split(' ')
                .collect();
        let args = invoice_args(&flags).unwrap();
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
    fn input_format_needs_an_input() {
        let error = invoice_args(&["--input-format", "csv"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        let error = invoice_args(&["--item", "1x1", "--input-format", "csv"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ArgumentConflict);
    }
}
