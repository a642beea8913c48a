//! `pocketbook-admin`: the operator's tool. Reads the same environment as the functions:
//! `TABLE_NAME`, `AWS_REGION`, credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for a local table.

use clap::{Parser, Subcommand};
use pocketbook::clock::{Clock, SystemClock};
use pocketbook::config::{secrets_key_from_env, SECRETS_KEY, TABLE_NAME};
use pocketbook::domain::checksum;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook::edge::auth::{generate_api_key, generate_signing_secret, hash_api_key, seal_signing_secret};
use pocketbook::store::{schema, ApiKeyRecord, Store};
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
        /// Print only the key, and the signing secret on the next line (for scripts).
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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let store = Store::connect(cli.table.clone()).await;
    match run(cli.command, &store).await {
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
        Command::CreateApiKey { project, scopes, signing_secret, quiet } => {
            let project = ProjectId::parse(&project).map_err(|e| format!("--project {e}"))?;
            if project.is_reserved() {
                return Err(format!("--project {project} is reserved for Pocketbook's own use"));
            }
            if let Some(bad) = scopes.iter().find(|s| !["read", "write"].contains(&s.as_str())) {
                return Err(format!("unknown scope {bad:?}: use read and/or write"));
            }
            let key = generate_api_key();
            let record = ApiKeyRecord {
                key_id: format!("key_{}", uuid::Uuid::new_v4().simple()),
                project_id: project,
                scopes,
                created_at: SystemClock.now(),
            };
            let secret = match signing_secret {
                false => {
                    store.insert_api_key(&hash_api_key(&key), &record).await.map_err(|e| e.to_string())?;
                    None
                }
                true => {
                    let (secrets, is_default) = secrets_key_from_env();
                    if is_default {
                        eprintln!(
                            "warning: {SECRETS_KEY} is not set: the secret is sealed under the development key, \
                             which only functions without {SECRETS_KEY} open"
                        );
                    }
                    let secret = generate_signing_secret();
                    let sealed = seal_signing_secret(&secrets, &record.key_id, &secret);
                    store
                        .insert_signed_api_key(&hash_api_key(&key), &record, &sealed)
                        .await
                        .map_err(|e| e.to_string())?;
                    Some(secret)
                }
            };
            if quiet {
                println!("{key}");
                if let Some(secret) = &secret {
                    println!("{}", secret.expose());
                }
            } else {
                println!(
                    "API key for project {} ({}), scopes {}:",
                    record.project_id,
                    record.key_id,
                    record.scopes.join(",")
                );
                println!("{key}");
                match &secret {
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
    }
    Ok(())
}
