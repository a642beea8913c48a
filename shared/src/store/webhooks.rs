//! Webhooks: a project's endpoints (`P#<project>#WH`, sk = webhook id) and the deliveries to
//! each (`P#<project>#WHD#<webhookId>`, sk = event id).
//!
//! A delivery is created once per (endpoint, event) by a conditional put, and every attempt
//! is recorded on condition that the attempt count is still the one read before it: of two
//! deliverers racing over one delivery (SQS delivers at least once), one records.

use super::attribute_names::{
    ATTEMPTS, BODY, CREATED_AT, DELIVERED_AT, DESCRIPTION, EVENT_ID, KIND, LAST_ATTEMPT_AT, LAST_STATUS,
    NEXT_ATTEMPT_AT, PROJECT_ID, STATUS, WEBHOOK_EVENTS, WEBHOOK_ID, WEBHOOK_SECRET, WEBHOOK_URL,
};
use super::attributes::{key, n, s, Item, Reader, Update};
use super::keys::{self, PK};
use super::{Store, StoreError};
use crate::domain::events::{EventId, EventKind};
use crate::domain::names::ProjectId;
use crate::domain::sealed::SealedSecret;
use crate::domain::time::Millis;
use crate::domain::webhooks::{Delivery, DeliveryRef, DeliveryStatus, Endpoint, EventFilter, WebhookId, WebhookUrl};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

/// Items read per Query while a status filter thins a page out.
const FILTERED_QUERY_LIMIT: i32 = 100;

fn endpoint_item(endpoint: &Endpoint) -> Item {
    let mut item = key(keys::webhook_pk(&endpoint.project), endpoint.id.as_str());
    item.insert(PROJECT_ID.into(), s(endpoint.project.as_str()));
    item.insert(WEBHOOK_ID.into(), s(endpoint.id.as_str()));
    item.insert(WEBHOOK_URL.into(), s(endpoint.url.as_str()));
    let events = endpoint.events.names().into_iter().map(s).collect();
    item.insert(WEBHOOK_EVENTS.into(), AttributeValue::L(events));
    if let Some(description) = &endpoint.description {
        item.insert(DESCRIPTION.into(), s(description));
    }
    item.insert(CREATED_AT.into(), n(endpoint.created_at.epoch_ms()));
    item.insert(WEBHOOK_SECRET.into(), s(endpoint.sealed_secret.as_str()));
    item
}

fn endpoint_from_item(item: &Item) -> Result<Endpoint, StoreError> {
    let r = Reader::new(item, "webhook endpoint");
    Ok(Endpoint {
        project: r.parsed(PROJECT_ID, ProjectId::parse)?,
        id: r.parsed(WEBHOOK_ID, |t| WebhookId::parse(t).ok_or(()))?,
        url: WebhookUrl::from_stored(r.str(WEBHOOK_URL)?),
        events: EventFilter::parse(&r.strings(WEBHOOK_EVENTS)?)
            .map_err(|e| StoreError::Corrupt(format!("webhook endpoint {WEBHOOK_EVENTS}: {e}")))?,
        description: r.opt_str(DESCRIPTION)?.map(str::to_owned),
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        sealed_secret: SealedSecret::from_stored(r.str(WEBHOOK_SECRET)?),
    })
}

fn delivery_key(delivery: &DeliveryRef) -> Item {
    key(keys::delivery_pk(&delivery.project, &delivery.webhook_id), delivery.event_id.as_str())
}

fn delivery_item(delivery: &Delivery) -> Item {
    let mut item = delivery_key(&delivery.reference());
    item.insert(PROJECT_ID.into(), s(delivery.project.as_str()));
    item.insert(WEBHOOK_ID.into(), s(delivery.webhook_id.as_str()));
    item.insert(EVENT_ID.into(), s(delivery.event_id.as_str()));
    item.insert(KIND.into(), s(delivery.kind.as_str()));
    item.insert(BODY.into(), s(&delivery.body));
    item.insert(STATUS.into(), s(delivery.status.as_str()));
    item.insert(ATTEMPTS.into(), n(delivery.attempts));
    item.insert(CREATED_AT.into(), n(delivery.created_at.epoch_ms()));
    if let Some(last) = &delivery.last_status {
        item.insert(LAST_STATUS.into(), s(last));
    }
    for (name, at) in [
        (LAST_ATTEMPT_AT, delivery.last_attempt_at),
        (NEXT_ATTEMPT_AT, delivery.next_attempt_at),
        (DELIVERED_AT, delivery.delivered_at),
    ] {
        if let Some(at) = at {
            item.insert(name.into(), n(at.epoch_ms()));
        }
    }
    item
}

fn delivery_from_item(item: &Item) -> Result<Delivery, StoreError> {
    let r = Reader::new(item, "webhook delivery");
    let at = |name: &str| r.opt_number::<i64>(name).map(|v| v.map(Millis::from_epoch_ms));
    Ok(Delivery {
        project: r.parsed(PROJECT_ID, ProjectId::parse)?,
        webhook_id: r.parsed(WEBHOOK_ID, |t| WebhookId::parse(t).ok_or(()))?,
        event_id: r.parsed(EVENT_ID, |t| EventId::parse(t).ok_or(()))?,
        kind: r.parsed(KIND, |t| EventKind::parse(t).ok_or(()))?,
        body: r.str(BODY)?.to_owned(),
        status: r.parsed(STATUS, |t| DeliveryStatus::parse(t).ok_or(()))?,
        attempts: r.number(ATTEMPTS)?,
        last_status: r.opt_str(LAST_STATUS)?.map(str::to_owned),
        last_attempt_at: at(LAST_ATTEMPT_AT)?,
        next_attempt_at: at(NEXT_ATTEMPT_AT)?,
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        delivered_at: at(DELIVERED_AT)?,
    })
}

/// How a recording write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Written,
    /// Its condition failed: the item is not in the state the write expected.
    Refused,
}

/// A page of deliveries, and the event id to read on after when more follow.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub more_after: Option<EventId>,
}

impl Store {
    /// Registers an endpoint (its id is new: an existing item is never overwritten).
    pub async fn insert_webhook(&self, endpoint: &Endpoint) -> Result<Recorded, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(endpoint_item(endpoint)))
            .condition_expression(keys::item_absent())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::Written),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(Recorded::Refused)
            }
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }

    /// A project's endpoints: one Query (there are at most a few dozen).
    pub async fn webhooks(&self, project: &ProjectId) -> Result<Vec<Endpoint>, StoreError> {
        let mut endpoints = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(keys::webhook_pk(project)))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            for item in output.items() {
                endpoints.push(endpoint_from_item(item)?);
            }
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        Ok(endpoints)
    }

    pub async fn webhook(&self, project: &ProjectId, id: &WebhookId) -> Result<Option<Endpoint>, StoreError> {
        let item = self.get(key(keys::webhook_pk(project), id.as_str())).await?;
        item.as_ref().map(endpoint_from_item).transpose()
    }

    /// Removes an endpoint (`false`: there was none). Its deliveries stay, for the record;
    /// the deliverer drops those still queued, as it finds no endpoint.
    pub async fn delete_webhook(&self, project: &ProjectId, id: &WebhookId) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::webhook_pk(project), id.as_str())))
            .condition_expression(keys::item_present())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_))) => {
                Ok(false)
            }
            Err(e) => Err(StoreError::sdk("DeleteItem", e)),
        }
    }

    /// Creates a delivery not attempted yet. `Written` also when it exists already still
    /// pending with no attempt (a publish that wrote it but failed to queue it, retried: it
    /// must be queued again); `Refused` when it exists further along (a replayed event).
    pub async fn insert_delivery(&self, delivery: &Delivery) -> Result<Recorded, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(delivery)))
            .condition_expression(format!("{} OR (#status = :pending AND #attempts = :zero)", keys::item_absent()))
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#attempts", ATTEMPTS)
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::Written),
            Err(e) if matches!(e.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Ok(Recorded::Refused)
            }
            Err(e) => Err(StoreError::sdk("PutItem", e)),
        }
    }

    /// The endpoint and the delivery a queued message names: one BatchGetItem, consistent.
    pub async fn webhook_and_delivery(
        &self,
        delivery: &DeliveryRef,
    ) -> Result<(Option<Endpoint>, Option<Delivery>), StoreError> {
        let endpoint_pk = keys::webhook_pk(&delivery.project);
        let items = self
            .batch_get(vec![key(endpoint_pk.clone(), delivery.webhook_id.as_str()), delivery_key(delivery)])
            .await?;
        let (mut endpoint, mut found) = (None, None);
        for item in &items {
            match item.get(PK).and_then(|pk| pk.as_s().ok()) {
                Some(pk) if *pk == endpoint_pk => endpoint = Some(endpoint_from_item(item)?),
                _ => found = Some(delivery_from_item(item)?),
            }
        }
        Ok((endpoint, found))
    }

    pub async fn delivery(&self, delivery: &DeliveryRef) -> Result<Option<Delivery>, StoreError> {
        let item = self.get(delivery_key(delivery)).await?;
        item.as_ref().map(delivery_from_item).transpose()
    }

    /// Records an attempt: writes `after`'s progress on condition that the delivery still
    /// counts `read_attempts` attempts (`Refused`: another deliverer recorded one meanwhile,
    /// or it was reset for a redelivery).
    pub async fn record_attempt(&self, after: &Delivery, read_attempts: u32) -> Result<Recorded, StoreError> {
        let at = |value: Option<Millis>| value.map(|at| n(at.epoch_ms()));
        let mut update = Update::default()
            .set(STATUS, s(after.status.as_str()))
            .set(ATTEMPTS, n(after.attempts))
            .set_opt(LAST_STATUS, after.last_status.as_deref().map(s))
            .set_opt(LAST_ATTEMPT_AT, at(after.last_attempt_at))
            .set_opt(NEXT_ATTEMPT_AT, at(after.next_attempt_at))
            .set_opt(DELIVERED_AT, at(after.delivered_at));
        let attempts = update.name(ATTEMPTS);
        let read = update.value(n(read_attempts));
        self.conditional_update(&after.reference(), update, format!("{attempts} = {read}")).await
    }

    /// Makes a delivery pending again with no attempts, for a redelivery; `None` when there
    /// is no such delivery.
    pub async fn reset_delivery(&self, delivery: &DeliveryRef) -> Result<Option<Delivery>, StoreError> {
        let update = Update::default()
            .set(STATUS, s(DeliveryStatus::Pending.as_str()))
            .set(ATTEMPTS, n(0))
            .remove(NEXT_ATTEMPT_AT)
            .remove(DELIVERED_AT);
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(delivery)))
            .update_expression(update.expression())
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .condition_expression(keys::item_present())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match output {
            Ok(output) => output.attributes.as_ref().map(delivery_from_item).transpose(),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(None)
            }
            Err(e) => Err(StoreError::sdk("UpdateItem", e)),
        }
    }

    async fn conditional_update(
        &self,
        delivery: &DeliveryRef,
        update: Update,
        condition: String,
    ) -> Result<Recorded, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(delivery_key(delivery)))
            .update_expression(update.expression())
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::Written),
            Err(e) if matches!(e.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Ok(Recorded::Refused)
            }
            Err(e) => Err(StoreError::sdk("UpdateItem", e)),
        }
    }

    /// A page of an endpoint's deliveries in event id order, after `after`, of one status
    /// if given. Without a status it is one Query; a status reads on until the page is full.
    pub async fn deliveries(
        &self,
        project: &ProjectId,
        webhook: &WebhookId,
        status: Option<DeliveryStatus>,
        after: Option<&EventId>,
        limit: usize,
    ) -> Result<DeliveryPage, StoreError> {
        let pk = keys::delivery_pk(project, webhook);
        let wanted = limit + 1;
        let mut start = after.map(|after| key(pk.clone(), after.as_str()));
        let mut deliveries = Vec::new();
        loop {
            let query_limit = match status {
                Some(_) => FILTERED_QUERY_LIMIT,
                None => i32::try_from(wanted - deliveries.len()).unwrap_or(i32::MAX),
            };
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(pk.clone()))
                .set_exclusive_start_key(start.take())
                .limit(query_limit);
            if let Some(status) = status {
                request = request
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", STATUS)
                    .expression_attribute_values(":status", s(status.as_str()));
            }
            let output = request.send().await.map_err(|e| StoreError::sdk("Query", e))?;
            for item in output.items() {
                deliveries.push(delivery_from_item(item)?);
            }
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() && deliveries.len() < wanted => start = Some(next),
                _ => break,
            }
        }
        let more = deliveries.len() > limit;
        deliveries.truncate(limit);
        let more_after = match more {
            true => deliveries.last().map(|d| d.event_id.clone()),
            false => None,
        };
        Ok(DeliveryPage { deliveries, more_after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sealed::SealedSecret;
    use crate::domain::webhooks::Outgoing;

    #[test]
    fn endpoints_and_deliveries_read_back_as_written() {
        let project = ProjectId::parse("acme").unwrap();
        let endpoint = Endpoint {
            project: project.clone(),
            id: WebhookId::from_random([3; 26]),
            url: WebhookUrl::from_stored("https://hooks.example.com/p"),
            events: EventFilter::parse(&["order.charged"]).unwrap(),
            description: Some("orders".into()),
            created_at: Millis::from_epoch_ms(5),
            sealed_secret: SealedSecret::from_stored("v1.xyz"),
        };
        assert_eq!(endpoint_from_item(&endpoint_item(&endpoint)).unwrap(), endpoint);
        let event = Outgoing {
            id: EventId::derive(EventKind::OrderCharged, "pk", "sk", "1"),
            kind: EventKind::OrderCharged,
            created_at: Millis::from_epoch_ms(1),
            body: "{\"a\":1}".into(),
        };
        let delivery = Delivery::new(project, endpoint.id.clone(), &event, Millis::from_epoch_ms(9));
        let (tried, _) =
            delivery.after_attempt(crate::domain::webhooks::AttemptResult::Timeout, Millis::from_epoch_ms(10), 1.0);
        assert_eq!(delivery_from_item(&delivery_item(&delivery)).unwrap(), delivery);
        assert_eq!(delivery_from_item(&delivery_item(&tried)).unwrap(), tried);
    }
}
