//! Lambda function `list-transactions`: `GET /balances/{balanceId}/transactions`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ListTransactions>().await
}
