//! Webhooks: signed deliveries, retries with backoff, timeouts, redelivery, and the routes.
//!
//! In-process tests run the webhook service on a fresh table of the local DynamoDB with a
//! clock the test moves, the delivery queue on the same local moto server (which serves SQS
//! too), and a real HTTP receiver on loopback. The route tests run the real function
//! binaries behind the test gateway.

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pocketbook::bus::Bus;
use pocketbook::clock::Clock;
use pocketbook::domain::events::{EventId, EventKind};
use pocketbook::domain::page_token::TokenKey;
use pocketbook::domain::sealed::SecretsKey;
use pocketbook::domain::webhooks::{
    retry_delay, verify, DeliveryRef, DeliveryStatus, EventFilter, Outgoing, WebhookSecret, MAX_ATTEMPTS,
    SIGNATURE_TOLERANCE_SECONDS,
};
use pocketbook::services::{DeliveryListRequest, DeliveryOutcome, NewWebhook, WebhookSettings, Webhooks};
use pocketbook_tests::app::{unique, AppOptions, TestApp};
use pocketbook_tests::in_process::LocalLedger;
use pocketbook_tests::local_dynamodb;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---- a receiver on loopback ----

#[derive(Debug, Clone)]
struct Received {
    headers: http::HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Answers 200, but only after this long.
    Hang(Duration),
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// The next answers, in order; then `otherwise`.
    script: VecDeque<Answer>,
    otherwise: Option<Answer>,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start(otherwise: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(ReceiverState { otherwise: Some(otherwise), ..Default::default() }));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let state = Arc::clone(&state);
                        async move {
                            let headers = request.headers().clone();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let answer = {
                                let mut state = state.lock().unwrap();
                                state.received.push(Received { headers, body: String::from_utf8_lossy(&body).into() });
                                state.script.pop_front().or(state.otherwise).unwrap_or(Answer::Status(200))
                            };
                            let status = match answer {
                                Answer::Status(status) => status,
                                Answer::Hang(delay) => {
                                    tokio::time::sleep(delay).await;
                                    200
                                }
                            };
                            let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"ok")));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, state }
    }

    fn script(&self, answers: &[Answer]) {
        self.state.lock().unwrap().script.extend(answers.iter().copied());
    }

    fn answer_otherwise(&self, answer: Answer) {
        self.state.lock().unwrap().otherwise = Some(answer);
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

// ---- the service in this process ----

struct Local {
    ledger: LocalLedger,
    webhooks: Webhooks,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(local_dynamodb::endpoint())
        .load()
        .await
}

/// A fresh delivery queue on the local moto server: its client and URL.
async fn new_queue() -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&aws_config().await);
    let created = sqs.create_queue().queue_name(unique("pb-deliveries")).send().await.expect("create the queue");
    (sqs, created.queue_url.expect("a queue url"))
}

impl Local {
    async fn new(timeout: Duration) -> Self {
        let ledger = LocalLedger::new().await;
        let (sqs, queue_url) = new_queue().await;
        let bus = Bus::new(&aws_config().await, None, Some(&queue_url));
        let webhooks = Webhooks::new(
            ledger.engine.clone(),
            SecretsKey::from_passphrase(b"webhook-tests"),
            TokenKey::new(b"webhook-tests"),
            bus.queue,
            WebhookSettings { timeout, allow_insecure: true },
        )
        .expect("the webhook service");
        Self { ledger, webhooks, sqs, queue_url }
    }

    async fn endpoint(&self, url: &str, events: &[&str]) -> (pocketbook::domain::webhooks::Endpoint, WebhookSecret) {
        let new = NewWebhook { url: url.to_owned(), events: EventFilter::parse(events).unwrap(), description: None };
        self.webhooks.create(&self.ledger.project, new).await.expect("create the endpoint")
    }

    fn reference(&self, endpoint: &pocketbook::domain::webhooks::Endpoint, event: &Outgoing) -> DeliveryRef {
        DeliveryRef {
            project: self.ledger.project.clone(),
            webhook_id: endpoint.id.clone(),
            event_id: event.id.clone(),
        }
    }

    async fn delivery(&self, reference: &DeliveryRef) -> pocketbook::domain::webhooks::Delivery {
        self.ledger.store.delivery(reference).await.unwrap().expect("the delivery")
    }

    /// The queue's messages now (each hidden for a minute once received).
    async fn queued(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let mut messages = Vec::new();
        loop {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .send()
                .await
                .expect("receive");
            let batch = output.messages.unwrap_or_default();
            if batch.is_empty() {
                return messages;
            }
            messages.extend(batch);
        }
    }
}

fn event(kind: EventKind) -> Outgoing {
    let subject = unique("bal");
    let id = EventId::derive(kind, &format!("P#acme#B#{subject}"), "T#1", "1");
    let body = json!({"id": id.as_str(), "kind": kind.as_str(), "project": "acme", "data": {"amount": 12.5}});
    Outgoing { id, kind, created_at: pocketbook::domain::time::Millis::from_epoch_ms(0), body: body.to_string() }
}

/// The ```python block under `### Verifying a webhook delivery` in the README.
fn documented_snippet() -> String {
    let readme = std::fs::read_to_string(local_dynamodb::workspace_root().join("README.md")).unwrap();
    let section = readme.split("\n### Verifying a webhook delivery\n").nth(1).expect("the README's subsection");
    let section = section.split("\n## ").next().unwrap();
    let code = section.split("```python\n").nth(1).expect("a python block");
    code.split("\n```").next().unwrap().to_owned()
}

/// Runs the documented snippet as a receiver would: `(printed, exit success)`.
fn run_snippet(secret: &str, header: &str, body: &str) -> (String, bool) {
    use std::io::Write;
    let path = std::env::temp_dir().join(format!("{}.py", unique("verify")));
    std::fs::write(&path, documented_snippet()).unwrap();
    let mut child = std::process::Command::new("python3")
        .arg(&path)
        .args([secret, header])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&path);
    (String::from_utf8_lossy(&output.stdout).trim().to_owned(), output.status.success())
}

// ---- in process ----

#[tokio::test]
async fn a_delivery_verifies_with_the_documented_snippet_and_a_tampered_body_does_not() {
    let local = Local::new(Duration::from_secs(2)).await;
    let receiver = Receiver::start(Answer::Status(200)).await;
    let (endpoint, secret) = local.endpoint(&receiver.url, &["balance.entry.committed"]).await;
    let event = event(EventKind::BalanceEntryCommitted);
    assert_eq!(local.webhooks.fan_out(&local.ledger.project, std::slice::from_ref(&event)).await.unwrap(), 1);
    let outcome = local.webhooks.deliver(&local.reference(&endpoint, &event)).await.unwrap();
    assert_eq!(outcome, DeliveryOutcome::Delivered);

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let delivery = &received[0];
    assert_eq!(delivery.body, event.body, "the body is exactly the event's");
    assert_eq!(delivery.header("pocketbook-event-id"), event.id.as_str());
    assert_eq!(delivery.header("pocketbook-event-kind"), "balance.entry.committed");
    assert_eq!(delivery.header("pocketbook-delivery-attempt"), "1");
    assert_eq!(delivery.header("content-type"), "application/json");
    let signature = delivery.header("pocketbook-signature");
    let now = local.ledger.clock.now().epoch_seconds();
    assert_eq!(verify(&secret, signature, &delivery.body, now, SIGNATURE_TOLERANCE_SECONDS), Ok(()));

    // The ledger's clock started at the wall clock's now, so the snippet's freshness check passes.
    assert_eq!(run_snippet(secret.expose(), signature, &delivery.body), ("verified".to_owned(), true));
    let tampered = delivery.body.replace("12.5", "125");
    assert_ne!(tampered, delivery.body);
    assert_eq!(run_snippet(secret.expose(), signature, &tampered), ("failed".to_owned(), false));
    let other = WebhookSecret::from_random([9; 32]);
    assert_eq!(run_snippet(other.expose(), signature, &delivery.body), ("failed".to_owned(), false));
}

#[tokio::test]
async fn failed_attempts_back_off_within_the_jitter_and_stop_at_the_last_attempt() {
    let local = Local::new(Duration::from_secs(2)).await;
    let receiver = Receiver::start(Answer::Status(500)).await;
    let (endpoint, _) = local.endpoint(&receiver.url, &["*"]).await;
    let event = event(EventKind::WalletCreated);
    local.webhooks.fan_out(&local.ledger.project, std::slice::from_ref(&event)).await.unwrap();
    let reference = local.reference(&endpoint, &event);

    let mut delays = Vec::new();
    for attempt in 1..MAX_ATTEMPTS {
        let outcome = local.webhooks.deliver(&reference).await.unwrap();
        let DeliveryOutcome::RetryAfter(delay) = outcome else { panic!("attempt {attempt}: {outcome:?}") };
        let base = retry_delay(attempt, 1.0).as_millis() as f64;
        let ms = delay.as_millis() as f64;
        assert!(ms >= base * 0.8 - 1.0 && ms <= base * 1.2 + 1.0, "attempt {attempt}: {ms} ms for a base of {base}");
        let recorded = local.delivery(&reference).await;
        assert_eq!((recorded.status, recorded.attempts), (DeliveryStatus::Retrying, attempt));
        assert_eq!(recorded.last_status.as_deref(), Some("500"));

        // Asked again too early (SQS handed the message back early): no request, the rest of the wait.
        let early = local.webhooks.deliver(&reference).await.unwrap();
        assert!(matches!(early, DeliveryOutcome::RetryAfter(rest) if rest <= delay), "{early:?}");
        assert_eq!(receiver.received().len(), attempt as usize);

        local.ledger.clock.advance_ms(delay.as_millis() as i64);
        delays.push(delay);
    }
    assert!(delays.windows(2).all(|pair| pair[1] > pair[0]), "the delays grow: {delays:?}");
    let total: Duration = delays.iter().sum();
    assert!(total > Duration::from_secs(3 * 3600) && total < Duration::from_secs(6 * 3600), "{total:?}");

    assert_eq!(local.webhooks.deliver(&reference).await.unwrap(), DeliveryOutcome::GaveUp);
    let failed = local.delivery(&reference).await;
    assert_eq!((failed.status, failed.attempts), (DeliveryStatus::Failed, MAX_ATTEMPTS));
    assert_eq!(failed.next_attempt_at, None);

    local.ledger.clock.advance_ms(24 * 3600 * 1000);
    assert_eq!(local.webhooks.deliver(&reference).await.unwrap(), DeliveryOutcome::Nothing);
    let received = receiver.received();
    assert_eq!(received.len(), MAX_ATTEMPTS as usize, "no request after the last attempt");
    let attempts: Vec<String> = received.iter().map(|r| r.header("pocketbook-delivery-attempt").to_owned()).collect();
    assert_eq!(attempts, (1..=MAX_ATTEMPTS).map(|n| n.to_string()).collect::<Vec<_>>());
    assert!(received.iter().all(|r| r.header("pocketbook-event-id") == event.id.as_str() && r.body == event.body));

    let failed_list = local
        .webhooks
        .list_deliveries(
            &local.ledger.project,
            &endpoint.id,
            &DeliveryListRequest { status: Some(DeliveryStatus::Failed), limit: 10, page: None },
        )
        .await
        .unwrap();
    assert_eq!(failed_list.deliveries.len(), 1);
}

#[tokio::test]
async fn a_receiver_that_times_out_is_retried_through_the_queue_and_the_event_arrives() {
    let local = Local::new(Duration::from_millis(300)).await;
    let receiver = Receiver::start(Answer::Status(200)).await;
    receiver.script(&[Answer::Hang(Duration::from_secs(3))]);
    let (endpoint, _) = local.endpoint(&receiver.url, &["movement.completed"]).await;
    let event = event(EventKind::MovementCompleted);
    assert_eq!(local.webhooks.fan_out(&local.ledger.project, std::slice::from_ref(&event)).await.unwrap(), 1);

    // The deliverer's own runner, on the message the fan-out queued.
    let messages = local.queued().await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(DeliveryRef::from_message(message.body().unwrap()), Some(local.reference(&endpoint, &event)));
    let batch: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(json!({"Records": [{
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1"
    }, {
        "messageId": "not-ours",
        "receiptHandle": "x",
        "body": "{\"hello\": 1}",
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1"
    }]}))
    .unwrap();
    let answer = pocketbook::edge::deliveries::handle_batch(&local.webhooks, "test", batch.clone()).await;
    assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": message.message_id()}]}));
    let reference = local.reference(&endpoint, &event);
    let timed_out = local.delivery(&reference).await;
    assert_eq!((timed_out.status, timed_out.attempts), (DeliveryStatus::Retrying, 1));
    assert_eq!(timed_out.last_status.as_deref(), Some("timeout"));

    local.ledger.clock.advance_ms(60_000);
    let answer = pocketbook::edge::deliveries::handle_batch(&local.webhooks, "test", batch).await;
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let delivered = local.delivery(&reference).await;
    assert_eq!((delivered.status, delivered.attempts), (DeliveryStatus::Delivered, 2));
    assert_eq!(delivered.last_status.as_deref(), Some("200"));
    assert!(delivered.delivered_at.is_some());

    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].header("pocketbook-event-id"), received[1].header("pocketbook-event-id"));
    assert_eq!(received[1].body, event.body, "nothing lost");
}

#[tokio::test]
async fn a_failed_delivery_redelivered_arrives_with_the_same_event_id() {
    let local = Local::new(Duration::from_secs(2)).await;
    let receiver = Receiver::start(Answer::Status(503)).await;
    let (endpoint, _) = local.endpoint(&receiver.url, &["order.charged"]).await;
    let event = event(EventKind::OrderCharged);
    local.webhooks.fan_out(&local.ledger.project, std::slice::from_ref(&event)).await.unwrap();
    local.queued().await;
    let reference = local.reference(&endpoint, &event);
    loop {
        match local.webhooks.deliver(&reference).await.unwrap() {
            DeliveryOutcome::RetryAfter(delay) => local.ledger.clock.advance_ms(delay.as_millis() as i64),
            DeliveryOutcome::GaveUp => break,
            other => panic!("{other:?}"),
        }
    }
    receiver.answer_otherwise(Answer::Status(204));
    let reset = local.webhooks.redeliver(&local.ledger.project, &endpoint.id, &event.id).await.unwrap();
    assert_eq!((reset.status, reset.attempts), (DeliveryStatus::Pending, 0));
    let messages = local.queued().await;
    assert_eq!(messages.len(), 1, "the redelivery is queued");
    let queued = DeliveryRef::from_message(messages[0].body().unwrap()).unwrap();
    assert_eq!(local.webhooks.deliver(&queued).await.unwrap(), DeliveryOutcome::Delivered);

    let received = receiver.received();
    assert_eq!(received.len(), MAX_ATTEMPTS as usize + 1);
    let last = received.last().unwrap();
    assert_eq!(last.header("pocketbook-event-id"), event.id.as_str());
    assert_eq!(last.header("pocketbook-event-id"), received[0].header("pocketbook-event-id"));
    assert_eq!(last.header("pocketbook-delivery-attempt"), "1");
    assert_eq!(local.delivery(&reference).await.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn fan_out_of_the_same_event_twice_queues_one_delivery() {
    let local = Local::new(Duration::from_secs(2)).await;
    let receiver = Receiver::start(Answer::Status(200)).await;
    let (wants, _) = local.endpoint(&receiver.url, &["balance.created"]).await;
    let (_other_kinds, _) = local.endpoint(&receiver.url, &["order.refunded"]).await;
    let event = event(EventKind::BalanceCreated);
    let project = &local.ledger.project;
    assert_eq!(local.webhooks.fan_out(project, std::slice::from_ref(&event)).await.unwrap(), 1);
    assert_eq!(local.queued().await.len(), 1);
    // Still pending with no attempt: the publisher may have failed after the write, so the same
    // event fanned out again is queued again (the deliverer makes one attempt of it).
    assert_eq!(local.webhooks.fan_out(project, std::slice::from_ref(&event)).await.unwrap(), 1);
    assert_eq!(local.webhooks.deliver(&local.reference(&wants, &event)).await.unwrap(), DeliveryOutcome::Delivered);
    assert_eq!(local.webhooks.deliver(&local.reference(&wants, &event)).await.unwrap(), DeliveryOutcome::Nothing);
    // Once attempted, a replayed event queues nothing.
    assert_eq!(local.webhooks.fan_out(project, std::slice::from_ref(&event)).await.unwrap(), 0);
    assert_eq!(local.queued().await.len(), 1, "only the one queued again before the attempt");
    assert_eq!(receiver.received().len(), 1);
    let list = DeliveryListRequest { status: None, limit: 10, page: None };
    assert_eq!(local.webhooks.list_deliveries(project, &wants.id, &list).await.unwrap().deliveries.len(), 1);
}

#[tokio::test]
async fn deliveries_are_listed_a_page_at_a_time_and_a_deleted_endpoint_gets_nothing_more() {
    let local = Local::new(Duration::from_secs(2)).await;
    let receiver = Receiver::start(Answer::Status(200)).await;
    let (endpoint, _) = local.endpoint(&receiver.url, &["*"]).await;
    let events: Vec<Outgoing> = (0..5).map(|_| event(EventKind::BalanceEntryCommitted)).collect();
    let project = &local.ledger.project;
    assert_eq!(local.webhooks.fan_out(project, &events).await.unwrap(), 5);
    let mut seen = Vec::new();
    let mut request = DeliveryListRequest { status: Some(DeliveryStatus::Pending), limit: 2, page: None };
    loop {
        let page = local.webhooks.list_deliveries(project, &endpoint.id, &request).await.unwrap();
        assert!(page.deliveries.len() <= 2);
        seen.extend(page.deliveries.into_iter().map(|d| d.event_id));
        match page.next_page {
            Some(next) => request.page = Some(next),
            None => break,
        }
    }
    seen.sort();
    let mut expected: Vec<EventId> = events.iter().map(|e| e.id.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected);
    // A token is bound to its filter.
    let first = local
        .webhooks
        .list_deliveries(project, &endpoint.id, &DeliveryListRequest { status: None, limit: 2, page: None })
        .await
        .unwrap();
    let wrong = DeliveryListRequest { status: Some(DeliveryStatus::Failed), limit: 2, page: first.next_page };
    assert!(local.webhooks.list_deliveries(project, &endpoint.id, &wrong).await.is_err());

    local.webhooks.delete(project, &endpoint.id).await.unwrap();
    let reference = local.reference(&endpoint, &events[0]);
    assert_eq!(local.webhooks.deliver(&reference).await.unwrap(), DeliveryOutcome::Nothing);
    assert!(receiver.received().is_empty());
}

// ---- through the real function binaries ----

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[tokio::test]
async fn the_webhook_routes_create_list_delete_and_refuse_bad_input_and_unknown_ids() {
    let app = TestApp::spawn().await;
    let created = app
        .send(
            "POST",
            "/webhooks",
            Some(&json!({"url": "https://hooks.example.com/pocketbook", "events": ["order.charged", "balance.created"], "description": "orders"})),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("whk_") && secret.starts_with("whsec_"));
    assert_eq!(created.body["events"], json!(["balance.created", "order.charged"]));
    assert_eq!(created.body["url"], "https://hooks.example.com/pocketbook");
    assert!(created.body["createdAt"].is_string());

    let listed = app.send("GET", "/webhooks", None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["webhooks"][0]["id"], id.as_str());
    assert!(!listed.body.to_string().contains(&secret), "the secret is never listed");
    assert!(listed.body["webhooks"][0].get("secret").is_none());

    // A delivery recorded for it, as a fan-out records it.
    let project = pocketbook::domain::names::ProjectId::parse(&app.project).unwrap();
    let webhook = pocketbook::domain::webhooks::WebhookId::parse(&id).unwrap();
    let outgoing = event(EventKind::OrderCharged);
    let delivery = pocketbook::domain::webhooks::Delivery::new(
        project,
        webhook,
        &outgoing,
        pocketbook::domain::time::Millis::from_epoch_ms(1_700_000_000_000),
    );
    app.store.insert_delivery(&delivery).await.unwrap();
    let deliveries = app.send("GET", &format!("/webhooks/{id}/deliveries"), None).await;
    assert_eq!(deliveries.status, 200, "{:?}", deliveries.body);
    assert_eq!(deliveries.body["deliveries"][0]["eventId"], outgoing.id.as_str());
    assert_eq!(deliveries.body["deliveries"][0]["status"], "pending");
    assert_eq!(deliveries.body["deliveries"][0]["attempts"], 0);
    assert_eq!(deliveries.body["deliveries"][0]["kind"], "order.charged");
    assert!(!deliveries.body.to_string().contains(&secret));
    let failed = app.send("GET", &format!("/webhooks/{id}/deliveries?status=failed"), None).await;
    assert_eq!((failed.status, failed.body["deliveries"].as_array().unwrap().len()), (200, 0));

    for (body, field) in [
        (json!({"url": "http://hooks.example.com/x", "events": ["*"]}), "url"),
        (json!({"url": "https://user:pw@hooks.example.com/x", "events": ["*"]}), "url"),
        (json!({"url": "https://hooks.example.com/x#frag", "events": ["*"]}), "url"),
        (json!({"url": "https://127.0.0.1/x", "events": ["*"]}), "url"),
        (json!({"url": "https://hooks.example.com/x", "events": ["order.nope"]}), "events"),
        (json!({"url": "https://hooks.example.com/x", "events": []}), "events"),
        (json!({"url": "https://hooks.example.com/x", "events": "*"}), "events"),
        (json!({"events": ["*"]}), "url"),
    ] {
        let refused = app.send("POST", "/webhooks", Some(&body)).await;
        assert_eq!(refused.status, 400, "{body}: {:?}", refused.body);
        assert_eq!(refused.body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(refused.body["error"]["field"], field, "{body}");
    }
    for query in ["status=nope", "limit=0", "page=garbage"] {
        let refused = app.send("GET", &format!("/webhooks/{id}/deliveries?{query}"), None).await;
        assert_eq!(refused.status, 400, "{query}: {:?}", refused.body);
        assert_eq!(refused.body["error"]["code"], "VALIDATION_ERROR");
    }

    // Another project sees none of it.
    let other = app.new_api_key(&unique("other"), &["read", "write"]).await;
    let as_other = |method: &'static str, path: String| {
        let key = bearer(&other);
        let app = &app;
        async move { app.send_as(method, &path, None, &[("authorization", key.as_str())]).await }
    };
    let theirs = as_other("GET", "/webhooks".into()).await;
    assert_eq!((theirs.status, theirs.body["webhooks"].as_array().unwrap().len()), (200, 0));
    assert_eq!(as_other("GET", format!("/webhooks/{id}/deliveries")).await.status, 404);
    assert_eq!(as_other("DELETE", format!("/webhooks/{id}")).await.status, 404);

    let unknown = "whk_00000000000000000000000000";
    for (method, path) in [
        ("DELETE", format!("/webhooks/{unknown}")),
        ("GET", format!("/webhooks/{unknown}/deliveries")),
        ("DELETE", "/webhooks/not-an-id".to_owned()),
        ("POST", format!("/webhooks/{id}/deliveries/evt_00000000000000000000000000000000/redeliver")),
    ] {
        let answer = app.send(method, &path, None).await;
        assert_eq!(answer.status, 404, "{method} {path}: {:?}", answer.body);
        assert_eq!(answer.body["error"]["code"], "NOT_FOUND");
    }

    let deleted = app.send("DELETE", &format!("/webhooks/{id}"), None).await;
    assert_eq!((deleted.status, deleted.body["deleted"].as_bool()), (200, Some(true)));
    assert_eq!(app.send("DELETE", &format!("/webhooks/{id}"), None).await.status, 404);
    assert_eq!(app.send("GET", "/webhooks", None).await.body["webhooks"], json!([]));
}

#[tokio::test]
async fn a_project_may_register_at_most_twenty_endpoints() {
    let app = TestApp::spawn().await;
    for n in 0..pocketbook::domain::webhooks::MAX_ENDPOINTS {
        let body = json!({"url": format!("https://hooks.example.com/{n}"), "events": ["*"]});
        assert_eq!(app.send("POST", "/webhooks", Some(&body)).await.status, 201);
    }
    let body = json!({"url": "https://hooks.example.com/one-more", "events": ["*"]});
    let refused = app.send("POST", "/webhooks", Some(&body)).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["error"]["code"], "WEBHOOK_LIMIT_REACHED");
}

#[tokio::test]
async fn the_deliver_function_posts_a_redelivered_event_registered_through_the_api() {
    let (sqs, queue_url) = new_queue().await;
    let endpoint = local_dynamodb::endpoint();
    let options = AppOptions::default()
        .env("DELIVERY_QUEUE_URL", &queue_url)
        .env("AWS_ENDPOINT_URL_SQS", &endpoint)
        .env("POCKETBOOK_WEBHOOK_ALLOW_INSECURE", "true")
        .env("POCKETBOOK_WEBHOOK_TIMEOUT_MS", "2000");
    let app = TestApp::spawn_with(options).await;
    let receiver = Receiver::start(Answer::Status(200)).await;
    let created = app.send("POST", "/webhooks", Some(&json!({"url": receiver.url, "events": ["*"]}))).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = WebhookSecret::from_opened(created.body["secret"].as_str().unwrap().to_owned()).unwrap();

    // A delivery that failed before, redelivered through the route.
    let project = pocketbook::domain::names::ProjectId::parse(&app.project).unwrap();
    let outgoing = event(EventKind::WalletUpdated);
    let webhook = pocketbook::domain::webhooks::WebhookId::parse(&id).unwrap();
    let now = pocketbook::domain::time::Millis::from_datetime(chrono::Utc::now());
    let delivery = pocketbook::domain::webhooks::Delivery::new(project, webhook, &outgoing, now);
    app.store.insert_delivery(&delivery).await.unwrap();
    let redelivered =
        app.send("POST", &format!("/webhooks/{id}/deliveries/{}/redeliver", outgoing.id.as_str()), None).await;
    assert_eq!(redelivered.status, 202, "{:?}", redelivered.body);
    assert_eq!(redelivered.body["status"], "pending");

    let message = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(1)
        .visibility_timeout(60)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
        .pop()
        .expect("the redelivery is queued");
    let deliver = app.extra_pool("deliver-webhooks", &[]).await;
    let batch = json!({"Records": [{
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1"
    }]});
    let (_, answer) = deliver.invoke_json(&batch).await.expect("invoke deliver-webhooks");
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let signature = received[0].header("pocketbook-signature");
    assert_eq!(verify(&secret, signature, &received[0].body, chrono::Utc::now().timestamp(), 300), Ok(()));
    assert_eq!(received[0].header("pocketbook-event-id"), outgoing.id.as_str());

    let listed = app.send("GET", &format!("/webhooks/{id}/deliveries?status=delivered"), None).await;
    assert_eq!(listed.body["deliveries"][0]["attempts"], 1);
    assert_eq!(listed.body["deliveries"][0]["lastStatus"], "200");
    let logs = deliver.log_lines().join("\n");
    assert!(!logs.contains(secret.expose()) && !logs.contains(&outgoing.body), "no secret or body in the log");
}
