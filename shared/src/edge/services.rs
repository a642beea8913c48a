//! Wiring: what a function builds once per process from the configuration — one DynamoDB
//! client, the engine over it, and the one service its action needs (for the customer wallet
//! accounts, the providers too).

use crate::bus::Bus;
use crate::clock::SystemClock;
use crate::config::{Config, ConfigError};
use crate::engine::Engine;
use crate::providers::Providers;
use crate::services::{Balances, Events, WalletAccounts, Wallets};
use crate::store::Store;
use std::sync::Arc;

/// What every service is built from.
pub struct Parts {
    pub engine: Engine,
    pub config: Config,
    /// EventBridge and the delivery queue, where configured.
    pub bus: Bus,
}

impl Parts {
    /// The DynamoDB client (once per process) and the engine on the system clock.
    pub async fn connect(config: Config) -> Self {
        // One AWS configuration (region, credentials, endpoints, one HTTPS client) for every client.
        let shared = crate::store::sdk::shared_config().await;
        let store = Store::with_config(&shared, config.table.clone());
        let bus = Bus::new(&shared, config.events.bus_name.as_deref(), config.events.queue_url.as_deref());
        let engine = Engine::new(store, Arc::new(SystemClock), config.lock).with_group_commit(config.group_commit);
        Self { engine, config, bus }
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

impl Service for crate::services::Webhooks {
    fn build(parts: &Parts) -> Result<Self, ConfigError> {
        let events = &parts.config.events;
        let settings = crate::services::WebhookSettings {
            timeout: events.webhook_timeout,
            allow_insecure: events.allow_insecure_webhooks,
        };
        crate::services::Webhooks::new(
            parts.engine.clone(),
            parts.config.secrets.clone(),
            parts.config.page_tokens.clone(),
            parts.bus.queue.clone(),
            settings,
        )
        .map_err(ConfigError)
    }

    fn engine(&self) -> &Engine {
        crate::services::Webhooks::engine(self)
    }
}

impl Service for Events {
    fn build(parts: &Parts) -> Result<Self, ConfigError> {
        Ok(Events::new(Wallets::build(parts)?, crate::services::Webhooks::build(parts)?, parts.bus.clone()))
    }

    fn engine(&self) -> &Engine {
        self.wallets().engine()
    }
}
