//! Who runs the functions the event sources invoke: `cargo lambda watch`'s Invoke API under
//! `make dev`, the tests' own local Lambda runtime under the tests.

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The invocation failed as a whole (the function errored, crashed, timed out, or could not
/// be reached): Lambda retries the whole batch.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct InvokeFailure(pub String);

/// Runs a function synchronously (`RequestResponse`): its name and JSON payload in, its JSON
/// answer out.
pub trait Invoker: Send + Sync {
    fn invoke<'a>(&'a self, function: &'a str, payload: Value) -> BoxFuture<'a, Result<Value, InvokeFailure>>;
}

/// Any `Fn(function, payload) -> future of the answer` is an invoker (stand-ins in tests).
pub struct FnInvoker<F>(pub F);

impl<F, Fut> Invoker for FnInvoker<F>
where
    F: Fn(String, Value) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, InvokeFailure>> + Send + 'static,
{
    fn invoke<'a>(&'a self, function: &'a str, payload: Value) -> BoxFuture<'a, Result<Value, InvokeFailure>> {
        Box::pin((self.0)(function.to_owned(), payload))
    }
}

/// The Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`) of
/// `cargo lambda watch` (its `--invoke-port`, 127.0.0.1:9001 under `make dev`).
#[derive(Clone)]
pub struct InvokeApi {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl InvokeApi {
    pub fn new(base: &str) -> InvokeApi {
        InvokeApi {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    async fn call(&self, function: &str, payload: Value) -> Result<Value, InvokeFailure> {
        let failure = |what: String| InvokeFailure(format!("{function}: {what}"));
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/2015-03-31/functions/{function}/invocations", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(payload.to_string())))
            .map_err(|e| failure(e.to_string()))?;
        let response = self.client.request(request).await.map_err(|e| failure(format!("not reached: {e}")))?;
        let status = response.status();
        // Lambda flags a function error with this header and a 200; cargo lambda watch may
        // answer it with a 5xx instead. Either way the batch failed as a whole.
        let flagged = response.headers().contains_key("x-amz-function-error");
        let body = response.into_body().collect().await.map_err(|e| failure(e.to_string()))?.to_bytes();
        let answer: Value =
            if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap_or(Value::Null) };
        if !status.is_success() || flagged || is_error_body(&answer) {
            let message = answer.get("errorMessage").and_then(Value::as_str).unwrap_or("").to_owned();
            return Err(failure(format!("failed ({status}) {message}")));
        }
        Ok(answer)
    }
}

/// `{"errorType": …, "errorMessage": …}`: what the runtime posts for a function error.
fn is_error_body(answer: &Value) -> bool {
    answer.get("errorMessage").is_some() && answer.get("errorType").is_some()
}

impl Invoker for InvokeApi {
    fn invoke<'a>(&'a self, function: &'a str, payload: Value) -> BoxFuture<'a, Result<Value, InvokeFailure>> {
        Box::pin(self.call(function, payload))
    }
}

/// A shared invoker (a test keeps a handle on what it recorded while the pump owns it).
impl<T: Invoker + ?Sized> Invoker for std::sync::Arc<T> {
    fn invoke<'a>(&'a self, function: &'a str, payload: Value) -> BoxFuture<'a, Result<Value, InvokeFailure>> {
        (**self).invoke(function, payload)
    }
}
