//! The corrections' documents in the PostgreSQL ledger: the SQLite
//! ledger's tables and rules. A credit note is written under a lock on its
//! invoice's row (`FOR UPDATE`), so the check for an existing one and the
//! insert are atomic across hosts; the unique indexes are the last word.

use std::time::SystemTime;

use billing::{
    CorrectionId, CorrectionRecord, Corrections, CreditNote, CreditNoteId, CreditNoteIssued,
    InvoiceId, LedgerError, RefundAttempt, RefundOutcome, refund_update_allowed,
};
use payment_gateway::unix_millis;
use postgres::types::ToSql;
use postgres::{Row, Transaction};

use super::PgLedger;
use super::ledger::failed;
use crate::document_rows::{
    CORRECTION_COLUMNS, CREDIT_NOTE_COLUMNS, CorrectionRow, CreditNoteRow, REFUND_ATTEMPT_COLUMNS,
    RefundAttemptRow, correction_row, credit_note_row, refund_attempt_row,
};
use crate::paging::sql_int;

fn credit_notes_where(
    transaction: &mut Transaction<'_>,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<CreditNoteRow>, postgres::Error> {
    let rows = transaction.query(
        &format!("SELECT {CREDIT_NOTE_COLUMNS} FROM credit_notes WHERE {condition}"),
        params,
    )?;
    rows.iter()
        .map(|row: &Row| Ok(credit_note_row!(row, try_get)))
        .collect()
}

fn refunds_where(
    transaction: &mut Transaction<'_>,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<RefundAttemptRow>, postgres::Error> {
    let rows = transaction.query(
        &format!("SELECT {REFUND_ATTEMPT_COLUMNS} FROM refund_attempts WHERE {condition}"),
        params,
    )?;
    rows.iter()
        .map(|row: &Row| Ok(refund_attempt_row!(row, try_get)))
        .collect()
}

fn correction_of(
    transaction: &mut Transaction<'_>,
    id: &CorrectionId,
) -> Result<Option<CorrectionRow>, postgres::Error> {
    let row = transaction.query_opt(
        &format!("SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = $1"),
        &[&id.as_str()],
    )?;
    row.map(|row| Ok(correction_row!(row, try_get))).transpose()
}

fn notes(rows: Vec<CreditNoteRow>) -> Result<Vec<CreditNote>, LedgerError> {
    rows.into_iter()
        .map(CreditNoteRow::into_credit_note)
        .collect()
}

fn attempts(rows: Vec<RefundAttemptRow>) -> Result<Vec<RefundAttempt>, LedgerError> {
    rows.into_iter()
        .map(RefundAttemptRow::into_attempt)
        .collect()
}

impl Corrections for PgLedger {
    fn record_correction(
        &self,
        correction: &CorrectionRecord,
    ) -> Result<CorrectionRecord, LedgerError> {
        let right = correction.right();
        let rates = right.values().map(|rate| rate.to_string());
        let fingerprint = right.table().fingerprint();
        let inserted = self.write(|transaction| {
            transaction.execute(
                &format!(
                    "INSERT INTO corrections ({CORRECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, \
                     $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING"
                ),
                &[
                    &correction.id().as_str(),
                    &correction.reason(),
                    &correction.wrong_fingerprint(),
                    &fingerprint,
                    &right.version(),
                    &rates[0],
                    &rates[1],
                    &rates[2],
                    &rates[3],
                    &rates[4],
                    &rates[5],
                    &i64::from(right.late_fee_after_days()),
                    &correction.plan_digest(),
                    &correction.release(),
                    &unix_millis(correction.created_at()),
                ],
            )?;
            correction_of(transaction, correction.id())
        })?;
        match inserted {
            Some(row) => row.into_correction(),
            None => Err(LedgerError::new(format!(
                "correction {} was not stored",
                correction.id()
            ))),
        }
    }

    fn correction(&self, id: &CorrectionId) -> Result<Option<CorrectionRecord>, LedgerError> {
        self.read(|transaction| {
            correction_of(transaction, id)
                .map_err(|error| failed(&error))?
                .map(CorrectionRow::into_correction)
                .transpose()
        })
    }

    fn issue_credit_note(
        &self,
        note: &CreditNote,
        refund: Option<&RefundAttempt>,
    ) -> Result<CreditNoteIssued, LedgerError> {
        let invoice = note.invoice().as_str();
        let credited = note.credited().cents();
        let corrected = note.corrected().cents();
        self.write_checked(|transaction| {
            // The invoice's row locked: another applier of this invoice
            // waits here, then sees this credit note.
            if transaction
                .query_opt(
                    "SELECT 1 FROM invoices WHERE id = $1 FOR UPDATE",
                    &[&invoice],
                )?
                .is_none()
            {
                return Ok(Err(LedgerError::not_found(format!(
                    "invoice {invoice} not found"
                ))));
            }
            let existing = credit_notes_where(
                transaction,
                "invoice_id = $1 AND correction_id = $2",
                &[&invoice, &note.correction().as_str()],
            )?;
            if let Some(existing) = existing.into_iter().next() {
                return Ok(existing
                    .into_credit_note()
                    .map(|existing| CreditNoteIssued::Existing(Box::new(existing))));
            }
            transaction.execute(
                &format!(
                    "INSERT INTO credit_notes ({CREDIT_NOTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, \
                     $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
                ),
                &[
                    &invoice,
                    &i64::from(note.id().number()),
                    &note.correction().as_str(),
                    &note.kind().as_str(),
                    &note.currency().code(),
                    &credited[0],
                    &credited[1],
                    &credited[2],
                    &credited[3],
                    &credited[4],
                    &credited[5],
                    &corrected[0],
                    &corrected[1],
                    &corrected[2],
                    &corrected[3],
                    &corrected[4],
                    &corrected[5],
                    &unix_millis(note.created_at()),
                ],
            )?;
            if let Some(attempt) = refund {
                let credit_note = attempt.credit_note();
                transaction.execute(
                    &format!(
                        "INSERT INTO refund_attempts ({REFUND_ATTEMPT_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                    ),
                    &[
                        &credit_note.invoice().as_str(),
                        &i64::from(credit_note.number()),
                        &i64::from(attempt.number()),
                        &attempt.key().as_str(),
                        &attempt.charge().as_str(),
                        &attempt.amount().minor_units(),
                        &attempt.amount().currency().code(),
                        &attempt.outcome().name(),
                        &attempt.outcome().detail(),
                        &unix_millis(attempt.created_at()),
                        &unix_millis(attempt.updated_at()),
                    ],
                )?;
            }
            Ok(Ok(CreditNoteIssued::Inserted))
        })
    }

    fn credit_notes_of(&self, invoice: &InvoiceId) -> Result<Vec<CreditNote>, LedgerError> {
        self.read(|transaction| {
            let rows = credit_notes_where(
                transaction,
                "invoice_id = $1 ORDER BY number",
                &[&invoice.as_str()],
            )
            .map_err(|error| failed(&error))?;
            notes(rows)
        })
    }

    fn credit_notes(
        &self,
        correction: Option<&CorrectionId>,
        after: Option<&CreditNoteId>,
        limit: usize,
    ) -> Result<Vec<CreditNote>, LedgerError> {
        let (id, number) = after.map_or(("", 0), |after| {
            (after.invoice().as_str(), i64::from(after.number()))
        });
        let correction = correction.map(CorrectionId::as_str);
        self.read(|transaction| {
            let rows = credit_notes_where(
                transaction,
                "(invoice_id, number) > ($1, $2) AND ($3::TEXT IS NULL OR correction_id = $3) \
                 ORDER BY invoice_id, number LIMIT $4",
                &[&id, &number, &correction, &sql_int(limit)],
            )
            .map_err(|error| failed(&error))?;
            notes(rows)
        })
    }

    fn refund_attempts(
        &self,
        credit_note: &CreditNoteId,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        self.read(|transaction| {
            let rows = refunds_where(
                transaction,
                "invoice_id = $1 AND credit_note = $2 ORDER BY number",
                &[
                    &credit_note.invoice().as_str(),
                    &i64::from(credit_note.number()),
                ],
            )
            .map_err(|error| failed(&error))?;
            attempts(rows)
        })
    }

    fn finish_refund(
        &self,
        credit_note: &CreditNoteId,
        number: u32,
        outcome: &RefundOutcome,
        at: SystemTime,
    ) -> Result<(), LedgerError> {
        let invoice = credit_note.invoice().as_str();
        let note = i64::from(credit_note.number());
        let number = i64::from(number);
        self.write_checked(|transaction| {
            let rows = refunds_where(
                transaction,
                "invoice_id = $1 AND credit_note = $2 AND number = $3 FOR UPDATE",
                &[&invoice, &note, &number],
            )?;
            let stored = match rows.into_iter().next().map(RefundAttemptRow::into_attempt) {
                Some(Ok(stored)) => stored,
                Some(Err(error)) => return Ok(Err(error)),
                None => {
                    return Ok(Err(LedgerError::not_found(format!(
                        "refund attempt {number} of {credit_note} not found"
                    ))));
                }
            };
            if refund_update_allowed(stored.outcome(), outcome) {
                transaction.execute(
                    "UPDATE refund_attempts SET outcome = $4, detail = $5, updated_at_ms = $6 \
                     WHERE invoice_id = $1 AND credit_note = $2 AND number = $3",
                    &[
                        &invoice,
                        &note,
                        &number,
                        &outcome.name(),
                        &outcome.detail(),
                        &unix_millis(at),
                    ],
                )?;
            }
            Ok(Ok(()))
        })
    }

    fn unsettled_refunds(
        &self,
        after: Option<(&CreditNoteId, u32)>,
        limit: usize,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        let (id, note, number) = after.map_or(("", 0, 0), |(note, number)| {
            (
                note.invoice().as_str(),
                i64::from(note.number()),
                i64::from(number),
            )
        });
        self.read(|transaction| {
            let rows = refunds_where(
                transaction,
                "outcome IN ('pending', 'unknown') \
                 AND (invoice_id, credit_note, number) > ($1, $2, $3) \
                 ORDER BY invoice_id, credit_note, number LIMIT $4",
                &[&id, &note, &number, &sql_int(limit)],
            )
            .map_err(|error| failed(&error))?;
            attempts(rows)
        })
    }
}
