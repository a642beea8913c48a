//! API keys, stored only as the SHA-256 of the key with the project and scopes they grant,
//! and, for a key that signs its requests, its signing secret sealed under the secrets key
//! (see [`crate::domain::sealed`]): never the secret in the clear.

use super::attribute_names::{CREATED_AT, KEY_ID, PROJECT_ID, SCOPES};
use super::attributes::{n, s, Reader};
use super::keys::{self, API_KEY_SK, PK, SK};
use super::{Store, StoreError};
use crate::domain::names::ProjectId;
use crate::domain::sealed::SealedSecret;
use crate::domain::time::Millis;
use aws_sdk_dynamodb::types::AttributeValue;

/// The sealed signing secret of a key that signs its requests (absent on every other key).
// Belongs in `attribute_names` with the others; kept here until that file takes it.
const SIGNING_SECRET: &str = "signingSecret";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// A public handle for the key (safe to log and show), not the key.
    pub key_id: String,
    pub project_id: ProjectId,
    pub scopes: Vec<String>,
    pub created_at: Millis,
}

/// A key's record with its signing secret, sealed, when it has one. Beside the record rather
/// than in it, so that every key written without a secret is written exactly as before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    pub record: ApiKeyRecord,
    /// Requests with this key must be signed with the secret (`Finalse-Signature`).
    pub signing_secret: Option<SealedSecret>,
}

impl Store {
    /// The key's record (without its signing secret, if it has one: see [`Store::stored_api_key`]).
    pub async fn api_key(&self, key_hash_hex: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.stored_api_key(key_hash_hex).await?.map(|stored| stored.record))
    }

    /// The key's record and sealed signing secret: one GetItem.
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
        let Some(item) = output.item else {
            return Ok(None);
        };
        let r = Reader::new(&item, "api key");
        let record = ApiKeyRecord {
            key_id: r.str(KEY_ID)?.to_owned(),
            project_id: r.parsed(PROJECT_ID, ProjectId::parse)?,
            scopes: r.strings(SCOPES)?,
            created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        };
        let signing_secret = r.opt_str(SIGNING_SECRET)?.map(SealedSecret::from_stored);
        Ok(Some(StoredApiKey { record, signing_secret }))
    }

    pub async fn insert_api_key(&self, key_hash_hex: &str, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.insert_stored_api_key(key_hash_hex, record, None).await
    }

    /// A key whose requests must be signed with the secret sealed in `signing_secret`.
    pub async fn insert_signed_api_key(
        &self,
        key_hash_hex: &str,
        record: &ApiKeyRecord,
        signing_secret: &SealedSecret,
    ) -> Result<(), StoreError> {
        self.insert_stored_api_key(key_hash_hex, record, Some(signing_secret)).await
    }

    async fn insert_stored_api_key(
        &self,
        key_hash_hex: &str,
        record: &ApiKeyRecord,
        signing_secret: Option<&SealedSecret>,
    ) -> Result<(), StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::api_key_pk(key_hash_hex)))
            .item(SK, s(API_KEY_SK))
            .item(KEY_ID, s(&record.key_id))
            .item(PROJECT_ID, s(record.project_id.as_str()))
            .item(SCOPES, AttributeValue::Ss(record.scopes.clone()))
            .item(CREATED_AT, n(record.created_at.epoch_ms()));
        if let Some(secret) = signing_secret {
            put = put.item(SIGNING_SECRET, s(secret.as_str()));
        }
        put.condition_expression(keys::item_absent()).send().await.map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }
}
