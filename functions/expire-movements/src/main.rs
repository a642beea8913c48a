//! Lambda function `expire-movements`: run by an EventBridge schedule every minute, it expires
//! the quasi-transfers and fund requests whose time has passed.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::sweeper::run().await
}
