//! The `deliver-webhooks` function: the consumer of the delivery queue. Each message names
//! one delivery; its attempt is made, and a delivery to try again later is hidden in the
//! queue for its backoff and reported as a batch item failure, so that SQS hands it back
//! then. The messages of a batch are independent and delivered concurrently.

use super::logging;
use super::services::{Parts, Service};
use crate::config::Config;
use crate::domain::webhooks::DeliveryRef;
use crate::services::{DeliveryOutcome, Webhooks};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};
use std::sync::Arc;

/// The whole of the `deliver-webhooks` function's `main`.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let webhooks = Arc::new(Webhooks::build(&Parts::connect(Config::from_env()?).await)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let webhooks = Arc::clone(&webhooks);
        async move { Ok::<Value, Diagnostic>(handle_batch(&webhooks, &event.context.request_id, event.payload).await) }
    }))
    .await
}

/// One batch: `{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}` naming the
/// messages to hand out again.
pub async fn handle_batch(webhooks: &Webhooks, request_id: &str, batch: SqsEvent) -> Value {
    let results = futures_util::future::join_all(batch.records.iter().map(|m| process(webhooks, request_id, m))).await;
    let failures: Vec<Value> = batch
        .records
        .iter()
        .zip(&results)
        .filter(|(_, retry)| **retry)
        .filter_map(|(message, _)| message.message_id.as_ref().map(|id| json!({ "itemIdentifier": id })))
        .collect();
    tracing::info!(
        requestId = %request_id,
        action = "deliver-webhooks",
        source = "sqs",
        records = batch.records.len(),
        retried = failures.len(),
        "batch"
    );
    json!({ "batchItemFailures": failures })
}

/// Whether the message is to be handed out again.
async fn process(webhooks: &Webhooks, request_id: &str, message: &SqsMessage) -> bool {
    let message_id = message.message_id.as_deref().unwrap_or_default();
    let Some(delivery) = message.body.as_deref().and_then(DeliveryRef::from_message) else {
        // Not one of ours: no delivery to make, and no retry would make one.
        tracing::warn!(requestId = %request_id, messageId = message_id, "not a delivery message; dropped");
        return false;
    };
    match webhooks.deliver(&delivery).await {
        Ok(DeliveryOutcome::RetryAfter(delay)) => {
            let hidden = match (webhooks.queue(), message.receipt_handle.as_deref()) {
                (Ok(queue), Some(receipt)) => queue.retry_after(receipt, delay).await.map_err(|e| e.to_string()),
                (Err(e), _) => Err(e.to_string()),
                (_, None) => Err("the message has no receipt handle".to_owned()),
            };
            if let Err(error) = hidden {
                // SQS hands it out after its visibility timeout instead; the deliverer finds the
                // attempt not due yet and hides it then.
                tracing::warn!(
                    requestId = %request_id, messageId = message_id, webhookId = %delivery.webhook_id,
                    eventId = %delivery.event_id, error = %error, "could not delay the retry"
                );
            }
            true
        }
        Ok(_) => false,
        Err(error) => {
            tracing::error!(
                requestId = %request_id, messageId = message_id, webhookId = %delivery.webhook_id,
                eventId = %delivery.event_id, error = %error, "delivery failed"
            );
            true
        }
    }
}
