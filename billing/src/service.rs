//! The billing service: price, charge once, record.

use payment_gateway::{
    Amount, Charge, ChargeRequest, DeclineCode, GatewayError, PaymentGateway, PaymentMethod,
};

use crate::{
    BillingError, Invoice, InvoiceId, InvoiceRepository, InvoiceStatus, Payment, RetryPolicy,
    Sleeper,
};

/// Collects invoices through a payment gateway, charging each one at most
/// once.
///
/// The gateway, the repository and the sleeper are injected, so tests run
/// against [`payment_gateway::FakeGateway`], an
/// [`InMemoryInvoiceRepository`](crate::InMemoryInvoiceRepository) and a
/// [`RecordingSleeper`](crate::RecordingSleeper), and never sleep.
///
/// Exactly-once rests on the idempotency key, not on this service's own
/// bookkeeping: the key is derived from the invoice id and its payment
/// attempt number, so every request for one attempt, whether a retry inside
/// `collect`, a later `collect`, or a concurrent one from another process,
/// names the same charge at the processor.
#[derive(Debug)]
pub struct BillingService<G, R, S> {
    gateway: G,
    repository: R,
    sleeper: S,
    policy: RetryPolicy,
}

/// How the requests of one `collect` ended.
enum Outcome {
    Charged(Charge),
    Declined(DeclineCode),
    Exhausted { attempts: u32, last: GatewayError },
    Refused(GatewayError),
}

impl<G: PaymentGateway, R: InvoiceRepository, S: Sleeper> BillingService<G, R, S> {
    /// A service charging through `gateway`, keeping invoices in
    /// `repository`, waiting between retries with `sleeper` as `policy` says.
    pub fn new(gateway: G, repository: R, sleeper: S, policy: RetryPolicy) -> Self {
        BillingService {
            gateway,
            repository,
            sleeper,
            policy,
        }
    }

    /// The gateway.
    pub fn gateway(&self) -> &G {
        &self.gateway
    }

    /// The repository.
    pub fn repository(&self) -> &R {
        &self.repository
    }

    /// The sleeper.
    pub fn sleeper(&self) -> &S {
        &self.sleeper
    }

    /// The retry policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// The invoice with `id`.
    pub fn invoice(&self, id: &InvoiceId) -> Result<Invoice, BillingError> {
        self.repository
            .get(id)?
            .ok_or_else(|| BillingError::NotFound(id.clone()))
    }

    /// Collects the invoice `id`: prices it and charges its total, once.
    ///
    /// - A paid invoice is not charged again; its payment is returned.
    /// - A zero total is paid without a charge ([`Payment::NothingDue`]).
    /// - Otherwise the total in cents is charged under the invoice's
    ///   idempotency key. Transient and ambiguous failures are retried with
    ///   the same key, with the policy's backoff in between.
    /// - A decline is final for the attempt: the invoice becomes
    ///   [`InvoiceStatus::PaymentFailed`] with the code, and the next
    ///   `collect` starts a new attempt under a new key.
    /// - When the retries run out, the invoice stays open with the same key,
    ///   and the error is retryable.
    pub fn collect(&self, id: &InvoiceId) -> Result<Payment, BillingError> {
        let mut invoice = self.invoice(id)?;
        if let InvoiceStatus::Paid(payment) = invoice.status() {
            return Ok(payment.clone());
        }
        let total = invoice
            .price()
            .map_err(|error| BillingError::Pricing {
                invoice: id.clone(),
                error,
            })?
            .total();
        if total.is_zero() {
            invoice.mark_paid(Payment::NothingDue);
            self.repository.save(&invoice)?;
            return Ok(Payment::NothingDue);
        }
        let amount = Amount::new(total.minor_units(), invoice.currency()).map_err(|_| {
            BillingError::NegativeTotal {
                invoice: id.clone(),
                total,
            }
        })?;
        let key = invoice
            .idempotency_key()
            .map_err(|error| BillingError::ChargeRejected {
                invoice: id.clone(),
                error,
            })?;
        let request =
            ChargeRequest::new(key, invoice.payment_method().clone(), amount, id.as_str());

        match self.charge_with_retries(&request) {
            Outcome::Charged(charge) => self.record_charge(invoice, charge, amount),
            Outcome::Declined(code) => {
                let advanced = invoice.record_decline(code);
                self.repository.save(&invoice)?;
                if !advanced {
                    return Err(BillingError::NoAttemptsLeft {
                        invoice: id.clone(),
                    });
                }
                Err(BillingError::Declined {
                    invoice: id.clone(),
                    code,
                })
            }
            Outcome::Exhausted { attempts, last } => {
                // Open, not an earlier decline: this attempt's outcome is unknown.
                invoice.reopen();
                self.repository.save(&invoice)?;
                Err(BillingError::RetriesExhausted {
                    invoice: id.clone(),
                    attempts,
                    last,
                })
            }
            Outcome::Refused(error) => {
                invoice.reopen();
                self.repository.save(&invoice)?;
                Err(refusal(id, error))
            }
        }
    }

    /// Replaces the payment method of an unpaid invoice.
    ///
    /// The payment attempt, and so the idempotency key, stays the same. If
    /// an earlier request under that key may have charged the old payment
    /// method, the processor refuses the new one as an idempotency conflict
    /// instead of charging a second card: see
    /// [`BillingError::IdempotencyConflict`].
    pub fn change_payment_method(
        &self,
        id: &InvoiceId,
        payment_method: PaymentMethod,
    ) -> Result<Invoice, BillingError> {
        let mut invoice = self.invoice(id)?;
        if invoice.status().is_paid() {
            return Err(BillingError::AlreadyPaid {
                invoice: id.clone(),
            });
        }
        invoice.change_payment_method(payment_method);
        self.repository.save(&invoice)?;
        Ok(invoice)
    }

    /// Sends `request` until it succeeds, is declined or refused, or the
    /// policy's attempts run out.
    fn charge_with_retries(&self, request: &ChargeRequest) -> Outcome {
        let mut attempts: u32 = 1;
        loop {
            match self.gateway.charge(request) {
                Ok(charge) => return Outcome::Charged(charge),
                Err(GatewayError::Declined { code }) => return Outcome::Declined(code),
                Err(error) if error.is_retryable() => {
                    if attempts >= self.policy.max_attempts() {
                        return Outcome::Exhausted {
                            attempts,
                            last: error,
                        };
                    }
                    self.sleeper.sleep(self.policy.delay_before_retry(attempts));
                    // Below `max_attempts`, so adding one cannot overflow.
                    attempts += 1;
                }
                Err(error) => return Outcome::Refused(error),
            }
        }
    }

    fn record_charge(
        &self,
        mut invoice: Invoice,
        charge: Charge,
        expected: Amount,
    ) -> Result<Payment, BillingError> {
        let id = invoice.id().clone();
        if charge.amount() != expected {
            invoice.reopen();
            self.repository.save(&invoice)?;
            return Err(BillingError::ChargeAmountMismatch {
                invoice: id,
                charge,
                expected,
            });
        }
        let charge_id = charge.id().clone();
        let payment = Payment::Charged(charge);
        invoice.mark_paid(payment.clone());
        self.repository
            .save(&invoice)
            .map_err(|error| BillingError::PaymentNotRecorded {
                invoice: id,
                charge_id,
                error,
            })?;
        Ok(payment)
    }
}

/// The billing error for a request the gateway refused outright.
fn refusal(id: &InvoiceId, error: GatewayError) -> BillingError {
    match error {
        GatewayError::InvalidRequest(error) => BillingError::ChargeRejected {
            invoice: id.clone(),
            error,
        },
        error => BillingError::IdempotencyConflict {
            invoice: id.clone(),
            error,
        },
    }
}
