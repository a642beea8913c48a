//! Figure 4: one hot balance, before and after group commit, side by side from one run.
//! At each concurrency, `clients` clients (and as many execute-operation instances) send
//! INC/DEC of 1.25 to the same balance for a fixed time, through the proxy that adds a fixed
//! delay to every DynamoDB call to stand in for the network — once with group commit off
//! (`POCKETBOOK_GROUP_COMMIT=off`: an operation that finds the balance locked retries the lock,
//! as before group commit) and once with it on (the default: it queues a ticket and a batch
//! settles it), each on a fresh table and balance. A BALANCE_BUSY answer (429) is retried by
//! the client after a short jittered pause, as a real client would; anything else that is not
//! a success counts as a failure.
//!
//! Afterwards the stored history must verify (checksum chain, head count), hold exactly one
//! entry per acknowledged operation (plus the seed), and the balance must hold exactly the
//! seed plus every acknowledged INC minus every acknowledged DEC.

use crate::requests::Requests;
use crate::support::{invoke, invoke_ok, ms, new_balance, verify_chain, Bench, Figure, Samples, Table};
use pocketbook_tests::ddb_proxy::{DdbProxy, UpstreamCall};
use pocketbook_tests::lambda::{FunctionPool, InvokeError};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DELAY: Duration = Duration::from_millis(5);
pub const CONCURRENCY: [usize; 4] = [1, 4, 16, 64];
/// The target at 16 clients: 3 × the one-lock bound, p99 within 500 ms.
const TARGET_CLIENTS: usize = 16;
const TARGET_TIMES_BOUND: f64 = 3.0;
const TARGET_P99: Duration = Duration::from_millis(500);
/// No 429 below this many clients.
const BUSY_ALLOWED_FROM: usize = 64;
/// At 1 client, group commit on must do at least this share of off (the noise of one run).
const ONE_CLIENT_FLOOR: f64 = 0.9;
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

/// Records per SQS batch of the SQS rows: Lambda's default batch size for a standard queue.
const SQS_RECORDS: usize = 10;
/// SQS rows: as many pollers delivering batches at once.
const SQS_POLLERS: [usize; 3] = [1, 4, 16];

async fn client(
    pool: FunctionPool,
    requests: Arc<Requests>,
    until: Instant,
    first_inc: bool,
    mode: Mode,
) -> Vec<Sample> {
    if mode == Mode::Sqs {
        return sqs_client(pool, requests, until, first_inc).await;
    }
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

/// A poller of a standard queue: batches of [`SQS_RECORDS`] operations (alternately INC and
/// DEC), each record's message id its idempotency key. A record the function hands back
/// (`batchItemFailures`) counts as a 429: it was not applied and SQS would deliver it again.
async fn sqs_client(pool: FunctionPool, requests: Arc<Requests>, until: Instant, first_inc: bool) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut inc = first_inc;
    while Instant::now() < until {
        let records: Vec<(String, bool)> =
            (0..SQS_RECORDS).map(|i| (uuid::Uuid::new_v4().to_string(), inc == (i % 2 == 0))).collect();
        let event = serde_json::json!({
            "Records": records.iter().map(|(id, inc)| serde_json::json!({
                "messageId": id,
                "receiptHandle": id,
                "body": requests.operate(if *inc { "INC" } else { "DEC" }, &STEP.to_string(), ""),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:pocketbook-operations",
                "awsRegion": "us-east-1",
            })).collect::<Vec<_>>()
        });
        let invoked = invoke(&pool, &event.to_string()).await;
        let finished = Instant::now();
        let handed_back: Result<Vec<String>, String> = match &invoked.answer {
            Ok(body) => body["batchItemFailures"]
                .as_array()
                .map(|failures| {
                    failures.iter().filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned)).collect()
                })
                .ok_or_else(|| format!("not a batch answer: {body}")),
            Err(error) => Err(error.to_string()),
        };
        for (id, inc) in &records {
            let outcome = match &handed_back {
                Ok(failures) if failures.contains(id) => Outcome::Busy,
                Ok(_) => Outcome::Applied { inc: *inc },
                Err(why) => Outcome::Failed(why.clone()),
            };
            samples.push(Sample { request_id: invoked.request_id.clone(), finished, took: invoked.took, outcome });
        }
        inc = !inc;
    }
    samples
}

fn is_applied(sample: &Sample) -> bool {
    matches!(sample.outcome, Outcome::Applied { .. })
}

async fn run_clients(
    pool: &FunctionPool,
    requests: &Arc<Requests>,
    clients: usize,
    until: Instant,
    mode: Mode,
) -> Vec<Sample> {
    let tasks: Vec<_> =
        (0..clients).map(|i| tokio::spawn(client(pool.clone(), requests.clone(), until, i % 2 == 0, mode))).collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.expect("a client"));
    }
    samples
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Before: `POCKETBOOK_GROUP_COMMIT=off`, a busy operation retries the lock.
    Off,
    /// After: group commit (the default).
    On,
    /// Group commit, the operations arriving as SQS batches of [`SQS_RECORDS`].
    Sqs,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::On => "on",
            Mode::Sqs => "on, SQS batches",
        }
    }
}

/// moto's own time per kind of call, from the local DynamoDB's timing headers.
struct Moto {
    /// Lock attempts that took the lock (UpdateItem answered 200) and those that found it busy.
    lock: Samples,
    busy_attempt: Samples,
    /// Transactions that landed (one operation each without group commit, a batch with it).
    commit: Samples,
    /// The time it spent serving any request.
    busy: Duration,
    /// Its queue (time a request waited for its turn), median.
    queued: Duration,
    calls: usize,
    /// Per kind of call (operation, and "✗" when it did not answer 200): how many, and the
    /// service time they took in all.
    kinds: BTreeMap<String, (usize, Duration)>,
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
    let mut kinds: BTreeMap<String, (usize, Duration)> = BTreeMap::new();
    for call in calls {
        let kind = if call.status == 200 { call.operation.clone() } else { format!("{} ✗", call.operation) };
        let entry = kinds.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += call.service.unwrap_or_default();
    }
    Moto {
        lock: service("UpdateItem", true),
        busy_attempt: service("UpdateItem", false),
        commit: service("TransactWriteItems", true),
        busy: calls.iter().filter_map(|c| c.service).sum(),
        queued: Samples::new(calls.iter().filter_map(|c| c.queued).collect()).median(),
        calls: calls.len(),
        kinds,
    }
}

/// One level in one mode, measured.
struct Level {
    clients: usize,
    mode: Mode,
    throughput: f64,
    latency: Samples,
    busy: usize,
    failed: usize,
    /// Operations acknowledged in the measured run (also those finishing after the window):
    /// what the calls on the wire in that run paid for.
    acknowledged: usize,
    commits: usize,
    moto: Moto,
    elapsed: Duration,
    chain: String,
    chain_ok: bool,
    /// The machine's 1-minute load average at the end of the measured run (2 cores, shared
    /// by moto, the instances, the runner and whatever else runs).
    load: String,
}

impl Level {
    fn label(&self) -> String {
        format!("{} / {}", self.clients, self.mode.name())
    }

    fn calls_per_op(&self) -> f64 {
        self.moto.calls as f64 / self.acknowledged.max(1) as f64
    }

    fn moto_busy_share(&self) -> f64 {
        self.moto.busy.as_secs_f64() / self.elapsed.as_secs_f64()
    }

    /// moto's service time per acknowledged operation.
    fn moto_per_op(&self) -> Duration {
        self.moto.busy.div_f64(self.acknowledged.max(1) as f64)
    }

    /// The most this mix of calls could do against moto, which serves one request at a time:
    /// acknowledged operations per second of moto's service time (what the throughput would
    /// be with moto busy all the time).
    fn moto_ceiling(&self) -> f64 {
        match self.moto.busy.as_secs_f64() {
            s if s > 0.0 => self.acknowledged as f64 / s,
            _ => f64::INFINITY,
        }
    }

    /// The one-lock bound with moto's time in it: 1 / (2 × delay + lock + commit).
    fn one_lock_bound_with_moto(&self) -> f64 {
        1.0 / (2.0 * DELAY.as_secs_f64() + (self.moto.lock.median() + self.moto.commit.median()).as_secs_f64())
    }
}

async fn measure(
    bench: &Bench,
    proxy: &DdbProxy,
    clients: usize,
    mode: Mode,
    window: Duration,
    warmup: Duration,
    failures: &mut Vec<String>,
) -> Level {
    let fixture = bench.fixture(&format!("hot{clients}{}", mode.name())).await;
    let balance = new_balance(&fixture).await;
    let requests = Arc::new(Requests::new(&fixture, balance.id).await);
    let extra: &[(&str, &str)] = match mode {
        Mode::Off => &[("POCKETBOOK_GROUP_COMMIT", "off")],
        Mode::On | Mode::Sqs => &[],
    };
    let pool = bench.pool_with("execute-operation", &fixture.table, &proxy.url(), clients, extra).await;
    invoke_ok(&pool, &requests.operate("INC", &SEED.to_string(), "")).await;

    let warm = run_clients(&pool, &requests, clients, Instant::now() + warmup, mode).await;
    proxy.take_upstream_calls(&fixture.table);
    let started = Instant::now();
    let until = started + window;
    let measured = run_clients(&pool, &requests, clients, until, mode).await;
    let calls = proxy.take_upstream_calls(&fixture.table);
    let elapsed = started.elapsed();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());

    let in_window: Vec<&Sample> = measured.iter().filter(|s| s.finished <= until).collect();
    let applied_in_window: Vec<Duration> = in_window.iter().filter(|s| is_applied(s)).map(|s| s.took).collect();
    let throughput = applied_in_window.len() as f64 / window.as_secs_f64();
    let latency = Samples::new(applied_in_window);
    let acknowledged = measured.iter().filter(|s| is_applied(s)).count();
    let all: Vec<&Sample> = warm.iter().chain(measured.iter()).collect();
    let busy = all.iter().filter(|s| s.outcome == Outcome::Busy).count();
    let failed: Vec<&String> = all
        .iter()
        .filter_map(|s| match &s.outcome {
            Outcome::Failed(why) => Some(why),
            _ => None,
        })
        .collect();
    failures.extend(failed.iter().take(3).map(|why| format!("{clients} clients, {}: {why}", mode.name())));

    // Every acknowledged operation is in the balance, once; nothing else is.
    let applied_all = all.iter().filter(|s| is_applied(s)).count() as u64;
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
    let commits = calls.iter().filter(|c| c.operation == "TransactWriteItems" && c.status == 200).count();
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
            .filter(|s| is_applied(s))
            .filter_map(|s| durations.get(&s.request_id))
            .map(|ms| Duration::from_millis(*ms))
            .collect(),
    );
    let ok = |op: &'static str| calls.iter().filter(move |c| c.operation == op && c.status == 200);
    let elapsed_of = |op: &'static str| Samples::new(ok(op).map(|c| c.elapsed).collect()).median();
    let queued_of = |op: &'static str| Samples::new(ok(op).filter_map(|c| c.queued).collect()).median();
    eprintln!(
        "[bench] hot balance, {clients} clients, group commit {}: {throughput:.1} ops/s; request p50 {} ms, \
         in the function p50 {} ms; lock taken: {} ms upstream (queued {}, served {}); commit: {} ms upstream \
         (queued {}, served {}); {acknowledged} acknowledged in {commits} transactions",
        mode.name(),
        ms(latency.median()),
        ms(in_function.median()),
        ms(elapsed_of("UpdateItem")),
        ms(queued_of("UpdateItem")),
        ms(moto.lock.median()),
        ms(elapsed_of("TransactWriteItems")),
        ms(queued_of("TransactWriteItems")),
        ms(moto.commit.median()),
    );
    pool.shutdown().await;
    bench.drop_table(&fixture.table).await;
    Level {
        clients,
        mode,
        throughput,
        latency,
        busy,
        failed: failed.len(),
        acknowledged,
        commits,
        moto,
        elapsed,
        chain,
        chain_ok,
        load,
    }
}

/// The targets for a level with group commit on, given the same level with it off:
/// what was missed (empty: met).
fn misses(on: &Level, off: Option<&Level>, target_ops: f64) -> Vec<String> {
    let mut missed = Vec::new();
    if !on.chain_ok {
        missed.push("chain".to_owned());
    }
    if on.failed > 0 {
        missed.push(format!("{} failed", on.failed));
    }
    if on.clients < BUSY_ALLOWED_FROM && on.busy > 0 {
        missed.push(format!("{} × 429", on.busy));
    }
    if on.clients == TARGET_CLIENTS {
        if on.throughput < target_ops {
            missed.push(format!("{:.0} < {target_ops:.0} ops/s", on.throughput));
        }
        if on.latency.percentile(99.0) > TARGET_P99 {
            missed.push(format!("p99 {} > {} ms", ms(on.latency.percentile(99.0)), TARGET_P99.as_millis()));
        }
    }
    if on.clients == 1 {
        if let Some(off) = off {
            if on.throughput < ONE_CLIENT_FLOOR * off.throughput {
                missed.push(format!("{:.1} < {ONE_CLIENT_FLOOR} × {:.1} ops/s (off)", on.throughput, off.throughput));
            }
        }
    }
    missed
}

/// What a level with group commit on is held to.
fn target_of(clients: usize, target_ops: f64) -> String {
    let mut parts = vec!["chain".to_owned()];
    if clients < BUSY_ALLOWED_FROM {
        parts.push("no 429".into());
    }
    if clients == TARGET_CLIENTS {
        parts.push(format!("≥ {target_ops:.0} ops/s, p99 ≤ {} ms", TARGET_P99.as_millis()));
    }
    if clients == 1 {
        parts.push(format!("≥ {ONE_CLIENT_FLOOR} × off"));
    }
    parts.join(", ")
}

pub async fn run(bench: &Bench, levels: &[usize]) -> Figure {
    let window = if bench.quick { Duration::from_secs(3) } else { Duration::from_secs(10) };
    let warmup = if bench.quick { Duration::from_millis(500) } else { Duration::from_secs(2) };
    let proxy = DdbProxy::start(bench.endpoint.clone()).await.expect("start the proxy");
    proxy.set_delay(DELAY);
    // calls per uncontended operation: lock-and-read, commit
    let bound = 1.0 / (2.0 * DELAY.as_secs_f64());
    let target_ops = TARGET_TIMES_BOUND * bound;

    let mut failures = Vec::new();
    let mut measured: Vec<(Level, Level)> = Vec::new();
    for &clients in levels {
        let off = measure(bench, &proxy, clients, Mode::Off, window, warmup, &mut failures).await;
        let on = measure(bench, &proxy, clients, Mode::On, window, warmup, &mut failures).await;
        measured.push((off, on));
    }
    let mut sqs: Vec<Level> = Vec::new();
    for pollers in SQS_POLLERS.into_iter().filter(|p| levels.iter().any(|l| l >= p)) {
        sqs.push(measure(bench, &proxy, pollers, Mode::Sqs, window, warmup, &mut failures).await);
    }

    let mut table = Table::new(&[
        "clients / group commit",
        "ops/s",
        "of bound",
        "p50 ms",
        "p99 ms",
        "429s",
        "failed",
        "calls/op",
        "ops/commit",
        "moto ms: lock + commit (busy try)",
        "moto busy",
        "bound with moto",
        "chain",
        "target (on)",
        "verdict",
    ]);
    let mut moto_table = Table::new(&[
        "clients / group commit",
        "ops/s",
        "moto busy",
        "moto queue p50 ms",
        "moto ms per op",
        "moto ceiling ops/s",
        "ceiling of target",
        "calls per op by kind × moto ms each (mean) = share of moto's time",
        "load avg",
    ]);
    let mut verdicts = Vec::new();
    let rows = measured.iter().flat_map(|(off, on)| [(off, Some(off)), (on, Some(off))]);
    for (level, off) in rows.chain(sqs.iter().map(|level| (level, None))) {
        {
            let (target, verdict) = match level.mode {
                Mode::Off => {
                    // Before: not held to the targets, only to the chain and to no failure.
                    let ok = level.chain_ok && level.failed == 0;
                    verdicts.push((format!("hot balance, {} clients, group commit off: chain", level.clients), ok));
                    ("—".to_owned(), if ok { "before".to_owned() } else { "**chain or failure**".to_owned() })
                }
                Mode::Sqs => {
                    // Not one of the targets: whether operations that arrive as batches
                    // pass what one lock per operation could ever do on this store (the bound
                    // with moto's own time in it), with the chain intact.
                    let bound_here = level.one_lock_bound_with_moto();
                    let ok = level.chain_ok && level.failed == 0 && level.throughput > bound_here;
                    let name =
                        format!("hot balance, {} SQS pollers: above the one-lock bound with moto", level.clients);
                    verdicts.push((name, ok));
                    let verdict = match ok {
                        true => format!("met: × {:.2} of it", level.throughput / bound_here),
                        false => format!("**missed**: × {:.2} of it", level.throughput / bound_here),
                    };
                    ("chain, > bound with moto".to_owned(), verdict)
                }
                Mode::On => {
                    let missed = misses(level, off, target_ops);
                    verdicts.push((format!("hot balance, {} clients", level.clients), missed.is_empty()));
                    let verdict = match missed.is_empty() {
                        true => "met".to_owned(),
                        false => format!("**missed**: {}", missed.join("; ")),
                    };
                    (target_of(level.clients, target_ops), verdict)
                }
            };
            let moto = &level.moto;
            table.row(vec![
                level.label(),
                format!("{:.1}", level.throughput),
                format!("{:.2}", level.throughput / bound),
                ms(level.latency.median()),
                ms(level.latency.percentile(99.0)),
                level.busy.to_string(),
                level.failed.to_string(),
                format!("{:.2}", level.calls_per_op()),
                format!("{:.2}", level.acknowledged as f64 / level.commits.max(1) as f64),
                match moto.busy_attempt.len() {
                    0 => format!("{} + {}", ms(moto.lock.median()), ms(moto.commit.median())),
                    _ => format!(
                        "{} + {} ({})",
                        ms(moto.lock.median()),
                        ms(moto.commit.median()),
                        ms(moto.busy_attempt.median())
                    ),
                },
                format!("{:.0}%", 100.0 * level.moto_busy_share()),
                format!("{:.1}", level.one_lock_bound_with_moto()),
                level.chain.clone(),
                target,
                verdict,
            ]);
            let per_op = |count: usize| count as f64 / level.acknowledged.max(1) as f64;
            let kinds: Vec<String> = moto
                .kinds
                .iter()
                .map(|(kind, (count, service))| {
                    format!(
                        "{kind} {:.2} × {} = {:.0}%",
                        per_op(*count),
                        ms(service.div_f64((*count).max(1) as f64)),
                        100.0 * service.as_secs_f64() / moto.busy.as_secs_f64().max(f64::MIN_POSITIVE)
                    )
                })
                .collect();
            moto_table.row(vec![
                level.label(),
                format!("{:.1}", level.throughput),
                format!("{:.0}%", 100.0 * level.moto_busy_share()),
                ms(moto.queued),
                ms(level.moto_per_op()),
                format!("{:.1}", level.moto_ceiling()),
                format!("{:.2}", level.moto_ceiling() / target_ops),
                kinds.join(", "),
                level.load.clone(),
            ]);
        }
    }

    let side_by_side: Vec<String> = measured
        .iter()
        .map(|(off, on)| {
            format!(
                "{} clients {:.1} → {:.1} ops/s (× {:.2}), p99 {} → {} ms, 429s {} → {}",
                off.clients,
                off.throughput,
                on.throughput,
                on.throughput / off.throughput.max(f64::MIN_POSITIVE),
                ms(off.latency.percentile(99.0)),
                ms(on.latency.percentile(99.0)),
                off.busy,
                on.busy
            )
        })
        .collect();
    let mut markdown = format!(
        "### 4. One hot balance: execute-operation, {delay} ms added to every DynamoDB call, group commit off \
         (before) and on (after)\n\n{table}\n\n\
         Before → after: {side_by_side}.\n\n\
         Bound: 1 / (2 calls × {delay} ms) = {bound:.0} ops/s, one lock per operation. Targets, with group commit \
         on: at {TARGET_CLIENTS} clients ≥ {TARGET_TIMES_BOUND} × the bound = {target_ops:.0} ops/s and p99 ≤ \
         {p99} ms; no 429 below {BUSY_ALLOWED_FROM} clients; at 1 client ≥ {ONE_CLIENT_FLOOR} × the throughput \
         with it off; at every level no failure but BALANCE_BUSY and the chain verifies. \"off\": \
         `POCKETBOOK_GROUP_COMMIT=off`, an operation that finds the balance locked retries the lock (before group \
         commit); \"on\": it queues a ticket and whoever takes the lock next commits the queue. Each row runs {window} s \
         after a {warmup} s warm-up, on a fresh table and balance, with as many instances as clients; at each level off runs first, \
         then on. \"on, SQS batches\": as many pollers as clients, each delivering SQS batches of {sqs_records} \
         operations of a standard queue (a record handed back counts as a 429; \"ops/commit\" counts the \
         transaction that writes a batch's tickets too), its rows held only to the chain and to passing the one-lock \
         bound with moto's time in it. \"429s\" and \"failed\" count the warm-up too. \"calls/op\": DynamoDB calls on the \
         wire (the proxy's count) per acknowledged operation (2 when every lock is taken at the first try); \
         \"ops/commit\": acknowledged operations per TransactWriteItems that landed. \"moto ms\": median service time \
         of the local DynamoDB for a lock taken (UpdateItem), a commit (TransactWriteItems, a whole batch with group \
         commit) and, in brackets, a lock attempt that found the balance busy; \"moto busy\": the share of the time \
         it was serving a request (it serves one at a time); \"bound with moto\": the one-lock bound with moto's own \
         time in it, 1 / (2 × {delay} ms + lock + commit). \"chain\": the stored history recomputes, holds one entry \
         per acknowledged operation (and the seed), and the balance is exactly the seed plus the acknowledged INCs \
         minus the acknowledged DECs.\n\n\
         The same rows, moto-inclusive: where the local DynamoDB's time goes.\n\n{moto_table}\n\n\
         \"moto ms per op\": moto's service time per acknowledged operation; \"moto ceiling\": acknowledged \
         operations per second of moto's service time — the throughput this mix of calls would reach with moto busy \
         all the time, since it serves one request at a time; \"ceiling of target\": that ceiling as a share of \
         {target_ops:.0} ops/s, the part of the target reachable against moto at all. \"calls per op by kind\": \
         calls per acknowledged operation of each kind (✗: answered other than 200, e.g. a failed condition), \
         moto's mean service time for one, and that kind's share of all of moto's service time. \"load avg\": the machine's 1-minute load average at the end of the row \
         (2 cores, shared by moto, the instances and the runner).",
        delay = DELAY.as_millis(),
        table = table.render(),
        side_by_side = side_by_side.join("; "),
        p99 = TARGET_P99.as_millis(),
        window = window.as_secs(),
        warmup = warmup.as_secs_f64(),
        moto_table = moto_table.render(),
        sqs_records = SQS_RECORDS,
    );
    if !failures.is_empty() {
        markdown.push_str(&format!("\n\nFailures (first few): {}", failures.join("; ")));
    }
    Figure { markdown, verdicts }
}
