//! Configuration from the environment, read once per process: plain data, which the edge
//! turns into the engine, the services and the providers. The functions and the admin tool
//! read the same variables.

use crate::domain::page_token::TokenKey;
use crate::domain::sealed::SecretsKey;
use crate::engine::LockSettings;
use crate::providers::{http, ProviderSettings};
use std::env;
use std::time::Duration;

pub const TABLE_NAME: &str = "TABLE_NAME";
pub const LOCK_LEASE_MS: &str = "POCKETBOOK_LOCK_LEASE_MS";
pub const LOCK_WAIT_MS: &str = "POCKETBOOK_LOCK_WAIT_MS";
pub const PAGE_TOKEN_KEY: &str = "POCKETBOOK_PAGE_TOKEN_KEY";
pub const API_KEY_CACHE_SECONDS: &str = "POCKETBOOK_API_KEY_CACHE_SECONDS";
pub const REFRESH_TIMEOUT_MS: &str = "POCKETBOOK_REFRESH_TIMEOUT_MS";
/// Events out (issue 16): the bus publish-events puts events on, the webhook delivery queue,
/// the base of the FPay objects' `url`s inside events, one delivery attempt's timeout, and
/// whether webhook URLs may be plain `http://` or loopback (local runs and tests only).
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
pub const DELIVERY_QUEUE_URL: &str = "DELIVERY_QUEUE_URL";
pub const PUBLIC_URL: &str = "POCKETBOOK_PUBLIC_URL";
pub const WEBHOOK_TIMEOUT_MS: &str = "POCKETBOOK_WEBHOOK_TIMEOUT_MS";
pub const WEBHOOK_ALLOW_INSECURE: &str = "POCKETBOOK_WEBHOOK_ALLOW_INSECURE";
/// `off` turns group commit off (README, "Group commit"): a busy balance is waited for by
/// retrying its lock, as before it existed. For comparing the two (`make bench`).
pub const GROUP_COMMIT: &str = "POCKETBOOK_GROUP_COMMIT";
/// Seals API keys' signing secrets in the table (the functions open them, the admin tool
/// seals them).
pub const SECRETS_KEY: &str = "POCKETBOOK_SECRETS_KEY";

/// Used when no page-token key is configured (local runs). Deployments set their own; a
/// forged token could only move a caller within their own balance's history anyway.
const DEVELOPMENT_PAGE_TOKEN_KEY: &str = "pocketbook-development-page-token-key";
/// Used when no secrets key is configured (local runs). Deployments set their own: with this
/// one, anyone who can read the table can open the signing secrets in it.
const DEVELOPMENT_SECRETS_KEY: &str = "pocketbook-development-secrets-key";

#[derive(Clone)]
pub struct Config {
    pub table: String,
    /// How long a lock lasts if its holder dies, and how long a request waits for a busy one.
    pub lock: LockSettings,
    /// Whether operations that find their balance busy join its group commit.
    pub group_commit: bool,
    pub page_tokens: TokenKey,
    pub page_token_key_is_default: bool,
    /// What API keys' signing secrets are sealed under.
    pub secrets: SecretsKey,
    pub secrets_key_is_default: bool,
    /// How long a warm function trusts an API key it has looked up (at most 60 s).
    pub api_key_cache: Duration,
    /// Where events go and how webhooks are delivered.
    pub events: EventSettings,
    /// Which gateways use an HTTP provider (the others the sandbox), and refresh bounds.
    pub providers: ProviderSettings,
}

#[derive(Clone, Debug, Default)]
pub struct EventSettings {
    pub bus_name: Option<String>,
    pub queue_url: Option<String>,
    pub public_url: Option<String>,
    pub webhook_timeout: Duration,
    pub allow_insecure_webhooks: bool,
}

fn optional(name: &str) -> Option<String> {
    env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn number(name: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> Result<u64, ConfigError> {
    match env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(value) if range.contains(&value) => Ok(value),
            _ => Err(ConfigError(format!("{name} must be a whole number in {range:?}, got {text:?}"))),
        },
    }
}

/// The secrets key from `POCKETBOOK_SECRETS_KEY`, or the development key (and `true`) when
/// it is unset. The admin tool reads it alone, without the rest of the configuration.
pub fn secrets_key_from_env() -> (SecretsKey, bool) {
    let key = env::var(SECRETS_KEY).ok().filter(|k| !k.is_empty());
    (SecretsKey::from_passphrase(key.as_deref().unwrap_or(DEVELOPMENT_SECRETS_KEY).as_bytes()), key.is_none())
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let table = env::var(TABLE_NAME)
            .ok()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConfigError(format!("{TABLE_NAME} is not set")))?;
        let key = env::var(PAGE_TOKEN_KEY).ok().filter(|k| !k.is_empty());
        let (secrets, secrets_key_is_default) = secrets_key_from_env();
        Ok(Self {
            table,
            lock: LockSettings {
                lease_ms: number(LOCK_LEASE_MS, 5_000, 100..=60_000)? as i64,
                wait: Duration::from_millis(number(LOCK_WAIT_MS, 2_000, 0..=20_000)?),
            },
            group_commit: optional(GROUP_COMMIT).is_none_or(|v| v != "off"),
            page_token_key_is_default: key.is_none(),
            page_tokens: TokenKey::new(key.as_deref().unwrap_or(DEVELOPMENT_PAGE_TOKEN_KEY).as_bytes()),
            secrets,
            secrets_key_is_default,
            api_key_cache: Duration::from_secs(number(API_KEY_CACHE_SECONDS, 60, 0..=60)?),
            events: EventSettings {
                bus_name: optional(EVENT_BUS_NAME),
                queue_url: optional(DELIVERY_QUEUE_URL),
                public_url: optional(PUBLIC_URL).map(|url| url.trim_end_matches('/').to_owned()),
                webhook_timeout: Duration::from_millis(number(WEBHOOK_TIMEOUT_MS, 10_000, 100..=30_000)?),
                allow_insecure_webhooks: optional(WEBHOOK_ALLOW_INSECURE).is_some_and(|v| v == "true" || v == "1"),
            },
            providers: ProviderSettings {
                http: http::from_env().map_err(ConfigError)?,
                refresh_timeout: Duration::from_millis(number(REFRESH_TIMEOUT_MS, 3_000, 100..=20_000)?),
            },
        })
    }
}
