//! The function behind every request no route matches (API Gateway's `$default` route, the
//! local router's catch-all): a 404 in the error body of the facade the path belongs to, so
//! that a facade's client sees its own refusal for a mistyped path, never a platform's page.
//! It reads nothing and needs no key; it only names what was asked for.

use super::error::{ApiError, ErrorShape};
use super::event::{classify, Incoming};
use super::{http_answer, logging};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::value::RawValue;

/// Runs the function; `shape_of(method, path)` names the facade of a request no route matched.
pub async fn run(shape_of: fn(&str, &str) -> ErrorShape) -> Result<(), lambda_runtime::Error> {
    logging::init();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        let answer = answer(&event.payload, &event.context.request_id, shape_of);
        RawValue::from_string(answer).map_err(|e| Diagnostic {
            error_type: "INTERNAL".into(),
            error_message: format!("answer is not JSON: {e}"),
        })
    }))
    .await
}

/// The answer to one invocation: an HTTP 404 for an HTTP request, the same error body for
/// anything else (nobody should invoke this function directly).
pub fn answer(payload: &RawValue, request_id: &str, shape_of: fn(&str, &str) -> ErrorShape) -> String {
    let (method, path) = match classify(payload) {
        Incoming::Http(Ok(request)) => {
            (request.request_context.http.method.to_string(), request.raw_path.unwrap_or_default())
        }
        _ => (String::new(), String::new()),
    };
    let error = ApiError::no_route(&method, &path).in_shape(shape_of(&method, &path));
    tracing::info!(requestId = %request_id, action = "not-found", status = error.status, method = %method, "request");
    if method.is_empty() {
        error.body(request_id)
    } else {
        http_answer(Err(error), request_id)
    }
}
