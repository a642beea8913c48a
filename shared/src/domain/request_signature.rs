//! FPay's request signatures, as its official SDK (`finalse-sdk`, `Http.py` and `Request.py`)
//! makes them. Every request carries, beside `Authorization: Bearer <key>`:
//!
//! - `Finalse-Nonce`: the client's time in milliseconds since the Unix epoch;
//! - `Finalse-SignedHeaders`: the names of the headers it signed, comma-separated, in order;
//! - `Finalse-Signature: SHA512 <base64(HMAC-SHA-512(secret, message))>`,
//!
//! where the message is the nonce, then `name:value` of each signed header, then the method,
//! the path, the query string with its `?` (when there is one) and base64(SHA-256(body))
//! (when there is a body), all concatenated without separators. The HMAC's key is the
//! secret's UTF-8 text.
//!
//! Pure: the edge hands in what arrived (method, raw path, raw query, body, a header
//! lookup) and the time; the single use of a nonce is the store's.

use crate::domain::time::Millis;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

pub const NONCE_HEADER: &str = "finalse-nonce";
pub const SIGNED_HEADERS_HEADER: &str = "finalse-signedheaders";
pub const SIGNATURE_HEADER: &str = "finalse-signature";
/// The one algorithm the SDK names in `Finalse-Signature`.
pub const ALGORITHM: &str = "SHA512";
/// How far a nonce (the client's clock) may be from ours, either way: five minutes.
pub const NONCE_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A nonce is a time in ms: 13 digits until the year 2286. More is not a time.
const MAX_NONCE_DIGITS: usize = 16;
const MAX_SIGNED_HEADERS: usize = 32;
const MAC_BYTES: usize = 64;

type HmacSha512 = Hmac<Sha512>;

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "this API key signs its requests: Finalse-Nonce, Finalse-SignedHeaders and Finalse-Signature are required"
    )]
    Missing,
    #[error("{0}")]
    Malformed(&'static str),
    #[error("the signed header {0} is not in the request")]
    SignedHeaderAbsent(String),
    #[error("the {0} header must be among Finalse-SignedHeaders")]
    MustBeSigned(String),
    #[error("Finalse-Signature does not match the request")]
    Mismatch,
    #[error("Finalse-Nonce is more than {} minutes away from the server's time", NONCE_WINDOW_MS / 60_000)]
    OutsideWindow,
}

/// What a signature covers besides its headers, as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Covered<'a> {
    /// Upper case, as sent: `POST`.
    pub method: &'a str,
    /// The raw path, as sent: `/v1.0/wallets`.
    pub path: &'a str,
    /// The raw query string without its `?` (API Gateway's `rawQueryString`); empty for none.
    pub query: &'a str,
    /// The body's bytes; empty for none.
    pub body: &'a [u8],
}

/// The three signature headers of a request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// As sent: the message holds the nonce's text.
    nonce: String,
    nonce_ms: i64,
    signed_headers: Vec<String>,
    mac: Vec<u8>,
}

impl Signature {
    /// The headers' values (`None` for an absent header).
    pub fn parse(
        nonce: Option<&str>,
        signed_headers: Option<&str>,
        signature: Option<&str>,
    ) -> Result<Self, SignatureError> {
        use SignatureError::Malformed;
        let (nonce, signed_headers, signature) = match (nonce, signed_headers, signature) {
            (None, None, None) => return Err(SignatureError::Missing),
            (Some(n), Some(h), Some(s)) => (n.trim(), h, s.trim()),
            (None, _, _) => return Err(Malformed("Finalse-Nonce is missing")),
            (_, None, _) => return Err(Malformed("Finalse-SignedHeaders is missing")),
            (_, _, None) => return Err(Malformed("Finalse-Signature is missing")),
        };
        let nonce_ms = parse_nonce(nonce)
            .ok_or(Malformed("Finalse-Nonce must be the request's time in milliseconds since the Unix epoch"))?;
        let names: Vec<String> = signed_headers.split(',').map(|name| name.trim().to_owned()).collect();
        if names.len() > MAX_SIGNED_HEADERS {
            return Err(Malformed("Finalse-SignedHeaders names too many headers"));
        }
        if names.iter().any(|name| name.is_empty() || !name.bytes().all(is_token_byte)) {
            return Err(Malformed("Finalse-SignedHeaders must be header names separated by commas"));
        }
        let (algorithm, encoded) =
            signature.split_once(' ').ok_or(Malformed("Finalse-Signature must be `SHA512 <base64 HMAC-SHA-512>`"))?;
        if !algorithm.eq_ignore_ascii_case(ALGORITHM) {
            return Err(Malformed("Finalse-Signature's algorithm must be SHA512"));
        }
        let encoded = encoded.trim();
        let mac = STANDARD
            .decode(encoded)
            .or_else(|_| STANDARD_NO_PAD.decode(encoded))
            .ok()
            .filter(|mac| mac.len() == MAC_BYTES)
            .ok_or(Malformed("Finalse-Signature must carry a base64 HMAC-SHA-512 (64 bytes)"))?;
        Ok(Self { nonce: nonce.to_owned(), nonce_ms, signed_headers: names, mac })
    }

    /// The nonce as a time (ms since the epoch): what makes it single-use, with the key.
    pub fn nonce_ms(&self) -> i64 {
        self.nonce_ms
    }

    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// Whether the MAC is the request's under `secret` (compared in constant time). Each of
    /// `required` (lower case) must be among the signed headers; `header` looks a header's
    /// value up by its lower-case name.
    pub fn verify(
        &self,
        secret: &[u8],
        required: &[&str],
        header: impl Fn(&str) -> Option<Vec<u8>>,
        covered: &Covered<'_>,
    ) -> Result<(), SignatureError> {
        for name in required {
            if !self.signed_headers.iter().any(|signed| signed.eq_ignore_ascii_case(name)) {
                return Err(SignatureError::MustBeSigned((*name).to_owned()));
            }
        }
        let mut values = Vec::with_capacity(self.signed_headers.len());
        for name in &self.signed_headers {
            let value =
                header(&name.to_ascii_lowercase()).ok_or_else(|| SignatureError::SignedHeaderAbsent(name.clone()))?;
            values.push((name.as_str(), value));
        }
        let headers: Vec<(&str, &[u8])> = values.iter().map(|(name, value)| (*name, value.as_slice())).collect();
        let message = message(&self.nonce, &headers, covered);
        let mut mac = HmacSha512::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
        mac.update(&message);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&self.mac).map_err(|_| SignatureError::Mismatch)
    }

    /// Whether the nonce is within [`NONCE_WINDOW_MS`] of `now`, either way (bounds included).
    pub fn check_window(&self, now: Millis) -> Result<(), SignatureError> {
        match within_window(self.nonce_ms, now) {
            true => Ok(()),
            false => Err(SignatureError::OutsideWindow),
        }
    }

    /// After this the nonce is refused by the window anyway, so its record may go.
    pub fn nonce_expiry(&self) -> Millis {
        Millis::from_epoch_ms(self.nonce_ms).plus_ms(NONCE_WINDOW_MS)
    }
}

pub fn within_window(nonce_ms: i64, now: Millis) -> bool {
    (i128::from(now.epoch_ms()) - i128::from(nonce_ms)).abs() <= i128::from(NONCE_WINDOW_MS)
}

/// The bytes the SDK signs (`Request.to_message()`).
pub fn message(nonce: &str, headers: &[(&str, &[u8])], covered: &Covered<'_>) -> Vec<u8> {
    let mut message = Vec::with_capacity(256);
    message.extend_from_slice(nonce.as_bytes());
    for (name, value) in headers {
        message.extend_from_slice(name.as_bytes());
        message.push(b':');
        message.extend_from_slice(value);
    }
    message.extend_from_slice(covered.method.as_bytes());
    message.extend_from_slice(covered.path.as_bytes());
    if !covered.query.is_empty() {
        message.push(b'?');
        message.extend_from_slice(covered.query.as_bytes());
    }
    if !covered.body.is_empty() {
        message.extend_from_slice(body_hash(covered.body).as_bytes());
    }
    message
}

/// base64(SHA-256(body)), as the SDK puts the body into the message.
pub fn body_hash(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

/// `Finalse-Signature`'s value for `message` under `secret`.
pub fn signature_header(secret: &[u8], message: &[u8]) -> String {
    let tag = match HmacSha512::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; this arm is unreachable in practice.
        Err(_) => Vec::new(),
    };
    format!("{ALGORITHM} {}", STANDARD.encode(tag))
}

fn parse_nonce(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > MAX_NONCE_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// RFC 9110's `tchar`: what a header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// The SDK's own signing, transcribed line by line from `Http.py` and `Request.py` (and
    /// independent of [`message`]): headers as a Python dict in insertion order, the query
    /// string with its `?`, the body hash only for a body.
    fn sdk_sign(
        secret: &str,
        nonce: i64,
        headers: &[(&str, &str)],
        method: &str,
        path: &str,
        query_string: &str,
        body: Option<&str>,
    ) -> (String, String) {
        let body_hash = body.map(|b| STANDARD.encode(Sha256::digest(b.as_bytes())));
        let joined: String = headers.iter().map(|(name, value)| format!("{name}:{value}")).collect();
        let to_message = format!("{nonce}{joined}{method}{path}{query_string}{}", body_hash.unwrap_or_default());
        let mut mac = HmacSha512::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(to_message.as_bytes());
        let names = headers.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(",");
        (names, format!("SHA512 {}", STANDARD.encode(mac.finalize().into_bytes())))
    }

    fn lookup(headers: &[(&str, &str)]) -> impl Fn(&str) -> Option<Vec<u8>> {
        let map: HashMap<String, Vec<u8>> =
            headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec())).collect();
        move |name| map.get(name).cloned()
    }

    fn sdk_headers(token: &str, body: bool) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Accept", "application/json".to_owned()),
            ("User-Agent", "Sdk Python v1.0".to_owned()),
            ("Authorization", format!("Bearer {token}")),
        ];
        if body {
            headers.push(("Content-Type", "application/json".to_owned()));
        }
        headers
    }

    fn as_pairs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        headers.iter().map(|(name, value)| (*name, value.as_str())).collect()
    }

    /// Known answers from the real SDK (finalse-sdk 1.0.3), computed with its `Http` and
    /// `Request` classes for a fixed nonce.
    #[test]
    fn the_sdks_own_signatures_verify() {
        let secret = b"pbs_test_secret";
        let owned = sdk_headers("pb_test_token", true);
        let headers = as_pairs(&owned);
        let body = br#"{"name": "Main", "foreignId": "u-1"}"#;
        let post = Signature::parse(
            Some("1700000000123"),
            Some("Accept,User-Agent,Authorization,Content-Type"),
            Some("SHA512 HiWUOvFFzxPGXaGrqzZTb2h9LL24GdT2jcfhkXfJpby4Gftzf5dGb+wigq5pVRUz/+B4NOx5tPLKfcg9gjZaRw=="),
        )
        .unwrap();
        let covered = Covered { method: "POST", path: "/v1.0/wallets", query: "", body };
        assert_eq!(post.verify(secret, &["authorization"], lookup(&headers), &covered), Ok(()));
        let expected = "1700000000123Accept:application/jsonUser-Agent:Sdk Python v1.0Authorization:Bearer \
                        pb_test_tokenContent-Type:application/jsonPOST/v1.0/walletsA+piIMWweGGEK4IeaFOUhR368qYII7mKl+krWrfVucQ=";
        let pairs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        assert_eq!(String::from_utf8(message("1700000000123", &pairs, &covered)).unwrap(), expected);

        let owned = sdk_headers("pb_test_token", false);
        let headers = as_pairs(&owned);
        let get = Signature::parse(
            Some("1700000000456"),
            Some("Accept,User-Agent,Authorization"),
            Some("SHA512 ISBLd2Hy12+BFyZo/Hl6RcVlps6ViuGBm3MzbT8VwTJ5ZuE+Bv3JM20t2JxsiQNbuZnGUmMOZ2glo4RWKS7NSQ=="),
        )
        .unwrap();
        let covered = Covered { method: "GET", path: "/v1.0/wallets", query: "limit=2&sortBy=createdAt", body: b"" };
        assert_eq!(get.verify(secret, &["authorization"], lookup(&headers), &covered), Ok(()));
        let other_query = Covered { query: "limit=3&sortBy=createdAt", ..covered };
        assert_eq!(get.verify(secret, &[], lookup(&headers), &other_query), Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_headers_must_all_be_there_and_well_formed() {
        let sig = "SHA512 ".to_owned() + &STANDARD.encode([0u8; 64]);
        assert_eq!(Signature::parse(None, None, None), Err(SignatureError::Missing));
        for (nonce, names, signature) in [
            (None, Some("Accept"), Some(sig.as_str())),
            (Some("1"), None, Some(sig.as_str())),
            (Some("1"), Some("Accept"), None),
            (Some("-5"), Some("Accept"), Some(sig.as_str())),
            (Some("12a"), Some("Accept"), Some(sig.as_str())),
            (Some(""), Some("Accept"), Some(sig.as_str())),
            (Some("12345678901234567"), Some("Accept"), Some(sig.as_str())),
            (Some("1"), Some(""), Some(sig.as_str())),
            (Some("1"), Some("Accept,,Host"), Some(sig.as_str())),
            (Some("1"), Some("Acc ept"), Some(sig.as_str())),
            (Some("1"), Some("Accept"), Some("SHA256 AAAA")),
            (Some("1"), Some("Accept"), Some("SHA512")),
            (Some("1"), Some("Accept"), Some("SHA512 not*base64")),
            (Some("1"), Some("Accept"), Some("SHA512 AAAA")),
        ] {
            assert!(
                matches!(Signature::parse(nonce, names, signature), Err(SignatureError::Malformed(_))),
                "{nonce:?} {names:?} {signature:?}"
            );
        }
        let parsed = Signature::parse(Some("1700000000000"), Some(" Accept , Host"), Some(&sig)).unwrap();
        assert_eq!(parsed.signed_headers(), ["Accept", "Host"]);
        assert_eq!(parsed.nonce_ms(), 1_700_000_000_000);
        assert_eq!(parsed.nonce_expiry().epoch_ms(), 1_700_000_000_000 + NONCE_WINDOW_MS);
    }

    #[test]
    fn the_key_header_must_be_signed_and_every_signed_header_present() {
        let secret = "s3cret";
        let headers = [("Accept", "application/json"), ("Authorization", "Bearer pb_x")];
        let covered = Covered { method: "GET", path: "/v1.0/wallets", query: "", body: b"" };
        let (_, signature) = sdk_sign(secret, 5, &headers[..1], "GET", "/v1.0/wallets", "", None);
        let parsed = Signature::parse(Some("5"), Some("Accept"), Some(&signature)).unwrap();
        assert_eq!(parsed.verify(secret.as_bytes(), &[], lookup(&headers), &covered), Ok(()));
        assert_eq!(
            parsed.verify(secret.as_bytes(), &["authorization"], lookup(&headers), &covered),
            Err(SignatureError::MustBeSigned("authorization".into()))
        );
        let parsed = Signature::parse(Some("5"), Some("Accept,X-Extra"), Some(&signature)).unwrap();
        assert_eq!(
            parsed.verify(secret.as_bytes(), &[], lookup(&headers), &covered),
            Err(SignatureError::SignedHeaderAbsent("X-Extra".into()))
        );
    }

    #[test]
    fn the_window_is_five_minutes_either_way_bounds_included() {
        let now = Millis::from_epoch_ms(1_700_000_000_000);
        for (offset, ok) in [(0, true), (NONCE_WINDOW_MS, true), (-NONCE_WINDOW_MS, true)] {
            assert_eq!(within_window(now.epoch_ms() + offset, now), ok, "{offset}");
        }
        assert!(!within_window(now.epoch_ms() + NONCE_WINDOW_MS + 1, now));
        assert!(!within_window(now.epoch_ms() - NONCE_WINDOW_MS - 1, now));
        assert!(!within_window(0, now));
        assert!(!within_window(i64::MAX, now));
    }

    const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "PUT", "DELETE"];

    fn header_values() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[ -~]{0,40}", 4)
    }

    proptest! {
        /// Whatever is signed the SDK's way verifies, and changing any one part of it (the
        /// body, the path, the query, the method, a signed header's value, the nonce) or the
        /// secret does not.
        #[test]
        fn sdk_signatures_verify_and_any_tampering_is_caught(
            secret in "[ -~]{1,64}",
            other_secret in "[ -~]{1,64}",
            method in 0usize..5,
            path in "/[A-Za-z0-9._~%/-]{0,40}",
            query in "([A-Za-z0-9=&%._-]{1,30})?",
            body in prop::option::of("\\PC{1,80}"),
            values in header_values(),
            nonce in 1_000_000_000_000i64..9_999_999_999_999,
            part in 0usize..6,
        ) {
            let names = ["Accept", "User-Agent", "Authorization", "Content-Type"];
            let headers: Vec<(&str, &str)> =
                names.iter().copied().zip(values.iter().map(|v| v.trim())).collect();
            let query_string = if query.is_empty() { String::new() } else { format!("?{query}") };
            let (signed, signature) =
                sdk_sign(&secret, nonce, &headers, METHODS[method], &path, &query_string, body.as_deref());
            let nonce_text = nonce.to_string();
            let parsed = Signature::parse(Some(&nonce_text), Some(&signed), Some(&signature)).unwrap();
            let body_bytes = body.as_deref().unwrap_or("").as_bytes();
            let covered = Covered { method: METHODS[method], path: &path, query: &query, body: body_bytes };
            prop_assert_eq!(parsed.verify(secret.as_bytes(), &["authorization"], lookup(&headers), &covered), Ok(()));

            if other_secret != secret {
                prop_assert_eq!(
                    parsed.verify(other_secret.as_bytes(), &[], lookup(&headers), &covered),
                    Err(SignatureError::Mismatch)
                );
            }
            let (tampered_body, tampered_path, tampered_query) =
                ([body_bytes, b"x"].concat(), format!("{path}x"), format!("{query}x"));
            let mut tampered_headers = headers.clone();
            let changed_value = format!("{}x", headers[2].1);
            tampered_headers[2].1 = &changed_value;
            let result = match part {
                0 => parsed.verify(secret.as_bytes(), &[], lookup(&headers), &Covered { body: &tampered_body, ..covered }),
                1 => parsed.verify(secret.as_bytes(), &[], lookup(&headers), &Covered { path: &tampered_path, ..covered }),
                2 => parsed.verify(secret.as_bytes(), &[], lookup(&headers), &Covered { query: &tampered_query, ..covered }),
                3 => {
                    let other = METHODS[(method + 1) % METHODS.len()];
                    parsed.verify(secret.as_bytes(), &[], lookup(&headers), &Covered { method: other, ..covered })
                }
                4 => parsed.verify(secret.as_bytes(), &[], lookup(&tampered_headers), &covered),
                _ => {
                    let later = (nonce + 1).to_string();
                    let moved = Signature::parse(Some(&later), Some(&signed), Some(&signature)).unwrap();
                    moved.verify(secret.as_bytes(), &[], lookup(&headers), &covered)
                }
            };
            prop_assert_eq!(result, Err(SignatureError::Mismatch), "part {}", part);
        }

        /// What `signature_header` and `message` make is what `verify` accepts.
        #[test]
        fn signing_with_this_module_round_trips(
            secret in prop::collection::vec(any::<u8>(), 0..80),
            body in prop::collection::vec(any::<u8>(), 0..200),
            value in "[ -~]{0,40}",
        ) {
            let headers = [("X-Thing", value.as_str())];
            let pairs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            let covered = Covered { method: "POST", path: "/p", query: "a=1", body: &body };
            let header = signature_header(&secret, &message("42", &pairs, &covered));
            let parsed = Signature::parse(Some("42"), Some("X-Thing"), Some(&header)).unwrap();
            prop_assert_eq!(parsed.verify(&secret, &[], lookup(&headers), &covered), Ok(()));
        }

        #[test]
        fn the_window_accepts_exactly_what_is_within_five_minutes(
            now in 0i64..4_000_000_000_000,
            offset in -2 * NONCE_WINDOW_MS..2 * NONCE_WINDOW_MS,
        ) {
            prop_assume!(now + offset >= 0);
            let sig = "SHA512 ".to_owned() + &STANDARD.encode([0u8; 64]);
            let nonce = (now + offset).to_string();
            let parsed = Signature::parse(Some(&nonce), Some("Accept"), Some(&sig)).unwrap();
            let result = parsed.check_window(Millis::from_epoch_ms(now));
            prop_assert_eq!(result.is_ok(), offset.abs() <= NONCE_WINDOW_MS);
        }

        /// Whatever arrives in the three headers, parsing answers (and never panics).
        #[test]
        fn parsing_anything_answers(
            nonce in prop::option::of("\\PC{0,20}"),
            names in prop::option::of("\\PC{0,60}"),
            signature in prop::option::of("\\PC{0,120}"),
        ) {
            let _ = Signature::parse(nonce.as_deref(), names.as_deref(), signature.as_deref());
        }
    }
}
