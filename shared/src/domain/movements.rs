//! Money moving between wallets: deposits, transfers, quasi-transfers and fund requests, their
//! statuses, and what each step does to the pockets. Pure: the engine locks and commits.

use super::ledger::Leg;
use super::money::Amount;
use super::names::{string_newtype, NameError};
use super::names::{BalanceId, BalanceType};
use super::operation::{Operation, OperationRequest};
use super::time::Millis;
use super::wallets::Expire;
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

/// Why a movement cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmovable {
    SameWallet,
    ExpireInPast,
}

impl Movement {
    /// A new movement of `amount` (in the wallets' type, XOF until they are read). A
    /// quasi-transfer or fund request is pending, and expires at `expire`; the others are done.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        id: Uuid,
        kind: MovementKind,
        source: Option<BalanceId>,
        destination: BalanceId,
        amount: Amount,
        foreign_id: Option<Reference>,
        expire: Option<Expire>,
        now: Millis,
    ) -> Result<Self, Unmovable> {
        if source == Some(destination) {
            return Err(Unmovable::SameWallet);
        }
        let pending = matches!(kind, MovementKind::QuasiTransfer | MovementKind::FundRequest);
        let expires_at = expire.filter(|_| pending).map(|expire| expire.at(now));
        if expires_at.is_some_and(|at| at <= now) {
            return Err(Unmovable::ExpireInPast);
        }
        let status = if pending { MovementStatus::Processing } else { MovementStatus::Successful };
        let balance_type = BalanceType::xof();
        Ok(Self {
            id,
            kind,
            source,
            destination,
            amount,
            balance_type,
            foreign_id,
            status,
            expires_at,
            created_at: now,
            updated_at: now,
        })
    }

    /// Whether it is still pending but past its expiry: whoever touches it next expires it.
    pub fn expired(&self, now: Millis) -> bool {
        self.status == MovementStatus::Processing && self.expires_at.is_some_and(|at| at <= now)
    }

    /// What `step` does to each wallet: nothing, for a fund request's creation (which still
    /// locks and checks both wallets) or cancel (which touches none).
    /// Every entry it writes has the movement's id as its `session`.
    pub fn legs(&self, step: Step) -> Vec<Leg> {
        let amount = self.amount;
        let value = amount.value();
        let op = |wallet: BalanceId, operation: Operation| {
            let request =
                OperationRequest { operation, subject: None, update_token: None, session: self.id.to_string() };
            Leg::operation(wallet, request)
        };
        let Some(source) = self.source else {
            return match (self.kind, step) {
                (MovementKind::Deposit, Step::Create) => vec![op(self.destination, Operation::inc(amount))],
                _ => Vec::new(),
            };
        };
        let destination = self.destination;
        match (self.kind, step) {
            (MovementKind::Deposit, _) => Vec::new(),
            (MovementKind::Transfer, Step::Create) | (MovementKind::FundRequest, Step::Complete) => {
                vec![op(source, Operation::dec(amount)), op(destination, Operation::inc(amount))]
            }
            (MovementKind::FundRequest, Step::Create) => vec![Leg::maintenance(source), Leg::maintenance(destination)],
            (MovementKind::Transfer | MovementKind::FundRequest, _) => Vec::new(),
            (MovementKind::QuasiTransfer, Step::Create) => vec![
                Leg { locked_out: value, ..op(source, Operation::dec(amount)) },
                Leg { locked_in: value, ..Leg::maintenance(destination) },
            ],
            (MovementKind::QuasiTransfer, Step::Complete) => vec![
                Leg { locked_out: -value, ..Leg::maintenance(source) },
                Leg { locked_in: -value, ..op(destination, Operation::inc(amount)) },
            ],
            (MovementKind::QuasiTransfer, Step::Cancel) => vec![
                Leg { locked_out: -value, ..op(source, Operation::inc(amount)) },
                Leg { locked_in: -value, ..Leg::maintenance(destination) },
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

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

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
                let available = match leg.operation.as_ref().map(|request| request.operation) {
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
