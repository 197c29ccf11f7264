//! Where a batch comes from: a file or stdin, and the format it is in.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use clap::ValueEnum;

use crate::error::AppError;

/// The batch input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InputFormat {
    /// JSON Lines: one invoice object per line
    Jsonl,
    /// CSV: one line item per row under the header `invoice_id,tier,loyalty_member,days_overdue,price,quantity`
    Csv,
}

/// The input format a file's extension names, if any.
pub(crate) fn format_of(path: &Path) -> Option<InputFormat> {
    let extension = path.extension().and_then(OsStr::to_str)?;
    match extension.to_ascii_lowercase().as_str() {
        "jsonl" | "ndjson" => Some(InputFormat::Jsonl),
        "csv" => Some(InputFormat::Csv),
        _ => None,
    }
}

/// The input at `path`, or stdin for `-`.
pub(crate) fn open_input(path: &Path) -> Result<Box<dyn Read + Send>, AppError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    match File::open(path) {
        Ok(file) => Ok(Box::new(file)),
        Err(source) => Err(AppError::input(path, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_format_follows_the_extension() {
        assert_eq!(format_of(Path::new("a.jsonl")), Some(InputFormat::Jsonl));
        assert_eq!(format_of(Path::new("a.NDJSON")), Some(InputFormat::Jsonl));
        assert_eq!(format_of(Path::new("dir/a.csv")), Some(InputFormat::Csv));
        assert_eq!(format_of(Path::new("a.json")), None);
        assert_eq!(format_of(Path::new("-")), None);
        assert_eq!(format_of(Path::new("jsonl")), None);
    }
}
