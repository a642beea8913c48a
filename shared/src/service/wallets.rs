//! The wallet actions (FPay's wallets with pockets): create, get, update and list wallets;
//! deposits, transfers, quasi-transfers and fund requests.

use super::balances::Due;
use super::mover::{MoveError, Moved, Prepared, Step};
use super::writer::new_owner;
use super::{Fault, Idempotency, Ledger, Outcome, Stored, IDEMPOTENCY_TTL_SECONDS};
use crate::api::wallets::{MovementResponse, WalletResponse};
use crate::api::{self};
use crate::domain::balance::{Balance, NewBalance};
use crate::domain::money::{Amount, MinLimit};
use crate::domain::movements::{self, FailureReason, Movement, MovementKind, MovementStatus, Reference, Resolution};
use crate::domain::names::{BalanceId, BalanceType, IdempotencyKey, ProjectId, UpdateToken};
use crate::domain::operation::Rejection;
use crate::domain::time::Millis;
use crate::domain::wallet_query::filter::Filter;
use crate::domain::wallet_query::sort::{Direction, SortBy};
use crate::domain::wallet_query::WalletView;
use crate::domain::wallets::{
    main_wallet_uuid, Description, Expire, ForeignData, ForeignId, Wallet, WalletInfo, WalletName, WalletPatch,
};
use crate::store::{DueExpiry, IdempotencyWrite, IndexRange, IndexedWallet, InsertWalletError, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// Index items read by the first Query while looking for a page that a filter thins out;
/// each further Query reads twice as many, up to [`WALK_INDEX_PAGE`], so that a filter few
/// wallets match costs about as many Queries as reading the whole index, not 20 times more.
const FILTERED_INDEX_PAGE: usize = 100;
/// Index items read per Query when the whole index is read (an order other than creation):
/// about 400 KB, so that each call stays well inside the client's per-attempt timeout.
const WALK_INDEX_PAGE: usize = 2_000;

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
    #[error(transparent)]
    Rejected(Rejection),
    #[error("already resolved: {0}")]
    AlreadyResolved(MovementStatus),
    #[error("the expire time has passed")]
    ExpireInPast,
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

impl From<MoveError> for WalletError {
    fn from(error: MoveError) -> Self {
        match error {
            MoveError::NotFound => WalletError::NotFound("wallet"),
            MoveError::Busy => WalletError::Busy,
            MoveError::Rejected(rejection) => WalletError::Rejected(rejection),
            MoveError::Refused(error) => error,
            MoveError::KeyReused => WalletError::KeyReused,
            MoveError::ExtraRefused => WalletError::Failed(Fault::Inconsistent("a movement record refused its write")),
            MoveError::LockedShort => WalletError::Failed(Fault::Inconsistent("a locked pocket would go below zero")),
            MoveError::Fault(fault) => WalletError::Failed(fault),
        }
    }
}

pub struct NewWallet {
    pub name: WalletName,
    pub description: Option<Description>,
    pub foreign_data: Option<ForeignData>,
    pub foreign_id: Option<ForeignId>,
    pub balance_type: BalanceType,
}

pub struct NewMovement {
    pub kind: MovementKind,
    /// A wallet id or foreign id; `None`: the main wallet.
    pub source: Option<String>,
    pub destination: Option<String>,
    pub amount: Amount,
    pub foreign_id: Option<Reference>,
    pub expire: Option<Expire>,
}

pub struct WalletListRequest {
    pub filter: Option<Filter>,
    pub sort: SortBy,
    pub limit: usize,
    pub page: Option<String>,
}

pub struct WalletList {
    pub wallets: Vec<Wallet>,
    pub next_page: Option<String>,
}

fn fingerprint(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("\n").as_bytes()))
}

/// A new, empty wallet: a balance with a minimum of zero, and the wallet's attributes.
pub fn new_wallet(
    project: &ProjectId,
    id: BalanceId,
    info: WalletInfo,
    balance_type: BalanceType,
    now: Millis,
) -> Wallet {
    let new = NewBalance {
        project_id: project.clone(),
        id,
        balance_type,
        name: info.balance_name(),
        min_limit: MinLimit::ZERO,
    };
    Wallet { balance: Balance::open(new, now, UpdateToken::new(Uuid::new_v4())), info }
}

/// A wallet named in a request: a UUID is an id, anything else a foreign id (which can never
/// be a UUID).
enum Named {
    Id(BalanceId),
    Foreign(ForeignId),
}

fn named(text: &str) -> Option<Named> {
    match BalanceId::parse(text) {
        Ok(id) => Some(Named::Id(id)),
        Err(_) => ForeignId::parse(text).ok().map(Named::Foreign),
    }
}

impl Ledger {
    fn idempotency_write(
        &self,
        idempotency: Option<&Idempotency>,
        body: String,
        now: Millis,
    ) -> Option<IdempotencyWrite> {
        idempotency.map(|idempotency| IdempotencyWrite {
            key: idempotency.key.clone(),
            fingerprint: idempotency.fingerprint.clone(),
            status: 201,
            body,
            now,
            expires_at: now.plus_seconds(IDEMPOTENCY_TTL_SECONDS),
        })
    }

    pub async fn create_wallet(
        &self,
        project: &ProjectId,
        key_id: Option<&str>,
        new: NewWallet,
        base_url: Option<&str>,
        key: Option<IdempotencyKey>,
    ) -> Result<Outcome<Wallet>, WalletError> {
        let now = self.clock.now();
        let text = |value: Option<&str>| value.unwrap_or("\u{0}").to_owned();
        let idempotency = key.map(|key| Idempotency {
            key,
            fingerprint: fingerprint(&[
                "create-wallet",
                new.name.as_str(),
                &text(new.description.as_ref().map(Description::as_str)),
                &text(new.foreign_data.as_ref().map(ForeignData::as_str)),
                &text(new.foreign_id.as_ref().map(ForeignId::as_str)),
                new.balance_type.as_str(),
            ]),
        });
        let info = WalletInfo {
            name: new.name,
            description: new.description,
            foreign_id: new.foreign_id,
            foreign_data: new.foreign_data,
            is_main: false,
            creator_key_id: key_id.map(str::to_owned),
        };
        let wallet = new_wallet(project, BalanceId::new(Uuid::new_v4()), info, new.balance_type, now);
        let body = api::to_json(&WalletResponse::new(&wallet, base_url));
        let record = self.idempotency_write(idempotency.as_ref(), body, now);
        match self.store.insert_wallet(&wallet, record.as_ref()).await {
            Ok(()) => Ok(Outcome::Done(wallet)),
            Err(InsertWalletError::ForeignIdTaken) => Err(WalletError::ForeignIdTaken),
            Err(InsertWalletError::IdempotencyTaken(record)) => {
                match self.stored(project, idempotency.as_ref(), record, now).await? {
                    Stored::Replay(record) => Ok(Outcome::Replayed(record)),
                    Stored::Reused => Err(WalletError::KeyReused),
                    // Expired between the refusal and the read: a retry will find the key free.
                    Stored::Nothing => Err(WalletError::Busy),
                }
            }
            Err(InsertWalletError::Exists) => Err(Fault::Inconsistent("a new wallet id is taken").into()),
            Err(InsertWalletError::Store(error)) => Err(error.into()),
        }
    }

    /// The id of the wallet `text` names, reading only for a foreign id.
    async fn wallet_id(&self, project: &ProjectId, text: &str) -> Result<BalanceId, WalletError> {
        match named(text) {
            Some(Named::Id(id)) => Ok(id),
            Some(Named::Foreign(foreign_id)) => {
                self.store.wallet_by_foreign_id(project, &foreign_id).await?.ok_or(WalletError::NotFound("wallet"))
            }
            None => Err(WalletError::NotFound("wallet")),
        }
    }

    pub async fn get_wallet(&self, project: &ProjectId, identifier: &str) -> Result<Wallet, WalletError> {
        let id = self.wallet_id(project, identifier).await?;
        let head = self.store.read_head(project, id).await?.ok_or(WalletError::NotFound("wallet"))?;
        let info = head.wallet.ok_or(WalletError::NotFound("wallet"))?;
        self.current(project, Wallet { info, balance: head.balance }).await.map_err(|due| match due {
            Due::NotFound => WalletError::NotFound("wallet"),
            Due::Busy => WalletError::Busy,
            Due::Fault(fault) => fault.into(),
        })
    }

    /// The wallet as it is now. A wallet is a balance, and a credit put on it through the
    /// balance API may have expired since its last write: that is written off first, as
    /// `GET /balances/{id}` does, so that no answer counts money that is gone. Costs a lock
    /// and a commit only when an expiry is due.
    async fn current(&self, project: &ProjectId, wallet: Wallet) -> Result<Wallet, Due> {
        if !wallet.balance.expiry_due(self.clock.now()) {
            return Ok(wallet);
        }
        let balance = self.write_due(project, wallet.balance.id).await?;
        Ok(Wallet { balance, ..wallet })
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
        let owner = new_owner();
        let head = self.lock(project, id, &owner, None).await.map_err(|error| match error {
            super::locking::LockError::Missing => WalletError::NotFound("wallet"),
            super::locking::LockError::Busy => WalletError::Busy,
            super::locking::LockError::Store(error) => error.into(),
        })?;
        let Some(info) = &head.wallet else {
            self.unlock(project, id, &owner).await;
            return Err(WalletError::NotFound("wallet"));
        };
        let mut wallet = Wallet { info: patch.applied_to(info), balance: head.balance };
        wallet.balance.name = wallet.info.balance_name();
        if let Err(error) = self.store.update_wallet(&owner, &wallet).await {
            self.unlock(project, id, &owner).await;
            return Err(error.into());
        }
        Ok(wallet)
    }

    // ---- the main wallet ----

    /// Remembers that the project's main wallet exists.
    pub(super) fn main_wallet_exists(&self, project: &ProjectId) {
        if let Ok(mut known) = self.main_wallets.lock() {
            known.insert(project.clone());
        }
    }

    /// Makes sure the project's main wallet exists, so that a listing shows it before any
    /// movement has needed it: one conditional create (a no-op when it exists) per project
    /// and process, nothing after that.
    async fn ensure_main_wallet(&self, project: &ProjectId, key_id: Option<&str>) -> Result<(), WalletError> {
        if self.main_wallets.lock().is_ok_and(|known| known.contains(project)) {
            return Ok(());
        }
        let main = BalanceId::new(main_wallet_uuid(project));
        let info = WalletInfo::main(key_id.map(str::to_owned));
        Ok(self.create_main_wallet(project, main, &info, self.clock.now()).await?)
    }

    // ---- listing ----

    /// A page of the project's wallets; the main wallet is always among them.
    pub async fn list_wallets(
        &self,
        project: &ProjectId,
        key_id: Option<&str>,
        request: &WalletListRequest,
    ) -> Result<WalletList, WalletError> {
        self.ensure_main_wallet(project, key_id).await?;
        let filter_text = request.filter.as_ref().map(ToString::to_string).unwrap_or_default();
        let sort_text = request.sort.to_string();
        let scope = [project.as_str(), "wallets", filter_text.as_str(), sort_text.as_str()];
        let cursor = match &request.page {
            Some(token) => {
                let payload = self.page_tokens.open(&scope, token).map_err(|_| WalletError::BadPage)?;
                let text = String::from_utf8(payload).map_err(|_| WalletError::BadPage)?;
                Some(request.sort.parse_cursor(&text).map_err(|_| WalletError::BadPage)?)
            }
            None => None,
        };
        let now_ms = self.clock.now().epoch_ms();
        let matches = |view: &WalletView| request.filter.as_ref().is_none_or(|f| f.matches(view, now_ms));
        let after = |view: &WalletView| cursor.as_ref().is_none_or(|c| request.sort.after(view, c));
        let wanted = request.limit + 1;

        let mut page: Vec<Wallet> = if let Some(ids) = request.filter.as_ref().and_then(Filter::ids) {
            // The filter names its wallets: read just those.
            let ids: Vec<BalanceId> = ids.iter().filter_map(|id| BalanceId::parse(id).ok()).collect();
            let mut wallets = self.wallets(project, &ids).await?;
            wallets.retain(|w| matches(&w.view()) && after(&w.view()));
            wallets.sort_by(|a, b| request.sort.compare(&a.view(), &b.view()));
            wallets.truncate(wanted);
            wallets
        } else if let Some(direction) = request.sort.created_time_direction() {
            self.list_by_created_time(project, request, direction, cursor.as_ref(), &matches, now_ms).await?
        } else {
            // Any other order: every candidate, sorted in memory.
            let (from_ms, to_ms) = request.filter.as_ref().map_or((None, None), |f| f.created_time_range(now_ms));
            let range = IndexRange { descending: false, from_ms, to_ms, after: None };
            let pockets = request.filter.as_ref().is_some_and(Filter::reads_pockets) || request.sort.reads_pockets();
            let mut indexed = Vec::new();
            let mut position = range;
            loop {
                let (items, next) = self.store.wallet_index_page(project, position, Some(WALK_INDEX_PAGE)).await?;
                indexed.extend(items);
                match next {
                    Some(next) => position.after = Some(next),
                    None => break,
                }
            }
            let mut candidates: Vec<(WalletView, BalanceId, Option<Wallet>)> = if pockets {
                let ids: Vec<BalanceId> = indexed.iter().map(|w| w.id).collect();
                self.wallets(project, &ids).await?.into_iter().map(|w| (w.view(), w.balance.id, Some(w))).collect()
            } else {
                indexed.iter().map(|w| (w.info.view(project, w.id, w.created_at), w.id, None)).collect()
            };
            candidates.retain(|(view, _, _)| matches(view) && after(view));
            candidates.sort_by(|a, b| request.sort.compare(&a.0, &b.0));
            candidates.truncate(wanted);
            self.complete(project, candidates.into_iter().map(|(_, id, wallet)| (id, wallet)).collect()).await?
        };
        let next_page = if page.len() > request.limit {
            page.truncate(request.limit);
            page.last()
                .map(|last| self.page_tokens.seal(&scope, request.sort.cursor(&last.view()).to_string().as_bytes()))
        } else {
            None
        };
        Ok(WalletList { wallets: page, next_page })
    }

    /// Walks the wallet index in creation order from the cursor until a page (plus one, to
    /// know whether more follow) matches the filter; reads heads only for what it returns,
    /// unless the filter reads the pockets.
    async fn list_by_created_time(
        &self,
        project: &ProjectId,
        request: &WalletListRequest,
        direction: Direction,
        cursor: Option<&crate::domain::wallet_query::sort::SortCursor>,
        matches: &(dyn Fn(&WalletView) -> bool + Sync),
        now_ms: i64,
    ) -> Result<Vec<Wallet>, WalletError> {
        let wanted = request.limit + 1;
        let (from_ms, to_ms) = request.filter.as_ref().map_or((None, None), |f| f.created_time_range(now_ms));
        let after = match cursor.and_then(|c| request.sort.created_position(c)) {
            Some((ms, id)) => Some((ms, BalanceId::parse(id).map_err(|_| WalletError::BadPage)?)),
            None if cursor.is_some() => return Err(WalletError::BadPage),
            None => None,
        };
        let mut range = IndexRange { descending: direction == Direction::Desc, from_ms, to_ms, after };
        let pockets = request.filter.as_ref().is_some_and(Filter::reads_pockets);
        let mut query_limit = if request.filter.is_some() { FILTERED_INDEX_PAGE.max(wanted) } else { wanted };
        let mut found: Vec<(BalanceId, Option<Wallet>)> = Vec::new();
        while found.len() < wanted {
            let (items, next) = self.store.wallet_index_page(project, range, Some(query_limit)).await?;
            if pockets {
                let ids: Vec<BalanceId> = items.iter().map(|w| w.id).collect();
                let mut by_id: HashMap<BalanceId, Wallet> =
                    self.wallets(project, &ids).await?.into_iter().map(|w| (w.balance.id, w)).collect();
                for id in ids {
                    if let Some(wallet) = by_id.remove(&id).filter(|w| matches(&w.view())) {
                        found.push((id, Some(wallet)));
                    }
                }
            } else {
                found.extend(
                    items
                        .iter()
                        .filter(|w: &&IndexedWallet| matches(&w.info.view(project, w.id, w.created_at)))
                        .map(|w| (w.id, None)),
                );
            }
            match next {
                Some(next) => range.after = Some(next),
                None => break,
            }
            query_limit = (query_limit * 2).min(WALK_INDEX_PAGE).max(query_limit);
        }
        found.truncate(wanted);
        self.complete(project, found).await
    }

    /// The wallets, in the given order, reading the heads of those not read yet.
    async fn complete(
        &self,
        project: &ProjectId,
        found: Vec<(BalanceId, Option<Wallet>)>,
    ) -> Result<Vec<Wallet>, WalletError> {
        let missing: Vec<BalanceId> = found.iter().filter(|(_, w)| w.is_none()).map(|(id, _)| *id).collect();
        let mut read: HashMap<BalanceId, Wallet> =
            self.wallets(project, &missing).await?.into_iter().map(|w| (w.balance.id, w)).collect();
        Ok(found.into_iter().filter_map(|(id, wallet)| wallet.or_else(|| read.remove(&id))).collect())
    }

    /// The wallets among these ids (plain balances and unknown ids left out).
    async fn wallets(&self, project: &ProjectId, ids: &[BalanceId]) -> Result<Vec<Wallet>, WalletError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let heads = self.store.read_heads(project, ids).await?;
        let mut wallets = Vec::with_capacity(heads.len());
        let now = self.clock.now();
        for mut wallet in
            heads.into_iter().filter_map(|head| Some(Wallet { info: head.wallet?, balance: head.balance }))
        {
            if wallet.balance.expiry_due(now) {
                match self.write_due(project, wallet.balance.id).await {
                    Ok(balance) => wallet.balance = balance,
                    // Its lock holder writes the expiry with its own change; a listing does
                    // not wait for it.
                    Err(Due::Busy) => {}
                    Err(Due::NotFound) => continue,
                    Err(Due::Fault(fault)) => return Err(fault.into()),
                }
            }
            wallets.push(wallet);
        }
        Ok(wallets)
    }

    // ---- movements ----

    pub async fn create_movement(
        &self,
        project: &ProjectId,
        key_id: Option<&str>,
        new: NewMovement,
        key: Option<IdempotencyKey>,
    ) -> Result<Outcome<Movement>, WalletError> {
        let now = self.clock.now();
        let main = BalanceId::new(main_wallet_uuid(project));
        let destination = match &new.destination {
            Some(text) => self.wallet_id(project, text).await?,
            None => main,
        };
        let source = match (new.kind, &new.source) {
            (MovementKind::Deposit, _) => None,
            (_, Some(text)) => Some(self.wallet_id(project, text).await?),
            (_, None) => Some(main),
        };
        if source == Some(destination) {
            return Err(WalletError::SameWallet);
        }
        let pending = matches!(new.kind, MovementKind::QuasiTransfer | MovementKind::FundRequest);
        let expires_at = new.expire.filter(|_| pending).map(|expire| expire.at(now));
        if expires_at.is_some_and(|at| at <= now) {
            return Err(WalletError::ExpireInPast);
        }
        let idempotency = key.map(|key| Idempotency {
            key,
            fingerprint: fingerprint(&[
                "movement",
                new.kind.as_str(),
                new.source.as_deref().unwrap_or("\u{0}"),
                new.destination.as_deref().unwrap_or("\u{0}"),
                &new.amount.value().to_string(),
                new.foreign_id.as_ref().map_or("\u{0}", Reference::as_str),
                &new.expire.map(|e| e.to_string()).unwrap_or_default(),
            ]),
        });
        let movement = Movement {
            id: Uuid::new_v4(),
            kind: new.kind,
            source,
            destination,
            amount: new.amount,
            balance_type: BalanceType::xof(),
            foreign_id: new.foreign_id,
            status: if pending { MovementStatus::Processing } else { MovementStatus::Successful },
            expires_at,
            created_at: now,
            updated_at: now,
        };
        let legs = movement.legs(movements::Step::Create);
        // A fund request moves nothing yet; the step still locks (and checks) both wallets,
        // and rewrites nothing on them.
        let legs = if legs.is_empty() {
            [source, Some(destination)]
                .into_iter()
                .flatten()
                .map(|wallet| movements::Leg {
                    wallet,
                    operation: None,
                    locked_in: Default::default(),
                    locked_out: Default::default(),
                })
                .collect()
        } else {
            legs
        };
        let step = Step {
            project,
            legs,
            session: movement.id.to_string(),
            now,
            main: Some((main, WalletInfo::main(key_id.map(str::to_owned)))),
        };
        let created = Mutex::new(None);
        let prepare = |wallets: &[Wallet]| -> Result<Prepared, MoveError> {
            let balance_type = &wallets.first().ok_or(MoveError::NotFound)?.balance.balance_type;
            if wallets.iter().any(|w| &w.balance.balance_type != balance_type) {
                return Err(MoveError::Refused(WalletError::TypeMismatch));
            }
            let movement = Movement { balance_type: balance_type.clone(), ..movement.clone() };
            let fault = |e: StoreError| MoveError::Fault(e.into());
            let mut extras = vec![self.store.movement_put(project, &movement).map_err(fault)?];
            extras.extend(self.store.expiry_put(project, &movement).map_err(fault)?);
            let body = api::to_json(&MovementResponse::new(&movement));
            let idempotency = self.idempotency_write(idempotency.as_ref(), body, now);
            if let Ok(mut created) = created.lock() {
                *created = Some(movement);
            }
            Ok(Prepared { extras, idempotency })
        };
        match self.move_money(&step, idempotency.as_ref(), &prepare).await? {
            Moved::Replayed(record) => Ok(Outcome::Replayed(record)),
            Moved::Done => {
                let created = created.into_inner().ok().flatten();
                created.map(Outcome::Done).ok_or_else(|| Fault::Inconsistent("a movement without its record").into())
            }
        }
    }

    /// Receives / sends (`Complete`) or cancels a quasi-transfer or fund request. One that is
    /// past its expiry is expired first, whoever asks.
    pub async fn resolve_movement(
        &self,
        project: &ProjectId,
        kind: MovementKind,
        id: Uuid,
        resolution: Resolution,
    ) -> Result<Movement, WalletError> {
        let now = self.clock.now();
        let what = match kind {
            MovementKind::FundRequest => "fund request",
            _ => "quasi-transfer",
        };
        let read = || async {
            match self.store.read_movement(project, id).await? {
                Some(movement) if movement.kind == kind => Ok(movement),
                _ => Err(WalletError::NotFound(what)),
            }
        };
        let mut movement = read().await?;
        if movement.expired(now) {
            self.finish(
                project,
                &movement,
                movements::Step::Cancel,
                MovementStatus::Failure(FailureReason::Expired),
                now,
            )
            .await?;
            movement = read().await?;
        }
        if movement.status == MovementStatus::Processing {
            let (step, to) = match resolution {
                Resolution::Complete => (movements::Step::Complete, MovementStatus::Successful),
                Resolution::Cancel => (movements::Step::Cancel, resolution.status()),
            };
            if self.finish(project, &movement, step, to, now).await? {
                return Ok(Movement { status: to, updated_at: now, ..movement });
            }
            // Someone else resolved it between our read and our write.
            movement = read().await?;
            if movement.status == MovementStatus::Processing {
                return Err(Fault::Inconsistent("a pending movement's locked money is gone").into());
            }
        }
        if movement.status == resolution.status() {
            Ok(movement)
        } else {
            Err(WalletError::AlreadyResolved(movement.status))
        }
    }

    /// Moves a pending movement to `to`, with its money; `false` when it was no longer pending.
    async fn finish(
        &self,
        project: &ProjectId,
        movement: &Movement,
        step: movements::Step,
        to: MovementStatus,
        now: Millis,
    ) -> Result<bool, WalletError> {
        let legs = movement.legs(step);
        if legs.is_empty() {
            return Ok(self.store.resolve_movement(project, movement, to, now).await?);
        }
        let step = Step { project, legs, session: movement.id.to_string(), now, main: None };
        let prepare = |_: &[Wallet]| -> Result<Prepared, MoveError> {
            let extras =
                self.store.movement_resolution(project, movement, to, now).map_err(|e| MoveError::Fault(e.into()))?;
            Ok(Prepared { extras, idempotency: None })
        };
        match self.move_money(&step, None, &prepare).await {
            Ok(_) => Ok(true),
            // Resolved meanwhile: its record's condition failed, or a racing resolution already
            // released the locked money this one was about to release.
            Err(MoveError::ExtraRefused | MoveError::LockedShort) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Expires pending movements whose time has come (the scheduled sweeper): up to `limit`
    /// per schedule shard, one after another while `in_time()` says there is time for one
    /// more. Touching one expires it too, so this only makes sure that locked money comes back
    /// even when nobody asks.
    pub async fn expire_due(&self, limit: usize, in_time: &(dyn Fn() -> bool + Sync)) -> Result<Swept, WalletError> {
        let now = self.clock.now();
        let (due, more) = self.store.due_expiries(now, limit).await?;
        let mut swept = Swept { more, ..Swept::default() };
        for DueExpiry { project, id, at } in due {
            if !in_time() {
                // The rest stay scheduled for the next run.
                swept.more = true;
                break;
            }
            let expired = MovementStatus::Failure(FailureReason::Expired);
            match self.store.read_movement(&project, id).await? {
                Some(movement) if movement.expired(now) => {
                    match self.finish(&project, &movement, movements::Step::Cancel, expired, now).await {
                        Ok(true) => swept.expired += 1,
                        Ok(false) => swept.resolved_meanwhile += 1,
                        // Someone holds a wallet: the next run tries again.
                        Err(WalletError::Busy) => swept.busy += 1,
                        Err(error) => return Err(error),
                    }
                }
                Some(movement) if movement.status != MovementStatus::Processing => {
                    self.store.forget_expiry(&project, id, at).await?;
                    swept.resolved_meanwhile += 1;
                }
                // Its time has not come by this clock after all.
                Some(_) => {}
                None => self.store.forget_expiry(&project, id, at).await?,
            }
        }
        Ok(swept)
    }
}

/// What one run of the expiry sweeper did.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Swept {
    pub expired: usize,
    /// Resolved by someone else first; only the schedule entry was left.
    pub resolved_meanwhile: usize,
    pub busy: usize,
    /// More were due than one run takes.
    pub more: bool,
}
