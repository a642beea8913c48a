//! Taking the `transactionInProgress` locks of a step, waiting for a busy balance: jittered
//! backoff within a small budget, then BALANCE_BUSY.
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

use super::Fault;
use super::{new_owner, Engine, EngineError, Step};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::wallets::{Wallet, NUMBER_DRAWS};
use crate::store::{HeadRecord, Refused, TryLock, Write};
use rand::Rng;
use std::time::{Duration, Instant};

const FIRST_BACKOFF_ROUND_TRIPS: u32 = 2;
const MAX_BACKOFF_ROUND_TRIPS: u32 = 16;
/// Bounds on the measured round trip, so that one slow answer (an SDK retry, a pause) cannot
/// stretch the waits past sense, nor an implausibly quick one shrink them to a busy loop.
pub(super) const ROUND_TRIP_FLOOR: Duration = Duration::from_millis(1);
pub(super) const ROUND_TRIP_CEILING: Duration = Duration::from_millis(50);

/// A balance locked for a caller that writes its head itself (a wallet's attributes).
pub struct Locked {
    pub owner: String,
    pub head: HeadRecord,
}

impl Engine {
    /// Takes the balance's lock for a write of the caller's own; [`Engine::unlock`] gives it
    /// back if that write does not.
    pub async fn lock(&self, project: &ProjectId, id: BalanceId) -> Result<Locked, EngineError> {
        let owner = new_owner();
        let head = self.lock_one(project, id, &owner, None, self.lock_wait).await?;
        Ok(Locked { owner, head })
    }

    pub async fn unlock(&self, locked: &Locked) {
        self.unlock_one(&locked.head.balance.project_id, locked.head.balance.id, &locked.owner).await;
    }

    /// Takes the lock as `owner`, waiting up to the configured budget for a holder to finish
    /// (or for a dead holder's lease to run out). A lock held by `previous_owner` — this
    /// request's own earlier attempt — is taken over, which fences that attempt off for good.
    pub(super) async fn lock_one<R>(
        &self,
        project: &ProjectId,
        id: BalanceId,
        owner: &str,
        previous_owner: Option<&str>,
        wait: Duration,
    ) -> Result<HeadRecord, EngineError<R>> {
        let started = Instant::now();
        let mut busy_answers: u32 = 0;
        loop {
            let now = self.clock.now();
            let sent = Instant::now();
            match self.store.try_lock(project, id, owner, previous_owner, now, self.lock_lease_ms).await? {
                TryLock::Locked(head) => return Ok(*head),
                TryLock::Missing => return Err(EngineError::NotFound),
                TryLock::Busy { until } => {
                    let left = wait.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        return Err(EngineError::Busy);
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

    /// Locks the step's balances in id order, so that two steps over the same balances in
    /// opposite directions never wait on each other; the heads come back in leg order. A
    /// missing wallet the step creates (the project's main wallet) is created first.
    /// Creates `wallet` unless it exists (a concurrent request creating it too is fine),
    /// drawing its `mars` and `man` again on a clash: every creator of the same wallet draws
    /// the same names, so they still race for one wallet.
    pub async fn create_wallet_if_absent(&self, project: &ProjectId, wallet: &Wallet) -> Result<(), EngineError> {
        for attempt in 0..NUMBER_DRAWS {
            match self.write(project, &[Write::NewWallet(wallet.renumbered(attempt))]).await {
                Ok(()) | Err(EngineError::WriteRefused(Refused::Exists)) => return Ok(()),
                Err(EngineError::WriteRefused(Refused::NumberTaken)) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(Fault::GaveUp(NUMBER_DRAWS as usize).into())
    }

    pub(super) async fn lock_legs<R>(
        &self,
        step: &Step<'_>,
        owner: &str,
        previous_owner: Option<&str>,
    ) -> Result<Vec<HeadRecord>, EngineError<R>> {
        let project = step.project;
        let mut order: Vec<(BalanceId, usize)> =
            step.legs.iter().enumerate().map(|(i, leg)| (leg.balance, i)).collect();
        order.sort();
        let mut locked: Vec<(usize, HeadRecord)> = Vec::with_capacity(order.len());
        let wait = step.wait.unwrap_or(self.lock_wait);
        for (id, index) in order {
            let head = match self.lock_one(project, id, owner, previous_owner, wait).await {
                Err(EngineError::NotFound) => match step.create.as_ref().filter(|wallet| wallet.balance.id == id) {
                    Some(wallet) => match self.create_wallet_if_absent(project, wallet).await {
                        Ok(()) => self.lock_one(project, id, owner, previous_owner, wait).await,
                        Err(error) => Err(error.with_refusal()),
                    },
                    None => Err(EngineError::NotFound),
                },
                other => other,
            };
            let error = match head {
                Ok(head) if head.wallet.is_some() || !step.wallets => {
                    locked.push((index, head));
                    continue;
                }
                Ok(_) => {
                    self.unlock_one(project, id, owner).await;
                    EngineError::NotFound
                }
                Err(error) => error,
            };
            for (_, head) in &locked {
                self.unlock_one(project, head.balance.id, owner).await;
            }
            return Err(error);
        }
        locked.sort_by_key(|(index, _)| *index);
        Ok(locked.into_iter().map(|(_, head)| head).collect())
    }

    /// Gives the lock back; a failure only delays the next writer until the lease ends.
    pub(super) async fn unlock_one(&self, project: &ProjectId, id: BalanceId, owner: &str) {
        if let Err(error) = self.store.unlock(project, id, owner).await {
            tracing::warn!(error = %error, "releasing the lock failed; it expires with its lease");
        }
    }
}
