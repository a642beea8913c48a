//! The JSON answers, rendered from the services' domain values: the balance API's here
//! (BalanceResponse, TransactionListItem, pages), the customer wallet API's in
//! [`wallet_accounts`] (Juspay's shapes), the wallet API's in [`wallets`] (FPay's). An
//! idempotency record stores the exact body an [`Answer`] renders.

pub mod collection;
pub mod events;
pub mod movements;
pub mod wallet_accounts;
pub mod wallets;
pub mod webhooks;

use crate::domain::balance::Balance;
use crate::domain::entry::Entry;
use crate::domain::money;
use crate::engine::Answer;
use crate::services::EntriesPage;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// Serialises as a JSON *number* with the exact decimal text: never through f64.
#[derive(Debug, Clone, Copy)]
pub struct JsonDecimal(pub Decimal);

impl Serialize for JsonDecimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(money::format(self.0)).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceResponse {
    pub project_id: String,
    pub balance_id: String,
    pub balance_amount: JsonDecimal,
    pub balance_expire_at: Option<String>,
    pub balance_min_limit: JsonDecimal,
    pub balance_type: String,
    pub balance_name: String,
    pub transactions_count: u64,
    pub transaction_in_progress: bool,
    pub transactions_checksum: String,
    pub update_token: String,
    pub created_at: String,
    pub updated_at: String,
}

impl BalanceResponse {
    pub fn new(balance: &Balance, transaction_in_progress: bool) -> Self {
        Self {
            project_id: balance.project_id.to_string(),
            balance_id: balance.id.to_string(),
            balance_amount: JsonDecimal(balance.amount),
            balance_expire_at: balance.credits.next_expiry.map(|at| at.to_iso8601()),
            balance_min_limit: JsonDecimal(balance.min_limit.value()),
            balance_type: balance.balance_type.to_string(),
            balance_name: balance.name.to_string(),
            transactions_count: balance.transactions_count,
            transaction_in_progress,
            transactions_checksum: balance.checksum.as_str().to_owned(),
            update_token: balance.update_token.to_string(),
            created_at: balance.created_at.to_iso8601(),
            updated_at: balance.updated_at.to_iso8601(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionListItem {
    pub id: String,
    pub amount: JsonDecimal,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub created_at: i64,
    pub request_time_epoch: i64,
    pub expired_at: Option<i64>,
    pub session: String,
    pub main_tx_id: Option<String>,
    pub subject: Option<String>,
    pub balance_after: JsonDecimal,
    pub checksum: String,
}

impl TransactionListItem {
    pub fn new(entry: &Entry) -> Self {
        Self {
            id: entry.id.to_string(),
            amount: JsonDecimal(entry.amount),
            kind: entry.kind.as_str(),
            created_at: entry.created_at.epoch_ms(),
            request_time_epoch: entry.request_time.epoch_ms(),
            expired_at: entry.expired_at.map(|at| at.epoch_ms()),
            session: entry.session.clone(),
            main_tx_id: entry.main_tx_id.map(|id| id.to_string()),
            subject: entry.subject.as_ref().map(|s| s.to_string()),
            balance_after: JsonDecimal(entry.balance_after),
            checksum: entry.checksum.as_str().to_owned(),
        }
    }
}

/// The answer to an operation: the balance after it, plus the entry it wrote.
#[derive(Debug, Clone, Serialize)]
pub struct OperationResponse {
    #[serde(flatten)]
    pub balance: BalanceResponse,
    pub transaction: TransactionListItem,
}

impl OperationResponse {
    /// Right after a commit: the lock is released with it.
    pub fn new(balance: &Balance, entry: &Entry) -> Self {
        Self { balance: BalanceResponse::new(balance, false), transaction: TransactionListItem::new(entry) }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionsPage {
    pub transactions: Vec<TransactionListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<String>,
}

impl TransactionsPage {
    pub fn new(page: &EntriesPage) -> Self {
        Self {
            transactions: page.entries.iter().map(TransactionListItem::new).collect(),
            pagination_token: page.next_page.clone(),
        }
    }
}

/// An answer with this status and `value` as its JSON body.
pub fn answer(status: u16, value: &impl Serialize) -> Answer {
    Answer { status, body: to_json(value) }
}

/// Serialises an answer body. Our own types always serialise; the fallback keeps the
/// signature infallible without a panic path.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "serialising an answer failed");
        r#"{"error":{"code":"INTERNAL","message":"internal error"}}"#.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_are_written_as_exact_json_numbers_even_when_flattened() {
        #[derive(Serialize)]
        struct Inner {
            a: JsonDecimal,
        }
        #[derive(Serialize)]
        struct Outer {
            #[serde(flatten)]
            inner: Inner,
            b: JsonDecimal,
        }
        let value = Outer {
            inner: Inner { a: JsonDecimal(Decimal::from_str("0.1").unwrap() + Decimal::from_str("0.2").unwrap()) },
            b: JsonDecimal(Decimal::from_str("12345678901234.12345678").unwrap()),
        };
        assert_eq!(to_json(&value), r#"{"a":0.3,"b":12345678901234.12345678}"#);
    }
}
