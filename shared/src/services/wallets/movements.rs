//! Money moving between wallets: deposits, transfers, quasi-transfers and fund requests. Each
//! step of a movement is one engine step: its wallets locked in id order, their changes, the
//! movement's record and the idempotency record in one transaction.

use super::{WalletError, Wallets};
use crate::domain::money::Amount;
use crate::domain::money_accounts::MobileMoneyAccount;
use crate::domain::movements::{
    self, Movement, MovementKind, MovementNotes, MovementStatus, Parties, Reference, Resolution, TransactionSide,
    Unmovable,
};
use crate::domain::names::{BalanceId, BalanceType, ProjectId};
use crate::domain::operation::Rejection;
use crate::domain::time::Millis;
use crate::domain::transactions::{default_h1, PocketState, Transaction, TransactionId};
use crate::domain::wallets::{main_wallet_uuid, Expire};
use crate::engine::{Done, EngineError, Fault, Idempotency, Job, Outcome, Step};
use crate::store::{DueExpiry, HeadRecord, Write};
use uuid::Uuid;

/// `POST /v1.0/deposits/initiate`, `/transfers/initiate`, `/quasi-transfers/initiate`,
/// `/fund-requests` after parsing.
#[derive(Debug, Clone)]
pub struct NewMovement {
    pub kind: MovementKind,
    /// A wallet id or other name; `None`: the main wallet for a transfer, nobody yet for a
    /// fund request (whoever sends it).
    pub source: Option<String>,
    /// `None`: the main wallet for a deposit or transfer, nobody yet for a quasi-transfer.
    pub destination: Option<String>,
    /// A deposit's account outside Pocketbook.
    pub origin: Option<MobileMoneyAccount>,
    pub amount: Amount,
    /// The currency the amount was written in (`"10_000 XOF"`, `{"value", "currency"}`);
    /// `None`: a plain number, in the wallets' own. Part of the idempotency fingerprint.
    pub currency: Option<BalanceType>,
    pub foreign_id: Option<Reference>,
    pub notes: MovementNotes,
    pub expire: Option<Expire>,
}

/// What a caller asks of a pending quasi-transfer or fund request.
#[derive(Debug, Clone, Copy)]
pub enum MovementCommand<'a> {
    /// Receive / send, with the wallet that receives / pays (`using`) when creation named none.
    Complete(Option<&'a str>),
    Cancel,
}

/// What one run of the expiry sweeper did.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Swept {
    pub expired: usize,
    /// Resolved by someone else first; only the schedule entry was left.
    pub resolved_meanwhile: usize,
    pub busy: usize,
    /// More were due than one run takes.
    pub more: bool,
}

/// What one step of a movement adds to the engine's step: its record, and the transactions
/// of the legs that move money.
struct Record<'a> {
    /// The movement as the step leaves it.
    movement: &'a Movement,
    /// Whether the step creates it (else it resolves it).
    creates: bool,
    project: &'a ProjectId,
    /// The currency the request named, which must be the wallets' balance type.
    currency: Option<&'a BalanceType>,
    /// Per leg, the transaction it makes.
    transactions: Vec<Option<TransactionSide>>,
    at: Millis,
}

impl Record<'_> {
    /// The movement as the step leaves it, in the wallets' balance type.
    fn after(&self, balance_type: &BalanceType) -> Movement {
        Movement { balance_type: balance_type.clone(), ..self.movement.clone() }
    }
}

impl Job for Record<'_> {
    type Output = Movement;
    type Refusal = WalletError;

    /// The wallets (the step locks only wallets) hold one balance type, the one the amount
    /// was written in if it named one.
    fn prepare(&self, heads: &[HeadRecord]) -> Result<Vec<Write>, WalletError> {
        let balance_type = &heads.first().ok_or(WalletError::NotFound("wallet"))?.balance.balance_type;
        if heads.iter().any(|head| &head.balance.balance_type != balance_type) {
            return Err(WalletError::TypeMismatch);
        }
        if let Some(currency) = self.currency.filter(|currency| *currency != balance_type) {
            return Err(WalletError::CurrencyMismatch { given: currency.clone(), wallets: balance_type.clone() });
        }
        let project = self.project.clone();
        Ok(vec![match self.creates {
            true => Write::NewMovement { project, movement: self.after(balance_type) },
            false => Write::ResolveMovement { project, resolved: self.movement.clone() },
        }])
    }

    /// Each wallet's pocket before (its locked head) and after (what its leg became).
    fn records(&self, heads: &[HeadRecord], done: &[Done]) -> Result<Vec<Write>, Fault> {
        let movement = self.movement;
        let mut writes = Vec::new();
        for ((side, head), done) in self.transactions.iter().zip(heads).zip(done) {
            let Some(side) = side else { continue };
            let transaction = Transaction {
                id: TransactionId { at: self.at, movement: movement.id, n: side.n },
                parent: movement.kind,
                wallet: head.balance.id,
                dc: side.dc,
                amount: movement.amount,
                balance_type: head.balance.balance_type.clone(),
                source: side.source.clone(),
                destination: side.destination.clone(),
                h1: movement.notes.h1.clone().unwrap_or_else(|| default_h1(movement.kind, side.dc)),
                before: PocketState::of(&head.balance),
                after: PocketState::of(&done.balance),
                description: None,
                foreign_data: None,
            };
            writes.push(Write::NewTransaction { project: self.project.clone(), transaction });
        }
        Ok(writes)
    }

    fn output(&self, done: &[Done]) -> Result<Movement, Fault> {
        let first = done.first().ok_or(Fault::Inconsistent("a movement step without wallets"))?;
        Ok(self.after(&first.balance.balance_type))
    }
}

fn unmovable(unmovable: Unmovable) -> WalletError {
    match unmovable {
        Unmovable::SameWallet => WalletError::SameWallet,
        Unmovable::ExpireInPast => WalletError::ExpireInPast,
        Unmovable::ExpireTooFar => WalletError::ExpireTooFar,
        Unmovable::CounterpartMissing => WalletError::CounterpartMissing,
        Unmovable::CounterpartDiffers => WalletError::CounterpartDiffers,
    }
}

impl Wallets {
    /// A transfer or a quasi-transfer naming its destination in three round trips (two locks
    /// and a commit); a deposit, a quasi-transfer naming none, a fund request naming no payer
    /// in two.
    pub async fn create_movement(
        &self,
        project: &ProjectId,
        key_id: Option<&str>,
        new: &NewMovement,
        idempotency: Option<&Idempotency<'_, Movement>>,
    ) -> Result<Outcome<Movement>, WalletError> {
        let now = self.engine.clock().now();
        let main = BalanceId::new(main_wallet_uuid(project));
        let source = match (new.kind, &new.source) {
            (MovementKind::Deposit, _) | (_, None) => None,
            (_, Some(text)) => Some(self.wallet_id(project, text).await?),
        };
        let destination = match &new.destination {
            Some(text) => Some(self.wallet_id(project, text).await?),
            None => None,
        };
        let parties = Parties { source, destination, origin: new.origin.clone() };
        let movement = Movement::open(
            Uuid::new_v4(),
            new.kind,
            parties,
            main,
            new.amount,
            new.foreign_id.clone(),
            new.notes.clone(),
            key_id.map(str::to_owned),
            new.expire,
            now,
        )
        .map_err(unmovable)?;
        let sides = movement.sides(movements::Step::Create);
        let record = Record {
            movement: &movement,
            creates: true,
            project,
            currency: new.currency.as_ref(),
            transactions: sides.iter().map(|side| side.transaction.clone()).collect(),
            at: now,
        };
        let step = Step {
            project,
            legs: sides.into_iter().map(|side| side.leg).collect(),
            at: Some(now),
            wallets: true,
            create: Some(Self::main_wallet(project, key_id, now)),
            wait: None,
        };
        Ok(self.engine.apply(&step, &record, idempotency).await?)
    }

    /// Receives / sends or cancels a quasi-transfer or fund request. One that is past its
    /// expiry is expired first, whoever asks. Asking again for what was done answers it.
    pub async fn resolve_movement(
        &self,
        project: &ProjectId,
        kind: MovementKind,
        id: Uuid,
        command: MovementCommand<'_>,
    ) -> Result<Movement, WalletError> {
        let now = self.engine.clock().now();
        let resolution = match command {
            MovementCommand::Complete(Some(text)) => Resolution::Complete(Some(self.wallet_id(project, text).await?)),
            MovementCommand::Complete(None) => Resolution::Complete(None),
            MovementCommand::Cancel => Resolution::Cancel,
        };
        let read = || async {
            match self.engine.store().read_movement(project, id).await? {
                Some(movement) if movement.kind == kind => Ok(movement),
                _ => Err(WalletError::NotFound(kind.what())),
            }
        };
        let mut movement = read().await?;
        if movement.expired(now) {
            self.finish(project, &movement.expired_at(now), movements::Step::Cancel).await?;
            movement = read().await?;
        }
        if movement.status == MovementStatus::Processing {
            let resolved = movement.resolved(resolution, now).map_err(|refused| match refused {
                Unmovable::SameWallet => WalletError::CounterpartIsOtherSide,
                other => unmovable(other),
            })?;
            let step = match resolution {
                Resolution::Complete(_) => movements::Step::Complete,
                Resolution::Cancel => movements::Step::Cancel,
            };
            if self.finish(project, &resolved, step).await? {
                return Ok(resolved);
            }
            // Someone else resolved it between our read and our write.
            movement = read().await?;
            if movement.status == MovementStatus::Processing {
                return Err(Fault::Inconsistent("a pending movement's locked money is gone").into());
            }
        }
        match resolution {
            // The same wallet (or none named) completing it again: the answer it had.
            Resolution::Complete(using)
                if movement.status == MovementStatus::Successful
                    && using.is_none_or(|using| Some(using) == movement.counterpart()) =>
            {
                Ok(movement)
            }
            Resolution::Cancel if movement.status == resolution.status() => Ok(movement),
            _ => Err(WalletError::AlreadyResolved(movement.status)),
        }
    }

    /// Moves a pending movement as `resolved` says, with its money; `false` when it was no
    /// longer pending.
    async fn finish(
        &self,
        project: &ProjectId,
        resolved: &Movement,
        step: movements::Step,
    ) -> Result<bool, WalletError> {
        let sides = resolved.sides(step);
        let now = resolved.updated_at;
        let result = if sides.is_empty() {
            let resolve = Write::ResolveMovement { project: project.clone(), resolved: resolved.clone() };
            self.engine.write(project, &[resolve]).await.map_err(EngineError::with_refusal)
        } else {
            let record = Record {
                movement: resolved,
                creates: false,
                project,
                currency: None,
                transactions: sides.iter().map(|side| side.transaction.clone()).collect(),
                at: now,
            };
            let legs = sides.into_iter().map(|side| side.leg).collect();
            let step = Step { project, legs, at: Some(now), wallets: true, create: None, wait: None };
            self.engine.apply(&step, &record, None).await.map(|_| ())
        };
        match result {
            Ok(()) => Ok(true),
            // Resolved meanwhile: its record's condition failed, or a racing resolution already
            // released the locked money this one was about to release.
            Err(EngineError::WriteRefused(_) | EngineError::Rejected(Rejection::LockedShort)) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Expires pending movements whose time has come (the scheduled sweeper): up to `limit`
    /// per schedule shard, one after another while `in_time()` says there is time for one
    /// more. Touching one expires it too, so this only makes sure that locked money comes back
    /// even when nobody asks.
    pub async fn expire_due(&self, limit: usize, in_time: &(dyn Fn() -> bool + Sync)) -> Result<Swept, WalletError> {
        let store = self.engine.store();
        let now = self.engine.clock().now();
        let (due, more) = store.due_expiries(now, limit).await?;
        let mut swept = Swept { more, ..Swept::default() };
        for DueExpiry { project, id, at } in due {
            if !in_time() {
                // The rest stay scheduled for the next run.
                swept.more = true;
                break;
            }
            match store.read_movement(&project, id).await? {
                Some(movement) if movement.expired(now) => {
                    match self.finish(&project, &movement.expired_at(now), movements::Step::Cancel).await {
                        Ok(true) => swept.expired += 1,
                        Ok(false) => swept.resolved_meanwhile += 1,
                        // Someone holds a wallet: the next run tries again.
                        Err(WalletError::Busy) => swept.busy += 1,
                        Err(error) => return Err(error),
                    }
                }
                Some(movement) if movement.status != MovementStatus::Processing => {
                    store.forget_expiry(&project, id, at).await?;
                    swept.resolved_meanwhile += 1;
                }
                // Its time has not come by this clock after all.
                Some(_) => {}
                None => store.forget_expiry(&project, id, at).await?,
            }
        }
        Ok(swept)
    }
}
