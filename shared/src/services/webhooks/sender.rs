//! The one HTTP call of a delivery attempt: a POST, whose answer is only its status. Built
//! once per process (its connection pool is reused across warm invocations).
//!
//! Redirects are not followed (a 3xx is a failed attempt: the merchant registers the URL
//! that answers), and nothing of the answer's body is read or kept.

use crate::domain::webhooks::AttemptResult;
use crate::providers::http::{https_client, HttpsClient};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The client is made at the first attempt: of the functions that hold a `Webhooks`, only
/// deliver-webhooks sends, and parsing the trusted roots is a cost of its first attempt alone.
#[derive(Clone)]
pub(super) struct Sender {
    client: Arc<OnceLock<Result<HttpsClient, String>>>,
    timeout: Duration,
}

impl Sender {
    /// `timeout` bounds the whole attempt: connecting, TLS, sending and the answer's status.
    pub(super) fn new(timeout: Duration) -> Result<Self, String> {
        Ok(Self { client: Arc::new(OnceLock::new()), timeout })
    }

    fn client(&self) -> Result<&HttpsClient, &str> {
        let made = self.client.get_or_init(|| https_client(self.timeout));
        made.as_ref().map_err(String::as_str)
    }

    pub(super) async fn post(&self, url: &str, headers: Vec<(HeaderName, HeaderValue)>, body: String) -> AttemptResult {
        let Ok(uri) = url.parse::<Uri>() else {
            return AttemptResult::ConnectionFailed;
        };
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        request.headers_mut().extend(headers);
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(error, "no HTTP client for webhook deliveries");
                return AttemptResult::ConnectionFailed;
            }
        };
        match tokio::time::timeout(self.timeout, client.request(request)).await {
            Err(_) => AttemptResult::Timeout,
            Ok(Err(error)) => {
                // The error names the host and the cause, never the request's headers or body.
                tracing::debug!(error = %error, "webhook connection failed");
                AttemptResult::ConnectionFailed
            }
            Ok(Ok(response)) => AttemptResult::Answered(response.status().as_u16()),
        }
    }
}
