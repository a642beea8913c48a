//! Events in and answers out. Knows nothing about DynamoDB: it authenticates, hands a
//! [`Request`] to an [`Action`], maps its typed error once, and logs one line per request.

pub mod auth;
pub mod authorizer;
pub mod deliveries;
pub mod error;
pub mod event;
pub mod input;
mod logging;
pub mod not_found;
pub mod services;
mod sqs;
pub mod stream;
pub mod sweeper;

use crate::config::Config;
use crate::engine::{Answer, Outcome};
use crate::store::CallCounter;
use auth::{Authenticator, Caller, Scope};
use error::ApiError;
use event::{Incoming, Request};
use input::Fields;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One function's action: its route, the scope it needs, the service it runs on, and what it
/// does.
pub trait Action: Send + Sync + 'static {
    /// The one service the action needs, built once per process.
    type Service: services::Service;
    /// The function (and binary) name, e.g. `create-balance`.
    const NAME: &'static str;
    const METHOD: &'static str;
    /// The route's path, API Gateway style: `/balances/{balanceId}`.
    const PATH: &'static str;
    /// More routes to the same function, `(method, path)`: Juspay's clients reach one call at
    /// two addresses (`/order/create` and `/orders`).
    const ALSO: &'static [(&'static str, &'static str)] = &[];
    /// Query parameters it reads (a direct invocation carries them in the payload).
    const QUERY: &'static [&'static str] = &[];
    /// The facade whose error body its refusals are in.
    const ERRORS: error::ErrorShape = error::ErrorShape::Pocketbook;
    const SCOPE: Scope;
    /// Reached without an API key (a customer's browser, a provider's signed callback): the
    /// action finds its tenant in what it looks up, and the scope is not checked.
    const PUBLIC: bool = false;

    fn handle(
        service: &Self::Service,
        caller: &Caller,
        request: Request,
    ) -> impl Future<Output = Result<Reply, ApiError>> + Send;

    /// Whether the records of an SQS batch (of a standard queue) go to [`Self::handle_together`]
    /// all at once rather than one after another to [`Self::handle`].
    const TOGETHER: bool = false;

    /// The records of one SQS batch, each answered as [`Self::handle`] would, in their order:
    /// an action whose requests gain from being committed together (operations on one
    /// balance) says so with [`Self::TOGETHER`].
    fn handle_together(
        service: &Self::Service,
        requests: Vec<(Caller, Request)>,
    ) -> impl Future<Output = Vec<Result<Reply, ApiError>>> + Send {
        async move {
            let mut replies = Vec::with_capacity(requests.len());
            for (caller, request) in requests {
                replies.push(Self::handle(service, &caller, request).await);
            }
            replies
        }
    }
}

/// A successful answer (or a replayed one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The stored answer of an earlier request with the same idempotency key.
    pub replayed: bool,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        Self { status, body: crate::api::to_json(value), replayed: false }
    }

    /// A fresh outcome rendered by `render` — the renderer that also rendered what its
    /// idempotency key stores — or the stored answer of the request that first used the key.
    pub fn from_outcome<T>(outcome: Outcome<T>, render: impl Fn(&T) -> Answer) -> Self {
        match outcome {
            Outcome::Done(value) => render(&value).into(),
            Outcome::Replayed(Answer { status, body }) => Self { status, body, replayed: true },
        }
    }
}

impl From<Answer> for Reply {
    fn from(Answer { status, body }: Answer) -> Self {
        Self { status, body, replayed: false }
    }
}

/// What a warm function keeps between invocations: its service and the key check.
pub struct App<S> {
    pub service: S,
    pub auth: Authenticator,
    calls: CallCounter,
    /// How long a request may wait for a busy balance (an SQS record's time budget).
    lock_wait: Duration,
}

impl<S: services::Service> App<S> {
    pub fn new(service: S, auth: Authenticator) -> Self {
        let engine = service.engine();
        Self { calls: engine.store().calls().clone(), lock_wait: engine.lock_wait(), service, auth }
    }
}

/// The whole of a function's `main`: configuration, one DynamoDB client, the runtime loop.
pub async fn run<A: Action>() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = Config::from_env()?;
    if config.page_token_key_is_default {
        tracing::warn!("POCKETBOOK_PAGE_TOKEN_KEY is not set: using the development key for page tokens");
    }
    if config.secrets_key_is_default {
        tracing::warn!("POCKETBOOK_SECRETS_KEY is not set: using the development key for signing secrets");
    }
    let parts = services::Parts::connect(config).await;
    let auth = Authenticator::new(parts.engine.store().clone(), parts.config.api_key_cache)
        .with_signing(Arc::new(crate::clock::SystemClock), parts.config.secrets.clone());
    let app = Arc::new(App::new(<A::Service as services::Service>::build(&parts)?, auth));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let app = Arc::clone(&app);
        // Boxed, like each request in `logged`: keeps the runtime's future small and its type
        // shallow enough for the compiler.
        async move { Box::pin(handle::<A>(&app, event)).await }
    }))
    .await
}

/// Handles one invocation of any kind. HTTP always gets an HTTP answer; a direct invocation or
/// an EventBridge event fails only for faults worth a retry (contention, a 5xx), so that AWS
/// retries those and never a refusal; an SQS batch names the records worth a retry.
pub async fn handle<A: Action>(
    app: &App<A::Service>,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Box<RawValue>, Diagnostic> {
    let request_id = event.context.request_id.as_str();
    let answer = match event::classify(&event.payload) {
        Incoming::Http(request) => {
            let origin =
                Origin { source: "http", id: request.as_ref().ok().and_then(|r| r.request_context.request_id.clone()) };
            let work = async { http::<A>(app, &*request?).await.map_err(|e| e.in_shape(A::ERRORS)) };
            let result = logged::<A>(app, request_id, &origin, work).await;
            http_answer(result, request_id)
        }
        Incoming::Direct(payload) => {
            let origin = Origin { source: "direct", id: None };
            let work = async { direct::<A>(app, payload?, None).await.map_err(|e| e.in_shape(A::ERRORS)) };
            let result = logged::<A>(app, request_id, &origin, work).await;
            direct_answer(result, request_id)?
        }
        Incoming::EventBridge(event) => {
            let origin = Origin { source: "eventbridge", id: event.as_ref().ok().and_then(|e| e.id.clone()) };
            let work = async {
                let event = event?;
                direct::<A>(app, Fields::parse(event.detail.get())?, event.id.as_deref()).await
            };
            direct_answer(logged::<A>(app, request_id, &origin, work).await, request_id)?
        }
        Incoming::Sqs(batch) => {
            let batch = batch.map_err(|e| {
                tracing::error!(requestId = %request_id, action = A::NAME, source = "sqs", error = %e.message, "unreadable batch");
                diagnostic(&e, request_id)
            })?;
            sqs::handle_batch::<A>(app, request_id, batch, event.context.deadline).await?
        }
    };
    RawValue::from_string(answer)
        .map_err(|e| Diagnostic { error_type: "INTERNAL".into(), error_message: format!("answer is not JSON: {e}") })
}

/// Where a request came from, for its log line: the source, and the id the source gave it
/// (API Gateway's request id, the SQS message id, the EventBridge event id).
struct Origin {
    source: &'static str,
    id: Option<String>,
}

/// Runs one request and logs its one line: status, error code, duration, DynamoDB calls.
async fn logged<A: Action>(
    app: &App<A::Service>,
    request_id: &str,
    origin: &Origin,
    work: impl Future<Output = Result<Reply, ApiError>>,
) -> Result<Reply, ApiError> {
    let started = Instant::now();
    let calls_before = app.calls.total();
    // Boxed: the actions' futures nested in every kind of event would otherwise make one
    // type too deep for the compiler (and a large future on the stack).
    let result = Box::pin(work).await;
    log_request::<A>(request_id, origin, &result, started, Some(app.calls.total() - calls_before));
    result
}

/// A request's one log line. `calls`: `None` for a request answered with others (an SQS
/// batch's records committed together), whose calls only the batch's line counts.
fn log_request<A: Action>(
    request_id: &str,
    origin: &Origin,
    result: &Result<Reply, ApiError>,
    started: Instant,
    calls: Option<u64>,
) {
    let status = result.as_ref().map_or_else(|e| e.status, |reply| reply.status);
    if let Err(error) = &result {
        if let Some(detail) = &error.detail {
            tracing::error!(requestId = %request_id, action = A::NAME, detail = %detail, "request failed");
        }
    }
    tracing::info!(
        requestId = %request_id,
        action = A::NAME,
        source = origin.source,
        sourceId = origin.id.as_deref(),
        status,
        code = result.as_ref().err().map(|e| e.code),
        replayed = result.as_ref().is_ok_and(|r| r.replayed),
        durationMs = started.elapsed().as_millis() as u64,
        dynamodbCalls = calls,
        "request"
    );
}

async fn http<A: Action>(
    app: &App<A::Service>,
    event: &aws_lambda_events::apigw::ApiGatewayV2httpRequest,
) -> Result<Reply, ApiError> {
    let caller = if A::PUBLIC {
        Caller::public()
    } else {
        let authorizer = event.request_context.authorizer.as_ref().map(|a| &a.fields);
        // The request as it arrived: what a key that signs must have signed.
        let caller = app.auth.authenticate(&auth::HttpRequest::of(event), authorizer).await?;
        caller.require(A::SCOPE)?;
        caller
    };
    let templates: Vec<&'static str> = std::iter::once(A::PATH).chain(A::ALSO.iter().map(|(_, path)| *path)).collect();
    // Juspay's routes take the forms its clients post; every other route JSON only.
    event::require_media_type(event, A::ERRORS == error::ErrorShape::Juspay)?;
    let request = Request::from_http(event, &templates, A::QUERY)?;
    A::handle(&app.service, &caller, request).await
}

/// A payload from a trusted AWS caller (IAM let it invoke us): it names its project.
/// A function with several routes (`get-movement` reads each kind at its own path) is told
/// which one by the payload's `route`, a path template of its own; by default its first.
async fn direct<A: Action>(
    app: &App<A::Service>,
    payload: input::Fields,
    default_key: Option<&str>,
) -> Result<Reply, ApiError> {
    let (caller, request) = direct_request::<A>(payload, default_key)?;
    A::handle(&app.service, &caller, request).await
}

/// A direct payload's caller and request.
fn direct_request<A: Action>(
    mut payload: input::Fields,
    default_key: Option<&str>,
) -> Result<(Caller, Request), ApiError> {
    let route = match payload.optional("route", input::string)? {
        None => A::PATH,
        Some(route) => std::iter::once(A::PATH)
            .chain(A::ALSO.iter().map(|(_, path)| *path))
            .find(|path| *path == route)
            .ok_or_else(|| ApiError::validation("route", format!("must be one of {}'s routes", A::NAME)))?,
    };
    let (project, request) = Request::from_direct(payload, route, A::QUERY, default_key)?;
    let project = crate::domain::names::ProjectId::parse(&project)
        .map_err(|e| ApiError::validation("projectId", e.to_string()))?;
    Ok((Caller::trusted(project), request))
}

fn http_answer(result: Result<Reply, ApiError>, request_id: &str) -> String {
    let mut headers = serde_json::Map::new();
    headers.insert("content-type".into(), json!("application/json"));
    let (status, body) = match result {
        Ok(reply) => {
            if reply.replayed {
                headers.insert("idempotent-replayed".into(), json!("true"));
            }
            (reply.status, reply.body)
        }
        Err(error) => {
            if let Some(seconds) = error.retry_after() {
                headers.insert("retry-after".into(), json!(seconds.to_string()));
            }
            (error.status, error.body(request_id))
        }
    };
    // `cookies` and `multiValueHeaders` are optional for API Gateway, but some consumers of the
    // format (cargo lambda's local router among them) require them.
    json!({
        "statusCode": status,
        "headers": headers,
        "multiValueHeaders": {},
        "cookies": [],
        "body": body,
        "isBase64Encoded": false,
    })
    .to_string()
}

fn direct_answer(result: Result<Reply, ApiError>, request_id: &str) -> Result<String, Diagnostic> {
    match result {
        Ok(reply) => Ok(reply.body),
        Err(error) if error.is_transient() => Err(diagnostic(&error, request_id)),
        Err(error) => Ok(error.body(request_id)),
    }
}

/// A failed invocation, which AWS retries (direct async invocations, EventBridge) or hands
/// back to the queue (a whole SQS batch).
fn diagnostic(error: &ApiError, request_id: &str) -> Diagnostic {
    Diagnostic {
        error_type: error.code.to_owned(),
        error_message: format!("{} (request id {request_id})", error.message),
    }
}
