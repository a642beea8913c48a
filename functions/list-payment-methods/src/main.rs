//! Lambda function `list-payment-methods`: `GET /merchants/{merchant_id}/paymentmethods`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ListPaymentMethods>().await
}
