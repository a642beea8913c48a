//! The commit protocol: lock every balance of the step, plan each leg, commit, recover.
//!
//! Recovery never guesses. After a lost answer or a failed fence the step takes its locks
//! again under a *new* owner (taking over from its own old attempt), which fences that old
//! attempt off for good; then it looks whether the old attempt's history entry exists. Either
//! it does (answer as if nothing happened) or it never will (plan again from fresh state).
//! All of a step's own writes are one transaction, so one entry tells for all of them.

use super::{new_owner, Engine, EngineError, Fault, Idempotency, Outcome, RandomIds};
use crate::domain::balance::{Balance, Lot};
use crate::domain::entry::Entry;
use crate::domain::ledger::{self, Change, Leg, LotsView, Plan, PlanError};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::operation::Rejection;
use crate::domain::packing::{pack, MAX_TRANSACTION_ITEMS};
use crate::domain::time::Millis;
use crate::domain::wallets::Wallet;
use crate::failpoint;
use crate::store::{Commit, CommitError, HeadRecord, HeadWrite, IdempotencyRecord, IdempotencyWrite, Write};
use rand::Rng;
use std::time::Duration;

/// Attempts whose outcome stayed unknown before a request gives up.
const MAX_ATTEMPTS: usize = 4;
/// Immediate retries of a commit cancelled by a conflict (nothing was written).
const MAX_CONFLICT_RETRIES: usize = 3;
/// Credits read per Query while planning.
const CREDITS_PAGE: usize = 100;

/// What a step touches: the project's balances (its legs, each once) and what it does to
/// each, and when.
pub struct Step<'a> {
    pub project: &'a ProjectId,
    pub legs: Vec<Leg>,
    /// When the step happens; by default when each attempt has its locks.
    pub at: Option<Millis>,
    /// Every leg must be a wallet: a plain balance is not found.
    pub wallets: bool,
    /// A wallet created when a leg names it and it does not exist yet (the main wallet).
    pub create: Option<Wallet>,
    /// How long to wait for a busy balance; by default the engine's wait. A step that can
    /// join a group commit tries once: waiting happens as a ticket instead.
    pub wait: Option<Duration>,
}

impl<'a> Step<'a> {
    pub fn new(project: &'a ProjectId, legs: Vec<Leg>) -> Self {
        Self { project, legs, at: None, wallets: false, create: None, wait: None }
    }
}

/// What a service adds to a step: its own checks and writes, and the answer.
pub trait Job: Sync {
    /// What the caller gets back, and what an idempotency record renders.
    type Output: Send;
    /// What the service's own check can refuse.
    type Refusal: Send;

    /// Checks the locked heads (in leg order) and names the writes that commit with the step.
    fn prepare(&self, _heads: &[HeadRecord]) -> Result<Vec<Write>, Self::Refusal> {
        Ok(Vec::new())
    }

    /// Writes that record what the legs became (a movement's transactions, with each wallet
    /// before and after), committed with the step: at most one item per leg with an operation.
    fn records(&self, _heads: &[HeadRecord], _done: &[Done]) -> Result<Vec<Write>, Fault> {
        Ok(Vec::new())
    }

    /// The answer, from what each leg became (in leg order).
    fn output(&self, done: &[Done]) -> Result<Self::Output, Fault>;
}

/// What a leg's balance became: after its own change (or, without one, after what was due),
/// and the history entry of its own change.
#[derive(Debug, Clone)]
pub struct Done {
    pub balance: Balance,
    pub entry: Option<Entry>,
}

/// An attempt whose joint transaction may have landed: its entry tells, its output answers.
struct InDoubt<T> {
    balance: BalanceId,
    entry: Entry,
    output: T,
}

enum Failure<T, R> {
    /// Nothing of the step was written; the locks are released.
    Refused(EngineError<R>),
    /// The key has a live record; the locks are released.
    KeyTaken(Option<IdempotencyRecord>),
    /// Take over under a new owner, and look whether the attempt landed after all.
    Restart(Option<InDoubt<T>>),
    /// The locks are released.
    Fault(Fault),
}

/// A leg the planner refused (with the maintenance due all the same), or a fault.
enum Unplanned {
    Rejected(Rejection, Vec<Change>),
    Fault(Fault),
}

/// The locks an attempt holds: the heads it read under its owner.
struct Locks<'a> {
    project: &'a ProjectId,
    heads: &'a [HeadRecord],
    owner: &'a str,
}

impl<T, R> From<Fault> for Failure<T, R> {
    fn from(fault: Fault) -> Self {
        Failure::Fault(fault)
    }
}

impl Engine {
    /// Takes the step: its legs' changes, its other writes and the key's record land together
    /// or not at all. Two round trips for one uncontended leg (lock, commit), one more per leg.
    pub async fn apply<J: Job>(
        &self,
        step: &Step<'_>,
        job: &J,
        idempotency: Option<&Idempotency<'_, J::Output>>,
    ) -> Result<Outcome<J::Output>, EngineError<J::Refusal>> {
        let project = step.project;
        let mut owner = new_owner();
        let mut previous_owner: Option<String> = None;
        let mut in_doubt: Option<InDoubt<J::Output>> = None;
        for _ in 0..MAX_ATTEMPTS {
            let heads = match self.lock_legs(step, &owner, previous_owner.as_deref()).await {
                Ok(heads) => heads,
                Err(error) => {
                    // Someone else holds a balance of the old attempt now, so it is fenced
                    // off: whether its entry exists is final even without the lock.
                    if let Some(doubt) = in_doubt.take() {
                        if self.landed(project, &doubt).await? {
                            return Ok(Outcome::Done(doubt.output));
                        }
                    }
                    return Err(error);
                }
            };
            failpoint::hit(failpoint::AFTER_LOCK);
            let locks = Locks { project, heads: &heads, owner: &owner };
            if let Some(doubt) = in_doubt.take() {
                if self.landed(project, &doubt).await? {
                    self.release(&locks, &[]).await;
                    return Ok(Outcome::Done(doubt.output));
                }
            }
            match self.attempt(step, job, &locks, idempotency).await {
                Ok(output) => return Ok(Outcome::Done(output)),
                Err(Failure::Refused(refusal)) => {
                    // A repeat of a request that succeeded gets its stored answer: its own
                    // effect may be why it is refused now.
                    return self.stored(project, idempotency, None).await?.answer().unwrap_or(Err(refusal));
                }
                Err(Failure::KeyTaken(record)) => match self.stored(project, idempotency, record).await?.answer() {
                    Some(answer) => return answer,
                    // It expired between the failed condition and the read: the key is free now.
                    None => previous_owner = Some(std::mem::replace(&mut owner, new_owner())),
                },
                Err(Failure::Restart(doubt)) => {
                    tracing::warn!(project = %project, "commit outcome unknown or fenced; taking over and checking");
                    in_doubt = doubt;
                    previous_owner = Some(std::mem::replace(&mut owner, new_owner()));
                }
                Err(Failure::Fault(fault)) => return Err(fault.into()),
            }
        }
        Err(Fault::GaveUp(MAX_ATTEMPTS).into())
    }

    /// Writes on their own, without a lock (a claim, a status change): one transaction, or
    /// one conditional write when it is a single item.
    pub async fn write(&self, project: &ProjectId, writes: &[Write]) -> Result<(), EngineError> {
        let outcome = self.create(project, writes, (), None).await?;
        debug_assert!(matches!(outcome, Outcome::Done(())));
        Ok(())
    }

    /// [`Engine::write`] of new items (whose output is `value`) with the key's record: a
    /// repeat answers the first.
    pub async fn create<T>(
        &self,
        project: &ProjectId,
        writes: &[Write],
        value: T,
        idempotency: Option<&Idempotency<'_, T>>,
    ) -> Result<Outcome<T>, EngineError> {
        let record = idempotency.map(|idempotency| idempotency.record(project, &value, self.clock.now()));
        for _ in 0..MAX_ATTEMPTS {
            match self.commit_retrying(&Commit { heads: Vec::new(), record: record.as_ref(), writes }).await {
                Ok(()) => return Ok(Outcome::Done(value)),
                Err(CommitError::IdempotencyTaken(returned)) => {
                    if let Some(answer) = self.stored(project, idempotency, returned).await?.answer() {
                        return answer;
                    }
                    // It expired between the failed condition and the read: the key is free now.
                }
                Err(CommitError::Refused(refused)) => return Err(EngineError::WriteRefused(refused)),
                Err(error) => return Err(Fault::Store(error.into_store_error()).into()),
            }
        }
        Err(Fault::GaveUp(MAX_ATTEMPTS).into())
    }

    /// One attempt with every lock held: plan, then commit.
    async fn attempt<J: Job>(
        &self,
        step: &Step<'_>,
        job: &J,
        locks: &Locks<'_>,
        idempotency: Option<&Idempotency<'_, J::Output>>,
    ) -> Result<J::Output, Failure<J::Output, J::Refusal>> {
        let (project, legs, heads) = (step.project, &step.legs, locks.heads);
        let now = step.at.unwrap_or_else(|| self.clock.now());
        let mut writes = match job.prepare(heads) {
            Ok(writes) => writes,
            Err(refusal) => {
                self.release(locks, &[]).await;
                return Err(Failure::Refused(EngineError::Refused(refusal)));
            }
        };
        // A step with anything of its own commits every leg in one transaction; one without
        // (maintenance) commits only what is due.
        let joint = idempotency.is_some() || !writes.is_empty() || legs.iter().any(Leg::acts);
        let joint_items = usize::from(idempotency.is_some()) + writes.iter().map(Write::items).sum::<usize>();
        let entries = legs.iter().filter(|leg| leg.operation.is_some()).count();
        // Only one leg of a step ever takes from credits (a DEC), so it may use all the room
        // left by the heads, the entries and the records (one per entry at most).
        let lot_budget = MAX_TRANSACTION_ITEMS.saturating_sub(joint_items + legs.len() + 2 * entries).max(1);
        let mut plans = Vec::with_capacity(legs.len());
        let mut rejection = None;
        for (leg, head) in legs.iter().zip(heads) {
            match self.plan(&head.balance, now, leg, joint, lot_budget).await {
                Ok(plan) => plans.push(plan),
                Err(Unplanned::Rejected(refused, maintenance)) => {
                    rejection.get_or_insert(refused);
                    plans.push(Plan { changes: maintenance, operation: None });
                }
                Err(Unplanned::Fault(fault)) => {
                    self.release(locks, &[]).await;
                    return Err(fault.into());
                }
            }
        }
        if let Some(rejection) = rejection {
            // What was due is written all the same (best effort: the next writer redoes what
            // did not land); the step is not.
            for plan in &mut plans {
                plan.changes.truncate(plan.operation.take().unwrap_or(plan.changes.len()));
            }
            let written = self.commit_plans::<(), J::Refusal>(locks, &plans, None, &[], (), None).await;
            if let Err(Failure::Restart(_)) = written {
                self.release(locks, &[]).await;
            }
            return Err(Failure::Refused(EngineError::Rejected(rejection)));
        }
        let done: Vec<Done> = plans.iter().zip(heads).map(|(plan, head)| done(plan, &head.balance)).collect();
        match job.records(heads, &done) {
            Ok(records) => writes.extend(records),
            Err(fault) => {
                self.release(locks, &[]).await;
                return Err(fault.into());
            }
        }
        let output = match job.output(&done) {
            Ok(output) => output,
            Err(fault) => {
                self.release(locks, &[]).await;
                return Err(fault.into());
            }
        };
        let record = idempotency.map(|idempotency| idempotency.record(project, &output, now));
        let landmark =
            plans.iter().zip(legs).find_map(|(plan, leg)| Some((leg.balance, plan.operation_change()?.entry.clone()?)));
        self.commit_plans(locks, &plans, record.as_ref(), &writes, output, landmark).await
    }

    /// Commits the plans in the transactions [`pack`] makes. Each leg's lock is released by
    /// the last transaction that writes its head, or afterwards when none does; on a failure
    /// the locks still held are released, unless the step is to be taken over. `landmark`:
    /// the entry that tells whether the joint transaction landed when its answer is lost.
    async fn commit_plans<T, R>(
        &self,
        locks: &Locks<'_>,
        plans: &[Plan],
        record: Option<&IdempotencyWrite>,
        writes: &[Write],
        output: T,
        landmark: Option<(BalanceId, Entry)>,
    ) -> Result<T, Failure<T, R>> {
        let (heads, owner) = (locks.heads, locks.owner);
        let txns = pack(plans, usize::from(record.is_some()) + writes.iter().map(Write::items).sum::<usize>());
        let last_txn = |leg: usize| txns.iter().rposition(|txn| txn.parts.iter().any(|(l, _)| *l == leg));
        let mut versions: Vec<u64> = heads.iter().map(|head| head.version).collect();
        // Which locks this attempt still holds.
        let mut held = vec![true; heads.len()];
        let mut joint_done = false;
        for (index, txn) in txns.iter().enumerate() {
            let lease = self.clock.now().plus_ms(self.lock_lease_ms);
            let mut heads_written = Vec::with_capacity(txn.parts.len());
            for (leg, range) in &txn.parts {
                versions[*leg] += 1;
                let keep_lock_until = (last_txn(*leg) != Some(index)).then_some(lease);
                let changes = &plans[*leg].changes[range.clone()];
                heads_written.push(HeadWrite { owner, changes, version: versions[*leg], keep_lock_until });
            }
            let (record, writes) = if txn.joint { (record, writes) } else { (None, &[][..]) };
            let failure = match self.commit_retrying(&Commit { heads: heads_written, record, writes }).await {
                Ok(()) => {
                    for (leg, _) in &txn.parts {
                        held[*leg] &= last_txn(*leg) != Some(index);
                    }
                    if txn.joint {
                        failpoint::hit(failpoint::AFTER_COMMIT);
                        joint_done = true;
                    }
                    continue;
                }
                Err(error) if joint_done => {
                    // The step is durable; what failed only settles credits, which the next
                    // writer finishes (the head records the debt).
                    tracing::warn!(error = %error, "settling credits after the step failed; left to the next writer");
                    None
                }
                Err(CommitError::Fenced | CommitError::Unknown(_) | CommitError::Conflict) => {
                    let doubt = landmark.filter(|_| txn.joint);
                    return Err(Failure::Restart(doubt.map(|(balance, entry)| InDoubt { balance, entry, output })));
                }
                Err(CommitError::IdempotencyTaken(record)) => Some(Failure::KeyTaken(record)),
                Err(CommitError::Refused(refused)) => Some(Failure::Refused(EngineError::WriteRefused(refused))),
                Err(CommitError::Store(error)) => Some(Failure::Fault(error.into())),
            };
            self.release(locks, &held).await;
            return failure.map_or(Ok(output), Err);
        }
        // Legs that nothing was written to (nothing was due) are given back.
        self.release(locks, &held).await;
        Ok(output)
    }

    /// Gives back the locks still `held` (all of them when `held` is empty).
    async fn release(&self, locks: &Locks<'_>, held: &[bool]) {
        for (index, head) in locks.heads.iter().enumerate() {
            if held.get(index).copied().unwrap_or(held.is_empty()) {
                self.unlock_one(locks.project, head.balance.id, locks.owner).await;
            }
        }
    }

    /// Whether the attempt's entry exists.
    async fn landed<T>(&self, project: &ProjectId, doubt: &InDoubt<T>) -> Result<bool, Fault> {
        let stored = self.store.entry(project, doubt.balance, doubt.entry.seq).await?;
        Ok(stored.is_some_and(|stored| stored.id == doubt.entry.id))
    }

    /// Commits, trying again when a concurrent transaction on the same items cancelled it
    /// (nothing was written).
    pub(super) async fn commit_retrying(&self, commit: &Commit<'_>) -> Result<(), CommitError> {
        let mut retries = 0;
        loop {
            match self.store.commit(commit).await {
                Err(CommitError::Conflict) if retries < MAX_CONFLICT_RETRIES => {
                    retries += 1;
                    let pause = rand::rng().random_range(1..=10 * retries as u64);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                result => return result,
            }
        }
    }

    /// Loads credits page by page until the planner has what it needs.
    async fn plan(
        &self,
        balance: &Balance,
        now: Millis,
        leg: &Leg,
        joint: bool,
        budget: usize,
    ) -> Result<Plan, Unplanned> {
        let load = ledger::needs_lots(balance, now, leg.operation.as_ref().map(|request| &request.operation));
        let planned = self
            .with_credits(balance, load, |view| {
                ledger::plan_leg(balance, view, now, leg, joint, &mut RandomIds, budget)
            })
            .await
            .map_err(Unplanned::Fault)?;
        match planned {
            Ok(plan) => Ok(plan),
            Err(PlanError::Rejected { rejection, maintenance }) => Err(Unplanned::Rejected(rejection, maintenance)),
            Err(PlanError::NeedMoreLots) => Err(Unplanned::Fault(Fault::Inconsistent("credits missing"))),
            Err(PlanError::Inconsistent(why)) => Err(Unplanned::Fault(Fault::Inconsistent(why))),
        }
    }

    /// Runs a planner over the balance's credits, loading them a page at a time (the first
    /// page before the first try when `load` says it will need them) until it has what it
    /// needs: a planner never asks for more than the credits it walks in expiry order, so a
    /// balance with many credits is read only as far as an operation reaches. An answer of
    /// [`PlanError::NeedMoreLots`] means every credit was loaded.
    pub(super) async fn with_credits<T>(
        &self,
        balance: &Balance,
        mut load: bool,
        mut planner: impl FnMut(LotsView<'_>) -> Result<T, PlanError>,
    ) -> Result<Result<T, PlanError>, Fault> {
        let mut lots: Vec<Lot> = Vec::new();
        let mut complete = false;
        loop {
            if load {
                let (page, last) =
                    self.store.credits_page(&balance.project_id, balance.id, lots.last(), CREDITS_PAGE).await?;
                lots.extend(page);
                complete = last;
            }
            match planner(LotsView { lots: &lots, complete }) {
                Err(PlanError::NeedMoreLots) if !complete => load = true,
                planned => return Ok(planned),
            }
        }
    }
}

/// What a leg became once its plan is written.
fn done(plan: &Plan, head: &Balance) -> Done {
    match plan.operation_change() {
        Some(own) => Done { balance: own.after.clone(), entry: own.entry.clone() },
        None => Done { balance: plan.changes.last().map_or(head, |change| &change.after).clone(), entry: None },
    }
}
