//! Group commit's queue (README, "Group commit"): an operation that finds its balance locked
//! waits as a *ticket* in the balance's partition instead of retrying the lock. Whoever holds
//! the lock next plans every waiting ticket in order and commits them together; each ticket
//! is answered — its entry and balance after, or its own refusal — by the same transaction
//! that writes its entry, so an answer exists exactly when its effect does.

use super::balance::Balance;
use super::entry::Entry;
use super::names::IdempotencyKey;
use super::operation::{OperationRequest, Rejection};
use super::time::Millis;
use uuid::Uuid;

/// A ticket's place in its balance's queue: the time it was taken, then a random part, so
/// that tickets sort by arrival and never collide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket(String);

impl Ticket {
    pub fn new(now: Millis) -> Self {
        Ticket(format!("{:016}-{}", now.epoch_ms().max(0), Uuid::new_v4().simple()))
    }

    /// The `index`th of consecutive tickets taken together (their operations keep this order):
    /// one random part for the run, then the index.
    pub fn in_run(now: Millis, run: Uuid, index: usize) -> Self {
        Ticket(format!("{:016}-{}-{index:06}", now.epoch_ms().max(0), run.simple()))
    }

    pub fn from_stored(text: String) -> Self {
        Ticket(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The idempotency key a waiting operation carries and the fingerprint of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedKey {
    pub key: IdempotencyKey,
    pub fingerprint: String,
}

/// A waiting operation as its ticket holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub ticket: Ticket,
    pub request: OperationRequest,
    pub key: Option<QueuedKey>,
    /// Which answer form renders its idempotency record: only a holder that renders the same
    /// form (the same action) takes it into a batch.
    pub form: String,
    /// The waiter's deadline: it withdraws the ticket then. A batch never takes a ticket past
    /// it, so a ticket whose waiter died (and cannot withdraw) is never applied after the
    /// time its caller was told to expect an answer by; TTL removes it later.
    pub expires_at: Millis,
}

/// How a ticket was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// It was applied: its entry, and the balance just after it.
    Applied { balance: Box<Balance>, entry: Box<Entry> },
    /// The planner refused it against the balance as the operations before it left it.
    Rejected(Rejection),
    /// Its key already held the answer to the same request: that answer, exactly.
    Replayed { status: u16, body: String },
    /// Its key was used before with a different request.
    KeyReused,
    /// Its waiter's deadline passed before any batch reached it: never applied. A batch
    /// settles such a ticket so that it stops being read, and a waiter that was only late
    /// to withdraw it still learns that nothing happened.
    Expired,
}

/// Tickets and answers are kept this long past the waiter's deadline, then TTL removes them.
pub const KEEP_SECONDS: i64 = 60 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_sort_by_arrival_and_never_collide() {
        let early = Ticket::new(Millis::from_epoch_ms(1_000));
        let late = Ticket::new(Millis::from_epoch_ms(2_000));
        assert!(early < late);
        assert_ne!(Ticket::new(Millis::from_epoch_ms(1_000)), Ticket::new(Millis::from_epoch_ms(1_000)));
        assert_eq!(Ticket::from_stored(early.as_str().to_owned()), early);
    }

    #[test]
    fn tickets_taken_together_keep_their_order() {
        let now = Millis::from_epoch_ms(1_000);
        let run = Uuid::new_v4();
        let tickets: Vec<Ticket> = (0..1_200).map(|index| Ticket::in_run(now, run, index)).collect();
        assert!(tickets.windows(2).all(|pair| pair[0] < pair[1]), "in index order, past 9 and 999 too");
        assert!(
            tickets[0] > Ticket::new(Millis::from_epoch_ms(999))
                && tickets[0] < Ticket::new(Millis::from_epoch_ms(1_001))
        );
        assert_ne!(Ticket::in_run(now, Uuid::new_v4(), 0), tickets[0], "another run, another ticket");
    }
}
