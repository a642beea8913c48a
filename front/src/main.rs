//! `make dev`'s local front. `cargo lambda watch` serves the HTTP API (its router, in the root
//! Cargo.toml) and, on the same port, the Lambda Invoke API
//! (`POST /2015-03-31/functions/<name>/invocations`), its Function URL paths
//! (`/lambda-url/<name>/…`) and its runtime emulator: whoever reaches that port can invoke any
//! function directly with any `projectId`, with no API key. So `cargo lambda watch` stays the
//! runner but listens on an internal loopback port, and this front takes the public one:
//!
//! * it passes on, byte for byte (method, path, query, headers, body: request signatures cover
//!   them), the requests under the API's own paths, and streams the answer back unchanged;
//! * it answers every other path itself, a 404 (the Invoke API above all);
//! * it refuses what `cargo lambda watch` would answer with its own 500, or the functions
//!   after a needless trip: a body over the functions' limit (413), and a JSON, text or form
//!   body that is not UTF-8 (400).
//!
//! Which requests go through: an allow-list, never a deny-list of `cargo lambda watch`'s own
//! paths (a new version may add some). It is not narrowed to the exact method + path of a
//! route, though: a request under one of the routes' first segments (`/balances/…`,
//! `/v1.0/…`, `/order/…`) that matches no route is passed on too, for the router sends it to
//! our `not-found` function, which answers in the facade's own error body, as API Gateway's
//! `$default` route does once deployed (`GET /balances` is a Pocketbook 404, `POST /v1.0/wallets/x`
//! an FPay one). None of `cargo lambda watch`'s paths starts with one of those segments (a
//! unit test below checks it), and dot segments (`/balances/../2015-03-31/…`) are refused.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use pocketbook::actions::{Route, ROUTES};
use tokio::net::TcpListener;

/// The functions' own limit: they answer 413 above it (shared/src/edge/event.rs).
use pocketbook::edge::event::MAX_BODY_BYTES;

#[derive(Parser, Debug)]
#[command(name = "pocketbook-front", about = "The local HTTP API in front of cargo lambda watch")]
struct Args {
    /// Where the HTTP API listens: a loopback address only.
    #[arg(long, env = "POCKETBOOK_FRONT_LISTEN", default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// `cargo lambda watch`'s address (its `--invoke-address`/`--invoke-port`).
    #[arg(long, env = "POCKETBOOK_FRONT_UPSTREAM", default_value = "http://127.0.0.1:9001")]
    upstream: String,
    /// Prints the port it listens on, once listening, into this file (for tests and scripts:
    /// `--listen 127.0.0.1:0` picks a free one).
    #[arg(long)]
    port_file: Option<std::path::PathBuf>,
}

type Body = BoxBody<Bytes, hyper::Error>;
type Upstream = Client<HttpConnector, Full<Bytes>>;

#[derive(Clone)]
struct Front {
    client: Upstream,
    /// `http://host:port`, no trailing slash.
    upstream: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "pocketbook-front: {} is not a loopback address; the local front listens on loopback only",
            args.listen
        );
        std::process::exit(2);
    }
    let upstream = args.upstream.trim_end_matches('/').to_owned();
    match upstream.parse::<Uri>() {
        Ok(uri) if uri.scheme_str() == Some("http") && uri.host().is_some() => {}
        _ => {
            eprintln!("pocketbook-front: the upstream must be an http://host:port URL, not {upstream:?}");
            std::process::exit(2);
        }
    }
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("pocketbook-front: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    let local = listener.local_addr().expect("listening address");
    if let Some(file) = &args.port_file {
        std::fs::write(file, local.port().to_string()).expect("write the port file");
    }
    eprintln!("pocketbook-front: the HTTP API on http://{local}, passed on to {upstream}");
    let front = Front { client: Client::builder(TokioExecutor::new()).build_http(), upstream };
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("pocketbook-front: accept: {e}");
                continue;
            }
        };
        let front = front.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let front = front.clone();
                async move { Ok::<_, Infallible>(front.handle(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

impl Front {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let verdict = verdict(&method, &path);
        let Verdict::Forward(route) = verdict else {
            eprintln!("pocketbook-front: {method} {path} -> 404 (not the HTTP API)");
            return refusal(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("no route serves {method} {path}"));
        };
        match self.forward(request).await {
            Ok(response) => {
                eprintln!("pocketbook-front: {method} {path} -> {} ({route})", response.status().as_u16());
                response
            }
            Err(refused) => {
                eprintln!("pocketbook-front: {method} {path} -> {} (refused by the front)", refused.status().as_u16());
                refused
            }
        }
    }

    /// The request as it came (the body read whole, at most [`MAX_BODY_BYTES`]), to
    /// `cargo lambda watch`; its answer streamed back as it comes.
    async fn forward(&self, request: Request<Incoming>) -> Result<Response<Body>, Response<Body>> {
        let too_large = || {
            refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!("the body exceeds {MAX_BODY_BYTES} bytes"),
            )
        };
        let (mut parts, body) = request.into_parts();
        let declared =
            parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        let body = match read_body(body, declared).await {
            Ok(body) => body,
            Err(Unread::TooLarge) => return Err(too_large()),
            Err(Unread::Broken(e)) => {
                return Err(refusal(StatusCode::BAD_REQUEST, "MALFORMED_BODY", &format!("unreadable body: {e}")))
            }
        };
        if !body.is_empty() && must_be_text(&parts.headers) && std::str::from_utf8(&body).is_err() {
            return Err(refusal(StatusCode::BAD_REQUEST, "MALFORMED_BODY", "the body is not UTF-8"));
        }

        let path_and_query = parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        parts.uri = match format!("{}{path_and_query}", self.upstream).parse() {
            Ok(uri) => uri,
            Err(_) => return Err(refusal(StatusCode::BAD_REQUEST, "BAD_REQUEST", "unusable request target")),
        };
        // The body is re-framed (read whole, sent with its length): the hop-by-hop headers
        // describe this connection, not the request. Every other header goes on as it came,
        // `Host` included (the functions build their URLs from it: the front's address).
        strip_hop_by_hop(&mut parts.headers);
        let upstream = Request::from_parts(parts, Full::new(body));
        match self.client.request(upstream).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                for name in [header::CONNECTION, HeaderName::from_static("keep-alive")] {
                    parts.headers.remove(name);
                }
                Ok(Response::from_parts(parts, body.boxed()))
            }
            Err(e) => Err(refusal(
                StatusCode::BAD_GATEWAY,
                "BAD_GATEWAY",
                &format!("cargo lambda watch at {} did not answer: {e}", self.upstream),
            )),
        }
    }
}

/// How much more of a body over the limit is read (and thrown away) before the 413, and for
/// how long: a client still sending when the answer comes and the connection closes may never
/// read the answer (curl's and hyper's both say "connection reset" instead). Beyond these,
/// the 413 goes out at once.
const DRAIN_BYTES: u64 = 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

enum Unread {
    TooLarge,
    Broken(hyper::Error),
}

/// The body, whole, if it is at most [`MAX_BODY_BYTES`] (whatever its `Content-Length` said).
async fn read_body(mut body: Incoming, declared: Option<u64>) -> Result<Bytes, Unread> {
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64 + DRAIN_BYTES) {
        return Err(Unread::TooLarge);
    }
    let mut read = bytes::BytesMut::new();
    let mut over = declared.is_some_and(|length| length > MAX_BODY_BYTES as u64);
    let mut thrown: u64 = 0;
    let mut drain_until = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        // Once over, reading on is only a courtesy: bounded in time.
        let next = match over {
            true => match tokio::time::timeout_at(drain_until, body.frame()).await {
                Ok(next) => next,
                Err(_) => break,
            },
            false => body.frame().await,
        };
        let Some(frame) = next else { break };
        let frame = match frame {
            Ok(frame) => frame,
            Err(_) if over => break,
            Err(e) => return Err(Unread::Broken(e)),
        };
        let Ok(data) = frame.into_data() else { continue };
        if over {
            thrown += data.len() as u64;
            if thrown > DRAIN_BYTES {
                break;
            }
        } else if read.len() + data.len() > MAX_BODY_BYTES {
            over = true;
            drain_until = tokio::time::Instant::now() + DRAIN_TIME;
            read.clear();
        } else {
            read.extend_from_slice(&data);
        }
    }
    match over {
        true => Err(Unread::TooLarge),
        false => Ok(read.freeze()),
    }
}

fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    // Those `Connection` itself names, then the standard ones.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"] {
        headers.remove(name);
    }
}

/// A body `cargo lambda watch` hands to the function as text: JSON (`application/json`, any
/// `+json`), `text/*`, a form; or no type at all (the functions refuse a typeless body with
/// 415 anyway; a 400 here is no less a refusal, and never cargo lambda's 500). Binary types
/// (`application/octet-stream`…) go on as they are: the functions answer those themselves.
fn must_be_text(headers: &http::HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(content_type) = content_type.to_str() else {
        return true;
    };
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media.is_empty()
        || media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
        || media.starts_with("text/")
        || media == "application/x-www-form-urlencoded"
}

/// The error body of the API's own refusals (`{"error": {"code", "message"}}`).
fn refusal(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = format!(r#"{{"error":{{"code":{},"message":{}}}}}"#, json_string(code), json_string(message));
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Passed on to `cargo lambda watch`: the function of that name answers.
    Forward(&'static str),
    /// Answered here with a 404: not under the HTTP API's paths.
    Refuse,
}

/// Which requests the front passes on (see the module's documentation).
fn verdict(method: &str, path: &str) -> Verdict {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let dot_segment = segments.iter().any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    });
    if dot_segment || !path.starts_with('/') {
        return Verdict::Refuse;
    }
    if let Some(route) = ROUTES.iter().find(|route| route.method.eq_ignore_ascii_case(method) && matches(route, path)) {
        return Verdict::Forward(route.function);
    }
    let first = segments[0];
    match !first.is_empty() && ROUTES.iter().any(|route| first_segment(route.path) == first) {
        true => Verdict::Forward(pocketbook::actions::NOT_FOUND_FUNCTION),
        false => Verdict::Refuse,
    }
}

fn first_segment(template: &str) -> &str {
    template.trim_start_matches('/').split('/').next().unwrap_or_default()
}

/// Whether the path is the route's: the functions' own matcher (segment by segment, a
/// `{param}` matching any one non-empty segment).
fn matches(route: &Route, path: &str) -> bool {
    pocketbook::edge::event::match_path(route.path, path).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_goes_through_to_its_function() {
        for route in ROUTES {
            let path = route.path.replace('{', "x-").replace('}', "");
            assert_eq!(verdict(route.method, &path), Verdict::Forward(route.function), "{} {path}", route.method);
        }
    }

    #[test]
    fn unknown_paths_under_the_api_reach_not_found_and_nothing_else_goes_through() {
        assert_eq!(verdict("GET", "/balances"), Verdict::Forward("not-found"));
        assert_eq!(verdict("POST", "/v1.0/quasi-transfers//receive"), Verdict::Forward("not-found"));
        for path in [
            "/2015-03-31/functions/create-balance/invocations",
            "//2015-03-31/functions/create-balance/invocations",
            "/lambda-url/create-balance/balances",
            "/.rt/2018-06-01/runtime/invocation/next",
            "/2018-06-01/runtime/invocation/next",
            "/balances/../2015-03-31/functions/create-balance/invocations",
            "/balances/%2e%2E/2015-03-31/functions/create-balance/invocations",
            "/",
            "/nothing",
        ] {
            assert_eq!(verdict("POST", path), Verdict::Refuse, "{path}");
        }
    }

    #[test]
    fn none_of_cargo_lambdas_paths_is_under_a_route() {
        for reserved in ["2015-03-31", "lambda-url", ".rt", "2018-06-01", "runtime"] {
            assert!(ROUTES.iter().all(|route| first_segment(route.path) != reserved), "{reserved}");
        }
    }

    #[test]
    fn text_bodies_are_json_text_forms_or_untyped() {
        let typed = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            must_be_text(&headers)
        };
        assert!(typed("application/json; charset=utf-8"));
        assert!(typed("application/merge-patch+json"));
        assert!(typed("text/plain"));
        assert!(typed("application/x-www-form-urlencoded"));
        assert!(!typed("application/octet-stream"));
        assert!(!typed("image/png"));
        assert!(must_be_text(&http::HeaderMap::new()));
    }
}
