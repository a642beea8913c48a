//! API keys, stored only as the SHA-256 of the key with the project and scopes they grant.

use super::attribute_names::{CREATED_AT, KEY_ID, PROJECT_ID, SCOPES};
use super::attributes::{n, s, Reader};
use super::keys::{self, API_KEY_SK, PK, SK};
use super::{Store, StoreError};
use crate::domain::names::ProjectId;
use crate::domain::time::Millis;
use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// A public handle for the key (safe to log and show), not the key.
    pub key_id: String,
    pub project_id: ProjectId,
    pub scopes: Vec<String>,
    pub created_at: Millis,
}

impl Store {
    pub async fn api_key(&self, key_hash_hex: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
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
        Ok(Some(ApiKeyRecord {
            key_id: r.str(KEY_ID)?.to_owned(),
            project_id: r.parsed(PROJECT_ID, ProjectId::parse)?,
            scopes: r.strings(SCOPES)?,
            created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        }))
    }

    pub async fn insert_api_key(&self, key_hash_hex: &str, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::api_key_pk(key_hash_hex)))
            .item(SK, s(API_KEY_SK))
            .item(KEY_ID, s(&record.key_id))
            .item(PROJECT_ID, s(record.project_id.as_str()))
            .item(SCOPES, AttributeValue::Ss(record.scopes.clone()))
            .item(CREATED_AT, n(record.created_at.epoch_ms()))
            .condition_expression(keys::item_absent())
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }
}
