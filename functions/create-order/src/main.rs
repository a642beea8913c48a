//! Lambda function `create-order`: `POST /orders`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::CreateOrder>().await
}
