//! The table's DynamoDB stream as Lambda's event source mapping reads it: per shard, batches
//! of up to `batch_size` records from a checkpoint, each batch handed to the consumer as
//! `{"Records": [...]}` (every record with its `eventSourceARN`), and the checkpoint moved the
//! way `ReportBatchItemFailures` moves it: past the whole batch on success; to the lowest
//! failed sequence number when the answer names batch item failures (the records before it
//! are done, that one and everything after it come again); nowhere when the invocation
//! failed (the same batch comes again after a pause).

use super::aws::{AwsError, AwsJson, Service};
use super::invoke::Invoker;
use super::{Delivered, PumpError};
use serde_json::{json, Value};

/// Where a shard is first read from (the mapping's `StartingPosition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

#[derive(Debug, Clone)]
enum Checkpoint {
    Start(StartingPosition),
    At(String),
    After(String),
}

#[derive(Debug)]
struct Shard {
    id: String,
    checkpoint: Checkpoint,
    /// The iterator that continues from the checkpoint; dropped (and asked for again at the
    /// checkpoint) whenever a batch is to be read again.
    iterator: Option<String>,
    /// Failed attempts at the batch that starts at the checkpoint.
    failures: u32,
    /// No `NextShardIterator`: a closed shard, read to its end.
    closed: bool,
}

pub struct StreamSource {
    aws: AwsJson,
    table: String,
    start: StartingPosition,
    batch_size: usize,
    max_attempts: Option<u32>,
    stream_arn: Option<String>,
    shards: Vec<Shard>,
}

impl StreamSource {
    pub fn new(
        aws: AwsJson,
        table: &str,
        start: StartingPosition,
        batch_size: usize,
        max_attempts: Option<u32>,
    ) -> StreamSource {
        StreamSource {
            aws,
            table: table.to_owned(),
            start,
            batch_size: batch_size.clamp(1, 10_000),
            max_attempts,
            stream_arn: None,
            shards: Vec::new(),
        }
    }

    /// The stream's ARN, once found.
    pub fn stream_arn(&self) -> Option<&str> {
        self.stream_arn.as_deref()
    }

    /// Reads one batch from each shard that has records and invokes `function` with it.
    pub async fn poll(&mut self, invoker: &dyn Invoker, function: &str) -> Result<Delivered, PumpError> {
        if self.stream_arn.is_none() || self.shards.iter().all(|shard| shard.closed) {
            self.discover().await?;
        }
        let Some(arn) = self.stream_arn.clone() else {
            return Err(PumpError::NoStream { table: self.table.clone() });
        };
        let mut delivered = Delivered::default();
        for index in 0..self.shards.len() {
            if self.shards[index].closed {
                continue;
            }
            let one = self.poll_shard(index, &arn, invoker, function).await?;
            delivered.add(one);
        }
        Ok(delivered)
    }

    /// The table's stream and its shards (new shards start at the starting position).
    async fn discover(&mut self) -> Result<(), PumpError> {
        let table = self.aws.call(Service::DynamoDb, "DescribeTable", &json!({"TableName": self.table})).await?;
        let Some(arn) = table["Table"]["LatestStreamArn"].as_str().map(str::to_owned) else {
            return Err(PumpError::NoStream { table: self.table.clone() });
        };
        if self.stream_arn.as_deref() != Some(&arn) {
            // A new stream (the table was made again): nothing of the old one applies.
            self.shards.clear();
            self.stream_arn = Some(arn.clone());
        }
        let mut exclusive_start: Option<String> = None;
        loop {
            let mut request = json!({"StreamArn": arn});
            if let Some(start) = &exclusive_start {
                request["ExclusiveStartShardId"] = json!(start);
            }
            let answer = self.aws.call(Service::Streams, "DescribeStream", &request).await?;
            let description = &answer["StreamDescription"];
            // Parents before children, as Lambda reads them: DescribeStream lists them so.
            for shard in description["Shards"].as_array().into_iter().flatten() {
                let Some(id) = shard["ShardId"].as_str() else { continue };
                if !self.shards.iter().any(|known| known.id == id) {
                    self.shards.push(Shard {
                        id: id.to_owned(),
                        checkpoint: Checkpoint::Start(self.start),
                        iterator: None,
                        failures: 0,
                        closed: false,
                    });
                }
            }
            match description["LastEvaluatedShardId"].as_str() {
                Some(last) => exclusive_start = Some(last.to_owned()),
                None => return Ok(()),
            }
        }
    }

    async fn iterator(&mut self, index: usize, arn: &str) -> Result<String, AwsError> {
        let shard = &self.shards[index];
        if let Some(iterator) = &shard.iterator {
            return Ok(iterator.clone());
        }
        let mut request = json!({"StreamArn": arn, "ShardId": shard.id});
        match &shard.checkpoint {
            Checkpoint::Start(StartingPosition::TrimHorizon) => request["ShardIteratorType"] = json!("TRIM_HORIZON"),
            Checkpoint::Start(StartingPosition::Latest) => request["ShardIteratorType"] = json!("LATEST"),
            Checkpoint::At(sequence) => {
                request["ShardIteratorType"] = json!("AT_SEQUENCE_NUMBER");
                request["SequenceNumber"] = json!(sequence);
            }
            Checkpoint::After(sequence) => {
                request["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                request["SequenceNumber"] = json!(sequence);
            }
        }
        let answer = self.aws.call(Service::Streams, "GetShardIterator", &request).await?;
        let iterator = answer["ShardIterator"].as_str().unwrap_or_default().to_owned();
        self.shards[index].iterator = Some(iterator.clone());
        Ok(iterator)
    }

    async fn poll_shard(
        &mut self,
        index: usize,
        arn: &str,
        invoker: &dyn Invoker,
        function: &str,
    ) -> Result<Delivered, PumpError> {
        let iterator = self.iterator(index, arn).await?;
        let answer = self
            .aws
            .call(Service::Streams, "GetRecords", &json!({"ShardIterator": iterator, "Limit": self.batch_size}))
            .await?;
        let records: Vec<Value> = answer["Records"].as_array().cloned().unwrap_or_default();
        let next = answer["NextShardIterator"].as_str().map(str::to_owned);
        let shard = &mut self.shards[index];
        if records.is_empty() {
            shard.closed = next.is_none();
            shard.iterator = next;
            return Ok(Delivered::default());
        }
        let sequences: Vec<String> = records.iter().map(sequence_number).collect();
        let (first, last) = (sequences[0].clone(), sequences[sequences.len() - 1].clone());
        // From here on the batch is the one at this checkpoint, whatever the starting position.
        shard.checkpoint = Checkpoint::At(first.clone());
        let batch: Vec<Value> = records
            .into_iter()
            .map(|mut record| {
                record["eventSourceARN"] = json!(arn);
                record
            })
            .collect();
        let count = batch.len();
        let outcome = invoker.invoke(function, json!({"Records": batch})).await;
        let shard = &mut self.shards[index];
        let failed_from = match outcome {
            Ok(answer) => match failed_from(&answer, &sequences) {
                Ok(None) => {
                    shard.checkpoint = Checkpoint::After(last);
                    shard.iterator = next;
                    shard.failures = 0;
                    return Ok(Delivered { batches: 1, records: count, ..Delivered::default() });
                }
                Ok(Some(sequence)) => Ok(sequence),
                Err(reason) => Err(reason),
            },
            Err(failure) => Err(failure.to_string()),
        };
        shard.iterator = None;
        let mut delivered = Delivered { batches: 1, records: count, failed_batches: 1, ..Delivered::default() };
        match failed_from {
            Ok(sequence) if sequence != first => {
                // Progress: the records before it are done; the retry is a new batch's first try.
                shard.checkpoint = Checkpoint::At(sequence);
                shard.failures = 1;
                delivered.last_error = Some("batch item failures".to_owned());
            }
            Ok(_) => {
                shard.failures += 1;
                delivered.last_error = Some("batch item failure at the batch's first record".to_owned());
            }
            Err(reason) => {
                shard.failures += 1;
                delivered.last_error = Some(reason);
            }
        }
        if self.max_attempts.is_some_and(|max| shard.failures >= max) {
            // What Lambda does once MaximumRetryAttempts is spent: the batch goes to the
            // on-failure destination (here: the log) and the shard moves on.
            shard.checkpoint = Checkpoint::After(last);
            shard.failures = 0;
            delivered.discarded += count;
        }
        Ok(delivered)
    }
}

fn sequence_number(record: &Value) -> String {
    record["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default().to_owned()
}

/// The checkpoint a partial batch response asks for: `None` for success, the lowest failed
/// sequence number, or why the whole batch counts as failed (an identifier that is not one of
/// the batch's sequence numbers, as Lambda treats it).
fn failed_from(answer: &Value, sequences: &[String]) -> Result<Option<String>, String> {
    let failures = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(failures)) => failures,
        Some(other) => return Err(format!("batchItemFailures is not a list: {other}")),
    };
    let mut lowest: Option<&String> = None;
    for failure in failures {
        let identifier = failure.get("itemIdentifier").and_then(Value::as_str).unwrap_or_default();
        let Some(known) = sequences.iter().find(|sequence| sequence.as_str() == identifier) else {
            return Err(format!("batch item failure {identifier:?} names no record of the batch"));
        };
        if lowest.is_none_or(|low| numeric_less(known, low)) {
            lowest = Some(known);
        }
    }
    Ok(lowest.cloned())
}

/// Sequence numbers are decimal strings of up to 40 digits, beyond any integer type.
fn numeric_less(a: &str, b: &str) -> bool {
    (a.len(), a) < (b.len(), b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequences() -> Vec<String> {
        ["900", "1000", "1001"].map(str::to_owned).to_vec()
    }

    #[test]
    fn an_answer_without_failures_is_a_success() {
        assert_eq!(failed_from(&json!({}), &sequences()), Ok(None));
        assert_eq!(failed_from(&json!({"batchItemFailures": []}), &sequences()), Ok(None));
        assert_eq!(failed_from(&Value::Null, &sequences()), Ok(None));
    }

    #[test]
    fn the_lowest_failed_sequence_number_is_the_checkpoint_by_value_not_by_text() {
        let answer = json!({"batchItemFailures": [{"itemIdentifier": "1001"}, {"itemIdentifier": "900"}]});
        assert_eq!(failed_from(&answer, &sequences()), Ok(Some("900".to_owned())));
    }

    #[test]
    fn an_unknown_identifier_fails_the_whole_batch() {
        let answer = json!({"batchItemFailures": [{"itemIdentifier": "77"}]});
        assert!(failed_from(&answer, &sequences()).is_err());
        let answer = json!({"batchItemFailures": [{"itemIdentifier": null}]});
        assert!(failed_from(&answer, &sequences()).is_err());
    }
}
