//! A fake gateway that behaves like a card processor's test mode.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{
    Charge, ChargeId, ChargeRequest, Currency, DeclineCode, GatewayError, IdempotencyKey,
    InvalidRequest, PaymentGateway, RequestField,
};

/// The payment-method tokens [`FakeGateway`] knows, and what each does.
///
/// Like a card processor's test mode, the token alone decides the outcome:
///
/// | token | outcome |
/// |---|---|
/// | `tok_success` | the charge succeeds |
/// | `tok_<decline code>`, e.g. `tok_card_declined`, `tok_insufficient_funds` | declined with that code ([`DeclineCode::ALL`]) |
/// | `tok_transient_<N>`, e.g. `tok_transient_2` | the first `N` requests with a given idempotency key fail transiently, then the charge succeeds |
/// | `tok_reply_lost` | the first request with a given key captures the money but its reply is lost (ambiguous); a retry with the same key returns the stored charge |
/// | `tok_request_lost` | the first request with a given key is lost before it reaches the processor (ambiguous, nothing captured); a retry succeeds |
///
/// Any other token is refused as [`InvalidRequest::UnknownPaymentMethod`],
/// the way a processor refuses a payment method it has no record of; nothing
/// is stored for the key, so the request can be corrected and sent again.
///
/// ```
/// use payment_gateway::{DeclineCode, TestToken};
///
/// let token: TestToken = "tok_transient_2".parse()?;
/// assert_eq!(token, TestToken::Transient { failures: 2 });
/// assert_eq!(TestToken::Decline(DeclineCode::InsufficientFunds).to_string(), "tok_insufficient_funds");
/// # Ok::<(), payment_gateway::InvalidRequest>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestToken {
    /// `tok_success`: the charge succeeds.
    Success,
    /// `tok_<code>`: declined with `code`.
    Decline(DeclineCode),
    /// `tok_transient_<N>`: the first `failures` requests with a key fail
    /// transiently, later ones succeed.
    Transient {
        /// How many requests per key fail before one succeeds.
        failures: u32,
    },
    /// `tok_reply_lost`: the first request with a key is charged, but the
    /// reply is lost.
    ReplyLost,
    /// `tok_request_lost`: the first request with a key never reaches the
    /// processor, and the caller cannot tell.
    RequestLost,
}

impl TestToken {
    const SUCCESS: &'static str = "tok_success";
    const REPLY_LOST: &'static str = "tok_reply_lost";
    const REQUEST_LOST: &'static str = "tok_request_lost";
    const TRANSIENT_PREFIX: &'static str = "tok_transient_";
    const PREFIX: &'static str = "tok_";
}

/// Parses a token exactly as [`Display`](fmt::Display) writes it; the count in
/// `tok_transient_<N>` is plain decimal digits without a sign or leading zero.
impl FromStr for TestToken {
    type Err = InvalidRequest;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        let unknown = || InvalidRequest::UnknownPaymentMethod(token.to_owned());
        match token {
            TestToken::SUCCESS => return Ok(TestToken::Success),
            TestToken::REPLY_LOST => return Ok(TestToken::ReplyLost),
            TestToken::REQUEST_LOST => return Ok(TestToken::RequestLost),
            _ => {}
        }
        if let Some(count) = token.strip_prefix(TestToken::TRANSIENT_PREFIX) {
            let canonical = !count.is_empty()
                && count.bytes().all(|b| b.is_ascii_digit())
                && (count == "0" || !count.starts_with('0'));
            if !canonical {
                return Err(unknown());
            }
            let failures = count.parse().map_err(|_| unknown())?;
            return Ok(TestToken::Transient { failures });
        }
        token
            .strip_prefix(TestToken::PREFIX)
            .and_then(|code| code.parse().ok())
            .map(TestToken::Decline)
            .ok_or_else(unknown)
    }
}

impl fmt::Display for TestToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TestToken::Success => f.write_str(TestToken::SUCCESS),
            TestToken::Decline(code) => write!(f, "{}{code}", TestToken::PREFIX),
            TestToken::Transient { failures } => {
                write!(f, "{}{failures}", TestToken::TRANSIENT_PREFIX)
            }
            TestToken::ReplyLost => f.write_str(TestToken::REPLY_LOST),
            TestToken::RequestLost => f.write_str(TestToken::REQUEST_LOST),
        }
    }
}

/// A scripted fault: [`FakeGateway::with_faults`] queues these, and each
/// charge request takes the next one before the token has its say. Once the
/// queue is empty, the token alone decides.
///
/// The processor's idempotency still holds under a fault: a request whose key
/// already has a stored result gets that result (or a conflict) whenever it
/// is processed at all.
///
/// A request that meets a fault still counts as a request with its key, so
/// it uses up one of a `tok_transient_<N>` token's failures and the first
/// request of a `tok_reply_lost` or `tok_request_lost` token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The gateway refuses the request before processing it: a transient
    /// error, and nothing is processed or stored.
    Unavailable,
    /// The request is lost on its way: an ambiguous error, and nothing is
    /// processed or stored.
    RequestLost,
    /// The request is processed normally (money may be captured and the
    /// result is stored), but the reply is lost: an ambiguous error.
    ReplyLost,
    /// If the request is processed afresh, the processor declines it with
    /// this code, whatever the token; a key with a stored result still gets
    /// that result.
    Decline(DeclineCode),
}

/// One capture: money the fake took, and the request that took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    charge: Charge,
    request: ChargeRequest,
}

impl Capture {
    /// The charge, with its id and amount.
    pub fn charge(&self) -> &Charge {
        &self.charge
    }

    /// The request that was charged (its key, token, amount and reference).
    pub fn request(&self) -> &ChargeRequest {
        &self.request
    }
}

/// A payment gateway that never touches a network, behaves like a card
/// processor's test mode, and keeps a record of every request it received and
/// every amount it captured.
///
/// - The payment-method token decides the outcome: see [`TestToken`].
/// - Faults can be scripted on top, in order: see [`Fault`].
/// - Idempotency works as at a real processor: the first result for a key
///   (a charge or a decline) is stored; a later request with the same key
///   and the same amount, currency, payment method and reference gets the
///   stored result and captures nothing; one that differs in any of them is
///   an [`GatewayError::IdempotencyConflict`]. Transient failures, lost
///   requests and invalid requests store nothing, so they can be retried.
/// - [`FakeGateway::captures`] and [`FakeGateway::captured_total_for`] show
///   the money that moved: what tests should assert on, rather than on what
///   the caller believes happened.
///
/// Charge ids are `ch_fake_000001`, `ch_fake_000002`, … in capture order, so
/// tests and sandbox output are repeatable. The fake is `Send + Sync`; a
/// panic in another thread that held its lock does not make it unusable.
#[derive(Debug, Default)]
pub struct FakeGateway {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    faults: VecDeque<Fault>,
    calls_per_key: HashMap<IdempotencyKey, u32>,
    stored: HashMap<IdempotencyKey, Stored>,
    requests: Vec<ChargeRequest>,
    captures: Vec<Capture>,
}

/// The first processed result for an idempotency key.
#[derive(Debug)]
struct Stored {
    request: ChargeRequest,
    outcome: Result<Charge, DeclineCode>,
}

impl FakeGateway {
    /// A fake with no scripted faults: tokens alone decide.
    pub fn new() -> FakeGateway {
        FakeGateway::default()
    }

    /// A fake whose next requests meet `faults`, one per request, in order.
    pub fn with_faults(faults: impl IntoIterator<Item = Fault>) -> FakeGateway {
        let gateway = FakeGateway::new();
        gateway.push_faults(faults);
        gateway
    }

    /// Queues more faults after the ones still waiting.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// How many scripted faults have not been used yet.
    pub fn remaining_faults(&self) -> usize {
        self.lock().faults.len()
    }

    /// Every capture so far, in order.
    pub fn captures(&self) -> Vec<Capture> {
        self.lock().captures.clone()
    }

    /// How many charges captured money.
    pub fn capture_count(&self) -> usize {
        self.lock().captures.len()
    }

    /// The captures whose request carried `reference`.
    pub fn captures_for(&self, reference: &str) -> Vec<Capture> {
        self.lock()
            .captures
            .iter()
            .filter(|capture| capture.request.reference() == reference)
            .cloned()
            .collect()
    }

    /// The total captured for `reference` in `currency`, in minor units.
    ///
    /// It is an `i128` so that no number of captures can overflow it: each
    /// amount is below 2⁶³ and there are fewer than 2⁶³ captures.
    pub fn captured_total_for(&self, reference: &str, currency: Currency) -> i128 {
        self.lock()
            .captures
            .iter()
            .filter(|capture| capture.request.reference() == reference)
            .map(|capture| capture.charge.amount())
            .filter(|amount| amount.currency() == currency)
            .map(|amount| i128::from(amount.minor_units()))
            .sum()
    }

    /// Every request received, in order, whatever its outcome.
    pub fn requests(&self) -> Vec<ChargeRequest> {
        self.lock().requests.clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// The state, even if a thread panicked while holding the lock: every
    /// update below leaves the state consistent at each step, so a poisoned
    /// lock holds nothing half-written.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PaymentGateway for FakeGateway {
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        self.lock().charge(request)
    }
}

impl State {
    fn charge(&mut self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        self.requests.push(request.clone());
        let calls = self
            .calls_per_key
            .entry(request.idempotency_key().clone())
            .or_insert(0);
        let earlier_calls = *calls;
        *calls = calls.saturating_add(1);

        if let Some(fault) = self.faults.pop_front() {
            return match fault {
                Fault::Unavailable => Err(transient("scripted fault: gateway unavailable")),
                Fault::RequestLost => Err(ambiguous(
                    "scripted fault: request lost before it reached the processor",
                )),
                Fault::ReplyLost => {
                    // The processor's answer is what gets lost: whatever it
                    // was (a charge, a decline, a conflict), the caller only
                    // learns that the outcome is unknown.
                    let _lost = self.process(request, None);
                    Err(ambiguous("scripted fault: reply lost after processing"))
                }
                Fault::Decline(code) => self.process(request, Some(code)),
            };
        }

        match request.payment_method().as_str().parse::<TestToken>() {
            Ok(TestToken::Transient { failures }) if earlier_calls < failures => {
                Err(transient(&format!(
                    "simulated outage {} of {failures} for this idempotency key",
                    earlier_calls.saturating_add(1)
                )))
            }
            Ok(TestToken::RequestLost) if earlier_calls == 0 => Err(ambiguous(
                "simulated request lost before it reached the processor",
            )),
            Ok(TestToken::ReplyLost) if earlier_calls == 0 => {
                // The money is captured; only the reply goes missing.
                let _lost = self.process(request, None);
                Err(ambiguous(
                    "simulated reply lost after the charge was processed",
                ))
            }
            _ => self.process(request, None),
        }
    }

    /// What the processor does with a request that reached it.
    fn process(
        &mut self,
        request: &ChargeRequest,
        forced_decline: Option<DeclineCode>,
    ) -> Result<Charge, GatewayError> {
        let key = request.idempotency_key();
        if let Some(stored) = self.stored.get(key) {
            if let Some(conflict) = conflict(key, &stored.request, request) {
                return Err(conflict);
            }
            return stored
                .outcome
                .clone()
                .map_err(|code| GatewayError::Declined { code });
        }
        // An unknown token is refused before anything is stored, like a
        // processor's validation error.
        let token: TestToken = request.payment_method().as_str().parse()?;
        let outcome = match (forced_decline, token) {
            (Some(code), _) | (None, TestToken::Decline(code)) => Err(code),
            (None, _) => Ok(self.capture(request)),
        };
        self.stored.insert(
            key.clone(),
            Stored {
                request: request.clone(),
                outcome: outcome.clone(),
            },
        );
        outcome.map_err(|code| GatewayError::Declined { code })
    }

    fn capture(&mut self, request: &ChargeRequest) -> Charge {
        // A Vec holds fewer than isize::MAX elements, so `len() + 1` fits.
        let charge = Charge::new(ChargeId::fake(self.captures.len() + 1), request.amount());
        self.captures.push(Capture {
            charge: charge.clone(),
            request: request.clone(),
        });
        charge
    }
}

/// The idempotency conflict between the first request for `key` and `now`,
/// if they differ in any field.
fn conflict(
    key: &IdempotencyKey,
    first: &ChargeRequest,
    now: &ChargeRequest,
) -> Option<GatewayError> {
    let (a, b) = (first.amount(), now.amount());
    let (field, first, now) = if a.currency() != b.currency() {
        (
            RequestField::Currency,
            a.currency().to_string(),
            b.currency().to_string(),
        )
    } else if a.minor_units() != b.minor_units() {
        (RequestField::Amount, a.to_string(), b.to_string())
    } else if first.payment_method() != now.payment_method() {
        (
            RequestField::PaymentMethod,
            format!("{:?}", first.payment_method().as_str()),
            format!("{:?}", now.payment_method().as_str()),
        )
    } else if first.reference() != now.reference() {
        (
            RequestField::Reference,
            format!("{:?}", first.reference()),
            format!("{:?}", now.reference()),
        )
    } else {
        return None;
    };
    Some(GatewayError::IdempotencyConflict {
        key: key.clone(),
        field,
        first,
        now,
    })
}

fn transient(reason: &str) -> GatewayError {
    GatewayError::Transient {
        reason: reason.to_owned(),
    }
}

fn ambiguous(reason: &str) -> GatewayError {
    GatewayError::Ambiguous {
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_round_trips_through_its_text() {
        let mut tokens = vec![
            TestToken::Success,
            TestToken::ReplyLost,
            TestToken::RequestLost,
            TestToken::Transient { failures: 0 },
            TestToken::Transient { failures: 3 },
            TestToken::Transient { failures: u32::MAX },
        ];
        tokens.extend(DeclineCode::ALL.map(TestToken::Decline));
        for token in tokens {
            assert_eq!(token.to_string().parse::<TestToken>(), Ok(token));
        }
    }

    #[test]
    fn non_canonical_and_unknown_tokens_are_refused() {
        for text in [
            "tok_transient_",
            "tok_transient_+3",
            "tok_transient_03",
            "tok_transient_-1",
            "tok_transient_4294967296",
            "tok_",
            "tok_Success",
            "tok_success ",
            "pm_card_visa",
            "card_declined",
        ] {
            assert_eq!(
                text.parse::<TestToken>(),
                Err(InvalidRequest::UnknownPaymentMethod(text.to_owned())),
                "{text}"
            );
        }
    }
}
