//! The wallet routes in this process, for the wallet tests that need a clock they move or many
//! requests fast: each request is an API Gateway (payload 2.0) event handed to the very action
//! and edge code a function binary runs (`pocketbook::edge::handle`), authenticated with a
//! real API key, on a fresh table of the local DynamoDB.
//!
//! Shared by `wallets_money.rs` and `wallets_paging.rs` (`mod wallets_support;`).

#![allow(dead_code)]

use lambda_runtime::{Context, LambdaEvent};
use pocketbook::actions::{
    CreateDeposit, CreateFundRequest, CreateQuasiTransfer, CreateTransfer, CreateWallet, FundRequestCommand,
    GetAttempt, GetBalance, GetMovement, GetWallet, GetWalletTransaction, ListMovements, ListTransactions,
    ListWalletTransactions, ListWallets, QuasiTransferCommand, UpdateMovement, UpdateWallet, UpdateWalletTransaction,
};
use pocketbook::domain::names::ProjectId;
use pocketbook::domain::time::Millis;
use pocketbook::edge::auth::{generate_api_key, hash_api_key, Authenticator};
use pocketbook::edge::{handle, Action, App};
use pocketbook::services::{Balances, Wallets};
use pocketbook::store::ApiKeyRecord;
pub use pocketbook_tests::gateway::{percent_decode, percent_encode as encode};
use pocketbook_tests::in_process::LocalLedger;
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::str::FromStr;
use std::time::Duration;

/// The host the in-process requests claim to reach: wallet `url`s are built from it.
pub const HOST: &str = "wallets.example.test";

/// An answer of an in-process request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Map<String, Value>,
    /// The body as sent.
    pub text: String,
    /// The body parsed the usual way (numbers through f64).
    pub body: Value,
    /// The body with every number replaced by a string of its exact digits.
    pub exact: Value,
}

impl Reply {
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(Value::as_str)
    }
}

pub struct Api {
    pub local: LocalLedger,
    /// What the wallet functions and the balance functions keep.
    wallets: App<Wallets>,
    balances: App<Balances>,
    api_key: String,
    pub key_id: String,
}

impl Api {
    pub async fn new() -> Api {
        // A generous lock wait: concurrent requests in these tests wait rather than see 429.
        let local = LocalLedger::with(false, Duration::from_secs(15)).await;
        let auth = || Authenticator::new(local.store.clone(), Duration::from_secs(60));
        let wallets = App::new(local.wallets.clone(), auth());
        let balances = App::new(local.balances.clone(), auth());
        let api_key = generate_api_key();
        let key_id = pocketbook_tests::app::unique("key");
        let record = ApiKeyRecord {
            key_id: key_id.clone(),
            project_id: local.project.clone(),
            scopes: vec!["read".into(), "write".into()],
            created_at: Millis::from_epoch_ms(0),
        };
        local.store.insert_api_key(&hash_api_key(&api_key), &record).await.expect("store the API key");
        Api { local, wallets, balances, api_key, key_id }
    }

    pub fn project(&self) -> &ProjectId {
        &self.local.project
    }

    pub fn now_ms(&self) -> i64 {
        use pocketbook::clock::Clock;
        self.local.clock.now().epoch_ms()
    }

    pub fn advance_ms(&self, ms: i64) {
        self.local.clock.advance_ms(ms);
    }

    /// A request with this API's key; `path` may carry a query string (percent-encoded).
    pub async fn send(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_json(&self, method: &str, path: &str, body: &Value) -> Reply {
        self.send(method, path, Some(&body.to_string())).await
    }

    pub async fn send_with(&self, method: &str, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
        let mut header_map = Map::new();
        header_map.insert("host".into(), json!(HOST));
        header_map.insert("authorization".into(), json!(format!("Bearer {}", self.api_key)));
        if body.is_some() {
            header_map.insert("content-type".into(), json!("application/json"));
        }
        for (name, value) in headers {
            header_map.insert(name.to_ascii_lowercase(), json!(value));
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let build = |path_parameters: Map<String, Value>| -> LambdaEvent<Box<RawValue>> {
            let mut event = json!({
                "version": "2.0",
                "routeKey": format!("{method} {raw_path}"),
                "rawPath": raw_path,
                "rawQueryString": raw_query,
                "headers": header_map,
                "requestContext": {
                    "accountId": "123456789012",
                    "apiId": "local",
                    "domainName": HOST,
                    "domainPrefix": "wallets",
                    "http": {
                        "method": method,
                        "path": raw_path,
                        "protocol": "HTTP/1.1",
                        "sourceIp": "127.0.0.1",
                        "userAgent": "wallets-tests",
                    },
                    "requestId": request_id,
                    "routeKey": format!("{method} {raw_path}"),
                    "stage": "$default",
                    "time": "01/Jan/2026:00:00:00 +0000",
                    "timeEpoch": 0,
                },
                "isBase64Encoded": false,
            });
            let query = query_parameters(raw_query);
            if !query.is_empty() {
                event["queryStringParameters"] = Value::Object(query);
            }
            if !path_parameters.is_empty() {
                event["pathParameters"] = Value::Object(path_parameters);
            }
            if let Some(body) = body {
                event["body"] = json!(body);
            }
            let mut context = Context::default();
            context.request_id = request_id.clone();
            LambdaEvent::new(RawValue::from_string(event.to_string()).expect("an event"), context)
        };

        macro_rules! dispatch {
            ($($app:ident: $action:ty),* $(,)?) => {{
                $(
                    // The action's main route, then its others (one function, several routes).
                    let routes = std::iter::once((<$action as Action>::METHOD, <$action as Action>::PATH))
                        .chain(<$action as Action>::ALSO.iter().copied());
                    for (route_method, template) in routes {
                        if method != route_method {
                            continue;
                        }
                        if let Some(parameters) = match_template(template, raw_path) {
                            // Boxed, as the functions' runtime loop boxes it: a dozen actions'
                            // futures inline would overflow a test thread's stack.
                            let answer = Box::pin(handle::<$action>(&self.$app, build(parameters)))
                                .await
                                .unwrap_or_else(|e| panic!("{method} {path}: an HTTP invocation failed: {e:?}"));
                            return into_reply(answer.get());
                        }
                    }
                )*
                panic!("no wallet route for {method} {raw_path}");
            }};
        }
        dispatch!(
            wallets: CreateWallet,
            wallets: GetWallet,
            wallets: ListWallets,
            wallets: UpdateWallet,
            wallets: CreateDeposit,
            wallets: CreateTransfer,
            wallets: CreateQuasiTransfer,
            wallets: QuasiTransferCommand,
            wallets: CreateFundRequest,
            wallets: FundRequestCommand,
            wallets: GetMovement,
            wallets: ListMovements,
            wallets: UpdateMovement,
            wallets: GetAttempt,
            wallets: GetWalletTransaction,
            wallets: ListWalletTransactions,
            wallets: UpdateWalletTransaction,
            balances: GetBalance,
            balances: ListTransactions,
        )
    }

    /// Every entry of a balance's history, oldest first, `page_size` at a time.
    pub async fn all_transactions(&self, balance_id: &str, page_size: usize) -> Vec<Value> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/balances/{balance_id}/transactions?order=asc&pageSize={page_size}");
            if let Some(token) = &token {
                path.push_str(&format!("&paginationToken={}", encode(token)));
            }
            let answer = self.send("GET", &path, None).await;
            assert_eq!(answer.status, 200, "{path}: {}", answer.text);
            all.extend(answer.exact["transactions"].as_array().cloned().unwrap_or_default());
            match answer.body["paginationToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => return all,
            }
        }
    }
}

/// The path parameters when `path` is the route `template`'s, percent-decoded as API Gateway
/// passes them.
fn match_template(template: &str, path: &str) -> Option<Map<String, Value>> {
    let template: Vec<&str> = template.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_matches('/').split('/').collect();
    if template.len() != path.len() {
        return None;
    }
    let mut parameters = Map::new();
    for (expected, actual) in template.iter().zip(&path) {
        match expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !actual.is_empty() => {
                parameters.insert(name.to_owned(), json!(percent_decode(actual)));
            }
            Some(_) => return None,
            None if expected == actual => {}
            None => return None,
        }
    }
    Some(parameters)
}

fn query_parameters(raw: &str) -> Map<String, Value> {
    let mut parameters = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        parameters.insert(percent_decode(key), json!(percent_decode(value)));
    }
    parameters
}

fn into_reply(answer: &str) -> Reply {
    let answer: Value = serde_json::from_str(answer).expect("an HTTP answer is JSON");
    let status = answer["statusCode"].as_u64().expect("statusCode") as u16;
    let headers = answer["headers"].as_object().cloned().unwrap_or_default();
    let text = answer["body"].as_str().unwrap_or_default().to_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    let exact = numbers_as_strings(&text).unwrap_or(Value::Null);
    Reply { status, headers, text, body, exact }
}

/// JSON text parsed with every number turned into a string of its exact digits, so that
/// money is compared exactly (serde_json without `arbitrary_precision` reads through f64).
pub fn numbers_as_strings(text: &str) -> Option<Value> {
    let mut out = String::with_capacity(text.len() + 32);
    let mut chars = text.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '-' | '0'..='9' => {
                out.push('"');
                out.push(c);
                while let Some(&next) = chars.peek() {
                    if next.is_ascii_digit() || matches!(next, '.' | 'e' | 'E' | '+' | '-') {
                        out.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push('"');
            }
            _ => out.push(c),
        }
    }
    serde_json::from_str(&out).ok()
}

/// An exact number of an `exact` body, checked to be written as the contract says (no
/// exponent, no trailing zeros).
pub fn dec(value: &Value) -> Decimal {
    let text = value.as_str().unwrap_or_else(|| panic!("not a number: {value}"));
    let number = Decimal::from_str(text).unwrap_or_else(|e| panic!("{text} is not an exact decimal: {e}"));
    assert_eq!(text, number.normalize().to_string(), "money is written without trailing zeros or exponent");
    number
}

/// The pockets of a wallet read from an `exact` body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pockets {
    pub available: Decimal,
    pub locked_in: Decimal,
    pub locked_out: Decimal,
    pub input: Decimal,
    pub output: Decimal,
}

impl Pockets {
    pub fn of(wallet: &Value) -> Pockets {
        let pocket = &wallet["mainPocket"];
        let pockets = Pockets {
            available: dec(&pocket["balance"]["available"]),
            locked_in: dec(&pocket["balance"]["lockedIn"]),
            locked_out: dec(&pocket["balance"]["lockedOut"]),
            input: dec(&pocket["volume"]["input"]),
            output: dec(&pocket["volume"]["output"]),
        };
        assert_eq!(dec(&pocket["volume"]["total"]), pockets.input + pockets.output, "total = input + output: {wallet}");
        pockets
    }
}
