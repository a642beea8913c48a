//! Lambda function `authorizer`: the HTTP API's Lambda authorizer. It checks the API key in
//! `Authorization: Bearer <key>` and hands the project and scopes to the functions.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::authorizer::run().await
}
