//! Lambda function `create-deposit`: `POST /v1.0/deposits/initiate`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::CreateDeposit>().await
}
