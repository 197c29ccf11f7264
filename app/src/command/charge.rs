//! `ledgerly charge`: issues and collects each invoice of a JSON Lines file
//! through the billing service, with the durable SQLite ledger and the
//! fake gateway in sandbox mode over its own books.
//!
//! Every input line is issued (priced once, frozen in the ledger), then
//! collected. Consecutive lines are handled in batches (one ledger commit
//! issues them, one commits their pending attempts before any request is
//! sent, one records their outcomes), so many invoices share the cost of a
//! durable commit; a batch never holds one id twice, so an id seen again is
//! the same invoice collected again: a declined invoice with a new payment
//! method is a new payment attempt, and a paid one returns its stored
//! payment without a request. Nothing but the current batch is kept in
//! memory: the ledger remembers, across runs and processes.

use std::collections::HashSet;
use std::io::{self, Write};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use billing::{
    BillingError, BillingService, CustomerId, Invoice, InvoiceId, Pace, Payment, RetryPolicy,
    Settled, Sweep, TakenOver, ThreadSleeper, Worker,
};
use ledger_store::{AnyBooks, AnyLedger};
use payment_gateway::{Currency, FakeGateway, PaymentMethod, SystemClock};
use pricing::{Money, Tier, excerpt};

use crate::batch::pool::BufferPool;
use crate::batch::read::jsonl::{self, ChargeInvoice};
use crate::batch::read::lines::{
    Block, LineBlocks, LineTooLong, MAX_LINE, is_blank, numbered_lines,
};
use crate::console::Console;
use crate::error::{AppError, Cmd, Status, closed_pipe_or, input_name};
use crate::input::open_input;
use crate::output::charge::{ChargeFormat, Collected, Outcome, write_collected, write_invalid};
use crate::output::summary::Summary;
use crate::progress::Diagnostics;
use crate::sandbox::{self, Metered};
use crate::signals;
use crate::store::{self, Open};
use crate::workers::{parse_latency, parse_lease, worker_id};

/// What stderr says before the records, unless `--quiet`.
const SANDBOX_NOTICE: &str = "sandbox: charging through the fake test-mode gateway; no money moves";

/// The first retry waits this long; each later one twice as long as the one
/// before, up to [`MAX_DELAY`]. Short, because the sandbox has no processor
/// to spare, but real, so a run shows what a retry costs.
const BASE_DELAY: Duration = Duration::from_millis(50);
/// The longest wait between two requests.
const MAX_DELAY: Duration = Duration::from_secs(1);
/// Input is read in blocks of this many bytes (1 MiB, as `invoice` reads
/// it; any size gives the same records, see `command::invoice::BLOCK_SIZE`).
/// A block holds thousands of invoices, so the batches fill up; a pipe's
/// lines are handed on as they arrive, whatever the size.
const BLOCK_SIZE: usize = 1 << 20;
/// The most invoices per batch. Each batch costs three synced ledger
/// commits (issue, pending attempts, outcomes), a few milliseconds each on
/// a disk: 2048 per batch keeps them a small part of the run (measured with
/// `cargo xtask charge-bench`) and a batch well under a second.
const MAX_BATCH: usize = 2048;
/// With a sandbox latency, a batch is cut to about this much waiting, so
/// records still come out steadily and a signal is answered promptly.
const BATCH_WAIT: Duration = Duration::from_millis(100);
/// With requests in flight, a batch holds this many round trips of them:
/// at 300 ms a round trip and 64 in flight, 1 280 invoices, about six
/// seconds unlimited, thirteen at 100 requests a second (the pace's
/// spacing), of which the batch's fixed costs (a search and its commits,
/// about 0.6 s) are a tenth or less.
const ROUND_TRIPS: usize = 20;
/// The first batch, before the run has seen how fast its requests go, holds
/// this many round trips of requests in flight.
const FIRST_ROUND_TRIPS: usize = 2;
/// How many claims the end-of-input sweep reads per query.
const SWEEP_PAGE: usize = 2048;
/// How often the sweep looks again while other workers hold claims: short
/// next to a batch (about 0.1 s), long next to one query.
const SWEEP_POLL: Duration = Duration::from_millis(100);

/// What `ledgerly charge --help` shows above its exit codes.
pub(crate) const HELP: &str = "\
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
The ledger (--db, else $LEDGERLY_DB, else ./ledgerly.db) keeps every invoice as
issued and every payment attempt, written down before its request is sent; the
sandbox processor keeps its own books (--sandbox-db, else ledgerly-sandbox.db
beside the ledger). So a rerun, or a second run at once, charges nothing twice:
an invoice already paid is reported paid with its stored charge id and 0
requests, and an attempt a killed run left pending is looked up and settled
under the same idempotency key. An id issued again with other content is refused,
naming the field. After a decline, the same id with a new payment_method is a
new attempt.

Several workers, on one host or several, share a run when they are given the
same input and the same ledger (a PostgreSQL URL for several hosts): each batch
of invoices is claimed before it is collected, so a worker collects only the
invoices it claimed and reports the others as claimed by the worker that holds
them. A claim lasts --claim-timeout; the claims of a worker that died are taken
over after it. At the end of its input a worker takes over every claim that ran
out and waits until no other worker holds one; then, when any attempt in the
ledger is still pending or unknown, it warns and exits 1. So when any worker
exits 0 the whole run is settled: nothing unpaid but final declines, no money
in doubt.

A worker keeps up to --concurrency requests in flight (default 16); every
attempt is still committed pending before its request leaves. When the processor
answers rate_limited (429: --sandbox-rate-limit gives the sandbox account a limit
shared by every worker), nothing was charged: the same request is sent again
under the same key after the retry-after, and the run slows down and speeds up
again so that the workers sharing the account stay under its limit together.
The run ends with a summary on stderr (not under --quiet; --summary FILE writes
it as JSON): records by outcome, money captured, requests, 429s, retries, time.

Input: JSON Lines, one invoice per line, as for `ledgerly invoice` plus who pays:
  {\"id\": \"INV-1\", \"customer\": \"cus_1\", \"payment_method\": \"tok_success\",
   \"currency\": \"USD\", \"tier\": \"gold\", \"loyalty_member\": true, \"days_overdue\": 45,
   \"line_items\": [{\"price\": \"40.00\", \"quantity\": 3}, {\"price\": 15, \"quantity\": 2}]}
id, customer, payment_method and line_items are required; currency is USD, EUR or GBP
(default USD).

Output, one record per input invoice in input order:
  {\"line\":1,\"id\":\"INV-1\",\"outcome\":\"paid\",\"total\":\"141.69\",\"currency\":\"USD\",\"requests\":1,\"charge_id\":\"ch_fake_000001\"}
  {\"line\":2,\"id\":\"INV-2\",\"outcome\":\"declined\",\"total\":\"10.80\",\"currency\":\"USD\",\"requests\":1,\"decline_code\":\"card_declined\"}
outcome is paid (charge_id null when nothing was due), declined, failed (with
error), or claimed (with the worker that collects it, 0 requests); an invalid
invoice yields {\"line\": N, \"id\": ..., \"error\": \"...\"}. An invoice taken over from
a worker that died comes after the input's records, with line 0, and so does a
supplementary invoice (`correct apply --undercharge bill`) collected by this run.

Examples:
  ledgerly charge --input invoices.jsonl
  ledgerly charge --input invoices.jsonl --format text --db /var/lib/ledgerly/ledgerly.db
  ledgerly charge --input invoices.jsonl --sandbox-latency 2ms   # slow enough to stop halfway
  ledgerly charge --input invoices.jsonl --db postgres://billing@db.internal/ledgerly   # on each host";

/// `ledgerly charge`: collect a file of invoices in the sandbox.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The invoices to collect, as JSON Lines: a file, or - for stdin
    #[arg(long, value_name = "PATH")]
    pub(crate) input: PathBuf,

    /// The ledger: a SQLite file, or a postgres:// URL [default: `LEDGERLY_DB`, else ledgerly.db]; created if missing
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) db: Option<PathBuf>,

    /// The sandbox processor's books: a SQLite file, or a postgres:// URL [default: ledgerly-sandbox.db beside the ledger file, or the ledger's database]
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) sandbox_db: Option<PathBuf>,

    /// Real time each sandbox request takes, like a network round trip
    /// (0, or a whole number with us, ms, s or m: 2ms; at most 1m)
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_latency)]
    pub(crate) sandbox_latency: Duration,

    /// The account's rate limit at the sandbox processor, in requests per
    /// second for every worker sharing its books [default: unlimited]; beyond
    /// it a request is answered `rate_limited` (429) and moves no money
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) sandbox_rate_limit: Option<u32>,

    /// Gateway requests this worker keeps in flight at once (one when
    /// there is no --sandbox-latency: the sandbox then answers in-process)
    #[arg(long, value_name = "N", default_value_t = sandbox::DEFAULT_CONCURRENCY, value_parser = sandbox::parse_concurrency)]
    pub(crate) concurrency: usize,

    /// Also write the run's summary to FILE, as one JSON object
    #[arg(long, value_name = "FILE")]
    pub(crate) summary: Option<PathBuf>,

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

    /// Who this worker is in the claims it holds, with a nonce of this run added (name/1a2b3c4d), so two runs given one name never share claims [default: hostname:pid]
    #[arg(long, value_name = "NAME")]
    pub(crate) worker: Option<String>,

    /// How long a claim lasts before another worker may take it over
    /// (a whole number with us, ms, s or m)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_lease)]
    pub(crate) claim_timeout: Duration,

    /// Charge an invoice whose tier pricing does not know, without a tier
    /// discount (warned about once per name); without this flag such an
    /// invoice is refused (an error record, exit 65), since it would be
    /// billed at full price
    #[arg(long)]
    pub(crate) allow_unknown_tiers: bool,
}

/// The sandbox gateway as `charge` uses it: over its books in a file or a
/// database.
type Sandbox = FakeGateway<AnyBooks>;

/// The gateway `charge` sends through: the sandbox, metered (requests per
/// invoice and for the run), paced under the processor's rate limit.
type Gateway<'a> = sandbox::Client<'a, &'a Sandbox>;

/// The service `charge` collects through: that gateway and the ledger,
/// borrowed for the run.
type Service<'a> = BillingService<&'a Gateway<'a>, &'a AnyLedger, ThreadSleeper, SystemClock>;

/// This run as one worker of the charge run: billing's rules for claims,
/// takeovers and payment methods changed on a re-read.
type RunWorker<'a> = Worker<'a, &'a Gateway<'a>, &'a AnyLedger, ThreadSleeper, SystemClock>;

/// What the records of a run said so far, for its exit status.
#[derive(Debug, Default)]
struct Tally {
    invalid: bool,
    unpaid: bool,
}

impl Tally {
    fn status(&self) -> Status {
        status(self.invalid, self.unpaid)
    }
}

/// One input line waiting in a batch.
enum Entry {
    /// Refused before issuing: its error record.
    Refused { id: Option<String>, error: String },
    /// To issue and collect.
    Invoice(Invoice),
}

/// One run of `charge`: what every input line is collected with, and what
/// the run has said so far.
struct Run<'a> {
    worker: RunWorker<'a>,
    format: ChargeFormat,
    allow_unknown_tiers: bool,
    diagnostics: Diagnostics<io::Stderr>,
    tally: Tally,
    /// The lines of the current batch, in input order.
    batch: Vec<(u64, Entry)>,
    /// The ids of the invoices in the batch.
    ids: HashSet<String>,
    batch_size: usize,
    /// Invoices per second the last batch was settled at (`None` before
    /// the first).
    pace_seen: Option<u64>,
    summary: Summary,
}

/// How many invoices share a batch: [`MAX_BATCH`], or fewer when each
/// request takes `latency`. One at a time, a batch waits about
/// [`BATCH_WAIT`]. With `concurrency` in flight, a batch holds
/// [`ROUND_TRIPS`] round trips of them (or [`BATCH_WAIT`]'s worth, if more):
/// a batch's fixed costs (its commits, and the one search of the
/// processor's captures, a round trip itself) then stay a small part of it,
/// and the requests of its last round trip, which wait for the slowest,
/// leave few slots idle.
fn batch_size(latency: Duration, concurrency: usize) -> usize {
    if latency.is_zero() {
        return MAX_BATCH;
    }
    let fits = usize::try_from(BATCH_WAIT.as_nanos() / latency.as_nanos()).unwrap_or(MAX_BATCH);
    let size = if concurrency <= 1 {
        fits
    } else {
        concurrency.saturating_mul(fits.max(ROUND_TRIPS))
    };
    size.clamp(1, MAX_BATCH)
}

/// Runs `ledgerly charge`.
pub(crate) fn run(args: &Args, console: Console) -> Result<Status, AppError> {
    let policy = RetryPolicy::new(args.max_attempts, BASE_DELAY, MAX_DELAY)
        .map_err(|error| AppError::usage(Cmd::Charge, format!("--max-attempts: {error}")))?;
    let worker = worker_id(args.worker.as_deref())
        .map_err(|error| AppError::usage(Cmd::Charge, format!("--worker: {error}")))?;
    let reader = open_input(&args.input)?;
    let (ledger, books) =
        store::open_ledger_and_books(args.db.as_deref(), args.sandbox_db.as_deref(), Open::Create)?;
    let started = Instant::now();
    let concurrency = sandbox::in_flight(args.concurrency, args.sandbox_latency);
    let limit = args.sandbox_rate_limit.and_then(NonZeroU32::new);
    let processor = sandbox::processor(books, args.sandbox_latency, limit);
    let metered = Metered::new(&processor);
    let pace = Pace::new();
    let gateway = sandbox::client(&metered, &pace);
    // The notice goes to stderr so the records on stdout stay machine-readable.
    console.notice(&mut io::stderr(), SANDBOX_NOTICE);
    let service: Service<'_> =
        BillingService::new(&gateway, &ledger, ThreadSleeper, SystemClock, policy)
            .with_concurrency(concurrency);
    let mut run = Run {
        worker: Worker::new(&service, worker, args.claim_timeout),
        format: args.format,
        allow_unknown_tiers: args.allow_unknown_tiers,
        diagnostics: Diagnostics::stderr(console),
        tally: Tally::default(),
        batch: Vec::new(),
        ids: HashSet::new(),
        batch_size: batch_size(args.sandbox_latency, concurrency),
        pace_seen: None,
        summary: Summary::default(),
    };

    let pool = BufferPool::default();
    let mut out = io::stdout().lock();
    let mut records = Vec::with_capacity(256);
    let mut read_any = false;
    for block in LineBlocks::new(reader, &pool, BLOCK_SIZE, MAX_LINE) {
        let block = block.map_err(|source| AppError::input(&args.input, source))?;
        let lines: Box<dyn Iterator<Item = (u64, Option<&[u8]>)>> = match &block {
            Block::TooLong { line } => Box::new(std::iter::once((*line, None))),
            Block::Lines { first_line, data } => Box::new(
                numbered_lines(*first_line, data)
                    .filter(|(_, bytes)| !is_blank(bytes))
                    .map(|(line, bytes)| (line, Some(bytes))),
            ),
        };
        for (line, bytes) in lines {
            let entry = match bytes {
                Some(bytes) => run.read_line(bytes),
                None => Entry::Refused {
                    id: None,
                    error: LineTooLong.to_string(),
                },
            };
            // An id already in the batch depends on how its first line ends.
            let repeated = matches!(&entry, Entry::Invoice(invoice)
                if run.ids.contains(invoice.id().as_str()));
            if (repeated
                || run.batch.len() >= run.batch_limit(&pace, args.claim_timeout, concurrency))
                && let Some(status) = run.settle(&mut out, &mut records)?
            {
                return Ok(status);
            }
            if let Entry::Invoice(invoice) = &entry {
                run.ids.insert(invoice.id().as_str().to_owned());
            }
            run.batch.push((line, entry));
            read_any = true;
        }
        // What has arrived is settled before waiting for more input.
        if let Some(status) = run.settle(&mut out, &mut records)? {
            return Ok(status);
        }
        if let Block::Lines { data, .. } = block {
            pool.put(data);
        }
    }
    if !read_any {
        // Said before the sweep, which may wait on other workers: an empty
        // input is more often a failed export than a day with nothing due.
        console.warning(format_args!(
            "no invoice was read from {}",
            input_name(&args.input).display()
        ));
    }
    if let Some(status) = run.sweep(console, &mut out, &mut records)? {
        return Ok(status);
    }
    // Every worker's exit code tells the truth about the whole run: an
    // attempt still pending or unknown that no live worker is collecting
    // (another worker's lost reply, a run killed earlier) is money in
    // doubt that this run did not settle. What a worker started later is
    // collecting right now is that worker's to settle and report.
    if run.worker.unsettled_remain()? {
        run.tally.unpaid = true;
        console.warning(
            "some payment attempts in the ledger stay pending or unknown: \
             `ledgerly invoices --status unknown` lists them; charge again, or reconcile",
        );
    }
    run.diagnostics.finish();
    run.summarize(args, console, metered.requests(), started.elapsed())?;
    Ok(run.tally.status())
}

impl Run<'_> {
    /// Reads one input line into an invoice to issue, or its refusal.
    fn read_line(&mut self, bytes: &[u8]) -> Entry {
        let line = match jsonl::parse_charge_line(bytes) {
            Ok(line) => line,
            Err(rejected) => {
                return Entry::Refused {
                    id: rejected.id.map(std::borrow::Cow::into_owned),
                    error: rejected.error.to_string(),
                };
            }
        };
        // A command that moves money is never more lenient than one that
        // only prices: a tier pricing does not know would be billed at full
        // price, so it is refused unless the operator says otherwise.
        if let Tier::Unrecognized(name) = line.input.tier() {
            if !self.allow_unknown_tiers {
                let error = format!(
                    "unknown tier {:?}: charge refuses a tier pricing does not know \
                     (pass --allow-unknown-tiers to charge it without a tier discount)",
                    excerpt(name)
                );
                return Entry::Refused {
                    id: Some(line.id.into_owned()),
                    error,
                };
            }
            self.diagnostics.unknown_tiers(&[(name.clone(), 1)]);
        }
        let id = line.id.to_string();
        match invoice_of(line) {
            Ok(invoice) => Entry::Invoice(invoice),
            Err(error) => Entry::Refused {
                id: Some(id),
                error,
            },
        }
    }

    /// Issues and collects the batch, and writes its records in input
    /// order, as one section a signal does not cut: a stop loses no record
    /// of a request already sent. `Some` ends the run with that status (its
    /// output's reader went away).
    fn settle(
        &mut self,
        out: &mut impl Write,
        records: &mut Vec<u8>,
    ) -> Result<Option<Status>, AppError> {
        if self.batch.is_empty() {
            return Ok(None);
        }
        records.clear();
        let started = Instant::now();
        let written = signals::writing(|| {
            self.settle_batch(records)
                .map(|()| out.write_all(records).and_then(|()| out.flush()))
        });
        self.pace_seen = Some(per_second(self.batch.len(), started.elapsed()));
        self.batch.clear();
        self.ids.clear();
        if let Err(error) = written? {
            return closed_pipe_or(error, self.tally.status()).map(Some);
        }
        signals::stop_if_asked(out);
        Ok(None)
    }

    /// The records of the batch, into `records`.
    fn settle_batch(&mut self, records: &mut Vec<u8>) -> Result<(), AppError> {
        let invoices: Vec<Invoice> = self
            .batch
            .iter()
            .filter_map(|(_, entry)| match entry {
                Entry::Invoice(invoice) => Some(invoice.clone()),
                Entry::Refused { .. } => None,
            })
            .collect();
        let mut settled = self.worker.charge_batch(&invoices)?.into_iter();
        for (line, entry) in &self.batch {
            let written = match entry {
                Entry::Refused { id, error } => {
                    self.tally.invalid = true;
                    self.summary.count("invalid");
                    write_invalid(records, self.format, *line, id.as_deref(), error)
                }
                Entry::Invoice(invoice) => {
                    let id = invoice.id().as_str();
                    let collected = match settled.next() {
                        Some(Settled::Refused(error)) => {
                            self.tally.invalid = true;
                            self.summary.count("invalid");
                            let error = match error {
                                BillingError::Pricing { error, .. } => error.to_string(),
                                error => error.to_string(),
                            };
                            write_invalid(records, self.format, *line, Some(id), &error)
                                .map_err(AppError::Output)?;
                            continue;
                        }
                        Some(Settled::HeldBy {
                            total,
                            currency,
                            worker,
                        }) => Collected {
                            total,
                            currency,
                            requests: 0,
                            outcome: Outcome::Claimed {
                                worker: worker.to_string(),
                            },
                        },
                        Some(Settled::Collected {
                            total,
                            currency,
                            result,
                        }) => {
                            let requests = self.worker.service().gateway().inner().take(id);
                            captured(&mut self.summary, requests, &result);
                            collected(total, currency, requests, result)
                        }
                        None => continue,
                    };
                    self.summary.count(collected.outcome.name());
                    // Another worker's invoice is its to report.
                    self.tally.unpaid |= !matches!(
                        collected.outcome,
                        Outcome::Paid { .. } | Outcome::Claimed { .. }
                    );
                    write_collected(records, self.format, *line, id, &collected)
                }
            };
            written.map_err(AppError::Output)?;
        }
        Ok(())
    }

    /// At the end of the input: billing's sweep takes over every claim
    /// whose lease ran out (its worker died) and collects it, and waits
    /// until no other worker holds a claim, so that the run ends settled;
    /// here their records are written, with line 0 (they come from the
    /// ledger, not from this run's input). `Some` ends the run with that
    /// status (its output's reader went away).
    fn sweep(
        &mut self,
        console: Console,
        out: &mut impl Write,
        records: &mut Vec<u8>,
    ) -> Result<Option<Status>, AppError> {
        let mut waiting_said = false;
        let worker = &self.worker;
        let (format, tally, summary) = (self.format, &mut self.tally, &mut self.summary);
        let mut write_taken = |taken: &[TakenOver]| {
            records.clear();
            let written = signals::writing(|| {
                for invoice in taken {
                    let id = invoice.id.as_str();
                    let requests = worker.service().gateway().inner().take(id);
                    captured(summary, requests, &invoice.result);
                    let collected = collected(
                        invoice.total,
                        invoice.currency,
                        requests,
                        invoice.result.clone(),
                    );
                    summary.count(collected.outcome.name());
                    tally.unpaid |= !matches!(collected.outcome, Outcome::Paid { .. });
                    write_collected(records, format, 0, id, &collected)?;
                }
                out.write_all(records).and_then(|()| out.flush())
            });
            if let Err(error) = written {
                return Err(match closed_pipe_or(error, tally.status()) {
                    Ok(status) => SweepEnd::Closed(status),
                    Err(error) => SweepEnd::Failed(error),
                });
            }
            signals::stop_if_asked(out);
            Ok(())
        };
        // Supplementary invoices (billed undercharges) first: they come
        // from the ledger, like the claims the sweep takes over.
        let supplementary = worker.collect_supplementary(SWEEP_PAGE, |event| match event {
            Sweep::TakenOver(taken) => write_taken(taken),
            Sweep::Waiting { .. } => Ok(()),
        });
        if let Err(end) = supplementary {
            return match end {
                SweepEnd::Closed(status) => Ok(Some(status)),
                SweepEnd::Failed(error) => Err(error),
            };
        }
        let swept = worker.sweep(SWEEP_PAGE, SWEEP_POLL, |event| match event {
            Sweep::TakenOver(taken) => write_taken(taken),
            Sweep::Waiting { held_elsewhere } => {
                if !waiting_said {
                    console.notice(
                        &mut io::stderr(),
                        format!(
                            "waiting: other workers hold {held_elsewhere} claim(s); their invoices \
                             are settled by them, or taken over here if their claims run out"
                        ),
                    );
                    waiting_said = true;
                }
                Ok(())
            }
        });
        match swept {
            Ok(()) => Ok(None),
            Err(SweepEnd::Closed(status)) => Ok(Some(status)),
            Err(SweepEnd::Failed(error)) => Err(error),
        }
    }
}

/// How the sweep ended early: its output's reader went away (the run ends
/// with that status), or it failed.
enum SweepEnd {
    Closed(Status),
    Failed(AppError),
}

impl From<BillingError> for SweepEnd {
    fn from(error: BillingError) -> Self {
        SweepEnd::Failed(AppError::Billing(error))
    }
}

impl Run<'_> {
    /// The most invoices the next batch holds: [`batch_size`], and no more
    /// than a third of a claim's lease at the pace the last batch went (or
    /// the processor's rate limit allows this worker, if slower), so that
    /// no claim runs out under a live worker (another would take its
    /// invoices over and send their requests again: no money twice, but
    /// requests and time wasted). The first batch, before any pace is
    /// known, is cut to [`FIRST_ROUND_TRIPS`] round trips of requests.
    fn batch_limit(&self, pace: &Pace, lease: Duration, concurrency: usize) -> usize {
        batch_limit(
            self.batch_size,
            self.pace_seen
                .map(|seen| pace.rate().map_or(seen, |allowed| allowed.min(seen))),
            lease,
            concurrency,
        )
    }

    /// Says what the run did: on stderr unless `--quiet`, and as JSON in
    /// `--summary FILE`.
    fn summarize(
        &self,
        args: &Args,
        console: Console,
        requests: sandbox::Requests,
        elapsed: Duration,
    ) -> Result<(), AppError> {
        let line = self.summary.line("charge", "invoices", requests, elapsed);
        console.notice(&mut io::stderr(), line);
        match &args.summary {
            Some(path) => self
                .summary
                .write_json(path, "charge", "invoices", requests, elapsed),
            None => Ok(()),
        }
    }
}

/// [`Run::batch_limit`]'s arithmetic: `batch_size`, cut to
/// [`FIRST_ROUND_TRIPS`] of `concurrency` before any pace is known, else
/// to a third of `lease` at `per_second` (never below one round of
/// `concurrency`).
fn batch_limit(
    batch_size: usize,
    per_second: Option<u64>,
    lease: Duration,
    concurrency: usize,
) -> usize {
    let Some(per_second) = per_second else {
        return batch_size.min(concurrency.saturating_mul(FIRST_ROUND_TRIPS));
    };
    let fits = per_second.saturating_mul(lease.as_secs().max(1)) / 3;
    batch_size
        .min(usize::try_from(fits).unwrap_or(usize::MAX))
        .max(concurrency.min(batch_size))
}

/// `count` items per second over `elapsed` (whole, at least a millisecond).
fn per_second(count: usize, elapsed: Duration) -> u64 {
    let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    u64::try_from(count)
        .unwrap_or(u64::MAX)
        .saturating_mul(1000)
        / millis.max(1)
}

/// Counts what this run's requests captured for an invoice: its charge,
/// when the run sent a charge request for it (a payment found from an
/// earlier run moved no money now).
fn captured(summary: &mut Summary, requests: usize, result: &Result<Payment, BillingError>) {
    if let Ok(Payment::Charged(charge)) = result
        && requests > 0
    {
        summary.captured(charge.amount().currency(), charge.amount().minor_units());
    }
}

/// The run's status: invalid input outranks unpaid invoices.
fn status(invalid: bool, unpaid: bool) -> Status {
    if invalid {
        Status::SomeInvalid
    } else if unpaid {
        Status::SomeUnpaid
    } else {
        Status::Success
    }
}

/// The invoice a line asks to issue. `Err` is a message for an invalid
/// invoice: one whose fields billing refuses.
fn invoice_of(line: ChargeInvoice<'_>) -> Result<Invoice, String> {
    let id = InvoiceId::new(line.id.as_ref()).map_err(|error| error.to_string())?;
    let customer = CustomerId::new(line.customer.as_ref()).map_err(|error| error.to_string())?;
    let method =
        PaymentMethod::new(line.payment_method.as_ref()).map_err(|error| error.to_string())?;
    let currency = match &line.currency {
        None => Currency::Usd,
        Some(code) => code
            .parse()
            .map_err(|error: payment_gateway::InvalidRequest| error.to_string())?,
    };
    Ok(Invoice::new(id, customer, method, currency, line.input))
}

/// The record of a collected invoice. Declines and other failed payments
/// are outcomes, not errors.
fn collected(
    total: Money,
    currency: Currency,
    requests: usize,
    result: Result<Payment, BillingError>,
) -> Collected {
    let outcome = match result {
        Ok(Payment::Charged(charge)) => Outcome::Paid {
            charge_id: Some(charge.id().as_str().to_owned()),
        },
        Ok(Payment::NothingDue) => Outcome::Paid { charge_id: None },
        Err(BillingError::Declined { code, .. }) => Outcome::Declined {
            code: code.as_str().to_owned(),
        },
        Err(error) => return failed(total, currency, requests, &error),
    };
    Collected {
        total,
        currency,
        requests,
        outcome,
    }
}

fn failed(total: Money, currency: Currency, requests: usize, error: &BillingError) -> Collected {
    Collected {
        total,
        currency,
        requests,
        outcome: Outcome::Failed {
            error: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use clap::error::ErrorKind;

    /// `charge`'s flags alone, parsed as the command line parses them
    /// (the command line itself is a layer above).
    #[derive(Debug, Parser)]
    struct Charge {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn charge_needs_an_input_and_at_least_one_attempt() {
        let error = Charge::try_parse_from(["charge"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        let error = Charge::try_parse_from(["charge", "--input", "a.jsonl", "--max-attempts", "0"])
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ValueValidation);
        let args = Charge::try_parse_from(["charge", "--input", "a.jsonl"])
            .unwrap()
            .args;
        assert_eq!(args.max_attempts, 4);
        assert_eq!(args.format, ChargeFormat::Jsonl);
    }

    #[test]
    fn one_at_a_time_a_sandbox_latency_cuts_the_batch_to_about_a_tenth_of_a_second() {
        let size = |latency| batch_size(latency, 1);
        assert_eq!(size(Duration::ZERO), MAX_BATCH);
        assert_eq!(size(Duration::from_millis(2)), 50);
        assert_eq!(size(Duration::from_millis(100)), 1);
        assert_eq!(size(Duration::from_secs(1)), 1);
        assert_eq!(size(Duration::from_micros(10)), MAX_BATCH);
        assert_eq!(size(Duration::from_micros(100)), 1000);
    }

    #[test]
    fn with_requests_in_flight_a_batch_holds_twenty_round_trips_of_them() {
        let size = |latency, concurrency| batch_size(latency, concurrency);
        assert_eq!(size(Duration::from_millis(300), 64), 1280);
        assert_eq!(size(Duration::from_millis(300), 16), 320);
        assert_eq!(size(Duration::from_millis(300), 1024), MAX_BATCH);
        // A short round trip: a tenth of a second's worth, if more.
        assert_eq!(size(Duration::from_millis(2), 16), 800);
        assert_eq!(size(Duration::ZERO, 64), MAX_BATCH);
    }

    #[test]
    fn a_batch_lasts_at_most_a_third_of_a_lease_at_the_pace_the_last_one_went() {
        let lease = Duration::from_secs(30);
        // Before any pace: two round trips of requests in flight.
        assert_eq!(batch_limit(1280, None, lease, 64), 128);
        assert_eq!(batch_limit(20, None, lease, 1), 2);
        // At 33 a second, ten seconds' worth.
        assert_eq!(batch_limit(1280, Some(33), lease, 64), 330);
        // Never below one round of requests in flight, never above the size.
        assert_eq!(batch_limit(1280, Some(1), lease, 64), 64);
        assert_eq!(batch_limit(1280, Some(1_000), lease, 64), 1280);
    }

    #[test]
    fn the_pace_a_batch_went_is_its_invoices_per_second() {
        assert_eq!(per_second(330, Duration::from_secs(10)), 33);
        assert_eq!(per_second(64, Duration::from_millis(500)), 128);
        assert_eq!(per_second(5, Duration::ZERO), 5_000);
    }

    #[test]
    fn invalid_input_outranks_unpaid_invoices_in_the_status() {
        assert_eq!(status(false, false), Status::Success);
        assert_eq!(status(false, true), Status::SomeUnpaid);
        assert_eq!(status(true, false), Status::SomeInvalid);
        assert_eq!(status(true, true), Status::SomeInvalid);
    }
}
