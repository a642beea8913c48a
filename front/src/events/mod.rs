//! A local stand-in for Lambda's event source mappings: the table's DynamoDB stream feeding
//! `publish-events`, and the webhook delivery queue feeding `deliver-webhooks`, both read from
//! moto's server, the functions run by an [`Invoker`]. [`Pump::until_quiet`] runs both until
//! nothing new arrives (tests); [`Pump::run`] polls them side by side until told to stop
//! (`pocketbook-local-events` under `make dev`).

pub mod aws;
pub mod invoke;
pub mod queue;
pub mod stream;

pub use aws::{AwsError, AwsJson, Service};
pub use invoke::{BoxFuture, FnInvoker, InvokeApi, InvokeFailure, Invoker};
pub use queue::QueueSource;
pub use stream::{StartingPosition, StreamSource};

use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The functions' names (template.yaml's, and the packages under functions/).
pub const PUBLISH_FUNCTION: &str = "publish-events";
pub const DELIVER_FUNCTION: &str = "deliver-webhooks";

#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the table {table} has no stream (or does not exist yet)")]
    NoStream { table: String },
    #[error("{function}: a batch still failed after {attempts} attempts: {last_error}")]
    GaveUp { function: String, attempts: u32, last_error: String },
    #[error("still not quiet after {0:?}")]
    NotQuiet(Duration),
}

/// What one or more polls handed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Invocations made.
    pub batches: usize,
    /// Records (or messages) in them, retries counted again.
    pub records: usize,
    /// Invocations that failed, wholly or in part.
    pub failed_batches: usize,
    /// Records given up on (the batch's attempts were spent).
    pub discarded: usize,
    pub last_error: Option<String>,
}

impl Delivered {
    fn add(&mut self, other: Delivered) {
        self.batches += other.batches;
        self.records += other.records;
        self.failed_batches += other.failed_batches;
        self.discarded += other.discarded;
        if other.last_error.is_some() {
            self.last_error = other.last_error;
        }
    }

    fn nothing(&self) -> bool {
        self.batches == 0
    }
}

/// What [`Pump::until_quiet`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PumpReport {
    pub stream: Delivered,
    pub queue: Delivered,
}

#[derive(Debug, Clone)]
pub struct PumpConfig {
    /// Stream records per invocation (the mapping's `BatchSize`; Lambda's default is 100).
    pub batch_size: usize,
    /// Messages per invocation of the queue's consumer (1..=10).
    pub queue_batch_size: usize,
    pub starting_position: StartingPosition,
    /// The pause after a poll that found nothing.
    pub poll_interval: Duration,
    /// The pause before a failed batch is tried again.
    pub retry_pause: Duration,
    /// Attempts at one stream batch before it is given up on (`MaximumRetryAttempts` + 1);
    /// `None`: for ever, as Lambda's default.
    pub max_attempts: Option<u32>,
    /// How long [`Pump::until_quiet`] may take.
    pub quiet_deadline: Duration,
    pub publish_function: String,
    pub deliver_function: String,
    /// One line on stderr per invocation (counts only: records hold secrets' hashes and
    /// sealed secrets, so they are never printed).
    pub verbose: bool,
}

impl Default for PumpConfig {
    fn default() -> Self {
        PumpConfig {
            batch_size: 100,
            queue_batch_size: 10,
            starting_position: StartingPosition::TrimHorizon,
            poll_interval: Duration::from_millis(50),
            retry_pause: Duration::from_millis(200),
            max_attempts: Some(10),
            quiet_deadline: Duration::from_secs(120),
            publish_function: PUBLISH_FUNCTION.to_owned(),
            deliver_function: DELIVER_FUNCTION.to_owned(),
            verbose: false,
        }
    }
}

pub struct Pump<I> {
    stream: Option<StreamSource>,
    queue: Option<QueueSource>,
    invoker: I,
    config: PumpConfig,
}

impl<I: Invoker> Pump<I> {
    /// A pump of `table`'s stream (when given) and of the queue at `queue_url` (when given),
    /// both on the endpoint of `aws`.
    pub fn new(aws: &AwsJson, table: Option<&str>, queue_url: Option<&str>, invoker: I, config: PumpConfig) -> Self {
        let stream = table.map(|table| {
            StreamSource::new(aws.clone(), table, config.starting_position, config.batch_size, config.max_attempts)
        });
        let queue = queue_url.map(|url| QueueSource::new(aws.clone(), url, config.queue_batch_size));
        Pump { stream, queue, invoker, config }
    }

    pub fn invoker(&self) -> &I {
        &self.invoker
    }

    pub fn config_mut(&mut self) -> &mut PumpConfig {
        &mut self.config
    }

    /// Polls the stream and the queue in turn, invoking their consumers, until a round finds
    /// nothing new in either (what a consumer wrote meanwhile is found by the next round).
    /// A failed batch is tried again after the retry pause; one that spends its attempts is
    /// an error here (a test wants to know), not a discard.
    pub async fn until_quiet(&mut self) -> Result<PumpReport, PumpError> {
        let started = Instant::now();
        let mut report = PumpReport::default();
        loop {
            let mut round = PumpReport::default();
            if let Some(stream) = self.stream.as_mut() {
                round.stream = stream.poll(&self.invoker, &self.config.publish_function).await?;
            }
            if let Some(queue) = self.queue.as_mut() {
                round.queue = queue.poll(&self.invoker, &self.config.deliver_function).await?;
            }
            if self.config.verbose {
                log_round(&self.config, &round);
            }
            if round.stream.discarded > 0 {
                return Err(PumpError::GaveUp {
                    function: self.config.publish_function.clone(),
                    attempts: self.config.max_attempts.unwrap_or_default(),
                    last_error: round.stream.last_error.unwrap_or_default(),
                });
            }
            let failed = round.stream.failed_batches + round.queue.failed_batches > 0;
            let quiet = round.stream.nothing() && round.queue.nothing();
            report.stream.add(round.stream);
            report.queue.add(round.queue);
            if quiet {
                return Ok(report);
            }
            if started.elapsed() > self.config.quiet_deadline {
                return Err(PumpError::NotQuiet(self.config.quiet_deadline));
            }
            if failed {
                tokio::time::sleep(self.config.retry_pause).await;
            }
        }
    }

    /// Polls the stream and the queue side by side, as two event source mappings do, until
    /// `stop` turns true. Failures are logged and retried; nothing here ends the loop.
    pub async fn run(mut self, stop: watch::Receiver<bool>) {
        let config = self.config.clone();
        let invoker = &self.invoker;
        let stream = async {
            if let Some(stream) = self.stream.as_mut() {
                poll_loop(&config, stop.clone(), invoker, Source::Stream(stream)).await;
            }
        };
        let queue = async {
            if let Some(queue) = self.queue.as_mut() {
                poll_loop(&config, stop.clone(), invoker, Source::Queue(queue)).await;
            }
        };
        tokio::join!(stream, queue);
    }
}

enum Source<'a> {
    Stream(&'a mut StreamSource),
    Queue(&'a mut QueueSource),
}

impl Source<'_> {
    async fn poll(&mut self, invoker: &dyn Invoker, config: &PumpConfig) -> Result<Delivered, PumpError> {
        match self {
            Source::Stream(stream) => stream.poll(invoker, &config.publish_function).await,
            Source::Queue(queue) => queue.poll(invoker, &config.deliver_function).await,
        }
    }

    fn function<'c>(&self, config: &'c PumpConfig) -> &'c str {
        match self {
            Source::Stream(_) => &config.publish_function,
            Source::Queue(_) => &config.deliver_function,
        }
    }
}

async fn poll_loop(
    config: &PumpConfig,
    mut stop: watch::Receiver<bool>,
    invoker: &dyn Invoker,
    mut source: Source<'_>,
) {
    let function = source.function(config).to_owned();
    let mut complained = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let pause = match source.poll(invoker, config).await {
            Ok(delivered) => {
                complained = false;
                if config.verbose && !delivered.nothing() {
                    log_delivered(&function, &delivered);
                }
                if delivered.failed_batches > 0 {
                    config.retry_pause
                } else if delivered.nothing() {
                    config.poll_interval
                } else {
                    Duration::ZERO
                }
            }
            Err(error) => {
                // The table or queue may not be there yet: say it once, then keep trying.
                if !complained {
                    eprintln!("pocketbook-local-events: {function}: {error}; retrying");
                    complained = true;
                }
                config.retry_pause.max(Duration::from_secs(1))
            }
        };
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

fn log_round(config: &PumpConfig, round: &PumpReport) {
    if !round.stream.nothing() {
        log_delivered(&config.publish_function, &round.stream);
    }
    if !round.queue.nothing() {
        log_delivered(&config.deliver_function, &round.queue);
    }
}

fn log_delivered(function: &str, delivered: &Delivered) {
    let verdict = match (&delivered.last_error, delivered.discarded) {
        (_, discarded) if discarded > 0 => format!("GIVEN UP on {discarded} records (attempts spent)"),
        (Some(error), _) if delivered.failed_batches > 0 => format!("failed: {error}; will retry"),
        _ => "ok".to_owned(),
    };
    eprintln!(
        "pocketbook-local-events: {function}: {} invocation(s), {} record(s): {verdict}",
        delivered.batches, delivered.records
    );
}
