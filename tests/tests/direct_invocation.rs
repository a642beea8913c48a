//! Direct invocation: the payload is the body plus its envelope; the answer is the same JSON
//! as the HTTP body. Refusals are answers; only transient faults fail the invocation.

use pocketbook_tests::lambda::InvokeError;
use pocketbook_tests::{AppOptions, TestApp};
use serde_json::json;

#[tokio::test]
async fn every_function_answers_a_direct_invocation_with_the_http_body() {
    let app = TestApp::spawn().await;
    let (_, created) = app
        .function("create-balance")
        .invoke_json(&json!({"projectId": app.project, "balanceType": "EUR", "balanceName": "Direct"}))
        .await
        .unwrap();
    assert_eq!(created["balanceName"], "Direct");
    assert_eq!(created["projectId"], app.project.as_str());
    let id = created["balanceId"].as_str().unwrap();

    let (_, operated) = app
        .function("execute-operation")
        .invoke_json(&json!({"projectId": app.project, "balanceId": id, "amount": 7.5, "type": "INC"}))
        .await
        .unwrap();
    assert_eq!(operated["balanceAmount"], json!(7.5));
    assert_eq!(operated["transaction"]["type"], "INC");

    let (_, got) =
        app.function("get-balance").invoke_json(&json!({"projectId": app.project, "balanceId": id})).await.unwrap();
    let http = app.send("GET", &format!("/balances/{id}"), None).await.body;
    assert_eq!(got, http, "the same JSON as over HTTP");

    let (_, listed) = app
        .function("list-transactions")
        .invoke_json(&json!({"projectId": app.project, "balanceId": id, "pageSize": 1, "order": "asc"}))
        .await
        .unwrap();
    assert_eq!(listed["transactions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn refusals_and_bad_payloads_are_answers_not_failures() {
    let app = TestApp::spawn().await;
    let pool = app.function("execute-operation");
    let (_, created) = app
        .function("create-balance")
        .invoke_json(&json!({"projectId": app.project, "balanceType": "EUR"}))
        .await
        .unwrap();
    let id = created["balanceId"].as_str().unwrap();
    let cases = [
        (json!({"projectId": app.project, "balanceId": id, "amount": 1, "type": "DEC"}), "INSUFFICIENT_FUNDS"),
        (json!({"projectId": app.project, "balanceId": id, "amount": "1", "type": "INC"}), "VALIDATION_ERROR"),
        (json!({"balanceId": id, "amount": 1, "type": "INC"}), "VALIDATION_ERROR"),
        (json!({"projectId": "other", "balanceId": id, "amount": 1, "type": "INC"}), "NOT_FOUND"),
        (json!({"projectId": app.project, "balanceId": id, "amount": 1, "type": "INC", "x": 1}), "VALIDATION_ERROR"),
        (json!([1, 2, 3]), "VALIDATION_ERROR"),
    ];
    for (payload, code) in cases {
        let (_, answer) = pool.invoke_json(&payload).await.unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(answer["error"]["code"], code, "{payload}");
    }
}

#[tokio::test]
async fn a_busy_balance_fails_the_invocation_so_that_aws_retries_it() {
    let app = TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_LOCK_WAIT_MS", "100")).await;
    let created = app.create_balance(json!({"balanceType": "EUR"})).await;
    let id = created["balanceId"].as_str().unwrap();
    let project = pocketbook::domain::names::ProjectId::parse(&app.project).unwrap();
    let balance = pocketbook::domain::names::BalanceId::parse(id).unwrap();
    let now = pocketbook::domain::time::Millis::from_datetime(chrono::Utc::now());
    app.store.try_lock(&project, balance, "holder", None, now, 60_000).await.unwrap();
    let result = app
        .function("execute-operation")
        .invoke_json(&json!({"projectId": app.project, "balanceId": id, "amount": 1, "type": "INC"}))
        .await;
    match result {
        Err(InvokeError::Function { error_type, .. }) => assert_eq!(error_type, "BALANCE_BUSY"),
        other => panic!("expected a failed invocation, got {other:?}"),
    }
}
