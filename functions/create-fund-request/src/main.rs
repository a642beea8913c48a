//! Lambda function `create-fund-request`: `POST /v1.0/fund-requests`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::CreateFundRequest>().await
}
