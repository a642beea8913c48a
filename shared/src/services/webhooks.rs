//! Webhooks: the endpoints a project registers, the fan-out of published events into one
//! delivery per endpoint that wants them, and the delivery attempts themselves.
//!
//! Delivery is at least once: a delivery is queued (SQS) after it is recorded, each attempt
//! is recorded on condition of the attempt count it read, and a receiver dedupes by the
//! `Pocketbook-Event-Id` header, which every attempt and redelivery of an event repeats.

mod sender;

use crate::bus::{BusError, DeliveryQueue};
use crate::domain::events::EventId;
use crate::domain::names::ProjectId;
use crate::domain::page_token::TokenKey;
use crate::domain::sealed::{Secret, SecretsKey, NONCE_BYTES};
use crate::domain::time::Millis;
use crate::domain::webhooks::{
    sign, Delivery, DeliveryRef, DeliveryStatus, Endpoint, EventFilter, InvalidUrl, Outgoing, WebhookId, WebhookSecret,
    WebhookUrl, ATTEMPT_HEADER, EVENT_ID_HEADER, EVENT_KIND_HEADER, JITTER, MAX_ENDPOINTS, SIGNATURE_HEADER,
    WEBHOOK_ID_RANDOM_CHARS,
};
use crate::engine::Engine;
use crate::store::{Recorded, StoreError};
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderName, HeaderValue};
use rand::{Rng, RngCore};
use sender::Sender;
use std::time::Duration;

/// Deliveries written at once by a fan-out.
const CONCURRENT_WRITES: usize = 16;

/// How attempts are made: one attempt's timeout, and whether `http://` and loopback URLs may
/// be registered (local runs and tests only).
#[derive(Debug, Clone, Copy)]
pub struct WebhookSettings {
    pub timeout: Duration,
    pub allow_insecure: bool,
}

#[derive(Clone)]
pub struct Webhooks {
    engine: Engine,
    secrets: SecretsKey,
    page_tokens: TokenKey,
    queue: Option<DeliveryQueue>,
    sender: Sender,
    settings: WebhookSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("url {0}")]
    InvalidUrl(#[from] InvalidUrl),
    #[error("a project may register at most {MAX_ENDPOINTS} webhook endpoints")]
    TooManyEndpoints,
    #[error("webhook not found")]
    NotFound,
    #[error("delivery not found")]
    DeliveryNotFound,
    #[error("bad pagination token")]
    BadPage,
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The endpoint's sealed secret does not open: the secrets key changed.
    #[error("the signing secret of webhook {0} cannot be opened under this POCKETBOOK_SECRETS_KEY")]
    Secret(WebhookId),
}

/// A new endpoint, its URL as given (checked against the settings here).
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: EventFilter,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeliveryListRequest {
    pub status: Option<DeliveryStatus>,
    pub limit: usize,
    pub page: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
    pub next_page: Option<String>,
}

/// What one attempt of a queued delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Not delivered yet: try again after this long (the message is hidden that long).
    RetryAfter(Duration),
    /// The last attempt failed: the delivery is `failed` until a redelivery.
    GaveUp,
    /// Nothing to do: the endpoint or the delivery is gone, already delivered or failed, or
    /// another deliverer recorded this attempt first.
    Nothing,
}

impl Webhooks {
    pub fn new(
        engine: Engine,
        secrets: SecretsKey,
        page_tokens: TokenKey,
        queue: Option<DeliveryQueue>,
        settings: WebhookSettings,
    ) -> Result<Self, String> {
        let sender = Sender::new(settings.timeout)?;
        Ok(Self { engine, secrets, page_tokens, queue, sender, settings })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn queue(&self) -> Result<&DeliveryQueue, WebhookError> {
        self.queue.as_ref().ok_or(WebhookError::Bus(BusError::NotConfigured("DELIVERY_QUEUE_URL")))
    }

    /// Registers an endpoint with a new signing secret, which is returned here and never
    /// again (the table keeps it sealed, bound to the endpoint's id).
    pub async fn create(
        &self,
        project: &ProjectId,
        new: NewWebhook,
    ) -> Result<(Endpoint, WebhookSecret), WebhookError> {
        let url = WebhookUrl::parse(&new.url, self.settings.allow_insecure)?;
        let store = self.engine.store();
        // Counted before the write: two creates racing at the limit may both pass, which
        // bounds the fan-out just as well.
        if store.webhooks(project).await?.len() >= MAX_ENDPOINTS {
            return Err(WebhookError::TooManyEndpoints);
        }
        let (mut id_bytes, mut secret_bytes, mut nonce) =
            ([0u8; WEBHOOK_ID_RANDOM_CHARS], [0u8; 32], [0u8; NONCE_BYTES]);
        for bytes in [&mut id_bytes[..], &mut secret_bytes[..], &mut nonce[..]] {
            rand::rng().fill_bytes(bytes);
        }
        let id = WebhookId::from_random(id_bytes);
        let secret = WebhookSecret::from_random(secret_bytes);
        let sealed = self.secrets.seal(id.as_str(), &Secret::new(secret.expose().to_owned()), nonce);
        let endpoint = Endpoint {
            project: project.clone(),
            id,
            url,
            events: new.events,
            description: new.description.filter(|d| !d.is_empty()),
            created_at: self.engine.clock().now(),
            sealed_secret: sealed,
        };
        match store.insert_webhook(&endpoint).await? {
            Recorded::Written => Ok((endpoint, secret)),
            // 130 random bits never collide; should they, nothing was overwritten.
            Recorded::Refused => Err(WebhookError::Store(StoreError::Corrupt("webhook id collision".into()))),
        }
    }

    pub async fn list(&self, project: &ProjectId) -> Result<Vec<Endpoint>, WebhookError> {
        Ok(self.engine.store().webhooks(project).await?)
    }

    pub async fn get(&self, project: &ProjectId, id: &WebhookId) -> Result<Endpoint, WebhookError> {
        self.engine.store().webhook(project, id).await?.ok_or(WebhookError::NotFound)
    }

    /// Removes the endpoint: nothing more is delivered to it (queued deliveries are dropped).
    pub async fn delete(&self, project: &ProjectId, id: &WebhookId) -> Result<(), WebhookError> {
        match self.engine.store().delete_webhook(project, id).await? {
            true => Ok(()),
            false => Err(WebhookError::NotFound),
        }
    }

    /// A page of the endpoint's deliveries (of one status, if asked). The page token seals the
    /// last event id of the page, bound to the project, the endpoint and the status filter.
    pub async fn list_deliveries(
        &self,
        project: &ProjectId,
        id: &WebhookId,
        request: &DeliveryListRequest,
    ) -> Result<DeliveryList, WebhookError> {
        self.get(project, id).await?;
        let status = request.status.map_or("", DeliveryStatus::as_str);
        let scope = [project.as_str(), "webhook-deliveries", id.as_str(), status];
        let after = match &request.page {
            None => None,
            Some(token) => {
                let payload = self.page_tokens.open(&scope, token).map_err(|_| WebhookError::BadPage)?;
                let text = String::from_utf8(payload).map_err(|_| WebhookError::BadPage)?;
                Some(EventId::parse(&text).ok_or(WebhookError::BadPage)?)
            }
        };
        let page = self.engine.store().deliveries(project, id, request.status, after.as_ref(), request.limit).await?;
        let next_page = page.more_after.map(|last| self.page_tokens.seal(&scope, last.as_str().as_bytes()));
        Ok(DeliveryList { deliveries: page.deliveries, next_page })
    }

    /// Sends a delivery again from its first attempt (a failed one, typically, once the
    /// receiver is fixed): same event id, same body, a fresh schedule.
    pub async fn redeliver(
        &self,
        project: &ProjectId,
        id: &WebhookId,
        event: &EventId,
    ) -> Result<Delivery, WebhookError> {
        self.get(project, id).await?;
        let reference = DeliveryRef { project: project.clone(), webhook_id: id.clone(), event_id: event.clone() };
        let delivery = self.engine.store().reset_delivery(&reference).await?.ok_or(WebhookError::DeliveryNotFound)?;
        // Reset first: a failed send leaves it pending with no attempts, and asking again
        // queues it.
        self.queue()?.send(std::slice::from_ref(&reference)).await?;
        tracing::info!(project = %project, webhookId = %id, eventId = %event, "delivery queued again");
        Ok(delivery)
    }

    /// Records one delivery per (event, endpoint that wants its kind) and queues them in one
    /// send. A delivery recorded before and still pending with no attempt is queued again (a
    /// publish that failed after writing it); any other existing one is left alone, so a
    /// replayed event queues nothing twice. Returns how many deliveries it queued.
    pub async fn fan_out(&self, project: &ProjectId, events: &[Outgoing]) -> Result<usize, WebhookError> {
        if events.is_empty() {
            return Ok(0);
        }
        let endpoints = self.engine.store().webhooks(project).await?;
        let now = self.engine.clock().now();
        let deliveries: Vec<Delivery> = events
            .iter()
            .flat_map(|event| {
                endpoints
                    .iter()
                    .filter(|endpoint| endpoint.events.wants(event.kind))
                    .map(|endpoint| Delivery::new(project.clone(), endpoint.id.clone(), event, now))
            })
            .collect();
        if deliveries.is_empty() {
            return Ok(0);
        }
        let queue = self.queue()?;
        let mut queued = Vec::with_capacity(deliveries.len());
        for chunk in deliveries.chunks(CONCURRENT_WRITES) {
            let writes = chunk.iter().map(|delivery| self.engine.store().insert_delivery(delivery));
            for (delivery, recorded) in chunk.iter().zip(futures_util::future::join_all(writes).await) {
                if recorded? == Recorded::Written {
                    queued.push(delivery.reference());
                }
            }
        }
        if !queued.is_empty() {
            queue.send(&queued).await?;
        }
        Ok(queued.len())
    }

    /// One attempt of a queued delivery, timed by the engine's clock.
    pub async fn deliver(&self, reference: &DeliveryRef) -> Result<DeliveryOutcome, WebhookError> {
        let store = self.engine.store();
        let (endpoint, delivery) = store.webhook_and_delivery(reference).await?;
        let (Some(endpoint), Some(delivery)) = (endpoint, delivery) else {
            return Ok(DeliveryOutcome::Nothing);
        };
        if delivery.status.is_final() {
            return Ok(DeliveryOutcome::Nothing);
        }
        let now = self.engine.clock().now();
        if let Some(next) = delivery.next_attempt_at.filter(|next| *next > now) {
            // SQS handed it back early (a visibility change failed, or a duplicate message).
            return Ok(DeliveryOutcome::RetryAfter(until(now, next)));
        }
        let secret = self
            .secrets
            .open(endpoint.id.as_str(), &endpoint.sealed_secret)
            .ok()
            .and_then(|secret| WebhookSecret::from_opened(secret.expose().to_owned()))
            .ok_or_else(|| WebhookError::Secret(endpoint.id.clone()))?;
        let attempt = delivery.attempts.saturating_add(1);
        let headers = headers(&delivery, attempt, &sign(&secret, now.epoch_seconds(), &delivery.body));
        let result = self.sender.post(endpoint.url.as_str(), headers, delivery.body.clone()).await;
        let jitter = rand::rng().random_range(JITTER);
        let (after, delay) = delivery.after_attempt(result, self.engine.clock().now(), jitter);
        if store.record_attempt(&after, delivery.attempts).await? == Recorded::Refused {
            return Ok(DeliveryOutcome::Nothing);
        }
        tracing::info!(
            project = %reference.project,
            webhookId = %reference.webhook_id,
            eventId = %reference.event_id,
            kind = delivery.kind.as_str(),
            attempt,
            lastStatus = after.last_status.as_deref(),
            status = after.status.as_str(),
            retryInMs = delay.map(|d| d.as_millis() as u64),
            "webhook attempt"
        );
        Ok(match (after.status, delay) {
            (DeliveryStatus::Delivered, _) => DeliveryOutcome::Delivered,
            (_, Some(delay)) => DeliveryOutcome::RetryAfter(delay),
            _ => DeliveryOutcome::GaveUp,
        })
    }
}

fn until(now: Millis, then: Millis) -> Duration {
    Duration::from_millis(u64::try_from(then.epoch_ms() - now.epoch_ms()).unwrap_or(0))
}

/// The headers of an attempt. Values that cannot be a header (none of ours) are left out
/// rather than failing the attempt.
fn headers(delivery: &Delivery, attempt: u32, signature: &str) -> Vec<(HeaderName, HeaderValue)> {
    let value = |text: &str| HeaderValue::from_str(text).ok();
    let mut signature = value(signature);
    if let Some(signature) = &mut signature {
        signature.set_sensitive(true);
    }
    [
        (CONTENT_TYPE, Some(HeaderValue::from_static("application/json"))),
        (USER_AGENT, Some(HeaderValue::from_static("Pocketbook-Webhooks/1"))),
        (HeaderName::from_static(SIGNATURE_HEADER), signature),
        (HeaderName::from_static(EVENT_ID_HEADER), value(delivery.event_id.as_str())),
        (HeaderName::from_static(EVENT_KIND_HEADER), value(delivery.kind.as_str())),
        (HeaderName::from_static(ATTEMPT_HEADER), value(&attempt.to_string())),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect()
}
