//! Events as the world reads them: the envelope (EventBridge's `detail`, and the webhook
//! body of every kind but orders'), whose `data` is the facade's own JSON of the thing, and
//! Juspay's webhook body for order events, which Juspay merchants already parse.

use super::movements::{MovementResponse, TransactionResponse};
use super::wallet_accounts::{OrderResponse, WalletAccountResponse};
use super::wallets::WalletResponse;
use super::{to_json, BalanceResponse, TransactionListItem};
use crate::bus::BusEntry;
use crate::domain::events::EventKind;
use crate::domain::webhooks::Outgoing;
use crate::services::{Event, EventData, Ready};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    id: &'a str,
    kind: &'static str,
    project: &'a str,
    created_at: String,
    subject: SubjectJson<'a>,
    sequence: u64,
    data: Data,
}

#[derive(Serialize)]
struct SubjectJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Data {
    Balance(Box<BalanceResponse>),
    Entry(Box<EntryData>),
    Wallet(Box<WalletResponse>),
    Movement(Box<MovementData>),
    WalletAccount(Box<AccountData>),
    Order(Box<OrderResponse>),
}

/// A balance's history entry as `GET /balances/{id}/transactions` lists it, and whose.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryData {
    balance_id: String,
    #[serde(flatten)]
    entry: TransactionListItem,
}

/// A customer's wallet account as Juspay's list shows it (never with a token), and whose:
/// Juspay's object does not name its customer, and a receiver needs to know.
#[derive(Serialize)]
struct AccountData {
    customer_id: String,
    #[serde(flatten)]
    account: WalletAccountResponse,
}

/// A movement as `GET /v1.0/<kind>/{id}` answers it, with the transactions of its step.
#[derive(Serialize)]
struct MovementData {
    movement: MovementResponse,
    transactions: Vec<TransactionResponse>,
}

/// Juspay's webhook: `event_name` and the order as `GET /order/status` answers it.
#[derive(Serialize)]
struct JuspayWebhook<'a> {
    id: &'a str,
    date_created: String,
    event_name: &'static str,
    content: JuspayContent,
}

#[derive(Serialize)]
struct JuspayContent {
    order: Box<OrderResponse>,
}

/// Juspay's name of an order event.
fn juspay_event_name(kind: EventKind) -> Option<&'static str> {
    match kind {
        EventKind::OrderCharged => Some("ORDER_SUCCEEDED"),
        EventKind::OrderFailed => Some("ORDER_FAILED"),
        EventKind::OrderRefunded => Some("ORDER_REFUNDED"),
        _ => None,
    }
}

fn data(event: &Event, base_url: Option<&str>) -> Data {
    match &event.data {
        EventData::Balance(balance) => Data::Balance(Box::new(BalanceResponse::new(balance, false))),
        EventData::Entry { balance, entry } => {
            Data::Entry(Box::new(EntryData { balance_id: balance.to_string(), entry: TransactionListItem::new(entry) }))
        }
        EventData::Wallet(wallet) => Data::Wallet(Box::new(WalletResponse::new(wallet, base_url))),
        EventData::Movement { movement, transactions } => Data::Movement(Box::new(MovementData {
            movement: MovementResponse::new(movement, &event.project, base_url),
            transactions: transactions
                .iter()
                .map(|r| TransactionResponse::new(&r.transaction, &r.wallet, &r.parent, base_url))
                .collect(),
        })),
        EventData::WalletAccount(account) => Data::WalletAccount(Box::new(AccountData {
            customer_id: account.customer.as_str().to_owned(),
            account: WalletAccountResponse::new(account),
        })),
        EventData::Order(order) => Data::Order(Box::new(OrderResponse::new(order))),
    }
}

/// The envelope's JSON.
pub fn envelope(event: &Event, base_url: Option<&str>) -> String {
    to_json(&Envelope {
        id: event.id.as_str(),
        kind: event.kind.as_str(),
        project: event.project.as_str(),
        created_at: event.created_at.to_iso8601(),
        subject: SubjectJson { kind: event.subject.kind, id: &event.subject.id },
        sequence: event.sequence,
        data: data(event, base_url),
    })
}

/// What a webhook is sent: Juspay's body for order events, the envelope for the others.
pub fn webhook_body(event: &Event, base_url: Option<&str>) -> String {
    match (juspay_event_name(event.kind), &event.data) {
        (Some(event_name), EventData::Order(order)) => to_json(&JuspayWebhook {
            id: event.id.as_str(),
            date_created: event.created_at.to_iso8601(),
            event_name,
            content: JuspayContent { order: Box::new(OrderResponse::new(order)) },
        }),
        _ => envelope(event, base_url),
    }
}

/// An event made ready for the bus and the webhooks; `record` is its stream record's index.
pub fn ready(record: usize, event: &Event, base_url: Option<&str>) -> Ready {
    let detail = envelope(event, base_url);
    let body = if juspay_event_name(event.kind).is_some() { webhook_body(event, base_url) } else { detail.clone() };
    Ready {
        record,
        project: event.project.clone(),
        ordering_key: format!("{}/{}", event.subject.kind, event.subject.id),
        entry: BusEntry {
            source: event.kind.source(),
            detail_type: event.kind.detail_type(),
            detail,
            time_ms: event.created_at.epoch_ms(),
        },
        webhook: Outgoing { id: event.id.clone(), kind: event.kind, created_at: event.created_at, body },
    }
}
