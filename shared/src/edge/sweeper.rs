//! The expiry sweeper: an EventBridge schedule invokes it every minute, and it expires the
//! quasi-transfers and fund requests whose `expire` time has passed, so that locked money
//! comes back to its source even when nobody touches the movement. Any event starts a run;
//! its content is ignored.

use super::logging;
use super::services::{Parts, Service};
use crate::config::Config;
use crate::services::{Swept, Wallets};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Movements expired per schedule shard and run; what is left is there for the next run.
pub const PER_RUN: usize = 100;

/// The whole of the `expire-movements` function's `main`.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let wallets = Arc::new(Wallets::build(&Parts::connect(Config::from_env()?).await)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let wallets = Arc::clone(&wallets);
        let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        async move { sweep(&wallets, event.context.request_id.as_str(), deadline).await }
    }))
    .await
}

/// One run, which stops taking new movements when one more might not finish before
/// `deadline` (Lambda's, on the wall clock): a burst of expiries is spread over several runs
/// instead of timing one out. A fault fails the invocation, so that the schedule's retries
/// and alarms see it.
pub async fn sweep(wallets: &Wallets, request_id: &str, deadline: SystemTime) -> Result<Swept, Diagnostic> {
    let started = Instant::now();
    let calls = wallets.engine().store().calls();
    let calls_before = calls.total();
    // One expiry may wait for a wallet's lock for the whole wait budget, then commit.
    let budget = wallets.engine().lock_wait() + Duration::from_secs(1);
    let in_time = || SystemTime::now() + budget <= deadline;
    let result = wallets.expire_due(PER_RUN, &in_time).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let calls = calls.total() - calls_before;
    match result {
        Ok(swept) => {
            tracing::info!(
                requestId = %request_id, action = "expire-movements", expired = swept.expired,
                resolvedMeanwhile = swept.resolved_meanwhile, busy = swept.busy, more = swept.more,
                dynamodbCalls = calls, elapsedMs = elapsed_ms, "swept"
            );
            Ok(swept)
        }
        Err(error) => {
            tracing::error!(requestId = %request_id, action = "expire-movements", error = %error, "sweep failed");
            Err(Diagnostic {
                error_type: "INTERNAL".into(),
                error_message: format!("sweep failed (request id {request_id})"),
            })
        }
    }
}
