//! API keys, stored only as the SHA-256 of the key with the project and scopes they grant,
//! their limits (an end date, a revocation, a rate), and, for a key that signs its requests,
//! its signing secret sealed under the secrets key (see [`crate::domain::sealed`]): never the
//! key, never the secret in the clear.
//!
//! - `K#<sha256>` / `K`: the record, read on every authentication.
//! - `P#<project>#KEYS` / `<key id>`: the project's keys, each with its hash, for listing,
//!   revoking and rotating by key id; written with the record in one transaction.
//! - `P#<project>#RL#<key id>` / `<window start>`: a rate-limited key's count in one minute,
//!   gone by TTL soon after.

use super::attribute_names::{
    CREATED_AT, KEY_HASH, KEY_ID, KEY_PREFIX, LAST_USED_AT, PROJECT_ID, RATE_LIMIT, REQUESTS, REVOKED_AT, SCOPES,
    SIGNING_SECRET, VALID_UNTIL,
};
use super::attributes::{key, n, s, Item, Reader};
use super::keys::{self, API_KEY_SK, PK, SK, TTL};
use super::wallets::batch_get;
use super::{put_new, Store, StoreError};
use crate::domain::api_keys::{KeyLimits, RATE_WINDOW_MS};
use crate::domain::names::ProjectId;
use crate::domain::sealed::SealedSecret;
use crate::domain::time::Millis;
use aws_sdk_dynamodb::types::AttributeValue;

/// How stale `lastUsedAt` may get before a use writes it again: one write per key per hour,
/// not one per request.
const LAST_USED_PRECISION_MS: i64 = 3_600_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// A public handle for the key (safe to log and show), not the key.
    pub key_id: String,
    pub project_id: ProjectId,
    pub scopes: Vec<String>,
    pub created_at: Millis,
}

/// A key's record with its signing secret, sealed, when it has one, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    pub record: ApiKeyRecord,
    /// Requests with this key must be signed with the secret (`Finalse-Signature`).
    pub signing_secret: Option<SealedSecret>,
    pub limits: KeyLimits,
    /// The key's first characters, when it was stored with them.
    pub prefix: Option<String>,
    /// To the hour.
    pub last_used_at: Option<Millis>,
}

/// A key to store: its hash, record, limits, and the secret it signs with.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub hash: &'a str,
    pub record: &'a ApiKeyRecord,
    pub signing_secret: Option<&'a SealedSecret>,
    pub limits: KeyLimits,
    pub prefix: &'a str,
}

fn stored_from_item(item: &Item) -> Result<StoredApiKey, StoreError> {
    let r = Reader::new(item, "api key");
    let time =
        |name: &str| -> Result<Option<Millis>, StoreError> { Ok(r.opt_number(name)?.map(Millis::from_epoch_ms)) };
    Ok(StoredApiKey {
        record: ApiKeyRecord {
            key_id: r.str(KEY_ID)?.to_owned(),
            project_id: r.parsed(PROJECT_ID, ProjectId::parse)?,
            scopes: r.strings(SCOPES)?,
            created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        },
        signing_secret: r.opt_str(SIGNING_SECRET)?.map(SealedSecret::from_stored),
        limits: KeyLimits {
            valid_until: time(VALID_UNTIL)?,
            revoked_at: time(REVOKED_AT)?,
            rate_per_minute: r.opt_number(RATE_LIMIT)?,
        },
        prefix: r.opt_str(KEY_PREFIX)?.map(str::to_owned),
        last_used_at: time(LAST_USED_AT)?,
    })
}

impl Store {
    /// The key's record (without its signing secret, if it has one: see [`Store::stored_api_key`]).
    pub async fn api_key(&self, key_hash_hex: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.stored_api_key(key_hash_hex).await?.map(|stored| stored.record))
    }

    /// The key's record, limits and sealed signing secret: one GetItem.
    pub async fn stored_api_key(&self, key_hash_hex: &str) -> Result<Option<StoredApiKey>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::api_key_pk(key_hash_hex)))
            .key(SK, s(API_KEY_SK))
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(stored_from_item).transpose()
    }

    pub async fn insert_api_key(&self, key_hash_hex: &str, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let new =
            NewApiKey { hash: key_hash_hex, record, signing_secret: None, limits: KeyLimits::default(), prefix: "" };
        self.insert_new_api_key(&new).await
    }

    /// A key whose requests must be signed with the secret sealed in `signing_secret`.
    pub async fn insert_signed_api_key(
        &self,
        key_hash_hex: &str,
        record: &ApiKeyRecord,
        signing_secret: &SealedSecret,
    ) -> Result<(), StoreError> {
        let new = NewApiKey {
            hash: key_hash_hex,
            record,
            signing_secret: Some(signing_secret),
            limits: KeyLimits::default(),
            prefix: "",
        };
        self.insert_new_api_key(&new).await
    }

    /// The key's record and its place in the project's keys: one transaction.
    pub async fn insert_new_api_key(&self, new: &NewApiKey<'_>) -> Result<(), StoreError> {
        let record = new.record;
        let mut item = key(keys::api_key_pk(new.hash), API_KEY_SK);
        item.insert(KEY_ID.into(), s(&record.key_id));
        item.insert(PROJECT_ID.into(), s(record.project_id.as_str()));
        item.insert(SCOPES.into(), AttributeValue::Ss(record.scopes.clone()));
        item.insert(CREATED_AT.into(), n(record.created_at.epoch_ms()));
        let optional = [
            (SIGNING_SECRET, new.signing_secret.map(|secret| s(secret.as_str()))),
            (KEY_PREFIX, Some(new.prefix).filter(|p| !p.is_empty()).map(s)),
            (VALID_UNTIL, new.limits.valid_until.map(|at| n(at.epoch_ms()))),
            (REVOKED_AT, new.limits.revoked_at.map(|at| n(at.epoch_ms()))),
            (RATE_LIMIT, new.limits.rate_per_minute.map(n)),
        ];
        item.extend(optional.into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))));
        let mut index = key(keys::api_key_index_pk(&record.project_id), record.key_id.clone());
        index.insert(KEY_HASH.into(), s(new.hash));
        self.transact(vec![put_new(&self.table, item)?, put_new(&self.table, index)?]).await
    }

    /// The project's keys, oldest id first: one Query and one BatchGetItem per 100 keys.
    pub async fn list_api_keys(&self, project: &ProjectId) -> Result<Vec<StoredApiKey>, StoreError> {
        let mut hashes = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(keys::api_key_index_pk(project)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::sdk("Query", e))?;
            for item in output.items() {
                hashes.push(Reader::new(item, "api key index").str(KEY_HASH)?.to_owned());
            }
            match output.last_evaluated_key {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let records = batch_get(self, hashes.iter().map(|hash| key(keys::api_key_pk(hash), API_KEY_SK)).collect());
        let mut keys: Vec<StoredApiKey> = records.await?.iter().map(stored_from_item).collect::<Result<_, _>>()?;
        keys.sort_by(|a, b| a.record.created_at.cmp(&b.record.created_at).then(a.record.key_id.cmp(&b.record.key_id)));
        Ok(keys)
    }

    /// The hash of the project's key with this id (one GetItem), if the project has it.
    async fn api_key_hash(&self, project: &ProjectId, key_id: &str) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::api_key_index_pk(project), key_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::sdk("GetItem", e))?;
        output.item.as_ref().map(|item| Ok(Reader::new(item, "api key index").str(KEY_HASH)?.to_owned())).transpose()
    }

    /// Sets one of the key's limits (`revokedAt` or `validUntil`) to `at`, unless it is set
    /// to an earlier time already; `false` when the project has no such key.
    pub async fn limit_api_key(
        &self,
        project: &ProjectId,
        key_id: &str,
        limit: KeyLimitChange,
    ) -> Result<bool, StoreError> {
        let Some(hash) = self.api_key_hash(project, key_id).await? else { return Ok(false) };
        let (attribute, at) = match limit {
            KeyLimitChange::Revoke(at) => (REVOKED_AT, at),
            KeyLimitChange::EndAt(at) => (VALID_UNTIL, at),
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::api_key_pk(&hash), API_KEY_SK)))
            .update_expression("SET #limit = :at")
            .condition_expression("#project = :project AND (attribute_not_exists(#limit) OR #limit > :at)")
            .expression_attribute_names("#limit", attribute)
            .expression_attribute_names("#project", PROJECT_ID)
            .expression_attribute_values(":at", n(at.epoch_ms()))
            .expression_attribute_values(":project", s(project.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // Earlier already: the key is already as limited as asked, or more.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(true),
            Err(e) => Err(StoreError::sdk("UpdateItem", e)),
        }
    }

    /// Records that the key was used at `now`, when what is recorded is more than an hour
    /// older (a failed condition means it is recent enough).
    pub async fn touch_api_key(&self, key_hash_hex: &str, now: Millis) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::api_key_pk(key_hash_hex), API_KEY_SK)))
            .update_expression("SET #used = :now")
            .condition_expression("attribute_exists(#pk) AND (attribute_not_exists(#used) OR #used < :stale)")
            .expression_attribute_names("#used", LAST_USED_AT)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":now", n(now.epoch_ms()))
            .expression_attribute_values(":stale", n(now.epoch_ms() - LAST_USED_PRECISION_MS))
            .send()
            .await;
        match result {
            Err(e) if !e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::sdk("UpdateItem", e))
            }
            _ => Ok(()),
        }
    }

    /// Counts one request of the key in the window starting at `window`, if fewer than `limit`
    /// were counted there: one conditional UpdateItem. `false`: the window is full.
    pub async fn count_request(
        &self,
        project: &ProjectId,
        key_id: &str,
        window: Millis,
        limit: u32,
    ) -> Result<bool, StoreError> {
        // Gone by TTL a minute or so after the window (TTL deletes within days, but nothing
        // reads an old window again).
        let expires_s = (window.epoch_ms() + 2 * RATE_WINDOW_MS) / 1000;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::rate_window_pk(project, key_id), window.epoch_ms().to_string())))
            .update_expression("ADD #requests :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#requests) OR #requests < :limit")
            .expression_attribute_names("#requests", REQUESTS)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(expires_s))
            .expression_attribute_values(":limit", n(limit))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(StoreError::sdk("UpdateItem", e)),
        }
    }
}

/// What [`Store::limit_api_key`] sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLimitChange {
    /// The key stops working at once (at this moment).
    Revoke(Millis),
    /// The key stops working at this moment (a rotation's grace period ending).
    EndAt(Millis),
}
