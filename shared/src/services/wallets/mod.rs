//! The wallets with pockets (after FPay): create, get, update and list wallets; deposits,
//! transfers, quasi-transfers and fund requests ([`movements`]); listings ([`listing`]).

mod listing;
mod movements;
mod records;

pub use listing::{WalletList, WalletListRequest};
pub use movements::{MovementCommand, NewMovement, Swept};
pub use records::{RecordList, RecordListRequest, TransactionRecord};

use crate::domain::ledger::Ids;
use crate::domain::movements::MovementStatus;
use crate::domain::names::{BalanceId, BalanceType, ProjectId};
use crate::domain::operation::Rejection;
use crate::domain::page_token::TokenKey;
use crate::domain::time::Millis;
use crate::domain::wallet_numbers::WalletNumbers;
use crate::domain::wallets::{
    main_wallet_uuid, Description, ForeignData, ForeignId, Wallet, WalletInfo, WalletName, WalletPatch, WalletRef,
    NUMBER_DRAWS,
};
use crate::engine::{Engine, EngineError, Fault, Idempotency, Outcome, RandomIds};
use crate::store::{Refused, StoreError, Write};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Wallets over the engine, the key that seals page tokens, and which projects' main wallet
/// this process has seen exist (a main wallet is never deleted, so once known it need not be
/// looked for again).
#[derive(Clone)]
pub struct Wallets {
    engine: Engine,
    page_tokens: TokenKey,
    main_wallets: Arc<Mutex<HashSet<ProjectId>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a wallet with this foreignId exists")]
    ForeignIdTaken,
    #[error("source and destination are the same wallet")]
    SameWallet,
    #[error("the wallets hold different balance types")]
    TypeMismatch,
    /// The amount was written in another currency than the wallets' balance type.
    #[error("the amount is in {given}, but the wallets hold {wallets}")]
    CurrencyMismatch { given: BalanceType, wallets: BalanceType },
    #[error(transparent)]
    Rejected(Rejection),
    #[error("already resolved: {0}")]
    AlreadyResolved(MovementStatus),
    /// Receiving / sending names no wallet, and creation named none.
    #[error("no wallet named to complete it with")]
    CounterpartMissing,
    /// Receiving / sending names another wallet than the one creation named.
    #[error("it was created for another wallet")]
    CounterpartDiffers,
    /// Receiving / sending names the wallet on the movement's other side.
    #[error("the wallet that completes it is the one on its other side")]
    CounterpartIsOtherSide,
    /// A foreign id several movements share names none of them.
    #[error("several movements have this foreignId")]
    AmbiguousReference,
    #[error("the expire time has passed")]
    ExpireInPast,
    #[error("the expire time is more than 90 days away")]
    ExpireTooFar,
    #[error("the page token is malformed, altered, or from another listing")]
    BadPage,
    #[error("idempotency key reused with a different request")]
    KeyReused,
    #[error("wallet busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] Fault),
}

impl From<StoreError> for WalletError {
    fn from(error: StoreError) -> Self {
        WalletError::Failed(error.into())
    }
}

impl From<EngineError<WalletError>> for WalletError {
    fn from(error: EngineError<WalletError>) -> Self {
        match error {
            EngineError::NotFound => WalletError::NotFound("wallet"),
            EngineError::Busy => WalletError::Busy,
            EngineError::Rejected(rejection) => WalletError::Rejected(rejection),
            EngineError::Refused(error) => error,
            EngineError::KeyReused => WalletError::KeyReused,
            EngineError::WriteRefused(Refused::ForeignIdTaken) => WalletError::ForeignIdTaken,
            EngineError::WriteRefused(_) => Fault::Inconsistent("a new item's id is taken").into(),
            EngineError::Fault(fault) => WalletError::Failed(fault),
        }
    }
}

impl From<EngineError> for WalletError {
    fn from(error: EngineError) -> Self {
        error.with_refusal::<WalletError>().into()
    }
}

/// `POST /v1.0/wallets` after parsing.
#[derive(Debug, Clone)]
pub struct NewWallet {
    pub name: WalletName,
    pub description: Option<Description>,
    pub foreign_data: Option<ForeignData>,
    pub foreign_id: Option<ForeignId>,
    pub balance_type: BalanceType,
}

impl Wallets {
    pub fn new(engine: Engine, page_tokens: TokenKey) -> Self {
        Self { engine, page_tokens, main_wallets: Arc::default() }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// One round trip: the head, the index item, the foreign id and the idempotency record.
    pub async fn create_wallet(
        &self,
        project: &ProjectId,
        key_id: Option<&str>,
        new: &NewWallet,
        idempotency: Option<&Idempotency<'_, Wallet>>,
    ) -> Result<Outcome<Wallet>, WalletError> {
        let id = BalanceId::new(Uuid::new_v4());
        let info = WalletInfo {
            name: new.name.clone(),
            description: new.description.clone(),
            foreign_id: new.foreign_id.clone(),
            foreign_data: new.foreign_data.clone(),
            is_main: false,
            creator_key_id: key_id.map(str::to_owned),
            numbers: WalletNumbers::of(id, 0),
        };
        let now = self.engine.clock().now();
        let first = Wallet::open(project, id, info, new.balance_type.clone(), now, RandomIds.update_token());
        for attempt in 0..NUMBER_DRAWS {
            let wallet = first.renumbered(attempt);
            let writes = [Write::NewWallet(wallet.clone())];
            match self.engine.create(project, &writes, wallet, idempotency).await {
                Err(EngineError::WriteRefused(Refused::NumberTaken)) => continue,
                other => return Ok(other?),
            }
        }
        Err(Fault::GaveUp(NUMBER_DRAWS as usize).into())
    }

    /// The id of the wallet `text` names (its id, `mars`, `man` or foreign id), reading only
    /// for the last three.
    async fn wallet_id(&self, project: &ProjectId, text: &str) -> Result<BalanceId, WalletError> {
        let name = WalletRef::parse(text).ok_or(WalletError::NotFound("wallet"))?;
        self.engine.store().wallet_named(project, &name).await?.ok_or(WalletError::NotFound("wallet"))
    }

    /// One read by id, two by foreign id; a wallet whose credit has expired since its last
    /// write (put on it through the balance API) is written off first, as `GET /balances/{id}`
    /// does, so that no answer counts money that is gone.
    pub async fn get_wallet(&self, project: &ProjectId, identifier: &str) -> Result<Wallet, WalletError> {
        let id = self.wallet_id(project, identifier).await?;
        let head = self.engine.store().read_head(project, id).await?.ok_or(WalletError::NotFound("wallet"))?;
        let info = head.wallet.ok_or(WalletError::NotFound("wallet"))?;
        Ok(Wallet { info, balance: self.engine.current(head.balance).await? })
    }

    /// Changes a wallet's attributes under its lock, so that no commit in flight writes the
    /// old name back to the balance.
    pub async fn update_wallet(
        &self,
        project: &ProjectId,
        identifier: &str,
        patch: &WalletPatch,
    ) -> Result<Wallet, WalletError> {
        let id = self.wallet_id(project, identifier).await?;
        let locked = self.engine.lock(project, id).await?;
        let Some(info) = &locked.head.wallet else {
            self.engine.unlock(&locked).await;
            return Err(WalletError::NotFound("wallet"));
        };
        let mut wallet = Wallet { info: patch.applied_to(info), balance: locked.head.balance.clone() };
        wallet.balance.name = wallet.info.balance_name();
        if let Err(error) = self.engine.store().update_wallet(&locked.owner, &wallet).await {
            self.engine.unlock(&locked).await;
            return Err(error.into());
        }
        Ok(wallet)
    }

    /// The project's main wallet, as its first movement or listing creates it.
    fn main_wallet(project: &ProjectId, key_id: Option<&str>, now: Millis) -> Wallet {
        let id = BalanceId::new(main_wallet_uuid(project));
        let info = WalletInfo::main(key_id.map(str::to_owned), WalletNumbers::of(id, 0));
        Wallet::open(project, id, info, BalanceType::xof(), now, RandomIds.update_token())
    }

    /// Makes sure the project's main wallet exists, so that a listing shows it before any
    /// movement has needed it: one conditional create (a no-op when it exists) per project
    /// and process, nothing after that.
    async fn ensure_main_wallet(&self, project: &ProjectId, key_id: Option<&str>) -> Result<(), WalletError> {
        if self.main_wallets.lock().is_ok_and(|known| known.contains(project)) {
            return Ok(());
        }
        let main = Self::main_wallet(project, key_id, self.engine.clock().now());
        self.engine.create_wallet_if_absent(project, &main).await.map_err(WalletError::from)?;
        if let Ok(mut known) = self.main_wallets.lock() {
            known.insert(project.clone());
        }
        Ok(())
    }
}
