//! The balance head item: reading it, creating it, and its attributes.

use super::attributes::{boolean, decimal, n, s, Item, Reader, Update};
use super::idempotency::{self, IdempotencyRecord, IdempotencyWrite};
use super::keys::{self, HEAD_SK, PK, SK};
use super::wallets::wallet_info;
use super::{Store, StoreError};
use crate::domain::balance::{Balance, Credits, Pockets};
use crate::domain::checksum::Checksum;
use crate::domain::money::MinLimit;
use crate::domain::names::{BalanceId, BalanceName, BalanceType, ProjectId, UpdateToken};
use crate::domain::time::Millis;
use crate::domain::wallets::WalletInfo;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

pub(super) const LOCK_OWNER: &str = "lockOwner";
pub(super) const LOCK_EXPIRES_AT: &str = "lockExpiresAt";
pub(super) const IN_PROGRESS: &str = "transactionInProgress";
pub(super) const VERSION: &str = "version";
const LOCKED_IN: &str = "lockedIn";
const LOCKED_OUT: &str = "lockedOut";
const VOLUME_INPUT: &str = "volumeInput";
const VOLUME_OUTPUT: &str = "volumeOutput";

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
            project_id: r.parsed("projectId", ProjectId::parse)?,
            id: r.parsed("balanceId", BalanceId::parse)?,
            balance_type: r.parsed("balanceType", BalanceType::parse)?,
            name: r.parsed("balanceName", BalanceName::parse)?,
            min_limit: MinLimit::new(r.decimal("balanceMinLimit")?)
                .map_err(|_| StoreError::Corrupt("balance attribute balanceMinLimit: positive".into()))?,
            amount: r.decimal("balanceAmount")?,
            transactions_count: r.number("transactionsCount")?,
            checksum: Checksum::from_stored(r.str("transactionsChecksum")?.to_owned()),
            update_token: UpdateToken::from_stored(r.str("updateToken")?.to_owned()),
            created_at: Millis::from_epoch_ms(r.number("createdAt")?),
            updated_at: Millis::from_epoch_ms(r.number("updatedAt")?),
            credits: Credits {
                live: r.decimal("creditsLive")?,
                debt: r.decimal("creditsDebt")?,
                next_expiry: r.opt_number("nextExpiry")?.map(Millis::from_epoch_ms),
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

/// The balance's own attributes (`None`: absent).
fn balance_attributes(balance: &Balance, version: u64) -> [(&'static str, Option<AttributeValue>); 19] {
    [
        ("projectId", Some(s(balance.project_id.as_str()))),
        ("balanceId", Some(s(balance.id.to_string()))),
        ("balanceType", Some(s(balance.balance_type.as_str()))),
        ("balanceName", Some(s(balance.name.as_str()))),
        ("balanceMinLimit", Some(decimal(balance.min_limit.value()))),
        ("balanceAmount", Some(decimal(balance.amount))),
        ("transactionsCount", Some(n(balance.transactions_count))),
        ("transactionsChecksum", Some(s(balance.checksum.as_str()))),
        ("updateToken", Some(s(balance.update_token.as_str()))),
        ("createdAt", Some(n(balance.created_at.epoch_ms()))),
        ("updatedAt", Some(n(balance.updated_at.epoch_ms()))),
        ("creditsLive", Some(decimal(balance.credits.live))),
        ("creditsDebt", Some(decimal(balance.credits.debt))),
        ("nextExpiry", balance.credits.next_expiry.map(|at| n(at.epoch_ms()))),
        (VERSION, Some(n(version))),
        (LOCKED_IN, Some(decimal(balance.pockets.locked_in))),
        (LOCKED_OUT, Some(decimal(balance.pockets.locked_out))),
        (VOLUME_INPUT, Some(decimal(balance.pockets.volume_input))),
        (VOLUME_OUTPUT, Some(decimal(balance.pockets.volume_output))),
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

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// The idempotency key already has a live record (returned when DynamoDB sent it).
    #[error("idempotency key already used")]
    IdempotencyTaken(Option<IdempotencyRecord>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Writes a new balance head — with its idempotency record, in one transaction, when the
    /// request carried a key. One round trip either way.
    pub async fn insert_balance(
        &self,
        balance: &Balance,
        idempotency: Option<&IdempotencyWrite>,
    ) -> Result<(), InsertError> {
        let item = new_head_item(balance);
        let condition = "attribute_not_exists(pk)";
        let Some(record) = idempotency else {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .send()
                .await
                .map_err(|e| StoreError::sdk("PutItem", e))?;
            return Ok(());
        };
        let head = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let items = vec![
            TransactWriteItem::builder().put(head).build(),
            idempotency::put(&self.table, &balance.project_id, record)?,
        ];
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(error) => {
                let reasons = match error.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(e)) => e.cancellation_reasons().to_vec(),
                    _ => Vec::new(),
                };
                match reasons.get(1) {
                    Some(reason) if reason.code() == Some("ConditionalCheckFailed") => {
                        Err(InsertError::IdempotencyTaken(idempotency::from_reason(reason)?))
                    }
                    _ => Err(StoreError::sdk("TransactWriteItems", error).into()),
                }
            }
        }
    }

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
