//! Signed requests' nonces, each usable once per API key: one conditional PutItem per signed
//! request, so that of any number of requests with one nonce, concurrent or not, exactly one
//! writes the item and the others are refused. The item carries the TTL attribute: once its
//! nonce is outside the acceptance window nothing can use it anyway, and TTL tidies it away.
//!
//! The item: `pk = P#<project>#N#<keyId>#<nonce ms>`, `sk = N`, the request that used it
//! (`requestId`), when (`createdAt`), and `expiresAt` (TTL, seconds).

use super::attribute_names::{CREATED_AT, REQUEST_ID};
use super::attributes::{n, s, Reader};
use super::keys::{self, PK, SK, TTL};
use super::{Store, StoreError};
use crate::domain::names::ProjectId;
use crate::domain::time::Millis;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

// Belong in `keys` with every other key; kept here until that file takes them.
/// One nonce of one API key. The project comes first, as in every tenant-owned key.
pub fn nonce_pk(project: &ProjectId, key_id: &str, nonce_ms: i64) -> String {
    format!("P#{project}#N#{key_id}#{nonce_ms}")
}

pub const NONCE_SK: &str = "N";

/// A nonce's first use, or a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceUse {
    First,
    Reused,
}

/// One use of a nonce, to record.
#[derive(Debug, Clone)]
pub struct NonceClaim<'a> {
    pub project: &'a ProjectId,
    pub key_id: &'a str,
    pub nonce_ms: i64,
    /// Unique to the request: tells our own earlier attempt (whose answer was lost and which
    /// the SDK retried) from another request's use.
    pub request_id: &'a str,
    pub now: Millis,
    /// When the nonce stops being acceptable anyway; the TTL is set just past it.
    pub usable_until: Millis,
}

impl Store {
    /// Records the nonce's use: `First` exactly once per (key, nonce).
    pub async fn use_nonce(&self, claim: &NonceClaim<'_>) -> Result<NonceUse, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(nonce_pk(claim.project, claim.key_id, claim.nonce_ms)))
            .item(SK, s(NONCE_SK))
            .item(REQUEST_ID, s(claim.request_id))
            .item(CREATED_AT, n(claim.now.epoch_ms()))
            // TTL deletes late, never early: the item is there for as long as it matters.
            .item(TTL, n(claim.usable_until.epoch_seconds() + 1))
            .condition_expression(keys::item_absent())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(NonceUse::First),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let earlier = match &failed.item {
                        Some(item) => Reader::new(item, "nonce").opt_str(REQUEST_ID)?.map(str::to_owned),
                        None => None,
                    };
                    // The SDK retried a PutItem of ours that had landed: still our first use.
                    match earlier.as_deref() == Some(claim.request_id) {
                        true => Ok(NonceUse::First),
                        false => Ok(NonceUse::Reused),
                    }
                }
                _ => Err(StoreError::sdk("PutItem", error)),
            },
        }
    }
}
