//! The SHA-256 checksum chain over a balance's history.
//!
//! `checksum(n) = hex(SHA-256(lines))` where `lines` joins, with `\n` and no trailing newline:
//! `checksum(n-1)`, `id`, `type`, `amount`, `balanceAfter`, `createdAt`, `requestTimeEpoch`,
//! `expiredAt`, `session`, `mainTxId`, `subject`. Amounts are in canonical form (no exponent,
//! no trailing zeros, `0` for zero), times are epoch milliseconds, absent fields are empty.
//! `checksum(0) = hex(SHA-256(balanceId))`, so one balance's history cannot be passed off as
//! another's. The README states the same formula for clients that recompute it.

use super::entry::Entry;
use super::money;
use super::names::BalanceId;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum(String);

impl Checksum {
    pub fn genesis(balance: BalanceId) -> Self {
        Self(hex::encode(Sha256::digest(balance.to_string().as_bytes())))
    }

    /// The chain value after `entry`, given the value before it (`entry.checksum` itself is
    /// not part of the input).
    pub fn next(&self, entry: &Entry) -> Self {
        let optional = |value: Option<String>| value.unwrap_or_default();
        let lines = [
            self.0.clone(),
            entry.id.to_string(),
            entry.kind.as_str().to_owned(),
            money::format(entry.amount),
            money::format(entry.balance_after),
            entry.created_at.to_string(),
            entry.request_time.to_string(),
            optional(entry.expired_at.map(|at| at.to_string())),
            entry.session.clone(),
            optional(entry.main_tx_id.map(|id| id.to_string())),
            optional(entry.subject.as_ref().map(|s| s.to_string())),
        ];
        Self(hex::encode(Sha256::digest(lines.join("\n").as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a stored history stops matching its own chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {seq}: expected sequence number {expected}")]
    Gap { seq: u64, expected: u64 },
    #[error("entry {seq}: checksum {found} does not match the recomputed {expected}")]
    Mismatch { seq: u64, found: String, expected: String },
    #[error("balance head checksum {found} does not match the chain's last value {expected}")]
    Head { found: String, expected: String },
}

/// Recomputes the chain over `entries` (in sequence order, starting at 1) and checks every
/// stored checksum and finally the head's `transactionsChecksum`.
pub fn verify<'a>(
    balance: BalanceId,
    entries: impl IntoIterator<Item = &'a Entry>,
    head_checksum: &Checksum,
) -> Result<u64, ChainError> {
    let mut current = Checksum::genesis(balance);
    let mut count = 0;
    for entry in entries {
        count += 1;
        if entry.seq != count {
            return Err(ChainError::Gap { seq: entry.seq, expected: count });
        }
        let expected = current.next(entry);
        if expected != entry.checksum {
            return Err(ChainError::Mismatch { seq: entry.seq, found: entry.checksum.0.clone(), expected: expected.0 });
        }
        current = expected;
    }
    if &current != head_checksum {
        return Err(ChainError::Head { found: head_checksum.0.clone(), expected: current.0 });
    }
    Ok(count)
}
