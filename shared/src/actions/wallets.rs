//! The wallet actions (FPay's wallets): create, get, list, update.

use super::parsed;
use crate::api;
use crate::api::wallet_accounts::WalletAccountResponse;
use crate::api::wallets::{Pagination, WalletPage, WalletResponse};
use crate::domain::names::BalanceType;
use crate::domain::wallet_accounts::WalletAccountId;
use crate::domain::wallet_query::filter::Filter;
use crate::domain::wallet_query::sort::SortBy;
use crate::domain::wallets::Wallet;
use crate::domain::wallets::{Description, ForeignData, ForeignId, WalletName, WalletPatch};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::{ApiError, ErrorShape};
use crate::edge::event::{idempotency, Request};
use crate::edge::input::Fields;
use crate::edge::services::WalletsAndAccounts;
use crate::edge::{Action, Reply};
use crate::services::Command;
use crate::services::{NewWallet, WalletListRequest, Wallets};

const DEFAULT_LIMIT: u64 = 25;
const MAX_LIMIT: u64 = 100;

/// `POST /wallets`
pub struct CreateWallet;

impl Action for CreateWallet {
    const NAME: &'static str = "create-wallet";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/wallets";
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

/// `GET /wallets/{identifier}`: by id or by foreign id.
///
/// Juspay's clients read a customer wallet account here too (`?command=refresh`): a `wlt_` id
/// is always one (never an FPay wallet's name), answered in Juspay's shapes.
pub struct GetWallet;

impl Action for GetWallet {
    const NAME: &'static str = "get-wallet";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/wallets/{identifier}";
    const QUERY: &'static [&'static str] = &["command"];
    const SCOPE: Scope = Scope::Read;
    type Service = WalletsAndAccounts;

    async fn handle(service: &WalletsAndAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let identifier = request.params.required_text("identifier")?;
        if identifier.starts_with(WalletAccountId::PREFIX) {
            let juspay = |e: ApiError| e.in_shape(ErrorShape::Juspay);
            // A refresh asks the provider and writes the balance: the write scope, as POST.
            caller.require(Scope::Write).map_err(juspay)?;
            let id = super::wallet_accounts::wallet_account_id(&identifier).map_err(juspay)?;
            let command = match request.params.text("command")?.as_deref() {
                Some("refresh") => Command::Refresh,
                _ => return Err(juspay(ApiError::validation("command", "must be refresh"))),
            };
            request.body.finish().map_err(juspay)?;
            let account = service.accounts.wallet_account_command(&caller.project, None, &id, command).await;
            let account = account.map_err(|e| juspay(e.into()))?;
            return Ok(Reply::json(200, &WalletAccountResponse::new(&account)));
        }
        if request.params.text("command")?.is_some() {
            return Err(ApiError::validation("command", "is only for customer wallet accounts (wlt_...)"));
        }
        request.body.finish()?;
        let wallet = service.wallets.get_wallet(&caller.project, &identifier).await?;
        Ok(Reply::json(200, &WalletResponse::new(&wallet, request.base_url.as_deref())))
    }
}

/// `GET /wallets?filter=&sortBy=&limit=&page=`
pub struct ListWallets;

impl Action for ListWallets {
    const NAME: &'static str = "list-wallets";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/wallets";
    const QUERY: &'static [&'static str] = &["filter", "sortBy", "limit", "page"];
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        request.body.finish()?;
        let params = &request.params;
        let filter = match params.text("filter")? {
            Some(text) if !text.trim().is_empty() => {
                Some(Filter::parse(&text).map_err(|e| ApiError::validation("filter", e.to_string()))?)
            }
            _ => None,
        };
        let sort = match params.text("sortBy")? {
            Some(text) if !text.trim().is_empty() => {
                SortBy::parse(&text).map_err(|e| ApiError::validation("sortBy", e.to_string()))?
            }
            _ => SortBy::default(),
        };
        let limit = params.whole_number("limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation("limit", format!("must be from 1 to {MAX_LIMIT}")));
        }
        let page = params.text("page")?;
        let list = WalletListRequest { filter, sort, limit: limit as usize, page };
        let listed = service.list_wallets(&caller.project, caller.key_id.as_deref(), &list).await?;
        let base_url = request.base_url.as_deref();
        Ok(Reply::json(
            200,
            &WalletPage {
                items: listed.wallets.iter().map(|wallet| WalletResponse::new(wallet, base_url)).collect(),
                pagination: Pagination { next_page: listed.next_page },
            },
        ))
    }
}

/// `PATCH /wallets/{identifier}`: `{ "change": {...}, "remove": [...] }`.
pub struct UpdateWallet;

impl Action for UpdateWallet {
    const NAME: &'static str = "update-wallet";
    const METHOD: &'static str = "PATCH";
    const PATH: &'static str = "/wallets/{identifier}";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let identifier = request.params.required_text("identifier")?;
        let body = &mut request.body;
        let mut patch = WalletPatch::default();
        if let Some(mut change) =
            body.optional("change", |raw| Fields::parse(raw.get()).map_err(|_| "must be an object".to_owned()))?
        {
            let nested = |e: ApiError| e.nested("change");
            if change.is_null("name") {
                return Err(ApiError::validation("change.name", "cannot be removed"));
            }
            patch.name = change.optional("name", parsed(WalletName::parse)).map_err(nested)?;
            patch.description = change.optional("description", parsed(Description::parse)).map_err(nested)?.map(Some);
            patch.foreign_data = change.optional("foreignData", parsed(ForeignData::parse)).map_err(nested)?.map(Some);
            change.finish().map_err(nested)?;
        }
        let removals = body.optional("remove", |raw| {
            serde_json::from_str::<Vec<String>>(raw.get()).map_err(|_| "must be an array of field names".to_owned())
        })?;
        for field in removals.unwrap_or_default() {
            let changed = match field.as_str() {
                "description" => patch.description.replace(None).is_some(),
                "foreignData" => patch.foreign_data.replace(None).is_some(),
                _ => {
                    let message = format!("'{field}' cannot be removed (only description and foreignData can)");
                    return Err(ApiError::validation("remove", message));
                }
            };
            if changed {
                return Err(ApiError::validation("remove", format!("'{field}' is both changed and removed")));
            }
        }
        request.body.finish()?;
        if patch.is_empty() {
            return Err(ApiError::validation("change", "nothing to change: give fields to change or to remove"));
        }
        let wallet = service.update_wallet(&caller.project, &identifier, &patch).await?;
        Ok(Reply::json(200, &WalletResponse::new(&wallet, request.base_url.as_deref())))
    }
}
