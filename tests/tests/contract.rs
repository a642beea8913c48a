//! The HTTP API against its contract, `openapi.yaml`: schemathesis (pinned in
//! requirements-dev.txt) generates valid and invalid requests from the document, runs them
//! against the real function binaries behind the local API Gateway, and checks every answer
//! against what the document promises.
//!
//! The run is reproducible: a fixed seed, overridable with `POCKETBOOK_CONTRACT_SEED` (to
//! explore further, or to replay a seed another run printed), and a bounded number of examples
//! per operation, overridable with `POCKETBOOK_CONTRACT_MAX_EXAMPLES`.
//!
//! Below the runs: regression tests for what the contract work found.

use pocketbook::domain::api_keys::KeyLimits;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::domain::time::Millis;
use pocketbook::edge::auth::{generate_api_key, hash_api_key};
use pocketbook::store::{ApiKeyRecord, KeyLimitChange, NewApiKey};
use pocketbook_tests::app::into_answer;
use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::{Answer, AppOptions, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const DEFAULT_SEED: &str = "20250131";
const DEFAULT_MAX_EXAMPLES: &str = "150";

/// What schemathesis checks on every answer. No check is switched off to make a run pass: a
/// failure is a bug in the server or an untrue sentence in the document.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,negative_data_rejection";

fn contract() -> PathBuf {
    workspace_root().join("openapi.yaml")
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// Runs schemathesis against `app` and fails the test, with its whole report, unless it finds
/// nothing. `auth` is the header it sends on every request (none: unauthenticated).
async fn schemathesis(app: &TestApp, auth: Option<&str>, phases: &str, max_examples: &str) {
    let executable = workspace_root().join(".venv/bin/schemathesis");
    assert!(
        executable.exists(),
        "{} not found: run `make tools` (it installs the pinned schemathesis into .venv)",
        executable.display()
    );
    let seed = env_or("POCKETBOOK_CONTRACT_SEED", DEFAULT_SEED);
    // Run outside the repository: schemathesis would pick up a schemathesis.toml from the
    // working directory or any parent, and must leave no reports or databases behind.
    let scratch = std::env::temp_dir().join(format!("pocketbook-contract-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let mut command = tokio::process::Command::new(&executable);
    command
        .current_dir(&scratch)
        .arg("run")
        .arg(contract())
        .args(["--url", &app.url])
        .args(["--phases", phases])
        .args(["--checks", CHECKS])
        .args(["--seed", &seed])
        .args(["--max-examples", max_examples])
        // One worker: a run with a given seed sends the same requests in the same order.
        .args(["--workers", "1"])
        .args(["--request-timeout", "30"])
        .args(["--generation-database", "none"])
        .arg("--no-color")
        .env("PYTHONUTF8", "1")
        .kill_on_drop(true);
    if let Some(header) = auth {
        command.args(["--header", header]);
    }
    let started = Instant::now();
    let output = command.output().await.expect("run schemathesis");
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&scratch);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("schemathesis {phases} (seed {seed}, {max_examples} examples, {elapsed:.0?}):\n{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "schemathesis found answers that break openapi.yaml (rerun with POCKETBOOK_CONTRACT_SEED={seed}):\
         \n{stdout}\n{stderr}"
    );
    // A run that tested nothing would also exit 0.
    let operations = pocketbook::actions::ROUTES.len();
    assert!(
        stdout.contains(&format!("Tested: {operations}")),
        "schemathesis did not test the {operations} operations:\n{stdout}"
    );
}

#[test]
fn the_contract_documents_exactly_the_routes_the_functions_serve() {
    let text = std::fs::read_to_string(contract()).expect("openapi.yaml at the workspace root");
    let document: serde_yaml::Value = serde_yaml::from_str(&text).expect("openapi.yaml is YAML");
    assert_eq!(document["openapi"].as_str(), Some("3.1.0"));
    assert_eq!(document["info"]["version"].as_str(), Some(env!("CARGO_PKG_VERSION")), "the workspace's version");
    let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_mapping().expect("paths") {
        let path = path.as_str().expect("a path").to_owned();
        for (method, _) in item.as_mapping().expect("a path item") {
            let method = method.as_str().expect("a key");
            if methods.contains(&method) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> =
        pocketbook::actions::ROUTES.iter().map(|route| (route.method.to_owned(), route.path.to_owned())).collect();
    assert_eq!(documented, served, "openapi.yaml and pocketbook::actions::ROUTES disagree");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_running_api_conforms_to_openapi_yaml() {
    let app = TestApp::spawn().await;
    let auth = format!("Authorization: Bearer {}", app.api_key);
    let max_examples = env_or("POCKETBOOK_CONTRACT_MAX_EXAMPLES", DEFAULT_MAX_EXAMPLES);
    schemathesis(&app, Some(&auth), "examples,coverage,fuzzing,stateful", &max_examples).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_for_missing_keys_and_missing_scopes_conform_to_openapi_yaml() {
    // As `make dev` runs it: the functions check keys themselves and answer every refusal.
    refusals(&TestApp::spawn().await).await;
    // As template.yaml deploys it: the authorizer function answers for missing and unknown keys.
    refusals(&TestApp::spawn_with(AppOptions::default().authorizer_function()).await).await;
}

async fn refusals(app: &TestApp) {
    // No key at all (schemathesis may still make up keys of its own): 401s.
    schemathesis(app, None, "examples,fuzzing", "5").await;
    // A key nobody issued: 401 from the functions, 403 from the authorizer.
    schemathesis(app, Some("Authorization: Bearer pb_not-a-key-anyone-issued"), "examples,fuzzing", "5").await;
    // A key that may only read: every write is a 403.
    let reader = app.new_api_key(&app.project, &["read"]).await;
    schemathesis(app, Some(&format!("Authorization: Bearer {reader}")), "examples,fuzzing", "5").await;
}

/// Checks answers against the response openapi.yaml documents for their operation and status:
/// the content type, the body's schema and the documented headers' schemas. Python, because
/// the virtualenv already holds a JSON Schema 2020-12 validator (schemathesis's own).
const VALIDATE_ANSWERS: &str = r##"
import json, sys, yaml, jsonschema_rs
spec = yaml.safe_load(open(sys.argv[1]))
def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node
def valid(schema, value):
    document = dict(schema, components=spec["components"])
    return [e.message for e in jsonschema_rs.Draft202012Validator(document).iter_errors(value)]
problems = []
for answer in json.load(sys.stdin):
    label = f"{answer['method']} {answer['path']} -> {answer['status']}"
    operation = spec["paths"][answer["path"]][answer["method"].lower()]
    response = resolve(operation["responses"].get(str(answer["status"])))
    if response is None:
        problems.append(f"{label}: status not documented")
        continue
    content_type = answer["headers"].get("content-type", "").split(";")[0]
    media = response.get("content", {}).get(content_type)
    if media is None:
        problems.append(f"{label}: content type {content_type!r} not documented")
        continue
    problems += [f"{label}: {error}" for error in valid(media["schema"], json.loads(answer["body"]))]
    for name, header in response.get("headers", {}).items():
        value = answer["headers"].get(name.lower())
        if value is not None:
            problems += [f"{label}: header {name}: {e}" for e in valid(resolve(header)["schema"], value)]
print("\n".join(problems))
sys.exit(1 if problems else 0)
"##;

/// One answer and the documented route it came from.
fn documented(method: &str, template: &str, answer: &Answer) -> Value {
    let headers: serde_json::Map<String, Value> = answer
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), json!(value.to_str().ok()?))))
        .collect();
    let body = match &answer.body {
        Value::String(text) => text.clone(),
        body => body.to_string(),
    };
    json!({"method": method, "path": template, "status": answer.status, "headers": headers, "body": body})
}

#[tokio::test]
async fn answers_schemathesis_cannot_provoke_conform_to_openapi_yaml_too() {
    // Expired credits, replays, business refusals, a busy balance, an oversized body and a
    // fault need state or timing that generated requests do not reach.
    let app = TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_LOCK_WAIT_MS", "300")).await;
    let mut answers = Vec::new();
    let created = app.send("POST", "/balances", Some(&json!({"balanceType": "EUR", "balanceMinLimit": -5}))).await;
    answers.push(documented("POST", "/balances", &created));
    let id = created.body["balanceId"].as_str().expect("balanceId").to_owned();
    let operations = format!("/balances/{id}/operations");
    let (ops, one, list) =
        ("/balances/{balanceId}/operations", "/balances/{balanceId}", "/balances/{balanceId}/transactions");

    let credit = json!({"amount": 10, "type": "INC", "ttlInSeconds": 1, "subject": "short-lived"});
    let first = app.operate_with_key(&id, credit.clone(), "contract-1").await;
    let replayed = app.operate_with_key(&id, credit, "contract-1").await;
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    let reused = app.operate_with_key(&id, json!({"amount": 2, "type": "INC"}), "contract-1").await;
    let stale = app.operate(&id, json!({"amount": 1, "type": "INC", "updateToken": "stale"})).await;
    let refused = app.operate(&id, json!({"amount": 100, "type": "DEC"})).await;
    let big = r#"{"amount": 999999999999999, "type": "INC"}"#;
    let out_of_range = app.send_raw("POST", &operations, big.to_owned(), &[]).await;
    assert_eq!(out_of_range.error_code(), Some("AMOUNT_OUT_OF_RANGE"));
    let huge = format!(r#"{{"amount": 1, "type": "INC", "subject": "{}"}}"#, "x".repeat(70 * 1024));
    let too_large = app.send_raw("POST", &operations, huge, &[]).await;
    for answer in [&first, &replayed, &reused, &stale, &refused, &out_of_range, &too_large] {
        answers.push(documented("POST", ops, answer));
    }

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let expired = app.send("GET", &format!("/balances/{id}"), None).await;
    let history = app.send("GET", &format!("/balances/{id}/transactions?order=asc&pageSize=1"), None).await;
    let token = history.body["paginationToken"].as_str().expect("a second page").to_owned();
    let next = app
        .send("GET", &format!("/balances/{id}/transactions?order=asc&pageSize=1&paginationToken={token}"), None)
        .await;
    let entries: Vec<Value> = [&history, &next]
        .iter()
        .flat_map(|page| page.body["transactions"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(entries.iter().any(|entry| entry["mainTxId"].is_string()), "an expiry entry: {entries:?}");
    let wrong_order = app.send("GET", &format!("/balances/{id}/transactions?paginationToken={token}"), None).await;
    answers.push(documented("GET", one, &expired));
    for answer in [&history, &next, &wrong_order] {
        answers.push(documented("GET", list, answer));
    }

    let project = ProjectId::parse(&app.project).expect("project");
    let balance = BalanceId::parse(&id).expect("balance id");
    let now = Millis::from_datetime(chrono::Utc::now());
    app.store.try_lock(&project, balance, "someone-else", None, now, 60_000).await.expect("hold the lock");
    let busy = app.operate(&id, json!({"amount": 1, "type": "INC"})).await;
    assert_eq!((busy.status, busy.header("retry-after")), (429, Some("1")));
    answers.push(documented("POST", ops, &busy));

    let unknown = app.send("GET", &format!("/balances/{}", uuid::Uuid::new_v4()), None).await;
    let anonymous = app.send_as("GET", &format!("/balances/{id}"), None, &[]).await;
    let reader = format!("Bearer {}", app.new_api_key(&app.project, &["read"]).await);
    let forbidden = app
        .send_as("POST", &operations, Some(&json!({"amount": 1, "type": "INC"})), &[("authorization", &reader)])
        .await;
    answers.push(documented("GET", one, &unknown));
    answers.push(documented("GET", one, &anonymous));
    answers.push(documented("POST", ops, &forbidden));

    let victim = app.new_balance().await;
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("P#{}#B#{victim}", app.project)))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("T$".into()))
        // Not an index key (those must keep their declared type on every item): the head reader refuses it.
        .update_expression("SET balanceMinLimit = :bad")
        .expression_attribute_values(":bad", aws_sdk_dynamodb::types::AttributeValue::S("garbage".into()))
        .send()
        .await
        .expect("corrupt a balance");
    let fault = app.send("GET", &format!("/balances/{victim}"), None).await;
    answers.push(documented("GET", one, &fault));

    let statuses: BTreeSet<u16> = answers.iter().filter_map(|a| a["status"].as_u64()).map(|s| s as u16).collect();
    assert_eq!(statuses, BTreeSet::from([200, 201, 400, 401, 403, 404, 409, 413, 422, 429, 500]));
    validate_answers(answers).await;
}

#[tokio::test]
async fn a_whole_ttl_is_accepted_however_json_writes_it() {
    // Found by schemathesis: `"ttlInSeconds": 4234.0` is an integer to JSON Schema (and to
    // JSON), but was refused with 400 because it was not written as plain digits.
    let app = TestApp::spawn().await;
    let balance = app.new_balance().await;
    for ttl in ["3600", "3600.0", "36e2", "3.6E+3"] {
        let body = format!(r#"{{"amount": 1, "type": "INC", "ttlInSeconds": {ttl}}}"#);
        let answer = app.send_raw("POST", &format!("/balances/{balance}/operations"), body, &[]).await;
        assert_eq!(answer.status, 200, "{ttl}: {}", answer.body);
        let entry = &answer.body["transaction"];
        let lifetime = entry["expiredAt"].as_i64().unwrap() - entry["createdAt"].as_i64().unwrap();
        assert_eq!(lifetime, 3_600_000, "{ttl}");
    }
    for ttl in ["3600.5", "0.0", "-3600", "3.6e-3"] {
        let body = format!(r#"{{"amount": 1, "type": "INC", "ttlInSeconds": {ttl}}}"#);
        let answer = app.send_raw("POST", &format!("/balances/{balance}/operations"), body, &[]).await;
        assert_eq!((answer.status, answer.body["error"]["field"].as_str()), (400, Some("ttlInSeconds")), "{ttl}");
    }
}

#[tokio::test]
async fn a_balance_answers_only_to_the_hyphenated_spelling_of_its_id() {
    // Found while writing the contract: the simple, braced and URN spellings of an id reached
    // the balance, though openapi.yaml (and every answer) only knows the hyphenated one.
    let app = TestApp::spawn().await;
    let balance = app.create_balance(json!({"balanceType": "EUR"})).await["balanceId"].as_str().unwrap().to_owned();
    for other in [balance.replace('-', ""), format!("%7B{balance}%7D"), format!("urn:uuid:{balance}")] {
        for path in [format!("/balances/{other}"), format!("/balances/{other}/transactions")] {
            let answer = app.send("GET", &path, None).await;
            assert_eq!((answer.status, answer.body["error"]["field"].as_str()), (400, Some("balanceId")), "{path}");
        }
        let answer = app.operate(&other, json!({"amount": 1, "type": "INC"})).await;
        assert_eq!(answer.status, 400, "{other}");
    }
    let upper = app.send("GET", &format!("/balances/{}", balance.to_uppercase()), None).await;
    assert_eq!(upper.status, 200, "the letter case does not matter");
    assert_eq!(upper.body["balanceId"], balance.as_str(), "and answers are in lower case");
}

/// Runs [`VALIDATE_ANSWERS`] over `answers` and fails with what breaks openapi.yaml.
async fn validate_answers(answers: Vec<Value>) {
    let python = std::env::var("POCKETBOOK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"));
    let mut child = tokio::process::Command::new(python)
        .args(["-c", VALIDATE_ANSWERS])
        .arg(contract())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the answer validator");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(Value::Array(answers).to_string().as_bytes()).await.expect("send the answers");
    drop(stdin);
    let output = child.wait_with_output().await.expect("the validator finishes");
    assert!(
        output.status.success(),
        "answers that break openapi.yaml:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn wallet_answers_schemathesis_cannot_provoke_conform_to_openapi_yaml_too() {
    // Linking takes the OTP, a debit a token from a list of linked accounts, a callback a
    // provider's signature: generated requests reach none of the successes, nor most refusals.
    // MOBIKWIK stays on the sandbox; PAYTM goes to a fake HTTP provider.
    use pocketbook_tests::fake_provider::{Behaviour, FakeProvider};
    let fake = FakeProvider::start().await;
    let mut options = AppOptions::default();
    for (name, value) in fake.env_for("PAYTM") {
        options = options.env(&name, &value);
    }
    let app = TestApp::spawn_with(options.env("POCKETBOOK_PROVIDER_ATTEMPTS", "1")).await;
    let customer = pocketbook_tests::app::unique("cust");
    let mobile = format!("9{:09}", rand::random::<u32>() % 1_000_000_000);
    let (wallets, account, txns, order, topup, callback) = (
        "/customers/{customer_id}/wallets",
        "/customers/{customer_id}/wallets/{wallet_id}",
        "/txns",
        "/orders/{order_id}",
        "/sandbox/topups/{txn_id}",
        "/providers/{gateway}/callbacks",
    );
    let refresh = "/customers/{customer_id}/wallets/refresh-balances";
    let base = format!("/customers/{customer}/wallets");
    let mut answers = Vec::new();
    let mut record = |method: &str, template: &str, answer: &Answer, status: u16| {
        assert_eq!(answer.status, status, "{method} {template}: {}", answer.body);
        answers.push(documented(method, template, answer));
    };

    let create =
        |gateway: &str, mobile: &str| json!({"gateway": gateway, "command": "authenticate", "mobile_number": mobile});
    let created = app.send("POST", &base, Some(&create("MOBIKWIK", &mobile))).await;
    record("POST", wallets, &created, 201);
    let id = created.body["id"].as_str().expect("id").to_owned();
    record("POST", wallets, &app.send("POST", &base, Some(&create("MOBIKWIK", &mobile))).await, 200);
    let other_number = app.send("POST", &base, Some(&create("MOBIKWIK", &format!("8{}", &mobile[1..])))).await;
    assert_eq!(other_number.error_code(), Some("WALLET_ACCOUNT_EXISTS"));
    record("POST", wallets, &other_number, 409);

    let command = |body: Value| {
        let (app, path) = (&app, format!("{base}/{id}"));
        async move { app.send("POST", &path, Some(&body)).await }
    };
    record("POST", account, &command(json!({"command": "link", "otp": "000000"})).await, 422);
    record("POST", account, &command(json!({"command": "refresh"})).await, 409);
    record("POST", account, &command(json!({"command": "link", "otp": &mobile[4..]})).await, 200);
    record("POST", account, &command(json!({"command": "authenticate"})).await, 200);
    record("POST", account, &command(json!({"command": "refresh"})).await, 200);
    record(
        "POST",
        account,
        &app.send("POST", &format!("{base}/wlt_{}", "a".repeat(26)), Some(&json!({"command": "refresh"}))).await,
        404,
    );

    async fn token(app: &TestApp, base: &str) -> (Answer, String) {
        let list = app.send("GET", base, None).await;
        let token = list.body["list"][0]["token"].as_str().expect("a token").to_owned();
        (list, token)
    }
    let (list, first) = token(&app, &base).await;
    record("GET", wallets, &list, 200);
    record("GET", refresh, &app.send("GET", &format!("{base}/refresh-balances"), None).await, 200);
    let debit = |order: &str, amount: Value, token: &str| {
        json!({"order_id": order, "merchant_id": app.project, "amount": amount, "payment_method_type": "WALLET",
               "payment_method": "MOBIKWIK", "direct_wallet_token": token, "customer_id": customer,
               "redirect_after_payment": false, "format": "json"})
    };
    let charged = app.send("POST", "/txns", Some(&debit("ct1", json!(100), &first))).await;
    assert_eq!(charged.body["status"], "CHARGED");
    record("POST", txns, &charged, 200);
    let reused = app.send("POST", "/txns", Some(&debit("ct2", json!("1.50"), &first))).await;
    assert_eq!(reused.body["status"], "JUSPAY_DECLINED");
    record("POST", txns, &reused, 400);
    record("POST", txns, &app.send("POST", "/txns", Some(&debit("ct3", json!(1.005), &first))).await, 400);
    let (_, second) = token(&app, &base).await;
    let pending = app.send("POST", "/txns", Some(&debit("ct4", json!("5000.00"), &second))).await;
    assert_eq!(pending.body["status"], "PENDING_VBV");
    record("POST", txns, &pending, 200);
    record("GET", order, &app.send("GET", "/orders/ct4", None).await, 200);
    record("GET", order, &app.send("GET", "/orders/nosuchorder", None).await, 404);
    let (_, third) = token(&app, &base).await;
    let form = format!(
        "order_id=ct5&merchant_id={}&amount=12.5&payment_method_type=WALLET&payment_method=MOBIKWIK\
         &direct_wallet_token={third}&redirect_after_payment=false&format=json",
        app.project
    );
    record("POST", txns, &app.post_form_as_juspay("/txns", form).await, 200);

    // The customer's browser, without a key.
    let url = pending.body["payment"]["authentication"]["url"].as_str().expect("a top-up URL").to_owned();
    let page = url.strip_prefix(&app.url).expect("on this API").to_owned();
    let topped = app.send_as("GET", &page, None, &[]).await;
    assert_eq!(topped.body["status"], "CHARGED");
    record("GET", topup, &topped, 200);
    record("GET", topup, &app.send_as("GET", &format!("/sandbox/topups/txn_{}", "a".repeat(26)), None, &[]).await, 404);

    // PAYTM at the fake provider: a wallet too poor for the debit, so a top-up, completed by a
    // signed callback.
    let paytm_mobile = format!("7{}", &mobile[1..]);
    fake.set_balance(&paytm_mobile, rust_decimal::Decimal::from(10));
    let paytm = app.send("POST", &base, Some(&create("PAYTM", &paytm_mobile))).await;
    record("POST", wallets, &paytm, 201);
    let paytm_id = paytm.body["id"].as_str().expect("id").to_owned();
    let otp = FakeProvider::otp_for(&paytm_mobile);
    let linked = app.send("POST", &format!("{base}/{paytm_id}"), Some(&json!({"command": "link", "otp": otp}))).await;
    record("POST", account, &linked, 200);
    let list = app.send("GET", &base, None).await;
    let paytm_token = list.body["list"]
        .as_array()
        .and_then(|accounts| accounts.iter().find(|a| a["wallet"] == "PAYTM"))
        .and_then(|a| a["token"].as_str())
        .expect("a PAYTM token")
        .to_owned();
    let mut body = debit("ct6", json!(50), &paytm_token);
    body["payment_method"] = json!("PAYTM");
    let pending = app.send("POST", "/txns", Some(&body)).await;
    assert_eq!(pending.body["status"], "PENDING_VBV", "{}", pending.body);
    record("POST", txns, &pending, 200);
    let txn = pending.body["txn_id"].as_str().expect("txn_id").to_owned();
    let (report, signature) = fake.complete_top_up(&txn, true).expect("the fake's top-up");
    let post_callback = |gateway: &str, signature: &str| {
        app.http
            .post(format!("{}/providers/{gateway}/callbacks", app.url))
            .header("content-type", "application/json")
            .header("x-provider-signature", signature)
            .body(report.clone())
            .send()
    };
    record("POST", callback, &into_answer(post_callback("PAYTM", &"0".repeat(64)).await.unwrap()).await, 401);
    let completed = into_answer(post_callback("PAYTM", &signature).await.unwrap()).await;
    assert_eq!(completed.body["status"], "CHARGED");
    record("POST", callback, &completed, 200);
    record("POST", callback, &into_answer(post_callback("MOBIKWIK", &signature).await.unwrap()).await, 404);

    // The provider down: a command fails, a refresh of the list answers the earlier balance.
    fake.set_behaviour(Behaviour::Fail500);
    let down = app.send("POST", &format!("{base}/{paytm_id}"), Some(&json!({"command": "refresh"}))).await;
    assert_eq!(down.error_code(), Some("PROVIDER_UNAVAILABLE"));
    record("POST", account, &down, 502);
    let partly = app.send("GET", &format!("{base}/refresh-balances"), None).await;
    assert!(partly.body["list"].as_array().is_some_and(|list| list.iter().any(|a| a["refreshed"] == false)));
    record("GET", refresh, &partly, 200);
    fake.set_behaviour(Behaviour::Normal);

    record("POST", account, &command(json!({"command": "delink"})).await, 200);
    record("POST", account, &command(json!({"command": "delink"})).await, 409);

    let statuses: BTreeSet<u16> = answers.iter().filter_map(|a| a["status"].as_u64()).map(|s| s as u16).collect();
    assert_eq!(statuses, BTreeSet::from([200, 201, 400, 401, 404, 409, 422, 502]));
    validate_answers(answers).await;
}

#[tokio::test]
async fn pocket_wallet_answers_schemathesis_cannot_provoke_conform_to_openapi_yaml_too() {
    // Money moved, commands on resolved movements, business refusals, replays, pages, and the
    // records movements leave (attempts, transactions) need state that generated requests do
    // not reach. The bodies are FPay's forms, as its SDK sends them (tests/clients/FPAY_WIRE.md).
    let app = TestApp::spawn().await;
    let (wallets, wallet, deposits, transfers) =
        ("/v1.0/wallets", "/v1.0/wallets/{identifier}", "/v1.0/deposits/initiate", "/v1.0/transfers/initiate");
    let (quasi, quasi_command) = ("/v1.0/quasi-transfers/initiate", "/v1.0/quasi-transfers/{identifier}/{command}");
    let (requests, request_command) = ("/v1.0/fund-requests", "/v1.0/fund-requests/{identifier}/{command}");
    let (deposit_list, deposit_one) = ("/v1.0/deposits", "/v1.0/deposits/{identifier}");
    let (transfer_list, transfer_one) = ("/v1.0/transfers", "/v1.0/transfers/{identifier}");
    let (quasi_list, quasi_one) = ("/v1.0/quasi-transfers", "/v1.0/quasi-transfers/{identifier}");
    let request_one = "/v1.0/fund-requests/{identifier}";
    let (attempt, transactions, transaction) =
        ("/v1.0/attempts/{identifier}", "/v1.0/transactions", "/v1.0/transactions/{identifier}");
    let mut answers = Vec::new();
    let mut record = |method: &str, template: &str, answer: &Answer, status: u16| {
        assert_eq!(answer.status, status, "{method} {template}: {}", answer.body);
        answers.push(documented(method, template, answer));
    };
    let auth = format!("Bearer {}", app.api_key);
    let keyed = |path: &'static str, body: Value, key: &'static str| {
        let (app, auth) = (&app, auth.clone());
        async move { app.send_as("POST", path, Some(&body), &[("authorization", &auth), ("idempotency-key", key)]).await }
    };
    let id_of = |answer: &Answer| answer.body["id"].as_str().expect("an id").to_owned();

    let created = app
        .send(
            "POST",
            wallets,
            Some(&json!({"name": "Savings", "description": "d", "foreignId": "c-1", "foreignData": "x"})),
        )
        .await;
    record("POST", wallets, &created, 201);
    let a = id_of(&created);
    record("POST", wallets, &app.send("POST", wallets, Some(&json!({"name": "Again", "foreignId": "c-1"}))).await, 409);
    let shop = app.send("POST", wallets, Some(&json!({"name": "Shop", "foreignId": "shop-1"}))).await;
    record("POST", wallets, &shop, 201);
    let b = id_of(&shop);
    let euro = app.send("POST", wallets, Some(&json!({"name": "Euros", "balanceType": "EUR"}))).await;
    record("POST", wallets, &euro, 201);
    let euro = id_of(&euro);

    // Deposits: into the main wallet (replayed, then the key reused), from a mobile-money
    // account as FPay's SDK writes it, and two that share a foreignId.
    let first = keyed(deposits, json!({"amount": 100, "foreignId": "dep-1"}), "d-1").await;
    record("POST", deposits, &first, 201);
    let deposit = id_of(&first);
    record("POST", deposits, &keyed(deposits, json!({"amount": 100, "foreignId": "dep-1"}), "d-1").await, 201);
    record("POST", deposits, &keyed(deposits, json!({"amount": 5}), "d-1").await, 409);
    let mobile = json!({"amount": "10_000 XOF", "source": "CI MtnMoney +2250500000000", "destination": "shop-1",
                        "h1": "Premier dépôt via l'API", "foreignId": "dep-2", "feesPayer": "Me"});
    let from_mobile = app.send("POST", deposits, Some(&mobile)).await;
    assert_eq!(from_mobile.body["source"]["account"]["provider"]["key"], "MtnMoney");
    record("POST", deposits, &from_mobile, 201);
    let again = json!({"amount": {"value": 1, "currency": "XOF"}, "destination": b, "foreignId": "dep-2",
                       "h1": {"fr": "Dépôt", "en": "Deposit"}});
    record("POST", deposits, &app.send("POST", deposits, Some(&again)).await, 201);
    record(
        "POST",
        deposits,
        &app.send("POST", deposits, Some(&json!({"destination": "nobody", "amount": 1}))).await,
        404,
    );
    let euros = json!({"destination": euro, "amount": "1 XOF"});
    record("POST", deposits, &app.send("POST", deposits, Some(&euros)).await, 400);

    let paid = app.send("POST", transfers, Some(&json!({"destination": a, "amount": 30, "h1": "Loyer"}))).await;
    record("POST", transfers, &paid, 201);
    let transfer = id_of(&paid);
    let unitary = json!({"_type": "Unitary", "origin": "shop-1", "destination": a, "amount": "1 XOF"});
    record("POST", transfers, &app.send("POST", transfers, Some(&unitary)).await, 201);
    record(
        "POST",
        transfers,
        &app.send("POST", transfers, Some(&json!({"destination": a, "amount": 100_000}))).await,
        422,
    );
    record(
        "POST",
        transfers,
        &app.send("POST", transfers, Some(&json!({"destination": euro, "amount": 1}))).await,
        422,
    );
    record(
        "POST",
        transfers,
        &app.send("POST", transfers, Some(&json!({"source": a, "destination": a, "amount": 1}))).await,
        400,
    );
    let both = json!({"source": a, "origin": a, "destination": b, "amount": 1});
    record("POST", transfers, &app.send("POST", transfers, Some(&both)).await, 400);

    // A quasi-transfer the sender reserves (`using`), received by a wallet named then.
    let made =
        app.send("POST", quasi, Some(&json!({"using": a, "amount": 10, "expire": "after 2h", "h1": "Cadeau"}))).await;
    record("POST", quasi, &made, 201);
    let qt = id_of(&made);
    let path = format!("/v1.0/quasi-transfers/{qt}");
    record("POST", quasi_command, &app.send("POST", &format!("{path}/receive"), None).await, 400);
    let receive = json!({"id": qt, "using": b});
    let received = app.send("POST", &format!("{path}/receive"), Some(&receive)).await;
    assert_eq!(received.body["parentType"], "QuasiTransfer", "receiving answers the Attempt");
    record("POST", quasi_command, &received, 200);
    record("POST", quasi_command, &app.send("POST", &format!("{path}/receive"), Some(&receive)).await, 200);
    record("POST", quasi_command, &app.send("POST", &format!("{path}/cancel"), None).await, 409);
    record("POST", quasi_command, &app.send("POST", &format!("{path}/keep"), None).await, 400);
    let unknown = format!("/v1.0/quasi-transfers/{}/cancel", uuid::Uuid::new_v4());
    record("POST", quasi_command, &app.send("POST", &unknown, None).await, 404);
    let into_euros = app.send("POST", quasi, Some(&json!({"source": a, "amount": 1}))).await;
    record("POST", quasi, &into_euros, 201);
    let into_euros = format!("/v1.0/quasi-transfers/{}", id_of(&into_euros));
    record(
        "POST",
        quasi_command,
        &app.send("POST", &format!("{into_euros}/receive"), Some(&json!({"using": euro}))).await,
        422,
    );
    let cancelled = app.send("POST", &format!("{into_euros}/cancel"), None).await;
    assert_eq!(cancelled.body["status"]["cancelled"]["afterTimeout"], false);
    record("POST", quasi_command, &cancelled, 200);
    let past = json!({"using": a, "amount": 1, "expire": "on 2000-01-01T00:00:00Z"});
    record("POST", quasi, &app.send("POST", quasi, Some(&past)).await, 400);

    // Fund requests the asker creates (`using`): one too big for the payer, cancelled; one sent.
    let asked = app.send("POST", requests, Some(&json!({"using": b, "amount": 500}))).await;
    record("POST", requests, &asked, 201);
    let path = format!("/v1.0/fund-requests/{}", id_of(&asked));
    record("POST", request_command, &app.send("POST", &format!("{path}/send"), Some(&json!({"using": a}))).await, 422);
    record("POST", request_command, &app.send("POST", &format!("{path}/cancel"), None).await, 200);
    record("POST", request_command, &app.send("POST", &format!("{path}/send"), Some(&json!({"using": a}))).await, 409);
    let small =
        app.send("POST", requests, Some(&json!({"using": "shop-1", "amount": "5 XOF", "expire": "after 7d"}))).await;
    record("POST", requests, &small, 201);
    let fund_request = id_of(&small);
    let sent = app
        .send(
            "POST",
            &format!("/v1.0/fund-requests/{fund_request}/send"),
            Some(&json!({"id": fund_request, "using": a})),
        )
        .await;
    assert_eq!(sent.body["parentType"], "FundRequest", "sending answers the Attempt");
    record("POST", request_command, &sent, 200);

    // Reading, listing and annotating the movements.
    record("GET", deposit_one, &app.send("GET", &format!("/v1.0/deposits/{deposit}"), None).await, 200);
    record("GET", deposit_one, &app.send("GET", "/v1.0/deposits/dep-1", None).await, 200);
    record("GET", deposit_one, &app.send("GET", "/v1.0/deposits/dep-2", None).await, 409);
    record("GET", deposit_one, &app.send("GET", "/v1.0/deposits/dep-404", None).await, 404);
    record("GET", deposit_one, &app.send("GET", &format!("/v1.0/deposits/{transfer}"), None).await, 404);
    let notes = json!({"id": deposit, "set": {"description": "first cash-in", "h1": {"fr": "Dépôt", "en": "Deposit"}},
                       "remove": ["foreignData"]});
    let patched = app.send("PATCH", &format!("/v1.0/deposits/{deposit}"), Some(&notes)).await;
    assert_eq!(patched.body["description"], "first cash-in");
    record("PATCH", deposit_one, &patched, 200);
    let wrong_id = json!({"id": transfer, "set": {"description": "x"}});
    record("PATCH", deposit_one, &app.send("PATCH", &format!("/v1.0/deposits/{deposit}"), Some(&wrong_id)).await, 400);
    record(
        "PATCH",
        deposit_one,
        &app.send("PATCH", "/v1.0/deposits/dep-2", Some(&json!({"remove": ["h1"]}))).await,
        409,
    );
    let page = app.send("GET", "/v1.0/deposits?limit=1", None).await;
    record("GET", deposit_list, &page, 200);
    let next = page.body["pagination"]["nextPage"]["queryString"].as_str().expect("a next page").to_owned();
    record("GET", deposit_list, &app.send("GET", &format!("/v1.0/deposits{next}"), None).await, 200);
    record("GET", deposit_list, &app.send("GET", "/v1.0/deposits?filter=foreignId%20%3D%20dep-1", None).await, 400);
    record("GET", deposit_list, &app.send("GET", "/v1.0/deposits?sortBy=foreignId:ASC", None).await, 400);
    record("GET", transfer_one, &app.send("GET", &format!("/v1.0/transfers/{transfer}"), None).await, 200);
    record("GET", transfer_list, &app.send("GET", "/v1.0/transfers?sortBy=createdTime:DESC", None).await, 200);
    record("GET", quasi_one, &app.send("GET", &format!("/v1.0/quasi-transfers/{qt}"), None).await, 200);
    record("GET", quasi_list, &app.send("GET", "/v1.0/quasi-transfers", None).await, 200);
    record("GET", request_one, &app.send("GET", &format!("/v1.0/fund-requests/{fund_request}"), None).await, 200);
    record("GET", requests, &app.send("GET", "/v1.0/fund-requests?limit=100", None).await, 200);
    let described = json!({"set": {"foreignData": "{\"invoice\": 12}"}});
    let path = format!("/v1.0/fund-requests/{fund_request}");
    record("PATCH", request_one, &app.send("PATCH", &path, Some(&described)).await, 200);

    // The attempts and transactions the movements left.
    let attempt_id = first.body["attempt"]["id"].as_str().expect("an attempt").to_owned();
    record("GET", attempt, &app.send("GET", &format!("/v1.0/attempts/{attempt_id}"), None).await, 200);
    record("GET", attempt, &app.send("GET", &format!("/v1.0/attempts/a-{}", uuid::Uuid::new_v4()), None).await, 404);
    let listed = app.send("GET", "/v1.0/transactions?limit=100", None).await;
    record("GET", transactions, &listed, 200);
    let items = listed.body["items"].as_array().expect("items").clone();
    assert!(items.iter().any(|t| t["details"]["_type"] == "MobileMoneyTransfer"), "the mobile-money deposit's");
    let first_transaction = items[0]["id"].as_str().expect("a transaction").to_owned();
    let path = format!("/v1.0/transactions/{first_transaction}");
    record("GET", transaction, &app.send("GET", &path, None).await, 200);
    let set = json!({"id": first_transaction, "set": {"description": "reconciled"}});
    record("PATCH", transaction, &app.send("PATCH", &path, Some(&set)).await, 200);
    // A transaction always has a title (FPay's Transaction requires it): set, never removed.
    record("PATCH", transaction, &app.send("PATCH", &path, Some(&json!({"remove": ["h1"]}))).await, 400);
    record("GET", transaction, &app.send("GET", &path, None).await, 200);
    record("GET", transaction, &app.send("GET", "/v1.0/transactions/not-a-transaction", None).await, 404);
    record(
        "GET",
        transactions,
        &app.send("GET", "/v1.0/transactions?sortBy=createdTime:DESC&limit=2", None).await,
        200,
    );

    record("GET", wallet, &app.send("GET", "/v1.0/wallets/c-1", None).await, 200);
    record("GET", wallet, &app.send("GET", "/v1.0/wallets/c-404", None).await, 404);
    let patch = json!({"id": a, "set": {"name": "Holidays"}, "remove": ["description", "foreignData"]});
    record("PATCH", wallet, &app.send("PATCH", &format!("/v1.0/wallets/{a}"), Some(&patch)).await, 200);
    let older = json!({"change": {"description": "older word"}});
    record("PATCH", wallet, &app.send("PATCH", &format!("/v1.0/wallets/{a}"), Some(&older)).await, 200);
    record(
        "PATCH",
        wallet,
        &app.send("PATCH", &format!("/v1.0/wallets/{a}"), Some(&json!({"remove": ["name"]}))).await,
        400,
    );
    let page = app.send("GET", "/v1.0/wallets?limit=1&sortBy=name:ASC,createdTime:DESC", None).await;
    record("GET", wallets, &page, 200);
    let next = page.body["pagination"]["nextPage"]["queryString"].as_str().expect("a next page");
    let next = next.rsplit_once("&page=").expect("a page token last").1.to_owned();
    let second =
        app.send("GET", &format!("/v1.0/wallets?limit=1&sortBy=name:ASC,createdTime:DESC&page={next}"), None).await;
    record("GET", wallets, &second, 200);
    record("GET", wallets, &app.send("GET", &format!("/v1.0/wallets?limit=1&page={next}"), None).await, 400);
    record("GET", wallets, &app.send("GET", "/v1.0/wallets?filter=name%20%3D", None).await, 400);
    validate_answers(answers).await;
}

/// A key stored as the admin tool stores it, with these limits; its id for the store's calls.
async fn key_with_limits(app: &TestApp, scopes: &[&str], limits: KeyLimits) -> (String, String) {
    let key = generate_api_key();
    let record = ApiKeyRecord {
        key_id: pocketbook_tests::app::unique("key"),
        project_id: ProjectId::parse(&app.project).expect("project"),
        scopes: scopes.iter().map(|scope| scope.to_string()).collect(),
        created_at: Millis::from_datetime(chrono::Utc::now()),
    };
    let hash = hash_api_key(&key);
    let new = NewApiKey { hash: &hash, record: &record, signing_secret: None, limits, prefix: &key[..8] };
    app.store.insert_new_api_key(&new).await.expect("store the API key");
    (key, record.key_id)
}

/// A request with exactly this key, Content-Type and body.
async fn typed(app: &TestApp, method: &str, path: &str, key: &str, content_type: &str, body: &str) -> Answer {
    let request = reqwest::Client::new()
        .request(method.parse().expect("method"), format!("{}{path}", app.url))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(body.to_owned());
    into_answer(request.send().await.expect("request reaches the gateway")).await
}

#[tokio::test]
async fn media_type_and_key_lifecycle_refusals_conform_to_openapi_yaml() {
    // A body that is not JSON (nor, on Juspay's routes, a form), a revoked key, a key past its
    // end date and a key over its rate: schemathesis sends JSON and forms with a key that works.
    let app = TestApp::spawn().await;
    let balance = app.new_balance().await;
    let mut answers = Vec::new();
    let mut record = |method: &str, template: &str, answer: &Answer, status: u16, code: &str| {
        assert_eq!(answer.status, status, "{method} {template}: {}", answer.body);
        let found = answer.body["error"]["code"].as_str().or(answer.body["error_code"].as_str());
        assert_eq!(found, Some(code), "{method} {template}: {}", answer.body);
        answers.push(documented(method, template, answer));
    };

    // 415, in each facade's error body.
    let key = app.api_key.clone();
    let json_body = r#"{"balanceType": "EUR"}"#;
    let plain = typed(&app, "POST", "/balances", &key, "text/plain", json_body).await;
    record("POST", "/balances", &plain, 415, "UNSUPPORTED_MEDIA_TYPE");
    let form = typed(&app, "POST", "/v1.0/wallets", &key, "application/x-www-form-urlencoded", "name=Alice").await;
    record("POST", "/v1.0/wallets", &form, 415, "UNSUPPORTED_MEDIA_TYPE");
    let operation = typed(
        &app,
        "POST",
        &format!("/balances/{balance}/operations"),
        &key,
        "application/xml",
        "<op amount='1' type='INC'/>",
    )
    .await;
    record("POST", "/balances/{balanceId}/operations", &operation, 415, "UNSUPPORTED_MEDIA_TYPE");
    let juspay = typed(&app, "POST", "/customers", &key, "text/plain", "object_reference_id=c1").await;
    assert_eq!(juspay.body["status"], "invalid_request_error", "Juspay's error body: {}", juspay.body);
    record("POST", "/customers", &juspay, 415, "UNSUPPORTED_MEDIA_TYPE");

    // 401 KEY_REVOKED: revoked before its first use, so no cache holds it.
    let project = ProjectId::parse(&app.project).expect("project");
    let now = Millis::from_datetime(chrono::Utc::now());
    let (revoked, key_id) = key_with_limits(&app, &["read", "write"], KeyLimits::default()).await;
    let limited = app.store.limit_api_key(&project, &key_id, KeyLimitChange::Revoke(now)).await;
    assert!(limited.expect("revoke the key"), "the key was revoked");
    let auth = format!("Bearer {revoked}");
    let headers = [("authorization", auth.as_str())];
    let read = app.send_as("GET", &format!("/balances/{balance}"), None, &headers).await;
    record("GET", "/balances/{balanceId}", &read, 401, "KEY_REVOKED");
    record("GET", "/v1.0/wallets", &app.send_as("GET", "/v1.0/wallets", None, &headers).await, 401, "KEY_REVOKED");
    // Juspay's routes answer 401s in Pocketbook's body, as every 401.
    record("GET", "/orders", &app.send_as("GET", "/orders", None, &headers).await, 401, "KEY_REVOKED");
    let body = json!({"name": "Revoked"});
    let write = app.send_as("POST", "/v1.0/wallets", Some(&body), &headers).await;
    record("POST", "/v1.0/wallets", &write, 401, "KEY_REVOKED");

    // 401 KEY_EXPIRED: an end date in the past.
    let ended = KeyLimits { valid_until: Some(Millis::from_epoch_ms(now.epoch_ms() - 1_000)), ..KeyLimits::default() };
    let (expired, _) = key_with_limits(&app, &["read"], ended).await;
    let auth = format!("Bearer {expired}");
    let headers = [("authorization", auth.as_str())];
    let read = app.send_as("GET", &format!("/balances/{balance}"), None, &headers).await;
    record("GET", "/balances/{balanceId}", &read, 401, "KEY_EXPIRED");
    let customer = app.send_as("GET", "/customers/nobody", None, &headers).await;
    record("GET", "/customers/{customer_id}", &customer, 401, "KEY_EXPIRED");

    // 429 RATE_LIMITED with Retry-After: one request a minute, so the second is refused, in
    // each facade's body. All in one minute window: wait for the next one if this one ends soon.
    let into_minute = Millis::from_datetime(chrono::Utc::now()).epoch_ms().rem_euclid(60_000);
    if into_minute > 50_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into_minute + 250) as u64)).await;
    }
    let once = KeyLimits { rate_per_minute: Some(1), ..KeyLimits::default() };
    let (limited, _) = key_with_limits(&app, &["read", "write"], once).await;
    let auth = format!("Bearer {limited}");
    let headers = [("authorization", auth.as_str())];
    let first = app.send_as("GET", &format!("/balances/{balance}"), None, &headers).await;
    assert_eq!(first.status, 200, "the first request of the minute: {}", first.body);
    let busy_route = app.send_as("GET", &format!("/balances/{balance}"), None, &headers).await;
    let retry_after: u32 = busy_route.header("retry-after").and_then(|s| s.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    record("GET", "/balances/{balanceId}", &busy_route, 429, "RATE_LIMITED");
    let listing = app.send_as("GET", "/v1.0/deposits", None, &headers).await;
    assert!(listing.header("retry-after").is_some());
    record("GET", "/v1.0/deposits", &listing, 429, "RATE_LIMITED");
    let orders = app.send_as("GET", "/orders", None, &headers).await;
    assert_eq!(orders.body["status"], "error", "Juspay's error body: {}", orders.body);
    record("GET", "/orders", &orders, 429, "RATE_LIMITED");
    let body = json!({"amount": 1, "type": "INC"});
    let operate = app.send_as("POST", &format!("/balances/{balance}/operations"), Some(&body), &headers).await;
    record("POST", "/balances/{balanceId}/operations", &operate, 429, "RATE_LIMITED");

    validate_answers(answers).await;
}
