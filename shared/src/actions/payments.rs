//! Wallet direct debit and the orders it makes: `POST /txns`, `GET /orders/{order_id}`, the
//! sandbox's top-up page and HTTP providers' callbacks.

use crate::api::wallet_accounts::{OrderResponse, PaymentStatusResponse};
use crate::domain::wallet_accounts::{CustomerId, Gateway, OrderId, PaymentAmount, TxnId, WalletToken};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::{ApiError, ErrorShape};
use crate::edge::event::Request;
use crate::edge::input::{boolean, text};
use crate::edge::{Action, Reply};
use crate::services::{DirectDebitError, DirectDebitRequest, WalletAccounts};

/// `POST /txns`: wallet direct debit.
pub struct DirectDebit;

impl Action for DirectDebit {
    const NAME: &'static str = "direct-debit";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/txns";
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let body = &mut request.body;
        let order_id = body.required("order_id", |raw| OrderId::parse(&text(raw)?).map_err(|e| e.to_string()))?;
        let merchant_id = body.required("merchant_id", text)?;
        // The merchant is the key's project: another merchant's order is not found.
        if merchant_id != caller.project.as_str() {
            return Err(ApiError::not_found("merchant"));
        }
        // Taken from the order when it was created first.
        let amount = body.optional("amount", |raw| PaymentAmount::parse(&text(raw)?).map_err(|e| e.to_string()))?;
        body.required("payment_method_type", |raw| match text(raw)?.as_str() {
            "WALLET" => Ok(()),
            _ => Err("must be WALLET".to_owned()),
        })?;
        let gateway = body.required("payment_method", |raw| Gateway::parse(&text(raw)?).map_err(|e| e.to_string()))?;
        // Shape-checked only; whether it is good is the debit's question (JUSPAY_DECLINED).
        let token = body.required("direct_wallet_token", |raw| Ok(WalletToken::parse(&text(raw)?).ok()))?;
        let customer = body.optional("customer_id", |raw| CustomerId::parse(&text(raw)?).map_err(|e| e.to_string()))?;
        // Direct debit never redirects; the flag is checked and has nothing to change.
        body.optional("redirect_after_payment", boolean)?;
        body.optional("format", |raw| match text(raw)?.as_str() {
            "json" => Ok(()),
            _ => Err("must be json".to_owned()),
        })?;
        request.body.finish()?;
        let declined = |e: DirectDebitError| match e {
            DirectDebitError::Declined { code, message } => ApiError::declined(code, message, Some(order_id.as_str())),
            other => other.into(),
        };
        let Some(token) = token else {
            return Err(declined(DirectDebitError::INVALID_TOKEN));
        };
        let debit = DirectDebitRequest { order_id: order_id.clone(), amount, gateway, token, customer };
        let order =
            service.direct_debit(&caller.project, debit, request.base_url.as_deref()).await.map_err(declined)?;
        Ok(Reply::json(200, &PaymentStatusResponse::new(&order)))
    }
}

/// `GET /orders/{order_id}` and `GET /order/status?order_id=`: Juspay's order object now.
pub struct GetOrder;

impl Action for GetOrder {
    const NAME: &'static str = "get-order";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/orders/{order_id}";
    const ALSO: &'static [(&'static str, &'static str)] = &[("GET", "/order/status")];
    const QUERY: &'static [&'static str] = &["order_id"];
    const SCOPE: Scope = Scope::Read;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let order_id = super::orders::order_id_of(&mut request)?;
        request.body.finish()?;
        let order = service.order_status(&caller.project, &order_id).await?;
        Ok(Reply::json(200, &OrderResponse::new(&order)))
    }
}

/// `GET /sandbox/topups/{txn_id}`: the sandbox provider's top-up page, where a PENDING_VBV
/// order's customer is sent. Public: the transaction id (128 random bits) is the capability.
pub struct SandboxTopUp;

impl Action for SandboxTopUp {
    const NAME: &'static str = "sandbox-top-up";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/sandbox/topups/{txn_id}";
    const SCOPE: Scope = Scope::Read;
    const PUBLIC: bool = true;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, _caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let txn = request.params.required_text("txn_id")?;
        let txn = TxnId::parse(&txn).map_err(|_| ApiError::not_found("transaction"))?;
        request.body.finish()?;
        let order = service.sandbox_top_up(&txn).await?;
        Ok(Reply::json(200, &PaymentStatusResponse::new(&order)))
    }
}

/// `POST /providers/{gateway}/callbacks`: an HTTP provider reports a completed top-up,
/// signed with the secret it shares with us (`X-Provider-Signature`).
pub struct ProviderCallback;

impl Action for ProviderCallback {
    const NAME: &'static str = "provider-callback";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/providers/{gateway}/callbacks";
    const SCOPE: Scope = Scope::Write;
    const PUBLIC: bool = true;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, _caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let gateway = request.params.required_text("gateway")?;
        let gateway = Gateway::parse(&gateway).map_err(|_| ApiError::not_found("callback route"))?;
        let signature = request.headers.get("x-provider-signature").and_then(|v| v.to_str().ok());
        let order = service.provider_callback(gateway, request.raw_body.as_bytes(), signature).await?;
        Ok(Reply::json(200, &PaymentStatusResponse::new(&order)))
    }
}
