//! Comparing the two files in lockstep: each record with its partner,
//! by id or position, money in integer cents; the report it makes.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::error::AppError;

use super::TOTAL;
use super::read::{Key, Outcome, Record, Records};
use super::render::money;

/// One invoice whose amounts changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) label: String,
    pub(super) position: u64,
    pub(super) old: [i64; 6],
    pub(super) new: [i64; 6],
}

impl Change {
    pub(super) fn total_delta(&self) -> i128 {
        i128::from(self.new[TOTAL]) - i128::from(self.old[TOTAL])
    }
}

/// An invoice priced in one file and refused in the other, or refused in
/// both for different reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ErrorChange {
    pub(super) id: String,
    pub(super) old: String,
    pub(super) new: String,
}

/// Everything the report says.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) compared: u64,
    pub(super) changed: u64,
    pub(super) unchanged: u64,
    pub(super) only_in_old: u64,
    pub(super) only_in_new: u64,
    pub(super) errors_old: u64,
    pub(super) errors_new: u64,
    /// New minus old, per field, over the compared priced invoices.
    pub(super) moved: [i128; 6],
    pub(super) up: (u64, i128),
    pub(super) down: (u64, i128),
    /// The largest changes, largest first, at most `top`.
    pub(super) largest: Vec<Change>,
    pub(super) error_changes: Vec<ErrorChange>,
    pub(super) error_changes_count: u64,
    pub(super) only_old_labels: Vec<String>,
    pub(super) only_new_labels: Vec<String>,
    pub(super) top: usize,
}

impl Report {
    pub(super) fn differs(&self) -> bool {
        self.changed > 0 || self.only_in_old > 0 || self.only_in_new > 0
    }

    pub(super) fn pair(&mut self, old: &Record, new: &Record) {
        self.compared += 1;
        match (&old.outcome, &new.outcome) {
            (Outcome::Priced(before), Outcome::Priced(after)) => {
                if before == after {
                    self.unchanged += 1;
                    return;
                }
                self.changed += 1;
                for ((moved, b), a) in self.moved.iter_mut().zip(before).zip(after) {
                    *moved += i128::from(*a) - i128::from(*b);
                }
                let change = Change {
                    label: old.label(),
                    position: old.position,
                    old: *before,
                    new: *after,
                };
                let delta = change.total_delta();
                if delta > 0 {
                    self.up.0 += 1;
                    self.up.1 += delta;
                } else if delta < 0 {
                    self.down.0 += 1;
                    self.down.1 += delta;
                }
                self.keep_largest(change);
            }
            (Outcome::Error(before), Outcome::Error(after)) if before == after => {
                self.unchanged += 1;
            }
            _ => {
                self.changed += 1;
                self.error_changes_count += 1;
                if self.error_changes.len() < self.top {
                    self.error_changes.push(ErrorChange {
                        id: old.label(),
                        old: describe(&old.outcome),
                        new: describe(&new.outcome),
                    });
                }
            }
        }
    }

    /// Keeps the `top` largest changes seen so far, in bounded memory: the
    /// list is cut back to `top` whenever it doubles.
    pub(super) fn keep_largest(&mut self, change: Change) {
        if self.top == 0 {
            return;
        }
        self.largest.push(change);
        // Saturating: `--top` is capped (MAX_TOP), but a doubling that
        // wrapped would cut after every push, quadratic in the changes.
        if self.largest.len() >= self.top.saturating_mul(2) {
            self.cut_largest();
        }
    }

    /// Largest change of the total first; ties in file order.
    pub(super) fn cut_largest(&mut self) {
        self.largest.sort_by(|a, b| {
            b.total_delta()
                .abs()
                .cmp(&a.total_delta().abs())
                .then(a.position.cmp(&b.position))
        });
        self.largest.truncate(self.top);
    }
}

/// An outcome in a few words, for the list of error changes.
pub(super) fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Priced(cents) => format!("priced, total {}", money(i128::from(cents[TOTAL]))),
        Outcome::Error(message) => format!("error: {message}"),
    }
}

/// Records waiting for their partner, by key, first come first served.
#[derive(Default)]
pub(super) struct Pending(pub(super) HashMap<Key, VecDeque<Record>>);

impl Pending {
    pub(super) fn take(&mut self, key: &Key) -> Option<Record> {
        let queue = self.0.get_mut(key)?;
        let record = queue.pop_front();
        if queue.is_empty() {
            self.0.remove(key);
        }
        record
    }

    pub(super) fn put(&mut self, record: Record) {
        self.0.entry(record.key()).or_default().push_back(record);
    }

    /// What is left, in file order.
    pub(super) fn into_sorted(self) -> Vec<Record> {
        let mut left: Vec<Record> = self.0.into_values().flatten().collect();
        left.sort_by_key(|record| record.position);
        left
    }
}

/// Reads both files in lockstep and compares each record with its partner.
pub(super) fn compare(mut old: Records, mut new: Records, top: usize) -> Result<Report, AppError> {
    let mut report = Report {
        top,
        ..Report::default()
    };
    let mut waiting_old = Pending::default();
    let mut waiting_new = Pending::default();
    loop {
        let before = old.next_record()?;
        let after = new.next_record()?;
        if before.is_none() && after.is_none() {
            break;
        }
        if let Some(record) = before {
            report.errors_old += u64::from(matches!(record.outcome, Outcome::Error(_)));
            match waiting_new.take(&record.key()) {
                Some(partner) => report.pair(&record, &partner),
                None => waiting_old.put(record),
            }
        }
        if let Some(record) = after {
            report.errors_new += u64::from(matches!(record.outcome, Outcome::Error(_)));
            match waiting_old.take(&record.key()) {
                Some(partner) => report.pair(&partner, &record),
                None => waiting_new.put(record),
            }
        }
    }
    for record in waiting_old.into_sorted() {
        report.only_in_old += 1;
        if report.only_old_labels.len() < top {
            report.only_old_labels.push(record.label());
        }
    }
    for record in waiting_new.into_sorted() {
        report.only_in_new += 1;
        if report.only_new_labels.len() < top {
            report.only_new_labels.push(record.label());
        }
    }
    report.cut_largest();
    Ok(report)
}
