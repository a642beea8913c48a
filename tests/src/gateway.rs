//! A local HTTP front that behaves like an API Gateway HTTP API (Lambda proxy integrations,
//! payload format 2.0) in front of [`FunctionPool`]s.
//!
//! Request → event and answer → response follow
//! <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>.
//! Each HTTP request gets a fresh id that is used three times: `requestContext.requestId`, the
//! `apigw-requestid` response header, and the Lambda request id of the invocation (on AWS the
//! last one differs; sharing it here lets a test find the function's log lines from the HTTP
//! response alone).
//!
//! A Lambda authorizer ([`Authorization::Function`]) runs as API Gateway runs one configured
//! with payload 2.0, simple responses and the identity source `$request.header.Authorization`
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html>):
//! no header → 401 without calling it, `isAuthorized: false` → 403, its `context` reaches the
//! route's function as `requestContext.authorizer.lambda`, verdicts cached per header value.
//! A [`Route::public`] route has no authorizer, as with `Auth: Authorizer: NONE`.
//!
//! Deliberate simplifications: no stage variables, no CORS, `rawPath` is passed on as
//! received (percent-encoded).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::lambda::{FunctionPool, InvokeError, ACCOUNT_ID};

/// API Gateway's payload limit for HTTP APIs.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// One route: `method` + a path template such as `/balances/{balanceId}/operations`.
/// A last segment `{name+}` is a greedy parameter that matches the rest of the path.
#[derive(Clone)]
pub struct Route {
    pub method: Method,
    pub path: String,
    pub function: FunctionPool,
    /// No authorization in front of it (template.yaml's `Auth: Authorizer: NONE`).
    pub public: bool,
}

impl Route {
    pub fn new(method: Method, path: impl Into<String>, function: FunctionPool) -> Route {
        Route { method, path: path.into(), function, public: false }
    }

    /// The same route without the gateway's authorization.
    pub fn public(self) -> Route {
        Route { public: true, ..self }
    }

    /// API Gateway's `$default` route: whatever no other route matches, any method, no
    /// authorization (as template.yaml declares it).
    pub fn default_route(function: FunctionPool) -> Route {
        Route { method: Method::GET, path: DEFAULT_ROUTE.into(), function, public: true }
    }
}

/// The route key of API Gateway's catch-all route.
const DEFAULT_ROUTE: &str = "$default";

/// What checks callers before a route's function runs.
#[derive(Clone, Default)]
pub enum Authorization {
    /// Nothing: the functions check API keys themselves (as with `cargo lambda watch`).
    #[default]
    None,
    /// A fixed `requestContext.authorizer.lambda`, as if an authorizer accepted everyone.
    Context(Map<String, Value>),
    /// The authorizer function itself; its verdicts are cached for `ttl` per header value.
    Function { pool: FunctionPool, ttl: Duration },
}

/// A running gateway on `127.0.0.1:<random port>`. Dropping it stops it.
pub struct Gateway {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Gateway {
    /// Binds `127.0.0.1:0` and serves `routes`.
    pub async fn start(routes: Vec<Route>) -> std::io::Result<Gateway> {
        Gateway::start_with(routes, Authorization::None).await
    }

    /// Like [`Gateway::start`], with `authorization` in front of every route.
    pub async fn start_with(routes: Vec<Route>, authorization: Authorization) -> std::io::Result<Gateway> {
        let (default, routes): (Vec<Route>, Vec<Route>) = routes.into_iter().partition(|r| r.path == DEFAULT_ROUTE);
        let routes =
            routes.into_iter().map(|route| CompiledRoute { template: Template::parse(&route.path), route }).collect();
        let default = default.into_iter().next();
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let config = Arc::new(Config {
            routes,
            default,
            authorization,
            verdicts: Mutex::new(HashMap::new()),
            port: addr.port(),
        });
        let task = tokio::spawn(serve(listener, config));
        Ok(Gateway { addr, task })
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and drops all connections.
    pub async fn shutdown(self) {
        let mut this = self;
        this.task.abort();
        let _ = (&mut this.task).await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An authorizer's verdict as cached: the context, or `None` (denied), and when it was given.
type Verdict = (Option<Map<String, Value>>, Instant);

struct Config {
    routes: Vec<CompiledRoute>,
    /// The `$default` route, if any: without it an unmatched request gets API Gateway's 404.
    default: Option<Route>,
    authorization: Authorization,
    /// The authorizer's verdicts by `Authorization` header.
    verdicts: Mutex<HashMap<String, Verdict>>,
    port: u16,
}

struct CompiledRoute {
    route: Route,
    template: Template,
}

async fn serve(listener: TcpListener, config: Arc<Config>) {
    // Connection tasks live in the JoinSet: aborting this task aborts them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let config = config.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| handle(request, config.clone(), peer));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn handle(
    request: Request<Incoming>,
    config: Arc<Config>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = route_request(request, &config, peer, &request_id).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", value);
    }
    Ok(response)
}

async fn route_request(
    request: Request<Incoming>,
    config: &Config,
    peer: SocketAddr,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let segments = split_path(&path);
    // API Gateway picks the most specific matching route.
    let best = config
        .routes
        .iter()
        .filter(|r| r.route.method == request.method())
        .filter_map(|r| r.template.matches(&segments).map(|params| (r, params)))
        .max_by(|(a, _), (b, _)| a.template.specificity().cmp(&b.template.specificity()));
    // A route is a method and a path: a known path with another method matches no route.
    let (route, route_key, path_parameters) = match (best, &config.default) {
        (Some((compiled, parameters)), _) => {
            (&compiled.route, format!("{} {}", compiled.route.method, compiled.route.path), parameters)
        }
        (None, Some(default)) => (default, DEFAULT_ROUTE.to_owned(), Map::new()),
        (None, None) => return message(StatusCode::NOT_FOUND, "Not Found"),
    };

    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
        Err(_) => return message(StatusCode::BAD_REQUEST, "Bad Request"),
    };

    let mut event = build_event(&parts, &body, &route_key, path_parameters, config, peer, request_id);
    let context = match &config.authorization {
        _ if route.public => None,
        Authorization::None => None,
        Authorization::Context(context) => Some(context.clone()),
        Authorization::Function { pool, ttl } => match authorize(config, pool, *ttl, &parts, &event).await {
            Ok(context) => Some(context),
            Err(response) => return response,
        },
    };
    if let Some(context) = context {
        event["requestContext"]["authorizer"] = json!({ "lambda": context });
    }
    let payload = match serde_json::to_vec(&event) {
        Ok(payload) => Bytes::from(payload),
        Err(_) => return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    match route.function.invoke_with_request_id(request_id.to_owned(), payload).await {
        Ok(invocation) => convert_answer(&invocation.body),
        Err(InvokeError::Timeout) => message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

/// The payload format 2.0 event for one request.
fn build_event(
    parts: &http::request::Parts,
    body: &Bytes,
    route_key: &str,
    path_parameters: Map<String, Value>,
    config: &Config,
    peer: SocketAddr,
    request_id: &str,
) -> Value {
    let now = chrono::Utc::now();
    let raw_query = parts.uri.query().unwrap_or("");

    // Header names arrive lower-cased from hyper; repeated headers are joined with commas,
    // except cookies, which 2.0 moves into their own array.
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies
                .extend(value.split(';').map(str::trim).filter(|c| !c.is_empty()).map(|c| Value::String(c.to_owned())));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    // What API Gateway adds on its way to the integration.
    let forwarded = [
        ("x-forwarded-for", peer.ip().to_string()),
        ("x-forwarded-port", config.port.to_string()),
        ("x-forwarded-proto", "http".to_owned()),
        (
            "x-amzn-trace-id",
            format!("Root=1-{:08x}-{}", now.timestamp(), &uuid::Uuid::new_v4().simple().to_string()[..24]),
        ),
    ];
    for (name, value) in forwarded {
        headers.entry(name).or_insert(Value::String(value));
    }
    let user_agent =
        parts.headers.get(http::header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let domain_name = "127.0.0.1";

    let request_context = json!({
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": domain_name,
        "domainPrefix": domain_name.split('.').next().unwrap_or(domain_name),
        "http": {
            "method": parts.method.as_str(),
            "path": parts.uri.path(),
            "protocol": "HTTP/1.1",
            "sourceIp": peer.ip().to_string(),
            "userAgent": user_agent.unwrap_or_default(),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });

    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    let query = query_parameters(raw_query);
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !path_parameters.is_empty() {
        event["pathParameters"] = Value::Object(path_parameters);
    }
    if !body.is_empty() {
        let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if is_text(content_type) {
            event["body"] = Value::String(String::from_utf8_lossy(body).into_owned());
        } else {
            event["body"] = Value::String(BASE64.encode(body));
            event["isBase64Encoded"] = Value::Bool(true);
        }
    }
    event
}

/// Asks the authorizer function (or its cached verdict) about a request: the context to pass
/// on, or the answer API Gateway gives in its place.
async fn authorize(
    config: &Config,
    pool: &FunctionPool,
    ttl: Duration,
    parts: &http::request::Parts,
    event: &Value,
) -> Result<Map<String, Value>, Response<Full<Bytes>>> {
    let unauthorized = || message(StatusCode::UNAUTHORIZED, "Unauthorized");
    let forbidden = || message(StatusCode::FORBIDDEN, "Forbidden");
    let Some(identity) = parts.headers.get(http::header::AUTHORIZATION) else {
        return Err(unauthorized());
    };
    let identity = String::from_utf8_lossy(identity.as_bytes()).into_owned();
    let cached = config.verdicts.lock().ok().and_then(|verdicts| {
        verdicts.get(&identity).filter(|(_, at)| at.elapsed() < ttl).map(|(verdict, _)| verdict.clone())
    });
    let verdict = match cached {
        Some(verdict) => verdict,
        None => {
            let verdict = ask_authorizer(pool, &identity, event).await?;
            if let Ok(mut verdicts) = config.verdicts.lock() {
                verdicts.insert(identity, (verdict.clone(), Instant::now()));
            }
            verdict
        }
    };
    verdict.ok_or_else(forbidden)
}

/// One invocation of the authorizer with the request's payload 2.0 authorizer event.
async fn ask_authorizer(
    pool: &FunctionPool,
    identity: &str,
    event: &Value,
) -> Result<Option<Map<String, Value>>, Response<Full<Bytes>>> {
    let failed = || message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    let route_key = event["routeKey"].as_str().unwrap_or_default();
    let (method, path) = route_key.split_once(' ').unwrap_or((route_key, ""));
    let mut request = event.clone();
    if let Some(fields) = request.as_object_mut() {
        fields.remove("body");
        fields.remove("isBase64Encoded");
        fields.insert("type".into(), json!("REQUEST"));
        fields.insert("identitySource".into(), json!([identity]));
        fields.insert(
            "routeArn".into(),
            json!(format!("arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:local/$default/{method}{path}")),
        );
    }
    let payload = serde_json::to_vec(&request).map_err(|_| failed())?;
    let invocation = pool.invoke(Bytes::from(payload)).await.map_err(|_| failed())?;
    let answer: Value = serde_json::from_slice(&invocation.body).map_err(|_| failed())?;
    match answer.get("isAuthorized").and_then(Value::as_bool) {
        Some(true) => Ok(Some(answer.get("context").and_then(Value::as_object).cloned().unwrap_or_default())),
        Some(false) => Ok(None),
        None => Err(failed()),
    }
}

/// Whether API Gateway passes a body of this content type as text; other bodies (and bodies
/// without a content type) are base64-encoded.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime.starts_with("text/")
        || mime == "application/json"
        || (mime.starts_with("application/") && mime.ends_with("+json"))
        || mime == "application/x-www-form-urlencoded"
        || mime == "application/xml"
}

/// `a=1&a=2&b=x%20y` → `{"a": "1,2", "b": "x y"}` (keys and values percent-decoded).
fn query_parameters(raw: &str) -> Map<String, Value> {
    let mut parameters = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (percent_decode(key), percent_decode(value));
        match parameters.get_mut(&key) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                parameters.insert(key, Value::String(value));
            }
        }
    }
    parameters
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a space is `%20`): a
/// query value as a client sends it (filters hold spaces, quotes and braces).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; anything malformed is kept as it is. (`+` stays `+`.)
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Turns the function's answer into the HTTP response, as API Gateway does for 2.0.
fn convert_answer(answer: &[u8]) -> Response<Full<Bytes>> {
    let Ok(value) = serde_json::from_slice::<Value>(answer) else {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let Some(status) = value.as_object().and_then(|o| o.get("statusCode")) else {
        // Valid JSON without a statusCode: 200, JSON, the answer itself is the body.
        return build(
            StatusCode::OK,
            &[("content-type".into(), "application/json".into())],
            Bytes::copy_from_slice(answer),
        )
        .unwrap_or_else(|| message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"));
    };
    structured_response(&value, status)
        .unwrap_or_else(|| message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"))
}

/// A `{"statusCode": ..., "headers": ..., "body": ...}` answer; `None` if it is malformed
/// (API Gateway answers 500 then).
fn structured_response(value: &Value, status: &Value) -> Option<Response<Full<Bytes>>> {
    let status = status.as_u64().or_else(|| status.as_str().and_then(|s| s.parse().ok()))?;
    let status = StatusCode::from_u16(u16::try_from(status).ok()?).ok()?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(map) = value.get("headers").and_then(Value::as_object) {
        for (name, v) in map {
            headers.push((name.clone(), scalar_to_string(v)?));
        }
    }
    if let Some(map) = value.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            for v in values.as_array()? {
                headers.push((name.clone(), scalar_to_string(v)?));
            }
        }
    }
    if let Some(cookies) = value.get("cookies").and_then(Value::as_array) {
        for cookie in cookies {
            headers.push(("set-cookie".into(), cookie.as_str()?.to_owned()));
        }
    }
    let body = match value.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(body)) if value.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
            Bytes::from(BASE64.decode(body).ok()?)
        }
        Some(Value::String(body)) => Bytes::from(body.clone()),
        Some(_) => return None,
    };
    build(status, &headers, body)
}

fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn build(status: StatusCode, headers: &[(String, String)], body: Bytes) -> Option<Response<Full<Bytes>>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        let value = HeaderValue::from_str(value).ok()?;
        response.headers_mut().append(name, value);
    }
    Some(response)
}

/// API Gateway's own `{"message": "..."}` answers.
fn message(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let body = Bytes::from(json!({ "message": text }).to_string());
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn split_path(path: &str) -> Vec<&str> {
    path.trim_start_matches('/').split('/').collect()
}

// ---------------------------------------------------------------------------------------
// Route templates.

enum Segment {
    Literal(String),
    Parameter(String),
    /// `{name+}`: the rest of the path, at least one segment.
    Greedy(String),
}

struct Template(Vec<Segment>);

impl Template {
    fn parse(path: &str) -> Template {
        let segments = split_path(path)
            .into_iter()
            .map(|segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match name.strip_suffix('+') {
                    Some(name) => Segment::Greedy(name.to_owned()),
                    None => Segment::Parameter(name.to_owned()),
                },
                None => Segment::Literal(segment.to_owned()),
            })
            .collect();
        Template(segments)
    }

    /// The path parameters (percent-decoded) if `segments` (still encoded) match.
    fn matches(&self, segments: &[&str]) -> Option<Map<String, Value>> {
        let mut parameters = Map::new();
        for (i, template) in self.0.iter().enumerate() {
            match template {
                Segment::Greedy(name) => {
                    let rest = segments.get(i..).filter(|rest| !rest.is_empty() && rest != &[""])?;
                    parameters.insert(name.clone(), Value::String(percent_decode(&rest.join("/"))));
                    return Some(parameters);
                }
                Segment::Literal(literal) => {
                    if segments.get(i)? != literal {
                        return None;
                    }
                }
                Segment::Parameter(name) => {
                    let value = segments.get(i).filter(|v| !v.is_empty())?;
                    parameters.insert(name.clone(), Value::String(percent_decode(value)));
                }
            }
        }
        (segments.len() == self.0.len()).then_some(parameters)
    }

    /// Literal segments beat parameters, which beat greedy ones, left to right.
    fn specificity(&self) -> Vec<u8> {
        self.0
            .iter()
            .map(|segment| match segment {
                Segment::Literal(_) => 2,
                Segment::Parameter(_) => 1,
                Segment::Greedy(_) => 0,
            })
            .collect()
    }
}
