//! Just enough of the AWS JSON protocols to talk to moto's server: DynamoDB, DynamoDB Streams,
//! SQS and EventBridge, all on one endpoint. moto does not check signatures, but it does pick
//! the service from the `Authorization` header's credential scope and the action from
//! `X-Amz-Target`, so every call carries both. Local use only: there is no signing here, and
//! no AWS SDK (the front stays a small binary that builds in seconds).

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A service on the endpoint: its `X-Amz-Target` prefix, JSON protocol version and signing name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    Streams,
    Sqs,
    EventBridge,
}

impl Service {
    fn target_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB_20120810",
            Service::Streams => "DynamoDBStreams_20120810",
            Service::Sqs => "AmazonSQS",
            Service::EventBridge => "AWSEvents",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Service::EventBridge => "application/x-amz-json-1.1",
            _ => "application/x-amz-json-1.0",
        }
    }

    /// The credential scope's service: DynamoDB Streams signs as `dynamodb`, as in AWS.
    fn signing_name(self) -> &'static str {
        match self {
            Service::DynamoDb | Service::Streams => "dynamodb",
            Service::Sqs => "sqs",
            Service::EventBridge => "events",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{endpoint} did not answer: {message}")]
    Unreachable { endpoint: String, message: String },
    /// The service refused the call (`__type`, `message` of its error body).
    #[error("{action}: {status} {code}: {message}")]
    Refused { action: String, status: u16, code: String, message: String },
    #[error("{action}: the answer is not JSON: {message}")]
    NotJson { action: String, message: String },
}

impl AwsError {
    /// The error code without moto's or AWS's namespace prefix (`com.amazonaws...#`).
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Refused { code, .. } => Some(code.rsplit('#').next().unwrap_or(code)),
            _ => None,
        }
    }
}

/// A client of one endpoint (moto's server, or any that speaks the same JSON protocols).
#[derive(Clone)]
pub struct AwsJson {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    region: String,
}

impl AwsJson {
    pub fn new(endpoint: &str, region: &str) -> AwsJson {
        AwsJson {
            client: Client::builder(TokioExecutor::new()).build_http(),
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// One call: `action` of `service` with a JSON body; the JSON answer.
    pub async fn call(&self, service: Service, action: &str, body: &Value) -> Result<Value, AwsError> {
        let target = format!("{}.{action}", service.target_prefix());
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=local/20260101/{}/{}/aws4_request, SignedHeaders=host, Signature=0",
            self.region,
            service.signing_name()
        );
        let unreachable = |message: String| AwsError::Unreachable { endpoint: self.endpoint.clone(), message };
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/", self.endpoint))
            .header("x-amz-target", &target)
            .header("content-type", service.content_type())
            .header("authorization", authorization)
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| unreachable(e.to_string()))?;
        let response = self.client.request(request).await.map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| unreachable(e.to_string()))?.to_bytes();
        let answer: Value = if bytes.is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| AwsError::NotJson { action: target.clone(), message: e.to_string() })?
        };
        if status != StatusCode::OK {
            let text = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_owned);
            return Err(AwsError::Refused {
                action: target,
                status: status.as_u16(),
                code: text("__type").unwrap_or_else(|| status.to_string()),
                message: text("message").or_else(|| text("Message")).unwrap_or_default(),
            });
        }
        Ok(answer)
    }
}
