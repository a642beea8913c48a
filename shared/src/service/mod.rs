//! One function per action: load state, ask `domain`, commit through `store`.

mod balances;
mod customer_wallets;
mod locking;
mod mover;
mod wallets;
mod writer;

pub use balances::{
    CreateBalanceError, CreateBalanceRequest, ExecuteOperationError, GetBalanceError, ListTransactionsError,
    OperationOutcome, PageRequest,
};
pub use customer_wallets::{
    CallbackError, Command, DirectDebitError, DirectDebitRequest, ListedAccount, OrderError, WalletAccountError,
};
pub use wallets::{new_wallet, NewMovement, NewWallet, Swept, WalletError, WalletList, WalletListRequest};

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::ledger::Ids;
use crate::domain::names::{IdempotencyKey, ProjectId, TxId, UpdateToken};
use crate::domain::page_token::TokenKey;
use crate::providers::WalletSettings;
use crate::store::{IdempotencyRecord, Store, StoreError};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// Idempotency records are honoured for a day.
const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The ledger: the store, the clock and the knobs of the lock. Built once per process.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    clock: Arc<dyn Clock>,
    lock_lease_ms: i64,
    lock_wait: Duration,
    page_tokens: TokenKey,
    wallets: WalletSettings,
    /// Projects whose main wallet this process has seen exist. A main wallet is never
    /// deleted, so once known it need not be looked for again.
    main_wallets: Arc<Mutex<HashSet<ProjectId>>>,
}

impl Ledger {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: &Config) -> Self {
        Self {
            store,
            clock,
            lock_lease_ms: config.lock_lease_ms,
            lock_wait: config.lock_wait,
            page_tokens: config.page_tokens.clone(),
            wallets: config.wallets.clone(),
            main_wallets: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// How long a request waits for a busy balance before it answers BALANCE_BUSY.
    pub fn lock_wait(&self) -> Duration {
        self.lock_wait
    }
}

/// A request's `Idempotency-Key` and what identifies the request it was first used with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    pub fingerprint: String,
}

/// Either the answer computed now, or the stored answer to the first request with the key.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    Replayed(IdempotencyRecord),
}

/// A fault no caller can fix: the answer is a 500, the detail goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored state is inconsistent: {0}")]
    Inconsistent(&'static str),
    #[error("gave up after {0} attempts whose outcome stayed unknown")]
    GaveUp(usize),
}

/// The key was used before with a different request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("idempotency key reused with a different request")]
pub struct KeyReused;

/// The stored answer when the fingerprints match.
fn replay(record: IdempotencyRecord, idempotency: &Idempotency) -> Result<IdempotencyRecord, KeyReused> {
    if record.fingerprint == idempotency.fingerprint {
        Ok(record)
    } else {
        Err(KeyReused)
    }
}

/// Fresh random identifiers (UUID v4) for everything the ledger writes.
pub struct RandomIds;

impl Ids for RandomIds {
    fn tx_id(&mut self) -> TxId {
        TxId::new(Uuid::new_v4())
    }

    fn update_token(&mut self) -> UpdateToken {
        UpdateToken::new(Uuid::new_v4())
    }

    fn session(&mut self) -> String {
        Uuid::new_v4().to_string()
    }
}
