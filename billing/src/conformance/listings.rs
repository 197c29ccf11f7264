//! Listings: invoices and unsettled attempts a page at a time, in order
//! and filtered, and values that round-trip exactly.

use payment_gateway::{Clock, FakeGateway, from_unix_millis, unix_millis};

use crate::{
    AttemptOutcome, Invoice, InvoiceFilter, InvoiceId, InvoiceRecord, InvoiceStatus, IssuedInvoice,
    IssuedParts, Ledger, Payment, StatusKind,
};

use super::{
    clock, declined, free_invoice, id, issue_all, pending, record, service, update, worked_example,
};

/// Listings come in pages in id order, and filter by status and by id.
pub fn listings_page_in_id_order_and_filter_by_status_and_id<L: Ledger>(open: &dyn Fn() -> L) {
    let invoices: Vec<Invoice> = (0..7)
        .map(|n| {
            let token = if n % 2 == 0 {
                "tok_success"
            } else {
                "tok_card_declined"
            };
            worked_example(&format!("INV-{n}"), token)
        })
        .collect();
    issue_all(open, &invoices);
    let service = service(FakeGateway::new(), open(), &clock());
    for n in 0..6 {
        let _ = service.collect(&id(&format!("INV-{n}")));
    }
    let ledger = open();

    let mut seen = Vec::new();
    let mut after: Option<InvoiceId> = None;
    // Seven invoices in pages of three: a fourth page means the cursor is
    // ignored, and the check fails instead of paging forever.
    for page_number in 0.. {
        assert!(page_number < 4, "listing does not end: {seen:?}");
        let page = ledger
            .list(&InvoiceFilter::all(), after.as_ref(), 3)
            .unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.invoice().id().clone());
        seen.extend(page.iter().map(|r| r.invoice().id().to_string()));
    }
    assert_eq!(
        seen,
        [
            "INV-0", "INV-1", "INV-2", "INV-3", "INV-4", "INV-5", "INV-6"
        ]
    );

    let ids = |filter: InvoiceFilter| -> Vec<String> {
        ledger
            .list(&filter, None, 100)
            .unwrap()
            .iter()
            .map(|r| r.invoice().id().to_string())
            .collect()
    };
    assert_eq!(
        ids(InvoiceFilter::all().with_status(StatusKind::Paid)),
        ["INV-0", "INV-2", "INV-4"]
    );
    assert_eq!(
        ids(InvoiceFilter::all().with_status(StatusKind::Failed)),
        ["INV-1", "INV-3", "INV-5"]
    );
    assert_eq!(
        ids(InvoiceFilter::all().with_status(StatusKind::Open)),
        ["INV-6"]
    );
    assert!(ids(InvoiceFilter::all().with_status(StatusKind::Unknown)).is_empty());
    assert_eq!(ids(InvoiceFilter::all().with_id(id("INV-3"))), ["INV-3"]);
    let by_id = InvoiceFilter::all().with_id(id("INV-3"));
    assert_eq!(ledger.list(&by_id, Some(&id("INV-2")), 5).unwrap().len(), 1);
    assert!(
        ledger
            .list(&by_id, Some(&id("INV-3")), 5)
            .unwrap()
            .is_empty()
    );
    assert!(
        ledger
            .list(&by_id, Some(&id("INV-4")), 5)
            .unwrap()
            .is_empty()
    );
    assert!(ledger.list(&by_id, None, 0).unwrap().is_empty());
    assert!(
        ledger
            .list(&InvoiceFilter::all(), None, 0)
            .unwrap()
            .is_empty()
    );
    assert!(
        ids(InvoiceFilter::all()
            .with_id(id("INV-3"))
            .with_status(StatusKind::Paid))
        .is_empty()
    );
    let paged = ledger
        .list(
            &InvoiceFilter::all().with_status(StatusKind::Paid),
            Some(&id("INV-0")),
            1,
        )
        .unwrap();
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0].invoice().id().as_str(), "INV-2");
}

/// Unsettled attempts (pending and unknown only) come in pages in
/// (invoice, number) order.
pub fn unsettled_attempts_page_in_order<L: Ledger>(open: &dyn Fn() -> L) {
    issue_all(
        open,
        &[
            worked_example("A", "tok_success"),
            worked_example("B", "tok_success"),
            worked_example("C", "tok_success"),
        ],
    );
    let ledger = open();
    let at = clock().now();
    ledger
        .begin_attempts(&[
            pending("A", 1, at),
            pending("B", 1, at),
            pending("C", 1, at),
        ])
        .unwrap();
    ledger
        .finish_attempts(&[
            update("A", 1, declined(), at),
            update("C", 1, AttemptOutcome::Unknown("lost".into()), at),
        ])
        .unwrap();
    ledger.begin_attempts(&[pending("A", 2, at)]).unwrap();

    let all: Vec<(String, u32)> = ledger
        .unsettled_attempts(None, 10)
        .unwrap()
        .iter()
        .map(|a| (a.invoice().to_string(), a.number()))
        .collect();
    assert_eq!(
        all,
        [
            ("A".to_owned(), 2),
            ("B".to_owned(), 1),
            ("C".to_owned(), 1)
        ]
    );
    let page = ledger.unsettled_attempts(Some((&id("A"), 2)), 1).unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!((page[0].invoice().as_str(), page[0].number()), ("B", 1));
    assert!(
        ledger
            .unsettled_attempts(Some((&id("C"), 1)), 10)
            .unwrap()
            .is_empty()
    );
}

/// Times keep their millisecond, amounts their cents and currency, rates
/// their exact text and version.
pub fn timestamps_and_amounts_round_trip_exactly<L: Ledger>(open: &dyn Fn() -> L) {
    let base = issue_all(&|| crate::InMemoryLedger::new(), &[free_invoice("EUR-0")]).remove(0);
    let odd = IssuedInvoice::restore(IssuedParts {
        rates: crate::Rates::from_text(
            ["0.1234", "0.1", "0.05", "0.020", "0.0825", "0.05"],
            45,
            Some("2026-12-rates".to_owned()),
        )
        .unwrap(),
        issued_at: from_unix_millis(1_764_583_200_999),
        ..base.parts().clone()
    })
    .unwrap();
    open().issue(std::slice::from_ref(&odd)).unwrap();
    let stored = record(&open(), "EUR-0");
    assert_eq!(stored.invoice(), &odd);
    assert_eq!(stored.invoice().rates().version(), Some("2026-12-rates"));
    assert_eq!(
        stored.invoice().rates().values()[3].to_string(),
        "0.020",
        "a rate lost its exact text"
    );
    assert_eq!(unix_millis(stored.invoice().issued_at()), 1_764_583_200_999);
    assert_eq!(stored.status(), InvoiceStatus::Paid(Payment::NothingDue));
}

/// A listing filtered by status finds what it asks for however many
/// invoices that do not pass come before (600 here: more than a backend
/// reads per query), and stops at its limit.
pub fn a_filtered_listing_reads_past_the_first_chunk_of_invoices<L: Ledger>(open: &dyn Fn() -> L) {
    let invoices: Vec<Invoice> = (0..600)
        .map(|n| worked_example(&format!("MANY-{n:03}"), "tok_success"))
        .collect();
    issue_all(open, &invoices);
    let gateway = FakeGateway::new();
    service(&gateway, open(), &clock())
        .collect(&id("MANY-599"))
        .unwrap();
    let ledger = open();

    let paid = first_with_status(&ledger, StatusKind::Paid, 10);
    let open_ones = first_with_status(&ledger, StatusKind::Open, 1000);
    let first_300 = first_with_status(&ledger, StatusKind::Open, 300);

    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].invoice().id().as_str(), "MANY-599");
    assert_eq!(open_ones.len(), 599);
    assert_eq!(first_300.len(), 300);
    assert_eq!(first_300[299].invoice().id().as_str(), "MANY-299");
}

/// The first `limit` invoices in `ledger` with `status`, in id order.
fn first_with_status<L: Ledger>(
    ledger: &L,
    status: StatusKind,
    limit: usize,
) -> Vec<InvoiceRecord> {
    ledger
        .list(&InvoiceFilter::all().with_status(status), None, limit)
        .unwrap()
}
