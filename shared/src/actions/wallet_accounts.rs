//! The customer wallet account actions (Juspay Express Checkout's wallet API).

use super::parsed;
use crate::api::wallet_accounts::{WalletAccountList, WalletAccountResponse};
use crate::domain::wallet_accounts::{CustomerId, Gateway, MobileNumber, Otp, WalletAccountId};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::Request;
use crate::edge::input::{string, Params};
use crate::edge::{Action, Reply};
use crate::services::{Command, WalletAccounts};

/// The `{customer_id}` path parameter.
fn customer_id(params: &Params) -> Result<CustomerId, ApiError> {
    let text = params.required_text("customer_id")?;
    CustomerId::parse(&text).map_err(|e| ApiError::validation("customer_id", e.to_string()))
}

/// `POST /customers/{customer_id}/wallets`: creates the account and asks for an OTP.
pub struct CreateWalletAccount;

impl Action for CreateWalletAccount {
    const NAME: &'static str = "create-wallet-account";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/customers/{customer_id}/wallets";
    const SCOPE: Scope = Scope::Write;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let customer = customer_id(&request.params)?;
        let body = &mut request.body;
        let gateway = body.required("gateway", parsed(Gateway::parse))?;
        let mobile = body.required("mobile_number", parsed(MobileNumber::parse))?;
        body.required("command", |raw| match string(raw)?.as_str() {
            "authenticate" => Ok(()),
            _ => Err("must be authenticate".to_owned()),
        })?;
        request.body.finish()?;
        let (account, created) = service.create_wallet_account(&caller.project, &customer, gateway, mobile).await?;
        Ok(Reply::json(if created { 201 } else { 200 }, &WalletAccountResponse::new(&account)))
    }
}

/// `POST /customers/{customer_id}/wallets/{wallet_id}`: authenticate, link, refresh, delink.
pub struct WalletAccountCommand;

impl Action for WalletAccountCommand {
    const NAME: &'static str = "wallet-account-command";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/customers/{customer_id}/wallets/{wallet_id}";
    const SCOPE: Scope = Scope::Write;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let customer = customer_id(&request.params)?;
        let wallet = request.params.required_text("wallet_id")?;
        // Any text that is not one of our ids names no account: 404, as another project's would.
        let wallet = WalletAccountId::parse(&wallet).map_err(|_| ApiError::not_found("wallet account"))?;
        let body = &mut request.body;
        let name = body.required("command", string)?;
        let command = match name.as_str() {
            "authenticate" => Command::Authenticate,
            "link" => Command::Link(body.required("otp", parsed(Otp::parse))?),
            "refresh" => Command::Refresh,
            "delink" => Command::Delink,
            _ => return Err(ApiError::validation("command", "must be authenticate, link, refresh or delink")),
        };
        request.body.finish()?;
        let account = service.wallet_account_command(&caller.project, &customer, &wallet, command).await?;
        Ok(Reply::json(200, &WalletAccountResponse::new(&account)))
    }
}

/// `GET /customers/{customer_id}/wallets`: every account; each linked one with a new token.
pub struct ListWalletAccounts;

impl Action for ListWalletAccounts {
    const NAME: &'static str = "list-wallet-accounts";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/customers/{customer_id}/wallets";
    // Tokens can debit: handing them out takes the write scope, like a debit itself.
    const SCOPE: Scope = Scope::Write;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let customer = customer_id(&request.params)?;
        request.body.finish()?;
        let listed = service.list_wallet_accounts(&caller.project, &customer, false).await?;
        Ok(Reply::json(200, &WalletAccountList::new(&listed)))
    }
}

/// `GET /customers/{customer_id}/wallets/refresh-balances`: the list after asking every
/// linked account's provider for its balance.
pub struct RefreshWalletAccounts;

impl Action for RefreshWalletAccounts {
    const NAME: &'static str = "refresh-wallet-accounts";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/customers/{customer_id}/wallets/refresh-balances";
    const SCOPE: Scope = Scope::Write;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let customer = customer_id(&request.params)?;
        request.body.finish()?;
        let listed = service.list_wallet_accounts(&caller.project, &customer, true).await?;
        Ok(Reply::json(200, &WalletAccountList::new(&listed)))
    }
}
