//! The columns of the corrections' documents (corrections, credit notes,
//! refund attempts) as plain values, their conversion into billing's
//! types, and the migration that creates them: one copy for both backends,
//! which only read and write the columns.

use billing::{
    CorrectionId, CorrectionRecord, CreditNote, CreditNoteId, LedgerError, Lines, Rates,
    RefundAttempt, RefundOutcome,
};
use payment_gateway::{Amount, ChargeId, Currency, from_unix_millis};

use crate::rows::invalid;

/// The ledger's fourth migration, for both backends: `{int}` is SQLite's
/// `INTEGER` or PostgreSQL's `BIGINT`, `{strict}` SQLite's ` STRICT`.
macro_rules! documents_migration {
    ($int:literal, $strict:literal) => {
        concat!(
            "CREATE TABLE corrections (
                id TEXT PRIMARY KEY,
                reason TEXT NOT NULL,
                wrong_fingerprint TEXT NOT NULL,
                right_fingerprint TEXT NOT NULL,
                right_version TEXT,
                gold_discount_rate TEXT NOT NULL,
                silver_discount_rate TEXT NOT NULL,
                bronze_discount_rate TEXT NOT NULL,
                loyalty_discount_rate TEXT NOT NULL,
                sales_tax_rate TEXT NOT NULL,
                late_fee_rate TEXT NOT NULL,
                late_fee_after_days ", $int, " NOT NULL CHECK (late_fee_after_days >= 0),
                plan_digest TEXT NOT NULL,
                release TEXT NOT NULL,
                created_at_ms ", $int, " NOT NULL
            )", $strict, ";
            CREATE TABLE credit_notes (
                invoice_id TEXT NOT NULL REFERENCES invoices (id),
                number ", $int, " NOT NULL CHECK (number >= 1),
                correction_id TEXT NOT NULL REFERENCES corrections (id),
                kind TEXT NOT NULL
                    CHECK (kind IN ('pre_payment', 'post_payment', 'lines_only', 'absorbed')),
                currency TEXT NOT NULL,
                subtotal ", $int, " NOT NULL,
                tier_discount ", $int, " NOT NULL,
                loyalty_discount ", $int, " NOT NULL,
                tax ", $int, " NOT NULL,
                late_fee ", $int, " NOT NULL,
                total ", $int, " NOT NULL,
                corrected_subtotal ", $int, " NOT NULL,
                corrected_tier_discount ", $int, " NOT NULL,
                corrected_loyalty_discount ", $int, " NOT NULL,
                corrected_tax ", $int, " NOT NULL,
                corrected_late_fee ", $int, " NOT NULL,
                corrected_total ", $int, " NOT NULL CHECK (corrected_total >= 0),
                created_at_ms ", $int, " NOT NULL,
                PRIMARY KEY (invoice_id, number),
                -- One credit note per invoice and correction, whatever the
                -- interleaving of appliers.
                UNIQUE (invoice_id, correction_id),
                CHECK (subtotal + tier_discount + loyalty_discount + tax + late_fee = total),
                CHECK (corrected_subtotal + corrected_tier_discount + corrected_loyalty_discount
                    + corrected_tax + corrected_late_fee = corrected_total),
                CHECK ((kind IN ('pre_payment', 'post_payment') AND total > 0)
                    OR (kind = 'lines_only' AND total = 0)
                    OR (kind = 'absorbed' AND total < 0))
            )", $strict, ";
            CREATE TABLE refund_attempts (
                invoice_id TEXT NOT NULL,
                credit_note ", $int, " NOT NULL,
                number ", $int, " NOT NULL CHECK (number >= 1),
                idempotency_key TEXT NOT NULL UNIQUE,
                charge_id TEXT NOT NULL,
                amount ", $int, " NOT NULL CHECK (amount > 0),
                currency TEXT NOT NULL,
                outcome TEXT NOT NULL
                    CHECK (outcome IN ('pending', 'succeeded', 'failed', 'unknown')),
                detail TEXT,
                created_at_ms ", $int, " NOT NULL,
                updated_at_ms ", $int, " NOT NULL,
                PRIMARY KEY (invoice_id, credit_note, number),
                FOREIGN KEY (invoice_id, credit_note) REFERENCES credit_notes (invoice_id, number),
                CHECK ((outcome = 'pending') = (detail IS NULL))
            )", $strict, ";
            -- One live refund (pending, unknown or succeeded) per credit note.
            CREATE UNIQUE INDEX one_live_refund_per_credit_note
                ON refund_attempts (invoice_id, credit_note) WHERE outcome <> 'failed';
            CREATE INDEX unsettled_refunds ON refund_attempts (invoice_id, credit_note, number)
                WHERE outcome IN ('pending', 'unknown');"
        )
    };
}

pub(crate) use documents_migration;

/// The ledger's fifth migration on SQLite: credit notes may be `billed` (an
/// undercharge billed with a supplementary invoice; `DOMAIN.md` §5). SQLite
/// cannot change a CHECK in place, so both document tables are rebuilt and
/// copied in the migration's one transaction, the referencing one moved
/// first so that no row is ever without its credit note (the renames carry
/// the foreign key along, SQLite ≥ 3.26).
pub(crate) const SQLITE_BILLED_MIGRATION: &str = "CREATE TABLE credit_notes_5 (
        invoice_id TEXT NOT NULL REFERENCES invoices (id),
        number INTEGER NOT NULL CHECK (number >= 1),
        correction_id TEXT NOT NULL REFERENCES corrections (id),
        kind TEXT NOT NULL CHECK (kind IN (
            'pre_payment', 'post_payment', 'lines_only', 'absorbed', 'billed')),
        currency TEXT NOT NULL,
        subtotal INTEGER NOT NULL,
        tier_discount INTEGER NOT NULL,
        loyalty_discount INTEGER NOT NULL,
        tax INTEGER NOT NULL,
        late_fee INTEGER NOT NULL,
        total INTEGER NOT NULL,
        corrected_subtotal INTEGER NOT NULL,
        corrected_tier_discount INTEGER NOT NULL,
        corrected_loyalty_discount INTEGER NOT NULL,
        corrected_tax INTEGER NOT NULL,
        corrected_late_fee INTEGER NOT NULL,
        corrected_total INTEGER NOT NULL CHECK (corrected_total >= 0),
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (invoice_id, number),
        UNIQUE (invoice_id, correction_id),
        CHECK (subtotal + tier_discount + loyalty_discount + tax + late_fee = total),
        CHECK (corrected_subtotal + corrected_tier_discount + corrected_loyalty_discount
            + corrected_tax + corrected_late_fee = corrected_total),
        CHECK ((kind IN ('pre_payment', 'post_payment') AND total > 0)
            OR (kind = 'lines_only' AND total = 0)
            OR (kind IN ('absorbed', 'billed') AND total < 0))
    ) STRICT;
    INSERT INTO credit_notes_5 SELECT * FROM credit_notes;
    CREATE TABLE refund_attempts_5 (
        invoice_id TEXT NOT NULL,
        credit_note INTEGER NOT NULL,
        number INTEGER NOT NULL CHECK (number >= 1),
        idempotency_key TEXT NOT NULL UNIQUE,
        charge_id TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('pending', 'succeeded', 'failed', 'unknown')),
        detail TEXT,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (invoice_id, credit_note, number),
        FOREIGN KEY (invoice_id, credit_note) REFERENCES credit_notes_5 (invoice_id, number),
        CHECK ((outcome = 'pending') = (detail IS NULL))
    ) STRICT;
    INSERT INTO refund_attempts_5 SELECT * FROM refund_attempts;
    DROP TABLE refund_attempts;
    DROP TABLE credit_notes;
    ALTER TABLE credit_notes_5 RENAME TO credit_notes;
    ALTER TABLE refund_attempts_5 RENAME TO refund_attempts;
    CREATE UNIQUE INDEX one_live_refund_per_credit_note
        ON refund_attempts (invoice_id, credit_note) WHERE outcome <> 'failed';
    CREATE INDEX unsettled_refunds ON refund_attempts (invoice_id, credit_note, number)
        WHERE outcome IN ('pending', 'unknown');";

/// The ledger's fifth migration on PostgreSQL (see
/// [`SQLITE_BILLED_MIGRATION`]): the two checks that name the kinds are
/// found by what they say (PostgreSQL named them) and replaced in place.
pub(crate) const POSTGRES_BILLED_MIGRATION: &str = "DO $$
    DECLARE stale record;
    BEGIN
        FOR stale IN SELECT conname FROM pg_constraint
            WHERE conrelid = 'credit_notes'::regclass AND contype = 'c'
                AND pg_get_constraintdef(oid) LIKE '%absorbed%'
        LOOP
            EXECUTE format('ALTER TABLE credit_notes DROP CONSTRAINT %I', stale.conname);
        END LOOP;
    END $$;
    ALTER TABLE credit_notes
        ADD CONSTRAINT credit_notes_kinds CHECK (kind IN (
            'pre_payment', 'post_payment', 'lines_only', 'absorbed', 'billed')),
        ADD CONSTRAINT credit_notes_kind_total CHECK (
            (kind IN ('pre_payment', 'post_payment') AND total > 0)
            OR (kind = 'lines_only' AND total = 0)
            OR (kind IN ('absorbed', 'billed') AND total < 0));";

/// The correction columns, in the order both backends select and insert.
pub(crate) const CORRECTION_COLUMNS: &str = "id, reason, wrong_fingerprint, right_fingerprint, \
     right_version, gold_discount_rate, silver_discount_rate, bronze_discount_rate, \
     loyalty_discount_rate, sales_tax_rate, late_fee_rate, late_fee_after_days, plan_digest, \
     release, created_at_ms";

/// The credit note columns, in the order both backends select and insert.
pub(crate) const CREDIT_NOTE_COLUMNS: &str = "invoice_id, number, correction_id, kind, currency, \
     subtotal, tier_discount, loyalty_discount, tax, late_fee, total, corrected_subtotal, \
     corrected_tier_discount, corrected_loyalty_discount, corrected_tax, corrected_late_fee, \
     corrected_total, created_at_ms";

/// The refund attempt columns, in the order both backends select and insert.
pub(crate) const REFUND_ATTEMPT_COLUMNS: &str = "invoice_id, credit_note, number, \
     idempotency_key, charge_id, amount, currency, outcome, detail, created_at_ms, updated_at_ms";

/// A correction row, as read.
pub(crate) struct CorrectionRow {
    pub(crate) id: String,
    pub(crate) reason: String,
    pub(crate) wrong_fingerprint: String,
    pub(crate) right_version: Option<String>,
    pub(crate) rates: [String; 6],
    pub(crate) late_fee_after_days: i64,
    pub(crate) plan_digest: String,
    pub(crate) release: String,
    pub(crate) created_at_ms: i64,
}

impl CorrectionRow {
    pub(crate) fn into_correction(self) -> Result<CorrectionRecord, LedgerError> {
        let texts: [&str; 6] = std::array::from_fn(|i| self.rates[i].as_str());
        let after = u32::try_from(self.late_fee_after_days).map_err(invalid)?;
        let right = Rates::from_text(texts, after, self.right_version).map_err(invalid)?;
        Ok(CorrectionRecord::new(
            CorrectionId::new(self.id).map_err(invalid)?,
            self.reason,
            self.wrong_fingerprint,
            right,
            self.plan_digest,
            self.release,
            from_unix_millis(self.created_at_ms),
        ))
    }
}

/// A [`CorrectionRow`] from a row of either backend (skipping the derived
/// `right_fingerprint`, column 3).
macro_rules! correction_row {
    ($row:expr, $get:ident) => {
        $crate::document_rows::CorrectionRow {
            id: $row.$get(0)?,
            reason: $row.$get(1)?,
            wrong_fingerprint: $row.$get(2)?,
            right_version: $row.$get(4)?,
            rates: [
                $row.$get(5)?,
                $row.$get(6)?,
                $row.$get(7)?,
                $row.$get(8)?,
                $row.$get(9)?,
                $row.$get(10)?,
            ],
            late_fee_after_days: $row.$get(11)?,
            plan_digest: $row.$get(12)?,
            release: $row.$get(13)?,
            created_at_ms: $row.$get(14)?,
        }
    };
}

/// A credit note row, as read.
pub(crate) struct CreditNoteRow {
    pub(crate) invoice_id: String,
    pub(crate) number: i64,
    pub(crate) correction_id: String,
    pub(crate) kind: String,
    pub(crate) currency: String,
    pub(crate) credited: [i64; 6],
    pub(crate) corrected: [i64; 6],
    pub(crate) created_at_ms: i64,
}

impl CreditNoteRow {
    pub(crate) fn into_credit_note(self) -> Result<CreditNote, LedgerError> {
        let id = CreditNoteId::new(
            billing::InvoiceId::new(self.invoice_id).map_err(invalid)?,
            u32::try_from(self.number).map_err(invalid)?,
        );
        CreditNote::new(
            id,
            CorrectionId::new(self.correction_id).map_err(invalid)?,
            self.kind.parse().map_err(invalid)?,
            self.currency.parse::<Currency>().map_err(invalid)?,
            Lines::new(self.credited).map_err(invalid)?,
            Lines::new(self.corrected).map_err(invalid)?,
            from_unix_millis(self.created_at_ms),
        )
    }
}

/// A [`CreditNoteRow`] from a row of either backend.
macro_rules! credit_note_row {
    ($row:expr, $get:ident) => {
        $crate::document_rows::CreditNoteRow {
            invoice_id: $row.$get(0)?,
            number: $row.$get(1)?,
            correction_id: $row.$get(2)?,
            kind: $row.$get(3)?,
            currency: $row.$get(4)?,
            credited: [
                $row.$get(5)?,
                $row.$get(6)?,
                $row.$get(7)?,
                $row.$get(8)?,
                $row.$get(9)?,
                $row.$get(10)?,
            ],
            corrected: [
                $row.$get(11)?,
                $row.$get(12)?,
                $row.$get(13)?,
                $row.$get(14)?,
                $row.$get(15)?,
                $row.$get(16)?,
            ],
            created_at_ms: $row.$get(17)?,
        }
    };
}

/// A refund attempt row, as read.
pub(crate) struct RefundAttemptRow {
    pub(crate) invoice_id: String,
    pub(crate) credit_note: i64,
    pub(crate) number: i64,
    pub(crate) key: String,
    pub(crate) charge_id: String,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) outcome: String,
    pub(crate) detail: Option<String>,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
}

impl RefundAttemptRow {
    pub(crate) fn into_attempt(self) -> Result<RefundAttempt, LedgerError> {
        let credit_note = CreditNoteId::new(
            billing::InvoiceId::new(self.invoice_id).map_err(invalid)?,
            u32::try_from(self.credit_note).map_err(invalid)?,
        );
        let currency = self.currency.parse::<Currency>().map_err(invalid)?;
        let attempt = RefundAttempt::new(
            credit_note,
            u32::try_from(self.number).map_err(invalid)?,
            ChargeId::new(self.charge_id).map_err(invalid)?,
            Amount::new(self.amount, currency).map_err(invalid)?,
            RefundOutcome::restore(&self.outcome, self.detail)?,
            from_unix_millis(self.created_at_ms),
            from_unix_millis(self.updated_at_ms),
        )?;
        if attempt.key().as_str() != self.key {
            return Err(invalid(format!(
                "refund attempt key {:?} is not {:?}",
                self.key,
                attempt.key().as_str()
            )));
        }
        Ok(attempt)
    }
}

/// A [`RefundAttemptRow`] from a row of either backend.
macro_rules! refund_attempt_row {
    ($row:expr, $get:ident) => {
        $crate::document_rows::RefundAttemptRow {
            invoice_id: $row.$get(0)?,
            credit_note: $row.$get(1)?,
            number: $row.$get(2)?,
            key: $row.$get(3)?,
            charge_id: $row.$get(4)?,
            amount: $row.$get(5)?,
            currency: $row.$get(6)?,
            outcome: $row.$get(7)?,
            detail: $row.$get(8)?,
            created_at_ms: $row.$get(9)?,
            updated_at_ms: $row.$get(10)?,
        }
    };
}

pub(crate) use {correction_row, credit_note_row, refund_attempt_row};

/// Test support for the fifth migration: the rows a schema-4 ledger may
/// hold (an invoice paid and refunded once, then an undercharge absorbed),
/// as SQL for either backend (`loyal` is its spelling of true), and the
/// check that they came through it intact and that a billed credit note
/// can be written after it.
#[cfg(test)]
pub(crate) mod migration_5 {
    use std::time::SystemTime;

    use billing::{
        CorrectionId, CorrectionRecord, Corrections, CreditNote, CreditNoteId, CreditNoteIssued,
        CreditNoteKind, InvoiceId, Lines, Rates, RefundOutcome,
    };
    use payment_gateway::Currency;

    pub(crate) fn schema_4_rows(loyal: &str) -> String {
        format!(
            "INSERT INTO invoices VALUES ('INV-1', 'cus_1', 'tok_success', 'USD', '40x3 15x2',
                'gold', {loyal}, 45, 15000, -1800, -264, 1031, 702, 14669, '0.12', '0.10', '0.05',
                '0.02', '0.08', '0.05', 30, '2026.1', 0);
            INSERT INTO attempts VALUES ('INV-1', 1, 'invoice:INV-1:attempt:1', 'tok_success',
                14669, 'USD', 'captured', 'ch_1', 0, 0);
            INSERT INTO corrections VALUES ('fix-1', 'typo', 'fnv1a64:a', 'fnv1a64:b', NULL,
                '0.15', '0.10', '0.05', '0.02', '0.08', '0.05', 30, 'sha256:ab', 'test', 0);
            INSERT INTO corrections VALUES ('fix-2', 'other way', 'fnv1a64:b', 'fnv1a64:c', NULL,
                '0.14', '0.10', '0.05', '0.02', '0.08', '0.05', 30, 'sha256:cd', 'test', 0);
            INSERT INTO credit_notes VALUES ('INV-1', 1, 'fix-1', 'post_payment', 'USD',
                0, 450, -9, 35, 24, 500, 15000, -2250, -255, 1000, 674, 14169, 0);
            INSERT INTO credit_notes VALUES ('INV-1', 2, 'fix-2', 'absorbed', 'USD',
                0, -100, 0, -8, 0, -108, 15000, -2150, -255, 1008, 674, 14277, 0);
            INSERT INTO refund_attempts VALUES ('INV-1', 1, 1, 'refund:INV-1-CN01:attempt:1',
                'ch_1', 500, 'USD', 'succeeded', 're_1', 0, 0);"
        )
    }

    pub(crate) fn assert_kept_and_billable(ledger: &impl Corrections) {
        let invoice = InvoiceId::new("INV-1").unwrap();
        let notes = ledger.credit_notes_of(&invoice).unwrap();
        let kinds: Vec<(String, &str, i64)> = notes
            .iter()
            .map(|note| {
                (
                    note.id().to_string(),
                    note.kind().as_str(),
                    note.credited().total(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("INV-1-CN01".to_owned(), "post_payment", 500),
                ("INV-1-CN02".to_owned(), "absorbed", -108)
            ]
        );
        let refunds = ledger.refund_attempts(notes[0].id()).unwrap();
        assert_eq!(refunds.len(), 1);
        assert!(matches!(refunds[0].outcome(), RefundOutcome::Succeeded(_)));

        let fix = CorrectionId::new("fix-3").unwrap();
        let stored = ledger
            .record_correction(&CorrectionRecord::new(
                fix.clone(),
                "billed",
                "fnv1a64:c",
                Rates::current(),
                "sha256:ef",
                "test",
                SystemTime::UNIX_EPOCH,
            ))
            .unwrap();
        assert_eq!(stored.id(), &fix);
        let billed = CreditNote::new(
            CreditNoteId::new(invoice.clone(), 3),
            fix,
            CreditNoteKind::Billed,
            Currency::Usd,
            Lines::new([0, -50, 0, -4, 0, -54]).unwrap(),
            Lines::new([15000, -2100, -255, 1012, 674, 14331]).unwrap(),
            SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(
            ledger.issue_credit_note(&billed, None).unwrap(),
            CreditNoteIssued::Inserted
        );
        assert_eq!(ledger.credit_notes_of(&invoice).unwrap()[2], billed);
    }
}
