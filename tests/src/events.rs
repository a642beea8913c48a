//! End-to-end harness of the events path (issue 16): the whole app of [`TestApp`], plus
//!
//! * a fake EventBridge ([`FakeEventBridge`]) that records every `PutEvents` entry in order
//!   and can be told to refuse some;
//! * a webhook delivery queue made on the local moto server, which serves SQS too;
//! * the REAL `publish-events` (and `deliver-webhooks`) binaries under the local Lambda
//!   runtime, pointed at them;
//! * `make dev`'s stand-in for Lambda's event source mappings (pocketbook_front::events),
//!   reading the table's real DynamoDB stream from moto and the queue, driving those binaries
//!   with the batch size the test picks;
//! * a webhook receiver ([`WebhookReceiver`]) on loopback.

use crate::app::{binary, unique, AppOptions, TestApp};
use crate::lambda::{FunctionPool, FunctionSpec};
use crate::local_dynamodb;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pocketbook_front::events::{
    AwsJson, BoxFuture, InvokeFailure, Invoker, Pump, PumpConfig, PumpReport, Service, DELIVER_FUNCTION,
    PUBLISH_FUNCTION,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The bus the publisher is told to put events on (the fake takes any name).
pub const BUS_NAME: &str = "pocketbook-test-bus";
/// The sweeper of expired movements, run by a schedule once deployed.
pub const SWEEPER_FUNCTION: &str = "expire-movements";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------
// The fake EventBridge.

/// One entry of a `PutEvents` call, as the publisher sent it, and whether the fake took it.
#[derive(Debug, Clone)]
pub struct BusEntry {
    pub source: String,
    pub detail_type: String,
    /// `Detail`, parsed (`Value::Null` if it was not JSON).
    pub detail: Value,
    /// `Detail` exactly as sent.
    pub detail_text: String,
    pub event_bus_name: String,
    /// `Time` as sent (the SDK writes epoch seconds), `Null` without one.
    pub time: Value,
    pub accepted: bool,
    /// Which `PutEvents` call (0, 1, ...) carried it.
    pub call: usize,
    pub received_at: Instant,
}

impl BusEntry {
    pub fn id(&self) -> &str {
        self.detail["id"].as_str().unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.detail["kind"].as_str().unwrap_or_default()
    }

    pub fn subject_id(&self) -> &str {
        self.detail["subject"]["id"].as_str().unwrap_or_default()
    }

    pub fn sequence(&self) -> Option<u64> {
        self.detail["sequence"].as_u64()
    }
}

struct Refusal {
    needle: String,
    remaining: usize,
}

#[derive(Default)]
struct BusState {
    entries: Mutex<Vec<BusEntry>>,
    refusals: Mutex<Vec<Refusal>>,
    calls: AtomicUsize,
}

/// A `PutEvents` endpoint (JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`) on 127.0.0.1.
pub struct FakeEventBridge {
    url: String,
    state: Arc<BusState>,
    _server: AbortOnDrop,
}

impl FakeEventBridge {
    pub async fn start() -> FakeEventBridge {
        let state = Arc::new(BusState::default());
        let for_server = Arc::clone(&state);
        let (url, server) = serve(move |request| {
            let state = Arc::clone(&for_server);
            async move { put_events(&state, request).await }
        })
        .await;
        FakeEventBridge { url, state, _server: server }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Refuses (`InternalFailure`) the next `times` entries whose `Detail` contains `needle`.
    pub fn refuse(&self, needle: &str, times: usize) {
        lock(&self.state.refusals).push(Refusal { needle: needle.to_owned(), remaining: times });
    }

    /// Every entry it was sent, taken or refused, in arrival order.
    pub fn attempts(&self) -> Vec<BusEntry> {
        lock(&self.state.entries).clone()
    }

    /// The entries it took, in arrival order.
    pub fn accepted(&self) -> Vec<BusEntry> {
        self.attempts().into_iter().filter(|entry| entry.accepted).collect()
    }

    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }
}

async fn put_events(state: &BusState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if target != "AWSEvents.PutEvents" {
        let error = json!({"__type": "UnknownOperationException", "message": format!("not served: {target}")});
        return aws_json(StatusCode::BAD_REQUEST, &error);
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return aws_json(StatusCode::BAD_REQUEST, &json!({"__type": "SerializationException", "message": "not JSON"}));
    };
    let call = state.calls.fetch_add(1, Ordering::SeqCst);
    let mut answers = Vec::new();
    let mut failed = 0;
    let mut entries = lock(&state.entries);
    for entry in request["Entries"].as_array().into_iter().flatten() {
        let text = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
        let detail_text = text("Detail");
        let refused = {
            let mut refusals = lock(&state.refusals);
            match refusals.iter_mut().find(|r| r.remaining > 0 && detail_text.contains(&r.needle)) {
                Some(refusal) => {
                    refusal.remaining -= 1;
                    true
                }
                None => false,
            }
        };
        if refused {
            failed += 1;
            answers.push(json!({"ErrorCode": "InternalFailure", "ErrorMessage": "refused by the test"}));
        } else {
            answers.push(json!({"EventId": uuid::Uuid::new_v4().to_string()}));
        }
        entries.push(BusEntry {
            source: text("Source"),
            detail_type: text("DetailType"),
            detail: serde_json::from_str(&detail_text).unwrap_or(Value::Null),
            detail_text,
            event_bus_name: text("EventBusName"),
            time: entry.get("Time").cloned().unwrap_or(Value::Null),
            accepted: !refused,
            call,
            received_at: Instant::now(),
        });
    }
    aws_json(StatusCode::OK, &json!({"FailedEntryCount": failed, "Entries": answers}))
}

fn aws_json(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    if let Ok(value) = "application/x-amz-json-1.1".parse() {
        response.headers_mut().insert("content-type", value);
    }
    response
}

// ---------------------------------------------------------------------------------------
// A webhook receiver.

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub path: String,
    pub received_at: Instant,
}

impl ReceivedWebhook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<ReceivedWebhook>>,
    status: AtomicU16,
}

/// An HTTP server on 127.0.0.1 that records every request and answers with a status the test
/// sets (200 unless told otherwise).
pub struct WebhookReceiver {
    url: String,
    state: Arc<ReceiverState>,
    _server: AbortOnDrop,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let state = Arc::new(ReceiverState { status: AtomicU16::new(200), ..ReceiverState::default() });
        let for_server = Arc::clone(&state);
        let (url, server) = serve(move |request: Request<Incoming>| {
            let state = Arc::clone(&for_server);
            async move {
                let path = request.uri().path().to_owned();
                let headers = request
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
                    .collect();
                let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let body = String::from_utf8_lossy(&body).into_owned();
                lock(&state.received).push(ReceivedWebhook { headers, body, path, received_at: Instant::now() });
                let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                *response.status_mut() = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap_or_default();
                response
            }
        })
        .await;
        WebhookReceiver { url, state, _server: server }
    }

    /// `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        format!("{}/hook", self.url)
    }

    pub fn answer_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        lock(&self.state.received).clone()
    }

    /// Waits until at least `count` requests came (or `timeout` passed); what came.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedWebhook> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `handle` on a fresh loopback port; its `http://127.0.0.1:<port>`.
async fn serve<F, Fut>(handle: F) -> (String, AbortOnDrop)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let handle = handle.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |request| {
                            let handle = handle.clone();
                            async move { Ok::<_, Infallible>(handle(request).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next() => {}
            }
        }
    });
    (url, AbortOnDrop(task))
}

// ---------------------------------------------------------------------------------------
// The functions the pump invokes.

/// One invocation the pump made, with what came back (`Err`: the invocation failed).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub function: String,
    pub payload: Value,
    pub answer: Result<Value, String>,
}

/// Runs the event consumers in their [`FunctionPool`]s and records every invocation.
pub struct PoolInvoker {
    pools: BTreeMap<String, FunctionPool>,
    recorded: Mutex<Vec<Recorded>>,
}

impl PoolInvoker {
    pub fn recorded(&self, function: &str) -> Vec<Recorded> {
        lock(&self.recorded).iter().filter(|r| r.function == function).cloned().collect()
    }
}

impl Invoker for PoolInvoker {
    fn invoke<'a>(&'a self, function: &'a str, payload: Value) -> BoxFuture<'a, Result<Value, InvokeFailure>> {
        Box::pin(async move {
            let Some(pool) = self.pools.get(function) else {
                return Err(InvokeFailure(format!("no function {function} in this harness")));
            };
            let answer = pool.invoke_json(&payload).await.map(|(_, answer)| answer).map_err(|e| e.to_string());
            lock(&self.recorded).push(Recorded { function: function.to_owned(), payload, answer: answer.clone() });
            answer.map_err(InvokeFailure)
        })
    }
}

// ---------------------------------------------------------------------------------------
// The harness.

#[derive(Debug, Clone)]
pub struct EventsOptions {
    /// Stream records per publish-events invocation.
    pub batch_size: usize,
    /// Also run `deliver-webhooks` on the delivery queue.
    pub deliverer: bool,
    pub app: AppOptions,
    /// The pause of the pump between empty polls (the continuous pump's latency floor).
    pub poll_interval: Duration,
}

impl Default for EventsOptions {
    fn default() -> Self {
        EventsOptions {
            batch_size: 100,
            deliverer: false,
            app: AppOptions::default(),
            poll_interval: Duration::from_millis(20),
        }
    }
}

impl EventsOptions {
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    pub fn with_deliverer(mut self) -> Self {
        self.deliverer = true;
        self
    }

    pub fn app(mut self, app: AppOptions) -> Self {
        self.app = app;
        self
    }
}

type PoolPump = Pump<Arc<PoolInvoker>>;

pub struct EventsApp {
    pub app: TestApp,
    pub bus: FakeEventBridge,
    /// The moto endpoint (DynamoDB, its streams, SQS).
    pub aws: AwsJson,
    pub queue_url: String,
    pub publisher: FunctionPool,
    pub deliverer: Option<FunctionPool>,
    pub invoker: Arc<PoolInvoker>,
    /// The environment every function of this harness runs with.
    pub env: Vec<(String, String)>,
    extra_pools: Mutex<Vec<FunctionPool>>,
    pump: tokio::sync::Mutex<Option<PoolPump>>,
}

impl EventsApp {
    pub async fn spawn() -> EventsApp {
        EventsApp::spawn_with(EventsOptions::default()).await
    }

    pub async fn spawn_with(options: EventsOptions) -> EventsApp {
        let endpoint = local_dynamodb::endpoint();
        let aws = AwsJson::new(&endpoint, "us-east-1");
        let queue = aws
            .call(Service::Sqs, "CreateQueue", &json!({"QueueName": unique("pocketbook-webhook-deliveries")}))
            .await
            .expect("create the delivery queue on moto");
        let queue_url = queue["QueueUrl"].as_str().expect("a queue URL").to_owned();
        let bus = FakeEventBridge::start().await;
        let env: Vec<(String, String)> = [
            (pocketbook::config::EVENT_BUS_NAME, BUS_NAME),
            (pocketbook::config::DELIVERY_QUEUE_URL, queue_url.as_str()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", bus.url.as_str()),
            ("AWS_ENDPOINT_URL_SQS", endpoint.as_str()),
            (pocketbook::config::WEBHOOK_ALLOW_INSECURE, "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut app_options = options.app.clone();
        app_options.env.extend(env.iter().cloned());
        let app = TestApp::spawn_with(app_options).await;
        // The events' FPay `url`s point at this app's API.
        let mut consumer_env = app.function_env.clone();
        consumer_env.push((pocketbook::config::PUBLIC_URL.to_owned(), app.url.clone()));

        let publisher = start(PUBLISH_FUNCTION, &consumer_env).await;
        let deliverer = match options.deliverer {
            true => Some(start(DELIVER_FUNCTION, &consumer_env).await),
            false => None,
        };
        let mut pools = BTreeMap::new();
        pools.insert(PUBLISH_FUNCTION.to_owned(), publisher.clone());
        if let Some(deliverer) = &deliverer {
            pools.insert(DELIVER_FUNCTION.to_owned(), deliverer.clone());
        }
        let invoker = Arc::new(PoolInvoker { pools, recorded: Mutex::new(Vec::new()) });
        let config = PumpConfig {
            batch_size: options.batch_size,
            poll_interval: options.poll_interval,
            retry_pause: Duration::from_millis(50),
            max_attempts: Some(20),
            quiet_deadline: Duration::from_secs(120),
            ..PumpConfig::default()
        };
        let queue_for_pump = deliverer.as_ref().map(|_| queue_url.as_str());
        let pump = Pump::new(&aws, Some(&app.table), queue_for_pump, Arc::clone(&invoker), config);
        EventsApp {
            app,
            bus,
            aws,
            queue_url,
            publisher,
            deliverer,
            invoker,
            env: consumer_env,
            extra_pools: Mutex::new(Vec::new()),
            pump: tokio::sync::Mutex::new(Some(pump)),
        }
    }

    /// Runs the stream (and the queue) until nothing new arrives; what it did.
    pub async fn pump(&self) -> PumpReport {
        let mut pump = self.pump.lock().await;
        let pump = pump.as_mut().expect("the pump runs continuously: stop it first");
        pump.until_quiet().await.unwrap_or_else(|e| panic!("the event pump: {e}"))
    }

    /// Runs the pump without pause from now on, as Lambda's mappings do, until the handle
    /// is stopped.
    pub async fn pump_continuously(&self) -> ContinuousPump {
        let pump = self.pump.lock().await.take().expect("the pump is already running");
        let (stop, stopped) = watch::channel(false);
        ContinuousPump { stop, task: tokio::spawn(pump.run(stopped)) }
    }

    /// Every entry the publisher put on the bus and the fake took, in order.
    pub fn published(&self) -> Vec<BusEntry> {
        self.bus.accepted()
    }

    /// The taken entries of one kind.
    pub fn published_of(&self, kind: &str) -> Vec<BusEntry> {
        self.published().into_iter().filter(|entry| entry.kind() == kind).collect()
    }

    /// The taken entries about one subject (a balance, a wallet, a movement, an order, ...).
    pub fn published_about(&self, subject_id: &str) -> Vec<BusEntry> {
        self.published().into_iter().filter(|entry| entry.subject_id() == subject_id).collect()
    }

    /// The stream batches the pump handed to publish-events, with its answers.
    pub fn publish_invocations(&self) -> Vec<Recorded> {
        self.invoker.recorded(PUBLISH_FUNCTION)
    }

    /// Runs the expired-movements sweeper once, as its schedule would.
    pub async fn sweep(&self) -> Value {
        let pool = {
            let existing = lock(&self.extra_pools).iter().find(|p| p.name() == SWEEPER_FUNCTION).cloned();
            match existing {
                Some(pool) => pool,
                None => {
                    let pool = start(SWEEPER_FUNCTION, &self.env).await;
                    lock(&self.extra_pools).push(pool.clone());
                    pool
                }
            }
        };
        let scheduled = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        pool.invoke_json(&scheduled).await.map(|(_, answer)| answer).expect("the sweeper runs")
    }

    /// Every line any function of this harness logged so far: (function, line).
    pub fn all_logs(&self) -> Vec<(String, String)> {
        let mut pools: Vec<FunctionPool> = self.app.functions.values().cloned().collect();
        pools.push(self.publisher.clone());
        pools.extend(self.deliverer.iter().cloned());
        pools.extend(lock(&self.extra_pools).iter().cloned());
        let mut seen = std::collections::BTreeSet::new();
        let mut lines = Vec::new();
        for pool in pools {
            // A function behind several routes is one pool, listed once.
            if !seen.insert(pool.name().to_owned()) {
                continue;
            }
            lines.extend(pool.log_lines().into_iter().map(|line| (pool.name().to_owned(), line)));
        }
        lines
    }
}

async fn start(function: &str, env: &[(String, String)]) -> FunctionPool {
    let mut spec = FunctionSpec::new(function, binary(function));
    for (key, value) in env {
        spec = spec.env(key.clone(), value.clone());
    }
    FunctionPool::start(spec).await.unwrap_or_else(|e| panic!("start {function}: {e}"))
}

/// The pump running in the background ([`EventsApp::pump_continuously`]).
pub struct ContinuousPump {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ContinuousPump {
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}
