//! JSON log lines through `tracing`, one object per line, as CloudWatch Logs likes them.
//! Never log an API key, a wallet token or a request body.

use tracing_subscriber::EnvFilter;

pub fn init() {
    // RUST_LOG wins; else Lambda's own log-level setting; else info.
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .map(|level| level.to_lowercase())
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .try_init();
}
