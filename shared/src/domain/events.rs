//! What Pocketbook tells the world: one event per committed change, named by a kind, with an
//! id derived from the committed item so that a stream record read twice publishes one id.

use super::movements::{FailureReason, MovementStatus};
use super::wallet_accounts::PaymentStatus;
use super::wallets::WalletInfo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Which facade an event belongs to: its EventBridge `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facade {
    Balances,
    WalletAccounts,
    Wallets,
}

impl Facade {
    pub fn source(self) -> &'static str {
        match self {
            Facade::Balances => "pocketbook.balances",
            Facade::WalletAccounts => "pocketbook.wallet-accounts",
            Facade::Wallets => "pocketbook.wallets",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    BalanceCreated,
    BalanceEntryCommitted,
    WalletCreated,
    WalletUpdated,
    MovementCreated,
    MovementCompleted,
    MovementFailed,
    MovementCancelled,
    WalletAccountLinked,
    WalletAccountDelinked,
    OrderCharged,
    OrderFailed,
    OrderRefunded,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::BalanceCreated,
        EventKind::BalanceEntryCommitted,
        EventKind::WalletCreated,
        EventKind::WalletUpdated,
        EventKind::MovementCreated,
        EventKind::MovementCompleted,
        EventKind::MovementFailed,
        EventKind::MovementCancelled,
        EventKind::WalletAccountLinked,
        EventKind::WalletAccountDelinked,
        EventKind::OrderCharged,
        EventKind::OrderFailed,
        EventKind::OrderRefunded,
    ];

    /// The kind's name: in the event's `kind`, and what a webhook subscribes to.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::BalanceCreated => "balance.created",
            EventKind::BalanceEntryCommitted => "balance.entry.committed",
            EventKind::WalletCreated => "wallet.created",
            EventKind::WalletUpdated => "wallet.updated",
            EventKind::MovementCreated => "movement.created",
            EventKind::MovementCompleted => "movement.completed",
            EventKind::MovementFailed => "movement.failed",
            EventKind::MovementCancelled => "movement.cancelled",
            EventKind::WalletAccountLinked => "wallet_account.linked",
            EventKind::WalletAccountDelinked => "wallet_account.delinked",
            EventKind::OrderCharged => "order.charged",
            EventKind::OrderFailed => "order.failed",
            EventKind::OrderRefunded => "order.refunded",
        }
    }

    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// EventBridge's `detail-type`, which rules match on.
    pub fn detail_type(self) -> &'static str {
        match self {
            EventKind::BalanceCreated => "Balance Created",
            EventKind::BalanceEntryCommitted => "Balance Entry Committed",
            EventKind::WalletCreated => "Wallet Created",
            EventKind::WalletUpdated => "Wallet Updated",
            EventKind::MovementCreated => "Movement Created",
            EventKind::MovementCompleted => "Movement Completed",
            EventKind::MovementFailed => "Movement Failed",
            EventKind::MovementCancelled => "Movement Cancelled",
            EventKind::WalletAccountLinked => "Wallet Account Linked",
            EventKind::WalletAccountDelinked => "Wallet Account Delinked",
            EventKind::OrderCharged => "Order Charged",
            EventKind::OrderFailed => "Order Failed",
            EventKind::OrderRefunded => "Order Refunded",
        }
    }

    pub fn facade(self) -> Facade {
        match self {
            EventKind::BalanceCreated | EventKind::BalanceEntryCommitted => Facade::Balances,
            EventKind::WalletCreated
            | EventKind::WalletUpdated
            | EventKind::MovementCreated
            | EventKind::MovementCompleted
            | EventKind::MovementFailed
            | EventKind::MovementCancelled => Facade::Wallets,
            EventKind::WalletAccountLinked
            | EventKind::WalletAccountDelinked
            | EventKind::OrderCharged
            | EventKind::OrderFailed
            | EventKind::OrderRefunded => Facade::WalletAccounts,
        }
    }

    pub fn source(self) -> &'static str {
        self.facade().source()
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `evt_` and 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

const EVENT_ID_PREFIX: &str = "evt_";

impl EventId {
    /// The id of the `kind` event of one committed change: the item's key and a marker that
    /// tells its changes apart (an entry's sequence number, a head's version, ...). Pure, so a
    /// stream record delivered twice, or read by two consumers, gives the same id.
    pub fn derive(kind: EventKind, pk: &str, sk: &str, marker: &str) -> Self {
        let mut hash = Sha256::new();
        for part in ["pocketbook/event/v1", kind.as_str(), pk, sk, marker] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        Self(format!("{EVENT_ID_PREFIX}{}", hex::encode(&hash.finalize()[..16])))
    }

    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.strip_prefix(EVENT_ID_PREFIX)?;
        let valid = digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        EventId::parse(&text).ok_or_else(|| format!("not an event id: {text:?}"))
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A balance head written: created (a wallet's or a plain balance's), or a wallet whose own
/// attributes changed. Money moving is told by the entries, not by the head.
pub fn head_event(created: bool, old: Option<&WalletInfo>, new: Option<&WalletInfo>) -> Option<EventKind> {
    match (created, old, new) {
        (true, _, Some(_)) | (false, None, Some(_)) => Some(EventKind::WalletCreated),
        (true, _, None) => Some(EventKind::BalanceCreated),
        (false, Some(old), Some(new)) if described_differently(old, new) => Some(EventKind::WalletUpdated),
        _ => None,
    }
}

/// What a wallet's PATCH can change.
fn described_differently(old: &WalletInfo, new: &WalletInfo) -> bool {
    (&old.name, &old.description, &old.foreign_id, &old.foreign_data)
        != (&new.name, &new.description, &new.foreign_id, &new.foreign_data)
}

/// A movement written: created (and, when it is created done, its end too), or resolved.
/// Notes changed by a PATCH tell nothing.
pub fn movement_events(old: Option<MovementStatus>, new: MovementStatus) -> Vec<EventKind> {
    let end = match new {
        MovementStatus::Processing => None,
        MovementStatus::Successful => Some(EventKind::MovementCompleted),
        MovementStatus::Failure(FailureReason::Cancelled) => Some(EventKind::MovementCancelled),
        MovementStatus::Failure(FailureReason::Expired) => Some(EventKind::MovementFailed),
    };
    match old {
        None => std::iter::once(EventKind::MovementCreated).chain(end).collect(),
        Some(MovementStatus::Processing) => end.into_iter().collect(),
        Some(_) => Vec::new(),
    }
}

/// A customer's wallet account written or removed (`None`: absent), by its `linked` flag.
pub fn account_event(old_linked: Option<bool>, new_linked: Option<bool>) -> Option<EventKind> {
    match (old_linked.unwrap_or(false), new_linked.unwrap_or(false)) {
        (false, true) => Some(EventKind::WalletAccountLinked),
        (true, false) => Some(EventKind::WalletAccountDelinked),
        _ => None,
    }
}

/// An order's payment failed for good: what Juspay's ORDER_FAILED reports.
fn failed(status: PaymentStatus) -> bool {
    matches!(
        status,
        PaymentStatus::JuspayDeclined | PaymentStatus::AuthenticationFailed | PaymentStatus::AuthorizationFailed
    )
}

/// An order written: its status reached CHARGED or a failure, or it got a refund more
/// (`refunds`: how many it has).
pub fn order_events(old: Option<(PaymentStatus, usize)>, new: (PaymentStatus, usize)) -> Vec<EventKind> {
    let (old_status, old_refunds) = old.map_or((None, 0), |(status, refunds)| (Some(status), refunds));
    let (status, refunds) = new;
    let mut kinds = Vec::new();
    if old_status != Some(status) {
        if status == PaymentStatus::Charged {
            kinds.push(EventKind::OrderCharged);
        } else if failed(status) {
            kinds.push(EventKind::OrderFailed);
        }
    }
    if refunds > old_refunds {
        kinds.push(EventKind::OrderRefunded);
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movement_tells_its_creation_and_its_end_once() {
        use MovementStatus::*;
        assert_eq!(movement_events(None, Processing), vec![EventKind::MovementCreated]);
        assert_eq!(movement_events(None, Successful), vec![EventKind::MovementCreated, EventKind::MovementCompleted]);
        assert_eq!(movement_events(Some(Processing), Successful), vec![EventKind::MovementCompleted]);
        assert_eq!(
            movement_events(Some(Processing), Failure(FailureReason::Cancelled)),
            vec![EventKind::MovementCancelled]
        );
        assert_eq!(movement_events(Some(Processing), Failure(FailureReason::Expired)), vec![EventKind::MovementFailed]);
        // A PATCH of a movement's notes, or the same end written again, tells nothing.
        assert!(movement_events(Some(Processing), Processing).is_empty());
        assert!(movement_events(Some(Successful), Successful).is_empty());
    }

    #[test]
    fn links_and_orders_tell_their_transitions_only() {
        assert_eq!(account_event(None, Some(true)), Some(EventKind::WalletAccountLinked));
        assert_eq!(account_event(Some(false), Some(true)), Some(EventKind::WalletAccountLinked));
        assert_eq!(account_event(Some(true), Some(false)), Some(EventKind::WalletAccountDelinked));
        assert_eq!(account_event(Some(true), None), Some(EventKind::WalletAccountDelinked));
        assert_eq!(account_event(None, Some(false)), None);
        assert_eq!(account_event(Some(true), Some(true)), None);
        use PaymentStatus::*;
        assert_eq!(order_events(Some((PendingVbv, 0)), (Charged, 0)), vec![EventKind::OrderCharged]);
        assert_eq!(order_events(Some((Charged, 0)), (Charged, 0)), Vec::<EventKind>::new());
        assert_eq!(order_events(Some((New, 0)), (AuthenticationFailed, 0)), vec![EventKind::OrderFailed]);
        assert_eq!(order_events(Some((Charged, 1)), (Charged, 2)), vec![EventKind::OrderRefunded]);
        assert_eq!(order_events(None, (New, 0)), Vec::<EventKind>::new());
        assert_eq!(order_events(Some((New, 0)), (PendingVbv, 0)), Vec::<EventKind>::new());
    }

    #[test]
    fn every_kind_reads_back_from_its_name_and_names_are_unique() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        let names: std::collections::BTreeSet<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), EventKind::ALL.len());
        assert_eq!(EventKind::parse("balance.*"), None);
    }

    #[test]
    fn an_event_id_depends_on_the_change_only() {
        let a = EventId::derive(EventKind::BalanceEntryCommitted, "P#p#B#1", "T#1", "1");
        assert_eq!(a, EventId::derive(EventKind::BalanceEntryCommitted, "P#p#B#1", "T#1", "1"));
        assert_ne!(a, EventId::derive(EventKind::BalanceEntryCommitted, "P#p#B#1", "T#1", "2"));
        assert_ne!(a, EventId::derive(EventKind::BalanceCreated, "P#p#B#1", "T#1", "1"));
        // Parts are separated: moving a character from one part to the next changes the id.
        assert_ne!(
            EventId::derive(EventKind::BalanceCreated, "ab", "c", "1"),
            EventId::derive(EventKind::BalanceCreated, "a", "bc", "1")
        );
        assert_eq!(EventId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(EventId::parse("evt_XYZ"), None);
    }
}
