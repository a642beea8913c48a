//! Lambda function `list-webhook-deliveries`: `GET /webhooks/{webhookId}/deliveries`: an endpoint's
//! deliveries, by status, a page at a time.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ListWebhookDeliveries>().await
}
