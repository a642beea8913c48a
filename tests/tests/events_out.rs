//! Events out (issue 16), end to end: real commits through the real function binaries, the
//! table's real DynamoDB stream (moto's) read by `make dev`'s stand-in for Lambda's event
//! source mapping, the real `publish-events` binary publishing to a fake EventBridge that
//! records every entry, and, for webhooks, the real `deliver-webhooks` on an SQS queue.

use hmac::{Hmac, Mac};
use pocketbook::domain::events::{EventId, EventKind};
use pocketbook_tests::events::{BusEntry, EventsApp, EventsOptions, ReceivedWebhook, WebhookReceiver, BUS_NAME};
use pocketbook_tests::fake_provider::FakeProvider;
use pocketbook_tests::{Answer, AppOptions, TestApp};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

fn unique(prefix: &str) -> String {
    pocketbook_tests::app::unique(prefix).replace('-', "")
}

fn mobile() -> String {
    format!("98{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000)
}

async fn ok(app: &TestApp, method: &str, path: &str, body: Value) -> Value {
    let answer = app.send(method, path, Some(&body)).await;
    assert!(answer.status < 300, "{method} {path} {body}: {} {}", answer.status, answer.body);
    answer.body
}

/// The envelope every published entry carries, with EventBridge's source and detail-type
/// of its kind; its kind. The project is the test's, or the sandbox provider's own (its
/// wallets are balances of the ledger too, and their commits are events like any other).
fn assert_envelope(entry: &BusEntry, project: &str) -> EventKind {
    let detail = &entry.detail;
    let kind = EventKind::parse(entry.kind()).unwrap_or_else(|| panic!("an unknown kind: {}", entry.detail_text));
    assert_eq!(entry.source, kind.source(), "{}", entry.detail_text);
    assert_eq!(entry.detail_type, kind.detail_type(), "{}", entry.detail_text);
    assert_eq!(entry.event_bus_name, BUS_NAME);
    assert!(EventId::parse(entry.id()).is_some(), "an event id: {}", entry.detail_text);
    let projects = [project, pocketbook::services::wallet_accounts::sandbox::PROJECT];
    assert!(projects.iter().any(|p| detail["project"] == *p), "the project: {}", entry.detail_text);
    let created = detail["createdAt"].as_str().unwrap_or_else(|| panic!("createdAt: {}", entry.detail_text));
    assert!(chrono::DateTime::parse_from_rfc3339(created).is_ok(), "an ISO-8601 createdAt: {created}");
    assert!(detail["subject"]["type"].as_str().is_some_and(|t| !t.is_empty()), "{}", entry.detail_text);
    assert!(!entry.subject_id().is_empty(), "a subject id: {}", entry.detail_text);
    assert!(entry.sequence().is_some(), "a sequence: {}", entry.detail_text);
    assert!(detail["data"].is_object(), "data: {}", entry.detail_text);
    kind
}

/// A customer with a linked account at `gateway` (OTP: the mobile's last six digits); the
/// customer's id and the account's.
async fn linked(app: &TestApp, gateway: &str, mobile: &str) -> (String, String) {
    let reference = unique("ref");
    let customer =
        ok(app, "POST", "/customers", json!({"object_reference_id": reference, "mobile_number": mobile})).await;
    let customer = customer["id"].as_str().expect("a customer id").to_owned();
    let account = ok(app, "POST", &format!("/customers/{customer}/wallets"), json!({"gateway": gateway})).await;
    let account = account["id"].as_str().expect("an account id").to_owned();
    let otp = &mobile[mobile.len() - 6..];
    let link = ok(app, "POST", &format!("/wallets/{account}"), json!({"command": "link", "otp": otp})).await;
    assert_eq!(link["linked"], true, "{link}");
    (customer, account)
}

async fn token(app: &TestApp, customer: &str) -> String {
    let list = app.send("GET", &format!("/customers/{customer}/wallets"), None).await;
    list.body["list"][0]["token"].as_str().expect("a token").to_owned()
}

async fn pay(app: &TestApp, order: &str, gateway: &str, token: &str, amount: &str) -> Answer {
    let body = json!({"order_id": order, "merchant_id": app.project, "payment_method_type": "WALLET",
                      "payment_method": gateway, "direct_wallet_token": token, "amount": amount,
                      "redirect_after_payment": false, "format": "json"});
    app.send("POST", "/txns", Some(&body)).await
}

/// The stream record (of a history item, `T#…`) whose new image mentions `needle`.
fn history_record<'a>(batch: &'a Value, needle: &str) -> &'a Value {
    let found: Vec<&Value> = batch["Records"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|record| record["eventName"] == "INSERT")
        .filter(|record| record["dynamodb"]["Keys"]["sk"]["S"].as_str().is_some_and(|sk| sk.starts_with("T#")))
        .filter(|record| record["dynamodb"]["NewImage"].to_string().contains(needle))
        .collect();
    assert_eq!(found.len(), 1, "one history record with {needle} in the batch");
    found[0]
}

fn sequence_number(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"].as_str().expect("a sequence number").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_kind_is_published_from_real_commits_through_the_stream() {
    let provider = FakeProvider::start().await;
    let mut options = AppOptions::default();
    for (key, value) in provider.env_for("PAYTM") {
        options = options.env(&key, &value);
    }
    let events = EventsApp::spawn_with(EventsOptions::default().app(options)).await;
    let app = &events.app;

    // Balances: created, INC, DEC, and an expiring credit that expires (a read writes it).
    let balance = app.new_balance().await;
    for body in [
        json!({"amount": 10, "type": "INC"}),
        json!({"amount": 3, "type": "DEC"}),
        json!({"amount": 5, "type": "INC", "ttlInSeconds": 1}),
    ] {
        let answer = app.operate(&balance, body.clone()).await;
        assert_eq!(answer.status, 200, "{body}: {}", answer.body);
    }

    // Wallets: created and renamed; a deposit, a transfer, a quasi-transfer cancelled and
    // one that expires under the sweeper.
    let alice = ok(app, "POST", "/v1.0/wallets", json!({"name": "Alice"})).await["id"].as_str().unwrap().to_owned();
    let bob = ok(app, "POST", "/v1.0/wallets", json!({"name": "Bob"})).await["id"].as_str().unwrap().to_owned();
    ok(app, "PATCH", &format!("/v1.0/wallets/{alice}"), json!({"change": {"name": "Alice's savings"}})).await;
    ok(app, "POST", "/v1.0/deposits/initiate", json!({"destination": alice, "amount": 100})).await;
    ok(app, "POST", "/v1.0/transfers/initiate", json!({"source": alice, "destination": bob, "amount": 10})).await;
    let quasi = json!({"source": alice, "destination": bob, "amount": 5});
    let cancelled = ok(app, "POST", "/v1.0/quasi-transfers/initiate", quasi.clone()).await;
    let cancelled = cancelled["id"].as_str().unwrap().to_owned();
    let cancel = app.send("POST", &format!("/v1.0/quasi-transfers/{cancelled}/cancel"), None).await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    let mut expiring = quasi.clone();
    expiring["expire"] = json!("after 1s");
    ok(app, "POST", "/v1.0/quasi-transfers/initiate", expiring).await;

    // Customer wallet accounts: a sandbox account linked, charged, refunded, delinked; an
    // HTTP provider's account whose debit the provider declines.
    let (customer, account) = linked(app, "MOBIKWIK", &mobile()).await;
    let charged = unique("charged");
    let paid = pay(app, &charged, "MOBIKWIK", &token(app, &customer).await, "20").await;
    assert_eq!(paid.body["status"], "CHARGED", "{}", paid.body);
    ok(app, "POST", &format!("/orders/{charged}/refunds"), json!({"unique_request_id": "r1", "amount": "5"})).await;
    ok(app, "POST", &format!("/wallets/{account}"), json!({"command": "delink"})).await;
    let declined_mobile = mobile();
    provider.set_balance(&declined_mobile, rust_decimal::Decimal::from(50));
    let (declined_customer, _) = linked(app, "PAYTM", &declined_mobile).await;
    provider.decline_debits(&declined_mobile, "wallet blocked");
    let failed = unique("failed");
    let refused = pay(app, &failed, "PAYTM", &token(app, &declined_customer).await, "7").await;
    assert_ne!(refused.body["status"], "CHARGED", "{}", refused.body);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let read = app.send("GET", &format!("/balances/{balance}"), None).await;
    assert_eq!(read.body["balanceAmount"], json!(7), "the credit expired: {}", read.body);
    let swept = events.sweep().await;
    assert_eq!(swept["expired"], 1, "{swept}");

    let report = events.pump().await;
    assert!(report.stream.records > 0, "{report:?}");
    let published = events.published();
    let mut kinds = BTreeMap::new();
    for entry in &published {
        *kinds.entry(assert_envelope(entry, &app.project)).or_insert(0) += 1;
    }
    let missing: Vec<&str> =
        EventKind::ALL.iter().filter(|kind| !kinds.contains_key(kind)).map(|k| k.as_str()).collect();
    assert!(missing.is_empty(), "kinds never published: {missing:?}; published: {kinds:?}");

    // The balance's own: created once, then an entry per INC, DEC and the expiry, in order.
    let about_balance: Vec<(String, Option<u64>)> =
        events.published_about(&balance).iter().map(|e| (e.kind().to_owned(), e.sequence())).collect();
    let entries: Vec<Option<u64>> =
        about_balance.iter().filter(|(kind, _)| kind == "balance.entry.committed").map(|(_, seq)| *seq).collect();
    assert_eq!(entries, vec![Some(1), Some(2), Some(3), Some(4)], "{about_balance:?}");
    assert_eq!(about_balance.iter().filter(|(kind, _)| kind == "balance.created").count(), 1, "{about_balance:?}");
    // Wallets are told as wallets, never as plain balances.
    for wallet in [&alice, &bob] {
        let kinds: BTreeSet<String> = events.published_about(wallet).iter().map(|e| e.kind().to_owned()).collect();
        assert!(!kinds.contains("balance.created"), "{wallet}: {kinds:?}");
        assert!(kinds.contains("wallet.created"), "{wallet}: {kinds:?}");
    }
    // Nothing published twice on the way (no retries happened).
    let ids: BTreeSet<&str> = published.iter().map(BusEntry::id).collect();
    assert_eq!(ids.len(), published.len(), "one entry per event id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_stream_batch_delivered_twice_publishes_the_same_ids() {
    let events = EventsApp::spawn_with(EventsOptions::default().batch_size(4)).await;
    let app = &events.app;
    let balance = app.new_balance().await;
    for amount in [1, 2, 3] {
        assert_eq!(app.operate(&balance, json!({"amount": amount, "type": "INC"})).await.status, 200);
    }
    ok(app, "POST", "/v1.0/wallets", json!({"name": "Twice"})).await;
    events.pump().await;
    let first: Vec<String> = events.published().iter().map(|e| e.id().to_owned()).collect();
    assert!(first.len() >= 5, "created, three entries, a wallet: {first:?}");

    // Lambda may hand a batch over again (a retry, a timeout, a redeploy): the same records.
    let batches = events.publish_invocations();
    assert!(batches.len() > 1, "batches of 4 records: {}", batches.len());
    for batch in &batches {
        let (_, answer) = events.publisher.invoke_json(&batch.payload).await.expect("publish-events answers");
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    let all: Vec<String> = events.published().iter().map(|e| e.id().to_owned()).collect();
    assert_eq!(&all[first.len()..], &first[..], "the replay publishes the same ids, in the same order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_publish_is_its_records_batch_item_failure_and_the_retry_publishes_none_before_it() {
    let events = EventsApp::spawn_with(EventsOptions::default().batch_size(100)).await;
    let app = &events.app;
    let balance = app.new_balance().await;
    for amount in ["1", "2", "777.13", "4"] {
        let body: Value = serde_json::from_str(&format!(r#"{{"amount": {amount}, "type": "INC"}}"#)).unwrap();
        assert_eq!(app.operate(&balance, body).await.status, 200);
    }
    events.bus.refuse("777.13", 1);
    events.pump().await;

    let batches = events.publish_invocations();
    assert!(batches.len() >= 2, "a batch and its retry: {batches:?}");
    let record = history_record(&batches[0].payload, "777.13");
    let failed = sequence_number(record);
    let answer = batches[0].answer.as_ref().expect("the first invocation answers");
    assert_eq!(answer["batchItemFailures"], json!([{"itemIdentifier": failed}]), "that record's failure");
    let retry = &batches[1].payload["Records"];
    assert_eq!(sequence_number(&retry[0]), failed, "the retry starts at the failed record");

    let attempts: Vec<BusEntry> = events.bus.attempts().into_iter().filter(|e| e.subject_id() == balance).collect();
    let tries = |seq: u64| -> Vec<bool> {
        attempts
            .iter()
            .filter(|e| e.kind() == "balance.entry.committed" && e.sequence() == Some(seq))
            .map(|e| e.accepted)
            .collect()
    };
    let created: Vec<&BusEntry> = attempts.iter().filter(|e| e.kind() == "balance.created").collect();
    assert_eq!(created.len(), 1, "balance.created: sent once");
    assert_eq!(tries(1), vec![true], "before the refused one: sent once");
    assert_eq!(tries(2), vec![true], "before the refused one: sent once");
    assert_eq!(tries(3), vec![false, true], "refused, then taken on the retry");
    assert!(tries(4).contains(&true), "after it: published (perhaps twice): {:?}", tries(4));
    let last_ids: BTreeSet<&str> = attempts.iter().filter(|e| e.sequence() == Some(3)).map(BusEntry::id).collect();
    assert_eq!(last_ids.len(), 1, "the retry publishes the same id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_balance_order_holds_across_batches_of_three_with_a_refusal_in_the_middle() {
    let events = EventsApp::spawn_with(EventsOptions::default().batch_size(3)).await;
    let app = &events.app;
    let balance = app.new_balance().await;
    let other = app.new_balance().await;
    let n = 12;
    for i in 1..=n {
        let amount = if i == 6 { "606.06".to_owned() } else { format!("{i}") };
        let body: Value = serde_json::from_str(&format!(r#"{{"amount": {amount}, "type": "INC"}}"#)).unwrap();
        assert_eq!(app.operate(&balance, body).await.status, 200);
        // Another balance's commits in between: its own order, in the same shard.
        assert_eq!(app.operate(&other, json!({"amount": 1, "type": "INC"})).await.status, 200);
    }
    events.bus.refuse("606.06", 1);
    events.pump().await;
    let failures = events
        .publish_invocations()
        .iter()
        .filter(|batch| batch.answer.as_ref().is_ok_and(|a| a["batchItemFailures"] != json!([])))
        .count();
    assert_eq!(failures, 1, "one refusal, one batch item failure");

    for (id, count) in [(&balance, n), (&other, n)] {
        let mut first_publication: Vec<u64> = Vec::new();
        for entry in events.published_about(id) {
            let Some(sequence) = entry.sequence().filter(|_| entry.kind() == "balance.entry.committed") else {
                continue;
            };
            if !first_publication.contains(&sequence) {
                first_publication.push(sequence);
            }
        }
        assert_eq!(first_publication, (1..=count as u64).collect::<Vec<_>>(), "{id}: ascending, none missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_api_key_webhook_secret_or_signing_secret_is_in_any_event_or_log() {
    let events = EventsApp::spawn_with(EventsOptions::default().with_deliverer()).await;
    let app = &events.app;
    let receiver = WebhookReceiver::start().await;
    let created = ok(app, "POST", "/webhooks", json!({"url": receiver.url(), "events": ["*"]})).await;
    let webhook_secret = created["secret"].as_str().expect("the secret, once").to_owned();
    let signed = app.new_signed_api_key(&app.project, &["read", "write"]).await;
    let other_key = app.new_api_key(&app.project, &["read"]).await;

    let balance = app.new_balance().await;
    app.operate(&balance, json!({"amount": 10, "type": "INC"})).await;
    ok(app, "POST", "/v1.0/wallets", json!({"name": "Secretive"})).await;
    let (customer, _) = linked(app, "MOBIKWIK", &mobile()).await;
    let wallet_token = token(app, &customer).await;
    let paid = pay(app, &unique("o"), "MOBIKWIK", &wallet_token, "1").await;
    assert_eq!(paid.body["status"], "CHARGED", "{}", paid.body);
    events.pump().await;
    assert!(!events.published().is_empty());
    assert!(!receiver.received().is_empty(), "webhooks went out");

    let secrets = [
        ("the API key", app.api_key.as_str()),
        ("another API key", other_key.as_str()),
        ("a signed key", signed.key.as_str()),
        ("a key's signing secret", signed.secret.as_str()),
        ("the webhook's signing secret", webhook_secret.as_str()),
        ("a wallet token", wallet_token.as_str()),
    ];
    for (what, secret) in secrets {
        for entry in events.bus.attempts() {
            assert!(!entry.detail_text.contains(secret), "{what} in an event: {}", entry.detail_text);
        }
        for webhook in receiver.received() {
            assert!(!webhook.body.contains(secret), "{what} in a webhook body");
            assert!(webhook.headers.values().all(|value| !value.contains(secret)), "{what} in a webhook header");
        }
        for (function, line) in events.all_logs() {
            assert!(!line.contains(secret), "{what} in {function}'s log: {line}");
        }
    }
}

type HmacSha256 = Hmac<sha2::Sha256>;

/// The documented check: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
fn signature_verifies(webhook: &ReceivedWebhook, secret: &str) -> bool {
    let Some(header) = webhook.header("pocketbook-signature") else { return false };
    let field = |name: &str| header.split(',').find_map(|part| part.trim().strip_prefix(name)).unwrap_or_default();
    let (t, v1) = (field("t="), field("v1="));
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(format!("{t}.{}", webhook.body).as_bytes());
    hex::decode(v1).is_ok_and(|v1| mac.verify_slice(&v1).is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registered_webhook_receives_the_events_through_the_queue_and_deliver_webhooks() {
    let events = EventsApp::spawn_with(EventsOptions::default().with_deliverer()).await;
    let app = &events.app;
    let receiver = WebhookReceiver::start().await;
    let body = json!({"url": receiver.url(), "events": ["balance.created", "balance.entry.committed"]});
    let created = app.send("POST", "/webhooks", Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["secret"].as_str().expect("a secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");

    let balance = app.new_balance().await;
    for amount in [5, 6] {
        assert_eq!(app.operate(&balance, json!({"amount": amount, "type": "INC"})).await.status, 200);
    }
    ok(app, "POST", "/v1.0/wallets", json!({"name": "Not subscribed"})).await;
    let report = events.pump().await;
    assert!(report.queue.records >= 3, "the deliveries went through the queue: {report:?}");

    let received = receiver.received();
    let published: BTreeMap<String, BusEntry> =
        events.published().into_iter().map(|e| (e.id().to_owned(), e)).collect();
    let mut kinds = Vec::new();
    for webhook in &received {
        assert!(signature_verifies(webhook, &secret), "the signature verifies: {:?}", webhook.headers);
        let mut tampered = webhook.clone();
        tampered.body = tampered.body.replacen('5', "9", 1);
        assert!(!signature_verifies(&tampered, &secret), "a tampered body does not");
        let id = webhook.header("pocketbook-event-id").expect("Pocketbook-Event-Id").to_owned();
        let body = webhook.json();
        assert_eq!(body["id"], id.as_str());
        assert_eq!(webhook.header("pocketbook-event-kind"), body["kind"].as_str());
        assert_eq!(webhook.header("content-type"), Some("application/json"));
        assert_eq!(webhook.header("pocketbook-delivery-attempt"), Some("1"));
        let on_bus = published.get(&id).unwrap_or_else(|| panic!("{id} was published too"));
        assert_eq!(on_bus.detail, body, "the webhook body is the event's detail");
        kinds.push(body["kind"].as_str().unwrap_or_default().to_owned());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        ["balance.created", "balance.entry.committed", "balance.entry.committed"],
        "only what it asked for"
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Not a timed test (nothing is asserted about the numbers): it measures, for the closing
/// note, how long a commit takes to reach a webhook receiver locally with the pump running.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commit_to_webhook_latency_with_the_pump_running() {
    let events = EventsApp::spawn_with(EventsOptions::default().with_deliverer()).await;
    let app = &events.app;
    let receiver = WebhookReceiver::start().await;
    ok(app, "POST", "/webhooks", json!({"url": receiver.url(), "events": ["balance.entry.committed"]})).await;
    let balance = app.new_balance().await;
    // Warm every function once, then measure with the pump polling.
    app.operate(&balance, json!({"amount": 1, "type": "INC"})).await;
    events.pump().await;
    let warmed = receiver.received().len();
    let pump = events.pump_continuously().await;

    let operations = 50;
    let mut latencies = Vec::new();
    for i in 0..operations {
        let answer = app.operate(&balance, json!({"amount": 1, "type": "INC"})).await;
        let answered = Instant::now();
        assert_eq!(answer.status, 200);
        let received = receiver.wait_for(warmed + i + 1, Duration::from_secs(30)).await;
        let webhook = received.get(warmed + i).unwrap_or_else(|| panic!("operation {i}: no webhook within 30 s"));
        latencies.push(webhook.received_at.saturating_duration_since(answered));
    }
    pump.stop().await;
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "commit answered -> webhook received, {operations} operations, pump polling every 20 ms: \
         p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.95)),
        ms(latencies[latencies.len() - 1])
    );
}
