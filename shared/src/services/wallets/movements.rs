//! Money moving between wallets: deposits, transfers, quasi-transfers and fund requests. Each
//! step of a movement is one engine step: its wallets locked in id order, their changes, the
//! movement's record and the idempotency record in one transaction.

use super::{WalletError, Wallets};
use crate::domain::money::Amount;
use crate::domain::movements::{
    self, FailureReason, Movement, MovementKind, MovementStatus, Reference, Resolution, Unmovable,
};
use crate::domain::names::{BalanceId, BalanceType, ProjectId};
use crate::domain::operation::Rejection;
use crate::domain::time::Millis;
use crate::domain::wallets::{main_wallet_uuid, Expire};
use crate::engine::{Done, EngineError, Fault, Idempotency, Job, Outcome, Step};
use crate::store::{DueExpiry, HeadRecord, Write};
use uuid::Uuid;

/// `POST /deposits`, `/transfers`, `/quasi-transfers`, `/fund-requests` after parsing.
#[derive(Debug, Clone)]
pub struct NewMovement {
    pub kind: MovementKind,
    /// A wallet id or foreign id; `None`: the main wallet.
    pub source: Option<String>,
    pub destination: Option<String>,
    pub amount: Amount,
    /// The currency the amount was written in (`"10_000 XOF"`, `{"value", "currency"}`);
    /// `None`: a plain number, in the wallets' own. Part of the idempotency fingerprint.
    pub currency: Option<BalanceType>,
    pub foreign_id: Option<Reference>,
    pub expire: Option<Expire>,
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

/// What one step of a movement adds to the engine's step: its record.
struct Record<'a> {
    movement: &'a Movement,
    /// `None`: the step creates the movement; otherwise it resolves it to this status, `at`.
    to: Option<(MovementStatus, Millis)>,
    project: &'a ProjectId,
    /// The currency the request named, which must be the wallets' balance type.
    currency: Option<&'a BalanceType>,
}

impl Record<'_> {
    /// The movement as the step leaves it, in the wallets' balance type.
    fn after(&self, balance_type: &BalanceType) -> Movement {
        match self.to {
            None => Movement { balance_type: balance_type.clone(), ..self.movement.clone() },
            Some((status, at)) => Movement { status, updated_at: at, ..self.movement.clone() },
        }
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
        let (project, movement) = (self.project.clone(), self.movement.clone());
        Ok(vec![match self.to {
            None => Write::NewMovement { project, movement: self.after(balance_type) },
            Some((to, now)) => Write::ResolveMovement { project, movement, to, now },
        }])
    }

    fn output(&self, done: &[Done]) -> Result<Movement, Fault> {
        let first = done.first().ok_or(Fault::Inconsistent("a movement step without wallets"))?;
        Ok(self.after(&first.balance.balance_type))
    }
}

impl Wallets {
    /// A transfer, quasi-transfer or fund request in three round trips (two locks and a
    /// commit), a deposit in two.
    pub async fn create_movement(
        &self,
        project: &ProjectId,
        key_id: Option<&str>,
        new: &NewMovement,
        idempotency: Option<&Idempotency<'_, Movement>>,
    ) -> Result<Outcome<Movement>, WalletError> {
        let now = self.engine.clock().now();
        let main = BalanceId::new(main_wallet_uuid(project));
        let destination = match &new.destination {
            Some(text) => self.wallet_id(project, text).await?,
            None => main,
        };
        let source = match (new.kind, &new.source) {
            (MovementKind::Deposit, _) => None,
            (_, Some(text)) => Some(self.wallet_id(project, text).await?),
            (_, None) => Some(main),
        };
        let movement = Movement::open(
            Uuid::new_v4(),
            new.kind,
            source,
            destination,
            new.amount,
            new.foreign_id.clone(),
            new.expire,
            now,
        )
        .map_err(|unmovable| match unmovable {
            Unmovable::SameWallet => WalletError::SameWallet,
            Unmovable::ExpireInPast => WalletError::ExpireInPast,
        })?;
        let step = Step {
            project,
            legs: movement.legs(movements::Step::Create),
            at: Some(now),
            wallets: true,
            create: Some(Self::main_wallet(project, key_id, now)),
        };
        let record = Record { movement: &movement, to: None, project, currency: new.currency.as_ref() };
        Ok(self.engine.apply(&step, &record, idempotency).await?)
    }

    /// Receives / sends (`Complete`) or cancels a quasi-transfer or fund request. One that is
    /// past its expiry is expired first, whoever asks.
    pub async fn resolve_movement(
        &self,
        project: &ProjectId,
        kind: MovementKind,
        id: Uuid,
        resolution: Resolution,
    ) -> Result<Movement, WalletError> {
        let now = self.engine.clock().now();
        let what = match kind {
            MovementKind::FundRequest => "fund request",
            _ => "quasi-transfer",
        };
        let read = || async {
            match self.engine.store().read_movement(project, id).await? {
                Some(movement) if movement.kind == kind => Ok(movement),
                _ => Err(WalletError::NotFound(what)),
            }
        };
        let mut movement = read().await?;
        if movement.expired(now) {
            let expired = MovementStatus::Failure(FailureReason::Expired);
            self.finish(project, &movement, movements::Step::Cancel, expired, now).await?;
            movement = read().await?;
        }
        if movement.status == MovementStatus::Processing {
            let (step, to) = match resolution {
                Resolution::Complete => (movements::Step::Complete, MovementStatus::Successful),
                Resolution::Cancel => (movements::Step::Cancel, resolution.status()),
            };
            if self.finish(project, &movement, step, to, now).await? {
                return Ok(Movement { status: to, updated_at: now, ..movement });
            }
            // Someone else resolved it between our read and our write.
            movement = read().await?;
            if movement.status == MovementStatus::Processing {
                return Err(Fault::Inconsistent("a pending movement's locked money is gone").into());
            }
        }
        if movement.status == resolution.status() {
            Ok(movement)
        } else {
            Err(WalletError::AlreadyResolved(movement.status))
        }
    }

    /// Moves a pending movement to `to`, with its money; `false` when it was no longer pending.
    async fn finish(
        &self,
        project: &ProjectId,
        movement: &Movement,
        step: movements::Step,
        to: MovementStatus,
        now: Millis,
    ) -> Result<bool, WalletError> {
        let legs = movement.legs(step);
        let result = if legs.is_empty() {
            let resolve = Write::ResolveMovement { project: project.clone(), movement: movement.clone(), to, now };
            self.engine.write(project, &[resolve]).await.map_err(EngineError::with_refusal)
        } else {
            let step = Step { project, legs, at: Some(now), wallets: true, create: None };
            let record = Record { movement, to: Some((to, now)), project, currency: None };
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
            let expired = MovementStatus::Failure(FailureReason::Expired);
            match store.read_movement(&project, id).await? {
                Some(movement) if movement.expired(now) => {
                    match self.finish(&project, &movement, movements::Step::Cancel, expired, now).await {
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
