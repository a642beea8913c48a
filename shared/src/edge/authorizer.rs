//! The API Gateway Lambda authorizer (payload 2.0, simple responses): it checks the API key in
//! the `Authorization` header (`Bearer <key>`, or Basic with the key as username) once, and API Gateway caches its verdict per header value and
//! passes `projectId`, `scopes` and `keyId` to the functions as
//! `requestContext.authorizer.lambda`, where [`super::auth::Authenticator`] takes them.
//!
//! It cannot check a request's signature (it sees no body, and its verdict is cached per
//! `Authorization` value): for a key that signs, its context also carries the key's signing
//! secret as stored, sealed (`signingSecret`), and the function checks the signature. The
//! authorizer never opens the secret and needs no secrets key.

use super::auth::{Authenticator, Identity, CONTEXT_RATE_LIMIT, CONTEXT_SIGNING_SECRET, CONTEXT_VALID_UNTIL};
use super::logging;
use crate::config::Config;
use crate::store::{CallCounter, Store};
use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// What the authorizer keeps between invocations.
pub struct Authorizer {
    auth: Authenticator,
    calls: CallCounter,
}

impl Authorizer {
    pub fn new(store: Store, config: &Config) -> Self {
        let calls = store.calls().clone();
        Self { auth: Authenticator::new(store, config.api_key_cache), calls }
    }
}

/// The whole of the authorizer function's `main`.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = Config::from_env()?;
    let authorizer = Arc::new(Authorizer::new(Store::connect(config.table.clone()).await, &config));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>| {
        let authorizer = Arc::clone(&authorizer);
        async move { authorize(&authorizer, event).await }
    }))
    .await
}

/// `{"isAuthorized": true, "context": {...}}` for a known key, `{"isAuthorized": false}` for
/// an unknown or missing one. A store fault fails the invocation (API Gateway answers 500)
/// rather than turning away a caller whose key may well be good.
pub async fn authorize(
    authorizer: &Authorizer,
    event: LambdaEvent<ApiGatewayV2CustomAuthorizerV2Request>,
) -> Result<Value, Diagnostic> {
    let started = Instant::now();
    let calls_before = authorizer.calls.total();
    let request_id = event.context.request_id.as_str();
    let result = authorizer.auth.identify(&event.payload.headers).await;
    let answer = match &result {
        Ok(identity) => Ok(json!({ "isAuthorized": true, "context": context(identity) })),
        // Unknown, revoked or past its end date.
        Err(error) if error.status == 401 => Ok(json!({ "isAuthorized": false })),
        Err(error) => Err(super::diagnostic(error, request_id)),
    };
    if let Err(error) = &result {
        if let Some(detail) = &error.detail {
            tracing::error!(requestId = %request_id, action = "authorizer", detail = %detail, "request failed");
        }
    }
    let caller = result.as_ref().ok().map(|identity| &identity.caller);
    tracing::info!(
        requestId = %request_id,
        action = "authorizer",
        routeArn = event.payload.route_arn.as_deref(),
        authorized = caller.is_some(),
        projectId = caller.map(|c| c.project.as_str()),
        keyId = caller.and_then(|c| c.key_id.as_deref()),
        signs = result.as_ref().is_ok_and(|identity| identity.signing_secret.is_some()),
        durationMs = started.elapsed().as_millis() as u64,
        dynamodbCalls = authorizer.calls.total() - calls_before,
        "authorization"
    );
    answer
}

/// Strings only: API Gateway passes the context's values on as they are, and the functions
/// read `scopes` as a space-separated list.
fn context(identity: &Identity) -> Value {
    let caller = &identity.caller;
    let scopes: Vec<&str> = caller.scopes.iter().map(|s| s.as_str()).collect();
    let mut context = json!({ "projectId": caller.project.as_str(), "scopes": scopes.join(" ") });
    if let Some(key_id) = &caller.key_id {
        context["keyId"] = json!(key_id);
    }
    if let Some(sealed) = &identity.signing_secret {
        context[CONTEXT_SIGNING_SECRET] = json!(sealed.as_str());
    }
    if let Some(until) = identity.limits.valid_until {
        context[CONTEXT_VALID_UNTIL] = json!(until.epoch_ms().to_string());
    }
    if let Some(limit) = identity.limits.rate_per_minute {
        context[CONTEXT_RATE_LIMIT] = json!(limit.to_string());
    }
    context
}
