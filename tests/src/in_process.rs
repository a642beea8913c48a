//! The services in this process, on one engine over a fresh table of the local DynamoDB, with
//! a clock the test moves. For store-level tests that need time travel or many operations fast.

use crate::app::unique;
use crate::ddb_proxy::DdbProxy;
use crate::local_dynamodb;
use pocketbook::clock::ManualClock;
use pocketbook::domain::names::ProjectId;
use pocketbook::domain::page_token::TokenKey;
use pocketbook::domain::time::Millis;
use pocketbook::engine::{Engine, LockSettings};
use pocketbook::providers::{ProviderSettings, Providers};
use pocketbook::services::{Balances, WalletAccounts, Wallets};
use pocketbook::store::{schema, CallCounter, Store};
use std::sync::Arc;
use std::time::Duration;

pub struct LocalLedger {
    pub engine: Engine,
    pub balances: Balances,
    pub wallets: Wallets,
    /// The customer wallet accounts, every gateway on the sandbox unless set otherwise.
    pub accounts: WalletAccounts,
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
        Self::build(through_proxy, lock_wait, ProviderSettings::default()).await
    }

    /// With the gateways `settings` names on HTTP providers (a [`crate::fake_provider`]).
    pub async fn with_providers(settings: ProviderSettings) -> Self {
        Self::build(false, Duration::from_millis(200), settings).await
    }

    async fn build(through_proxy: bool, lock_wait: Duration, settings: ProviderSettings) -> Self {
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
        let engine =
            Engine::new(ledger_store, Arc::new(clock.clone()), LockSettings { lease_ms: 5_000, wait: lock_wait });
        let page_tokens = TokenKey::new(b"test");
        let balances = Balances::new(engine.clone(), page_tokens.clone());
        let providers = Providers::build(&settings).expect("the HTTP providers' clients");
        let accounts = WalletAccounts::new(balances.clone(), providers, settings.refresh_timeout);
        let wallets = Wallets::new(engine.clone(), page_tokens);
        let project = ProjectId::parse(&unique("acme")).expect("project");
        Self { engine, balances, wallets, accounts, store, clock, project, proxy, table }
    }
}
