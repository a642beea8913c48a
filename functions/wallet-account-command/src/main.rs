//! Lambda function `wallet-account-command`: `POST /customers/{customer_id}/wallets/{wallet_id}` and `POST /wallets/{identifier}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::WalletAccountCommand>().await
}
