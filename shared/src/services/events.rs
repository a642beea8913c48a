//! Events out: what a committed change means (the domain's rules over the items a stream
//! record carries), and publishing it — to the EventBridge bus, then to the webhooks that
//! want it — in the stream's order, stopping at the first record that could not go out so
//! that the stream hands it (and what follows it) over again and nothing before it twice.
//!
//! Runs off the request path, in `publish-events`: a commit costs what it did.

use super::wallets::{TransactionRecord, WalletError, Wallets};
use super::webhooks::{WebhookError, Webhooks};
use crate::bus::{Bus, BusEntry, BusError, BYTES_PER_CALL, ENTRIES_PER_CALL};
use crate::domain::balance::Balance;
use crate::domain::entry::Entry;
use crate::domain::events::{account_event, head_event, movement_events, order_events, EventId, EventKind};
use crate::domain::movements::Movement;
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::orders::Order;
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::WalletAccount;
use crate::domain::wallets::Wallet;
use crate::domain::webhooks::Outgoing;
use crate::store::stream::{Change, Changed};
use crate::store::StoreError;
use std::collections::{BTreeMap, HashSet};

/// What an event is about; its events are ordered by `sequence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `balance`, `wallet`, `movement`, `wallet_account`, `order`.
    pub kind: &'static str,
    pub id: String,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub kind: EventKind,
    pub project: ProjectId,
    pub created_at: Millis,
    pub subject: Subject,
    pub sequence: u64,
    pub data: EventData,
}

/// The thing itself, as the facade it belongs to shows it.
#[derive(Debug, Clone)]
pub enum EventData {
    Balance(Box<Balance>),
    Entry { balance: BalanceId, entry: Box<Entry> },
    Wallet(Box<Wallet>),
    Movement { movement: Box<Movement>, transactions: Vec<TransactionRecord> },
    WalletAccount(Box<WalletAccount>),
    Order(Box<Order>),
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading a movement's transactions: {0}")]
    Wallets(#[from] WalletError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("queueing webhook deliveries: {0}")]
    Webhooks(#[from] WebhookError),
}

/// An event rendered, ready to go: to the bus as `entry`, to webhooks as `webhook`.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The index of the stream record it came from.
    pub record: usize,
    pub project: ProjectId,
    /// Events of one subject never share a PutEvents call (see [`Events::publish`]).
    pub ordering_key: String,
    pub entry: BusEntry,
    pub webhook: Outgoing,
}

/// What a publish did: the first record not published (the stream's batch item failure),
/// and how many events went to the bus and deliveries to the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub failed_record: Option<usize>,
    pub published: usize,
    pub queued: usize,
}

pub struct Events {
    wallets: Wallets,
    webhooks: Webhooks,
    bus: Bus,
}

impl Events {
    pub fn new(wallets: Wallets, webhooks: Webhooks, bus: Bus) -> Self {
        Self { wallets, webhooks, bus }
    }

    pub fn wallets(&self) -> &Wallets {
        &self.wallets
    }

    /// The events of one committed change, in the order they happened. A movement's events
    /// carry the transactions of its step, which costs a Query (and a read of their wallets).
    pub async fn events_of(&self, changed: Changed) -> Result<Vec<Event>, EventsError> {
        let Changed { at, pk, sk, project, change } = changed;
        let id = |kind: EventKind, marker: &str| EventId::derive(kind, &pk, &sk, marker);
        let event = |kind, marker: &str, created_at, subject: Subject, sequence, data| Event {
            id: id(kind, marker),
            kind,
            project: project.clone(),
            created_at,
            subject,
            sequence,
            data,
        };
        let events = match change {
            Change::Head { old, new } => {
                let Some(new) = new else { return Ok(Vec::new()) };
                let kind = head_event(old.is_none(), old.as_ref().and_then(|o| o.wallet.as_ref()), new.wallet.as_ref());
                let balance = new.balance.clone();
                let version = new.version;
                match (kind, new.wallet.clone()) {
                    (Some(EventKind::BalanceCreated), _) => {
                        let subject = Subject { kind: "balance", id: balance.id.to_string() };
                        let sequence = balance.transactions_count;
                        vec![event(
                            EventKind::BalanceCreated,
                            "created",
                            balance.created_at,
                            subject,
                            sequence,
                            EventData::Balance(Box::new(balance)),
                        )]
                    }
                    (Some(kind), Some(info)) => {
                        let subject = Subject { kind: "wallet", id: balance.id.to_string() };
                        let marker =
                            if kind == EventKind::WalletCreated { "created".to_owned() } else { version.to_string() };
                        let at = balance.updated_at;
                        let wallet = Wallet { info, balance };
                        vec![event(kind, &marker, at, subject, version, EventData::Wallet(Box::new(wallet)))]
                    }
                    _ => Vec::new(),
                }
            }
            Change::Entry { balance, entry } => {
                let subject = Subject { kind: "balance", id: balance.to_string() };
                vec![event(
                    EventKind::BalanceEntryCommitted,
                    &entry.seq.to_string(),
                    entry.created_at,
                    subject,
                    entry.seq,
                    EventData::Entry { balance, entry },
                )]
            }
            Change::Movement { old, new } => {
                let kinds = movement_events(old.map(|o| o.status), new.status);
                if kinds.is_empty() {
                    return Ok(Vec::new());
                }
                let transactions = self.wallets.step_records(&project, &new).await?;
                kinds
                    .into_iter()
                    .map(|kind| {
                        let subject = Subject { kind: "movement", id: new.id.to_string() };
                        let sequence = if kind == EventKind::MovementCreated { 1 } else { 2 };
                        let data = EventData::Movement { movement: new.clone(), transactions: transactions.clone() };
                        event(kind, "", new.updated_at, subject, sequence, data)
                    })
                    .collect()
            }
            Change::WalletAccount { old, new } => {
                let Some(kind) = account_event(old.as_ref().map(|a| a.linked), new.as_ref().map(|a| a.linked)) else {
                    return Ok(Vec::new());
                };
                let Some(account) = new.or(old) else { return Ok(Vec::new()) };
                let subject = Subject { kind: "wallet_account", id: account.id.as_str().to_owned() };
                let marker = format!("{}:{}", account.link_version, kind.as_str());
                let at = at.or(account.last_refreshed).unwrap_or(account.created_at);
                let sequence = account.link_version;
                vec![event(kind, &marker, at, subject, sequence, EventData::WalletAccount(account))]
            }
            Change::Order { old, new } => {
                let old_state = old.as_ref().map(|o| (o.status, o.refunds.len()));
                order_events(old_state, (new.status, new.refunds.len()))
                    .into_iter()
                    .map(|kind| {
                        let subject = Subject { kind: "order", id: new.order_id.as_str().to_owned() };
                        let marker = format!("{}:{}", new.version, new.refunds.len());
                        event(kind, &marker, new.updated_at, subject, new.version, EventData::Order(new.clone()))
                    })
                    .collect()
            }
        };
        Ok(events)
    }

    /// Publishes rendered events in order: PutEvents calls of at most 10 entries (and 256 KiB)
    /// in which no two events share a subject — so that an event is never accepted before an
    /// earlier one of its subject — then the deliveries of what EventBridge took. At the first
    /// event refused (or not queued) it stops: `failed_record` is its record, which the stream
    /// hands over again with all that follows; what came before is done and not sent again.
    pub async fn publish(&self, ready: &[Ready]) -> Result<Published, EventsError> {
        let bus = self.bus.events()?;
        let mut published = Published::default();
        let mut start = 0;
        while start < ready.len() {
            let chunk = &ready[start..start + call_length(&ready[start..])];
            start += chunk.len();
            let entries: Vec<BusEntry> = chunk.iter().map(|r| r.entry.clone()).collect();
            let taken = match bus.put(&entries).await {
                Ok(taken) => taken,
                Err(error) => {
                    tracing::warn!(error = %error, "PutEvents failed");
                    published.failed_record = chunk.first().map(|r| r.record);
                    return Ok(published);
                }
            };
            // Everything before the first refusal is published; the refused one and what
            // follows it go round again.
            let accepted = taken.iter().take_while(|t| **t).count();
            published.published += accepted;
            match self.deliver(&chunk[..accepted]).await {
                Ok(queued) => published.queued += queued,
                Err(error) => {
                    tracing::warn!(error = %error, "queueing webhook deliveries failed");
                    published.failed_record = chunk.first().map(|r| r.record);
                    return Ok(published);
                }
            }
            if accepted < chunk.len() {
                published.failed_record = Some(chunk[accepted].record);
                return Ok(published);
            }
        }
        Ok(published)
    }

    /// Queues the webhook deliveries of published events, per project.
    async fn deliver(&self, published: &[Ready]) -> Result<usize, EventsError> {
        let mut by_project: BTreeMap<&str, (ProjectId, Vec<Outgoing>)> = BTreeMap::new();
        for ready in published {
            by_project
                .entry(ready.project.as_str())
                .or_insert_with(|| (ready.project.clone(), Vec::new()))
                .1
                .push(ready.webhook.clone());
        }
        let mut queued = 0;
        for (project, outgoing) in by_project.values() {
            queued += self.webhooks.fan_out(project, outgoing).await?;
        }
        Ok(queued)
    }
}

/// How many of `ready`'s first events go in one PutEvents call: at most 10, within 256 KiB,
/// and none of a subject already in it.
fn call_length(ready: &[Ready]) -> usize {
    let mut subjects = HashSet::new();
    let mut bytes = 0;
    let mut length = 0;
    for r in ready.iter().take(ENTRIES_PER_CALL) {
        let size = r.entry.size();
        if length > 0 && (bytes + size > BYTES_PER_CALL || subjects.contains(r.ordering_key.as_str())) {
            break;
        }
        subjects.insert(r.ordering_key.as_str());
        bytes += size;
        length += 1;
    }
    length
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::EventId;

    fn ready(record: usize, subject: &str, bytes: usize) -> Ready {
        let id = EventId::derive(EventKind::BalanceCreated, subject, "T$", &record.to_string());
        Ready {
            record,
            project: ProjectId::parse("p").unwrap(),
            ordering_key: subject.to_owned(),
            entry: BusEntry { source: "s", detail_type: "d", detail: "x".repeat(bytes), time_ms: 0 },
            webhook: Outgoing {
                id,
                kind: EventKind::BalanceCreated,
                created_at: Millis::from_epoch_ms(0),
                body: String::new(),
            },
        }
    }

    #[test]
    fn a_call_never_holds_two_events_of_one_subject_nor_more_than_ten_or_256_kib() {
        let spread: Vec<Ready> = (0..25).map(|n| ready(n, &format!("b{n}"), 10)).collect();
        assert_eq!(call_length(&spread), 10);
        let same = [ready(0, "a", 10), ready(1, "b", 10), ready(2, "a", 10), ready(3, "c", 10)];
        assert_eq!(call_length(&same), 2);
        let big = [ready(0, "a", 200 * 1024), ready(1, "b", 100 * 1024)];
        assert_eq!(call_length(&big), 1);
        // One event over the limit still goes alone (EventBridge refuses it, and says so).
        assert_eq!(call_length(&[ready(0, "a", 300 * 1024)]), 1);
        assert_eq!(call_length(&[]), 0);
    }
}
