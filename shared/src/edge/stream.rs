//! The `publish-events` function: the table's DynamoDB stream invokes it with a batch of
//! records (a shard's, in order); it publishes their events and answers the first record it
//! could not publish as the batch item failure, so that Lambda hands that record and those
//! after it over again, and never the ones before it.
//! <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html>

use super::logging;
use super::services::{Parts, Service};
use crate::config::Config;
use crate::services::{Events, Published, Ready};
use crate::store::stream::{changed, StreamRecord};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Instant;

#[derive(Deserialize)]
struct StreamEvent {
    #[serde(rename = "Records", default)]
    records: Vec<Box<RawValue>>,
}

#[derive(Serialize, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    pub item_identifier: String,
}

/// The whole of the `publish-events` function's `main`.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let parts = Parts::connect(Config::from_env()?).await;
    let base_url: Arc<Option<String>> = Arc::new(parts.config.events.public_url.clone());
    let events = Arc::new(Events::build(&parts)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let (events, base_url) = (Arc::clone(&events), Arc::clone(&base_url));
        async move { publish(&events, base_url.as_deref(), event.context.request_id.as_str(), &event.payload).await }
    }))
    .await
}

/// One batch. A record that cannot be read at all is logged and passed over (it would block
/// its shard for good otherwise); a fault reading what a record needs (a movement's
/// transactions) stops the batch at that record, as a refused publish does.
pub async fn publish(
    events: &Events,
    base_url: Option<&str>,
    request_id: &str,
    payload: &RawValue,
) -> Result<BatchResponse, Diagnostic> {
    let started = Instant::now();
    let calls = events.wallets().engine().store().calls();
    let calls_before = calls.total();
    let batch: StreamEvent = serde_json::from_str(payload.get()).map_err(|e| Diagnostic {
        error_type: "INVALID_EVENT".into(),
        error_message: format!("not a DynamoDB stream event: {e}"),
    })?;
    let mut sequence_numbers = Vec::with_capacity(batch.records.len());
    let mut ready: Vec<Ready> = Vec::new();
    let mut unread = None;
    let mut passed_over = 0;
    for (index, raw) in batch.records.iter().enumerate() {
        let record: StreamRecord = match serde_json::from_str(raw.get()) {
            Ok(record) => record,
            Err(error) => {
                tracing::error!(requestId = %request_id, error = %error, "not a stream record: passed over");
                sequence_numbers.push(String::new());
                passed_over += 1;
                continue;
            }
        };
        sequence_numbers.push(record.dynamodb.sequence_number.clone());
        let change = match changed(&record) {
            Ok(Some(change)) => change,
            Ok(None) => continue,
            Err(error) => {
                tracing::error!(
                    requestId = %request_id, sequenceNumber = %record.dynamodb.sequence_number, error = %error,
                    "a stream record that cannot be read: passed over"
                );
                passed_over += 1;
                continue;
            }
        };
        match events.events_of(change).await {
            Ok(found) => ready.extend(found.iter().map(|event| crate::api::events::ready(index, event, base_url))),
            Err(error) => {
                tracing::warn!(
                    requestId = %request_id, sequenceNumber = %record.dynamodb.sequence_number, error = %error,
                    "reading what a record needs failed: the stream hands it over again"
                );
                unread = Some(index);
                break;
            }
        }
    }
    let result = events.publish(&ready).await;
    let calls = calls.total() - calls_before;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let published = match result {
        Ok(published) => published,
        Err(error) => {
            tracing::error!(requestId = %request_id, action = "publish-events", error = %error, "publishing failed");
            return Err(Diagnostic {
                error_type: "INTERNAL".into(),
                error_message: format!("publishing failed (request id {request_id})"),
            });
        }
    };
    let Published { failed_record, published, queued } = published;
    let failed = [failed_record, unread].into_iter().flatten().min();
    tracing::info!(
        requestId = %request_id, action = "publish-events", records = batch.records.len(), events = ready.len(),
        published, webhookDeliveries = queued, passedOver = passed_over, failedAt = ?failed,
        dynamodbCalls = calls, elapsedMs = elapsed_ms, "published"
    );
    let batch_item_failures = failed
        .and_then(|index| sequence_numbers.get(index))
        .map(|sequence| vec![ItemFailure { item_identifier: sequence.clone() }])
        .unwrap_or_default();
    Ok(BatchResponse { batch_item_failures })
}
