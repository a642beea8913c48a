//! The JSON answers of the customer wallet API, in Juspay's shapes (snake_case).

use crate::domain::orders::{Authentication, Order, Refund};
use crate::domain::wallet_accounts::{two_decimals, Gateway, ListedAccount, PaymentStatus, WalletAccount};
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

/// Juspay's Payment Status object: the answer of `POST /txns` and the sandbox's top-up page.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentStatusResponse {
    pub order_id: String,
    pub txn_id: Option<String>,
    pub status: &'static str,
    pub status_id: u16,
    pub amount: TwoDecimals,
    pub currency: &'static str,
    pub merchant_id: String,
    pub customer_id: Option<String>,
    pub payment_method_type: Option<&'static str>,
    pub payment_method: Option<&'static str>,
    pub wallet_id: Option<String>,
    pub date_created: String,
    pub last_updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentResponse>,
}

impl PaymentStatusResponse {
    /// `order` with its status as of now (see [`Order::status_at`]).
    pub fn new(order: &Order) -> Self {
        let payment = order.payment.as_ref();
        Self {
            order_id: order.order_id.to_string(),
            txn_id: payment.map(|p| p.txn_id.to_string()),
            status: order.status.as_str(),
            status_id: order.status.id(),
            amount: TwoDecimals(order.amount.value()),
            currency: crate::domain::orders::CURRENCY,
            merchant_id: order.project.to_string(),
            customer_id: customer_of(order),
            payment_method_type: payment.map(|_| "WALLET"),
            payment_method: payment.map(|p| p.gateway.as_str()),
            wallet_id: payment.map(|p| p.wallet_id.to_string()),
            date_created: order.created_at.to_iso8601(),
            last_updated: order.updated_at.to_iso8601(),
            payment: match order.status {
                PaymentStatus::PendingVbv => payment
                    .and_then(|p| p.authentication.as_ref())
                    .map(|a| PaymentResponse { authentication: AuthenticationResponse::new(a) }),
                _ => None,
            },
        }
    }
}

fn customer_of(order: &Order) -> Option<String> {
    let customer = order.details.customer_id.as_ref().or(order.payment.as_ref().map(|p| &p.customer));
    customer.map(|c| c.to_string())
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundResponse {
    pub id: String,
    pub unique_request_id: String,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub amount: TwoDecimals,
    pub status: &'static str,
    pub created: String,
}

impl RefundResponse {
    fn new(refund: &Refund) -> Self {
        Self {
            id: refund.id.to_string(),
            unique_request_id: refund.request.to_string(),
            reference: None,
            amount: TwoDecimals(refund.amount.value()),
            status: refund.status.as_str(),
            created: refund.created_at.to_iso8601(),
        }
    }
}

/// Juspay's order object: create, update, status, refund and the list answer it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderResponse {
    pub id: String,
    pub order_id: String,
    pub merchant_id: String,
    pub amount: TwoDecimals,
    pub currency: &'static str,
    pub status: &'static str,
    pub status_id: u16,
    pub customer_id: Option<String>,
    pub customer_email: Option<String>,
    pub customer_phone: Option<String>,
    pub return_url: Option<String>,
    pub description: Option<String>,
    #[serde(flatten)]
    pub udf: BTreeMap<String, Option<String>>,
    pub metadata: BTreeMap<String, String>,
    pub txn_id: Option<String>,
    pub payment_method_type: Option<&'static str>,
    pub payment_method: Option<&'static str>,
    pub wallet_id: Option<String>,
    pub refunded: bool,
    pub amount_refunded: TwoDecimals,
    pub refunds: Vec<RefundResponse>,
    /// Pocketbook hosts no payment page: the wallet's top-up URL is in `payment`.
    pub payment_links: BTreeMap<String, String>,
    pub date_created: String,
    pub last_updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentResponse>,
}

impl OrderResponse {
    pub fn new(order: &Order) -> Self {
        let status = PaymentStatusResponse::new(order);
        let details = &order.details;
        let udf = details.udf.iter().enumerate().map(|(i, value)| (format!("udf{}", i + 1), value.clone())).collect();
        Self {
            id: order.uid.to_string(),
            order_id: status.order_id,
            merchant_id: status.merchant_id,
            amount: status.amount,
            currency: status.currency,
            status: status.status,
            status_id: status.status_id,
            customer_id: status.customer_id,
            customer_email: details.customer_email.clone(),
            customer_phone: details.customer_phone.clone(),
            return_url: details.return_url.clone(),
            description: details.description.clone(),
            udf,
            metadata: details.metadata.iter().cloned().collect(),
            txn_id: status.txn_id,
            payment_method_type: status.payment_method_type,
            payment_method: status.payment_method,
            wallet_id: status.wallet_id,
            refunded: order.fully_refunded(),
            amount_refunded: TwoDecimals(order.amount_refunded()),
            refunds: order.refunds.iter().map(RefundResponse::new).collect(),
            payment_links: BTreeMap::new(),
            date_created: status.date_created,
            last_updated: status.last_updated,
            payment: status.payment,
        }
    }

    /// A create's answer for an order made now: Juspay says CREATED (1).
    pub fn created(order: &Order) -> Self {
        Self { status: "CREATED", status_id: 1, ..Self::new(order) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderList {
    pub object: &'static str,
    pub list: Vec<OrderResponse>,
    pub count: usize,
    pub offset: usize,
    pub total: usize,
}

impl OrderList {
    pub fn new(orders: &[Order], offset: usize, total: usize) -> Self {
        let list: Vec<_> = orders.iter().map(OrderResponse::new).collect();
        Self { object: "list", count: list.len(), offset, total, list }
    }
}

/// Juspay's customer object.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerResponse {
    pub id: String,
    pub object: &'static str,
    pub object_reference_id: String,
    pub mobile_number: String,
    pub mobile_country_code: Option<String>,
    pub email_address: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_created: String,
    pub last_updated: String,
}

impl CustomerResponse {
    pub fn new(customer: &crate::domain::customers::Customer) -> Self {
        Self {
            id: customer.id.to_string(),
            object: "customer",
            object_reference_id: customer.object_reference_id.to_string(),
            mobile_number: customer.mobile_number.to_string(),
            mobile_country_code: customer.mobile_country_code.clone(),
            email_address: customer.email_address.clone(),
            first_name: customer.first_name.clone(),
            last_name: customer.last_name.clone(),
            date_created: customer.created_at.to_iso8601(),
            last_updated: customer.updated_at.to_iso8601(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentMethod {
    pub payment_method_type: &'static str,
    pub payment_method: &'static str,
    pub description: String,
}

/// `GET /merchants/{merchant_id}/paymentmethods`: the wallet gateways one can pay with.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentMethods {
    pub merchant_id: String,
    pub payment_methods: Vec<PaymentMethod>,
}

impl PaymentMethods {
    pub fn new(merchant_id: &str, gateways: &[(Gateway, bool)]) -> Self {
        let payment_methods = gateways
            .iter()
            .map(|(gateway, sandbox)| {
                let name = gateway.as_str();
                let mut description = format!("{}{}", &name[..1], name[1..].to_lowercase());
                if *sandbox {
                    description.push_str(" (sandbox)");
                }
                PaymentMethod { payment_method_type: "WALLET", payment_method: name, description }
            })
            .collect();
        Self { merchant_id: merchant_id.to_owned(), payment_methods }
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
