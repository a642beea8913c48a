//! What every figure needs: the local DynamoDB and tables, function pools over the release
//! binaries, balances and seeded history written by Pocketbook's own code, statistics and
//! Markdown tables.

use bytes::Bytes;
use pocketbook::domain::balance::{Balance, NewBalance};
use pocketbook::domain::checksum::{self, Checksum};
use pocketbook::domain::ledger::{self, Change, LotsView};
use pocketbook::domain::money::{Amount, MinLimit};
use pocketbook::domain::names::{BalanceId, BalanceName, BalanceType, ProjectId, UpdateToken};
use pocketbook::domain::operation::{Operation, OperationRequest};
use pocketbook::domain::time::Millis;
use pocketbook::engine::RandomIds;
use pocketbook::store::{schema, CallCounter, Commit, HeadWrite, Store, TryLock, Write, MAX_TRANSACTION_ITEMS};
use pocketbook_tests::lambda::{FunctionPool, FunctionSpec, InvokeError};
use pocketbook_tests::local_dynamodb;
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The page-token key every function of the bench runs with.
const PAGE_TOKEN_KEY: &str = "bench-page-token-key";

pub struct Bench {
    /// The local DynamoDB (moto, serialised), started by the harness.
    pub endpoint: String,
    /// The runner's own client: setup and checks, never counted with a function's calls.
    pub client: aws_sdk_dynamodb::Client,
    /// Where the release binaries are.
    pub bin_dir: PathBuf,
    /// The Pocketbook functions (package = binary names), from functions/*/Cargo.toml.
    pub functions: Vec<String>,
    /// Fewer repetitions: for trying the runner out, not for numbers worth keeping.
    pub quick: bool,
}

/// A fresh table with one project.
pub struct Fixture {
    pub table: String,
    pub store: Store,
    pub project: ProjectId,
}

impl Bench {
    pub async fn start(bin_dir: PathBuf, functions: Vec<String>, quick: bool) -> Bench {
        let endpoint = local_dynamodb::endpoint();
        let client = local_dynamodb::client(&endpoint).await;
        Bench { endpoint, client, bin_dir, functions, quick }
    }

    pub fn binary(&self, name: &str) -> PathBuf {
        let path = self.bin_dir.join(name);
        assert!(path.exists(), "{} is missing: scripts/bench.sh builds it", path.display());
        path
    }

    pub async fn fixture(&self, prefix: &str) -> Fixture {
        let table = format!("bench-{prefix}-{}", &Uuid::new_v4().simple().to_string()[..8]);
        schema::create_table(&self.client, &table, false).await.expect("create a table");
        let store = Store::new(self.client.clone(), table.clone(), CallCounter::default());
        let project = ProjectId::parse(&format!("bench-{}", &Uuid::new_v4().simple().to_string()[..8])).unwrap();
        Fixture { table, store, project }
    }

    /// Drops a table so that the local DynamoDB does not carry it (memory, garbage
    /// collection) into the next measurement.
    pub async fn drop_table(&self, table: &str) {
        let _ = self.client.delete_table().table_name(table).send().await;
    }

    /// A pool of `function` on `table`, its DynamoDB at `endpoint` (the local DynamoDB, or a
    /// proxy in front of it).
    pub async fn pool(&self, function: &str, table: &str, endpoint: &str, instances: usize) -> FunctionPool {
        self.pool_with(function, table, endpoint, instances, &[]).await
    }

    /// Like [`Bench::pool`], with more environment.
    pub async fn pool_with(
        &self,
        function: &str,
        table: &str,
        endpoint: &str,
        instances: usize,
        extra: &[(&str, &str)],
    ) -> FunctionPool {
        let spec = self.spec(function, table, endpoint, instances, extra);
        FunctionPool::start(spec).await.expect("start a function pool")
    }

    /// What [`Bench::pool_with`] starts, for a figure that changes more (the timeout).
    pub fn spec(
        &self,
        function: &str,
        table: &str,
        endpoint: &str,
        instances: usize,
        extra: &[(&str, &str)],
    ) -> FunctionSpec {
        let mut spec = FunctionSpec::new(function, self.binary(function)).instances(instances);
        for (key, value) in [
            ("TABLE_NAME", table),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
            ("AWS_ACCESS_KEY_ID", "bench"),
            ("AWS_SECRET_ACCESS_KEY", "bench"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("RUST_LOG", "info"),
            ("POCKETBOOK_PAGE_TOKEN_KEY", PAGE_TOKEN_KEY),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        {
            spec = spec.env(key, value);
        }
        spec
    }
}

/// A new empty EUR balance, written as create-balance writes it.
pub async fn new_balance(fixture: &Fixture) -> Balance {
    new_balance_at(fixture, Millis::from_datetime(chrono::Utc::now())).await
}

async fn new_balance_at(fixture: &Fixture, created: Millis) -> Balance {
    let new = NewBalance {
        project_id: fixture.project.clone(),
        id: BalanceId::new(Uuid::new_v4()),
        balance_type: BalanceType::parse("EUR").unwrap(),
        name: BalanceName::parse("bench").unwrap(),
        min_limit: MinLimit::ZERO,
    };
    let balance = Balance::open(new, created, UpdateToken::new(Uuid::new_v4()));
    let insert = Commit { heads: Vec::new(), record: None, writes: &[Write::NewBalance(balance.clone())] };
    fixture.store.commit(&insert).await.expect("insert a balance");
    balance
}

/// Writes `count` history entries to a new balance the way execute-operation would, only
/// many per transaction: Pocketbook's planner makes each entry (amount, balanceAfter,
/// checksum chained to the previous one), and its store commits them under the balance's
/// lock, 99 entries and the head per `TransactWriteItems`. INCs and DECs of 0.01 to 100.00,
/// one millisecond apart, ending now. Returns the balance as its head now holds it.
pub async fn seed_history(fixture: &Fixture, count: u64) -> Balance {
    let store = &fixture.store;
    let start = Millis::from_datetime(chrono::Utc::now()).plus_ms(-(count as i64));
    let balance = new_balance_at(fixture, start.plus_ms(-1)).await;
    let owner = Uuid::new_v4().simple().to_string();
    let lease_ms = 600_000;
    let head = match store.try_lock(&fixture.project, balance.id, &owner, None, start, lease_ms).await {
        Ok(TryLock::Locked(head)) => *head,
        other => panic!("lock a new balance: {other:?}"),
    };
    let mut current = head.balance;
    let mut version = head.version;
    let mut written = 0u64;
    let per_batch = (MAX_TRANSACTION_ITEMS - 1) as u64;
    let mut previous = Checksum::genesis(balance.id);
    while written < count {
        let mut changes: Vec<Change> = Vec::new();
        while (changes.len() as u64) < per_batch && written + (changes.len() as u64) < count {
            let seq = written + changes.len() as u64;
            let now = start.plus_ms(seq as i64);
            let cents = 1 + rand::random::<u64>() % 10_000;
            let amount = Amount::new(Decimal::new(cents as i64, 2)).unwrap();
            let dec = rand::random::<bool>() && current.amount >= amount.value();
            let operation = if dec { Operation::Dec { amount } } else { Operation::Inc { amount, ttl: None } };
            let request =
                OperationRequest { operation, subject: None, update_token: None, session: Uuid::new_v4().to_string() };
            let lots = LotsView { lots: &[], complete: true };
            let plan = ledger::plan(&current, lots, now, Some(&request), &mut RandomIds).expect("plan an operation");
            assert_eq!(plan.changes.len(), 1, "a plain INC/DEC is one change");
            let change = plan.changes.into_iter().next().unwrap();
            current = change.after.clone();
            changes.push(change);
        }
        written += changes.len() as u64;
        version += 1;
        let last = written == count;
        let head = HeadWrite {
            owner: &owner,
            changes: &changes,
            version,
            keep_lock_until: (!last).then(|| Millis::from_datetime(chrono::Utc::now()).plus_ms(lease_ms)),
        };
        store.commit(&Commit { heads: vec![head], record: None, writes: &[] }).await.expect("commit seeded history");
        // Check the chain as it is written: each batch continues the one before.
        let entries: Vec<_> = changes.iter().filter_map(|c| c.entry.clone()).collect();
        for entry in &entries {
            assert_eq!(previous.next(entry), entry.checksum, "seeded entry {} chains", entry.seq);
            previous = entry.checksum.clone();
        }
    }
    current
}

/// Recomputes the checksum chain from the stored history, as `pocketbook-admin verify-chain`
/// does, and checks the head's count. Returns the number of entries.
pub async fn verify_chain(fixture: &Fixture, id: BalanceId) -> Result<u64, String> {
    let head =
        fixture.store.read_head(&fixture.project, id).await.map_err(|e| e.to_string())?.ok_or("the balance is gone")?;
    let history = fixture.store.full_history(&fixture.project, id).await.map_err(|e| e.to_string())?;
    let count = checksum::verify(id, &history, &head.balance.checksum).map_err(|e| format!("chain broken: {e}"))?;
    if count != head.balance.transactions_count {
        return Err(format!("{count} entries, but the head counts {}", head.balance.transactions_count));
    }
    Ok(count)
}

/// One invocation: how long it took, and its answer.
pub struct Invoked {
    pub request_id: String,
    pub took: Duration,
    pub answer: Result<Value, InvokeError>,
}

pub async fn invoke(pool: &FunctionPool, payload: &str) -> Invoked {
    let request_id = Uuid::new_v4().to_string();
    let started = Instant::now();
    let result = pool.invoke_with_request_id(request_id.clone(), Bytes::from(payload.to_owned())).await;
    let took = started.elapsed();
    let answer = result.and_then(|invocation| {
        serde_json::from_slice(&invocation.body)
            .map_err(|e| InvokeError::Harness(format!("the function's answer is not JSON: {e}")))
    });
    Invoked { request_id, took, answer }
}

/// An invocation that must succeed (for the authorizer: authorize); panics otherwise.
pub async fn invoke_ok(pool: &FunctionPool, payload: &str) -> (Invoked, Value) {
    let invoked = invoke(pool, payload).await;
    let body = match &invoked.answer {
        Ok(body) if body.get("error").is_none() && body["isAuthorized"] != Value::Bool(false) => body.clone(),
        other => panic!("{} answered {other:?} to {payload}", pool.name()),
    };
    (invoked, body)
}

/// The function's one log line for a request, parsed: the line with its request id and its
/// DynamoDB call count (the functions log it as "request", the authorizer as "authorization").
pub fn request_log(pool: &FunctionPool, request_id: &str) -> Option<Value> {
    pool.log_lines_containing(request_id)
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["requestId"] == request_id && line["dynamodbCalls"].is_u64())
}

/// DynamoDB calls the function reported for a request (its client's interceptor count).
pub fn reported_calls(pool: &FunctionPool, request_id: &str) -> Option<u64> {
    request_log(pool, request_id)?["dynamodbCalls"].as_u64()
}

/// Peak and current resident memory of a process, in KiB, from `/proc/<pid>/status`.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name))?;
        line[name.len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Sorted samples and the usual order statistics (nearest rank).
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn new(mut samples: Vec<Duration>) -> Samples {
        samples.sort();
        Samples(samples)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }
}

pub fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

/// A Markdown table, its columns padded so that it also reads well as plain text.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.header.len(), "a row has a cell per column");
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let width = |i: usize| {
            self.rows.iter().map(|r| r[i].chars().count()).chain([self.header[i].chars().count(), 3]).max().unwrap()
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            format!("| {} |", padded.join(" | "))
        };
        let mut out = vec![line(&self.header)];
        out.push(format!("|{}|", widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|")));
        out.extend(self.rows.iter().map(|r| line(r)));
        out.join("\n")
    }
}

/// One figure of the bench: its Markdown section, and each target it checks.
pub struct Figure {
    pub markdown: String,
    pub verdicts: Vec<(String, bool)>,
}
