//! Events from other AWS services, fed to the real execute-operation binary in the exact JSON
//! AWS sends (fixtures in tests/fixtures, typed with aws_lambda_events): SQS batches with
//! partial failures, and EventBridge events.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use bytes::Bytes;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::domain::time::Millis;
use pocketbook_tests::app::binary;
use pocketbook_tests::lambda::{FunctionPool, FunctionSpec, InvokeError};
use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::{AppOptions, TestApp};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const FUNCTION: &str = "execute-operation";

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = workspace_root().join("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A batch from the fixture's record, one record per (message id, body).
fn sqs_batch(records: &[(&str, String)]) -> SqsEvent {
    let mut batch: SqsEvent = fixture("sqs_batch.json");
    let template = batch.records[0].clone();
    batch.records = records
        .iter()
        .map(|(id, body)| {
            let mut record = template.clone();
            record.message_id = Some((*id).to_owned());
            record.body = Some(body.clone());
            record
        })
        .collect();
    batch
}

fn fifo(mut batch: SqsEvent) -> SqsEvent {
    for record in &mut batch.records {
        record.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:pocketbook-operations.fifo".into());
    }
    batch
}

async fn invoke<T: Serialize>(pool: &FunctionPool, event: &T) -> Result<(String, Bytes), InvokeError> {
    let invocation = pool.invoke(Bytes::from(serde_json::to_vec(event).unwrap())).await?;
    Ok((invocation.request_id, invocation.body))
}

/// The message ids the function handed back to the queue.
async fn deliver(pool: &FunctionPool, batch: &SqsEvent) -> (String, Vec<String>) {
    let (request_id, body) = invoke(pool, batch).await.unwrap_or_else(|e| panic!("the batch failed as a whole: {e}"));
    let answer: SqsBatchResponse = serde_json::from_slice(&body).unwrap();
    (request_id, answer.batch_item_failures.into_iter().map(|f| f.item_identifier).collect())
}

fn operation(app: &TestApp, balance: &str, kind: &str, amount: u32) -> Value {
    json!({ "projectId": app.project, "balanceId": balance, "type": kind, "amount": amount })
}

async fn amount(app: &TestApp, balance: &str) -> Value {
    app.send("GET", &format!("/balances/{balance}"), None).await.body["balanceAmount"].clone()
}

/// A balance whose lock someone else holds for a minute.
async fn held_balance(app: &TestApp) -> String {
    let id = app.new_balance().await;
    let project = ProjectId::parse(&app.project).unwrap();
    let now = Millis::from_datetime(chrono::Utc::now());
    app.store.try_lock(&project, BalanceId::parse(&id).unwrap(), "holder", None, now, 60_000).await.unwrap();
    id
}

/// The function's log lines for one invocation, as JSON.
fn log_lines(pool: &FunctionPool, request_id: &str) -> Vec<Value> {
    pool.log_lines_containing(request_id).iter().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

fn request_lines_for(lines: &[Value], message_id: &str) -> Vec<Value> {
    lines.iter().filter(|l| l["message"] == "request" && l["sourceId"] == message_id).cloned().collect()
}

#[tokio::test]
async fn an_sqs_batch_hands_back_only_the_records_that_failed_transiently() {
    let app = TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_LOCK_WAIT_MS", "100")).await;
    let open = app.new_balance().await;
    let held = held_balance(&app).await;
    let batch = sqs_batch(&[
        ("m1-inc", operation(&app, &open, "INC", 10).to_string()),
        ("m2-overdraw", operation(&app, &open, "DEC", 1000).to_string()),
        ("m3-not-json", "this is not JSON".to_owned()),
        ("m4-busy", operation(&app, &held, "INC", 1).to_string()),
        ("m5-dec", operation(&app, &open, "DEC", 4).to_string()),
    ]);
    let pool = app.function(FUNCTION);
    let (request_id, failures) = deliver(pool, &batch).await;

    assert_eq!(failures, vec!["m4-busy"], "refusals are not retried; contention is");
    assert_eq!(amount(&app, &open).await, json!(6));
    assert_eq!(amount(&app, &held).await, json!(0));
    let lines = log_lines(pool, &request_id);
    assert_eq!(request_lines_for(&lines, "m2-overdraw")[0]["code"], "INSUFFICIENT_FUNDS");
    assert_eq!(request_lines_for(&lines, "m3-not-json")[0]["code"], "VALIDATION_ERROR");
    assert_eq!(request_lines_for(&lines, "m4-busy")[0]["code"], "BALANCE_BUSY");
    let summary = lines.iter().find(|l| l["message"] == "batch").expect("a batch summary line");
    assert_eq!(
        (&summary["records"], &summary["done"], &summary["refused"], &summary["retried"], &summary["untried"]),
        (&json!(5), &json!(2), &json!(2), &json!(1), &json!(0))
    );
}

#[tokio::test]
async fn a_redelivered_message_applies_once() {
    let app = TestApp::spawn().await;
    let balance = app.new_balance().await;
    let pool = app.function(FUNCTION);
    let first = sqs_batch(&[("m-once", operation(&app, &balance, "INC", 5).to_string())]);
    assert!(deliver(pool, &first).await.1.is_empty());

    // The same message again, as SQS redelivers it after a lost answer or a timeout.
    let mut again = first.clone();
    again.records[0].attributes.insert("ApproximateReceiveCount".into(), "2".into());
    let (request_id, failures) = deliver(pool, &again).await;
    assert!(failures.is_empty());
    assert_eq!(amount(&app, &balance).await, json!(5));
    let replay = &request_lines_for(&log_lines(pool, &request_id), "m-once")[0];
    assert_eq!((&replay["status"], &replay["replayed"]), (&json!(200), &json!(true)));

    // A payload's own idempotencyKey wins over the message id: two messages, one operation.
    let mut keyed = operation(&app, &balance, "INC", 7);
    keyed["idempotencyKey"] = json!("order-42");
    let batch = sqs_batch(&[("m-a", keyed.to_string()), ("m-b", keyed.to_string())]);
    assert!(deliver(pool, &batch).await.1.is_empty());
    assert_eq!(amount(&app, &balance).await, json!(12));
}

#[tokio::test]
async fn a_fifo_batch_stops_at_its_first_failure_so_that_order_is_kept() {
    let app = TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_LOCK_WAIT_MS", "100")).await;
    let open = app.new_balance().await;
    let held = held_balance(&app).await;
    let batch = fifo(sqs_batch(&[
        ("f1", operation(&app, &open, "INC", 1).to_string()),
        ("f2", operation(&app, &held, "INC", 1).to_string()),
        ("f3", operation(&app, &open, "INC", 1).to_string()),
    ]));
    let pool = app.function(FUNCTION);
    let (request_id, failures) = deliver(pool, &batch).await;
    assert_eq!(failures, vec!["f2", "f3"]);
    assert_eq!(amount(&app, &open).await, json!(1), "f3 waits for f2");
    assert!(request_lines_for(&log_lines(pool, &request_id), "f3").is_empty(), "f3 was not even tried");
}

#[tokio::test]
async fn a_batch_running_out_of_time_hands_back_what_it_could_not_finish() {
    let app = TestApp::spawn().await;
    let open = app.new_balance().await;
    // Locked by someone whose lease ends in 1.5 s: the first record waits that long.
    let slow = app.new_balance().await;
    let project = ProjectId::parse(&app.project).unwrap();
    let now = Millis::from_datetime(chrono::Utc::now());
    app.store.try_lock(&project, BalanceId::parse(&slow).unwrap(), "holder", None, now, 1_500).await.unwrap();
    let pool = |timeout_ms: u64| {
        let mut spec = FunctionSpec::new(FUNCTION, binary(FUNCTION)).timeout(Duration::from_millis(timeout_ms));
        for (key, value) in &app.function_env {
            spec = spec.env(key.clone(), value.clone());
        }
        FunctionPool::start(spec)
    };
    let records = |prefix: &str| {
        sqs_batch(&[
            (&format!("{prefix}1"), operation(&app, &slow, "INC", 1).to_string()),
            (&format!("{prefix}2"), operation(&app, &open, "INC", 1).to_string()),
            (&format!("{prefix}3"), operation(&app, &open, "INC", 1).to_string()),
        ])
    };
    // A FIFO queue's batch goes one record after another; each may wait for the whole 2 s
    // lock wait, then commit. After the first, the 4 s invocation has no room for another.
    let sequential = pool(4_000).await.unwrap();
    let started = Instant::now();
    let (_, failures) = deliver(&sequential, &fifo(records("t"))).await;
    assert!(started.elapsed() < Duration::from_millis(4_000));
    assert_eq!(failures, vec!["t2", "t3"]);
    assert_eq!((amount(&app, &slow).await, amount(&app, &open).await), (json!(1), json!(0)));

    // A standard queue's batch goes all at once and needs that room once: in a 2.5 s
    // invocation it does not start.
    let together = pool(2_500).await.unwrap();
    let started = Instant::now();
    let (_, failures) = deliver(&together, &records("s")).await;
    assert!(started.elapsed() < Duration::from_millis(1_000), "nothing was tried");
    assert_eq!(failures, vec!["s1", "s2", "s3"]);
    assert_eq!((amount(&app, &slow).await, amount(&app, &open).await), (json!(1), json!(0)));
}

#[tokio::test]
async fn a_standard_queues_batch_commits_each_balances_records_together_in_their_order() {
    let app = TestApp::spawn().await;
    let (hot, other) = (app.new_balance().await, app.new_balance().await);
    // 30 records for one balance, in an order that matters (a DEC that only the INCs before
    // it make possible, one that overdraws and is refused), and two for another balance.
    let mut records: Vec<(String, String, Option<i64>)> = Vec::new();
    let mut expected = 0i64;
    for i in 0..30 {
        let (kind, amount) = match i {
            0 => ("INC", 10),
            10 => ("DEC", 1_000),
            i if i % 3 == 2 => ("DEC", 6),
            _ => ("INC", 2),
        };
        let applied = match kind {
            "INC" => Some(amount),
            _ if expected >= amount => Some(-amount),
            _ => None,
        };
        expected += applied.unwrap_or(0);
        records.push((format!("h{i:02}"), operation(&app, &hot, kind, amount as u32).to_string(), applied));
        if i % 15 == 0 {
            records.push((format!("o{i:02}"), operation(&app, &other, "INC", 1).to_string(), None));
        }
    }
    let batch = sqs_batch(&records.iter().map(|(id, body, _)| (id.as_str(), body.clone())).collect::<Vec<_>>());
    let pool = app.function(FUNCTION);
    let (request_id, failures) = deliver(pool, &batch).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(amount(&app, &hot).await, json!(expected));
    assert_eq!(amount(&app, &other).await, json!(2));

    // The chain holds the applied ones exactly once, in the batch's order.
    let (project, balance) = (ProjectId::parse(&app.project).unwrap(), BalanceId::parse(&hot).unwrap());
    let history = app.store.full_history(&project, balance).await.unwrap();
    let sessions: Vec<&str> = history.iter().map(|entry| entry.session.as_str()).collect();
    let applied: Vec<&str> = records
        .iter()
        .filter(|(id, _, applied)| id.starts_with('h') && applied.is_some())
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(sessions, applied);

    let lines = log_lines(pool, &request_id);
    assert_eq!(request_lines_for(&lines, "h10")[0]["code"], "INSUFFICIENT_FUNDS");
    let summary = lines.iter().find(|l| l["message"] == "batch").expect("a batch summary line");
    let refused = records.iter().filter(|(id, _, applied)| id.starts_with('h') && applied.is_none()).count();
    assert!(refused >= 2, "the batch's order matters: {refused} refused");
    assert_eq!(
        (&summary["records"], &summary["done"], &summary["refused"]),
        (&json!(32), &json!(32 - refused), &json!(refused))
    );
    assert_eq!(summary["together"], true);
    // One at a time would be two calls each (64); together, for each balance: the tickets, the
    // lock, the queue, the keys' records, one commit.
    let calls = summary["dynamodbCalls"].as_u64().unwrap();
    assert!(calls <= 16, "{calls} DynamoDB calls for 32 records");
    let batches = pool.log_lines_containing("group commit settled its tickets");
    let tickets: u64 =
        batches.iter().filter_map(|line| serde_json::from_str::<Value>(line).ok()?["tickets"].as_u64()).sum();
    assert_eq!(tickets, 32, "both balances' records were settled by group commit");

    // Delivered again (a lost answer): every record replays, nothing applies twice.
    let (_, failures) = deliver(pool, &batch).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(amount(&app, &hot).await, json!(expected));
    assert_eq!(app.store.full_history(&project, balance).await.unwrap().len(), history.len());
}

fn eventbridge(id: &str, detail: Value) -> EventBridgeEvent<Value> {
    let mut event: EventBridgeEvent<Value> = fixture("eventbridge_event.json");
    event.id = Some(id.to_owned());
    event.detail = detail;
    event
}

#[tokio::test]
async fn an_eventbridge_event_applies_its_detail_once_even_when_delivered_again() {
    let app = TestApp::spawn().await;
    let balance = app.new_balance().await;
    let pool = app.function(FUNCTION);
    let event = eventbridge("e-1", operation(&app, &balance, "INC", 5));
    let (_, first) = invoke(pool, &event).await.unwrap();
    let (request_id, again) = invoke(pool, &event).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(serde_json::from_slice::<Value>(&first).unwrap()["balanceAmount"], json!(5));
    assert_eq!(app.request_log(FUNCTION, &request_id)["replayed"], json!(true));
    assert_eq!(app.request_log(FUNCTION, &request_id)["sourceId"], "e-1");
    assert_eq!(amount(&app, &balance).await, json!(5));

    // A refusal is an answer, not a failure for EventBridge to retry.
    let (_, refused) = invoke(pool, &eventbridge("e-2", operation(&app, &balance, "DEC", 99))).await.unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&refused).unwrap()["error"]["code"], "INSUFFICIENT_FUNDS");
}

#[tokio::test]
async fn a_busy_balance_fails_an_eventbridge_invocation_so_that_lambda_retries_it() {
    let app = TestApp::spawn_with(AppOptions::default().env("POCKETBOOK_LOCK_WAIT_MS", "100")).await;
    let held = held_balance(&app).await;
    let result = invoke(app.function(FUNCTION), &eventbridge("e-busy", operation(&app, &held, "INC", 1))).await;
    match result {
        Err(InvokeError::Function { error_type, .. }) => assert_eq!(error_type, "BALANCE_BUSY"),
        other => panic!("expected a failed invocation, got {other:?}"),
    }
}
