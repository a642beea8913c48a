//! Lambda function `list-order-wallets`: `GET /orders/{order_id}/wallets`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ListOrderWallets>().await
}
