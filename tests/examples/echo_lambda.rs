//! A tiny Lambda function used only to test the harness (`pocketbook_tests::lambda` and
//! `pocketbook_tests::gateway`). It is driven by its payload:
//!
//! - `{"exit": 3}`: `std::process::exit(3)` in the middle of an invocation (a crash).
//! - `{"error": {"type": "...", "message": "..."}}`: answer a function error.
//! - `{"sleep_ms": 500}`: sleep that long before answering (timeouts, concurrency).
//! - an API Gateway payload 2.0 event (has `requestContext`): answer a 2.0 response whose
//!   body is the received event as a JSON string, so a test can inspect the event. When the
//!   event's body is JSON with a `respond` field, that value is returned verbatim instead
//!   (tests of the gateway's response conversion); `exit`/`error`/`sleep_ms` in the body act
//!   as above.
//! - anything else: `{"echo": <payload>, "pid": <process id>, "requestId": <request id>}`.
//!
//! With `ECHO_EXIT_AT_START=<code>` in its environment it exits before the runtime starts (a
//! failed init).
//!
//! Every invocation logs one JSON line to stdout carrying the request id, as the real
//! functions do; startup logs one line to stderr.

use std::time::Duration;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    eprintln!("echo_lambda starting, pid {}", std::process::id());
    if let Ok(code) = std::env::var("ECHO_EXIT_AT_START") {
        eprintln!("echo_lambda failing its init on purpose");
        std::process::exit(code.parse().unwrap_or(1));
    }
    lambda_runtime::run(service_fn(handle)).await
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, context) = event.into_parts();
    println!(
        "{}",
        json!({"level": "INFO", "message": "handling", "requestId": context.request_id, "pid": std::process::id()})
    );

    // For a gateway event, the instructions travel in the HTTP body.
    let is_gateway_event = payload.get("requestContext").is_some();
    let instructions = if is_gateway_event {
        payload
            .get("body")
            .and_then(Value::as_str)
            .and_then(|body| serde_json::from_str::<Value>(body).ok())
            .unwrap_or(Value::Null)
    } else {
        payload.clone()
    };

    if let Some(ms) = instructions.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(code) = instructions.get("exit").and_then(Value::as_i64) {
        std::process::exit(code as i32);
    }
    if let Some(error) = instructions.get("error") {
        let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        return Err(Diagnostic { error_type: field("type"), error_message: field("message") });
    }
    if let Some(answer) = instructions.get("respond") {
        return Ok(answer.clone());
    }

    if is_gateway_event {
        return Ok(json!({
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": payload.to_string(),
        }));
    }
    Ok(json!({"echo": payload, "pid": std::process::id(), "requestId": context.request_id}))
}
