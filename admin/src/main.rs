//! `pocketbook-admin`: the operator's tool. Reads the same environment as the functions:
//! `TABLE_NAME`, `AWS_REGION`, credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for a local table.

use clap::{Parser, Subcommand};
use pocketbook::clock::{Clock, SystemClock};
use pocketbook::config::{secrets_key_from_env, Config, SECRETS_KEY, TABLE_NAME};
use pocketbook::domain::api_keys::{parse_span, KeyLimits};
use pocketbook::domain::checksum;
use pocketbook::domain::events::EventId;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::domain::sealed::Secret;
use pocketbook::domain::time::Millis;
use pocketbook::domain::webhooks::{parse_description, DeliveryStatus, EventFilter, WebhookId};
use pocketbook::edge::auth::{generate_api_key, generate_signing_secret, hash_api_key, seal_signing_secret};
use pocketbook::edge::services::{Parts, Service};
use pocketbook::services::{DeliveryListRequest, NewWebhook, Webhooks};
use pocketbook::store::{schema, ApiKeyRecord, KeyLimitChange, NewApiKey, Store};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "pocketbook-admin", about = "Operate a Pocketbook table")]
struct Cli {
    /// The table (default: $TABLE_NAME).
    #[arg(long, env = TABLE_NAME, global = true, default_value = "pocketbook")]
    table: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table (on-demand, pk/sk, TTL on expiresAt), as template.yaml declares it.
    CreateTable {
        /// Succeed without changes when the table already exists.
        #[arg(long)]
        if_missing: bool,
    },
    /// Create an API key for a project. The key is printed once and stored only as a hash.
    CreateApiKey {
        #[arg(long)]
        project: String,
        /// Comma-separated: read, write.
        #[arg(long, default_value = "read,write", value_delimiter = ',')]
        scopes: Vec<String>,
        /// Also give the key a signing secret: every request with the key must then be signed
        /// with it as FPay's SDK signs (Finalse-Nonce, Finalse-SignedHeaders,
        /// Finalse-Signature). Printed once; stored sealed under $POCKETBOOK_SECRETS_KEY, which
        /// must be the functions' own.
        #[arg(long)]
        signing_secret: bool,
        /// The key stops working this long from now: `30d`, `12h`, `90m` (one unit).
        #[arg(long)]
        expires_in: Option<String>,
        /// At most this many requests a minute (answered 429 with Retry-After beyond it).
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Print only the key, and the signing secret on the next line (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List a project's keys: id, prefix, scopes, created, last used (to the hour), end date,
    /// revocation, rate. Never the key.
    ListApiKeys {
        #[arg(long)]
        project: String,
    },
    /// Revoke a key at once. Deployed, API Gateway may go on accepting it for its authorizer
    /// cache (see the README); the functions' own checks refuse it within their key cache.
    RevokeApiKey {
        #[arg(long)]
        project: String,
        #[arg(long)]
        key_id: String,
    },
    /// Make a new key like an existing one (project, scopes, rate, and a new signing secret if
    /// it signs); the old one keeps working for `--grace`, then stops.
    RotateApiKey {
        #[arg(long)]
        project: String,
        #[arg(long)]
        key_id: String,
        /// How long the old key keeps working: `1h`, `7d` (one unit).
        #[arg(long, default_value = "24h")]
        grace: String,
        #[arg(long)]
        quiet: bool,
    },
    /// Recompute a balance's checksum chain from its stored history.
    VerifyChain {
        #[arg(long)]
        project: String,
        #[arg(long)]
        balance: String,
    },
    /// Give a project's wallets created before the wallet sort indexes existed their keys in
    /// them (sorted listings leave such wallets out until then). Safe to run beside live
    /// traffic, and again: wallets that have their keys are left alone.
    BackfillWalletSortKeys {
        #[arg(long)]
        project: String,
    },
    /// Register a webhook endpoint for a project. Its signing secret is printed once and
    /// stored sealed under $POCKETBOOK_SECRETS_KEY, which must be the functions' own.
    CreateWebhook {
        #[arg(long)]
        project: String,
        /// https:// (http:// and loopback only with POCKETBOOK_WEBHOOK_ALLOW_INSECURE=true).
        #[arg(long)]
        url: String,
        /// Comma-separated event kinds (balance.entry.committed, order.charged, ...), or `*`.
        #[arg(long, default_value = "*", value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Print only the webhook id, and the secret on the next line (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List a project's webhook endpoints (never their secrets).
    ListWebhooks {
        #[arg(long)]
        project: String,
    },
    /// Remove a webhook endpoint: nothing more is delivered to it.
    DeleteWebhook {
        #[arg(long)]
        project: String,
        #[arg(long)]
        webhook_id: String,
    },
    /// List an endpoint's deliveries: status, attempts, last status, next attempt.
    ListWebhookDeliveries {
        #[arg(long)]
        project: String,
        #[arg(long)]
        webhook_id: String,
        /// Only the deliveries that gave up (to redeliver them).
        #[arg(long)]
        failed: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Queue a delivery again from its first attempt (needs $DELIVERY_QUEUE_URL).
    Redeliver {
        #[arg(long)]
        project: String,
        #[arg(long)]
        webhook_id: String,
        #[arg(long)]
        event_id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let store = Store::connect(cli.table.clone()).await;
    let result = match cli.command {
        Command::CreateWebhook { .. }
        | Command::ListWebhooks { .. }
        | Command::DeleteWebhook { .. }
        | Command::ListWebhookDeliveries { .. }
        | Command::Redeliver { .. } => webhook_command(cli.command, &cli.table).await,
        command => run(command, &store).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, store: &Store) -> Result<(), String> {
    match command {
        Command::CreateTable { if_missing } => {
            let created =
                schema::create_table(store.client(), store.table(), if_missing).await.map_err(|e| e.to_string())?;
            let verb = if created { "created" } else { "already exists:" };
            println!("table {verb} {}", store.table());
        }
        Command::CreateApiKey { project, scopes, signing_secret, expires_in, rate_limit, quiet } => {
            let project = ProjectId::parse(&project).map_err(|e| format!("--project {e}"))?;
            if project.is_reserved() {
                return Err(format!("--project {project} is reserved for Pocketbook's own use"));
            }
            if let Some(bad) = scopes.iter().find(|s| !["read", "write"].contains(&s.as_str())) {
                return Err(format!("unknown scope {bad:?}: use read and/or write"));
            }
            let now = SystemClock.now();
            let valid_until = match expires_in.as_deref().map(parse_span) {
                None => None,
                Some(Some(ms)) => Some(now.plus_ms(ms)),
                Some(None) => return Err("--expires-in must be a number and one unit: 30d, 12h, 90m, 45s".into()),
            };
            if rate_limit == Some(0) {
                return Err("--rate-limit must be at least 1 request a minute".into());
            }
            let limits = KeyLimits { valid_until, revoked_at: None, rate_per_minute: rate_limit };
            let made = make_key(store, project, scopes, signing_secret, limits, now).await?;
            made.print(quiet);
        }
        Command::ListApiKeys { project } => {
            let project = ProjectId::parse(&project).map_err(|e| format!("--project {e}"))?;
            let keys = store.list_api_keys(&project).await.map_err(|e| e.to_string())?;
            println!(
                "{:<38} {:<11} {:<10} {:<20} {:<20} {:<20} {:<20} {}",
                "key id", "prefix", "scopes", "created", "last used", "ends", "revoked", "rate/min"
            );
            let time = |at: Option<pocketbook::domain::time::Millis>| at.map_or("-".to_owned(), |at| at.to_iso8601());
            for key in &keys {
                let limits = &key.limits;
                println!(
                    "{:<38} {:<11} {:<10} {:<20} {:<20} {:<20} {:<20} {}",
                    key.record.key_id,
                    key.prefix.as_deref().unwrap_or("-"),
                    key.record.scopes.join(","),
                    key.record.created_at.to_iso8601(),
                    time(key.last_used_at),
                    time(limits.valid_until),
                    time(limits.revoked_at),
                    limits.rate_per_minute.map_or("-".to_owned(), |r| r.to_string()),
                );
            }
            println!("{} keys", keys.len());
        }
        Command::RevokeApiKey { project, key_id } => {
            let project = ProjectId::parse(&project).map_err(|e| format!("--project {e}"))?;
            let now = SystemClock.now();
            if !store.limit_api_key(&project, &key_id, KeyLimitChange::Revoke(now)).await.map_err(|e| e.to_string())? {
                return Err(format!("project {project} has no key {key_id}"));
            }
            println!("revoked {key_id} at {}", now.to_iso8601());
        }
        Command::RotateApiKey { project, key_id, grace, quiet } => {
            let project = ProjectId::parse(&project).map_err(|e| format!("--project {e}"))?;
            let grace = parse_span(&grace).ok_or("--grace must be a number and one unit: 24h, 7d, 90m")?;
            let keys = store.list_api_keys(&project).await.map_err(|e| e.to_string())?;
            let old = keys
                .into_iter()
                .find(|key| key.record.key_id == key_id)
                .ok_or_else(|| format!("project {project} has no key {key_id}"))?;
            let now = SystemClock.now();
            if old.limits.check(now).is_err() {
                return Err(format!("{key_id} is revoked or past its end date already: create a new key instead"));
            }
            let limits = KeyLimits { revoked_at: None, ..old.limits };
            let made =
                make_key(store, project.clone(), old.record.scopes, old.signing_secret.is_some(), limits, now).await?;
            let ends = now.plus_ms(grace);
            store.limit_api_key(&project, &key_id, KeyLimitChange::EndAt(ends)).await.map_err(|e| e.to_string())?;
            if !quiet {
                println!("{key_id} keeps working until {}; its replacement:", ends.to_iso8601());
            }
            made.print(quiet);
        }
        Command::VerifyChain { project, balance } => {
            let project = ProjectId::parse(&project).map_err(|e| format!("--project {e}"))?;
            let id = BalanceId::parse(&balance).map_err(|e| format!("--balance {e}"))?;
            let head = store
                .read_head(&project, id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no such balance in this project")?;
            let history = store.full_history(&project, id).await.map_err(|e| e.to_string())?;
            let count =
                checksum::verify(id, &history, &head.balance.checksum).map_err(|e| format!("chain broken: {e}"))?;
            if count != head.balance.transactions_count {
                return Err(format!(
                    "chain has {count} entries but the balance counts {}",
                    head.balance.transactions_count
                ));
            }
            println!("chain verified: {count} entries, checksum {}", head.balance.checksum.as_str());
        }
        Command::BackfillWalletSortKeys { project } => {
            let project = ProjectId::parse(&project).map_err(|e| format!("--project {e}"))?;
            let (updated, skipped) = store.backfill_wallet_sort_keys(&project).await.map_err(|e| e.to_string())?;
            println!("wallet sort keys: {updated} wallets given them, {skipped} had them already");
        }
        _ => return Err("not a store command".into()),
    }
    Ok(())
}

/// The webhook commands run on the same service as the functions, configured from the same
/// environment (the secrets key, the delivery queue, whether insecure URLs are allowed).
async fn webhook_command(command: Command, table: &str) -> Result<(), String> {
    // The tool's --table wins over the environment's (edition 2021: single-threaded here).
    std::env::set_var(TABLE_NAME, table);
    let config = Config::from_env().map_err(|e| e.to_string())?;
    if config.secrets_key_is_default {
        eprintln!(
            "warning: {SECRETS_KEY} is not set: using the development key, which only functions without it share"
        );
    }
    let parts = Parts::connect(config).await;
    let webhooks = Webhooks::build(&parts).map_err(|e| e.to_string())?;
    let project_of = |text: &str| ProjectId::parse(text).map_err(|e| format!("--project {e}"));
    let webhook_of =
        |text: &str| WebhookId::parse(text).ok_or_else(|| format!("--webhook-id {text:?} is not a webhook id"));
    match command {
        Command::CreateWebhook { project, url, events, description, quiet } => {
            let project = project_of(&project)?;
            let events = EventFilter::parse(&events).map_err(|e| format!("--events {e}"))?;
            let description =
                description.as_deref().map(parse_description).transpose().map_err(|e| format!("--description {e}"))?;
            let (endpoint, secret) =
                webhooks.create(&project, NewWebhook { url, events, description }).await.map_err(|e| e.to_string())?;
            if quiet {
                println!("{}", endpoint.id);
                println!("{}", secret.expose());
            } else {
                println!(
                    "webhook {} for project {project}: {} ({})",
                    endpoint.id,
                    endpoint.url.as_str(),
                    endpoint.events.names().join(",")
                );
                println!("Signing secret (verify the Pocketbook-Signature header with it):");
                println!("{}", secret.expose());
                println!("Store it now: it is not shown again (the table keeps it sealed under {SECRETS_KEY}).");
            }
        }
        Command::ListWebhooks { project } => {
            let endpoints = webhooks.list(&project_of(&project)?).await.map_err(|e| e.to_string())?;
            println!("{:<31} {:<24} {:<40} {}", "webhook id", "created", "events", "url");
            for endpoint in &endpoints {
                println!(
                    "{:<31} {:<24} {:<40} {}",
                    endpoint.id,
                    endpoint.created_at.to_iso8601(),
                    endpoint.events.names().join(","),
                    endpoint.url.as_str()
                );
            }
            println!("{} webhooks", endpoints.len());
        }
        Command::DeleteWebhook { project, webhook_id } => {
            let project = project_of(&project)?;
            let id = webhook_of(&webhook_id)?;
            webhooks.delete(&project, &id).await.map_err(|e| format!("{id}: {e}"))?;
            println!("deleted {id}");
        }
        Command::ListWebhookDeliveries { project, webhook_id, failed, limit } => {
            let project = project_of(&project)?;
            let id = webhook_of(&webhook_id)?;
            let status = failed.then_some(DeliveryStatus::Failed);
            let mut request = DeliveryListRequest { status, limit: limit.clamp(1, 100), page: None };
            println!(
                "{:<37} {:<24} {:<10} {:>8} {:<18} {}",
                "event id", "kind", "status", "attempts", "last status", "next attempt"
            );
            let mut count = 0;
            loop {
                let page = webhooks.list_deliveries(&project, &id, &request).await.map_err(|e| e.to_string())?;
                for d in &page.deliveries {
                    println!(
                        "{:<37} {:<24} {:<10} {:>8} {:<18} {}",
                        d.event_id.as_str(),
                        d.kind.as_str(),
                        d.status.as_str(),
                        d.attempts,
                        d.last_status.as_deref().unwrap_or("-"),
                        d.next_attempt_at.map_or("-".to_owned(), |at| at.to_iso8601())
                    );
                }
                count += page.deliveries.len();
                match page.next_page {
                    Some(next) if count < limit => request.page = Some(next),
                    _ => break,
                }
            }
            println!("{count} deliveries");
        }
        Command::Redeliver { project, webhook_id, event_id } => {
            let project = project_of(&project)?;
            let id = webhook_of(&webhook_id)?;
            let event =
                EventId::parse(&event_id).ok_or_else(|| format!("--event-id {event_id:?} is not an event id"))?;
            webhooks.redeliver(&project, &id, &event).await.map_err(|e| e.to_string())?;
            println!("queued {event} again for {id}");
        }
        _ => return Err("not a webhook command".into()),
    }
    Ok(())
}

/// A key just made: shown once.
struct MadeKey {
    key: String,
    record: ApiKeyRecord,
    secret: Option<Secret>,
    limits: KeyLimits,
}

/// Characters of a key kept to tell keys apart in a listing: `pb_` and 8 of its 43 random
/// ones (48 bits: not enough to guess the rest).
const PREFIX_CHARS: usize = 11;

/// Makes and stores a key (with a new signing secret when `signs`).
async fn make_key(
    store: &Store,
    project: ProjectId,
    scopes: Vec<String>,
    signs: bool,
    limits: KeyLimits,
    now: Millis,
) -> Result<MadeKey, String> {
    let key = generate_api_key();
    let record = ApiKeyRecord {
        key_id: format!("key_{}", uuid::Uuid::new_v4().simple()),
        project_id: project,
        scopes,
        created_at: now,
    };
    let secret = signs.then(|| {
        let (secrets, is_default) = secrets_key_from_env();
        if is_default {
            eprintln!(
                "warning: {SECRETS_KEY} is not set: the secret is sealed under the development key, \
                 which only functions without {SECRETS_KEY} open"
            );
        }
        let secret = generate_signing_secret();
        (seal_signing_secret(&secrets, &record.key_id, &secret), secret)
    });
    let hash = hash_api_key(&key);
    let new = NewApiKey {
        hash: &hash,
        record: &record,
        signing_secret: secret.as_ref().map(|(sealed, _)| sealed),
        limits,
        prefix: key.get(..PREFIX_CHARS).unwrap_or_default(),
    };
    store.insert_new_api_key(&new).await.map_err(|e| e.to_string())?;
    Ok(MadeKey { key, record, secret: secret.map(|(_, secret)| secret), limits })
}

impl MadeKey {
    fn print(&self, quiet: bool) {
        if quiet {
            println!("{}", self.key);
            if let Some(secret) = &self.secret {
                println!("{}", secret.expose());
            }
            return;
        }
        let record = &self.record;
        println!("API key for project {} ({}), scopes {}:", record.project_id, record.key_id, record.scopes.join(","));
        println!("{}", self.key);
        if let Some(until) = self.limits.valid_until {
            println!("It stops working at {}.", until.to_iso8601());
        }
        if let Some(rate) = self.limits.rate_per_minute {
            println!("At most {rate} requests a minute.");
        }
        match &self.secret {
            None => println!("Store it now: it is not shown again (only its SHA-256 is kept)."),
            Some(secret) => {
                println!("Signing secret (every request with this key must be signed with it):");
                println!("{}", secret.expose());
                println!(
                    "Store both now: neither is shown again (only the key's SHA-256 and the secret \
                     sealed under {SECRETS_KEY} are kept)."
                );
            }
        }
    }
}
