//! Invoices from CSV: one row per line item under the header
//! `invoice_id,tier,loyalty_member,days_overdue,price,quantity`.
//!
//! Consecutive rows with the same `invoice_id` form one invoice, and their
//! invoice-level fields (`tier`, `loyalty_member`, `days_overdue`) must
//! agree. A row with an empty `invoice_id` is an invoice of its own, without
//! an id. Empty invoice-level fields mean no tier, not a member, 0 days.
//!
//! An invalid invoice becomes one error; its line is the row at fault (the
//! first row of the invoice when the fault is the invoice's, such as a
//! subtotal too large to price).

use std::io::{self, Read};
use std::str;

use csv::{ByteRecord, Reader, ReaderBuilder};
use pricing::{DaysOverdue, LineItem, PricingError, PricingInput, Tier};

/// The header a CSV input must start with.
pub(crate) const HEADER: [&str; 6] = [
    "invoice_id",
    "tier",
    "loyalty_member",
    "days_overdue",
    "price",
    "quantity",
];

/// An invoice read from CSV rows: its input line, its id, and what pricing
/// needs or why it is invalid.
#[derive(Debug)]
pub(crate) struct CsvInvoice {
    /// The line of its first row, or of the row at fault.
    pub(crate) line: u64,
    /// The `invoice_id`, when the row had a non-empty, readable one.
    pub(crate) id: Option<String>,
    /// The invoice to price, or why it cannot be priced.
    pub(crate) input: Result<PricingInput, RowError>,
}

/// Why the rows of an invoice are not a valid invoice.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RowError {
    /// A field's bytes are not UTF-8.
    #[error("field {0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// The row does not have one field per header column.
    #[error("row has {0} fields, expected 6")]
    FieldCount(usize),
    /// `loyalty_member` is neither `true`, `false` nor empty.
    #[error("loyalty_member {0:?} is not true or false")]
    LoyaltyMember(String),
    /// An invoice-level field differs from the invoice's first row.
    #[error(
        "{field} {found:?} disagrees with {first:?} on line {first_line}, the first row of invoice {id:?}"
    )]
    Disagrees {
        /// The field's header name.
        field: &'static str,
        /// This row's value.
        found: String,
        /// The first row's value.
        first: String,
        /// The line of the invoice's first row.
        first_line: u64,
        /// The invoice id.
        id: String,
    },
    /// Pricing refused a value.
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// Why a CSV input cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CsvInputError {
    /// The first row is not the expected header.
    #[error("CSV header must be exactly {expected:?}, found {found:?}")]
    Header {
        /// The expected header line.
        expected: String,
        /// The first line found.
        found: String,
    },
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] io::Error),
}

/// The invoice-level fields of a row, parsed.
#[derive(Debug, PartialEq, Eq)]
struct InvoiceFields {
    tier: Tier,
    loyalty_member: bool,
    days_overdue: DaysOverdue,
}

/// An invoice being assembled from its rows.
struct Pending {
    /// The raw `invoice_id` bytes that further rows must repeat; empty for
    /// an invoice without an id, which no further row joins.
    key: Vec<u8>,
    line: u64,
    id: Option<String>,
    /// The first row's raw invoice-level fields, for messages.
    first_texts: [String; 3],
    fields: Option<InvoiceFields>,
    items: Vec<LineItem>,
    error: Option<(u64, RowError)>,
}

impl Pending {
    fn finish(self) -> CsvInvoice {
        let Pending {
            line,
            id,
            fields,
            items,
            error,
            ..
        } = self;
        let (line, input) = match (error, fields) {
            (Some((at, error)), _) => (at, Err(error)),
            (None, Some(f)) => (
                line,
                PricingInput::new(items, f.tier, f.loyalty_member, f.days_overdue)
                    .map_err(RowError::from),
            ),
            // Without fields the first row failed, so `error` is set; this
            // arm keeps the match total without a panic.
            (None, None) => (line, Err(RowError::FieldCount(0))),
        };
        CsvInvoice { line, id, input }
    }
}

/// The invoices of a CSV input, in input order.
pub(crate) struct CsvInvoices<R> {
    reader: Reader<R>,
    record: ByteRecord,
    pending: Option<Pending>,
    done: bool,
}

impl<R: Read> CsvInvoices<R> {
    /// Checks the header and reads invoices from the rows after it. An empty
    /// input has no invoices.
    pub(crate) fn new(input: R) -> Result<Self, CsvInputError> {
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut header = ByteRecord::new();
        let done = !reader
            .read_byte_record(&mut header)
            .map_err(io::Error::from)?;
        if !done {
            let first = header
                .get(0)
                .map(|field| field.strip_prefix("\u{feff}".as_bytes()).unwrap_or(field));
            let matches = header.len() == HEADER.len()
                && first == Some(HEADER[0].as_bytes())
                && header
                    .iter()
                    .skip(1)
                    .eq(HEADER[1..].iter().map(|h| h.as_bytes()));
            if !matches {
                let found = header
                    .iter()
                    .map(String::from_utf8_lossy)
                    .collect::<Vec<_>>()
                    .join(",");
                return Err(CsvInputError::Header {
                    expected: HEADER.join(","),
                    found,
                });
            }
        }
        Ok(CsvInvoices {
            reader,
            record: ByteRecord::new(),
            pending: None,
            done,
        })
    }

    /// Adds the row in `self.record` to `pending`, or returns the finished
    /// invoice when the row starts a new one.
    fn take_row(&mut self) -> Option<CsvInvoice> {
        let line = self.record.position().map_or(0, csv::Position::line);
        let key = self.record.get(0).unwrap_or_default();
        let joins = matches!(&self.pending, Some(p) if !p.key.is_empty() && p.key == key);
        if joins {
            if let Some(pending) = self.pending.as_mut() {
                add_row(pending, &self.record, line);
            }
            return None;
        }
        let mut next = Pending {
            key: key.to_vec(),
            line,
            id: str::from_utf8(key)
                .ok()
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
            first_texts: Default::default(),
            fields: None,
            items: Vec::new(),
            error: None,
        };
        add_row(&mut next, &self.record, line);
        self.pending.replace(next).map(Pending::finish)
    }
}

impl<R: Read> Iterator for CsvInvoices<R> {
    type Item = io::Result<CsvInvoice>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {
                    if let Some(invoice) = self.take_row() {
                        return Some(Ok(invoice));
                    }
                }
                Ok(false) => self.done = true,
                Err(error) => {
                    self.done = true;
                    return Some(Err(io::Error::from(error)));
                }
            }
        }
        self.pending.take().map(|pending| Ok(pending.finish()))
    }
}

/// Validates one row into `pending`; the first fault of an invoice is kept
/// and later rows of a faulty invoice are only consumed.
fn add_row(pending: &mut Pending, record: &ByteRecord, line: u64) {
    if pending.error.is_some() {
        return;
    }
    if let Err(error) = check_row(pending, record) {
        pending.error = Some((line, error));
    }
}

fn check_row(pending: &mut Pending, record: &ByteRecord) -> Result<(), RowError> {
    if record.len() != HEADER.len() {
        return Err(RowError::FieldCount(record.len()));
    }
    let field = |index: usize| -> Result<&str, RowError> {
        str::from_utf8(record.get(index).unwrap_or_default())
            .map_err(|_| RowError::InvalidUtf8(HEADER[index]))
    };
    let id = field(0)?;
    let texts = [field(1)?, field(2)?, field(3)?];
    let fields = InvoiceFields {
        tier: if texts[0].is_empty() {
            Tier::None
        } else {
            Tier::from_name(texts[0])
        },
        loyalty_member: match texts[1] {
            "true" => true,
            "false" | "" => false,
            other => return Err(RowError::LoyaltyMember(other.to_owned())),
        },
        days_overdue: if texts[2].is_empty() {
            DaysOverdue::default()
        } else {
            texts[2].parse()?
        },
    };
    let item = LineItem::new(field(4)?.parse()?, field(5)?.parse()?);
    match &pending.fields {
        None => {
            pending.first_texts = texts.map(str::to_owned);
            pending.fields = Some(fields);
        }
        Some(first) if *first == fields => {}
        Some(first) => {
            let index = if first.tier != fields.tier {
                0
            } else if first.loyalty_member != fields.loyalty_member {
                1
            } else {
                2
            };
            return Err(RowError::Disagrees {
                field: HEADER[index + 1],
                found: texts[index].to_owned(),
                first: pending.first_texts[index].clone(),
                first_line: pending.line,
                id: id.to_owned(),
            });
        }
    }
    pending.items.push(item);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "invoice_id,tier,loyalty_member,days_overdue,price,quantity\n";

    fn invoices(body: &str) -> Vec<CsvInvoice> {
        CsvInvoices::new(format!("{HEAD}{body}").as_bytes())
            .unwrap()
            .collect::<io::Result<_>>()
            .unwrap()
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
        let got = invoices("A,gold,true,45,1,1\nA,gold,false,45,1,1\n");
        assert!(matches!(
            got[0].input,
            Err(RowError::Disagrees {
                field: "loyalty_member",
                ..
            })
        ));
        let got = invoices("A,gold,true,45,1,1\nA,gold,true,46,1,1\n");
        assert!(matches!(
            got[0].input,
            Err(RowError::Disagrees {
                field: "days_overdue",
                ..
            })
        ));
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

    #[test]
    fn refuses_invalid_utf8_in_a_field() {
        let mut input = HEAD.as_bytes().to_vec();
        input.extend_from_slice(b"A,gol\xffd,,,1,1\n");
        let got: Vec<_> = CsvInvoices::new(&input[..])
            .unwrap()
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(
            got[0].input.as_ref().unwrap_err(),
            &RowError::InvalidUtf8("tier")
        );
    }

    #[test]
    fn quoted_fields_spanning_lines_keep_line_numbers_right() {
        let got = invoices("\"A\nB\",,,,1,1\nC,,,,1,1\n");
        assert_eq!(got[0].id.as_deref(), Some("A\nB"));
        assert_eq!((got[1].line, got[1].id.as_deref()), (4, Some("C")));
    }

    #[test]
    fn the_header_must_be_exact_but_may_carry_a_byte_order_mark() {
        let error = CsvInvoices::new(&b"id,tier\nA,gold\n"[..]).err().unwrap();
        assert_eq!(
            error.to_string(),
            "CSV header must be exactly \"invoice_id,tier,loyalty_member,days_overdue,price,quantity\", found \"id,tier\""
        );
        let with_bom = format!("\u{feff}{HEAD}A,,,,1,1\n");
        let got: Vec<_> = CsvInvoices::new(with_bom.as_bytes())
            .unwrap()
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn an_empty_input_has_no_invoices() {
        assert_eq!(CsvInvoices::new(&b""[..]).unwrap().count(), 0);
        assert_eq!(invoices("").len(), 0);
    }
}
