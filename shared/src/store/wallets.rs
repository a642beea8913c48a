//! Wallets: the wallet attributes on a balance's head, the per-project wallet index, foreign
//! ids, and the records of money movements.
//!
//! - A wallet *is* a balance: its head item carries the wallet attributes (`wallet*`) beside
//!   the balance's and the pockets. Commits rewrite only balance attributes, so money moves
//!   never touch them.
//! - The index, `P#<project>#WL`, has one item per wallet, sorted by `C#<created ms>#<id>`,
//!   holding the attributes a listing filters on (not the pockets, which change with every
//!   move: a listing reads those from the heads). A Query on it reads a page in creation
//!   order, either way, whatever the project's size.
//! - `P#<project>#F#<foreignId>` holds the wallet id: "unique per project" is its
//!   `attribute_not_exists` in the creating transaction.
//! - `P#<project>#M#<id>` is a movement's record; its status changes only from `Processing`,
//!   with a condition, so a quasi-transfer resolves once.

use super::attributes::{boolean, built, decimal, key, n, s, Item, Reader, Update};
use super::balances::{new_head_item, HeadRecord, IN_PROGRESS, LOCK_EXPIRES_AT, LOCK_OWNER};
use super::idempotency::{self, IdempotencyRecord, IdempotencyWrite};
use super::keys::{self, HEAD_SK, PK, SK};
use super::{Store, StoreError};
use crate::domain::money::Amount;
use crate::domain::movements::{Movement, MovementKind, MovementStatus, Reference};
use crate::domain::names::{BalanceId, BalanceType, ProjectId};
use crate::domain::time::Millis;
use crate::domain::wallets::{Description, ForeignData, ForeignId, Wallet, WalletInfo, WalletName};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem, Update as UpdateItem,
};
use futures_util::{StreamExt, TryStreamExt};
use std::time::Duration;
use uuid::Uuid;

const NAME: &str = "walletName";
const DESCRIPTION: &str = "walletDescription";
const FOREIGN_ID: &str = "walletForeignId";
const FOREIGN_DATA: &str = "walletForeignData";
const IS_MAIN: &str = "walletIsMain";
const CREATOR: &str = "walletCreatorKeyId";
const WALLET_ID: &str = "walletId";
const CREATED_AT: &str = "createdAt";

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_KEYS: usize = 100;
/// Rounds of asking again for keys DynamoDB left unprocessed (it does under throttling).
const BATCH_GET_ROUNDS: u32 = 8;
/// BatchGetItems of one listing in flight at once.
const BATCH_GETS_IN_FLIGHT: usize = 8;

/// The wallet attributes (`None`: absent, so an update removes them).
fn wallet_attributes(info: &WalletInfo) -> [(&'static str, Option<AttributeValue>); 6] {
    [
        (NAME, Some(s(info.name.as_str()))),
        (DESCRIPTION, info.description.as_ref().map(|d| s(d.as_str()))),
        (FOREIGN_ID, info.foreign_id.as_ref().map(|f| s(f.as_str()))),
        (FOREIGN_DATA, info.foreign_data.as_ref().map(|f| s(f.as_str()))),
        (IS_MAIN, Some(boolean(info.is_main))),
        (CREATOR, info.creator_key_id.as_ref().map(s)),
    ]
}

/// The wallet attributes of an item, if it has them (a plain balance's head has not).
pub(super) fn wallet_info(item: &Item) -> Result<Option<WalletInfo>, StoreError> {
    let r = Reader::new(item, "wallet");
    let Some(name) = r.opt_str(NAME)? else {
        return Ok(None);
    };
    Ok(Some(WalletInfo {
        name: WalletName::parse(name).map_err(|_| corrupt(NAME))?,
        description: r.opt_str(DESCRIPTION)?.map(Description::parse).transpose().map_err(|_| corrupt(DESCRIPTION))?,
        foreign_id: r.opt_str(FOREIGN_ID)?.map(ForeignId::parse).transpose().map_err(|_| corrupt(FOREIGN_ID))?,
        foreign_data: r
            .opt_str(FOREIGN_DATA)?
            .map(ForeignData::parse)
            .transpose()
            .map_err(|_| corrupt(FOREIGN_DATA))?,
        is_main: matches!(item.get(IS_MAIN), Some(AttributeValue::Bool(true))),
        creator_key_id: r.opt_str(CREATOR)?.map(str::to_owned),
    }))
}

fn corrupt(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("wallet attribute {attribute}: not valid"))
}

fn index_sk(created: Millis, id: BalanceId) -> String {
    format!("C#{:016}#{id}", created.epoch_ms().max(0))
}

fn index_item(wallet: &Wallet) -> Item {
    let balance = &wallet.balance;
    let mut item = key(keys::wallet_index_pk(&balance.project_id), index_sk(balance.created_at, balance.id));
    item.insert(WALLET_ID.into(), s(balance.id.to_string()));
    item.insert(CREATED_AT.into(), n(balance.created_at.epoch_ms()));
    item.extend(
        wallet_attributes(&wallet.info).into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))),
    );
    item
}

/// The items a new wallet without a foreign id is made of: its head and its index item (the
/// bench seeds large projects with these directly).
pub fn wallet_items(wallet: &Wallet) -> [Item; 2] {
    let mut head = new_head_item(&wallet.balance);
    head.extend(
        wallet_attributes(&wallet.info).into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))),
    );
    [head, index_item(wallet)]
}

/// A wallet as the index holds it: everything but its pockets.
#[derive(Debug, Clone)]
pub struct IndexedWallet {
    pub id: BalanceId,
    pub created_at: Millis,
    pub info: WalletInfo,
}

fn indexed_wallet(item: &Item) -> Result<IndexedWallet, StoreError> {
    let r = Reader::new(item, "wallet index");
    Ok(IndexedWallet {
        id: r.parsed(WALLET_ID, BalanceId::parse)?,
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        info: wallet_info(item)?.ok_or_else(|| corrupt(NAME))?,
    })
}

/// Where an index read starts and ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct IndexRange {
    /// Newest first.
    pub descending: bool,
    /// Inclusive bounds on the creation time, in ms.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Resume right after this wallet (its creation time and id).
    pub after: Option<(i64, BalanceId)>,
}

/// A pending movement whose expiry time has come.
#[derive(Debug, Clone)]
pub struct DueExpiry {
    pub project: ProjectId,
    pub id: Uuid,
    pub at: Millis,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertWalletError {
    /// The wallet exists already (the main wallet, created by a concurrent request).
    #[error("the wallet exists already")]
    Exists,
    #[error("a wallet with this foreignId exists")]
    ForeignIdTaken,
    #[error("idempotency key already used")]
    IdempotencyTaken(Option<IdempotencyRecord>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Creates a wallet: its head, its index item, its foreign id and the idempotency record,
    /// in one transaction.
    pub async fn insert_wallet(
        &self,
        wallet: &Wallet,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), InsertWalletError> {
        let balance = &wallet.balance;
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)");
            Ok(TransactWriteItem::builder().put(built(put.build())?).build())
        };
        let [head, index] = wallet_items(wallet);
        let mut items = vec![put(head)?, put(index)?];
        let foreign = match &wallet.info.foreign_id {
            Some(foreign_id) => {
                let mut item = key(keys::foreign_id_pk(&balance.project_id, foreign_id), keys::FOREIGN_ID_SK);
                item.insert(WALLET_ID.into(), s(balance.id.to_string()));
                items.push(put(item)?);
                Some(items.len() - 1)
            }
            None => None,
        };
        let record = match idempotency {
            Some(record) => {
                items.push(idempotency::put(&self.table, &balance.project_id, record)?);
                Some(items.len() - 1)
            }
            None => None,
        };
        let Err(error) = self.client.transact_write_items().set_transact_items(Some(items)).send().await else {
            return Ok(());
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = error.as_service_error() {
            let reasons = canceled.cancellation_reasons();
            let failed = |index: Option<usize>| {
                index.and_then(|i| reasons.get(i)).filter(|r| r.code() == Some("ConditionalCheckFailed"))
            };
            if let Some(reason) = failed(record) {
                return Err(InsertWalletError::IdempotencyTaken(idempotency::from_reason(reason)?));
            }
            if failed(Some(0)).is_some() {
                return Err(InsertWalletError::Exists);
            }
            if failed(foreign).is_some() {
                return Err(InsertWalletError::ForeignIdTaken);
            }
        }
        Err(StoreError::sdk("TransactWriteItems", error).into())
    }

    /// The id of the wallet with this foreign id.
    pub async fn wallet_by_foreign_id(
        &self,
        project: &ProjectId,
        foreign_id: &ForeignId,
    ) -> Result<Option<BalanceId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::foreign_id_pk(project, foreign_id), keys::FOREIGN_ID_SK)))
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(|item| Reader::new(item, "foreign id").parsed(WALLET_ID, BalanceId::parse)).transpose()
    }

    /// Writes a wallet's new attributes to its head and its index item, and gives back the
    /// lock `owner` holds (taken so that no commit in flight rewrites the balance name).
    pub async fn update_wallet(&self, owner: &str, wallet: &Wallet) -> Result<(), StoreError> {
        let balance = &wallet.balance;
        let mut head = wallet_attributes(&wallet.info)
            .into_iter()
            .fold(Update::default(), |update, (name, value)| update.set_opt(name, value))
            .set("balanceName", s(wallet.info.balance_name().as_str()))
            .remove(LOCK_OWNER)
            .remove(LOCK_EXPIRES_AT)
            .set(IN_PROGRESS, boolean(false));
        let owner_name = head.name(LOCK_OWNER);
        let owner_value = head.value(s(owner));
        let head = UpdateItem::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::balance_pk(&balance.project_id, balance.id), HEAD_SK)))
            .update_expression(head.expression())
            .condition_expression(format!("{owner_name} = {owner_value}"))
            .set_expression_attribute_names(Some(head.names))
            .set_expression_attribute_values(Some(head.values));
        let index = wallet_attributes(&wallet.info)
            .into_iter()
            .fold(Update::default(), |update, (name, value)| update.set_opt(name, value));
        let index = UpdateItem::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::wallet_index_pk(&balance.project_id), index_sk(balance.created_at, balance.id))))
            .update_expression(index.expression())
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(index.names))
            .set_expression_attribute_values(Some(index.values));
        let items = vec![
            TransactWriteItem::builder().update(built(head.build())?).build(),
            TransactWriteItem::builder().update(built(index.build())?).build(),
        ];
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| StoreError::sdk("TransactWriteItems", e))?;
        Ok(())
    }

    /// One Query of the wallet index: up to `limit` wallets (all that fit 1 MB without one),
    /// and whether the index goes on past them.
    pub async fn wallet_index_page(
        &self,
        project: &ProjectId,
        range: IndexRange,
        limit: Option<usize>,
    ) -> Result<(Vec<IndexedWallet>, Option<(i64, BalanceId)>), StoreError> {
        let low = format!("C#{:016}#", range.from_ms.unwrap_or(0).max(0));
        // '~' sorts after every character of an id.
        let high = match range.to_ms {
            Some(ms) => format!("C#{:016}#~", ms.max(0)),
            None => "C#~".to_owned(),
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::wallet_index_pk(project)))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
            .scan_index_forward(!range.descending);
        if let Some(limit) = limit {
            query = query.limit(i32::try_from(limit).unwrap_or(i32::MAX));
        }
        if let Some((ms, id)) = range.after {
            let start = key(keys::wallet_index_pk(project), index_sk(Millis::from_epoch_ms(ms), id));
            query = query.set_exclusive_start_key(Some(start));
        }
        let output = query.send().await.map_err(|e| StoreError::sdk("Query", e))?;
        let wallets = output.items().iter().map(indexed_wallet).collect::<Result<Vec<_>, _>>()?;
        // DynamoDB stops after the last item it returns: the next read starts right after it.
        let next = output.last_evaluated_key().and(wallets.last()).map(|w| (w.created_at.epoch_ms(), w.id));
        Ok((wallets, next))
    }

    /// The heads of these balances (strongly consistent), in any order; missing ones are
    /// left out. One BatchGetItem per 100 ids, plus retries of what DynamoDB left unprocessed.
    pub async fn read_heads(&self, project: &ProjectId, ids: &[BalanceId]) -> Result<Vec<HeadRecord>, StoreError> {
        // A listing over a whole large project reads many chunks: a few at a time, not one by one.
        let mut reads = Vec::new();
        for chunk in ids.chunks(BATCH_GET_KEYS) {
            reads.push(self.read_heads_chunk(project, chunk));
        }
        let read: Vec<Vec<HeadRecord>> =
            futures_util::stream::iter(reads).buffered(BATCH_GETS_IN_FLIGHT).try_collect().await?;
        Ok(read.into_iter().flatten().collect())
    }

    /// Up to 100 heads: one BatchGetItem, and again for what DynamoDB left unprocessed.
    async fn read_heads_chunk(&self, project: &ProjectId, ids: &[BalanceId]) -> Result<Vec<HeadRecord>, StoreError> {
        let mut heads = Vec::with_capacity(ids.len());
        let keys: Vec<Item> = ids.iter().map(|id| key(keys::balance_pk(project, *id), HEAD_SK)).collect();
        let mut request = Some(built(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build())?);
        for round in 0..BATCH_GET_ROUNDS {
            let Some(keys) = request.take() else { break };
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(5 << round)).await;
            }
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| StoreError::sdk("BatchGetItem", e))?;
            for item in output.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                heads.push(HeadRecord::from_item(item)?);
            }
            request = output.unprocessed_keys().and_then(|u| u.get(&self.table)).cloned();
        }
        match request {
            Some(_) => Err(StoreError::Corrupt("BatchGetItem left keys unprocessed after retries".into())),
            None => Ok(heads),
        }
    }

    // ---- movements ----

    /// The creating write of a movement's record.
    pub fn movement_put(&self, project: &ProjectId, movement: &Movement) -> Result<TransactWriteItem, StoreError> {
        let mut item = key(keys::movement_pk(project, movement.id), keys::MOVEMENT_SK);
        item.insert("kind".into(), s(movement.kind.as_str()));
        if let Some(source) = movement.source {
            item.insert("source".into(), s(source.to_string()));
        }
        item.insert("destination".into(), s(movement.destination.to_string()));
        item.insert("amount".into(), decimal(movement.amount.value()));
        item.insert("balanceType".into(), s(movement.balance_type.as_str()));
        if let Some(foreign_id) = &movement.foreign_id {
            item.insert("foreignId".into(), s(foreign_id.as_str()));
        }
        item.insert("status".into(), s(movement.status.as_str()));
        if let Some(reason) = movement.status.reason() {
            item.insert("reason".into(), s(reason.as_str()));
        }
        // Not `expiresAt`: that is the table's TTL attribute, and a record must outlive its expiry.
        if let Some(at) = movement.expires_at {
            item.insert("expiresOn".into(), n(at.epoch_ms()));
        }
        item.insert(CREATED_AT.into(), n(movement.created_at.epoch_ms()));
        item.insert("updatedAt".into(), n(movement.updated_at.epoch_ms()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)");
        Ok(TransactWriteItem::builder().put(built(put.build())?).build())
    }

    /// Moves a pending movement to `to`; the write fails its condition when the movement is
    /// no longer pending.
    pub fn movement_resolve(
        &self,
        project: &ProjectId,
        id: Uuid,
        to: MovementStatus,
        now: Millis,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = UpdateItem::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::movement_pk(project, id), keys::MOVEMENT_SK)))
            .update_expression(match to.reason() {
                Some(_) => "SET #status = :to, updatedAt = :now, reason = :reason",
                None => "SET #status = :to, updatedAt = :now",
            })
            .condition_expression("#status = :processing")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":now", n(now.epoch_ms()))
            .expression_attribute_values(":processing", s(MovementStatus::Processing.as_str()));
        let update = match to.reason() {
            Some(reason) => update.expression_attribute_values(":reason", s(reason.as_str())),
            None => update,
        };
        Ok(TransactWriteItem::builder().update(built(update.build())?).build())
    }

    /// The writes that resolve a pending movement: its status, and its place in the expiry
    /// schedule given up. The first fails its condition when it is no longer pending.
    pub fn movement_resolution(
        &self,
        project: &ProjectId,
        movement: &Movement,
        to: MovementStatus,
        now: Millis,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = vec![self.movement_resolve(project, movement.id, to, now)?];
        if let Some(at) = movement.expires_at {
            items.push(self.expiry_delete(project, movement.id, at)?);
        }
        Ok(items)
    }

    /// [`Store::movement_resolution`] on its own, for a change that moves no money. `false`:
    /// it was no longer pending.
    pub async fn resolve_movement(
        &self,
        project: &ProjectId,
        movement: &Movement,
        to: MovementStatus,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let items = self.movement_resolution(project, movement, to, now)?;
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(true),
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = error.as_service_error()
                {
                    let first = canceled.cancellation_reasons().first().and_then(|r| r.code());
                    if first == Some("ConditionalCheckFailed") {
                        return Ok(false);
                    }
                }
                Err(StoreError::sdk("TransactWriteItems", error))
            }
        }
    }

    /// The movement's place in the expiry schedule (written with its creation).
    pub fn expiry_put(
        &self,
        project: &ProjectId,
        movement: &Movement,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(at) = movement.expires_at else {
            return Ok(None);
        };
        let shard = keys::expiry_shard(movement.id);
        let mut item = key(keys::expiry_pk(shard), keys::expiry_sk(at.epoch_ms(), project, movement.id));
        item.insert("projectId".into(), s(project.as_str()));
        item.insert("movementId".into(), s(movement.id.to_string()));
        item.insert("expiresOn".into(), n(at.epoch_ms()));
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        Ok(Some(TransactWriteItem::builder().put(built(put.build())?).build()))
    }

    fn expiry_delete(&self, project: &ProjectId, id: Uuid, at: Millis) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::expiry_pk(keys::expiry_shard(id)), keys::expiry_sk(at.epoch_ms(), project, id))));
        Ok(TransactWriteItem::builder().delete(built(delete.build())?).build())
    }

    /// Up to `limit` scheduled expiries due at `now`, soonest first within each shard.
    pub async fn due_expiries(&self, now: Millis, limit: usize) -> Result<(Vec<DueExpiry>, bool), StoreError> {
        let mut due = Vec::new();
        let mut more = false;
        // Everything up to and including `now`: the next millisecond's prefix is past it.
        let until = format!("{:016}", now.epoch_ms().max(0) + 1);
        for shard in 0..keys::EXPIRY_SHARDS {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk < :until")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(keys::expiry_pk(shard)))
                .expression_attribute_values(":until", s(&until))
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            more |= output.last_evaluated_key().is_some();
            for item in output.items() {
                let r = Reader::new(item, "expiry schedule");
                due.push(DueExpiry {
                    project: r.parsed("projectId", ProjectId::parse)?,
                    id: r.parsed("movementId", Uuid::parse_str)?,
                    at: Millis::from_epoch_ms(r.number("expiresOn")?),
                });
            }
        }
        Ok((due, more))
    }

    /// Drops a schedule entry whose movement is resolved already (its resolution crashed
    /// between the two, or it never existed).
    pub async fn forget_expiry(&self, project: &ProjectId, id: Uuid, at: Millis) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::expiry_pk(keys::expiry_shard(id)), keys::expiry_sk(at.epoch_ms(), project, id))))
            .send()
            .await
            .map_err(|e| StoreError::sdk("DeleteItem", e))?;
        Ok(())
    }

    pub async fn read_movement(&self, project: &ProjectId, id: Uuid) -> Result<Option<Movement>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::movement_pk(project, id), keys::MOVEMENT_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(|item| movement_from_item(id, item)).transpose()
    }
}

fn movement_from_item(id: Uuid, item: &Item) -> Result<Movement, StoreError> {
    let r = Reader::new(item, "movement");
    Ok(Movement {
        id,
        kind: r.parsed("kind", |k| MovementKind::parse(k).ok_or(()))?,
        source: r.opt_str("source")?.map(BalanceId::parse).transpose().map_err(|_| corrupt("source"))?,
        destination: r.parsed("destination", BalanceId::parse)?,
        amount: Amount::new(r.decimal("amount")?).map_err(|_| corrupt("amount"))?,
        balance_type: r.parsed("balanceType", BalanceType::parse)?,
        foreign_id: r.opt_str("foreignId")?.map(Reference::parse).transpose().map_err(|_| corrupt("foreignId"))?,
        status: MovementStatus::parse(r.str("status")?, r.opt_str("reason")?).ok_or_else(|| corrupt("status"))?,
        expires_at: r.opt_number("expiresOn")?.map(Millis::from_epoch_ms),
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        updated_at: Millis::from_epoch_ms(r.number("updatedAt")?),
    })
}
