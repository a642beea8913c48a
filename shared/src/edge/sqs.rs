//! SQS batches: each record's body is a direct-invocation payload. The answer names only the
//! records worth another delivery (contention, faults); a refusal (validation, insufficient
//! funds) is logged and counted, and its message is done. The message id is the idempotency
//! key when the body names none, so a redelivered message applies once.

use super::input::Fields;
use super::{diagnostic, direct, direct_request, log_request, logged, Action, App, Origin, Reply};
use crate::edge::error::ApiError;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::Diagnostic;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Done,
    Refused,
    /// Back to the queue: it failed transiently.
    Retry,
    /// Back to the queue: never tried (the batch ran out of time, or a FIFO queue's record
    /// behind one that failed).
    Untried,
}

/// Processes the records one after another: they may well touch the same balance (records
/// racing each other for its lock would only wait), and a FIFO queue's order is kept. An
/// action that commits records together ([`Action::TOGETHER`]: operations on one balance, by
/// group commit) gets a standard queue's batch all at once.
pub(super) async fn handle_batch<A: Action>(
    app: &App<A::Service>,
    request_id: &str,
    batch: SqsEvent,
    deadline_ms: u64,
) -> Result<String, Diagnostic> {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    // A record may wait for a lock for the whole wait budget, then commit.
    let record_budget = app.lock_wait + Duration::from_secs(1);
    let calls_before = app.calls.total();
    let ids =
        batch.records.iter().map(|record| record.message_id.clone()).collect::<Option<Vec<String>>>().ok_or_else(
            || diagnostic(&ApiError::malformed("an SQS record without a messageId cannot be reported"), request_id),
        )?;
    let fifo = batch.records.iter().any(is_fifo);
    // The deadline is Lambda's wall clock, so this reads the wall clock, not the ledger's.
    let out_of_time = || SystemTime::now() + record_budget > deadline;
    let mut fates = Vec::with_capacity(ids.len());
    if A::TOGETHER && !fifo && !out_of_time() {
        fates = together::<A>(app, request_id, &batch.records, &ids).await;
    } else {
        let mut stop = false;
        for (record, message_id) in batch.records.iter().zip(&ids) {
            let fate = if stop || out_of_time() {
                Fate::Untried
            } else {
                process::<A>(app, request_id, record, message_id).await
            };
            // In a FIFO queue nothing after a failed message of the batch may overtake it.
            stop |= fifo && matches!(fate, Fate::Retry);
            fates.push(fate);
        }
    }
    let count = |fate: Fate| fates.iter().filter(|f| **f == fate).count();
    let failures: Vec<_> = ids
        .iter()
        .zip(&fates)
        .filter(|(_, fate)| matches!(fate, Fate::Retry | Fate::Untried))
        .map(|(message_id, _)| json!({ "itemIdentifier": message_id }))
        .collect();
    tracing::info!(
        requestId = %request_id,
        action = A::NAME,
        source = "sqs",
        records = batch.records.len(),
        done = count(Fate::Done),
        refused = count(Fate::Refused),
        retried = count(Fate::Retry),
        untried = count(Fate::Untried),
        together = A::TOGETHER && !fifo,
        dynamodbCalls = app.calls.total() - calls_before,
        "batch"
    );
    Ok(json!({ "batchItemFailures": failures }).to_string())
}

/// The whole batch at once ([`Action::handle_together`]), each record logged with its answer.
async fn together<A: Action>(
    app: &App<A::Service>,
    request_id: &str,
    records: &[SqsMessage],
    ids: &[String],
) -> Vec<Fate> {
    let started = Instant::now();
    let mut results: Vec<Option<Result<Reply, ApiError>>> = Vec::with_capacity(records.len());
    let mut requests = Vec::with_capacity(records.len());
    for (record, message_id) in records.iter().zip(ids) {
        let parsed = Fields::parse(record.body.as_deref().unwrap_or_default())
            .and_then(|payload| direct_request::<A>(payload, Some(message_id)));
        match parsed {
            Ok(request) => {
                requests.push(request);
                results.push(None);
            }
            Err(refused) => results.push(Some(Err(refused))),
        }
    }
    let mut replies = Box::pin(A::handle_together(&app.service, requests)).await.into_iter();
    results
        .into_iter()
        .zip(ids)
        .map(|(result, message_id)| {
            let result = result.or_else(|| replies.next()).unwrap_or_else(|| Err(ApiError::internal("unanswered")));
            let origin = Origin { source: "sqs", id: Some(message_id.clone()) };
            log_request::<A>(request_id, &origin, &result, started, None);
            fate_of::<A>(request_id, message_id, result)
        })
        .collect()
}

async fn process<A: Action>(app: &App<A::Service>, request_id: &str, record: &SqsMessage, message_id: &str) -> Fate {
    let origin = Origin { source: "sqs", id: Some(message_id.to_owned()) };
    let work = async {
        let payload = Fields::parse(record.body.as_deref().unwrap_or_default())?;
        direct::<A>(app, payload, Some(message_id)).await
    };
    fate_of::<A>(request_id, message_id, logged::<A>(app, request_id, &origin, work).await)
}

fn fate_of<A: Action>(request_id: &str, message_id: &str, result: Result<Reply, ApiError>) -> Fate {
    match result {
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
