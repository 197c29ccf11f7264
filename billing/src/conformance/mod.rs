//! The checks every [`Ledger`] backend must pass (feature `conformance`).
//!
//! Each check is a function taking `open`, which opens a handle on one
//! storage that starts empty: every call opens the *same* storage (for a
//! file, a new connection to it; for memory, another handle on the same
//! maps), as a second process or a rerun would. A check panics, naming what
//! broke, when the backend breaks a rule, so a backend's tests call them
//! from `#[test]` functions, most simply through [`conformance_tests!`]:
//!
//! ```
//! # #[cfg(feature = "conformance")] {
//! use billing::InMemoryLedger;
//! use std::sync::Arc;
//!
//! fn open_memory() -> impl Fn() -> Arc<InMemoryLedger> + Sync {
//!     let shared = Arc::new(InMemoryLedger::new());
//!     move || Arc::clone(&shared)
//! }
//! billing::conformance::issue_stores_a_new_invoice_and_returns_it_unchanged(&open_memory());
//! # }
//! ```
//!
//! [`crash_and_rerun`] is the crash-safety property: faults injected at each
//! point of `collect` (after the attempt is written, after the processor
//! captured but before the ledger recorded it, after recording), then fresh
//! services on the same storage rerun; backends drive it with proptest.
//!
//! [`conformance_tests!`]: crate::conformance_tests

// A conformance check is a test: a broken rule is a panic with a message,
// which the calling `#[test]` reports as a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use payment_gateway::{
    Amount, ChargeId, Currency, DeclineCode, FakeGateway, InMemoryBooks, ManualClock,
    PaymentGateway, PaymentMethod,
};
use pricing::{DaysOverdue, LineItem, PricingInput, Tier};

use crate::{
    Attempt, AttemptOutcome, AttemptUpdate, BillingService, CustomerId, Invoice, InvoiceId,
    InvoiceRecord, IssuedInvoice, Ledger, LedgerError, LedgerErrorKind, RecordingSleeper,
    RetryPolicy,
};

mod attempts;
mod claims;
mod collecting;
mod corrections;
mod crash;
mod issuing;
mod listings;
pub mod strategies;

pub use attempts::*;
pub use claims::*;
pub use collecting::*;
pub use corrections::*;
pub use crash::*;
pub use issuing::*;
pub use listings::*;

/// Generates one `#[test]` per conformance check, each on a fresh storage
/// from `$fresh` (an expression giving a new opener: `Fn() -> L + Sync`).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            issue_stores_a_new_invoice_and_returns_it_unchanged,
            issuing_the_same_invoice_again_is_a_no_op,
            issuing_different_content_under_an_issued_id_is_refused_naming_the_field,
            the_same_inputs_issued_under_other_rates_are_the_same_invoice_and_its_stored_total_is_charged,
            a_batch_issue_reports_each_invoice_in_order,
            an_unknown_invoice_is_none,
            get_all_reads_each_invoice_in_the_order_asked,
            a_pending_attempt_is_stored_before_anything_is_sent,
            an_attempt_is_appended_only_after_a_final_one,
            a_batch_of_attempts_is_written_all_or_nothing,
            a_capture_is_never_replaced_and_a_stale_outcome_is_ignored,
            an_invoice_never_holds_two_captured_attempts,
            writes_to_a_missing_invoice_or_attempt_are_not_found,
            the_status_follows_from_the_attempts,
            a_new_payment_method_is_used_by_the_next_attempt_only,
            listings_page_in_id_order_and_filter_by_status_and_id,
            unsettled_attempts_page_in_order,
            timestamps_and_amounts_round_trip_exactly,
            a_paid_invoice_sends_no_request_and_a_zero_total_is_paid_without_a_charge,
            a_rerun_resumes_a_pending_attempt_under_its_key,
            a_rerun_25_hours_later_charges_nothing_twice,
            reconcile_settles_by_lookup_never_by_charging,
            a_lookup_that_finds_nothing_never_opens_a_new_key,
            a_ledger_that_forgot_is_held_to_the_processors_captures,
            a_resumed_attempt_is_held_to_captures_under_other_keys,
            no_new_attempt_begins_when_the_processors_captures_cannot_be_read,
            a_crash_at_every_point_of_collect_is_resumed_with_one_capture,
            two_services_collecting_the_same_invoices_at_once_capture_each_once,
            a_batch_collect_shares_commits_and_charges_each_once,
            a_claimed_invoice_is_held_from_other_workers_until_released,
            a_claim_whose_lease_ran_out_is_taken_over,
            workers_claiming_at_once_get_each_invoice_once,
            claims_are_listed_in_pages_saying_whose_and_whether_expired,
            a_filtered_listing_reads_past_the_first_chunk_of_invoices,
            a_credit_note_is_written_once_per_invoice_and_correction,
            refund_outcomes_move_forward_only_and_unsettled_ones_are_listed,
            the_next_charge_collects_the_amount_due_after_pre_payment_credit_notes,
            credit_notes_page_in_order_and_filter_by_correction,
        );
    };
    (@each $fresh:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::$check(&$fresh);
            }
        )*
    };
}

/// The worked example's total, in cents.
pub const WORKED_TOTAL: i64 = 14169;

fn id(text: &str) -> InvoiceId {
    InvoiceId::new(text).unwrap()
}

fn method(token: &str) -> PaymentMethod {
    PaymentMethod::new(token).unwrap()
}

/// The worked example (141.69) as invoice `invoice`, paid with `token`.
pub fn worked_example(invoice: &str, token: &str) -> Invoice {
    let items = vec![
        LineItem::new("40.00".parse().unwrap(), "3".parse().unwrap()),
        LineItem::new("15".parse().unwrap(), "2".parse().unwrap()),
    ];
    Invoice::new(
        id(invoice),
        CustomerId::new("cus_1").unwrap(),
        method(token),
        Currency::Usd,
        PricingInput::new(items, Tier::Gold, true, DaysOverdue::from(45)).unwrap(),
    )
}

fn free_invoice(invoice: &str) -> Invoice {
    let items = vec![LineItem::new("0".parse().unwrap(), "5".parse().unwrap())];
    Invoice::new(
        id(invoice),
        CustomerId::new("cus_0").unwrap(),
        method("tok_success"),
        Currency::Eur,
        PricingInput::new(items, Tier::None, false, DaysOverdue::from(0)).unwrap(),
    )
}

/// A clock at 2025-12-01 10:00:00.123 UTC, shared by a check's services and
/// gateways.
/// One sandbox processor that every gateway of a check talks to (its books
/// and its clock), as one real processor serves every run.
struct Processor {
    books: Arc<InMemoryBooks>,
    clock: ManualClock,
}

impl Processor {
    fn new() -> Processor {
        Processor {
            books: Arc::new(InMemoryBooks::new()),
            clock: clock(),
        }
    }

    /// A new gateway, as a new run opens one, on the processor's books.
    fn gateway(&self) -> FakeGateway<Arc<InMemoryBooks>> {
        FakeGateway::with_books(Arc::clone(&self.books)).with_clock(self.clock.clone())
    }

    /// A run on `ledger` that sends each charge once (no retries).
    fn once<L: Ledger>(
        &self,
        ledger: L,
    ) -> BillingService<FakeGateway<Arc<InMemoryBooks>>, L, RecordingSleeper, ManualClock> {
        BillingService::new(
            self.gateway(),
            ledger,
            RecordingSleeper::new(),
            self.clock.clone(),
            policy(1),
        )
    }
}

fn clock() -> ManualClock {
    ManualClock::at_unix_millis(1_764_583_200_123)
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::new(
        max_attempts,
        Duration::from_millis(1),
        Duration::from_millis(4),
    )
    .unwrap()
}

type Service<G, L> = BillingService<G, L, RecordingSleeper, ManualClock>;

fn service<G: PaymentGateway, L: Ledger>(
    gateway: G,
    ledger: L,
    clock: &ManualClock,
) -> Service<G, L> {
    BillingService::new(
        gateway,
        ledger,
        RecordingSleeper::new(),
        clock.clone(),
        policy(3),
    )
}

/// Issues `invoices` into a new handle from `open`, at the standard clock.
fn issue_all<L: Ledger>(open: &dyn Fn() -> L, invoices: &[Invoice]) -> Vec<IssuedInvoice> {
    let service = service(FakeGateway::new(), open(), &clock());
    service
        .issue_all(invoices)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

fn record<L: Ledger>(ledger: &L, invoice: &str) -> InvoiceRecord {
    ledger
        .get(&id(invoice))
        .unwrap()
        .unwrap_or_else(|| panic!("invoice {invoice} is not in the ledger"))
}

fn pending(invoice: &str, number: u32, at: SystemTime) -> Attempt {
    Attempt::pending(
        id(invoice),
        number,
        method("tok_success"),
        Amount::new(WORKED_TOTAL, Currency::Usd).unwrap(),
        at,
    )
    .unwrap()
}

fn update(invoice: &str, number: u32, outcome: AttemptOutcome, at: SystemTime) -> AttemptUpdate {
    AttemptUpdate::new(id(invoice), number, outcome, at)
}

fn captured(charge: &str) -> AttemptOutcome {
    AttemptOutcome::Captured(ChargeId::new(charge).unwrap())
}

fn declined() -> AttemptOutcome {
    AttemptOutcome::Declined(DeclineCode::CardDeclined)
}

fn assert_conflict(result: Result<(), LedgerError>, what: &str) {
    match result {
        Err(error) if error.kind() == LedgerErrorKind::Conflict => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}
