//! The table definition. The admin tool creates tables from it, the tests create theirs from
//! it, and a test checks that `template.yaml` declares the same.

use super::keys::{PK, SK, TTL};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

/// (attribute, key type) of the primary key.
pub const KEY_SCHEMA: [(&str, &str); 2] = [(PK, "HASH"), (SK, "RANGE")];
/// Every key attribute is a string.
pub const ATTRIBUTE_TYPE: &str = "S";
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

/// Creates the table (on-demand, `pk`/`sk` strings) and turns on TTL. With `if_missing`, an
/// existing table of that name is left as it is.
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
            .attribute_definitions(
                AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()?,
            )
            .key_schema(KeySchemaElement::builder().attribute_name(name).key_type(KeyType::from(key_type)).build()?);
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
