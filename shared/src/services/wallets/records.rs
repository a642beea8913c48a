//! Reading and annotating what movements leave behind: the movements themselves by id or
//! foreign id, in lists per kind; their attempts; their transactions (one per wallet side of
//! each step), each with its wallet. Lists walk their list partition in creation order, a
//! page per Query, with the same sealed page positions as the wallet listing.

use super::{WalletError, Wallets};
use crate::domain::movements::{movement_id, Movement, MovementKind, NotesPatch, Reference};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::page_token::{PageLinks, PagePosition, Reading};
use crate::domain::transactions::{Attempt, Transaction, TransactionId};
use crate::domain::wallets::Wallet;
use crate::store::{ListPage, ListRange};
use std::collections::HashMap;
use std::future::Future;
use uuid::Uuid;

/// `GET /v1.0/<movements>` and `GET /v1.0/transactions` after parsing.
#[derive(Debug, Clone)]
pub struct RecordListRequest {
    pub limit: usize,
    pub page: Option<String>,
    /// `createdTime:DESC`: newest first.
    pub descending: bool,
}

/// A transaction, its wallet as it is now, and its movement.
#[derive(Debug, Clone)]
pub struct TransactionRecord {
    pub transaction: Transaction,
    pub wallet: Wallet,
    pub parent: Movement,
}

/// A page of a list, and the pages around it.
#[derive(Debug, Clone)]
pub struct RecordList<T> {
    pub items: Vec<T>,
    pub pages: PageLinks,
}

impl Wallets {
    /// A movement of `kind` by its id (one read) or its foreign id (two), refusing a foreign
    /// id that several share.
    pub async fn get_movement(
        &self,
        project: &ProjectId,
        kind: MovementKind,
        identifier: &str,
    ) -> Result<Movement, WalletError> {
        let store = self.engine.store();
        let not_found = || WalletError::NotFound(kind.what());
        let id = match movement_id(identifier) {
            Some(id) => id,
            None => {
                let reference = Reference::parse(identifier).map_err(|_| not_found())?;
                let page = store.movement_list_page(project, kind, Some(&reference), &ListRange::default(), 1).await?;
                match (page.items.as_slice(), page.more) {
                    ([(_, id)], false) => *id,
                    ([], _) => return Err(not_found()),
                    _ => return Err(WalletError::AmbiguousReference),
                }
            }
        };
        store.read_movement(project, id).await?.filter(|movement| movement.kind == kind).ok_or_else(not_found)
    }

    /// A page of the project's movements of `kind`: one Query and one BatchGetItem.
    pub async fn list_movements(
        &self,
        project: &ProjectId,
        kind: MovementKind,
        request: &RecordListRequest,
    ) -> Result<RecordList<Movement>, WalletError> {
        let scope = [project.as_str(), kind.as_str(), sort_text(request)];
        let store = self.engine.store();
        self.walk(&scope, request, |range, limit| async move {
            let page = store.movement_list_page(project, kind, None, &range, limit).await?;
            let ids: Vec<Uuid> = page.items.iter().map(|(_, id)| *id).collect();
            let mut read: HashMap<Uuid, Movement> =
                store.read_movements(project, &ids).await?.into_iter().map(|m| (m.id, m)).collect();
            let items = page.items.into_iter().filter_map(|(sk, id)| Some((sk, read.remove(&id)?))).collect();
            Ok(ListPage { items, more: page.more })
        })
        .await
    }

    /// Changes a movement's notes (h1, description, foreignData): nothing that moves money.
    pub async fn update_movement(
        &self,
        project: &ProjectId,
        kind: MovementKind,
        identifier: &str,
        patch: &NotesPatch,
    ) -> Result<Movement, WalletError> {
        let movement = self.get_movement(project, kind, identifier).await?;
        let now = self.engine.clock().now();
        self.engine
            .store()
            .update_movement_notes(project, movement.id, patch, now)
            .await?
            .ok_or(WalletError::NotFound(kind.what()))
    }

    /// The attempt an id names: derived from its movement (one read).
    pub async fn get_attempt(&self, project: &ProjectId, id: &str) -> Result<Attempt, WalletError> {
        let not_found = || WalletError::NotFound("attempt");
        let movement = Attempt::movement_of(id).ok_or_else(not_found)?;
        let movement = self.engine.store().read_movement(project, movement).await?.ok_or_else(not_found)?;
        Attempt::of(&movement).ok_or_else(not_found)
    }

    /// A transaction and its wallet as it is now: two reads.
    pub async fn get_transaction(&self, project: &ProjectId, id: &str) -> Result<TransactionRecord, WalletError> {
        let not_found = || WalletError::NotFound("transaction");
        let id = TransactionId::parse(id).ok_or_else(not_found)?;
        let transaction = self.engine.store().read_transaction(project, &id).await?.ok_or_else(not_found)?;
        self.with_wallets(project, vec![transaction]).await?.pop().ok_or_else(not_found)
    }

    /// A page of the project's transactions, in commit order, each with its wallet: one Query
    /// and one BatchGetItem.
    pub async fn list_transactions(
        &self,
        project: &ProjectId,
        request: &RecordListRequest,
    ) -> Result<RecordList<TransactionRecord>, WalletError> {
        let scope = [project.as_str(), "transactions", sort_text(request)];
        let store = self.engine.store();
        let page =
            self.walk(&scope, request, |range, limit| async move {
                Ok(store.transaction_page(project, &range, limit).await?)
            })
            .await?;
        let items = self.with_wallets(project, page.items).await?;
        Ok(RecordList { items, pages: page.pages })
    }

    /// Changes a transaction's notes.
    pub async fn update_transaction(
        &self,
        project: &ProjectId,
        id: &str,
        patch: &NotesPatch,
    ) -> Result<TransactionRecord, WalletError> {
        let not_found = || WalletError::NotFound("transaction");
        let id = TransactionId::parse(id).ok_or_else(not_found)?;
        let transaction =
            self.engine.store().update_transaction_notes(project, &id, patch).await?.ok_or_else(not_found)?;
        self.with_wallets(project, vec![transaction]).await?.pop().ok_or_else(not_found)
    }

    /// The transactions the movement's latest step wrote (its creation, or its resolution),
    /// each with its wallet: what its event tells besides the movement.
    pub async fn step_records(
        &self,
        project: &ProjectId,
        movement: &Movement,
    ) -> Result<Vec<TransactionRecord>, WalletError> {
        let transactions = self.engine.store().step_transactions(project, movement.id, movement.updated_at).await?;
        if transactions.is_empty() {
            return Ok(Vec::new());
        }
        let mut wallet_ids: Vec<BalanceId> = transactions.iter().map(|t| t.wallet).collect();
        wallet_ids.sort_unstable_by_key(|id| id.to_string());
        wallet_ids.dedup();
        let wallets: HashMap<BalanceId, Wallet> =
            self.wallets(project, &wallet_ids).await?.into_iter().map(|w| (w.balance.id, w)).collect();
        transactions
            .into_iter()
            .map(|transaction| {
                let wallet = wallets.get(&transaction.wallet).cloned().ok_or(WalletError::NotFound("wallet"))?;
                Ok(TransactionRecord { transaction, wallet, parent: movement.clone() })
            })
            .collect()
    }

    /// Each transaction with its wallet and its movement (neither is ever deleted): the two
    /// batch reads side by side.
    async fn with_wallets(
        &self,
        project: &ProjectId,
        transactions: Vec<Transaction>,
    ) -> Result<Vec<TransactionRecord>, WalletError> {
        let mut wallet_ids: Vec<BalanceId> = transactions.iter().map(|t| t.wallet).collect();
        wallet_ids.sort_unstable_by_key(|id| id.to_string());
        wallet_ids.dedup();
        let mut movement_ids: Vec<Uuid> = transactions.iter().map(|t| t.id.movement).collect();
        movement_ids.sort_unstable();
        movement_ids.dedup();
        let (wallets, movements) = futures_util::try_join!(self.wallets(project, &wallet_ids), async {
            Ok(self.engine.store().read_movements(project, &movement_ids).await?)
        })?;
        let wallets: HashMap<BalanceId, Wallet> = wallets.into_iter().map(|w| (w.balance.id, w)).collect();
        let movements: HashMap<Uuid, Movement> = movements.into_iter().map(|m| (m.id, m)).collect();
        transactions
            .into_iter()
            .map(|transaction| {
                let wallet = wallets.get(&transaction.wallet).cloned().ok_or(WalletError::NotFound("wallet"))?;
                let parent =
                    movements.get(&transaction.id.movement).cloned().ok_or(WalletError::NotFound("movement"))?;
                Ok(TransactionRecord { transaction, wallet, parent })
            })
            .collect()
    }

    /// One page of a walk over a list partition: opens the page token, reads the page in its
    /// direction (`read` takes where to start and how many), and links the pages around it.
    async fn walk<T, F, Fut>(
        &self,
        scope: &[&str],
        request: &RecordListRequest,
        read: F,
    ) -> Result<RecordList<T>, WalletError>
    where
        F: Fn(ListRange, usize) -> Fut,
        Fut: Future<Output = Result<ListPage<T>, WalletError>>,
    {
        let now = self.engine.clock().now();
        let mut position = PagePosition::resume(&self.page_tokens, scope, request.page.as_deref(), now)
            .map_err(|_| WalletError::BadPage)?;
        let range = |position: &PagePosition| match position.reading() {
            Reading::First => ListRange { descending: request.descending, after: None },
            Reading::After(cursor) => ListRange { descending: request.descending, after: Some(cursor.clone()) },
            Reading::Before(cursor) => ListRange { descending: !request.descending, after: Some(cursor.clone()) },
        };
        let mut page = read(range(&position), request.limit).await?;
        if position.is_backward() && page.items.is_empty() {
            // Nothing before the page it was asked from any more: that page is the beginning.
            position = position.restart();
            page = read(range(&position), request.limit).await?;
        }
        if position.is_backward() {
            page.items.reverse();
        }
        let ends = page.items.first().map(|(sk, _)| sk.as_str()).zip(page.items.last().map(|(sk, _)| sk.as_str()));
        let pages = position.links(&self.page_tokens, scope, ends, page.more);
        Ok(RecordList { items: page.items.into_iter().map(|(_, item)| item).collect(), pages })
    }
}

fn sort_text(request: &RecordListRequest) -> &'static str {
    if request.descending {
        "createdTime:DESC"
    } else {
        "createdTime:ASC"
    }
}
