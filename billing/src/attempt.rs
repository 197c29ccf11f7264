//! Payment attempts: the append-only history of what was asked of the
//! processor for an invoice, and what came of it.

use std::fmt;
use std::time::SystemTime;

use payment_gateway::{
    Amount, ChargeId, ChargeRequest, DeclineCode, IdempotencyKey, InvalidRequest, PaymentMethod,
};

use crate::InvoiceId;

/// Why a record read back from storage is not one billing could have
/// written. A backend reports it as a [`LedgerError`](crate::LedgerError).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRecord {
    /// The stored amounts do not add up, or the total is negative.
    #[error("stored amounts {cents:?} do not add up to a non-negative total")]
    Breakdown {
        /// The amounts in cents: subtotal, the four lines, total.
        cents: [i64; 6],
    },
    /// A stored rate is not exact decimal text.
    #[error("stored rate {name} {value:?} is not an exact decimal")]
    Rate {
        /// Which rate.
        name: &'static str,
        /// Its text.
        value: String,
    },
    /// An invoice with no line items.
    #[error("stored invoice {invoice} has no line items")]
    NoLineItems {
        /// The invoice.
        invoice: String,
    },
    /// An attempt's outcome name is not one of the five.
    #[error("stored attempt outcome {0:?} is not pending, captured, declined, failed or unknown")]
    Outcome(String),
    /// An outcome that needs a detail (a charge id, a code, a reason) has
    /// none, or it is invalid.
    #[error("stored attempt outcome {outcome} has an invalid detail {detail:?}")]
    OutcomeDetail {
        /// The outcome's name.
        outcome: &'static str,
        /// The detail, if any.
        detail: Option<String>,
    },
    /// The attempt number is zero.
    #[error("stored attempt of invoice {invoice} has number 0; attempts count from 1")]
    AttemptNumber {
        /// The invoice.
        invoice: String,
    },
    /// The stored idempotency key is not the one the invoice and attempt
    /// number give.
    #[error("stored attempt key {stored:?} is not the derived key {derived:?}")]
    Key {
        /// The key in storage.
        stored: String,
        /// The key billing derives.
        derived: String,
    },
}

/// The idempotency key of payment attempt `number` of invoice `id`:
/// `invoice:<id>:attempt:<n>`. Derived, never random, so that a retry can
/// only ever find the first charge, not make a second one. An invoice id is
/// at most 128 bytes, so the key is always well inside the gateway's limit.
pub fn attempt_key(id: &InvoiceId, number: u32) -> Result<IdempotencyKey, InvalidRequest> {
    IdempotencyKey::new(format!("invoice:{id}:attempt:{number}"))
}

/// What came of a payment attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Written down, and committed, before its request was sent; no outcome
    /// recorded yet. Either the request is in flight, or a run stopped
    /// before recording its outcome: the next collect resumes it under the
    /// same key, first asking the processor what became of it.
    Pending,
    /// The processor captured the amount under this charge id.
    Captured(ChargeId),
    /// The processor declined the charge: final for this attempt; the next
    /// collect is a new attempt under a new key.
    Declined(DeclineCode),
    /// The request was refused before the processor processed anything (an
    /// unknown payment method), or the processor reports that it never
    /// processed it: nothing was captured under this key. Final.
    Failed(String),
    /// The outcome is not known (the retries ran out after a lost reply, or
    /// the processor reported a conflict): money may have moved. Settled by
    /// a lookup, never by charging under a new key.
    Unknown(String),
}

impl AttemptOutcome {
    /// The outcome's name: `pending`, `captured`, `declined`, `failed` or
    /// `unknown`, as storage keeps it.
    pub const fn name(&self) -> &'static str {
        match self {
            AttemptOutcome::Pending => "pending",
            AttemptOutcome::Captured(_) => "captured",
            AttemptOutcome::Declined(_) => "declined",
            AttemptOutcome::Failed(_) => "failed",
            AttemptOutcome::Unknown(_) => "unknown",
        }
    }

    /// Its detail: the charge id, the decline code or the reason; `None`
    /// for pending.
    pub fn detail(&self) -> Option<&str> {
        match self {
            AttemptOutcome::Pending => None,
            AttemptOutcome::Captured(id) => Some(id.as_str()),
            AttemptOutcome::Declined(code) => Some(code.as_str()),
            AttemptOutcome::Failed(reason) | AttemptOutcome::Unknown(reason) => Some(reason),
        }
    }

    /// Rebuilds an outcome from its [`name`](Self::name) and
    /// [`detail`](Self::detail).
    pub fn from_parts(name: &str, detail: Option<&str>) -> Result<AttemptOutcome, InvalidRecord> {
        let bad = |outcome: &'static str| InvalidRecord::OutcomeDetail {
            outcome,
            detail: detail.map(str::to_owned),
        };
        match (name, detail) {
            ("pending", None) => Ok(AttemptOutcome::Pending),
            ("captured", Some(id)) => ChargeId::new(id)
                .map(AttemptOutcome::Captured)
                .map_err(|_| bad("captured")),
            ("declined", Some(code)) => code
                .parse()
                .map(AttemptOutcome::Declined)
                .map_err(|_| bad("declined")),
            ("failed", Some(reason)) => Ok(AttemptOutcome::Failed(reason.to_owned())),
            ("unknown", Some(reason)) => Ok(AttemptOutcome::Unknown(reason.to_owned())),
            ("pending", Some(_)) => Err(bad("pending")),
            ("captured", None) => Err(bad("captured")),
            ("declined", None) => Err(bad("declined")),
            ("failed", None) => Err(bad("failed")),
            ("unknown", None) => Err(bad("unknown")),
            (other, _) => Err(InvalidRecord::Outcome(other.to_owned())),
        }
    }

    /// Whether the outcome is still to be settled: pending or unknown.
    pub const fn is_unsettled(&self) -> bool {
        matches!(self, AttemptOutcome::Pending | AttemptOutcome::Unknown(_))
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            None => f.write_str(self.name()),
            Some(detail) => write!(f, "{} ({detail})", self.name()),
        }
    }
}

/// One payment attempt: a row of the invoice's history.
///
/// Its number, key, payment method and amount never change once written;
/// only its outcome and `updated_at` move, from pending to what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    invoice: InvoiceId,
    number: u32,
    key: IdempotencyKey,
    payment_method: PaymentMethod,
    amount: Amount,
    outcome: AttemptOutcome,
    created_at: SystemTime,
    updated_at: SystemTime,
}

impl Attempt {
    /// A new pending attempt `number` (from 1) of `invoice`, charging
    /// `amount` to `payment_method`, written at `now`.
    pub(crate) fn pending(
        invoice: InvoiceId,
        number: u32,
        payment_method: PaymentMethod,
        amount: Amount,
        now: SystemTime,
    ) -> Result<Attempt, InvalidRequest> {
        let key = attempt_key(&invoice, number)?;
        Ok(Attempt {
            invoice,
            number,
            key,
            payment_method,
            amount,
            outcome: AttemptOutcome::Pending,
            created_at: now,
            updated_at: now,
        })
    }

    /// An attempt read back from storage. The number must be at least 1 and
    /// `key` the one the invoice and number give.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        invoice: InvoiceId,
        number: u32,
        key: &str,
        payment_method: PaymentMethod,
        amount: Amount,
        outcome: AttemptOutcome,
        created_at: SystemTime,
        updated_at: SystemTime,
    ) -> Result<Attempt, InvalidRecord> {
        if number == 0 {
            return Err(InvalidRecord::AttemptNumber {
                invoice: invoice.to_string(),
            });
        }
        let derived = attempt_key(&invoice, number).map_err(|_| InvalidRecord::Key {
            stored: key.to_owned(),
            derived: String::new(),
        })?;
        if derived.as_str() != key {
            return Err(InvalidRecord::Key {
                stored: key.to_owned(),
                derived: derived.as_str().to_owned(),
            });
        }
        Ok(Attempt {
            invoice,
            number,
            key: derived,
            payment_method,
            amount,
            outcome,
            created_at,
            updated_at,
        })
    }

    /// The invoice.
    pub fn invoice(&self) -> &InvoiceId {
        &self.invoice
    }

    /// The attempt's number, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Its idempotency key, `invoice:<id>:attempt:<n>`.
    pub fn key(&self) -> &IdempotencyKey {
        &self.key
    }

    /// The payment method charged.
    pub fn payment_method(&self) -> &PaymentMethod {
        &self.payment_method
    }

    /// The amount charged: the issued total, in its currency.
    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// What came of it.
    pub fn outcome(&self) -> &AttemptOutcome {
        &self.outcome
    }

    /// When it was written, before its request was sent.
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }

    /// When its outcome was last recorded.
    pub fn updated_at(&self) -> SystemTime {
        self.updated_at
    }

    /// The charge request this attempt sends, every time it is sent: the
    /// same key with the same parameters.
    pub fn request(&self) -> ChargeRequest {
        ChargeRequest::new(
            self.key.clone(),
            self.payment_method.clone(),
            self.amount,
            self.invoice.as_str(),
        )
    }

    /// The same attempt with `update` applied, for backends that keep
    /// attempts as values. The caller checks that the update is allowed
    /// ([`AttemptUpdate::applies_to`]).
    #[must_use]
    pub fn updated(mut self, update: &AttemptUpdate) -> Attempt {
        self.outcome = update.outcome.clone();
        self.updated_at = update.at;
        self
    }
}

/// A recorded outcome for attempt `number` of `invoice`, at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptUpdate {
    invoice: InvoiceId,
    number: u32,
    outcome: AttemptOutcome,
    at: SystemTime,
}

/// What a backend does with an [`AttemptUpdate`], by the rules every backend
/// keeps (the conformance suite checks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRule {
    /// Apply it.
    Apply,
    /// Keep the stored outcome: the update is stale (another run settled
    /// the attempt first) or repeats what is stored.
    Ignore,
    /// Refuse it: it contradicts a recorded capture.
    Conflict,
}

impl AttemptUpdate {
    /// Attempt `number` of `invoice` came to `outcome` at `at`.
    pub fn new(
        invoice: InvoiceId,
        number: u32,
        outcome: AttemptOutcome,
        at: SystemTime,
    ) -> AttemptUpdate {
        AttemptUpdate {
            invoice,
            number,
            outcome,
            at,
        }
    }

    /// The invoice.
    pub fn invoice(&self) -> &InvoiceId {
        &self.invoice
    }

    /// The attempt's number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The outcome recorded.
    pub fn outcome(&self) -> &AttemptOutcome {
        &self.outcome
    }

    /// When.
    pub fn at(&self) -> SystemTime {
        self.at
    }

    /// Whether this update may replace `stored`:
    ///
    /// - a capture is the processor's word and is never replaced; the same
    ///   capture again is ignored, a different charge id is a conflict;
    /// - a capture replaces anything else (a run that saw the processor
    ///   capture knows more than one that gave up);
    /// - otherwise only an unsettled (pending or unknown) outcome moves, and
    ///   never back to pending; a settled one is kept.
    pub fn applies_to(&self, stored: &AttemptOutcome) -> UpdateRule {
        match (stored, &self.outcome) {
            (AttemptOutcome::Captured(first), AttemptOutcome::Captured(now)) if first == now => {
                UpdateRule::Ignore
            }
            (AttemptOutcome::Captured(_), AttemptOutcome::Captured(_)) => UpdateRule::Conflict,
            (AttemptOutcome::Captured(_), _) | (_, AttemptOutcome::Pending) => UpdateRule::Ignore,
            (_, AttemptOutcome::Captured(_)) => UpdateRule::Apply,
            (stored, _) if stored.is_unsettled() => UpdateRule::Apply,
            _ => UpdateRule::Ignore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payment_gateway::Currency;
    use std::time::UNIX_EPOCH;

    fn captured(id: &str) -> AttemptOutcome {
        AttemptOutcome::Captured(ChargeId::new(id).unwrap())
    }

    fn update(outcome: AttemptOutcome) -> AttemptUpdate {
        AttemptUpdate::new(InvoiceId::new("I").unwrap(), 1, outcome, UNIX_EPOCH)
    }

    #[test]
    fn outcomes_round_trip_through_their_name_and_detail() {
        for outcome in [
            AttemptOutcome::Pending,
            captured("ch_1"),
            AttemptOutcome::Declined(DeclineCode::LostCard),
            AttemptOutcome::Failed("no such card".into()),
            AttemptOutcome::Unknown("reply lost".into()),
        ] {
            assert_eq!(
                AttemptOutcome::from_parts(outcome.name(), outcome.detail()),
                Ok(outcome.clone())
            );
        }
        assert_eq!(
            AttemptOutcome::from_parts("paid", None),
            Err(InvalidRecord::Outcome("paid".into()))
        );
        for (name, detail) in [
            ("pending", Some("x")),
            ("captured", None),
            ("captured", Some("")),
            ("declined", Some("nope")),
            ("declined", None),
            ("failed", None),
            ("unknown", None),
        ] {
            assert!(AttemptOutcome::from_parts(name, detail).is_err(), "{name}");
        }
        assert_eq!(captured("ch_1").to_string(), "captured (ch_1)");
        assert_eq!(AttemptOutcome::Pending.to_string(), "pending");
    }

    #[test]
    fn a_capture_is_never_replaced_and_replaces_everything_else() {
        let reply_lost = AttemptOutcome::Unknown("reply lost".into());
        let refused = AttemptOutcome::Failed("refused".into());
        let declined = AttemptOutcome::Declined(DeclineCode::CardDeclined);
        assert_eq!(
            update(captured("a")).applies_to(&captured("a")),
            UpdateRule::Ignore
        );
        assert_eq!(
            update(captured("b")).applies_to(&captured("a")),
            UpdateRule::Conflict
        );
        assert_eq!(
            update(reply_lost.clone()).applies_to(&captured("a")),
            UpdateRule::Ignore
        );
        for stored in [
            AttemptOutcome::Pending,
            reply_lost.clone(),
            refused.clone(),
            declined.clone(),
        ] {
            assert_eq!(update(captured("a")).applies_to(&stored), UpdateRule::Apply);
        }
        assert_eq!(
            update(declined.clone()).applies_to(&AttemptOutcome::Pending),
            UpdateRule::Apply
        );
        assert_eq!(
            update(refused.clone()).applies_to(&reply_lost),
            UpdateRule::Apply
        );
        assert_eq!(
            update(reply_lost.clone()).applies_to(&declined),
            UpdateRule::Ignore
        );
        assert_eq!(
            update(AttemptOutcome::Pending).applies_to(&reply_lost),
            UpdateRule::Ignore
        );
        assert_eq!(update(declined).applies_to(&refused), UpdateRule::Ignore);
    }

    #[test]
    fn a_restored_attempt_must_carry_its_derived_key_and_a_number_from_1() {
        let id = InvoiceId::new("INV-7").unwrap();
        let method = PaymentMethod::new("tok_success").unwrap();
        let amount = Amount::new(100, Currency::Usd).unwrap();
        let restore = |number, key: &str| {
            Attempt::restore(
                id.clone(),
                number,
                key,
                method.clone(),
                amount,
                AttemptOutcome::Pending,
                UNIX_EPOCH,
                UNIX_EPOCH,
            )
        };
        let attempt = restore(2, "invoice:INV-7:attempt:2").unwrap();
        assert_eq!(
            attempt.request().idempotency_key().as_str(),
            "invoice:INV-7:attempt:2"
        );
        assert_eq!(attempt.request().reference(), "INV-7");
        assert_eq!(
            restore(2, "invoice:INV-7:attempt:3"),
            Err(InvalidRecord::Key {
                stored: "invoice:INV-7:attempt:3".into(),
                derived: "invoice:INV-7:attempt:2".into()
            })
        );
        assert!(matches!(
            restore(0, "x"),
            Err(InvalidRecord::AttemptNumber { .. })
        ));
    }

    #[test]
    fn the_longest_invoice_id_still_makes_a_valid_idempotency_key() {
        let id = InvoiceId::new("i".repeat(128)).unwrap();
        let key = attempt_key(&id, u32::MAX).unwrap();
        assert!(key.as_str().ends_with(":attempt:4294967295"));
    }
}
