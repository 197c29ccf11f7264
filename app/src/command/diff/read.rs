//! Reading the two files: records as `ledgerly invoice` writes them,
//! one line at a time, amounts as whole cents.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{AppError, input_name};
use crate::output::money::parse_cents;

use super::FIELDS;

/// A record as `ledgerly invoice --format jsonl` writes it: a priced
/// invoice (`id` when the input had one, six amounts) or an error record
/// (`line`, `id`, `error`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Wire {
    #[serde(default)]
    pub(super) line: Option<u64>,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) subtotal: Option<String>,
    #[serde(default)]
    pub(super) tier_discount: Option<String>,
    #[serde(default)]
    pub(super) loyalty_discount: Option<String>,
    #[serde(default)]
    pub(super) tax: Option<String>,
    #[serde(default)]
    pub(super) late_fee: Option<String>,
    #[serde(default)]
    pub(super) total: Option<String>,
    #[serde(default)]
    pub(super) error: Option<String>,
}

/// What a record says about its invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Priced: the six amounts in cents, in [`FIELDS`] order.
    Priced([i64; 6]),
    /// Refused, with the message.
    Error(String),
}

/// One record of OLD or NEW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    /// The record's number in its file, from 1 (blank lines do not count).
    pub(super) position: u64,
    pub(super) id: Option<String>,
    pub(super) outcome: Outcome,
}

impl Record {
    /// How the report names the record: its id, or its position.
    pub(super) fn label(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!("record {}", self.position),
        }
    }

    /// What pairs the record with its partner in the other file.
    pub(super) fn key(&self) -> Key {
        match &self.id {
            Some(id) => Key::Id(id.clone()),
            None => Key::Position(self.position),
        }
    }
}

/// A record's identity across the two files.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Id(String),
    Position(u64),
}

/// Turns a decoded line into a record, or says what is wrong with it.
pub(super) fn record(wire: Wire, position: u64) -> Result<Record, String> {
    let amounts = [
        wire.subtotal,
        wire.tier_discount,
        wire.loyalty_discount,
        wire.tax,
        wire.late_fee,
        wire.total,
    ];
    let present = amounts.iter().filter(|amount| amount.is_some()).count();
    let outcome = match (wire.error, present) {
        (Some(error), 0) => Outcome::Error(error),
        (None, 6) => {
            let mut cents = [0_i64; 6];
            for ((slot, amount), name) in cents.iter_mut().zip(&amounts).zip(FIELDS) {
                let text = amount.as_deref().unwrap_or_default();
                *slot = parse_cents(text)
                    .ok_or_else(|| format!("{name} {text:?} is not an amount with two decimals"))?;
            }
            Outcome::Priced(cents)
        }
        (Some(_), _) => return Err("a record has either an error or amounts, not both".to_owned()),
        (None, _) => {
            return Err(
                "not a record of `ledgerly invoice`: expected the six amounts or an error"
                    .to_owned(),
            );
        }
    };
    // A priced record has no `line`; `ledgerly invoice` writes it only on errors.
    if wire.line.is_some() && matches!(outcome, Outcome::Priced(_)) {
        return Err("a priced record has no line field".to_owned());
    }
    Ok(Record {
        position,
        id: wire.id,
        outcome,
    })
}

/// The records of one file, read one line at a time.
pub(super) struct Records {
    pub(super) path: PathBuf,
    pub(super) reader: Box<dyn BufRead>,
    pub(super) line: u64,
    pub(super) position: u64,
    pub(super) buffer: Vec<u8>,
}

impl Records {
    pub(super) fn open(path: &Path) -> Result<Records, AppError> {
        let reader: Box<dyn Read> = if path.as_os_str() == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path).map_err(|source| AppError::input(path, source))?)
        };
        Ok(Records::new(path, BufReader::new(reader)))
    }

    pub(super) fn new(path: &Path, reader: impl BufRead + 'static) -> Records {
        Records {
            path: input_name(path),
            reader: Box::new(reader),
            line: 0,
            position: 0,
            buffer: Vec::new(),
        }
    }

    /// The next record, `None` at the end of the file.
    pub(super) fn next_record(&mut self) -> Result<Option<Record>, AppError> {
        loop {
            self.buffer.clear();
            self.reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|source| AppError::Input {
                    path: self.path.clone(),
                    source,
                })?;
            // Nothing read at all is the end of the file. (Tested on the
            // buffer rather than on the count read_until returns, so that no
            // comparison here can be turned into a loop that never ends.)
            if self.buffer.is_empty() {
                return Ok(None);
            }
            self.line += 1;
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.position += 1;
            let bad = |message: String| AppError::BadRecord {
                path: self.path.clone(),
                line: self.line,
                message,
            };
            let wire: Wire = serde_json::from_slice(&self.buffer)
                .map_err(|error| bad(format!("not a record of `ledgerly invoice`: {error}")))?;
            return record(wire, self.position).map(Some).map_err(bad);
        }
    }
}
