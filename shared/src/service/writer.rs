//! Changing a balance: lock, load what the plan needs, plan, commit in as few transactions as
//! fit, and recover when a commit's outcome is unknown.
//!
//! Recovery never guesses. After a lost answer or a failed fence the request takes the lock
//! again under a *new* owner (taking over from its own old attempt), which fences that old
//! attempt off for good; then it looks whether the operation's history entry exists. Either
//! it does (answer as if nothing happened) or it never will (plan again from fresh state).

use super::locking::LockError;
use super::{Fault, Idempotency, Ledger, RandomIds, Stored, IDEMPOTENCY_TTL_SECONDS};
use crate::api::{self, OperationResponse};
use crate::domain::balance::{Balance, Lot};
use crate::domain::ledger::{self, Change, LotsView, Plan, PlanError};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::operation::{OperationRequest, Rejection};
use crate::domain::time::Millis;
use crate::failpoint;
use crate::store::{Batch, CommitError, HeadRecord, IdempotencyRecord, IdempotencyWrite, MAX_TRANSACTION_ITEMS};
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use rand::Rng;
use std::ops::Range;
use std::time::Duration;
use uuid::Uuid;

/// Attempts whose outcome stayed unknown before a request gives up.
pub(super) const MAX_ATTEMPTS: usize = 4;
/// Immediate retries of a commit cancelled by a conflict (nothing was written).
const MAX_CONFLICT_RETRIES: usize = 3;
/// Credits read per Query while planning.
const CREDITS_PAGE: usize = 100;

pub(crate) enum Written {
    /// The operation's change (its `after` and its entry).
    Operation(Box<Change>),
    /// Only maintenance (expiry, settling) was due; the balance as it is now.
    Maintained(Box<Balance>),
    Replayed(IdempotencyRecord),
}

#[derive(Debug)]
pub(crate) enum WriteError {
    NotFound,
    Busy,
    Rejected(Rejection),
    KeyReused,
    /// A condition of the extras failed (their cancellation reasons); nothing was written.
    ExtraRefused(Vec<CancellationReason>),
    Fault(Fault),
}

impl From<Fault> for WriteError {
    fn from(fault: Fault) -> Self {
        WriteError::Fault(fault)
    }
}

impl From<LockError> for WriteError {
    fn from(error: LockError) -> Self {
        match error {
            LockError::Missing => WriteError::NotFound,
            LockError::Busy => WriteError::Busy,
            LockError::Store(error) => WriteError::Fault(error.into()),
        }
    }
}

enum CommitFailure {
    IdempotencyTaken(Option<IdempotencyRecord>),
    ExtraRefused(Vec<CancellationReason>),
    /// Restart under a new owner; `operation` is the change whose commit may have landed.
    Restart {
        operation: Option<Box<Change>>,
    },
    Fault(Fault),
}

/// The answer body stored with an operation's idempotency record.
pub(crate) fn operation_body(change: &Change) -> Option<String> {
    let entry = change.entry.as_ref()?;
    Some(api::to_json(&OperationResponse::new(&change.after, entry)))
}

pub(super) fn new_owner() -> String {
    Uuid::new_v4().simple().to_string()
}

/// Splits the plan into runs of consecutive changes that fit one transaction each (the head
/// is in every one; the idempotency record and the extras travel with the operation's change).
pub(super) fn batches(plan: &Plan, with_operation: usize) -> Vec<Range<usize>> {
    let cost =
        |index: usize| plan.changes[index].items() + if plan.operation == Some(index) { with_operation } else { 0 };
    let mut batches = Vec::new();
    let mut start = 0;
    let mut used = 1;
    for index in 0..plan.changes.len() {
        if index > start && used + cost(index) > MAX_TRANSACTION_ITEMS {
            batches.push(start..index);
            start = index;
            used = 1;
        }
        used += cost(index);
    }
    if start < plan.changes.len() {
        batches.push(start..plan.changes.len());
    }
    batches
}

impl Ledger {
    /// Applies `request` (or, without one, only the maintenance that is due) to the balance.
    pub(crate) async fn write(
        &self,
        project: &ProjectId,
        id: BalanceId,
        request: Option<&OperationRequest>,
        idempotency: Option<&Idempotency>,
        extras: &[TransactWriteItem],
    ) -> Result<Written, WriteError> {
        let mut owner = new_owner();
        let mut previous_owner: Option<String> = None;
        let mut in_doubt: Option<Box<Change>> = None;
        for _ in 0..MAX_ATTEMPTS {
            let head = match self.lock(project, id, &owner, previous_owner.as_deref()).await {
                Ok(head) => head,
                Err(error) => {
                    // Someone else holds the balance now, so our earlier attempt is fenced
                    // off: whether its entry exists is final even without the lock.
                    if let Some(change) = in_doubt.take() {
                        if self.landed(project, id, &change).await? {
                            return Ok(Written::Operation(change));
                        }
                    }
                    return Err(error.into());
                }
            };
            failpoint::hit(failpoint::AFTER_LOCK);
            if let Some(change) = in_doubt.take() {
                if self.landed(project, id, &change).await? {
                    self.unlock(project, id, &owner).await;
                    return Ok(Written::Operation(change));
                }
            }
            let now = self.clock.now();
            let plan = match self.plan(&head.balance, now, request, ledger::MAX_LOT_CHANGES_PER_OPERATION).await {
                Ok(plan) => plan,
                Err(PlanOutcome::Rejected { rejection, maintenance }) => {
                    self.write_maintenance(&owner, &head, maintenance).await;
                    return self.rejected(project, rejection, idempotency, now).await;
                }
                Err(PlanOutcome::Fault(fault)) => {
                    self.unlock(project, id, &owner).await;
                    return Err(fault.into());
                }
            };
            if plan.changes.is_empty() {
                // Someone else already did what was due.
                self.unlock(project, id, &owner).await;
                return Ok(Written::Maintained(Box::new(head.balance)));
            }
            match self.commit_plan(&owner, &head, &plan, idempotency, extras, now).await {
                Ok(()) => {
                    return Ok(match plan.operation_change() {
                        Some(change) => Written::Operation(Box::new(change.clone())),
                        None => {
                            Written::Maintained(Box::new(plan.changes.last().map_or(head.balance, |c| c.after.clone())))
                        }
                    });
                }
                Err(CommitFailure::IdempotencyTaken(record)) => {
                    self.unlock(project, id, &owner).await;
                    match self.stored(project, idempotency, record, now).await? {
                        Stored::Replay(record) => return Ok(Written::Replayed(record)),
                        Stored::Reused => return Err(WriteError::KeyReused),
                        // The record vanished between the failed condition and the read: it
                        // had just expired. Try again; the key is free now.
                        Stored::Nothing => previous_owner = Some(std::mem::replace(&mut owner, new_owner())),
                    }
                }
                Err(CommitFailure::ExtraRefused(reasons)) => {
                    self.unlock(project, id, &owner).await;
                    return Err(WriteError::ExtraRefused(reasons));
                }
                Err(CommitFailure::Restart { operation }) => {
                    tracing::warn!(balance = %id, "commit outcome unknown or fenced; taking over and checking");
                    in_doubt = operation;
                    previous_owner = Some(std::mem::replace(&mut owner, new_owner()));
                }
                Err(CommitFailure::Fault(fault)) => {
                    self.unlock(project, id, &owner).await;
                    return Err(fault.into());
                }
            }
        }
        Err(Fault::GaveUp(MAX_ATTEMPTS).into())
    }

    /// Whether the operation's history entry exists (we hold the lock, so it is final).
    async fn landed(&self, project: &ProjectId, id: BalanceId, change: &Change) -> Result<bool, Fault> {
        let Some(entry) = &change.entry else {
            return Ok(false);
        };
        let stored = self.store.entry(project, id, entry.seq).await?;
        Ok(stored.is_some_and(|stored| stored.id == entry.id))
    }

    /// A refused operation answers with its stored result when this is a repeat of a request
    /// that succeeded (its effect may be why it is refused now), with the refusal otherwise.
    async fn rejected(
        &self,
        project: &ProjectId,
        rejection: Rejection,
        idempotency: Option<&Idempotency>,
        now: Millis,
    ) -> Result<Written, WriteError> {
        match self.stored(project, idempotency, None, now).await? {
            Stored::Replay(record) => Ok(Written::Replayed(record)),
            Stored::Reused => Err(WriteError::KeyReused),
            Stored::Nothing => Err(WriteError::Rejected(rejection)),
        }
    }

    /// Loads credits page by page until the planner has what it needs; the operation's own
    /// change touches at most `lot_budget` credits.
    pub(super) async fn plan(
        &self,
        balance: &Balance,
        now: Millis,
        request: Option<&OperationRequest>,
        lot_budget: usize,
    ) -> Result<Plan, PlanOutcome> {
        let mut lots: Vec<Lot> = Vec::new();
        let mut complete = false;
        let mut load = ledger::needs_lots(balance, now, request.map(|r| &r.operation));
        loop {
            if load {
                let (page, last) = self
                    .store
                    .credits_page(&balance.project_id, balance.id, lots.last(), CREDITS_PAGE)
                    .await
                    .map_err(|e| PlanOutcome::Fault(e.into()))?;
                lots.extend(page);
                complete = last;
            }
            match ledger::plan_within(
                balance,
                LotsView { lots: &lots, complete },
                now,
                request,
                &mut RandomIds,
                lot_budget,
            ) {
                Ok(plan) => return Ok(plan),
                Err(PlanError::NeedMoreLots) if !complete => load = true,
                Err(PlanError::NeedMoreLots) => return Err(PlanOutcome::Fault(Fault::Inconsistent("credits missing"))),
                Err(PlanError::Rejected { rejection, maintenance }) => {
                    return Err(PlanOutcome::Rejected { rejection, maintenance })
                }
                Err(PlanError::Inconsistent(why)) => return Err(PlanOutcome::Fault(Fault::Inconsistent(why))),
            }
        }
    }

    /// Writes maintenance that was due even though the operation was refused; releases the
    /// lock either way. Best effort: the next writer redoes whatever did not land.
    async fn write_maintenance(&self, owner: &str, head: &HeadRecord, maintenance: Vec<Change>) {
        let (project, id) = (&head.balance.project_id, head.balance.id);
        if maintenance.is_empty() {
            return self.unlock(project, id, owner).await;
        }
        let plan = Plan { changes: maintenance, operation: None };
        if self.commit_plan(owner, head, &plan, None, &[], self.clock.now()).await.is_err() {
            self.unlock(project, id, owner).await;
        }
    }

    async fn commit_plan(
        &self,
        owner: &str,
        head: &HeadRecord,
        plan: &Plan,
        idempotency: Option<&Idempotency>,
        extras: &[TransactWriteItem],
        now: Millis,
    ) -> Result<(), CommitFailure> {
        let (project, id) = (&head.balance.project_id, head.balance.id);
        let ranges = batches(plan, usize::from(idempotency.is_some()) + extras.len());
        let operation_batch = plan.operation.and_then(|op| ranges.iter().position(|r| r.contains(&op)));
        for (index, range) in ranges.iter().enumerate() {
            let last = index + 1 == ranges.len();
            let carries_operation = operation_batch == Some(index);
            let record = match (carries_operation, idempotency, plan.operation_change()) {
                (true, Some(idempotency), Some(change)) => Some(IdempotencyWrite {
                    key: idempotency.key.clone(),
                    fingerprint: idempotency.fingerprint.clone(),
                    status: 200,
                    body: operation_body(change).unwrap_or_default(),
                    now,
                    expires_at: now.plus_seconds(IDEMPOTENCY_TTL_SECONDS),
                }),
                _ => None,
            };
            let batch = Batch {
                owner,
                changes: &plan.changes[range.clone()],
                version: head.version + index as u64 + 1,
                keep_lock_until: (!last).then(|| self.clock.now().plus_ms(self.lock_lease_ms)),
                idempotency: record.as_ref(),
                extras: if carries_operation { extras } else { &[] },
            };
            match self.commit_retrying_conflicts(std::slice::from_ref(&batch)).await {
                Ok(()) => {
                    if carries_operation {
                        failpoint::hit(failpoint::AFTER_COMMIT);
                    }
                }
                Err(CommitError::IdempotencyTaken(record)) => return Err(CommitFailure::IdempotencyTaken(record)),
                Err(CommitError::ExtraRefused(reasons)) => return Err(CommitFailure::ExtraRefused(reasons)),
                Err(error) if operation_batch.is_some_and(|op| index > op) => {
                    // The operation is durable; what failed only settles credits, which the
                    // next writer finishes (the head records the debt).
                    tracing::warn!(error = %error, "settling credits after the operation failed; left to the next writer");
                    self.unlock(project, id, owner).await;
                    return Ok(());
                }
                Err(CommitError::Store(error)) => return Err(CommitFailure::Fault(error.into())),
                Err(CommitError::Fenced | CommitError::Unknown(_) | CommitError::Conflict) => {
                    let operation = carries_operation.then(|| plan.operation_change().cloned().map(Box::new)).flatten();
                    return Err(CommitFailure::Restart { operation });
                }
            }
        }
        Ok(())
    }

    /// Commits the batches (one transaction), trying again when a concurrent transaction on
    /// the same items cancelled it (nothing was written).
    pub(super) async fn commit_retrying_conflicts(&self, batches: &[Batch<'_>]) -> Result<(), CommitError> {
        let mut retries = 0;
        loop {
            match self.store.commit_together(batches).await {
                Err(CommitError::Conflict) if retries < MAX_CONFLICT_RETRIES => {
                    retries += 1;
                    let pause = rand::rng().random_range(1..=10 * retries as u64);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                result => return result,
            }
        }
    }
}

pub(super) enum PlanOutcome {
    Rejected { rejection: Rejection, maintenance: Vec<Change> },
    Fault(Fault),
}
