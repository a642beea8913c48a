//! Money moving between wallets: deposits, transfers, quasi-transfers and fund requests, their
//! statuses, and what each step does to the pockets. Pure: the engine locks and commits.

use super::ledger::Leg;
use super::money::Amount;
use super::money_accounts::{MobileMoneyAccount, PocketKind};
use super::names::{string_newtype, NameError};
use super::names::{BalanceId, BalanceType};
use super::operation::{Operation, OperationRequest};
use super::time::Millis;
use super::wallets::{Description, Expire, ForeignData, MAX_EXPIRE_MS};
use rust_decimal::Decimal;
use std::fmt;
use uuid::Uuid;

string_newtype!(
    /// The caller's own reference for a movement (`foreignId`): 1–100 characters without
    /// control characters. Unlike a wallet's, it need not be unique.
    Reference
);

impl Reference {
    /// Not a UUID in any spelling (wherever a movement is named, a UUID is its id), and not
    /// `initiate` (`GET /v1.0/deposits/initiate` reaches no movement under `make dev`).
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let len = text.chars().count();
        let ok = (1..=100).contains(&len) && !text.chars().any(char::is_control);
        if !ok {
            return Err(NameError("must be 1-100 characters without control characters"));
        }
        if Uuid::try_parse(text).is_ok() {
            return Err(NameError("must not be a UUID (a UUID names a movement by its id)"));
        }
        if text == "initiate" {
            return Err(NameError("must not be 'initiate' (the path that creates movements)"));
        }
        Ok(Self(text.to_owned()))
    }
}

/// A movement's id as a path names it: a UUID in hyphenated form only, so that one movement
/// does not answer to four spellings of its id (as balances do not).
pub fn movement_id(text: &str) -> Option<Uuid> {
    Uuid::try_parse(text).ok().filter(|_| text.len() == 36)
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

/// A movement's title for people, in French and English (FPay's `h1`): a string in a
/// request stands for both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H1 {
    pub fr: String,
    pub en: String,
}

impl H1 {
    /// Each 1–200 characters without control characters.
    pub fn new(fr: &str, en: &str) -> Result<Self, NameError> {
        let ok = |text: &str| (1..=200).contains(&text.chars().count()) && !text.chars().any(char::is_control);
        (ok(fr) && ok(en))
            .then(|| Self { fr: fr.to_owned(), en: en.to_owned() })
            .ok_or(NameError("must be 1-200 characters without control characters"))
    }
}

/// What a caller writes about a movement and may change later: none of it moves money.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovementNotes {
    pub h1: Option<H1>,
    pub description: Option<Description>,
    pub foreign_data: Option<ForeignData>,
}

/// The changes `PATCH /v1.0/<movements>/{identifier}` (and a transaction's) asks for.
/// `None`: leave as it is; `Some(None)`: remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotesPatch {
    pub h1: Option<Option<H1>>,
    pub description: Option<Option<Description>>,
    pub foreign_data: Option<Option<ForeignData>>,
}

impl NotesPatch {
    pub fn is_empty(&self) -> bool {
        self.h1.is_none() && self.description.is_none() && self.foreign_data.is_none()
    }

    pub fn applied_to(&self, notes: &MovementNotes) -> MovementNotes {
        let mut notes = notes.clone();
        if let Some(h1) = &self.h1 {
            notes.h1 = h1.clone();
        }
        if let Some(description) = &self.description {
            notes.description = description.clone();
        }
        if let Some(foreign_data) = &self.foreign_data {
            notes.foreign_data = foreign_data.clone();
        }
        notes
    }
}

/// One deposit, transfer, quasi-transfer or fund request, as its record holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub id: Uuid,
    pub kind: MovementKind,
    /// The wallet that pays. Absent for a deposit (its money comes from outside, `origin`) and
    /// for a fund request until someone sends it.
    pub source: Option<BalanceId>,
    /// The wallet that receives. Absent for a quasi-transfer until someone receives it.
    pub destination: Option<BalanceId>,
    /// A deposit's account outside Pocketbook, when the caller named one.
    pub origin: Option<MobileMoneyAccount>,
    /// A quasi-transfer whose destination was named at its creation: the destination's
    /// `lockedIn` holds the amount while it is pending.
    pub locks_in: bool,
    pub amount: Amount,
    pub balance_type: BalanceType,
    pub foreign_id: Option<Reference>,
    pub notes: MovementNotes,
    /// The API key that created it (FPay's `creator.authAccessId`).
    pub creator_key_id: Option<String>,
    pub status: MovementStatus,
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// When it was resolved (received, sent, cancelled or expired); at its creation for the
    /// kinds that are done at once.
    pub completed_at: Option<Millis>,
}

/// What a caller asks of a pending quasi-transfer or fund request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Receive a quasi-transfer, or send what a fund request asks for, with the wallet that
    /// receives / pays (`using`) when it was not named at creation.
    Complete(Option<BalanceId>),
    Cancel,
}

impl Resolution {
    /// The status it leaves the movement in.
    pub fn status(self) -> MovementStatus {
        match self {
            Resolution::Complete(_) => MovementStatus::Successful,
            Resolution::Cancel => MovementStatus::Failure(FailureReason::Cancelled),
        }
    }
}

/// Why a movement cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmovable {
    SameWallet,
    ExpireInPast,
    /// More than 90 days after its creation.
    ExpireTooFar,
    /// Receiving / sending names no wallet, and none was named at creation.
    CounterpartMissing,
    /// Receiving / sending names another wallet than the one named at creation.
    CounterpartDiffers,
}

/// The wallets of a new movement, as the request named them (`None`: not named).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parties {
    pub source: Option<BalanceId>,
    pub destination: Option<BalanceId>,
    pub origin: Option<MobileMoneyAccount>,
}

impl Movement {
    /// A new movement of `amount` (in the wallets' type, XOF until they are read). A
    /// quasi-transfer or fund request is pending, and expires at `expire`; the others are done.
    /// `parties` says which wallets it names; `main` is the wallet a transfer or deposit uses
    /// for the one it does not name.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        id: Uuid,
        kind: MovementKind,
        parties: Parties,
        main: BalanceId,
        amount: Amount,
        foreign_id: Option<Reference>,
        notes: MovementNotes,
        creator_key_id: Option<String>,
        expire: Option<Expire>,
        now: Millis,
    ) -> Result<Self, Unmovable> {
        let Parties { source, destination, origin } = parties;
        // A deposit comes from outside; a transfer defaults both sides to the main wallet; a
        // quasi-transfer and a fund request leave their other side to whoever resolves them.
        let (source, destination) = match kind {
            MovementKind::Deposit => (None, Some(destination.unwrap_or(main))),
            MovementKind::Transfer => (Some(source.unwrap_or(main)), Some(destination.unwrap_or(main))),
            MovementKind::QuasiTransfer => (Some(source.unwrap_or(main)), destination),
            MovementKind::FundRequest => (source, Some(destination.unwrap_or(main))),
        };
        if source.is_some() && source == destination {
            return Err(Unmovable::SameWallet);
        }
        let pending = kind.is_pending_kind();
        let expires_at = expire.filter(|_| pending).map(|expire| expire.at(now));
        if expires_at.is_some_and(|at| at <= now) {
            return Err(Unmovable::ExpireInPast);
        }
        // `after` is checked as it is parsed; `on` only now that the creation time is known.
        if expires_at.is_some_and(|at| at.epoch_ms() - now.epoch_ms() > MAX_EXPIRE_MS) {
            return Err(Unmovable::ExpireTooFar);
        }
        let status = if pending { MovementStatus::Processing } else { MovementStatus::Successful };
        Ok(Self {
            id,
            kind,
            source,
            destination,
            origin: origin.filter(|_| kind == MovementKind::Deposit),
            locks_in: kind == MovementKind::QuasiTransfer && destination.is_some(),
            amount,
            balance_type: BalanceType::xof(),
            foreign_id,
            notes,
            creator_key_id,
            status,
            expires_at,
            created_at: now,
            updated_at: now,
            completed_at: (!pending).then_some(now),
        })
    }

    /// Whether it is still pending but past its expiry: whoever touches it next expires it.
    pub fn expired(&self, now: Millis) -> bool {
        self.status == MovementStatus::Processing && self.expires_at.is_some_and(|at| at <= now)
    }

    /// The movement as `resolution` leaves it at `now`, with the wallet it completes with
    /// filled in: a quasi-transfer's destination, a fund request's source.
    pub fn resolved(&self, resolution: Resolution, now: Millis) -> Result<Self, Unmovable> {
        let mut movement =
            Movement { status: resolution.status(), updated_at: now, completed_at: Some(now), ..self.clone() };
        if let Resolution::Complete(using) = resolution {
            let side = match self.kind {
                MovementKind::FundRequest => &mut movement.source,
                _ => &mut movement.destination,
            };
            *side = match (*side, using) {
                (Some(named), Some(using)) if named != using => return Err(Unmovable::CounterpartDiffers),
                (Some(named), _) | (None, Some(named)) => Some(named),
                (None, None) => return Err(Unmovable::CounterpartMissing),
            };
            if movement.source == movement.destination {
                return Err(Unmovable::SameWallet);
            }
        }
        Ok(movement)
    }

    /// The wallet that completed a pending movement: a quasi-transfer's receiver, a fund
    /// request's payer.
    pub fn counterpart(&self) -> Option<BalanceId> {
        match self.kind {
            MovementKind::FundRequest => self.source,
            _ => self.destination,
        }
    }

    /// The movement as it is once expired at `now`.
    pub fn expired_at(&self, now: Millis) -> Self {
        let status = MovementStatus::Failure(FailureReason::Expired);
        Movement { status, updated_at: now, completed_at: Some(now), ..self.clone() }
    }

    /// What `step` does to each wallet: nothing, for a fund request's creation (which still
    /// locks and checks its wallets) or cancel (which touches none). For `Complete`, `self` is
    /// the movement as completed ([`Movement::resolved`]), its other side filled in.
    /// Every entry it writes has the movement's id as its `session`.
    pub fn legs(&self, step: Step) -> Vec<Leg> {
        self.sides(step).into_iter().map(|side| side.leg).collect()
    }

    /// [`Movement::legs`], each with the transaction it makes when it moves money.
    pub fn sides(&self, step: Step) -> Vec<Side> {
        let amount = self.amount;
        let value = amount.value();
        let op = |wallet: BalanceId, operation: Operation| {
            let request =
                OperationRequest { operation, subject: None, update_token: None, session: self.id.to_string() };
            Leg::operation(wallet, request)
        };
        let wallet = |id: BalanceId, pocket: PocketKind| Account::Wallet { id, pocket };
        let available = PocketKind::Available;
        // The n of the step's transactions: a step makes at most two, and no movement has two
        // steps of the same kind, so (step, leg) names a transaction for good.
        let base = match step {
            Step::Create => 0,
            Step::Complete | Step::Cancel => 2,
        };
        let moving = |n: u8, leg: Leg, dc: Dc, source: Account, destination: Account| Side {
            leg,
            transaction: Some(TransactionSide { n: base + n, dc, source, destination }),
        };
        let still = |leg: Leg| Side { leg, transaction: None };
        match (self.kind, step, self.source, self.destination) {
            (MovementKind::Deposit, Step::Create, _, Some(destination)) => {
                let origin = self.origin.clone().map_or(Account::Outside, Account::MobileMoney);
                vec![moving(
                    0,
                    op(destination, Operation::inc(amount)),
                    Dc::Credit,
                    origin,
                    wallet(destination, available),
                )]
            }
            (MovementKind::Transfer, Step::Create, Some(source), Some(destination))
            | (MovementKind::FundRequest, Step::Complete, Some(source), Some(destination)) => {
                let (from, to) = (wallet(source, available), wallet(destination, available));
                vec![
                    moving(0, op(source, Operation::dec(amount)), Dc::Debit, from.clone(), to.clone()),
                    moving(1, op(destination, Operation::inc(amount)), Dc::Credit, from, to),
                ]
            }
            (MovementKind::FundRequest, Step::Create, source, Some(destination)) => {
                source.into_iter().chain([destination]).map(|id| still(Leg::maintenance(id))).collect()
            }
            (MovementKind::QuasiTransfer, Step::Create, Some(source), destination) => {
                let reserve = Leg { locked_out: value, ..op(source, Operation::dec(amount)) };
                let (from, to) = (wallet(source, available), wallet(source, PocketKind::LockedOut));
                let mut sides = vec![moving(0, reserve, Dc::Debit, from, to)];
                sides.extend(
                    destination
                        .filter(|_| self.locks_in)
                        .map(|d| still(Leg { locked_in: value, ..Leg::maintenance(d) })),
                );
                sides
            }
            (MovementKind::QuasiTransfer, Step::Complete, Some(source), Some(destination)) => {
                let release = -if self.locks_in { value } else { Decimal::ZERO };
                let receive = Leg { locked_in: release, ..op(destination, Operation::inc(amount)) };
                let (from, to) = (wallet(source, PocketKind::LockedOut), wallet(destination, available));
                vec![
                    still(Leg { locked_out: -value, ..Leg::maintenance(source) }),
                    moving(1, receive, Dc::Credit, from, to),
                ]
            }
            (MovementKind::QuasiTransfer, Step::Cancel, Some(source), destination) => {
                let back = Leg { locked_out: -value, ..op(source, Operation::inc(amount)) };
                let (from, to) = (wallet(source, PocketKind::LockedOut), wallet(source, available));
                let mut sides = vec![moving(0, back, Dc::Credit, from, to)];
                sides.extend(
                    destination
                        .filter(|_| self.locks_in)
                        .map(|d| still(Leg { locked_in: -value, ..Leg::maintenance(d) })),
                );
                sides
            }
            _ => Vec::new(),
        }
    }
}

impl MovementKind {
    /// What a refusal calls one.
    pub fn what(self) -> &'static str {
        match self {
            MovementKind::Deposit => "deposit",
            MovementKind::Transfer => "transfer",
            MovementKind::QuasiTransfer => "quasi-transfer",
            MovementKind::FundRequest => "fund request",
        }
    }

    /// Quasi-transfers and fund requests wait for someone to resolve them.
    pub fn is_pending_kind(self) -> bool {
        matches!(self, MovementKind::QuasiTransfer | MovementKind::FundRequest)
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

/// One leg of a step, and the transaction it makes when it moves money.
#[derive(Debug, Clone)]
pub struct Side {
    pub leg: Leg,
    pub transaction: Option<TransactionSide>,
}

/// A transaction a leg makes, before the engine says what the wallet was and became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSide {
    /// Its number within the movement.
    pub n: u8,
    pub dc: Dc,
    pub source: Account,
    pub destination: Account,
}

/// Which way money moved for the wallet of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dc {
    Credit,
    Debit,
}

impl Dc {
    pub fn as_str(self) -> &'static str {
        match self {
            Dc::Credit => "Credit",
            Dc::Debit => "Debit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Dc::Credit, Dc::Debit].into_iter().find(|dc| dc.as_str() == text)
    }
}

/// One end of a transaction: a wallet's pocket, or an account outside Pocketbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    Wallet {
        id: BalanceId,
        pocket: PocketKind,
    },
    MobileMoney(MobileMoneyAccount),
    /// A deposit whose origin the caller did not name.
    Outside,
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
            destination: Some(BalanceId::new(Uuid::from_u128(2))),
            origin: None,
            locks_in: kind == MovementKind::QuasiTransfer,
            amount: Amount::parse_json("2.5").expect("an amount"),
            balance_type: BalanceType::xof(),
            foreign_id: None,
            notes: MovementNotes::default(),
            creator_key_id: None,
            status: MovementStatus::Processing,
            expires_at: Some(Millis::from_epoch_ms(100)),
            created_at: Millis::from_epoch_ms(0),
            updated_at: Millis::from_epoch_ms(0),
            completed_at: None,
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
    fn a_quasi_transfer_named_at_receipt_locks_only_its_source() {
        let (a, b) = (BalanceId::new(Uuid::from_u128(1)), BalanceId::new(Uuid::from_u128(2)));
        let parties = Parties { source: Some(a), destination: None, origin: None };
        let amount = Amount::parse_json("2.5").expect("an amount");
        let now = Millis::from_epoch_ms(0);
        let open = |parties| {
            Movement::open(
                Uuid::nil(),
                MovementKind::QuasiTransfer,
                parties,
                a,
                amount,
                None,
                MovementNotes::default(),
                None,
                None,
                now,
            )
        };
        let quasi = open(parties.clone()).expect("a quasi-transfer");
        assert!(!quasi.locks_in && quasi.destination.is_none());
        assert_eq!(quasi.legs(Step::Create).len(), 1);
        assert_eq!(quasi.resolved(Resolution::Complete(None), now), Err(Unmovable::CounterpartMissing));
        assert_eq!(quasi.resolved(Resolution::Complete(Some(a)), now), Err(Unmovable::SameWallet));
        let received = quasi.resolved(Resolution::Complete(Some(b)), now).expect("received");
        let legs: Vec<Leg> = quasi.legs(Step::Create).into_iter().chain(received.legs(Step::Complete)).collect();
        assert_eq!(held(&legs), Decimal::ZERO, "nothing made or lost");
        let credited: Vec<BalanceId> = legs
            .iter()
            .filter(|leg| matches!(leg.operation.as_ref().map(|r| r.operation), Some(Operation::Inc { .. })))
            .map(|leg| leg.balance)
            .collect();
        assert_eq!(credited, vec![b], "the receiver got it");
        assert_eq!(legs.iter().map(|l| l.locked_out).sum::<Decimal>(), Decimal::ZERO);
        assert_eq!(legs.iter().map(|l| l.locked_in).sum::<Decimal>(), Decimal::ZERO);
        let named = open(Parties { destination: Some(b), ..parties }).expect("a quasi-transfer");
        assert_eq!(named.resolved(Resolution::Complete(Some(a)), now), Err(Unmovable::CounterpartDiffers));
        assert_eq!(named.resolved(Resolution::Complete(None), now).map(|m| m.destination), Ok(Some(b)));
        let sides = received.sides(Step::Complete);
        let numbers: Vec<u8> = sides.iter().filter_map(|s| s.transaction.as_ref().map(|t| t.n)).collect();
        assert_eq!(numbers, vec![3]);
    }

    #[test]
    fn an_expiry_more_than_90_days_away_is_refused_in_either_form() {
        let now = Millis::from_epoch_ms(1_000);
        let main = BalanceId::new(Uuid::from_u128(1));
        let amount = Amount::parse_json("1").expect("an amount");
        let open = |expire| {
            let notes = MovementNotes::default();
            Movement::open(
                Uuid::nil(),
                MovementKind::FundRequest,
                Parties::default(),
                main,
                amount,
                None,
                notes,
                None,
                Some(expire),
                now,
            )
        };
        assert!(open(Expire::On(now.plus_ms(MAX_EXPIRE_MS))).is_ok());
        assert_eq!(open(Expire::On(now.plus_ms(MAX_EXPIRE_MS + 1))).err(), Some(Unmovable::ExpireTooFar));
        assert!(open(Expire::After { ms: MAX_EXPIRE_MS }).is_ok());
        assert!(Expire::parse("after 91d").is_err() && Expire::parse("after 90d").is_ok());
    }

    #[test]
    fn a_reference_is_never_read_as_an_id() {
        let id = Uuid::from_u128(7);
        for text in
            [id.hyphenated().to_string(), id.simple().to_string(), id.braced().to_string(), id.urn().to_string()]
        {
            assert!(Reference::parse(&text).is_err(), "{text}");
        }
        assert!(Reference::parse("initiate").is_err());
        assert!(Reference::parse("order-7").is_ok());
        assert_eq!(movement_id(&id.hyphenated().to_string()), Some(id));
        assert_eq!(movement_id(&id.simple().to_string()), None);
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
