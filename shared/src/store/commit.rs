//! Commits: planned changes of locked balances, the idempotency record and other conditional
//! writes ([`Write`]), as ONE conditional `TransactWriteItems`.
//!
//! The heads come first, each conditioned on its lock still being ours (the fence); then the
//! idempotency record; then the writes; then the changes' history entries and credits, each
//! conditioned on being exactly what the plan expected. A commit of a single item with no
//! head and no record is one plain conditional write instead (half the write capacity).

use super::attribute_names::{IN_PROGRESS, LOCK_EXPIRES_AT, LOCK_OWNER, REMAINING};
use super::attributes::{boolean, built, decimal, n, s};
use super::balances::balance_update;
use super::credits::lot_item;
use super::history::entry_item;
use super::idempotency::{self, IdempotencyRecord, IdempotencyWrite};
use super::keys::{self, HEAD_SK, PK, SK};
use super::writes::{Refused, Write};
use super::{Store, StoreError};
use crate::domain::balance::{Balance, Lot};
use crate::domain::ledger::{fold_lot_changes, Change, LotChange};
use crate::domain::time::Millis;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, Delete, Put, TransactWriteItem, Update as UpdateItem};
use std::ops::Range;

pub use crate::domain::packing::MAX_TRANSACTION_ITEMS;

/// What one transaction writes.
pub struct Commit<'a> {
    /// Locked balances, each with a run of its planned changes.
    pub heads: Vec<HeadWrite<'a>>,
    pub record: Option<&'a IdempotencyWrite>,
    /// More conditional writes that land with the changes or not at all.
    pub writes: &'a [Write],
}

/// A run of one locked balance's consecutive changes; the head is written as the last leaves it.
pub struct HeadWrite<'a> {
    pub owner: &'a str,
    pub changes: &'a [Change],
    pub version: u64,
    /// Keep holding the lock (more transactions follow) until this time, or release it.
    pub keep_lock_until: Option<Millis>,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The idempotency key has a live record (returned when DynamoDB sent it); nothing was
    /// written.
    #[error("idempotency key already used")]
    IdempotencyTaken(Option<IdempotencyRecord>),
    /// Another request touched the same items at the same moment; nothing was written.
    #[error("transaction conflict")]
    Conflict,
    /// A condition on a head or a change failed: the lock is no longer ours, or an earlier
    /// attempt of this very commit already landed (its answer lost). Nothing was written now.
    #[error("fenced: the lock or the expected state is gone")]
    Fenced,
    /// A condition of one of the writes failed; nothing was written.
    #[error("refused: {0:?}")]
    Refused(Refused),
    /// No answer: the commit may or may not have been written.
    #[error("outcome unknown: {0}")]
    Unknown(StoreError),
    /// Refused outright; nothing was written.
    #[error(transparent)]
    Store(StoreError),
}

impl CommitError {
    /// The error as a store fault, for callers that have no better answer to it.
    pub fn into_store_error(self) -> StoreError {
        match self {
            CommitError::Unknown(error) | CommitError::Store(error) => error,
            other => StoreError::Corrupt(format!("unexpected commit failure: {other}")),
        }
    }
}

impl From<StoreError> for CommitError {
    fn from(error: StoreError) -> Self {
        CommitError::Store(error)
    }
}

/// Where each part of the transaction's items is.
struct Layout {
    heads: Range<usize>,
    record: Range<usize>,
    writes: Vec<Range<usize>>,
}

impl Store {
    pub async fn commit(&self, commit: &Commit<'_>) -> Result<(), CommitError> {
        // A run without changes writes nothing.
        let heads: Vec<(&HeadWrite<'_>, &Balance)> =
            commit.heads.iter().filter_map(|head| Some((head, &head.changes.last()?.after))).collect();
        let mut items = Vec::new();
        for (head, balance) in &heads {
            items.push(self.head_update(balance, head)?);
        }
        let heads_range = 0..items.len();
        if let Some(record) = commit.record {
            items.push(idempotency::put(&self.table, record)?);
        }
        let record_range = heads_range.end..items.len();
        let mut writes = Vec::with_capacity(commit.writes.len());
        for write in commit.writes {
            let start = items.len();
            items.extend(write.transact_items(&self.table)?);
            writes.push(start..items.len());
        }
        for (head, balance) in &heads {
            let pk = keys::balance_pk(&balance.project_id, balance.id);
            for change in head.changes {
                if let Some(entry) = &change.entry {
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(entry_item(&balance.project_id, balance.id, entry)))
                        .condition_expression(keys::item_absent());
                    items.push(TransactWriteItem::builder().put(built(put.build())?).build());
                }
            }
            // A run of several operations (a group commit) may touch one credit twice: one
            // write per credit item, as a transaction requires.
            for lot_change in fold_lot_changes(head.changes.iter().flat_map(|change| &change.lots)) {
                items.push(self.lot_write(&pk, balance, &lot_change)?);
            }
        }
        let layout = Layout { heads: heads_range, record: record_range, writes };
        match items.len() {
            0 => Ok(()),
            1 if commit.heads.is_empty() && commit.record.is_none() => match self.write_one(items.remove(0)).await? {
                None => Ok(()),
                Some(reason) => {
                    self.refused(commit, &layout, std::slice::from_ref(&reason))?;
                    Err(CommitError::Fenced)
                }
            },
            _ => match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
                Ok(_) => Ok(()),
                Err(error) => self.cancelled(commit, &layout, error),
            },
        }
    }

    /// Why a transaction was cancelled, from its items' reasons.
    fn cancelled<R: std::fmt::Debug>(
        &self,
        commit: &Commit<'_>,
        layout: &Layout,
        error: SdkError<TransactWriteItemsError, R>,
    ) -> Result<(), CommitError> {
        let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = error.as_service_error() else {
            let error = StoreError::sdk("TransactWriteItems", error);
            return Err(if error.is_ambiguous() { CommitError::Unknown(error) } else { CommitError::Store(error) });
        };
        let reasons = canceled.cancellation_reasons();
        if reasons.iter().any(|r| {
            matches!(r.code(), Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"))
        }) {
            return Err(CommitError::Conflict);
        }
        self.refused(commit, layout, reasons)?;
        if reasons.iter().any(failed) {
            return Err(CommitError::Fenced);
        }
        Err(CommitError::Store(StoreError::sdk("TransactWriteItems", error)))
    }

    /// The refusal that the reasons show, if any. A failed head condition means the lock is
    /// gone: that decides, whatever else failed.
    fn refused(&self, commit: &Commit<'_>, layout: &Layout, reasons: &[CancellationReason]) -> Result<(), CommitError> {
        let part = |range: &Range<usize>| reasons.get(range.clone()).unwrap_or_default();
        if part(&layout.heads).iter().any(failed) {
            return Ok(());
        }
        if let Some(taken) = part(&layout.record).iter().find(|reason| failed(reason)) {
            return Err(CommitError::IdempotencyTaken(idempotency::from_reason(taken)?));
        }
        for (write, range) in commit.writes.iter().zip(&layout.writes) {
            if let Some(refused) = write.refused(part(range))? {
                return Err(CommitError::Refused(refused));
            }
        }
        Ok(())
    }

    /// One item on its own: a plain conditional write. A failed condition comes back as the
    /// cancellation reason a transaction would have given (with the item as it is).
    async fn write_one(&self, item: TransactWriteItem) -> Result<Option<CancellationReason>, CommitError> {
        use aws_sdk_dynamodb::operation::{delete_item, put_item, update_item};
        use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld;
        /// Sends the request: `Some(item)` when its condition failed.
        macro_rules! conditionally {
            ($request:expr, $operation:literal, $failed:path) => {
                match $request.send().await {
                    Ok(_) => Ok(None),
                    Err(error) => match error.as_service_error() {
                        Some($failed(failed)) => Ok(Some(failed.item.clone())),
                        _ => Err(StoreError::sdk($operation, error)),
                    },
                }
            };
        }
        let failed = if let Some(put) = item.put {
            let request = self
                .client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .return_values_on_condition_check_failure(AllOld);
            conditionally!(request, "PutItem", put_item::PutItemError::ConditionalCheckFailedException)
        } else if let Some(update) = item.update {
            let request = self
                .client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .return_values_on_condition_check_failure(AllOld);
            conditionally!(request, "UpdateItem", update_item::UpdateItemError::ConditionalCheckFailedException)
        } else if let Some(delete) = item.delete {
            let request = self
                .client
                .delete_item()
                .table_name(delete.table_name)
                .set_key(Some(delete.key))
                .set_condition_expression(delete.condition_expression)
                .set_expression_attribute_names(delete.expression_attribute_names)
                .set_expression_attribute_values(delete.expression_attribute_values)
                .return_values_on_condition_check_failure(AllOld);
            conditionally!(request, "DeleteItem", delete_item::DeleteItemError::ConditionalCheckFailedException)
        } else {
            Err(StoreError::Corrupt("a lone condition check writes nothing".into()))
        };
        match failed {
            Ok(None) => Ok(None),
            Ok(Some(item)) => {
                Ok(Some(CancellationReason::builder().code("ConditionalCheckFailed").set_item(item).build()))
            }
            Err(error) if error.is_ambiguous() => Err(CommitError::Unknown(error)),
            Err(error) => Err(CommitError::Store(error)),
        }
    }

    fn head_update(&self, balance: &Balance, head: &HeadWrite<'_>) -> Result<TransactWriteItem, CommitError> {
        let update = balance_update(balance, head.version);
        let mut update = match head.keep_lock_until {
            Some(until) => update.set(LOCK_EXPIRES_AT, n(until.epoch_ms())).set(IN_PROGRESS, boolean(true)),
            None => update.remove(LOCK_OWNER).remove(LOCK_EXPIRES_AT).set(IN_PROGRESS, boolean(false)),
        };
        let owner_name = update.name(LOCK_OWNER);
        let owner_value = update.value(s(head.owner));
        let item = UpdateItem::builder()
            .table_name(&self.table)
            .key(PK, s(keys::balance_pk(&balance.project_id, balance.id)))
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
                    .condition_expression(keys::item_absent());
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

fn failed(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}
