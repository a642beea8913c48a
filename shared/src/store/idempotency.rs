//! Idempotency records: the stored answer to a request that carried an `Idempotency-Key`.
//! Written in the same transaction as the effect, so an effect and its record exist
//! together or not at all. Expired records (TTL deletes late) count as absent everywhere.

use super::attribute_names::{BODY, CREATED_AT, FINGERPRINT, STATUS};
use super::attributes::{key, n, s, Item, Reader};
use super::keys::{self, IDEMPOTENCY_SK, PK, SK, TTL};
use super::wallets::batch_get;
use super::{Store, StoreError};
use crate::domain::names::{IdempotencyKey, ProjectId};
use crate::domain::time::Millis;
use aws_sdk_dynamodb::types::{CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use std::collections::HashMap;

/// What to store for a request that is about to take effect.
#[derive(Debug, Clone)]
pub struct IdempotencyWrite {
    pub project: ProjectId,
    pub key: IdempotencyKey,
    /// Identifies the request: a repeat with another fingerprint is a key reuse.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub now: Millis,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

pub(super) fn put(table: &str, write: &IdempotencyWrite) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .item(PK, s(keys::idempotency_pk(&write.project, &write.key)))
        .item(SK, s(IDEMPOTENCY_SK))
        .item(FINGERPRINT, s(&write.fingerprint))
        .item(STATUS, n(write.status))
        .item(BODY, s(&write.body))
        .item(CREATED_AT, n(write.now.epoch_ms()))
        .item(TTL, n(write.expires_at.epoch_seconds()))
        // A record whose time is up may be replaced even if TTL has not deleted it yet.
        .condition_expression(format!("{} OR #ttl <= :now", keys::item_absent()))
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":now", n(write.now.epoch_seconds()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn from_item(item: &Item) -> Result<(IdempotencyRecord, i64), StoreError> {
    let r = Reader::new(item, "idempotency record");
    let record = IdempotencyRecord {
        fingerprint: r.str(FINGERPRINT)?.to_owned(),
        status: r.number(STATUS)?,
        body: r.str(BODY)?.to_owned(),
    };
    Ok((record, r.number(TTL)?))
}

/// The record DynamoDB returned with a failed condition (`ReturnValuesOnConditionCheckFailure`).
pub(super) fn from_reason(reason: &CancellationReason) -> Result<Option<IdempotencyRecord>, StoreError> {
    reason.item.as_ref().map(|item| from_item(item).map(|(record, _)| record)).transpose()
}

impl Store {
    pub async fn idempotency_record(
        &self,
        project: &ProjectId,
        key: &IdempotencyKey,
        now: Millis,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::idempotency_pk(project, key)))
            .key(SK, s(IDEMPOTENCY_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let (record, expires_at) = from_item(&item)?;
        Ok((expires_at > now.epoch_seconds()).then_some(record))
    }

    /// The live records of these keys, by key (a key without one is left out): one
    /// BatchGetItem per 100 keys, strongly consistent, where one GetItem each would cost a
    /// round trip per key.
    pub async fn idempotency_records(
        &self,
        project: &ProjectId,
        keys: &[IdempotencyKey],
        now: Millis,
    ) -> Result<HashMap<IdempotencyKey, IdempotencyRecord>, StoreError> {
        let by_pk: HashMap<String, &IdempotencyKey> =
            keys.iter().map(|key| (keys::idempotency_pk(project, key), key)).collect();
        let wanted = by_pk.keys().map(|pk| key(pk.clone(), IDEMPOTENCY_SK)).collect();
        let mut records = HashMap::with_capacity(keys.len());
        for item in batch_get(self, wanted).await? {
            let pk = Reader::new(&item, "idempotency record").str(PK)?;
            let key = by_pk.get(pk).ok_or_else(|| StoreError::Corrupt(format!("BatchGetItem returned {pk}")))?;
            let (record, expires_at) = from_item(&item)?;
            if expires_at > now.epoch_seconds() {
                records.insert((*key).clone(), record);
            }
        }
        Ok(records)
    }
}
