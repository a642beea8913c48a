//! Juspay's Orders API, at both of the addresses Juspay's clients use: create
//! (`/orders`, `/order/create`), update (`/orders/{order_id}`, `/order/update`), status
//! (`/orders/{order_id}`, `/order/status`), list (`/orders`, `/order/list`), refund
//! (`/orders/{order_id}/refunds`, `/order/refund`); and the wallets of an order's customer and
//! the payment methods.

use crate::api::wallet_accounts::{OrderList, OrderResponse, PaymentMethods, WalletAccountList};
use crate::domain::orders::{order_text, OrderDetails, RefundRequestId, CURRENCY, UDFS};
use crate::domain::wallet_accounts::{CustomerId, OrderId, PaymentAmount};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::{ApiError, ErrorShape};
use crate::edge::event::Request;
use crate::edge::input::{string, text, Fields};
use crate::edge::{Action, Reply};
use crate::services::{OrderRequest, WalletAccounts};

fn order_id(raw: &str) -> Result<OrderId, String> {
    OrderId::parse(raw).map_err(|e| e.to_string())
}

/// The order id: the path's or the query's (a copy in the query or the body must be the
/// same), else the body's (the `/order/...` addresses). Text that is no order id names no order.
pub(super) fn order_id_of(request: &mut Request) -> Result<OrderId, ApiError> {
    let Some(given) = request.params.text("order_id")? else {
        return request.body.required("order_id", |raw| order_id(&text(raw)?));
    };
    let id = OrderId::parse(&given).map_err(|_| ApiError::not_found("order"))?;
    request.body.echo("order_id", &given)?;
    if let Some(copy) = request.params.text(QUERY_COPY)? {
        if copy != given {
            return Err(ApiError::validation("order_id", format!("must be the order_id of the path ({given})")));
        }
    }
    Ok(id)
}

/// Where a query parameter named like a path parameter is kept (`GET /orders/{id}?order_id=`).
const QUERY_COPY: &str = "?order_id";

/// An amount as a form's text or a JSON number.
fn amount(raw: &serde_json::value::RawValue) -> Result<PaymentAmount, String> {
    PaymentAmount::parse(&text(raw)?).map_err(|e| e.to_string())
}

/// The merchant's fields of an order; every one optional.
fn details(body: &mut Fields) -> Result<OrderDetails, ApiError> {
    let free =
        |max: usize| move |raw: &serde_json::value::RawValue| order_text(&text(raw)?, max).map_err(|e| e.to_string());
    body.optional("currency", |raw| match string(raw)?.as_str() {
        CURRENCY => Ok(()),
        _ => Err(format!("must be {CURRENCY}")),
    })?;
    let mut details = OrderDetails {
        customer_id: body.optional("customer_id", |raw| CustomerId::parse(&text(raw)?).map_err(|e| e.to_string()))?,
        customer_email: body.optional("customer_email", free(254))?,
        customer_phone: body.optional("customer_phone", free(20))?,
        return_url: body.optional("return_url", free(2048))?,
        description: body.optional("description", free(255))?,
        ..OrderDetails::default()
    };
    for i in 0..UDFS {
        details.udf[i] = body.optional(&format!("udf{}", i + 1), free(255))?;
    }
    for (key, raw) in body.take_prefixed("metadata.") {
        let field = format!("metadata.{key}");
        let key_ok = (1..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !key_ok {
            return Err(ApiError::validation(field, "must be metadata.<1-64 printable characters>"));
        }
        let value = free(1024)(&raw).map_err(|m| ApiError::validation(field, m))?;
        details.metadata.push((key, value));
    }
    details.metadata.sort();
    Ok(details)
}

/// `POST /orders` and `POST /order/create`: an order to pay later by wallet direct debit.
pub struct CreateOrder;

impl Action for CreateOrder {
    const NAME: &'static str = "create-order";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/orders";
    const ALSO: &'static [(&'static str, &'static str)] = &[("POST", "/order/create")];
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let body = &mut request.body;
        let order_id = body.required("order_id", |raw| order_id(&text(raw)?))?;
        let amount = body.required("amount", amount)?;
        let details = details(body)?;
        request.body.finish()?;
        let order_request = OrderRequest { order_id, amount: Some(amount), details };
        let (order, created) = service.create_order(&caller.project, order_request).await?;
        let answer = if created { OrderResponse::created(&order) } else { OrderResponse::new(&order) };
        Ok(Reply::json(200, &answer))
    }
}

/// `POST /orders/{order_id}` and `POST /order/update`: amount and fields, before payment.
pub struct UpdateOrder;

impl Action for UpdateOrder {
    const NAME: &'static str = "update-order";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/orders/{order_id}";
    const ALSO: &'static [(&'static str, &'static str)] = &[("POST", "/order/update")];
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let order_id = order_id_of(&mut request)?;
        let body = &mut request.body;
        let amount = body.optional("amount", amount)?;
        let details = details(body)?;
        request.body.finish()?;
        let order = service.update_order(&caller.project, OrderRequest { order_id, amount, details }).await?;
        Ok(Reply::json(200, &OrderResponse::new(&order)))
    }
}

const DEFAULT_COUNT: u64 = 10;
const MAX_COUNT: u64 = 100;

/// `GET /orders` and `GET /order/list`: the newest first, `count` (1-100, 10) after `offset`.
pub struct ListOrders;

impl Action for ListOrders {
    const NAME: &'static str = "list-orders";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/orders";
    const ALSO: &'static [(&'static str, &'static str)] = &[("GET", "/order/list")];
    const QUERY: &'static [&'static str] = &["count", "offset"];
    const SCOPE: Scope = Scope::Read;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let count = request.params.whole_number("count")?.unwrap_or(DEFAULT_COUNT);
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(ApiError::validation("count", format!("must be 1 to {MAX_COUNT}")));
        }
        let offset = request.params.whole_number("offset")?.unwrap_or(0);
        let offset = usize::try_from(offset)
            .ok()
            .filter(|o| *o <= 100_000)
            .ok_or_else(|| ApiError::validation("offset", "must be at most 100000"))?;
        request.body.finish()?;
        let (orders, total) = service.list_orders(&caller.project, count as usize, offset).await?;
        Ok(Reply::json(200, &OrderList::new(&orders, offset, total)))
    }
}

/// `POST /orders/{order_id}/refunds` and `POST /order/refund`: part or all of a CHARGED
/// order back to the wallet, once per `unique_request_id`.
pub struct RefundOrder;

impl Action for RefundOrder {
    const NAME: &'static str = "refund-order";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/orders/{order_id}/refunds";
    const ALSO: &'static [(&'static str, &'static str)] = &[("POST", "/order/refund")];
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let order_id = order_id_of(&mut request)?;
        let body = &mut request.body;
        let unique =
            body.required("unique_request_id", |raw| RefundRequestId::parse(&text(raw)?).map_err(|e| e.to_string()))?;
        let amount = body.required("amount", amount)?;
        request.body.finish()?;
        let order = service.refund_order(&caller.project, &order_id, unique, amount).await?;
        Ok(Reply::json(200, &OrderResponse::new(&order)))
    }
}

/// `GET /orders/{order_id}/wallets`: the order's customer's wallet accounts, each linked one
/// with a new token.
pub struct ListOrderWallets;

impl Action for ListOrderWallets {
    const NAME: &'static str = "list-order-wallets";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/orders/{order_id}/wallets";
    // Tokens can debit: handing them out takes the write scope, like a debit itself.
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let order_id = order_id_of(&mut request)?;
        request.body.finish()?;
        let listed = service.order_wallet_accounts(&caller.project, &order_id).await?;
        Ok(Reply::json(200, &WalletAccountList::new(&listed)))
    }
}

/// `GET /merchants/{merchant_id}/paymentmethods`: the wallet gateways. The merchant is the
/// key's project; any other is not found, like any other project's data.
pub struct ListPaymentMethods;

impl Action for ListPaymentMethods {
    const NAME: &'static str = "list-payment-methods";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/merchants/{merchant_id}/paymentmethods";
    const SCOPE: Scope = Scope::Read;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let merchant = request.params.required_text("merchant_id")?;
        if merchant != caller.project.as_str() {
            return Err(ApiError::not_found("merchant"));
        }
        request.body.finish()?;
        Ok(Reply::json(200, &PaymentMethods::new(&merchant, &service.gateways())))
    }
}
