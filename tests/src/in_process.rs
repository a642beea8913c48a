//! The ledger service in this process, on a fresh table of the local DynamoDB, with a clock
//! the test moves. For store-level tests that need time travel or many operations fast.

use crate::app::unique;
use crate::ddb_proxy::DdbProxy;
use crate::local_dynamodb;
use pocketbook::clock::ManualClock;
use pocketbook::config::Config;
use pocketbook::domain::names::ProjectId;
use pocketbook::domain::page_token::TokenKey;
use pocketbook::domain::time::Millis;
use pocketbook::service::Ledger;
use pocketbook::store::{schema, CallCounter, Store};
use std::sync::Arc;
use std::time::Duration;

pub struct LocalLedger {
    pub ledger: Ledger,
    /// The same table through a client of its own (not counted with the ledger's calls).
    pub store: Store,
    pub clock: ManualClock,
    pub project: ProjectId,
    pub proxy: Option<DdbProxy>,
    pub table: String,
}

impl LocalLedger {
    pub async fn new() -> Self {
        Self::with(false, Duration::from_millis(200)).await
    }

    pub async fn with(through_proxy: bool, lock_wait: Duration) -> Self {
        let endpoint = local_dynamodb::endpoint();
        let table = unique("pocketbook-ledger");
        let store = Store::new(local_dynamodb::client(&endpoint).await, table.clone(), CallCounter::default());
        schema::create_table(store.client(), &table, false).await.expect("create the test table");
        let proxy = match through_proxy {
            true => Some(DdbProxy::start(endpoint.clone()).await.expect("start the proxy")),
            false => None,
        };
        let ledger_endpoint = proxy.as_ref().map_or(endpoint, |p| p.url());
        let calls = CallCounter::default();
        let ledger_store =
            Store::new(local_dynamodb::client_counting(&ledger_endpoint, calls.clone()), table.clone(), calls);
        let clock = ManualClock::at(Millis::from_datetime(chrono::Utc::now()));
        let config = Config {
            table: table.clone(),
            lock_lease_ms: 5_000,
            lock_wait,
            page_tokens: TokenKey::new(b"test"),
            page_token_key_is_default: false,
            api_key_cache: Duration::from_secs(60),
            wallets: Default::default(),
        };
        let ledger = Ledger::new(ledger_store, Arc::new(clock.clone()), &config);
        Self { ledger, store, clock, project: ProjectId::parse(&unique("acme")).expect("project"), proxy, table }
    }
}
