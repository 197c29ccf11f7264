//! The sandbox books' conformance suite against the in-memory books: every
//! handle from an opener is another `Arc` on the same books, as every
//! gateway of one process shares them.

use std::sync::Arc;

use payment_gateway::InMemoryBooks;

/// New, empty books; the opener hands out another handle on them each call.
fn fresh() -> impl Fn() -> Arc<InMemoryBooks> + Sync {
    let shared = Arc::new(InMemoryBooks::new());
    move || Arc::clone(&shared)
}

payment_gateway::conformance_tests!(fresh());
