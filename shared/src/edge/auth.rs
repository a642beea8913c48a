//! Who is calling: an API key (looked up by its SHA-256, cached briefly in the warm function),
//! or the context an API Gateway Lambda authorizer already established.

use super::error::ApiError;
use crate::domain::names::ProjectId;
use crate::store::{ApiKeyRecord, Store};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::HeaderMap;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

fn parse_scopes(values: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<Scope> {
    values.into_iter().filter_map(|scope| Scope::parse(scope.as_ref().trim())).collect()
}

pub struct Authenticator {
    store: Store,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl Authenticator {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self { store, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The caller of an HTTP request. An authorizer's context wins (API Gateway only passes it
    /// after the authorizer accepted the key); otherwise the key in the headers is checked.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        authorizer: Option<&HashMap<String, Value>>,
    ) -> Result<Caller, ApiError> {
        if let Some(caller) = authorizer.and_then(from_authorizer) {
            return Ok(caller);
        }
        let key = api_key(headers).ok_or_else(ApiError::unauthorized)?;
        let hash = hash_api_key(&key);
        if let Some(caller) = self.cached(&hash) {
            return Ok(caller);
        }
        let record = self
            .store
            .api_key(&hash)
            .await
            .map_err(|e| ApiError::internal(format!("looking up an API key: {e}")))?
            .ok_or_else(ApiError::unauthorized)?;
        let caller = caller_from_record(record).ok_or_else(ApiError::unauthorized)?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(hash, (caller.clone(), Instant::now()));
        }
        Ok(caller)
    }

    fn cached(&self, hash: &str) -> Option<Caller> {
        let mut cache = self.cache.lock().ok()?;
        match cache.get(hash) {
            Some((caller, at)) if at.elapsed() < self.ttl => Some(caller.clone()),
            Some(_) => {
                cache.remove(hash);
                None
            }
            None => None,
        }
    }
}

/// A key of a reserved project (one the system uses itself) is no key at all.
fn caller_from_record(record: ApiKeyRecord) -> Option<Caller> {
    if record.project_id.is_reserved() {
        tracing::warn!(keyId = %record.key_id, "an API key of a reserved project was refused");
        return None;
    }
    Some(Caller { project: record.project_id, scopes: parse_scopes(&record.scopes), key_id: Some(record.key_id) })
}

/// `Authorization: Bearer <key>`, `Authorization: Basic base64(<key>:)` (Juspay's clients
/// send the key as the Basic username), or `x-api-key: <key>`.
fn api_key(headers: &HeaderMap) -> Option<String> {
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
    authorization
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_owned()))
        .filter(|key| !key.is_empty())
}

/// `requestContext.authorizer.lambda`: `projectId`, and `scopes` as a list or a string.
fn from_authorizer(context: &HashMap<String, Value>) -> Option<Caller> {
    let project = ProjectId::parse(context.get("projectId")?.as_str()?).ok().filter(|p| !p.is_reserved())?;
    let scopes = match context.get("scopes")? {
        Value::String(text) => parse_scopes(text.split([' ', ','])),
        Value::Array(values) => parse_scopes(values.iter().filter_map(Value::as_str)),
        _ => return None,
    };
    let key_id = context.get("keyId").and_then(Value::as_str).map(str::to_owned);
    Some(Caller { project, scopes, key_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_come_from_bearer_or_x_api_key() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer pb_abc".parse().unwrap());
        assert_eq!(api_key(&headers).as_deref(), Some("pb_abc"));
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", "pb_def".parse().unwrap());
        assert_eq!(api_key(&headers).as_deref(), Some("pb_def"));
        // Juspay style: the key is the Basic username, the password empty.
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Basic cGJfYWJjOg==".parse().unwrap());
        assert_eq!(api_key(&headers).as_deref(), Some("pb_abc"));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Basic !!notbase64".parse().unwrap());
        assert_eq!(api_key(&headers), None);
    }

    #[test]
    fn an_authorizer_context_names_the_project_and_scopes() {
        let context: HashMap<String, Value> =
            [("projectId".to_owned(), json!("acme")), ("scopes".to_owned(), json!("read write"))].into();
        let caller = from_authorizer(&context).unwrap();
        assert_eq!(caller.project.as_str(), "acme");
        assert_eq!(caller.scopes, vec![Scope::Read, Scope::Write]);
        let bad: HashMap<String, Value> = [("projectId".to_owned(), json!("no#hash"))].into();
        assert!(from_authorizer(&bad).is_none());
    }

    #[test]
    fn generated_keys_are_long_and_distinct() {
        let (a, b) = (generate_api_key(), generate_api_key());
        assert_ne!(a, b);
        assert!(a.len() >= 40 && a.starts_with("pb_"));
        assert_eq!(hash_api_key(&a).len(), 64);
    }
}
