//! Expiring-credit items, read in expiry order.

use super::attribute_names::{EXPIRY, REMAINING, SEQ, TX_ID};
use super::attributes::{decimal, n, s, Item, Reader};
use super::keys::{self, LOTS_FIRST, LOTS_LAST, PK, SK};
use super::{Store, StoreError};
use crate::domain::balance::Lot;
use crate::domain::names::{BalanceId, ProjectId, TxId};
use crate::domain::time::Millis;

pub(super) fn lot_item(project: &ProjectId, balance: BalanceId, lot: &Lot) -> Item {
    Item::from([
        (PK.to_owned(), s(keys::balance_pk(project, balance))),
        (SK.to_owned(), s(keys::lot_sk(lot))),
        (SEQ.to_owned(), n(lot.seq)),
        (TX_ID.to_owned(), s(lot.tx_id.to_string())),
        (EXPIRY.to_owned(), n(lot.expires_at.epoch_ms())),
        (REMAINING.to_owned(), decimal(lot.remaining)),
    ])
}

fn lot_from_item(item: &Item) -> Result<Lot, StoreError> {
    let r = Reader::new(item, "credit");
    Ok(Lot {
        seq: r.number(SEQ)?,
        tx_id: r.parsed(TX_ID, TxId::parse)?,
        expires_at: Millis::from_epoch_ms(r.number(EXPIRY)?),
        remaining: r.decimal(REMAINING)?,
    })
}

impl Store {
    /// Up to `limit` credits after `after` (or from the first), soonest expiry first, and
    /// whether these are the last ones.
    pub async fn credits_page(
        &self,
        project: &ProjectId,
        balance: BalanceId,
        after: Option<&Lot>,
        limit: usize,
    ) -> Result<(Vec<Lot>, bool), StoreError> {
        // Ask for one more than wanted: its presence tells whether more remain.
        let from = match after {
            Some(lot) => format!("{}!", keys::lot_sk(lot)),
            None => LOTS_FIRST.to_owned(),
        };
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("{PK} = :pk AND {SK} BETWEEN :from AND :to"))
            .expression_attribute_values(":pk", s(keys::balance_pk(project, balance)))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(LOTS_LAST))
            .consistent_read(true)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| StoreError::sdk("Query", e))?;
        let mut lots = output.items().iter().map(lot_from_item).collect::<Result<Vec<_>, _>>()?;
        let complete = lots.len() <= limit && output.last_evaluated_key.is_none();
        lots.truncate(limit);
        Ok((lots, complete))
    }
}
