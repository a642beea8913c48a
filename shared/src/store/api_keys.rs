//! API keys, stored only as the SHA-256 of the key with the project and scopes they grant.

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
            key_id: r.str("keyId")?.to_owned(),
            project_id: r.parsed("projectId", ProjectId::parse)?,
            scopes: r.strings("scopes")?,
            created_at: Millis::from_epoch_ms(r.number("createdAt")?),
        }))
    }

    pub async fn insert_api_key(&self, key_hash_hex: &str, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(keys::api_key_pk(key_hash_hex)))
            .item(SK, s(API_KEY_SK))
            .item("keyId", s(&record.key_id))
            .item("projectId", s(record.project_id.as_str()))
            .item("scopes", AttributeValue::Ss(record.scopes.clone()))
            .item("createdAt", n(record.created_at.epoch_ms()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| StoreError::sdk("PutItem", e))?;
        Ok(())
    }
}
