//! Juspay's customers: create (a retry with the same fields finds the same customer), read by
//! our id or the merchant's reference, update.

use super::{random, WalletAccounts};
use crate::domain::customers::{new_customer_id, Customer, CustomerFields, CustomerRef};
use crate::domain::names::ProjectId;
use crate::domain::wallet_accounts::{CustomerId, MobileNumber};
use crate::engine::Fault;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("customer not found")]
    NotFound,
    /// Another customer of the project has this `object_reference_id`.
    #[error("a customer with this object_reference_id exists ({0}) with other details")]
    ReferenceTaken(CustomerId),
    #[error("the customer changed meanwhile; retry")]
    Conflict,
    #[error(transparent)]
    Failed(#[from] Fault),
}

impl From<StoreError> for CustomerError {
    fn from(error: StoreError) -> Self {
        CustomerError::Failed(error.into())
    }
}

impl WalletAccounts {
    /// Creates the customer: `true` when created now; the existing one when the reference is
    /// taken by a customer with these very details (a retry).
    pub async fn create_customer(
        &self,
        project: &ProjectId,
        reference: CustomerId,
        mobile: MobileNumber,
        fields: CustomerFields,
    ) -> Result<(Customer, bool), CustomerError> {
        let store = self.engine().store();
        let now = self.engine().clock().now();
        let customer =
            Customer::open(project, new_customer_id(random()), reference.clone(), mobile.clone(), fields.clone(), now);
        if store.insert_customer(&customer).await? {
            return Ok((customer, true));
        }
        let existing = store
            .customer_by_reference(project, &reference)
            .await?
            .ok_or(Fault::Inconsistent("a taken customer reference names no customer"))?;
        match existing.same_as(&mobile, &fields) {
            true => Ok((existing, false)),
            false => Err(CustomerError::ReferenceTaken(existing.id)),
        }
    }

    /// One read by our id, two by the merchant's reference.
    pub async fn customer(&self, project: &ProjectId, customer: &CustomerRef) -> Result<Customer, CustomerError> {
        let store = self.engine().store();
        let found = match customer {
            CustomerRef::Id(id) => store.customer(project, id).await?,
            CustomerRef::Reference(reference) => store.customer_by_reference(project, reference).await?,
        };
        found.ok_or(CustomerError::NotFound)
    }

    pub async fn update_customer(
        &self,
        project: &ProjectId,
        customer: &CustomerRef,
        fields: CustomerFields,
    ) -> Result<Customer, CustomerError> {
        let current = self.customer(project, customer).await?;
        let updated = current.updated(fields, self.engine().clock().now());
        match self.engine().store().replace_customer(&updated, current.updated_at).await? {
            true => Ok(updated),
            false => Err(CustomerError::Conflict),
        }
    }
}
