//! Moving money between wallets: deposits, transfers, quasi-transfers and fund requests.

use super::parsed;
use crate::api::{self, wallets::MovementResponse};
use crate::domain::fpay_amount;
use crate::domain::movements::Movement;
use crate::domain::movements::{MovementKind, Reference, Resolution};
use crate::domain::wallets::Expire;
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::{idempotency, Request};
use crate::edge::input::string;
use crate::edge::{Action, Reply};
use crate::services::{NewMovement, Wallets};
use uuid::Uuid;

/// Reads a creating request's body and creates the movement.
async fn create(
    wallets: &Wallets,
    caller: &Caller,
    mut request: Request,
    kind: MovementKind,
) -> Result<Reply, ApiError> {
    let body = &mut request.body;
    let source = match kind {
        MovementKind::Deposit => None,
        _ => body.optional("source", string)?,
    };
    let destination = body.optional("destination", string)?;
    // A number, "10_000 XOF" or {"value": 10000, "currency": "XOF"} (domain/fpay_amount.rs).
    let amount = body.required("amount", |raw| fpay_amount::parse(raw).map_err(|e| e.to_string()))?;
    let new = NewMovement {
        kind,
        source,
        destination,
        amount: amount.amount,
        currency: amount.currency,
        foreign_id: body.optional("foreignId", parsed(Reference::parse))?,
        expire: match kind {
            MovementKind::QuasiTransfer | MovementKind::FundRequest => {
                body.optional("expire", parsed(Expire::parse))?
            }
            _ => None,
        },
    };
    let answer = |movement: &Movement| api::answer(201, &MovementResponse::new(movement));
    let idempotency = idempotency(&request.idempotency_key, "create-movement", &new, &answer);
    request.body.finish()?;
    let outcome =
        wallets.create_movement(&caller.project, caller.key_id.as_deref(), &new, idempotency.as_ref()).await?;
    Ok(Reply::from_outcome(outcome, answer))
}

/// Reads `/{id}/{command}` and resolves the movement.
async fn command(
    wallets: &Wallets,
    caller: &Caller,
    request: Request,
    kind: MovementKind,
    complete: &str,
) -> Result<Reply, ApiError> {
    let id = request.params.required_text("id")?;
    let command = request.params.required_text("command")?;
    request.body.finish()?;
    let resolution = match command.as_str() {
        "cancel" => Resolution::Cancel,
        other if other == complete => Resolution::Complete,
        _ => return Err(ApiError::validation("command", format!("must be {complete} or cancel"))),
    };
    let what = if kind == MovementKind::FundRequest { "fund request" } else { "quasi-transfer" };
    // Any text that is not one of our ids names nothing: 404, as another project's would.
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found(what))?;
    let movement = wallets.resolve_movement(&caller.project, kind, id, resolution).await?;
    Ok(Reply::json(200, &MovementResponse::new(&movement)))
}

/// `POST /v1.0/deposits/initiate`: credits a wallet (the main one by default).
pub struct CreateDeposit;

impl Action for CreateDeposit {
    const NAME: &'static str = "create-deposit";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/deposits/initiate";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        create(service, caller, request, MovementKind::Deposit).await
    }
}

/// `POST /v1.0/transfers/initiate`: moves money between two wallets at once.
pub struct CreateTransfer;

impl Action for CreateTransfer {
    const NAME: &'static str = "create-transfer";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/transfers/initiate";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        create(service, caller, request, MovementKind::Transfer).await
    }
}

/// `POST /v1.0/quasi-transfers/initiate`: reserves money for a transfer the destination must receive.
pub struct CreateQuasiTransfer;

impl Action for CreateQuasiTransfer {
    const NAME: &'static str = "create-quasi-transfer";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/quasi-transfers/initiate";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        create(service, caller, request, MovementKind::QuasiTransfer).await
    }
}

/// `POST /v1.0/quasi-transfers/{id}/receive|cancel`
pub struct QuasiTransferCommand;

impl Action for QuasiTransferCommand {
    const NAME: &'static str = "quasi-transfer-command";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/quasi-transfers/{id}/{command}";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        command(service, caller, request, MovementKind::QuasiTransfer, "receive").await
    }
}

/// `POST /v1.0/fund-requests`: a wallet asks another for money.
pub struct CreateFundRequest;

impl Action for CreateFundRequest {
    const NAME: &'static str = "create-fund-request";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/fund-requests";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        create(service, caller, request, MovementKind::FundRequest).await
    }
}

/// `POST /v1.0/fund-requests/{id}/send|cancel`
pub struct FundRequestCommand;

impl Action for FundRequestCommand {
    const NAME: &'static str = "fund-request-command";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/fund-requests/{id}/{command}";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        command(service, caller, request, MovementKind::FundRequest, "send").await
    }
}
