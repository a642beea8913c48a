//! A hello-world Lambda function: the cold-start baseline of `make bench`. It answers every
//! invocation with a fixed JSON object and does nothing else (no logging, no SDK).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async { Ok::<_, Error>(json!({"hello": "world"})) }))
        .await
}
