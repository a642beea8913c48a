//! The HTTP contract of the four balance routes, end to end through the real binaries.

use pocketbook_tests::{AppOptions, TestApp};
use serde_json::{json, Value};

fn id(balance: &Value) -> String {
    balance["balanceId"].as_str().expect("balanceId").to_owned()
}

#[tokio::test]
async fn creating_a_balance_answers_201_with_defaults_filled_in() {
    let app = TestApp::spawn().await;
    let answer = app.send("POST", "/balances", Some(&json!({"balanceType": "EUR"}))).await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body = answer.body;
    assert_eq!(body["projectId"], app.project.as_str());
    assert!(uuid::Uuid::parse_str(body["balanceId"].as_str().unwrap()).unwrap().get_version_num() == 4);
    assert_eq!(body["balanceAmount"], json!(0));
    assert_eq!(body["balanceExpireAt"], Value::Null);
    assert_eq!(body["balanceMinLimit"], json!(0));
    assert_eq!(body["balanceType"], "EUR");
    assert_eq!(body["balanceName"], "EUR", "the name defaults to the type");
    assert_eq!(body["transactionsCount"], 0);
    assert_eq!(body["transactionInProgress"], false);
    assert_eq!(body["transactionsChecksum"].as_str().unwrap().len(), 64);
    assert!(body["updateToken"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["createdAt"], body["updatedAt"]);
}

#[tokio::test]
async fn a_balance_keeps_its_name_and_minimum_limit() {
    let app = TestApp::spawn().await;
    let created = app
        .create_balance(json!({"balanceType": "PTS", "balanceName": "Loyalty points", "balanceMinLimit": -50.5}))
        .await;
    let got = app.send("GET", &format!("/balances/{}", id(&created)), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["balanceName"], "Loyalty points");
    assert_eq!(got.body["balanceMinLimit"], json!(-50.5));
    assert_eq!(got.body, created, "GET answers the same BalanceResponse");
}

#[tokio::test]
async fn invalid_create_bodies_are_400s_that_name_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), "balanceType"),
        (json!({"balanceType": "eur"}), "balanceType"),
        (json!({"balanceType": "EURO"}), "balanceType"),
        (json!({"balanceType": 978}), "balanceType"),
        (json!({"balanceType": "EUR", "balanceName": ""}), "balanceName"),
        (json!({"balanceType": "EUR", "balanceName": "x".repeat(61)}), "balanceName"),
        (json!({"balanceType": "EUR", "balanceMinLimit": 1}), "balanceMinLimit"),
        (json!({"balanceType": "EUR", "balanceMinLimit": "-1"}), "balanceMinLimit"),
        (json!({"balanceType": "EUR", "projectId": "someone-else"}), "projectId"),
        (json!({"balanceType": "EUR", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let answer = app.send("POST", "/balances", Some(&body)).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.error_code(), Some("VALIDATION_ERROR"));
        assert_eq!(answer.body["error"]["field"], field, "{body}");
    }
}

#[tokio::test]
async fn malformed_json_and_wrong_shapes_are_clear_400s() {
    let app = TestApp::spawn().await;
    for body in [
        "{",
        "[]",
        "\"EUR\"",
        "null",
        "{\"balanceType\": \"EUR\",}",
        "{\"balanceType\":\"EUR\",\"balanceType\":\"USD\"}",
    ] {
        let answer = app.send_raw("POST", "/balances", body.to_owned(), &[]).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.error_code(), Some("VALIDATION_ERROR"), "{body}");
        assert!(answer.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn money_is_exact_in_every_answer() {
    let app = TestApp::spawn().await;
    let balance = id(&app.create_balance(json!({"balanceType": "EUR"})).await);
    app.operate(&balance, json!({"amount": 0.1, "type": "INC"})).await;
    let answer = app.operate(&balance, json!({"amount": 0.2, "type": "INC"})).await;
    assert_eq!(answer.status, 200);
    // Compare the raw text: a float would print 0.30000000000000004.
    let text = app.get_text(&format!("/balances/{balance}")).await;
    assert!(text.contains("\"balanceAmount\":0.3,"), "{text}");
    // Beyond what f64 can hold: sent and read back as text, never through a float.
    for amount in ["12345678901234.12345678", "0.00000001"] {
        let body = format!(r#"{{"amount": {amount}, "type": "INC"}}"#);
        let answer = app.send_raw("POST", &format!("/balances/{balance}/operations"), body, &[]).await;
        assert_eq!(answer.status, 200, "{amount}");
    }
    let text = app.get_text(&format!("/balances/{balance}")).await;
    assert!(text.contains("\"balanceAmount\":12345678901234.42345679,"), "{text}");
}

#[tokio::test]
async fn an_operation_answers_the_balance_and_the_entry_it_wrote() {
    let app = TestApp::spawn().await;
    let created = app.create_balance(json!({"balanceType": "EUR"})).await;
    let balance = id(&created);
    let answer = app.operate(&balance, json!({"amount": 25, "type": "INC", "subject": "welcome bonus"})).await;
    assert_eq!(answer.status, 200);
    let body = &answer.body;
    assert_eq!(body["balanceAmount"], json!(25));
    assert_eq!(body["transactionsCount"], 1);
    assert_ne!(body["updateToken"], created["updateToken"], "the token changes on every write");
    let tx = &body["transaction"];
    assert_eq!(tx["amount"], json!(25));
    assert_eq!(tx["type"], "INC");
    assert_eq!(tx["subject"], "welcome bonus");
    assert_eq!(tx["balanceAfter"], json!(25));
    assert_eq!(tx["checksum"], body["transactionsChecksum"]);
    assert_eq!(tx["createdAt"], tx["requestTimeEpoch"]);
    assert!(tx["createdAt"].as_i64().unwrap() > 1_700_000_000_000, "milliseconds since the epoch");
    assert_eq!(tx["expiredAt"], Value::Null);
    assert_eq!(tx["mainTxId"], Value::Null);
    assert!(uuid::Uuid::parse_str(tx["session"].as_str().unwrap()).is_ok(), "a fresh UUID without a key");
    assert!(uuid::Uuid::parse_str(tx["id"].as_str().unwrap()).is_ok());

    let dec = app.operate(&balance, json!({"amount": 5.25, "type": "DEC"})).await;
    assert_eq!(dec.status, 200);
    assert_eq!(dec.body["balanceAmount"], json!(19.75));
    assert_eq!(dec.body["transaction"]["type"], "DEC");
}

#[tokio::test]
async fn a_dec_below_the_minimum_limit_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let balance = id(&app.create_balance(json!({"balanceType": "EUR", "balanceMinLimit": -10})).await);
    app.operate(&balance, json!({"amount": 5, "type": "INC"})).await;
    let ok = app.operate(&balance, json!({"amount": 15, "type": "DEC"})).await;
    assert_eq!(ok.status, 200, "down to exactly the limit is fine");
    assert_eq!(ok.body["balanceAmount"], json!(-10));
    let before = app.send("GET", &format!("/balances/{balance}"), None).await.body;
    let refused = app.operate(&balance, json!({"amount": 0.01, "type": "DEC"})).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.error_code(), Some("INSUFFICIENT_FUNDS"));
    let after = app.send("GET", &format!("/balances/{balance}"), None).await.body;
    assert_eq!(after, before, "nothing changed, not even the update token");
}

#[tokio::test]
async fn invalid_amounts_are_400s_never_500s() {
    let app = TestApp::spawn().await;
    let balance = id(&app.create_balance(json!({"balanceType": "EUR"})).await);
    let bodies = [
        r#"{"amount": 0, "type": "INC"}"#,
        r#"{"amount": -5, "type": "INC"}"#,
        r#"{"amount": -0, "type": "INC"}"#,
        r#"{"amount": -0.0, "type": "DEC"}"#,
        r#"{"amount": 0.123456789, "type": "INC"}"#,
        r#"{"amount": 1000000000000000, "type": "INC"}"#,
        r#"{"amount": 1e15, "type": "INC"}"#,
        r#"{"amount": 1e400, "type": "INC"}"#,
        r#"{"amount": "NaN", "type": "INC"}"#,
        r#"{"amount": "Infinity", "type": "INC"}"#,
        r#"{"amount": "10", "type": "INC"}"#,
        r#"{"amount": true, "type": "INC"}"#,
        r#"{"amount": null, "type": "INC"}"#,
        r#"{"amount": [1], "type": "INC"}"#,
        r#"{"type": "INC"}"#,
    ];
    for body in bodies {
        let answer = app.send_raw("POST", &format!("/balances/{balance}/operations"), body.into(), &[]).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.body["error"]["field"], "amount", "{body}");
    }
    let others = [
        (r#"{"amount": 1, "type": "ADD"}"#, "type"),
        (r#"{"amount": 1}"#, "type"),
        (r#"{"amount": 1, "type": "DEC", "ttlInSeconds": 10}"#, "ttlInSeconds"),
        (r#"{"amount": 1, "type": "INC", "ttlInSeconds": 0}"#, "ttlInSeconds"),
        (r#"{"amount": 1, "type": "INC", "ttlInSeconds": 315360001}"#, "ttlInSeconds"),
        (r#"{"amount": 1, "type": "INC", "ttlInSeconds": 1.5}"#, "ttlInSeconds"),
        (r#"{"amount": 1, "type": "INC", "ttlInSeconds": "60"}"#, "ttlInSeconds"),
        (r#"{"amount": 1, "type": "INC", "subject": "x"}"#, ""),
        (r#"{"amount": 1, "type": "INC", "subject": 7}"#, "subject"),
        (r#"{"amount": 1, "type": "INC", "updateToken": 7}"#, "updateToken"),
        (r#"{"amount": 1, "type": "INC", "extra": 1}"#, "extra"),
    ];
    for (body, field) in others {
        let answer = app.send_raw("POST", &format!("/balances/{balance}/operations"), body.into(), &[]).await;
        if field.is_empty() {
            assert_eq!(answer.status, 200, "{body}");
            continue;
        }
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert_eq!(answer.body["error"]["field"], field, "{body}");
    }
    let long_subject = json!({"amount": 1, "type": "INC", "subject": "s".repeat(61)});
    assert_eq!(app.operate(&balance, long_subject).await.body["error"]["field"], "subject");
}

#[tokio::test]
async fn a_balance_cannot_grow_to_ten_to_the_fifteen() {
    let app = TestApp::spawn().await;
    let balance = id(&app.create_balance(json!({"balanceType": "EUR"})).await);
    let big = r#"{"amount": 999999999999999.99999999, "type": "INC"}"#;
    let path = format!("/balances/{balance}/operations");
    assert_eq!(app.send_raw("POST", &path, big.into(), &[]).await.status, 200);
    let answer = app.send_raw("POST", &path, r#"{"amount": 0.00000001, "type": "INC"}"#.into(), &[]).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.error_code(), Some("AMOUNT_OUT_OF_RANGE"));
}

#[tokio::test]
async fn a_stale_update_token_is_refused_with_409() {
    let app = TestApp::spawn().await;
    let created = app.create_balance(json!({"balanceType": "EUR"})).await;
    let balance = id(&created);
    let token = created["updateToken"].as_str().unwrap();
    let first = app.operate(&balance, json!({"amount": 1, "type": "INC", "updateToken": token})).await;
    assert_eq!(first.status, 200, "a current token is accepted");
    let stale = app.operate(&balance, json!({"amount": 1, "type": "INC", "updateToken": token})).await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.error_code(), Some("STALE_UPDATE_TOKEN"));
    let now = app.send("GET", &format!("/balances/{balance}"), None).await.body;
    assert_eq!(now["balanceAmount"], json!(1), "the stale operation changed nothing");
    let fresh = now["updateToken"].as_str().unwrap();
    assert_eq!(app.operate(&balance, json!({"amount": 1, "type": "DEC", "updateToken": fresh})).await.status, 200);
}

#[tokio::test]
async fn unknown_and_foreign_balances_are_404_alike() {
    let app = TestApp::spawn().await;
    let mine = id(&app.create_balance(json!({"balanceType": "EUR"})).await);
    app.operate(&mine, json!({"amount": 3, "type": "INC"})).await;
    let other_key = app.new_api_key("other-project", &["read", "write"]).await;
    let auth = format!("Bearer {other_key}");
    let headers = [("authorization", auth.as_str())];
    let unknown = uuid::Uuid::new_v4().to_string();
    for balance in [&mine, &unknown] {
        let get = app.send_as("GET", &format!("/balances/{balance}"), None, &headers).await;
        let op = app
            .send_as(
                "POST",
                &format!("/balances/{balance}/operations"),
                Some(&json!({"amount": 1, "type": "DEC"})),
                &headers,
            )
            .await;
        let list = app.send_as("GET", &format!("/balances/{balance}/transactions"), None, &headers).await;
        let asc = app.send_as("GET", &format!("/balances/{balance}/transactions?order=asc"), None, &headers).await;
        for answer in [&get, &op, &list, &asc] {
            assert_eq!(answer.status, 404, "{balance}: {}", answer.body);
            assert_eq!(answer.error_code(), Some("NOT_FOUND"));
            assert_eq!(answer.body["error"]["message"], "balance not found", "no hint that it exists elsewhere");
        }
    }
    let still = app.send("GET", &format!("/balances/{mine}"), None).await;
    assert_eq!(still.body["balanceAmount"], json!(3), "the other project's DEC did nothing");
}

#[tokio::test]
async fn malformed_balance_ids_are_400s() {
    let app = TestApp::spawn().await;
    let answer = app.send("GET", "/balances/not-a-uuid", None).await;
    assert_eq!((answer.status, answer.body["error"]["field"].as_str()), (400, Some("balanceId")));
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401_and_without_the_scope_403() {
    let app = TestApp::spawn().await;
    let body = json!({"balanceType": "EUR"});
    let none = app.send_as("POST", "/balances", Some(&body), &[]).await;
    assert_eq!((none.status, none.error_code()), (401, Some("UNAUTHORIZED")));
    let wrong = app.send_as("POST", "/balances", Some(&body), &[("authorization", "Bearer pb_not-a-real-key")]).await;
    assert_eq!((wrong.status, wrong.error_code()), (401, Some("UNAUTHORIZED")));
    let basic = app.send_as("POST", "/balances", Some(&body), &[("authorization", "Basic Zm9vOmJhcg==")]).await;
    assert_eq!(basic.status, 401);

    let x_api_key = app.send_as("POST", "/balances", Some(&body), &[("x-api-key", &app.api_key)]).await;
    assert_eq!(x_api_key.status, 201, "x-api-key works like a bearer token");
    let balance = id(&x_api_key.body);

    let read_only = app.new_api_key(&app.project, &["read"]).await;
    let auth = format!("Bearer {read_only}");
    let create = app.send_as("POST", "/balances", Some(&body), &[("authorization", &auth)]).await;
    assert_eq!((create.status, create.error_code()), (403, Some("FORBIDDEN")));
    let op = app
        .send_as(
            "POST",
            &format!("/balances/{balance}/operations"),
            Some(&json!({"amount": 1, "type": "INC"})),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(op.status, 403);
    let read = app.send_as("GET", &format!("/balances/{balance}"), None, &[("authorization", &auth)]).await;
    assert_eq!(read.status, 200, "reading needs only the read scope");

    let write_only = app.new_api_key(&app.project, &["write"]).await;
    let auth = format!("Bearer {write_only}");
    let read =
        app.send_as("GET", &format!("/balances/{balance}/transactions"), None, &[("authorization", &auth)]).await;
    assert_eq!(read.status, 403);
}

#[tokio::test]
async fn bodies_over_64_kib_are_413() {
    let app = TestApp::spawn().await;
    let body = format!(r#"{{"balanceType": "EUR", "balanceName": "{}"}}"#, "x".repeat(70 * 1024));
    let answer = app.send_raw("POST", "/balances", body, &[]).await;
    assert_eq!((answer.status, answer.error_code()), (413, Some("PAYLOAD_TOO_LARGE")));
}

#[tokio::test]
async fn a_busy_balance_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_LOCK_WAIT_MS", "300")).await;
    let created = app.create_balance(json!({"balanceType": "EUR"})).await;
    let balance = pocketbook::domain::names::BalanceId::parse(created["balanceId"].as_str().unwrap()).unwrap();
    let project = pocketbook::domain::names::ProjectId::parse(&app.project).unwrap();
    // Someone else holds the lock for a long while.
    let now = pocketbook::domain::time::Millis::from_datetime(chrono::Utc::now());
    let held = app.store.try_lock(&project, balance, "someone-else", None, now, 60_000).await.unwrap();
    assert!(matches!(held, pocketbook::store::TryLock::Locked(_)));

    let answer = app.operate(&balance.to_string(), json!({"amount": 1, "type": "INC"})).await;
    assert_eq!((answer.status, answer.error_code()), (429, Some("BALANCE_BUSY")));
    assert_eq!(answer.header("retry-after"), Some("1"));
    let get = app.send("GET", &format!("/balances/{balance}"), None).await;
    assert_eq!(get.status, 200, "reading does not wait for the lock");
    assert_eq!(get.body["transactionInProgress"], true);

    app.store.unlock(&project, balance, "someone-else").await.unwrap();
    let answer = app.operate(&balance.to_string(), json!({"amount": 1, "type": "INC"})).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn an_internal_fault_is_an_opaque_500_with_the_detail_in_the_log() {
    let app = TestApp::spawn().await;
    let balance = id(&app.create_balance(json!({"balanceType": "EUR"})).await);
    // Corrupt the stored head behind the service's back.
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("P#{}#B#{balance}", app.project)))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("T$".into()))
        // Not an index key (those must keep their declared type on every item): the head reader refuses it.
        .update_expression("SET balanceMinLimit = :bad")
        .expression_attribute_values(":bad", aws_sdk_dynamodb::types::AttributeValue::S("garbage".into()))
        .send()
        .await
        .unwrap();
    let answer = app.send("GET", &format!("/balances/{balance}"), None).await;
    assert_eq!((answer.status, answer.error_code()), (500, Some("INTERNAL")));
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("balanceMinLimit") && !message.contains("garbage"), "opaque: {message}");
    assert!(message.contains(&answer.request_id), "names the request id: {message}");
    let logged = app.function("get-balance").log_lines_containing(&answer.request_id).join("\n");
    assert!(logged.contains("balanceMinLimit"), "the detail is in the log: {logged}");
}

#[tokio::test]
async fn request_logs_are_json_lines_without_secrets() {
    let app = TestApp::spawn().await;
    let answer = app.send("POST", "/balances", Some(&json!({"balanceType": "EUR"}))).await;
    let line = app.request_log("create-balance", &answer.request_id);
    assert_eq!(line["action"], "create-balance");
    assert_eq!(line["status"], 201);
    assert!(line["durationMs"].is_u64());
    assert!(line["dynamodbCalls"].is_u64());
    for function in app.functions.values() {
        for line in function.log_lines() {
            assert!(!line.contains(&app.api_key), "an API key leaked into the log: {line}");
        }
    }
}

#[tokio::test]
async fn behind_an_api_gateway_authorizer_the_project_and_scopes_come_from_its_context() {
    let context = json!({"projectId": "tenant-from-authorizer", "scopes": "read write", "keyId": "key_1"});
    let app = TestApp::spawn_with(AppOptions::default().authorizer(context)).await;
    let created = app.send_as("POST", "/balances", Some(&json!({"balanceType": "EUR"})), &[]).await;
    assert_eq!(created.status, 201, "no key needed: the authorizer already checked it");
    assert_eq!(created.body["projectId"], "tenant-from-authorizer");

    let read_only = json!({"projectId": "tenant-from-authorizer", "scopes": ["read"]});
    let reader = TestApp::spawn_with(AppOptions::default().authorizer(read_only)).await;
    let refused = reader.send_as("POST", "/balances", Some(&json!({"balanceType": "EUR"})), &[]).await;
    assert_eq!(refused.status, 403);
}
