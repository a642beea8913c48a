//! The `transactionInProgress` lock: a lease on the balance head taken with a conditional
//! write. Commits are fenced on the owner, so a holder whose lease ran out can never write;
//! correctness never depends on clocks, only liveness does.

use super::attribute_names::{IN_PROGRESS, LOCK_EXPIRES_AT, LOCK_OWNER};
use super::attributes::{boolean, n, s, Update};
use super::balances::HeadRecord;
use super::keys::{self, HEAD_SK, PK, SK};
use super::{Store, StoreError};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::time::Millis;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

#[derive(Debug)]
pub enum TryLock {
    /// Ours, with the head as it is now.
    Locked(Box<HeadRecord>),
    /// Someone else holds a lease until `until`.
    Busy { until: Millis },
    /// No such balance (in this project).
    Missing,
}

impl Store {
    /// Takes the lock and reads the head in one round trip. A free lock, an expired lease, or
    /// one held by `previous_owner` (this request's own earlier attempt, now fenced off for
    /// good) all count as available.
    pub async fn try_lock(
        &self,
        project: &ProjectId,
        id: BalanceId,
        owner: &str,
        previous_owner: Option<&str>,
        now: Millis,
        lease_ms: i64,
    ) -> Result<TryLock, StoreError> {
        let mut update = Update::default()
            .set(LOCK_OWNER, s(owner))
            .set(LOCK_EXPIRES_AT, n(now.plus_ms(lease_ms).epoch_ms()))
            .set(IN_PROGRESS, boolean(true));
        let owner_name = update.name(LOCK_OWNER);
        let expires_name = update.name(LOCK_EXPIRES_AT);
        let now_value = update.value(n(now.epoch_ms()));
        let takeover = match previous_owner {
            Some(previous) => format!(" OR {owner_name} = {}", update.value(s(previous))),
            None => String::new(),
        };
        let condition = format!(
            "{} AND (attribute_not_exists({owner_name}) OR {expires_name} < {now_value}{takeover})",
            keys::item_present()
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(keys::balance_pk(project, id)))
            .key(SK, s(HEAD_SK))
            .update_expression(update.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let item = output.attributes.ok_or_else(|| StoreError::Corrupt("lock: no item returned".into()))?;
                Ok(TryLock::Locked(Box::new(HeadRecord::from_item(&item)?)))
            }
            Err(error) => {
                let failed = match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => Some(failed),
                    _ => None,
                };
                match failed {
                    Some(failed) => match &failed.item {
                        Some(item) => {
                            let head = HeadRecord::from_item(item)?;
                            let until = head.lock.map_or(now, |lock| lock.expires_at);
                            Ok(TryLock::Busy { until })
                        }
                        None => Ok(TryLock::Missing),
                    },
                    None => Err(StoreError::sdk("UpdateItem", error)),
                }
            }
        }
    }

    /// Gives the lock back without changing the balance. If it is no longer ours (the lease
    /// ran out and someone took it), there is nothing to give back.
    pub async fn unlock(&self, project: &ProjectId, id: BalanceId, owner: &str) -> Result<(), StoreError> {
        let mut update = Update::default().remove(LOCK_OWNER).remove(LOCK_EXPIRES_AT).set(IN_PROGRESS, boolean(false));
        let owner_name = update.name(LOCK_OWNER);
        let owner_value = update.value(s(owner));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(keys::balance_pk(project, id)))
            .key(SK, s(HEAD_SK))
            .update_expression(update.expression())
            .condition_expression(format!("{owner_name} = {owner_value}"))
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }
}
