//! Lambda function `update-customer`: `POST /customers/{customer_id}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::UpdateCustomer>().await
}
