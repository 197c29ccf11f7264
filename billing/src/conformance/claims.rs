//! Claims: how workers sharing a run divide it, with leases.

use std::time::Duration;

use crate::{ClaimOutcome, Claims, HeldClaim, InvoiceId, Ledger, WorkerId};

use super::id;

fn worker(name: &str) -> WorkerId {
    WorkerId::new(name).unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

/// A claim keeps an invoice from other workers until its holder releases
/// it; the holder may claim it again (renewing the lease), and a release by
/// anyone else changes nothing.
pub fn a_claimed_invoice_is_held_from_other_workers_until_released<L: Ledger + Claims>(
    open: &dyn Fn() -> L,
) {
    let ledger = open();
    let (a, b) = (id("CLAIM-A"), id("CLAIM-B"));
    let (one, two) = (worker("host-1:101"), worker("host-2:202"));

    let first = ledger.claim(&one, &[a.clone(), b.clone()], HOUR).unwrap();
    assert_eq!(first, [ClaimOutcome::Claimed, ClaimOutcome::Claimed]);
    let other = open().claim(&two, &[a.clone(), b.clone()], HOUR).unwrap();
    let held = ClaimOutcome::HeldBy(one.clone());
    assert_eq!(other, [held.clone(), held.clone()]);
    assert_eq!(
        ledger.claim(&one, std::slice::from_ref(&a), HOUR).unwrap(),
        [ClaimOutcome::Claimed],
        "the holder renews its own claim"
    );

    open().release(&two, std::slice::from_ref(&a)).unwrap();
    assert_eq!(
        open().claim(&two, std::slice::from_ref(&a), HOUR).unwrap(),
        std::slice::from_ref(&held),
        "a release by another worker drops nothing"
    );

    ledger.release(&one, std::slice::from_ref(&a)).unwrap();
    assert_eq!(
        open().claim(&two, &[a, b], HOUR).unwrap(),
        [ClaimOutcome::Claimed, held],
        "a released invoice is free, the other still held"
    );
}

/// A claim whose lease ran out (its worker died) is taken over by the next
/// worker that asks, and is then that worker's.
pub fn a_claim_whose_lease_ran_out_is_taken_over<L: Ledger + Claims>(open: &dyn Fn() -> L) {
    let a = id("LEASE-A");
    let (dead, alive) = (worker("dead:1"), worker("alive:2"));

    assert_eq!(
        open()
            .claim(&dead, std::slice::from_ref(&a), Duration::ZERO)
            .unwrap(),
        [ClaimOutcome::Claimed]
    );
    assert_eq!(
        open()
            .claim(&alive, std::slice::from_ref(&a), HOUR)
            .unwrap(),
        [ClaimOutcome::Claimed],
        "a lease of zero has run out"
    );
    assert_eq!(
        open().claim(&dead, std::slice::from_ref(&a), HOUR).unwrap(),
        [ClaimOutcome::HeldBy(alive)],
        "the old holder lost it"
    );
    // Leases beyond the cap are kept, capped.
    let far = id("LEASE-FAR");
    assert_eq!(
        open()
            .claim(&dead, std::slice::from_ref(&far), Duration::MAX)
            .unwrap(),
        [ClaimOutcome::Claimed]
    );
    assert_eq!(
        open().claim(&worker("x"), &[far], HOUR).unwrap(),
        [ClaimOutcome::HeldBy(dead)]
    );
}

/// Four workers, each with its own handle, claiming the same invoices at
/// once: each invoice goes to exactly one of them.
pub fn workers_claiming_at_once_get_each_invoice_once<L: Ledger + Claims>(
    open: &(dyn Fn() -> L + Sync),
) {
    let ids: Vec<InvoiceId> = (0..60).map(|n| id(&format!("RUSH-{n:02}"))).collect();
    let won: Vec<Vec<InvoiceId>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let ids = &ids;
                scope.spawn(move || {
                    let me = worker(&format!("rush:{n}"));
                    let ledger = open();
                    let mut mine = Vec::new();
                    // In slices of 7, in another order per worker.
                    let mut order: Vec<InvoiceId> = ids.clone();
                    order.rotate_left(n * 15);
                    for chunk in order.chunks(7) {
                        let outcomes = ledger.claim(&me, chunk, HOUR).unwrap();
                        for (id, outcome) in chunk.iter().zip(outcomes) {
                            if outcome == ClaimOutcome::Claimed {
                                mine.push(id.clone());
                            }
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<InvoiceId> = won.into_iter().flatten().collect();
    all.sort();
    assert_eq!(all, ids, "each invoice claimed by exactly one worker");
}

/// The claims are listed a page at a time in id order, each with its
/// holder and whether its lease ran out; a released claim is gone.
pub fn claims_are_listed_in_pages_saying_whose_and_whether_expired<L: Ledger + Claims>(
    open: &dyn Fn() -> L,
) {
    let ledger = open();
    let (one, two) = (worker("one:1"), worker("two:2"));
    let ids: Vec<InvoiceId> = (0..5).map(|n| id(&format!("LIST-{n}"))).collect();
    ledger.claim(&one, &ids[..3], HOUR).unwrap();
    ledger.claim(&two, &ids[3..], Duration::ZERO).unwrap();
    ledger.release(&one, &ids[1..2]).unwrap();
    assert_eq!(open().claims(None, 0).unwrap(), []);

    let first = open().claims(None, 2).unwrap();
    let rest = open().claims(Some(first[1].invoice()), 10).unwrap();

    assert_eq!(
        first,
        [
            HeldClaim::new(ids[0].clone(), one.clone(), false),
            HeldClaim::new(ids[2].clone(), one.clone(), false),
        ]
    );
    assert_eq!(
        rest,
        [
            HeldClaim::new(ids[3].clone(), two.clone(), true),
            HeldClaim::new(ids[4].clone(), two.clone(), true),
        ]
    );
    assert_eq!(rest[0].worker(), &two);
    assert!(rest[0].expired() && !first[0].expired());
}
