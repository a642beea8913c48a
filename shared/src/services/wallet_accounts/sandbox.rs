//! The sandbox provider: every gateway's wallets are Pocketbook balances in this table, under
//! the project `sandbox-wallets`, one per gateway and mobile number (two merchants' customers
//! with the same number share the wallet, as at a real provider). It is a client of the
//! balances service, like any other.
//!
//! Its rules, for `make dev` and tests:
//! - No SMS is sent; the OTP is the **last six digits of the mobile number**.
//! - A wallet opens on its first link with **1000.00 INR**.
//! - A top-up is served by `GET /sandbox/topups/{txn_id}`: it credits the order's amount to
//!   the wallet and completes the order.
//! - A direct debit takes the token's use and the order in the same transaction as the
//!   wallet's own debit.

use crate::domain::balance::{Balance, NewBalance};
use crate::domain::ledger::Ids;
use crate::domain::money::{Amount, MinLimit};
use crate::domain::names::{BalanceId, BalanceName, BalanceType, IdempotencyKey, ProjectId, Subject};
use crate::domain::operation::{Operation, Rejection};
use crate::domain::orders::RefundId;
use crate::domain::wallet_accounts::{Gateway, MobileNumber, Otp, PaymentAmount, TxnId};
use crate::engine::{Answer, EngineError, Fault, Fingerprint, Idempotency, Outcome, RandomIds};
use crate::providers::{Authentication, Debit, DebitOutcome, LinkedWallet, ProviderError, TopUp, WalletProvider};
use crate::services::balances::{Balances, OperationInput, OperationOutcome};
use crate::store::{Refused, Write};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

/// The project that holds every sandbox wallet.
pub const PROJECT: &str = "sandbox-wallets";
/// What a sandbox wallet holds when it opens.
pub const OPENING_BALANCE: Decimal = Decimal::from_parts(100_000, 0, 0, false, 2);
const CURRENCY: &str = "INR";
/// The sandbox's top-up page, under the API's own address.
pub const TOP_UP_PATH: &str = "/sandbox/topups";

pub fn project() -> ProjectId {
    ProjectId::reserved(PROJECT)
}

/// The OTP the sandbox expects for a mobile number.
pub fn otp_for(mobile: &MobileNumber) -> String {
    let digits = mobile.as_str();
    digits[digits.len() - 6..].to_owned()
}

/// The wallet's balance id: derived from gateway and number, so linking needs no lookup table.
pub fn wallet_balance_id(gateway: Gateway, mobile: &MobileNumber) -> BalanceId {
    let digest = Sha256::digest(format!("pocketbook sandbox wallet\n{gateway}\n{mobile}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    BalanceId::new(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

pub struct Sandbox<'a> {
    pub balances: &'a Balances,
    pub gateway: Gateway,
    /// The API's public address (`https://host`), for top-up URLs; relative without one.
    pub public_url: Option<&'a str>,
}

fn unavailable(error: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable(format!("sandbox: {error}"))
}

fn unknown_wallet() -> ProviderError {
    ProviderError::Refused("unknown sandbox wallet".into())
}

fn balance_id(reference: &str) -> Result<BalanceId, ProviderError> {
    BalanceId::parse(reference).map_err(|_| unknown_wallet())
}

/// The ledger's answers as a provider's: a missing wallet is a refusal, a busy one is busy.
impl From<EngineError> for ProviderError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::NotFound => unknown_wallet(),
            EngineError::Busy => ProviderError::Busy,
            EngineError::Rejected(rejection) => ProviderError::Refused(rejection.to_string()),
            other => unavailable(other),
        }
    }
}

/// What a sandbox debit carrying other writes came to.
pub enum SandboxDebit {
    Charged,
    InsufficientFunds,
    /// A condition of the other writes failed; nothing was written.
    Refused(Refused),
}

/// The sandbox's own records of its credits need no answer: a repeat only has to apply
/// nothing, and the caller reads the balance.
fn no_answer(_: &OperationOutcome) -> Answer {
    Answer { status: 200, body: String::new() }
}

impl Sandbox<'_> {
    /// An operation on a sandbox wallet, applied once per `key`.
    async fn once(
        &self,
        id: BalanceId,
        operation: Operation,
        subject: Option<&str>,
        key: String,
    ) -> Result<Outcome<OperationOutcome>, EngineError> {
        let subject = subject.map(Subject::parse).transpose().map_err(|e| Fault::Inconsistent(e.0))?.flatten();
        let input = OperationInput { balance: id, operation, subject, update_token: None, session: None };
        let key = IdempotencyKey::parse(&key).map_err(|e| Fault::Inconsistent(e.0))?;
        let idempotency = Idempotency::new(key, Fingerprint::of("sandbox", &input), &no_answer);
        self.balances.execute_operation(&project(), &input, Some(&idempotency), None).await
    }

    async fn open_wallet(&self, id: BalanceId) -> Result<Balance, ProviderError> {
        let project = project();
        match self.balances.get_balance(&project, id).await {
            Ok((balance, _)) if !balance.amount.is_zero() || balance.transactions_count > 0 => return Ok(balance),
            Ok(_) | Err(EngineError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
        let fresh = Balance::open(
            NewBalance {
                project_id: project.clone(),
                id,
                balance_type: BalanceType::parse(CURRENCY).map_err(unavailable)?,
                name: BalanceName::parse(&format!("{} sandbox wallet", self.gateway)).map_err(unavailable)?,
                min_limit: MinLimit::new(Decimal::ZERO).map_err(unavailable)?,
            },
            self.balances.engine().clock().now(),
            RandomIds.update_token(),
        );
        // Two first links at once both try; the loser's insert fails and it goes on.
        match self.balances.engine().write(&project, &[Write::NewBalance(fresh)]).await {
            Ok(()) | Err(EngineError::WriteRefused(Refused::Exists)) => {}
            Err(error) => tracing::debug!(balance = %id, error = %error, "opening a sandbox wallet failed"),
        }
        let opening = Operation::inc(Amount::new(OPENING_BALANCE).map_err(unavailable)?);
        match self.once(id, opening, Some("sandbox opening balance"), format!("sandbox-opening-{id}")).await? {
            Outcome::Done(opened) => Ok(opened.balance),
            // A concurrent first link opened it: the balance as it is now.
            Outcome::Replayed(_) => Ok(self.balances.get_balance(&project, id).await?.0),
        }
    }

    /// The debit of transaction `txn`, with `with` (a direct debit's claim, an order's
    /// status) in the same transaction. No idempotency record: those writes carry their own
    /// once-only conditions, so a record would only cost an item, and a read on every refusal.
    pub async fn debit_with(
        &self,
        reference: &str,
        amount: PaymentAmount,
        txn: &TxnId,
        with: Write,
    ) -> Result<SandboxDebit, ProviderError> {
        let input = OperationInput {
            balance: balance_id(reference)?,
            operation: Operation::Dec { amount: Amount::new(amount.value()).map_err(unavailable)? },
            subject: None,
            update_token: None,
            session: Some(format!("debit-{txn}")),
        };
        match self.balances.operate(&project(), &input, &[with], None).await {
            Ok(_) => Ok(SandboxDebit::Charged),
            Err(EngineError::Rejected(Rejection::InsufficientFunds)) => Ok(SandboxDebit::InsufficientFunds),
            Err(EngineError::WriteRefused(refused)) => Ok(SandboxDebit::Refused(refused)),
            Err(error) => Err(error.into()),
        }
    }

    /// A refund's credit, with `with` (the order's refund, settled) in the same transaction.
    /// The refund id is the session: the order's version condition makes it happen once.
    pub async fn credit_with(
        &self,
        reference: &str,
        amount: PaymentAmount,
        refund: &RefundId,
        with: Write,
    ) -> Result<Result<(), Refused>, ProviderError> {
        let input = OperationInput {
            balance: balance_id(reference)?,
            operation: Operation::inc(Amount::new(amount.value()).map_err(unavailable)?),
            subject: Subject::parse("refund").map_err(unavailable)?,
            update_token: None,
            session: Some(format!("refund-{refund}")),
        };
        match self.balances.operate(&project(), &input, &[with], None).await {
            Ok(_) => Ok(Ok(())),
            Err(EngineError::WriteRefused(refused)) => Ok(Err(refused)),
            Err(error) => Err(error.into()),
        }
    }

    /// The top-up page's credit: the order's amount, once per transaction.
    pub async fn credit(&self, reference: &str, amount: PaymentAmount, txn: &TxnId) -> Result<(), ProviderError> {
        let credit = Operation::inc(Amount::new(amount.value()).map_err(unavailable)?);
        self.once(balance_id(reference)?, credit, Some("sandbox top-up"), format!("topup-{txn}")).await?;
        Ok(())
    }
}

impl WalletProvider for Sandbox<'_> {
    async fn authenticate(&self, _mobile: &MobileNumber) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn link(&self, mobile: &MobileNumber, otp: &Otp) -> Result<LinkedWallet, ProviderError> {
        if otp.as_str() != otp_for(mobile) {
            return Err(ProviderError::Refused("the OTP is not correct".into()));
        }
        let id = wallet_balance_id(self.gateway, mobile);
        let balance = self.open_wallet(id).await?;
        Ok(LinkedWallet { reference: id.to_string(), balance: balance.amount })
    }

    async fn balance(&self, reference: &str) -> Result<Decimal, ProviderError> {
        Ok(self.balances.get_balance(&project(), balance_id(reference)?).await?.0.amount)
    }

    async fn debit(&self, debit: &Debit<'_>) -> Result<DebitOutcome, ProviderError> {
        let operation = Operation::dec(Amount::new(debit.amount.value()).map_err(unavailable)?);
        match self.once(balance_id(debit.reference)?, operation, None, format!("debit-{}", debit.txn_id)).await {
            Ok(Outcome::Done(done)) => Ok(DebitOutcome::Charged { balance: done.balance.amount }),
            // Debited before: the balance as it is now.
            Ok(Outcome::Replayed(_)) => Ok(DebitOutcome::Charged { balance: self.balance(debit.reference).await? }),
            Err(EngineError::Rejected(Rejection::InsufficientFunds)) => {
                Ok(DebitOutcome::InsufficientFunds { balance: self.balance(debit.reference).await? })
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn top_up(&self, top_up: &TopUp<'_>) -> Result<Authentication, ProviderError> {
        let base = self.public_url.unwrap_or("").trim_end_matches('/');
        Ok(Authentication {
            method: "GET".into(),
            url: format!("{base}{TOP_UP_PATH}/{}", top_up.txn_id),
            params: Vec::new(),
        })
    }

    async fn delink(&self, _reference: &str) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_project_and_wallet_ids_are_valid() {
        assert_eq!(ProjectId::parse(PROJECT), Ok(project()));
        assert!(project().is_reserved(), "no API key can reach the sandbox's wallets");
        let mobile = MobileNumber::parse("9876543210").unwrap();
        let id = wallet_balance_id(Gateway::Paytm, &mobile);
        assert_eq!(BalanceId::parse(&id.to_string()), Ok(id));
        assert_ne!(id, wallet_balance_id(Gateway::Mobikwik, &mobile));
        assert_eq!(otp_for(&mobile), "543210");
        assert_eq!(OPENING_BALANCE.to_string(), "1000.00");
    }
}
