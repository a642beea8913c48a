//! Lambda function `get-wallet-transaction`: `GET /v1.0/transactions/{identifier}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::GetWalletTransaction>().await
}
