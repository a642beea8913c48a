//! The sandbox provider: every gateway's wallets are Pocketbook balances in this table, under
//! the project `sandbox-wallets`, one per gateway and mobile number (two merchants' customers
//! with the same number share the wallet, as at a real provider).
//!
//! Its rules, for `make dev` and tests:
//! - No SMS is sent; the OTP is the **last six digits of the mobile number**.
//! - A wallet opens on its first link with **1000.00 INR**.
//! - A top-up is served by `GET /sandbox/topups/{txn_id}`: it credits the order's amount to
//!   the wallet and completes the order.
//! - A direct debit takes the token's use and the order in the same transaction as the
//!   wallet's own debit.

use super::{Authentication, Debit, DebitOutcome, LinkedWallet, ProviderError, TopUp, WalletProvider};
use crate::domain::balance::{Balance, NewBalance};
use crate::domain::ledger::Ids;
use crate::domain::money::{Amount, MinLimit};
use crate::domain::names::{BalanceId, BalanceName, BalanceType, IdempotencyKey, ProjectId, Subject};
use crate::domain::operation::{Operation, Rejection};
use crate::domain::wallet_accounts::{Gateway, MobileNumber, Otp, PaymentAmount};
use crate::service::{ExecuteOperationError, GetBalanceError, Ledger, RandomIds};
use aws_sdk_dynamodb::types::TransactWriteItem;
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
    pub ledger: &'a Ledger,
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
impl From<ExecuteOperationError> for ProviderError {
    fn from(error: ExecuteOperationError) -> Self {
        match error {
            ExecuteOperationError::NotFound => unknown_wallet(),
            ExecuteOperationError::Busy => ProviderError::Busy,
            ExecuteOperationError::Rejected(rejection) => ProviderError::Refused(rejection.to_string()),
            other => unavailable(other),
        }
    }
}

impl From<GetBalanceError> for ProviderError {
    fn from(error: GetBalanceError) -> Self {
        match error {
            GetBalanceError::NotFound => unknown_wallet(),
            GetBalanceError::Busy => ProviderError::Busy,
            GetBalanceError::Failed(fault) => unavailable(fault),
        }
    }
}

fn key(text: String) -> Result<IdempotencyKey, ProviderError> {
    IdempotencyKey::parse(&text).map_err(unavailable)
}

/// What a sandbox debit carrying a claim came to.
pub enum SandboxDebit {
    Charged {
        balance: Decimal,
    },
    InsufficientFunds,
    /// A condition of the claim failed: the writes' cancellation reasons.
    ClaimRefused(Vec<aws_sdk_dynamodb::types::CancellationReason>),
}

impl Sandbox<'_> {
    async fn open_wallet(&self, id: BalanceId) -> Result<Balance, ProviderError> {
        let project = project();
        match self.ledger.get_balance(&project, id).await {
            Ok((balance, _)) if !balance.amount.is_zero() || balance.transactions_count > 0 => return Ok(balance),
            Ok(_) | Err(GetBalanceError::NotFound) => {}
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
            self.ledger.clock().now(),
            RandomIds.update_token(),
        );
        // Two first links at once both try; the loser's insert fails and it goes on.
        if self.ledger.store().insert_balance(&fresh, None).await.is_err() {
            tracing::debug!(balance = %id, "sandbox wallet already created");
        }
        let opening = Operation::Inc { amount: Amount::new(OPENING_BALANCE).map_err(unavailable)?, ttl: None };
        let subject = Subject::parse("sandbox opening balance").map_err(unavailable)?;
        let key = key(format!("sandbox-opening-{id}"))?;
        self.ledger.execute_operation(&project, id, opening, subject, None, Some(key)).await?;
        Ok(self.ledger.get_balance(&project, id).await?.0)
    }

    /// The debit, with a direct debit's claim in the same transaction.
    pub async fn debit_with_claim(
        &self,
        reference: &str,
        amount: PaymentAmount,
        key_text: String,
        claim: Vec<TransactWriteItem>,
    ) -> Result<SandboxDebit, ProviderError> {
        let id = balance_id(reference)?;
        let amount = Amount::new(amount.value()).map_err(unavailable)?;
        match self.ledger.operation_with_extras(&project(), id, Operation::Dec { amount }, key(key_text)?, claim).await
        {
            Ok(balance) => Ok(SandboxDebit::Charged { balance }),
            Err(ExecuteOperationError::Rejected(Rejection::InsufficientFunds)) => Ok(SandboxDebit::InsufficientFunds),
            Err(ExecuteOperationError::ExtraRefused(reasons)) => Ok(SandboxDebit::ClaimRefused(reasons)),
            Err(error) => Err(error.into()),
        }
    }

    /// The top-up page's credit: the order's amount, once per transaction.
    pub async fn credit(&self, reference: &str, amount: PaymentAmount, key_text: String) -> Result<(), ProviderError> {
        let id = balance_id(reference)?;
        let amount = Amount::new(amount.value()).map_err(unavailable)?;
        let subject = Subject::parse("sandbox top-up").map_err(unavailable)?;
        let credit = Operation::Inc { amount, ttl: None };
        self.ledger.execute_operation(&project(), id, credit, subject, None, Some(key(key_text)?)).await?;
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
        Ok(self.ledger.get_balance(&project(), balance_id(reference)?).await?.0.amount)
    }

    async fn debit(&self, debit: &Debit<'_>) -> Result<DebitOutcome, ProviderError> {
        match self
            .debit_with_claim(debit.reference, debit.amount, format!("debit-{}", debit.txn_id), Vec::new())
            .await?
        {
            SandboxDebit::Charged { balance } => Ok(DebitOutcome::Charged { balance }),
            SandboxDebit::InsufficientFunds => {
                Ok(DebitOutcome::InsufficientFunds { balance: self.balance(debit.reference).await? })
            }
            SandboxDebit::ClaimRefused(_) => Err(unavailable("a debit without a claim had its claim refused")),
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
