//! `GET /balances/{balanceId}/transactions`: the history, a page at a time.

use super::balance_id;
use crate::api::TransactionsPage;
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::Request;
use crate::edge::{Action, Reply};
use crate::services::{Balances, PageRequest};
use crate::store::Order;

pub struct ListTransactions;

const DEFAULT_PAGE_SIZE: u64 = 100;
const MAX_PAGE_SIZE: u64 = 1000;

impl Action for ListTransactions {
    const NAME: &'static str = "list-transactions";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/balances/{balanceId}/transactions";
    const QUERY: &'static [&'static str] = &["pageSize", "paginationToken", "order"];
    const SCOPE: Scope = Scope::Read;
    type Service = Balances;

    async fn handle(balances: &Balances, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let id = balance_id(&request.params)?;
        request.body.finish()?;
        let size = request.params.whole_number("pageSize")?.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::validation("pageSize", format!("must be from 1 to {MAX_PAGE_SIZE}")));
        }
        let order = match request.params.text("order")?.as_deref() {
            None | Some("desc") => Order::Desc,
            Some("asc") => Order::Asc,
            Some(_) => return Err(ApiError::validation("order", "must be asc or desc")),
        };
        let token = request.params.text("paginationToken")?;
        let page = PageRequest { size: size as usize, order, token };
        let page = balances.list_transactions(&caller.project, id, &page).await?;
        Ok(Reply::json(200, &TransactionsPage::new(&page)))
    }
}
