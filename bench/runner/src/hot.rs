//! Figure 4: one hot balance. `clients` clients (and as many execute-operation instances)
//! send INC/DEC of 1.25 to the same balance for a fixed time, through the proxy that adds a
//! fixed delay to every DynamoDB call to stand in for the network. A BALANCE_BUSY answer is
//! retried by the client after a short jittered pause, as a real client would; anything else
//! that is not a success counts as a failure.
//!
//! Afterwards the stored history must verify (checksum chain, count) and the balance must
//! hold exactly the seed plus every acknowledged INC minus every acknowledged DEC.

use crate::requests::Requests;
use crate::support::{invoke, invoke_ok, ms, new_balance, verdict, verify_chain, Bench, Figure, Samples, Table};
use pocketbook_tests::ddb_proxy::{DdbProxy, UpstreamCall};
use pocketbook_tests::lambda::{FunctionPool, InvokeError};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DELAY: Duration = Duration::from_millis(5);
pub const CONCURRENCY: [usize; 5] = [1, 2, 4, 8, 16];
const TARGET_FRACTION: f64 = 0.7;
const SEED: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
const STEP: Decimal = Decimal::from_parts(125, 0, 0, false, 2);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Applied {
        inc: bool,
    },
    Busy,
    /// A refusal (the bench never sends one that should be refused) or a failure whose
    /// effect is unknown.
    Failed(String),
}

struct Sample {
    request_id: String,
    finished: Instant,
    took: Duration,
    outcome: Outcome,
}

async fn client(pool: FunctionPool, requests: Arc<Requests>, until: Instant, first_inc: bool) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut inc = first_inc;
    while Instant::now() < until {
        let kind = if inc { "INC" } else { "DEC" };
        let invoked = invoke(&pool, &requests.operate(kind, &STEP.to_string(), "")).await;
        let outcome = match &invoked.answer {
            Ok(body) if body.get("error").is_none() => Outcome::Applied { inc },
            Ok(body) => Outcome::Failed(format!("refused: {body}")),
            Err(InvokeError::Function { error_type, .. }) if error_type == "BALANCE_BUSY" => Outcome::Busy,
            Err(error) => Outcome::Failed(error.to_string()),
        };
        let busy = outcome == Outcome::Busy;
        if !busy {
            inc = !inc;
        }
        samples.push(Sample { request_id: invoked.request_id, finished: Instant::now(), took: invoked.took, outcome });
        if busy {
            tokio::time::sleep(Duration::from_millis(20 + rand::random::<u64>() % 50)).await;
        }
    }
    samples
}

async fn run_clients(pool: &FunctionPool, requests: &Arc<Requests>, clients: usize, until: Instant) -> Vec<Sample> {
    let tasks: Vec<_> =
        (0..clients).map(|i| tokio::spawn(client(pool.clone(), requests.clone(), until, i % 2 == 0))).collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("a client"));
    }
    samples
}

/// moto's own time per kind of call, from the local DynamoDB's timing headers.
struct Moto {
    /// Lock attempts that took the lock (UpdateItem answered 200) and those that found it busy.
    lock: Samples,
    busy_attempt: Samples,
    commit: Samples,
    /// The time it spent serving any request.
    busy: Duration,
    calls: usize,
}

fn moto(calls: &[UpstreamCall]) -> Moto {
    let service = |op: &str, ok: bool| {
        Samples::new(
            calls
                .iter()
                .filter(|c| c.operation == op && (c.status == 200) == ok)
                .filter_map(|c| c.service)
                .collect::<Vec<_>>(),
        )
    };
    Moto {
        lock: service("UpdateItem", true),
        busy_attempt: service("UpdateItem", false),
        commit: service("TransactWriteItems", true),
        busy: calls.iter().filter_map(|c| c.service).sum(),
        calls: calls.len(),
    }
}

pub async fn run(bench: &Bench, levels: &[usize]) -> Figure {
    let window = if bench.quick { Duration::from_secs(3) } else { Duration::from_secs(10) };
    let warmup = if bench.quick { Duration::from_millis(500) } else { Duration::from_secs(2) };
    let proxy = DdbProxy::start(bench.endpoint.clone()).await.expect("start the proxy");
    proxy.set_delay(DELAY);
    // calls per uncontended operation: lock-and-read, commit
    let bound = 1.0 / (2.0 * DELAY.as_secs_f64());

    let mut table = Table::new(&[
        "clients",
        "ops/s",
        "of bound",
        "p50 ms",
        "p99 ms",
        "429s",
        "failed",
        "calls/op",
        "moto ms: lock + commit (busy try)",
        "moto busy",
        "bound with moto",
        "chain",
        "verdict",
    ]);
    let mut verdicts = Vec::new();
    let mut failures = Vec::new();
    for &clients in levels {
        let fixture = bench.fixture(&format!("hot{clients}")).await;
        let balance = new_balance(&fixture).await;
        let requests = Arc::new(Requests::new(&fixture, balance.id).await);
        let pool = bench.pool("execute-operation", &fixture.table, &proxy.url(), clients).await;
        invoke_ok(&pool, &requests.operate("INC", &SEED.to_string(), "")).await;

        let warm = run_clients(&pool, &requests, clients, Instant::now() + warmup).await;
        proxy.take_upstream_calls(&fixture.table);
        let started = Instant::now();
        let until = started + window;
        let measured = run_clients(&pool, &requests, clients, until).await;
        let calls = proxy.take_upstream_calls(&fixture.table);
        let elapsed = started.elapsed();

        let in_window: Vec<&Sample> = measured.iter().filter(|s| s.finished <= until).collect();
        let applied: Vec<Duration> =
            in_window.iter().filter(|s| matches!(s.outcome, Outcome::Applied { .. })).map(|s| s.took).collect();
        let throughput = applied.len() as f64 / window.as_secs_f64();
        let latency = Samples::new(applied);
        let all: Vec<&Sample> = warm.iter().chain(measured.iter()).collect();
        let busy = all.iter().filter(|s| s.outcome == Outcome::Busy).count();
        let failed: Vec<&String> = all
            .iter()
            .filter_map(|s| match &s.outcome {
                Outcome::Failed(why) => Some(why),
                _ => None,
            })
            .collect();
        failures.extend(failed.iter().take(3).map(|why| format!("{clients} clients: {why}")));

        // Every acknowledged operation is in the balance, once; nothing else is.
        let applied_all = all.iter().filter(|s| matches!(s.outcome, Outcome::Applied { .. })).count() as u64;
        let net: Decimal = all
            .iter()
            .map(|s| match s.outcome {
                Outcome::Applied { inc: true } => STEP,
                Outcome::Applied { inc: false } => -STEP,
                _ => Decimal::ZERO,
            })
            .sum();
        let head = fixture.store.read_head(&fixture.project, balance.id).await.expect("read").expect("a head");
        let chain = match verify_chain(&fixture, balance.id).await {
            Ok(count) if !failed.is_empty() => format!("verified ({count} entries; amount unchecked)"),
            Ok(count) if count == applied_all + 1 && head.balance.amount == SEED + net => {
                format!("verified, {count} entries, amount exact")
            }
            Ok(count) => format!(
                "**{count} entries for {} acknowledged, amount {} for {}**",
                applied_all + 1,
                head.balance.amount,
                SEED + net
            ),
            Err(error) => format!("**{error}**"),
        };
        let chain_ok = chain.starts_with("verified");

        let moto = moto(&calls);
        let completed = calls.iter().filter(|c| c.operation == "TransactWriteItems").count().max(1);
        let with_moto = 1.0 / (2.0 * DELAY.as_secs_f64() + (moto.lock.median() + moto.commit.median()).as_secs_f64());
        let fraction = throughput / bound;
        let met = fraction >= TARGET_FRACTION && failed.is_empty() && chain_ok;
        table.row(vec![
            clients.to_string(),
            format!("{throughput:.1}"),
            format!("{fraction:.2}"),
            ms(latency.median()),
            ms(latency.percentile(99.0)),
            busy.to_string(),
            failed.len().to_string(),
            format!("{:.2}", moto.calls as f64 / completed as f64),
            match moto.busy_attempt.len() {
                0 => format!("{} + {}", ms(moto.lock.median()), ms(moto.commit.median())),
                _ => format!(
                    "{} + {} ({})",
                    ms(moto.lock.median()),
                    ms(moto.commit.median()),
                    ms(moto.busy_attempt.median())
                ),
            },
            format!("{:.0}%", 100.0 * moto.busy.as_secs_f64() / elapsed.as_secs_f64()),
            format!("{with_moto:.1}"),
            chain,
            verdict(met).into(),
        ]);
        let durations: std::collections::HashMap<String, u64> = pool
            .log_lines()
            .iter()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["message"] == "request")
            .filter_map(|line| Some((line["requestId"].as_str()?.to_owned(), line["durationMs"].as_u64()?)))
            .collect();
        let in_function = Samples::new(
            in_window
                .iter()
                .filter(|s| matches!(s.outcome, Outcome::Applied { .. }))
                .filter_map(|s| durations.get(&s.request_id))
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
        );
        let ok = |op: &'static str| calls.iter().filter(move |c| c.operation == op && c.status == 200);
        let elapsed_of = |op: &'static str| Samples::new(ok(op).map(|c| c.elapsed).collect()).median();
        let queued_of = |op: &'static str| Samples::new(ok(op).filter_map(|c| c.queued).collect()).median();
        eprintln!(
            "[bench] hot balance, {clients} clients: {throughput:.1} ops/s; request p50 {} ms, in the function p50 {} ms; \
             lock taken: {} ms upstream (queued {}, served {}); commit: {} ms upstream (queued {}, served {})",
            ms(latency.median()),
            ms(in_function.median()),
            ms(elapsed_of("UpdateItem")),
            ms(queued_of("UpdateItem")),
            ms(moto.lock.median()),
            ms(elapsed_of("TransactWriteItems")),
            ms(queued_of("TransactWriteItems")),
            ms(moto.commit.median()),
        );
        verdicts.push((format!("hot balance, {clients} clients"), met));
        pool.shutdown().await;
        bench.drop_table(&fixture.table).await;
    }
    let mut markdown = format!(
        "### 4. One hot balance: execute-operation, {} ms added to every DynamoDB call\n\n{}\n\n\
         Bound: 1 / (2 calls × {} ms) = {bound:.0} ops/s; target ≥ {TARGET_FRACTION} of it at every concurrency, \
         no failure but BALANCE_BUSY, and the chain verifies. Each level runs {} s after a {} s warm-up, on a fresh \
         table, with as many instances as clients. \"calls/op\": DynamoDB calls on the wire per committed operation \
         (2 when every lock is taken at the first try). \"moto ms\": median service time of the local DynamoDB for a \
         lock taken (UpdateItem), a commit (TransactWriteItems) and a lock attempt that found the balance busy; \"moto busy\": the share of the time it was serving \
         a request (it serves one at a time); \"bound with moto\": 1 / (2 × {} ms + lock + commit).",
        DELAY.as_millis(),
        table.render(),
        DELAY.as_millis(),
        window.as_secs(),
        warmup.as_secs_f64(),
        DELAY.as_millis(),
    );
    if !failures.is_empty() {
        markdown.push_str(&format!("\n\nFailures (first few): {}", failures.join("; ")));
    }
    Figure { markdown, verdicts }
}
