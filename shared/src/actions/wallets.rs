//! The wallet actions (FPay's wallets): create, get, list, update.

use super::patch::Patch;
use super::{parsed, DEFAULT_LIMIT, MAX_LIMIT};
use crate::api;
use crate::api::collection::Listing;
use crate::api::wallets::{WalletPage, WalletResponse};
use crate::domain::names::BalanceType;
use crate::domain::wallet_query::filter::Filter;
use crate::domain::wallet_query::sort::SortBy;
use crate::domain::wallets::Wallet;
use crate::domain::wallets::{Description, ForeignData, ForeignId, WalletName, WalletPatch};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::{idempotency, Request};
use crate::edge::{Action, Reply};
use crate::services::{NewWallet, WalletListRequest, Wallets};

/// `POST /v1.0/wallets`
pub struct CreateWallet;

impl Action for CreateWallet {
    const NAME: &'static str = "create-wallet";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/wallets";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let body = &mut request.body;
        let new = NewWallet {
            name: body.required("name", parsed(WalletName::parse))?,
            description: body.optional("description", parsed(Description::parse))?,
            foreign_data: body.optional("foreignData", parsed(ForeignData::parse))?,
            foreign_id: body.optional("foreignId", parsed(ForeignId::parse))?,
            balance_type: body.optional("balanceType", parsed(BalanceType::parse))?.unwrap_or_else(BalanceType::xof),
        };
        let base_url = request.base_url.as_deref();
        let answer = |wallet: &Wallet| api::answer(201, &WalletResponse::new(wallet, base_url));
        let idempotency = idempotency(&request.idempotency_key, Self::NAME, &new, &answer);
        request.body.finish()?;
        let outcome =
            service.create_wallet(&caller.project, caller.key_id.as_deref(), &new, idempotency.as_ref()).await?;
        Ok(Reply::from_outcome(outcome, answer))
    }
}

/// `GET /v1.0/wallets/{identifier}`: by id or by foreign id.
pub struct GetWallet;

impl Action for GetWallet {
    const NAME: &'static str = "get-wallet";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/v1.0/wallets/{identifier}";
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let identifier = request.params.required_text("identifier")?;
        request.body.finish()?;
        let wallet = service.get_wallet(&caller.project, &identifier).await?;
        Ok(Reply::json(200, &WalletResponse::new(&wallet, request.base_url.as_deref())))
    }
}

/// `GET /v1.0/wallets?filter=&sortBy=&limit=&page=`
pub struct ListWallets;

impl Action for ListWallets {
    const NAME: &'static str = "list-wallets";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/v1.0/wallets";
    const QUERY: &'static [&'static str] = &["filter", "sortBy", "limit", "page"];
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        request.body.finish()?;
        let params = &request.params;
        // What every page's query string repeats: the filter and sort as the caller wrote them.
        let given = |name: &str| -> Result<Option<String>, ApiError> {
            Ok(params.text(name)?.filter(|text| !text.trim().is_empty()))
        };
        let (filter_text, sort_text) = (given("filter")?, given("sortBy")?);
        let filter = match &filter_text {
            Some(text) => Some(Filter::parse(text).map_err(|e| ApiError::validation("filter", e.to_string()))?),
            None => None,
        };
        let sort = match &sort_text {
            Some(text) => SortBy::parse(text).map_err(|e| ApiError::validation("sortBy", e.to_string()))?,
            None => SortBy::default(),
        };
        let limit = params.whole_number("limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation("limit", format!("must be from 1 to {MAX_LIMIT}")));
        }
        let page = params.text("page")?;
        let may_write = caller.require(Scope::Write).is_ok();
        let list = WalletListRequest { filter, sort, limit: limit as usize, page, may_write };
        let listed = service.list_wallets(&caller.project, caller.key_id.as_deref(), &list).await?;
        let base_url = request.base_url.as_deref();
        // In the order FPay's SDK writes them; the page token comes last.
        let parameters = [("filter", filter_text), ("limit", Some(limit.to_string())), ("sortBy", sort_text)]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
        let listing = Listing { base_url, path: Self::PATH, parameters };
        let items = listed.wallets.iter().map(|wallet| WalletResponse::new(wallet, base_url)).collect();
        Ok(Reply::json(200, &WalletPage::new(&listing, &listed.pages, list.limit, items)))
    }
}

/// `PATCH /v1.0/wallets/{identifier}`: `{"id"?, "set": {...}, "remove": [...]}` (`change` for `set`).
pub struct UpdateWallet;

impl Action for UpdateWallet {
    const NAME: &'static str = "update-wallet";
    const METHOD: &'static str = "PATCH";
    const PATH: &'static str = "/v1.0/wallets/{identifier}";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let identifier = request.params.required_text("identifier")?;
        let body = &mut request.body;
        // FPay's SDK sends the whole form, the id it took the path from included.
        body.echo("id", &identifier)?;
        let mut set = Patch::take(body)?;
        let patch = WalletPatch {
            name: set.set_only("name", parsed(WalletName::parse))?,
            description: set.field("description", parsed(Description::parse))?,
            foreign_data: set.field("foreignData", parsed(ForeignData::parse))?,
        };
        set.finish(&["description", "foreignData"])?;
        request.body.finish()?;
        if patch.is_empty() {
            return Err(ApiError::validation("set", "nothing to change: give fields to set or to remove"));
        }
        let wallet = service.update_wallet(&caller.project, &identifier, &patch).await?;
        Ok(Reply::json(200, &WalletResponse::new(&wallet, request.base_url.as_deref())))
    }
}
