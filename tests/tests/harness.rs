//! Tests of the test harness itself: the local Lambda runtime, the API Gateway front and the
//! fault-injecting DynamoDB proxy.
//!
//! Needs the echo function: `cargo build -p pocketbook-tests --example echo_lambda`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put, ScalarAttributeType,
    TransactWriteItem,
};
use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use pocketbook_tests::ddb_proxy::{DdbProxy, Fault, FaultRule};
use pocketbook_tests::gateway::{Authorization, Gateway, Route};
use pocketbook_tests::lambda::{FunctionPool, FunctionSpec, InvokeError};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

// ---------------------------------------------------------------------------------------
// Helpers

/// `<target>/debug/examples/echo_lambda`, next to `<target>/debug/deps/<this test>`.
fn echo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let profile_dir =
        exe.parent().and_then(|deps| deps.parent()).expect("test binary lives in <target>/<profile>/deps");
    let binary = profile_dir.join("examples").join("echo_lambda");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p pocketbook-tests --example echo_lambda` first",
        binary.display()
    );
    binary
}

async fn echo_pool(instances: usize) -> FunctionPool {
    FunctionPool::start(FunctionSpec::new("echo", echo_binary()).instances(instances))
        .await
        .expect("start the echo function")
}

fn pid_of(answer: &Value) -> u64 {
    answer["pid"].as_u64().expect("the echo answer carries the pid")
}

/// Whether a process is still running (a zombie awaiting its reaper counts as gone).
fn is_running(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The local DynamoDB (moto, serialised), started ad hoc for these tests. It exits when
/// its stdin closes, i.e. when this value is dropped or the test process dies.
struct LocalDynamo {
    _child: Child,
    url: String,
}

impl LocalDynamo {
    async fn start() -> LocalDynamo {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let port_file = std::env::temp_dir().join(format!("harness-ddb-{}.port", uuid::Uuid::new_v4()));
        let mut child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("scripts/local_dynamodb.py"))
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start scripts/local_dynamodb.py");
        // The server prints its banner after writing the port file: wait for that line.
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let banner = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read the DynamoDB banner") {
                if line.contains("local DynamoDB") {
                    return line;
                }
            }
            panic!("local DynamoDB exited before it was listening");
        })
        .await
        .expect("local DynamoDB did not start within 60 s");
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = std::fs::read_to_string(&port_file).expect("read the port file");
        let _ = std::fs::remove_file(&port_file);
        let url = format!("http://127.0.0.1:{}", port.trim());
        assert!(banner.contains(&url), "banner {banner:?} should mention {url}");
        LocalDynamo { _child: child, url }
    }
}

fn dynamo_client(endpoint: &str, max_attempts: u32) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "harness-tests"))
        .endpoint_url(endpoint)
        .retry_config(
            RetryConfig::standard().with_max_attempts(max_attempts).with_initial_backoff(Duration::from_millis(5)),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn create_table(client: &aws_sdk_dynamodb::Client) -> String {
    let table = format!("harness-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().expect("key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
    table
}

async fn item_exists(client: &aws_sdk_dynamodb::Client, table: &str, pk: &str) -> bool {
    let item = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item");
    item.item().is_some()
}

/// The proxy in front of a fresh local DynamoDB, a table, and an SDK client through the proxy
/// with `max_attempts` attempts per call.
async fn proxied_table(max_attempts: u32) -> (LocalDynamo, DdbProxy, aws_sdk_dynamodb::Client, String) {
    let dynamo = LocalDynamo::start().await;
    let proxy = DdbProxy::start(dynamo.url.clone()).await.expect("start the proxy");
    let client = dynamo_client(&proxy.url(), max_attempts);
    let table = create_table(&client).await;
    proxy.reset_calls(&table);
    (dynamo, proxy, client, table)
}

fn put(table: &str, pk: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(Put::builder().table_name(table).item("pk", AttributeValue::S(pk.into())).build().expect("put"))
        .build()
}

// ---------------------------------------------------------------------------------------
// The local Lambda runtime

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_round_trips_through_the_real_function_binary() {
    let pool = echo_pool(1).await;

    let (request_id, answer) = pool.invoke_json(&json!({"hello": "world"})).await.expect("invoke");

    assert_eq!(answer["echo"], json!({"hello": "world"}));
    assert_eq!(answer["requestId"], json!(request_id), "the function saw the harness's request id");
    // What the function logged while handling the request is there as soon as invoke returns.
    let lines = pool.log_lines_containing(&request_id);
    assert_eq!(lines.len(), 1, "one log line per request: {:?}", pool.log_lines());
    let line: Value = serde_json::from_str(&lines[0]).expect("the function logs JSON lines");
    assert_eq!(line["message"], "handling");
    assert!(pool.log_lines().iter().any(|l| l.starts_with("echo_lambda starting")), "stderr is captured too");
    let timings = pool.startup_timings();
    assert_eq!(timings.len(), 1);
    assert!(timings[0].ready_after.is_some() && timings[0].first_invocation.is_some(), "{timings:?}");
    assert_eq!(pool.cold_starts(), 1);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_spread_over_three_instances() {
    let pool = echo_pool(3).await;
    // Warm all three up, so the timing below measures invocations, not cold starts.
    let mut warmups = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let pool = pool.clone();
        warmups.spawn(async move { pool.invoke_json(&json!({"sleep_ms": 200})).await });
    }
    while let Some(result) = warmups.join_next().await {
        result.expect("join").expect("warm-up");
    }

    let started = Instant::now();
    let mut invocations = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let pool = pool.clone();
        invocations.spawn(async move { pool.invoke_json(&json!({"sleep_ms": 400})).await });
    }
    let mut pids = HashSet::new();
    while let Some(result) = invocations.join_next().await {
        let (_, answer) = result.expect("join").expect("invoke");
        pids.insert(pid_of(&answer));
    }
    let elapsed = started.elapsed();

    assert_eq!(pids.len(), 3, "all three instances served");
    // Six 400 ms invocations on three single-threaded instances: two rounds, not six.
    assert!(elapsed < Duration::from_millis(2000), "took {elapsed:?}");
    assert_eq!(pool.cold_starts(), 3);

    // Every answer comes with the function's log lines for it already captured.
    let mut quick = tokio::task::JoinSet::new();
    for i in 0..60 {
        let pool = pool.clone();
        quick.spawn(async move {
            let (request_id, _) = pool.invoke_json(&json!({"i": i})).await.expect("invoke");
            assert_eq!(pool.log_lines_containing(&request_id).len(), 1, "log line of {request_id}");
        });
    }
    while let Some(result) = quick.join_next().await {
        result.expect("the log line was there");
    }
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_instance_answers_crashed_and_the_next_invocation_runs_on_a_fresh_instance() {
    let pool = echo_pool(1).await;
    let (_, before) = pool.invoke_json(&json!({"n": 1})).await.expect("first invocation");

    let crash = pool.invoke_json(&json!({"exit": 3})).await;

    match crash {
        Err(InvokeError::Crashed { exit_status }) => {
            assert!(exit_status.contains('3'), "{exit_status}")
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    let (_, after) = pool.invoke_json(&json!({"n": 2})).await.expect("invocation after the crash");
    assert_ne!(pid_of(&before), pid_of(&after), "a new process took over");
    assert!(!is_running(pid_of(&before)));
    assert_eq!(pool.cold_starts(), 2);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_error_answers_its_type_and_message_and_keeps_the_instance() {
    let pool = echo_pool(1).await;

    let error = pool.invoke_json(&json!({"error": {"type": "Ledger.Rejected", "message": "insufficient funds"}})).await;

    assert_eq!(
        error.expect_err("a function error"),
        InvokeError::Function { error_type: "Ledger.Rejected".into(), error_message: "insufficient funds".into() }
    );
    pool.invoke_json(&json!({})).await.expect("the instance still serves");
    assert_eq!(pool.cold_starts(), 1);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_past_the_timeout_answers_timeout_and_the_instance_is_replaced() {
    let spec = FunctionSpec::new("echo", echo_binary()).timeout(Duration::from_millis(500));
    let pool = FunctionPool::start(spec).await.expect("start");
    let (_, first) = pool.invoke_json(&json!({})).await.expect("warm-up");

    let started = Instant::now();
    let slow = pool.invoke_json(&json!({"sleep_ms": 10_000})).await;

    assert_eq!(slow.expect_err("a timeout"), InvokeError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(3), "timed out after {:?}", started.elapsed());
    assert!(!is_running(pid_of(&first)), "the timed-out process was killed");
    let (_, next) = pool.invoke_json(&json!({})).await.expect("a fresh instance serves");
    assert_ne!(pid_of(&first), pid_of(&next));
    assert_eq!(pool.cold_starts(), 2);
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_dies_during_init_fails_the_waiting_invocation_instead_of_hanging() {
    let spec = FunctionSpec::new("broken", echo_binary()).env("ECHO_EXIT_AT_START", "2");
    let pool = FunctionPool::start(spec).await.expect("start");

    let result = tokio::time::timeout(Duration::from_secs(10), pool.invoke(Bytes::from_static(b"{}"))).await;

    match result.expect("the invocation must not hang") {
        Err(InvokeError::Crashed { exit_status }) => {
            assert!(exit_status.contains('2'), "{exit_status}")
        }
        other => panic!("expected a crash during init, got {other:?}"),
    }
    assert!(pool.log_lines().iter().any(|l| l.contains("failing its init on purpose")));
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_or_dropping_a_pool_leaves_no_process_behind() {
    let pool = echo_pool(2).await;
    let (_, answer) = pool.invoke_json(&json!({})).await.expect("invoke");
    let pid = pid_of(&answer);
    pool.shutdown().await;
    assert!(!is_running(pid), "shutdown waits until the processes are gone");

    let pool = echo_pool(1).await;
    let (_, answer) = pool.invoke_json(&json!({})).await.expect("invoke");
    let pid = pid_of(&answer);
    drop(pool);
    // Dropping kills in the background (kill_on_drop); give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!is_running(pid), "dropping the pool kills its processes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_pool_of_a_missing_binary_fails() {
    let result = FunctionPool::start(FunctionSpec::new("ghost", "/nonexistent/bootstrap")).await;
    assert!(result.is_err());
}

// ---------------------------------------------------------------------------------------
// The API Gateway front

async fn echo_gateway() -> (Gateway, FunctionPool) {
    let pool = echo_pool(2).await;
    let gateway = Gateway::start(vec![
        Route::new(Method::POST, "/balances/{balanceId}/operations", pool.clone()),
        Route::new(Method::GET, "/balances/{balanceId}", pool.clone()),
        Route::new(Method::POST, "/echo", pool.clone()),
    ])
    .await
    .expect("start the gateway");
    (gateway, pool)
}

/// Sends a request and returns (status, headers, the event the echo function received).
async fn event_of(response: reqwest::Response) -> (http::HeaderMap, Value) {
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let event: Value = response.json().await.expect("the echo function answers the event");
    (headers, event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_turns_an_http_request_into_a_payload_2_event() {
    let (gateway, pool) = echo_gateway().await;
    let client = reqwest::Client::new();

    let response = client
        .post(format!("{}/balances/b%201/operations?limit=5&tag=a&tag=b%20c", gateway.url()))
        .header("content-type", "application/json")
        .header("x-custom", "1")
        .header("x-multi", "a")
        .header(reqwest::header::HeaderName::from_static("x-multi"), "b")
        .header("cookie", "session=abc; theme=dark")
        .header("user-agent", "harness-test")
        .body(r#"{"amount":"5.00"}"#)
        .send()
        .await
        .expect("request");
    let (headers, event) = event_of(response).await;

    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "POST /balances/{balanceId}/operations");
    assert_eq!(event["rawPath"], "/balances/b%201/operations");
    assert_eq!(event["rawQueryString"], "limit=5&tag=a&tag=b%20c");
    assert_eq!(event["queryStringParameters"], json!({"limit": "5", "tag": "a,b c"}));
    assert_eq!(event["pathParameters"], json!({"balanceId": "b 1"}));
    assert_eq!(event["headers"]["x-custom"], "1");
    assert_eq!(event["headers"]["x-multi"], "a,b");
    assert_eq!(event["headers"]["content-type"], "application/json");
    assert!(event["headers"].get("cookie").is_none(), "cookies move out of the headers");
    assert_eq!(event["cookies"], json!(["session=abc", "theme=dark"]));
    assert_eq!(event["body"], r#"{"amount":"5.00"}"#);
    assert_eq!(event["isBase64Encoded"], false);
    let context = &event["requestContext"];
    assert_eq!(context["accountId"], "000000000000");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["routeKey"], "POST /balances/{balanceId}/operations");
    assert_eq!(context["http"]["method"], "POST");
    assert_eq!(context["http"]["path"], "/balances/b%201/operations");
    assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(context["http"]["userAgent"], "harness-test");
    assert!(context["timeEpoch"].as_i64().is_some());
    assert!(chrono::DateTime::parse_from_str(context["time"].as_str().unwrap_or(""), "%d/%b/%Y:%H:%M:%S %z").is_ok());
    let request_id = headers.get("apigw-requestid").and_then(|v| v.to_str().ok()).expect("apigw-requestid");
    assert_eq!(context["requestId"], request_id);
    assert!(!pool.log_lines_containing(request_id).is_empty(), "the request id also finds the function's logs");
    // The functions deserialise this type, so the event must fit it.
    let typed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
        serde_json::from_value(event.clone()).expect("a valid ApiGatewayV2httpRequest");
    assert_eq!(typed.path_parameters.get("balanceId").map(String::as_str), Some("b 1"));
    assert_eq!(typed.request_context.http.method, Method::POST);

    let (_, get_event) =
        event_of(client.get(format!("{}/balances/b1", gateway.url())).send().await.expect("GET")).await;
    assert!(get_event.get("body").is_none(), "no body, no body field");
    assert!(get_event.get("queryStringParameters").is_none());
    assert!(get_event.get("cookies").is_none());
    assert_eq!(get_event["rawQueryString"], "");
    assert_eq!(get_event["pathParameters"], json!({"balanceId": "b1"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_base64_encodes_bodies_that_are_not_text() {
    let (gateway, _pool) = echo_gateway().await;
    let client = reqwest::Client::new();
    let binary = vec![0u8, 159, 146, 150, 255];

    let response = client
        .post(format!("{}/echo", gateway.url()))
        .header("content-type", "application/octet-stream")
        .body(binary.clone())
        .send()
        .await
        .expect("request");
    let (_, event) = event_of(response).await;

    assert_eq!(event["isBase64Encoded"], true);
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(event["body"].as_str().expect("body")).expect("base64");
    assert_eq!(decoded, binary);

    for text_type in ["text/plain; charset=utf-8", "application/vnd.api+json", "application/x-www-form-urlencoded"] {
        let response = client
            .post(format!("{}/echo", gateway.url()))
            .header("content-type", text_type)
            .body("a=1")
            .send()
            .await
            .expect("request");
        let (_, event) = event_of(response).await;
        assert_eq!(event["isBase64Encoded"], false, "{text_type}");
        assert_eq!(event["body"], "a=1", "{text_type}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_404_for_unknown_routes_and_other_methods_and_413_for_huge_bodies() {
    let (gateway, _pool) = echo_gateway().await;
    let client = reqwest::Client::new();

    let missing = client.get(format!("{}/nowhere", gateway.url())).send().await.expect("request");
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("apigw-requestid"));
    assert_eq!(missing.json::<Value>().await.expect("json"), json!({"message": "Not Found"}));

    let wrong_method = client.delete(format!("{}/balances/b1", gateway.url())).send().await.expect("request");
    assert_eq!(wrong_method.status(), 404);
    assert_eq!(wrong_method.json::<Value>().await.expect("json"), json!({"message": "Not Found"}));

    let too_long = client.get(format!("{}/balances/b1/operations/extra", gateway.url())).send().await.expect("request");
    assert_eq!(too_long.status(), 404);

    let huge = client
        .post(format!("{}/echo", gateway.url()))
        .header("content-type", "application/json")
        .body(vec![b' '; 10 * 1024 * 1024 + 1])
        .send()
        .await
        .expect("request");
    assert_eq!(huge.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_converts_function_answers_and_failures_into_http_responses() {
    let (gateway, _pool) = echo_gateway().await;
    let slow_pool = FunctionPool::start(FunctionSpec::new("slow", echo_binary()).timeout(Duration::from_millis(300)))
        .await
        .expect("start");
    let slow_gateway = Gateway::start(vec![Route::new(Method::POST, "/slow", slow_pool.clone())]).await.expect("start");
    let client = reqwest::Client::new();
    let send = |body: Value| {
        let request = client
            .post(format!("{}/echo", gateway.url()))
            .header("content-type", "application/json")
            .body(body.to_string());
        async move { request.send().await.expect("request") }
    };

    let structured = send(json!({"respond": {
        "statusCode": 201,
        "headers": {"x-answer": "yes", "content-type": "text/plain"},
        "multiValueHeaders": {"x-many": ["1", "2"]},
        "cookies": ["session=new; Path=/", "theme=light"],
        "body": base64::engine::general_purpose::STANDARD.encode("hello"),
        "isBase64Encoded": true,
    }}))
    .await;
    assert_eq!(structured.status(), 201);
    assert_eq!(structured.headers()["x-answer"], "yes");
    let many: Vec<_> = structured.headers().get_all("x-many").iter().collect();
    assert_eq!(many, ["1", "2"]);
    let cookies: Vec<_> = structured.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["session=new; Path=/", "theme=light"]);
    assert!(structured.headers().contains_key("apigw-requestid"));
    assert_eq!(structured.text().await.expect("body"), "hello");

    let bare = send(json!({"respond": {"balance": "5.00"}})).await;
    assert_eq!(bare.status(), 200, "an answer without statusCode is a 200 JSON body");
    assert_eq!(bare.headers()["content-type"], "application/json");
    assert_eq!(bare.json::<Value>().await.expect("json"), json!({"balance": "5.00"}));

    let failed = send(json!({"error": {"type": "Boom", "message": "no"}})).await;
    assert_eq!(failed.status(), 500);
    assert_eq!(failed.json::<Value>().await.expect("json"), json!({"message": "Internal Server Error"}));

    let crashed = send(json!({"exit": 3})).await;
    assert_eq!(crashed.status(), 500);

    let timed_out = client
        .post(format!("{}/slow", slow_gateway.url()))
        .header("content-type", "application/json")
        .body(json!({"sleep_ms": 5000}).to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(timed_out.status(), 503);
    assert_eq!(timed_out.json::<Value>().await.expect("json"), json!({"message": "Service Unavailable"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_concurrent_requests_with_an_authorizer_context() {
    let pool = echo_pool(3).await;
    let mut context = serde_json::Map::new();
    context.insert("userId".into(), json!("u-1"));
    let gateway =
        Gateway::start_with(vec![Route::new(Method::GET, "/who", pool.clone())], Authorization::Context(context))
            .await
            .expect("start");
    let client = reqwest::Client::new();

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let request = client.get(format!("{}/who", gateway.url()));
        requests.spawn(async move { request.send().await });
    }
    let mut ids = HashSet::new();
    while let Some(result) = requests.join_next().await {
        let (_, event) = event_of(result.expect("join").expect("request")).await;
        assert_eq!(event["requestContext"]["authorizer"]["lambda"]["userId"], "u-1");
        ids.insert(event["requestContext"]["requestId"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(ids.len(), 20, "every request has its own id");
}

// ---------------------------------------------------------------------------------------
// The fault-injecting DynamoDB proxy, seen through aws-sdk-dynamodb

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_forwards_requests_and_counts_them_per_table() {
    let (_dynamo, proxy, client, table) = proxied_table(1).await;

    client.put_item().table_name(&table).item("pk", AttributeValue::S("a".into())).send().await.expect("put");
    assert!(item_exists(&client, &table, "a").await);
    client.transact_write_items().transact_items(put(&table, "b")).send().await.expect("transact");

    assert_eq!(proxy.calls(&table), ["PutItem", "GetItem", "TransactWriteItems"]);
    proxy.reset_calls(&table);
    assert!(proxy.calls(&table).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_fault_is_retried_by_the_sdk_or_surfaces_as_provisioned_throughput_exceeded() {
    let (dynamo, proxy, client, table) = proxied_table(3).await;
    proxy.add_fault(FaultRule::once(table.clone(), "PutItem", Fault::Throttle).times(2));

    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("a".into()))
        .send()
        .await
        .expect("the third attempt goes through");

    assert_eq!(proxy.calls(&table), ["PutItem", "PutItem", "PutItem"], "two throttled attempts, then the real one");
    assert_eq!(proxy.pending_faults(&table), 0);

    // Without retries, the typed error comes out.
    let no_retry = dynamo_client(&proxy.url(), 1);
    proxy.add_fault(FaultRule::once(&table, "PutItem", Fault::Throttle));
    let error = no_retry
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("b".into()))
        .send()
        .await
        .expect_err("throttled");
    let service_error = error.into_service_error();
    assert!(service_error.is_provisioned_throughput_exceeded_exception(), "{service_error:?}");
    assert!(!item_exists(&client, &table, "b").await, "a throttled request is not forwarded");
    drop(dynamo);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_conflict_surfaces_as_transaction_canceled_with_its_reasons() {
    let (_dynamo, proxy, client, table) = proxied_table(3).await;
    proxy.add_fault(FaultRule::once(&table, "TransactWriteItems", Fault::TransactionConflict));

    let error = client
        .transact_write_items()
        .transact_items(put(&table, "a"))
        .transact_items(put(&table, "b"))
        .send()
        .await
        .expect_err("cancelled");

    let service_error = error.into_service_error();
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
        cancelled,
    ) = &service_error
    else {
        panic!("expected TransactionCanceledException, got {service_error:?}");
    };
    let codes: Vec<_> = cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or_default()).collect();
    assert_eq!(codes, ["TransactionConflict", "None"]);
    assert_eq!(proxy.calls(&table), ["TransactWriteItems"], "the SDK does not retry a cancelled transaction");
    assert!(!item_exists(&client, &table, "a").await);

    // A plain write that collides with a transaction gets TransactionConflictException.
    proxy.add_fault(FaultRule::once(&table, "PutItem", Fault::TransactionConflict));
    let no_retry = dynamo_client(&proxy.url(), 1);
    let error = no_retry
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("c".into()))
        .send()
        .await
        .expect_err("conflict");
    let service_error = error.into_service_error();
    assert!(service_error.is_transaction_conflict_exception(), "{service_error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_response_lands_the_write_but_the_sdk_sees_a_dispatch_failure() {
    let (_dynamo, proxy, client, table) = proxied_table(1).await;
    proxy.add_fault(FaultRule::once(&table, "TransactWriteItems", Fault::DropResponse));

    let error = client.transact_write_items().transact_items(put(&table, "a")).send().await.expect_err("no answer");

    assert!(matches!(error, SdkError::DispatchFailure(_)), "{error:?}");
    assert!(item_exists(&client, &table, "a").await, "the commit landed");

    // With retries, the SDK tries again; a conditional write then meets its own first attempt.
    let retrying = dynamo_client(&proxy.url(), 3);
    proxy.add_fault(FaultRule::once(&table, "PutItem", Fault::DropResponse));
    proxy.reset_calls(&table);
    let error = retrying
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("b".into()))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .expect_err("the retry fails its condition");
    assert!(error.into_service_error().is_conditional_check_failed_exception());
    assert_eq!(proxy.calls(&table), ["PutItem", "PutItem"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_respond_500_fault_lands_the_write_and_answers_internal_server_error() {
    let (_dynamo, proxy, client, table) = proxied_table(1).await;
    proxy.add_fault(FaultRule::once(&table, "PutItem", Fault::Respond500));

    let error =
        client.put_item().table_name(&table).item("pk", AttributeValue::S("a".into())).send().await.expect_err("500");

    let service_error = error.into_service_error();
    assert!(service_error.is_internal_server_error(), "{service_error:?}");
    assert!(item_exists(&client, &table, "a").await, "the write landed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_adds_fixed_and_per_rule_delays() {
    let (_dynamo, proxy, client, table) = proxied_table(1).await;

    proxy.set_delay(Duration::from_millis(150));
    let started = Instant::now();
    item_exists(&client, &table, "a").await;
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());

    proxy.set_delay(Duration::ZERO);
    proxy.add_fault(FaultRule::once(&table, "GetItem", Fault::Delay(Duration::from_millis(300))));
    let started = Instant::now();
    item_exists(&client, &table, "a").await;
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
}
