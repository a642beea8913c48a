//! The one commit protocol under the three facades. A service describes a step — the balances
//! it touches (its legs), what it does to each, and the writes that go with it — and the engine
//! locks, plans each leg through `domain::ledger`, commits, recovers when an outcome is unknown,
//! and answers a repeated idempotency key with the stored answer. A single-balance operation is
//! a one-leg step; writing off expired credits is a step whose leg does nothing of its own; a
//! transfer is a two-leg step. There is no second protocol.

mod batch;
mod commit;
mod idempotency;
mod lock;

pub use batch::{AnswerForm, Grouped};
pub use commit::{Done, Job, Step};
pub use idempotency::{Answer, Fingerprint, Idempotency, Outcome};
pub use lock::Locked;

use crate::clock::Clock;
use crate::domain::balance::Balance;
use crate::domain::ledger::{Ids, Leg};
use crate::domain::names::{BalanceId, ProjectId, TxId, UpdateToken};
use crate::domain::operation::Rejection;
use crate::store::{Refused, Store, StoreError};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The store, the clock and the knobs of the lock. Built once per process; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    store: Store,
    clock: Arc<dyn Clock>,
    lock_lease_ms: i64,
    lock_wait: Duration,
    group_commit: bool,
}

/// How long a lock lasts if its holder dies, and how long a request waits for a busy one.
#[derive(Debug, Clone, Copy)]
pub struct LockSettings {
    /// Longer than any request holds a lock.
    pub lease_ms: i64,
    /// Then the answer is BALANCE_BUSY.
    pub wait: Duration,
}

/// A fault no caller can fix: the answer is a 500, the detail goes to the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored state is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("gave up after {0} attempts whose outcome stayed unknown")]
    GaveUp(usize),
}

/// Why a step did not happen. `R`: the refusals of the service's own checks.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError<R = Infallible> {
    /// No such balance in this project.
    #[error("not found")]
    NotFound,
    #[error("busy")]
    Busy,
    /// The planner refused a leg (insufficient funds, a stale update token, ...).
    #[error(transparent)]
    Rejected(Rejection),
    /// The service's own check refused the locked balances.
    #[error("refused")]
    Refused(R),
    #[error("idempotency key reused with a different request")]
    KeyReused,
    /// A condition of the step's other writes failed; nothing was written.
    #[error("a condition of the step's writes failed")]
    WriteRefused(Refused),
    #[error(transparent)]
    Fault(#[from] Fault),
}

impl EngineError {
    /// The same error, for a step whose own checks could refuse (this one's cannot).
    pub fn with_refusal<R>(self) -> EngineError<R> {
        match self {
            EngineError::NotFound => EngineError::NotFound,
            EngineError::Busy => EngineError::Busy,
            EngineError::Rejected(rejection) => EngineError::Rejected(rejection),
            EngineError::Refused(never) => match never {},
            EngineError::KeyReused => EngineError::KeyReused,
            EngineError::WriteRefused(refused) => EngineError::WriteRefused(refused),
            EngineError::Fault(fault) => EngineError::Fault(fault),
        }
    }
}

impl<R> From<StoreError> for EngineError<R> {
    fn from(error: StoreError) -> Self {
        EngineError::Fault(error.into())
    }
}

impl Engine {
    pub fn new(store: Store, clock: Arc<dyn Clock>, lock: LockSettings) -> Self {
        Self { store, clock, lock_lease_ms: lock.lease_ms, lock_wait: lock.wait, group_commit: true }
    }

    /// With `false`, operations that find their balance busy retry its lock instead of
    /// joining its group commit.
    pub fn with_group_commit(mut self, on: bool) -> Self {
        self.group_commit = on;
        self
    }

    pub fn group_commit(&self) -> bool {
        self.group_commit
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// How long a request waits for a busy balance before it answers BALANCE_BUSY.
    pub fn lock_wait(&self) -> Duration {
        self.lock_wait
    }

    /// The balance as it is now. Credits may have expired since its last write: they are
    /// written off first, so that no answer counts money that is gone. Costs a lock and a
    /// commit only when an expiry is due.
    pub async fn current(&self, balance: Balance) -> Result<Balance, EngineError> {
        if !balance.expiry_due(self.clock.now()) {
            return Ok(balance);
        }
        self.maintain(&balance.project_id, balance.id).await
    }

    /// Writes whatever is due on the balance (expiries, settling) and returns it as it is then.
    pub async fn maintain(&self, project: &ProjectId, id: BalanceId) -> Result<Balance, EngineError> {
        match self.apply(&Step::new(project, vec![Leg::maintenance(id)]), &Maintenance, None).await? {
            Outcome::Done(balance) => Ok(balance),
            Outcome::Replayed(_) => Err(Fault::Inconsistent("maintenance replayed").into()),
        }
    }
}

/// A step whose one leg does nothing of its own: only what is due is written.
struct Maintenance;

impl Job for Maintenance {
    type Output = Balance;
    type Refusal = Infallible;

    fn output(&self, done: &[Done]) -> Result<Balance, Fault> {
        done.first().map(|leg| leg.balance.clone()).ok_or(Fault::Inconsistent("maintenance without its leg"))
    }
}

/// A lock owner unique to one attempt.
fn new_owner() -> String {
    Uuid::new_v4().simple().to_string()
}

/// Fresh random identifiers (UUID v4) for everything the ledger writes.
pub struct RandomIds;

impl Ids for RandomIds {
    fn tx_id(&mut self) -> TxId {
        TxId::new(Uuid::new_v4())
    }

    fn update_token(&mut self) -> UpdateToken {
        UpdateToken::new(Uuid::new_v4())
    }

    fn session(&mut self) -> String {
        Uuid::new_v4().to_string()
    }
}
