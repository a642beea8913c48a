//! The table definition. The admin tool creates tables from it, the tests create theirs from
//! it, and a test checks that `template.yaml` declares the same.

use super::keys::{PK, SK, TTL};
use super::wallet_sort_index::{SORT_INDEXES, SORT_INDEX_ID, SORT_INDEX_PARTITION};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

/// (attribute, key type) of the primary key.
pub const KEY_SCHEMA: [(&str, &str); 2] = [(PK, "HASH"), (SK, "RANGE")];
/// The primary key's attributes are strings.
pub const ATTRIBUTE_TYPE: &str = "S";
/// The sort indexes hold keys only: a listing reads the heads it lists anyway (strongly
/// consistent), and a smaller index item is cheaper to write on every money move.
pub const INDEX_PROJECTION: &str = "KEYS_ONLY";

/// (name, [(attribute, key type)]) of every global secondary index: the wallet sort indexes
/// (`super::wallet_sort_index`), each partitioned by project with a sort key of the field's
/// value then the wallet id.
pub fn global_secondary_indexes() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    SORT_INDEXES
        .iter()
        .map(|index| {
            let mut keys = vec![(SORT_INDEX_PARTITION, "HASH")];
            keys.extend(index.value.map(|(attribute, _)| (attribute, "RANGE")));
            keys.push((SORT_INDEX_ID, "RANGE"));
            (index.name, keys)
        })
        .collect()
}

/// (attribute, type) of every key attribute of the table and its indexes, each once.
pub fn attribute_definitions() -> Vec<(&'static str, &'static str)> {
    let mut definitions =
        vec![(PK, ATTRIBUTE_TYPE), (SK, ATTRIBUTE_TYPE), (SORT_INDEX_PARTITION, "S"), (SORT_INDEX_ID, "S")];
    for (attribute, kind) in SORT_INDEXES.iter().filter_map(|index| index.value) {
        if !definitions.iter().any(|(name, _)| *name == attribute) {
            definitions.push((attribute, kind));
        }
    }
    definitions
}
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
pub const TTL_ATTRIBUTE: &str = TTL;
/// The table streams every change with both images: the events publisher (publish-events)
/// reads what a commit changed from it, off the request path.
pub const STREAM_VIEW_TYPE: &str = "NEW_AND_OLD_IMAGES";

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("building the table definition: {0}")]
    Build(#[from] aws_sdk_dynamodb::error::BuildError),
    #[error("creating the table: {0}")]
    Create(String),
}

/// Creates the table (on-demand, `pk`/`sk` strings, the wallet sort indexes) and turns on
/// TTL. With `if_missing`, an existing table of that name is left as it is.
pub async fn create_table(client: &Client, table: &str, if_missing: bool) -> Result<bool, SchemaError> {
    let stream =
        StreamSpecification::builder().stream_enabled(true).stream_view_type(StreamViewType::from(STREAM_VIEW_TYPE));
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(stream.build()?);
    for (name, key_type) in KEY_SCHEMA {
        request = request
            .key_schema(KeySchemaElement::builder().attribute_name(name).key_type(KeyType::from(key_type)).build()?);
    }
    for (name, kind) in attribute_definitions() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::from(kind))
                .build()?,
        );
    }
    for (name, keys) in global_secondary_indexes() {
        let mut index = GlobalSecondaryIndex::builder()
            .index_name(name)
            .projection(Projection::builder().projection_type(ProjectionType::from(INDEX_PROJECTION)).build());
        for (attribute, key_type) in keys {
            index = index.key_schema(
                KeySchemaElement::builder().attribute_name(attribute).key_type(KeyType::from(key_type)).build()?,
            );
        }
        request = request.global_secondary_indexes(index.build()?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(error) => {
            let exists = error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception());
            if !(exists && if_missing) {
                return Err(SchemaError::Create(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()));
            }
            return Ok(false);
        }
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().attribute_name(TTL_ATTRIBUTE).enabled(true).build()?,
        )
        .send()
        .await
        .map_err(|e| SchemaError::Create(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
    Ok(true)
}
