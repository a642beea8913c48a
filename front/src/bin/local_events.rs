//! `pocketbook-local-events`: under `make dev`, what Lambda's event source mappings do once
//! deployed. It polls the table's DynamoDB stream and invokes `publish-events` with batches of
//! its records, and polls the webhook delivery queue and invokes `deliver-webhooks` with its
//! messages, both through `cargo lambda watch`'s Invoke API, honouring their partial batch
//! responses as Lambda does (see pocketbook_front::events).

use clap::{Parser, ValueEnum};
use pocketbook_front::events::{AwsJson, InvokeApi, Pump, PumpConfig, StartingPosition};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "pocketbook-local-events", about = "Lambda's event source mappings for make dev")]
struct Args {
    /// The local AWS endpoint (moto): DynamoDB, its streams and SQS.
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB")]
    endpoint: String,
    #[arg(long, env = "TABLE_NAME", default_value = "pocketbook")]
    table: String,
    /// The webhook delivery queue; without it only the stream is read.
    #[arg(long, env = "DELIVERY_QUEUE_URL")]
    queue_url: Option<String>,
    /// cargo lambda watch's Invoke API (its --invoke-address and --invoke-port).
    #[arg(long, env = "POCKETBOOK_INVOKE_URL", default_value = "http://127.0.0.1:9001")]
    invoke_url: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Stream records per publish-events invocation (template.yaml's BatchSize).
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Messages per deliver-webhooks invocation (1..=10).
    #[arg(long, default_value_t = 10)]
    queue_batch_size: usize,
    /// Pause after an empty poll, in milliseconds (Lambda polls a shard about 4 times a second).
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
    #[arg(long, value_enum, default_value_t = Start::TrimHorizon)]
    starting_position: Start,
    /// Attempts at a failing stream batch before it is given up on (0: for ever).
    #[arg(long, default_value_t = 10)]
    max_attempts: u32,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Start {
    TrimHorizon,
    Latest,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let aws = AwsJson::new(&args.endpoint, &args.region);
    let config = PumpConfig {
        batch_size: args.batch_size,
        queue_batch_size: args.queue_batch_size,
        starting_position: match args.starting_position {
            Start::TrimHorizon => StartingPosition::TrimHorizon,
            Start::Latest => StartingPosition::Latest,
        },
        poll_interval: Duration::from_millis(args.poll_ms),
        retry_pause: Duration::from_secs(1),
        max_attempts: (args.max_attempts > 0).then_some(args.max_attempts),
        verbose: true,
        ..PumpConfig::default()
    };
    eprintln!(
        "pocketbook-local-events: the stream of {} -> {} and {} -> {}, invoked at {}",
        args.table,
        config.publish_function,
        args.queue_url.as_deref().unwrap_or("(no queue)"),
        config.deliver_function,
        args.invoke_url
    );
    let invoker = InvokeApi::new(&args.invoke_url);
    let pump = Pump::new(&aws, Some(&args.table), args.queue_url.as_deref(), invoker, config);
    // Runs until the process is stopped (make dev's script kills it on exit).
    let (_stop, stop) = tokio::sync::watch::channel(false);
    pump.run(stop).await;
}
