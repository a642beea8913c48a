//! Lambda function `create-transfer`: `POST /v1.0/transfers/initiate`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::CreateTransfer>().await
}
