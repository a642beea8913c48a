//! Lambda function `list-wallet-transactions`: `GET /v1.0/transactions`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ListWalletTransactions>().await
}
