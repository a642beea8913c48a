//! Customer wallet accounts: create and link them at a provider, list them with fresh
//! single-use tokens, refresh their balances, debit them directly, and follow the orders.
//!
//! A direct debit happens at most once per order id and per token: the token's use, the
//! account's link, the order and the transaction index are one conditional claim, written in
//! the same transaction as a sandbox wallet's debit, or before an HTTP provider is asked.

use super::{Fault, Ledger};
use crate::domain::names::ProjectId;
use crate::domain::wallet_accounts::{
    CustomerId, Gateway, MobileNumber, Order, OrderId, Otp, PaymentAmount, PaymentStatus, TokenGrant, TxnId,
    WalletAccount, WalletAccountId, WalletToken,
};
use crate::providers::http::HttpProvider;
use crate::providers::sandbox::{Sandbox, SandboxDebit};
use crate::providers::{AnyProvider, Debit, DebitOutcome, ProviderError, ProviderFor, TopUp, WalletProvider};
use crate::store::{Claim, ClaimError, ClaimRefused, StoreError};
use rand::RngCore;
use rust_decimal::Decimal;

fn random<const N: usize>() -> [u8; N] {
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

/// One account of a list answer.
#[derive(Debug, Clone)]
pub struct ListedAccount {
    pub account: WalletAccount,
    /// A new token, for a linked account.
    pub token: Option<WalletToken>,
    /// For a refresh: `Ok` when the provider answered, why not otherwise.
    pub refresh: Option<Result<(), String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectDebitError {
    /// JUSPAY_DECLINED: a bad, expired, used or foreign token, or a wallet no longer linked.
    #[error("{message}")]
    Declined { code: &'static str, message: &'static str },
    #[error("{0}")]
    ProviderUnavailable(String),
    /// The sandbox wallet is busy with another payment: nothing happened; retry shortly.
    #[error("the wallet is busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] Fault),
}

impl DirectDebitError {
    /// One refusal for every kind of bad token (made up, malformed, used, expired, another
    /// customer's or project's): no oracle for which tokens exist.
    pub const INVALID_TOKEN: Self = DirectDebitError::Declined {
        code: "INVALID_TOKEN",
        message: "the direct_wallet_token is invalid, expired or already used",
    };
}

/// `POST /txns` after parsing.
#[derive(Debug, Clone)]
pub struct DirectDebitRequest {
    pub order_id: OrderId,
    pub merchant_id: String,
    pub amount: PaymentAmount,
    pub gateway: Gateway,
    pub token: WalletToken,
    /// When given, the token must be this customer's.
    pub customer: Option<CustomerId>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order not found")]
    NotFound,
    #[error("{0}")]
    ProviderUnavailable(String),
    /// The sandbox wallet is busy with another payment: retry shortly.
    #[error("the wallet is busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] Fault),
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No HTTP provider serves this gateway.
    #[error("no callbacks for this gateway")]
    UnknownGateway,
    #[error("the signature does not match")]
    BadSignature,
    #[error("{0}")]
    Malformed(String),
    #[error("unknown transaction")]
    UnknownTxn,
    #[error(transparent)]
    Failed(#[from] Fault),
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

impl Ledger {
    fn provider<'a>(&'a self, gateway: Gateway, public_url: Option<&'a str>) -> AnyProvider<'a> {
        match self.wallets.providers.get(gateway) {
            ProviderFor::Sandbox => AnyProvider::Sandbox(Sandbox { ledger: self, gateway, public_url }),
            ProviderFor::Http(http) => AnyProvider::Http(http),
        }
    }

    /// Creates the customer's account at the gateway (or finds it, for the same number) and
    /// asks the provider for an OTP. `true` when it was created now.
    pub async fn create_wallet_account(
        &self,
        project: &ProjectId,
        customer: &CustomerId,
        gateway: Gateway,
        mobile: MobileNumber,
    ) -> Result<(WalletAccount, bool), WalletAccountError> {
        let now = self.clock.now();
        let fresh = WalletAccount {
            project: project.clone(),
            customer: customer.clone(),
            id: WalletAccountId::from_random(random()),
            gateway,
            mobile: mobile.clone(),
            linked: false,
            reference: None,
            current_balance: Decimal::ZERO,
            last_refreshed: None,
            link_version: 0,
            created_at: now,
        };
        let (account, created) = if self.store.insert_wallet_account(&fresh).await? {
            (fresh, true)
        } else {
            let existing =
                self.store.wallet_accounts(project, customer).await?.into_iter().find(|a| a.gateway == gateway);
            let existing = existing.ok_or(Fault::Inconsistent("a wallet account refused as existing is missing"))?;
            if existing.mobile != mobile {
                return Err(WalletAccountError::Exists { gateway, id: existing.id });
            }
            (existing, false)
        };
        self.provider(gateway, None).authenticate(&account.mobile).await.map_err(provider_error)?;
        Ok((account, created))
    }

    async fn wallet_account(
        &self,
        project: &ProjectId,
        customer: &CustomerId,
        id: &WalletAccountId,
    ) -> Result<WalletAccount, WalletAccountError> {
        let accounts = self.store.wallet_accounts(project, customer).await?;
        accounts.into_iter().find(|a| a.id == *id).ok_or(WalletAccountError::NotFound)
    }

    async fn replace_account(
        &self,
        account: WalletAccount,
        read_version: u64,
    ) -> Result<WalletAccount, WalletAccountError> {
        if self.store.replace_wallet_account(&account, read_version).await? {
            Ok(account)
        } else {
            Err(WalletAccountError::Conflict)
        }
    }

    pub async fn wallet_account_command(
        &self,
        project: &ProjectId,
        customer: &CustomerId,
        id: &WalletAccountId,
        command: Command,
    ) -> Result<WalletAccount, WalletAccountError> {
        let account = self.wallet_account(project, customer, id).await?;
        let provider = self.provider(account.gateway, None);
        let now = self.clock.now();
        let read_version = account.link_version;
        match command {
            Command::Authenticate => {
                provider.authenticate(&account.mobile).await.map_err(provider_error)?;
                Ok(account)
            }
            Command::Link(otp) => {
                let linked = provider.link(&account.mobile, &otp).await.map_err(provider_error)?;
                let account = WalletAccount {
                    linked: true,
                    reference: Some(linked.reference),
                    current_balance: linked.balance,
                    last_refreshed: Some(now),
                    link_version: read_version + 1,
                    ..account
                };
                self.replace_account(account, read_version).await
            }
            Command::Refresh => {
                let reference =
                    account.reference.as_deref().filter(|_| account.linked).ok_or(WalletAccountError::NotLinked)?;
                let balance = provider.balance(reference).await.map_err(provider_error)?;
                let account = WalletAccount { current_balance: balance, last_refreshed: Some(now), ..account };
                self.replace_account(account, read_version).await
            }
            Command::Delink => {
                let reference =
                    account.reference.as_deref().filter(|_| account.linked).ok_or(WalletAccountError::NotLinked)?;
                match provider.delink(reference).await {
                    // A provider that no longer knows the wallet has delinked it already.
                    Ok(()) | Err(ProviderError::Refused(_)) => {}
                    Err(error) => return Err(provider_error(error)),
                }
                // A new link version voids every token issued so far.
                let account = WalletAccount { linked: false, link_version: read_version + 1, ..account };
                self.replace_account(account, read_version).await
            }
        }
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
        let accounts = self.store.wallet_accounts(project, customer).await?;
        let outcomes: Vec<Option<Result<Decimal, String>>> = if refresh {
            let asks = accounts.iter().map(|account| async move {
                let reference = account.reference.as_deref().filter(|_| account.linked)?;
                let ask = self.provider(account.gateway, None);
                Some(match tokio::time::timeout(self.wallets.refresh_timeout, ask.balance(reference)).await {
                    Ok(Ok(balance)) => Ok(balance),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err("the provider did not answer in time".to_owned()),
                })
            });
            futures_util::future::join_all(asks).await
        } else {
            vec![None; accounts.len()]
        };
        let now = self.clock.now();
        let (mut listed, mut grants, mut refreshed) = (Vec::new(), Vec::new(), Vec::new());
        for (mut account, outcome) in accounts.into_iter().zip(outcomes) {
            let refresh = outcome.map(|outcome| {
                outcome.map(|balance| {
                    account.current_balance = balance;
                    account.last_refreshed = Some(now);
                    refreshed.push(account.clone());
                })
            });
            let token = match (&account.reference, account.linked) {
                (Some(reference), true) => {
                    let token = WalletToken::from_random(random());
                    grants.push((
                        token.hash(),
                        TokenGrant {
                            customer: account.customer.clone(),
                            wallet_id: account.id.clone(),
                            gateway: account.gateway,
                            link_version: account.link_version,
                            reference: reference.clone(),
                            expires_at: now.plus_ms(WalletToken::LIFETIME_MS),
                            used: false,
                        },
                    ));
                    Some(token)
                }
                _ => None,
            };
            listed.push(ListedAccount { account, token, refresh });
        }
        match self.store.issue_tokens(&grants, project, &refreshed, now).await? {
            true => Ok(listed),
            false => Err(WalletAccountError::Conflict),
        }
    }

    /// `POST /txns`. The same order id again answers that order and never debits again.
    pub async fn direct_debit(
        &self,
        project: &ProjectId,
        request: DirectDebitRequest,
        public_url: Option<&str>,
    ) -> Result<Order, DirectDebitError> {
        let token_hash = request.token.hash();
        let (grant, existing) = self.store.token_and_order(project, &token_hash, &request.order_id).await?;
        if let Some(order) = existing {
            return self.resume(order).await.map_err(|e| match e {
                OrderError::ProviderUnavailable(reason) => DirectDebitError::ProviderUnavailable(reason),
                OrderError::Busy => DirectDebitError::Busy,
                OrderError::Failed(fault) => fault.into(),
                OrderError::NotFound => Fault::Inconsistent("an order read vanished").into(),
            });
        }
        let now = self.clock.now();
        // One answer for every kind of bad token: no oracle for which tokens exist.
        let grant = grant.filter(|g| g.usable(now)).ok_or(DirectDebitError::INVALID_TOKEN)?;
        if request.customer.as_ref().is_some_and(|customer| *customer != grant.customer) {
            return Err(DirectDebitError::INVALID_TOKEN);
        }
        if grant.gateway != request.gateway {
            return Err(DirectDebitError::Declined {
                code: "INVALID_PAYMENT_METHOD",
                message: "the direct_wallet_token belongs to another payment_method",
            });
        }
        let order = Order {
            project: project.clone(),
            order_id: request.order_id,
            txn_id: TxnId::from_random(random()),
            merchant_id: request.merchant_id,
            customer: grant.customer.clone(),
            wallet_id: grant.wallet_id.clone(),
            gateway: request.gateway,
            reference: grant.reference.clone(),
            amount: request.amount,
            status: PaymentStatus::Charged,
            authentication: None,
            created_at: now,
            updated_at: now,
            expires_at: now.plus_ms(Order::PENDING_LIFETIME_MS),
        };
        let link_version = grant.link_version;
        let claim = |order: &Order| Claim { token_hash: &token_hash, link_version, order: order.clone(), now };
        match self.wallets.providers.get(request.gateway) {
            ProviderFor::Sandbox => {
                let sandbox = Sandbox { ledger: self, gateway: order.gateway, public_url };
                let items = self.store.claim_items(&claim(&order))?;
                let key = format!("debit-{}", order.txn_id);
                match sandbox.debit_with_claim(&order.reference, order.amount, key, items).await {
                    Ok(SandboxDebit::Charged { .. }) => Ok(order),
                    Ok(SandboxDebit::ClaimRefused(reasons)) => {
                        let refused = ClaimRefused::from_reasons(&reasons)?
                            .ok_or(Fault::Inconsistent("a claim refused without a failed condition"))?;
                        self.claim_refused(project, &order.order_id, refused).await
                    }
                    Ok(SandboxDebit::InsufficientFunds) => {
                        let top_up = TopUp { reference: &order.reference, txn_id: &order.txn_id, amount: order.amount };
                        let authentication = sandbox.top_up(&top_up).await.map_err(debit_unavailable)?;
                        let pending =
                            Order { status: PaymentStatus::PendingVbv, authentication: Some(authentication), ..order };
                        self.place(claim(&pending), project).await
                    }
                    Err(ProviderError::Refused(reason)) => {
                        tracing::info!(order = %order.order_id, reason = %reason, "sandbox refused the debit");
                        let failed = Order { status: PaymentStatus::AuthorizationFailed, ..order };
                        self.place(claim(&failed), project).await
                    }
                    Err(ProviderError::Unavailable(reason)) => Err(DirectDebitError::ProviderUnavailable(reason)),
                    Err(ProviderError::Busy) => Err(DirectDebitError::Busy),
                }
            }
            ProviderFor::Http(http) => {
                let authorizing = Order { status: PaymentStatus::Authorizing, ..order };
                let placed = self.place(claim(&authorizing), project).await?;
                if placed.txn_id != authorizing.txn_id {
                    return Ok(placed);
                }
                Ok(self.drive(http, placed).await)
            }
        }
    }

    /// Writes the claim on its own: the order placed, or the one that took its id first.
    async fn place(&self, claim: Claim<'_>, project: &ProjectId) -> Result<Order, DirectDebitError> {
        match self.store.write_claim(&claim).await {
            Ok(()) => Ok(claim.order.clone()),
            Err(ClaimError::Refused(refused)) => self.claim_refused(project, &claim.order.order_id, refused).await,
            Err(ClaimError::Store(error)) => Err(error.into()),
        }
    }

    async fn claim_refused(
        &self,
        project: &ProjectId,
        order_id: &OrderId,
        refused: ClaimRefused,
    ) -> Result<Order, DirectDebitError> {
        match refused {
            ClaimRefused::OrderExists(Some(order)) => Ok(*order),
            ClaimRefused::OrderExists(None) => self
                .store
                .order(project, order_id)
                .await?
                .ok_or(Fault::Inconsistent("a taken order id is missing").into()),
            ClaimRefused::Token => Err(DirectDebitError::INVALID_TOKEN),
            ClaimRefused::NotLinked => Err(DirectDebitError::Declined {
                code: "WALLET_NOT_LINKED",
                message: "the wallet account was delinked since the token was issued",
            }),
        }
    }

    /// Asks an HTTP provider to debit an AUTHORIZING order (again: the transaction id is its
    /// idempotency key) and records what it said. An unanswered provider leaves the order
    /// AUTHORIZING, to be driven on by the next request for it.
    async fn drive(&self, http: &HttpProvider, order: Order) -> Order {
        let debit = Debit { reference: &order.reference, txn_id: &order.txn_id, amount: order.amount };
        let now = self.clock.now();
        let next = match http.debit(&debit).await {
            Ok(DebitOutcome::Charged { .. }) => {
                Order { status: PaymentStatus::Charged, updated_at: now, ..order.clone() }
            }
            Ok(DebitOutcome::InsufficientFunds { .. }) => {
                let top_up = TopUp { reference: &order.reference, txn_id: &order.txn_id, amount: order.amount };
                match http.top_up(&top_up).await {
                    Ok(authentication) => Order {
                        status: PaymentStatus::PendingVbv,
                        authentication: Some(authentication),
                        updated_at: now,
                        expires_at: now.plus_ms(Order::PENDING_LIFETIME_MS),
                        ..order.clone()
                    },
                    Err(ProviderError::Refused(_)) => {
                        Order { status: PaymentStatus::AuthorizationFailed, updated_at: now, ..order.clone() }
                    }
                    Err(error @ (ProviderError::Unavailable(_) | ProviderError::Busy)) => {
                        tracing::warn!(order = %order.order_id, txn = %order.txn_id, reason = %error, "top-up URL not available; order stays AUTHORIZING");
                        return order;
                    }
                }
            }
            Ok(DebitOutcome::Declined { reason }) | Err(ProviderError::Refused(reason)) => {
                tracing::info!(order = %order.order_id, txn = %order.txn_id, reason = %reason, "provider declined the debit");
                Order { status: PaymentStatus::AuthorizationFailed, updated_at: now, ..order.clone() }
            }
            Err(error @ (ProviderError::Unavailable(_) | ProviderError::Busy)) => {
                tracing::warn!(order = %order.order_id, txn = %order.txn_id, reason = %error, "provider unavailable; order stays AUTHORIZING");
                return order;
            }
        };
        match self.store.transition_order(&next, PaymentStatus::Authorizing, now).await {
            Ok(Ok(())) => next,
            Ok(Err(Some(current))) => current,
            Ok(Err(None)) | Err(_) => {
                tracing::warn!(order = %order.order_id, "recording the provider's answer failed; order stays AUTHORIZING");
                order
            }
        }
    }

    /// An existing order as it stands: a pending one whose time ran out has failed; an
    /// AUTHORIZING one at an HTTP provider is asked about again.
    async fn resume(&self, order: Order) -> Result<Order, OrderError> {
        let now = self.clock.now();
        match (order.status, self.wallets.providers.get(order.gateway)) {
            (PaymentStatus::Authorizing, ProviderFor::Http(http)) => Ok(self.drive(http, order).await),
            _ => Ok(Order { status: order.status_at(now), ..order }),
        }
    }

    /// `GET /orders/{order_id}`: one read.
    pub async fn order_status(&self, project: &ProjectId, order_id: &OrderId) -> Result<Order, OrderError> {
        let order = self.store.order(project, order_id).await?.ok_or(OrderError::NotFound)?;
        let now = self.clock.now();
        Ok(Order { status: order.status_at(now), ..order })
    }

    /// The sandbox's top-up page: credits the order's amount to the wallet and completes the
    /// order, once, while it is pending and its time has not run out.
    pub async fn sandbox_top_up(&self, txn: &TxnId) -> Result<Order, OrderError> {
        let (project, order_id) = self.store.order_of_txn(txn).await?.ok_or(OrderError::NotFound)?;
        let order = self.store.order(&project, &order_id).await?.ok_or(OrderError::NotFound)?;
        let now = self.clock.now();
        if !matches!(self.wallets.providers.get(order.gateway), ProviderFor::Sandbox)
            || order.status_at(now) != PaymentStatus::PendingVbv
        {
            return Ok(Order { status: order.status_at(now), ..order });
        }
        let sandbox = Sandbox { ledger: self, gateway: order.gateway, public_url: None };
        let unavailable = |e: ProviderError| match e {
            ProviderError::Busy => OrderError::Busy,
            other => OrderError::ProviderUnavailable(other.to_string()),
        };
        sandbox.credit(&order.reference, order.amount, format!("topup-{txn}")).await.map_err(unavailable)?;
        let charged = Order { status: PaymentStatus::Charged, authentication: None, updated_at: now, ..order.clone() };
        let transition = self.store.order_transition(&charged, PaymentStatus::PendingVbv, now)?;
        match sandbox.debit_with_claim(&order.reference, order.amount, format!("debit-{txn}"), vec![transition]).await {
            Ok(SandboxDebit::Charged { .. }) => Ok(charged),
            // Completed by a concurrent visit, or expired meanwhile: the order as it is.
            Ok(SandboxDebit::ClaimRefused(_) | SandboxDebit::InsufficientFunds) => {
                let order = self.store.order(&project, &order_id).await?.ok_or(OrderError::NotFound)?;
                Ok(Order { status: order.status_at(self.clock.now()), ..order })
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// A provider's report that a top-up completed (or failed), signed with its secret.
    pub async fn provider_callback(
        &self,
        gateway: Gateway,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<Order, CallbackError> {
        let http = self.wallets.providers.http(gateway).ok_or(CallbackError::UnknownGateway)?;
        if !signature.is_some_and(|signature| http.verify_callback(body, signature)) {
            return Err(CallbackError::BadSignature);
        }
        #[derive(serde::Deserialize)]
        struct Report {
            txn_id: String,
            status: String,
        }
        let report: Report = serde_json::from_slice(body)
            .map_err(|e| CallbackError::Malformed(format!("the body is not a report: {e}")))?;
        let txn = TxnId::parse(&report.txn_id).map_err(|e| CallbackError::Malformed(format!("txn_id {e}")))?;
        let success = match report.status.as_str() {
            "SUCCESS" => true,
            "FAILURE" => false,
            _ => return Err(CallbackError::Malformed("status must be SUCCESS or FAILURE".into())),
        };
        let (project, order_id) = self.store.order_of_txn(&txn).await?.ok_or(CallbackError::UnknownTxn)?;
        let order = self.store.order(&project, &order_id).await?.ok_or(CallbackError::UnknownTxn)?;
        let now = self.clock.now();
        if order.gateway != gateway || order.status.is_final() {
            return Ok(Order { status: order.status_at(now), ..order });
        }
        let status = match (success, order.status) {
            (true, _) => PaymentStatus::Charged,
            (false, PaymentStatus::PendingVbv) => PaymentStatus::AuthenticationFailed,
            (false, _) => PaymentStatus::AuthorizationFailed,
        };
        let next = Order { status, updated_at: now, ..order.clone() };
        // A pending order's condition checks its time; a late success is logged for a refund.
        match self.store.transition_order(&next, order.status, now).await? {
            Ok(()) => Ok(next),
            Err(current) => {
                if success {
                    tracing::error!(order = %order.order_id, txn = %txn, "provider reported success after the order ended: refund needed");
                }
                let current = current.unwrap_or(order);
                Ok(Order { status: current.status_at(now), ..current })
            }
        }
    }
}

fn debit_unavailable(error: ProviderError) -> DirectDebitError {
    match error {
        ProviderError::Busy => DirectDebitError::Busy,
        other => DirectDebitError::ProviderUnavailable(other.to_string()),
    }
}
