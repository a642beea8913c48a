//! Lambda function `quasi-transfer-command`: `POST /v1.0/quasi-transfers/{id}/{command}`, or a direct invocation with the same body.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::run::<pocketbook::actions::QuasiTransferCommand>().await
}
