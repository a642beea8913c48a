//! Money moving between wallets: deposits, transfers, quasi-transfers and fund requests, their
//! statuses, and what each step does to the pockets. Pure: the service locks and commits.

use super::money::Amount;
use super::names::{string_newtype, NameError};
use super::names::{BalanceId, BalanceType};
use super::operation::Operation;
use super::time::Millis;
use rust_decimal::Decimal;
use std::fmt;
use uuid::Uuid;

string_newtype!(
    /// The caller's own reference for a movement (`foreignId`): 1–100 characters without
    /// control characters. Unlike a wallet's, it need not be unique.
    Reference
);

impl Reference {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let len = text.chars().count();
        let ok = (1..=100).contains(&len) && !text.chars().any(char::is_control);
        ok.then(|| Self(text.to_owned())).ok_or(NameError("must be 1-100 characters without control characters"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    Deposit,
    Transfer,
    QuasiTransfer,
    FundRequest,
}

impl MovementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Deposit => "Deposit",
            MovementKind::Transfer => "Transfer",
            MovementKind::QuasiTransfer => "QuasiTransfer",
            MovementKind::FundRequest => "FundRequest",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [MovementKind::Deposit, MovementKind::Transfer, MovementKind::QuasiTransfer, MovementKind::FundRequest]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    Cancelled,
    Expired,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Cancelled => "Cancelled",
            FailureReason::Expired => "Expired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementStatus {
    Processing,
    Successful,
    Failure(FailureReason),
}

impl MovementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MovementStatus::Processing => "Processing",
            MovementStatus::Successful => "Successful",
            MovementStatus::Failure(_) => "Failure",
        }
    }

    pub fn reason(self) -> Option<FailureReason> {
        match self {
            MovementStatus::Failure(reason) => Some(reason),
            _ => None,
        }
    }

    pub fn parse(status: &str, reason: Option<&str>) -> Option<Self> {
        match (status, reason) {
            ("Processing", None) => Some(MovementStatus::Processing),
            ("Successful", None) => Some(MovementStatus::Successful),
            ("Failure", Some("Cancelled")) => Some(MovementStatus::Failure(FailureReason::Cancelled)),
            ("Failure", Some("Expired")) => Some(MovementStatus::Failure(FailureReason::Expired)),
            _ => None,
        }
    }
}

impl fmt::Display for MovementStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{} ({})", self.as_str(), reason.as_str()),
            None => f.write_str(self.as_str()),
        }
    }
}

/// One deposit, transfer, quasi-transfer or fund request, as its record holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub id: Uuid,
    pub kind: MovementKind,
    /// Absent for deposits.
    pub source: Option<BalanceId>,
    pub destination: BalanceId,
    pub amount: Amount,
    pub balance_type: BalanceType,
    pub foreign_id: Option<Reference>,
    pub status: MovementStatus,
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What a caller asks of a pending quasi-transfer or fund request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Receive a quasi-transfer, or send what a fund request asks for.
    Complete,
    Cancel,
}

impl Resolution {
    /// The status it leaves the movement in.
    pub fn status(self) -> MovementStatus {
        match self {
            Resolution::Complete => MovementStatus::Successful,
            Resolution::Cancel => MovementStatus::Failure(FailureReason::Cancelled),
        }
    }
}

impl Movement {
    /// Whether it is still pending but past its expiry: whoever touches it next expires it.
    pub fn expired(&self, now: Millis) -> bool {
        self.status == MovementStatus::Processing && self.expires_at.is_some_and(|at| at <= now)
    }

    /// What `step` does to each wallet (nothing, for a fund request's creation or cancel).
    pub fn legs(&self, step: Step) -> Vec<Leg> {
        let amount = self.amount;
        let value = amount.value();
        let Some(source) = self.source else {
            return match (self.kind, step) {
                (MovementKind::Deposit, Step::Create) => vec![Leg::operation(self.destination, Operation::inc(amount))],
                _ => Vec::new(),
            };
        };
        let destination = self.destination;
        match (self.kind, step) {
            (MovementKind::Deposit, _) => Vec::new(),
            (MovementKind::Transfer, Step::Create) | (MovementKind::FundRequest, Step::Complete) => vec![
                Leg::operation(source, Operation::dec(amount)),
                Leg::operation(destination, Operation::inc(amount)),
            ],
            (MovementKind::Transfer | MovementKind::FundRequest, _) => Vec::new(),
            (MovementKind::QuasiTransfer, Step::Create) => vec![
                Leg { locked_out: value, ..Leg::operation(source, Operation::dec(amount)) },
                Leg { locked_in: value, ..Leg::pockets_only(destination) },
            ],
            (MovementKind::QuasiTransfer, Step::Complete) => vec![
                Leg { locked_out: -value, ..Leg::pockets_only(source) },
                Leg { locked_in: -value, ..Leg::operation(destination, Operation::inc(amount)) },
            ],
            (MovementKind::QuasiTransfer, Step::Cancel) => vec![
                Leg { locked_out: -value, ..Leg::operation(source, Operation::inc(amount)) },
                Leg { locked_in: -value, ..Leg::pockets_only(destination) },
            ],
        }
    }
}

/// A step in a movement's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Complete,
    /// Cancelled by a caller, or expired.
    Cancel,
}

/// What one step does to one wallet: an INC or DEC of its available money (with a history
/// entry), and changes to its locked pockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub wallet: BalanceId,
    pub operation: Option<Operation>,
    pub locked_in: Decimal,
    pub locked_out: Decimal,
}

impl Leg {
    fn operation(wallet: BalanceId, operation: Operation) -> Self {
        Self { wallet, operation: Some(operation), locked_in: Decimal::ZERO, locked_out: Decimal::ZERO }
    }

    fn pockets_only(wallet: BalanceId) -> Self {
        Self { wallet, operation: None, locked_in: Decimal::ZERO, locked_out: Decimal::ZERO }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(kind: MovementKind, source: Option<BalanceId>) -> Movement {
        Movement {
            id: Uuid::nil(),
            kind,
            source,
            destination: BalanceId::new(Uuid::from_u128(2)),
            amount: Amount::parse_json("2.5").expect("an amount"),
            balance_type: BalanceType::xof(),
            foreign_id: None,
            status: MovementStatus::Processing,
            expires_at: Some(Millis::from_epoch_ms(100)),
            created_at: Millis::from_epoch_ms(0),
            updated_at: Millis::from_epoch_ms(0),
        }
    }

    /// available + lockedOut summed over wallets, as each leg changes it.
    fn held(legs: &[Leg]) -> Decimal {
        legs.iter()
            .map(|leg| {
                let available = match leg.operation {
                    Some(Operation::Inc { amount, .. }) => amount.value(),
                    Some(Operation::Dec { amount }) => -amount.value(),
                    None => Decimal::ZERO,
                };
                available + leg.locked_out
            })
            .sum()
    }

    #[test]
    fn every_step_between_wallets_conserves_money_and_returns_what_it_locked() {
        let source = Some(BalanceId::new(Uuid::from_u128(1)));
        for kind in [MovementKind::Transfer, MovementKind::QuasiTransfer, MovementKind::FundRequest] {
            for step in [Step::Create, Step::Complete, Step::Cancel] {
                assert_eq!(held(&movement(kind, source).legs(step)), Decimal::ZERO, "{kind:?} {step:?}");
            }
        }
        let quasi = movement(MovementKind::QuasiTransfer, source);
        for end in [Step::Complete, Step::Cancel] {
            let legs: Vec<Leg> = quasi.legs(Step::Create).into_iter().chain(quasi.legs(end)).collect();
            assert_eq!(legs.iter().map(|l| l.locked_in).sum::<Decimal>(), Decimal::ZERO);
            assert_eq!(legs.iter().map(|l| l.locked_out).sum::<Decimal>(), Decimal::ZERO);
        }
        assert_eq!(held(&movement(MovementKind::Deposit, None).legs(Step::Create)), Decimal::new(25, 1));
    }

    #[test]
    fn only_a_pending_movement_past_its_time_is_expired() {
        let mut quasi = movement(MovementKind::QuasiTransfer, Some(BalanceId::new(Uuid::from_u128(1))));
        assert!(!quasi.expired(Millis::from_epoch_ms(99)));
        assert!(quasi.expired(Millis::from_epoch_ms(100)));
        quasi.status = MovementStatus::Successful;
        assert!(!quasi.expired(Millis::from_epoch_ms(100)));
    }

    #[test]
    fn statuses_read_back_what_they_write() {
        for status in [
            MovementStatus::Processing,
            MovementStatus::Successful,
            MovementStatus::Failure(FailureReason::Cancelled),
            MovementStatus::Failure(FailureReason::Expired),
        ] {
            assert_eq!(
                MovementStatus::parse(status.as_str(), status.reason().map(FailureReason::as_str)),
                Some(status)
            );
        }
        assert_eq!(MovementStatus::parse("Failure", None), None);
    }
}
