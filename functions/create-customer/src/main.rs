//! Lambda function `create-customer`: `POST /customers`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::CreateCustomer>().await
}
