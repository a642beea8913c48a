//! Crashes and faults between taking the lock and committing: nothing half-written, and the
//! balance recovers on its own.

use pocketbook_tests::ddb_proxy::{Fault, FaultRule};
use pocketbook_tests::lambda::InvokeError;
use pocketbook_tests::{AppOptions, TestApp};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_request_killed_between_lock_and_commit_leaves_nothing_and_blocks_only_for_the_lease() {
    let options = AppOptions::default().env("POCKETBOOK_LOCK_LEASE_MS", "1000").env("POCKETBOOK_LOCK_WAIT_MS", "100");
    let app = TestApp::spawn_with(options).await;
    let id = app.new_balance().await;
    app.operate(&id, json!({"amount": 10, "type": "INC"})).await;
    let before = app.send("GET", &format!("/balances/{id}"), None).await.body;

    let doomed = app.extra_pool("execute-operation", &[("POCKETBOOK_FAILPOINTS", "after-lock")]).await;
    let payload = json!({"projectId": app.project, "balanceId": id, "amount": 4, "type": "DEC"});
    assert!(matches!(doomed.invoke_json(&payload).await, Err(InvokeError::Crashed { .. })));
    doomed.shutdown().await;

    let during = app.send("GET", &format!("/balances/{id}"), None).await.body;
    assert_eq!(during["transactionInProgress"], true, "the dead request still holds the lease");
    for field in ["balanceAmount", "transactionsCount", "transactionsChecksum", "updateToken"] {
        assert_eq!(during[field], before[field], "{field} is untouched");
    }
    let blocked = app.operate(&id, json!({"amount": 1, "type": "DEC"})).await;
    assert_eq!(blocked.status, 429, "within the lease the balance is busy");

    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let after = app.operate(&id, json!({"amount": 1, "type": "DEC"})).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(after.body["balanceAmount"], json!(9));
    assert_eq!(after.body["transactionsCount"], 2);
    let history = app.all_transactions(&id, "asc", 10).await;
    assert_eq!(history.len(), 2, "no gap, no half-written entry");
    assert_eq!(history[1]["balanceAfter"], json!(9));
}

#[tokio::test]
async fn a_transaction_conflict_is_retried_and_applied_once() {
    let app = TestApp::spawn_with(AppOptions::default().through_proxy()).await;
    let id = app.new_balance().await;
    let proxy = app.proxy.as_ref().unwrap();
    proxy.add_fault(FaultRule::once(app.table.clone(), "TransactWriteItems", Fault::TransactionConflict).times(2));
    let answer = app.operate(&id, json!({"amount": 5, "type": "INC"})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(proxy.pending_faults(&app.table), 0);
    let got = app.send("GET", &format!("/balances/{id}"), None).await.body;
    assert_eq!((got["balanceAmount"].clone(), got["transactionsCount"].clone()), (json!(5), json!(1)));
}

#[tokio::test]
async fn throttling_is_absorbed_by_retries() {
    let app = TestApp::spawn_with(AppOptions::default().through_proxy()).await;
    let id = app.new_balance().await;
    app.operate(&id, json!({"amount": 1, "type": "INC"})).await; // warm: the API key is cached
    let proxy = app.proxy.as_ref().unwrap();
    proxy.add_fault(FaultRule::once(app.table.clone(), "UpdateItem", Fault::Throttle));
    proxy.add_fault(FaultRule::once(app.table.clone(), "TransactWriteItems", Fault::Throttle));
    let answer = app.operate(&id, json!({"amount": 5, "type": "INC"})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(app.round_trips("execute-operation", &answer), 4, "two calls, each retried once");
}

#[tokio::test]
async fn dynamodb_being_unreachable_is_a_500_not_a_hang() {
    let app = TestApp::spawn_with(AppOptions::default().through_proxy()).await;
    let id = app.new_balance().await;
    let proxy = app.proxy.as_ref().unwrap();
    proxy.add_fault(FaultRule::once(app.table.clone(), "GetItem", Fault::Throttle).times(3));
    let answer = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!((answer.status, answer.error_code()), (500, Some("INTERNAL")));
    let again = app.send("GET", &format!("/balances/{id}"), None).await;
    assert_eq!(again.status, 200);
}
