//! The AWS SDK's configuration, loaded once per process for every client (DynamoDB, SQS,
//! EventBridge): what the SDK's defaults load, minus what a cold start pays for nothing. Here
//! because only store/ names the SDK's own (smithy) types.
//!
//! - One HTTPS client for all of them, trusting Mozilla's root bundle compiled into the binary
//!   (webpki-root-certs) rather than the system's: the SDK's default reads and parses the
//!   system's bundle and certificate directory at every init (1.5–4 ms, bench figure 1), and
//!   each client built its own. AWS endpoints chain to Amazon's roots, which the bundle holds;
//!   plain `http://` endpoints (the local DynamoDB, moto) need no roots at all.
//! - Its TLS roots are made at the first request, once per connector: the SDK's client also
//!   made a throw-away connector while each client was built.
//! - Credentials and region straight from the environment when they are there, as Lambda
//!   always sets them (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//!   `AWS_REGION`); the default chains (profiles, web identity, containers, IMDS) otherwise,
//!   e.g. for the admin tool on a laptop. The environment comes first in those chains anyway.

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use base64::Engine;
use std::sync::OnceLock;

/// The configuration every client of a function is built from.
pub async fn shared_config() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if has_env("AWS_ACCESS_KEY_ID") && has_env("AWS_SECRET_ACCESS_KEY") {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if has_env("AWS_REGION") || has_env("AWS_DEFAULT_REGION") {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    loader.load().await
}

fn has_env(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|value| !value.is_empty())
}

/// The SDK's default HTTPS client (hyper 1, rustls on aws-lc-rs, proxies from the
/// environment), trusting the compiled-in roots.
fn https_client() -> SharedHttpClient {
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(tls_context().clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    OnFirstRequest(client).into_shared()
}

/// The SDK's client, except that building an SDK client does not build a connector: the
/// SDK's validates itself that way, which would make the TLS roots at init only to throw
/// them away. The first request builds the one it uses, as it always did.
#[derive(Debug)]
struct OnFirstRequest(SharedHttpClient);

impl HttpClient for OnFirstRequest {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The compiled-in roots as the SDK's TLS context takes them (PEM), made once per process.
fn tls_context() -> &'static TlsContext {
    static CONTEXT: OnceLock<TlsContext> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        let store = TrustStore::empty().with_pem_certificate(roots_pem());
        // Building checks nothing today; were that to change, the SDK's own default context
        // (the system's roots) still makes a working client.
        TlsContext::builder().with_trust_store(store).build().unwrap_or_default()
    })
}

/// Each root of the bundle that rustls takes as a trust anchor, PEM-encoded. Checked here
/// because the SDK's client insists (panics) on every certificate of its trust store parsing.
fn roots_pem() -> Vec<u8> {
    let mut checked = rustls::RootCertStore::empty();
    let mut pem = String::with_capacity(240 * 1024);
    for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        if checked.add(root.clone()).is_ok() {
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            pem.push_str(&base64::engine::general_purpose::STANDARD.encode(root.as_ref()));
            pem.push_str("\n-----END CERTIFICATE-----\n");
        }
    }
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    #[test]
    fn every_compiled_in_root_survives_the_round_trip_through_pem() {
        let pem = roots_pem();
        let decoded: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>().expect("our own PEM decodes");
        assert!(decoded.len() > 100, "Mozilla's bundle has well over 100 roots, got {}", decoded.len());
        assert_eq!(decoded.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len(), "rustls takes every root");
        assert!(decoded.iter().zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS).all(|(a, b)| a == b));
    }

    #[test]
    fn amazons_roots_are_in_the_bundle() {
        // What AWS endpoints' certificates chain to (Amazon Trust Services).
        let pem = String::from_utf8(roots_pem()).expect("PEM is ASCII");
        let anchors = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
        assert!(pem.matches("BEGIN CERTIFICATE").count() == anchors);
        let amazon = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter(|cert| cert.as_ref().windows(b"Amazon Root CA".len()).any(|w| w == b"Amazon Root CA"))
            .count();
        assert!(amazon >= 4, "Amazon Root CA 1–4 are trusted, found {amazon}");
    }
}
