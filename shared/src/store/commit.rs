//! Commits: consecutive planned changes written as one conditional `TransactWriteItems`.
//!
//! Item 0 is always the head, conditioned on still holding the lock (the fence); item 1 the
//! idempotency record when there is one; then the caller's extras; then the changes' history entries and credits, each
//! conditioned on being exactly what the plan expected.

use super::attributes::{boolean, decimal, n, s};
use super::balances::{balance_update, IN_PROGRESS, LOCK_EXPIRES_AT, LOCK_OWNER};
use super::credits::{lot_item, REMAINING};
use super::history::entry_item;
use super::idempotency::{self, IdempotencyRecord, IdempotencyWrite};
use super::keys::{self, HEAD_SK, PK, SK};
use super::{Store, StoreError};
use crate::domain::balance::{Balance, Lot};
use crate::domain::ledger::{Change, LotChange};
use crate::domain::time::Millis;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, Delete, Put, TransactWriteItem, Update as UpdateItem};

/// DynamoDB's limit on items in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

pub struct Batch<'a> {
    pub owner: &'a str,
    /// Consecutive changes of one plan; the head is written as the last one leaves it.
    pub changes: &'a [Change],
    pub version: u64,
    /// Keep holding the lock (more batches follow) until this time, or release it.
    pub keep_lock_until: Option<Millis>,
    pub idempotency: Option<&'a IdempotencyWrite>,
    /// More conditional writes that must land with the operation or not at all (a direct
    /// debit's claim on a token and an order).
    pub extras: &'a [TransactWriteItem],
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The idempotency key has a live record; nothing was written.
    #[error("idempotency key already used")]
    IdempotencyTaken(Option<IdempotencyRecord>),
    /// Another request touched the same items at the same moment; nothing was written.
    #[error("transaction conflict")]
    Conflict,
    /// A condition on the head or an item failed: the lock is no longer ours, or an earlier
    /// attempt of this very batch already landed (its answer lost). Nothing was written now.
    #[error("fenced: the lock or the expected state is gone")]
    Fenced,
    /// A condition of one of the batch's extras failed (their reasons, in order); nothing
    /// was written.
    #[error("a condition of the operation's extra writes failed")]
    ExtraRefused(Vec<CancellationReason>),
    /// No answer: the batch may or may not have been written.
    #[error("outcome unknown: {0}")]
    Unknown(StoreError),
    /// Refused outright; nothing was written.
    #[error(transparent)]
    Store(StoreError),
}

fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, CommitError> {
    result.map_err(|e| CommitError::Store(StoreError::Corrupt(e.to_string())))
}

impl Store {
    pub async fn commit(&self, batch: &Batch<'_>) -> Result<(), CommitError> {
        self.commit_together(std::slice::from_ref(batch)).await
    }

    /// Commits batches of several balances (each holding its own lock) as one transaction:
    /// all heads first, then the idempotency records, then the extras, then the entries and
    /// credits. A transfer between two wallets is two batches.
    pub async fn commit_together(&self, batches: &[Batch<'_>]) -> Result<(), CommitError> {
        // Each batch with the head as it leaves it; a batch without changes writes nothing.
        let batches: Vec<(&Batch<'_>, &Balance)> =
            batches.iter().filter_map(|batch| Some((batch, &batch.changes.last()?.after))).collect();
        if batches.is_empty() {
            return Ok(());
        }
        let mut items = Vec::new();
        for (batch, balance) in &batches {
            items.push(self.head_update(&keys::balance_pk(&balance.project_id, balance.id), balance, batch)?);
        }
        let heads = 0..items.len();
        for (batch, balance) in &batches {
            if let Some(record) = batch.idempotency {
                items.push(idempotency::put(&self.table, &balance.project_id, record).map_err(CommitError::Store)?);
            }
        }
        let records = heads.end..items.len();
        for (batch, _) in &batches {
            items.extend(batch.extras.iter().cloned());
        }
        let extras = records.end..items.len();
        for (batch, balance) in &batches {
            let pk = keys::balance_pk(&balance.project_id, balance.id);
            for change in batch.changes {
                if let Some(entry) = &change.entry {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(entry_item(&balance.project_id, balance.id, entry)))
                        .condition_expression("attribute_not_exists(pk)");
                    items.push(TransactWriteItem::builder().put(built(put.build())?).build());
                }
                for lot_change in &change.lots {
                    items.push(self.lot_write(&pk, balance, lot_change)?);
                }
            }
        }

        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = error.as_service_error()
                else {
                    let error = StoreError::sdk("TransactWriteItems", error);
                    return Err(if error.is_ambiguous() {
                        CommitError::Unknown(error)
                    } else {
                        CommitError::Store(error)
                    });
                };
                let reasons = canceled.cancellation_reasons();
                let failed = |range: std::ops::Range<usize>| {
                    reasons
                        .get(range)
                        .is_some_and(|these| these.iter().any(|r| r.code() == Some("ConditionalCheckFailed")))
                };
                if reasons.iter().any(|r| {
                    matches!(
                        r.code(),
                        Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
                    )
                }) {
                    return Err(CommitError::Conflict);
                }
                // A failed head condition means the lock is gone: that decides, whatever else failed.
                if !failed(heads.clone()) {
                    if let Some(taken) =
                        reasons.get(records).and_then(|r| r.iter().find(|r| r.code() == Some("ConditionalCheckFailed")))
                    {
                        let record = idempotency::from_reason(taken).map_err(CommitError::Store)?;
                        return Err(CommitError::IdempotencyTaken(record));
                    }
                    if failed(extras.clone()) {
                        return Err(CommitError::ExtraRefused(
                            reasons.get(extras).map(<[_]>::to_vec).unwrap_or_default(),
                        ));
                    }
                }
                if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) {
                    return Err(CommitError::Fenced);
                }
                Err(CommitError::Store(StoreError::sdk("TransactWriteItems", error)))
            }
        }
    }

    fn head_update(&self, pk: &str, balance: &Balance, batch: &Batch<'_>) -> Result<TransactWriteItem, CommitError> {
        let update = balance_update(balance, batch.version);
        let mut update = match batch.keep_lock_until {
            Some(until) => update.set(LOCK_EXPIRES_AT, n(until.epoch_ms())).set(IN_PROGRESS, boolean(true)),
            None => update.remove(LOCK_OWNER).remove(LOCK_EXPIRES_AT).set(IN_PROGRESS, boolean(false)),
        };
        let owner_name = update.name(LOCK_OWNER);
        let owner_value = update.value(s(batch.owner));
        let item = UpdateItem::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(HEAD_SK))
            .update_expression(update.expression())
            .condition_expression(format!("{owner_name} = {owner_value}"))
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values));
        Ok(TransactWriteItem::builder().update(built(item.build())?).build())
    }

    fn lot_write(&self, pk: &str, balance: &Balance, change: &LotChange) -> Result<TransactWriteItem, CommitError> {
        let key = |lot: &Lot| [(PK.to_owned(), s(pk)), (SK.to_owned(), s(keys::lot_sk(lot)))];
        Ok(match change {
            LotChange::Create(lot) => {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(lot_item(&balance.project_id, balance.id, lot)))
                    .condition_expression("attribute_not_exists(pk)");
                TransactWriteItem::builder().put(built(put.build())?).build()
            }
            LotChange::Reduce { lot, previous } => {
                let update = UpdateItem::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(lot).into()))
                    .update_expression("SET #r = :new")
                    .condition_expression("#r = :previous")
                    .expression_attribute_names("#r", REMAINING)
                    .expression_attribute_values(":new", decimal(lot.remaining))
                    .expression_attribute_values(":previous", decimal(*previous));
                TransactWriteItem::builder().update(built(update.build())?).build()
            }
            LotChange::Remove(lot) => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(lot).into()))
                    .condition_expression("#r = :previous")
                    .expression_attribute_names("#r", REMAINING)
                    .expression_attribute_values(":previous", decimal(lot.remaining));
                TransactWriteItem::builder().delete(built(delete.build())?).build()
            }
        })
    }
}
