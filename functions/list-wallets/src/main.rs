//! Lambda function `list-wallets`: `GET /v1.0/wallets`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ListWallets>().await
}
