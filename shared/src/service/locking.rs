//! Waiting for a busy balance: jittered backoff within a small budget, then BALANCE_BUSY.
//!
//! Waits are counted in round trips rather than fixed milliseconds. A busy lock frees when its
//! holder's commit lands, at the soonest one DynamoDB round trip after the holder locked, and
//! the waiter's own busy answer has just measured what a round trip costs from where it runs.
//! The first retry comes after a random 0–2 round trips; every further busy answer doubles
//! that ceiling, up to 16 round trips, so that many waiters thin out their attempts instead of
//! crowding the one item: each failed attempt is a conditional write the item must serve
//! before the holder's commit. Measured by `make bench` (bench/README.md): with fixed waits of
//! 2 to 40 ms, 16 clients on one balance made 15 calls per operation and got less than half
//! the throughput of 2 clients; counted in round trips, 5 calls and nearly the same throughput.

use super::Ledger;
use crate::domain::names::{BalanceId, ProjectId};
use crate::store::{HeadRecord, StoreError, TryLock};
use rand::Rng;
use std::time::{Duration, Instant};

const FIRST_BACKOFF_ROUND_TRIPS: u32 = 2;
const MAX_BACKOFF_ROUND_TRIPS: u32 = 16;
/// Bounds on the measured round trip, so that one slow answer (an SDK retry, a pause) cannot
/// stretch the waits past sense, nor an implausibly quick one shrink them to a busy loop.
const ROUND_TRIP_FLOOR: Duration = Duration::from_millis(1);
const ROUND_TRIP_CEILING: Duration = Duration::from_millis(50);

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
        let mut busy_answers: u32 = 0;
        loop {
            let now = self.clock.now();
            let sent = Instant::now();
            match self.store.try_lock(project, id, owner, previous_owner, now, self.lock_lease_ms).await {
                Ok(TryLock::Locked(head)) => return Ok(*head),
                Ok(TryLock::Missing) => return Err(LockError::Missing),
                Err(error) => return Err(LockError::Store(error)),
                Ok(TryLock::Busy { until }) => {
                    let left = self.lock_wait.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(LockError::Busy);
                    }
                    let round_trip = sent.elapsed().clamp(ROUND_TRIP_FLOOR, ROUND_TRIP_CEILING);
                    let round_trips = (FIRST_BACKOFF_ROUND_TRIPS << busy_answers.min(8)).min(MAX_BACKOFF_ROUND_TRIPS);
                    busy_answers += 1;
                    // Full jitter spreads the waiters out; never sleep past the holder's lease
                    // (it may be dead) or past our own budget.
                    let until_lease = Duration::from_millis((until.epoch_ms() - now.epoch_ms()).max(0) as u64 + 1);
                    let jittered = rand::rng().random_range(Duration::ZERO..=round_trip * round_trips);
                    tokio::time::sleep(jittered.min(until_lease).min(left)).await;
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
