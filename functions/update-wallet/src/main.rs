//! Lambda function `update-wallet`: `PATCH /v1.0/wallets/{identifier}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::UpdateWallet>().await
}
