//! The other AWS services events go out through: EventBridge (the event bus) and SQS (the
//! webhook delivery queue). The only module that speaks their SDKs, as `store` is for
//! DynamoDB; it takes and gives plain values.

use crate::domain::webhooks::DeliveryRef;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use std::time::Duration;

/// What one function may send to: each is there when its environment variable is set.
#[derive(Clone, Default)]
pub struct Bus {
    pub events: Option<EventBus>,
    pub queue: Option<DeliveryQueue>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
    #[error("EventBridge: {0}")]
    EventBridge(String),
    #[error("SQS: {0}")]
    Queue(String),
}

/// Timeouts well inside a Lambda's own, as the DynamoDB client's; the SDK retries transient
/// faults itself (standard mode).
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

impl Bus {
    /// The clients of what is configured (`bus_name`: `EVENT_BUS_NAME`, `queue_url`:
    /// `DELIVERY_QUEUE_URL`), built from the process's one AWS configuration. No I/O.
    pub fn new(shared: &SdkConfig, bus_name: Option<&str>, queue_url: Option<&str>) -> Self {
        let events = bus_name.map(|name| {
            let config = aws_sdk_eventbridge::config::Builder::from(shared).timeout_config(timeouts()).build();
            EventBus { client: aws_sdk_eventbridge::Client::from_conf(config), name: name.to_owned() }
        });
        let queue = queue_url.map(|url| {
            let config = aws_sdk_sqs::config::Builder::from(shared).timeout_config(timeouts()).build();
            DeliveryQueue { client: aws_sdk_sqs::Client::from_conf(config), url: url.to_owned() }
        });
        Self { events, queue }
    }

    pub fn events(&self) -> Result<&EventBus, BusError> {
        self.events.as_ref().ok_or(BusError::NotConfigured("EVENT_BUS_NAME"))
    }

    pub fn queue(&self) -> Result<&DeliveryQueue, BusError> {
        self.queue.as_ref().ok_or(BusError::NotConfigured("DELIVERY_QUEUE_URL"))
    }
}

/// One event as EventBridge takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEntry {
    pub source: &'static str,
    pub detail_type: &'static str,
    pub detail: String,
    pub time_ms: i64,
}

/// EventBridge takes at most 10 entries per PutEvents call.
pub const ENTRIES_PER_CALL: usize = 10;
/// ... and at most 256 KiB in all (AWS counts source, detail-type, detail and resources).
pub const BYTES_PER_CALL: usize = 256 * 1024;

impl BusEntry {
    /// What EventBridge counts towards a call's size limit.
    pub fn size(&self) -> usize {
        self.source.len() + self.detail_type.len() + self.detail.len() + 14
    }
}

#[derive(Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

impl EventBus {
    /// One PutEvents call of at most [`ENTRIES_PER_CALL`] entries. `Ok` holds, for each entry
    /// in order, whether EventBridge took it: a call can take some entries and refuse others.
    pub async fn put(&self, entries: &[BusEntry]) -> Result<Vec<bool>, BusError> {
        let mut request = self.client.put_events();
        for entry in entries {
            let time = aws_sdk_eventbridge::primitives::DateTime::from_millis(entry.time_ms);
            request = request.entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.name)
                    .source(entry.source)
                    .detail_type(entry.detail_type)
                    .detail(&entry.detail)
                    .time(time)
                    .build(),
            );
        }
        let output = request
            .send()
            .await
            .map_err(|e| BusError::EventBridge(aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string()))?;
        let results = output.entries();
        if results.len() != entries.len() {
            return Err(BusError::EventBridge(format!(
                "PutEvents answered {} results for {} entries",
                results.len(),
                entries.len()
            )));
        }
        Ok(results.iter().map(|r| r.error_code().is_none() && r.event_id().is_some()).collect())
    }
}

#[derive(Clone)]
pub struct DeliveryQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// SQS takes at most 10 messages per SendMessageBatch call.
const MESSAGES_PER_CALL: usize = 10;
/// The longest SQS can hide a message (12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

impl DeliveryQueue {
    /// Queues one message per delivery. Any message refused fails the whole send, so that
    /// the caller tries all of them again (a delivery queued twice is delivered once: the
    /// deliverer reads its state first).
    pub async fn send(&self, deliveries: &[DeliveryRef]) -> Result<(), BusError> {
        for chunk in deliveries.chunks(MESSAGES_PER_CALL) {
            let mut request = self.client.send_message_batch().queue_url(&self.url);
            for (n, delivery) in chunk.iter().enumerate() {
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(delivery.to_message())
                    .build()
                    .map_err(|e| BusError::Queue(e.to_string()))?;
                request = request.entries(entry);
            }
            let output = request
                .send()
                .await
                .map_err(|e| BusError::Queue(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
            if let Some(refused) = output.failed().first() {
                return Err(BusError::Queue(format!(
                    "{} of {} messages refused: {} {}",
                    output.failed().len(),
                    chunk.len(),
                    refused.code(),
                    refused.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// Hides a received message for `after` (at most 12 hours): SQS hands it out again then,
    /// which is how a failed delivery waits for its next attempt.
    pub async fn retry_after(&self, receipt_handle: &str, after: Duration) -> Result<(), BusError> {
        let seconds = after.min(MAX_VISIBILITY).as_secs().max(1);
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| BusError::Queue(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }
}
