//! `POST /balances/{balanceId}/operations`: an INC or a DEC.

use super::balance_id;
use crate::api::{self, OperationResponse};
use crate::domain::balance::Balance;
use crate::domain::entry::Entry;
use crate::domain::money::Amount;
use crate::domain::names::Subject;
use crate::domain::operation::{Operation, TtlSeconds};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::{idempotency, Request};
use crate::edge::input::{string, whole_number};
use crate::edge::{Action, Reply};
use crate::engine::{Answer, AnswerForm};
use crate::services::{Balances, OperationInput, OperationOutcome};

pub struct ExecuteOperation;

fn answer(done: &OperationOutcome) -> Answer {
    answer_of(&done.balance, &done.entry)
}

fn answer_of(balance: &Balance, entry: &Entry) -> Answer {
    api::answer(200, &OperationResponse::new(balance, entry))
}

/// Operations that find their balance busy join its group commit; the batch holder writes
/// their idempotency records in this form.
const FORM: AnswerForm = AnswerForm { name: ExecuteOperation::NAME, render: answer_of };

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inc,
    Dec,
}

/// The operation a request asks for.
fn input_of(request: &mut Request) -> Result<OperationInput, ApiError> {
    let id = balance_id(&request.params)?;
    let body = &mut request.body;
    let amount = body.required("amount", |raw| Amount::parse_json(raw.get()).map_err(|e| e.to_string()))?;
    let kind = body.required("type", |raw| match string(raw)?.as_str() {
        "INC" => Ok(Kind::Inc),
        "DEC" => Ok(Kind::Dec),
        _ => Err("must be INC or DEC".to_owned()),
    })?;
    let ttl = body.optional("ttlInSeconds", |raw| {
        whole_number(raw)
            .ok()
            .and_then(TtlSeconds::new)
            .ok_or_else(|| format!("must be a whole number from 1 to {}", TtlSeconds::MAX))
    })?;
    let subject = body.optional("subject", |raw| Subject::parse(&string(raw)?).map_err(|e| e.to_string()))?;
    let update_token = body.optional("updateToken", string)?;
    request.finish_body()?;
    let operation = match (kind, ttl) {
        (Kind::Inc, ttl) => Operation::Inc { amount, ttl },
        (Kind::Dec, None) => Operation::Dec { amount },
        (Kind::Dec, Some(_)) => return Err(ApiError::validation("ttlInSeconds", "is only allowed with INC")),
    };
    Ok(OperationInput { balance: id, operation, subject: subject.flatten(), update_token, session: None })
}

impl Action for ExecuteOperation {
    const NAME: &'static str = "execute-operation";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/balances/{balanceId}/operations";
    const SCOPE: Scope = Scope::Write;
    const TOGETHER: bool = true;
    type Service = Balances;

    async fn handle(balances: &Balances, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let input = input_of(&mut request)?;
        let idempotency = idempotency(&request.idempotency_key, Self::NAME, &input, &answer);
        let outcome = balances.execute_operation(&caller.project, &input, idempotency.as_ref(), Some(&FORM)).await?;
        Ok(Reply::from_outcome(outcome, answer))
    }

    /// An SQS batch's operations, those on one balance committed together.
    async fn handle_together(balances: &Balances, requests: Vec<(Caller, Request)>) -> Vec<Result<Reply, ApiError>> {
        // The refusals of parsing in place, the rest in order for the service.
        let mut replies: Vec<Option<Result<Reply, ApiError>>> = Vec::with_capacity(requests.len());
        let mut operations = Vec::with_capacity(requests.len());
        for (caller, mut request) in requests {
            match input_of(&mut request) {
                Ok(input) => {
                    let idempotency = idempotency(&request.idempotency_key, Self::NAME, &input, &answer);
                    operations.push((caller.project, input, idempotency));
                    replies.push(None);
                }
                Err(refused) => replies.push(Some(Err(refused))),
            }
        }
        let mut outcomes = balances.execute_operations(&operations, &FORM).await.into_iter();
        replies
            .into_iter()
            .map(|reply| {
                reply.unwrap_or_else(|| match outcomes.next() {
                    Some(outcome) => Ok(Reply::from_outcome(outcome?, answer)),
                    None => Err(ApiError::internal("an operation of the batch went unanswered")),
                })
            })
            .collect()
    }
}
