//! FPay's transactions and attempts, as Pocketbook derives them from movements: a transaction
//! is one wallet's side of one step of a movement (a deposit's credit, a transfer's debit and
//! credit), with the wallet's pocket before and after it; an attempt is the try that completed
//! a movement. Pure.

use super::balance::{Balance, Pockets};
use super::money::Amount;
use super::movements::{Account, Dc, Movement, MovementKind, MovementStatus, H1};
use super::names::{BalanceId, BalanceType};
use super::time::Millis;
use super::wallets::{Description, ForeignData};
use rust_decimal::Decimal;
use std::fmt;
use uuid::Uuid;

/// A transaction's id, `<ms>-<movement id>-<n>`: when it was committed, its movement, and its
/// number within the movement. It says where the transaction is stored, so reading one by id
/// is one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TransactionId {
    pub at: Millis,
    pub movement: Uuid,
    pub n: u8,
}

impl TransactionId {
    pub fn parse(text: &str) -> Option<Self> {
        let (at, rest) = text.split_once('-')?;
        let (movement, n) = rest.rsplit_once('-')?;
        let digits = |t: &str| !t.is_empty() && t.len() <= 16 && t.bytes().all(|b| b.is_ascii_digit());
        if !(digits(at) && digits(n)) {
            return None;
        }
        let movement = Uuid::parse_str(movement).ok().filter(|m| m.hyphenated().to_string() == movement)?;
        Some(Self { at: Millis::from_epoch_ms(at.parse().ok()?), movement, n: n.parse().ok()? })
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.at.epoch_ms(), self.movement, self.n)
    }
}

/// A wallet's main pocket at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PocketState {
    pub available: Decimal,
    pub locked_in: Decimal,
    pub locked_out: Decimal,
    pub volume_input: Decimal,
    pub volume_output: Decimal,
}

impl PocketState {
    pub fn of(balance: &Balance) -> Self {
        let Pockets { locked_in, locked_out, volume_input, volume_output } = balance.pockets;
        Self { available: balance.amount, locked_in, locked_out, volume_input, volume_output }
    }
}

/// One wallet's side of one step of a movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: TransactionId,
    /// The kind of its movement (FPay's `parent`), whose id is `id.movement`.
    pub parent: MovementKind,
    pub wallet: BalanceId,
    pub dc: Dc,
    pub amount: Amount,
    pub balance_type: BalanceType,
    pub source: Account,
    pub destination: Account,
    pub h1: H1,
    pub before: PocketState,
    pub after: PocketState,
    pub description: Option<Description>,
    pub foreign_data: Option<ForeignData>,
}

/// The title of a transaction whose movement has none.
pub fn default_h1(kind: MovementKind, dc: Dc) -> H1 {
    let (fr, en) = match (kind, dc) {
        (MovementKind::Deposit, _) => ("Dépôt", "Deposit"),
        (MovementKind::Transfer, Dc::Debit) => ("Transfert envoyé", "Transfer sent"),
        (MovementKind::Transfer, Dc::Credit) => ("Transfert reçu", "Transfer received"),
        (MovementKind::QuasiTransfer, Dc::Debit) => ("Quasi-transfert réservé", "Quasi-transfer reserved"),
        (MovementKind::QuasiTransfer, Dc::Credit) => ("Quasi-transfert", "Quasi-transfer"),
        (MovementKind::FundRequest, Dc::Debit) => ("Demande de fonds payée", "Fund request paid"),
        (MovementKind::FundRequest, Dc::Credit) => ("Demande de fonds reçue", "Fund request received"),
    };
    H1 { fr: fr.to_owned(), en: en.to_owned() }
}

/// How an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    Successful,
}

/// The try that completed a movement: a deposit's or transfer's at its creation, a
/// quasi-transfer's receipt, a fund request's sending. Its id is `a-<movement id>`: a
/// movement completes once, so it has at most one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub movement: Uuid,
    pub parent: MovementKind,
    pub status: AttemptStatus,
    pub created_at: Millis,
}

const ATTEMPT_PREFIX: &str = "a-";

impl Attempt {
    /// The movement's attempt, once it has one.
    pub fn of(movement: &Movement) -> Option<Self> {
        let at = match (movement.kind.is_pending_kind(), movement.status) {
            (false, _) => movement.created_at,
            (true, MovementStatus::Successful) => movement.completed_at.unwrap_or(movement.updated_at),
            (true, _) => return None,
        };
        Some(Self { movement: movement.id, parent: movement.kind, status: AttemptStatus::Successful, created_at: at })
    }

    pub fn id(&self) -> String {
        attempt_id(self.movement)
    }

    /// The movement an attempt id names.
    pub fn movement_of(id: &str) -> Option<Uuid> {
        let movement = id.strip_prefix(ATTEMPT_PREFIX)?;
        Uuid::parse_str(movement).ok().filter(|m| m.hyphenated().to_string() == movement)
    }
}

/// The id of a movement's attempt.
pub fn attempt_id(movement: Uuid) -> String {
    format!("{ATTEMPT_PREFIX}{movement}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_and_nothing_else_reads() {
        let id = TransactionId { at: Millis::from_epoch_ms(1_722_860_000_123), movement: Uuid::from_u128(7), n: 3 };
        assert_eq!(TransactionId::parse(&id.to_string()), Some(id));
        for text in [
            "",
            "1-2-3",
            "x-00000000-0000-0000-0000-000000000007-1",
            &format!("1-{}-", Uuid::nil()),
            &format!("1-{}-1", Uuid::nil().simple()),
        ] {
            assert_eq!(TransactionId::parse(text), None, "{text}");
        }
        assert_eq!(Attempt::movement_of(&attempt_id(Uuid::from_u128(9))), Some(Uuid::from_u128(9)));
        assert_eq!(Attempt::movement_of(&Uuid::from_u128(9).to_string()), None);
    }
}
