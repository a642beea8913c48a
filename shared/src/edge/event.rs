//! Incoming events: an API Gateway HTTP API (payload 2.0) or Function URL request, an SQS
//! batch, an EventBridge event, or a direct invocation. A direct payload is the request body
//! plus its envelope (`projectId`, path and query parameters, `idempotencyKey`); an SQS
//! record's body and an EventBridge event's `detail` are direct payloads.

use super::error::ApiError;
use super::input::{string, Fields, Param, Params};
use crate::domain::names::IdempotencyKey;
use crate::engine::{Answer, Fingerprint, Idempotency};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Bodies above this are refused with 413 before any parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub enum Incoming {
    /// An HTTP request (or the reason it could not be read: an HTTP answer all the same).
    Http(Result<Box<ApiGatewayV2httpRequest>, ApiError>),
    /// A batch from an SQS event source mapping.
    Sqs(Result<SqsEvent, ApiError>),
    /// An event an EventBridge rule delivered; `detail` stays raw text so numbers stay exact.
    EventBridge(Result<Box<EventBridgeEvent<Box<RawValue>>>, ApiError>),
    /// A direct invocation's payload (or why it is not a JSON object).
    Direct(Result<Fields, ApiError>),
}

/// Tells the kinds apart by the fields only each has: `requestContext.http` for HTTP,
/// `Records[].eventSource = "aws:sqs"` for SQS, `detail-type` and `detail` for EventBridge.
/// A direct payload can have none of these: its fields are checked strictly.
pub fn classify(payload: &RawValue) -> Incoming {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "requestContext")]
        request_context: Option<ProbeContext>,
        #[serde(rename = "Records")]
        records: Option<Vec<ProbeRecord>>,
        #[serde(rename = "detail-type")]
        detail_type: Option<serde::de::IgnoredAny>,
        detail: Option<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct ProbeContext {
        http: Option<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct ProbeRecord {
        #[serde(rename = "eventSource")]
        event_source: Option<String>,
    }
    let Ok(probe) = serde_json::from_str::<Probe>(payload.get()) else {
        return Incoming::Direct(Fields::parse(payload.get()));
    };
    let unreadable = |kind: &str, e: serde_json::Error| ApiError::malformed(format!("unreadable {kind} event: {e}"));
    if probe.request_context.is_some_and(|context| context.http.is_some()) {
        Incoming::Http(
            serde_json::from_str(payload.get())
                .map(Box::new)
                .map_err(|e| ApiError::internal(format!("unreadable HTTP event: {e}"))),
        )
    } else if probe
        .records
        .is_some_and(|records| records.first().and_then(|r| r.event_source.as_deref()) == Some("aws:sqs"))
    {
        Incoming::Sqs(serde_json::from_str(payload.get()).map_err(|e| unreadable("SQS", e)))
    } else if probe.detail_type.is_some() && probe.detail.is_some() {
        Incoming::EventBridge(
            serde_json::from_str(payload.get()).map(Box::new).map_err(|e| unreadable("EventBridge", e)),
        )
    } else {
        Incoming::Direct(Fields::parse(payload.get()))
    }
}

/// The names of the `{parameters}` of a path template.
pub fn path_parameter_names(template: &'static str) -> impl Iterator<Item = &'static str> {
    template.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// Matches a concrete path against a template (used when no `pathParameters` came along,
/// as with a Function URL). `None` when the path is not this route's.
pub fn match_path(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.trim_matches('/').split('/').collect(), path.trim_matches('/').split('/').collect());
    if template.len() != path.len() {
        return None;
    }
    let mut found = Vec::new();
    for (expected, actual) in template.iter().zip(path) {
        match expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !actual.is_empty() => found.push((name.to_owned(), actual.to_owned())),
            Some(_) => return None,
            None if expected == &actual => {}
            None => return None,
        }
    }
    Some(found)
}

/// What an action gets from any kind of event.
pub struct Request {
    pub body: Fields,
    pub params: Params,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The body as received, for actions that check a signature over it.
    pub raw_body: String,
    pub headers: http::HeaderMap,
    /// `https://host` of the API as the caller reached it, for URLs in answers (HTTP only).
    pub base_url: Option<String>,
    /// The route template it came by, among the action's (a direct invocation: the first).
    pub route: &'static str,
}

/// A body's media type must be JSON (`application/json`, or any `+json`), or a form where the
/// route documents forms (Juspay's clients post them): anything else is a 415, before the body
/// is read. A request without a body needs no type.
pub fn require_media_type(event: &ApiGatewayV2httpRequest, forms: bool) -> Result<(), ApiError> {
    if event.body.as_deref().is_none_or(|body| body.trim().is_empty()) {
        return Ok(());
    }
    let content_type = event.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let json = media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"));
    if json || (forms && is_form(&event.headers)) {
        return Ok(());
    }
    let wanted = if forms { "application/json or application/x-www-form-urlencoded" } else { "application/json" };
    let given = if media.is_empty() { "none".to_owned() } else { media };
    Err(ApiError::unsupported_media_type(format!("the body must be {wanted} (Content-Type: {given})")))
}

fn is_form(headers: &http::HeaderMap) -> bool {
    let content_type = headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// The API's own address as the caller used it: API Gateway sets `Host` and
/// `X-Forwarded-Proto`; a local front sets `Host`.
fn base_url(event: &ApiGatewayV2httpRequest) -> Option<String> {
    let header = |name: &str| event.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let host = header("host").filter(|h| !h.is_empty()).or(event.request_context.domain_name.as_deref())?;
    if !host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) {
        return None;
    }
    let scheme = match header("x-forwarded-proto") {
        Some("http") => "http",
        Some(_) => "https",
        None if host.starts_with("127.0.0.1") || host.starts_with("localhost") => "http",
        None => "https",
    };
    Some(format!("{scheme}://{host}"))
}

fn idempotency_key(field: &str, value: Option<String>) -> Result<Option<IdempotencyKey>, ApiError> {
    value.map(|text| IdempotencyKey::parse(&text).map_err(|e| ApiError::validation(field, e.to_string()))).transpose()
}

/// A request's idempotency key as the engine takes it: with the fingerprint of `action` and
/// its parsed `input`, and the renderer of the answer the key stores (the action answers a
/// fresh outcome with the same renderer).
pub fn idempotency<'a, T>(
    key: &Option<IdempotencyKey>,
    action: &str,
    input: &impl std::fmt::Debug,
    render: &'a (dyn Fn(&T) -> Answer + Sync),
) -> Option<Idempotency<'a, T>> {
    let key = key.clone()?;
    Some(Idempotency::new(key, Fingerprint::of(action, input), render))
}

impl Request {
    /// Refuses whatever member of the body nobody took, and keeps the rest of the request.
    pub fn finish_body(&mut self) -> Result<(), ApiError> {
        std::mem::replace(&mut self.body, Fields::empty()).finish()
    }

    /// `templates`: the action's route paths, its main one first. A parameter one of them
    /// lacks is simply absent (`/order/status` carries the order id in the query).
    pub fn from_http(
        event: &ApiGatewayV2httpRequest,
        templates: &[&'static str],
        query: &'static [&'static str],
    ) -> Result<Self, ApiError> {
        let body = match &event.body {
            None => String::new(),
            Some(body) if event.is_base64_encoded => {
                let bytes = STANDARD.decode(body).map_err(|_| ApiError::malformed("the body is not valid base64"))?;
                if bytes.len() > MAX_BODY_BYTES {
                    return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
                }
                String::from_utf8(bytes).map_err(|_| ApiError::malformed("the body is not UTF-8"))?
            }
            Some(body) => body.clone(),
        };
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
        }
        let fields = match body.trim().is_empty() {
            true => Fields::empty(),
            false if is_form(&event.headers) => Fields::from_form(&body)?,
            false => Fields::parse(&body)?,
        };

        let mut params = Params::default();
        let mut names: Vec<&'static str> = templates.iter().flat_map(|t| path_parameter_names(t)).collect();
        names.sort_unstable();
        names.dedup();
        let given: Vec<(String, String)> = names
            .iter()
            .filter_map(|name| event.path_parameters.get(*name).map(|value| ((*name).to_owned(), value.clone())))
            .collect();
        let raw_path = event.raw_path.as_deref().unwrap_or_default();
        let route_path = event.route_key.as_deref().and_then(|key| key.split_once(' ')).map(|(_, path)| path);
        let route = templates
            .iter()
            .copied()
            .find(|template| Some(*template) == route_path)
            .or_else(|| templates.iter().copied().find(|template| match_path(template, raw_path).is_some()))
            .or_else(|| templates.first().copied())
            .unwrap_or_default();
        let found = match given.is_empty() && !names.is_empty() {
            // Not from API Gateway's route match: the raw path against each template in turn.
            true => {
                templates.iter().find_map(|t| match_path(t, raw_path)).ok_or_else(|| ApiError::not_found("route"))?
            }
            false => given,
        };
        // API Gateway hands the function its path parameters percent-decoded; `cargo lambda
        // watch` (the local runner, the only front that sends no `apiId`) hands them on as the
        // client encoded them. Decoded exactly once either way: `a%20b` names `a b`.
        let encoded = event.request_context.apiid.is_none();
        for (name, value) in found {
            let value = match encoded {
                true => percent_encoding::percent_decode_str(&value)
                    .decode_utf8()
                    .map_err(|_| ApiError::validation(name.clone(), "is not percent-encoded UTF-8"))?
                    .into_owned(),
                false => value,
            };
            params.insert(name, Param::Text(value));
        }
        // From the raw query string: the parsed map splits values at commas (API Gateway joins
        // a repeated parameter's values with them), and a filter or sort has commas of its own.
        // It is decoded as a form, as clients encode it: `+` is a space, `%2B` a plus.
        let raw_query: Option<Vec<(String, String)>> = event
            .raw_query_string
            .as_deref()
            .filter(|raw| !raw.is_empty())
            .map(|raw| form_urlencoded::parse(raw.as_bytes()).into_owned().collect());
        for name in query {
            let value = match &raw_query {
                Some(pairs) => pairs.iter().find(|(n, _)| n == name).map(|(_, value)| value.clone()),
                None => event.query_string_parameters.all(name).map(|values| values.join(",")),
            };
            if let Some(value) = value {
                // A query parameter named like a path parameter is kept beside it, as `?name`.
                let name = if names.contains(name) && params.text(name).ok().flatten().is_some() {
                    format!("?{name}")
                } else {
                    (*name).to_owned()
                };
                params.insert(name, Param::Text(value));
            }
        }
        let key = event.headers.get("idempotency-key").map(|v| v.to_str().map(str::to_owned));
        let key = match key {
            Some(Ok(text)) => Some(text),
            Some(Err(_)) => return Err(ApiError::validation("Idempotency-Key", "must be printable ASCII")),
            None => None,
        };
        Ok(Self {
            body: fields,
            params,
            idempotency_key: idempotency_key("Idempotency-Key", key)?,
            raw_body: body,
            headers: event.headers.clone(),
            base_url: base_url(event),
            route,
        })
    }

    /// Splits a direct payload into envelope and body. Returns the `projectId` too.
    /// `default_key` is the idempotency key when the payload names none: the id of the SQS
    /// message or EventBridge event that carried it, so that a redelivery applies once.
    pub fn from_direct(
        mut payload: Fields,
        path_template: &'static str,
        query: &'static [&'static str],
        default_key: Option<&str>,
    ) -> Result<(String, Self), ApiError> {
        let project = payload.required("projectId", string)?;
        let key = payload.optional("idempotencyKey", string)?.or_else(|| default_key.map(str::to_owned));
        let mut params = Params::default();
        for name in path_parameter_names(path_template).chain(query.iter().copied()) {
            if let Some(raw) = payload.take(name) {
                params.insert(name, Param::Json(raw));
            }
        }
        let request = Self {
            body: payload,
            params,
            idempotency_key: idempotency_key("idempotencyKey", key)?,
            raw_body: String::new(),
            headers: http::HeaderMap::new(),
            base_url: None,
            route: path_template,
        };
        Ok((project, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_templates_segment_by_segment() {
        let template = "/balances/{balanceId}/operations";
        assert_eq!(
            match_path(template, "/balances/abc/operations"),
            Some(vec![("balanceId".to_owned(), "abc".to_owned())])
        );
        assert_eq!(match_path(template, "/balances//operations"), None);
        assert_eq!(match_path(template, "/balances/abc"), None);
        assert_eq!(path_parameter_names(template).collect::<Vec<_>>(), vec!["balanceId"]);
    }

    #[test]
    fn query_values_keep_their_commas() {
        let mut event = ApiGatewayV2httpRequest::default();
        event.raw_path = Some("/wallets".into());
        event.raw_query_string = Some("filter=id%20in%20%7B'a'%2C%20'b'%7D&sortBy=name:ASC,createdTime:DESC".into());
        // What API Gateway's parsed map makes of it: split at the commas.
        let split = vec!["name:ASC".to_owned(), "createdTime:DESC".to_owned()];
        event.query_string_parameters = std::collections::HashMap::from([("sortBy".to_owned(), split)]).into();
        let request = Request::from_http(&event, &["/wallets"], &["filter", "sortBy"]).expect("a request");
        assert_eq!(request.params.text("filter").ok().flatten().as_deref(), Some("id in {'a', 'b'}"));
        assert_eq!(request.params.text("sortBy").ok().flatten().as_deref(), Some("name:ASC,createdTime:DESC"));
        event.raw_query_string = Some("filter=createdTime+%3E+2026-01-01T00:00:00%2B01:00".into());
        let request = Request::from_http(&event, &["/wallets"], &["filter"]).expect("a request");
        let filter = request.params.text("filter").ok().flatten();
        assert_eq!(filter.as_deref(), Some("createdTime > 2026-01-01T00:00:00+01:00"), "+ is a space, %2B a plus");
        event.raw_query_string = None;
        let request = Request::from_http(&event, &["/wallets"], &["sortBy"]).expect("a request");
        assert_eq!(request.params.text("sortBy").ok().flatten().as_deref(), Some("name:ASC,createdTime:DESC"));
    }

    #[test]
    fn path_parameters_are_percent_decoded_once_whoever_is_in_front() {
        let template = "/v1.0/wallets/{identifier}";
        let mut event = ApiGatewayV2httpRequest::default();
        // `cargo lambda watch`: no apiId, the parameter as the client encoded it.
        event.raw_path = Some("/v1.0/wallets/caf%C3%A9%20%2B%40%2F%2541".into());
        event.path_parameters =
            std::collections::HashMap::from([("identifier".to_owned(), "caf%C3%A9%20%2B%40%2F%2541".to_owned())]);
        let request = Request::from_http(&event, &[template], &[]).expect("a request");
        assert_eq!(request.params.text("identifier").ok().flatten().as_deref(), Some("café +@/%41"));
        // API Gateway: it decoded them already; a `%` left in one is the identifier's own.
        event.request_context.apiid = Some("abc123".into());
        event.path_parameters = std::collections::HashMap::from([("identifier".to_owned(), "café +@/%41".to_owned())]);
        let request = Request::from_http(&event, &[template], &[]).expect("a request");
        assert_eq!(request.params.text("identifier").ok().flatten().as_deref(), Some("café +@/%41"));
        // Not UTF-8 once decoded: a clear 400 naming the parameter.
        event.request_context.apiid = None;
        event.path_parameters = std::collections::HashMap::from([("identifier".to_owned(), "%FF".to_owned())]);
        let refused = Request::from_http(&event, &[template], &[]).err().map(|e| (e.status, e.field));
        assert_eq!(refused, Some((400, Some("identifier".to_owned()))));
    }

    #[test]
    fn non_http_payloads_are_direct_invocations() {
        let raw = RawValue::from_string(r#"{"projectId":"p","requestContext":{"x":1}}"#.into()).unwrap();
        assert!(matches!(classify(&raw), Incoming::Direct(Ok(_))));
        let raw = RawValue::from_string("[1,2]".into()).unwrap();
        assert!(matches!(classify(&raw), Incoming::Direct(Err(ApiError { status: 400, .. }))));
    }

    #[test]
    fn sqs_batches_and_eventbridge_events_are_told_apart_by_their_own_fields() {
        let sqs = r#"{"Records":[{"messageId":"m","body":"{}","eventSource":"aws:sqs"}]}"#;
        assert!(matches!(classify(&RawValue::from_string(sqs.into()).unwrap()), Incoming::Sqs(Ok(_))));
        let other_records = r#"{"Records":[{"eventSource":"aws:s3"}]}"#;
        assert!(matches!(classify(&RawValue::from_string(other_records.into()).unwrap()), Incoming::Direct(_)));
        let event =
            r#"{"id":"e","detail-type":"Pocketbook Operation Requested","source":"x","detail":{"amount":0.10}}"#;
        match classify(&RawValue::from_string(event.into()).unwrap()) {
            Incoming::EventBridge(Ok(event)) => assert_eq!(event.detail.get(), r#"{"amount":0.10}"#, "kept as text"),
            _ => panic!("not an EventBridge event"),
        }
    }
}
