//! Wiring: what a function builds once per process from the configuration — one DynamoDB
//! client, the engine over it, and the one service its action needs (for the customer wallet
//! accounts, the providers too).

use crate::clock::SystemClock;
use crate::config::{Config, ConfigError};
use crate::engine::Engine;
use crate::providers::Providers;
use crate::services::{Balances, WalletAccounts, Wallets};
use crate::store::Store;
use std::sync::Arc;

/// What every service is built from.
pub struct Parts {
    pub engine: Engine,
    pub config: Config,
}

impl Parts {
    /// The DynamoDB client (once per process) and the engine on the system clock.
    pub async fn connect(config: Config) -> Self {
        let store = Store::connect(config.table.clone()).await;
        Self { engine: Engine::new(store, Arc::new(SystemClock), config.lock), config }
    }
}

/// A service an action runs on.
pub trait Service: Send + Sync + Sized + 'static {
    fn build(parts: &Parts) -> Result<Self, ConfigError>;

    fn engine(&self) -> &Engine;
}

impl Service for Balances {
    fn build(parts: &Parts) -> Result<Self, ConfigError> {
        Ok(Balances::new(parts.engine.clone(), parts.config.page_tokens.clone()))
    }

    fn engine(&self) -> &Engine {
        Balances::engine(self)
    }
}

impl Service for Wallets {
    fn build(parts: &Parts) -> Result<Self, ConfigError> {
        Ok(Wallets::new(parts.engine.clone(), parts.config.page_tokens.clone()))
    }

    fn engine(&self) -> &Engine {
        Wallets::engine(self)
    }
}

impl Service for WalletAccounts {
    fn build(parts: &Parts) -> Result<Self, ConfigError> {
        let settings = &parts.config.providers;
        let providers = Providers::build(settings).map_err(ConfigError)?;
        Ok(WalletAccounts::new(Balances::build(parts)?, providers, settings.refresh_timeout))
    }

    fn engine(&self) -> &Engine {
        WalletAccounts::engine(self)
    }
}
