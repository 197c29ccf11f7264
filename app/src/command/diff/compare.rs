//! Comparing the two files in lockstep: each record with its partner,
//! by id or position, money in integer cents; the report it makes.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::error::AppError;

use super::TOTAL;
use super::read::{Key, Outcome, Record, Records};
use super::render::money;
use super::spill::{self, Side, WAITING_LIMIT};

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
    /// OLD's position of the record, which orders the list.
    #[serde(skip)]
    pub(super) position: u64,
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
    /// Whether the comparison went on in temporary files (too many records
    /// were out of step to wait in memory).
    pub(super) spilled: bool,
    /// Records in one file only, first by position, before their labels
    /// are taken: the comparison meets them in key order when it spilled.
    pub(super) only_old: Vec<(u64, String)>,
    pub(super) only_new: Vec<(u64, String)>,
}

/// Keeps the `top` items of smallest position pushed into `list`, in
/// bounded memory: the list is cut back to `top` whenever it doubles.
pub(super) fn keep_first<T>(list: &mut Vec<T>, top: usize, item: T, position: impl Fn(&T) -> u64) {
    if top == 0 {
        return;
    }
    list.push(item);
    if list.len() >= top.saturating_mul(2) {
        cut_first(list, top, position);
    }
}

/// Sorts `list` by position and keeps the first `top`.
fn cut_first<T>(list: &mut Vec<T>, top: usize, position: impl Fn(&T) -> u64) {
    list.sort_by_key(position);
    list.truncate(top);
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
                let change = ErrorChange {
                    position: old.position,
                    id: old.label(),
                    old: describe(&old.outcome),
                    new: describe(&new.outcome),
                };
                keep_first(&mut self.error_changes, self.top, change, |c| c.position);
            }
        }
    }

    /// A record of OLD with no partner in NEW.
    fn only_old(&mut self, record: &Record) {
        self.only_in_old += 1;
        let item = (record.position, record.label());
        keep_first(&mut self.only_old, self.top, item, |item| item.0);
    }

    /// A record of NEW with no partner in OLD.
    fn only_new(&mut self, record: &Record) {
        self.only_in_new += 1;
        let item = (record.position, record.label());
        keep_first(&mut self.only_new, self.top, item, |item| item.0);
    }

    /// Cuts every list to its `top` items, in the order the report shows.
    fn finish(&mut self) {
        self.cut_largest();
        cut_first(&mut self.error_changes, self.top, |c| c.position);
        for (list, labels) in [
            (&mut self.only_old, &mut self.only_old_labels),
            (&mut self.only_new, &mut self.only_new_labels),
        ] {
            cut_first(list, self.top, |item| item.0);
            *labels = list.drain(..).map(|(_, label)| label).collect();
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
pub(super) struct Pending {
    by_key: HashMap<Key, VecDeque<Record>>,
    count: usize,
}

impl Pending {
    pub(super) fn take(&mut self, key: &Key) -> Option<Record> {
        let queue = self.by_key.get_mut(key)?;
        let record = queue.pop_front()?;
        if queue.is_empty() {
            self.by_key.remove(key);
        }
        self.count -= 1;
        Some(record)
    }

    pub(super) fn put(&mut self, record: Record) {
        self.by_key
            .entry(record.key())
            .or_default()
            .push_back(record);
        self.count += 1;
    }

    /// How many records wait.
    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// What is left, in no particular order.
    pub(super) fn into_records(self) -> impl Iterator<Item = Record> {
        self.by_key.into_values().flatten()
    }
}

/// How many records may wait before the comparison spills to disk: the
/// product's limit, or a small one in tests.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) waiting: usize,
    pub(super) run: usize,
    pub(super) fan_in: usize,
}

impl Limits {
    pub(super) const PRODUCT: Limits = Limits {
        waiting: WAITING_LIMIT,
        run: spill::RUN,
        fan_in: spill::FAN_IN,
    };
}

/// Reads both files in lockstep and compares each record with its partner.
pub(super) fn compare(old: Records, new: Records, top: usize) -> Result<Report, AppError> {
    compare_within(old, new, top, Limits::PRODUCT)
}

/// [`compare`], spilling to disk once more than `limits.waiting` records
/// wait for their partner (spill.rs says why and how).
pub(super) fn compare_within(
    mut old: Records,
    mut new: Records,
    top: usize,
    limits: Limits,
) -> Result<Report, AppError> {
    let mut report = Report {
        top,
        ..Report::default()
    };
    let mut waiting_old = Pending::default();
    let mut waiting_new = Pending::default();
    loop {
        if waiting_old.len() + waiting_new.len() > limits.waiting {
            return spill_and_join(old, new, report, [waiting_old, waiting_new], limits);
        }
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
    for record in waiting_old.into_records() {
        report.only_old(&record);
    }
    for record in waiting_new.into_records() {
        report.only_new(&record);
    }
    report.finish();
    Ok(report)
}

/// The rest of the comparison once too many records wait: the waiting
/// records and the rest of both files go into sorted runs on disk, which
/// are then joined by key.
fn spill_and_join(
    mut old: Records,
    mut new: Records,
    mut report: Report,
    [waiting_old, waiting_new]: [Pending; 2],
    limits: Limits,
) -> Result<Report, AppError> {
    report.spilled = true;
    let side = || Side::new(limits.run, limits.fan_in);
    let (mut spilled_old, mut spilled_new) = (side(), side());
    for record in waiting_old.into_records() {
        spilled_old.push(record).map_err(AppError::Scratch)?;
    }
    for record in waiting_new.into_records() {
        spilled_new.push(record).map_err(AppError::Scratch)?;
    }
    while let Some(record) = old.next_record()? {
        report.errors_old += u64::from(matches!(record.outcome, Outcome::Error(_)));
        spilled_old.push(record).map_err(AppError::Scratch)?;
    }
    while let Some(record) = new.next_record()? {
        report.errors_new += u64::from(matches!(record.outcome, Outcome::Error(_)));
        spilled_new.push(record).map_err(AppError::Scratch)?;
    }
    let mut old = spilled_old.into_sorted().map_err(AppError::Scratch)?;
    let mut new = spilled_new.into_sorted().map_err(AppError::Scratch)?;
    let mut before = old.next_record().map_err(AppError::Scratch)?;
    let mut after = new.next_record().map_err(AppError::Scratch)?;
    loop {
        let ordering = match (&before, &after) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => spill::key_order(a, b),
        };
        match ordering {
            Ordering::Less => {
                if let Some(record) = &before {
                    report.only_old(record);
                }
                before = old.next_record().map_err(AppError::Scratch)?;
            }
            Ordering::Greater => {
                if let Some(record) = &after {
                    report.only_new(record);
                }
                after = new.next_record().map_err(AppError::Scratch)?;
            }
            Ordering::Equal => {
                if let (Some(a), Some(b)) = (&before, &after) {
                    report.pair(a, b);
                }
                before = old.next_record().map_err(AppError::Scratch)?;
                after = new.next_record().map_err(AppError::Scratch)?;
            }
        }
    }
    report.finish();
    Ok(report)
}
