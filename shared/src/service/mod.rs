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
use crate::domain::time::Millis;
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

/// What a request's idempotency key holds.
#[derive(Debug)]
enum Stored {
    /// The first answer to a request like this one: answer it again.
    Replay(IdempotencyRecord),
    /// The key was used before with a different request.
    Reused,
    /// No key, or its record expired: nothing was answered under it.
    Nothing,
}

impl Ledger {
    /// What the request's key holds. `returned`: the record a failed "key is free" condition
    /// brought back, when DynamoDB sent it along; otherwise the record is read.
    async fn stored(
        &self,
        project: &ProjectId,
        idempotency: Option<&Idempotency>,
        returned: Option<IdempotencyRecord>,
        now: Millis,
    ) -> Result<Stored, Fault> {
        let Some(idempotency) = idempotency else {
            return Ok(Stored::Nothing);
        };
        let record = match returned {
            Some(record) => Some(record),
            None => self.store.idempotency_record(project, &idempotency.key, now).await?,
        };
        Ok(match record {
            Some(record) if record.fingerprint == idempotency.fingerprint => Stored::Replay(record),
            Some(_) => Stored::Reused,
            None => Stored::Nothing,
        })
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
