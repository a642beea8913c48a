//! The customer wallet accounts (after Juspay Express Checkout): create and link them at a
//! provider, list them with fresh single-use tokens, refresh their balances ([`WalletAccounts`]
//! here); debit them directly and follow the orders ([`payments`]). The sandbox provider, a
//! client of the balances, is in [`sandbox`].

mod customers;
mod orders;
mod payments;
pub mod sandbox;

pub use customers::CustomerError;
pub use orders::OrderRequest;
pub use payments::{CallbackError, DirectDebitError, DirectDebitRequest, OrderError};

use super::Balances;
use crate::domain::names::ProjectId;
use crate::domain::wallet_accounts::{
    CustomerId, Gateway, ListedAccount, MobileNumber, Otp, WalletAccount, WalletAccountId, WalletToken,
};
use crate::engine::{Engine, Fault};
use crate::providers::{AnyProvider, ProviderError, ProviderFor, Providers, WalletProvider};
use crate::store::StoreError;
use rand::RngCore;
use rust_decimal::Decimal;
use sandbox::Sandbox;
use std::time::Duration;

/// The customer wallet accounts: the providers, and the balances (over the engine) that the
/// sandbox provider keeps its wallets in.
#[derive(Clone)]
pub struct WalletAccounts {
    balances: Balances,
    providers: Providers,
    /// A refresh-balances answer comes within about this, whatever the providers do.
    refresh_timeout: Duration,
}

pub(super) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[derive(Debug, thiserror::Error)]
pub enum WalletAccountError {
    #[error("wallet account not found")]
    NotFound,
    /// The customer has an account at this gateway for another mobile number.
    #[error("the customer already has a {gateway} wallet account ({id}) for another mobile number")]
    Exists { gateway: Gateway, id: WalletAccountId },
    #[error("the wallet account is not linked")]
    NotLinked,
    /// No mobile number in the form, and no customer of this id to take it from.
    #[error("mobile_number: is required (there is no customer of this id to take it from)")]
    MobileRequired,
    /// The provider said no (a wrong OTP, an unknown wallet).
    #[error("{0}")]
    Refused(String),
    /// Changed by another request meanwhile; nothing was written.
    #[error("the wallet account changed meanwhile")]
    Conflict,
    #[error("{0}")]
    ProviderUnavailable(String),
    /// The sandbox wallet is busy with another payment: retry shortly.
    #[error("the wallet is busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] Fault),
}

fn provider_error(error: ProviderError) -> WalletAccountError {
    match error {
        ProviderError::Refused(reason) => WalletAccountError::Refused(reason),
        ProviderError::Unavailable(reason) => WalletAccountError::ProviderUnavailable(reason),
        ProviderError::Busy => WalletAccountError::Busy,
    }
}

/// A wallet account command (`POST /customers/{customer_id}/wallets/{wallet_id}`).
#[derive(Debug, Clone)]
pub enum Command {
    Authenticate,
    Link(Otp),
    Refresh,
    Delink,
}

/// A store error is a fault to every action here (a 500; the detail goes to the log).
macro_rules! store_errors_are_faults {
    ($($error:ident),*) => {$(
        impl From<StoreError> for $error {
            fn from(error: StoreError) -> Self {
                $error::Failed(error.into())
            }
        }
    )*};
}

store_errors_are_faults!(WalletAccountError, DirectDebitError, OrderError, CallbackError);

impl WalletAccounts {
    pub fn new(balances: Balances, providers: Providers, refresh_timeout: Duration) -> Self {
        Self { balances, providers, refresh_timeout }
    }

    pub fn engine(&self) -> &Engine {
        self.balances.engine()
    }

    fn provider<'a>(&'a self, gateway: Gateway, public_url: Option<&'a str>) -> AnyProvider<'a, Sandbox<'a>> {
        match self.providers.get(gateway) {
            ProviderFor::Sandbox => AnyProvider::Sandbox(self.sandbox(gateway, public_url)),
            ProviderFor::Http(http) => AnyProvider::Http(http),
        }
    }

    fn sandbox<'a>(&'a self, gateway: Gateway, public_url: Option<&'a str>) -> Sandbox<'a> {
        Sandbox { balances: &self.balances, gateway, public_url }
    }

    /// Creates the customer's account at the gateway (or finds it, for the same number) and
    /// asks the provider for an OTP. `true` when it was created now.
    pub async fn create_wallet_account(
        &self,
        project: &ProjectId,
        customer: &CustomerId,
        gateway: Gateway,
        mobile: Option<MobileNumber>,
    ) -> Result<(WalletAccount, bool), WalletAccountError> {
        let store = self.engine().store();
        let mobile = match mobile {
            Some(mobile) => mobile,
            // Juspay takes it from the customer: one more read, only when it is missing.
            None => store.customer(project, customer).await?.ok_or(WalletAccountError::MobileRequired)?.mobile_number,
        };
        let id = WalletAccountId::from_random(random());
        let fresh = WalletAccount::open(project, customer, id, gateway, mobile.clone(), self.engine().clock().now());
        let (account, created) = if store.insert_wallet_account(&fresh).await? {
            (fresh, true)
        } else {
            let existing = store.wallet_accounts(project, customer).await?.into_iter().find(|a| a.gateway == gateway);
            let existing = existing.ok_or(Fault::Inconsistent("a wallet account refused as existing is missing"))?;
            if existing.mobile != mobile {
                return Err(WalletAccountError::Exists { gateway, id: existing.id });
            }
            (existing, false)
        };
        self.provider(gateway, None).authenticate(&account.mobile).await.map_err(provider_error)?;
        Ok((account, created))
    }

    /// The account: by its customer's Query, or by the id's index (no customer given).
    async fn wallet_account(
        &self,
        project: &ProjectId,
        customer: Option<&CustomerId>,
        id: &WalletAccountId,
    ) -> Result<WalletAccount, WalletAccountError> {
        let store = self.engine().store();
        let found = match customer {
            Some(customer) => store.wallet_accounts(project, customer).await?.into_iter().find(|a| a.id == *id),
            None => store.wallet_account_by_id(project, id).await?,
        };
        found.ok_or(WalletAccountError::NotFound)
    }

    /// A command on the account `id` (of `customer`, when the path names one).
    pub async fn wallet_account_command(
        &self,
        project: &ProjectId,
        customer: Option<&CustomerId>,
        id: &WalletAccountId,
        command: Command,
    ) -> Result<WalletAccount, WalletAccountError> {
        let account = self.wallet_account(project, customer, id).await?;
        let provider = self.provider(account.gateway, None);
        let now = self.engine().clock().now();
        let read_version = account.link_version;
        let reference = account.linked_reference().ok_or(WalletAccountError::NotLinked);
        let changed = match command {
            Command::Authenticate => {
                provider.authenticate(&account.mobile).await.map_err(provider_error)?;
                return Ok(account);
            }
            Command::Link(otp) => {
                let linked = provider.link(&account.mobile, &otp).await.map_err(provider_error)?;
                account.linked_to(linked.reference, linked.balance, now)
            }
            Command::Refresh => {
                let balance = provider.balance(reference?).await.map_err(provider_error)?;
                account.refreshed(balance, now)
            }
            Command::Delink => {
                match provider.delink(reference?).await {
                    // A provider that no longer knows the wallet has delinked it already.
                    Ok(()) | Err(ProviderError::Refused(_)) => {}
                    Err(error) => return Err(provider_error(error)),
                }
                account.delinked()
            }
        };
        match self.engine().store().replace_wallet_account(&changed, read_version).await? {
            true => Ok(changed),
            false => Err(WalletAccountError::Conflict),
        }
    }

    /// The accounts of the customer an order is for (its `customer_id`, or the customer whose
    /// wallet paid it), as [`WalletAccounts::list_wallet_accounts`].
    pub async fn order_wallet_accounts(
        &self,
        project: &ProjectId,
        order_id: &crate::domain::wallet_accounts::OrderId,
    ) -> Result<Vec<ListedAccount>, OrderError> {
        let order = self.order_status(project, order_id).await?;
        let customer = order.details.customer_id.or(order.payment.map(|p| p.customer));
        let Some(customer) = customer else { return Ok(Vec::new()) };
        self.list_wallet_accounts(project, &customer, false).await.map_err(|error| match error {
            WalletAccountError::Failed(fault) => OrderError::Failed(fault),
            WalletAccountError::Conflict => OrderError::Conflict,
            other => OrderError::ProviderUnavailable(other.to_string()),
        })
    }

    /// The gateways a payment can go through: every one, at its HTTP provider or the sandbox.
    pub fn gateways(&self) -> Vec<(Gateway, bool)> {
        Gateway::ALL.into_iter().map(|g| (g, matches!(self.providers.get(g), ProviderFor::Sandbox))).collect()
    }

    /// The customer's accounts, each linked one with a new token; with `refresh`, after
    /// asking each linked account's provider for its balance, all at once, each bounded by
    /// the refresh timeout. Two round trips (the Query and one transaction), plus the
    /// sandbox's own reads when it is asked.
    pub async fn list_wallet_accounts(
        &self,
        project: &ProjectId,
        customer: &CustomerId,
        refresh: bool,
    ) -> Result<Vec<ListedAccount>, WalletAccountError> {
        let accounts = self.engine().store().wallet_accounts(project, customer).await?;
        let outcomes: Vec<Option<Result<Decimal, String>>> = if refresh {
            let asks = accounts.iter().map(|account| async move {
                let reference = account.linked_reference()?;
                let ask = self.provider(account.gateway, None);
                Some(match tokio::time::timeout(self.refresh_timeout, ask.balance(reference)).await {
                    Ok(Ok(balance)) => Ok(balance),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err("the provider did not answer in time".to_owned()),
                })
            });
            futures_util::future::join_all(asks).await
        } else {
            vec![None; accounts.len()]
        };
        let now = self.engine().clock().now();
        let (mut listed, mut grants, mut refreshed) = (Vec::new(), Vec::new(), Vec::new());
        for (mut account, outcome) in accounts.into_iter().zip(outcomes) {
            let refresh = outcome.map(|outcome| {
                outcome.map(|balance| {
                    account = account.clone().refreshed(balance, now);
                    refreshed.push(account.clone());
                })
            });
            let token = account.grant(now).map(|grant| {
                let token = WalletToken::from_random(random());
                grants.push((token.hash(), grant));
                token
            });
            listed.push(ListedAccount { account, token, refresh });
        }
        match self.engine().store().issue_tokens(&grants, project, &refreshed, now).await? {
            true => Ok(listed),
            false => Err(WalletAccountError::Conflict),
        }
    }
}
