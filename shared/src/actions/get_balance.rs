//! `GET /balances/{balanceId}`: the balance, with any expired credit already taken out.

use super::balance_id;
use crate::api::BalanceResponse;
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::Request;
use crate::edge::{Action, Reply};
use crate::services::Balances;

pub struct GetBalance;

impl Action for GetBalance {
    const NAME: &'static str = "get-balance";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/balances/{balanceId}";
    const SCOPE: Scope = Scope::Read;
    type Service = Balances;

    async fn handle(balances: &Balances, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let id = balance_id(&request.params)?;
        request.body.finish()?;
        let (balance, in_progress) = balances.get_balance(&caller.project, id).await?;
        Ok(Reply::json(200, &BalanceResponse::new(&balance, in_progress)))
    }
}
