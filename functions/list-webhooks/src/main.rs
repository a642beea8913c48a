//! Lambda function `list-webhooks`: `GET /webhooks`: the project's webhook endpoints, without their
//! secrets.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ListWebhooks>().await
}
