//! The documents a correction adds to the ledger (`DOMAIN.md` §5): the
//! correction itself, its credit notes, and the refund attempts that pay a
//! credit note back. An issued invoice is never edited; these point at it.
//!
//! Nothing here is updated in place but a refund attempt's outcome, as a
//! payment attempt's: an invoice's amount due and a credit note's
//! settlement are derived from the documents.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use payment_gateway::{Amount, ChargeId, Currency, IdempotencyKey, InvalidRequest, RefundId};

use crate::correction::Lines;
use crate::invoice::text_id;
use crate::{IdKind, InMemoryLedger, InvoiceId, Ledger, LedgerError, Rates};

text_id!(
    /// A correction's id, chosen by the person who plans it (`2026-12-gold`):
    /// 1 to 128 bytes, no control characters.
    CorrectionId,
    IdKind::Correction
);

/// A credit note's id: its invoice's id and its number among the invoice's
/// credit notes, written `<invoice>-CN01`, `<invoice>-CN02`, …
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditNoteId {
    invoice: InvoiceId,
    number: u32,
}

impl CreditNoteId {
    /// The `number`-th credit note (from 1) of `invoice`.
    pub fn new(invoice: InvoiceId, number: u32) -> CreditNoteId {
        CreditNoteId { invoice, number }
    }

    /// The invoice it credits.
    pub fn invoice(&self) -> &InvoiceId {
        &self.invoice
    }

    /// Its number among the invoice's credit notes, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }
}

impl fmt::Display for CreditNoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-CN{:02}", self.invoice, self.number)
    }
}

/// What a credit note does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreditNoteKind {
    /// Written before the invoice was paid: it lowers the amount due.
    PrePayment,
    /// Written after the invoice was paid: its total is refunded.
    PostPayment,
    /// Its total is zero: only the lines move, nothing is paid back.
    LinesOnly,
    /// An undercharge (a negative total), recorded and absorbed: nothing
    /// more is asked of the customer.
    Absorbed,
    /// An undercharge (a negative total) billed, only when asked
    /// (`--undercharge bill`): a supplementary invoice of its total is
    /// issued beside it and collected by the next charge run.
    Billed,
}

impl CreditNoteKind {
    /// Every kind.
    pub const ALL: [CreditNoteKind; 5] = [
        CreditNoteKind::PrePayment,
        CreditNoteKind::PostPayment,
        CreditNoteKind::LinesOnly,
        CreditNoteKind::Absorbed,
        CreditNoteKind::Billed,
    ];

    /// Its name: `pre_payment`, `post_payment`, `lines_only`, `absorbed`,
    /// `billed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CreditNoteKind::PrePayment => "pre_payment",
            CreditNoteKind::PostPayment => "post_payment",
            CreditNoteKind::LinesOnly => "lines_only",
            CreditNoteKind::Absorbed => "absorbed",
            CreditNoteKind::Billed => "billed",
        }
    }
}

/// A credit note kind's name that is not one of [`CreditNoteKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown credit note kind {0:?}")]
pub struct UnknownCreditNoteKind(pub String);

payment_gateway::by_exact_name!(CreditNoteKind, UnknownCreditNoteKind, |name: &str| {
    UnknownCreditNoteKind(payment_gateway::excerpt(name))
});

/// A correction as the ledger keeps it: which table was wrong, which is
/// right (its values kept, so that it can be verified by a later build),
/// the digest of the plan a person approved, and the release that applied
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionRecord {
    id: CorrectionId,
    reason: String,
    wrong_fingerprint: String,
    right: Rates,
    plan_digest: String,
    release: String,
    created_at: SystemTime,
}

impl CorrectionRecord {
    /// A correction of the invoices priced with the table `wrong_fingerprint`
    /// to the rates `right`, applying the plan of digest `plan_digest`.
    pub fn new(
        id: CorrectionId,
        reason: impl Into<String>,
        wrong_fingerprint: impl Into<String>,
        right: Rates,
        plan_digest: impl Into<String>,
        release: impl Into<String>,
        created_at: SystemTime,
    ) -> CorrectionRecord {
        CorrectionRecord {
            id,
            reason: reason.into(),
            wrong_fingerprint: wrong_fingerprint.into(),
            right,
            plan_digest: plan_digest.into(),
            release: release.into(),
            created_at,
        }
    }

    /// Its id.
    pub fn id(&self) -> &CorrectionId {
        &self.id
    }

    /// Why it was made.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The wrong table's fingerprint.
    pub fn wrong_fingerprint(&self) -> &str {
        &self.wrong_fingerprint
    }

    /// The right rates (their values and version).
    pub fn right(&self) -> &Rates {
        &self.right
    }

    /// The digest of the approved plan (`sha256:…`).
    pub fn plan_digest(&self) -> &str {
        &self.plan_digest
    }

    /// The release (`ledgerly --version`) that applied it.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// When it was first applied.
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }
}

/// A credit note: the lines it credits against its invoice (effective
/// minus corrected, adding up to its total) and the invoice's lines after
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditNote {
    id: CreditNoteId,
    correction: CorrectionId,
    kind: CreditNoteKind,
    currency: Currency,
    credited: Lines,
    corrected: Lines,
    created_at: SystemTime,
}

impl CreditNote {
    /// A credit note; `kind` must suit `credited`'s total (positive for a
    /// pre- or post-payment one, zero for lines only, negative for an
    /// undercharge, absorbed or billed).
    pub fn new(
        id: CreditNoteId,
        correction: CorrectionId,
        kind: CreditNoteKind,
        currency: Currency,
        credited: Lines,
        corrected: Lines,
        created_at: SystemTime,
    ) -> Result<CreditNote, LedgerError> {
        let total = credited.total();
        let fits = match kind {
            CreditNoteKind::PrePayment | CreditNoteKind::PostPayment => total > 0,
            CreditNoteKind::LinesOnly => total == 0,
            CreditNoteKind::Absorbed | CreditNoteKind::Billed => total < 0,
        };
        if !fits {
            return Err(LedgerError::new(format!(
                "a {} credit note cannot have a total of {total} cents",
                kind.as_str()
            )));
        }
        Ok(CreditNote {
            id,
            correction,
            kind,
            currency,
            credited,
            corrected,
            created_at,
        })
    }

    /// Its id.
    pub fn id(&self) -> &CreditNoteId {
        &self.id
    }

    /// The invoice it credits.
    pub fn invoice(&self) -> &InvoiceId {
        self.id.invoice()
    }

    /// The correction that wrote it.
    pub fn correction(&self) -> &CorrectionId {
        &self.correction
    }

    /// What it does.
    pub fn kind(&self) -> CreditNoteKind {
        self.kind
    }

    /// The invoice's currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The credited lines (effective minus corrected).
    pub fn credited(&self) -> Lines {
        self.credited
    }

    /// The invoice's lines after it.
    pub fn corrected(&self) -> Lines {
        self.corrected
    }

    /// When it was written.
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }
}

/// The idempotency key of refund attempt `number` of `credit_note`:
/// `refund:<credit note>:attempt:<n>`, derived, never random.
pub fn refund_key(
    credit_note: &CreditNoteId,
    number: u32,
) -> Result<IdempotencyKey, InvalidRequest> {
    IdempotencyKey::new(format!("refund:{credit_note}:attempt:{number}"))
}

/// What came of a refund attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Committed; its request may be in flight.
    Pending,
    /// The processor accepted it and paid it back (or will: a refund it
    /// reports pending stays [`RefundOutcome::Pending`] until it says).
    Succeeded(RefundId),
    /// Final, and no money went back: refused by the processor, or failed
    /// after it succeeded (the processor's word). A person decides what
    /// next; nothing refunds again on its own.
    Failed(String),
    /// The request was sent and no answer settled it: looked up later,
    /// never sent under a new key.
    Unknown(String),
}

impl RefundOutcome {
    /// Its name: `pending`, `succeeded`, `failed`, `unknown`.
    pub const fn name(&self) -> &'static str {
        match self {
            RefundOutcome::Pending => "pending",
            RefundOutcome::Succeeded(_) => "succeeded",
            RefundOutcome::Failed(_) => "failed",
            RefundOutcome::Unknown(_) => "unknown",
        }
    }

    /// The refund id, or the reason; nothing for a pending attempt.
    pub fn detail(&self) -> Option<&str> {
        match self {
            RefundOutcome::Pending => None,
            RefundOutcome::Succeeded(id) => Some(id.as_str()),
            RefundOutcome::Failed(reason) | RefundOutcome::Unknown(reason) => Some(reason),
        }
    }

    /// An outcome read back from its name and detail.
    pub fn restore(name: &str, detail: Option<String>) -> Result<RefundOutcome, LedgerError> {
        let bad = || {
            LedgerError::new(format!(
                "stored refund outcome {name:?} has an invalid detail"
            ))
        };
        match (name, detail) {
            ("pending", None) => Ok(RefundOutcome::Pending),
            ("succeeded", Some(id)) => RefundId::new(id)
                .map(RefundOutcome::Succeeded)
                .map_err(|_| bad()),
            ("failed", Some(reason)) => Ok(RefundOutcome::Failed(reason)),
            ("unknown", Some(reason)) => Ok(RefundOutcome::Unknown(reason)),
            _ => Err(bad()),
        }
    }

    /// Whether the attempt may still move money (pending or unknown).
    pub const fn is_unsettled(&self) -> bool {
        matches!(self, RefundOutcome::Pending | RefundOutcome::Unknown(_))
    }
}

/// One refund attempt of a post-payment credit note: committed pending
/// before its request leaves, its outcome recorded after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAttempt {
    credit_note: CreditNoteId,
    number: u32,
    key: IdempotencyKey,
    charge: ChargeId,
    amount: Amount,
    outcome: RefundOutcome,
    created_at: SystemTime,
    updated_at: SystemTime,
}

impl RefundAttempt {
    /// Attempt `number` (from 1) of refunding `amount` of `credit_note`
    /// against `charge`, with the outcome it has (pending when new).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        credit_note: CreditNoteId,
        number: u32,
        charge: ChargeId,
        amount: Amount,
        outcome: RefundOutcome,
        created_at: SystemTime,
        updated_at: SystemTime,
    ) -> Result<RefundAttempt, LedgerError> {
        if number == 0 {
            return Err(LedgerError::new(format!(
                "refund attempt of {credit_note} has number 0; attempts count from 1"
            )));
        }
        let key = refund_key(&credit_note, number)
            .map_err(|error| LedgerError::new(error.to_string()))?;
        Ok(RefundAttempt {
            credit_note,
            number,
            key,
            charge,
            amount,
            outcome,
            created_at,
            updated_at,
        })
    }

    /// The credit note it refunds.
    pub fn credit_note(&self) -> &CreditNoteId {
        &self.credit_note
    }

    /// Its number, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Its idempotency key (`refund:<credit note>:attempt:<n>`).
    pub fn key(&self) -> &IdempotencyKey {
        &self.key
    }

    /// The charge refunded.
    pub fn charge(&self) -> &ChargeId {
        &self.charge
    }

    /// The amount refunded: the credit note's total.
    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// What came of it.
    pub fn outcome(&self) -> &RefundOutcome {
        &self.outcome
    }

    /// When it was committed.
    pub fn created_at(&self) -> SystemTime {
        self.created_at
    }

    /// When its outcome was last recorded.
    pub fn updated_at(&self) -> SystemTime {
        self.updated_at
    }

    /// The same attempt with `outcome`, recorded at `at`.
    #[must_use]
    pub fn with_outcome(mut self, outcome: RefundOutcome, at: SystemTime) -> RefundAttempt {
        self.outcome = outcome;
        self.updated_at = at;
        self
    }
}

/// Whether a refund attempt's outcome may be replaced by `next`: an
/// unsettled one by anything; a success only by a failure (a refund that
/// failed after it succeeded, the processor's word); a failure never.
pub fn refund_update_allowed(current: &RefundOutcome, next: &RefundOutcome) -> bool {
    match current {
        RefundOutcome::Pending | RefundOutcome::Unknown(_) => true,
        RefundOutcome::Succeeded(_) => matches!(next, RefundOutcome::Failed(_)),
        RefundOutcome::Failed(_) => false,
    }
}

/// What [`Corrections::issue_credit_note`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditNoteIssued {
    /// The credit note (and its first refund attempt) was stored.
    Inserted,
    /// The invoice already had a credit note of this correction: this one.
    Existing(Box<CreditNote>),
}

/// Where corrections keep their documents: the ledger, on every backend.
///
/// A backend keeps one credit note per invoice and correction (a unique
/// index) and one live refund attempt (pending, unknown or succeeded) per
/// credit note, and checks both inside its write transaction, so that two
/// appliers racing on one invoice write one credit note and one refund.
pub trait Corrections {
    /// Stores `correction` unless one with its id is stored; returns the
    /// stored one (the first, when it was).
    fn record_correction(
        &self,
        correction: &CorrectionRecord,
    ) -> Result<CorrectionRecord, LedgerError>;

    /// The correction with `id`, if any.
    fn correction(&self, id: &CorrectionId) -> Result<Option<CorrectionRecord>, LedgerError>;

    /// Stores `note` and, for a post-payment one, its first refund attempt
    /// `refund` (pending), in one commit; when the invoice already has a
    /// credit note of the same correction, stores nothing and returns that
    /// one.
    fn issue_credit_note(
        &self,
        note: &CreditNote,
        refund: Option<&RefundAttempt>,
    ) -> Result<CreditNoteIssued, LedgerError>;

    /// The credit notes of `invoice`, in number order.
    fn credit_notes_of(&self, invoice: &InvoiceId) -> Result<Vec<CreditNote>, LedgerError>;

    /// At most `limit` credit notes after `after`, in (invoice, number)
    /// order, those of `correction` only when it is given.
    fn credit_notes(
        &self,
        correction: Option<&CorrectionId>,
        after: Option<&CreditNoteId>,
        limit: usize,
    ) -> Result<Vec<CreditNote>, LedgerError>;

    /// The refund attempts of `credit_note`, in number order.
    fn refund_attempts(
        &self,
        credit_note: &CreditNoteId,
    ) -> Result<Vec<RefundAttempt>, LedgerError>;

    /// Records `outcome` for refund attempt `number` of `credit_note`, if
    /// [`refund_update_allowed`] lets it replace the stored one (else the
    /// stored one stays, without an error: another run got there first).
    fn finish_refund(
        &self,
        credit_note: &CreditNoteId,
        number: u32,
        outcome: &RefundOutcome,
        at: SystemTime,
    ) -> Result<(), LedgerError>;

    /// At most `limit` refund attempts that are pending or unknown, after
    /// `after`, in (credit note, number) order: what `reconcile` settles.
    fn unsettled_refunds(
        &self,
        after: Option<(&CreditNoteId, u32)>,
        limit: usize,
    ) -> Result<Vec<RefundAttempt>, LedgerError>;
}

/// Documents behind a reference or a smart pointer are the same documents.
macro_rules! forward_corrections {
    ($($wrapper:ty),*) => {$(
        impl<L: Corrections + ?Sized> Corrections for $wrapper {
            fn record_correction(
                &self,
                correction: &CorrectionRecord,
            ) -> Result<CorrectionRecord, LedgerError> {
                (**self).record_correction(correction)
            }
            fn correction(&self, id: &CorrectionId) -> Result<Option<CorrectionRecord>, LedgerError> {
                (**self).correction(id)
            }
            fn issue_credit_note(
                &self,
                note: &CreditNote,
                refund: Option<&RefundAttempt>,
            ) -> Result<CreditNoteIssued, LedgerError> {
                (**self).issue_credit_note(note, refund)
            }
            fn credit_notes_of(&self, invoice: &InvoiceId) -> Result<Vec<CreditNote>, LedgerError> {
                (**self).credit_notes_of(invoice)
            }
            fn credit_notes(
                &self,
                correction: Option<&CorrectionId>,
                after: Option<&CreditNoteId>,
                limit: usize,
            ) -> Result<Vec<CreditNote>, LedgerError> {
                (**self).credit_notes(correction, after, limit)
            }
            fn refund_attempts(
                &self,
                credit_note: &CreditNoteId,
            ) -> Result<Vec<RefundAttempt>, LedgerError> {
                (**self).refund_attempts(credit_note)
            }
            fn finish_refund(
                &self,
                credit_note: &CreditNoteId,
                number: u32,
                outcome: &RefundOutcome,
                at: SystemTime,
            ) -> Result<(), LedgerError> {
                (**self).finish_refund(credit_note, number, outcome, at)
            }
            fn unsettled_refunds(
                &self,
                after: Option<(&CreditNoteId, u32)>,
                limit: usize,
            ) -> Result<Vec<RefundAttempt>, LedgerError> {
                (**self).unsettled_refunds(after, limit)
            }
        }
    )*};
}

forward_corrections!(&L, std::sync::Arc<L>, Box<L>);

/// The in-memory ledger's documents.
#[derive(Debug, Default)]
pub(crate) struct Documents {
    corrections: BTreeMap<CorrectionId, CorrectionRecord>,
    credit_notes: BTreeMap<CreditNoteId, CreditNote>,
    refunds: BTreeMap<(CreditNoteId, u32), RefundAttempt>,
}

impl Documents {
    /// The pre-payment credit notes' totals of `invoice`, in cents.
    pub(crate) fn credited_before_payment(&self, invoice: &InvoiceId) -> i64 {
        self.credit_notes
            .values()
            .filter(|note| note.invoice() == invoice && note.kind() == CreditNoteKind::PrePayment)
            .map(|note| note.credited().total())
            .sum()
    }
}

impl Corrections for InMemoryLedger {
    fn record_correction(
        &self,
        correction: &CorrectionRecord,
    ) -> Result<CorrectionRecord, LedgerError> {
        self.room_for_a_write()?;
        let mut documents = self.documents();
        Ok(documents
            .corrections
            .entry(correction.id().clone())
            .or_insert_with(|| correction.clone())
            .clone())
    }

    fn correction(&self, id: &CorrectionId) -> Result<Option<CorrectionRecord>, LedgerError> {
        Ok(self.documents().corrections.get(id).cloned())
    }

    fn issue_credit_note(
        &self,
        note: &CreditNote,
        refund: Option<&RefundAttempt>,
    ) -> Result<CreditNoteIssued, LedgerError> {
        self.room_for_a_write()?;
        if self.get(note.invoice())?.is_none() {
            return Err(LedgerError::not_found(format!(
                "invoice {} not found",
                note.invoice()
            )));
        }
        let mut documents = self.documents();
        if let Some(existing) = documents.credit_notes.values().find(|stored| {
            stored.invoice() == note.invoice() && stored.correction() == note.correction()
        }) {
            return Ok(CreditNoteIssued::Existing(Box::new(existing.clone())));
        }
        if documents.credit_notes.contains_key(note.id()) {
            return Err(LedgerError::conflict(format!(
                "credit note {} exists for another correction",
                note.id()
            )));
        }
        documents
            .credit_notes
            .insert(note.id().clone(), note.clone());
        if let Some(refund) = refund {
            documents.refunds.insert(
                (refund.credit_note().clone(), refund.number()),
                refund.clone(),
            );
        }
        Ok(CreditNoteIssued::Inserted)
    }

    fn credit_notes_of(&self, invoice: &InvoiceId) -> Result<Vec<CreditNote>, LedgerError> {
        Ok(self
            .documents()
            .credit_notes
            .values()
            .filter(|note| note.invoice() == invoice)
            .cloned()
            .collect())
    }

    fn credit_notes(
        &self,
        correction: Option<&CorrectionId>,
        after: Option<&CreditNoteId>,
        limit: usize,
    ) -> Result<Vec<CreditNote>, LedgerError> {
        Ok(self
            .documents()
            .credit_notes
            .values()
            .filter(|note| after.is_none_or(|after| note.id() > after))
            .filter(|note| correction.is_none_or(|id| note.correction() == id))
            .take(limit)
            .cloned()
            .collect())
    }

    fn refund_attempts(
        &self,
        credit_note: &CreditNoteId,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        Ok(self
            .documents()
            .refunds
            .values()
            .filter(|attempt| attempt.credit_note() == credit_note)
            .cloned()
            .collect())
    }

    fn finish_refund(
        &self,
        credit_note: &CreditNoteId,
        number: u32,
        outcome: &RefundOutcome,
        at: SystemTime,
    ) -> Result<(), LedgerError> {
        self.room_for_a_write()?;
        let mut documents = self.documents();
        let key = (credit_note.clone(), number);
        let Some(stored) = documents.refunds.get(&key) else {
            return Err(LedgerError::not_found(format!(
                "refund attempt {number} of {credit_note} not found"
            )));
        };
        if refund_update_allowed(stored.outcome(), outcome) {
            let updated = stored.clone().with_outcome(outcome.clone(), at);
            documents.refunds.insert(key, updated);
        }
        Ok(())
    }

    fn unsettled_refunds(
        &self,
        after: Option<(&CreditNoteId, u32)>,
        limit: usize,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        Ok(self
            .documents()
            .refunds
            .iter()
            .filter(|((note, number), _)| {
                after.is_none_or(|(after_note, after_number)| {
                    (note, *number) > (after_note, after_number)
                })
            })
            .map(|(_, attempt)| attempt)
            .filter(|attempt| attempt.outcome().is_unsettled())
            .take(limit)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_say_what_they_were_made_with() {
        let correction = CorrectionRecord::new(
            CorrectionId::new("fix-1").unwrap(),
            "gold was 0.12",
            "fnv1a64:3e8fed09b0157015",
            Rates::current(),
            "sha256:ab",
            "ledgerly 0.1.0",
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(
            (
                correction.reason(),
                correction.wrong_fingerprint(),
                correction.plan_digest(),
                correction.release()
            ),
            (
                "gold was 0.12",
                "fnv1a64:3e8fed09b0157015",
                "sha256:ab",
                "ledgerly 0.1.0"
            )
        );
        let id = CreditNoteId::new(InvoiceId::new("INV-1").unwrap(), 12);
        assert_eq!((id.to_string(), id.number()), ("INV-1-CN12".to_owned(), 12));
        let names: Vec<&str> = CreditNoteKind::ALL
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "pre_payment",
                "post_payment",
                "lines_only",
                "absorbed",
                "billed"
            ]
        );
        for kind in CreditNoteKind::ALL {
            assert_eq!(kind.to_string().parse::<CreditNoteKind>(), Ok(kind));
        }
    }

    #[test]
    fn a_refund_outcome_is_stored_as_its_name_and_detail_and_read_back_exactly() {
        let refund = RefundId::new("re_1").unwrap();
        let outcomes = [
            (RefundOutcome::Pending, "pending", None),
            (RefundOutcome::Succeeded(refund), "succeeded", Some("re_1")),
            (
                RefundOutcome::Failed("refused".to_owned()),
                "failed",
                Some("refused"),
            ),
            (
                RefundOutcome::Unknown("lost".to_owned()),
                "unknown",
                Some("lost"),
            ),
        ];
        for (outcome, name, detail) in outcomes {
            assert_eq!((outcome.name(), outcome.detail()), (name, detail));
            assert_eq!(
                RefundOutcome::restore(name, detail.map(str::to_owned)),
                Ok(outcome.clone())
            );
        }
        for (name, detail) in [
            ("pending", Some("x")),
            ("succeeded", None),
            ("failed", None),
            ("lost", Some("x")),
        ] {
            assert!(
                RefundOutcome::restore(name, detail.map(str::to_owned)).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn refund_outcomes_move_forward_only() {
        let pending = RefundOutcome::Pending;
        let unknown = RefundOutcome::Unknown("lost".to_owned());
        let done = RefundOutcome::Succeeded(RefundId::new("re_1").unwrap());
        let failed = RefundOutcome::Failed("card closed".to_owned());
        for next in [&pending, &unknown, &done, &failed] {
            assert!(refund_update_allowed(&pending, next));
            assert!(refund_update_allowed(&unknown, next));
            assert!(!refund_update_allowed(&failed, next));
        }
        assert!(refund_update_allowed(&done, &failed));
        assert!(!refund_update_allowed(&done, &unknown));
        let attempt = RefundAttempt::new(
            CreditNoteId::new(InvoiceId::new("INV-1").unwrap(), 1),
            3,
            ChargeId::new("ch_1").unwrap(),
            Amount::new(500, Currency::Usd).unwrap(),
            pending,
            SystemTime::UNIX_EPOCH,
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(attempt.number(), 3);
        assert_eq!(attempt.key().as_str(), "refund:INV-1-CN01:attempt:3");
    }
}
