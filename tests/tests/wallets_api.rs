//! The HTTP contract of the FPay-style wallets (issue 5), end to end through the real function
//! binaries: every route, every error the contract lists, the exact JSON shapes, idempotent
//! replays, the repeat-command rule, one main wallet under concurrent first requests, and
//! receive racing cancel.

use futures_util::future::join_all;
use pocketbook::domain::names::ProjectId;
use pocketbook::domain::time::Millis;
use pocketbook::edge::auth::{generate_api_key, hash_api_key};
use pocketbook::store::ApiKeyRecord;
use pocketbook_tests::gateway::percent_encode as enc;
use pocketbook_tests::{Answer, AppOptions, TestApp};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// An exact amount.
fn d(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("an amount")
}

/// A JSON number as the API writes it: exact, whole numbers without a fraction.
fn num(x: Decimal) -> Value {
    serde_json::from_str(&x.normalize().to_string()).expect("a JSON number")
}

fn pocket(available: Decimal, locked_in: Decimal, locked_out: Decimal, input: Decimal, output: Decimal) -> Value {
    json!({
        "balance": {"available": num(available), "lockedIn": num(locked_in), "lockedOut": num(locked_out)},
        "volume": {"input": num(input), "output": num(output), "total": num(input + output)},
    })
}

/// An API key whose id the test knows (it shows up as `creator.authAccessId`).
async fn key_with_id(app: &TestApp, project: &str, scopes: &[&str]) -> (String, String) {
    let key = generate_api_key();
    let key_id = pocketbook_tests::app::unique("key");
    let record = ApiKeyRecord {
        key_id: key_id.clone(),
        project_id: ProjectId::parse(project).expect("project id"),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: Millis::from_epoch_ms(0),
    };
    app.store.insert_api_key(&hash_api_key(&key), &record).await.expect("store the API key");
    (key, key_id)
}

async fn send_with_key(app: &TestApp, method: &str, path: &str, body: Option<&Value>, key: &str) -> Answer {
    app.send_as(method, path, body, &[("authorization", &format!("Bearer {key}"))]).await
}

async fn post(app: &TestApp, path: &str, body: Value) -> Answer {
    app.send("POST", path, Some(&body)).await
}

async fn post_keyed(app: &TestApp, path: &str, body: &Value, idempotency_key: &str) -> Answer {
    let auth = format!("Bearer {}", app.api_key);
    app.send_as("POST", path, Some(body), &[("authorization", &auth), ("idempotency-key", idempotency_key)]).await
}

async fn create(app: &TestApp, body: Value) -> Value {
    let answer = post(app, "/v1.0/wallets", body.clone()).await;
    assert_eq!(answer.status, 201, "POST /v1.0/wallets {body}: {}", answer.body);
    answer.body
}

/// A new XOF wallet; its id.
async fn new_wallet(app: &TestApp, name: &str) -> String {
    id(&create(app, json!({"name": name})).await)
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_owned()
}

async fn wallet(app: &TestApp, identifier: &str) -> Value {
    let answer = app.send("GET", &format!("/v1.0/wallets/{}", enc(identifier)), None).await;
    assert_eq!(answer.status, 200, "GET /wallets/{identifier}: {}", answer.body);
    answer.body
}

async fn pockets(app: &TestApp, identifier: &str) -> Value {
    wallet(app, identifier).await["mainPocket"].clone()
}

async fn deposit(app: &TestApp, destination: &str, amount: Decimal) -> Value {
    let answer = post(app, "/v1.0/deposits/initiate", json!({"destination": destination, "amount": num(amount)})).await;
    assert_eq!(answer.status, 201, "deposit {amount} to {destination}: {}", answer.body);
    answer.body
}

async fn quasi_transfer(app: &TestApp, source: &str, destination: &str, amount: Decimal) -> String {
    let answer = post(
        app,
        "/v1.0/quasi-transfers/initiate",
        json!({"source": source, "destination": destination, "amount": num(amount)}),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    id(&answer.body)
}

async fn command(app: &TestApp, kind: &str, movement: &str, command: &str) -> Answer {
    app.send("POST", &format!("/v1.0/{kind}/{movement}/{command}"), None).await
}

/// A movement as `GET /v1.0/<kind>/<id>` answers it.
async fn movement(app: &TestApp, kind: &str, id: &str) -> Value {
    let answer = app.send("GET", &format!("/v1.0/{kind}/{id}"), None).await;
    assert_eq!(answer.status, 200, "GET /v1.0/{kind}/{id}: {}", answer.body);
    answer.body
}

/// The wallet a movement's `source` or `destination` (FPay's `Single`, of the movement's
/// amount) names; `None` when it has none.
fn side(movement: &Value, key: &str) -> Option<String> {
    let side = movement.get(key)?;
    assert_eq!(side["_type"], "Single", "{key}: {movement}");
    assert_eq!(side["amount"], movement["amount"], "{key}: {movement}");
    let value = side["account"]["identifier"]["value"].as_str();
    Some(value.unwrap_or_else(|| panic!("no identifier in {key}: {movement}")).to_owned())
}

/// A movement's amount, `{value, currency}`: its value.
fn value(movement: &Value) -> Value {
    assert_eq!(movement["amount"]["currency"]["code"], movement["balanceType"], "{movement}");
    movement["amount"]["value"].clone()
}

/// The Attempt a receive or send answers, for `movement` of `kind` (FPay's `parentType`).
fn assert_attempt(attempt: &Value, kind: &str, movement: &str) {
    let expected = set(&["id", "url", "createdTime", "parentType", "parentId", "status", "validations"]);
    assert_eq!(keys(attempt), expected, "{attempt}");
    assert_eq!(attempt["id"], format!("a-{movement}"), "{attempt}");
    assert!(attempt["url"].as_str().unwrap().ends_with(&format!("/v1.0/attempts/a-{movement}")), "{attempt}");
    assert_eq!((attempt["parentType"].as_str(), attempt["parentId"].as_str()), (Some(kind), Some(movement)));
    assert_eq!(attempt["status"], json!({"_type": "Successful"}), "{attempt}");
    assert_eq!(attempt["validations"], json!([]), "{attempt}");
    time_object(&attempt["createdTime"], "createdTime");
}

fn assert_error(answer: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!((answer.status, answer.error_code()), (status, Some(code)), "{context}: {}", answer.body);
    assert!(answer.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{context}: {}", answer.body);
}

fn assert_validation(answer: &Answer, field: &str, context: &str) {
    assert_error(answer, 400, "VALIDATION_ERROR", context);
    assert_eq!(answer.body["error"]["field"], field, "{context}: {}", answer.body);
}

/// `{ "iso8601": "2026-11-21T13:00:00.000Z", "timestamp": { "milliseconds", "seconds" } }`;
/// its milliseconds.
fn time_object(value: &Value, context: &str) -> i64 {
    let keys: BTreeSet<&str> = value.as_object().expect(context).keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["iso8601", "timestamp"]), "{context}: {value}");
    let stamp_keys: BTreeSet<&str> =
        value["timestamp"].as_object().expect(context).keys().map(String::as_str).collect();
    assert_eq!(stamp_keys, BTreeSet::from(["milliseconds", "seconds"]), "{context}: {value}");
    let ms = value["timestamp"]["milliseconds"].as_i64().expect("whole milliseconds");
    assert_eq!(value["timestamp"]["seconds"].as_i64(), Some(ms.div_euclid(1000)), "{context}: {value}");
    let iso = value["iso8601"].as_str().expect("iso8601 text");
    let expected = chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    assert_eq!(iso, expected, "{context}: the ISO form, to the millisecond, in UTC");
    ms
}

/// `"key":number` appears in the text exactly so (no trailing zeros, no exponent).
fn assert_written(text: &str, key: &str, number: &str) {
    let needle = format!("\"{key}\":{number}");
    let found =
        text.match_indices(&needle).any(|(at, _)| matches!(text[at + needle.len()..].chars().next(), Some(',' | '}')));
    assert!(found, "{key} is written exactly as {number} in {text}");
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const WALLET_KEYS: [&str; 13] = [
    "id",
    "url",
    "mars",
    "man",
    "name",
    "description",
    "foreignId",
    "foreignData",
    "isMain",
    "creator",
    "createdTime",
    "mainPocket",
    "balanceType",
];

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Checks a Movement's shape (FPay's Deposit, Transfer, QuasiTransfer or FundRequest); the
/// keys it must have beyond the ones its kind and status always have.
fn assert_movement(movement: &Value, kind: &str, status: &str, extra: &[&str]) {
    let mut expected = set(&[
        "id",
        "type",
        "url",
        "creator",
        "createdTime",
        "updatedTime",
        "fees",
        "amount",
        "balanceType",
        "sending",
        "status",
    ]);
    let pending_kind = matches!(kind, "QuasiTransfer" | "FundRequest");
    expected.extend(
        match kind {
            "QuasiTransfer" => &["source", "securePay"][..],
            "FundRequest" => &["destination", "securePay"][..],
            _ => &["source", "destination", "attempt"][..],
        }
        .iter()
        .map(|s| s.to_string()),
    );
    if status != "Processing" {
        expected.insert("completedTime".into());
    }
    expected.extend(extra.iter().map(|s| s.to_string()));
    assert_eq!(keys(movement), expected, "{movement}");
    let id = movement["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{movement}");
    assert_eq!(movement["type"], kind);
    assert_eq!(movement["status"]["_type"], status, "{movement}");
    let path = match kind {
        "Deposit" => "deposits",
        "Transfer" => "transfers",
        "QuasiTransfer" => "quasi-transfers",
        _ => "fund-requests",
    };
    assert!(movement["url"].as_str().unwrap().ends_with(&format!("/v1.0/{path}/{id}")), "{movement}");
    assert_eq!(movement["creator"]["_type"], "Api", "{movement}");
    let currency = movement["amount"]["currency"].clone();
    assert_eq!(
        movement["fees"],
        json!({"value": {"fixe": 0, "percent": 0}, "amount": {"value": 0, "currency": currency}})
    );
    let sending = if status == "Successful" { "TotallyDone" } else { "NotYetDone" };
    assert_eq!(movement["sending"], sending, "{movement}");
    match status {
        "Processing" => assert!(movement["status"]["reason"]["en"].is_string(), "{movement}"),
        "Failure" => assert!(movement["status"]["cancelled"]["afterTimeout"].is_boolean(), "{movement}"),
        _ => assert_eq!(keys(&movement["status"]), set(&["_type"]), "{movement}"),
    }
    if pending_kind {
        let (purpose, command) = if kind == "QuasiTransfer" { ("Receive", "receive") } else { ("Send", "send") };
        let secure = &movement["securePay"];
        assert_eq!(secure["purpose"], json!({"_type": purpose}), "{movement}");
        assert!(secure["link"].as_str().unwrap().ends_with(&format!("/v1.0/{path}/{id}/{command}")), "{movement}");
        assert_eq!(secure["qrCode"]["src"], secure["link"], "{movement}");
    } else {
        assert_eq!(movement["attempt"], json!({"id": format!("a-{id}")}), "{movement}");
    }
    let created = time_object(&movement["createdTime"], "createdTime");
    let updated = time_object(&movement["updatedTime"], "updatedTime");
    assert!(updated >= created, "{movement}");
    if let Some(completed) = movement.get("completedTime") {
        let completed = time_object(completed, "completedTime");
        assert!((created..=updated).contains(&completed), "{movement}");
    }
}

#[tokio::test]
async fn a_created_wallet_has_exactly_the_contract_shape() {
    let app = TestApp::spawn().await;
    let (key, key_id) = key_with_id(&app, &app.project, &["read", "write"]).await;
    let before = now_ms();
    let body = json!({
        "name": "Savings",
        "description": "for the holidays",
        "foreignId": "customer-42",
        "foreignData": "{\"tier\":\"gold\"}",
        "balanceType": "XOF",
    });
    let answer = send_with_key(&app, "POST", "/v1.0/wallets", Some(&body), &key).await;
    let after = now_ms();
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let created = answer.body;
    assert_eq!(keys(&created), set(&WALLET_KEYS), "{created}");
    let wallet_id = id(&created);
    assert_eq!(uuid::Uuid::parse_str(&wallet_id).unwrap().to_string(), wallet_id, "a lower-case hyphenated UUID");
    assert_eq!(created["url"], format!("{}/v1.0/wallets/{wallet_id}", app.url));
    assert_eq!(created["name"], "Savings");
    assert_eq!(created["description"], "for the holidays");
    assert_eq!(created["foreignId"], "customer-42");
    assert_eq!(created["foreignData"], "{\"tier\":\"gold\"}", "a string the caller owns, given back as it was");
    assert_eq!(created["isMain"], false);
    assert_eq!(created["creator"], json!({"_type": "Api", "accountId": app.project, "authAccessId": key_id}));
    let ms = time_object(&created["createdTime"], "createdTime");
    assert!((before - 1000..=after + 1000).contains(&ms), "{ms} is about now ({before}..{after})");
    assert_eq!(created["mainPocket"], pocket(d("0.0"), d("0.0"), d("0.0"), d("0.0"), d("0.0")));
    assert_eq!(created["balanceType"], "XOF");

    assert_eq!(wallet(&app, &wallet_id).await, created, "GET by id answers the same Wallet");
    assert_eq!(wallet(&app, "customer-42").await, created, "GET by foreignId answers the same Wallet");
    // Its two short names, each naming it as its id does (the mars in any letter case).
    let (mars, man) = (created["mars"]["alpha"].as_str().unwrap(), created["man"]["alpha"].as_str().unwrap());
    assert!(pocketbook::domain::wallet_numbers::Mars::parse(mars).is_some(), "{mars}");
    assert!(pocketbook::domain::wallet_numbers::Man::parse(man).is_some(), "{man}");
    assert_eq!(wallet(&app, mars).await, created, "GET by mars");
    assert_eq!(wallet(&app, &mars.to_lowercase()).await, created, "GET by mars, lower case");
    assert_eq!(wallet(&app, man).await, created, "GET by man");

    // Only a name: the optional fields are absent (not null), XOF by default.
    let minimal = create(&app, json!({"name": "Pocket money"})).await;
    assert_eq!(
        keys(&minimal),
        set(&["id", "url", "mars", "man", "name", "isMain", "creator", "createdTime", "mainPocket", "balanceType"]),
        "{minimal}"
    );
    assert_eq!(minimal["balanceType"], "XOF");
    let euros = create(&app, json!({"name": "Euros", "balanceType": "EUR"})).await;
    assert_eq!(euros["balanceType"], "EUR");

    // The contract's example pockets: 12.5 in, 2 reserved for another wallet.
    let other = new_wallet(&app, "Other").await;
    deposit(&app, &wallet_id, d("12.5")).await;
    quasi_transfer(&app, &wallet_id, &other, d("2.0")).await;
    let got = wallet(&app, &wallet_id).await;
    assert_eq!(got["mainPocket"], pocket(d("10.5"), d("0.0"), d("2.0"), d("12.5"), d("2.0")), "{got}");
    assert_eq!(pockets(&app, &other).await, pocket(d("0.0"), d("2.0"), d("0.0"), d("0.0"), d("0.0")));
    let text = app.get_text(&format!("/v1.0/wallets/{wallet_id}")).await;
    for (key, number) in [
        ("available", "10.5"),
        ("lockedIn", "0"),
        ("lockedOut", "2"),
        ("input", "12.5"),
        ("output", "2"),
        ("total", "14.5"),
    ] {
        assert_written(&text, key, number);
    }

    // The short names name it as a movement's source or destination too.
    let by_man = app.send("POST", "/v1.0/deposits/initiate", Some(&json!({"destination": man, "amount": 5}))).await;
    assert_eq!((by_man.status, side(&by_man.body, "destination")), (201, Some(wallet_id.clone())), "{}", by_man.body);
    let moved = json!({"source": mars, "destination": "customer-42", "amount": 5});
    assert_eq!(app.send("POST", "/v1.0/transfers/initiate", Some(&moved)).await.status, 400, "the same wallet twice");
}

#[tokio::test]
async fn a_direct_invocation_answers_a_wallet_without_url_or_key_id() {
    let app = TestApp::spawn().await;
    let (_, created) = app
        .function("create-wallet")
        .invoke_json(&json!({"projectId": app.project, "name": "Direct"}))
        .await
        .expect("a direct invocation");
    assert_eq!(created["name"], "Direct", "{created}");
    assert!(created.get("url").is_none(), "no url without an HTTP request: {created}");
    assert_eq!(created["creator"]["accountId"], app.project.as_str());
    assert!(created["creator"].get("authAccessId").is_none(), "no key, no key id: {created}");
    let wallet_id = id(&created);
    let (_, got) = app
        .function("get-wallet")
        .invoke_json(&json!({"projectId": app.project, "identifier": wallet_id}))
        .await
        .expect("a direct invocation");
    assert_eq!(got, created);
    let over_http = wallet(&app, &wallet_id).await;
    assert_eq!(over_http["url"], format!("{}/v1.0/wallets/{wallet_id}", app.url));
}

#[tokio::test]
async fn invalid_wallet_bodies_are_400s_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "bell\u{7}"}), "name"),
        (json!({"name": "new\nline"}), "name"),
        (json!({"name": 7}), "name"),
        (json!({"name": null}), "name"),
        (json!({"name": "ok", "description": "d".repeat(1001)}), "description"),
        (json!({"name": "ok", "description": 5}), "description"),
        (json!({"name": "ok", "foreignData": "f".repeat(4097)}), "foreignData"),
        (json!({"name": "ok", "foreignData": {"tier": "gold"}}), "foreignData"),
        (json!({"name": "ok", "foreignId": ""}), "foreignId"),
        (json!({"name": "ok", "foreignId": "a#b"}), "foreignId"),
        (json!({"name": "ok", "foreignId": "x".repeat(101)}), "foreignId"),
        (json!({"name": "ok", "foreignId": 42}), "foreignId"),
        (json!({"name": "ok", "balanceType": "xof"}), "balanceType"),
        (json!({"name": "ok", "balanceType": "XO"}), "balanceType"),
        (json!({"name": "ok", "balanceType": "XOFF"}), "balanceType"),
        (json!({"name": "ok", "isMain": true}), "isMain"),
        (json!({"name": "ok", "id": "6f1c8a52-4a9e-4d47-9b1e-0d5b8f8f6a11"}), "id"),
        (json!({"name": "ok", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let answer = post(&app, "/v1.0/wallets", body.clone()).await;
        assert_validation(&answer, field, &format!("POST /v1.0/wallets {body}"));
    }
    for raw in ["{", "[]", "null", "\"Savings\""] {
        let answer = app.send_raw("POST", "/v1.0/wallets", raw.to_owned(), &[]).await;
        assert_error(&answer, 400, "VALIDATION_ERROR", raw);
    }
    let list = app.send("GET", &format!("/v1.0/wallets?filter={}", enc("isMain = false")), None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["items"], json!([]), "no refused body created a wallet");

    // The limits themselves are fine.
    let longest = json!({
        "name": "n".repeat(100),
        "description": "d".repeat(1000),
        "foreignData": "f".repeat(4096),
        "foreignId": "i".repeat(100),
    });
    let created = create(&app, longest).await;
    assert_eq!(created["name"].as_str().unwrap().chars().count(), 100);
    let unicode = create(&app, json!({"name": "Épargne 🐷", "description": "deux lignes\nça va"})).await;
    assert_eq!(unicode["name"], "Épargne 🐷");
    assert_eq!(unicode["description"], "deux lignes\nça va", "a description may hold newlines");
}

#[tokio::test]
async fn a_foreign_id_is_unique_per_project_and_finds_its_wallet() {
    let app = TestApp::spawn().await;
    let mine = create(&app, json!({"name": "Mine", "foreignId": "customer-42"})).await;
    let again = post(&app, "/v1.0/wallets", json!({"name": "Another", "foreignId": "customer-42"})).await;
    assert_error(&again, 409, "FOREIGN_ID_TAKEN", "the same foreignId twice");
    let list = app.send("GET", &format!("/v1.0/wallets?filter={}", enc("foreignId = 'customer-42'")), None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "the refused wallet was not created");

    let other_project = pocketbook_tests::app::unique("other");
    let (other_key, _) = key_with_id(&app, &other_project, &["read", "write"]).await;
    let body = json!({"name": "Theirs", "foreignId": "customer-42"});
    let theirs = send_with_key(&app, "POST", "/v1.0/wallets", Some(&body), &other_key).await;
    assert_eq!(theirs.status, 201, "foreignIds are unique per project only: {}", theirs.body);
    assert_ne!(id(&theirs.body), id(&mine));

    assert_eq!(wallet(&app, "customer-42").await["id"], mine["id"]);
    let found = send_with_key(&app, "GET", "/v1.0/wallets/customer-42", None, &other_key).await;
    assert_eq!((found.status, found.body["id"].clone()), (200, theirs.body["id"].clone()));
    let foreign = send_with_key(&app, "GET", &format!("/v1.0/wallets/{}", id(&mine)), None, &other_key).await;
    assert_error(&foreign, 404, "NOT_FOUND", "another project's wallet id");

    for unknown in [uuid::Uuid::new_v4().to_string(), "customer-43".to_owned()] {
        let answer = app.send("GET", &format!("/v1.0/wallets/{unknown}"), None).await;
        assert_error(&answer, 404, "NOT_FOUND", &unknown);
    }
}

#[tokio::test]
async fn patch_changes_and_removes_fields_and_refuses_anything_else() {
    let app = TestApp::spawn().await;
    let created = create(
        &app,
        json!({"name": "Savings", "description": "for the holidays", "foreignId": "cust-7", "foreignData": "{}"}),
    )
    .await;
    let wallet_id = id(&created);
    let path = format!("/v1.0/wallets/{wallet_id}");

    let changed =
        app.send("PATCH", &path, Some(&json!({"change": {"name": "Rainy day", "description": "later"}}))).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let body = &changed.body;
    assert_eq!((body["name"].as_str(), body["description"].as_str()), (Some("Rainy day"), Some("later")));
    assert_eq!(body["foreignData"], "{}", "unchanged");
    for unchanged in ["id", "url", "foreignId", "isMain", "creator", "createdTime", "mainPocket", "balanceType"] {
        assert_eq!(body[unchanged], created[unchanged], "{unchanged}");
    }
    assert_eq!(wallet(&app, &wallet_id).await, changed.body, "GET shows the change");

    let removed = app.send("PATCH", &path, Some(&json!({"remove": ["description", "foreignData"]}))).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.body.get("description").is_none() && removed.body.get("foreignData").is_none(), "{}", removed.body);
    assert_eq!(removed.body["name"], "Rainy day");

    // By foreignId, a change and a removal together.
    let both = app
        .send(
            "PATCH",
            "/v1.0/wallets/cust-7",
            Some(&json!({"change": {"foreignData": "{\"v\":2}"}, "remove": ["description"]})),
        )
        .await;
    assert_eq!(both.status, 200, "{}", both.body);
    assert_eq!(both.body["foreignData"], "{\"v\":2}");
    assert_eq!(wallet(&app, &wallet_id).await, both.body);

    let before = wallet(&app, &wallet_id).await;
    let invalid = [
        json!({}),
        json!({"change": {}}),
        json!({"remove": []}),
        json!({"change": {}, "remove": []}),
        json!({"remove": ["name"]}),
        json!({"remove": ["foreignId"]}),
        json!({"remove": ["balanceType"]}),
        json!({"remove": ["colour"]}),
        json!({"remove": "description"}),
        json!({"change": {"foreignId": "cust-8"}}),
        json!({"change": {"balanceType": "EUR"}}),
        json!({"change": {"isMain": true}}),
        json!({"change": {"id": uuid::Uuid::new_v4().to_string()}}),
        json!({"change": {"colour": "red"}}),
        json!({"change": {"description": "x"}, "remove": ["description"]}),
        json!({"change": {"foreignData": "x"}, "remove": ["foreignData"]}),
        json!({"change": {"name": ""}}),
        json!({"change": {"name": "x".repeat(101)}}),
        json!({"change": {"name": null}}),
        json!({"change": {"description": "d".repeat(1001)}}),
        json!({"change": {"foreignData": "f".repeat(4097)}}),
        json!({"change": "name"}),
        json!({"name": "Top level"}),
    ];
    let mut without_field = Vec::new();
    for body in invalid {
        let answer = app.send("PATCH", &path, Some(&body)).await;
        assert_error(&answer, 400, "VALIDATION_ERROR", &format!("PATCH {body}"));
        if answer.body["error"]["field"].as_str().is_none_or(|f| f.is_empty()) {
            without_field.push(format!("PATCH {body} -> {}", answer.body));
        }
    }
    assert_eq!(wallet(&app, &wallet_id).await, before, "no refused PATCH changed anything");

    let unknown = app
        .send("PATCH", &format!("/v1.0/wallets/{}", uuid::Uuid::new_v4()), Some(&json!({"change": {"name": "x"}})))
        .await;
    assert_error(&unknown, 404, "NOT_FOUND", "PATCH an unknown wallet");
    let unknown = app.send("PATCH", "/v1.0/wallets/no-such-foreign-id", Some(&json!({"change": {"name": "x"}}))).await;
    assert_error(&unknown, 404, "NOT_FOUND", "PATCH an unknown foreignId");
    assert!(without_field.is_empty(), "every 400 names its field; these do not:\n{}", without_field.join("\n"));
}

/// One request per route, for the authentication checks: the reads name what exists (a
/// wallet, a deposit to it and that deposit's transaction), so that a key that may read them
/// gets a 200.
fn every_route(wallet_id: &str, deposit: &str, transaction: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let movement = uuid::Uuid::new_v4();
    let notes = json!({"set": {"description": "not for this key"}});
    vec![
        ("GET", format!("/v1.0/deposits/{deposit}"), None),
        ("PATCH", format!("/v1.0/deposits/{deposit}"), Some(notes.clone())),
        ("GET", "/v1.0/deposits".to_owned(), None),
        ("GET", "/v1.0/transfers".to_owned(), None),
        ("GET", "/v1.0/quasi-transfers".to_owned(), None),
        ("GET", "/v1.0/fund-requests".to_owned(), None),
        ("GET", format!("/v1.0/attempts/a-{deposit}"), None),
        ("GET", "/v1.0/transactions".to_owned(), None),
        ("GET", format!("/v1.0/transactions/{transaction}"), None),
        ("PATCH", format!("/v1.0/transactions/{transaction}"), Some(notes)),
        ("POST", format!("/v1.0/quasi-transfers/{movement}/cancel"), None),
        ("POST", format!("/v1.0/fund-requests/{movement}/cancel"), None),
        ("POST", "/v1.0/wallets".to_owned(), Some(json!({"name": "x"}))),
        ("GET", format!("/v1.0/wallets/{wallet_id}"), None),
        ("GET", "/v1.0/wallets".to_owned(), None),
        ("PATCH", format!("/v1.0/wallets/{wallet_id}"), Some(json!({"change": {"name": "y"}}))),
        ("POST", "/v1.0/deposits/initiate".to_owned(), Some(json!({"destination": wallet_id, "amount": 1}))),
        ("POST", "/v1.0/transfers/initiate".to_owned(), Some(json!({"source": wallet_id, "amount": 1}))),
        ("POST", "/v1.0/quasi-transfers/initiate".to_owned(), Some(json!({"source": wallet_id, "amount": 1}))),
        ("POST", format!("/v1.0/quasi-transfers/{movement}/receive"), None),
        ("POST", "/v1.0/fund-requests".to_owned(), Some(json!({"source": wallet_id, "amount": 1}))),
        ("POST", format!("/v1.0/fund-requests/{movement}/send"), None),
    ]
}

#[tokio::test]
async fn every_route_wants_a_key_and_writes_want_the_write_scope() {
    let app = TestApp::spawn().await;
    let wallet_id = new_wallet(&app, "Guarded").await;
    let deposited = id(&deposit(&app, &wallet_id, d("5.0")).await);
    let transactions = app.send("GET", "/v1.0/transactions", None).await;
    assert_eq!(transactions.body["items"].as_array().map(Vec::len), Some(1), "{}", transactions.body);
    let transaction = id(&transactions.body["items"][0]);
    let read_only = app.new_api_key(&app.project, &["read"]).await;
    let write_only = app.new_api_key(&app.project, &["write"]).await;
    for (method, path, body) in every_route(&wallet_id, &deposited, &transaction) {
        let context = format!("{method} {path}");
        let none = app.send_as(method, &path, body.as_ref(), &[]).await;
        assert_error(&none, 401, "UNAUTHORIZED", &format!("{context} without a key"));
        let wrong = app.send_as(method, &path, body.as_ref(), &[("authorization", "Bearer pb_not-a-real-key")]).await;
        assert_error(&wrong, 401, "UNAUTHORIZED", &format!("{context} with an unknown key"));

        let as_reader = send_with_key(&app, method, &path, body.as_ref(), &read_only).await;
        if method == "GET" {
            assert_eq!(as_reader.status, 200, "{context} needs only the read scope: {}", as_reader.body);
            let as_writer = send_with_key(&app, method, &path, body.as_ref(), &write_only).await;
            assert_error(&as_writer, 403, "FORBIDDEN", &format!("{context} with a write-only key"));
        } else {
            assert_error(&as_reader, 403, "FORBIDDEN", &format!("{context} with a read-only key"));
        }
    }
    let x_api_key =
        app.send_as("GET", &format!("/v1.0/wallets/{wallet_id}"), None, &[("x-api-key", &app.api_key)]).await;
    assert_eq!(x_api_key.status, 200, "x-api-key works too");

    // Nothing a refused request asked for happened.
    let got = wallet(&app, &wallet_id).await;
    assert_eq!(got["name"], "Guarded");
    assert_eq!(got["mainPocket"], pocket(d("5.0"), d("0.0"), d("0.0"), d("5.0"), d("0.0")));
    let listed = app.send("GET", &format!("/v1.0/wallets?filter={}", enc("isMain = false")), None).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "{}", listed.body);
    assert!(movement(&app, "deposits", &deposited).await.get("description").is_none(), "no refused PATCH wrote");
    let read = app.send("GET", &format!("/v1.0/transactions/{transaction}"), None).await;
    assert!(read.body.get("description").is_none(), "{}", read.body);
}

#[tokio::test]
async fn deposits_credit_the_destination_and_a_wallet_is_a_balance() {
    let app = TestApp::spawn().await;
    let created = create(&app, json!({"name": "Till", "foreignId": "till-1"})).await;
    let till = id(&created);

    let first =
        post(&app, "/v1.0/deposits/initiate", json!({"destination": till, "amount": 10.5, "foreignId": "order-77"}))
            .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_movement(&first.body, "Deposit", "Successful", &["foreignId"]);
    // From outside Pocketbook, an account the request did not name.
    let outside = &first.body["source"]["account"];
    assert_eq!(
        (outside["provider"]["key"].as_str(), outside["identifier"]["value"].as_str()),
        (Some("Outside"), Some("unspecified"))
    );
    assert_eq!(side(&first.body, "destination").as_deref(), Some(till.as_str()));
    assert_eq!(first.body["destination"]["account"]["balanceType"], "AvailableBalance");
    assert_eq!(first.body["destination"]["account"]["provider"]["key"], "Pocketbook");
    assert_eq!(first.body["amount"], json!({"value": 10.5, "currency": {"code": "XOF", "unit": "FCFA"}}));
    assert_eq!(first.body["balanceType"], "XOF");
    assert_eq!(first.body["foreignId"], "order-77");

    let by_foreign_id = deposit(&app, "till-1", d("2.0")).await;
    assert_eq!(
        side(&by_foreign_id, "destination").as_deref(),
        Some(till.as_str()),
        "the answer names the wallet by id"
    );
    let again =
        post(&app, "/v1.0/deposits/initiate", json!({"destination": till, "amount": 0.25, "foreignId": "order-77"}))
            .await;
    assert_eq!(again.status, 201, "a movement's foreignId need not be unique: {}", again.body);
    assert_eq!(pockets(&app, &till).await, pocket(d("12.75"), d("0.0"), d("0.0"), d("12.75"), d("0.0")));

    // The wallet id is a balance id, the same money.
    let balance = app.send("GET", &format!("/balances/{till}"), None).await;
    assert_eq!(balance.status, 200, "{}", balance.body);
    assert_eq!(balance.body["balanceId"], till.as_str());
    assert_eq!(balance.body["balanceAmount"], json!(12.75));
    assert_eq!(balance.body["balanceType"], "XOF");
    let history = app.all_transactions(&till, "asc", 2).await;
    let entries: Vec<(Value, Value)> = history.iter().map(|t| (t["type"].clone(), t["amount"].clone())).collect();
    assert_eq!(entries, vec![(json!("INC"), json!(10.5)), (json!("INC"), json!(2)), (json!("INC"), json!(0.25))]);
    // A direct INC through /balances shows in the wallet, in available and in the volume.
    assert_eq!(app.operate(&till, json!({"amount": 1, "type": "INC"})).await.status, 200);
    assert_eq!(pockets(&app, &till).await, pocket(d("13.75"), d("0.0"), d("0.0"), d("13.75"), d("0.0")));

    let invalid = [
        (r#"{"amount": 0}"#, "amount"),
        (r#"{"amount": -1}"#, "amount"),
        (r#"{"amount": "10"}"#, "amount"),
        (r#"{"amount": 0.123456789}"#, "amount"),
        (r#"{"amount": null}"#, "amount"),
        (r#"{"destination": "x"}"#, "amount"),
        (r#"{"amount": 1, "foreignId": ""}"#, "foreignId"),
        (r#"{"amount": 1, "foreignId": 77}"#, "foreignId"),
        (r#"{"amount": 1, "source": "x"}"#, "source"),
        (r#"{"amount": 1, "colour": "red"}"#, "colour"),
    ];
    for (body, field) in invalid {
        let body = body.replace("\"x\"", &format!("\"{till}\""));
        let answer = app.send_raw("POST", "/v1.0/deposits/initiate", body.clone(), &[]).await;
        assert_validation(&answer, field, &format!("POST /v1.0/deposits/initiate {body}"));
    }
    let exact = app
        .send_raw(
            "POST",
            "/v1.0/deposits/initiate",
            format!(r#"{{"destination": "{till}", "amount": 0.00000001}}"#),
            &[],
        )
        .await;
    assert_eq!(exact.status, 201, "eight decimals are fine: {}", exact.body);
    assert_written(&app.get_text(&format!("/v1.0/wallets/{till}")).await, "available", "13.75000001");

    for destination in [uuid::Uuid::new_v4().to_string(), "no-such-till".to_owned()] {
        let answer = post(&app, "/v1.0/deposits/initiate", json!({"destination": destination, "amount": 1})).await;
        assert_error(&answer, 404, "NOT_FOUND", &format!("deposit to {destination}"));
    }

    // Without a destination: the project's main wallet, made on first need.
    let to_main = post(&app, "/v1.0/deposits/initiate", json!({"amount": 3})).await;
    assert_eq!(to_main.status, 201, "{}", to_main.body);
    let main = wallet(&app, &side(&to_main.body, "destination").unwrap()).await;
    assert_eq!((main["name"].as_str(), main["isMain"].as_bool()), (Some("Main wallet"), Some(true)), "{main}");
    assert_eq!(main["balanceType"], "XOF");
    assert_eq!(main["mainPocket"], pocket(d("3.0"), d("0.0"), d("0.0"), d("3.0"), d("0.0")));
    let second = post(&app, "/v1.0/deposits/initiate", json!({"amount": 4})).await;
    assert_eq!(second.body["destination"]["account"]["identifier"]["value"], main["id"], "the same main wallet");
    assert_eq!(wallet(&app, &till).await["isMain"], false);
}

#[tokio::test]
async fn transfers_move_money_atomically_and_refuse_what_they_must() {
    let app = TestApp::spawn().await;
    let alice = id(&create(&app, json!({"name": "Alice", "foreignId": "alice"})).await);
    let bob = new_wallet(&app, "Bob").await;
    let euros = id(&create(&app, json!({"name": "Euros", "balanceType": "EUR"})).await);
    deposit(&app, &alice, d("20.0")).await;
    deposit(&app, &euros, d("20.0")).await;

    let moved = post(
        &app,
        "/v1.0/transfers/initiate",
        json!({"source": alice, "destination": bob, "amount": 7.25, "foreignId": "rent"}),
    )
    .await;
    assert_eq!(moved.status, 201, "{}", moved.body);
    assert_movement(&moved.body, "Transfer", "Successful", &["foreignId"]);
    assert_eq!(
        (side(&moved.body, "source"), side(&moved.body, "destination")),
        (Some(alice.clone()), Some(bob.clone()))
    );
    assert_eq!(value(&moved.body), json!(7.25));
    assert_eq!(pockets(&app, &alice).await, pocket(d("12.75"), d("0.0"), d("0.0"), d("20.0"), d("7.25")));
    assert_eq!(pockets(&app, &bob).await, pocket(d("7.25"), d("0.0"), d("0.0"), d("7.25"), d("0.0")));

    let by_foreign_id =
        post(&app, "/v1.0/transfers/initiate", json!({"source": "alice", "destination": bob, "amount": 0.75})).await;
    assert_eq!(by_foreign_id.status, 201, "{}", by_foreign_id.body);
    assert_eq!(side(&by_foreign_id.body, "source"), Some(alice.clone()), "named by id in the answer");
    let all_of_it =
        post(&app, "/v1.0/transfers/initiate", json!({"source": alice, "destination": bob, "amount": 12})).await;
    assert_eq!(all_of_it.status, 201, "down to exactly zero: {}", all_of_it.body);
    assert_eq!(pockets(&app, &alice).await, pocket(d("0.0"), d("0.0"), d("0.0"), d("20.0"), d("20.0")));

    let before = (pockets(&app, &alice).await, pockets(&app, &bob).await, pockets(&app, &euros).await);
    let refused =
        post(&app, "/v1.0/transfers/initiate", json!({"source": bob, "destination": alice, "amount": 20.01})).await;
    assert_error(&refused, 422, "INSUFFICIENT_FUNDS", "more than available");
    let mismatch =
        post(&app, "/v1.0/transfers/initiate", json!({"source": bob, "destination": euros, "amount": 1})).await;
    assert_error(&mismatch, 422, "BALANCE_TYPE_MISMATCH", "XOF to EUR");
    let mismatch =
        post(&app, "/v1.0/transfers/initiate", json!({"source": euros, "destination": bob, "amount": 1})).await;
    assert_error(&mismatch, 422, "BALANCE_TYPE_MISMATCH", "EUR to XOF");
    for (source, destination) in [(bob.as_str(), bob.as_str()), ("alice", alice.as_str())] {
        let same =
            post(&app, "/v1.0/transfers/initiate", json!({"source": source, "destination": destination, "amount": 1}))
                .await;
        assert_validation(&same, "destination", &format!("{source} to {destination}"));
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    let answer =
        post(&app, "/v1.0/transfers/initiate", json!({"source": unknown, "destination": bob, "amount": 1})).await;
    assert_error(&answer, 404, "NOT_FOUND", "an unknown source");
    let answer =
        post(&app, "/v1.0/transfers/initiate", json!({"source": bob, "destination": "nobody", "amount": 1})).await;
    assert_error(&answer, 404, "NOT_FOUND", "an unknown destination");
    for (body, field) in [
        (json!({"source": bob, "destination": alice}), "amount"),
        (json!({"source": bob, "destination": alice, "amount": -1}), "amount"),
        (json!({"source": bob, "destination": alice, "amount": "1"}), "amount"),
        (json!({"source": 7, "destination": alice, "amount": 1}), "source"),
        (json!({"source": bob, "destination": alice, "amount": 1, "expire": "after 1h"}), "expire"),
    ] {
        let answer = post(&app, "/v1.0/transfers/initiate", body.clone()).await;
        assert_validation(&answer, field, &format!("POST /v1.0/transfers/initiate {body}"));
    }
    let after = (pockets(&app, &alice).await, pockets(&app, &bob).await, pockets(&app, &euros).await);
    assert_eq!(after, before, "no refused transfer moved anything");

    // Omitted source or destination: the main wallet.
    let to_main = post(&app, "/v1.0/transfers/initiate", json!({"source": bob, "amount": 5})).await;
    assert_eq!(to_main.status, 201, "{}", to_main.body);
    let main = side(&to_main.body, "destination").unwrap();
    assert_eq!(wallet(&app, &main).await["isMain"], true);
    let from_main = post(&app, "/v1.0/transfers/initiate", json!({"destination": alice, "amount": 2})).await;
    assert_eq!((from_main.status, side(&from_main.body, "source")), (201, Some(main.clone())), "{}", from_main.body);
    assert_eq!(pockets(&app, &main).await, pocket(d("3.0"), d("0.0"), d("0.0"), d("5.0"), d("2.0")));
    let main_to_main = post(&app, "/v1.0/transfers/initiate", json!({"amount": 1})).await;
    assert_validation(&main_to_main, "destination", "the main wallet to itself");
    let main_to_main = post(&app, "/v1.0/transfers/initiate", json!({"destination": main, "amount": 1})).await;
    assert_validation(&main_to_main, "destination", "the main wallet to itself, named");
}

#[tokio::test]
async fn a_replayed_idempotency_key_answers_the_first_answer_and_moves_money_once() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice").await;
    let bob = new_wallet(&app, "Bob").await;
    deposit(&app, &alice, d("10.0")).await;

    let body = json!({"source": alice, "destination": bob, "amount": 4});
    let first = post_keyed(&app, "/v1.0/transfers/initiate", &body, "transfer-1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = post_keyed(&app, "/v1.0/transfers/initiate", &body, "transfer-1").await;
    assert_eq!(again.status, 201, "the same status: {}", again.body);
    assert_eq!(again.body, first.body, "the same body");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(pockets(&app, &alice).await, pocket(d("6.0"), d("0.0"), d("0.0"), d("10.0"), d("4.0")), "moved once");
    assert_eq!(pockets(&app, &bob).await, pocket(d("4.0"), d("0.0"), d("0.0"), d("4.0"), d("0.0")));
    let other = post_keyed(
        &app,
        "/v1.0/transfers/initiate",
        &json!({"source": alice, "destination": bob, "amount": 5}),
        "transfer-1",
    )
    .await;
    assert_error(&other, 409, "IDEMPOTENCY_KEY_REUSED", "the key with another body");
    assert_eq!(pockets(&app, &alice).await["balance"]["available"], json!(6));

    let deposit_body = json!({"destination": bob, "amount": 1.5});
    let d1 = post_keyed(&app, "/v1.0/deposits/initiate", &deposit_body, "deposit-1").await;
    let d2 = post_keyed(&app, "/v1.0/deposits/initiate", &deposit_body, "deposit-1").await;
    assert_eq!((d1.status, d2.status), (201, 201));
    assert_eq!(d1.body, d2.body);
    assert_eq!(pockets(&app, &bob).await["balance"]["available"], json!(5.5), "credited once");

    let wallet_body = json!({"name": "Once"});
    let w1 = post_keyed(&app, "/v1.0/wallets", &wallet_body, "wallet-1").await;
    let w2 = post_keyed(&app, "/v1.0/wallets", &wallet_body, "wallet-1").await;
    assert_eq!((w1.status, w2.status), (201, 201));
    assert_eq!(w1.body, w2.body, "the same wallet");
    let named = app.send("GET", &format!("/v1.0/wallets?filter={}", enc("name = 'Once'")), None).await;
    assert_eq!(named.body["items"].as_array().map(Vec::len), Some(1), "{}", named.body);
    let reused = post_keyed(&app, "/v1.0/wallets", &json!({"name": "Twice"}), "wallet-1").await;
    assert_error(&reused, 409, "IDEMPOTENCY_KEY_REUSED", "a wallet key with another body");

    let reserve = json!({"source": alice, "destination": bob, "amount": 1});
    let q1 = post_keyed(&app, "/v1.0/quasi-transfers/initiate", &reserve, "quasi-1").await;
    let q2 = post_keyed(&app, "/v1.0/quasi-transfers/initiate", &reserve, "quasi-1").await;
    assert_eq!((q1.status, q2.status, q1.body == q2.body), (201, 201, true), "{} / {}", q1.body, q2.body);
    assert_eq!(pockets(&app, &alice).await, pocket(d("5.0"), d("0.0"), d("1.0"), d("10.0"), d("5.0")), "reserved once");

    let ask = json!({"source": bob, "destination": alice, "amount": 2});
    let f1 = post_keyed(&app, "/v1.0/fund-requests", &ask, "fund-1").await;
    let f2 = post_keyed(&app, "/v1.0/fund-requests", &ask, "fund-1").await;
    assert_eq!((f1.status, f2.status, f1.body == f2.body), (201, 201, true), "{} / {}", f1.body, f2.body);
}

#[tokio::test]
async fn quasi_transfers_reserve_then_receive_or_cancel_once() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice").await;
    let bob = new_wallet(&app, "Bob").await;
    deposit(&app, &alice, d("100.0")).await;

    let created = post(
        &app,
        "/v1.0/quasi-transfers/initiate",
        json!({"source": alice, "destination": bob, "amount": 30, "foreignId": "order-9", "expire": "after 2h"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_movement(&created.body, "QuasiTransfer", "Processing", &["destination", "foreignId", "expire"]);
    assert_eq!(
        (side(&created.body, "source"), side(&created.body, "destination")),
        (Some(alice.clone()), Some(bob.clone()))
    );
    let created_ms = time_object(&created.body["createdTime"], "createdTime");
    assert_eq!(time_object(&created.body["expire"]["time"], "expire"), created_ms + 2 * 3_600_000, "after 2h");
    let delay = &created.body["expire"]["delay"];
    assert_eq!(
        delay,
        &json!({
            "iso8601": "PT2H",
            "seconds": 7200,
            "milliseconds": 7_200_000,
            "part": {"w": 0, "d": 0, "h": 2, "m": 0, "s": 0, "ms": 0},
        })
    );
    let qt = id(&created.body);
    assert_eq!(pockets(&app, &alice).await, pocket(d("70.0"), d("0.0"), d("30.0"), d("100.0"), d("30.0")), "reserved");
    assert_eq!(pockets(&app, &bob).await, pocket(d("0.0"), d("30.0"), d("0.0"), d("0.0"), d("0.0")));

    // Receiving answers the Attempt that did it; the quasi-transfer is Successful since.
    let received = command(&app, "quasi-transfers", &qt, "receive").await;
    assert_eq!(received.status, 200, "{}", received.body);
    assert_attempt(&received.body, "QuasiTransfer", &qt);
    let now = movement(&app, "quasi-transfers", &qt).await;
    assert_movement(&now, "QuasiTransfer", "Successful", &["destination", "foreignId", "expire"]);
    assert_eq!(now["createdTime"], created.body["createdTime"]);
    assert_eq!(now["completedTime"], received.body["createdTime"], "completed by that attempt");
    assert_eq!(side(&now, "destination"), Some(bob.clone()));
    assert_eq!(pockets(&app, &alice).await, pocket(d("70.0"), d("0.0"), d("0.0"), d("100.0"), d("30.0")));
    assert_eq!(pockets(&app, &bob).await, pocket(d("30.0"), d("0.0"), d("0.0"), d("30.0"), d("0.0")));

    // Receive again: the same record, no money. Cancel now: 409, saying how it ended.
    let repeated = command(&app, "quasi-transfers", &qt, "receive").await;
    assert_eq!(repeated.status, 200, "{}", repeated.body);
    assert_eq!(repeated.body, received.body, "the same attempt");
    let late_cancel = command(&app, "quasi-transfers", &qt, "cancel").await;
    assert_error(&late_cancel, 409, "ALREADY_RESOLVED", "cancel after receive");
    assert!(late_cancel.body["error"]["message"].as_str().unwrap().contains("Successful"), "{}", late_cancel.body);
    assert_eq!(pockets(&app, &bob).await, pocket(d("30.0"), d("0.0"), d("0.0"), d("30.0"), d("0.0")), "received once");

    let second = quasi_transfer(&app, &alice, &bob, d("20.0")).await;
    assert_eq!(pockets(&app, &alice).await, pocket(d("50.0"), d("0.0"), d("20.0"), d("100.0"), d("50.0")));
    let cancelled = command(&app, "quasi-transfers", &second, "cancel").await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_movement(&cancelled.body, "QuasiTransfer", "Failure", &["destination"]);
    assert_eq!(cancelled.body["status"]["reason"], json!({"fr": "Annulé", "en": "Cancelled"}));
    assert_eq!(cancelled.body["status"]["cancelled"], json!({"afterTimeout": false}));
    assert_eq!(
        pockets(&app, &alice).await,
        pocket(d("70.0"), d("0.0"), d("0.0"), d("120.0"), d("50.0")),
        "back to available"
    );
    assert_eq!(pockets(&app, &bob).await, pocket(d("30.0"), d("0.0"), d("0.0"), d("30.0"), d("0.0")));
    let again = command(&app, "quasi-transfers", &second, "cancel").await;
    assert_eq!((again.status, &again.body), (200, &cancelled.body), "the same cancelled quasi-transfer");
    let late_receive = command(&app, "quasi-transfers", &second, "receive").await;
    assert_error(&late_receive, 409, "ALREADY_RESOLVED", "receive after cancel");
    assert!(late_receive.body["error"]["message"].as_str().unwrap().contains("Failure"), "{}", late_receive.body);
    assert_eq!(
        pockets(&app, &alice).await,
        pocket(d("70.0"), d("0.0"), d("0.0"), d("120.0"), d("50.0")),
        "cancelled once"
    );

    // The history agrees with the volumes: reserve DEC, cancel INC on the source.
    let history = app.all_transactions(&alice, "asc", 3).await;
    let entries: Vec<(Value, Value)> = history.iter().map(|t| (t["type"].clone(), t["amount"].clone())).collect();
    assert_eq!(
        entries,
        vec![
            (json!("INC"), json!(100)),
            (json!("DEC"), json!(30)),
            (json!("DEC"), json!(20)),
            (json!("INC"), json!(20))
        ]
    );
    let history = app.all_transactions(&bob, "asc", 3).await;
    assert_eq!(history.len(), 1, "receive = one INC on the destination");
    assert_eq!((history[0]["type"].clone(), history[0]["amount"].clone()), (json!("INC"), json!(30)));
    assert_eq!(app.send("GET", &format!("/balances/{alice}"), None).await.body["balanceAmount"], json!(70));
}

#[tokio::test]
async fn quasi_transfer_requests_and_commands_are_validated() {
    let app = TestApp::spawn().await;
    let alice = id(&create(&app, json!({"name": "Alice", "foreignId": "alice"})).await);
    let bob = new_wallet(&app, "Bob").await;
    let euros = id(&create(&app, json!({"name": "Euros", "balanceType": "EUR"})).await);
    deposit(&app, &alice, d("10.0")).await;

    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let on = format!("on {}", tomorrow.format("%Y-%m-%dT%H:%M:%SZ"));
    let on_ms = tomorrow.timestamp() * 1000;
    for (expire, offset) in [
        ("after 1h30m", Some(5_400_000)),
        ("after 45s", Some(45_000)),
        ("after 90d", Some(90 * 86_400_000)),
        (on.as_str(), None),
    ] {
        let answer = post(
            &app,
            "/v1.0/quasi-transfers/initiate",
            json!({"source": alice, "destination": bob, "amount": 0.5, "expire": expire}),
        )
        .await;
        assert_eq!(answer.status, 201, "{expire}: {}", answer.body);
        let created = time_object(&answer.body["createdTime"], "createdTime");
        let expected = offset.map_or(on_ms, |offset| created + offset);
        assert_eq!(time_object(&answer.body["expire"]["time"], "expire"), expected, "{expire}");
        let delay = answer.body["expire"]["delay"]["milliseconds"].as_i64();
        assert_eq!(delay, Some(expected - created), "{expire}");
    }
    let no_expire =
        post(&app, "/v1.0/quasi-transfers/initiate", json!({"source": alice, "destination": bob, "amount": 0.5})).await;
    assert_eq!(no_expire.status, 201, "{}", no_expire.body);
    assert!(no_expire.body.get("expire").is_none(), "no expire, no expire field: {}", no_expire.body);
    assert_eq!(pockets(&app, &alice).await, pocket(d("7.5"), d("0.0"), d("2.5"), d("10.0"), d("2.5")));

    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let invalid = [
        (json!({"source": alice, "destination": bob, "amount": 1, "expire": "after 91d"}), "expire"),
        (json!({"source": alice, "destination": bob, "amount": 1, "expire": "soon"}), "expire"),
        (json!({"source": alice, "destination": bob, "amount": 1, "expire": "after 2 hours"}), "expire"),
        (json!({"source": alice, "destination": bob, "amount": 1, "expire": format!("on {yesterday}")}), "expire"),
        (json!({"source": alice, "destination": bob, "amount": 1, "expire": 3600}), "expire"),
        (json!({"source": alice, "destination": bob, "amount": 0}), "amount"),
        (json!({"source": alice, "destination": bob}), "amount"),
        (json!({"source": alice, "destination": alice, "amount": 1}), "destination"),
        (json!({"source": "alice", "destination": alice, "amount": 1}), "destination"),
        (json!({"source": alice, "destination": bob, "amount": 1, "foreignId": ""}), "foreignId"),
        (json!({"source": alice, "destination": bob, "amount": 1, "colour": "red"}), "colour"),
    ];
    for (body, field) in invalid {
        let answer = post(&app, "/v1.0/quasi-transfers/initiate", body.clone()).await;
        assert_validation(&answer, field, &format!("POST /v1.0/quasi-transfers/initiate {body}"));
    }
    let too_much =
        post(&app, "/v1.0/quasi-transfers/initiate", json!({"source": alice, "destination": bob, "amount": 7.51}))
            .await;
    assert_error(&too_much, 422, "INSUFFICIENT_FUNDS", "more than available (locked money does not count)");
    let mismatch =
        post(&app, "/v1.0/quasi-transfers/initiate", json!({"source": alice, "destination": euros, "amount": 1})).await;
    assert_error(&mismatch, 422, "BALANCE_TYPE_MISMATCH", "XOF to EUR");
    let unknown =
        post(&app, "/v1.0/quasi-transfers/initiate", json!({"source": alice, "destination": "nobody", "amount": 1}))
            .await;
    assert_error(&unknown, 404, "NOT_FOUND", "an unknown destination");
    assert_eq!(
        pockets(&app, &alice).await,
        pocket(d("7.5"), d("0.0"), d("2.5"), d("10.0"), d("2.5")),
        "no refusal reserved anything"
    );

    let qt = id(&no_expire.body);
    let bad_command = command(&app, "quasi-transfers", &qt, "accept").await;
    assert_validation(&bad_command, "command", "an unknown command");
    for kind in ["quasi-transfers", "fund-requests"] {
        let unknown = command(&app, kind, &uuid::Uuid::new_v4().to_string(), "cancel").await;
        assert_error(&unknown, 404, "NOT_FOUND", &format!("an unknown {kind}"));
    }
    let other_key = app.new_api_key(&pocketbook_tests::app::unique("other"), &["read", "write"]).await;
    let foreign = send_with_key(&app, "POST", &format!("/v1.0/quasi-transfers/{qt}/receive"), None, &other_key).await;
    assert_error(&foreign, 404, "NOT_FOUND", "another project's quasi-transfer");
    assert_eq!(pockets(&app, &bob).await, pocket(d("0.0"), d("2.5"), d("0.0"), d("0.0"), d("0.0")), "nothing received");
}

#[tokio::test]
async fn an_expired_quasi_transfer_or_fund_request_is_resolved_by_the_next_command() {
    let app = TestApp::spawn().await;
    let alice = new_wallet(&app, "Alice").await;
    let bob = new_wallet(&app, "Bob").await;
    deposit(&app, &alice, d("10.0")).await;
    let qt = post(
        &app,
        "/v1.0/quasi-transfers/initiate",
        json!({"source": alice, "destination": bob, "amount": 4, "expire": "after 1s"}),
    )
    .await;
    assert_eq!(qt.status, 201, "{}", qt.body);
    let fr = post(
        &app,
        "/v1.0/fund-requests",
        json!({"source": alice, "destination": bob, "amount": 3, "expire": "after 1s"}),
    )
    .await;
    assert_eq!(fr.status, 201, "{}", fr.body);
    assert_eq!(pockets(&app, &alice).await, pocket(d("6.0"), d("0.0"), d("4.0"), d("10.0"), d("4.0")));
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;

    let receive = command(&app, "quasi-transfers", &id(&qt.body), "receive").await;
    assert_error(&receive, 409, "ALREADY_RESOLVED", "receive after the expire time");
    assert!(receive.body["error"]["message"].as_str().unwrap().contains("Failure"), "{}", receive.body);
    assert_eq!(
        pockets(&app, &alice).await,
        pocket(d("10.0"), d("0.0"), d("0.0"), d("14.0"), d("4.0")),
        "the reservation went back"
    );
    assert_eq!(pockets(&app, &bob).await, pocket(d("0.0"), d("0.0"), d("0.0"), d("0.0"), d("0.0")));
    let cancel = command(&app, "quasi-transfers", &id(&qt.body), "cancel").await;
    assert_error(&cancel, 409, "ALREADY_RESOLVED", "cancel of an expired quasi-transfer");
    // Expired: a Failure cancelled after its timeout.
    let expired = movement(&app, "quasi-transfers", &id(&qt.body)).await;
    assert_movement(&expired, "QuasiTransfer", "Failure", &["destination", "expire"]);
    assert_eq!(
        expired["status"],
        json!({"_type": "Failure", "reason": {"fr": "Expiré", "en": "Expired"}, "cancelled": {"afterTimeout": true}})
    );

    let send = command(&app, "fund-requests", &id(&fr.body), "send").await;
    assert_error(&send, 409, "ALREADY_RESOLVED", "send after the expire time");
    let expired = movement(&app, "fund-requests", &id(&fr.body)).await;
    assert_movement(&expired, "FundRequest", "Failure", &["source", "expire"]);
    assert_eq!(expired["status"]["cancelled"], json!({"afterTimeout": true}), "{expired}");
    assert_eq!(
        pockets(&app, &alice).await,
        pocket(d("10.0"), d("0.0"), d("0.0"), d("14.0"), d("4.0")),
        "no money moved"
    );
    assert_eq!(pockets(&app, &bob).await, pocket(d("0.0"), d("0.0"), d("0.0"), d("0.0"), d("0.0")));
}

#[tokio::test]
async fn fund_requests_move_money_only_when_sent() {
    let app = TestApp::spawn().await;
    let payer = id(&create(&app, json!({"name": "Payer", "foreignId": "payer"})).await);
    let payee = new_wallet(&app, "Payee").await;
    deposit(&app, &payer, d("10.0")).await;

    let asked = post(
        &app,
        "/v1.0/fund-requests",
        json!({"source": "payer", "destination": payee, "amount": 15, "foreignId": "invoice-3"}),
    )
    .await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    assert_movement(&asked.body, "FundRequest", "Processing", &["source", "foreignId"]);
    assert_eq!(
        (side(&asked.body, "source"), side(&asked.body, "destination")),
        (Some(payer.clone()), Some(payee.clone()))
    );
    assert_eq!(asked.body["status"]["reason"], json!({"fr": "En attente du payeur", "en": "Waiting for the payer"}));
    assert_eq!(
        pockets(&app, &payer).await,
        pocket(d("10.0"), d("0.0"), d("0.0"), d("10.0"), d("0.0")),
        "asking moves nothing"
    );
    assert_eq!(pockets(&app, &payee).await, pocket(d("0.0"), d("0.0"), d("0.0"), d("0.0"), d("0.0")));
    let fr = id(&asked.body);

    let short = command(&app, "fund-requests", &fr, "send").await;
    assert_error(&short, 422, "INSUFFICIENT_FUNDS", "send without the money");
    assert_eq!(pockets(&app, &payer).await, pocket(d("10.0"), d("0.0"), d("0.0"), d("10.0"), d("0.0")));
    deposit(&app, &payer, d("10.0")).await;
    let sent = command(&app, "fund-requests", &fr, "send").await;
    assert_eq!(sent.status, 200, "still Processing after the refusal, so it can be sent: {}", sent.body);
    assert_attempt(&sent.body, "FundRequest", &fr);
    let now = movement(&app, "fund-requests", &fr).await;
    assert_movement(&now, "FundRequest", "Successful", &["source", "foreignId"]);
    assert_eq!(side(&now, "source"), Some(payer.clone()));
    assert_eq!(pockets(&app, &payer).await, pocket(d("5.0"), d("0.0"), d("0.0"), d("20.0"), d("15.0")));
    assert_eq!(pockets(&app, &payee).await, pocket(d("15.0"), d("0.0"), d("0.0"), d("15.0"), d("0.0")));
    let resent = command(&app, "fund-requests", &fr, "send").await;
    assert_eq!((resent.status, &resent.body), (200, &sent.body), "the same attempt");
    let cancel = command(&app, "fund-requests", &fr, "cancel").await;
    assert_error(&cancel, 409, "ALREADY_RESOLVED", "cancel after send");
    assert!(cancel.body["error"]["message"].as_str().unwrap().contains("Successful"), "{}", cancel.body);
    assert_eq!(pockets(&app, &payee).await, pocket(d("15.0"), d("0.0"), d("0.0"), d("15.0"), d("0.0")), "paid once");

    let second = post(&app, "/v1.0/fund-requests", json!({"source": payer, "destination": payee, "amount": 1})).await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second = id(&second.body);
    let cancelled = command(&app, "fund-requests", &second, "cancel").await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_movement(&cancelled.body, "FundRequest", "Failure", &["source"]);
    assert_eq!(cancelled.body["status"]["cancelled"], json!({"afterTimeout": false}), "{}", cancelled.body);
    let recancelled = command(&app, "fund-requests", &second, "cancel").await;
    assert_eq!(recancelled.status, 200, "{}", recancelled.body);
    let send = command(&app, "fund-requests", &second, "send").await;
    assert_error(&send, 409, "ALREADY_RESOLVED", "send after cancel");
    assert!(send.body["error"]["message"].as_str().unwrap().contains("Failure"), "{}", send.body);
    assert_eq!(
        pockets(&app, &payer).await,
        pocket(d("5.0"), d("0.0"), d("0.0"), d("20.0"), d("15.0")),
        "a cancelled request moved nothing"
    );

    let bad_command = command(&app, "fund-requests", &second, "pay").await;
    assert_validation(&bad_command, "command", "an unknown command");
    for (body, status, code) in [
        (json!({"source": payer, "destination": payer, "amount": 1}), 400, "VALIDATION_ERROR"),
        (json!({"source": payer, "destination": payee, "amount": 0}), 400, "VALIDATION_ERROR"),
        (json!({"source": payer, "destination": payee, "amount": 1, "expire": "never"}), 400, "VALIDATION_ERROR"),
        (json!({"source": "nobody", "destination": payee, "amount": 1}), 404, "NOT_FOUND"),
    ] {
        let answer = post(&app, "/v1.0/fund-requests", body.clone()).await;
        assert_error(&answer, status, code, &format!("POST /v1.0/fund-requests {body}"));
        if status == 400 {
            assert!(answer.body["error"]["field"].is_string(), "{body}: {}", answer.body);
        }
    }
    // Without a source nobody is asked yet: whoever sends it pays, named by `using`.
    let open = post(&app, "/v1.0/fund-requests", json!({"destination": payee, "amount": 1})).await;
    assert_eq!(open.status, 201, "{}", open.body);
    assert_movement(&open.body, "FundRequest", "Processing", &[]);
    let open = id(&open.body);
    let unnamed = command(&app, "fund-requests", &open, "send").await;
    assert_validation(&unnamed, "using", "send naming no payer");
    let path = format!("/v1.0/fund-requests/{open}/send");
    let paid = app.send("POST", &path, Some(&json!({"id": open, "using": "payer"}))).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_attempt(&paid.body, "FundRequest", &open);
    assert_eq!(side(&movement(&app, "fund-requests", &open).await, "source"), Some(payer.clone()));
    assert_eq!(pockets(&app, &payer).await, pocket(d("4.0"), d("0.0"), d("0.0"), d("20.0"), d("16.0")));
}

#[tokio::test]
async fn listing_answers_pages_and_refuses_bad_queries_by_field() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for i in 0..30 {
        created.push(create(&app, json!({"name": format!("Wallet {i:02}")})).await);
    }
    let first = app.send("GET", "/v1.0/wallets", None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(keys(&first.body), set(&["items", "pagination", "url"]), "{}", first.body);
    let items = first.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 25, "25 by default");
    // FPay's collection: the next page is read by its queryString, as FPay's SDK does.
    let pagination = &first.body["pagination"];
    assert_eq!(
        (pagination["currentPage"]["index"].as_u64(), pagination["nextPage"]["index"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(pagination.get("previousPage").is_none(), "the first page: {pagination}");
    assert_eq!(
        (pagination["nbItemsOnCurrentPage"].as_u64(), pagination["nbItemsPerPage"].as_u64()),
        (Some(25), Some(25))
    );
    let next = pagination["nextPage"]["queryString"].as_str().expect("a next page").to_owned();
    assert!(next.starts_with("?limit=25&page="), "{next}");
    let second = app.send("GET", &format!("/v1.0/wallets{next}"), None).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let rest = second.body["items"].as_array().unwrap().clone();
    assert_eq!(rest.len(), 6, "the 30 and the main wallet");
    assert!(second.body["pagination"].get("nextPage").is_none(), "the last page: {}", second.body);
    assert_eq!(second.body["pagination"]["previousPage"]["index"], 1, "{}", second.body);
    assert_eq!(second.body["pagination"]["startedTime"], pagination["startedTime"], "{}", second.body);
    let listed: Vec<Value> = items.into_iter().chain(rest).collect();
    // No movement has needed the main wallet yet, and still the project has it: once.
    let mains: Vec<&Value> = listed.iter().filter(|w| w["isMain"] == json!(true)).collect();
    assert_eq!(mains.len(), 1, "{listed:?}");
    assert_eq!(mains[0]["name"], json!("Main wallet"));
    // Newest first, ties by id descending; the items are whole Wallets.
    let order = |w: &Value| (w["createdTime"]["timestamp"]["milliseconds"].as_i64().unwrap(), id(w));
    let mut expected = created.clone();
    expected.push(mains[0].clone());
    expected.sort_by_key(|w| std::cmp::Reverse(order(w)));
    assert_eq!(listed.iter().map(id).collect::<Vec<_>>(), expected.iter().map(id).collect::<Vec<_>>());
    for (got, made) in listed.iter().zip(&expected) {
        assert_eq!(got, made, "a listed wallet is the Wallet");
    }

    let filtered = app
        .send(
            "GET",
            &format!("/v1.0/wallets?filter={}&sortBy={}&limit=3", enc("name startsWith 'Wallet 1'"), enc("name:ASC")),
            None,
        )
        .await;
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    let names: Vec<&str> =
        filtered.body["items"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Wallet 10", "Wallet 11", "Wallet 12"]);
    let next = filtered.body["pagination"]["nextPage"]["queryString"].as_str().unwrap();
    let token = next.rsplit_once("&page=").expect("a page token last").1.to_owned();
    let onward = app
        .send(
            "GET",
            &format!(
                "/v1.0/wallets?filter={}&sortBy={}&limit=100&page={}",
                enc("name startsWith 'Wallet 1'"),
                enc("name:ASC"),
                enc(&token)
            ),
            None,
        )
        .await;
    assert_eq!(onward.status, 200, "another limit is fine with a page token: {}", onward.body);
    assert_eq!(onward.body["items"].as_array().unwrap().len(), 7);

    let cases: Vec<(String, &str)> = vec![
        ("limit=0".into(), "limit"),
        ("limit=101".into(), "limit"),
        ("limit=ten".into(), "limit"),
        ("limit=-1".into(), "limit"),
        (format!("filter={}", enc("name =")), "filter"),
        (format!("filter={}", enc("colour = 'red'")), "filter"),
        (format!("filter={}", enc("name = 'a' and")), "filter"),
        (format!("filter={}", enc("mainPocket.balance.available > 'lots'")), "filter"),
        (format!("sortBy={}", enc("name:UP")), "sortBy"),
        (format!("sortBy={}", enc("colour:ASC")), "sortBy"),
        (format!("sortBy={}", enc("name:ASC,name:DESC")), "sortBy"),
        ("page=garbage".into(), "page"),
        (format!("page={}", enc(&token)), "page"),
        (format!("filter={}&page={}", enc("name startsWith 'Wallet 2'"), enc(&token)), "page"),
        (
            format!("filter={}&sortBy={}&page={}", enc("name startsWith 'Wallet 1'"), enc("name:DESC"), enc(&token)),
            "page",
        ),
    ];
    // The contract's form: `filter: at character 12: expected a value, found end of input`.
    let mut unlike_the_contract = Vec::new();
    for (query, field) in cases {
        let answer = app.send("GET", &format!("/v1.0/wallets?{query}"), None).await;
        assert_validation(&answer, field, &query);
        if field == "filter" || field == "sortBy" {
            let message = answer.body["error"]["message"].as_str().unwrap();
            if !["at character ", ": expected ", ", found "].iter().all(|part| message.contains(part)) {
                unlike_the_contract.push(format!("{query} -> {message}"));
            }
        }
    }
    let at_end = app.send("GET", &format!("/v1.0/wallets?filter={}", enc("foreignId =")), None).await;
    assert_validation(&at_end, "filter", "a filter cut short");
    let message = at_end.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("expected a value") && message.contains("end of input"), "{message}");
    assert!(
        unlike_the_contract.is_empty(),
        "messages say where (at character N), what was expected and what was found:\n{}",
        unlike_the_contract.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_first_deposits_make_exactly_one_main_wallet() {
    let options = AppOptions::default().instances(16).env("POCKETBOOK_LOCK_WAIT_MS", "20000");
    let app = TestApp::spawn_with(options).await;
    let answers =
        join_all((1..=16).map(|amount| post(&app, "/v1.0/deposits/initiate", json!({"amount": amount})))).await;
    let mut mains = BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(answer.body["status"]["_type"], "Successful");
        mains.insert(side(&answer.body, "destination").unwrap());
    }
    assert_eq!(mains.len(), 1, "every deposit credited the same wallet: {mains:?}");
    let main = mains.into_iter().next().unwrap();

    let listed = app.send("GET", &format!("/v1.0/wallets?filter={}", enc("isMain = true")), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "exactly one main wallet: {}", listed.body);
    let only = &items[0];
    assert_eq!(id(only), main);
    assert_eq!((only["name"].as_str(), only["isMain"].as_bool()), (Some("Main wallet"), Some(true)));
    assert_eq!(only["balanceType"], "XOF");
    assert_eq!(only["mainPocket"], pocket(d("136.0"), d("0.0"), d("0.0"), d("136.0"), d("0.0")), "1 + 2 + … + 16");
    let everything = app.send("GET", "/v1.0/wallets?limit=100", None).await;
    assert_eq!(everything.body["items"].as_array().map(Vec::len), Some(1), "{}", everything.body);
    assert_eq!(app.all_transactions(&main, "asc", 100).await.len(), 16, "sixteen credits, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_first_listings_show_one_and_the_same_main_wallet() {
    let app = TestApp::spawn_with(AppOptions::default().instances(16)).await;
    let answers = join_all((0..16).map(|_| app.send("GET", "/v1.0/wallets", None))).await;
    let mut mains = BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let items = answer.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "the main wallet, and only it: {}", answer.body);
        assert_eq!(items[0]["isMain"], json!(true));
        mains.insert(id(&items[0]));
    }
    assert_eq!(mains.len(), 1, "{mains:?}");
    let main = mains.into_iter().next().unwrap();
    let deposit = post(&app, "/v1.0/deposits/initiate", json!({"amount": 7})).await;
    assert_eq!(side(&deposit.body, "destination"), Some(main), "deposits go to that one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receive_racing_cancel_has_exactly_one_winner() {
    let options = AppOptions::default().instances(2).env("POCKETBOOK_LOCK_WAIT_MS", "20000");
    let app = TestApp::spawn_with(options).await;
    let alice = new_wallet(&app, "Alice").await;
    let bob = new_wallet(&app, "Bob").await;
    deposit(&app, &alice, d("1000.0")).await;
    let (mut alice_available, mut alice_out, mut bob_available) = (d("1000.0"), d("0.0"), d("0.0"));
    let (mut alice_in, mut bob_in) = (d("1000.0"), d("0.0"));
    let mut winners = BTreeSet::new();
    let mut losers = Vec::new();
    for round in 0..10 {
        let amount = Decimal::from(round + 1);
        let qt = quasi_transfer(&app, &alice, &bob, amount).await;
        alice_available -= amount;
        alice_out += amount;
        let (receive, cancel) = if round % 2 == 0 {
            tokio::join!(
                command(&app, "quasi-transfers", &qt, "receive"),
                command(&app, "quasi-transfers", &qt, "cancel")
            )
        } else {
            let (cancel, receive) = tokio::join!(
                command(&app, "quasi-transfers", &qt, "cancel"),
                command(&app, "quasi-transfers", &qt, "receive")
            );
            (receive, cancel)
        };
        let statuses = (receive.status, cancel.status);
        let (receive_won, loser) = match statuses {
            (200, _) => (true, &cancel),
            (_, 200) => (false, &receive),
            other => panic!("round {round}: nobody won, got {other:?}: {} / {}", receive.body, cancel.body),
        };
        if receive_won {
            assert_attempt(&receive.body, "QuasiTransfer", &qt);
            bob_available += amount;
            bob_in += amount;
            winners.insert("receive");
        } else {
            assert_eq!(
                (cancel.body["status"]["_type"].as_str(), cancel.body["status"]["reason"]["en"].as_str()),
                (Some("Failure"), Some("Cancelled"))
            );
            alice_available += amount;
            alice_in += amount;
            winners.insert("cancel");
        }
        if (loser.status, loser.error_code()) != (409, Some("ALREADY_RESOLVED")) {
            let logs = app.function("quasi-transfer-command").log_lines_containing(&loser.request_id).join("\n");
            let winner = if receive_won { "receive" } else { "cancel" };
            losers.push(format!(
                "round {round}: {winner} won, the other answered {} {}\n{logs}",
                loser.status, loser.body
            ));
        }
        // The money is right whatever the loser was told.
        assert_eq!(
            pockets(&app, &alice).await,
            pocket(alice_available, d("0.0"), d("0.0"), alice_in, alice_out),
            "round {round}"
        );
        assert_eq!(
            pockets(&app, &bob).await,
            pocket(bob_available, d("0.0"), d("0.0"), bob_in, d("0.0")),
            "round {round}"
        );
    }
    println!("winners seen: {winners:?}");

    // Two receives at once: both 200 (the repeat rule), the money once.
    let qt = quasi_transfer(&app, &alice, &bob, d("0.5")).await;
    let (a, b) = tokio::join!(
        command(&app, "quasi-transfers", &qt, "receive"),
        command(&app, "quasi-transfers", &qt, "receive")
    );
    for answer in [&a, &b] {
        if (answer.status, answer.body["status"]["_type"].as_str()) != (200, Some("Successful")) {
            let logs = app.function("quasi-transfer-command").log_lines_containing(&answer.request_id).join("\n");
            losers.push(format!("two receives at once: one answered {} {}\n{logs}", answer.status, answer.body));
        }
    }
    assert_eq!(
        pockets(&app, &bob).await,
        pocket(bob_available + d("0.5"), d("0.0"), d("0.0"), bob_in + d("0.5"), d("0.0")),
        "received once"
    );
    assert!(
        losers.is_empty(),
        "the loser of a race answers 409 ALREADY_RESOLVED, a second receive 200:\n{}",
        losers.join("\n")
    );
}
