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
pub use super::names::Checksum;
use sha2::{Digest, Sha256};

impl Checksum {
    pub fn genesis(balance: BalanceId) -> Self {
        Self::from_stored(hex::encode(Sha256::digest(balance.to_string().as_bytes())))
    }

    /// The chain value after `entry`, given the value before it (`entry.checksum` itself is
    /// not part of the input).
    pub fn next(&self, entry: &Entry) -> Self {
        let optional = |value: Option<String>| value.unwrap_or_default();
        let lines = [
            self.as_str().to_owned(),
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
        Self::from_stored(hex::encode(Sha256::digest(lines.join("\n").as_bytes())))
    }
}

impl Entry {
    /// Fills in the checksum: the chain value after this entry, given the one before it.
    pub fn sealed(mut self, previous: &Checksum) -> Self {
        self.checksum = previous.next(&self);
        self
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
            return Err(ChainError::Mismatch {
                seq: entry.seq,
                found: entry.checksum.as_str().to_owned(),
                expected: expected.as_str().to_owned(),
            });
        }
        current = expected;
    }
    if &current != head_checksum {
        return Err(ChainError::Head {
            found: head_checksum.as_str().to_owned(),
            expected: current.as_str().to_owned(),
        });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::entry::EntryKind;
    use crate::domain::names::{Subject, TxId};
    use crate::domain::time::Millis;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use uuid::Uuid;

    fn entry(seq: u64, amount: i64, previous: &Checksum) -> Entry {
        Entry {
            seq,
            id: TxId::new(Uuid::from_u128(seq as u128 | (4 << 76))),
            kind: EntryKind::Inc,
            amount: Decimal::new(amount, 2),
            created_at: Millis::from_epoch_ms(1_000 + seq as i64),
            request_time: Millis::from_epoch_ms(1_000 + seq as i64),
            expired_at: None,
            session: format!("session-{seq}"),
            main_tx_id: None,
            subject: Subject::parse("why").unwrap(),
            balance_after: Decimal::new(amount * seq as i64, 2),
            checksum: previous.clone(),
        }
        .sealed(previous)
    }

    fn chain(balance: BalanceId, amounts: &[i64]) -> Vec<Entry> {
        let mut previous = Checksum::genesis(balance);
        amounts
            .iter()
            .enumerate()
            .map(|(i, amount)| {
                let entry = entry(i as u64 + 1, *amount, &previous);
                previous = entry.checksum.clone();
                entry
            })
            .collect()
    }

    #[test]
    fn the_formula_is_sha256_over_newline_joined_fields() {
        let balance = BalanceId::parse("6f9619ff-8b86-4d01-b42d-00cf4fc964ff").unwrap();
        let genesis = Checksum::genesis(balance);
        assert_eq!(genesis.as_str(), hex::encode(Sha256::digest(b"6f9619ff-8b86-4d01-b42d-00cf4fc964ff")));
        let first = entry(1, 1050, &genesis);
        let text = format!("{}\n{}\nINC\n10.5\n10.5\n1001\n1001\n\nsession-1\n\nwhy", genesis.as_str(), first.id);
        assert_eq!(first.checksum.as_str(), hex::encode(Sha256::digest(text.as_bytes())));
    }

    proptest! {
        #[test]
        fn any_stored_history_recomputes_and_any_change_is_caught(
            amounts in proptest::collection::vec(1i64..1_000_000, 1..30),
            victim in any::<proptest::sample::Index>(),
            delta in 1i64..100,
        ) {
            let balance = BalanceId::new(Uuid::new_v4());
            let entries = chain(balance, &amounts);
            let head = entries.last().unwrap().checksum.clone();
            prop_assert_eq!(verify(balance, &entries, &head), Ok(entries.len() as u64));

            let mut tampered = entries.clone();
            let i = victim.index(tampered.len());
            tampered[i].amount += Decimal::new(delta, 2);
            let caught_at = match verify(balance, &tampered, &head) {
                Err(ChainError::Mismatch { seq, .. }) => Some(seq),
                _ => None,
            };
            prop_assert_eq!(caught_at, Some(i as u64 + 1));

            let other = BalanceId::new(Uuid::new_v4());
            prop_assert!(verify(other, &entries, &head).is_err(), "a history cannot be passed off as another balance's");

            let mut gapped = entries.clone();
            if gapped.len() > 1 {
                gapped.remove(0);
                let gap = matches!(verify(balance, &gapped, &head), Err(ChainError::Gap { .. }));
                prop_assert!(gap);
            }
        }
    }
}
