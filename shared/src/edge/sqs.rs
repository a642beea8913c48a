//! SQS batches: each record's body is a direct-invocation payload. The answer names only the
//! records worth another delivery (contention, faults); a refusal (validation, insufficient
//! funds) is logged and counted, and its message is done. The message id is the idempotency
//! key when the body names none, so a redelivered message applies once.

use super::input::Fields;
use super::{diagnostic, direct, logged, Action, App, Origin};
use crate::edge::error::ApiError;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::Diagnostic;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Done,
    Refused,
    /// Back to the queue: it failed transiently, or was never tried.
    Retry,
}

/// Processes the records one after another: they may well touch the same balance (records
/// racing each other for its lock would only wait), and a FIFO queue's order is kept.
pub(super) async fn handle_batch<A: Action>(
    app: &App<A::Service>,
    request_id: &str,
    batch: SqsEvent,
    deadline_ms: u64,
) -> Result<String, Diagnostic> {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    // A record may wait for a lock for the whole wait budget, then commit.
    let record_budget = app.lock_wait + Duration::from_secs(1);
    let mut failures = Vec::new();
    let (mut done, mut refused, mut untried) = (0usize, 0usize, 0usize);
    let mut stop = false;
    for record in &batch.records {
        let message_id = record.message_id.clone().ok_or_else(|| {
            diagnostic(&ApiError::malformed("an SQS record without a messageId cannot be reported"), request_id)
        })?;
        // The deadline is Lambda's wall clock, so this reads the wall clock, not the ledger's.
        let out_of_time = SystemTime::now() + record_budget > deadline;
        let fate = if stop || out_of_time {
            untried += 1;
            Fate::Retry
        } else {
            process::<A>(app, request_id, record, &message_id).await
        };
        match fate {
            Fate::Done => done += 1,
            Fate::Refused => refused += 1,
            Fate::Retry => {
                // In a FIFO queue nothing after a failed message of the batch may overtake it.
                stop |= is_fifo(record);
                failures.push(json!({ "itemIdentifier": message_id }));
            }
        }
    }
    tracing::info!(
        requestId = %request_id,
        action = A::NAME,
        source = "sqs",
        records = batch.records.len(),
        done,
        refused,
        retried = failures.len() - untried,
        untried,
        "batch"
    );
    Ok(json!({ "batchItemFailures": failures }).to_string())
}

async fn process<A: Action>(app: &App<A::Service>, request_id: &str, record: &SqsMessage, message_id: &str) -> Fate {
    let origin = Origin { source: "sqs", id: Some(message_id.to_owned()) };
    let work = async {
        let payload = Fields::parse(record.body.as_deref().unwrap_or_default())?;
        direct::<A>(app, payload, Some(message_id)).await
    };
    match logged::<A>(app, request_id, &origin, work).await {
        Ok(_) => Fate::Done,
        Err(error) if error.is_transient() => Fate::Retry,
        Err(error) => {
            tracing::warn!(
                requestId = %request_id,
                action = A::NAME,
                messageId = message_id,
                code = error.code,
                message = %error.message,
                "record refused; it will not be retried"
            );
            Fate::Refused
        }
    }
}

fn is_fifo(record: &SqsMessage) -> bool {
    record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with(".fifo"))
}
