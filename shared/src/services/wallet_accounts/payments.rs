//! Wallet direct debit and the orders it makes: `POST /txns`, an order's status, the sandbox's
//! top-up page and HTTP providers' callbacks.
//!
//! A direct debit happens at most once per order id and per token: the token's use, the
//! account's link, the order and the transaction index are one conditional claim, written in
//! the same transaction as a sandbox wallet's debit, or before an HTTP provider is asked.

use super::sandbox::SandboxDebit;
use super::{random, WalletAccounts};
use crate::domain::names::ProjectId;
use crate::domain::orders::{Order, OrderDetails, OrderUid, Payment};
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::{
    two_decimals, CustomerId, Gateway, OrderId, PaymentAmount, PaymentStatus, TxnId, WalletToken,
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
    /// The order was created first for another amount.
    #[error("amount must be the order's amount, {0}")]
    AmountMismatch(String),
    /// No order was created first, and the form names no amount.
    #[error("amount is required unless the order was created first")]
    AmountRequired,
    /// The order changed while its payment was being placed: nothing was debited.
    #[error("the order changed meanwhile; retry")]
    Conflict,
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
    /// Required unless the order was created first; equal to its amount when both are there.
    pub amount: Option<PaymentAmount>,
    pub gateway: Gateway,
    pub token: WalletToken,
    /// When given, the token must be this customer's.
    pub customer: Option<CustomerId>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order not found")]
    NotFound,
    /// The order cannot do this (a refund beyond the charge, a change after payment): 400.
    #[error("{0}")]
    Refused(String),
    /// Written by another request meanwhile, again and again: nothing was written.
    #[error("the order changed meanwhile; retry")]
    Conflict,
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
    /// The order changed meanwhile, again and again: the provider should report again.
    #[error("the order changed meanwhile; report again")]
    Conflict,
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
        let existing = match existing {
            Some(order) if order.payment.is_some() => {
                return self.resume(order).await.map_err(|e| match e {
                    OrderError::ProviderUnavailable(reason) => DirectDebitError::ProviderUnavailable(reason),
                    OrderError::Busy => DirectDebitError::Busy,
                    OrderError::Failed(fault) => fault.into(),
                    OrderError::NotFound | OrderError::Refused(_) | OrderError::Conflict => {
                        Fault::Inconsistent("an order read vanished").into()
                    }
                });
            }
            existing => existing,
        };
        if let (Some(order), Some(amount)) = (&existing, request.amount) {
            if order.amount != amount {
                return Err(DirectDebitError::AmountMismatch(two_decimals(order.amount.value())));
            }
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
        let read_version = existing.as_ref().map(|order| order.version);
        let base = match existing {
            Some(order) => order,
            None => {
                let amount = request.amount.ok_or(DirectDebitError::AmountRequired)?;
                let uid = OrderUid::from_random(random());
                Order::created(project, request.order_id, uid, amount, OrderDetails::default(), now)
            }
        };
        let order = base.placed(TxnId::from_random(random()), &grant, now);
        let link_version = grant.link_version;
        let claim = |order: &Order| Claim {
            token_hash: token_hash.clone(),
            link_version,
            order: order.clone(),
            read_version,
            now,
        };
        let Some(payment) = order.payment.clone() else {
            return Err(Fault::Inconsistent("a placed order without its payment").into());
        };
        match self.providers.get(request.gateway) {
            ProviderFor::Sandbox => {
                let sandbox = self.sandbox(payment.gateway, public_url);
                let claimed = Write::Claim(claim(&order));
                match sandbox.debit_with(&payment.reference, order.amount, &payment.txn_id, claimed).await {
                    Ok(SandboxDebit::Charged) => Ok(order),
                    Ok(SandboxDebit::Refused(Refused::Claim(refused))) => {
                        self.claim_refused(project, &order.order_id, refused).await
                    }
                    Ok(SandboxDebit::Refused(_)) => {
                        Err(Fault::Inconsistent("a claim refused as something else").into())
                    }
                    Ok(SandboxDebit::InsufficientFunds) => {
                        let top_up =
                            TopUp { reference: &payment.reference, txn_id: &payment.txn_id, amount: order.amount };
                        let authentication = sandbox.top_up(&top_up).await.map_err(debit_unavailable)?;
                        self.place(claim(&order.pending(authentication, now)), project).await
                    }
                    Err(ProviderError::Refused(reason)) => {
                        tracing::info!(order = %order.order_id, reason = %reason, "sandbox refused the debit");
                        self.place(claim(&order.moved_to(PaymentStatus::AuthorizationFailed, now)), project).await
                    }
                    Err(ProviderError::Unavailable(reason)) => Err(DirectDebitError::ProviderUnavailable(reason)),
                    Err(ProviderError::Busy) => Err(DirectDebitError::Busy),
                }
            }
            ProviderFor::Http(http) => {
                let authorizing = order.moved_to(PaymentStatus::Authorizing, now);
                let placed = self.place(claim(&authorizing), project).await?;
                if placed.payment.as_ref().map(|p| &p.txn_id) != Some(&payment.txn_id) {
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
        let paid = |order: Order| match order.payment {
            Some(_) => Ok(order),
            // Still NEW, but changed since it was read (its amount updated).
            None => Err(DirectDebitError::Conflict),
        };
        match refused {
            ClaimRefused::OrderExists(Some(order)) => paid(*order),
            ClaimRefused::OrderExists(None) => {
                let order = self.engine().store().order(project, order_id).await?;
                paid(order.ok_or(Fault::Inconsistent("a taken order id is missing"))?)
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
        let Some(payment) = order.payment.clone() else { return order };
        let debit = Debit { reference: &payment.reference, txn_id: &payment.txn_id, amount: order.amount };
        let now = self.engine().clock().now();
        let next = match http.debit(&debit).await {
            Ok(DebitOutcome::Charged { .. }) => order.moved_to(PaymentStatus::Charged, now),
            Ok(DebitOutcome::InsufficientFunds { .. }) => {
                let top_up = TopUp { reference: &payment.reference, txn_id: &payment.txn_id, amount: order.amount };
                match http.top_up(&top_up).await {
                    Ok(authentication) => order.pending(authentication, now),
                    Err(ProviderError::Refused(_)) => order.moved_to(PaymentStatus::AuthorizationFailed, now),
                    Err(error @ (ProviderError::Unavailable(_) | ProviderError::Busy)) => {
                        tracing::warn!(order = %order.order_id, txn = %payment.txn_id, reason = %error, "top-up URL not available; order stays AUTHORIZING");
                        return order;
                    }
                }
            }
            Ok(DebitOutcome::Declined { reason }) | Err(ProviderError::Refused(reason)) => {
                tracing::info!(order = %order.order_id, txn = %payment.txn_id, reason = %reason, "provider declined the debit");
                order.moved_to(PaymentStatus::AuthorizationFailed, now)
            }
            Err(error @ (ProviderError::Unavailable(_) | ProviderError::Busy)) => {
                tracing::warn!(order = %order.order_id, txn = %payment.txn_id, reason = %error, "provider unavailable; order stays AUTHORIZING");
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
    pub(super) async fn resume(&self, order: Order) -> Result<Order, OrderError> {
        let now = self.engine().clock().now();
        let gateway = order.payment.as_ref().map(|p| p.gateway);
        match (order.status, gateway.map(|g| self.providers.get(g))) {
            (PaymentStatus::Authorizing, Some(ProviderFor::Http(http))) => Ok(self.drive(http, order).await),
            _ => Ok(order.as_of(now)),
        }
    }

    /// The sandbox's top-up page: credits the order's amount to the wallet and completes the
    /// order, once, while it is pending and its time has not run out.
    pub async fn sandbox_top_up(&self, txn: &TxnId) -> Result<Order, OrderError> {
        let store = self.engine().store();
        let (project, order_id) = store.order_of_txn(txn).await?.ok_or(OrderError::NotFound)?;
        let order = store.order(&project, &order_id).await?.ok_or(OrderError::NotFound)?;
        let now = self.engine().clock().now();
        let Some(payment) = order.payment.clone() else { return Ok(order.as_of(now)) };
        if !matches!(self.providers.get(payment.gateway), ProviderFor::Sandbox)
            || order.status_at(now) != PaymentStatus::PendingVbv
        {
            return Ok(order.as_of(now));
        }
        let sandbox = self.sandbox(payment.gateway, None);
        let unavailable = |e: ProviderError| match e {
            ProviderError::Busy => OrderError::Busy,
            other => OrderError::ProviderUnavailable(other.to_string()),
        };
        sandbox.credit(&payment.reference, order.amount, txn).await.map_err(unavailable)?;
        let paid = Payment { authentication: None, ..payment.clone() };
        let charged = Order { payment: Some(paid), ..order.moved_to(PaymentStatus::Charged, now) };
        let transition = Write::OrderTransition { order: charged.clone(), from: PaymentStatus::PendingVbv, now };
        match sandbox.debit_with(&payment.reference, order.amount, txn, transition).await {
            Ok(SandboxDebit::Charged) => Ok(charged),
            // Completed by a concurrent visit, or expired meanwhile: the order as it is.
            Ok(SandboxDebit::Refused(_) | SandboxDebit::InsufficientFunds) => {
                let order = store.order(&project, &order_id).await?.ok_or(OrderError::NotFound)?;
                Ok(order.as_of(self.engine().clock().now()))
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
        if order.payment.as_ref().map(|p| p.gateway) != Some(gateway) {
            return Ok(order.as_of(now));
        }
        // The customer paid at the provider after the order had failed (or its refund is still
        // pending): the money goes back.
        let late = matches!(
            order.status_at(now),
            PaymentStatus::AuthenticationFailed | PaymentStatus::AuthorizationFailed | PaymentStatus::AutoRefunded
        );
        if success && late {
            return self.auto_refund(http, order).await.map_err(callback_failure);
        }
        if order.status.is_final() {
            return Ok(order.as_of(now));
        }
        let next = order.reported(success, now);
        // A pending order's condition checks its time: one that ran out meanwhile has failed.
        match self.transition(&next, order.status, now).await? {
            Ok(()) => Ok(next),
            Err(current) => {
                let current = current.unwrap_or(order);
                match success {
                    true => self.auto_refund(http, current).await.map_err(callback_failure),
                    false => Ok(current.as_of(now)),
                }
            }
        }
    }
}

/// A refund's failure as the callback's: the provider reports again on anything but a 2xx.
fn callback_failure(error: OrderError) -> CallbackError {
    match error {
        OrderError::Failed(fault) => CallbackError::Failed(fault),
        OrderError::NotFound => CallbackError::UnknownTxn,
        // Written meanwhile again and again (or a wallet busy): worth another report.
        OrderError::Conflict | OrderError::Busy | OrderError::ProviderUnavailable(_) | OrderError::Refused(_) => {
            CallbackError::Conflict
        }
    }
}

fn debit_unavailable(error: ProviderError) -> DirectDebitError {
    match error {
        ProviderError::Busy => DirectDebitError::Busy,
        other => DirectDebitError::ProviderUnavailable(other.to_string()),
    }
}
