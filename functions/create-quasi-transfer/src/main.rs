//! Lambda function `create-quasi-transfer`: `POST /v1.0/quasi-transfers/initiate`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::CreateQuasiTransfer>().await
}
