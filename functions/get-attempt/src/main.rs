//! Lambda function `get-attempt`: `GET /v1.0/attempts/{identifier}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::GetAttempt>().await
}
