//! The JSON answers of the customer wallet API, in Juspay's shapes (snake_case).

use crate::domain::wallet_accounts::{two_decimals, Authentication, ListedAccount, Order, WalletAccount};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// An amount as a JSON *number* with exactly two decimals (`5000.00`), never through f64.
#[derive(Debug, Clone, Copy)]
pub struct TwoDecimals(pub Decimal);

impl Serialize for TwoDecimals {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(two_decimals(self.0)).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WalletAccountResponse {
    pub id: String,
    pub object: &'static str,
    pub wallet: &'static str,
    pub linked: bool,
    /// Two decimals; `null` until a provider has told us.
    pub current_balance: Option<String>,
    pub last_refreshed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// In a refresh answer: whether the provider answered this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refreshed: Option<bool>,
    /// Why it did not (the balance and `last_refreshed` are the earlier ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_error: Option<String>,
}

impl WalletAccountResponse {
    pub fn new(account: &WalletAccount) -> Self {
        Self {
            id: account.id.to_string(),
            object: "wallet_account",
            wallet: account.gateway.as_str(),
            linked: account.linked,
            current_balance: account.last_refreshed.map(|_| two_decimals(account.current_balance)),
            last_refreshed: account.last_refreshed.map(|at| at.to_iso8601()),
            token: None,
            refreshed: None,
            refresh_error: None,
        }
    }

    pub fn listed(listed: &ListedAccount) -> Self {
        let (refreshed, refresh_error) = match &listed.refresh {
            None => (None, None),
            Some(Ok(())) => (Some(true), None),
            Some(Err(why)) => (Some(false), Some(why.clone())),
        };
        Self {
            token: listed.token.as_ref().map(|token| token.reveal().to_owned()),
            refreshed,
            refresh_error,
            ..Self::new(&listed.account)
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WalletAccountList {
    pub object: &'static str,
    pub list: Vec<WalletAccountResponse>,
    pub total: usize,
    pub offset: usize,
    pub count: usize,
}

impl WalletAccountList {
    pub fn new(accounts: &[ListedAccount]) -> Self {
        let list: Vec<_> = accounts.iter().map(WalletAccountResponse::listed).collect();
        Self { object: "list", total: list.len(), offset: 0, count: list.len(), list }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthenticationResponse {
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, String>>,
}

impl AuthenticationResponse {
    fn new(authentication: &Authentication) -> Self {
        let params = (authentication.method == "POST").then(|| authentication.params.iter().cloned().collect());
        Self { method: authentication.method.clone(), url: authentication.url.clone(), params }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentResponse {
    pub authentication: AuthenticationResponse,
}

/// Juspay's Payment Status object: the answer of `POST /txns` and `GET /orders/{order_id}`.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentStatusResponse {
    pub order_id: String,
    pub txn_id: String,
    pub status: &'static str,
    pub status_id: u16,
    pub amount: TwoDecimals,
    pub currency: &'static str,
    pub merchant_id: String,
    pub customer_id: String,
    pub payment_method_type: &'static str,
    pub payment_method: &'static str,
    pub wallet_id: String,
    pub date_created: String,
    pub last_updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentResponse>,
}

impl PaymentStatusResponse {
    /// `order` with its status as of now (see [`Order::status_at`]).
    pub fn new(order: &Order) -> Self {
        Self {
            order_id: order.order_id.to_string(),
            txn_id: order.txn_id.to_string(),
            status: order.status.as_str(),
            status_id: order.status.id(),
            amount: TwoDecimals(order.amount.value()),
            currency: "INR",
            merchant_id: order.merchant_id.clone(),
            customer_id: order.customer.to_string(),
            payment_method_type: "WALLET",
            payment_method: order.gateway.as_str(),
            wallet_id: order.wallet_id.to_string(),
            date_created: order.created_at.to_iso8601(),
            last_updated: order.updated_at.to_iso8601(),
            payment: match order.status {
                crate::domain::wallet_accounts::PaymentStatus::PendingVbv => order
                    .authentication
                    .as_ref()
                    .map(|a| PaymentResponse { authentication: AuthenticationResponse::new(a) }),
                _ => None,
            },
        }
    }
}

/// Juspay's error body for a declined payment.
pub fn declined_body(code: &str, message: &str, order_id: Option<&str>) -> String {
    super::to_json(&serde_json::json!({
        "status": "JUSPAY_DECLINED",
        "status_id": crate::domain::wallet_accounts::PaymentStatus::JuspayDeclined.id(),
        "order_id": order_id,
        "error_code": code,
        "error_message": message,
        "error_info": {
            "code": code,
            "category": "USER_ERROR",
            "user_message": message,
            "developer_message": message,
        },
    }))
}
