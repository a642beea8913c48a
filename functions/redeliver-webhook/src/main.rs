//! Lambda function `redeliver-webhook`: `POST
//! /webhooks/{webhookId}/deliveries/{eventId}/redeliver`: queues a delivery again from its first
//! attempt.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::RedeliverWebhook>().await
}
