//! `POST /balances`: a new balance, empty, with its type, name and minimum limit.

use crate::api::{self, BalanceResponse};
use crate::domain::balance::Balance;
use crate::domain::money::MinLimit;
use crate::domain::names::{BalanceName, BalanceType};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::{idempotency, Request};
use crate::edge::input::string;
use crate::edge::{Action, Reply};
use crate::engine::Answer;
use crate::services::{Balances, CreateBalanceRequest};

pub struct CreateBalance;

fn answer(balance: &Balance) -> Answer {
    api::answer(201, &BalanceResponse::new(balance, false))
}

impl Action for CreateBalance {
    const NAME: &'static str = "create-balance";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/balances";
    const SCOPE: Scope = Scope::Write;
    type Service = Balances;

    async fn handle(balances: &Balances, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let body = &mut request.body;
        let balance_type =
            body.required("balanceType", |raw| BalanceType::parse(&string(raw)?).map_err(|e| e.to_string()))?;
        let name = body.optional("balanceName", |raw| BalanceName::parse(&string(raw)?).map_err(|e| e.to_string()))?;
        let min_limit = body
            .optional("balanceMinLimit", |raw| MinLimit::parse_json(raw.get()).map_err(|e| e.to_string()))?
            .unwrap_or(MinLimit::ZERO);
        let create = CreateBalanceRequest { balance_type, name, min_limit };
        let idempotency = idempotency(&request.idempotency_key, Self::NAME, &create, &answer);
        request.body.finish()?;
        let outcome = balances.create_balance(&caller.project, &create, idempotency.as_ref()).await?;
        Ok(Reply::from_outcome(outcome, answer))
    }
}
