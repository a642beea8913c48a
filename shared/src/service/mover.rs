//! Moving money between wallets: lock every wallet a step touches (in id order, so that two
//! transfers in opposite directions never wait on each other), plan each wallet's change with
//! the ledger's planner, and commit them all — heads, entries, the movement's record and the
//! idempotency record — as ONE conditional transaction.
//!
//! Recovery is the single-balance writer's (see `writer.rs`): after a lost answer or a failed
//! fence, lock again under a new owner (which fences the old attempt off) and look whether the
//! attempt's first history entry exists. All of the step's writes are one transaction, so one
//! entry tells for all of them.

use super::locking::LockError;
use super::writer::{batches, new_owner, PlanOutcome, MAX_ATTEMPTS};
use super::{Fault, Idempotency, Ledger, Stored};
use crate::domain::balance::Balance;
use crate::domain::entry::Entry;
use crate::domain::ledger::{Change, Plan};
use crate::domain::movements::Leg;
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::operation::{OperationRequest, Rejection};
use crate::domain::time::Millis;
use crate::domain::wallets::{Wallet, WalletInfo};
use crate::failpoint;
use crate::store::{
    Batch, CommitError, HeadRecord, IdempotencyRecord, IdempotencyWrite, InsertWalletError, MAX_TRANSACTION_ITEMS,
};
use aws_sdk_dynamodb::types::TransactWriteItem;
use rust_decimal::Decimal;

/// One step of a movement, as the mover needs it.
pub(crate) struct Step<'a> {
    pub project: &'a ProjectId,
    pub legs: Vec<Leg>,
    /// The `session` of the entries it writes: the movement's id.
    pub session: String,
    pub now: Millis,
    /// The project's main wallet, created if a leg names it and it does not exist yet.
    pub main: Option<(BalanceId, WalletInfo)>,
}

/// What the caller adds once the wallets are locked: checks on them, and the writes that go
/// into the same transaction.
pub(crate) struct Prepared {
    pub extras: Vec<TransactWriteItem>,
    pub idempotency: Option<IdempotencyWrite>,
}

pub(crate) type Prepare<'a> = dyn Fn(&[Wallet]) -> Result<Prepared, MoveError> + Send + Sync + 'a;

#[derive(Debug)]
pub(crate) enum Moved {
    Done,
    Replayed(IdempotencyRecord),
}

#[derive(Debug)]
pub(crate) enum MoveError {
    /// No such wallet in this project (or a balance that is not a wallet).
    NotFound,
    Busy,
    /// The planner refused a wallet's change (insufficient funds).
    Rejected(Rejection),
    /// A caller's own check refused the step.
    Refused(super::wallets::WalletError),
    KeyReused,
    /// A condition of the extras failed; nothing was written.
    ExtraRefused,
    /// A locked pocket holds less than the step releases from it; nothing was written.
    LockedShort,
    Fault(Fault),
}

impl From<Fault> for MoveError {
    fn from(fault: Fault) -> Self {
        MoveError::Fault(fault)
    }
}

enum Failure {
    Refused(MoveError),
    IdempotencyTaken(Option<IdempotencyRecord>),
    /// Restart under a new owner; `landed` is the entry whose existence tells whether the
    /// commit landed.
    Restart(Option<(BalanceId, Entry)>),
}

impl From<Fault> for Failure {
    fn from(fault: Fault) -> Self {
        Failure::Refused(MoveError::Fault(fault))
    }
}

impl Ledger {
    pub(crate) async fn move_money(
        &self,
        step: &Step<'_>,
        idempotency: Option<&Idempotency>,
        prepare: &Prepare<'_>,
    ) -> Result<Moved, MoveError> {
        // (wallet, leg) in the order the locks are taken.
        let mut order: Vec<(BalanceId, usize)> = step.legs.iter().enumerate().map(|(i, leg)| (leg.wallet, i)).collect();
        order.sort();
        let mut owner = new_owner();
        let mut previous_owner: Option<String> = None;
        let mut in_doubt: Option<(BalanceId, Entry)> = None;
        for _ in 0..MAX_ATTEMPTS {
            let heads = match self.lock_wallets(step, &order, &owner, previous_owner.as_deref()).await {
                Ok(heads) => heads,
                Err(error) => {
                    // Someone else holds a wallet of the old attempt now: it is fenced off, and
                    // whether its entry exists is final.
                    if let Some((id, entry)) = in_doubt.take() {
                        if self.entry_exists(step.project, id, &entry).await? {
                            return Ok(Moved::Done);
                        }
                    }
                    return Err(error);
                }
            };
            failpoint::hit(failpoint::AFTER_LOCK);
            if let Some((id, entry)) = in_doubt.take() {
                if self.entry_exists(step.project, id, &entry).await? {
                    self.unlock_wallets(step, &owner).await;
                    return Ok(Moved::Done);
                }
            }
            match self.plan_and_commit(step, &heads, &owner, prepare).await {
                Ok(()) => return Ok(Moved::Done),
                Err(Failure::Refused(error)) => {
                    self.unlock_wallets(step, &owner).await;
                    return self.refused(step, idempotency, error).await;
                }
                Err(Failure::IdempotencyTaken(record)) => {
                    self.unlock_wallets(step, &owner).await;
                    match self.stored(step.project, idempotency, record, step.now).await? {
                        Stored::Replay(record) => return Ok(Moved::Replayed(record)),
                        Stored::Reused => return Err(MoveError::KeyReused),
                        // It expired between the failed condition and the read: the key is free.
                        Stored::Nothing => previous_owner = Some(std::mem::replace(&mut owner, new_owner())),
                    }
                }
                Err(Failure::Restart(landed)) => {
                    tracing::warn!("movement commit outcome unknown or fenced; taking over and checking");
                    in_doubt = landed;
                    previous_owner = Some(std::mem::replace(&mut owner, new_owner()));
                }
            }
        }
        Err(Fault::GaveUp(MAX_ATTEMPTS).into())
    }

    /// A refused step answers with its stored result when it repeats a request that
    /// succeeded (its own effect may be why it is refused now: the money already moved).
    async fn refused(
        &self,
        step: &Step<'_>,
        idempotency: Option<&Idempotency>,
        error: MoveError,
    ) -> Result<Moved, MoveError> {
        if !matches!(error, MoveError::Rejected(_) | MoveError::Refused(_)) {
            return Err(error);
        }
        match self.stored(step.project, idempotency, None, step.now).await? {
            Stored::Replay(record) => Ok(Moved::Replayed(record)),
            Stored::Reused => Err(MoveError::KeyReused),
            Stored::Nothing => Err(error),
        }
    }

    /// Locks the legs' wallets in id order; the heads come back in leg order. The main wallet
    /// is created on first need.
    async fn lock_wallets(
        &self,
        step: &Step<'_>,
        order: &[(BalanceId, usize)],
        owner: &str,
        previous_owner: Option<&str>,
    ) -> Result<Vec<(Wallet, u64)>, MoveError> {
        let mut locked: Vec<(usize, HeadRecord)> = Vec::with_capacity(order.len());
        for &(id, index) in order {
            let head = match self.lock(step.project, id, owner, previous_owner).await {
                Err(LockError::Missing) => match &step.main {
                    Some((main, info)) if *main == id => {
                        self.create_main_wallet(step.project, id, info, step.now).await?;
                        self.lock(step.project, id, owner, previous_owner).await
                    }
                    _ => Err(LockError::Missing),
                },
                other => other,
            };
            let error = match head {
                Ok(head) if head.wallet.is_some() => {
                    locked.push((index, head));
                    continue;
                }
                Ok(_) => {
                    self.unlock(step.project, id, owner).await;
                    MoveError::NotFound
                }
                Err(LockError::Missing) => MoveError::NotFound,
                Err(LockError::Busy) => MoveError::Busy,
                Err(LockError::Store(error)) => MoveError::Fault(error.into()),
            };
            for (_, head) in &locked {
                self.unlock(step.project, head.balance.id, owner).await;
            }
            return Err(error);
        }
        locked.sort_by_key(|(index, _)| *index);
        Ok(locked
            .into_iter()
            .filter_map(|(_, head)| Some((Wallet { info: head.wallet?, balance: head.balance }, head.version)))
            .collect())
    }

    /// Creates the project's main wallet; a concurrent request having done so is fine.
    pub(crate) async fn create_main_wallet(
        &self,
        project: &ProjectId,
        id: BalanceId,
        info: &WalletInfo,
        now: Millis,
    ) -> Result<(), MoveError> {
        let wallet =
            super::wallets::new_wallet(project, id, info.clone(), crate::domain::names::BalanceType::xof(), now);
        match self.store.insert_wallet(&wallet, None).await {
            Ok(()) | Err(InsertWalletError::Exists) => {
                self.main_wallet_exists(project);
                Ok(())
            }
            Err(InsertWalletError::Store(error)) => Err(Fault::from(error).into()),
            Err(InsertWalletError::ForeignIdTaken | InsertWalletError::IdempotencyTaken(_)) => {
                Err(Fault::Inconsistent("the main wallet has neither a foreign id nor a key").into())
            }
        }
    }

    async fn unlock_wallets(&self, step: &Step<'_>, owner: &str) {
        for leg in &step.legs {
            self.unlock(step.project, leg.wallet, owner).await;
        }
    }

    async fn entry_exists(&self, project: &ProjectId, id: BalanceId, entry: &Entry) -> Result<bool, Fault> {
        let stored = self.store.entry(project, id, entry.seq).await?;
        Ok(stored.is_some_and(|stored| stored.id == entry.id))
    }

    async fn plan_and_commit(
        &self,
        step: &Step<'_>,
        heads: &[(Wallet, u64)],
        owner: &str,
        prepare: &Prepare<'_>,
    ) -> Result<(), Failure> {
        let wallets: Vec<Wallet> = heads.iter().map(|(wallet, _)| wallet.clone()).collect();
        let prepared = prepare(&wallets).map_err(Failure::Refused)?;
        let entries = step.legs.iter().filter(|leg| leg.operation.is_some()).count();
        let fixed = step.legs.len() + entries + prepared.extras.len() + usize::from(prepared.idempotency.is_some());
        // Only one leg of a step ever takes from credits (the DEC), so it may use all the room.
        let lot_budget = MAX_TRANSACTION_ITEMS.saturating_sub(fixed).max(1);
        let mut finals: Vec<(Change, u64)> = Vec::with_capacity(heads.len());
        for (leg, (wallet, version)) in step.legs.iter().zip(heads) {
            let request = leg.operation.map(|operation| OperationRequest {
                operation,
                subject: None,
                update_token: None,
                session: step.session.clone(),
            });
            let plan = match self.plan(&wallet.balance, step.now, request.as_ref(), lot_budget).await {
                Ok(plan) => plan,
                Err(PlanOutcome::Rejected { rejection, .. }) => {
                    return Err(Failure::Refused(MoveError::Rejected(rejection)))
                }
                Err(PlanOutcome::Fault(fault)) => return Err(fault.into()),
            };
            let (prefix, change) = split(plan, &wallet.balance);
            let version = self.commit_maintenance(owner, *version, prefix).await?;
            finals.push((with_pockets(change, leg, step.now).map_err(Failure::Refused)?, version));
        }
        let batches: Vec<Batch<'_>> = finals
            .iter()
            .enumerate()
            .map(|(index, (change, version))| Batch {
                owner,
                changes: std::slice::from_ref(change),
                version: version + 1,
                keep_lock_until: None,
                idempotency: if index == 0 { prepared.idempotency.as_ref() } else { None },
                extras: if index == 0 { &prepared.extras } else { &[] },
            })
            .collect();
        match self.commit_retrying_conflicts(&batches).await {
            Ok(()) => {
                failpoint::hit(failpoint::AFTER_COMMIT);
                Ok(())
            }
            Err(CommitError::IdempotencyTaken(record)) => Err(Failure::IdempotencyTaken(record)),
            Err(CommitError::ExtraRefused(_)) => Err(Failure::Refused(MoveError::ExtraRefused)),
            Err(CommitError::Store(error)) => Err(Fault::from(error).into()),
            Err(CommitError::Fenced | CommitError::Unknown(_) | CommitError::Conflict) => {
                let landed = step
                    .legs
                    .iter()
                    .zip(&finals)
                    .find_map(|(leg, (change, _))| Some((leg.wallet, change.entry.clone()?)));
                Err(Failure::Restart(landed))
            }
        }
    }

    /// Writes the maintenance a wallet was due before the step (expired credits, settling),
    /// keeping the lock; the head's version after it.
    async fn commit_maintenance(&self, owner: &str, mut version: u64, prefix: Vec<Change>) -> Result<u64, Failure> {
        if prefix.is_empty() {
            return Ok(version);
        }
        let plan = Plan { changes: prefix, operation: None };
        for range in batches(&plan, 0) {
            version += 1;
            let batch = Batch {
                owner,
                changes: &plan.changes[range],
                version,
                keep_lock_until: Some(self.clock.now().plus_ms(self.lock_lease_ms)),
                idempotency: None,
                extras: &[],
            };
            match self.commit_retrying_conflicts(std::slice::from_ref(&batch)).await {
                Ok(()) => {}
                Err(CommitError::Store(error)) => return Err(Fault::from(error).into()),
                Err(_) => return Err(Failure::Restart(None)),
            }
        }
        Ok(version)
    }
}

/// The changes before the step's own (maintenance), and the step's own change: the
/// operation's, or for a leg without one a change that only rewrites the head. Changes after
/// the operation only settle credits; the head records that debt, and the next writer
/// settles it.
fn split(mut plan: Plan, balance: &Balance) -> (Vec<Change>, Change) {
    match plan.operation {
        Some(index) => {
            plan.changes.truncate(index + 1);
            let change = plan.changes.pop();
            match change {
                Some(change) => (plan.changes, change),
                None => (Vec::new(), head_only(balance)),
            }
        }
        None => {
            let after = plan.changes.last().map_or_else(|| head_only(balance), |c| head_only(&c.after));
            (plan.changes, after)
        }
    }
}

fn head_only(balance: &Balance) -> Change {
    Change { entry: None, lots: Vec::new(), after: balance.clone() }
}

/// The leg's change with its locked pockets moved. A release that would take a pocket below
/// zero is refused: the movement it releases was resolved by a racing request (whose commit
/// released it first) after the caller read it as pending. Nothing is written then.
fn with_pockets(mut change: Change, leg: &Leg, now: Millis) -> Result<Change, MoveError> {
    let pockets = &mut change.after.pockets;
    pockets.locked_in += leg.locked_in;
    pockets.locked_out += leg.locked_out;
    if pockets.locked_in < Decimal::ZERO || pockets.locked_out < Decimal::ZERO {
        return Err(MoveError::LockedShort);
    }
    if change.entry.is_none() && (leg.locked_in != Decimal::ZERO || leg.locked_out != Decimal::ZERO) {
        change.after.updated_at = now;
    }
    Ok(change)
}
