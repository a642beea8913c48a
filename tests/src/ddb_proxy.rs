//! An HTTP/1.1 reverse proxy to put between function binaries (or any AWS SDK client) and the
//! local DynamoDB: it counts calls per table, adds latency and injects faults.
//!
//! DynamoDB speaks the AWS JSON 1.0 protocol: every request is `POST /` with
//! `X-Amz-Target: DynamoDB_20120810.<Operation>` and a JSON body that names the table(s).
//! Tests use one table per test, so counters and fault rules are keyed by table name.
//! Requests are forwarded unchanged (method, path, headers including `Host`, body): the SDK
//! signs them, and although the local server does not check signatures, nothing here should
//! be the reason a signature breaks.
//!
//! Injected errors mimic DynamoDB's error format (`__type` =
//! `com.amazonaws.dynamodb.v20120810#<Code>` and `message`), which the AWS SDK turns into the
//! typed errors: it takes the code from `x-amzn-ErrorType` if present, else from `__type`,
//! dropping the namespace before `#`.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

const ERROR_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810#";

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward (so the write takes effect), then close the client connection without an
    /// answer: "the commit landed but the answer was lost". The SDK sees an incomplete
    /// message (a transient dispatch failure) and, by default, retries.
    DropResponse,
    /// Forward (the write takes effect), then answer HTTP 500 `InternalServerError`.
    Respond500,
    /// Do not forward; answer 400 `ProvisionedThroughputExceededException`.
    Throttle,
    /// Do not forward. For `TransactWriteItems`/`TransactGetItems`: 400
    /// `TransactionCanceledException` with one cancellation reason per item, the first being
    /// `TransactionConflict` and the others `None`. For other operations: 400
    /// `TransactionConflictException` (what DynamoDB answers a plain write that collides
    /// with a running transaction).
    TransactionConflict,
    /// Add this much latency, then forward normally.
    Delay(Duration),
}

/// Apply `fault` to the next `times` requests of `operation` (e.g. `"TransactWriteItems"`,
/// or `"*"` for any) that touch `table`, after letting `skip` of them through untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub table: String,
    pub operation: String,
    pub skip: usize,
    pub times: usize,
    pub fault: Fault,
}

impl FaultRule {
    /// A rule that fires once.
    pub fn once(table: impl Into<String>, operation: impl Into<String>, fault: Fault) -> FaultRule {
        FaultRule { table: table.into(), operation: operation.into(), skip: 0, times: 1, fault }
    }

    /// Lets the first `skip` matching requests through before the rule applies.
    pub fn after(mut self, skip: usize) -> FaultRule {
        self.skip = skip;
        self
    }

    /// Applies to `times` requests instead of one.
    pub fn times(mut self, times: usize) -> FaultRule {
        self.times = times;
        self
    }
}

/// How long one forwarded request took upstream, for measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCall {
    pub operation: String,
    /// The HTTP status of the answer (400 for a failed condition, among others).
    pub status: u16,
    /// From forwarding the request until the whole answer was back.
    pub elapsed: Duration,
    /// The local DynamoDB's own account of the request (`scripts/local_dynamodb.py` reports
    /// it in the headers `x-local-dynamodb-queue-us` and `-service-us`): waiting for its
    /// turn, and being handled. `None` from a server that does not report them.
    pub queued: Option<Duration>,
    pub service: Option<Duration>,
}

/// A running proxy on `127.0.0.1:<random port>`. Dropping it stops it.
pub struct DdbProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    task: JoinHandle<()>,
}

struct ProxyState {
    upstream: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
    delay: Mutex<Duration>,
    calls: Mutex<HashMap<String, Vec<String>>>,
    faults: Mutex<Vec<FaultRule>>,
    upstream_calls: Mutex<HashMap<String, Vec<UpstreamCall>>>,
}

impl DdbProxy {
    /// Starts a proxy to `upstream` (e.g. `"http://127.0.0.1:8000"`).
    pub async fn start(upstream: impl Into<String>) -> std::io::Result<DdbProxy> {
        let upstream: Uri = upstream
            .into()
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("upstream URL: {e}")))?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let state = Arc::new(ProxyState {
            upstream,
            client,
            delay: Mutex::new(Duration::ZERO),
            calls: Mutex::new(HashMap::new()),
            faults: Mutex::new(Vec::new()),
            upstream_calls: Mutex::new(HashMap::new()),
        });
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, state.clone()));
        Ok(DdbProxy { addr, state, task })
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give the SDK.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A fixed delay before every request is forwarded (stands in for network latency).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.state.delay) = delay;
    }

    /// Operation names of the requests that touched `table`, in arrival order (faulted ones
    /// included). Requests that name no table (e.g. `ListTables`) are under `""`.
    pub fn calls(&self, table: &str) -> Vec<String> {
        lock(&self.state.calls).get(table).cloned().unwrap_or_default()
    }

    /// Timings of the requests forwarded for `table` since the last call, in completion order
    /// (taking them resets them).
    pub fn take_upstream_calls(&self, table: &str) -> Vec<UpstreamCall> {
        lock(&self.state.upstream_calls).remove(table).unwrap_or_default()
    }

    pub fn reset_calls(&self, table: &str) {
        lock(&self.state.calls).remove(table);
    }

    /// Adds a rule; rules are tried in the order they were added, and the first one that
    /// matches a request (with `times` left) applies to it.
    pub fn add_fault(&self, rule: FaultRule) {
        if rule.times > 0 {
            lock(&self.state.faults).push(rule);
        }
    }

    /// How many fault applications are still pending for `table`.
    pub fn pending_faults(&self, table: &str) -> usize {
        lock(&self.state.faults).iter().filter(|r| r.table == table).map(|r| r.times).sum()
    }

    /// Removes all rules for `table`.
    pub fn clear_faults(&self, table: &str) {
        lock(&self.state.faults).retain(|r| r.table != table);
    }

    pub async fn shutdown(self) {
        let mut this = self;
        this.task.abort();
        let _ = (&mut this.task).await;
    }
}

impl Drop for DdbProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn serve(listener: TcpListener, state: Arc<ProxyState>) {
    // Connection tasks live in the JoinSet: aborting this task aborts them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| handle(request, state.clone()));
                    // A service error (an injected drop) makes hyper close the connection
                    // without writing a response.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// The service's "error": close the connection instead of answering.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("injected fault: connection dropped")
    }
}

impl std::error::Error for DropConnection {}

async fn handle(request: Request<Incoming>, state: Arc<ProxyState>) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(DropConnection),
    };
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|target| target.rsplit_once('.').map_or(target, |(_, op)| op).to_owned())
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let tables = tables_in(&json);

    {
        let mut calls = lock(&state.calls);
        for table in &tables {
            calls.entry(table.clone()).or_default().push(operation.clone());
        }
    }
    let fault = take_fault(&state, &tables, &operation);

    let mut delay = *lock(&state.delay);
    if let Some(Fault::Delay(extra)) = &fault {
        delay += *extra;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    match &fault {
        Some(Fault::Throttle) => {
            let code = "ProvisionedThroughputExceededException";
            let mut response = error_response(
                StatusCode::BAD_REQUEST,
                json!({"__type": format!("{ERROR_NAMESPACE}{code}"), "message": "injected throttle"}),
            );
            response.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static(code));
            return Ok(response);
        }
        Some(Fault::TransactionConflict) => return Ok(conflict_response(&json)),
        _ => {}
    }

    let forwarded_at = std::time::Instant::now();
    let upstream_response = forward(&state, parts, body).await;
    record_upstream(&state, &tables, &operation, forwarded_at.elapsed(), &upstream_response);
    match fault {
        Some(Fault::DropResponse) => Err(DropConnection),
        Some(Fault::Respond500) => Ok(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"__type": format!("{ERROR_NAMESPACE}InternalServerError"), "message": "injected"}),
        )),
        _ => Ok(upstream_response),
    }
}

fn record_upstream(
    state: &ProxyState,
    tables: &[String],
    operation: &str,
    elapsed: Duration,
    response: &Response<Full<Bytes>>,
) {
    let micros = |name: &str| {
        let value = response.headers().get(name)?.to_str().ok()?.parse::<u64>().ok()?;
        Some(Duration::from_micros(value))
    };
    let call = UpstreamCall {
        operation: operation.to_owned(),
        status: response.status().as_u16(),
        elapsed,
        queued: micros("x-local-dynamodb-queue-us"),
        service: micros("x-local-dynamodb-service-us"),
    };
    let mut calls = lock(&state.upstream_calls);
    for table in tables {
        calls.entry(table.clone()).or_default().push(call.clone());
    }
}

/// Every table a request names, in order, without repeats.
fn tables_in(body: &Value) -> Vec<String> {
    let mut tables: Vec<String> = Vec::new();
    let mut add = |table: Option<&str>| {
        if let Some(table) = table {
            if !tables.iter().any(|t| t == table) {
                tables.push(table.to_owned());
            }
        }
    };
    add(body.get("TableName").and_then(Value::as_str));
    for item in body.get("TransactItems").and_then(Value::as_array).into_iter().flatten() {
        // Each item is {"Put"|"Update"|"Delete"|"ConditionCheck"|"Get": {"TableName": ...}}.
        for action in item.as_object().into_iter().flat_map(|o| o.values()) {
            add(action.get("TableName").and_then(Value::as_str));
        }
    }
    for table in body.get("RequestItems").and_then(Value::as_object).into_iter().flat_map(|o| o.keys()) {
        add(Some(table));
    }
    if tables.is_empty() {
        tables.push(String::new());
    }
    tables
}

/// Consumes one application of the first rule that matches.
fn take_fault(state: &ProxyState, tables: &[String], operation: &str) -> Option<Fault> {
    let mut rules = lock(&state.faults);
    let index = rules
        .iter()
        .position(|r| r.times > 0 && tables.contains(&r.table) && (r.operation == "*" || r.operation == operation))?;
    if rules[index].skip > 0 {
        rules[index].skip -= 1;
        return None;
    }
    let fault = rules[index].fault.clone();
    rules[index].times -= 1;
    if rules[index].times == 0 {
        rules.remove(index);
    }
    Some(fault)
}

fn conflict_response(request: &Value) -> Response<Full<Bytes>> {
    let Some(items) = request.get("TransactItems").and_then(Value::as_array) else {
        return error_response(
            StatusCode::BAD_REQUEST,
            json!({"__type": format!("{ERROR_NAMESPACE}TransactionConflictException"), "message": "Transaction is ongoing for the item"}),
        );
    };
    let reasons: Vec<Value> = (0..items.len().max(1))
        .map(|i| match i {
            0 => json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}),
            _ => json!({"Code": "None"}),
        })
        .collect();
    let codes: Vec<&str> = reasons.iter().filter_map(|r| r.get("Code").and_then(Value::as_str)).collect();
    error_response(
        StatusCode::BAD_REQUEST,
        json!({
            "__type": format!("{ERROR_NAMESPACE}TransactionCanceledException"),
            "message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
            "CancellationReasons": reasons,
        }),
    )
}

fn error_response(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.0"));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// Hop-by-hop headers are about one connection and must not be passed on.
fn is_hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "te" | "trailer" | "upgrade"
    )
}

async fn forward(state: &ProxyState, parts: http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut uri_parts = state.upstream.clone().into_parts();
    uri_parts.path_and_query = path_and_query.parse().ok();
    let Ok(uri) = Uri::from_parts(uri_parts) else {
        return bad_gateway("cannot build the upstream URL");
    };
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = parts.method;
    *request.uri_mut() = uri;
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    let response = match state.client.request(request).await {
        Ok(response) => response,
        Err(error) => return bad_gateway(&format!("upstream request failed: {error}")),
    };
    let (mut parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return bad_gateway(&format!("upstream body failed: {error}")),
    };
    let hop_by_hop: Vec<_> = parts.headers.keys().filter(|n| is_hop_by_hop(n)).cloned().collect();
    for name in hop_by_hop {
        parts.headers.remove(name);
    }
    Response::from_parts(parts, Full::new(body))
}

fn bad_gateway(message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(json!({ "message": message }).to_string())));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
