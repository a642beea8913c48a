//! Listing a project's wallets with a filter, a sort and pages: creation order walks the
//! wallet index a page at a time; any other order walks the sort index of its first key (see
//! `store::wallet_sort_index`) a page at a time, in whole tie groups when later keys order them.

use super::{WalletError, Wallets};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::page_token::{PageLinks, PagePosition, Reading};
use crate::domain::wallet_query::filter::Filter;
use crate::domain::wallet_query::sort::{Direction, IndexWalk, SortBy, SortCursor};
use crate::domain::wallet_query::WalletView;
use crate::domain::wallets::Wallet;
use crate::engine::EngineError;
use crate::store::wallet_sort_index::{SortedEntry, WalkStart};
use crate::store::{IndexRange, IndexedWallet};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Index items read by the first Query while looking for a page that a filter thins out;
/// each further Query reads twice as many, up to [`WALK_INDEX_PAGE`], so that a filter few
/// wallets match costs about as many Queries as reading the whole index, not 20 times more.
const FILTERED_INDEX_PAGE: usize = 100;
/// The most index items one Query of a walk reads: about 400 KB of wallet index items, so
/// that each call stays well inside the client's per-attempt timeout.
const WALK_INDEX_PAGE: usize = 2_000;

/// How a page is read from a sort index: the walk, its direction for this page (backwards for
/// a previous page), the cursor and the tests a wallet passes to be on the page.
struct IndexRead<'a> {
    walk: IndexWalk,
    direction: Direction,
    cursor: Option<&'a SortCursor>,
    matches: &'a (dyn Fn(&WalletView) -> bool + Sync),
    beyond: &'a (dyn Fn(&WalletView) -> bool + Sync),
}

/// `GET /v1.0/wallets` after parsing.
pub struct WalletListRequest {
    pub filter: Option<Filter>,
    pub sort: SortBy,
    pub limit: usize,
    pub page: Option<String>,
    /// Whether the caller may write: only then does a listing create the project's main
    /// wallet when it does not exist yet (a read never writes).
    pub may_write: bool,
}

/// A page of wallets, and the pages around it (FPay's collection: index, previous, next).
pub struct WalletList {
    pub wallets: Vec<Wallet>,
    pub pages: PageLinks,
}

impl Wallets {
    /// A page of the project's wallets; the main wallet is always among them once it exists,
    /// and a caller that may write creates it first.
    ///
    /// A page token seals a [`PagePosition`]: the page's index and the walk's start time, and
    /// where it reads from (the start; after a cursor: a next page; before one: a previous
    /// page, read backwards from the first wallet of the page it precedes). The tag binds it to
    /// the project, the filter and the sort; the limit may change from page to page.
    pub async fn list_wallets(
        &self,
        project: &ProjectId,
        key_id: Option<&str>,
        request: &WalletListRequest,
    ) -> Result<WalletList, WalletError> {
        if request.may_write {
            self.ensure_main_wallet(project, key_id).await?;
        }
        let filter_text = request.filter.as_ref().map(ToString::to_string).unwrap_or_default();
        let sort_text = request.sort.to_string();
        let scope = [project.as_str(), "wallets", filter_text.as_str(), sort_text.as_str()];
        let now = self.engine.clock().now();
        let mut position = PagePosition::resume(&self.page_tokens, &scope, request.page.as_deref(), now)
            .map_err(|_| WalletError::BadPage)?;
        let (mut page, mut more) = self.read_page(project, request, &position, now.epoch_ms()).await?;
        if position.is_backward() && page.is_empty() {
            // Nothing before the page it was asked from any more (the listing changed under
            // the walk): that page is the beginning, and the first page is the one before it.
            position = position.restart();
            (page, more) = self.read_page(project, request, &position, now.epoch_ms()).await?;
        }
        let cursor = |wallet: &Wallet| request.sort.cursor(&wallet.view()).to_string();
        let ends = page.first().map(cursor).zip(page.last().map(cursor));
        let ends = ends.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
        let pages = position.links(&self.page_tokens, &scope, ends, more);
        Ok(WalletList { wallets: page, pages })
    }

    /// The wallets of the page at `position`, in the listing's order, and whether more lie
    /// beyond it in its reading direction: after it when read forwards, before it when read
    /// backwards (a previous page: the `limit` wallets nearest before the cursor).
    async fn read_page(
        &self,
        project: &ProjectId,
        request: &WalletListRequest,
        position: &PagePosition,
        now_ms: i64,
    ) -> Result<(Vec<Wallet>, bool), WalletError> {
        let sort = &request.sort;
        let parse = |text: &str| sort.parse_cursor(text).map_err(|_| WalletError::BadPage);
        let cursor = match position.reading() {
            Reading::First => None,
            Reading::After(text) | Reading::Before(text) => Some(parse(text)?),
        };
        let backward = position.is_backward();
        let matches = |view: &WalletView| request.filter.as_ref().is_none_or(|f| f.matches(view, now_ms));
        // Past the cursor in the reading direction (the cursor's own wallet is neither).
        let beyond = |view: &WalletView| {
            cursor.as_ref().is_none_or(|c| match backward {
                false => sort.after(view, c),
                true => !sort.after(view, c) && sort.cursor(view) != *c,
            })
        };
        // In the reading direction: a backward page is read nearest first, and turned round.
        let order = |a: &WalletView, b: &WalletView| match backward {
            false => sort.compare(a, b),
            true => sort.compare(b, a),
        };
        let wanted = request.limit + 1;

        let mut page: Vec<Wallet> = if let Some(ids) = request.filter.as_ref().and_then(Filter::ids) {
            // The filter names its wallets: read just those.
            let ids: Vec<BalanceId> = ids.iter().filter_map(|id| BalanceId::parse(id).ok()).collect();
            let mut wallets = self.wallets(project, &ids).await?;
            wallets.retain(|w| matches(&w.view()) && beyond(&w.view()));
            wallets.sort_by(|a, b| order(&a.view(), &b.view()));
            wallets.truncate(wanted);
            wallets
        } else if let Some(direction) = sort.created_time_direction() {
            let direction = match (backward, direction) {
                (false, direction) => direction,
                (true, Direction::Asc) => Direction::Desc,
                (true, Direction::Desc) => Direction::Asc,
            };
            self.list_by_created_time(project, request, direction, cursor.as_ref(), &matches, now_ms).await?
        } else {
            let walk = sort.index_walk();
            let direction = match (backward, walk.direction) {
                (false, direction) => direction,
                (true, Direction::Asc) => Direction::Desc,
                (true, Direction::Desc) => Direction::Asc,
            };
            let read = IndexRead { walk, direction, cursor: cursor.as_ref(), matches: &matches, beyond: &beyond };
            self.list_by_index(project, request, read, &order, now_ms).await?
        };
        let more = page.len() > request.limit;
        page.truncate(request.limit);
        if backward {
            page.reverse();
        }
        Ok((page, more))
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

    /// Walks the sort index of the order's first key (see [`IndexWalk`]) from the cursor until
    /// a page (plus one) matches the filter, in whole tie groups where the index does not give
    /// the whole order: the wallets that share the first key's value are ordered by the keys
    /// that follow, so a page ends only past the group of its last wallet.
    ///
    /// Reads the heads of every wallet the walk passes (the sort indexes hold keys only), one
    /// BatchGetItem per 100; a walk of the wallet index (creation-time orders) only when the
    /// filter or the order reads the pockets. Without a filter, a one-key order reads its page
    /// and one more: one Query and one BatchGetItem. A filter few wallets match, or a large tie
    /// group, reads more, with Queries growing as in [`Self::list_by_created_time`].
    async fn list_by_index(
        &self,
        project: &ProjectId,
        request: &WalletListRequest,
        read: IndexRead<'_>,
        order: &(dyn Fn(&WalletView, &WalletView) -> Ordering + Sync),
        now_ms: i64,
    ) -> Result<Vec<Wallet>, WalletError> {
        let IndexRead { walk, direction, cursor, matches, beyond } = read;
        let wanted = request.limit + 1;
        let start = match cursor {
            None => WalkStart::Beginning,
            Some(cursor) => {
                let (value, id) = request.sort.walk_position(cursor).ok_or(WalletError::BadPage)?;
                match walk.exact {
                    true => WalkStart::After(value, BalanceId::parse(&id).map_err(|_| WalletError::BadPage)?),
                    // The cursor's tie group is ordered by the keys that follow: read it whole.
                    false => WalkStart::Group(value),
                }
            }
        };
        let created_range = request.filter.as_ref().map_or((None, None), |f| f.created_time_range(now_ms));
        let store = self.engine.store();
        let mut index = store
            .sort_walk(project, walk.field, direction == Direction::Desc, start, created_range)
            .ok_or(WalletError::BadPage)?;
        let pockets = request.filter.as_ref().is_some_and(Filter::reads_pockets) || request.sort.reads_pockets();
        let mut query_limit =
            if request.filter.is_some() || !walk.exact { FILTERED_INDEX_PAGE.max(wanted) } else { wanted };
        // What matched, with its tie group (`None`: a group of its own).
        let mut found: Vec<(WalletView, BalanceId, Option<Wallet>, Option<String>)> = Vec::new();
        loop {
            let entries = store.sort_walk_page(&mut index, query_limit).await?;
            let group_of = |entry: &SortedEntry| (!walk.exact || entry.coarse).then(|| entry.group.clone());
            let last_group = entries.last().map(group_of);
            let heads_needed = pockets || entries.iter().any(|entry| entry.indexed.is_none());
            let mut heads: HashMap<BalanceId, Wallet> = match heads_needed {
                true => {
                    let ids: Vec<BalanceId> = entries.iter().map(|entry| entry.id).collect();
                    self.wallets(project, &ids).await?.into_iter().map(|w| (w.balance.id, w)).collect()
                }
                false => HashMap::new(),
            };
            for entry in &entries {
                let (view, wallet) = match (heads.remove(&entry.id), &entry.indexed) {
                    (Some(wallet), _) => (wallet.view(), Some(wallet)),
                    (None, Some(indexed)) if !heads_needed => {
                        (indexed.info.view(project, indexed.id, indexed.created_at), None)
                    }
                    // Gone since the index listed it, or a plain balance.
                    (None, _) => continue,
                };
                if matches(&view) && beyond(&view) {
                    found.push((view, entry.id, wallet, group_of(entry)));
                }
            }
            if index.done() {
                break;
            }
            // Every group but the last one read is whole; so is the last, if it is the wallet's own.
            let whole = match last_group {
                Some(Some(last)) => found.iter().filter(|f| f.3.as_ref() != Some(&last)).count(),
                _ => found.len(),
            };
            if whole >= wanted {
                break;
            }
            query_limit = (query_limit * 2).min(WALK_INDEX_PAGE).max(query_limit);
        }
        found.sort_by(|a, b| order(&a.0, &b.0));
        found.truncate(wanted);
        self.complete(project, found.into_iter().map(|(_, id, wallet, _)| (id, wallet)).collect()).await
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
    pub(super) async fn wallets(&self, project: &ProjectId, ids: &[BalanceId]) -> Result<Vec<Wallet>, WalletError> {
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
