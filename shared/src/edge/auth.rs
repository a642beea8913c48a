//! Who is calling: an API key (looked up by its SHA-256, cached briefly in the warm function),
//! or the context an API Gateway Lambda authorizer already established. A key with a signing
//! secret also needs every request signed the way FPay's SDK signs
//! ([`crate::domain::request_signature`]), each nonce used once.
//!
//! Deployed, the authorizer sees only the `Authorization` header and API Gateway caches its
//! verdict, so it cannot check a signature: it passes the key's signing secret on *sealed*
//! (`signingSecret` in its context, see [`crate::domain::sealed`]) and the function opens it
//! with `POCKETBOOK_SECRETS_KEY` and checks the request itself. That costs the function no
//! read; the nonce's conditional PutItem is the one round trip a signed request adds. A key
//! without a secret costs nothing more than before.

use super::error::ApiError;
use crate::clock::Clock;
use crate::domain::api_keys::{rate_window, KeyLimits};
use crate::domain::names::ProjectId;
use crate::domain::request_signature::{Covered, Signature, NONCE_HEADER, SIGNATURE_HEADER, SIGNED_HEADERS_HEADER};
use crate::domain::sealed::{SealedSecret, Secret, SecretsKey, NONCE_BYTES};
use crate::domain::time::Millis;
use crate::store::{ApiKeyRecord, NonceClaim, NonceUse, Store, StoredApiKey};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::HeaderMap;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The authorizer context's entry for a key that signs its requests: its secret, sealed.
pub const CONTEXT_SIGNING_SECRET: &str = "signingSecret";
/// The authorizer context's key end date (ms) and rate limit (per minute), when it has them.
pub const CONTEXT_VALID_UNTIL: &str = "validUntil";
pub const CONTEXT_RATE_LIMIT: &str = "rateLimit";
/// How stale a key's recorded last use may get: it is written at most once an hour.
const LAST_USED_PRECISION_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// The authenticated tenant and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub project: ProjectId,
    pub scopes: Vec<Scope>,
    /// The public id of the API key used, when there was one.
    pub key_id: Option<String>,
}

impl Caller {
    /// A public action's caller (a customer's browser, a provider's callback): no key, no
    /// scopes. Such actions find their tenant in what they look up, never in this.
    pub fn public() -> Self {
        Self { project: ProjectId::reserved("public"), scopes: Vec::new(), key_id: None }
    }

    /// Direct invocations passed IAM: they may do anything in the project they name.
    pub fn trusted(project: ProjectId) -> Self {
        Self { project, scopes: vec![Scope::Read, Scope::Write], key_id: None }
    }

    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(scope.as_str()))
        }
    }
}

/// A new API key: 256 bits from the OS-seeded CSPRNG. Shown once; only its hash is stored.
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("pb_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new signing secret: 256 bits from the OS-seeded CSPRNG, as text (the SDK keys its HMAC
/// with the secret's UTF-8). Shown once; stored only sealed ([`seal_signing_secret`]).
pub fn generate_signing_secret() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret::new(format!("pbs_{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// `secret` sealed for the key `key_id` under `secrets`, with a fresh random nonce.
pub fn seal_signing_secret(secrets: &SecretsKey, key_id: &str, secret: &Secret) -> SealedSecret {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    secrets.seal(key_id, secret, nonce)
}

fn parse_scopes(values: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<Scope> {
    values.into_iter().filter_map(|scope| Scope::parse(scope.as_ref().trim())).collect()
}

/// Who a key is: the caller it makes and, for a key whose requests must be signed, its
/// signing secret as stored (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub caller: Caller,
    pub signing_secret: Option<SealedSecret>,
    /// Checked on every use: an end date bites to the millisecond, even from a cache.
    pub limits: KeyLimits,
}

/// What a signature covers, borrowed from the HTTP event as it arrived. No Debug: its headers
/// hold the API key.
pub struct HttpRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    /// Without its `?`.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    /// The body as the event carries it: text, or base64 when `body_is_base64`.
    pub body: Option<&'a str>,
    pub body_is_base64: bool,
    /// Unique to the request (API Gateway's request id): whose use of a nonce it was.
    pub request_id: Cow<'a, str>,
}

impl<'a> HttpRequest<'a> {
    pub fn of(event: &'a ApiGatewayV2httpRequest) -> Self {
        let http = &event.request_context.http;
        Self {
            method: http.method.as_str(),
            raw_path: event.raw_path.as_deref().or(http.path.as_deref()).unwrap_or("/"),
            raw_query: event.raw_query_string.as_deref().unwrap_or(""),
            headers: &event.headers,
            body: event.body.as_deref(),
            body_is_base64: event.is_base64_encoded,
            request_id: match event.request_context.request_id.as_deref() {
                Some(id) if !id.is_empty() => Cow::Borrowed(id),
                _ => Cow::Owned(uuid::Uuid::new_v4().to_string()),
            },
        }
    }

    fn body_bytes(&self) -> Result<Cow<'a, [u8]>, ApiError> {
        use base64::engine::general_purpose::STANDARD;
        match self.body {
            None => Ok(Cow::Borrowed(&[])),
            Some(body) if self.body_is_base64 => {
                STANDARD.decode(body).map(Cow::Owned).map_err(|_| ApiError::malformed("the body is not valid base64"))
            }
            Some(body) => Ok(Cow::Borrowed(body.as_bytes())),
        }
    }
}

pub struct Authenticator {
    store: Store,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Identity, Instant)>>,
    /// Without it, a request with a key that signs is a fault (500), never a pass.
    signing: Option<Signing>,
    /// What end dates, revocations, rate windows and nonces are held against.
    clock: Arc<dyn Clock>,
}

/// What checking signed requests takes.
struct Signing {
    /// What signing secrets open with.
    secrets: SecretsKey,
}

impl Authenticator {
    /// `ttl`: how long a key's record is trusted without reading it again (a revocation bites
    /// within it).
    pub fn new(store: Store, ttl: Duration) -> Self {
        let clock = Arc::new(crate::clock::SystemClock);
        Self { store, ttl, cache: Mutex::new(HashMap::new()), signing: None, clock }
    }

    /// Checks signed requests: their nonces against `clock` (which the key limits are then
    /// held against too), their keys' secrets opened with `secrets`.
    pub fn with_signing(self, clock: Arc<dyn Clock>, secrets: SecretsKey) -> Self {
        Self { signing: Some(Signing { secrets }), clock, ..self }
    }

    /// The caller of an HTTP request. An authorizer's context wins (API Gateway only passes it
    /// after the authorizer accepted the key); otherwise the key in the headers is checked.
    /// Either way, a key with a signing secret needs the request signed, with a fresh nonce.
    pub async fn authenticate(
        &self,
        request: &HttpRequest<'_>,
        authorizer: Option<&HashMap<String, Value>>,
    ) -> Result<Caller, ApiError> {
        let identity = match authorizer.and_then(from_authorizer) {
            Some(identity) => identity,
            None => self.identify(request.headers).await?,
        };
        let now = self.clock.now();
        identity.limits.check(now).map_err(ApiError::key_refused)?;
        if let Some(sealed) = &identity.signing_secret {
            self.check_signature(&identity.caller, sealed, request).await?;
        }
        if let (Some(limit), Some(key_id)) = (identity.limits.rate_per_minute, &identity.caller.key_id) {
            let (window, retry_after) = rate_window(now);
            let counted = self
                .store
                .count_request(&identity.caller.project, key_id, window, limit)
                .await
                .map_err(|e| ApiError::internal(format!("counting a request of {key_id}: {e}")))?;
            if !counted {
                return Err(ApiError::rate_limited(limit, retry_after));
            }
        }
        Ok(identity.caller)
    }

    /// Who the key in the headers is (all the authorizer can know: it sees no body, and API
    /// Gateway caches its verdict). One GetItem, unless the key is in the cache.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let (key, _) = api_key(headers).ok_or_else(ApiError::unauthorized)?;
        let hash = hash_api_key(&key);
        if let Some(identity) = self.cached(&hash) {
            identity.limits.check(self.clock.now()).map_err(ApiError::key_refused)?;
            return Ok(identity);
        }
        let stored = self
            .store
            .stored_api_key(&hash)
            .await
            .map_err(|e| ApiError::internal(format!("looking up an API key: {e}")))?
            .ok_or_else(ApiError::unauthorized)?;
        let now = self.clock.now();
        stored.limits.check(now).map_err(ApiError::key_refused)?;
        if stored.last_used_at.is_none_or(|at| at.epoch_ms() < now.epoch_ms() - LAST_USED_PRECISION_MS) {
            // Approximate to the hour, and never worth refusing a request over.
            if let Err(e) = self.store.touch_api_key(&hash, now).await {
                tracing::warn!(keyId = %stored.record.key_id, error = %e, "recording a key's last use");
            }
        }
        let identity = identity_from_stored(stored).ok_or_else(ApiError::unauthorized)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(hash, (identity.clone(), Instant::now()));
        }
        Ok(identity)
    }

    fn cached(&self, hash: &str) -> Option<Identity> {
        let mut cache = self.cache.lock().ok()?;
        match cache.get(hash) {
            Some((identity, at)) if at.elapsed() < self.ttl => Some(identity.clone()),
            Some(_) => {
                cache.remove(hash);
                None
            }
            None => None,
        }
    }

    /// The request's signature under the key's secret, its nonce within the window, and the
    /// nonce's first use (one conditional PutItem, only once everything else held).
    async fn check_signature(
        &self,
        caller: &Caller,
        sealed: &SealedSecret,
        request: &HttpRequest<'_>,
    ) -> Result<(), ApiError> {
        let key_id = caller.key_id.as_deref().ok_or_else(|| ApiError::internal("a key that signs has no key id"))?;
        let signing = self
            .signing
            .as_ref()
            .ok_or_else(|| ApiError::internal("no secrets key here: a signed request cannot be checked"))?;
        let secret = signing
            .secrets
            .open(key_id, sealed)
            .map_err(|e| ApiError::internal(format!("the signing secret of {key_id}: {e}")))?;
        let text = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        let signature = Signature::parse(text(NONCE_HEADER), text(SIGNED_HEADERS_HEADER), text(SIGNATURE_HEADER))?;
        let body = request.body_bytes()?;
        let covered = Covered { method: request.method, path: request.raw_path, query: request.raw_query, body: &body };
        // The header the key came in must be signed: a signature is then for this key only.
        let key_header = api_key(request.headers).map_or(AUTHORIZATION, |(_, header)| header);
        let header = |name: &str| header_bytes(request.headers, name);
        signature.verify(secret.expose().as_bytes(), &[key_header], header, &covered)?;
        let now = self.clock.now();
        signature.check_window(now)?;
        let claim = NonceClaim {
            project: &caller.project,
            key_id,
            nonce_ms: signature.nonce_ms(),
            request_id: &request.request_id,
            now,
            usable_until: signature.nonce_expiry(),
        };
        match self.store.use_nonce(&claim).await {
            Ok(NonceUse::First) => Ok(()),
            Ok(NonceUse::Reused) => Err(ApiError::nonce_reused()),
            Err(e) => Err(ApiError::internal(format!("recording a nonce: {e}"))),
        }
    }
}

/// A header's value as signed: repeated headers joined with commas, as API Gateway joins them.
fn header_bytes(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut values = headers.get_all(name).iter();
    let mut joined = values.next()?.as_bytes().to_vec();
    for value in values {
        joined.push(b',');
        joined.extend_from_slice(value.as_bytes());
    }
    Some(joined)
}

/// A key of a reserved project (one the system uses itself) is no key at all.
fn identity_from_stored(stored: StoredApiKey) -> Option<Identity> {
    let StoredApiKey { record, signing_secret, limits, .. } = stored;
    caller_from_record(record).map(|caller| Identity { caller, signing_secret, limits })
}

fn caller_from_record(record: ApiKeyRecord) -> Option<Caller> {
    if record.project_id.is_reserved() {
        tracing::warn!(keyId = %record.key_id, "an API key of a reserved project was refused");
        return None;
    }
    Some(Caller { project: record.project_id, scopes: parse_scopes(&record.scopes), key_id: Some(record.key_id) })
}

const AUTHORIZATION: &str = "authorization";
const X_API_KEY: &str = "x-api-key";

/// `Authorization: Bearer <key>`, `Authorization: Basic base64(<key>:)` (Juspay's clients
/// send the key as the Basic username), or `x-api-key: <key>`; and which header it was.
fn api_key(headers: &HeaderMap) -> Option<(String, &'static str)> {
    let authorization = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .and_then(|(scheme, credentials)| {
            if scheme.eq_ignore_ascii_case("bearer") {
                Some(credentials.trim().to_owned())
            } else if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD.decode(credentials.trim()).ok()?;
                let text = String::from_utf8(decoded).ok()?;
                Some(text.split_once(':').map_or(text.as_str(), |(user, _)| user).to_owned())
            } else {
                None
            }
        });
    let found = match authorization {
        Some(key) => Some((key, AUTHORIZATION)),
        None => headers.get(X_API_KEY).and_then(|v| v.to_str().ok()).map(|v| (v.trim().to_owned(), X_API_KEY)),
    };
    found.filter(|(key, _)| !key.is_empty())
}

/// `requestContext.authorizer.lambda`: `projectId`, `scopes` as a list or a string, `keyId`,
/// and `signingSecret` (sealed) for a key that signs.
fn from_authorizer(context: &HashMap<String, Value>) -> Option<Identity> {
    let project = ProjectId::parse(context.get("projectId")?.as_str()?).ok().filter(|p| !p.is_reserved())?;
    let scopes = match context.get("scopes")? {
        Value::String(text) => parse_scopes(text.split([' ', ','])),
        Value::Array(values) => parse_scopes(values.iter().filter_map(Value::as_str)),
        _ => return None,
    };
    let key_id = context.get("keyId").and_then(Value::as_str).map(str::to_owned);
    let signing_secret = context.get(CONTEXT_SIGNING_SECRET).and_then(Value::as_str).map(SealedSecret::from_stored);
    // The authorizer's verdict is cached by API Gateway: its context carries the key's end date
    // and rate so that both still hold exactly (a revocation bites when the cache expires).
    let number = |name: &str| context.get(name).and_then(Value::as_str).and_then(|text| text.parse::<i64>().ok());
    let limits = KeyLimits {
        valid_until: number(CONTEXT_VALID_UNTIL).map(Millis::from_epoch_ms),
        revoked_at: None,
        rate_per_minute: number(CONTEXT_RATE_LIMIT).and_then(|n| u32::try_from(n).ok()),
    };
    Some(Identity { caller: Caller { project, scopes, key_id }, signing_secret, limits })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(headers: &HeaderMap) -> Option<String> {
        api_key(headers).map(|(key, _)| key)
    }

    #[test]
    fn keys_come_from_bearer_or_x_api_key() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer pb_abc".parse().unwrap());
        assert_eq!(api_key(&headers), Some(("pb_abc".to_owned(), "authorization")));
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", "pb_def".parse().unwrap());
        assert_eq!(api_key(&headers), Some(("pb_def".to_owned(), "x-api-key")));
        // Juspay style: the key is the Basic username, the password empty.
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Basic cGJfYWJjOg==".parse().unwrap());
        assert_eq!(key(&headers).as_deref(), Some("pb_abc"));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Basic !!notbase64".parse().unwrap());
        assert_eq!(key(&headers), None);
    }

    #[test]
    fn an_authorizer_context_names_the_project_and_scopes() {
        let context: HashMap<String, Value> =
            [("projectId".to_owned(), json!("acme")), ("scopes".to_owned(), json!("read write"))].into();
        let identity = from_authorizer(&context).unwrap();
        assert_eq!(identity.caller.project.as_str(), "acme");
        assert_eq!(identity.caller.scopes, vec![Scope::Read, Scope::Write]);
        assert_eq!(identity.signing_secret, None, "a key without a secret signs nothing");
        let bad: HashMap<String, Value> = [("projectId".to_owned(), json!("no#hash"))].into();
        assert!(from_authorizer(&bad).is_none());
        let mut signed = context.clone();
        signed.insert(CONTEXT_SIGNING_SECRET.to_owned(), json!("v1.sealed"));
        let identity = from_authorizer(&signed).unwrap();
        assert_eq!(identity.signing_secret, Some(SealedSecret::from_stored("v1.sealed")));
    }

    #[test]
    fn generated_keys_are_long_and_distinct() {
        let (a, b) = (generate_api_key(), generate_api_key());
        assert_ne!(a, b);
        assert!(a.len() >= 40 && a.starts_with("pb_"));
        assert_eq!(hash_api_key(&a).len(), 64);
    }

    #[test]
    fn signing_secrets_are_long_distinct_and_sealed_for_their_key() {
        let (a, b) = (generate_signing_secret(), generate_signing_secret());
        assert_ne!(a, b);
        assert!(a.expose().len() >= 40 && a.expose().starts_with("pbs_"));
        assert!(!format!("{a:?}").contains(a.expose()), "Debug redacts the secret");
        let secrets = SecretsKey::from_passphrase(b"test secrets key");
        let sealed = seal_signing_secret(&secrets, "key_1", &a);
        assert_ne!(sealed, seal_signing_secret(&secrets, "key_1", &a), "a fresh nonce each time");
        assert_eq!(secrets.open("key_1", &sealed), Ok(a));
    }

    #[test]
    fn signed_headers_are_read_as_api_gateway_joins_them() {
        let mut headers = HeaderMap::new();
        headers.append("accept", "a".parse().unwrap());
        headers.append("accept", "b".parse().unwrap());
        assert_eq!(header_bytes(&headers, "accept"), Some(b"a,b".to_vec()));
        assert_eq!(header_bytes(&headers, "user-agent"), None);
    }
}
