//! Idempotency keys: replays answer the stored result and apply nothing; a key reused for a
//! different request is a 409; and an effect whose answer was lost happens exactly once.

use pocketbook_tests::ddb_proxy::{Fault, FaultRule};
use pocketbook_tests::lambda::InvokeError;
use pocketbook_tests::{AppOptions, TestApp};
use serde_json::{json, Value};

async fn balance(app: &TestApp, amount: i64) -> String {
    let id = app.new_balance().await;
    if amount > 0 {
        assert_eq!(app.operate(&id, json!({"amount": amount, "type": "INC"})).await.status, 200);
    }
    id
}

async fn amount(app: &TestApp, id: &str) -> Value {
    app.send("GET", &format!("/balances/{id}"), None).await.body["balanceAmount"].clone()
}

#[tokio::test]
async fn a_repeated_key_answers_the_stored_result_and_applies_nothing() {
    let app = TestApp::spawn().await;
    let id = balance(&app, 10).await;
    let body = json!({"amount": 4, "type": "DEC", "subject": "order 42"});
    let first = app.operate_with_key(&id, body.clone(), "order-42-capture").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(first.body["transaction"]["session"], "order-42-capture", "the session is the key");

    let again = app.operate_with_key(&id, body, "order-42-capture").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the very same answer");
    assert_eq!(amount(&app, &id).await, json!(6), "applied once");
}

#[tokio::test]
async fn a_key_reused_for_a_different_request_is_409() {
    let app = TestApp::spawn().await;
    let id = balance(&app, 10).await;
    assert_eq!(app.operate_with_key(&id, json!({"amount": 1, "type": "DEC"}), "k1").await.status, 200);
    let other = app.operate_with_key(&id, json!({"amount": 2, "type": "DEC"}), "k1").await;
    assert_eq!((other.status, other.error_code()), (409, Some("IDEMPOTENCY_KEY_REUSED")));
    let elsewhere = balance(&app, 10).await;
    let other_balance = app.operate_with_key(&elsewhere, json!({"amount": 1, "type": "DEC"}), "k1").await;
    assert_eq!(other_balance.status, 409, "keys are per project, not per balance");
    assert_eq!(amount(&app, &id).await, json!(9));
    assert_eq!(amount(&app, &elsewhere).await, json!(10));
}

#[tokio::test]
async fn a_repeat_is_answered_from_the_record_even_when_the_request_would_now_be_refused() {
    let app = TestApp::spawn().await;
    let id = balance(&app, 5).await;
    let created = app.send("GET", &format!("/balances/{id}"), None).await.body;
    let body = json!({"amount": 5, "type": "DEC", "updateToken": created["updateToken"]});
    let first = app.operate_with_key(&id, body.clone(), "drain").await;
    assert_eq!(first.status, 200);
    // Now the token is stale and the funds are gone: the repeat must still replay.
    let again = app.operate_with_key(&id, body, "drain").await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (200, Some("true")));
    assert_eq!(again.body, first.body);
}

#[tokio::test]
async fn refusals_are_not_stored() {
    let app = TestApp::spawn().await;
    let id = balance(&app, 1).await;
    let refused = app.operate_with_key(&id, json!({"amount": 5, "type": "DEC"}), "try-5").await;
    assert_eq!(refused.status, 422);
    app.operate(&id, json!({"amount": 10, "type": "INC"})).await;
    let retried = app.operate_with_key(&id, json!({"amount": 5, "type": "DEC"}), "try-5").await;
    assert_eq!(retried.status, 200, "the key was not used up by the refusal");
    assert_eq!(retried.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn creating_a_balance_with_a_key_creates_it_once() {
    let app = TestApp::spawn().await;
    let auth = format!("Bearer {}", app.api_key);
    let headers = [("authorization", auth.as_str()), ("idempotency-key", "signup-7")];
    let body = json!({"balanceType": "PTS"});
    let first = app.send_as("POST", "/balances", Some(&body), &headers).await;
    let again = app.send_as("POST", "/balances", Some(&body), &headers).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.body["balanceId"], again.body["balanceId"]);
    let different = app.send_as("POST", "/balances", Some(&json!({"balanceType": "EUR"})), &headers).await;
    assert_eq!(different.status, 409);
}

#[tokio::test]
async fn invalid_idempotency_keys_are_400s() {
    let app = TestApp::spawn().await;
    let id = balance(&app, 0).await;
    let long = "k".repeat(256);
    for key in ["", long.as_str()] {
        let answer = app.operate_with_key(&id, json!({"amount": 1, "type": "INC"}), key).await;
        assert_eq!(answer.status, 400, "{key:?}");
        assert_eq!(answer.body["error"]["field"], "Idempotency-Key");
    }
}

#[tokio::test]
async fn a_lost_answer_is_recovered_by_retrying_with_the_same_key() {
    let app = TestApp::spawn().await;
    let id = balance(&app, 10).await;
    // This instance commits, then dies before anyone hears the answer.
    let doomed = app.extra_pool("execute-operation", &[("POCKETBOOK_FAILPOINTS", "after-commit")]).await;
    let payload = json!({
        "projectId": app.project, "balanceId": id, "amount": 3, "type": "DEC", "idempotencyKey": "pay-99",
    });
    let lost = doomed.invoke_json(&payload).await;
    assert!(matches!(lost, Err(InvokeError::Crashed { .. })), "{lost:?}");
    assert_eq!(amount(&app, &id).await, json!(7), "the commit landed");

    let retry = app.operate_with_key(&id, json!({"amount": 3, "type": "DEC"}), "pay-99").await;
    assert_eq!((retry.status, retry.header("idempotent-replayed")), (200, Some("true")));
    assert_eq!(retry.body["balanceAmount"], json!(7));
    assert_eq!(retry.body["transactionsCount"], 2);
    assert_eq!(amount(&app, &id).await, json!(7), "the balance moved once");
    doomed.shutdown().await;
}

#[tokio::test]
async fn a_commit_whose_response_dynamodb_lost_is_recognised_not_repeated() {
    let app = TestApp::spawn_with(AppOptions::default().through_proxy()).await;
    let id = balance(&app, 10).await;
    let proxy = app.proxy.as_ref().unwrap();
    // The commit reaches DynamoDB, the answer never comes back; the SDK retries it, the
    // retry fails its fence, and the service finds its own entry in the history.
    for fault in [Fault::DropResponse, Fault::Respond500] {
        proxy.add_fault(FaultRule::once(app.table.clone(), "TransactWriteItems", fault));
        let answer = app.operate(&id, json!({"amount": 1, "type": "DEC"})).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(proxy.pending_faults(&app.table), 0);
    }
    let now = app.send("GET", &format!("/balances/{id}"), None).await.body;
    assert_eq!(now["balanceAmount"], json!(8));
    assert_eq!(now["transactionsCount"], 3);
    let history = app.all_transactions(&id, "asc", 10).await;
    assert_eq!(history.len(), 3, "no duplicate entry");
    let recoveries = app.function("execute-operation").log_lines_containing("taking over and checking");
    assert_eq!(recoveries.len(), 2, "both commits went through the recovery path");
}

#[tokio::test]
async fn direct_invocations_take_the_key_from_the_payload() {
    let app = TestApp::spawn().await;
    let id = balance(&app, 10).await;
    let payload =
        json!({"projectId": app.project, "balanceId": id, "amount": 2, "type": "DEC", "idempotencyKey": "evt-1"});
    let pool = app.function("execute-operation");
    let (_, first) = pool.invoke_json(&payload).await.unwrap();
    let (_, again) = pool.invoke_json(&payload).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(amount(&app, &id).await, json!(8));
}
