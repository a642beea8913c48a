//! The JSON answers of the webhook routes: endpoints (the signing secret only in the answer
//! that creates one), deliveries, and lists of them.

use crate::domain::webhooks::{Delivery, Endpoint, WebhookSecret};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointResponse {
    pub id: String,
    pub url: String,
    pub events: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: String,
}

impl EndpointResponse {
    pub fn new(endpoint: &Endpoint) -> Self {
        Self {
            id: endpoint.id.to_string(),
            url: endpoint.url.as_str().to_owned(),
            events: endpoint.events.names(),
            description: endpoint.description.clone(),
            created_at: endpoint.created_at.to_iso8601(),
        }
    }
}

/// The answer to a create: the endpoint and, this once, its signing secret.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedEndpointResponse {
    #[serde(flatten)]
    pub endpoint: EndpointResponse,
    pub secret: String,
}

impl CreatedEndpointResponse {
    pub fn new(endpoint: &Endpoint, secret: &WebhookSecret) -> Self {
        Self { endpoint: EndpointResponse::new(endpoint), secret: secret.expose().to_owned() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointList {
    pub webhooks: Vec<EndpointResponse>,
}

impl EndpointList {
    pub fn new(endpoints: &[Endpoint]) -> Self {
        Self { webhooks: endpoints.iter().map(EndpointResponse::new).collect() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeletedEndpoint {
    pub id: String,
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryResponse {
    pub event_id: String,
    pub webhook_id: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub attempts: u32,
    pub last_status: Option<String>,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

impl DeliveryResponse {
    pub fn new(delivery: &Delivery) -> Self {
        let time = |at: Option<crate::domain::time::Millis>| at.map(|at| at.to_iso8601());
        Self {
            event_id: delivery.event_id.to_string(),
            webhook_id: delivery.webhook_id.to_string(),
            kind: delivery.kind.as_str(),
            status: delivery.status.as_str(),
            attempts: delivery.attempts,
            last_status: delivery.last_status.clone(),
            last_attempt_at: time(delivery.last_attempt_at),
            next_attempt_at: time(delivery.next_attempt_at),
            created_at: delivery.created_at.to_iso8601(),
            delivered_at: time(delivery.delivered_at),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPageResponse {
    pub deliveries: Vec<DeliveryResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
}

impl DeliveryPageResponse {
    pub fn new(deliveries: &[Delivery], next_page: Option<String>) -> Self {
        Self { deliveries: deliveries.iter().map(DeliveryResponse::new).collect(), next_page }
    }
}
