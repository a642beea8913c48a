//! The actions, one per function binary, and the route table they make up.

mod create_balance;
mod customers;
mod execute_operation;
mod fpay_records;
mod get_balance;
mod list_transactions;
mod movements;
mod orders;
mod patch;
mod payments;
mod wallet_accounts;
mod wallets;
mod webhooks;

pub use create_balance::CreateBalance;
pub use customers::{CreateCustomer, GetCustomer, UpdateCustomer};
pub use execute_operation::ExecuteOperation;
pub use fpay_records::{GetAttempt, GetWalletTransaction, ListWalletTransactions, UpdateWalletTransaction};
pub use get_balance::GetBalance;
pub use list_transactions::ListTransactions;
pub use movements::{
    CreateDeposit, CreateFundRequest, CreateQuasiTransfer, CreateTransfer, FundRequestCommand, GetMovement,
    ListMovements, QuasiTransferCommand, UpdateMovement,
};
pub use orders::{CreateOrder, ListOrderWallets, ListOrders, ListPaymentMethods, RefundOrder, UpdateOrder};
pub use payments::{DirectDebit, GetOrder, ProviderCallback, SandboxTopUp};
pub use wallet_accounts::{
    CreateWalletAccount, GetWalletAccount, ListWalletAccounts, RefreshWalletAccounts, WalletAccountCommand,
};
pub use wallets::{CreateWallet, GetWallet, ListWallets, UpdateWallet};
pub use webhooks::{CreateWebhook, DeleteWebhook, ListWebhookDeliveries, ListWebhooks, RedeliverWebhook};

use crate::domain::names::BalanceId;
use crate::edge::error::{ApiError, ErrorShape};
use crate::edge::input::Params;
use crate::edge::Action;

/// A function and an HTTP route that reaches it (a function may have several: see
/// [`Action::ALSO`]). `template.yaml`, the local router in `Cargo.toml` and the tests' gateway
/// are all checked against this table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub function: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    /// Reached without an API key ([`Action::PUBLIC`]): no authorizer in front of it.
    pub public: bool,
    /// The facade whose error body its refusals are in ([`Action::ERRORS`]).
    pub errors: ErrorShape,
}

const fn route<A: Action>() -> Route {
    Route { function: A::NAME, method: A::METHOD, path: A::PATH, public: A::PUBLIC, errors: A::ERRORS }
}

/// The action's `n`th other route.
const fn also<A: Action>(n: usize) -> Route {
    let (method, path) = A::ALSO[n];
    Route { function: A::NAME, method, path, public: A::PUBLIC, errors: A::ERRORS }
}

pub const ROUTES: [Route; 59] = [
    route::<CreateBalance>(),
    route::<GetBalance>(),
    route::<ExecuteOperation>(),
    route::<ListTransactions>(),
    route::<CreateWalletAccount>(),
    route::<WalletAccountCommand>(),
    also::<WalletAccountCommand>(0),
    route::<GetWalletAccount>(),
    route::<ListWalletAccounts>(),
    route::<RefreshWalletAccounts>(),
    route::<DirectDebit>(),
    route::<GetOrder>(),
    also::<GetOrder>(0),
    route::<CreateCustomer>(),
    route::<GetCustomer>(),
    route::<UpdateCustomer>(),
    route::<CreateOrder>(),
    also::<CreateOrder>(0),
    route::<UpdateOrder>(),
    also::<UpdateOrder>(0),
    route::<ListOrders>(),
    also::<ListOrders>(0),
    route::<RefundOrder>(),
    also::<RefundOrder>(0),
    route::<ListOrderWallets>(),
    route::<ListPaymentMethods>(),
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
    route::<GetMovement>(),
    also::<GetMovement>(0),
    also::<GetMovement>(1),
    also::<GetMovement>(2),
    route::<ListMovements>(),
    also::<ListMovements>(0),
    also::<ListMovements>(1),
    also::<ListMovements>(2),
    route::<UpdateMovement>(),
    also::<UpdateMovement>(0),
    also::<UpdateMovement>(1),
    also::<UpdateMovement>(2),
    route::<GetAttempt>(),
    route::<GetWalletTransaction>(),
    route::<ListWalletTransactions>(),
    route::<UpdateWalletTransaction>(),
    route::<CreateWebhook>(),
    route::<ListWebhooks>(),
    route::<DeleteWebhook>(),
    route::<ListWebhookDeliveries>(),
    route::<RedeliverWebhook>(),
];

/// Page sizes of FPay's lists.
const DEFAULT_LIMIT: u64 = 25;
const MAX_LIMIT: u64 = 100;

/// The function behind every request that matches no route ([`crate::edge::not_found`]).
pub const NOT_FOUND_FUNCTION: &str = "not-found";

/// The facade whose error body answers a request that matches no route: that of the route
/// the path would be if an empty parameter counted (`POST /v1.0/quasi-transfers//receive` is
/// the quasi-transfer command's), preferring the route with the request's method; else that of the routes under the path's first segment, ours only where all of
/// them are (`/balances/…`). Juspay's clients address the root of the host, so a path like
/// none of ours is most likely theirs.
pub fn error_shape_of(method: &str, path: &str) -> ErrorShape {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resembles = |route: &&Route| {
        let template: Vec<&str> = route.path.trim_start_matches('/').split('/').collect();
        template.len() == segments.len()
            && template.iter().zip(&segments).all(|(expected, actual)| expected.starts_with('{') || expected == actual)
    };
    let like: Vec<&Route> = ROUTES.iter().filter(resembles).collect();
    if let Some(route) = like.iter().find(|route| route.method.eq_ignore_ascii_case(method)) {
        return route.errors;
    }
    let beside: Vec<&Route> = if like.is_empty() {
        ROUTES
            .iter()
            .filter(|route| route.path.trim_start_matches('/').split('/').next() == segments.first().copied())
            .collect()
    } else {
        like
    };
    if !beside.is_empty() && beside.iter().all(|route| route.errors == ErrorShape::Pocketbook) {
        ErrorShape::Pocketbook
    } else {
        ErrorShape::Juspay
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_path_answers_in_the_shape_of_the_route_it_resembles() {
        // An empty path parameter: the route it would be, by method where paths are shared.
        assert_eq!(error_shape_of("POST", "/balances//operations"), ErrorShape::Pocketbook);
        assert_eq!(error_shape_of("GET", "/v1.0/wallets/"), ErrorShape::Pocketbook);
        assert_eq!(error_shape_of("POST", "/wallets/"), ErrorShape::Juspay);
        assert_eq!(error_shape_of("GET", "/customers//wallets"), ErrorShape::Juspay);
        // Another method of a known path.
        assert_eq!(error_shape_of("DELETE", "/orders/o1"), ErrorShape::Juspay);
        assert_eq!(error_shape_of("DELETE", "/balances/b1"), ErrorShape::Pocketbook);
        // Another path: the routes under its first segment.
        assert_eq!(error_shape_of("GET", "/balances/b/nope"), ErrorShape::Pocketbook);
        assert_eq!(error_shape_of("POST", "/v1.0/transfers/x"), ErrorShape::Pocketbook);
        assert_eq!(error_shape_of("GET", "/v1.0/nothing"), ErrorShape::Pocketbook);
        assert_eq!(error_shape_of("GET", "/orders/o/nope"), ErrorShape::Juspay);
        assert_eq!(error_shape_of("POST", "/order/delete"), ErrorShape::Juspay);
        assert_eq!(error_shape_of("GET", "/wallets/wlt_x/nope"), ErrorShape::Juspay);
        assert_eq!(error_shape_of("GET", "/nothing-here"), ErrorShape::Juspay);
        assert_eq!(error_shape_of("GET", "/"), ErrorShape::Juspay);
    }
}
