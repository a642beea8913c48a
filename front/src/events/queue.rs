//! An SQS queue as Lambda's event source mapping reads it, with `ReportBatchItemFailures`:
//! up to `batch_size` messages (at most 10) handed to the consumer as an SQS event; the
//! messages its answer does not name are deleted; the named ones, and all of them when the
//! invocation fails, stay and come back once their visibility timeout ends (the consumer may
//! have changed it: deliver-webhooks hides a message for its backoff delay).
//!
//! `WaitTimeSeconds` is 0: moto's long poll holds the request for its whole wait, and the
//! local endpoint serves one request at a time, so a long poll would stall every DynamoDB call
//! of the functions behind it. The pump pauses between empty polls instead.

use super::aws::{AwsJson, Service};
use super::invoke::Invoker;
use super::{Delivered, PumpError};
use serde_json::{json, Map, Value};

pub struct QueueSource {
    aws: AwsJson,
    url: String,
    arn: Option<String>,
    batch_size: usize,
}

impl QueueSource {
    pub fn new(aws: AwsJson, url: &str, batch_size: usize) -> QueueSource {
        QueueSource { aws, url: url.to_owned(), arn: None, batch_size: batch_size.clamp(1, 10) }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn arn(&mut self) -> Result<String, PumpError> {
        if let Some(arn) = &self.arn {
            return Ok(arn.clone());
        }
        let request = json!({"QueueUrl": self.url, "AttributeNames": ["QueueArn"]});
        let answer = self.aws.call(Service::Sqs, "GetQueueAttributes", &request).await?;
        let arn = answer["Attributes"]["QueueArn"].as_str().unwrap_or_default().to_owned();
        self.arn = Some(arn.clone());
        Ok(arn)
    }

    /// Receives one batch and, if there was one, invokes `function` with it.
    pub async fn poll(&mut self, invoker: &dyn Invoker, function: &str) -> Result<Delivered, PumpError> {
        let arn = self.arn().await?;
        let request = json!({
            "QueueUrl": self.url,
            "MaxNumberOfMessages": self.batch_size,
            "WaitTimeSeconds": 0,
            "AttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        });
        let answer = self.aws.call(Service::Sqs, "ReceiveMessage", &request).await?;
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            return Ok(Delivered::default());
        }
        let region = self.aws.region().to_owned();
        let records: Vec<Value> = messages.iter().map(|message| lambda_record(message, &arn, &region)).collect();
        let count = records.len();
        let mut delivered = Delivered { batches: 1, records: count, ..Delivered::default() };
        let failed: Vec<String> = match invoker.invoke(function, json!({"Records": records})).await {
            Ok(answer) => match failed_ids(&answer) {
                Some(ids) => ids,
                None => {
                    delivered.failed_batches = 1;
                    delivered.last_error = Some("an unreadable batchItemFailures: every message stays".to_owned());
                    return Ok(delivered);
                }
            },
            Err(failure) => {
                delivered.failed_batches = 1;
                delivered.last_error = Some(failure.to_string());
                return Ok(delivered);
            }
        };
        if !failed.is_empty() {
            delivered.failed_batches = 1;
            delivered.last_error = Some(format!("{} of {count} messages failed", failed.len()));
        }
        let done: Vec<Value> = messages
            .iter()
            .filter(|message| !failed.iter().any(|id| message["MessageId"].as_str() == Some(id)))
            .enumerate()
            .map(|(n, message)| json!({"Id": format!("m{n}"), "ReceiptHandle": message["ReceiptHandle"]}))
            .collect();
        if !done.is_empty() {
            let request = json!({"QueueUrl": self.url, "Entries": done});
            self.aws.call(Service::Sqs, "DeleteMessageBatch", &request).await?;
        }
        Ok(delivered)
    }
}

/// The ids a partial batch response names; `None` when it cannot be read (then Lambda
/// counts the whole batch as failed).
fn failed_ids(answer: &Value) -> Option<Vec<String>> {
    match answer.get("batchItemFailures") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(failures)) => failures
            .iter()
            .map(|failure| failure.get("itemIdentifier").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        Some(_) => None,
    }
}

/// A received message as Lambda hands it over (`aws_lambda_events::sqs::SqsMessage`).
fn lambda_record(message: &Value, queue_arn: &str, region: &str) -> Value {
    let mut attributes = Map::new();
    for (name, attribute) in message["MessageAttributes"].as_object().into_iter().flatten() {
        attributes.insert(
            name.clone(),
            json!({
                "stringValue": attribute["StringValue"],
                "binaryValue": attribute["BinaryValue"],
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": attribute["DataType"],
            }),
        );
    }
    json!({
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "md5OfBody": message["MD5OfBody"],
        "md5OfMessageAttributes": message["MD5OfMessageAttributes"],
        "attributes": message.get("Attributes").cloned().unwrap_or_else(|| json!({})),
        "messageAttributes": attributes,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_message_becomes_the_record_lambda_hands_over() {
        let message = json!({
            "MessageId": "m-1", "ReceiptHandle": "rh", "Body": "{\"eventId\":\"evt_1\"}", "MD5OfBody": "x",
            "Attributes": {"ApproximateReceiveCount": "2"},
        });
        let record = lambda_record(&message, "arn:aws:sqs:us-east-1:1:q", "us-east-1");
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["receiptHandle"], "rh");
        assert_eq!(record["body"], "{\"eventId\":\"evt_1\"}");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(record["eventSource"], "aws:sqs");
        assert_eq!(record["eventSourceARN"], "arn:aws:sqs:us-east-1:1:q");
    }

    #[test]
    fn an_unreadable_partial_response_fails_every_message() {
        assert_eq!(failed_ids(&json!({})), Some(vec![]));
        assert_eq!(failed_ids(&json!({"batchItemFailures": [{"itemIdentifier": "a"}]})), Some(vec!["a".to_owned()]));
        assert_eq!(failed_ids(&json!({"batchItemFailures": [{"itemIdentifier": 7}]})), None);
        assert_eq!(failed_ids(&json!({"batchItemFailures": "all"})), None);
    }
}
