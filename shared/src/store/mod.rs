//! The only module that speaks DynamoDB: key layout, records, the lock, conditional commits,
//! queries and pagination positions.

mod api_keys;
mod attribute_names;
mod attributes;
mod balances;
mod calls;
mod commit;
mod credits;
mod customer_wallets;
mod customers;
mod history;
mod idempotency;
pub mod keys;
mod lock;
mod movements;
mod nonces;
mod orders;
mod queue;
pub mod schema;
pub mod sdk;
pub mod stream;
pub mod wallet_sort_index;
mod wallet_sort_keys;
mod wallets;
mod webhooks;
mod writes;

pub use api_keys::{ApiKeyRecord, KeyLimitChange, NewApiKey, StoredApiKey};
pub use balances::{HeadRecord, LockHolder};
pub use calls::CallCounter;
pub use commit::{Commit, CommitError, HeadWrite, MAX_TRANSACTION_ITEMS};
pub use customer_wallets::{Claim, ClaimRefused};
pub use history::{HistoryPage, Order};
pub use idempotency::{IdempotencyRecord, IdempotencyWrite};
pub use lock::TryLock;
pub use movements::{ListPage, ListRange};
pub use nonces::{nonce_pk, NonceClaim, NonceUse, NONCE_SK};
pub use queue::{TicketState, Withdrawal};
pub use wallets::{wallet_items, DueExpiry, IndexRange, IndexedWallet};
pub use webhooks::{DeliveryPage, Recorded};
pub use writes::{Refused, Write};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use std::time::Duration;

/// The DynamoDB table and a client for it. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
    calls: CallCounter,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB answered with an error, or could not be reached.
    #[error("DynamoDB {operation}: {detail}")]
    Sdk {
        operation: &'static str,
        detail: String,
        /// The request may have taken effect even though no answer arrived.
        ambiguous: bool,
    },
    /// An item does not have the shape this code writes.
    #[error("malformed item: {0}")]
    Corrupt(String),
}

impl StoreError {
    fn sdk<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        // Only an error *answer* proves the request did nothing; a timeout or a broken
        // connection may hide a write that landed.
        let ambiguous =
            matches!(error, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_));
        StoreError::Sdk { operation, detail: DisplayErrorContext(error).to_string(), ambiguous }
    }

    pub fn is_ambiguous(&self) -> bool {
        matches!(self, StoreError::Sdk { ambiguous: true, .. })
    }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, calls: CallCounter) -> Self {
        Self { client, table: table.into(), calls }
    }

    /// Builds the client once per process: region, credentials and `AWS_ENDPOINT_URL_DYNAMODB`
    /// from the environment, a call counter, and timeouts well inside a Lambda's own.
    pub async fn connect(table: impl Into<String>) -> Self {
        let shared = sdk::shared_config().await;
        Self::with_config(&shared, table)
    }

    /// The same over an AWS configuration already loaded (a function loads it once for all
    /// its clients).
    pub fn with_config(shared: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        let calls = CallCounter::default();
        let config = aws_sdk_dynamodb::config::Builder::from(shared)
            .interceptor(calls.clone())
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(6))
                    .build(),
            )
            .build();
        Self::new(Client::from_conf(config), table, calls)
    }

    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

impl Store {
    /// One transaction whose conditions only guard against what the code never does (a new
    /// item whose key is taken): any error is a fault.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| StoreError::sdk("TransactWriteItems", e))?;
        Ok(())
    }
}

/// A transaction's put of a new item: refused if its key holds one already.
fn put_new(table: &str, item: attributes::Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder().table_name(table).set_item(Some(item)).condition_expression(keys::item_absent());
    Ok(TransactWriteItem::builder().put(attributes::built(put.build())?).build())
}
