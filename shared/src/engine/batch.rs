//! Group commit for a hot balance (README, "Group commit"). An operation that finds its
//! balance locked does not retry the lock: it writes a ticket into the balance's partition and
//! waits for its answer. Whoever takes the lock next — a waiter, once the lock is free or its
//! holder's lease ran out — reads every waiting ticket, plans them in ticket order through the
//! one planner (each checked alone against the balance the ones before it left), and commits
//! them in as few transactions as fit 100 items. Each transaction writes the head (fenced on
//! the holder's lock), the entries, the credits, the idempotency records, and for each ticket
//! it covers the ticket's deletion (on condition that it still waits) and its answer.
//!
//! Why nothing is lost, doubled or reordered:
//! - an answer exists exactly when its effect does: they are one transaction;
//! - a ticket is settled at most once: its deletion is conditional, in that transaction;
//! - a waiter that gives up withdraws its ticket with a conditional delete first: either the
//!   delete wins (nothing will be applied: 429) or a batch already settled it (its answer);
//! - a holder whose lease ran out is fenced off by the head's owner condition, so a batch
//!   that was taken over cannot land late; after a lost answer the holder takes its own lock
//!   over and reads the queue again, where what landed is gone and what did not still waits.

use super::lock::{ROUND_TRIP_CEILING, ROUND_TRIP_FLOOR};
use super::{idempotency, new_owner, Answer, Engine, EngineError, Fault, RandomIds};
use crate::domain::balance::Balance;
use crate::domain::entry::Entry;
use crate::domain::ledger::{plan_batch, BatchPlan, Change, PlanError};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::operation::OperationRequest;
use crate::domain::packing::MAX_TRANSACTION_ITEMS;
use crate::domain::queue::{Queued, QueuedKey, Settled, Ticket};
use crate::domain::time::Millis;
use crate::failpoint;
use crate::store::{Commit, CommitError, HeadRecord, HeadWrite, Refused, TryLock, Withdrawal, Write};
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// Tickets one batch reads: four transactions' worth of plain operations.
const BATCH_TICKETS: usize = 128;
/// Items of one ticket besides its change: the ticket's deletion, its answer, its record.
const TICKET_ITEMS: usize = 3;
/// Batches a holder starts again after a withdrawn ticket, a taken key or a lost answer.
const MAX_BATCH_ATTEMPTS: usize = 4;
/// Round trips a batch still needs once it has read the queue (the keys' records, the
/// commit, and room for one slow call): tickets nearer their deadline are left out.
const DEADLINE_MARGIN_ROUND_TRIPS: u32 = 3;
/// How long past its deadline a ticket must be before a batch settles it as expired: its
/// waiter withdraws it at the deadline, so a batch seldom races that withdrawal.
const STALE_AFTER_MS: i64 = 1_000;
/// A waiter looks again after 2–4 round trips. A batch takes about four (lock, Query, the
/// keys' records, commit), and one already under way when a ticket is written cannot hold
/// it: an earlier look finds nothing new, and only adds to the calls the holder's wait behind
/// (bench figure 4: at 1–3, the looks were half of the local DynamoDB's work at 16 clients).
const POLL_ROUND_TRIPS: (u32, u32) = (2, 4);

/// How an action renders the answer an operation's idempotency record keeps. A holder
/// settles only tickets of its own form: it writes their records with this renderer.
pub struct AnswerForm {
    pub name: &'static str,
    pub render: fn(&Balance, &Entry) -> Answer,
}

/// An operation that waits for its balance as a ticket.
pub struct Grouped<'a> {
    pub project: &'a ProjectId,
    pub balance: BalanceId,
    pub request: OperationRequest,
    pub key: Option<QueuedKey>,
    pub form: &'a AnswerForm,
}

/// A ticket of a batch, and how the batch settles it.
struct Member {
    ticket: Ticket,
    key: Option<QueuedKey>,
    settled: Settled,
    /// Its change in the plan, when it was applied.
    change: Option<usize>,
}

/// Where a batch attempt ended.
enum Ended {
    /// Every transaction landed; the lock was released by the last.
    Committed,
    /// A transaction failed, or whether it landed is unknown: take the lock
    /// over under a new owner, which fences this attempt off, and start again from there.
    TakeOver,
}

impl Engine {
    /// Waits as a ticket for a balance found busy, and answers how a batch settled it; or,
    /// when the wait runs out first, withdraws it: [`Settled::Expired`], nothing applied.
    pub async fn wait_in_batch(&self, grouped: &Grouped<'_>) -> Result<Settled, EngineError> {
        let mut settled = self.wait_as_tickets(std::slice::from_ref(grouped)).await?;
        settled.pop().ok_or(Fault::Inconsistent("a ticket without its answer").into())
    }

    /// Operations on one balance (of one project and form) that keep their order, such as
    /// the records of one SQS batch: their tickets are written together, in order, and the
    /// first batch to plan them (this caller's, when the lock is free) commits them in that
    /// order with whatever else waits. Answers each as it was settled, in the given order;
    /// those its wait ran out for are withdrawn (last first, so that none is applied after
    /// a later one was taken back): [`Settled::Expired`].
    pub async fn wait_as_tickets(&self, grouped: &[Grouped<'_>]) -> Result<Vec<Settled>, EngineError> {
        let Some(first) = grouped.first() else {
            return Ok(Vec::new());
        };
        let (project, balance) = (first.project, first.balance);
        let started = Instant::now();
        let now = self.clock.now();
        let expires_at = now.plus_ms(self.lock_wait.as_millis() as i64);
        let run = uuid::Uuid::new_v4();
        let queued: Vec<Queued> = grouped
            .iter()
            .enumerate()
            .map(|(index, grouped)| Queued {
                ticket: Ticket::in_run(now, run, index),
                request: grouped.request.clone(),
                key: grouped.key.clone(),
                form: grouped.form.name.to_owned(),
                expires_at,
            })
            .collect();
        let sent = Instant::now();
        match queued.as_slice() {
            [one] => self.store.enqueue(project, balance, one, now).await?,
            all => self.store.enqueue_together(project, balance, all, now).await?,
        }
        failpoint::hit(failpoint::AFTER_ENQUEUE);
        let round_trip = sent.elapsed().clamp(ROUND_TRIP_FLOOR, ROUND_TRIP_CEILING);
        let mut answers: HashMap<Ticket, Settled> = HashMap::with_capacity(queued.len());
        let mut pending: Vec<Ticket> = queued.iter().map(|queued| queued.ticket.clone()).collect();
        // One operation is here because it found the lock busy: it pauses and looks before it
        // tries again. Operations taken together have not tried it yet and most likely find it
        // free: they try at once, and a look could not find them settled so soon anyway.
        let mut try_at_once = grouped.len() > 1;
        loop {
            pending.retain(|ticket| !answers.contains_key(ticket));
            if pending.is_empty() {
                break;
            }
            let left = self.lock_wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                for ticket in pending.iter().rev() {
                    answers.insert(ticket.clone(), self.withdraw(project, balance, ticket).await?);
                }
                continue;
            }
            if !std::mem::take(&mut try_at_once) {
                let (low, high) = POLL_ROUND_TRIPS;
                let pause = rand::rng().random_range(round_trip * low..=round_trip * high);
                tokio::time::sleep(pause.min(left)).await;
                let state = self.store.ticket_state(project, balance, &pending).await?;
                if pending.iter().any(|t| !state.settled.contains_key(t) && !state.waiting.contains(t)) {
                    return Err(Fault::Inconsistent("a ticket gone without its answer").into());
                }
                answers.extend(state.settled);
                if state.waiting.is_empty() {
                    continue;
                }
                let head = state.head.ok_or(EngineError::NotFound)?;
                if head.in_progress(self.clock.now()) {
                    continue;
                }
            }
            // Free, or its holder's lease ran out: take it and settle the queue.
            let owner = new_owner();
            let now = self.clock.now();
            match self.store.try_lock(project, balance, &owner, None, now, self.lock_lease_ms).await? {
                TryLock::Locked(head) => {
                    answers.extend(self.settle_queue(first, *head, owner, &pending, round_trip).await?)
                }
                TryLock::Busy { .. } => {}
                TryLock::Missing => return Err(EngineError::NotFound),
            }
        }
        let settled = queued.iter().map(|queued| answers.remove(&queued.ticket)).collect::<Option<Vec<_>>>();
        settled.ok_or(Fault::Inconsistent("a ticket without its answer").into())
    }

    /// Takes the ticket back unless a batch has settled it: then nothing was or will be
    /// applied for it ([`Settled::Expired`]).
    async fn withdraw(&self, project: &ProjectId, balance: BalanceId, ticket: &Ticket) -> Result<Settled, EngineError> {
        let mut tries = 0;
        loop {
            match self.store.withdraw(project, balance, ticket).await {
                Ok(Withdrawal::Withdrawn) => return Ok(Settled::Expired),
                Ok(Withdrawal::Settled(settled)) => return Ok(settled),
                // A batch's transaction on the ticket in flight answers a conflict; ask again.
                Err(error) if tries < 3 && !error.is_ambiguous() => {
                    tries += 1;
                    tracing::warn!(error = %error, "withdrawing a ticket failed; trying again");
                    tokio::time::sleep(Duration::from_millis(5 * tries)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// With the lock held as `owner`: settles the waiting tickets of this form, and answers
    /// how those of `mine` this batch settled were (the caller waits on for the rest).
    /// `round_trip`: what a call takes now, from which it judges which tickets it can still
    /// commit before their deadline.
    async fn settle_queue(
        &self,
        grouped: &Grouped<'_>,
        mut head: HeadRecord,
        mut owner: String,
        mine: &[Ticket],
        round_trip: Duration,
    ) -> Result<Vec<(Ticket, Settled)>, EngineError> {
        let (project, balance) = (grouped.project, grouped.balance);
        failpoint::hit(failpoint::BATCH_AFTER_LOCK);
        for _ in 0..MAX_BATCH_ATTEMPTS {
            let members = match self.batch_members(grouped, round_trip * DEADLINE_MARGIN_ROUND_TRIPS).await {
                Ok(members) => members,
                Err(fault) => {
                    self.unlock_one(project, balance, &owner).await;
                    return Err(fault.into());
                }
            };
            if members.is_empty() {
                // Its own tickets were settled by the batch before (seen just before it landed).
                self.unlock_one(project, balance, &owner).await;
                return Ok(Vec::new());
            }
            let (members, changes) = match self.plan_members(&head.balance, members).await {
                Ok(planned) => planned,
                Err(fault) => {
                    self.unlock_one(project, balance, &owner).await;
                    return Err(fault.into());
                }
            };
            failpoint::hit(failpoint::BATCH_AFTER_PLAN);
            let txns = pack_batch(grouped, &head.balance, &members, &changes, self.clock.now());
            match self.commit_batch(project, &head, &owner, &txns).await? {
                Ended::Committed => {
                    tracing::info!(
                        tickets = members.len(),
                        transactions = txns.len(),
                        "group commit settled its tickets"
                    );
                    failpoint::hit(failpoint::BATCH_AFTER_COMMIT);
                    let settled = members.into_iter().filter(|m| mine.contains(&m.ticket));
                    return Ok(settled.map(|m| (m.ticket, m.settled)).collect());
                }
                Ended::TakeOver => {
                    let previous = std::mem::replace(&mut owner, new_owner());
                    let taken = self.lock_one::<Infallible>(project, balance, &owner, Some(&previous), Duration::ZERO);
                    match taken.await {
                        Ok(taken) => head = taken,
                        // Someone else holds it now: what landed is settled, the rest waits.
                        Err(_) => return Ok(Vec::new()),
                    }
                }
            }
        }
        self.unlock_one(project, balance, &owner).await;
        Ok(Vec::new())
    }

    /// The tickets this batch takes, oldest first: those of this form, each key once (a
    /// second ticket with the same key waits for the next batch, which replays the first's
    /// answer); a ticket whose key already holds an answer is settled by it.
    async fn batch_members(
        &self,
        grouped: &Grouped<'_>,
        margin: Duration,
    ) -> Result<Vec<(Queued, Option<Settled>)>, Fault> {
        let queued = self.store.queued(grouped.project, grouped.balance, BATCH_TICKETS).await?;
        let mut keys = HashSet::new();
        let now = self.clock.now();
        // A ticket whose deadline comes before this batch can commit is being withdrawn by
        // then: planned, it would only make the transaction fail and the batch start again
        // (under load, again and again). It is left to its waiter.
        let committable = now.plus_ms(margin.as_millis() as i64);
        let mut stale = Vec::new();
        let mut tickets = Vec::with_capacity(queued.len());
        for ticket in queued {
            if ticket.expires_at <= now {
                // Past its deadline a ticket's waiter is withdrawing it, or dead: never applied.
                // Well past it, the batch settles it as expired, so that the next batches stop
                // reading it (a waiter still withdrawing loses the race, and reads that answer).
                if ticket.expires_at.plus_ms(STALE_AFTER_MS) <= now {
                    stale.push((ticket, Some(Settled::Expired)));
                }
            } else if ticket.expires_at > committable
                && ticket.form == grouped.form.name
                && ticket.key.as_ref().is_none_or(|k| keys.insert(k.key.clone()))
            {
                tickets.push(ticket);
            }
        }
        // Every keyed ticket's record in one read, not a round trip each under the lock.
        let keys: Vec<_> = keys.into_iter().collect();
        let mut records = match keys.is_empty() {
            true => HashMap::new(),
            false => self.store.idempotency_records(grouped.project, &keys, now).await?,
        };
        Ok(stale
            .into_iter()
            .chain(tickets.into_iter().map(|ticket| {
                let stored = ticket.key.as_ref().and_then(|key| {
                    records.remove(&key.key).map(|record| match record.fingerprint == key.fingerprint {
                        true => Settled::Replayed { status: record.status, body: record.body },
                        false => Settled::KeyReused,
                    })
                });
                (ticket, stored)
            }))
            .collect())
    }

    /// Plans the members in ticket order; those the planner stops before are left waiting.
    async fn plan_members(
        &self,
        balance: &Balance,
        members: Vec<(Queued, Option<Settled>)>,
    ) -> Result<(Vec<Member>, Vec<Change>), Fault> {
        let now = self.clock.now();
        let to_plan: Vec<&OperationRequest> =
            members.iter().filter(|(_, stored)| stored.is_none()).map(|(queued, _)| &queued.request).collect();
        let plan = self.plan_requests(balance, now, &to_plan).await?;
        let mut outcomes = plan.outcomes.into_iter();
        let mut planned = Vec::with_capacity(members.len());
        for (queued, stored) in members {
            let (settled, change) = match stored {
                Some(settled) => (settled, None),
                None => match outcomes.next() {
                    None => break,
                    Some(Err(rejection)) => (Settled::Rejected(rejection), None),
                    Some(Ok(index)) => {
                        let change = &plan.changes[index];
                        let entry =
                            change.entry.clone().ok_or(Fault::Inconsistent("an operation without its entry"))?;
                        let settled =
                            Settled::Applied { balance: Box::new(change.after.clone()), entry: Box::new(entry) };
                        (settled, Some(index))
                    }
                },
            };
            planned.push(Member { ticket: queued.ticket, key: queued.key, settled, change });
        }
        Ok((planned, plan.changes))
    }

    /// [`plan_batch`], loading credits page by page until the planner has what it needs.
    async fn plan_requests(
        &self,
        balance: &Balance,
        now: Millis,
        requests: &[&OperationRequest],
    ) -> Result<BatchPlan, Fault> {
        let load = requests.iter().any(|r| crate::domain::ledger::needs_lots(balance, now, Some(&r.operation)));
        let budget = MAX_TRANSACTION_ITEMS - 2 - TICKET_ITEMS;
        let planned =
            self.with_credits(balance, load, |view| plan_batch(balance, view, now, requests, &mut RandomIds, budget));
        match planned.await? {
            Ok(plan) => Ok(plan),
            Err(PlanError::NeedMoreLots) => Err(Fault::Inconsistent("credits missing")),
            Err(PlanError::Rejected { .. }) => Err(Fault::Inconsistent("a batch refused as a whole")),
            Err(PlanError::Inconsistent(why)) => Err(Fault::Inconsistent(why)),
        }
    }

    /// Commits the batch's transactions in order; the last releases the lock.
    async fn commit_batch(
        &self,
        project: &ProjectId,
        head: &HeadRecord,
        owner: &str,
        txns: &[BatchTxn],
    ) -> Result<Ended, EngineError> {
        let balance = &head.balance;
        let mut version = head.version;
        for (index, txn) in txns.iter().enumerate() {
            let last = index + 1 == txns.len();
            version += 1;
            let keep_lock_until = (!last).then(|| self.clock.now().plus_ms(self.lock_lease_ms));
            let heads = vec![HeadWrite { owner, changes: &txn.changes, version, keep_lock_until }];
            match self.commit_retrying(&Commit { heads, record: None, writes: &txn.writes }).await {
                Ok(()) => {
                    if !last {
                        failpoint::hit(failpoint::BATCH_BETWEEN_COMMITS);
                    }
                }
                // A ticket withdrawn or a key taken meanwhile looks exactly like a lost answer
                // whose retry found its own work done: neither is told from the other here, so
                // both start again from what the store shows once the lock is taken over.
                Err(
                    CommitError::Refused(Refused::Withdrawn(_) | Refused::KeyTaken(..))
                    | CommitError::Fenced
                    | CommitError::Unknown(_)
                    | CommitError::Conflict,
                ) => {
                    tracing::warn!(project = %project, "a batch transaction failed or its answer was lost; taking over");
                    return Ok(Ended::TakeOver);
                }
                Err(error) => {
                    self.unlock_one(project, balance.id, owner).await;
                    return Err(match error {
                        CommitError::Refused(_) => Fault::Inconsistent("a batch write refused"),
                        other => Fault::Store(other.into_store_error()),
                    }
                    .into());
                }
            }
        }
        Ok(Ended::Committed)
    }
}

/// The batch's transactions: greedy, in order, each within 100 items. A member's answer
/// rides with its own change; a refused or replayed member's with the head as the changes
/// before it left it (a transaction without a change of its own rewrites the head as it is,
/// which fences it like any other).
fn pack_batch(
    grouped: &Grouped<'_>,
    start: &Balance,
    members: &[Member],
    changes: &[Change],
    now: Millis,
) -> Vec<BatchTxn> {
    let mut packer = Packer { txns: Vec::new(), current: BatchTxn::default(), items: 1 };
    let mut next_change = 0;
    for member in members {
        let writes = member_writes(grouped, member, now);
        let extra: usize = writes.iter().map(Write::items).sum();
        if let Some(own) = member.change {
            for change in &changes[next_change..own] {
                packer.add(Some(change), 0);
            }
            next_change = own + 1;
        }
        packer.add(member.change.map(|own| &changes[own]), extra);
        packer.current.writes.extend(writes);
    }
    for change in &changes[next_change..] {
        packer.add(Some(change), 0);
    }
    packer.finish(start)
}

/// One transaction of a batch: the head's run of changes and the writes of the tickets it
/// settles.
#[derive(Default)]
struct BatchTxn {
    changes: Vec<Change>,
    writes: Vec<Write>,
}

struct Packer {
    txns: Vec<BatchTxn>,
    current: BatchTxn,
    /// Items of the current transaction, its head included.
    items: usize,
}

impl Packer {
    /// Adds a change (if any) and `extra` items of writes that must share its transaction.
    fn add(&mut self, change: Option<&Change>, extra: usize) {
        let needed = change.map_or(0, Change::items) + extra;
        if self.items + needed > MAX_TRANSACTION_ITEMS && self.items > 1 {
            self.txns.push(std::mem::take(&mut self.current));
            self.items = 1;
        }
        self.items += needed;
        self.current.changes.extend(change.cloned());
    }

    fn finish(mut self, start: &Balance) -> Vec<BatchTxn> {
        if !self.current.writes.is_empty() || !self.current.changes.is_empty() {
            self.txns.push(self.current);
        }
        let mut before = start.clone();
        for txn in &mut self.txns {
            match txn.changes.last() {
                Some(change) => before = change.after.clone(),
                None => txn.changes.push(Change { entry: None, lots: Vec::new(), after: before.clone() }),
            }
        }
        self.txns
    }
}

/// A member's writes: its ticket's answer, and its idempotency record when it was applied.
fn member_writes(grouped: &Grouped<'_>, member: &Member, now: Millis) -> Vec<Write> {
    let settle = Write::Settle {
        project: grouped.project.clone(),
        balance: grouped.balance,
        ticket: member.ticket.clone(),
        settled: member.settled.clone(),
        now,
    };
    let mut writes = vec![settle];
    if let (Some(key), Settled::Applied { balance, entry }) = (&member.key, &member.settled) {
        let answer = (grouped.form.render)(balance, entry);
        writes.push(Write::Record(idempotency::record_of(grouped.project, &key.key, &key.fingerprint, answer, now)));
    }
    writes
}
