//! A balance's state (what its head item holds) and its expiring credits.

use super::money::MinLimit;
use super::names::{BalanceId, BalanceName, BalanceType, Checksum, ProjectId, TxId, UpdateToken};
use super::time::Millis;
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub project_id: ProjectId,
    pub id: BalanceId,
    pub balance_type: BalanceType,
    pub name: BalanceName,
    pub min_limit: MinLimit,
    pub amount: Decimal,
    /// Number of history entries, which is also the sequence number of the newest one.
    pub transactions_count: u64,
    /// The chain value after the newest entry.
    pub checksum: Checksum,
    pub update_token: UpdateToken,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub credits: Credits,
    pub pockets: Pockets,
}

/// A wallet's view of its balance (every balance has one; plain balances simply never lock):
/// `amount` is what is available, and these are what the history alone does not say at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pockets {
    /// On its way in from a quasi-transfer, not yet part of `amount`.
    pub locked_in: Decimal,
    /// Reserved for an outgoing quasi-transfer: already taken out of `amount` (by a DEC),
    /// and back in it if the transfer is cancelled.
    pub locked_out: Decimal,
    /// Every INC's amount, ever (expiries are DECs and count as output).
    pub volume_input: Decimal,
    /// Every DEC's amount, ever.
    pub volume_output: Decimal,
}

/// What the head knows about the expiring credits (the credit items hold the details).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credits {
    /// What is left of all live expiring credits (already net of `debt`). The rest of
    /// `amount` is the part that never expires.
    pub live: Decimal,
    /// Taken from the soonest-expiring credits by an operation that touched more of them
    /// than one DynamoDB transaction holds, and not yet written to those credit items.
    /// Settled before anything else reads the credit items.
    pub debt: Decimal,
    /// The soonest expiry among credits with something left.
    pub next_expiry: Option<Millis>,
}

/// An expiring credit: what is left of one INC that carried `ttlInSeconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// The sequence number of the INC that created it (unique within the balance).
    pub seq: u64,
    pub tx_id: TxId,
    pub expires_at: Millis,
    pub remaining: Decimal,
}

pub struct NewBalance {
    pub project_id: ProjectId,
    pub id: BalanceId,
    pub balance_type: BalanceType,
    pub name: BalanceName,
    pub min_limit: MinLimit,
}

impl Balance {
    pub fn open(new: NewBalance, now: Millis, update_token: UpdateToken) -> Self {
        Self {
            checksum: Checksum::genesis(new.id),
            project_id: new.project_id,
            id: new.id,
            balance_type: new.balance_type,
            name: new.name,
            min_limit: new.min_limit,
            amount: Decimal::ZERO,
            transactions_count: 0,
            update_token,
            created_at: now,
            updated_at: now,
            credits: Credits::default(),
            pockets: Pockets::default(),
        }
    }

    /// Whether some credit has expired and its removal has not been written yet.
    pub fn expiry_due(&self, now: Millis) -> bool {
        self.credits.next_expiry.is_some_and(|at| at <= now)
    }
}
