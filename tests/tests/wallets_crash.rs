//! Moves of money between wallets that crash or lose their answer: a transfer's two wallets,
//! its record and its idempotency record land together or not at all, and a retry never moves
//! the money twice.

use pocketbook_tests::ddb_proxy::{Fault, FaultRule};
use pocketbook_tests::lambda::InvokeError;
use pocketbook_tests::{AppOptions, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn wallet(app: &TestApp, name: &str) -> String {
    let created = app.send("POST", "/v1.0/wallets", Some(&json!({ "name": name }))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().expect("an id").to_owned()
}

async fn deposit(app: &TestApp, destination: &str, amount: u32) {
    let answer = app
        .send("POST", "/v1.0/deposits/initiate", Some(&json!({ "destination": destination, "amount": amount })))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
}

/// (available, lockedIn, lockedOut) as the wallet shows them.
async fn pockets(app: &TestApp, id: &str) -> (Value, Value, Value) {
    let wallet = app.send("GET", &format!("/v1.0/wallets/{id}"), None).await;
    let balance = &wallet.body["mainPocket"]["balance"];
    (balance["available"].clone(), balance["lockedIn"].clone(), balance["lockedOut"].clone())
}

async fn transfer(app: &TestApp, source: &str, destination: &str, key: &str) -> pocketbook_tests::app::Answer {
    let body = json!({ "source": source, "destination": destination, "amount": 40 });
    let auth = format!("Bearer {}", app.api_key);
    app.send_as("POST", "/v1.0/transfers/initiate", Some(&body), &[("authorization", &auth), ("idempotency-key", key)])
        .await
}

async fn entries(app: &TestApp, id: &str) -> usize {
    app.all_transactions(id, "asc", 100).await.len()
}

#[tokio::test]
async fn a_transfer_killed_between_lock_and_commit_moves_nothing_and_can_be_retried() {
    let options = AppOptions::default().env("POCKETBOOK_LOCK_LEASE_MS", "800").env("POCKETBOOK_LOCK_WAIT_MS", "100");
    let app = TestApp::spawn_with(options).await;
    let (a, b) = (wallet(&app, "a").await, wallet(&app, "b").await);
    deposit(&app, &a, 100).await;

    let doomed = app.extra_pool("create-transfer", &[("POCKETBOOK_FAILPOINTS", "after-lock")]).await;
    let payload =
        json!({ "projectId": app.project, "idempotencyKey": "crash-1", "source": a, "destination": b, "amount": 40 });
    assert!(matches!(doomed.invoke_json(&payload).await, Err(InvokeError::Crashed { .. })));
    doomed.shutdown().await;
    assert_eq!(pockets(&app, &a).await, (json!(100), json!(0), json!(0)), "nothing moved");
    assert_eq!(pockets(&app, &b).await, (json!(0), json!(0), json!(0)));
    // Within the dead transfer's lease both wallets are busy: contention, not a fault.
    let busy = transfer(&app, &a, &b, "crash-1").await;
    assert_eq!((busy.status, busy.error_code()), (429, Some("BALANCE_BUSY")), "{}", busy.body);

    tokio::time::sleep(Duration::from_millis(900)).await;
    let retried = transfer(&app, &a, &b, "crash-1").await;
    assert_eq!(
        (retried.status, retried.body["status"]["_type"].clone()),
        (201, json!("Successful")),
        "{}",
        retried.body
    );
    let again = transfer(&app, &a, &b, "crash-1").await;
    assert_eq!((again.status, &again.body), (201, &retried.body), "the same answer");
    assert_eq!(pockets(&app, &a).await, (json!(60), json!(0), json!(0)));
    assert_eq!(pockets(&app, &b).await, (json!(40), json!(0), json!(0)));
}

#[tokio::test]
async fn a_transfer_killed_after_its_commit_is_answered_from_its_record_on_retry() {
    let app = TestApp::spawn().await;
    let (a, b) = (wallet(&app, "a").await, wallet(&app, "b").await);
    deposit(&app, &a, 100).await;

    let doomed = app.extra_pool("create-transfer", &[("POCKETBOOK_FAILPOINTS", "after-commit")]).await;
    let payload =
        json!({ "projectId": app.project, "idempotencyKey": "crash-2", "source": a, "destination": b, "amount": 40 });
    assert!(matches!(doomed.invoke_json(&payload).await, Err(InvokeError::Crashed { .. })));
    doomed.shutdown().await;
    assert_eq!(pockets(&app, &b).await.0, json!(40), "the commit landed");

    // The crashed call was a direct invocation: the same key and body, through HTTP.
    let retried = transfer(&app, &a, &b, "crash-2").await;
    assert_eq!(
        (retried.status, retried.body["status"]["_type"].clone()),
        (201, json!("Successful")),
        "{}",
        retried.body
    );
    assert_eq!(pockets(&app, &a).await.0, json!(60), "moved once");
    assert_eq!(pockets(&app, &b).await.0, json!(40));
    assert_eq!((entries(&app, &a).await, entries(&app, &b).await), (2, 1));
}

#[tokio::test]
async fn lost_commit_answers_are_recognised_and_each_step_happens_once() {
    let app = TestApp::spawn_with(AppOptions::default().through_proxy()).await;
    let (a, b) = (wallet(&app, "a").await, wallet(&app, "b").await);
    deposit(&app, &a, 100).await;
    let proxy = app.proxy.as_ref().expect("a proxy");
    for (i, fault) in [Fault::DropResponse, Fault::Respond500].into_iter().enumerate() {
        proxy.add_fault(FaultRule::once(app.table.clone(), "TransactWriteItems", fault.clone()));
        let answer = transfer(&app, &a, &b, &format!("lost-{i}")).await;
        assert_eq!(
            (answer.status, answer.body["status"]["_type"].clone()),
            (201, json!("Successful")),
            "{fault:?}: {}",
            answer.body
        );
        assert_eq!(proxy.pending_faults(&app.table), 0);
    }
    assert_eq!(pockets(&app, &a).await.0, json!(20), "two transfers, each once");
    assert_eq!(pockets(&app, &b).await.0, json!(40 + 40));

    // A quasi-transfer's receive whose answer is lost: received once.
    let quasi = app
        .send("POST", "/v1.0/quasi-transfers/initiate", Some(&json!({ "source": b, "destination": a, "amount": 30 })))
        .await;
    assert_eq!(quasi.status, 201, "{}", quasi.body);
    let id = quasi.body["id"].as_str().expect("an id");
    proxy.add_fault(FaultRule::once(app.table.clone(), "TransactWriteItems", Fault::DropResponse));
    let received = app.send("POST", &format!("/v1.0/quasi-transfers/{id}/receive"), None).await;
    assert_eq!(
        (received.status, received.body["status"]["_type"].clone()),
        (200, json!("Successful")),
        "{}",
        received.body
    );
    assert_eq!(
        (received.body["parentType"].as_str(), received.body["parentId"].as_str()),
        (Some("QuasiTransfer"), Some(id))
    );
    assert_eq!(pockets(&app, &a).await, (json!(50), json!(0), json!(0)));
    assert_eq!(pockets(&app, &b).await, (json!(50), json!(0), json!(0)));
}

#[tokio::test]
async fn a_retry_after_the_money_moved_is_answered_from_the_record_not_refused() {
    let app = TestApp::spawn().await;
    let (a, b) = (wallet(&app, "a").await, wallet(&app, "b").await);
    deposit(&app, &a, 40).await;
    let first = transfer(&app, &a, &b, "all-of-it").await;
    assert_eq!(first.status, 201, "{}", first.body);
    // The source is empty now, so planning it again would refuse it: the record answers.
    let retried = transfer(&app, &a, &b, "all-of-it").await;
    assert_eq!((retried.status, &retried.body), (201, &first.body));
    let other = transfer(&app, &a, &b, "another").await;
    assert_eq!((other.status, other.error_code()), (422, Some("INSUFFICIENT_FUNDS")));
    assert_eq!(pockets(&app, &b).await.0, json!(40));
}
