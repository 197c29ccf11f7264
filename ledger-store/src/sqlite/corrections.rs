//! The corrections' documents in the SQLite ledger: corrections, credit
//! notes and refund attempts, each write one immediate transaction (so a
//! check and the insert it guards are atomic across processes), the unique
//! indexes of the schema as the last word.

use std::time::SystemTime;

use billing::{
    CorrectionId, CorrectionRecord, Corrections, CreditNote, CreditNoteId, CreditNoteIssued,
    InvoiceId, LedgerError, RefundAttempt, RefundOutcome, refund_update_allowed,
};
use payment_gateway::unix_millis;
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::SqliteLedger;
use super::ledger::failed;
use crate::document_rows::{
    CORRECTION_COLUMNS, CREDIT_NOTE_COLUMNS, CorrectionRow, CreditNoteRow, REFUND_ATTEMPT_COLUMNS,
    RefundAttemptRow, correction_row, credit_note_row, refund_attempt_row,
};
use crate::paging::sql_int;

fn read_correction(row: &Row<'_>) -> rusqlite::Result<CorrectionRow> {
    Ok(correction_row!(row, get))
}

fn read_credit_note(row: &Row<'_>) -> rusqlite::Result<CreditNoteRow> {
    Ok(credit_note_row!(row, get))
}

fn read_refund(row: &Row<'_>) -> rusqlite::Result<RefundAttemptRow> {
    Ok(refund_attempt_row!(row, get))
}

fn credit_notes_where(
    transaction: &Transaction<'_>,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<CreditNote>, LedgerError> {
    let mut statement = transaction
        .prepare(&format!(
            "SELECT {CREDIT_NOTE_COLUMNS} FROM credit_notes WHERE {condition}"
        ))
        .map_err(failed)?;
    let rows = statement
        .query_map(params, read_credit_note)
        .map_err(failed)?;
    rows.map(|row| {
        row.map_err(failed)
            .and_then(CreditNoteRow::into_credit_note)
    })
    .collect()
}

fn refunds_where(
    transaction: &Transaction<'_>,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RefundAttempt>, LedgerError> {
    let mut statement = transaction
        .prepare(&format!(
            "SELECT {REFUND_ATTEMPT_COLUMNS} FROM refund_attempts WHERE {condition}"
        ))
        .map_err(failed)?;
    let rows = statement.query_map(params, read_refund).map_err(failed)?;
    rows.map(|row| row.map_err(failed).and_then(RefundAttemptRow::into_attempt))
        .collect()
}

fn correction_of(
    transaction: &Transaction<'_>,
    id: &CorrectionId,
) -> Result<Option<CorrectionRecord>, LedgerError> {
    let row = transaction
        .query_row(
            &format!("SELECT {CORRECTION_COLUMNS} FROM corrections WHERE id = ?1"),
            [id.as_str()],
            read_correction,
        )
        .optional()
        .map_err(failed)?;
    row.map(CorrectionRow::into_correction).transpose()
}

fn insert_refund(
    transaction: &Transaction<'_>,
    attempt: &RefundAttempt,
) -> Result<(), LedgerError> {
    let note = attempt.credit_note();
    transaction
        .execute(
            &format!(
                "INSERT INTO refund_attempts ({REFUND_ATTEMPT_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                note.invoice().as_str(),
                note.number(),
                attempt.number(),
                attempt.key().as_str(),
                attempt.charge().as_str(),
                attempt.amount().minor_units(),
                attempt.amount().currency().code(),
                attempt.outcome().name(),
                attempt.outcome().detail(),
                unix_millis(attempt.created_at()),
                unix_millis(attempt.updated_at()),
            ],
        )
        .map_err(failed)?;
    Ok(())
}

impl Corrections for SqliteLedger {
    fn record_correction(
        &self,
        correction: &CorrectionRecord,
    ) -> Result<CorrectionRecord, LedgerError> {
        self.write(|transaction| {
            if let Some(stored) = correction_of(transaction, correction.id())? {
                return Ok(stored);
            }
            let right = correction.right();
            let rates = right.values().map(|rate| rate.to_string());
            transaction
                .execute(
                    &format!(
                        "INSERT INTO corrections ({CORRECTION_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                    ),
                    params![
                        correction.id().as_str(),
                        correction.reason(),
                        correction.wrong_fingerprint(),
                        right.table().fingerprint(),
                        right.version(),
                        rates[0],
                        rates[1],
                        rates[2],
                        rates[3],
                        rates[4],
                        rates[5],
                        right.late_fee_after_days(),
                        correction.plan_digest(),
                        correction.release(),
                        unix_millis(correction.created_at()),
                    ],
                )
                .map_err(failed)?;
            Ok(correction.clone())
        })
    }

    fn correction(&self, id: &CorrectionId) -> Result<Option<CorrectionRecord>, LedgerError> {
        self.read(|transaction| correction_of(transaction, id))
    }

    fn issue_credit_note(
        &self,
        note: &CreditNote,
        refund: Option<&RefundAttempt>,
    ) -> Result<CreditNoteIssued, LedgerError> {
        self.write(|transaction| {
            let existing = credit_notes_where(
                transaction,
                "invoice_id = ?1 AND correction_id = ?2",
                params![note.invoice().as_str(), note.correction().as_str()],
            )?;
            if let Some(existing) = existing.into_iter().next() {
                return Ok(CreditNoteIssued::Existing(Box::new(existing)));
            }
            let credited = note.credited().cents();
            let corrected = note.corrected().cents();
            transaction
                .execute(
                    &format!(
                        "INSERT INTO credit_notes ({CREDIT_NOTE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, \
                         ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
                    ),
                    params![
                        note.invoice().as_str(),
                        note.id().number(),
                        note.correction().as_str(),
                        note.kind().as_str(),
                        note.currency().code(),
                        credited[0],
                        credited[1],
                        credited[2],
                        credited[3],
                        credited[4],
                        credited[5],
                        corrected[0],
                        corrected[1],
                        corrected[2],
                        corrected[3],
                        corrected[4],
                        corrected[5],
                        unix_millis(note.created_at()),
                    ],
                )
                .map_err(failed)?;
            if let Some(refund) = refund {
                insert_refund(transaction, refund)?;
            }
            Ok(CreditNoteIssued::Inserted)
        })
    }

    fn credit_notes_of(&self, invoice: &InvoiceId) -> Result<Vec<CreditNote>, LedgerError> {
        self.read(|transaction| {
            credit_notes_where(
                transaction,
                "invoice_id = ?1 ORDER BY number",
                [invoice.as_str()],
            )
        })
    }

    fn credit_notes(
        &self,
        correction: Option<&CorrectionId>,
        after: Option<&CreditNoteId>,
        limit: usize,
    ) -> Result<Vec<CreditNote>, LedgerError> {
        // No invoice id is empty, so ("", 0) is before every credit note.
        let (id, number) =
            after.map_or(("", 0), |after| (after.invoice().as_str(), after.number()));
        self.read(|transaction| {
            credit_notes_where(
                transaction,
                "(invoice_id, number) > (?1, ?2) AND (?3 IS NULL OR correction_id = ?3) \
                 ORDER BY invoice_id, number LIMIT ?4",
                params![
                    id,
                    number,
                    correction.map(CorrectionId::as_str),
                    sql_int(limit)
                ],
            )
        })
    }

    fn refund_attempts(
        &self,
        credit_note: &CreditNoteId,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        self.read(|transaction| {
            refunds_where(
                transaction,
                "invoice_id = ?1 AND credit_note = ?2 ORDER BY number",
                params![credit_note.invoice().as_str(), credit_note.number()],
            )
        })
    }

    fn finish_refund(
        &self,
        credit_note: &CreditNoteId,
        number: u32,
        outcome: &RefundOutcome,
        at: SystemTime,
    ) -> Result<(), LedgerError> {
        self.write(|transaction| {
            let stored = refunds_where(
                transaction,
                "invoice_id = ?1 AND credit_note = ?2 AND number = ?3",
                params![credit_note.invoice().as_str(), credit_note.number(), number],
            )?;
            let Some(stored) = stored.into_iter().next() else {
                return Err(LedgerError::not_found(format!(
                    "refund attempt {number} of {credit_note} not found"
                )));
            };
            if !refund_update_allowed(stored.outcome(), outcome) {
                return Ok(());
            }
            transaction
                .execute(
                    "UPDATE refund_attempts SET outcome = ?4, detail = ?5, updated_at_ms = ?6 \
                     WHERE invoice_id = ?1 AND credit_note = ?2 AND number = ?3",
                    params![
                        credit_note.invoice().as_str(),
                        credit_note.number(),
                        number,
                        outcome.name(),
                        outcome.detail(),
                        unix_millis(at),
                    ],
                )
                .map_err(failed)?;
            Ok(())
        })
    }

    fn unsettled_refunds(
        &self,
        after: Option<(&CreditNoteId, u32)>,
        limit: usize,
    ) -> Result<Vec<RefundAttempt>, LedgerError> {
        let (id, note, number) = after.map_or(("", 0, 0), |(note, number)| {
            (note.invoice().as_str(), note.number(), number)
        });
        self.read(|transaction| {
            refunds_where(
                transaction,
                "outcome IN ('pending', 'unknown') AND (invoice_id, credit_note, number) > (?1, ?2, ?3) \
                 ORDER BY invoice_id, credit_note, number LIMIT ?4",
                params![id, note, number, sql_int(limit)],
            )
        })
    }
}
