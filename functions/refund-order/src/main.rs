//! Lambda function `refund-order`: `POST /orders/{order_id}/refunds`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::RefundOrder>().await
}
