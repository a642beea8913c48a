//! Juspay's orders before and after their payment: create (or find), change while unpaid,
//! read, list, and refund in parts up to what was charged.
//!
//! A refund of a sandbox wallet's payment is one transaction: the wallet's credit and the
//! order's refund, conditioned on the order's version. At an HTTP provider the refund is
//! written PENDING first, then asked for (the refund id is the provider's idempotency key),
//! then settled; a provider that does not answer leaves it PENDING, and asking again with the
//! same `unique_request_id` asks the provider again.

use super::payments::OrderError;
use super::{random, WalletAccounts};
use crate::domain::names::ProjectId;
use crate::domain::orders::{
    Order, OrderDetails, OrderUid, Refund, RefundId, RefundRequestId, RefundStatus, RefundStep,
};
use crate::domain::wallet_accounts::{OrderId, PaymentAmount};
use crate::engine::{EngineError, Fault};
use crate::providers::{ProviderError, ProviderFor, Refund as RefundCall};
use crate::store::{Refused, Write};

/// A create or update of an order, after parsing.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub order_id: OrderId,
    /// Required to create; optional to update.
    pub amount: Option<PaymentAmount>,
    pub details: OrderDetails,
}

/// Concurrent writers of one order (refunds, updates) retry on a fresh read this often.
const ATTEMPTS: usize = 3;

impl WalletAccounts {
    /// Creates the order, or answers it as it is when its id exists: unpaid, it takes this
    /// request's amount and fields (Juspay's clients update through create). `true` when it
    /// was created now. One write for a new order.
    pub async fn create_order(&self, project: &ProjectId, request: OrderRequest) -> Result<(Order, bool), OrderError> {
        let amount = request.amount.ok_or_else(|| OrderError::Refused("an order needs an amount".into()))?;
        let now = self.engine().clock().now();
        let uid = OrderUid::from_random(random());
        let order = Order::created(project, request.order_id.clone(), uid, amount, request.details.clone(), now);
        match self.engine().write(project, &[Write::NewOrder(order.clone())]).await {
            Ok(()) => Ok((order, true)),
            Err(EngineError::WriteRefused(Refused::Exists)) => {
                // The order read here is the one changed: a second read only if it moved.
                let existing = self.order_status(project, &request.order_id).await?;
                let unchanged =
                    existing.amount == amount && existing.details.merged(&request.details) == existing.details;
                if unchanged || existing.payment.is_some() {
                    return Ok((existing, false));
                }
                let changed = existing
                    .changed(Some(amount), &request.details, now)
                    .map_err(|e| OrderError::Refused(e.to_string()))?;
                match self.change(&changed, existing.version).await? {
                    true => Ok((changed, false)),
                    false => Ok((self.update_order(project, request).await?, false)),
                }
            }
            Err(error) => Err(fault(error)),
        }
    }

    /// Changes an unpaid order's amount and fields: a read and a conditional write.
    pub async fn update_order(&self, project: &ProjectId, request: OrderRequest) -> Result<Order, OrderError> {
        for _ in 0..ATTEMPTS {
            let order = self.order_status(project, &request.order_id).await?;
            let now = self.engine().clock().now();
            let changed =
                order.changed(request.amount, &request.details, now).map_err(|e| OrderError::Refused(e.to_string()))?;
            if changed.amount == order.amount && changed.details == order.details {
                return Ok(order);
            }
            match self.change(&changed, order.version).await? {
                true => return Ok(changed),
                false => continue,
            }
        }
        Err(OrderError::Conflict)
    }

    /// `GET /orders/{order_id}`: one read.
    pub async fn order_status(&self, project: &ProjectId, order_id: &OrderId) -> Result<Order, OrderError> {
        let order = self.engine().store().order(project, order_id).await?.ok_or(OrderError::NotFound)?;
        Ok(order.as_of(self.engine().clock().now()))
    }

    /// The project's orders, newest first: `count` after `offset`, and how many there are.
    pub async fn list_orders(
        &self,
        project: &ProjectId,
        count: usize,
        offset: usize,
    ) -> Result<(Vec<Order>, usize), OrderError> {
        let (orders, total) = self.engine().store().orders_page(project, count, offset).await?;
        let now = self.engine().clock().now();
        Ok((orders.into_iter().map(|order| order.as_of(now)).collect(), total))
    }

    /// Refunds `amount` of a CHARGED order to the wallet it was paid from, once per
    /// `request`: the same request again answers the order with that refund.
    pub async fn refund_order(
        &self,
        project: &ProjectId,
        order_id: &OrderId,
        request: RefundRequestId,
        amount: PaymentAmount,
    ) -> Result<Order, OrderError> {
        for _ in 0..ATTEMPTS {
            let order = self.order_status(project, order_id).await?;
            let now = self.engine().clock().now();
            let id = RefundId::from_random(random());
            let step = order
                .refund(request.clone(), amount, id.clone(), now)
                .map_err(|e| OrderError::Refused(e.to_string()))?;
            let payment = order.payment.clone().ok_or(Fault::Inconsistent("a charged order without its payment"))?;
            let http = match self.providers.get(payment.gateway) {
                ProviderFor::Http(http) => Some(http),
                ProviderFor::Sandbox => None,
            };
            let (pending, refund) = match step {
                RefundStep::Existing(refund) if refund.status == RefundStatus::Pending && http.is_some() => {
                    (order, refund)
                }
                RefundStep::Existing(_) => return Ok(order),
                RefundStep::New(next) => {
                    let Some(refund) = next.refunds.last().cloned() else {
                        return Err(Fault::Inconsistent("a new refund went missing").into());
                    };
                    match http {
                        None => {
                            // Sandbox: the wallet's credit and the settled refund together.
                            let settled = next.refund_settled(&id, RefundStatus::Success, now);
                            let with = Write::OrderChange { order: settled.clone(), read_version: order.version };
                            let sandbox = self.sandbox(payment.gateway, None);
                            match sandbox.credit_with(&payment.reference, amount, &id, with).await {
                                Ok(Ok(())) => return Ok(settled),
                                Ok(Err(Refused::OrderMoved(_))) => continue,
                                Ok(Err(other)) => return Err(fault(EngineError::WriteRefused(other))),
                                Err(ProviderError::Busy) => return Err(OrderError::Busy),
                                Err(error) => return Err(OrderError::ProviderUnavailable(error.to_string())),
                            }
                        }
                        Some(_) => match self.change(&next, order.version).await? {
                            true => (next, refund),
                            false => continue,
                        },
                    }
                }
            };
            let Some(http) = http else { return Ok(pending) };
            return self.settle_at_provider(http, pending, &refund).await;
        }
        Err(OrderError::Conflict)
    }

    /// Gives back a payment an HTTP provider took after its order had failed: the order
    /// becomes AUTO_REFUNDED with a refund of the whole amount, written before the provider
    /// is asked, so a repeated report asks again for that refund (same id, the provider's
    /// idempotency key) and never makes a second one.
    pub(super) async fn auto_refund(
        &self,
        http: &crate::providers::http::HttpProvider,
        mut order: Order,
    ) -> Result<Order, OrderError> {
        for _ in 0..ATTEMPTS {
            if let Some(refund) = order.pending_auto_refund().cloned() {
                tracing::info!(order = %order.order_id, refund = %refund.id, "giving back a payment made after its order failed");
                let settled = self.settle_at_provider(http, order, &refund).await?;
                if settled.refunds.iter().any(|r| r.id == refund.id && r.status == RefundStatus::Failure) {
                    // Nothing more this code can do: the customer's money is at the provider.
                    tracing::error!(order = %settled.order_id, refund = %refund.id, "the provider refused the refund of a payment made after its order failed");
                }
                return Ok(settled);
            }
            let now = self.engine().clock().now();
            let Some(next) = order.auto_refunded(RefundId::from_random(random()), now) else {
                return Ok(order.as_of(now));
            };
            order = match self.change(&next, order.version).await? {
                true => next,
                false => self.order_status(&order.project, &order.order_id).await?,
            };
        }
        Err(OrderError::Conflict)
    }

    /// Asks an HTTP provider for a PENDING refund and records its answer; an unanswered
    /// provider leaves it PENDING (the same request again asks again).
    async fn settle_at_provider(
        &self,
        http: &crate::providers::http::HttpProvider,
        order: Order,
        refund: &Refund,
    ) -> Result<Order, OrderError> {
        let payment = order.payment.clone().ok_or(Fault::Inconsistent("a charged order without its payment"))?;
        let call = RefundCall {
            reference: &payment.reference,
            txn_id: &payment.txn_id,
            refund_id: &refund.id,
            amount: refund.amount,
        };
        let status = match http.refund(&call).await {
            Ok(true) => RefundStatus::Success,
            Ok(false) => RefundStatus::Failure,
            Err(error) => {
                tracing::warn!(order = %order.order_id, refund = %refund.id, reason = %error, "provider unavailable; refund stays PENDING");
                return Ok(order);
            }
        };
        let mut current = order;
        for _ in 0..ATTEMPTS {
            let now = self.engine().clock().now();
            let settled = current.refund_settled(&refund.id, status, now);
            if self.change(&settled, current.version).await? {
                return Ok(settled);
            }
            current = self.order_status(&current.project, &current.order_id).await?;
        }
        Err(OrderError::Conflict)
    }

    /// Writes `order` over `read_version`: `false` when someone wrote it meanwhile.
    async fn change(&self, order: &Order, read_version: u64) -> Result<bool, OrderError> {
        let write = Write::OrderChange { order: order.clone(), read_version };
        match self.engine().write(&order.project, &[write]).await {
            Ok(()) => Ok(true),
            Err(EngineError::WriteRefused(Refused::OrderMoved(_))) => Ok(false),
            Err(error) => Err(fault(error)),
        }
    }
}

fn fault(error: EngineError) -> OrderError {
    match error {
        EngineError::Fault(fault) => fault.into(),
        other => {
            tracing::error!(error = %other, "an order write was refused for an unexpected reason");
            Fault::Inconsistent("an order write refused for an unexpected reason").into()
        }
    }
}
