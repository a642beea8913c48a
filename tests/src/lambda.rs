//! A local stand-in for AWS Lambda that runs the REAL function binaries.
//!
//! A [`FunctionPool`] starts `instances` child processes of one binary. Each process gets its
//! own Runtime API server (the runtime client always uses the fixed `/2018-06-01/runtime/...`
//! paths, so one server cannot tell several processes apart) and, like a Lambda sandbox,
//! handles one invocation at a time by long-polling `GET /next`. All instances pull from one
//! shared queue, the way Lambda spreads concurrent invocations over warm sandboxes.
//!
//! Each instance slot is owned by one supervisor task that holds all of its state (waiting
//! for `/next`, busy with an invocation, ...). The HTTP handlers only pass messages to it, so
//! there is no shared mutable instance state to race on. When a process exits, times out or
//! reports an init error, the supervisor completes its open invocation with an error and
//! starts a replacement process (a new cold start), with a fresh Runtime API server so that
//! nothing from the dead process can reach the new one.
//!
//! Runtime API reference: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

/// Account id used in the ARNs the harness makes up.
pub const ACCOUNT_ID: &str = "000000000000";
const RUNTIME_PREFIX: &str = "/2018-06-01/runtime";
/// Longest pause between restarts of an instance that keeps failing during init, so that a
/// broken binary does not turn into a busy fork loop.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(2);
/// How long to wait for a process's log pipes to drain after it answered or exited.
const LOG_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// What to run: one Lambda function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Function name (`AWS_LAMBDA_FUNCTION_NAME`, part of the ARN and of the log prefix).
    pub name: String,
    /// The function binary (a `bootstrap` of a custom runtime).
    pub binary: PathBuf,
    /// Extra environment for the function, applied after the harness's defaults, so it can
    /// override e.g. `AWS_REGION` (but not `AWS_LAMBDA_RUNTIME_API`).
    pub env: Vec<(String, String)>,
    /// Number of instances (concurrent sandboxes); at least 1.
    pub instances: usize,
    /// Invocation timeout; also sets `Lambda-Runtime-Deadline-Ms`.
    pub timeout: Duration,
}

impl FunctionSpec {
    /// One instance, no extra env, a 30 s timeout.
    pub fn new(name: impl Into<String>, binary: impl Into<PathBuf>) -> FunctionSpec {
        FunctionSpec {
            name: name.into(),
            binary: binary.into(),
            env: Vec::new(),
            instances: 1,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> FunctionSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn instances(mut self, instances: usize) -> FunctionSpec {
        self.instances = instances;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> FunctionSpec {
        self.timeout = timeout;
        self
    }
}

/// A successful invocation: the function's answer, as it posted it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub body: Bytes,
}

/// Why an invocation did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The function reported an error (`/invocation/{id}/error`), or its init failed
    /// (`/init/error`) on the instance that was meant to run this invocation.
    Function { error_type: String, error_message: String },
    /// The process exited while holding the invocation (Lambda's `Runtime.ExitError`), or
    /// exited during init while this invocation was waiting.
    Crashed { exit_status: String },
    /// No answer within the pool's timeout; the instance was killed and replaced.
    Timeout,
    /// The harness itself failed (pool shut down, process could not be spawned, ...).
    Harness(String),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::Function { error_type, error_message } => {
                write!(f, "function error {error_type}: {error_message}")
            }
            InvokeError::Crashed { exit_status } => {
                write!(f, "function process crashed ({exit_status})")
            }
            InvokeError::Timeout => write!(f, "function timed out"),
            InvokeError::Harness(message) => write!(f, "lambda harness: {message}"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// Startup timings of one process (a cold start), for cold-start measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupTiming {
    /// Instance slot (0..instances).
    pub instance: usize,
    /// 0 for the first process of the slot, then 1, 2, ... for replacements.
    pub generation: usize,
    /// Spawn until the first `GET /next`: the init phase.
    pub ready_after: Option<Duration>,
    /// Spawn until the first answer (response or error) was posted.
    pub first_answer_after: Option<Duration>,
    /// Delivery of the first invocation until its answer: the first (cold) invoke.
    pub first_invocation: Option<Duration>,
}

/// A pool of instances of one function. Cheap to clone; all clones drive the same
/// processes. Dropping the last clone (or [`FunctionPool::shutdown`]) kills them all.
#[derive(Clone)]
pub struct FunctionPool {
    inner: Arc<PoolHandle>,
}

/// Owned only by `FunctionPool` clones (never by the tasks), so that dropping the last clone
/// runs `Drop` and stops everything.
struct PoolHandle {
    shared: Arc<Shared>,
    shutdown_tx: watch::Sender<bool>,
    supervisors: Mutex<Vec<JoinHandle<()>>>,
}

/// State the supervisors and the pool handle share.
struct Shared {
    spec: FunctionSpec,
    queue: Queue,
    logs: Mutex<Vec<String>>,
    echo_logs: bool,
    cold_starts: AtomicUsize,
    timings: Mutex<Vec<StartupTiming>>,
    init_errors: Mutex<Vec<String>>,
    /// The newest process id of each instance slot, for measurements of the processes.
    pids: Mutex<Vec<Option<u32>>>,
}

impl FunctionPool {
    /// Spawns all instances and returns; they initialise in the background (invocations
    /// queue until an instance asks for one).
    pub async fn start(spec: FunctionSpec) -> std::io::Result<FunctionPool> {
        if spec.instances == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "a pool needs at least one instance"));
        }
        let shared = Arc::new(Shared {
            queue: Queue::default(),
            logs: Mutex::new(Vec::new()),
            echo_logs: std::env::var("HARNESS_ECHO_LOGS").is_ok_and(|v| v == "1"),
            cold_starts: AtomicUsize::new(0),
            timings: Mutex::new(Vec::new()),
            init_errors: Mutex::new(Vec::new()),
            pids: Mutex::new(vec![None; spec.instances]),
            spec,
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut supervisors = Vec::new();
        for slot in 0..shared.spec.instances {
            // Spawn the first process here so that a bad binary path fails `start`.
            let instance = match Instance::spawn(&shared, slot, 0).await {
                Ok(instance) => instance,
                Err(error) => {
                    for task in &supervisors {
                        JoinHandle::abort(task);
                    }
                    return Err(error);
                }
            };
            supervisors.push(tokio::spawn(supervise(shared.clone(), slot, instance, shutdown_rx.clone())));
        }
        Ok(FunctionPool { inner: Arc::new(PoolHandle { shared, shutdown_tx, supervisors: Mutex::new(supervisors) }) })
    }

    /// Invokes the function with a fresh request id and waits for its answer.
    pub async fn invoke(&self, payload: Bytes) -> Result<Invocation, InvokeError> {
        self.invoke_with_request_id(uuid::Uuid::new_v4().to_string(), payload).await
    }

    /// Invokes with a caller-chosen request id (`Lambda-Runtime-Aws-Request-Id`), so that the
    /// caller can find the function's log lines even when the invocation fails.
    pub async fn invoke_with_request_id(&self, request_id: String, payload: Bytes) -> Result<Invocation, InvokeError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending { request_id: request_id.clone(), payload, reply };
        if *self.inner.shutdown_tx.borrow() {
            return Err(InvokeError::Harness("the function pool is shut down".into()));
        }
        self.inner.shared.queue.push_back(pending);
        match answer.await {
            Ok(Ok(body)) => Ok(Invocation { request_id, body }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(InvokeError::Harness("the function pool dropped the invocation".into())),
        }
    }

    /// Invokes with a JSON payload and parses the JSON answer. Returns (request id, answer).
    pub async fn invoke_json(&self, payload: &serde_json::Value) -> Result<(String, serde_json::Value), InvokeError> {
        let payload = serde_json::to_vec(payload).map_err(|e| InvokeError::Harness(format!("payload: {e}")))?;
        let invocation = self.invoke(Bytes::from(payload)).await?;
        let answer = serde_json::from_slice(&invocation.body)
            .map_err(|e| InvokeError::Harness(format!("the function's answer is not JSON: {e}")))?;
        Ok((invocation.request_id, answer))
    }

    /// Every line the processes wrote to stdout and stderr so far, in arrival order, across
    /// instances and restarts. Everything a function printed before posting an answer is
    /// included by the time `invoke` returns that answer.
    pub fn log_lines(&self) -> Vec<String> {
        lock(&self.inner.shared.logs).clone()
    }

    /// The log lines that contain `needle` (e.g. a request id).
    pub fn log_lines_containing(&self, needle: &str) -> Vec<String> {
        lock(&self.inner.shared.logs).iter().filter(|line| line.contains(needle)).cloned().collect()
    }

    /// How many processes were started so far (initial instances plus replacements).
    pub fn cold_starts(&self) -> usize {
        self.inner.shared.cold_starts.load(Ordering::SeqCst)
    }

    /// Startup timings of every process started so far, in spawn order.
    pub fn startup_timings(&self) -> Vec<StartupTiming> {
        lock(&self.inner.shared.timings).clone()
    }

    /// The process id of the newest process of each instance slot (it may have exited since),
    /// e.g. to read its memory use from `/proc/<pid>/status`.
    pub fn process_ids(&self) -> Vec<u32> {
        lock(&self.inner.shared.pids).iter().flatten().copied().collect()
    }

    /// Bodies of the `/init/error` reports received so far.
    pub fn init_errors(&self) -> Vec<String> {
        lock(&self.inner.shared.init_errors).clone()
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.inner.shared.spec.name
    }

    /// Kills all processes and waits until they are gone; invocations still queued or running
    /// fail with [`InvokeError::Harness`]. Affects all clones of this pool.
    pub async fn shutdown(self) {
        self.inner.shutdown_tx.send_replace(true);
        let supervisors = std::mem::take(&mut *lock(&self.inner.supervisors));
        for supervisor in supervisors {
            let _ = supervisor.await;
        }
        self.inner.shared.queue.fail_all("the function pool is shut down");
    }
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        // Aborting a supervisor drops its `Child`, and `kill_on_drop` SIGKILLs the process.
        self.shutdown_tx.send_replace(true);
        for supervisor in lock(&self.supervisors).iter() {
            supervisor.abort();
        }
        self.shared.queue.fail_all("the function pool was dropped");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short-lived locks leaves consistent data behind.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------
// The shared invocation queue.

struct Pending {
    request_id: String,
    payload: Bytes,
    reply: oneshot::Sender<Result<Bytes, InvokeError>>,
}

/// A FIFO of invocations shared by all instances of a pool. A hand-rolled deque (rather than
/// an mpsc channel) because an invocation that could not be delivered goes back to the front.
#[derive(Default)]
struct Queue {
    items: Mutex<VecDeque<Pending>>,
    available: Notify,
}

impl Queue {
    fn push_back(&self, pending: Pending) {
        lock(&self.items).push_back(pending);
        self.available.notify_one();
    }

    fn push_front(&self, pending: Pending) {
        lock(&self.items).push_front(pending);
        self.available.notify_one();
    }

    fn try_pop(&self) -> Option<Pending> {
        lock(&self.items).pop_front()
    }

    /// Waits for an invocation. Cancel safe: an item is only taken in the poll that returns
    /// it, and a dropped waiter passes its wake-up on to the next one.
    async fn pop(&self) -> Pending {
        loop {
            let notified = self.available.notified();
            tokio::pin!(notified);
            // Register before looking, so a push between the look and the wait is not missed.
            notified.as_mut().enable();
            if let Some(pending) = self.try_pop() {
                return pending;
            }
            notified.await;
        }
    }

    fn fail_all(&self, message: &str) {
        let drained: Vec<Pending> = lock(&self.items).drain(..).collect();
        for pending in drained {
            let _ = pending.reply.send(Err(InvokeError::Harness(message.into())));
        }
    }
}

// ---------------------------------------------------------------------------------------
// One process: spawn, logs, Runtime API server.

/// Messages from a process's Runtime API server to its supervisor.
enum ApiMessage {
    Next { deliver: oneshot::Sender<Delivery> },
    Response { request_id: String, body: Bytes, ack: oneshot::Sender<StatusCode> },
    Error { request_id: String, error: InvokeError, ack: oneshot::Sender<StatusCode> },
    InitError { body: Bytes, ack: oneshot::Sender<StatusCode> },
}

/// What `GET /next` hands to the process.
struct Delivery {
    request_id: String,
    payload: Bytes,
    deadline_ms: u128,
    function_arn: String,
}

struct Instance {
    slot: usize,
    generation: usize,
    child: Child,
    spawned_at: Instant,
    api: mpsc::UnboundedReceiver<ApiMessage>,
    /// Aborts the Runtime API server (and all its connections) when dropped.
    _server: AbortOnDrop,
    log_readers: Vec<LogReader>,
}

impl Instance {
    async fn spawn(shared: &Arc<Shared>, slot: usize, generation: usize) -> std::io::Result<Instance> {
        let spec = &shared.spec;
        let (api_tx, api_rx) = mpsc::unbounded_channel();
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let port = listener.local_addr()?.port();
        let server = AbortOnDrop(tokio::spawn(serve_runtime_api(listener, api_tx)));

        let mut command = Command::new(&spec.binary);
        command
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/[$LATEST]{slot}-{generation}"))
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            // Last, so that nothing can point the function somewhere else.
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot start function {} ({}): {e}", spec.name, spec.binary.display()),
            )
        })?;
        shared.cold_starts.fetch_add(1, Ordering::SeqCst);
        if let Some(pid) = lock(&shared.pids).get_mut(slot) {
            *pid = child.id();
        }
        lock(&shared.timings).push(StartupTiming {
            instance: slot,
            generation,
            ready_after: None,
            first_answer_after: None,
            first_invocation: None,
        });

        let prefix = format!("{}#{slot}.{generation}", spec.name);
        let mut log_readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            log_readers.push(LogReader::start(stdout, shared.clone(), prefix.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            log_readers.push(LogReader::start(stderr, shared.clone(), prefix));
        }
        Ok(Instance { slot, generation, child, spawned_at, api: api_rx, _server: server, log_readers })
    }

    /// Waits until the log lines the process wrote so far are in the pool's log.
    async fn sync_logs(&self) {
        for reader in &self.log_readers {
            reader.sync().await;
        }
    }

    /// Kills the process (if still running) and waits for it and its log pipes to finish.
    async fn terminate(mut self) -> String {
        let _ = self.child.start_kill();
        let status = match self.child.wait().await {
            Ok(status) => status.to_string(),
            Err(error) => format!("unknown ({error})"),
        };
        self.drain_logs().await;
        status
    }

    async fn drain_logs(&mut self) {
        for reader in self.log_readers.drain(..) {
            let _ = tokio::time::timeout(LOG_DRAIN_TIMEOUT, reader.task).await;
        }
    }

    fn record_timing(&self, shared: &Shared, update: impl FnOnce(&mut StartupTiming)) {
        let mut timings = lock(&shared.timings);
        if let Some(timing) = timings.iter_mut().find(|t| t.instance == self.slot && t.generation == self.generation) {
            update(timing);
        }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Copies one output pipe of a process into the pool's log, line by line.
struct LogReader {
    sync_tx: mpsc::UnboundedSender<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl LogReader {
    fn start(pipe: impl AsyncRead + Unpin + Send + 'static, shared: Arc<Shared>, prefix: String) -> LogReader {
        let (sync_tx, mut sync_rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
        let task = tokio::spawn(async move {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                tokio::select! {
                    // Reading first: a sync request is only acknowledged once the pipe had
                    // nothing more to give. `read_until` keeps partial input in `line`, so
                    // losing the race to a sync request loses nothing.
                    biased;
                    read = reader.read_until(b'\n', &mut line) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            record_line(&shared, &prefix, &line);
                            line.clear();
                        }
                    },
                    Some(ack) = sync_rx.recv() => {
                        let _ = ack.send(());
                    }
                }
            }
            if !line.is_empty() {
                record_line(&shared, &prefix, &line);
            }
        });
        LogReader { sync_tx, task }
    }

    async fn sync(&self) {
        let (ack, acked) = oneshot::channel();
        if self.sync_tx.send(ack).is_ok() {
            // An error means the reader finished: then everything is in already.
            let _ = tokio::time::timeout(LOG_DRAIN_TIMEOUT, acked).await;
        }
    }
}

fn record_line(shared: &Shared, prefix: &str, raw: &[u8]) {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches(['\n', '\r']).to_owned();
    if shared.echo_logs {
        eprintln!("[{prefix}] {text}");
    }
    lock(&shared.logs).push(text);
}

// ---------------------------------------------------------------------------------------
// The supervisor of one instance slot.

enum State {
    /// Initialising, or busy after an answer until it asks for the next invocation.
    Idle,
    /// Long-polling `/next`.
    Waiting(oneshot::Sender<Delivery>),
    /// Running an invocation.
    Busy { pending: Pending, delivered_at: Instant, deadline: tokio::time::Instant },
}

/// How a process's life ended.
enum Ending {
    Shutdown,
    /// The process is gone; `served` tells whether it ever got past init (asked for `/next`).
    Gone {
        served: bool,
        init_failure: Option<InvokeError>,
    },
}

async fn supervise(shared: Arc<Shared>, slot: usize, first: Instance, mut shutdown: watch::Receiver<bool>) {
    let mut instance = first;
    let mut init_failures: u32 = 0;
    loop {
        let generation = instance.generation;
        match run_instance(&shared, instance, &mut shutdown).await {
            Ending::Shutdown => return,
            Ending::Gone { served: true, .. } => init_failures = 0,
            Ending::Gone { served: false, init_failure } => {
                // Like Lambda, a failed init fails the invocation that was waiting for it
                // (if any), rather than leaving every queued invocation hanging.
                if let (Some(error), Some(pending)) = (init_failure, shared.queue.try_pop()) {
                    let _ = pending.reply.send(Err(error));
                }
                init_failures += 1;
                let backoff = Duration::from_millis(50 << init_failures.min(6)).min(MAX_RESTART_BACKOFF);
                if wait_or_shutdown(&mut shutdown, backoff).await {
                    return;
                }
            }
        }
        // Start the replacement, retrying (with backoff) if even spawning fails.
        let mut attempt = 0u32;
        instance = loop {
            match Instance::spawn(&shared, slot, generation + 1).await {
                Ok(instance) => break instance,
                Err(error) => {
                    eprintln!("[lambda harness] {}: {error}", shared.spec.name);
                    if let Some(pending) = shared.queue.try_pop() {
                        let _ = pending.reply.send(Err(InvokeError::Harness(error.to_string())));
                    }
                    attempt += 1;
                    let backoff = Duration::from_millis(50 << attempt.min(6)).min(MAX_RESTART_BACKOFF);
                    if wait_or_shutdown(&mut shutdown, backoff).await {
                        return;
                    }
                }
            }
        };
    }
}

/// Sleeps; returns true if the pool was shut down meanwhile.
async fn wait_or_shutdown(shutdown: &mut watch::Receiver<bool>, duration: Duration) -> bool {
    tokio::select! {
        _ = stopped(shutdown) => true,
        _ = tokio::time::sleep(duration) => false,
    }
}

/// Resolves once the pool is shut down, or every pool handle is gone.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // Not returning the `Ref` guard, which must not be held across awaits.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Drives one process until it ends, serving its Runtime API requests.
async fn run_instance(shared: &Arc<Shared>, mut instance: Instance, shutdown: &mut watch::Receiver<bool>) -> Ending {
    let timeout = shared.spec.timeout;
    let mut state = State::Idle;
    let mut served = false;
    let mut answered = false;
    let mut init_error: Option<InvokeError> = None;

    loop {
        let deadline = match &state {
            State::Busy { deadline, .. } => Some(*deadline),
            _ => None,
        };
        let waiting = matches!(state, State::Waiting(_));
        tokio::select! {
            // In this order: an answer that is already in the channel counts even if the
            // process exited right after sending it.
            biased;

            _ = stopped(shutdown) => {
                instance.terminate().await;
                if let State::Busy { pending, .. } = state {
                    let _ = pending.reply.send(Err(InvokeError::Harness("the function pool is shut down".into())));
                }
                return Ending::Shutdown;
            }

            Some(message) = instance.api.recv() => match message {
                ApiMessage::Next { deliver } => {
                    if !served {
                        served = true;
                        let ready_after = instance.spawned_at.elapsed();
                        instance.record_timing(shared, |t| t.ready_after = Some(ready_after));
                    }
                    if let State::Busy { pending, .. } = std::mem::replace(&mut state, State::Waiting(deliver)) {
                        // Asking for more without answering: Lambda would fail the open one.
                        let _ = pending.reply.send(Err(InvokeError::Harness(
                            "the runtime asked for the next invocation without answering the current one".into(),
                        )));
                    }
                }
                ApiMessage::Response { request_id, body, ack } => {
                    let result = Ok(body);
                    let status = complete(shared, &mut instance, &mut state, &mut answered, &request_id, result).await;
                    let _ = ack.send(status);
                }
                ApiMessage::Error { request_id, error, ack } => {
                    let status = complete(shared, &mut instance, &mut state, &mut answered, &request_id, Err(error)).await;
                    let _ = ack.send(status);
                }
                ApiMessage::InitError { body, ack } => {
                    let (error_type, error_message) = parse_error_body(&body);
                    lock(&shared.init_errors).push(String::from_utf8_lossy(&body).into_owned());
                    let _ = ack.send(StatusCode::ACCEPTED);
                    if !served {
                        init_error = Some(InvokeError::Function { error_type, error_message });
                    }
                    // Lambda tears the sandbox down after an init error.
                    let _ = instance.child.start_kill();
                }
            },

            status = instance.child.wait() => {
                let exit_status = match status {
                    Ok(status) => status.to_string(),
                    Err(error) => format!("unknown ({error})"),
                };
                instance.drain_logs().await;
                if let State::Busy { pending, .. } = state {
                    let _ = pending.reply.send(Err(InvokeError::Crashed { exit_status: exit_status.clone() }));
                }
                let init_failure = init_error.or(Some(InvokeError::Crashed { exit_status }));
                return Ending::Gone { served, init_failure };
            }

            pending = shared.queue.pop(), if waiting => {
                let State::Waiting(deliver) = std::mem::replace(&mut state, State::Idle) else {
                    unreachable!("the branch only runs while waiting");
                };
                let deadline_at = SystemTime::now() + timeout;
                let delivery = Delivery {
                    request_id: pending.request_id.clone(),
                    payload: pending.payload.clone(),
                    deadline_ms: deadline_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis(),
                    function_arn: format!("arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{}", shared.spec.name),
                };
                match deliver.send(delivery) {
                    Ok(()) => {
                        state = State::Busy {
                            pending,
                            delivered_at: Instant::now(),
                            deadline: tokio::time::Instant::now() + timeout,
                        };
                    }
                    // The long poll's connection is gone (the process is dying): the event
                    // never reached the function, so another instance may take it.
                    Err(_) => shared.queue.push_front(pending),
                }
            }

            _ = sleep_until_opt(deadline) => {
                // Kill first, so that by the time the caller sees the timeout the function
                // can no longer act (e.g. write to the database).
                instance.terminate().await;
                if let State::Busy { pending, .. } = state {
                    let _ = pending.reply.send(Err(InvokeError::Timeout));
                }
                return Ending::Gone { served, init_failure: None };
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Completes the running invocation with the process's answer; returns the HTTP status for
/// the runtime (202, or 400 for an unknown request id, as the Runtime API does).
async fn complete(
    shared: &Shared,
    instance: &mut Instance,
    state: &mut State,
    answered: &mut bool,
    request_id: &str,
    result: Result<Bytes, InvokeError>,
) -> StatusCode {
    if !matches!(state, State::Busy { pending, .. } if pending.request_id == request_id) {
        return StatusCode::BAD_REQUEST;
    }
    let State::Busy { pending, delivered_at, .. } = std::mem::replace(state, State::Idle) else {
        return StatusCode::BAD_REQUEST;
    };
    if !*answered {
        *answered = true;
        let spawned_at = instance.spawned_at;
        instance.record_timing(shared, |t| {
            t.first_answer_after = Some(spawned_at.elapsed());
            t.first_invocation = Some(delivered_at.elapsed());
        });
    }
    // Logs first, so that a caller reading `log_lines()` after `invoke` sees the lines the
    // function wrote while handling this invocation.
    instance.sync_logs().await;
    let _ = pending.reply.send(result);
    StatusCode::ACCEPTED
}

fn parse_error_body(body: &[u8]) -> (String, String) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    if value.is_object() {
        (field("errorType"), field("errorMessage"))
    } else {
        (String::new(), String::from_utf8_lossy(body).into_owned())
    }
}

// ---------------------------------------------------------------------------------------
// The Runtime API HTTP server of one process.

async fn serve_runtime_api(listener: TcpListener, api: mpsc::UnboundedSender<ApiMessage>) {
    // Connection tasks live in the JoinSet, so aborting this task also aborts them.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let api = api.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| handle_runtime_request(request, api.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn handle_runtime_request(
    request: Request<Incoming>,
    api: mpsc::UnboundedSender<ApiMessage>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = path.strip_prefix(RUNTIME_PREFIX).unwrap_or("");
    let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let error_type_header =
        request.headers().get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(plain(StatusCode::BAD_REQUEST, "unreadable body")),
    };

    let response = match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            let (deliver, delivered) = oneshot::channel();
            if api.send(ApiMessage::Next { deliver }).is_err() {
                return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR, "instance is gone"));
            }
            match delivered.await {
                Ok(delivery) => next_response(delivery),
                Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "instance is gone"),
            }
        }
        (Method::POST, ["invocation", request_id, "response"]) => {
            let (ack, acked) = oneshot::channel();
            let message = ApiMessage::Response { request_id: (*request_id).to_owned(), body, ack };
            acknowledged(&api, message, acked).await
        }
        (Method::POST, ["invocation", request_id, "error"]) => {
            let (error_type, error_message) = parse_error_body(&body);
            let error_type = if error_type.is_empty() { error_type_header.unwrap_or_default() } else { error_type };
            let (ack, acked) = oneshot::channel();
            let error = InvokeError::Function { error_type, error_message };
            let message = ApiMessage::Error { request_id: (*request_id).to_owned(), error, ack };
            acknowledged(&api, message, acked).await
        }
        (Method::POST, ["init", "error"]) => {
            let (ack, acked) = oneshot::channel();
            acknowledged(&api, ApiMessage::InitError { body, ack }, acked).await
        }
        _ => plain(StatusCode::NOT_FOUND, "unknown Runtime API endpoint"),
    };
    Ok(response)
}

async fn acknowledged(
    api: &mpsc::UnboundedSender<ApiMessage>,
    message: ApiMessage,
    acked: oneshot::Receiver<StatusCode>,
) -> Response<Full<Bytes>> {
    if api.send(message).is_err() {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "instance is gone");
    }
    match acked.await {
        Ok(status) if status == StatusCode::ACCEPTED => plain(status, r#"{"status":"OK"}"#),
        Ok(status) => plain(status, r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "instance is gone"),
    }
}

fn next_response(delivery: Delivery) -> Response<Full<Bytes>> {
    let trace_id = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs(),
        &uuid::Uuid::new_v4().simple().to_string()[..24],
        &uuid::Uuid::new_v4().simple().to_string()[..16],
    );
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", delivery.request_id)
        .header("lambda-runtime-deadline-ms", delivery.deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", delivery.function_arn)
        .header("lambda-runtime-trace-id", trace_id);
    builder
        .body(Full::new(delivery.payload))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad delivery"))
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}
