//! Lambda function `delete-webhook`: `DELETE /webhooks/{webhookId}`: removes a webhook endpoint.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::DeleteWebhook>().await
}
