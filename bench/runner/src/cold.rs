//! Figure 1: cold starts of every function. Each start is a fresh process under the local
//! Lambda Runtime API with its first invocation already queued, timed from spawn to the posted
//! answer. The binaries take turns, round after round, so that whatever else the machine does
//! falls on all of them alike. The functions reach the local DynamoDB through the proxy (no
//! added delay), which counts their calls on the wire and reports the local DynamoDB's own time
//! for them.
//!
//! Every function gets a first request it can answer ([`Requests::first_request`]): most do
//! their one lookup and answer NOT_FOUND or create what they create; the figure shows each
//! answer and its calls, so that a function whose first request reads nothing is seen as such.

use crate::requests::{self, Requests};
use crate::support::{invoke, ms, seed_history, verdict, Bench, Figure, Samples, Table};
use pocketbook::store::{CallCounter, Store};
use pocketbook_tests::ddb_proxy::DdbProxy;
use pocketbook_tests::lambda::InvokeError;
use pocketbook_tests::local_dynamodb;
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Starts {
    name: String,
    ready: Vec<Duration>,
    first_invocation: Vec<Duration>,
    cold: Vec<Duration>,
    moto: Vec<Duration>,
    without_moto: Vec<Duration>,
    calls: Vec<u64>,
    /// What the first invocations answered (e.g. `200`, `NOT_FOUND`), each once.
    answers: Vec<String>,
}

pub async fn run(bench: &Bench) -> Figure {
    let rounds = if bench.quick { 5 } else { 40 };
    let fixture = bench.fixture("cold").await;
    let proxy = DdbProxy::start(bench.endpoint.clone()).await.expect("start the proxy");
    let balance = seed_history(&fixture, 10).await;
    let requests = Requests::new(&fixture, balance.id).await;

    // One DynamoDB call from a warm client, the same way (through the proxy), in the same run:
    // a strongly consistent GetItem of a balance head, what get-balance does.
    let through_proxy =
        Store::new(local_dynamodb::client(&proxy.url()).await, fixture.table.clone(), CallCounter::default());
    let mut one_call = Vec::new();
    for i in 0..if bench.quick { 30 } else { 110 } {
        let started = Instant::now();
        through_proxy.read_head(&fixture.project, balance.id).await.expect("read the head");
        if i >= 10 {
            one_call.push(started.elapsed());
        }
    }
    let one_call = Samples::new(one_call);
    let one_call_moto =
        Samples::new(proxy.take_upstream_calls(&fixture.table).iter().filter_map(|c| c.service).collect()).median();

    let mut names = vec![requests::HELLO_WORLD.to_owned()];
    names.extend(bench.functions.iter().cloned());
    let mut starts: Vec<Starts> = names.iter().map(|name| Starts { name: name.clone(), ..Starts::default() }).collect();
    for round in 0..rounds {
        for turn in 0..starts.len() {
            let which = (round + turn) % starts.len();
            let entry = &mut starts[which];
            let payload = requests.first_request(&entry.name);
            let pool = bench.pool_with(&entry.name, &fixture.table, &proxy.url(), 1, environment(&entry.name)).await;
            let invoked = invoke(&pool, &payload).await;
            let timing = pool.startup_timings().into_iter().next().expect("one start");
            let on_the_wire = proxy.take_upstream_calls(&fixture.table);
            let answer = match &invoked.answer {
                Ok(body) => answer_of(body),
                // A function error is an answer too (Lambda's `/invocation/{id}/error`): shown.
                Err(InvokeError::Function { error_type, .. }) => format!("error {error_type}"),
                Err(error) => panic!("{}: the first invocation got no answer: {error}", entry.name),
            };
            if !entry.answers.contains(&answer) {
                entry.answers.push(answer);
            }
            let ready = timing.ready_after.expect("the process asked for an invocation");
            let cold = timing.first_answer_after.expect("the first invocation was answered");
            let moto: Duration = on_the_wire.iter().filter_map(|c| c.service).sum();
            entry.ready.push(ready);
            entry.first_invocation.push(timing.first_invocation.expect("the first invocation was answered"));
            entry.cold.push(cold);
            entry.moto.push(moto);
            entry.without_moto.push(cold.saturating_sub(moto));
            entry.calls.push(on_the_wire.len() as u64);
            pool.shutdown().await;
        }
    }
    bench.drop_table(&fixture.table).await;

    let hello = starts.iter().find(|s| s.name == requests::HELLO_WORLD).expect("hello-world");
    let hello_cold = Samples::new(hello.cold.clone());
    // The target, per function: its cold start less the local DynamoDB's own time, at
    // the median, within twice hello-world's plus one DynamoDB call from a warm client.
    let target_p50 = hello_cold.median() * 2 + one_call.median();

    let mut table = Table::new(&[
        "binary",
        "starts",
        "init p50",
        "init p95",
        "1st invoke p50",
        "cold start p50",
        "cold start p95",
        "1st answer",
        "calls",
        "moto in it p50",
        "cold start − moto p50",
        "target p50",
        "verdict",
    ]);
    let mut verdicts = Vec::new();
    for entry in &starts {
        let cold = Samples::new(entry.cold.clone());
        let ready = Samples::new(entry.ready.clone());
        let without_moto = Samples::new(entry.without_moto.clone());
        let is_hello = entry.name == requests::HELLO_WORLD;
        let met = without_moto.median() <= target_p50;
        let calls = match entry.calls.iter().min().zip(entry.calls.iter().max()) {
            Some((low, high)) if low == high => low.to_string(),
            Some((low, high)) => format!("{low}–{high}"),
            None => "0".into(),
        };
        table.row(vec![
            entry.name.clone(),
            cold.len().to_string(),
            ms(ready.median()),
            ms(ready.percentile(95.0)),
            ms(Samples::new(entry.first_invocation.clone()).median()),
            ms(cold.median()),
            ms(cold.percentile(95.0)),
            entry.answers.join(", "),
            calls,
            ms(Samples::new(entry.moto.clone()).median()),
            ms(without_moto.median()),
            if is_hello { "(baseline)".into() } else { format!("≤ {}", ms(target_p50)) },
            if is_hello { "—".into() } else { verdict(met).into() },
        ]);
        if !is_hello {
            verdicts.push((format!("cold start {}", entry.name), met));
        }
    }
    let met = verdicts.iter().filter(|(_, met)| *met).count();
    let markdown = format!(
        "### 1. Cold start (ms, process start → first answered invocation)\n\n{}\n\n\
         One DynamoDB call (GetItem of a balance head, warm client, through the same proxy, same run): \
         p50 {} ms, p95 {} ms, of which the local DynamoDB's own time p50 {} ms. \
         Target: cold start − the local DynamoDB's own time ≤ 2 × hello-world + one call, at the median: \
         ≤ 2 × {} + {} = {} ms; {} of {} functions met it. \
         \"init\": spawn → the first `GET /invocation/next`; \"1st invoke\": delivery of the first invocation \
         → its answer; \"1st answer\": what it answered (an HTTP status, an error code, `ok`); \"calls\": its \
         DynamoDB calls on the wire; \"moto in it\": the local DynamoDB's own time for them.",
        table.render(),
        ms(one_call.median()),
        ms(one_call.percentile(95.0)),
        ms(one_call_moto),
        ms(hello_cold.median()),
        ms(one_call.median()),
        ms(target_p50),
        met,
        verdicts.len(),
    );
    Figure { markdown, verdicts }
}

/// A short name for an answer: the error code of a refusal, the status of an HTTP answer, the
/// authorizer's verdict, else `ok`.
fn answer_of(body: &Value) -> String {
    // Pocketbook's error body, and the Juspay-shaped one.
    let error = &body["error"];
    if let Some(code) = error["code"].as_str().or(body["error_code"].as_str()) {
        let field = error["field"].as_str().or(body["field"].as_str());
        return field.map_or_else(|| code.to_owned(), |field| format!("{code} ({field})"));
    }
    if let Some(status) = body["statusCode"].as_u64() {
        return status.to_string();
    }
    match body["isAuthorized"].as_bool() {
        Some(true) => "authorized".into(),
        Some(false) => "unauthorized".into(),
        None => "ok".into(),
    }
}

/// What template.yaml adds for the functions of the events (their init builds the EventBridge
/// and SQS clients too); both endpoints are local and closed, as the first requests reach
/// neither.
fn environment(function: &str) -> &'static [(&'static str, &'static str)] {
    const QUEUE: (&str, &str) = ("DELIVERY_QUEUE_URL", "http://127.0.0.1:9/000000000000/pocketbook-bench");
    const CLOSED: [(&str, &str); 2] =
        [("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:9"), ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9")];
    match function {
        "publish-events" => &[("EVENT_BUS_NAME", "pocketbook-bench"), QUEUE, CLOSED[0], CLOSED[1]],
        "deliver-webhooks" | "redeliver-webhook" => &[QUEUE, CLOSED[1]],
        _ => &[],
    }
}
