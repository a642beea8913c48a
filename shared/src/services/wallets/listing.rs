//! Listing a project's wallets with a filter, a sort and pages: creation order walks the
//! wallet index a page at a time; any other order reads the index whole and sorts in memory.

use super::{WalletError, Wallets};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::wallet_query::filter::Filter;
use crate::domain::wallet_query::sort::{Direction, SortBy, SortCursor};
use crate::domain::wallet_query::WalletView;
use crate::domain::wallets::Wallet;
use crate::engine::EngineError;
use crate::store::{IndexRange, IndexedWallet};
use std::collections::HashMap;

/// Index items read by the first Query while looking for a page that a filter thins out;
/// each further Query reads twice as many, up to [`WALK_INDEX_PAGE`], so that a filter few
/// wallets match costs about as many Queries as reading the whole index, not 20 times more.
const FILTERED_INDEX_PAGE: usize = 100;
/// Index items read per Query when the whole index is read (an order other than creation):
/// about 400 KB, so that each call stays well inside the client's per-attempt timeout.
const WALK_INDEX_PAGE: usize = 2_000;

/// `GET /wallets` after parsing.
pub struct WalletListRequest {
    pub filter: Option<Filter>,
    pub sort: SortBy,
    pub limit: usize,
    pub page: Option<String>,
}

/// A page of wallets, and the token of the next page.
pub struct WalletList {
    pub wallets: Vec<Wallet>,
    pub next_page: Option<String>,
}

impl Wallets {
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
        let now_ms = self.engine.clock().now().epoch_ms();
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
                let (items, next) =
                    self.engine.store().wallet_index_page(project, position, Some(WALK_INDEX_PAGE)).await?;
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
        cursor: Option<&SortCursor>,
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
            let (items, next) = self.engine.store().wallet_index_page(project, range, Some(query_limit)).await?;
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
        let heads = self.engine.store().read_heads(project, ids).await?;
        let mut wallets = Vec::with_capacity(heads.len());
        let now = self.engine.clock().now();
        for mut wallet in
            heads.into_iter().filter_map(|head| Some(Wallet { info: head.wallet?, balance: head.balance }))
        {
            if wallet.balance.expiry_due(now) {
                match self.engine.maintain(project, wallet.balance.id).await {
                    Ok(balance) => wallet.balance = balance,
                    // Its lock holder writes the expiry with its own change; a listing does
                    // not wait for it.
                    Err(EngineError::Busy) => {}
                    Err(EngineError::NotFound) => continue,
                    Err(error) => return Err(error.into()),
                }
            }
            wallets.push(wallet);
        }
        Ok(wallets)
    }
}
