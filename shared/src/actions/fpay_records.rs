//! What movements leave behind, FPay's way: the attempt that completed one, and the
//! transactions (one per wallet side of each step) with their wallets before and after.

use super::movements::{collection, notes_patch, record_list};
use crate::api::movements::{AttemptResponse, TransactionResponse};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::Request;
use crate::edge::{Action, Reply};
use crate::services::{TransactionRecord, Wallets};

fn render(record: &TransactionRecord, request: &Request) -> TransactionResponse {
    TransactionResponse::new(&record.transaction, &record.wallet, &record.parent, request.base_url.as_deref())
}

/// `GET /v1.0/attempts/{identifier}`
pub struct GetAttempt;

impl Action for GetAttempt {
    const NAME: &'static str = "get-attempt";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/v1.0/attempts/{identifier}";
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let identifier = request.params.required_text("identifier")?;
        request.body.finish()?;
        let attempt = service.get_attempt(&caller.project, &identifier).await?;
        Ok(Reply::json(200, &AttemptResponse::new(&attempt, request.base_url.as_deref())))
    }
}

/// `GET /v1.0/transactions/{identifier}`
pub struct GetWalletTransaction;

impl Action for GetWalletTransaction {
    const NAME: &'static str = "get-wallet-transaction";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/v1.0/transactions/{identifier}";
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let identifier = request.params.required_text("identifier")?;
        request.finish_body()?;
        let record = service.get_transaction(&caller.project, &identifier).await?;
        Ok(Reply::json(200, &render(&record, &request)))
    }
}

/// `GET /v1.0/transactions?limit=&sortBy=&page=`: in commit order.
pub struct ListWalletTransactions;

impl Action for ListWalletTransactions {
    const NAME: &'static str = "list-wallet-transactions";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/v1.0/transactions";
    const QUERY: &'static [&'static str] = &["filter", "sortBy", "limit", "page"];
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let (list, parameters) = record_list(&request.params)?;
        request.finish_body()?;
        let listed = service.list_transactions(&caller.project, &list).await?;
        let items = listed.items.iter().map(|record| render(record, &request)).collect();
        Ok(collection(&request, &list, parameters, &listed.pages, items))
    }
}

/// `PATCH /v1.0/transactions/{identifier}`: its notes (h1, description, foreignData).
pub struct UpdateWalletTransaction;

impl Action for UpdateWalletTransaction {
    const NAME: &'static str = "update-wallet-transaction";
    const METHOD: &'static str = "PATCH";
    const PATH: &'static str = "/v1.0/transactions/{identifier}";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let identifier = request.params.required_text("identifier")?;
        let patch = notes_patch(&mut request.body, &identifier)?;
        // FPay's Transaction always has an h1 (its item is unreadable without one).
        if matches!(patch.h1, Some(None)) {
            return Err(ApiError::validation("remove", "'h1' cannot be removed from a transaction: set another"));
        }
        request.finish_body()?;
        let record = service.update_transaction(&caller.project, &identifier, &patch).await?;
        Ok(Reply::json(200, &render(&record, &request)))
    }
}
