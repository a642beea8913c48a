//! Figure 1: cold starts. Each start is a fresh process under the local Lambda Runtime API
//! with its first invocation already queued, timed from spawn to the posted answer. The
//! binaries take turns, round after round, so that whatever else the machine does falls on
//! all of them alike. The functions reach the local DynamoDB through the proxy (no added
//! delay), which reports the local DynamoDB's own time for their calls.
//!
//! Every binary is also started a second time per round with `SSL_CERT_DIR` pointing to an
//! empty directory: the AWS SDK's HTTPS client loads the system's root certificates at start,
//! and on this machine (Debian) that means the bundle plus a directory of ~150 hashed copies.

use crate::requests::{self, Requests};
use crate::support::{invoke, ms, reported_calls, seed_history, verdict, Bench, Figure, Samples, Table};
use pocketbook::store::{CallCounter, Store};
use pocketbook_tests::ddb_proxy::DdbProxy;
use pocketbook_tests::local_dynamodb;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Starts {
    name: String,
    ready: Vec<Duration>,
    ready_bundle_only: Vec<Duration>,
    first_invocation: Vec<Duration>,
    cold: Vec<Duration>,
    moto: Vec<Duration>,
    without_moto: Vec<Duration>,
    calls: Vec<u64>,
}

pub async fn run(bench: &Bench) -> Figure {
    let rounds = if bench.quick { 5 } else { 30 };
    let fixture = bench.fixture("cold").await;
    let proxy = DdbProxy::start(bench.endpoint.clone()).await.expect("start the proxy");
    let balance = seed_history(&fixture, 10).await;
    let requests = Requests::new(&fixture, balance.id).await;
    let empty_dir = std::env::temp_dir().join(format!("pocketbook-bench-no-certs-{}", std::process::id()));
    std::fs::create_dir_all(&empty_dir).expect("create an empty directory");
    let empty_dir = empty_dir.to_string_lossy().into_owned();

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
            let Some(payload) = requests.cold_start(&entry.name) else { continue };
            for bundle_only in [false, true] {
                let extra: &[(&str, &str)] = if bundle_only { &[("SSL_CERT_DIR", &empty_dir)] } else { &[] };
                let pool = bench.pool_with(&entry.name, &fixture.table, &proxy.url(), 1, extra).await;
                let invoked = invoke(&pool, &payload).await;
                if let Err(error) = &invoked.answer {
                    panic!("{}: the first invocation failed: {error}", entry.name);
                }
                let timing = pool.startup_timings().into_iter().next().expect("one start");
                let ready = timing.ready_after.expect("the process asked for an invocation");
                let moto: Duration = proxy.take_upstream_calls(&fixture.table).iter().filter_map(|c| c.service).sum();
                if bundle_only {
                    entry.ready_bundle_only.push(ready);
                } else {
                    let cold = timing.first_answer_after.expect("the first invocation was answered");
                    entry.ready.push(ready);
                    entry.first_invocation.push(timing.first_invocation.expect("the first invocation was answered"));
                    entry.cold.push(cold);
                    entry.moto.push(moto);
                    entry.without_moto.push(cold.saturating_sub(moto));
                    if entry.name != requests::HELLO_WORLD {
                        entry.calls.push(reported_calls(&pool, &invoked.request_id).expect("a request log line"));
                    }
                }
                pool.shutdown().await;
            }
        }
    }
    let _ = std::fs::remove_dir(&empty_dir);
    bench.drop_table(&fixture.table).await;

    let hello = starts.iter().find(|s| s.name == requests::HELLO_WORLD).expect("hello-world");
    let hello_cold = Samples::new(hello.cold.clone());
    let target_p50 = hello_cold.median() * 2 + one_call.median();
    let target_p95 = hello_cold.percentile(95.0) * 2 + one_call.percentile(95.0);

    let mut table = Table::new(&[
        "binary",
        "starts",
        "init p50",
        "init p50, CA bundle only",
        "1st invoke p50",
        "cold start p50",
        "cold start p95",
        "calls",
        "moto in it p50",
        "cold start − moto p50",
        "target p50 / p95",
        "verdict",
    ]);
    let mut verdicts = Vec::new();
    for entry in &starts {
        if entry.cold.is_empty() {
            let mut row = vec![entry.name.clone(), "0".into()];
            row.extend(std::iter::repeat_n("—".to_owned(), 9));
            row.push("no request defined for this function".into());
            table.row(row);
            continue;
        }
        let cold = Samples::new(entry.cold.clone());
        let is_hello = entry.name == requests::HELLO_WORLD;
        let met = cold.median() <= target_p50 && cold.percentile(95.0) <= target_p95;
        let calls = match entry.calls.iter().min().zip(entry.calls.iter().max()) {
            Some((low, high)) if low == high => low.to_string(),
            Some((low, high)) => format!("{low}–{high}"),
            None => "0".into(),
        };
        table.row(vec![
            entry.name.clone(),
            cold.len().to_string(),
            ms(Samples::new(entry.ready.clone()).median()),
            ms(Samples::new(entry.ready_bundle_only.clone()).median()),
            ms(Samples::new(entry.first_invocation.clone()).median()),
            ms(cold.median()),
            ms(cold.percentile(95.0)),
            calls,
            ms(Samples::new(entry.moto.clone()).median()),
            ms(Samples::new(entry.without_moto.clone()).median()),
            if is_hello { "(baseline)".into() } else { format!("≤ {} / ≤ {}", ms(target_p50), ms(target_p95)) },
            if is_hello { "—".into() } else { verdict(met).into() },
        ]);
        if !is_hello {
            verdicts.push((format!("cold start {}", entry.name), met));
        }
    }
    let markdown = format!(
        "### 1. Cold start (ms, process start → first answered invocation)\n\n{}\n\n\
         One DynamoDB call (GetItem of a balance head, warm client, through the same proxy, same run): \
         p50 {} ms, p95 {} ms, of which the local DynamoDB's own time p50 {} ms. \
         Target: ≤ 2 × hello-world + one call, i.e. p50 ≤ 2 × {} + {} = {} ms and p95 ≤ 2 × {} + {} = {} ms. \
         \"init\": spawn → the first `GET /invocation/next`; \"CA bundle only\": the same with `SSL_CERT_DIR` \
         pointing to an empty directory; \"1st invoke\": delivery of the first invocation → its answer; \
         \"moto in it\": the local DynamoDB's own time for the calls of the first invocation.",
        table.render(),
        ms(one_call.median()),
        ms(one_call.percentile(95.0)),
        ms(one_call_moto),
        ms(hello_cold.median()),
        ms(one_call.median()),
        ms(target_p50),
        ms(hello_cold.percentile(95.0)),
        ms(one_call.percentile(95.0)),
        ms(target_p95),
    );
    Figure { markdown, verdicts }
}
