//! Lambda function `deliver-webhooks`: the consumer of the webhook delivery queue (SQS): one signed
//! POST per message, retried with backoff.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::deliveries::run().await
}
