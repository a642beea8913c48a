//! `make dev`'s local front (front/, the `pocketbook-front` binary) in front of an upstream:
//! the tests' own gateway (standing in for `cargo lambda watch`) for the real routes, and a
//! recording upstream that shows what reaches it (and what never does) byte for byte.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use pocketbook::edge::event::MAX_BODY_BYTES;
use pocketbook_tests::app::{binary, unique};
use pocketbook_tests::TestApp;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// A running `pocketbook-front` on a free loopback port.
struct Front {
    _child: Child,
    url: String,
    addr: String,
    http: reqwest::Client,
}

impl Front {
    async fn start(upstream: &str) -> Self {
        let port_file = std::env::temp_dir().join(unique("pocketbook-front-port"));
        let mut child = Command::new(binary("pocketbook-front"))
            .args(["--listen", "127.0.0.1:0", "--upstream", upstream, "--port-file"])
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start pocketbook-front");
        let mut port = String::new();
        for _ in 0..200 {
            port = std::fs::read_to_string(&port_file).unwrap_or_default();
            if !port.is_empty() {
                break;
            }
            assert!(child.try_wait().expect("front status").is_none(), "pocketbook-front exited");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = std::fs::remove_file(&port_file);
        assert!(!port.is_empty(), "pocketbook-front did not start listening");
        let addr = format!("127.0.0.1:{}", port.trim());
        Front { _child: child, url: format!("http://{addr}"), addr, http: reqwest::Client::new() }
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
        let mut request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.expect("the front answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// What reached the recording upstream.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// An upstream that records every request and answers `200 {"upstream": true}` with a header
/// of its own.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let log = log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                            log.lock().unwrap().push(Seen {
                                method: parts.method.to_string(),
                                target: parts.uri.to_string(),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                                    .collect(),
                                body,
                            });
                            let response = hyper::Response::builder()
                                .status(200)
                                .header("content-type", "application/json")
                                .header("x-upstream", "recorder")
                                .body(Full::new(Bytes::from_static(br#"{"upstream": true}"#)))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Recorder { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn error_code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

#[tokio::test]
async fn a_route_goes_through_to_its_function() {
    let app = TestApp::spawn().await;
    let front = Front::start(&app.url).await;
    let key = app.new_api_key(&app.project, &["read", "write"]).await;
    let auth = format!("Bearer {key}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];

    let body = json!({"balanceType": "EUR", "balanceName": "Through the front"}).to_string().into_bytes();
    let (status, created) = front.send("POST", "/balances", &headers, body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["balanceId"].as_str().expect("balanceId");

    let (status, read) = front.send("GET", &format!("/balances/{id}"), &headers[..1], vec![]).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["balanceId"], created["balanceId"]);

    // Without the key: the functions' own 401, not a way round it.
    let (status, refused) = front.send("GET", &format!("/balances/{id}"), &[], vec![]).await;
    assert_eq!(status, 401, "{refused}");

    // A path under the API that no route serves reaches `not-found`, as API Gateway's
    // `$default` route does: the facade's own 404.
    let (status, missing) = front.send("GET", "/balances", &headers[..1], vec![]).await;
    assert_eq!(status, 404, "{missing}");
    assert_eq!(error_code(&missing), Some("NOT_FOUND"), "{missing}");
}

#[tokio::test]
async fn the_invoke_api_and_other_runtime_paths_never_reach_the_upstream() {
    let recorder = Recorder::start().await;
    let front = Front::start(&recorder.url).await;
    let payload = json!({"projectId": "someone-else", "balanceType": "EUR"}).to_string().into_bytes();
    for path in [
        "/2015-03-31/functions/create-balance/invocations",
        "//2015-03-31/functions/create-balance/invocations",
        "/lambda-url/create-balance/balances",
        "/.rt/2018-06-01/runtime/invocation/next",
        "/balances/../2015-03-31/functions/create-balance/invocations",
        "/balances/%2e%2e/2015-03-31/functions/create-balance/invocations",
        "/nothing-of-ours",
    ] {
        let (status, body) = front.send("POST", path, &[("content-type", "application/json")], payload.clone()).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
    assert!(recorder.seen().is_empty(), "{:?}", recorder.seen());

    // The recorder does record what the front passes on.
    let (status, body) = front.send("POST", "/balances", &[("content-type", "application/json")], payload).await;
    assert_eq!((status, body), (200, json!({"upstream": true})));
    assert_eq!(recorder.seen().len(), 1);
}

#[tokio::test]
async fn a_text_body_that_is_not_utf8_is_a_400_and_a_binary_one_goes_on() {
    let recorder = Recorder::start().await;
    let front = Front::start(&recorder.url).await;
    let bytes = vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'];
    for content_type in
        ["application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"]
    {
        let (status, body) = front.send("POST", "/balances", &[("content-type", content_type)], bytes.clone()).await;
        assert_eq!(status, 400, "{content_type}: {body}");
        assert_eq!(error_code(&body), Some("MALFORMED_BODY"), "{content_type}: {body}");
    }
    assert!(recorder.seen().is_empty(), "{:?}", recorder.seen());

    let (status, _) =
        front.send("POST", "/balances", &[("content-type", "application/octet-stream")], bytes.clone()).await;
    assert_eq!(status, 200);
    let seen = recorder.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, bytes);
}

#[tokio::test]
async fn a_body_over_the_functions_limit_is_a_413() {
    let recorder = Recorder::start().await;
    let front = Front::start(&recorder.url).await;
    let json = [("content-type", "application/json")];

    let (status, body) = front.send("POST", "/balances", &json, vec![b' '; MAX_BODY_BYTES + 1]).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), Some("PAYLOAD_TOO_LARGE"), "{body}");
    // Binary or not, the limit is the same.
    let octets = [("content-type", "application/octet-stream")];
    let (status, body) = front.send("POST", "/balances", &octets, vec![0; MAX_BODY_BYTES + 1]).await;
    assert_eq!((status, error_code(&body)), (413, Some("PAYLOAD_TOO_LARGE")), "{body}");

    // Chunked, with no length announced: counted as it comes.
    let mut stream = TcpStream::connect(&front.addr).await.unwrap();
    let head = format!(
        "POST /balances HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        front.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 16 * 1024];
    for _ in 0..5 {
        let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk.clone(), b"\r\n".to_vec()].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the front answered and closed before the end
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("PAYLOAD_TOO_LARGE"), "{answer}");
    assert!(recorder.seen().is_empty(), "{:?}", recorder.seen());

    // At the limit exactly: passed on, whole.
    let (status, _) = front.send("POST", "/balances", &json, vec![b' '; MAX_BODY_BYTES]).await;
    assert_eq!(status, 200);
    assert_eq!(recorder.seen()[0].body.len(), MAX_BODY_BYTES);
}

#[tokio::test]
async fn method_path_query_headers_and_body_reach_the_upstream_unchanged() {
    let recorder = Recorder::start().await;
    let front = Front::start(&recorder.url).await;
    let target = "/v1.0/wallets/caf%C3%A9%2Fx?filter=name%20%3D%20%27a%2Bb%27&x=1&x=2&empty=&plus=a+b";
    let body = "{\"name\": \"Épargne ✓\", \"n\": 1.50}";

    // Sent raw, so that nothing between the test and the front normalises anything.
    let mut stream = TcpStream::connect(&front.addr).await.unwrap();
    let request = format!(
        "PATCH {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer pk_test\r\nContent-Type: application/json\r\n\
         Finalse-Nonce: 1765000000000\r\nFinalse-SignedHeaders: content-type;finalse-nonce\r\n\
         Finalse-Signature: c2lnbmF0dXJl+/=\r\nX-Multi: one\r\nX-Multi: two\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        front.addr,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();

    let seen = recorder.seen();
    assert_eq!(seen.len(), 1, "{answer}");
    let seen = &seen[0];
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.target, target);
    assert_eq!(seen.body, body.as_bytes());
    let values = |name: &str| -> Vec<String> {
        seen.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| String::from_utf8_lossy(v).into_owned()).collect()
    };
    assert_eq!(values("host"), [front.addr.as_str()]);
    assert_eq!(values("authorization"), ["Bearer pk_test"]);
    assert_eq!(values("content-type"), ["application/json"]);
    assert_eq!(values("finalse-nonce"), ["1765000000000"]);
    assert_eq!(values("finalse-signedheaders"), ["content-type;finalse-nonce"]);
    assert_eq!(values("finalse-signature"), ["c2lnbmF0dXJl+/="]);
    assert_eq!(values("x-multi"), ["one", "two"]);
    assert_eq!(values("content-length"), [body.len().to_string()]);

    // The answer comes back as the upstream gave it.
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("\r\nx-upstream: recorder\r\n"), "{answer}");
    assert!(answer.ends_with(r#"{"upstream": true}"#), "{answer}");
}

#[tokio::test]
async fn a_filtered_list_answers_the_same_directly_and_through_the_front() {
    let app = TestApp::spawn().await;
    let front = Front::start(&app.url).await;
    let name = "Front + café";
    let created = app.send("POST", "/v1.0/wallets", Some(&json!({"name": name}))).await;
    assert_eq!(created.status / 100, 2, "{:?}", created.body);
    app.send("POST", "/v1.0/wallets", Some(&json!({"name": "Another"}))).await;

    // `name startsWith 'Front + café'`, percent-encoded (`+` as `%2B`, `é` as UTF-8).
    let query = "/v1.0/wallets?filter=name%20startsWith%20%27Front%20%2B%20caf%C3%A9%27&limit=10";
    let auth = format!("Bearer {}", app.api_key);
    // The same Host both ways: the functions build URLs in their answers from it.
    let direct = app
        .http
        .get(format!("{}{query}", app.url))
        .header("authorization", &auth)
        .header("host", &front.addr)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    let direct: Value = serde_json::from_str(&direct.text().await.unwrap()).unwrap();
    let (status, through) = front.send("GET", query, &[("authorization", auth.as_str())], vec![]).await;
    assert_eq!(status, 200, "{through}");
    // Alike but for what each answer makes anew: its start time and its (sealed) page token.
    let comparable = |answer: &Value| {
        let mut answer = answer.clone();
        answer["pagination"]["startedTime"] = Value::Null;
        let text = answer.to_string();
        let mut out = String::new();
        for (i, part) in text.split("&page=").enumerate() {
            match i {
                0 => out.push_str(part),
                _ => out.push_str(&part[part.find('"').unwrap_or(part.len())..]),
            }
        }
        out
    };
    assert_eq!(comparable(&through), comparable(&direct));
    assert_eq!(through["items"], direct["items"]);
    assert!(through.to_string().contains("café"), "the filter selected the wallet: {through}");
    assert!(!through.to_string().contains("Another"), "the filter applied: {through}");
}
