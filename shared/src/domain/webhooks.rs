//! Webhooks: a project's endpoints, the deliveries of events to them, how a delivery is
//! signed and when a failed one is tried again.

use super::events::{EventId, EventKind};
use super::names::ProjectId;
use super::time::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `whk_` and 26 lowercase letters or digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebhookId(String);

const WEBHOOK_ID_PREFIX: &str = "whk_";
pub const WEBHOOK_ID_RANDOM_CHARS: usize = 26;

impl WebhookId {
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(WEBHOOK_ID_PREFIX)?;
        let valid =
            rest.len() == WEBHOOK_ID_RANDOM_CHARS && rest.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for WebhookId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WebhookId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        WebhookId::parse(&text).ok_or_else(|| serde::de::Error::custom("not a webhook id"))
    }
}

/// One delivery waiting in the delivery queue: the message names it, the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRef {
    pub project: ProjectId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
}

/// The queue message's JSON: `{"project": ..., "webhookId": ..., "eventId": ...}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryMessage {
    project: String,
    webhook_id: WebhookId,
    event_id: EventId,
}

impl DeliveryRef {
    pub fn to_message(&self) -> String {
        let message = DeliveryMessage {
            project: self.project.as_str().to_owned(),
            webhook_id: self.webhook_id.clone(),
            event_id: self.event_id.clone(),
        };
        serde_json::to_string(&message).unwrap_or_default()
    }

    /// `None` for a message that is not one of ours (nothing to deliver: it is dropped).
    pub fn from_message(text: &str) -> Option<Self> {
        let message: DeliveryMessage = serde_json::from_str(text).ok()?;
        Some(Self {
            project: ProjectId::parse(&message.project).ok()?,
            webhook_id: message.webhook_id,
            event_id: message.event_id,
        })
    }
}

/// A published event on its way to the webhooks that want it: `body` is exactly what they
/// are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: EventId,
    pub kind: EventKind,
    pub created_at: Millis,
    pub body: String,
}

// ---- endpoints ----

/// At most this many endpoints per project: each event is one delivery per endpoint, so
/// the fan-out of a commit stays bounded.
pub const MAX_ENDPOINTS: usize = 20;
const MAX_URL_CHARS: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 200;

/// Where deliveries are POSTed: `https://` with a host, no credentials, no fragment. Plain
/// `http://`, loopback and private addresses only where insecure URLs are allowed (local
/// runs): deployed, a merchant must not be able to aim our deliverer at the inside of AWS
/// (the metadata endpoint) or at itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUrl(&'static str);

impl WebhookUrl {
    pub fn parse(text: &str, allow_insecure: bool) -> Result<Self, InvalidUrl> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_URL_CHARS {
            return Err(InvalidUrl("must be a URL of at most 2048 characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidUrl("must not contain spaces or control characters"));
        }
        if text.contains('#') {
            return Err(InvalidUrl("must not have a fragment (#...)"));
        }
        let (scheme, rest) = text.split_once("://").ok_or(InvalidUrl("must be an absolute https:// URL"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if allow_insecure => {}
            "http" => return Err(InvalidUrl("must be https://")),
            _ => return Err(InvalidUrl("must be an https:// URL")),
        }
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(InvalidUrl("must not carry a user name or password"));
        }
        let host = host_of(authority).ok_or(InvalidUrl("must name a host"))?;
        if !allow_insecure && is_internal_host(&host) {
            return Err(InvalidUrl("must not be a loopback, private or link-local address"));
        }
        let uri: http::Uri = text.parse().map_err(|_| InvalidUrl("is not a valid URL"))?;
        if uri.host().is_none() {
            return Err(InvalidUrl("must name a host"));
        }
        Ok(Self(text.to_owned()))
    }

    /// A stored URL: it was checked when it was registered.
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The host of `host[:port]` or `[v6]:port`, lowercased, `None` when empty or the port is
/// not a number.
fn host_of(authority: &str) -> Option<String> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if port.is_some_and(|p| p.is_empty() || p.parse::<u16>().is_err()) || host.is_empty() {
        return None;
    }
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

fn is_internal_host(host: &str) -> bool {
    use core::net::IpAddr;
    if host == "localhost" || host.ends_with(".localhost") || host.ends_with(".internal") || !host.contains('.') {
        // A single-label name resolves inside the network it is resolved in, not on the internet.
        return host.parse::<core::net::Ipv6Addr>().map_or(true, |ip| internal_v6(&ip));
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast()
        }
        Ok(IpAddr::V6(ip)) => internal_v6(&ip),
        Err(_) => false,
    }
}

fn internal_v6(ip: &core::net::Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
}

/// The event kinds an endpoint wants: all (`"*"`), or some by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Kinds(std::collections::BTreeSet<EventKind>),
}

pub const ALL_EVENTS: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidFilter {
    #[error("must name at least one event kind, or \"*\" for all")]
    Empty,
    #[error("unknown event kind {0:?}")]
    Unknown(String),
}

impl EventFilter {
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, InvalidFilter> {
        if names.is_empty() {
            return Err(InvalidFilter::Empty);
        }
        let mut kinds = std::collections::BTreeSet::new();
        for name in names {
            let name = name.as_ref().trim();
            if name == ALL_EVENTS {
                return Ok(EventFilter::All);
            }
            kinds.insert(EventKind::parse(name).ok_or_else(|| InvalidFilter::Unknown(name.to_owned()))?);
        }
        Ok(EventFilter::Kinds(kinds))
    }

    pub fn wants(&self, kind: EventKind) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Kinds(kinds) => kinds.contains(&kind),
        }
    }

    /// The names as registered: `["*"]`, or the kinds in their order.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            EventFilter::All => vec![ALL_EVENTS],
            EventFilter::Kinds(kinds) => kinds.iter().map(|k| k.as_str()).collect(),
        }
    }
}

/// What a merchant notes about an endpoint: at most 200 characters, no control characters.
pub fn parse_description(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err("must be at most 200 characters");
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(text.to_owned())
}

/// A registered endpoint, with its signing secret as stored (sealed, bound to its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub project: ProjectId,
    pub id: WebhookId,
    pub url: WebhookUrl,
    pub events: EventFilter,
    pub description: Option<String>,
    pub created_at: Millis,
    pub sealed_secret: super::sealed::SealedSecret,
}

impl WebhookId {
    /// A new id from 26 random bytes, one character each (32 divides 256: uniform).
    pub fn from_random(random: [u8; WEBHOOK_ID_RANDOM_CHARS]) -> Self {
        const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
        let chars = random.iter().map(|byte| char::from(ALPHABET[usize::from(byte % 32)]));
        Self(WEBHOOK_ID_PREFIX.chars().chain(chars).collect())
    }
}

// ---- the signing secret and signatures ----

const SECRET_PREFIX: &str = "whsec_";

/// An endpoint's signing secret in the clear: `whsec_` and base64url(32 random bytes). Shown
/// once when the endpoint is created; its Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    pub fn from_random(bytes: [u8; 32]) -> Self {
        use base64::Engine;
        Self(format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A secret opened from its sealed form.
    pub fn from_opened(text: String) -> Option<Self> {
        text.starts_with(SECRET_PREFIX).then_some(Self(text))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

pub const SIGNATURE_HEADER: &str = "pocketbook-signature";
pub const EVENT_ID_HEADER: &str = "pocketbook-event-id";
pub const EVENT_KIND_HEADER: &str = "pocketbook-event-kind";
pub const ATTEMPT_HEADER: &str = "pocketbook-delivery-attempt";
/// How far a receiver should let `t` be from its own clock.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

fn signature_hex(secret: &WebhookSecret, t_unix: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length: this cannot fail, and the fallback keeps it panic-free.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.0.as_bytes()) else {
        return String::new();
    };
    mac.update(t_unix.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `Pocketbook-Signature` header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
/// "<t>.<body>")>`.
pub fn sign(secret: &WebhookSecret, t_unix: i64, body: &str) -> String {
    format!("t={t_unix},v1={}", signature_hex(secret, t_unix, body))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadSignature {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is too far from now")]
    Stale,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// What a receiver does: the header names a `t` within the tolerance of `now_unix` and one
/// of its `v1`s is the body's signature (compared in constant time).
pub fn verify(
    secret: &WebhookSecret,
    header: &str,
    body: &str,
    now_unix: i64,
    tolerance_seconds: i64,
) -> Result<(), BadSignature> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = Some(value.parse::<i64>().map_err(|_| BadSignature::Malformed)?),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let t = t.ok_or(BadSignature::Malformed)?;
    if signatures.is_empty() {
        return Err(BadSignature::Malformed);
    }
    if (now_unix - t).abs() > tolerance_seconds {
        return Err(BadSignature::Stale);
    }
    let expected = signature_hex(secret, t, body);
    let matches = |candidate: &&str| {
        candidate.len() == expected.len()
            && candidate.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    };
    signatures.iter().any(matches).then_some(()).ok_or(BadSignature::Mismatch)
}

// ---- deliveries and retries ----

/// Attempts in all: after the 10th failure the delivery is `failed` (about 4¼ hours after
/// the first).
pub const MAX_ATTEMPTS: u32 = 10;
const FIRST_DELAY_MS: u64 = 30_000;
const LONGEST_DELAY_MS: u64 = 3 * 60 * 60 * 1000;
pub const JITTER: std::ops::RangeInclusive<f64> = 0.8..=1.2;

/// How long to wait after failed attempt `attempt` (1-based): `min(30 s × 2^(n-1), 3 h)`
/// times `jitter` (clamped to 0.8..=1.2), so that endpoints that fail together do not all
/// come back together.
pub fn retry_delay(attempt: u32, jitter: f64) -> std::time::Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    let base = FIRST_DELAY_MS.saturating_mul(1u64 << doublings).min(LONGEST_DELAY_MS);
    let jitter = if jitter.is_finite() { jitter.clamp(*JITTER.start(), *JITTER.end()) } else { 1.0 };
    std::time::Duration::from_millis((base as f64 * jitter).round() as u64)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Pending,
    Retrying,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] =
        [DeliveryStatus::Pending, DeliveryStatus::Retrying, DeliveryStatus::Delivered, DeliveryStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Nothing more will be attempted.
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryStatus::Delivered | DeliveryStatus::Failed)
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The receiver answered with this HTTP status.
    Answered(u16),
    Timeout,
    ConnectionFailed,
}

impl AttemptResult {
    pub fn is_success(self) -> bool {
        matches!(self, AttemptResult::Answered(200..=299))
    }

    /// `lastStatus`: `"200"`, `"500"`, `"timeout"`, `"connection failed"`.
    pub fn label(self) -> String {
        match self {
            AttemptResult::Answered(status) => status.to_string(),
            AttemptResult::Timeout => "timeout".to_owned(),
            AttemptResult::ConnectionFailed => "connection failed".to_owned(),
        }
    }
}

/// One event's delivery to one endpoint, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub project: ProjectId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub kind: EventKind,
    /// Exactly the bytes POSTed, on every attempt.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status: Option<String>,
    pub last_attempt_at: Option<Millis>,
    pub next_attempt_at: Option<Millis>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

impl Delivery {
    /// A delivery not attempted yet.
    pub fn new(project: ProjectId, webhook_id: WebhookId, event: &Outgoing, now: Millis) -> Self {
        Self {
            project,
            webhook_id,
            event_id: event.id.clone(),
            kind: event.kind,
            body: event.body.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status: None,
            last_attempt_at: None,
            next_attempt_at: None,
            created_at: now,
            delivered_at: None,
        }
    }

    pub fn reference(&self) -> DeliveryRef {
        DeliveryRef {
            project: self.project.clone(),
            webhook_id: self.webhook_id.clone(),
            event_id: self.event_id.clone(),
        }
    }

    /// The delivery after one more attempt that ended with `result` at `at`, and the wait
    /// before the next one (`None`: none follows).
    pub fn after_attempt(
        &self,
        result: AttemptResult,
        at: Millis,
        jitter: f64,
    ) -> (Delivery, Option<std::time::Duration>) {
        let attempts = self.attempts.saturating_add(1);
        let mut next = Delivery {
            attempts,
            last_status: Some(result.label()),
            last_attempt_at: Some(at),
            next_attempt_at: None,
            ..self.clone()
        };
        if result.is_success() {
            next.status = DeliveryStatus::Delivered;
            next.delivered_at = Some(at);
            return (next, None);
        }
        if attempts >= MAX_ATTEMPTS {
            next.status = DeliveryStatus::Failed;
            return (next, None);
        }
        let delay = retry_delay(attempts, jitter);
        next.status = DeliveryStatus::Retrying;
        next.next_attempt_at = Some(at.plus_ms(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)));
        (next, Some(delay))
    }

    /// Ready to be attempted afresh (a redelivery): no attempts, nothing scheduled.
    pub fn reset(&self) -> Delivery {
        Delivery {
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: None,
            delivered_at: None,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::from_random([7; 32])
    }

    #[test]
    fn https_urls_are_accepted_and_others_only_when_insecure_urls_are_allowed() {
        assert!(WebhookUrl::parse("https://hooks.example.com/pocketbook?x=1", false).is_ok());
        assert!(WebhookUrl::parse("https://hooks.example.com:8443/p", false).is_ok());
        assert!(WebhookUrl::parse("http://hooks.example.com/p", false).is_err());
        assert!(WebhookUrl::parse("http://127.0.0.1:8000/hook", true).is_ok());
        assert!(WebhookUrl::parse("http://localhost:8000/hook", true).is_ok());
        assert!(WebhookUrl::parse("ftp://hooks.example.com/p", true).is_err());
        assert!(WebhookUrl::parse("hooks.example.com/p", true).is_err());
    }

    #[test]
    fn credentials_fragments_and_internal_hosts_are_refused() {
        assert!(WebhookUrl::parse("https://user:pw@hooks.example.com/", false).is_err());
        assert!(WebhookUrl::parse("https://user:pw@hooks.example.com/", true).is_err());
        assert!(WebhookUrl::parse("https://hooks.example.com/#frag", true).is_err());
        for internal in [
            "https://127.0.0.1/",
            "https://localhost/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/",
            "https://192.168.1.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://intranet/",
            "https://0.0.0.0/",
        ] {
            assert!(WebhookUrl::parse(internal, false).is_err(), "{internal}");
        }
        assert!(WebhookUrl::parse("https://hooks.example.com:99999/", false).is_err());
        assert!(WebhookUrl::parse("https:///path", false).is_err());
    }

    #[test]
    fn a_filter_is_all_kinds_or_known_kinds_only() {
        assert_eq!(EventFilter::parse(&["*"]), Ok(EventFilter::All));
        let some = EventFilter::parse(&["order.charged", "balance.created"]).unwrap();
        assert!(some.wants(EventKind::OrderCharged) && !some.wants(EventKind::WalletCreated));
        assert_eq!(some.names(), vec!["balance.created", "order.charged"]);
        assert_eq!(EventFilter::parse::<&str>(&[]), Err(InvalidFilter::Empty));
        assert!(matches!(EventFilter::parse(&["order.nope"]), Err(InvalidFilter::Unknown(_))));
    }

    #[test]
    fn the_secret_is_never_in_debug_output() {
        let secret = secret();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.expose().len(), "whsec_".len() + 43);
        assert!(!format!("{secret:?}").contains(&secret.expose()[6..]));
    }

    #[test]
    fn a_signature_verifies_and_a_tampered_body_or_old_timestamp_does_not() {
        let header = sign(&secret(), 1_700_000_000, r#"{"id":"evt_1"}"#);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(&secret(), &header, r#"{"id":"evt_1"}"#, 1_700_000_100, 300), Ok(()));
        assert_eq!(verify(&secret(), &header, r#"{"id":"evt_2"}"#, 1_700_000_100, 300), Err(BadSignature::Mismatch));
        assert_eq!(verify(&secret(), &header, r#"{"id":"evt_1"}"#, 1_700_001_000, 300), Err(BadSignature::Stale));
        let other = WebhookSecret::from_random([8; 32]);
        assert_eq!(verify(&other, &header, r#"{"id":"evt_1"}"#, 1_700_000_000, 300), Err(BadSignature::Mismatch));
        assert_eq!(verify(&secret(), "v1=abc", "{}", 0, 300), Err(BadSignature::Malformed));
    }

    #[test]
    fn the_schedule_doubles_from_thirty_seconds_up_to_three_hours() {
        let delays: Vec<u64> = (1..MAX_ATTEMPTS).map(|n| retry_delay(n, 1.0).as_secs()).collect();
        assert_eq!(delays, vec![30, 60, 120, 240, 480, 960, 1920, 3840, 7680]);
        assert_eq!(retry_delay(30, 1.0).as_secs(), 3 * 3600);
        assert_eq!(retry_delay(1, 5.0).as_secs(), 36);
        let total: u64 = delays.iter().sum();
        assert!((4 * 3600..=4 * 3600 + 30 * 60).contains(&total), "{total}");
    }

    #[test]
    fn a_delivery_retries_until_the_last_attempt_and_then_fails() {
        let project = ProjectId::parse("acme").unwrap();
        let event = Outgoing {
            id: EventId::derive(EventKind::BalanceCreated, "pk", "sk", "1"),
            kind: EventKind::BalanceCreated,
            created_at: Millis::from_epoch_ms(0),
            body: "{}".into(),
        };
        let webhook = WebhookId::from_random([1; 26]);
        let mut delivery = Delivery::new(project, webhook, &event, Millis::from_epoch_ms(0));
        for n in 1..MAX_ATTEMPTS {
            let (next, delay) = delivery.after_attempt(AttemptResult::Answered(500), Millis::from_epoch_ms(0), 1.0);
            assert_eq!((next.status, next.attempts, delay), (DeliveryStatus::Retrying, n, Some(retry_delay(n, 1.0))));
            delivery = next;
        }
        let (last, delay) = delivery.after_attempt(AttemptResult::Timeout, Millis::from_epoch_ms(1), 1.0);
        assert_eq!((last.status, last.attempts, delay), (DeliveryStatus::Failed, MAX_ATTEMPTS, None));
        assert_eq!(last.last_status.as_deref(), Some("timeout"));
        let (ok, _) = last.reset().after_attempt(AttemptResult::Answered(204), Millis::from_epoch_ms(2), 1.0);
        assert_eq!(
            (ok.status, ok.attempts, ok.delivered_at),
            (DeliveryStatus::Delivered, 1, Some(Millis::from_epoch_ms(2)))
        );
    }

    proptest! {
        #[test]
        fn generated_ids_parse(random in any::<[u8; 26]>()) {
            let id = WebhookId::from_random(random);
            prop_assert_eq!(WebhookId::parse(id.as_str()), Some(id));
        }

        #[test]
        fn delays_stay_within_the_jitter_of_the_schedule(attempt in 1u32..40, jitter in 0.0f64..2.0) {
            let base = retry_delay(attempt, 1.0).as_millis() as f64;
            let delay = retry_delay(attempt, jitter).as_millis() as f64;
            prop_assert!(delay >= (base * 0.8).floor() && delay <= (base * 1.2).ceil());
            prop_assert!(retry_delay(attempt + 1, 1.0) >= retry_delay(attempt, 1.0));
        }

        #[test]
        fn any_change_to_the_body_breaks_the_signature(body in ".{0,64}", extra in ".{1,4}", t in 0i64..4_000_000_000) {
            let header = sign(&secret(), t, &body);
            prop_assert_eq!(verify(&secret(), &header, &body, t, 300), Ok(()));
            let tampered = format!("{body}{extra}");
            prop_assert_eq!(verify(&secret(), &header, &tampered, t, 300), Err(BadSignature::Mismatch));
        }
    }
}
