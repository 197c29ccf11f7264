//! Ledgerly's pricing rules, on exact decimals.
//!
//! An invoice is priced in a fixed order, each step on the result of the one
//! before: subtotal (Σ price × quantity), tier discount (gold 15 %, silver
//! 10 %, bronze 5 %, any other tier nothing), loyalty discount (2 % for
//! members), sales tax (8 %), late fee (5 % when more than 30 days overdue).
//! Intermediate amounts stay exact: each running amount shown on the invoice
//! (subtotal, after tier, after loyalty, after tax, the total) is rounded
//! once, to cents, half away from zero, from its exact value, and the lines
//! are differences of those, so they add up to the total. All rates live in
//! one table, [`RATES`].
//!
//! Money never passes through a float: prices are parsed from their decimal
//! text into [`rust_decimal::Decimal`], and rounded amounts are whole cents
//! ([`Money`]).
//!
//! ```
//! use pricing::{DaysOverdue, LineItem, PricingInput, Tier, price};
//!
//! // The worked example: 40 × 3 and 15 × 2, gold, loyalty member, 45 days overdue.
//! let items = vec![
//!     LineItem::new("40.00".parse()?, "3".parse()?),
//!     LineItem::new("15".parse()?, "2".parse()?),
//! ];
//! let input = PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45))?;
//! let invoice = price(&input)?;
//!
//! assert_eq!(invoice.subtotal().to_string(), "150.00");
//! assert_eq!(invoice.tier_discount().to_string(), "-22.50");
//! assert_eq!(invoice.loyalty_discount().to_string(), "-2.55");
//! assert_eq!(invoice.tax().to_string(), "10.00");
//! assert_eq!(invoice.late_fee().to_string(), "6.74");
//! assert_eq!(invoice.total().to_string(), "141.69");
//! assert_eq!(invoice.total().minor_units(), 14169);
//! # Ok::<(), pricing::PricingError>(())
//! ```
//!
//! The crate does no I/O and never panics on input: everything it refuses is
//! a [`PricingError`] whose message names the offending value.
#![deny(missing_docs)]

mod error;
mod fast;
mod input;
mod money;
mod number;
mod pipeline;
mod rates;

pub use error::{PricingError, QUOTED_CHARS, excerpt, prefix};
pub use input::{DaysOverdue, LineItem, Price, PricingInput, Quantity, Terms, Tier};
pub use money::Money;
pub use pipeline::{
    Breakdown, MAX_SUBTOTAL, add_late_fee, add_tax, apply_loyalty_discount, apply_tier_discount,
    calculate_invoice_total, calculate_subtotal, price, price_line_items, price_line_items_with,
    price_with,
};
pub use rates::{RATES, RATES_VERSION, RateTable};
pub use rust_decimal::Decimal;
