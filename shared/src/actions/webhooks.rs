//! The webhook routes: register, list and remove endpoints; list an endpoint's deliveries and
//! send one again.

use super::{parsed, DEFAULT_LIMIT, MAX_LIMIT};
use crate::api::webhooks::{
    CreatedEndpointResponse, DeletedEndpoint, DeliveryPageResponse, DeliveryResponse, EndpointList,
};
use crate::domain::events::EventId;
use crate::domain::webhooks::WebhookId;
use crate::domain::webhooks::{parse_description, DeliveryStatus, EventFilter, MAX_ENDPOINTS};
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::ApiError;
use crate::edge::event::Request;
use crate::edge::input::{string, Params};
use crate::edge::{Action, Reply};
use crate::services::{DeliveryListRequest, NewWebhook, WebhookError, Webhooks};
use serde_json::value::RawValue;

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::InvalidUrl(e) => ApiError::validation("url", e.to_string()),
            WebhookError::TooManyEndpoints => ApiError::conflict(
                "WEBHOOK_LIMIT_REACHED",
                format!("a project may register at most {MAX_ENDPOINTS} webhook endpoints; delete one first"),
            ),
            WebhookError::NotFound => ApiError::not_found("webhook"),
            WebhookError::DeliveryNotFound => ApiError::not_found("delivery"),
            WebhookError::BadPage => ApiError::validation("page", "is not a page token of this listing"),
            error @ (WebhookError::Bus(_) | WebhookError::Store(_) | WebhookError::Secret(_)) => {
                ApiError::internal(error.to_string())
            }
        }
    }
}

/// The `{webhookId}` path parameter: anything but one of our ids names no webhook.
fn webhook_id(params: &Params) -> Result<WebhookId, ApiError> {
    WebhookId::parse(&params.required_text("webhookId")?).ok_or_else(|| ApiError::not_found("webhook"))
}

/// `events`: a list of event kind names, or `["*"]`.
fn events(raw: &RawValue) -> Result<EventFilter, String> {
    let names: Vec<String> =
        serde_json::from_str(raw.get()).map_err(|_| "must be a list of event kinds, or [\"*\"]".to_owned())?;
    EventFilter::parse(&names).map_err(|e| e.to_string())
}

/// `POST /webhooks` `{"url", "events": [...], "description"?}`: 201 with the signing secret,
/// shown this once.
pub struct CreateWebhook;

impl Action for CreateWebhook {
    const NAME: &'static str = "create-webhook";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/webhooks";
    const SCOPE: Scope = Scope::Write;
    type Service = Webhooks;

    async fn handle(service: &Webhooks, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let body = &mut request.body;
        let new = NewWebhook {
            url: body.required("url", string)?,
            events: body.required("events", events)?,
            description: body.optional("description", parsed(parse_description))?,
        };
        request.body.finish()?;
        let (endpoint, secret) = service.create(&caller.project, new).await?;
        Ok(Reply::json(201, &CreatedEndpointResponse::new(&endpoint, &secret)))
    }
}

/// `GET /webhooks`: the project's endpoints, without their secrets.
pub struct ListWebhooks;

impl Action for ListWebhooks {
    const NAME: &'static str = "list-webhooks";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/webhooks";
    const SCOPE: Scope = Scope::Read;
    type Service = Webhooks;

    async fn handle(service: &Webhooks, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        request.body.finish()?;
        let endpoints = service.list(&caller.project).await?;
        Ok(Reply::json(200, &EndpointList::new(&endpoints)))
    }
}

/// `DELETE /webhooks/{webhookId}`
pub struct DeleteWebhook;

impl Action for DeleteWebhook {
    const NAME: &'static str = "delete-webhook";
    const METHOD: &'static str = "DELETE";
    const PATH: &'static str = "/webhooks/{webhookId}";
    const SCOPE: Scope = Scope::Write;
    type Service = Webhooks;

    async fn handle(service: &Webhooks, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let id = webhook_id(&request.params)?;
        request.body.finish()?;
        service.delete(&caller.project, &id).await?;
        Ok(Reply::json(200, &DeletedEndpoint { id: id.to_string(), deleted: true }))
    }
}

/// `GET /webhooks/{webhookId}/deliveries?status=&limit=&page=`
pub struct ListWebhookDeliveries;

impl Action for ListWebhookDeliveries {
    const NAME: &'static str = "list-webhook-deliveries";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/webhooks/{webhookId}/deliveries";
    const QUERY: &'static [&'static str] = &["status", "limit", "page"];
    const SCOPE: Scope = Scope::Read;
    type Service = Webhooks;

    async fn handle(service: &Webhooks, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let id = webhook_id(&request.params)?;
        request.body.finish()?;
        let params = &request.params;
        let status = match params.text("status")?.filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(DeliveryStatus::parse(&text).ok_or_else(|| {
                ApiError::validation("status", "must be one of pending, retrying, delivered, failed")
            })?),
        };
        let limit = params.whole_number("limit")?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation("limit", format!("must be from 1 to {MAX_LIMIT}")));
        }
        let list = DeliveryListRequest { status, limit: limit as usize, page: params.text("page")? };
        let page = service.list_deliveries(&caller.project, &id, &list).await?;
        Ok(Reply::json(200, &DeliveryPageResponse::new(&page.deliveries, page.next_page)))
    }
}

/// `POST /webhooks/{webhookId}/deliveries/{eventId}/redeliver`: 202, queued again from its
/// first attempt.
pub struct RedeliverWebhook;

impl Action for RedeliverWebhook {
    const NAME: &'static str = "redeliver-webhook";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/webhooks/{webhookId}/deliveries/{eventId}/redeliver";
    const SCOPE: Scope = Scope::Write;
    type Service = Webhooks;

    async fn handle(service: &Webhooks, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let id = webhook_id(&request.params)?;
        let event =
            EventId::parse(&request.params.required_text("eventId")?).ok_or_else(|| ApiError::not_found("delivery"))?;
        request.body.finish()?;
        let delivery = service.redeliver(&caller.project, &id, &event).await?;
        Ok(Reply::json(202, &DeliveryResponse::new(&delivery)))
    }
}
