//! Wallet direct debit and the orders it makes: `POST /txns`, an order's status, the sandbox's
//! top-up page and HTTP providers' callbacks.
//!
//! A direct debit happens at most once per order id and per token: the token's use, the
//! account's link, the order and the transaction index are one conditional claim, written in
//! the same transaction as a sandbox wallet's debit, or before an HTTP provider is asked.

use super::sandbox::SandboxDebit;
use super::{random, WalletAccounts};
use crate::domain::names::ProjectId;
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::{
    CustomerId, Gateway, Order, OrderId, PaymentAmount, PaymentStatus, TxnId, WalletToken,
};
use crate::engine::{EngineError, Fault};
use crate::providers::http::HttpProvider;
use crate::providers::{Debit, DebitOutcome, ProviderError, ProviderFor, TopUp, WalletProvider};
use crate::store::{Claim, ClaimRefused, Refused, Write};

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

impl WalletAccounts {
    /// `POST /txns`. The same order id again answers that order and never debits again.
    pub async fn direct_debit(
        &self,
        project: &ProjectId,
        request: DirectDebitRequest,
        public_url: Option<&str>,
    ) -> Result<Order, DirectDebitError> {
        let token_hash = request.token.hash();
        let (grant, existing) = self.engine().store().token_and_order(project, &token_hash, &request.order_id).await?;
        if let Some(order) = existing {
            return self.resume(order).await.map_err(|e| match e {
                OrderError::ProviderUnavailable(reason) => DirectDebitError::ProviderUnavailable(reason),
                OrderError::Busy => DirectDebitError::Busy,
                OrderError::Failed(fault) => fault.into(),
                OrderError::NotFound => Fault::Inconsistent("an order read vanished").into(),
            });
        }
        let now = self.engine().clock().now();
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
        let txn = TxnId::from_random(random());
        let order = Order::placed(project, request.order_id, txn, request.merchant_id, &grant, request.amount, now);
        let link_version = grant.link_version;
        let claim = |order: &Order| Claim { token_hash: token_hash.clone(), link_version, order: order.clone(), now };
        match self.providers.get(request.gateway) {
            ProviderFor::Sandbox => {
                let sandbox = self.sandbox(order.gateway, public_url);
                let claimed = Write::Claim(claim(&order));
                match sandbox.debit_with(&order.reference, order.amount, &order.txn_id, claimed).await {
                    Ok(SandboxDebit::Charged) => Ok(order),
                    Ok(SandboxDebit::Refused(Refused::Claim(refused))) => {
                        self.claim_refused(project, &order.order_id, refused).await
                    }
                    Ok(SandboxDebit::Refused(_)) => {
                        Err(Fault::Inconsistent("a claim refused as something else").into())
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
    async fn place(&self, claim: Claim, project: &ProjectId) -> Result<Order, DirectDebitError> {
        let order_id = claim.order.order_id.clone();
        let placed = claim.order.clone();
        match self.engine().write(project, &[Write::Claim(claim)]).await {
            Ok(()) => Ok(placed),
            Err(EngineError::WriteRefused(Refused::Claim(refused))) => {
                self.claim_refused(project, &order_id, refused).await
            }
            Err(EngineError::Fault(fault)) => Err(fault.into()),
            Err(_) => Err(Fault::Inconsistent("a claim refused as something else").into()),
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
            ClaimRefused::OrderExists(None) => {
                let order = self.engine().store().order(project, order_id).await?;
                order.ok_or(Fault::Inconsistent("a taken order id is missing").into())
            }
            ClaimRefused::Token => Err(DirectDebitError::INVALID_TOKEN),
            ClaimRefused::NotLinked => Err(DirectDebitError::Declined {
                code: "WALLET_NOT_LINKED",
                message: "the wallet account was delinked since the token was issued",
            }),
        }
    }

    /// Moves the order on from `from` if it is still there: `Err` with the order as it is
    /// (when DynamoDB sent it) otherwise.
    async fn transition(
        &self,
        next: &Order,
        from: PaymentStatus,
        now: Millis,
    ) -> Result<Result<(), Option<Order>>, Fault> {
        match self.engine().write(&next.project, &[Write::OrderTransition { order: next.clone(), from, now }]).await {
            Ok(()) => Ok(Ok(())),
            Err(EngineError::WriteRefused(Refused::OrderMoved(current))) => Ok(Err(current.map(|order| *order))),
            Err(EngineError::Fault(fault)) => Err(fault),
            Err(_) => Err(Fault::Inconsistent("an order transition refused as something else")),
        }
    }

    /// Asks an HTTP provider to debit an AUTHORIZING order (again: the transaction id is its
    /// idempotency key) and records what it said. An unanswered provider leaves the order
    /// AUTHORIZING, to be driven on by the next request for it.
    async fn drive(&self, http: &HttpProvider, order: Order) -> Order {
        let debit = Debit { reference: &order.reference, txn_id: &order.txn_id, amount: order.amount };
        let now = self.engine().clock().now();
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
        match self.transition(&next, PaymentStatus::Authorizing, now).await {
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
        let now = self.engine().clock().now();
        match (order.status, self.providers.get(order.gateway)) {
            (PaymentStatus::Authorizing, ProviderFor::Http(http)) => Ok(self.drive(http, order).await),
            _ => Ok(Order { status: order.status_at(now), ..order }),
        }
    }

    /// `GET /orders/{order_id}`: one read.
    pub async fn order_status(&self, project: &ProjectId, order_id: &OrderId) -> Result<Order, OrderError> {
        let order = self.engine().store().order(project, order_id).await?.ok_or(OrderError::NotFound)?;
        let now = self.engine().clock().now();
        Ok(Order { status: order.status_at(now), ..order })
    }

    /// The sandbox's top-up page: credits the order's amount to the wallet and completes the
    /// order, once, while it is pending and its time has not run out.
    pub async fn sandbox_top_up(&self, txn: &TxnId) -> Result<Order, OrderError> {
        let store = self.engine().store();
        let (project, order_id) = store.order_of_txn(txn).await?.ok_or(OrderError::NotFound)?;
        let order = store.order(&project, &order_id).await?.ok_or(OrderError::NotFound)?;
        let now = self.engine().clock().now();
        if !matches!(self.providers.get(order.gateway), ProviderFor::Sandbox)
            || order.status_at(now) != PaymentStatus::PendingVbv
        {
            return Ok(Order { status: order.status_at(now), ..order });
        }
        let sandbox = self.sandbox(order.gateway, None);
        let unavailable = |e: ProviderError| match e {
            ProviderError::Busy => OrderError::Busy,
            other => OrderError::ProviderUnavailable(other.to_string()),
        };
        sandbox.credit(&order.reference, order.amount, txn).await.map_err(unavailable)?;
        let charged = Order { status: PaymentStatus::Charged, authentication: None, updated_at: now, ..order.clone() };
        let transition = Write::OrderTransition { order: charged.clone(), from: PaymentStatus::PendingVbv, now };
        match sandbox.debit_with(&order.reference, order.amount, txn, transition).await {
            Ok(SandboxDebit::Charged) => Ok(charged),
            // Completed by a concurrent visit, or expired meanwhile: the order as it is.
            Ok(SandboxDebit::Refused(_) | SandboxDebit::InsufficientFunds) => {
                let order = store.order(&project, &order_id).await?.ok_or(OrderError::NotFound)?;
                Ok(Order { status: order.status_at(self.engine().clock().now()), ..order })
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
        let http = self.providers.http(gateway).ok_or(CallbackError::UnknownGateway)?;
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
        let store = self.engine().store();
        let (project, order_id) = store.order_of_txn(&txn).await?.ok_or(CallbackError::UnknownTxn)?;
        let order = store.order(&project, &order_id).await?.ok_or(CallbackError::UnknownTxn)?;
        let now = self.engine().clock().now();
        if order.gateway != gateway || order.status.is_final() {
            return Ok(Order { status: order.status_at(now), ..order });
        }
        let next = order.reported(success, now);
        // A pending order's condition checks its time; a late success is logged for a refund.
        match self.transition(&next, order.status, now).await? {
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
