//! `POST /balances`: a new balance, empty, with its type, name and minimum limit.

use crate::api::BalanceResponse;
use crate::domain::money::MinLimit;
use crate::domain::names::{BalanceName, BalanceType};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::Request;
use crate::edge::input::string;
use crate::edge::{Action, Reply};
use crate::service::{CreateBalanceRequest, Ledger};

pub struct CreateBalance;

impl Action for CreateBalance {
    const NAME: &'static str = "create-balance";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/balances";
    const SCOPE: Scope = Scope::Write;

    async fn handle(ledger: &Ledger, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let body = &mut request.body;
        let balance_type =
            body.required("balanceType", |raw| BalanceType::parse(&string(raw)?).map_err(|e| e.to_string()))?;
        let name = body.optional("balanceName", |raw| BalanceName::parse(&string(raw)?).map_err(|e| e.to_string()))?;
        let min_limit = body
            .optional("balanceMinLimit", |raw| MinLimit::parse_json(raw.get()).map_err(|e| e.to_string()))?
            .unwrap_or(MinLimit::ZERO);
        request.body.finish()?;
        let create = CreateBalanceRequest { balance_type, name, min_limit };
        let outcome = ledger.create_balance(&caller.project, &create, request.idempotency_key).await?;
        Ok(Reply::from_outcome(outcome, |balance| Reply::json(201, &BalanceResponse::new(&balance, false))))
    }
}
