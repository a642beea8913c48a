//! Moving money between wallets (FPay's deposits, transfers, quasi-transfers and fund
//! requests): create, receive / send / cancel, get, list, update. The read and update routes
//! of the four kinds are one function each; the route a request came by says the kind.

use super::patch::Patch;
use super::{parsed, DEFAULT_LIMIT, MAX_LIMIT};
use crate::api::collection::{Collection, Listing};
use crate::api::movements::{kind_path, AttemptResponse, MovementResponse};
use crate::api::{self};
use crate::domain::fpay_amount;
use crate::domain::money_accounts::MobileMoneyAccount;
use crate::domain::movements::{self, Movement, MovementKind, MovementNotes, NotesPatch, Reference, H1};
use crate::domain::names::ProjectId;
use crate::domain::transactions::Attempt;
use crate::domain::wallets::{Description, Expire, ForeignData};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::{idempotency, Request};
use crate::edge::input::{string, Fields, Params};
use crate::edge::{Action, Reply};
use crate::services::{MovementCommand, NewMovement, RecordListRequest, Wallets};
use serde_json::value::RawValue;
use uuid::Uuid;

/// FPay's `h1`: a string (for both languages) or `{"fr", "en"}` (either stands for the other).
pub(super) fn h1(raw: &RawValue) -> Result<H1, String> {
    const WHAT: &str = "must be a string or an object {\"fr\", \"en\"}";
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Languages {
        fr: Option<String>,
        en: Option<String>,
    }
    if raw.get().trim_start().starts_with('{') {
        let Languages { fr, en } = serde_json::from_str(raw.get()).map_err(|_| WHAT.to_owned())?;
        let (fr, en) = match (fr, en) {
            (Some(fr), Some(en)) => (fr, en),
            (Some(one), None) | (None, Some(one)) => (one.clone(), one),
            (None, None) => return Err(WHAT.to_owned()),
        };
        return H1::new(&fr, &en).map_err(|e| e.to_string());
    }
    let text = string(raw).map_err(|_| WHAT.to_owned())?;
    H1::new(&text, &text).map_err(|e| e.to_string())
}

/// The notes a creating request or an update may carry.
fn notes(body: &mut Fields) -> Result<MovementNotes, ApiError> {
    Ok(MovementNotes {
        h1: body.optional("h1", h1)?,
        description: body.optional("description", parsed(Description::parse))?,
        foreign_data: body.optional("foreignData", parsed(ForeignData::parse))?,
    })
}

/// One of two names for the same field (`using` for a quasi-transfer's `source`, ...).
fn either(body: &mut Fields, name: &str, alias: &str) -> Result<Option<String>, ApiError> {
    match (body.optional(name, string)?, body.optional(alias, string)?) {
        (Some(_), Some(_)) => Err(ApiError::validation(alias, format!("names the same wallet as {name}: give one"))),
        (one, other) => Ok(one.or(other)),
    }
}

/// Reads a creating request's body and creates the movement.
async fn create(
    wallets: &Wallets,
    caller: &Caller,
    mut request: Request,
    kind: MovementKind,
) -> Result<Reply, ApiError> {
    let body = &mut request.body;
    // The wallet `using` names: the sender of a quasi-transfer, the asker of a fund request.
    let (source, destination, origin) = match kind {
        MovementKind::Deposit => {
            let origin = body.optional("source", parsed(MobileMoneyAccount::parse))?;
            (None, body.optional("destination", string)?, origin)
        }
        // FPay's PHP forms named a transfer's source `origin`, with `"_type": "Unitary"`.
        MovementKind::Transfer => {
            body.optional("_type", |raw| match string(raw)?.as_str() {
                "Unitary" => Ok(()),
                _ => Err("must be Unitary (one source, one destination)".to_owned()),
            })?;
            (either(body, "source", "origin")?, body.optional("destination", string)?, None)
        }
        MovementKind::QuasiTransfer => (either(body, "source", "using")?, body.optional("destination", string)?, None),
        MovementKind::FundRequest => (body.optional("source", string)?, either(body, "destination", "using")?, None),
    };
    // A number, "10_000 XOF" or {"value": 10000, "currency": "XOF"} (domain/fpay_amount.rs).
    let amount = body.required("amount", |raw| fpay_amount::parse(raw).map_err(|e| e.to_string()))?;
    // Pocketbook charges no fees, so who would pay them changes nothing; FPay's words only.
    body.optional("feesPayer", |raw| match string(raw)?.as_str() {
        "Me" | "CounterPart" | "Sender" | "Receiver" => Ok(()),
        _ => Err("must be Me, CounterPart, Sender or Receiver".to_owned()),
    })?;
    let new = NewMovement {
        kind,
        source,
        destination,
        origin,
        amount: amount.amount,
        currency: amount.currency,
        foreign_id: body.optional("foreignId", parsed(Reference::parse))?,
        notes: notes(body)?,
        expire: match kind.is_pending_kind() {
            true => body.optional("expire", parsed(Expire::parse))?,
            false => None,
        },
    };
    let (project, base_url) = (&caller.project, request.base_url.as_deref());
    let answer = |movement: &Movement| api::answer(201, &MovementResponse::new(movement, project, base_url));
    let idempotency = idempotency(&request.idempotency_key, "create-movement", &new, &answer);
    request.body.finish()?;
    let outcome = wallets.create_movement(project, caller.key_id.as_deref(), &new, idempotency.as_ref()).await?;
    Ok(Reply::from_outcome(outcome, answer))
}

/// Any text that is not one of our ids names nothing: 404, as another project's would.
fn movement_id(params: &Params, kind: MovementKind) -> Result<Uuid, ApiError> {
    let id = params.required_text("identifier")?;
    movements::movement_id(&id).ok_or_else(|| ApiError::not_found(kind.what()))
}

/// Reads `/{identifier}/{command}`: receiving / sending answers the Attempt that completed
/// it, cancelling the movement.
async fn command(
    wallets: &Wallets,
    caller: &Caller,
    mut request: Request,
    kind: MovementKind,
    complete: &str,
) -> Result<Reply, ApiError> {
    let identifier = request.params.required_text("identifier")?;
    let command = request.params.required_text("command")?;
    // FPay's SDK sends {"id": <the path's>, "using": <wallet>} to receive or send.
    request.body.echo("id", &identifier)?;
    let using = match command.as_str() {
        "cancel" => None,
        _ => request.body.optional("using", string)?,
    };
    request.body.finish()?;
    let command = match command.as_str() {
        "cancel" => MovementCommand::Cancel,
        other if other == complete => MovementCommand::Complete(using.as_deref()),
        _ => return Err(ApiError::validation("command", format!("must be {complete} or cancel"))),
    };
    let id = movement_id(&request.params, kind)?;
    let movement = wallets.resolve_movement(&caller.project, kind, id, command).await?;
    let base_url = request.base_url.as_deref();
    match (command, Attempt::of(&movement)) {
        (MovementCommand::Complete(_), Some(attempt)) => {
            Ok(Reply::json(200, &AttemptResponse::new(&attempt, base_url)))
        }
        _ => Ok(Reply::json(200, &MovementResponse::new(&movement, &caller.project, base_url))),
    }
}

/// The kind a read or update route is for, from the route it came by.
fn kind_of(request: &Request) -> Result<MovementKind, ApiError> {
    [MovementKind::Deposit, MovementKind::Transfer, MovementKind::QuasiTransfer, MovementKind::FundRequest]
        .into_iter()
        .find(|kind| request.route.starts_with(kind_path(*kind)))
        .ok_or_else(|| ApiError::not_found("route"))
}

/// The query parameters every page of a list repeats, by name, in FPay's SDK's order.
pub(super) type Parameters = Vec<(&'static str, String)>;

/// `?limit=&sortBy=&page=` of a list in creation order (`filter` is refused with a clear
/// 400: only wallet lists filter).
pub(super) fn record_list(params: &Params) -> Result<(RecordListRequest, Parameters), ApiError> {
    if params.text("filter")?.is_some_and(|text| !text.trim().is_empty()) {
        return Err(ApiError::validation("filter", "is not supported on this list (only GET /v1.0/wallets filters)"));
    }
    let sort = params.text("sortBy")?.filter(|text| !text.trim().is_empty());
    let descending = match sort.as_deref().map(str::trim) {
        None | Some("createdTime") | Some("createdTime:ASC") => false,
        Some("createdTime:DESC") => true,
        Some(_) => return Err(ApiError::validation("sortBy", "must be createdTime:ASC or createdTime:DESC")),
    };
    let limit = params.whole_number("limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be from 1 to {MAX_LIMIT}")));
    }
    // In the order FPay's SDK writes them; the page token comes last.
    let mut parameters = vec![("limit", limit.to_string())];
    parameters.extend(sort.map(|sort| ("sortBy", sort)));
    let request = RecordListRequest { limit: limit as usize, page: params.text("page")?, descending };
    Ok((request, parameters))
}

/// A list's answer: FPay's collection.
pub(super) fn collection<T: serde::Serialize>(
    request: &Request,
    list: &RecordListRequest,
    parameters: Parameters,
    pages: &crate::domain::page_token::PageLinks,
    items: Vec<T>,
) -> Reply {
    let listing = Listing { base_url: request.base_url.as_deref(), path: request.route, parameters };
    Reply::json(200, &Collection::new(&listing, pages, list.limit, items))
}

fn render(movement: &Movement, project: &ProjectId, request: &Request) -> MovementResponse {
    MovementResponse::new(movement, project, request.base_url.as_deref())
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

/// `POST /v1.0/quasi-transfers/initiate`: reserves money for a transfer someone must receive.
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

/// `POST /v1.0/quasi-transfers/{identifier}/receive|cancel`
pub struct QuasiTransferCommand;

impl Action for QuasiTransferCommand {
    const NAME: &'static str = "quasi-transfer-command";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/quasi-transfers/{identifier}/{command}";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        command(service, caller, request, MovementKind::QuasiTransfer, "receive").await
    }
}

/// `POST /v1.0/fund-requests`: a wallet asks for money.
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

/// `POST /v1.0/fund-requests/{identifier}/send|cancel`
pub struct FundRequestCommand;

impl Action for FundRequestCommand {
    const NAME: &'static str = "fund-request-command";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/v1.0/fund-requests/{identifier}/{command}";
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        command(service, caller, request, MovementKind::FundRequest, "send").await
    }
}

/// `GET /v1.0/<deposits|transfers|quasi-transfers|fund-requests>/{identifier}`: by id or
/// foreign id. A direct invocation reads deposits.
pub struct GetMovement;

impl Action for GetMovement {
    const NAME: &'static str = "get-movement";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/v1.0/deposits/{identifier}";
    const ALSO: &'static [(&'static str, &'static str)] = &[
        ("GET", "/v1.0/transfers/{identifier}"),
        ("GET", "/v1.0/quasi-transfers/{identifier}"),
        ("GET", "/v1.0/fund-requests/{identifier}"),
    ];
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let kind = kind_of(&request)?;
        let identifier = request.params.required_text("identifier")?;
        request.finish_body()?;
        let movement = service.get_movement(&caller.project, kind, &identifier).await?;
        Ok(Reply::json(200, &render(&movement, &caller.project, &request)))
    }
}

/// `GET /v1.0/<deposits|transfers|quasi-transfers|fund-requests>?limit=&sortBy=&page=`
pub struct ListMovements;

impl Action for ListMovements {
    const NAME: &'static str = "list-movements";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/v1.0/deposits";
    const ALSO: &'static [(&'static str, &'static str)] =
        &[("GET", "/v1.0/transfers"), ("GET", "/v1.0/quasi-transfers"), ("GET", "/v1.0/fund-requests")];
    const QUERY: &'static [&'static str] = &["filter", "sortBy", "limit", "page"];
    const SCOPE: Scope = Scope::Read;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let kind = kind_of(&request)?;
        let (list, parameters) = record_list(&request.params)?;
        request.finish_body()?;
        let listed = service.list_movements(&caller.project, kind, &list).await?;
        let items = listed.items.iter().map(|movement| render(movement, &caller.project, &request)).collect();
        Ok(collection(&request, &list, parameters, &listed.pages, items))
    }
}

/// The notes an update sets or removes: `h1`, `description`, `foreignData`.
pub(super) fn notes_patch(body: &mut Fields, identifier: &str) -> Result<NotesPatch, ApiError> {
    body.echo("id", identifier)?;
    let mut set = Patch::take(body)?;
    let patch = NotesPatch {
        h1: set.field("h1", h1)?,
        description: set.field("description", parsed(Description::parse))?,
        foreign_data: set.field("foreignData", parsed(ForeignData::parse))?,
    };
    set.finish(&["h1", "description", "foreignData"])?;
    if patch.is_empty() {
        return Err(ApiError::validation("set", "nothing to change: give h1, description or foreignData"));
    }
    Ok(patch)
}

/// `PATCH /v1.0/<deposits|transfers|quasi-transfers|fund-requests>/{identifier}`: its notes
/// only; amounts, wallets, statuses and the foreign id stay.
pub struct UpdateMovement;

impl Action for UpdateMovement {
    const NAME: &'static str = "update-movement";
    const METHOD: &'static str = "PATCH";
    const PATH: &'static str = "/v1.0/deposits/{identifier}";
    const ALSO: &'static [(&'static str, &'static str)] = &[
        ("PATCH", "/v1.0/transfers/{identifier}"),
        ("PATCH", "/v1.0/quasi-transfers/{identifier}"),
        ("PATCH", "/v1.0/fund-requests/{identifier}"),
    ];
    const SCOPE: Scope = Scope::Write;
    type Service = Wallets;

    async fn handle(service: &Wallets, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let kind = kind_of(&request)?;
        let identifier = request.params.required_text("identifier")?;
        let patch = notes_patch(&mut request.body, &identifier)?;
        request.finish_body()?;
        let movement = service.update_movement(&caller.project, kind, &identifier, &patch).await?;
        Ok(Reply::json(200, &render(&movement, &caller.project, &request)))
    }
}
