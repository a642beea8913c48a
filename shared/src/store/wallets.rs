//! Wallets: the wallet attributes on a balance's head, the per-project wallet index, foreign
//! ids, and the records of money movements.
//!
//! - A wallet *is* a balance: its head item carries the wallet attributes (`wallet*`) beside
//!   the balance's and the pockets. Commits rewrite only balance attributes, so money moves
//!   never touch them.
//! - The index, `P#<project>#WL`, has one item per wallet, sorted by `C#<created ms>#<id>`,
//!   holding the attributes a listing filters on (not the pockets, which change with every
//!   move: a listing reads those from the heads). A Query on it reads a page in creation
//!   order, either way, whatever the project's size. Other orders read the sort indexes
//!   over the heads ([`super::wallet_sort_index`]), whose keys the head carries beside the
//!   wallet attributes.
//! - `P#<project>#F#<foreignId>` holds the wallet id: "unique per project" is its
//!   `attribute_not_exists` in the creating transaction.
//! - Movements' records are in [`super::movements`]; their expiry schedule is here.

use super::attribute_names::{
    BALANCE_NAME, CREATED_AT, EXPIRES_ON, IN_PROGRESS, LOCK_EXPIRES_AT, LOCK_OWNER, MOVEMENT_ID, PROJECT_ID, WALLET_ID,
    WALLET_NAME,
};
use super::attributes::{boolean, built, key, n, s, Item, Reader, Update};
use super::balances::{new_head_item, wallet_attributes, wallet_info, HeadRecord};
use super::keys::{self, HEAD_SK, PK, SK};
use super::wallet_sort_keys::head_sort_attributes;
use super::{Store, StoreError};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::time::Millis;
use crate::domain::wallets::{Wallet, WalletInfo, WalletRef};
use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem, Update as UpdateItem};
use futures_util::{StreamExt, TryStreamExt};
use std::time::Duration;
use uuid::Uuid;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_KEYS: usize = 100;
/// Rounds of asking again for keys DynamoDB left unprocessed (it does under throttling).
const BATCH_GET_ROUNDS: u32 = 8;
/// BatchGetItems of one listing in flight at once.
const BATCH_GETS_IN_FLIGHT: usize = 8;

fn corrupt(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("wallet or movement attribute {attribute}: not valid"))
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
    head.extend(
        head_sort_attributes(&wallet.balance.project_id, &wallet.info)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
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
        info: wallet_info(item)?.ok_or_else(|| corrupt(WALLET_NAME))?,
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

impl Store {
    /// The id of the wallet `name` names: read from its name's item, but for an id.
    pub async fn wallet_named(&self, project: &ProjectId, name: &WalletRef) -> Result<Option<BalanceId>, StoreError> {
        let pk = match name {
            WalletRef::Id(id) => return Ok(Some(*id)),
            WalletRef::Foreign(foreign_id) => keys::foreign_id_pk(project, foreign_id),
            WalletRef::Mars(mars) => keys::mars_pk(project, mars),
            WalletRef::Man(man) => keys::man_pk(project, man),
        };
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, keys::FOREIGN_ID_SK)))
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(|item| Reader::new(item, "foreign id").parsed(WALLET_ID, BalanceId::parse)).transpose()
    }

    /// Writes a wallet's new attributes to its head and its index item, and gives back the
    /// lock `owner` holds (taken so that no commit in flight rewrites the balance name).
    pub async fn update_wallet(&self, owner: &str, wallet: &Wallet) -> Result<(), StoreError> {
        let balance = &wallet.balance;
        let head = wallet_attributes(&wallet.info)
            .into_iter()
            .fold(Update::default(), |update, (name, value)| update.set_opt(name, value));
        // Its sort index values change with its attributes (a new description, say).
        let mut head = head_sort_attributes(&balance.project_id, &wallet.info)
            .into_iter()
            .fold(head, |update, (name, value)| update.set(name, value))
            .set(BALANCE_NAME, s(wallet.info.balance_name().as_str()))
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
            .condition_expression(keys::item_present())
            .set_expression_attribute_names(Some(index.names))
            .set_expression_attribute_values(Some(index.values));
        let items = vec![
            TransactWriteItem::builder().update(built(head.build())?).build(),
            TransactWriteItem::builder().update(built(index.build())?).build(),
        ];
        self.transact(items).await
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
        let keys: Vec<Item> = ids.iter().map(|id| key(keys::balance_pk(project, *id), HEAD_SK)).collect();
        batch_get(self, keys).await?.iter().map(HeadRecord::from_item).collect()
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
                    project: r.parsed(PROJECT_ID, ProjectId::parse)?,
                    id: r.parsed(MOVEMENT_ID, Uuid::parse_str)?,
                    at: Millis::from_epoch_ms(r.number(EXPIRES_ON)?),
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
}

/// A new wallet's items: its head, its index item, the items that make its `mars`, its `man`
/// and (with one) its foreign id unique; each on the condition that it does not exist yet.
pub(super) fn new_wallet_items(table: &str, wallet: &Wallet) -> Result<Vec<TransactWriteItem>, StoreError> {
    let [head, index] = wallet_items(wallet);
    let (project, numbers) = (&wallet.balance.project_id, &wallet.info.numbers);
    let mut items = vec![head, index];
    let mut names = vec![keys::mars_pk(project, &numbers.mars), keys::man_pk(project, &numbers.man)];
    names.extend(wallet.info.foreign_id.iter().map(|foreign_id| keys::foreign_id_pk(project, foreign_id)));
    for pk in names {
        let mut item = key(pk, keys::FOREIGN_ID_SK);
        item.insert(WALLET_ID.into(), s(wallet.balance.id.to_string()));
        items.push(item);
    }
    items.into_iter().map(|item| new_item(table, item)).collect()
}

/// A put of an item that must not exist yet.
pub(super) fn new_item(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(table).set_item(Some(item)).condition_expression(keys::item_absent());
    Ok(TransactWriteItem::builder().put(built(put.build())?).build())
}

/// The items at these keys (strongly consistent), in any order; missing ones are left out.
/// One BatchGetItem per 100 keys, a few in flight at once.
pub(super) async fn batch_get(store: &Store, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    let chunks: Vec<Vec<Item>> = keys.chunks(BATCH_GET_KEYS).map(<[Item]>::to_vec).collect();
    let reads = chunks.into_iter().map(|chunk| batch_get_chunk(store, chunk));
    let read: Vec<Vec<Item>> = futures_util::stream::iter(reads).buffered(BATCH_GETS_IN_FLIGHT).try_collect().await?;
    Ok(read.into_iter().flatten().collect())
}

/// Up to 100 keys: one BatchGetItem, and again for what DynamoDB left unprocessed.
async fn batch_get_chunk(store: &Store, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut items = Vec::with_capacity(keys.len());
    let mut request = Some(built(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build())?);
    for round in 0..BATCH_GET_ROUNDS {
        let Some(keys) = request.take() else { break };
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(5 << round)).await;
        }
        let output = store
            .client
            .batch_get_item()
            .request_items(&store.table, keys)
            .send()
            .await
            .map_err(|e| StoreError::sdk("BatchGetItem", e))?;
        items.extend(output.responses().and_then(|r| r.get(&store.table)).into_iter().flatten().cloned());
        request = output.unprocessed_keys().and_then(|u| u.get(&store.table)).cloned();
    }
    match request {
        Some(_) => Err(StoreError::Corrupt("BatchGetItem left keys unprocessed after retries".into())),
        None => Ok(items),
    }
}
