//! A fake wallet provider on `127.0.0.1:<random port>`, speaking the wire protocol of
//! `pocketbook::providers::http` over real sockets, with state a test can set and inspect.
//!
//! - Wallets are keyed by mobile number; `set_balance` creates one. The OTP of a mobile
//!   number is its last six digits ([`FakeProvider::otp_for`]); it must have been asked for
//!   (`POST /otp`) and is used up by a successful link.
//! - Wallet ids are `fake/<uuid>`: the `/` makes a client that forgets to percent-encode
//!   path segments miss every wallet.
//! - Debits and top-ups are idempotent on `Idempotency-Key` (which must equal the body's
//!   `txn_id`): a repeated key gets the first answer, and nothing happens twice.
//! - Every request is recorded, before anything else happens to it, so retries can be counted.
//! - The behaviour can be switched at runtime ([`Behaviour`]); the Bearer API key is checked
//!   after the behaviour's fault (a failing server does not get as far as authentication).
//!
//! Everything is served under the base path `/v1`, part of [`FakeProvider::url`], so a client
//! that drops its base URL's path is caught too.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use pocketbook::domain::wallet_accounts::two_decimals;
use pocketbook::providers::http::{sign_callback, API_KEY_SUFFIX, CALLBACK_SECRET_SUFFIX, URL_SUFFIX, VAR_PREFIX};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

const BASE_PATH: &str = "/v1";

/// How the fake answers, from the next request on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    /// Sleeps this long before handling each request, which then still takes effect (as a
    /// real slow provider's would, after the client gave up).
    Slow(Duration),
    /// 500 to everything.
    Fail500,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 500 to the next `n` requests, then `Normal`.
    FailTimes(u32),
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// As sent, still percent-encoded.
    pub path: String,
    /// Lowercase names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn idempotency_key(&self) -> Option<&str> {
        self.header("idempotency-key")
    }

    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

struct Wallet {
    balance: Decimal,
    otp_requested: bool,
    /// While linked.
    wallet_id: Option<String>,
    /// Debits are answered DECLINED with this reason.
    declined: Option<String>,
}

#[derive(Default)]
struct Ledger {
    wallets: BTreeMap<String, Wallet>,
    /// The first answer to each debit, by idempotency key.
    debits: HashMap<String, String>,
    /// The first answer to each top-up, by idempotency key.
    top_ups: HashMap<String, String>,
    /// The first answer to each refund, by idempotency key (the refund id).
    refunds: HashMap<String, String>,
}

impl Ledger {
    fn linked(&mut self, wallet_id: &str) -> Option<&mut Wallet> {
        self.wallets.values_mut().find(|wallet| wallet.wallet_id.as_deref() == Some(wallet_id))
    }
}

struct State {
    url: String,
    api_key: String,
    behaviour: Mutex<Behaviour>,
    /// Amounts written as JSON numbers instead of strings.
    numbers: Mutex<bool>,
    ledger: Mutex<Ledger>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A running fake provider. Dropping it stops it.
pub struct FakeProvider {
    state: Arc<State>,
    callback_secret: String,
    task: JoinHandle<()>,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the fake provider binds a loopback port");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let state = Arc::new(State {
            url: format!("http://{addr}{BASE_PATH}"),
            api_key: format!("fake-key-{}", uuid::Uuid::new_v4().simple()),
            behaviour: Mutex::new(Behaviour::Normal),
            numbers: Mutex::new(false),
            ledger: Mutex::new(Ledger::default()),
            requests: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(serve(listener, state.clone()));
        FakeProvider { state, callback_secret: format!("fake-secret-{}", uuid::Uuid::new_v4().simple()), task }
    }

    /// The base URL to configure, `http://127.0.0.1:<port>/v1`.
    pub fn url(&self) -> String {
        self.state.url.clone()
    }

    pub fn api_key(&self) -> String {
        self.state.api_key.clone()
    }

    pub fn callback_secret(&self) -> String {
        self.callback_secret.clone()
    }

    /// The variables that point a function's `gateway` (e.g. `"PAYTM"`) at this fake. The
    /// shared timeout and attempts are left to their defaults.
    pub fn env_for(&self, gateway: &str) -> Vec<(String, String)> {
        let var = |suffix: &str| format!("{VAR_PREFIX}{}{suffix}", gateway.to_ascii_uppercase());
        vec![
            (var(URL_SUFFIX), self.url()),
            (var(API_KEY_SUFFIX), self.api_key()),
            (var(CALLBACK_SECRET_SUFFIX), self.callback_secret()),
        ]
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *lock(&self.state.behaviour) = behaviour;
    }

    /// Write amounts as JSON numbers (`12.30`) rather than strings (`"12.30"`).
    pub fn amounts_as_numbers(&self, numbers: bool) {
        *lock(&self.state.numbers) = numbers;
    }

    /// Creates the wallet of `mobile` if needed.
    pub fn set_balance(&self, mobile: &str, balance: Decimal) {
        let mut ledger = lock(&self.state.ledger);
        let wallet = ledger.wallets.entry(mobile.to_owned()).or_insert(Wallet {
            balance,
            otp_requested: false,
            wallet_id: None,
            declined: None,
        });
        wallet.balance = balance;
    }

    pub fn balance(&self, mobile: &str) -> Option<Decimal> {
        lock(&self.state.ledger).wallets.get(mobile).map(|wallet| wallet.balance)
    }

    /// From now on debits of this wallet are DECLINED with `reason`.
    pub fn decline_debits(&self, mobile: &str, reason: &str) {
        if let Some(wallet) = lock(&self.state.ledger).wallets.get_mut(mobile) {
            wallet.declined = Some(reason.to_owned());
        }
    }

    /// The OTP the fake expects for `mobile`: its last six digits.
    pub fn otp_for(mobile: &str) -> String {
        mobile[mobile.len().saturating_sub(6)..].to_owned()
    }

    /// The customer finished (or abandoned) the top-up page of `txn_id`: the callback the
    /// provider would POST, as its body and `X-Provider-Signature`. `None` for an unknown
    /// top-up. The customer paid the amount there, so the wallet's balance does not change.
    pub fn complete_top_up(&self, txn_id: &str, success: bool) -> Option<(String, String)> {
        if !lock(&self.state.ledger).top_ups.contains_key(txn_id) {
            return None;
        }
        let status = if success { "SUCCESS" } else { "FAILURE" };
        let body = json!({"txn_id": txn_id, "status": status}).to_string();
        let signature = sign_callback(&self.callback_secret, body.as_bytes());
        Some((body, signature))
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// The requests so far whose path ends with `suffix` (e.g. `"/debits"`).
    pub fn requests_to(&self, suffix: &str) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|request| request.path.ends_with(suffix)).collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    // Connection tasks live in the JoinSet: aborting this task aborts them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| handle(request, state.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// What the behaviour does to one request.
enum Fault {
    Delay(Duration),
    Fail,
    Garbage,
}

impl State {
    fn take_fault(&self) -> Option<Fault> {
        let mut behaviour = lock(&self.behaviour);
        match *behaviour {
            Behaviour::Normal | Behaviour::FailTimes(0) => None,
            Behaviour::Slow(delay) => Some(Fault::Delay(delay)),
            Behaviour::Fail500 => Some(Fault::Fail),
            Behaviour::Garbage => Some(Fault::Garbage),
            Behaviour::FailTimes(n) => {
                *behaviour = if n == 1 { Behaviour::Normal } else { Behaviour::FailTimes(n - 1) };
                Some(Fault::Fail)
            }
        }
    }

    /// An amount as JSON text: a string, or a number if so switched.
    fn money(&self, value: Decimal) -> String {
        let text = two_decimals(value);
        if *lock(&self.numbers) {
            text
        } else {
            Value::from(text).to_string()
        }
    }
}

async fn handle(request: Request<Incoming>, state: Arc<State>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|collected| collected.to_bytes()).unwrap_or_default();
    let request = RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    lock(&state.requests).push(request.clone());

    match state.take_fault() {
        Some(Fault::Fail) => return Ok(refuse(StatusCode::INTERNAL_SERVER_ERROR, "injected failure")),
        Some(Fault::Garbage) => return Ok(answer(StatusCode::OK, "<html>this is not JSON".to_owned())),
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    if request.header("authorization") != Some(format!("Bearer {}", state.api_key).as_str()) {
        return Ok(refuse(StatusCode::UNAUTHORIZED, "invalid api key"));
    }
    Ok(route(&state, &request))
}

fn route(state: &State, request: &RecordedRequest) -> Response<Full<Bytes>> {
    let Some(path) = request.path.strip_prefix(BASE_PATH) else {
        return refuse(StatusCode::NOT_FOUND, "no such route");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = request.method.as_str();
    if method == "POST" && !request.header("content-type").is_some_and(|t| t.starts_with("application/json")) {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON");
    }
    let body = request.json();
    if method == "POST" && !body.is_object() {
        return refuse(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    }
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    match (method, segments.as_slice()) {
        ("POST", ["otp"]) => send_otp(state, &field("mobile_number")),
        ("POST", ["link"]) => link(state, &field("mobile_number"), &field("otp")),
        ("GET", ["wallets", id, "balance"]) => match percent_decode(id) {
            Some(id) => balance(state, &id),
            None => refuse(StatusCode::BAD_REQUEST, "bad path"),
        },
        ("POST", ["wallets", id, "delink"]) => match percent_decode(id) {
            Some(id) => delink(state, &id),
            None => refuse(StatusCode::BAD_REQUEST, "bad path"),
        },
        ("POST", ["debits"]) => debit(state, request, &field("wallet_id"), &field("txn_id"), &field("amount")),
        ("POST", ["topups"]) => top_up(state, request, &field("wallet_id"), &field("txn_id"), &field("amount")),
        ("POST", ["refunds"]) => refund(state, request, &field("wallet_id"), &field("refund_id"), &field("amount")),
        _ => refuse(StatusCode::NOT_FOUND, "no such route"),
    }
}

fn send_otp(state: &State, mobile: &str) -> Response<Full<Bytes>> {
    match lock(&state.ledger).wallets.get_mut(mobile) {
        Some(wallet) => {
            wallet.otp_requested = true;
            answer(StatusCode::OK, json!({"sent": true}).to_string())
        }
        None => refuse(StatusCode::NOT_FOUND, "no wallet for this mobile number"),
    }
}

fn link(state: &State, mobile: &str, otp: &str) -> Response<Full<Bytes>> {
    let mut ledger = lock(&state.ledger);
    let Some(wallet) = ledger.wallets.get_mut(mobile) else {
        return refuse(StatusCode::NOT_FOUND, "no wallet for this mobile number");
    };
    if !wallet.otp_requested {
        return refuse(StatusCode::BAD_REQUEST, "no OTP was requested");
    }
    if otp != FakeProvider::otp_for(mobile) {
        return refuse(StatusCode::BAD_REQUEST, "wrong OTP");
    }
    wallet.otp_requested = false;
    let wallet_id = wallet.wallet_id.get_or_insert_with(|| format!("fake/{}", uuid::Uuid::new_v4())).clone();
    let balance = wallet.balance;
    answer(StatusCode::OK, format!(r#"{{"wallet_id":{},"balance":{}}}"#, Value::from(wallet_id), state.money(balance)))
}

fn balance(state: &State, wallet_id: &str) -> Response<Full<Bytes>> {
    match lock(&state.ledger).linked(wallet_id) {
        Some(wallet) => answer(StatusCode::OK, format!(r#"{{"balance":{}}}"#, state.money(wallet.balance))),
        None => refuse(StatusCode::NOT_FOUND, "unknown wallet"),
    }
}

fn delink(state: &State, wallet_id: &str) -> Response<Full<Bytes>> {
    match lock(&state.ledger).linked(wallet_id) {
        Some(wallet) => {
            wallet.wallet_id = None;
            answer(StatusCode::OK, "{}".to_owned())
        }
        None => refuse(StatusCode::NOT_FOUND, "unknown wallet"),
    }
}

/// The idempotency key, checked against the body's `txn_id`, and the amount: what a debit
/// and a top-up both need. The error is the message of a 400.
fn key_and_amount(request: &RecordedRequest, txn_id: &str, amount: &str) -> Result<(String, Decimal), &'static str> {
    let key = request.idempotency_key().unwrap_or_default();
    if key.is_empty() || key != txn_id {
        return Err("Idempotency-Key must be the txn_id");
    }
    // The protocol's amounts are strings with exactly two decimals.
    let two_decimals = amount.split_once('.').is_some_and(|(_, cents)| cents.len() == 2);
    match Decimal::from_str(amount) {
        Ok(value) if two_decimals && value > Decimal::ZERO => Ok((key.to_owned(), value)),
        _ => Err("amount must be a positive string with two decimals"),
    }
}

fn debit(
    state: &State,
    request: &RecordedRequest,
    wallet_id: &str,
    txn_id: &str,
    amount: &str,
) -> Response<Full<Bytes>> {
    let (key, amount) = match key_and_amount(request, txn_id, amount) {
        Ok(checked) => checked,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let mut ledger = lock(&state.ledger);
    if let Some(first) = ledger.debits.get(&key) {
        return answer(StatusCode::OK, first.clone());
    }
    let Some(wallet) = ledger.linked(wallet_id) else {
        return refuse(StatusCode::NOT_FOUND, "unknown wallet");
    };
    let body = if let Some(reason) = &wallet.declined {
        json!({"status": "DECLINED", "reason": reason}).to_string()
    } else if wallet.balance < amount {
        format!(r#"{{"status":"INSUFFICIENT_FUNDS","balance":{}}}"#, state.money(wallet.balance))
    } else {
        wallet.balance -= amount;
        format!(r#"{{"status":"SUCCESS","balance":{}}}"#, state.money(wallet.balance))
    };
    ledger.debits.insert(key, body.clone());
    answer(StatusCode::OK, body)
}

/// Gives `amount` back to the wallet, once per refund id.
fn refund(
    state: &State,
    request: &RecordedRequest,
    wallet_id: &str,
    refund_id: &str,
    amount: &str,
) -> Response<Full<Bytes>> {
    let (key, amount) = match key_and_amount(request, refund_id, amount) {
        Ok(checked) => checked,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let mut ledger = lock(&state.ledger);
    if let Some(first) = ledger.refunds.get(&key) {
        return answer(StatusCode::OK, first.clone());
    }
    let Some(wallet) = ledger.linked(wallet_id) else {
        return refuse(StatusCode::NOT_FOUND, "unknown wallet");
    };
    wallet.balance += amount;
    let body = json!({"status": "SUCCESS"}).to_string();
    ledger.refunds.insert(key, body.clone());
    answer(StatusCode::OK, body)
}

fn top_up(
    state: &State,
    request: &RecordedRequest,
    wallet_id: &str,
    txn_id: &str,
    amount: &str,
) -> Response<Full<Bytes>> {
    let (key, amount) = match key_and_amount(request, txn_id, amount) {
        Ok(checked) => checked,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let mut ledger = lock(&state.ledger);
    if let Some(first) = ledger.top_ups.get(&key) {
        return answer(StatusCode::OK, first.clone());
    }
    if ledger.linked(wallet_id).is_none() {
        return refuse(StatusCode::NOT_FOUND, "unknown wallet");
    }
    let body = json!({
        "method": "POST",
        "url": format!("{}/pay/{key}", state.url),
        "params": {"txn_id": key, "amount": two_decimals(amount)},
    })
    .to_string();
    ledger.top_ups.insert(key, body.clone());
    answer(StatusCode::OK, body)
}

fn answer(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

fn refuse(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    answer(status, json!({"message": message}).to_string())
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}
