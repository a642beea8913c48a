//! Juspay's customers: the customer item, in the partition of its wallet accounts, and the
//! index from the merchant's `object_reference_id` to it.

use super::attribute_names::{
    CREATED_AT, CUSTOMER_ID, EMAIL_ADDRESS, FIRST_NAME, LAST_NAME, MOBILE_COUNTRY_CODE, MOBILE_NUMBER,
    OBJECT_REFERENCE_ID, PROJECT_ID, UPDATED_AT,
};
use super::attributes::{key, n, s, Item, Reader};
use super::keys::{self, CUSTOMER_REFERENCE_SK, CUSTOMER_SK};
use super::{Store, StoreError};
use crate::domain::customers::Customer;
use crate::domain::names::ProjectId;
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::{CustomerId, MobileNumber};
use aws_sdk_dynamodb::operation::put_item::PutItemError;

fn customer_item(customer: &Customer) -> Item {
    let mut item = key(keys::customer_pk(&customer.project, &customer.id), CUSTOMER_SK);
    let mut put = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            item.insert(name.to_owned(), s(value));
        }
    };
    put(PROJECT_ID, Some(customer.project.as_str()));
    put(CUSTOMER_ID, Some(customer.id.as_str()));
    put(OBJECT_REFERENCE_ID, Some(customer.object_reference_id.as_str()));
    put(MOBILE_NUMBER, Some(customer.mobile_number.as_str()));
    put(MOBILE_COUNTRY_CODE, customer.mobile_country_code.as_deref());
    put(EMAIL_ADDRESS, customer.email_address.as_deref());
    put(FIRST_NAME, customer.first_name.as_deref());
    put(LAST_NAME, customer.last_name.as_deref());
    item.insert(CREATED_AT.into(), n(customer.created_at.epoch_ms()));
    item.insert(UPDATED_AT.into(), n(customer.updated_at.epoch_ms()));
    item
}

fn customer_from_item(item: &Item) -> Result<Customer, StoreError> {
    let r = Reader::new(item, "customer");
    let text = |name: &str| r.opt_str(name).map(|v| v.map(str::to_owned));
    Ok(Customer {
        project: r.parsed(PROJECT_ID, ProjectId::parse)?,
        id: r.parsed(CUSTOMER_ID, CustomerId::parse)?,
        object_reference_id: r.parsed(OBJECT_REFERENCE_ID, CustomerId::parse)?,
        mobile_number: r.parsed(MOBILE_NUMBER, MobileNumber::parse)?,
        mobile_country_code: text(MOBILE_COUNTRY_CODE)?,
        email_address: text(EMAIL_ADDRESS)?,
        first_name: text(FIRST_NAME)?,
        last_name: text(LAST_NAME)?,
        created_at: Millis::from_epoch_ms(r.number(CREATED_AT)?),
        updated_at: Millis::from_epoch_ms(r.number(UPDATED_AT)?),
    })
}

impl Store {
    /// Creates the customer and its reference index in one transaction, unless the
    /// reference is taken (`false`: nothing was written).
    pub async fn insert_customer(&self, customer: &Customer) -> Result<bool, StoreError> {
        let mut reference =
            key(keys::customer_reference_pk(&customer.project, &customer.object_reference_id), CUSTOMER_REFERENCE_SK);
        reference.insert(CUSTOMER_ID.into(), s(customer.id.as_str()));
        // The reference first: a taken reference is the refusal the caller reads.
        self.insert_new(vec![reference, customer_item(customer)]).await
    }

    /// The customer of our id: one read.
    pub async fn customer(&self, project: &ProjectId, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        let item = self.get(key(keys::customer_pk(project, id), CUSTOMER_SK)).await?;
        item.as_ref().map(customer_from_item).transpose()
    }

    /// The customer of the merchant's reference: the index, then the customer.
    pub async fn customer_by_reference(
        &self,
        project: &ProjectId,
        reference: &CustomerId,
    ) -> Result<Option<Customer>, StoreError> {
        let Some(index) = self.get(key(keys::customer_reference_pk(project, reference), CUSTOMER_REFERENCE_SK)).await?
        else {
            return Ok(None);
        };
        let id = Reader::new(&index, "customer reference").parsed(CUSTOMER_ID, CustomerId::parse)?;
        self.customer(project, &id).await
    }

    /// Writes the customer over the one read last updated at `read_updated_at` (`false` when
    /// it changed meanwhile).
    pub async fn replace_customer(&self, customer: &Customer, read_updated_at: Millis) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(customer_item(customer)))
            .condition_expression(format!("{UPDATED_AT} = :read"))
            .expression_attribute_values(":read", n(read_updated_at.epoch_ms()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(error.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) =>
            {
                Ok(false)
            }
            Err(error) => Err(StoreError::sdk("PutItem", error)),
        }
    }
}
