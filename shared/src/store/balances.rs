//! The balance head item: reading it, creating it, and its attributes.

use super::attribute_names::{
    BALANCE_AMOUNT, BALANCE_ID, BALANCE_MIN_LIMIT, BALANCE_NAME, BALANCE_TYPE, CREATED_AT, CREDITS_DEBT, CREDITS_LIVE,
    IN_PROGRESS, LOCKED_IN, LOCKED_OUT, LOCK_EXPIRES_AT, LOCK_OWNER, NEXT_EXPIRY, PROJECT_ID, TRANSACTIONS_CHECKSUM,
    TRANSACTIONS_COUNT, UPDATED_AT, UPDATE_TOKEN, VERSION, VOLUME_INPUT, VOLUME_OUTPUT, VOLUME_TOTAL,
    WALLET_CREATOR_KEY_ID, WALLET_DESCRIPTION, WALLET_FOREIGN_DATA, WALLET_FOREIGN_ID, WALLET_IS_MAIN, WALLET_MAN,
    WALLET_MARS, WALLET_NAME,
};
use super::attributes::{boolean, decimal, n, s, Item, Reader, Update};
use super::keys::{self, HEAD_SK, PK, SK};
use super::{Store, StoreError};
use crate::domain::balance::{Balance, Credits, Pockets};
use crate::domain::checksum::Checksum;
use crate::domain::money::MinLimit;
use crate::domain::names::{BalanceId, BalanceName, BalanceType, ProjectId, UpdateToken};
use crate::domain::time::Millis;
use crate::domain::wallet_numbers::{Man, Mars, WalletNumbers};
use crate::domain::wallets::{Description, ForeignData, ForeignId, WalletInfo, WalletName};
use aws_sdk_dynamodb::types::AttributeValue;

/// The head item as stored: the balance plus the lock and a write counter.
#[derive(Debug, Clone)]
pub struct HeadRecord {
    pub balance: Balance,
    /// Incremented by every commit; lets stream consumers and operators order head images.
    pub version: u64,
    pub lock: Option<LockHolder>,
    /// The wallet attributes, when the balance is a wallet.
    pub wallet: Option<WalletInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub owner: String,
    pub expires_at: Millis,
}

impl HeadRecord {
    /// `transactionInProgress` as a reader should see it: a lease that ran out is no lock.
    pub fn in_progress(&self, now: Millis) -> bool {
        self.lock.as_ref().is_some_and(|lock| lock.expires_at > now)
    }

    pub(super) fn from_item(item: &Item) -> Result<Self, StoreError> {
        let r = Reader::new(item, "balance");
        let balance = Balance {
            project_id: r.parsed(PROJECT_ID, ProjectId::parse)?,
            id: r.parsed(BALANCE_ID, BalanceId::parse)?,
            balance_type: r.parsed(BALANCE_TYPE, BalanceType::parse)?,
            name: r.parsed(BALANCE_NAME, BalanceName::parse)?,
            min_limit: MinLimit::new(r.decimal(BALANCE_MIN_LIMIT)?)
                .map_err(|_| StoreError::Corrupt(format!("balance attribute {BALANCE_MIN_LIMIT}: positive")))?,
            amount: r.decimal(BALANCE_AMOUNT)?,
            transactions_count: r.number(TRANSACTIONS_COUNT)?,
            checksum: Checksum::from_stored(r.str(TRANSACTIONS_CHECKSUM)?.to_owned()),
            update_token: UpdateToken::from_stored(r.str(UPDATE_TOKEN)?.to_owned()),
            created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
            updated_at: Millis::from_epoch_ms(r.number(UPDATED_AT)?),
            credits: Credits {
                live: r.decimal(CREDITS_LIVE)?,
                debt: r.decimal(CREDITS_DEBT)?,
                next_expiry: r.opt_number(NEXT_EXPIRY)?.map(Millis::from_epoch_ms),
            },
            // Heads written before wallets existed have none of these: all zero.
            pockets: Pockets {
                locked_in: r.opt_decimal(LOCKED_IN)?.unwrap_or_default(),
                locked_out: r.opt_decimal(LOCKED_OUT)?.unwrap_or_default(),
                volume_input: r.opt_decimal(VOLUME_INPUT)?.unwrap_or_default(),
                volume_output: r.opt_decimal(VOLUME_OUTPUT)?.unwrap_or_default(),
            },
        };
        let lock = match (r.opt_str(LOCK_OWNER)?, r.opt_number::<i64>(LOCK_EXPIRES_AT)?) {
            (Some(owner), Some(expires_at)) => {
                Some(LockHolder { owner: owner.to_owned(), expires_at: Millis::from_epoch_ms(expires_at) })
            }
            _ => None,
        };
        Ok(Self { balance, version: r.number(VERSION)?, lock, wallet: wallet_info(item)? })
    }
}

/// The wallet attributes (`None`: absent, so an update removes them).
pub(super) fn wallet_attributes(info: &WalletInfo) -> [(&'static str, Option<AttributeValue>); 8] {
    [
        (WALLET_MARS, Some(s(info.numbers.mars.as_str()))),
        (WALLET_MAN, Some(s(info.numbers.man.as_str()))),
        (WALLET_NAME, Some(s(info.name.as_str()))),
        (WALLET_DESCRIPTION, info.description.as_ref().map(|d| s(d.as_str()))),
        (WALLET_FOREIGN_ID, info.foreign_id.as_ref().map(|f| s(f.as_str()))),
        (WALLET_FOREIGN_DATA, info.foreign_data.as_ref().map(|f| s(f.as_str()))),
        (WALLET_IS_MAIN, Some(boolean(info.is_main))),
        (WALLET_CREATOR_KEY_ID, info.creator_key_id.as_ref().map(s)),
    ]
}

/// The wallet attributes of an item, if it has them (a plain balance's head has not).
pub(super) fn wallet_info(item: &Item) -> Result<Option<WalletInfo>, StoreError> {
    let r = Reader::new(item, "wallet");
    let Some(name) = r.opt_str(WALLET_NAME)? else {
        return Ok(None);
    };
    Ok(Some(WalletInfo {
        name: WalletName::parse(name).map_err(|_| corrupt(WALLET_NAME))?,
        description: r
            .opt_str(WALLET_DESCRIPTION)?
            .map(Description::parse)
            .transpose()
            .map_err(|_| corrupt(WALLET_DESCRIPTION))?,
        foreign_id: r
            .opt_str(WALLET_FOREIGN_ID)?
            .map(ForeignId::parse)
            .transpose()
            .map_err(|_| corrupt(WALLET_FOREIGN_ID))?,
        foreign_data: r
            .opt_str(WALLET_FOREIGN_DATA)?
            .map(ForeignData::parse)
            .transpose()
            .map_err(|_| corrupt(WALLET_FOREIGN_DATA))?,
        is_main: matches!(item.get(WALLET_IS_MAIN), Some(AttributeValue::Bool(true))),
        creator_key_id: r.opt_str(WALLET_CREATOR_KEY_ID)?.map(str::to_owned),
        numbers: WalletNumbers {
            mars: Mars::parse(r.str(WALLET_MARS)?).ok_or_else(|| corrupt(WALLET_MARS))?,
            man: Man::parse(r.str(WALLET_MAN)?).ok_or_else(|| corrupt(WALLET_MAN))?,
        },
    }))
}

fn corrupt(attribute: &str) -> StoreError {
    StoreError::Corrupt(format!("wallet attribute {attribute}: not valid"))
}

/// The balance's own attributes (`None`: absent). Commits write them all, so the sum of the
/// volumes (a key of the `mainPocket.volume.total` sort index) rides in the commit's own
/// update: no call of its own.
fn balance_attributes(balance: &Balance, version: u64) -> [(&'static str, Option<AttributeValue>); 20] {
    [
        (PROJECT_ID, Some(s(balance.project_id.as_str()))),
        (BALANCE_ID, Some(s(balance.id.to_string()))),
        (BALANCE_TYPE, Some(s(balance.balance_type.as_str()))),
        (BALANCE_NAME, Some(s(balance.name.as_str()))),
        (BALANCE_MIN_LIMIT, Some(decimal(balance.min_limit.value()))),
        (BALANCE_AMOUNT, Some(decimal(balance.amount))),
        (TRANSACTIONS_COUNT, Some(n(balance.transactions_count))),
        (TRANSACTIONS_CHECKSUM, Some(s(balance.checksum.as_str()))),
        (UPDATE_TOKEN, Some(s(balance.update_token.as_str()))),
        (CREATED_AT, Some(n(balance.created_at.epoch_ms()))),
        (UPDATED_AT, Some(n(balance.updated_at.epoch_ms()))),
        (CREDITS_LIVE, Some(decimal(balance.credits.live))),
        (CREDITS_DEBT, Some(decimal(balance.credits.debt))),
        (NEXT_EXPIRY, balance.credits.next_expiry.map(|at| n(at.epoch_ms()))),
        (VERSION, Some(n(version))),
        (LOCKED_IN, Some(decimal(balance.pockets.locked_in))),
        (LOCKED_OUT, Some(decimal(balance.pockets.locked_out))),
        (VOLUME_INPUT, Some(decimal(balance.pockets.volume_input))),
        (VOLUME_OUTPUT, Some(decimal(balance.pockets.volume_output))),
        // Volumes stay below 10^15 each; were a sum ever to overflow, the head would only be
        // missing from that one sort index.
        (VOLUME_TOTAL, balance.pockets.volume_input.checked_add(balance.pockets.volume_output).map(decimal)),
    ]
}

/// Commits rewrite every balance attribute with one update, leaving attributes they do not
/// know about alone.
pub(super) fn balance_update(balance: &Balance, version: u64) -> Update {
    balance_attributes(balance, version)
        .into_iter()
        .fold(Update::default(), |update, (name, value)| update.set_opt(name, value))
}

pub(super) fn new_head_item(balance: &Balance) -> Item {
    let mut item: Item = balance_attributes(balance, 0)
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_owned(), value?)))
        .collect();
    item.insert(PK.into(), s(keys::balance_pk(&balance.project_id, balance.id)));
    item.insert(SK.into(), s(HEAD_SK));
    item.insert(IN_PROGRESS.into(), boolean(false));
    item
}

impl Store {
    /// A strongly consistent read of the head: one round trip.
    pub async fn read_head(&self, project: &ProjectId, id: BalanceId) -> Result<Option<HeadRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::balance_pk(project, id)))
            .key(SK, s(HEAD_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(HeadRecord::from_item).transpose()
    }
}
