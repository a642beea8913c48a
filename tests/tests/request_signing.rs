//! FPay's request signatures (issue 14), end to end through the real function binaries: a key
//! with a signing secret needs every request signed the way finalse-sdk signs it
//! (`Finalse-Nonce`, `Finalse-SignedHeaders`, `Finalse-Signature`), each nonce once; a key
//! without one works unsigned as before. Requests are signed here by a transcription of the
//! SDK's `Http.__call` and `Request.to_message` that shares no code with the server's check,
//! and, where `finalse-sdk` is installed in the project's virtualenv, by the SDK itself.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::join_all;
use pocketbook::actions::ROUTES;
use pocketbook::domain::names::ProjectId;
use pocketbook::domain::request_signature::NONCE_WINDOW_MS;
use pocketbook_tests::app::{binary, into_answer, SignedKey, TEST_SECRETS_KEY};
use pocketbook_tests::local_dynamodb::{self, workspace_root};
use pocketbook_tests::{Answer, AppOptions, TestApp};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};

/// The FPay-shaped routes used here, found by function so that a move of the paths changes
/// nothing in this file.
fn route(function: &str) -> (&'static str, &'static str) {
    let route = ROUTES.iter().find(|r| r.function == function).unwrap_or_else(|| panic!("no route of {function}"));
    (route.method, route.path)
}

const CREATE: &str = "create-wallet";
const LIST: &str = "list-wallets";
const GET: &str = "get-wallet";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A fresh nonce: now, made distinct from every other this process hands out (requests may
/// leave within one millisecond).
fn fresh_nonce() -> i64 {
    static SPREAD: AtomicI64 = AtomicI64::new(0);
    now_ms() + SPREAD.fetch_add(1, Ordering::Relaxed) % 1000
}

/// HMAC-SHA-512 (RFC 2104) from SHA-512 alone, so that the signer shares nothing with the
/// server's `hmac` crate.
fn hmac_sha512(key: &[u8], message: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 128;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..64].copy_from_slice(&Sha512::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha512::digest([pad(0x36), message.to_vec()].concat());
    Sha512::digest([pad(0x5c), inner.to_vec()].concat()).to_vec()
}

/// A request as the SDK's `Http.__call` makes it: `path` and `query_string` (with its `?`,
/// or empty) as the SDK's services pass them, the body as `json.dumps` wrote it.
#[derive(Clone)]
struct SdkRequest {
    method: &'static str,
    path: String,
    query_string: String,
    body: Option<String>,
    nonce: i64,
    /// The headers as sent, signature headers first (the SDK's `h`).
    headers: Vec<(String, String)>,
}

impl SdkRequest {
    fn new(
        key: &str,
        secret: &str,
        method: &'static str,
        path: &str,
        query_string: &str,
        body: Option<&Value>,
    ) -> Self {
        Self::with_nonce(key, secret, method, path, query_string, body, fresh_nonce())
    }

    fn with_nonce(
        key: &str,
        secret: &str,
        method: &'static str,
        path: &str,
        query_string: &str,
        body: Option<&Value>,
        nonce: i64,
    ) -> Self {
        // json.dumps' separators; serde_json's are tighter, and either is just the body's bytes.
        let body = body.map(Value::to_string);
        // __compute_signed_headers: these three, then Content-Type when there is a body.
        let mut signed = vec![
            ("Accept".to_owned(), "application/json".to_owned()),
            ("User-Agent".to_owned(), "Sdk Python v1.0".to_owned()),
            ("Authorization".to_owned(), format!("Bearer {key}")),
        ];
        if body.is_some() {
            signed.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        // Request.to_message: nonce, name:value of each, method, path, query string, body hash.
        let body_hash = body.as_ref().map(|b| STANDARD.encode(Sha256::digest(b.as_bytes())));
        let joined: String = signed.iter().map(|(name, value)| format!("{name}:{value}")).collect();
        let message = format!("{nonce}{joined}{method}{path}{query_string}{}", body_hash.unwrap_or_default());
        let signature = STANDARD.encode(hmac_sha512(secret.as_bytes(), message.as_bytes()));
        let names = signed.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(",");
        let mut headers = vec![
            ("Finalse-Nonce".to_owned(), nonce.to_string()),
            ("Finalse-SignedHeaders".to_owned(), names),
            ("Finalse-Signature".to_owned(), format!("SHA512 {signature}")),
        ];
        headers.extend(signed);
        Self { method, path: path.to_owned(), query_string: query_string.to_owned(), body, nonce, headers }
    }

    fn for_key(key: &SignedKey, function: &str, query_string: &str, body: Option<&Value>) -> Self {
        let (method, path) = route(function);
        Self::new(&key.key, &key.secret, method, path, query_string, body)
    }

    fn set_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    async fn send(&self, app: &TestApp) -> Answer {
        let url = format!("{}{}{}", app.url, self.path, self.query_string);
        let mut request = app.http.request(self.method.parse().expect("method"), url);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        into_answer(request.send().await.expect("request reaches the gateway")).await
    }
}

/// A refusal in the wallets facade's body: `{"error": {"code", "message"}}`, 401.
#[track_caller]
fn refused(answer: &Answer, code: &str) {
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "{}", answer.body);
    assert!(answer.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", answer.body);
}

fn wallet(name: &str) -> Value {
    json!({ "name": name })
}

/// The names of the listed wallets but the project's main wallet (which the first request
/// opens), sorted.
fn names_of(listed: &Answer) -> Vec<String> {
    let items = listed.body["items"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<String> =
        items.iter().filter(|w| w["isMain"] != true).filter_map(|w| w["name"].as_str().map(str::to_owned)).collect();
    names.sort();
    names
}

/// Nothing secret in any function's log.
fn assert_no_secret_in_logs(app: &TestApp, secrets: &[&str]) {
    for (function, pool) in &app.functions {
        let logs = pool.log_lines().join("\n");
        for secret in secrets {
            assert!(!logs.contains(secret), "{function} logged a secret");
        }
    }
}

#[tokio::test]
async fn a_signed_request_passes_and_every_other_request_with_the_key_is_refused() {
    let app = TestApp::spawn().await;
    let key = app.new_signed_api_key(&app.project, &["read", "write"]).await;

    let created = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Signed"))).send(&app).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = SdkRequest::for_key(&key, LIST, "?limit=5&sortBy=createdTime%3ADESC", None).send(&app).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(names_of(&listed), ["Signed"], "{}", listed.body);

    // No signature at all.
    let auth = format!("Bearer {}", key.key);
    let (method, path) = route(LIST);
    refused(&app.send_as(method, path, None, &[("authorization", &auth)]).await, "BAD_SIGNATURE");
    let (method, path) = route(CREATE);
    let unsigned = app.send_as(method, path, Some(&wallet("Unsigned")), &[("authorization", &auth)]).await;
    refused(&unsigned, "BAD_SIGNATURE");

    // A body other than the one signed.
    let mut tampered = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Signed body")));
    tampered.body = Some(wallet("Another body").to_string());
    refused(&tampered.send(&app).await, "BAD_SIGNATURE");
    // Another query string, another path, another signed header's value.
    let mut other_query = SdkRequest::for_key(&key, LIST, "?limit=5", None);
    other_query.query_string = "?limit=6".into();
    refused(&other_query.send(&app).await, "BAD_SIGNATURE");
    // A path other than the one signed: the signed request for one wallet, sent for another.
    let (method, template) = route(GET);
    let one = template.replace("{identifier}", created.body["id"].as_str().expect("the wallet's id"));
    let signed_get = SdkRequest::new(&key.key, &key.secret, method, &one, "", None);
    assert_eq!(signed_get.send(&app).await.status, 200);
    let mut other_path = SdkRequest::new(&key.key, &key.secret, method, &one, "", None);
    other_path.path = template.replace("{identifier}", &uuid::Uuid::new_v4().to_string());
    refused(&other_path.send(&app).await, "BAD_SIGNATURE");
    let other_agent = SdkRequest::for_key(&key, LIST, "", None).set_header("User-Agent", "Sdk Python v9");
    refused(&other_agent.send(&app).await, "BAD_SIGNATURE");
    // A malformed signature, and a signature header that names a header not sent.
    let garbled = SdkRequest::for_key(&key, LIST, "", None).set_header("Finalse-Signature", "SHA512 bm90IGEgbWFj");
    refused(&garbled.send(&app).await, "BAD_SIGNATURE");
    let names = SdkRequest::for_key(&key, LIST, "", None)
        .set_header("Finalse-SignedHeaders", "Accept,User-Agent,Authorization,X-Not-Sent");
    refused(&names.send(&app).await, "BAD_SIGNATURE");

    // The wrong secret.
    let (method, path) = route(LIST);
    let wrong = SdkRequest::new(&key.key, "pbs_not-the-secret", method, path, "", None);
    refused(&wrong.send(&app).await, "BAD_SIGNATURE");

    // Nonces too old and too far ahead, just past the window either way.
    for nonce in [now_ms() - NONCE_WINDOW_MS - 60_000, now_ms() + NONCE_WINDOW_MS + 60_000] {
        let stale = SdkRequest::with_nonce(&key.key, &key.secret, method, path, "", None, nonce);
        refused(&stale.send(&app).await, "NONCE_OUT_OF_WINDOW");
    }
    // Well inside the window, in the past: fine.
    let earlier = SdkRequest::with_nonce(&key.key, &key.secret, method, path, "", None, now_ms() - 60_000);
    assert_eq!(earlier.send(&app).await.status, 200);

    // The same signed request twice: the second is a replay.
    let once = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Once")));
    assert_eq!(once.send(&app).await.status, 201);
    refused(&once.send(&app).await, "NONCE_REUSED");
    // So is another request with that nonce, signed properly.
    let (method, path) = route(LIST);
    let same_nonce = SdkRequest::with_nonce(&key.key, &key.secret, method, path, "", None, once.nonce);
    refused(&same_nonce.send(&app).await, "NONCE_REUSED");

    // The nonce's record: its key in the tenant's space, and a TTL just past the window.
    let pk = pocketbook::store::nonce_pk(&ProjectId::parse(&app.project).unwrap(), &key.key_id, once.nonce);
    let item = app
        .store
        .client()
        .get_item()
        .table_name(&app.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(pocketbook::store::NONCE_SK.into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the nonce's record");
    let ttl: i64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, (once.nonce + NONCE_WINDOW_MS).div_euclid(1000) + 1);

    // Only the signed requests made wallets.
    let listed = SdkRequest::for_key(&key, LIST, "", None).send(&app).await;
    assert_eq!(names_of(&listed), ["Once", "Signed"], "{}", listed.body);

    // The table holds the secret sealed, never in the clear; the logs hold neither.
    let scan = app.store.client().scan().table_name(&app.table).send().await.unwrap();
    let table = format!("{:?}", scan.items());
    assert!(!table.contains(&key.secret) && !table.contains(&key.key), "neither the key nor the secret is stored");
    assert!(table.contains("signingSecret"), "the sealed secret is on the key's record");
    assert_no_secret_in_logs(&app, &[&key.secret, &key.key]);
}

#[tokio::test]
async fn a_signed_request_costs_one_round_trip_more_and_an_unsigned_key_none() {
    let app = TestApp::spawn().await;
    let key = app.new_signed_api_key(&app.project, &["read", "write"]).await;
    let plain = format!("Bearer {}", app.api_key);
    let (method, path) = route(LIST);
    // Both keys looked up once (and cached by the warm function) first.
    assert_eq!(SdkRequest::for_key(&key, LIST, "", None).send(&app).await.status, 200);
    assert_eq!(app.send_as(method, path, None, &[("authorization", &plain)]).await.status, 200);

    let signed = SdkRequest::for_key(&key, LIST, "", None).send(&app).await;
    let unsigned = app.send_as(method, path, None, &[("authorization", &plain)]).await;
    assert_eq!((signed.status, unsigned.status), (200, 200));
    let (signed, unsigned) = (app.round_trips(LIST, &signed), app.round_trips(LIST, &unsigned));
    assert_eq!(signed, unsigned + 1, "the nonce's PutItem, nothing else");
}

#[tokio::test]
async fn of_concurrent_requests_with_one_nonce_exactly_one_passes() {
    const N: usize = 8;
    let app = TestApp::spawn_with(AppOptions::default().instances(N)).await;
    let key = app.new_signed_api_key(&app.project, &["read", "write"]).await;
    // Warm every instance's key cache, so that the requests below race on the nonce alone.
    join_all((0..N).map(|_| async { SdkRequest::for_key(&key, LIST, "", None).send(&app).await })).await;

    let request = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Raced")));
    let answers = join_all((0..N).map(|_| request.send(&app))).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    for answer in answers.iter().filter(|a| a.status != 201) {
        refused(answer, "NONCE_REUSED");
    }
    let listed = SdkRequest::for_key(&key, LIST, "", None).send(&app).await;
    let raced = listed.body["items"].as_array().unwrap().iter().filter(|w| w["name"] == "Raced").count();
    assert_eq!(raced, 1, "one wallet: {}", listed.body);
}

#[tokio::test]
async fn a_key_without_a_secret_works_unsigned_as_before() {
    let app = TestApp::spawn().await;
    let auth = format!("Bearer {}", app.api_key);
    let (method, path) = route(CREATE);
    let created = app.send_as(method, path, Some(&wallet("Plain")), &[("authorization", &auth)]).await;
    assert_eq!(created.status, 201, "{}", created.body);
    // Signature headers on such a key are not looked at, right or wrong.
    let (method, path) = route(LIST);
    let stray = SdkRequest::new(&app.api_key, "whatever", method, path, "", None).send(&app).await;
    assert_eq!(stray.status, 200, "{}", stray.body);
    let listed = app.send_as(method, path, None, &[("authorization", &auth)]).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
}

/// Deployed: the authorizer admits the key (it cannot see a body, and its verdict is cached),
/// its context carries the secret sealed, and the function checks the signature itself,
/// reading no key.
#[tokio::test]
async fn behind_the_authorizer_the_function_checks_the_signature_itself() {
    let app = TestApp::spawn_with(AppOptions::default().authorizer_function()).await;
    let key = app.new_signed_api_key(&app.project, &["read", "write"]).await;

    let created = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Behind"))).send(&app).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let replay = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Twice")));
    assert_eq!(replay.send(&app).await.status, 201);
    // The authorizer's verdict for this Authorization is cached now: the replay is still refused.
    refused(&replay.send(&app).await, "NONCE_REUSED");
    let auth = format!("Bearer {}", key.key);
    let (method, path) = route(LIST);
    refused(&app.send_as(method, path, None, &[("authorization", &auth)]).await, "BAD_SIGNATURE");
    let mut tampered = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Signed body")));
    tampered.body = Some(wallet("Another body").to_string());
    refused(&tampered.send(&app).await, "BAD_SIGNATURE");
    let wrong = SdkRequest::new(&key.key, "pbs_not-the-secret", method, path, "", None);
    refused(&wrong.send(&app).await, "BAD_SIGNATURE");

    // Round trips: the function reads no key either way; a signed request adds the nonce's Put.
    let plain = format!("Bearer {}", app.api_key);
    assert_eq!(app.send_as(method, path, None, &[("authorization", &plain)]).await.status, 200);
    assert_eq!(SdkRequest::for_key(&key, LIST, "", None).send(&app).await.status, 200);
    let signed = SdkRequest::for_key(&key, LIST, "", None).send(&app).await;
    let unsigned = app.send_as(method, path, None, &[("authorization", &plain)]).await;
    assert_eq!((signed.status, unsigned.status), (200, 200), "{} {}", signed.body, unsigned.body);
    assert_eq!(app.round_trips(LIST, &unsigned), app.round_trips(LIST, &signed) - 1);
    assert_no_secret_in_logs(&app, &[&key.secret, &key.key]);
}

/// The admin tool's `--signing-secret`: the key and the secret it prints sign requests that pass.
#[tokio::test]
async fn the_admin_tool_creates_a_key_with_a_signing_secret() {
    let app = TestApp::spawn().await;
    let output = std::process::Command::new(binary("pocketbook-admin"))
        .args(["create-api-key", "--project", &app.project, "--signing-secret", "--quiet"])
        .env("TABLE_NAME", &app.table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", local_dynamodb::endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(pocketbook::config::SECRETS_KEY, TEST_SECRETS_KEY)
        .output()
        .expect("run pocketbook-admin");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let [key, secret] = lines[..] else { panic!("the key and the secret, one a line: {stdout:?}") };
    assert!(key.starts_with("pb_") && secret.starts_with("pbs_"), "{stdout:?}");
    let key = SignedKey { key: key.to_owned(), key_id: String::new(), secret: secret.to_owned() };

    let created = SdkRequest::for_key(&key, CREATE, "", Some(&wallet("Admin's"))).send(&app).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let auth = format!("Bearer {}", key.key);
    let (method, path) = route(LIST);
    refused(&app.send_as(method, path, None, &[("authorization", &auth)]).await, "BAD_SIGNATURE");
}

/// The project's virtualenv Python, as the Juspay client tests find it.
fn python() -> PathBuf {
    std::env::var("POCKETBOOK_PYTHON").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join(".venv/bin/python"))
}

/// finalse-sdk's own `Http` signs and sends (only its host is changed): its requests pass,
/// and with the wrong secret they do not.
const SDK_SCRIPT: &str = r#"
import json, os, sys
from finalse_sdk.Sdk import Sdk
from finalse_sdk.Http import Http
from finalse_sdk.Auth import Auth
from finalse_sdk.HttpCallError import HttpCallError
from finalse_sdk.ListForm import ListForm

base = os.environ["FPAY_BASE_URL"]
Sdk.base_url = staticmethod(lambda: base)
auth = Auth(os.environ["FPAY_TOKEN"], os.environ["FPAY_SECRET"])
create, listing = os.environ["FPAY_CREATE_PATH"], os.environ["FPAY_LIST_PATH"]
created = Http.post(create, {"name": "From the SDK", "foreignId": "sdk-1"}, "", {}, json.loads, auth)
print("ok created", created["id"])
# The SDK's own query string: ListForm percent-encodes the values.
query = ListForm(None, None, "createdTime:DESC").to_query_string()
listed = Http.get(listing, query, {}, json.loads, auth)
print("ok listed", query, len(listed["items"]))
try:
    Http.get(listing, "", {}, json.loads, Auth(os.environ["FPAY_TOKEN"], "not-the-secret"))
    print("a wrong secret passed")
    sys.exit(1)
except HttpCallError as error:
    print("ok wrong secret refused", error.status_code, json.loads(error.body)["error"]["code"])
"#;

#[tokio::test]
async fn the_sdks_own_signing_passes() {
    let python = python();
    let has_sdk = python.exists()
        && std::process::Command::new(&python)
            .args(["-c", "import finalse_sdk"])
            .output()
            .is_ok_and(|output| output.status.success());
    if !has_sdk {
        println!("skipped: finalse-sdk is not installed for {}", python.display());
        return;
    }
    let app = TestApp::spawn().await;
    let key = app.new_signed_api_key(&app.project, &["read", "write"]).await;
    let output = tokio::process::Command::new(&python)
        .args(["-c", SDK_SCRIPT])
        .env("FPAY_BASE_URL", &app.url)
        .env("FPAY_TOKEN", &key.key)
        .env("FPAY_SECRET", &key.secret)
        .env("FPAY_CREATE_PATH", route(CREATE).1)
        .env("FPAY_LIST_PATH", route(LIST).1)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the SDK");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK's run failed:\n{stdout}\n{stderr}");
    println!("{stdout}");
    assert!(stdout.contains("ok created") && stdout.contains("ok listed"), "{stdout}");
    assert!(stdout.contains("ok wrong secret refused 401 BAD_SIGNATURE"), "{stdout}");
}
