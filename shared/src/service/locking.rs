//! Waiting for a busy balance: jittered backoff within a small budget, then BALANCE_BUSY.

use super::Ledger;
use crate::domain::names::{BalanceId, ProjectId};
use crate::store::{HeadRecord, StoreError, TryLock};
use rand::Rng;
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(40);

#[derive(Debug)]
pub(crate) enum LockError {
    Missing,
    Busy,
    Store(StoreError),
}

impl Ledger {
    /// Takes the balance's lock as `owner`, waiting up to the configured budget for a holder
    /// to finish (or for a dead holder's lease to run out).
    pub(crate) async fn lock(
        &self,
        project: &ProjectId,
        id: BalanceId,
        owner: &str,
        previous_owner: Option<&str>,
    ) -> Result<HeadRecord, LockError> {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let now = self.clock.now();
            match self.store.try_lock(project, id, owner, previous_owner, now, self.lock_lease_ms).await {
                Ok(TryLock::Locked(head)) => return Ok(*head),
                Ok(TryLock::Missing) => return Err(LockError::Missing),
                Err(error) => return Err(LockError::Store(error)),
                Ok(TryLock::Busy { until }) => {
                    let left = self.lock_wait.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(LockError::Busy);
                    }
                    // Full jitter spreads the waiters out; never sleep past the holder's lease
                    // (it may be dead) or past our own budget.
                    let until_lease = Duration::from_millis((until.epoch_ms() - now.epoch_ms()).max(0) as u64 + 1);
                    let jittered = rand::rng().random_range(Duration::ZERO..=backoff);
                    tokio::time::sleep(jittered.min(until_lease).min(left)).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Gives the lock back; a failure only delays the next writer until the lease ends.
    pub(crate) async fn unlock(&self, project: &ProjectId, id: BalanceId, owner: &str) {
        if let Err(error) = self.store.unlock(project, id, owner).await {
            tracing::warn!(error = %error, "releasing the lock failed; it expires with its lease");
        }
    }
}
