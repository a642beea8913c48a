//! Lambda function `create-webhook`: `POST /webhooks`: registers a webhook endpoint and shows its
//! signing secret once.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::CreateWebhook>().await
}
