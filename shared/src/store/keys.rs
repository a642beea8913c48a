//! Every partition and sort key of the table, in one place.
//!
//! One balance is one partition, `P#<project>#B#<balanceId>`, holding:
//! - history entries `T#<seq, 20 digits>`, in sequence order;
//! - the head `T$`: `$` sorts right after `#`, so the head is the item just past the newest
//!   entry. One descending Query from the head reads the head and the newest page of history
//!   together (existence, tenancy and the page in one round trip);
//! - expiring credits `L#<expiry ms, 16 digits>#<seq, 20 digits>`, soonest expiry first.
//!
//! The project comes first in every tenant-owned key and always from the authenticated
//! caller, so another project's ids simply address items that do not exist.

use crate::domain::balance::Lot;
use crate::domain::movements::{MovementKind, Reference};
use crate::domain::names::{BalanceId, IdempotencyKey, ProjectId};
use crate::domain::transactions::TransactionId;
use crate::domain::wallet_accounts::{CustomerId, Gateway, OrderId, TxnId, WalletAccountId};
use crate::domain::wallet_numbers::{Man, Mars};
use crate::domain::wallets::ForeignId;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// The TTL attribute; only ephemeral items (idempotency records, wallet tokens) carry it.
pub const TTL: &str = "expiresAt";

/// The condition that an item does not exist yet: every item has a `pk`.
pub(super) fn item_absent() -> String {
    format!("attribute_not_exists({PK})")
}

/// The condition that an item exists.
pub(super) fn item_present() -> String {
    format!("attribute_exists({PK})")
}

pub const HEAD_SK: &str = "T$";
pub const HISTORY_FIRST: &str = "T#";
pub const LOTS_FIRST: &str = "L#";
pub const LOTS_LAST: &str = "L$";

pub fn balance_pk(project: &ProjectId, balance: BalanceId) -> String {
    format!("P#{project}#B#{balance}")
}

pub fn history_sk(seq: u64) -> String {
    format!("T#{seq:020}")
}

pub fn lot_sk(lot: &Lot) -> String {
    format!("L#{:016}#{:020}", lot.expires_at.epoch_ms().max(0), lot.seq)
}

/// API keys are looked up by the SHA-256 of the key; the key itself is never stored.
pub fn api_key_pk(key_hash_hex: &str) -> String {
    format!("K#{key_hash_hex}")
}

pub const API_KEY_SK: &str = "K";

/// A project's keys, one item per key id holding the key's hash: listing, revoking and
/// rotating name a key by its id.
pub fn api_key_index_pk(project: &ProjectId) -> String {
    format!("P#{project}#KEYS")
}

/// A key's request count in one rate window (`<window start ms>`), which expires by TTL.
pub fn rate_window_pk(project: &ProjectId, key_id: &str) -> String {
    format!("P#{project}#RL#{key_id}")
}

pub fn idempotency_pk(project: &ProjectId, key: &IdempotencyKey) -> String {
    format!("P#{project}#I#{key}")
}

pub const IDEMPOTENCY_SK: &str = "I";

/// A customer's wallet accounts: one partition per customer, one item per gateway, so the
/// list is one Query of at most four items and "one account per gateway" is a key condition.
pub fn customer_pk(project: &ProjectId, customer: &CustomerId) -> String {
    format!("P#{project}#C#{customer}")
}

pub fn wallet_account_sk(gateway: Gateway) -> String {
    format!("W#{gateway}")
}

pub const WALLET_ACCOUNTS_FIRST: &str = "W#";

/// A wallet token, by its SHA-256 (the token itself is never stored).
pub fn wallet_token_pk(project: &ProjectId, token_hash_hex: &str) -> String {
    format!("P#{project}#WT#{token_hash_hex}")
}

pub const WALLET_TOKEN_SK: &str = "WT";

pub fn order_pk(project: &ProjectId, order: &OrderId) -> String {
    format!("P#{project}#O#{order}")
}

pub const ORDER_SK: &str = "O";

/// A project's orders, newest last: `<created ms, 16 digits>#<order id>`, for the list.
pub fn order_index_pk(project: &ProjectId) -> String {
    format!("P#{project}#OL")
}

pub fn order_index_sk(created_ms: i64, order: &OrderId) -> String {
    format!("{created_ms:016}#{order}")
}

/// A customer's own item, in the partition of its wallet accounts.
pub const CUSTOMER_SK: &str = "CU";

/// The merchant's `object_reference_id` → our customer id.
pub fn customer_reference_pk(project: &ProjectId, reference: &CustomerId) -> String {
    format!("P#{project}#CR#{reference}")
}

pub const CUSTOMER_REFERENCE_SK: &str = "CR";

/// A wallet account's id → its customer and gateway: `POST /wallets/{wallet_id}` names no
/// customer.
pub fn wallet_account_id_pk(project: &ProjectId, id: &WalletAccountId) -> String {
    format!("P#{project}#WA#{id}")
}

pub const WALLET_ACCOUNT_ID_SK: &str = "WA";

/// Our transaction id → its project and order: providers' callbacks and the sandbox's top-up
/// page know only the transaction. The id is 128 random bits, so it needs no tenant prefix.
pub fn txn_pk(txn: &TxnId) -> String {
    format!("X#{txn}")
}

pub const TXN_SK: &str = "X";

/// A project's wallet index: one item per wallet, sorted by creation time then id.
pub fn wallet_index_pk(project: &ProjectId) -> String {
    format!("P#{project}#WL")
}

/// A wallet's foreign id → its id; the item's existence is what makes the foreign id unique.
pub fn foreign_id_pk(project: &ProjectId, foreign_id: &ForeignId) -> String {
    format!("P#{project}#F#{foreign_id}")
}

pub const FOREIGN_ID_SK: &str = "F";

/// The items that make a wallet's `mars` and `man` unique in its project and name it: their
/// sort key is [`FOREIGN_ID_SK`] too, each holds the wallet id.
pub fn mars_pk(project: &ProjectId, mars: &Mars) -> String {
    format!("P#{project}#MARS#{mars}")
}

pub fn man_pk(project: &ProjectId, man: &Man) -> String {
    format!("P#{project}#MAN#{man}")
}

/// A deposit's, transfer's, quasi-transfer's or fund request's record.
pub fn movement_pk(project: &ProjectId, movement: uuid::Uuid) -> String {
    format!("P#{project}#M#{movement}")
}

pub const MOVEMENT_SK: &str = "M";

/// A project's movements of one kind, oldest first: `<created ms, 16 digits>#<id>`.
pub fn movement_list_pk(project: &ProjectId, kind: MovementKind) -> String {
    format!("P#{project}#ML#{}", kind.as_str())
}

/// The movements of one kind with one foreign id (which need not be unique), oldest first:
/// `<created ms, 16 digits>#<id>`.
pub fn movement_reference_pk(project: &ProjectId, kind: MovementKind, reference: &Reference) -> String {
    format!("P#{project}#MR#{}#{reference}", kind.as_str())
}

pub fn movement_list_sk(created_ms: i64, movement: uuid::Uuid) -> String {
    format!("{:016}#{movement}", created_ms.max(0))
}

/// A project's transactions, in commit order; each item is a transaction.
pub fn transaction_list_pk(project: &ProjectId) -> String {
    format!("P#{project}#TL")
}

pub fn transaction_sk(id: &TransactionId) -> String {
    format!("{:016}#{}#{:03}", id.at.epoch_ms().max(0), id.movement, id.n)
}

/// Pending movements with an expiry, soonest first, for the sweeper that expires them: spread
/// over a few partitions so that no one partition takes every creation's write.
pub const EXPIRY_SHARDS: u8 = 8;

pub fn expiry_pk(shard: u8) -> String {
    format!("S#EXPIRY#{shard}")
}

pub fn expiry_shard(movement: uuid::Uuid) -> u8 {
    movement.as_bytes()[15] % EXPIRY_SHARDS
}

pub fn expiry_sk(expires_ms: i64, project: &ProjectId, movement: uuid::Uuid) -> String {
    format!("{:016}#{project}#{movement}", expires_ms.max(0))
}

/// A project's webhook endpoints, one item per endpoint (sk: its id): one Query lists them.
pub fn webhook_pk(project: &ProjectId) -> String {
    format!("P#{project}#WH")
}

/// The deliveries to one endpoint, one item per event (sk: the event id), so a delivery is
/// created once per (endpoint, event) by a conditional put.
pub fn delivery_pk(project: &ProjectId, webhook: &crate::domain::webhooks::WebhookId) -> String {
    format!("P#{project}#WHD#{webhook}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_sorts_right_after_the_newest_entry_and_after_every_credit() {
        let newest = history_sk(u64::MAX);
        assert!(newest.as_str() < HEAD_SK);
        assert!(HISTORY_FIRST < history_sk(1).as_str());
        assert!(LOTS_LAST < HISTORY_FIRST);
        let lot = Lot {
            seq: u64::MAX,
            tx_id: crate::domain::names::TxId::new(uuid::Uuid::nil()),
            expires_at: crate::domain::time::Millis::from_epoch_ms(i64::MAX),
            remaining: rust_decimal::Decimal::ONE,
        };
        assert!(LOTS_FIRST < lot_sk(&lot).as_str() && lot_sk(&lot).as_str() < LOTS_LAST);
    }
}
