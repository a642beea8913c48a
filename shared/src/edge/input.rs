//! Strict request input: a JSON body object whose fields are taken one by one (so every
//! error names its field and unknown fields are refused), and path/query parameters.

use super::error::ApiError;
use crate::domain::json::Members;
use crate::domain::money::{self, NumberError};
use serde_json::value::RawValue;
use std::collections::HashMap;

/// The members of a JSON object, in order, values still as raw JSON text (numbers stay
/// exact: nothing goes through f64).
pub struct Fields {
    members: Vec<(String, Box<RawValue>)>,
}

impl Fields {
    pub fn empty() -> Self {
        Self { members: Vec::new() }
    }

    /// Parses a body that must be one JSON object with distinct member names.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let Members(members) = serde_json::from_str(text).map_err(|e| {
            let what = if e.is_data() { "the body must be a JSON object" } else { "the body is not valid JSON" };
            ApiError::malformed(format!("{what} ({e})"))
        })?;
        for (i, (name, _)) in members.iter().enumerate() {
            if members[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::validation(name.clone(), "appears more than once"));
            }
        }
        Ok(Self { members })
    }

    /// Whether the member is there and `null` (which [`Fields::take`] reads as absent).
    pub fn is_null(&self, name: &str) -> bool {
        self.members.iter().any(|(member, value)| member == name && value.get() == "null")
    }

    /// Removes and returns a member; `null` counts as absent.
    pub fn take(&mut self, name: &str) -> Option<Box<RawValue>> {
        let position = self.members.iter().position(|(member, _)| member == name)?;
        let (_, value) = self.members.remove(position);
        (value.get() != "null").then_some(value)
    }

    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&RawValue) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        self.take(name).map(|raw| parse(&raw).map_err(|message| ApiError::validation(name, message))).transpose()
    }

    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&RawValue) -> Result<T, String>,
    ) -> Result<T, ApiError> {
        self.optional(name, parse)?.ok_or_else(|| ApiError::validation(name, "is required"))
    }

    /// An identifier a client echoes from the path into the body (Juspay's send `customer_id`
    /// on create, `wallet_id` on link): the same value is accepted, another is refused.
    pub fn echo(&mut self, name: &str, path_value: &str) -> Result<(), ApiError> {
        let Some(raw) = self.take(name) else { return Ok(()) };
        match string(&raw) {
            Ok(given) if given == path_value => Ok(()),
            _ => Err(ApiError::validation(name, format!("must be the {name} of the path ({path_value})"))),
        }
    }

    /// The members whose names start with `prefix` (`metadata.`), taken, names without it.
    pub fn take_prefixed(&mut self, prefix: &str) -> Vec<(String, Box<RawValue>)> {
        let (taken, kept) =
            std::mem::take(&mut self.members).into_iter().partition(|(name, _)| name.starts_with(prefix));
        self.members = kept;
        taken
            .into_iter()
            .map(|(name, value): (String, Box<RawValue>)| (name[prefix.len()..].to_owned(), value))
            .collect()
    }

    /// Refuses whatever member nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.members.into_iter().next() {
            Some((name, _)) => Err(ApiError::validation(name, "is not a known field")),
            None => Ok(()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// An `application/x-www-form-urlencoded` body (Juspay's clients send `POST /txns` so):
    /// every value becomes a JSON string, and a name given twice is refused as in JSON.
    pub fn from_form(text: &str) -> Result<Self, ApiError> {
        let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
        for (name, value) in form_urlencoded::parse(text.as_bytes()) {
            if members.iter().any(|(earlier, _)| *earlier == name) {
                return Err(ApiError::validation(name.into_owned(), "appears more than once"));
            }
            let json = serde_json::to_string(&value).map_err(|e| ApiError::malformed(e.to_string()))?;
            let raw = RawValue::from_string(json).map_err(|e| ApiError::malformed(e.to_string()))?;
            members.push((name.into_owned(), raw));
        }
        Ok(Self { members })
    }
}

/// A JSON string's content.
pub fn string(raw: &RawValue) -> Result<String, String> {
    if !raw.get().trim_start().starts_with('"') {
        return Err("must be a string".into());
    }
    serde_json::from_str(raw.get()).map_err(|_| "must be a string".to_owned())
}

/// A boolean as Juspay's servers take it: JSON `true`/`false`, or the text `true`/`false` in
/// any case (Python's clients send `True`, forms carry only text).
pub fn boolean(raw: &RawValue) -> Result<bool, String> {
    const WHAT: &str = "must be true or false";
    let text = match raw.get().trim() {
        "true" => return Ok(true),
        "false" => return Ok(false),
        json if json.starts_with('"') => string(raw)?,
        _ => return Err(WHAT.to_owned()),
    };
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(WHAT.to_owned())
    }
}

/// A form's text, a JSON string, or a JSON number's digits; nothing else (`true`, objects).
pub fn text(raw: &RawValue) -> Result<String, String> {
    let json = raw.get().trim();
    match json.bytes().next() {
        Some(b'"') => string(raw),
        Some(b'-' | b'0'..=b'9') => Ok(json.to_owned()),
        _ => Err("must be a string or a number".to_owned()),
    }
}

/// A whole number in a JSON body: any JSON number whose value has no fraction. JSON does not
/// tell `60` from `60.0` or `6e1` (nor does JSON Schema's `integer`, which openapi.yaml
/// promises), and serialisers that hold numbers as floats write the latter.
pub fn whole_number(raw: &RawValue) -> Result<u64, String> {
    const NOT_WHOLE: &str = "must be a positive whole number";
    let value = match money::parse_json_number(raw.get()) {
        Ok(value) => value,
        Err(NumberError::TooLarge) => return Err("is too large".to_owned()),
        Err(_) => return Err(NOT_WHOLE.to_owned()),
    };
    if value.is_sign_negative() || !value.fract().is_zero() {
        return Err(NOT_WHOLE.to_owned());
    }
    u64::try_from(value).map_err(|_| "is too large".to_owned())
}

fn digits(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a positive whole number".into());
    }
    text.parse().map_err(|_| "is too large".to_owned())
}

/// Path, query or (for direct invocations) envelope parameters.
#[derive(Default)]
pub struct Params {
    values: HashMap<String, Param>,
}

pub enum Param {
    /// From a URL: always text.
    Text(String),
    /// From a JSON payload: any JSON value.
    Json(Box<RawValue>),
}

impl Params {
    pub fn insert(&mut self, name: impl Into<String>, value: Param) {
        self.values.insert(name.into(), value);
    }

    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.values.get(name) {
            None => Ok(None),
            Some(Param::Text(text)) => Ok(Some(text.clone())),
            Some(Param::Json(raw)) if raw.get() == "null" => Ok(None),
            Some(Param::Json(raw)) => string(raw).map(Some).map_err(|m| ApiError::validation(name, m)),
        }
    }

    pub fn required_text(&self, name: &str) -> Result<String, ApiError> {
        self.text(name)?.ok_or_else(|| ApiError::validation(name, "is required"))
    }

    /// A whole number, given as digits in a URL, or as a number or a digit string in JSON.
    pub fn whole_number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        let parsed = match self.values.get(name) {
            None => return Ok(None),
            Some(Param::Json(raw)) if raw.get() == "null" => return Ok(None),
            Some(Param::Json(raw)) if raw.get().starts_with('"') => string(raw).and_then(|text| digits(&text)),
            Some(Param::Json(raw)) => whole_number(raw),
            Some(Param::Text(text)) => digits(text),
        };
        parsed.map(Some).map_err(|message| ApiError::validation(name, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_taken_by_name_and_leftovers_are_refused() {
        let mut fields = Fields::parse(r#"{"a": "x", "b": 1.10, "c": null}"#).unwrap();
        assert_eq!(fields.required("a", string).unwrap(), "x");
        assert_eq!(fields.take("b").unwrap().get(), "1.10");
        assert!(fields.take("c").is_none());
        assert!(fields.finish().is_ok());

        let fields = Fields::parse(r#"{"extra": true}"#).unwrap();
        assert_eq!(fields.finish().unwrap_err().field.as_deref(), Some("extra"));
    }

    #[test]
    fn malformed_bodies_and_duplicates_are_validation_errors() {
        for body in ["", "[1]", "\"x\"", "{", "{\"a\":1,}", "nul"] {
            let error = Fields::parse(body).err().unwrap();
            assert_eq!((error.status, error.code), (400, "VALIDATION_ERROR"), "{body}");
        }
        let error = Fields::parse(r#"{"a":1,"a":2}"#).err().unwrap();
        assert_eq!(error.field.as_deref(), Some("a"));
    }

    #[test]
    fn form_bodies_become_string_fields() {
        let mut fields =
            Fields::from_form("order_id=o1&amount=10.50&redirect_after_payment=true&note=a%20b%26c").unwrap();
        assert_eq!(fields.required("amount", string).unwrap(), "10.50");
        assert_eq!(fields.required("note", string).unwrap(), "a b&c");
        assert_eq!(fields.take("redirect_after_payment").unwrap().get(), "\"true\"");
        assert!(Fields::from_form("a=1&a=2").is_err());
    }

    #[test]
    fn booleans_are_true_or_false_in_any_case_and_nothing_else() {
        let raw = |t: &str| RawValue::from_string(t.to_owned()).unwrap();
        for (text, value) in
            [("true", true), ("false", false), ("\"True\"", true), ("\"FALSE\"", false), ("\"tRuE\"", true)]
        {
            assert_eq!(boolean(&raw(text)), Ok(value), "{text}");
        }
        for bad in ["1", "0", "\"yes\"", "\"\"", "null", "\"true \"", "[true]", "\"t\""] {
            assert!(boolean(&raw(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_echoed_identifier_must_be_the_paths() {
        let mut fields = Fields::from_form("customer_id=c1&gateway=PAYTM").unwrap();
        assert!(fields.echo("customer_id", "c1").is_ok());
        assert!(fields.echo("customer_id", "c1").is_ok(), "absent is fine");
        let mut fields = Fields::from_form("customer_id=c2").unwrap();
        let error = fields.echo("customer_id", "c1").unwrap_err();
        assert_eq!((error.status, error.field.as_deref()), (400, Some("customer_id")));
        let mut fields = Fields::parse(r#"{"wallet_id": 7}"#).unwrap();
        assert!(fields.echo("wallet_id", "7").is_err(), "a number is not the path's text");
    }

    #[test]
    fn prefixed_members_are_taken_together() {
        let mut fields = Fields::from_form("metadata.a=1&amount=2&metadata.b%3Ac=3").unwrap();
        let taken: Vec<_> =
            fields.take_prefixed("metadata.").into_iter().map(|(k, v)| (k, string(&v).unwrap())).collect();
        assert_eq!(taken, vec![("a".to_owned(), "1".to_owned()), ("b:c".to_owned(), "3".to_owned())]);
        assert_eq!(fields.required("amount", string).unwrap(), "2");
        assert!(fields.finish().is_ok());
    }

    proptest::proptest! {
        #[test]
        fn boolean_parsing_never_panics_and_accepts_only_two_words(text in ".{0,12}") {
            let json = serde_json::to_string(&text).unwrap();
            let raw = RawValue::from_string(json).unwrap();
            let parsed = boolean(&raw);
            proptest::prop_assert_eq!(parsed.is_ok(), text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false"));
        }
    }

    #[test]
    fn whole_numbers_are_json_numbers_without_a_fraction() {
        let raw = |t: &str| RawValue::from_string(t.to_owned()).unwrap();
        // Found by the contract test: `4234.0` is an integer to JSON Schema and was refused.
        for (text, value) in [("42", 42), ("42.0", 42), ("4.2e1", 42), ("420E-1", 42), ("0", 0)] {
            assert_eq!(whole_number(&raw(text)), Ok(value), "{text}");
        }
        for bad in ["-1", "-0", "1.5", "1e-3", "\"42\"", "true", "null", "99999999999999999999999", "1e400"] {
            assert!(whole_number(&raw(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn whole_numbers_in_urls_are_plain_digits() {
        let mut params = Params::default();
        for (name, text) in [("a", "42"), ("b", "42.0"), ("c", "+4"), ("d", "")] {
            params.insert(name, Param::Text(text.to_owned()));
        }
        assert_eq!(params.whole_number("a"), Ok(Some(42)));
        for name in ["b", "c", "d"] {
            assert_eq!(params.whole_number(name).map_err(|e| e.field), Err(Some(name.to_owned())));
        }
    }
}
