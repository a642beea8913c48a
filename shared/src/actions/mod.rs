//! The actions, one per function binary, and the route table they make up.

mod create_balance;
mod execute_operation;
mod get_balance;
mod list_transactions;
mod movements;
mod payments;
mod wallet_accounts;
mod wallets;

pub use create_balance::CreateBalance;
pub use execute_operation::ExecuteOperation;
pub use get_balance::GetBalance;
pub use list_transactions::ListTransactions;
pub use movements::{
    CreateDeposit, CreateFundRequest, CreateQuasiTransfer, CreateTransfer, FundRequestCommand, QuasiTransferCommand,
};
pub use payments::{DirectDebit, GetOrder, ProviderCallback, SandboxTopUp};
pub use wallet_accounts::{CreateWalletAccount, ListWalletAccounts, RefreshWalletAccounts, WalletAccountCommand};
pub use wallets::{CreateWallet, GetWallet, ListWallets, UpdateWallet};

use crate::domain::names::BalanceId;
use crate::edge::error::ApiError;
use crate::edge::input::Params;
use crate::edge::Action;

/// A function and the HTTP route that reaches it. `template.yaml`, the local router in
/// `Cargo.toml` and the tests' gateway are all checked against this table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub function: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    /// Reached without an API key ([`Action::PUBLIC`]): no authorizer in front of it.
    pub public: bool,
}

const fn route<A: Action>() -> Route {
    Route { function: A::NAME, method: A::METHOD, path: A::PATH, public: A::PUBLIC }
}

pub const ROUTES: [Route; 22] = [
    route::<CreateBalance>(),
    route::<GetBalance>(),
    route::<ExecuteOperation>(),
    route::<ListTransactions>(),
    route::<CreateWalletAccount>(),
    route::<WalletAccountCommand>(),
    route::<ListWalletAccounts>(),
    route::<RefreshWalletAccounts>(),
    route::<DirectDebit>(),
    route::<GetOrder>(),
    route::<SandboxTopUp>(),
    route::<ProviderCallback>(),
    route::<CreateWallet>(),
    route::<GetWallet>(),
    route::<ListWallets>(),
    route::<UpdateWallet>(),
    route::<CreateDeposit>(),
    route::<CreateTransfer>(),
    route::<CreateQuasiTransfer>(),
    route::<QuasiTransferCommand>(),
    route::<CreateFundRequest>(),
    route::<FundRequestCommand>(),
];

/// The `{balanceId}` path parameter.
fn balance_id(params: &Params) -> Result<BalanceId, ApiError> {
    let text = params.required_text("balanceId")?;
    BalanceId::parse(&text).map_err(|e| ApiError::validation("balanceId", e.to_string()))
}

/// A string field checked by a domain parser.
fn parsed<T, E: std::fmt::Display>(
    parse: impl Fn(&str) -> Result<T, E>,
) -> impl Fn(&serde_json::value::RawValue) -> Result<T, String> {
    move |raw| parse(&crate::edge::input::string(raw)?).map_err(|e| e.to_string())
}
