//! Lambda function `get-movement`: `GET /v1.0/{deposits,transfers,quasi-transfers,fund-requests}/{identifier}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::GetMovement>().await
}
