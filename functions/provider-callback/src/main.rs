//! Lambda function `provider-callback`: `POST /providers/{gateway}/callbacks`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::ProviderCallback>().await
}
