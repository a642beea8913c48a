//! Lambda function `fund-request-command`: `POST /v1.0/fund-requests/{id}/{command}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::FundRequestCommand>().await
}
