//! The customer wallet account actions (Juspay Express Checkout's wallet API).

use super::parsed;
use crate::api::wallet_accounts::{WalletAccountList, WalletAccountResponse};
use crate::domain::wallet_accounts::{CustomerId, Gateway, MobileNumber, Otp, WalletAccountId};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::{ApiError, ErrorShape};
use crate::edge::event::Request;
use crate::edge::input::{string, Fields, Params};
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
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let customer = customer_id(&request.params)?;
        let body = &mut request.body;
        body.echo("customer_id", customer.as_str())?;
        let gateway = body.required("gateway", parsed(Gateway::parse))?;
        // Without one, the customer's (Juspay's Customers API) is taken.
        let mobile = body.optional("mobile_number", parsed(MobileNumber::parse))?;
        // Optional, as at Juspay: creating always asks the provider for an OTP.
        body.optional("command", |raw| match string(raw)?.as_str() {
            "authenticate" => Ok(()),
            _ => Err("must be authenticate".to_owned()),
        })?;
        request.body.finish()?;
        let (account, created) = service.create_wallet_account(&caller.project, &customer, gateway, mobile).await?;
        Ok(Reply::json(if created { 201 } else { 200 }, &WalletAccountResponse::new(&account)))
    }
}

/// A wallet account id from the path: any text that is not one of our ids names no account
/// (404, as another project's would).
pub(super) fn wallet_account_id(text: &str) -> Result<WalletAccountId, ApiError> {
    WalletAccountId::parse(text).map_err(|_| ApiError::not_found("wallet account"))
}

/// A wallet command's form: `command`, and `otp` for a link.
fn command(body: &mut Fields) -> Result<Command, ApiError> {
    let name = body.required("command", string)?;
    Ok(match name.as_str() {
        "authenticate" => Command::Authenticate,
        "link" => Command::Link(body.required("otp", parsed(Otp::parse))?),
        "refresh" => Command::Refresh,
        "delink" => Command::Delink,
        _ => return Err(ApiError::validation("command", "must be authenticate, link, refresh or delink")),
    })
}

/// `POST /customers/{customer_id}/wallets/{wallet_id}` and Juspay's own `POST /wallets/{id}`:
/// authenticate, link, refresh, delink.
pub struct WalletAccountCommand;

impl Action for WalletAccountCommand {
    const NAME: &'static str = "wallet-account-command";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/customers/{customer_id}/wallets/{wallet_id}";
    const ALSO: &'static [(&'static str, &'static str)] = &[("POST", "/wallets/{identifier}")];
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let customer = match request.params.text("customer_id")? {
            Some(_) => Some(customer_id(&request.params)?),
            None => None,
        };
        let text = match request.params.text("wallet_id")? {
            Some(text) => text,
            None => request.params.required_text("identifier")?,
        };
        let wallet = wallet_account_id(&text)?;
        let body = &mut request.body;
        body.echo("wallet_id", &text)?;
        if let Some(customer) = &customer {
            body.echo("customer_id", customer.as_str())?;
        }
        let command = command(body)?;
        request.body.finish()?;
        let account = service.wallet_account_command(&caller.project, customer.as_ref(), &wallet, command).await?;
        Ok(Reply::json(200, &WalletAccountResponse::new(&account)))
    }
}

/// `GET /wallets/{wallet_id}?command=refresh`: Juspay's single-wallet refresh, the account
/// with its balance asked of its provider.
pub struct GetWalletAccount;

impl Action for GetWalletAccount {
    const NAME: &'static str = "get-wallet-account";
    const METHOD: &'static str = "GET";
    // The same parameter name as `POST /wallets/{identifier}`: one path, two methods.
    const PATH: &'static str = "/wallets/{identifier}";
    const QUERY: &'static [&'static str] = &["command"];
    // A refresh asks the provider and writes the balance: the write scope, as the POST.
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let wallet = wallet_account_id(&request.params.required_text("identifier")?)?;
        match request.params.text("command")?.as_deref() {
            Some("refresh") => {}
            _ => return Err(ApiError::validation("command", "must be refresh")),
        }
        request.body.finish()?;
        let account = service.wallet_account_command(&caller.project, None, &wallet, Command::Refresh).await?;
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
    const ERRORS: ErrorShape = ErrorShape::Juspay;
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
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let customer = customer_id(&request.params)?;
        request.body.finish()?;
        let listed = service.list_wallet_accounts(&caller.project, &customer, true).await?;
        Ok(Reply::json(200, &WalletAccountList::new(&listed)))
    }
}
