//! History entries: the append-only record of every change to a balance.

use super::names::{Checksum, Subject, TxId};
use super::time::Millis;
use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Inc,
    Dec,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Inc => "INC",
            EntryKind::Dec => "DEC",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "INC" => Some(EntryKind::Inc),
            "DEC" => Some(EntryKind::Dec),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the balance's history, from 1; also its sort key.
    pub seq: u64,
    pub id: TxId,
    pub kind: EntryKind,
    pub amount: Decimal,
    /// When the change took effect: the request time, or for an expiry the credit's expiry.
    pub created_at: Millis,
    /// When the request that wrote the entry arrived.
    pub request_time: Millis,
    /// On an INC that carried `ttlInSeconds`: when the credit expires.
    pub expired_at: Option<Millis>,
    /// The request's idempotency key, or a fresh UUID v4.
    pub session: String,
    /// On an expiry entry: the INC whose credit it removes.
    pub main_tx_id: Option<TxId>,
    pub subject: Option<Subject>,
    pub balance_after: Decimal,
    pub checksum: Checksum,
}
