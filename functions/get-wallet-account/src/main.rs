//! Lambda function `get-wallet-account`: `GET /wallets/{identifier}?command=refresh` (Juspay's single-wallet refresh), or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::GetWalletAccount>().await
}
