//! The invocation payloads the figures send: direct invocations (the request body plus
//! `projectId` and the path and query parameters), as another AWS service would send them.
//! They skip API-key authentication, whose lookup a warm function caches anyway. The
//! authorizer gets what API Gateway sends a Lambda authorizer (payload 2.0).

use crate::support::Fixture;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::domain::time::Millis;
use pocketbook::domain::wallet_accounts::{TxnId, WalletAccountId};
use pocketbook::edge::auth::{generate_api_key, hash_api_key};
use pocketbook::store::ApiKeyRecord;
use serde_json::json;
use uuid::Uuid;

pub const HELLO_WORLD: &str = "hello-world";

pub struct Requests {
    pub project: ProjectId,
    pub balance: BalanceId,
    /// A read+write API key of `project`, for the authorizer.
    pub api_key: String,
}

impl Requests {
    pub async fn new(fixture: &Fixture, balance: BalanceId) -> Requests {
        let api_key = generate_api_key();
        let record = ApiKeyRecord {
            key_id: format!("key_{}", Uuid::new_v4().simple()),
            project_id: fixture.project.clone(),
            scopes: vec!["read".into(), "write".into()],
            created_at: Millis::from_epoch_ms(0),
        };
        fixture.store.insert_api_key(&hash_api_key(&api_key), &record).await.expect("store an API key");
        Requests { project: fixture.project.clone(), balance, api_key }
    }

    /// What each binary gets as its first invocation: a request that succeeds (hello-world:
    /// anything). `None` for a function the bench has no request for.
    pub fn cold_start(&self, function: &str) -> Option<String> {
        match function {
            HELLO_WORLD => Some("{}".into()),
            "create-balance" => Some(self.create(None)),
            "get-balance" => Some(self.get()),
            "execute-operation" => Some(self.operate("INC", "1", "")),
            "list-transactions" => Some(self.page("")),
            "authorizer" => Some(self.authorize(&self.api_key)),
            _ => None,
        }
    }

    pub fn create(&self, idempotency_key: Option<&str>) -> String {
        let key = idempotency_key.map(|k| format!(r#","idempotencyKey":"{k}""#)).unwrap_or_default();
        format!(r#"{{"projectId":"{}","balanceType":"EUR"{key}}}"#, self.project)
    }

    pub fn get(&self) -> String {
        format!(r#"{{"projectId":"{}","balanceId":"{}"}}"#, self.project, self.balance)
    }

    pub fn get_of(&self, balance: BalanceId) -> String {
        format!(r#"{{"projectId":"{}","balanceId":"{balance}"}}"#, self.project)
    }

    /// `amount` is JSON number text (exact, never a float); `extra` more fields, each
    /// starting with a comma.
    pub fn operate(&self, kind: &str, amount: &str, extra: &str) -> String {
        self.operate_on(self.balance, kind, amount, extra)
    }

    pub fn operate_on(&self, balance: BalanceId, kind: &str, amount: &str, extra: &str) -> String {
        format!(
            r#"{{"projectId":"{}","balanceId":"{balance}","amount":{amount},"type":"{kind}"{extra}}}"#,
            self.project
        )
    }

    /// A history page; `extra` more fields (pageSize, order, paginationToken), each starting
    /// with a comma.
    pub fn page(&self, extra: &str) -> String {
        self.page_of(self.balance, extra)
    }

    pub fn page_of(&self, balance: BalanceId, extra: &str) -> String {
        format!(r#"{{"projectId":"{}","balanceId":"{balance}"{extra}}}"#, self.project)
    }
}

impl Requests {
    /// The authorizer's event for `GET /balances/{balanceId}` with `Authorization: Bearer <key>`.
    pub fn authorize(&self, key: &str) -> String {
        let path = format!("/balances/{}", self.balance);
        let request_id = Uuid::new_v4();
        let now = Millis::from_datetime(chrono::Utc::now()).epoch_ms();
        serde_json::json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": format!("arn:aws:execute-api:us-east-1:000000000000:bench/$default/GET{path}"),
            "identitySource": [format!("Bearer {key}")],
            "routeKey": "GET /balances/{balanceId}",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"authorization": format!("Bearer {key}"), "user-agent": "pocketbook-bench"},
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "bench",
                "domainName": "bench.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "bench",
                "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "pocketbook-bench"},
                "requestId": request_id.to_string(),
                "routeKey": "GET /balances/{balanceId}",
                "stage": "$default",
                "timeEpoch": now,
            },
            "pathParameters": {"balanceId": self.balance.to_string()},
        })
        .to_string()
    }
}

/// Figure 1's first invocation of every function: a request each can answer from a cold
/// start, as a direct invocation (the event sources' functions: an event of their source).
/// Reads and commands name ids nobody holds, so that the function does its lookup and
/// answers NOT_FOUND; creations create (a fresh reference each time); lists list the bench's
/// project. The figure reports each answer and its DynamoDB calls on the wire.
impl Requests {
    pub fn first_request(&self, function: &str) -> String {
        if let Some(payload) = self.cold_start(function) {
            return payload;
        }
        let fresh = || Uuid::new_v4().to_string();
        // Hyphenated, as wallet and movement ids are.
        let unknown = fresh();
        let reference = format!("bench-{}", &Uuid::new_v4().simple().to_string()[..12]);
        // Orders' ids are 1–20 letters and digits.
        let order = format!("bench{}", &Uuid::new_v4().simple().to_string()[..12]);
        let fields = match function {
            // Customers, customer wallet accounts, orders and payments (Juspay-shaped).
            "create-customer" => json!({"object_reference_id": reference, "mobile_number": "9876543210"}),
            "get-customer" => json!({"customer_id": reference}),
            "update-customer" => json!({"customer_id": reference, "first_name": "Bench"}),
            "create-wallet-account" => {
                json!({"customer_id": reference, "gateway": "PAYTM", "mobile_number": "9876543210"})
            }
            "wallet-account-command" => {
                json!({"customer_id": reference, "wallet_id": wallet_account_id(), "command": "authenticate"})
            }
            "get-wallet-account" => json!({"identifier": wallet_account_id(), "command": "refresh"}),
            "list-wallet-accounts" | "refresh-wallet-accounts" => json!({"customer_id": reference}),
            "create-order" => json!({"order_id": order, "amount": "100.00"}),
            "update-order" => json!({"order_id": order, "amount": "10.00"}),
            "get-order" | "list-order-wallets" => json!({"order_id": order}),
            "list-orders" | "list-wallets" | "list-movements" | "list-wallet-transactions" | "list-webhooks" => {
                json!({})
            }
            "refund-order" => json!({"order_id": order, "unique_request_id": order, "amount": "1.00"}),
            "list-payment-methods" => json!({"merchant_id": self.project.as_str()}),
            "direct-debit" => json!({
                "order_id": order, "merchant_id": self.project.as_str(), "payment_method_type": "WALLET",
                "payment_method": "PAYTM", "direct_wallet_token": "bench-token",
            }),
            "sandbox-top-up" => json!({"txn_id": TxnId::from_random(*Uuid::new_v4().as_bytes()).as_str()}),
            "provider-callback" => json!({"gateway": "PAYTM", "txn_id": unknown, "status": "SUCCESS"}),
            // Wallets and their movements (FPay-shaped).
            "create-wallet" => json!({"name": "bench"}),
            "get-wallet" | "get-movement" => json!({"identifier": unknown}),
            // An attempt's id is `a-` and its movement's; a transaction's `<ms>-<movement>-<n>`.
            "get-attempt" => json!({"identifier": format!("a-{unknown}")}),
            "get-wallet-transaction" => json!({"identifier": format!("1700000000000-{unknown}-1")}),
            "update-wallet" => json!({"identifier": unknown, "set": {"name": "bench"}}),
            "update-movement" => json!({"identifier": unknown, "set": {"description": "bench"}}),
            "update-wallet-transaction" => {
                json!({"identifier": format!("1700000000000-{unknown}-1"), "set": {"description": "bench"}})
            }
            "create-deposit" => json!({"destination": unknown, "amount": 100}),
            "create-transfer" | "create-quasi-transfer" | "create-fund-request" => {
                json!({"source": unknown, "destination": fresh(), "amount": 100})
            }
            "quasi-transfer-command" | "fund-request-command" => json!({"identifier": unknown, "command": "cancel"}),
            // Webhooks.
            "create-webhook" => json!({"url": "https://example.com/pocketbook-bench", "events": ["*"]}),
            "delete-webhook" | "list-webhook-deliveries" => json!({"webhookId": webhook_id()}),
            "redeliver-webhook" => {
                json!({"webhookId": webhook_id(), "eventId": format!("evt_{}", Uuid::new_v4().simple())})
            }
            // The event sources' functions: an empty SQS batch, an empty stream batch, the
            // schedule's event; the catch-all route's function takes anything.
            "deliver-webhooks" | "publish-events" => return json!({"Records": []}).to_string(),
            "expire-movements" => return scheduled_event().to_string(),
            _ => return "{}".into(),
        };
        let mut payload = fields;
        payload["projectId"] = json!(self.project.as_str());
        payload.to_string()
    }
}

fn wallet_account_id() -> String {
    WalletAccountId::from_random(*Uuid::new_v4().as_bytes()).as_str().to_owned()
}

/// `whk_` and 26 lowercase letters or digits, as the webhooks' ids are.
fn webhook_id() -> String {
    format!("whk_{}", &Uuid::new_v4().simple().to_string()[..26])
}

/// What an EventBridge schedule sends.
fn scheduled_event() -> serde_json::Value {
    json!({
        "version": "0",
        "id": Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/pocketbook-bench"],
        "detail": {},
    })
}
