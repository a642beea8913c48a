//! Juspay's Customers API: `POST /customers`, `GET /customers/{customer_id}`,
//! `POST /customers/{customer_id}`.

use super::parsed;
use crate::api::wallet_accounts::CustomerResponse;
use crate::domain::customers::{
    parse_country_code, parse_email, parse_name, parse_reference, CustomerFields, CustomerRef,
};
use crate::domain::wallet_accounts::MobileNumber;
use crate::edge::auth::{Caller, Scope};
use crate::edge::error::{ApiError, ErrorShape};
use crate::edge::event::Request;
use crate::edge::input::{Fields, Params};
use crate::edge::{Action, Reply};
use crate::services::WalletAccounts;

/// The `{customer_id}` path parameter: our id, or the merchant's reference. Anything else
/// names no customer.
fn customer_ref(params: &Params) -> Result<(String, CustomerRef), ApiError> {
    let text = params.required_text("customer_id")?;
    let customer = CustomerRef::parse(&text).map_err(|_| ApiError::not_found("customer"))?;
    Ok((text, customer))
}

/// The contact fields of a create or update, each optional here.
fn fields(body: &mut Fields) -> Result<CustomerFields, ApiError> {
    Ok(CustomerFields {
        mobile_number: body.optional("mobile_number", parsed(MobileNumber::parse))?,
        mobile_country_code: body.optional("mobile_country_code", parsed(parse_country_code))?,
        email_address: body.optional("email_address", parsed(parse_email))?,
        first_name: body.optional("first_name", parsed(parse_name))?,
        last_name: body.optional("last_name", parsed(parse_name))?,
    })
}

/// `POST /customers`: a new customer; the same request again finds it.
pub struct CreateCustomer;

impl Action for CreateCustomer {
    const NAME: &'static str = "create-customer";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/customers";
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let body = &mut request.body;
        let reference = body.required("object_reference_id", parsed(parse_reference))?;
        let mut fields = fields(body)?;
        let mobile = fields.mobile_number.take().ok_or_else(|| ApiError::validation("mobile_number", "is required"))?;
        request.body.finish()?;
        let (customer, _) = service.create_customer(&caller.project, reference, mobile, fields).await?;
        Ok(Reply::json(200, &CustomerResponse::new(&customer)))
    }
}

/// `GET /customers/{customer_id}`: by our id or the merchant's `object_reference_id`.
pub struct GetCustomer;

impl Action for GetCustomer {
    const NAME: &'static str = "get-customer";
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/customers/{customer_id}";
    // juspayp3 repeats the path's id as `?id=`.
    const QUERY: &'static [&'static str] = &["id"];
    const SCOPE: Scope = Scope::Read;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, request: Request) -> Result<Reply, ApiError> {
        let (text, customer) = customer_ref(&request.params)?;
        if request.params.text("id")?.is_some_and(|id| id != text) {
            return Err(ApiError::validation("id", format!("must be the customer_id of the path ({text})")));
        }
        request.body.finish()?;
        let customer = service.customer(&caller.project, &customer).await?;
        Ok(Reply::json(200, &CustomerResponse::new(&customer)))
    }
}

/// `POST /customers/{customer_id}`: changes the fields it names.
pub struct UpdateCustomer;

impl Action for UpdateCustomer {
    const NAME: &'static str = "update-customer";
    const METHOD: &'static str = "POST";
    const PATH: &'static str = "/customers/{customer_id}";
    const SCOPE: Scope = Scope::Write;
    const ERRORS: ErrorShape = ErrorShape::Juspay;
    type Service = WalletAccounts;

    async fn handle(service: &WalletAccounts, caller: &Caller, mut request: Request) -> Result<Reply, ApiError> {
        let (text, customer) = customer_ref(&request.params)?;
        let body = &mut request.body;
        // juspayp3 sends the path's id in the body too.
        body.echo("id", &text)?;
        let fields = fields(body)?;
        request.body.finish()?;
        let customer = service.update_customer(&caller.project, &customer, fields).await?;
        Ok(Reply::json(200, &CustomerResponse::new(&customer)))
    }
}
