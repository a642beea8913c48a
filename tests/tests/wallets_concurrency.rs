//! Transfers racing in opposite directions between the same wallets: locks are taken in id
//! order, so they never wait on each other in a circle, and every one applies exactly once.

use pocketbook_tests::{AppOptions, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn wallet(app: &TestApp, name: &str, amount: u32) -> String {
    let created = app.send("POST", "/v1.0/wallets", Some(&json!({ "name": name }))).await;
    let id = created.body["id"].as_str().expect("an id").to_owned();
    let deposit =
        app.send("POST", "/v1.0/deposits/initiate", Some(&json!({ "destination": id, "amount": amount }))).await;
    assert_eq!(deposit.status, 201, "{}", deposit.body);
    id
}

/// A transfer, retried on BALANCE_BUSY as a client should (after Retry-After, shortened here).
async fn transfer(app: &TestApp, source: &str, destination: &str, amount: u32) -> u16 {
    let body = json!({ "source": source, "destination": destination, "amount": amount });
    for _ in 0..50 {
        let answer = app.send("POST", "/v1.0/transfers/initiate", Some(&body)).await;
        if answer.status != 429 {
            return answer.status;
        }
        tokio::time::sleep(Duration::from_millis(20 + rand::random::<u64>() % 80)).await;
    }
    panic!("still busy after 50 tries");
}

async fn available(app: &TestApp, id: &str) -> Value {
    app.send("GET", &format!("/v1.0/wallets/{id}"), None).await.body["mainPocket"]["balance"]["available"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transfers_both_ways_at_once_all_apply_once_and_conserve_money() {
    let app = Arc::new(TestApp::spawn_with(AppOptions::default().instances(4)).await);
    let a = wallet(&app, "a", 1000).await;
    let b = wallet(&app, "b", 1000).await;
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (app, a, b) = (Arc::clone(&app), a.clone(), b.clone());
        tasks.push(tokio::spawn(async move {
            let (from, to) = if task % 2 == 0 { (a, b) } else { (b, a) };
            for _ in 0..5 {
                assert_eq!(transfer(&app, &from, &to, 10 + task).await, 201);
            }
        }));
    }
    for task in tasks {
        task.await.expect("a task");
    }
    // Evens sent 10, 12, 14, 16 five times each a -> b; odds 11, 13, 15, 17 b -> a.
    let (to_b, to_a) = (5 * (10 + 12 + 14 + 16), 5 * (11 + 13 + 15 + 17));
    assert_eq!(available(&app, &a).await, json!(1000 - to_b + to_a));
    assert_eq!(available(&app, &b).await, json!(1000 - to_a + to_b));
    for id in [&a, &b] {
        assert_eq!(app.all_transactions(id, "asc", 100).await.len(), 1 + 40, "one deposit, 40 transfers");
    }
}
