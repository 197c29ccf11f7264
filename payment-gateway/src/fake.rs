//! A fake gateway that behaves like a card processor's test mode.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::books::{BooksTransaction, Capture, KeyRecord, StoredResult};
use crate::{
    Admission, BooksError, Charge, ChargeId, ChargeRequest, Clock, Currency, DeclineCode,
    GatewayError, IdempotencyKey, InMemoryBooks, InvalidRequest, Lookup, ManualClock,
    PaymentGateway, RateLimit, Refund, RefundId, RefundRecord, RefundRefusal, RefundRequest,
    RefundStatus, RequestField, SandboxBooks, excerpt,
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
/// | `tok_refund_pending_<N>`, e.g. `tok_refund_pending_2` | the charge succeeds; a refund of it is accepted as pending, stays pending for `N` lookups and succeeds at the next |
/// | `tok_refund_fails_late` | the charge succeeds; a refund of it succeeds, then fails (the first lookup after it says failed: the money stayed with the merchant) |
/// | `tok_disputed` | the charge succeeds, then is disputed: a refund of it is refused |
///
/// The last three decide what happens to refunds of the charge, as a
/// processor's test cards do: a refund is decided by the charged payment
/// method.
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
    /// `tok_refund_pending_<N>`: charged; a refund stays pending for
    /// `lookups` lookups, then succeeds.
    RefundPending {
        /// How many lookups see the refund pending.
        lookups: u32,
    },
    /// `tok_refund_fails_late`: charged; a refund succeeds, then fails.
    RefundFailsLate,
    /// `tok_disputed`: charged, then disputed; a refund is refused.
    Disputed,
}

impl TestToken {
    const SUCCESS: &'static str = "tok_success";
    const REPLY_LOST: &'static str = "tok_reply_lost";
    const REQUEST_LOST: &'static str = "tok_request_lost";
    const REFUND_FAILS_LATE: &'static str = "tok_refund_fails_late";
    const DISPUTED: &'static str = "tok_disputed";
    const TRANSIENT_PREFIX: &'static str = "tok_transient_";
    const REFUND_PENDING_PREFIX: &'static str = "tok_refund_pending_";
    const PREFIX: &'static str = "tok_";
}

/// Parses a token exactly as [`Display`](fmt::Display) writes it; the count in
/// `tok_transient_<N>` is plain decimal digits without a sign or leading zero.
impl FromStr for TestToken {
    type Err = InvalidRequest;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        let unknown = || InvalidRequest::UnknownPaymentMethod(excerpt(token));
        match token {
            TestToken::SUCCESS => return Ok(TestToken::Success),
            TestToken::REPLY_LOST => return Ok(TestToken::ReplyLost),
            TestToken::REQUEST_LOST => return Ok(TestToken::RequestLost),
            TestToken::REFUND_FAILS_LATE => return Ok(TestToken::RefundFailsLate),
            TestToken::DISPUTED => return Ok(TestToken::Disputed),
            _ => {}
        }
        let count = |text: &str| {
            let canonical = !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
                && (text == "0" || !text.starts_with('0'));
            if !canonical {
                return Err(unknown());
            }
            text.parse::<u32>().map_err(|_| unknown())
        };
        if let Some(text) = token.strip_prefix(TestToken::TRANSIENT_PREFIX) {
            return Ok(TestToken::Transient {
                failures: count(text)?,
            });
        }
        if let Some(text) = token.strip_prefix(TestToken::REFUND_PENDING_PREFIX) {
            return Ok(TestToken::RefundPending {
                lookups: count(text)?,
            });
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
            TestToken::RefundPending { lookups } => {
                write!(f, "{}{lookups}", TestToken::REFUND_PENDING_PREFIX)
            }
            TestToken::RefundFailsLate => f.write_str(TestToken::REFUND_FAILS_LATE),
            TestToken::Disputed => f.write_str(TestToken::DISPUTED),
        }
    }
}

/// A scripted fault: [`FakeGateway::with_faults`] queues these, and each
/// charge or refund request takes the next one before the token has its
/// say. Once the queue is empty, the token alone decides. (A refund meets
/// `Unavailable`, `RequestLost` and `ReplyLost` as a charge does; a
/// `Decline` fault means nothing to a refund, which is then processed.)
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

/// How long the sandbox processor remembers an idempotency key: 24 hours
/// after its first request, as Stripe does. After that the same key is a new
/// request, which is why an attempt whose key may have expired is settled by
/// [`PaymentGateway::lookup`], never by charging again.
pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// A payment gateway that never touches a network, behaves like a card
/// processor's test mode, and keeps books of every amount it captured.
///
/// - The payment-method token decides the outcome: see [`TestToken`].
/// - Faults can be scripted on top, in order: see [`Fault`].
/// - Idempotency works as at a real processor: the first result for a key
///   (a charge or a decline) is stored; a later request with the same key
///   and the same amount, currency, payment method and reference gets the
///   stored result and captures nothing; one that differs in any of them is
///   an [`GatewayError::IdempotencyConflict`]. Transient failures, lost
///   requests and invalid requests store nothing, so they can be retried.
/// - Keys expire [`KEY_LIFETIME`] after their first request, by the injected
///   [`Clock`]; then the same key is processed afresh. Captures are kept for
///   good, with their key, so [`PaymentGateway::lookup`] still finds them.
/// - The books (idempotency records and captures) live in a [`SandboxBooks`]:
///   [`InMemoryBooks`] by default, or a file shared by several processes.
///   Each request's check-and-record is one transaction of the books.
/// - [`FakeGateway::captures`] and [`FakeGateway::captured_total_for`] show
///   the money that moved: what tests should assert on, rather than on what
///   the caller believes happened.
///
/// Charge ids are `ch_fake_000001`, `ch_fake_000002`, … in capture order, so
/// tests and sandbox output are repeatable. Scripted faults and the list of
/// requests received are this gateway value's own (they do not persist). The
/// fake is `Send + Sync` when its books are; a panic in another thread that
/// held a lock does not make it unusable.
pub struct FakeGateway<B = InMemoryBooks> {
    books: B,
    clock: Arc<dyn Clock>,
    latency: Duration,
    rate_limit: Option<RateLimit>,
    local: Mutex<Local>,
}

impl<B: fmt::Debug> fmt::Debug for FakeGateway<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGateway")
            .field("books", &self.books)
            .field("latency", &self.latency)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// What this gateway value alone keeps: its scripted faults, and what it was
/// asked.
#[derive(Debug)]
struct Local {
    faults: VecDeque<Fault>,
    /// Every request, unless the log is off: then only counted, so that a
    /// long sandbox run's memory does not grow with its requests.
    requests: Option<Vec<ChargeRequest>>,
    request_count: usize,
    lookups: usize,
    searches: usize,
    refund_requests: usize,
    rate_limited: usize,
}

impl Default for Local {
    fn default() -> Local {
        Local {
            faults: VecDeque::new(),
            requests: Some(Vec::new()),
            request_count: 0,
            lookups: 0,
            searches: 0,
            refund_requests: 0,
            rate_limited: 0,
        }
    }
}

impl Default for FakeGateway<InMemoryBooks> {
    fn default() -> Self {
        FakeGateway::with_books(InMemoryBooks::new())
    }
}

impl FakeGateway<InMemoryBooks> {
    /// A fake with books in memory and no scripted faults: tokens alone
    /// decide. Its clock stands still at the Unix epoch until
    /// [`with_clock`](FakeGateway::with_clock) gives it another, so keys
    /// never expire.
    pub fn new() -> Self {
        FakeGateway::default()
    }

    /// A fake whose next requests meet `faults`, one per request, in order.
    pub fn with_faults(faults: impl IntoIterator<Item = Fault>) -> Self {
        let gateway = FakeGateway::new();
        gateway.push_faults(faults);
        gateway
    }
}

impl<B: SandboxBooks> FakeGateway<B> {
    /// A fake keeping its books in `books`, with a clock standing still at
    /// the Unix epoch and no latency.
    pub fn with_books(books: B) -> Self {
        FakeGateway {
            books,
            clock: Arc::new(ManualClock::default()),
            latency: Duration::ZERO,
            rate_limit: None,
            local: Mutex::new(Local::default()),
        }
    }

    /// The same fake, reading the time from `clock`: when a key expires and
    /// when a capture happened.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The same fake, taking `latency` of real time (the thread sleeps) for
    /// every charge and lookup, as a network round trip would, so that a run
    /// lasts long enough to be stopped halfway.
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The same fake, answering at most `limit` requests per second for
    /// the whole account (every gateway sharing these books): beyond it, a
    /// request of any kind is answered [`GatewayError::RateLimited`] and
    /// nothing is processed.
    #[must_use]
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// How many requests this gateway answered [`GatewayError::RateLimited`].
    pub fn rate_limited_count(&self) -> usize {
        self.local().rate_limited
    }

    /// The books.
    pub fn books(&self) -> &B {
        &self.books
    }

    /// Queues more faults after the ones still waiting.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.local().faults.extend(faults);
    }

    /// How many scripted faults have not been used yet.
    pub fn remaining_faults(&self) -> usize {
        self.local().faults.len()
    }

    /// Every capture in the books, in order; an empty list if the books
    /// cannot be read. For tests: [`for_each_capture`](Self::for_each_capture)
    /// reads them a page at a time.
    pub fn captures(&self) -> Vec<Capture> {
        let mut all = Vec::new();
        let _unreadable = self.for_each_capture(|capture| all.push(capture));
        all
    }

    /// Calls `visit` with every capture in the books, in order, holding one
    /// page of them in memory at a time.
    pub fn for_each_capture(&self, mut visit: impl FnMut(Capture)) -> Result<(), BooksError> {
        const PAGE: usize = 1000;
        let mut after = 0;
        loop {
            let page = self.books.captures_after(after, PAGE)?;
            // Until a page comes back empty: one read more than needed at
            // the end, and no page-size arithmetic to get wrong.
            let Some(last) = page.last().map(Capture::number) else {
                return Ok(());
            };
            page.into_iter().for_each(&mut visit);
            after = last;
        }
    }

    /// How many charges captured money (0 if the books cannot be read).
    pub fn capture_count(&self) -> usize {
        self.books
            .capture_count()
            .ok()
            .and_then(|count| usize::try_from(count).ok())
            .unwrap_or(0)
    }

    /// The captures whose request carried `reference`.
    pub fn captures_for(&self, reference: &str) -> Vec<Capture> {
        let mut found = Vec::new();
        let _unreadable = self.for_each_capture(|capture| {
            if capture.request().reference() == reference {
                found.push(capture);
            }
        });
        found
    }

    /// The total captured for `reference` in `currency`, in minor units.
    ///
    /// It is an `i128` so that no number of captures can overflow it: each
    /// amount is below 2⁶³ and there are fewer than 2⁶³ captures.
    pub fn captured_total_for(&self, reference: &str, currency: Currency) -> i128 {
        self.captures_for(reference)
            .iter()
            .map(|capture| capture.charge().amount())
            .filter(|amount| amount.currency() == currency)
            .map(|amount| i128::from(amount.minor_units()))
            .sum()
    }

    /// The same fake, counting requests without keeping them:
    /// [`requests`](Self::requests) is then empty, and memory stays flat
    /// however many invoices a run charges.
    #[must_use]
    pub fn without_request_log(self) -> Self {
        self.local().requests = None;
        self
    }

    /// Every charge request this gateway received, in order, whatever its
    /// outcome (none if the log is off, see
    /// [`without_request_log`](Self::without_request_log)).
    pub fn requests(&self) -> Vec<ChargeRequest> {
        self.local().requests.clone().unwrap_or_default()
    }

    /// How many charge requests this gateway received.
    pub fn request_count(&self) -> usize {
        self.local().request_count
    }

    /// How many searches by reference ([`PaymentGateway::find_captures`])
    /// this gateway answered.
    pub fn search_count(&self) -> usize {
        self.local().searches
    }

    /// How many lookups (of charges and of refunds) this gateway answered.
    pub fn lookup_count(&self) -> usize {
        self.local().lookups
    }

    /// How many refund requests this gateway received, whatever their
    /// outcome.
    pub fn refund_request_count(&self) -> usize {
        self.local().refund_requests
    }

    /// Calls `visit` with every refund in the books, in order, as it stands
    /// now, holding one page of them in memory at a time.
    pub fn for_each_refund(&self, mut visit: impl FnMut(RefundRecord)) -> Result<(), BooksError> {
        const PAGE: usize = 1000;
        let mut after = 0;
        loop {
            let page = self.books.refunds_after(after, PAGE)?;
            let Some(last) = page.last().map(RefundRecord::number) else {
                return Ok(());
            };
            page.into_iter().for_each(&mut visit);
            // Books that hand back a page ending where it began (`after`
            // itself) would be read forever: they are read no further.
            if last <= after {
                return Err(BooksError::new(format!(
                    "the books' page after refund {after} ends at refund {last}"
                )));
            }
            after = last;
        }
    }

    /// Every refund in the books, in order; an empty list if the books
    /// cannot be read. For tests.
    pub fn refunds(&self) -> Vec<RefundRecord> {
        let mut all = Vec::new();
        let _unreadable = self.for_each_refund(|refund| all.push(refund));
        all
    }

    /// What the refunds of `charge` gave back (succeeded) or will (pending),
    /// in minor units: what tests hold to the capture.
    pub fn refunded_total_for(&self, charge: &ChargeId) -> i128 {
        self.refunds()
            .iter()
            .map(RefundRecord::refund)
            .filter(|refund| refund.request().charge() == charge)
            .filter(|refund| refund.status() != RefundStatus::Failed)
            .map(|refund| i128::from(refund.amount().minor_units()))
            .sum()
    }

    /// The local state, even if a thread panicked while holding the lock:
    /// each update is a single push or pop.
    fn local(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request's round trip: the latency, then the account's rate limit
    /// (a refused request has travelled too, and is answered 429).
    fn wait_latency(&self) -> Result<(), GatewayError> {
        if !self.latency.is_zero() {
            std::thread::sleep(self.latency);
        }
        let Some(limit) = self.rate_limit else {
            return Ok(());
        };
        let now = self
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
            });
        let mut admission = None;
        self.books
            .transaction(&mut |books| {
                let verdict = limit.admit(books.rate_clock()?, now);
                if let Admission::Admitted { due_us } = verdict {
                    books.put_rate_clock(due_us)?;
                }
                admission = Some(verdict);
                Ok(())
            })
            .map_err(|error| books_failed(&error))?;
        match admission {
            Some(Admission::Limited { retry_after }) => {
                self.local().rate_limited += 1;
                Err(GatewayError::RateLimited { retry_after })
            }
            _ => Ok(()),
        }
    }
}

impl<B: SandboxBooks> PaymentGateway for FakeGateway<B> {
    fn charge(&self, request: &ChargeRequest) -> Result<Charge, GatewayError> {
        self.wait_latency()?;
        let fault = {
            let mut local = self.local();
            local.request_count = local.request_count.saturating_add(1);
            if let Some(requests) = &mut local.requests {
                requests.push(request.clone());
            }
            local.faults.pop_front()
        };
        let now = self.clock.now();
        let mut reply = None;
        self.books
            .transaction(&mut |books| {
                reply = Some(handle(books, request, fault, now)?);
                Ok(())
            })
            .map_err(|error| books_failed(&error))?;
        // The transaction ran `handle` to the end whenever it committed.
        reply.unwrap_or_else(|| Err(ambiguous("sandbox books kept no reply")))
    }

    fn lookup(&self, key: &IdempotencyKey) -> Result<Lookup, GatewayError> {
        self.wait_latency()?;
        self.local().lookups += 1;
        if let Some(capture) = self
            .books
            .capture_for_key(key)
            .map_err(|error| books_failed(&error))?
        {
            return Ok(Lookup::Captured(capture.charge().clone()));
        }
        let now = self.clock.now();
        let record = self
            .books
            .key_record(key)
            .map_err(|error| books_failed(&error))?;
        Ok(match record {
            Some(record) if !expired(&record, now) => {
                match record.stored().map(StoredResult::outcome) {
                    Some(Err(code)) => Lookup::Declined(*code),
                    // A stored charge has a capture, found above.
                    Some(Ok(_)) | None => Lookup::NotFound,
                }
            }
            _ => Lookup::NotFound,
        })
    }

    fn find_captures(&self, references: &[&str]) -> Result<Vec<Capture>, GatewayError> {
        self.wait_latency()?;
        self.local().searches += 1;
        self.books
            .captures_for_references(references)
            .map_err(|error| books_failed(&error))
    }

    fn refund(&self, request: &RefundRequest) -> Result<Refund, GatewayError> {
        self.wait_latency()?;
        let fault = {
            let mut local = self.local();
            local.refund_requests = local.refund_requests.saturating_add(1);
            local.faults.pop_front()
        };
        match fault {
            Some(Fault::Unavailable) => {
                return Err(transient("scripted fault: gateway unavailable"));
            }
            Some(Fault::RequestLost) => {
                return Err(ambiguous(
                    "scripted fault: request lost before it reached the processor",
                ));
            }
            Some(Fault::ReplyLost | Fault::Decline(_)) | None => {}
        }
        let now = self.clock.now();
        let mut reply = None;
        self.books
            .transaction(&mut |books| {
                reply = Some(handle_refund(books, request, now)?);
                Ok(())
            })
            .map_err(|error| books_failed(&error))?;
        if fault == Some(Fault::ReplyLost) {
            return Err(ambiguous("scripted fault: reply lost after processing"));
        }
        reply.unwrap_or_else(|| Err(ambiguous("sandbox books kept no reply")))
    }

    fn lookup_refund(&self, key: &IdempotencyKey) -> Result<Option<Refund>, GatewayError> {
        self.wait_latency()?;
        self.local().lookups += 1;
        let mut found = None;
        self.books
            .transaction(&mut |books| {
                found = None;
                let Some(mut record) = books.refund_for_key(key)? else {
                    return Ok(());
                };
                record.count_lookup();
                let status = next_status(&record);
                record.refund_mut().set_status(status);
                books.put_refund(&record)?;
                found = Some(record.refund().clone());
                Ok(())
            })
            .map_err(|error| books_failed(&error))?;
        Ok(found)
    }
}

/// Where a refund stands at the lookup that was just counted: the charged
/// payment method's test token decides.
fn next_status(record: &RefundRecord) -> RefundStatus {
    let status = record.refund().status();
    match (record.payment_method().as_str().parse(), status) {
        (Ok(TestToken::RefundPending { lookups }), RefundStatus::Pending)
            if record.lookups() > lookups =>
        {
            RefundStatus::Succeeded
        }
        (Ok(TestToken::RefundFailsLate), RefundStatus::Succeeded) => RefundStatus::Failed,
        _ => status,
    }
}

/// One refund request, inside one transaction of the books. A refusal
/// stores nothing (as an invalid charge request): the same request gets the
/// same answer while nothing else changes.
fn handle_refund(
    books: &mut dyn BooksTransaction,
    request: &RefundRequest,
    now: SystemTime,
) -> Result<Result<Refund, GatewayError>, BooksError> {
    let key = request.idempotency_key();
    if let Some(stored) = books.refund_for_key(key)?
        && !expired_since(stored.created_at(), now)
    {
        let first = stored.refund().request();
        return Ok(match refund_conflict(key, first, request) {
            Some(conflict) => Err(conflict),
            None => Ok(stored.refund().clone()),
        });
    }
    let charge = request.charge();
    let refused = |refusal: RefundRefusal| Ok(Err(GatewayError::RefundRefused(refusal)));
    let Some(capture) = books.capture_for_charge(charge)? else {
        return refused(RefundRefusal::UnknownCharge(charge.clone()));
    };
    let (captured, requested) = (capture.charge().amount(), request.amount());
    if captured.currency() != requested.currency() {
        return refused(RefundRefusal::OtherCurrency {
            charge: charge.clone(),
            captured: captured.currency().code(),
            requested: requested.currency().code(),
        });
    }
    let payment_method = capture.request().payment_method().clone();
    let token = payment_method.as_str().parse::<TestToken>().ok();
    if token == Some(TestToken::Disputed) {
        return refused(RefundRefusal::Disputed(charge.clone()));
    }
    // What the charge's refunds give back, a failed one excepted: in i128,
    // so that no number of refunds can overflow the sum.
    let refunded: i128 = books
        .refunds_for_charge(charge)?
        .iter()
        .map(RefundRecord::refund)
        .filter(|refund| refund.status() != RefundStatus::Failed)
        .map(|refund| i128::from(refund.amount().minor_units()))
        .sum();
    if refunded + i128::from(requested.minor_units()) > i128::from(captured.minor_units()) {
        return refused(RefundRefusal::AboveCapture {
            charge: charge.clone(),
            captured,
            refunded: i64::try_from(refunded).unwrap_or(i64::MAX),
            requested,
        });
    }
    let number = books.refund_count()?.saturating_add(1);
    let status = match token {
        Some(TestToken::RefundPending { lookups }) if lookups > 0 => RefundStatus::Pending,
        _ => RefundStatus::Succeeded,
    };
    let refund = Refund::new(RefundId::fake(number), request.clone(), status);
    books.put_refund(&RefundRecord::new(
        number,
        refund.clone(),
        payment_method,
        now,
        0,
    ))?;
    Ok(Ok(refund))
}

/// The idempotency conflict between the first refund request for `key` and
/// `now`, if they differ in any field.
fn refund_conflict(
    key: &IdempotencyKey,
    first: &RefundRequest,
    now: &RefundRequest,
) -> Option<GatewayError> {
    let quoted = |request: &RefundRequest| format!("{:?}", request.charge().as_str());
    let reference = |request: &RefundRequest| format!("{:?}", request.reference());
    first_difference(
        key,
        (first.amount(), now.amount()),
        [
            (RequestField::Charge, quoted(first), quoted(now)),
            (RequestField::Reference, reference(first), reference(now)),
        ],
    )
}

/// A failure of the books: whether the transaction committed is not known to
/// the caller, so the outcome is ambiguous and must be retried with the key.
fn books_failed(error: &BooksError) -> GatewayError {
    GatewayError::Ambiguous {
        reason: error.to_string(),
    }
}

/// Whether `record` is older than [`KEY_LIFETIME`] at `now`. A clock that
/// went backwards expires nothing.
fn expired(record: &KeyRecord, now: SystemTime) -> bool {
    expired_since(record.first_seen(), now)
}

/// Whether a key first used at `first_seen` is forgotten at `now`.
fn expired_since(first_seen: SystemTime, now: SystemTime) -> bool {
    now.duration_since(first_seen)
        .is_ok_and(|age| age >= KEY_LIFETIME)
}

/// One charge request, inside one transaction of the books.
fn handle(
    books: &mut dyn BooksTransaction,
    request: &ChargeRequest,
    fault: Option<Fault>,
    now: SystemTime,
) -> Result<Result<Charge, GatewayError>, BooksError> {
    let key = request.idempotency_key();
    let mut record = match books.key_record(key)? {
        Some(record) if !expired(&record, now) => record,
        // A key never seen, or forgotten: a new request in every respect.
        _ => KeyRecord::new(now, 0, None),
    };
    let earlier_requests = record.requests();
    record.count_request();

    let reply = if let Some(fault) = fault {
        match fault {
            Fault::Unavailable => Err(transient("scripted fault: gateway unavailable")),
            Fault::RequestLost => Err(ambiguous(
                "scripted fault: request lost before it reached the processor",
            )),
            Fault::ReplyLost => {
                // The processor's answer is what gets lost: whatever it
                // was (a charge, a decline, a conflict), the caller only
                // learns that the outcome is unknown.
                let _lost = process(books, &mut record, request, None, now)?;
                Err(ambiguous("scripted fault: reply lost after processing"))
            }
            Fault::Decline(code) => process(books, &mut record, request, Some(code), now)?,
        }
    } else {
        match request.payment_method().as_str().parse::<TestToken>() {
            Ok(TestToken::Transient { failures }) if earlier_requests < failures => {
                Err(transient(&format!(
                    "simulated outage {} of {failures} for this idempotency key",
                    earlier_requests.saturating_add(1)
                )))
            }
            Ok(TestToken::RequestLost) if earlier_requests == 0 => Err(ambiguous(
                "simulated request lost before it reached the processor",
            )),
            Ok(TestToken::ReplyLost) if earlier_requests == 0 => {
                // The money is captured; only the reply goes missing.
                let _lost = process(books, &mut record, request, None, now)?;
                Err(ambiguous(
                    "simulated reply lost after the charge was processed",
                ))
            }
            _ => process(books, &mut record, request, None, now)?,
        }
    };
    books.put_key_record(key, &record)?;
    Ok(reply)
}

/// What the processor does with a request that reached it.
fn process(
    books: &mut dyn BooksTransaction,
    record: &mut KeyRecord,
    request: &ChargeRequest,
    forced_decline: Option<DeclineCode>,
    now: SystemTime,
) -> Result<Result<Charge, GatewayError>, BooksError> {
    let key = request.idempotency_key();
    if let Some(stored) = record.stored() {
        if let Some(conflict) = conflict(key, stored.request(), request) {
            return Ok(Err(conflict));
        }
        return Ok(stored
            .outcome()
            .clone()
            .map_err(|code| GatewayError::Declined { code }));
    }
    // An unknown token is refused before anything is stored, like a
    // processor's validation error.
    let token: TestToken = match request.payment_method().as_str().parse() {
        Ok(token) => token,
        Err(invalid) => return Ok(Err(GatewayError::InvalidRequest(invalid))),
    };
    let outcome = match (forced_decline, token) {
        (Some(code), _) | (None, TestToken::Decline(code)) => Err(code),
        (None, _) => {
            let number = books.capture_count()?.saturating_add(1);
            let charge = Charge::new(ChargeId::fake(number), request.amount());
            books.insert_capture(&Capture::new(number, charge.clone(), request.clone(), now))?;
            Ok(charge)
        }
    };
    record.store(StoredResult::new(request.clone(), outcome.clone()));
    Ok(outcome.map_err(|code| GatewayError::Declined { code }))
}

/// The idempotency conflict between the first request for `key` and `now`,
/// if they differ in any field.
fn conflict(
    key: &IdempotencyKey,
    first: &ChargeRequest,
    now: &ChargeRequest,
) -> Option<GatewayError> {
    let method = |request: &ChargeRequest| format!("{:?}", request.payment_method().as_str());
    let reference = |request: &ChargeRequest| format!("{:?}", request.reference());
    first_difference(
        key,
        (first.amount(), now.amount()),
        [
            (RequestField::PaymentMethod, method(first), method(now)),
            (RequestField::Reference, reference(first), reference(now)),
        ],
    )
}

/// The conflict of the first field in which two requests under `key`
/// differ: the currency, then the amount (of `amounts`, first and now),
/// then each of `others` (the field, its value first and now) in order.
fn first_difference(
    key: &IdempotencyKey,
    (a, b): (crate::Amount, crate::Amount),
    others: [(RequestField, String, String); 2],
) -> Option<GatewayError> {
    let amounts = [
        (
            RequestField::Currency,
            a.currency().to_string(),
            b.currency().to_string(),
        ),
        (RequestField::Amount, a.to_string(), b.to_string()),
    ];
    amounts
        .into_iter()
        .chain(others)
        .find(|(_, first, now)| first != now)
        .map(|(field, first, now)| GatewayError::IdempotencyConflict {
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
            TestToken::RefundPending { lookups: 0 },
            TestToken::RefundPending { lookups: 7 },
            TestToken::RefundFailsLate,
            TestToken::Disputed,
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
            "tok_refund_pending_",
            "tok_refund_pending_01",
            "tok_refund_fails_late ",
            "tok_Disputed",
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
