//! A wallet provider reached over HTTP(S). The wire protocol is ours: real gateways differ
//! from each other, so an adapter in front of each speaks this to us.
//!
//! Every request carries `Authorization: Bearer <api key>`; requests with a body send JSON
//! (`content-type: application/json`). Amounts go out as strings with two decimals
//! (`"100.00"`) and are read back from a JSON string or a JSON number, exactly.
//!
//! - authenticate: `POST /otp` `{"mobile_number"}` → any 2xx.
//! - link: `POST /link` `{"mobile_number","otp"}` → `{"wallet_id","balance"}`.
//! - balance: `GET /wallets/{wallet_id}/balance` → `{"balance"}`.
//! - debit: `POST /debits` `{"wallet_id","txn_id","amount"}` with `Idempotency-Key: <txn_id>`
//!   → `{"status":"SUCCESS","balance"}`, `{"status":"INSUFFICIENT_FUNDS","balance"}` or
//!   `{"status":"DECLINED","reason"}`.
//! - top-up: `POST /topups` `{"wallet_id","txn_id","amount"}` with `Idempotency-Key: <txn_id>`
//!   → `{"method":"GET"|"POST","url","params":{"k":"v"}}`; `params` is optional and kept for
//!   `POST` only.
//! - delink: `POST /wallets/{wallet_id}/delink` `{}` → any 2xx.
//! - refund: `POST /refunds` `{"wallet_id","txn_id","refund_id","amount"}` with
//!   `Idempotency-Key: <refund_id>` → `{"status":"SUCCESS"|"FAILURE"}` (a 4xx is a FAILURE).
//!
//! Paths are relative to the configured base URL; `{wallet_id}` is percent-encoded.
//!
//! A 4xx answer is a refusal: nothing happened, and asking again would not change it, so it
//! is never retried (except a 409 or 429 after an unanswered attempt: it may concern that
//! attempt, so the outcome is unknown). A failed connection, an attempt past its timeout, a
//! 5xx, or a 2xx whose body is not what the call expects are retried, up to the configured
//! number of attempts with a short jittered pause between them, and then reported as
//! unavailable. Retries send the same request, so a debit or top-up keeps its
//! `Idempotency-Key`. Authenticate and link have no such key: a retried authenticate may send
//! a second OTP, and a retried link whose first attempt landed may be refused as a used OTP.
//! The whole call takes at most about `attempts × timeout` plus the pauses.
//!
//! Completed top-ups come back as callbacks: the provider POSTs
//! `{"txn_id","status":"SUCCESS"|"FAILURE"}` with `X-Provider-Signature:
//! hex(HMAC-SHA256(callback secret, body))`, checked by [`HttpProvider::verify_callback`].
//!
//! Neither the API key, the callback secret nor OTPs are ever logged; wallet ids and
//! transaction ids are.

use super::{Authentication, Debit, DebitOutcome, LinkedWallet, ProviderError, Refund, TopUp, WalletProvider};
use crate::domain::wallet_accounts::{two_decimals, Gateway, MobileNumber, Otp};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use serde_json::value::RawValue;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Every gateway's variables start with this and the gateway's name:
/// `POCKETBOOK_PROVIDER_PAYTM_URL`. See [`gateway_var`].
pub const VAR_PREFIX: &str = "POCKETBOOK_PROVIDER_";
/// The provider's base URL; a gateway without one stays on the sandbox.
pub const URL_SUFFIX: &str = "_URL";
pub const API_KEY_SUFFIX: &str = "_API_KEY";
pub const CALLBACK_SECRET_SUFFIX: &str = "_CALLBACK_SECRET";
/// Per attempt, shared by all gateways.
pub const TIMEOUT_MS: &str = "POCKETBOOK_PROVIDER_TIMEOUT_MS";
/// Attempts in all (not retries), shared by all gateways.
pub const ATTEMPTS: &str = "POCKETBOOK_PROVIDER_ATTEMPTS";

const DEFAULT_TIMEOUT_MS: u64 = 2_000;
const TIMEOUT_MS_RANGE: RangeInclusive<u64> = 50..=10_000;
const DEFAULT_ATTEMPTS: u64 = 3;
const ATTEMPTS_RANGE: RangeInclusive<u64> = 1..=5;

/// Answers are a few hundred bytes; a provider sending megabytes is broken, not informative.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How much of a refusal's message is worth passing on.
const MAX_REASON_CHARS: usize = 200;
/// Between attempts: long enough for a restarting instance behind a balancer to be skipped,
/// short enough to keep the whole call near `attempts × timeout`.
const BACKOFF_MS: RangeInclusive<u64> = 20..=100;

/// Characters kept as they are in a path segment; everything else, `.` included (so that no
/// reference can become `..`), is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

type HmacSha256 = Hmac<Sha256>;

/// `POCKETBOOK_PROVIDER_<GATEWAY><suffix>`, e.g. `gateway_var(Gateway::Paytm, URL_SUFFIX)`.
pub fn gateway_var(gateway: Gateway, suffix: &str) -> String {
    format!("{VAR_PREFIX}{}{suffix}", gateway.as_str())
}

#[derive(Clone)]
pub struct HttpProviderConfig {
    /// `https://...` (or `http://...` for local runs), optionally with a path prefix.
    pub base_url: String,
    pub api_key: String,
    pub callback_secret: String,
    /// Per attempt: connecting, sending and reading the whole answer.
    pub timeout: Duration,
    /// In all, at least 1.
    pub attempts: u32,
}

/// Debug output ends up in logs: the secrets never do.
impl fmt::Debug for HttpProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProviderConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("callback_secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// A client for one gateway. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct HttpProvider {
    client: HttpsClient,
    /// The base URL without a trailing `/`.
    base: String,
    authorization: HeaderValue,
    /// Kept to scrub it from anything a provider echoes back.
    api_key: Arc<str>,
    callback_secret: Arc<str>,
    timeout: Duration,
    attempts: u32,
}

impl fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProvider")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The providers configured in the environment, one per gateway that has a URL, checked
/// (plain data: the clients are built where they are used, by [`HttpProvider::new`]).
pub fn from_env() -> Result<Vec<(Gateway, HttpProviderConfig)>, String> {
    from_vars(|name| std::env::var(name).ok())
}

fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Vec<(Gateway, HttpProviderConfig)>, String> {
    let number = |name: &str, default: u64, range: RangeInclusive<u64>| match var(name) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(value) if range.contains(&value) => Ok(value),
            _ => Err(format!("{name} must be a whole number in {range:?}, got {text:?}")),
        },
    };
    let timeout = Duration::from_millis(number(TIMEOUT_MS, DEFAULT_TIMEOUT_MS, TIMEOUT_MS_RANGE)?);
    let attempts = number(ATTEMPTS, DEFAULT_ATTEMPTS, ATTEMPTS_RANGE)?;
    let attempts = u32::try_from(attempts).map_err(|_| format!("{ATTEMPTS} is out of range"))?;

    let mut providers = Vec::new();
    for gateway in Gateway::ALL {
        let url_var = gateway_var(gateway, URL_SUFFIX);
        let Some(base_url) = var(&url_var).map(|url| url.trim().to_owned()).filter(|url| !url.is_empty()) else {
            continue;
        };
        // The message names the variable, never its value: these hold secrets.
        let required = |suffix: &str| {
            let name = gateway_var(gateway, suffix);
            var(&name).filter(|value| !value.is_empty()).ok_or_else(|| format!("{name} must be set when {url_var} is"))
        };
        let config = HttpProviderConfig {
            base_url,
            api_key: required(API_KEY_SUFFIX)?,
            callback_secret: required(CALLBACK_SECRET_SUFFIX)?,
            timeout,
            attempts,
        };
        check_base_url(config.base_url.trim_end_matches('/')).map_err(|error| format!("{url_var}: {error}"))?;
        providers.push((gateway, config));
    }
    Ok(providers)
}

impl HttpProvider {
    pub fn new(config: HttpProviderConfig) -> Result<Self, String> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        check_base_url(&base)?;
        if config.api_key.is_empty() {
            return Err("the API key is empty".to_owned());
        }
        if config.callback_secret.is_empty() {
            return Err("the callback secret is empty".to_owned());
        }
        if config.timeout.is_zero() {
            return Err("the timeout must be positive".to_owned());
        }
        if config.attempts == 0 {
            return Err("attempts must be at least 1".to_owned());
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", config.api_key))
            .map_err(|_| "the API key has characters a header cannot carry".to_owned())?;
        authorization.set_sensitive(true);

        let client = https_client(config.timeout)?;

        Ok(Self {
            client,
            base,
            authorization,
            api_key: config.api_key.into(),
            callback_secret: config.callback_secret.into(),
            timeout: config.timeout,
            attempts: config.attempts,
        })
    }

    /// Whether `signature_hex` is hex(HMAC-SHA256(callback secret, body)): a callback from
    /// this provider, unaltered. The comparison takes the same time wherever it differs.
    pub fn verify_callback(&self, body: &[u8], signature_hex: &str) -> bool {
        let Ok(signature) = hex::decode(signature_hex.trim()) else {
            return false;
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(self.callback_secret.as_bytes()) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(&signature).is_ok()
    }

    fn uri(&self, path: &str) -> Result<Uri, ProviderError> {
        Uri::from_str(&format!("{}{path}", self.base))
            .map_err(|_| ProviderError::Refused("the request has no valid URL".to_owned()))
    }

    fn wallet_uri(&self, reference: &str, tail: &str) -> Result<Uri, ProviderError> {
        if reference.is_empty() {
            return Err(ProviderError::Refused("empty wallet reference".to_owned()));
        }
        self.uri(&format!("/wallets/{}/{tail}", utf8_percent_encode(reference, SEGMENT)))
    }

    /// Sends `call` until an attempt gets a usable answer or a refusal, or attempts run out.
    async fn send<T>(&self, call: &Call<'_>, read: impl Fn(&[u8]) -> Result<T, String>) -> Result<T, ProviderError> {
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tokio::time::sleep(backoff()).await;
            }
            let failure = match tokio::time::timeout(self.timeout, self.exchange(call)).await {
                Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
                Ok(Err(error)) => error,
                Ok(Ok((status, body))) if status.is_success() => match read(&body) {
                    Ok(value) => return Ok(value),
                    Err(error) => format!("unreadable answer: {error}"),
                },
                Ok(Ok((status, body))) if is_refusal(status, attempt) => {
                    let reason = self.scrub(refusal(status, &body));
                    tracing::warn!(
                        call = call.what,
                        wallet_id = call.wallet_id,
                        txn_id = call.txn_id,
                        %reason,
                        "provider refused"
                    );
                    return Err(ProviderError::Refused(reason));
                }
                Ok(Ok((status, _))) => format!("answered HTTP {}", status.as_u16()),
            };
            let failure = self.scrub(failure);
            tracing::warn!(
                call = call.what,
                wallet_id = call.wallet_id,
                txn_id = call.txn_id,
                attempt,
                attempts = self.attempts,
                error = %failure,
                "provider call failed"
            );
            last = failure;
        }
        Err(ProviderError::Unavailable(format!("{}: {last} ({} attempts)", call.what, self.attempts)))
    }

    /// One attempt: the status and the whole body, or why there is none.
    async fn exchange(&self, call: &Call<'_>) -> Result<(StatusCode, Bytes), String> {
        let mut request = Request::new(Full::new(call.body.clone()));
        *request.method_mut() = call.method.clone();
        *request.uri_mut() = call.uri.clone();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, self.authorization.clone());
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if !call.body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(key) = &call.idempotency_key {
            headers.insert(IDEMPOTENCY_KEY, key.clone());
        }
        let response =
            self.client.request(request).await.map_err(|error| format!("request failed: {}", chain(&error)))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| format!("answer cut short: {error}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// Providers sometimes echo a request back in an error: the secrets never travel on.
    fn scrub(&self, text: String) -> String {
        [&*self.api_key, &*self.callback_secret]
            .into_iter()
            .fold(text, |text, secret| text.replace(secret, "<redacted>"))
    }
}

/// One request, the same on every attempt.
struct Call<'a> {
    /// For logs and messages: `"debit"`.
    what: &'static str,
    method: Method,
    uri: Uri,
    /// JSON, or empty for none.
    body: Bytes,
    idempotency_key: Option<HeaderValue>,
    wallet_id: Option<&'a str>,
    txn_id: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn new(what: &'static str, method: Method, uri: Uri, body: Option<serde_json::Value>) -> Self {
        Self {
            what,
            method,
            uri,
            body: body.map(|json| Bytes::from(json.to_string())).unwrap_or_default(),
            idempotency_key: None,
            wallet_id: None,
            txn_id: None,
        }
    }

    fn wallet(mut self, wallet_id: &'a str) -> Self {
        self.wallet_id = Some(wallet_id);
        self
    }

    /// The transaction id doubles as the idempotency key.
    fn txn(mut self, txn_id: &'a str) -> Result<Self, ProviderError> {
        let key = HeaderValue::from_str(txn_id)
            .map_err(|_| ProviderError::Refused("the transaction id cannot be sent as a header".to_owned()))?;
        self.idempotency_key = Some(key);
        self.txn_id = Some(txn_id);
        Ok(self)
    }
}

/// Refunds are Juspay's, not a wallet's: only an HTTP provider is asked for one (the
/// sandbox credits its own wallet in the order's transaction).
impl HttpProvider {
    /// Gives `amount` of transaction `txn_id` back to the wallet, once per refund id (the
    /// idempotency key): `true` when the provider confirmed it, `false` when it refused.
    pub async fn refund(&self, refund: &Refund<'_>) -> Result<bool, ProviderError> {
        let refund_id = refund.refund_id.as_str();
        tracing::debug!(wallet_id = refund.reference, refund_id, "refunding");
        let body = json!({
            "wallet_id": refund.reference,
            "txn_id": refund.txn_id.as_str(),
            "refund_id": refund_id,
            "amount": two_decimals(refund.amount.value()),
        });
        let call = Call::new("refund", Method::POST, self.uri("/refunds")?, Some(body))
            .wallet(refund.reference)
            .txn(refund_id)?;
        match self.send(&call, |body| read_json::<RefundAnswer>(body)?.succeeded()).await {
            Ok(done) => Ok(done),
            Err(ProviderError::Refused(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

#[derive(Deserialize)]
struct RefundAnswer {
    status: String,
}

impl RefundAnswer {
    fn succeeded(self) -> Result<bool, String> {
        match self.status.as_str() {
            "SUCCESS" => Ok(true),
            "FAILURE" => Ok(false),
            _ => Err("unknown refund status".to_owned()),
        }
    }
}

impl WalletProvider for HttpProvider {
    async fn authenticate(&self, mobile: &MobileNumber) -> Result<(), ProviderError> {
        tracing::debug!(mobile = %mobile.masked(), "asking the provider for an OTP");
        let call =
            Call::new("authenticate", Method::POST, self.uri("/otp")?, Some(json!({"mobile_number": mobile.as_str()})));
        self.send(&call, |_| Ok(())).await
    }

    async fn link(&self, mobile: &MobileNumber, otp: &Otp) -> Result<LinkedWallet, ProviderError> {
        tracing::debug!(mobile = %mobile.masked(), "linking a wallet");
        let body = json!({"mobile_number": mobile.as_str(), "otp": otp.as_str()});
        let call = Call::new("link", Method::POST, self.uri("/link")?, Some(body));
        self.send(&call, |body| {
            let answer: LinkAnswer = read_json(body)?;
            if answer.wallet_id.is_empty() {
                return Err("empty wallet_id".to_owned());
            }
            Ok(LinkedWallet { reference: answer.wallet_id, balance: answer.balance.0 })
        })
        .await
    }

    async fn balance(&self, reference: &str) -> Result<Decimal, ProviderError> {
        tracing::debug!(wallet_id = reference, "reading a balance");
        let call = Call::new("balance", Method::GET, self.wallet_uri(reference, "balance")?, None).wallet(reference);
        self.send(&call, |body| read_json::<BalanceAnswer>(body).map(|answer| answer.balance.0)).await
    }

    async fn debit(&self, debit: &Debit<'_>) -> Result<DebitOutcome, ProviderError> {
        let txn_id = debit.txn_id.as_str();
        tracing::debug!(wallet_id = debit.reference, txn_id, "debiting");
        let body = json!({
            "wallet_id": debit.reference,
            "txn_id": txn_id,
            "amount": two_decimals(debit.amount.value()),
        });
        let call =
            Call::new("debit", Method::POST, self.uri("/debits")?, Some(body)).wallet(debit.reference).txn(txn_id)?;
        self.send(&call, |body| read_json::<DebitAnswer>(body)?.outcome()).await
    }

    async fn top_up(&self, top_up: &TopUp<'_>) -> Result<Authentication, ProviderError> {
        let txn_id = top_up.txn_id.as_str();
        tracing::debug!(wallet_id = top_up.reference, txn_id, "asking where to top up");
        let body = json!({
            "wallet_id": top_up.reference,
            "txn_id": txn_id,
            "amount": two_decimals(top_up.amount.value()),
        });
        let call =
            Call::new("top_up", Method::POST, self.uri("/topups")?, Some(body)).wallet(top_up.reference).txn(txn_id)?;
        self.send(&call, |body| read_json::<TopUpAnswer>(body)?.authentication()).await
    }

    async fn delink(&self, reference: &str) -> Result<(), ProviderError> {
        tracing::debug!(wallet_id = reference, "delinking");
        let call =
            Call::new("delink", Method::POST, self.wallet_uri(reference, "delink")?, Some(json!({}))).wallet(reference);
        self.send(&call, |_| Ok(())).await
    }
}

/// hex(HMAC-SHA256(secret, body)): what a provider puts in `X-Provider-Signature`.
pub fn sign_callback(secret: &str, body: &[u8]) -> String {
    match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length: never reached, and an empty signature verifies nothing.
        Err(_) => String::new(),
    }
}

/// An HTTP/1.1 client for `http://` and `https://` over rustls (aws-lc-rs, as the AWS SDK's),
/// trusting the compiled-in roots: the wallet providers' and the webhook deliveries' one kind of
/// client.
pub(crate) type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub(crate) fn https_client(connect_timeout: Duration) -> Result<HttpsClient, String> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS configuration: {error}"))?
        .with_root_certificates(trusted_roots())
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    // hyper-rustls wraps it and handles https itself.
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let connector =
        HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Mozilla's roots, compiled in (webpki-root-certs), as the AWS SDK's client trusts them
/// (shared/src/store/sdk.rs): no files to read, the same on every machine. Parsed once per
/// process (well under a millisecond), however many gateways, and only when first needed.
pub(crate) fn trusted_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
            Arc::new(roots)
        })
        .clone()
}

fn check_base_url(base: &str) -> Result<bool, String> {
    let uri = Uri::from_str(base).map_err(|_| "the base URL is not a URL".to_owned())?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("the base URL must start with https:// or http://".to_owned()),
    };
    match uri.authority() {
        None => return Err("the base URL has no host".to_owned()),
        // Credentials go in the API key: a URL ends up in logs.
        Some(authority) if authority.as_str().contains('@') => {
            return Err("the base URL must not carry credentials".to_owned())
        }
        Some(_) => {}
    }
    if uri.query().is_some() || base.contains('#') {
        return Err("the base URL must not have a query or fragment".to_owned());
    }
    Ok(https)
}

/// A 4xx means nothing happened, except that a 409 or 429 after an attempt with no answer
/// may be about that attempt (still in progress under the same idempotency key): then the
/// outcome is unknown, and it is retried like a 5xx.
fn is_refusal(status: StatusCode, attempt: u32) -> bool {
    status.is_client_error()
        && (attempt == 1 || !matches!(status, StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS))
}

fn backoff() -> Duration {
    Duration::from_millis(rand::rng().random_range(BACKOFF_MS))
}

/// An error and its causes: hyper's own message ("client error (Connect)") says little.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `HTTP 4xx` and the provider's message if it gave one (`message`, `error` or `reason` of
/// a JSON object, or a short text), trimmed and without control characters.
fn refusal(status: StatusCode, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|json| {
        ["message", "error", "reason"]
            .iter()
            .find_map(|field| json.get(field).and_then(|v| v.as_str()).map(str::to_owned))
    });
    let message = from_json.or_else(|| std::str::from_utf8(body).ok().map(str::to_owned)).unwrap_or_default();
    let message: String =
        message.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_CHARS).collect();
    match message.trim() {
        "" => format!("HTTP {}", status.as_u16()),
        message => format!("HTTP {}: {message}", status.as_u16()),
    }
}

fn read_json<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|error| error.to_string())
}

/// An amount as a provider writes it: `"123.45"` or `123.45`. Read from its text, so no
/// binary float ever holds it.
struct Amount(Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        parse_amount(raw.get()).map(Amount).map_err(serde::de::Error::custom)
    }
}

/// `raw` is one JSON value's text: a string holding a plain decimal (`"-12.30"`), or a
/// number (`12.3`, `1.5e3`).
fn parse_amount(raw: &str) -> Result<Decimal, String> {
    const NOT_AN_AMOUNT: &str = "not an amount";
    let (text, quoted) = if raw.starts_with('"') {
        (serde_json::from_str::<String>(raw).map_err(|_| NOT_AN_AMOUNT)?, true)
    } else {
        (raw.to_owned(), false)
    };
    let digits = text.strip_prefix('-').unwrap_or(&text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let is_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if is_digits(whole) && is_digits(fraction) {
        Decimal::from_str(&text).map_err(|_| "amount out of range".to_owned())
    } else if !quoted && text.contains(['e', 'E']) {
        // A JSON number in exponent form (the JSON parser has vouched for its grammar).
        Decimal::from_scientific(&text).map_err(|_| "amount out of range".to_owned())
    } else {
        Err(NOT_AN_AMOUNT.to_owned())
    }
}

#[derive(Deserialize)]
struct LinkAnswer {
    wallet_id: String,
    balance: Amount,
}

#[derive(Deserialize)]
struct BalanceAnswer {
    balance: Amount,
}

/// A flat struct rather than a tagged enum: serde buffers tagged enums, and a buffered value
/// can no longer be read as raw JSON text.
#[derive(Deserialize)]
struct DebitAnswer {
    status: String,
    #[serde(default)]
    balance: Option<Amount>,
    #[serde(default)]
    reason: Option<String>,
}

impl DebitAnswer {
    fn outcome(self) -> Result<DebitOutcome, String> {
        let balance = || self.balance.as_ref().map(|b| b.0).ok_or_else(|| format!("{} without a balance", self.status));
        match self.status.as_str() {
            "SUCCESS" => Ok(DebitOutcome::Charged { balance: balance()? }),
            "INSUFFICIENT_FUNDS" => Ok(DebitOutcome::InsufficientFunds { balance: balance()? }),
            "DECLINED" => {
                let reason: String =
                    self.reason.as_deref().unwrap_or_default().chars().take(MAX_REASON_CHARS).collect();
                let reason = if reason.trim().is_empty() { "declined by the provider".to_owned() } else { reason };
                Ok(DebitOutcome::Declined { reason })
            }
            _ => Err("unknown debit status".to_owned()),
        }
    }
}

#[derive(Deserialize)]
struct TopUpAnswer {
    method: String,
    url: String,
    #[serde(default)]
    params: Option<BTreeMap<String, String>>,
}

impl TopUpAnswer {
    fn authentication(self) -> Result<Authentication, String> {
        let method = self.method.to_ascii_uppercase();
        if method != "GET" && method != "POST" {
            return Err("top-up method is neither GET nor POST".to_owned());
        }
        // The customer's browser is sent there: only a web address will do.
        let web = Uri::from_str(&self.url)
            .ok()
            .is_some_and(|uri| matches!(uri.scheme_str(), Some("https" | "http")) && uri.authority().is_some());
        if !web {
            return Err("top-up url is not an http(s) URL".to_owned());
        }
        let params = match method.as_str() {
            "POST" => self.params.unwrap_or_default().into_iter().collect(),
            _ => Vec::new(),
        };
        Ok(Authentication { method, url: self.url, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config() -> HttpProviderConfig {
        HttpProviderConfig {
            base_url: "http://127.0.0.1:9/gw/".to_owned(),
            api_key: "key-very-secret".to_owned(),
            callback_secret: "callback-very-secret".to_owned(),
            timeout: Duration::from_millis(500),
            attempts: 3,
        }
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn amounts_are_read_exactly_from_strings_and_numbers() {
        assert_eq!(parse_amount(r#""123.45""#), Ok(dec("123.45")));
        assert_eq!(parse_amount("123.45"), Ok(dec("123.45")));
        assert_eq!(parse_amount("12345678901234.10"), Ok(dec("12345678901234.10")));
        assert_eq!(parse_amount(r#""12345678901234567.89""#), Ok(dec("12345678901234567.89")));
        assert_eq!(parse_amount("0.1"), Ok(dec("0.1")));
        assert_eq!(parse_amount("-5"), Ok(dec("-5")));
        assert_eq!(parse_amount("1.5e3"), Ok(dec("1500")));
        assert_eq!(parse_amount("25E-2"), Ok(dec("0.25")));
        for bad in
            [r#""""#, r#""abc""#, r#""1e3""#, r#""1.""#, r#"".5""#, r#""+1""#, "null", "true", "{}", "[1]", "1e999"]
        {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_keep_amounts_that_a_float_would_round() {
        let link: LinkAnswer = read_json(br#"{"wallet_id":"w1","balance":12345678901234567.89}"#).unwrap();
        assert_eq!(link.balance.0, dec("12345678901234567.89"));
        let balance: BalanceAnswer = read_json(br#"{"balance":"0.30"}"#).unwrap();
        assert_eq!(balance.balance.0.to_string(), "0.30");
    }

    #[test]
    fn debit_answers_map_to_outcomes_and_anything_else_is_unreadable() {
        let outcome = |body: &[u8]| read_json::<DebitAnswer>(body).and_then(DebitAnswer::outcome);
        assert_eq!(
            outcome(br#"{"status":"SUCCESS","balance":"10.00"}"#),
            Ok(DebitOutcome::Charged { balance: dec("10.00") })
        );
        assert_eq!(
            outcome(br#"{"status":"INSUFFICIENT_FUNDS","balance":3.5}"#),
            Ok(DebitOutcome::InsufficientFunds { balance: dec("3.5") })
        );
        assert_eq!(
            outcome(br#"{"status":"DECLINED","reason":"blocked"}"#),
            Ok(DebitOutcome::Declined { reason: "blocked".to_owned() })
        );
        assert!(matches!(outcome(br#"{"status":"DECLINED"}"#), Ok(DebitOutcome::Declined { .. })));
        assert!(outcome(br#"{"status":"SUCCESS"}"#).is_err());
        assert!(outcome(br#"{"status":"MAYBE","balance":"1"}"#).is_err());
        assert!(outcome(b"<html>").is_err());
    }

    #[test]
    fn top_up_answers_keep_params_for_post_only_and_need_a_web_url() {
        let read = |body: &[u8]| read_json::<TopUpAnswer>(body).and_then(TopUpAnswer::authentication);
        let post = read(br#"{"method":"POST","url":"https://p.example/pay","params":{"b":"2","a":"1"}}"#).unwrap();
        assert_eq!(post.params, vec![("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]);
        let get = read(br#"{"method":"GET","url":"https://p.example/pay?x=1","params":{"a":"1"}}"#).unwrap();
        assert_eq!((get.method.as_str(), get.params.len()), ("GET", 0));
        assert!(read(br#"{"method":"GET","url":"javascript:alert(1)"}"#).is_err());
        assert!(read(br#"{"method":"PUT","url":"https://p.example"}"#).is_err());
    }

    #[test]
    fn callback_signatures_verify_only_for_the_same_secret_and_body() {
        let provider = HttpProvider::new(config()).unwrap();
        let body = br#"{"txn_id":"txn_1","status":"SUCCESS"}"#;
        let signature = sign_callback("callback-very-secret", body);
        assert_eq!(signature.len(), 64);
        assert!(provider.verify_callback(body, &signature));
        assert!(provider.verify_callback(body, &signature.to_uppercase()));
        assert!(!provider.verify_callback(br#"{"txn_id":"txn_1","status":"FAILURE"}"#, &signature));
        assert!(!provider.verify_callback(body, &sign_callback("another secret", body)));
        assert!(!provider.verify_callback(body, &signature[..62]));
        assert!(!provider.verify_callback(body, "not hex"));
        assert!(!provider.verify_callback(body, ""));
    }

    #[test]
    fn debug_output_never_shows_the_secrets() {
        let config = config();
        let shown = format!("{config:?} {:?}", HttpProvider::new(config.clone()).unwrap());
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("127.0.0.1:9"));
    }

    #[test]
    fn bad_configurations_are_refused() {
        let with = |change: fn(&mut HttpProviderConfig)| {
            let mut config = config();
            change(&mut config);
            HttpProvider::new(config)
        };
        assert!(with(|_| {}).is_ok());
        assert!(with(|c| c.base_url = "ftp://host".to_owned()).is_err());
        assert!(with(|c| c.base_url = "https://user:pw@host".to_owned()).is_err());
        assert!(with(|c| c.base_url = "https://host/?a=1".to_owned()).is_err());
        assert!(with(|c| c.base_url = "not a url".to_owned()).is_err());
        assert!(with(|c| c.api_key = String::new()).is_err());
        assert!(with(|c| c.api_key = "line\nbreak".to_owned()).is_err());
        assert!(with(|c| c.callback_secret = String::new()).is_err());
        assert!(with(|c| c.attempts = 0).is_err());
        assert!(with(|c| c.timeout = Duration::ZERO).is_err());
    }

    #[test]
    fn wallet_references_are_percent_encoded_into_one_segment() {
        let provider = HttpProvider::new(config()).unwrap();
        let uri = provider.wallet_uri("../a b/c?d", "balance").unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9/gw/wallets/%2E%2E%2Fa%20b%2Fc%3Fd/balance");
        assert!(provider.wallet_uri("", "balance").is_err());
    }

    #[test]
    fn a_4xx_is_a_refusal_unless_it_may_be_about_an_unanswered_attempt() {
        assert!(is_refusal(StatusCode::BAD_REQUEST, 1) && is_refusal(StatusCode::NOT_FOUND, 3));
        assert!(is_refusal(StatusCode::CONFLICT, 1) && is_refusal(StatusCode::TOO_MANY_REQUESTS, 1));
        assert!(!is_refusal(StatusCode::CONFLICT, 2) && !is_refusal(StatusCode::TOO_MANY_REQUESTS, 2));
        assert!(!is_refusal(StatusCode::OK, 1) && !is_refusal(StatusCode::BAD_GATEWAY, 1));
    }

    #[test]
    fn refusals_carry_the_providers_short_message() {
        assert_eq!(refusal(StatusCode::UNAUTHORIZED, br#"{"message":"bad key"}"#), "HTTP 401: bad key");
        assert_eq!(refusal(StatusCode::NOT_FOUND, b""), "HTTP 404");
        assert_eq!(refusal(StatusCode::BAD_REQUEST, b"wrong\r\notp"), "HTTP 400: wrong  otp");
        assert_eq!(refusal(StatusCode::BAD_REQUEST, "x".repeat(1000).as_bytes()).len(), "HTTP 400: ".len() + 200);
        let provider = HttpProvider::new(config()).unwrap();
        assert_eq!(provider.scrub("echo key-very-secret".to_owned()), "echo <redacted>");
    }

    #[test]
    fn the_environment_configures_the_gateways_that_have_a_url() {
        let read = |vars: &[(&str, &str)]| {
            let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            from_vars(|name| vars.get(name).cloned())
        };
        assert_eq!(read(&[]).map(|p| p.len()), Ok(0));
        assert_eq!(read(&[("POCKETBOOK_PROVIDER_PAYTM_URL", "")]).map(|p| p.len()), Ok(0));

        let paytm = [
            ("POCKETBOOK_PROVIDER_PAYTM_URL", "http://127.0.0.1:9"),
            ("POCKETBOOK_PROVIDER_PAYTM_API_KEY", "k-secret"),
            ("POCKETBOOK_PROVIDER_PAYTM_CALLBACK_SECRET", "s-secret"),
            (TIMEOUT_MS, "250"),
            (ATTEMPTS, "2"),
        ];
        let providers = read(&paytm).unwrap();
        assert_eq!(providers.len(), 1);
        assert_eq!(providers[0].0, Gateway::Paytm);
        assert_eq!((providers[0].1.timeout, providers[0].1.attempts), (Duration::from_millis(250), 2));

        let error = read(&paytm[..2]).unwrap_err();
        assert!(error.contains("POCKETBOOK_PROVIDER_PAYTM_CALLBACK_SECRET"), "{error}");
        assert!(!error.contains("k-secret"), "{error}");
        let error = read(&[paytm[0], paytm[2]]).unwrap_err();
        assert!(error.contains("POCKETBOOK_PROVIDER_PAYTM_API_KEY") && !error.contains("s-secret"), "{error}");
        let error = read(&[paytm[0], paytm[1], paytm[2], (TIMEOUT_MS, "10")]).unwrap_err();
        assert!(error.contains(TIMEOUT_MS), "{error}");
        assert!(read(&[(ATTEMPTS, "6")]).unwrap_err().contains(ATTEMPTS));
        let error = read(&[("POCKETBOOK_PROVIDER_PAYTM_URL", "mailto:x"), paytm[1], paytm[2]]).unwrap_err();
        assert!(error.contains("POCKETBOOK_PROVIDER_PAYTM_URL") && !error.contains("secret"), "{error}");
    }
}
