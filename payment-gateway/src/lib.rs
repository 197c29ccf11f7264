//! Ledgerly's payment gateway: the [`PaymentGateway`] trait billing charges
//! through, its request and result types, and [`FakeGateway`], a test-mode
//! processor for tests and the sandbox.
//!
//! Amounts are whole minor units (cents) with their [`Currency`] attached
//! ([`Amount`]); a float never gets near them. Every [`ChargeRequest`]
//! carries an [`IdempotencyKey`]: the processor stores the first result for a
//! key and returns it for every later request with the same key, so a retry
//! after a lost reply cannot charge twice.
//!
//! A failed charge is a [`GatewayError`] that says what the caller may do
//! next: a decline is final, a transient failure is safe to retry, an
//! ambiguous outcome (the reply was lost) must be retried *with the same key*,
//! and an invalid request or an idempotency conflict needs the request fixed.
//!
//! ```
//! use payment_gateway::{
//!     Amount, ChargeRequest, Currency, FakeGateway, GatewayError, IdempotencyKey, Lookup,
//!     PaymentGateway, PaymentMethod,
//! };
//!
//! let gateway = FakeGateway::new();
//! let request = ChargeRequest::new(
//!     IdempotencyKey::new("invoice:INV-1:attempt:1")?,
//!     // This test token's charge goes through, but its reply is lost once.
//!     PaymentMethod::new("tok_reply_lost")?,
//!     Amount::new(14169, Currency::Usd)?,
//!     "INV-1",
//! );
//!
//! let first = gateway.charge(&request);
//! assert!(matches!(first, Err(GatewayError::Ambiguous { .. })));
//!
//! // Retrying with the same key returns the stored charge instead of a new one.
//! let charge = gateway.charge(&request)?;
//! assert_eq!(charge.amount().to_string(), "141.69 USD");
//! assert_eq!(gateway.capture_count(), 1);
//! assert_eq!(gateway.captured_total_for("INV-1", Currency::Usd), 14169);
//!
//! // The processor can be asked what became of a key without charging.
//! assert_eq!(gateway.lookup(request.idempotency_key())?, Lookup::Captured(charge));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The fake keeps its books (idempotency records and captures) in a
//! [`SandboxBooks`]: [`InMemoryBooks`] here, a file of its own elsewhere
//! (`ledger-store`). It expires idempotency keys [`KEY_LIFETIME`] (24 h)
//! after their first use, by an injected [`Clock`]; [`ManualClock`] lets
//! tests move time.
//!
//! The crate does no I/O of its own, reads no clock (the [`Clock`] is
//! injected; [`SystemClock`] is there for binaries to inject) and never
//! panics on input. The only wait is the sandbox's optional per-request
//! latency ([`FakeGateway::with_latency`]).
#![deny(missing_docs)]

use std::sync::Arc;

mod books;
mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod fake;
mod money;
mod rate_limit;
mod refund;
mod request;

pub use books::{
    BooksError, BooksTransaction, Capture, InMemoryBooks, KeyRecord, SandboxBooks, StoredResult,
};
pub use clock::{Clock, ManualClock, SystemClock, from_unix_millis, unix_millis};
pub use error::{
    DeclineCode, GatewayError, InvalidChargeId, InvalidRequest, RequestField, UnknownDeclineCode,
    excerpt,
};
pub use fake::{FakeGateway, Fault, KEY_LIFETIME, TestToken};
pub use money::{Amount, Currency};
pub use rate_limit::{Admission, RateLimit};
pub use refund::{
    Refund, RefundId, RefundRecord, RefundRefusal, RefundRequest, RefundStatus, UnknownRefundStatus,
};
pub use request::{Charge, ChargeId, ChargeRequest, IdempotencyKey, PaymentMethod};

/// What the processor knows about an idempotency key, as
/// [`PaymentGateway::lookup`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A charge under this key captured money.
    Captured(Charge),
    /// The request under this key was declined with this code.
    Declined(DeclineCode),
    /// The processor has no result for this key: no request with it was
    /// processed (or one was declined long enough ago that the processor
    /// forgot). Nothing was captured under it.
    NotFound,
}

/// Something that charges payment methods: a card processor's client, or
/// [`FakeGateway`].
///
/// Methods take `&self` so one gateway can be shared (by reference, `Arc`
/// or `Box`, all of which are gateways too); an implementation that keeps
/// state uses interior mutability. `Send + Sync`: billing keeps several
/// requests in flight on threads that share it.
pub trait PaymentGateway: Send + Sync {
    /// Charges `request.amount()` to `request.payment_method()`.
    ///
    /// Implementations must honour the idempotency key: a request whose key
    /// was already processed returns the first result and moves no money, and
    /// one that reuses a key with different parameters is refused with
    /// [`GatewayError::IdempotencyConflict`].
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError>;

    /// Asks the processor what became of the request made under `key`,
    /// without charging anything.
    ///
    /// This is how an attempt whose outcome is unknown is settled: real
    /// processors forget idempotency keys (Stripe after 24 hours), and after
    /// that a charge with the same key is a new charge. A lookup still finds
    /// a capture made under the key, because processors keep the charge
    /// (and the metadata naming the key) for good.
    fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError>;

    /// The processor's captures whose reference (the invoice id) is one of
    /// `references`, in one request, without charging anything.
    ///
    /// This is what a ledger that forgot is held to before money can move
    /// twice: a ledger restored from a backup, or a lost `-wal`, no longer
    /// knows an attempt it made, so it would begin that attempt again under
    /// the same key, which the processor forgot after 24 hours. Processors
    /// keep their charges, with the metadata naming the invoice, for good
    /// (Stripe: the search API on a charge's metadata).
    fn find_captures(&self, references: &[&str]) -> Result<Vec<Capture>, GatewayError>;

    /// Gives `request.amount()` back against `request.charge()`.
    ///
    /// The same idempotency rules as [`charge`](Self::charge): the first
    /// result for a key is returned for every later request with it, and a
    /// request that differs from the first is an
    /// [`GatewayError::IdempotencyConflict`]. The processor refuses
    /// ([`GatewayError::RefundRefused`]) a refund that would take the
    /// charge's refunds above its capture. A refund may be accepted as
    /// [`RefundStatus::Pending`]; [`lookup_refund`](Self::lookup_refund)
    /// tells how it ends.
    fn refund(&self, request: &RefundRequest) -> Result<Refund, GatewayError>;

    /// The refund made under `key`, as it stands now, or `None` when no
    /// refund was made under it (nothing was given back). Found for good,
    /// after the key's idempotency record expired: this is how a refund
    /// whose outcome is unknown is settled, never by refunding again.
    fn lookup_refund(&self, key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError>;
}

/// `Display` and `FromStr` for an enum of names: each value is written as
/// its `as_str()` and read back only from exactly that text (one of its
/// `ALL`), anything else being `$unknown(text)`. One definition for every
/// such list (decline codes here, invoice statuses in billing).
#[doc(hidden)]
#[macro_export]
macro_rules! by_exact_name {
    ($type:ty, $error:ty, $unknown:expr) => {
        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $type {
            type Err = $error;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                <$type>::ALL
                    .into_iter()
                    .find(|known| known.as_str() == name)
                    .ok_or_else(|| $unknown(name))
            }
        }
    };
}

/// A gateway behind a reference or a smart pointer is the same gateway:
/// one forwarding impl per pointer type, written once.
macro_rules! forward_gateway {
    ($($wrapper:ty),*) => {$(
        impl<G: PaymentGateway + ?Sized> PaymentGateway for $wrapper {
            fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
                (**self).charge(request)
            }
            fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
                (**self).lookup(key)
            }
            fn find_captures(&self, references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
                (**self).find_captures(references)
            }
            fn refund(&self, request: &RefundRequest) -> Result<Refund, GatewayError> {
                (**self).refund(request)
            }
            fn lookup_refund(&self, key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
                (**self).lookup_refund(key)
            }
        }
    )*};
}

forward_gateway!(&G, Arc<G>, Box<G>);
