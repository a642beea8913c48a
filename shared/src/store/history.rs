//! History entries: items, single reads and pages.

use super::attribute_names::{
    AMOUNT, BALANCE_AFTER, CHECKSUM, CREATED_AT, EXPIRED_AT, ID, MAIN_TX_ID, REQUEST_TIME, SEQ, SESSION, SUBJECT, TYPE,
};
use super::attributes::{decimal, n, s, Item, Reader};
use super::balances::HeadRecord;
use super::keys::{self, HEAD_SK, HISTORY_FIRST, PK, SK};
use super::{Store, StoreError};
use crate::domain::checksum::Checksum;
use crate::domain::entry::{Entry, EntryKind};
use crate::domain::names::{BalanceId, ProjectId, Subject, TxId};
use crate::domain::time::Millis;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub(super) fn entry_item(project: &ProjectId, balance: BalanceId, entry: &Entry) -> Item {
    let mut item = Item::from([
        (PK.to_owned(), s(keys::balance_pk(project, balance))),
        (SK.to_owned(), s(keys::history_sk(entry.seq))),
        (SEQ.to_owned(), n(entry.seq)),
        (ID.to_owned(), s(entry.id.to_string())),
        (TYPE.to_owned(), s(entry.kind.as_str())),
        (AMOUNT.to_owned(), decimal(entry.amount)),
        (CREATED_AT.to_owned(), n(entry.created_at.epoch_ms())),
        (REQUEST_TIME.to_owned(), n(entry.request_time.epoch_ms())),
        (SESSION.to_owned(), s(&entry.session)),
        (BALANCE_AFTER.to_owned(), decimal(entry.balance_after)),
        (CHECKSUM.to_owned(), s(entry.checksum.as_str())),
    ]);
    if let Some(at) = entry.expired_at {
        item.insert(EXPIRED_AT.to_owned(), n(at.epoch_ms()));
    }
    if let Some(main) = entry.main_tx_id {
        item.insert(MAIN_TX_ID.to_owned(), s(main.to_string()));
    }
    if let Some(subject) = &entry.subject {
        item.insert(SUBJECT.to_owned(), s(subject.as_str()));
    }
    item
}

pub(super) fn entry_from_item(item: &Item) -> Result<Entry, StoreError> {
    let r = Reader::new(item, "history entry");
    let subject = match r.opt_str(SUBJECT)? {
        Some(text) => Subject::parse(text).map_err(|_| StoreError::Corrupt(format!("history entry {SUBJECT}")))?,
        None => None,
    };
    Ok(Entry {
        seq: r.number(SEQ)?,
        id: r.parsed(ID, TxId::parse)?,
        kind: r.parsed(TYPE, |t| EntryKind::parse(t).ok_or(()))?,
        amount: r.decimal(AMOUNT)?,
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        request_time: Millis::from_epoch_ms(r.number(REQUEST_TIME)?),
        expired_at: r.opt_number(EXPIRED_AT)?.map(Millis::from_epoch_ms),
        session: r.str(SESSION)?.to_owned(),
        main_tx_id: r
            .opt_str(MAIN_TX_ID)?
            .map(TxId::parse)
            .transpose()
            .map_err(|_| StoreError::Corrupt(format!("history entry {MAIN_TX_ID}")))?,
        subject,
        balance_after: r.decimal(BALANCE_AFTER)?,
        checksum: Checksum::from_stored(r.str(CHECKSUM)?.to_owned()),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// One page of history, and the head when the page reached it.
#[derive(Debug)]
pub struct HistoryPage {
    pub head: Option<HeadRecord>,
    pub entries: Vec<Entry>,
    /// More entries follow in this order.
    pub more: bool,
}

impl Store {
    pub async fn entry(&self, project: &ProjectId, balance: BalanceId, seq: u64) -> Result<Option<Entry>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::balance_pk(project, balance)))
            .key(SK, s(keys::history_sk(seq)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(entry_from_item).transpose()
    }

    /// Up to `size` entries after sequence number `after` in `order` (from the newest or the
    /// oldest when `after` is `None`), in one Query.
    ///
    /// The range reaches up to the head, which sorts just after the newest entry: descending
    /// from the start it is the first item, ascending it is the last, so the page that holds
    /// the newest entries also proves the balance exists (and is the caller's) at no extra
    /// cost. Pages further on need no such proof: their token was issued for this balance.
    pub async fn history_page(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        order: Order,
        after: Option<u64>,
        size: usize,
    ) -> Result<HistoryPage, StoreError> {
        let (from, to) = match (order, after) {
            (_, None) => (HISTORY_FIRST.to_owned(), HEAD_SK.to_owned()),
            (Order::Desc, Some(seq)) => (HISTORY_FIRST.to_owned(), keys::history_sk(seq.saturating_sub(1))),
            (Order::Asc, Some(seq)) => (keys::history_sk(seq.saturating_add(1)), HEAD_SK.to_owned()),
        };
        // One extra entry tells whether another page follows; one more for the head.
        let wanted = size + 1 + usize::from(after.is_none());
        let mut items: Vec<Item> = Vec::with_capacity(wanted);
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            // Usually one call: a page of up to 1,000 entries stays under Query's 1 MB cap.
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("{PK} = :pk AND {SK} BETWEEN :from AND :to"))
                .expression_attribute_values(":pk", s(keys::balance_pk(project, balance)))
                .expression_attribute_values(":from", s(&from))
                .expression_attribute_values(":to", s(&to))
                .scan_index_forward(order == Order::Asc)
                .consistent_read(true)
                .limit(i32::try_from(wanted - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if items.len() < wanted => start = Some(key),
                _ => break,
            }
        }
        let mut head = None;
        let mut entries = Vec::with_capacity(items.len());
        for item in &items {
            if item.get(SK).and_then(|sk| sk.as_s().ok()).is_some_and(|sk| sk == HEAD_SK) {
                head = Some(HeadRecord::from_item(item)?);
            } else {
                entries.push(entry_from_item(item)?);
            }
        }
        let more = entries.len() > size;
        entries.truncate(size);
        Ok(HistoryPage { head, entries, more })
    }

    /// The whole history in sequence order (for verification, not for requests).
    pub async fn full_history(&self, project: &ProjectId, balance: BalanceId) -> Result<Vec<Entry>, StoreError> {
        let mut entries = Vec::new();
        let mut after = None;
        loop {
            let page = self.history_page(project, balance, Order::Asc, after, 1000).await?;
            after = page.entries.last().map(|e| e.seq);
            entries.extend(page.entries);
            if !page.more {
                return Ok(entries);
            }
        }
    }
}
