//! The one HTTP call of a delivery attempt: a POST, whose answer is only its status. Built
//! once per process (its connection pool is reused across warm invocations).
//!
//! Redirects are not followed (a 3xx is a failed attempt: the merchant registers the URL
//! that answers), and nothing of the answer's body is read or kept.

use crate::domain::webhooks::AttemptResult;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone)]
pub(super) struct Sender {
    client: HttpsClient,
    timeout: Duration,
}

impl Sender {
    /// `timeout` bounds the whole attempt: connecting, TLS, sending and the answer's status.
    pub(super) fn new(timeout: Duration) -> Result<Self, String> {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            // Plain http:// (local runs) still works; every https:// attempt fails to connect.
            tracing::warn!("no trusted root certificates found: webhook deliveries over https will fail");
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS configuration: {error}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let connector =
            HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().wrap_connector(http);
        Ok(Self { client: Client::builder(TokioExecutor::new()).build(connector), timeout })
    }

    pub(super) async fn post(&self, url: &str, headers: Vec<(HeaderName, HeaderValue)>, body: String) -> AttemptResult {
        let Ok(uri) = url.parse::<Uri>() else {
            return AttemptResult::ConnectionFailed;
        };
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        request.headers_mut().extend(headers);
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
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
