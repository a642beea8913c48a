//! Movements' records, their lists and foreign ids, and their transactions.
//!
//! - `P#<project>#M#<id>` / `M` is a movement's record; its status changes only from
//!   `Processing`, with a condition, so a quasi-transfer resolves once.
//! - `P#<project>#ML#<kind>` / `<created ms>#<id>`: one item per movement of a kind, written
//!   with the record, so a list reads a page of ids in creation order with one Query and the
//!   records with one BatchGetItem.
//! - `P#<project>#MR#<kind>#<foreignId>` / `<created ms>#<id>`: the movements of a kind with a
//!   foreign id (which need not be unique).
//! - `P#<project>#TL` / `<at ms>#<movement>#<n>`: the item *is* the transaction (one wallet's
//!   side of one step), written with the step; its id says its key, so a read by id is one
//!   GetItem and a page of the list one Query.

use super::attribute_names::{
    AFTER_AVAILABLE, AFTER_LOCKED_IN, AFTER_LOCKED_OUT, AFTER_VOLUME_INPUT, AFTER_VOLUME_OUTPUT, AMOUNT, BALANCE_TYPE,
    BEFORE_AVAILABLE, BEFORE_LOCKED_IN, BEFORE_LOCKED_OUT, BEFORE_VOLUME_INPUT, BEFORE_VOLUME_OUTPUT, COMPLETED_AT,
    CREATED_AT, CREATOR_KEY_ID, DC, DESCRIPTION, DESTINATION, EXPIRES_ON, FOREIGN_DATA, FOREIGN_ID, H1_EN, H1_FR, KIND,
    LOCKS_IN, MOVEMENT_ID, NUMBER, ORIGIN, PROJECT_ID, REASON, SOURCE, STATUS, UPDATED_AT, WALLET_ID,
};
use super::attributes::{boolean, built, decimal, key, n, s, Item, Reader, Update};
use super::keys::{self, PK, SK};
use super::wallets::{batch_get, new_item};
use super::{Store, StoreError};
use crate::domain::money::Amount;
use crate::domain::money_accounts::{MobileMoneyAccount, PocketKind};
use crate::domain::movements::{
    Account, Dc, Movement, MovementKind, MovementNotes, MovementStatus, NotesPatch, Reference, H1,
};
use crate::domain::names::{BalanceId, BalanceType, ProjectId};
use crate::domain::time::Millis;
use crate::domain::transactions::{PocketState, Transaction, TransactionId};
use crate::domain::wallets::{Description, ForeignData};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update as UpdateItem};
use uuid::Uuid;

fn corrupt(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("movement or transaction attribute {attribute}: not valid"))
}

/// Where a list read starts: after the item with this sort key, either way.
#[derive(Debug, Clone, Default)]
pub struct ListRange {
    /// Newest first.
    pub descending: bool,
    /// Resume right after this sort key (a page's last item's).
    pub after: Option<String>,
}

/// A page of a list: the items' sort keys with what they name, and whether more follow.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    pub items: Vec<(String, T)>,
    pub more: bool,
}

fn notes_attributes(notes: &MovementNotes) -> [(&'static str, Option<AttributeValue>); 4] {
    [
        (H1_FR, notes.h1.as_ref().map(|h1| s(&h1.fr))),
        (H1_EN, notes.h1.as_ref().map(|h1| s(&h1.en))),
        (DESCRIPTION, notes.description.as_ref().map(|d| s(d.as_str()))),
        (FOREIGN_DATA, notes.foreign_data.as_ref().map(|d| s(d.as_str()))),
    ]
}

fn notes_from(r: &Reader<'_>) -> Result<MovementNotes, StoreError> {
    let h1 = match (r.opt_str(H1_FR)?, r.opt_str(H1_EN)?) {
        (Some(fr), Some(en)) => Some(H1 { fr: fr.to_owned(), en: en.to_owned() }),
        (None, None) => None,
        _ => return Err(corrupt(H1_FR)),
    };
    Ok(MovementNotes {
        h1,
        description: r.opt_str(DESCRIPTION)?.map(Description::parse).transpose().map_err(|_| corrupt(DESCRIPTION))?,
        foreign_data: r
            .opt_str(FOREIGN_DATA)?
            .map(ForeignData::parse)
            .transpose()
            .map_err(|_| corrupt(FOREIGN_DATA))?,
    })
}

/// The update that applies a patch of notes to an item that must exist.
fn notes_update(patch: &NotesPatch) -> Update {
    let mut update = Update::default();
    if let Some(h1) = &patch.h1 {
        update = update.set_opt(H1_FR, h1.as_ref().map(|h1| s(&h1.fr))).set_opt(H1_EN, h1.as_ref().map(|h1| s(&h1.en)));
    }
    if let Some(description) = &patch.description {
        update = update.set_opt(DESCRIPTION, description.as_ref().map(|d| s(d.as_str())));
    }
    if let Some(foreign_data) = &patch.foreign_data {
        update = update.set_opt(FOREIGN_DATA, foreign_data.as_ref().map(|d| s(d.as_str())));
    }
    update
}

/// A new movement's items: its record, its place in its kind's list and (with one) under its
/// foreign id, and, when it expires, its place in the expiry schedule.
pub(super) fn new_movement_items(
    table: &str,
    project: &ProjectId,
    movement: &Movement,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut item = key(keys::movement_pk(project, movement.id), keys::MOVEMENT_SK);
    item.insert(KIND.into(), s(movement.kind.as_str()));
    let optional = [
        (SOURCE, movement.source.map(|id| s(id.to_string()))),
        (DESTINATION, movement.destination.map(|id| s(id.to_string()))),
        (ORIGIN, movement.origin.as_ref().map(|o| s(o.to_string()))),
        (FOREIGN_ID, movement.foreign_id.as_ref().map(|f| s(f.as_str()))),
        (REASON, movement.status.reason().map(|r| s(r.as_str()))),
        // Not `expiresAt`: that is the table's TTL attribute, and a record must outlive its expiry.
        (EXPIRES_ON, movement.expires_at.map(|at| n(at.epoch_ms()))),
        (CREATOR_KEY_ID, movement.creator_key_id.as_ref().map(s)),
        (COMPLETED_AT, movement.completed_at.map(|at| n(at.epoch_ms()))),
    ];
    item.extend(
        optional.into_iter().chain(notes_attributes(&movement.notes)).filter_map(|(k, v)| Some((k.into(), v?))),
    );
    item.insert(LOCKS_IN.into(), boolean(movement.locks_in));
    item.insert(AMOUNT.into(), decimal(movement.amount.value()));
    item.insert(BALANCE_TYPE.into(), s(movement.balance_type.as_str()));
    item.insert(STATUS.into(), s(movement.status.as_str()));
    item.insert(CREATED_AT.into(), n(movement.created_at.epoch_ms()));
    item.insert(UPDATED_AT.into(), n(movement.updated_at.epoch_ms()));
    let list_sk = keys::movement_list_sk(movement.created_at.epoch_ms(), movement.id);
    let pointer = |pk: String| {
        let mut pointer = key(pk, list_sk.clone());
        pointer.insert(MOVEMENT_ID.into(), s(movement.id.to_string()));
        pointer
    };
    let mut items =
        vec![new_item(table, item)?, new_item(table, pointer(keys::movement_list_pk(project, movement.kind)))?];
    if let Some(reference) = &movement.foreign_id {
        items.push(new_item(table, pointer(keys::movement_reference_pk(project, movement.kind, reference)))?);
    }
    if let Some(at) = movement.expires_at {
        let shard = keys::expiry_shard(movement.id);
        let mut entry = key(keys::expiry_pk(shard), keys::expiry_sk(at.epoch_ms(), project, movement.id));
        entry.insert(PROJECT_ID.into(), s(project.as_str()));
        entry.insert(MOVEMENT_ID.into(), s(movement.id.to_string()));
        entry.insert(EXPIRES_ON.into(), n(at.epoch_ms()));
        let put = Put::builder().table_name(table).set_item(Some(entry));
        items.push(TransactWriteItem::builder().put(built(put.build())?).build());
    }
    Ok(items)
}

/// How many items [`new_movement_items`] writes.
pub(super) fn new_movement_item_count(movement: &Movement) -> usize {
    2 + usize::from(movement.foreign_id.is_some()) + usize::from(movement.expires_at.is_some())
}

/// The writes that resolve a pending movement to what `resolved` says (its status, when, and
/// the wallet it completed with), and give up its place in the expiry schedule. The first
/// fails its condition when it is no longer pending.
pub(super) fn movement_resolution(
    table: &str,
    project: &ProjectId,
    resolved: &Movement,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut update = Update::default()
        .set(STATUS, s(resolved.status.as_str()))
        .set(UPDATED_AT, n(resolved.updated_at.epoch_ms()))
        .set_opt(REASON, resolved.status.reason().map(|r| s(r.as_str())))
        .set_opt(COMPLETED_AT, resolved.completed_at.map(|at| n(at.epoch_ms())));
    for (name, side) in [(SOURCE, resolved.source), (DESTINATION, resolved.destination)] {
        if let Some(id) = side {
            update = update.set(name, s(id.to_string()));
        }
    }
    let status = update.name(STATUS);
    let processing = update.value(s(MovementStatus::Processing.as_str()));
    let item = UpdateItem::builder()
        .table_name(table)
        .set_key(Some(key(keys::movement_pk(project, resolved.id), keys::MOVEMENT_SK)))
        .update_expression(update.expression())
        .condition_expression(format!("{status} = {processing}"))
        .set_expression_attribute_names(Some(update.names))
        .set_expression_attribute_values(Some(update.values));
    let mut items = vec![TransactWriteItem::builder().update(built(item.build())?).build()];
    if let Some(at) = resolved.expires_at {
        let delete = Delete::builder().table_name(table).set_key(Some(key(
            keys::expiry_pk(keys::expiry_shard(resolved.id)),
            keys::expiry_sk(at.epoch_ms(), project, resolved.id),
        )));
        items.push(TransactWriteItem::builder().delete(built(delete.build())?).build());
    }
    Ok(items)
}

pub(super) fn movement_from_item(id: Uuid, item: &Item) -> Result<Movement, StoreError> {
    let r = Reader::new(item, "movement");
    let wallet = |name: &str| -> Result<Option<BalanceId>, StoreError> {
        r.opt_str(name)?.map(BalanceId::parse).transpose().map_err(|_| corrupt(name))
    };
    let time =
        |name: &str| -> Result<Option<Millis>, StoreError> { Ok(r.opt_number(name)?.map(Millis::from_epoch_ms)) };
    Ok(Movement {
        id,
        kind: r.parsed(KIND, |k| MovementKind::parse(k).ok_or(()))?,
        source: wallet(SOURCE)?,
        destination: wallet(DESTINATION)?,
        origin: r.opt_str(ORIGIN)?.map(MobileMoneyAccount::parse).transpose().map_err(|_| corrupt(ORIGIN))?,
        locks_in: matches!(item.get(LOCKS_IN), Some(AttributeValue::Bool(true))),
        amount: Amount::new(r.decimal(AMOUNT)?).map_err(|_| corrupt(AMOUNT))?,
        balance_type: r.parsed(BALANCE_TYPE, BalanceType::parse)?,
        foreign_id: r.opt_str(FOREIGN_ID)?.map(Reference::parse).transpose().map_err(|_| corrupt(FOREIGN_ID))?,
        notes: notes_from(&r)?,
        creator_key_id: r.opt_str(CREATOR_KEY_ID)?.map(str::to_owned),
        status: MovementStatus::parse(r.str(STATUS)?, r.opt_str(REASON)?).ok_or_else(|| corrupt(STATUS))?,
        expires_at: time(EXPIRES_ON)?,
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        updated_at: Millis::from_epoch_ms(r.number(UPDATED_AT)?),
        completed_at: time(COMPLETED_AT)?,
    })
}

/// An account as a transaction item holds it: `wallet <id> <pocket>`, `mobile <account>`, `outside`.
fn account_text(account: &Account) -> String {
    match account {
        Account::Wallet { id, pocket } => format!("wallet {id} {}", pocket.as_str()),
        Account::MobileMoney(mobile) => format!("mobile {mobile}"),
        Account::Outside => "outside".to_owned(),
    }
}

fn account_from(text: &str) -> Option<Account> {
    if text == "outside" {
        return Some(Account::Outside);
    }
    if let Some(mobile) = text.strip_prefix("mobile ") {
        return MobileMoneyAccount::parse(mobile).ok().map(Account::MobileMoney);
    }
    let (id, pocket) = text.strip_prefix("wallet ")?.split_once(' ')?;
    Some(Account::Wallet { id: BalanceId::parse(id).ok()?, pocket: PocketKind::parse(pocket)? })
}

const BEFORE: [&str; 5] =
    [BEFORE_AVAILABLE, BEFORE_LOCKED_IN, BEFORE_LOCKED_OUT, BEFORE_VOLUME_INPUT, BEFORE_VOLUME_OUTPUT];
const AFTER: [&str; 5] = [AFTER_AVAILABLE, AFTER_LOCKED_IN, AFTER_LOCKED_OUT, AFTER_VOLUME_INPUT, AFTER_VOLUME_OUTPUT];

fn pocket_values(state: &PocketState) -> [rust_decimal::Decimal; 5] {
    [state.available, state.locked_in, state.locked_out, state.volume_input, state.volume_output]
}

fn pocket_from(r: &Reader<'_>, names: [&str; 5]) -> Result<PocketState, StoreError> {
    let [available, locked_in, locked_out, volume_input, volume_output] = names;
    Ok(PocketState {
        available: r.decimal(available)?,
        locked_in: r.decimal(locked_in)?,
        locked_out: r.decimal(locked_out)?,
        volume_input: r.decimal(volume_input)?,
        volume_output: r.decimal(volume_output)?,
    })
}

/// A new transaction's item, on the condition that it does not exist yet.
pub(super) fn new_transaction_item(
    table: &str,
    project: &ProjectId,
    transaction: &Transaction,
) -> Result<TransactWriteItem, StoreError> {
    let id = &transaction.id;
    let mut item = key(keys::transaction_list_pk(project), keys::transaction_sk(id));
    item.insert(MOVEMENT_ID.into(), s(id.movement.to_string()));
    item.insert(NUMBER.into(), n(id.n));
    item.insert(CREATED_AT.into(), n(id.at.epoch_ms()));
    item.insert(KIND.into(), s(transaction.parent.as_str()));
    item.insert(WALLET_ID.into(), s(transaction.wallet.to_string()));
    item.insert(DC.into(), s(transaction.dc.as_str()));
    item.insert(AMOUNT.into(), decimal(transaction.amount.value()));
    item.insert(BALANCE_TYPE.into(), s(transaction.balance_type.as_str()));
    item.insert(SOURCE.into(), s(account_text(&transaction.source)));
    item.insert(DESTINATION.into(), s(account_text(&transaction.destination)));
    let notes = MovementNotes {
        h1: Some(transaction.h1.clone()),
        description: transaction.description.clone(),
        foreign_data: transaction.foreign_data.clone(),
    };
    item.extend(notes_attributes(&notes).into_iter().filter_map(|(k, v)| Some((k.into(), v?))));
    for (names, state) in [(BEFORE, &transaction.before), (AFTER, &transaction.after)] {
        for (name, value) in names.into_iter().zip(pocket_values(state)) {
            item.insert(name.into(), decimal(value));
        }
    }
    new_item(table, item)
}

fn transaction_from_item(item: &Item) -> Result<Transaction, StoreError> {
    let r = Reader::new(item, "transaction");
    let notes = notes_from(&r)?;
    let account =
        |name: &str| -> Result<Account, StoreError> { account_from(r.str(name)?).ok_or_else(|| corrupt(name)) };
    Ok(Transaction {
        id: TransactionId {
            at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
            movement: r.parsed(MOVEMENT_ID, Uuid::parse_str)?,
            n: r.number(NUMBER)?,
        },
        parent: r.parsed(KIND, |k| MovementKind::parse(k).ok_or(()))?,
        wallet: r.parsed(WALLET_ID, BalanceId::parse)?,
        dc: r.parsed(DC, |dc| Dc::parse(dc).ok_or(()))?,
        amount: Amount::new(r.decimal(AMOUNT)?).map_err(|_| corrupt(AMOUNT))?,
        balance_type: r.parsed(BALANCE_TYPE, BalanceType::parse)?,
        source: account(SOURCE)?,
        destination: account(DESTINATION)?,
        h1: notes.h1.ok_or_else(|| corrupt(H1_FR))?,
        before: pocket_from(&r, BEFORE)?,
        after: pocket_from(&r, AFTER)?,
        description: notes.description,
        foreign_data: notes.foreign_data,
    })
}

impl Store {
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

    /// These movements' records (strongly consistent), in the order of `ids`; missing ones
    /// are left out. One BatchGetItem per 100.
    pub async fn read_movements(&self, project: &ProjectId, ids: &[Uuid]) -> Result<Vec<Movement>, StoreError> {
        let keys: Vec<Item> = ids.iter().map(|id| key(keys::movement_pk(project, *id), keys::MOVEMENT_SK)).collect();
        let mut read = std::collections::HashMap::new();
        for item in batch_get(self, keys).await? {
            let r = Reader::new(&item, "movement");
            let pk = r.str(PK)?;
            let id = pk.rsplit_once("#M#").and_then(|(_, id)| Uuid::parse_str(id).ok()).ok_or_else(|| corrupt(PK))?;
            read.insert(id, movement_from_item(id, &item)?);
        }
        Ok(ids.iter().filter_map(|id| read.remove(id)).collect())
    }

    /// A page of one kind's list (`reference`: only the movements with that foreign id).
    pub async fn movement_list_page(
        &self,
        project: &ProjectId,
        kind: MovementKind,
        reference: Option<&Reference>,
        range: &ListRange,
        limit: usize,
    ) -> Result<ListPage<Uuid>, StoreError> {
        let pk = match reference {
            Some(reference) => keys::movement_reference_pk(project, kind, reference),
            None => keys::movement_list_pk(project, kind),
        };
        let (items, more) = self.list_page(pk, range, limit).await?;
        let page = items
            .iter()
            .map(|item| {
                let r = Reader::new(item, "movement list");
                Ok((r.str(SK)?.to_owned(), r.parsed(MOVEMENT_ID, Uuid::parse_str)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(ListPage { items: page, more })
    }

    /// Changes a movement's notes; `None` when there is no such movement.
    pub async fn update_movement_notes(
        &self,
        project: &ProjectId,
        id: Uuid,
        patch: &NotesPatch,
        now: Millis,
    ) -> Result<Option<Movement>, StoreError> {
        let update = notes_update(patch).set(UPDATED_AT, n(now.epoch_ms()));
        let item = self.update_notes(key(keys::movement_pk(project, id), keys::MOVEMENT_SK), update).await?;
        item.map(|item| movement_from_item(id, &item)).transpose()
    }

    pub async fn read_transaction(
        &self,
        project: &ProjectId,
        id: &TransactionId,
    ) -> Result<Option<Transaction>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::transaction_list_pk(project), keys::transaction_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(transaction_from_item).transpose()
    }

    /// A page of the project's transactions, in commit order.
    pub async fn transaction_page(
        &self,
        project: &ProjectId,
        range: &ListRange,
        limit: usize,
    ) -> Result<ListPage<Transaction>, StoreError> {
        let (items, more) = self.list_page(keys::transaction_list_pk(project), range, limit).await?;
        let page = items
            .iter()
            .map(|item| Ok((Reader::new(item, "transaction").str(SK)?.to_owned(), transaction_from_item(item)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(ListPage { items: page, more })
    }

    /// The transactions one step of a movement wrote (all of them have the step's time, which
    /// is the movement's `updatedAt` after it): one Query of a narrow sort-key range.
    pub async fn step_transactions(
        &self,
        project: &ProjectId,
        movement: Uuid,
        at: Millis,
    ) -> Result<Vec<Transaction>, StoreError> {
        let prefix = format!("{:016}#{movement}#", at.epoch_ms().max(0));
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(keys::transaction_list_pk(project)))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        output.items().iter().map(transaction_from_item).collect()
    }

    /// Changes a transaction's notes; `None` when there is no such transaction.
    pub async fn update_transaction_notes(
        &self,
        project: &ProjectId,
        id: &TransactionId,
        patch: &NotesPatch,
    ) -> Result<Option<Transaction>, StoreError> {
        let item_key = key(keys::transaction_list_pk(project), keys::transaction_sk(id));
        let item = self.update_notes(item_key, notes_update(patch)).await?;
        item.as_ref().map(transaction_from_item).transpose()
    }

    /// Up to `limit` items of a list partition after `range.after`, and whether more follow
    /// (one Query of `limit + 1`).
    async fn list_page(&self, pk: String, range: &ListRange, limit: usize) -> Result<(Vec<Item>, bool), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk.clone()))
            .scan_index_forward(!range.descending)
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
        if let Some(after) = &range.after {
            query = query.set_exclusive_start_key(Some(key(pk, after.clone())));
        }
        let output = query.send().await.map_err(|e| StoreError::sdk("Query", e))?;
        let mut items = output.items.unwrap_or_default();
        let more = items.len() > limit;
        items.truncate(limit);
        Ok((items, more))
    }

    /// Applies `update` to the item at `key` if it exists, and returns it as it is then.
    async fn update_notes(&self, item_key: Item, mut update: Update) -> Result<Option<Item>, StoreError> {
        let pk = update.name(PK);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key))
            .update_expression(update.expression())
            .condition_expression(format!("attribute_exists({pk})"))
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values).filter(|values| !values.is_empty()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.attributes),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(None)
            }
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }
}
