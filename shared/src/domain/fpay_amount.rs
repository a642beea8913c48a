//! A movement's `amount` as FPay's SDK writes it (tests/clients/FPAY_WIRE.md §5), read from the
//! field's raw JSON text so that numbers stay exact (never f64). Three forms:
//!
//! - a JSON number, `2500` or `1500.5`: in the wallets' own currency (no currency named);
//! - a string `"<number> <currency>"`, `"10_000 XOF"`, `"1_500.5 XOF"`;
//! - FPay's AmountForm, an object `{"value": <JSON number>, "currency": "XOF"}`.
//!
//! The rules of the string form: the number is ASCII digits, optionally `.` and at least one
//! more digit; `_` may only stand between two digits of the integer part (none leading,
//! trailing, doubled, next to the `.` or among the decimals); no sign, no exponent, no
//! leading zero (`0.5` is fine, `05` is not); then exactly one ASCII space; then the currency,
//! three capital letters A-Z (a [`BalanceType`]). Nothing before or after. Digit groups may
//! have any length (`1_0` is `10`): FPay's `_` is a reading aid, not a locale.
//!
//! The object form has exactly the keys `value` and `currency`, each once: `value` is a JSON
//! number (the plain form's rules, exponent allowed; a string is refused, use the string form
//! for that), `currency` a JSON string of three capital letters. Any other key is refused.
//!
//! Whatever the form, the value then obeys [`Amount`]'s rules: above 0, at most 8 decimal
//! places (trailing zeros do not count), below 10^15.

use super::json::Members;
use super::money::{Amount, AmountError};
use super::names::BalanceType;
use serde_json::value::RawValue;

/// A parsed `amount`: the value, and the currency when the form named one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FpayAmount {
    pub amount: Amount,
    /// `None` for the plain-number form: the wallets' own currency.
    pub currency: Option<BalanceType>,
}

/// Why an `amount` is refused; each message reads after the field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FpayAmountError {
    #[error(
        "must be a number, a string \"<number> <currency>\" such as \"10_000 XOF\", or an object \
         {{\"value\": <number>, \"currency\": \"XOF\"}}"
    )]
    Form,
    #[error("must be \"<number> <currency>\" with exactly one space between them, such as \"10_000 XOF\"")]
    StringShape,
    #[error("must not have a sign in the string form")]
    Sign,
    #[error("must not have an exponent in the string form")]
    Exponent,
    #[error("must not start with a 0 unless it is 0.<decimals>")]
    LeadingZero,
    #[error("may only have '_' between two digits of the integer part, such as \"10_000 XOF\"")]
    Grouping,
    #[error("must not have '_' in its decimals")]
    GroupedDecimals,
    #[error("must be digits, optionally followed by '.' and more digits, before the currency")]
    NotDigits,
    #[error("currency must be exactly three capital letters A-Z, such as XOF")]
    Currency,
    #[error("must have a \"{0}\" key in the object form")]
    MissingKey(&'static str),
    #[error("has an unknown key {0:?}: the object form takes only \"value\" and \"currency\"")]
    UnknownKey(String),
    #[error("has the key {0:?} more than once")]
    DuplicateKey(String),
    #[error("value must be a JSON number in the object form")]
    ValueNotNumber,
    #[error("currency must be a string in the object form, such as \"XOF\"")]
    CurrencyNotString,
    #[error("{0}")]
    Amount(#[from] AmountError),
}

/// Parses the raw JSON text of an `amount` in any of its three forms.
pub fn parse(raw: &RawValue) -> Result<FpayAmount, FpayAmountError> {
    let text = raw.get().trim();
    match text.as_bytes().first() {
        Some(b'"') => {
            let content: String = serde_json::from_str(text).map_err(|_| FpayAmountError::Form)?;
            parse_string(&content)
        }
        Some(b'{') => parse_object(text),
        Some(b'-' | b'0'..=b'9') => Ok(FpayAmount { amount: Amount::parse_json(text)?, currency: None }),
        _ => Err(FpayAmountError::Form),
    }
}

/// The string form's content (already unescaped): `"10_000 XOF"`.
pub fn parse_string(text: &str) -> Result<FpayAmount, FpayAmountError> {
    let (number, currency) = text.split_once(' ').ok_or(FpayAmountError::StringShape)?;
    if number.is_empty() || currency.is_empty() || number.chars().chain(currency.chars()).any(char::is_whitespace) {
        return Err(FpayAmountError::StringShape);
    }
    let amount = parse_grouped_number(number)?;
    let currency = BalanceType::parse(currency).map_err(|_| FpayAmountError::Currency)?;
    Ok(FpayAmount { amount, currency: Some(currency) })
}

/// `10_000`, `1_500.5`, `0.25`: digits grouped with `_`, no sign, no exponent.
fn parse_grouped_number(number: &str) -> Result<Amount, FpayAmountError> {
    if number.starts_with(['+', '-']) {
        return Err(FpayAmountError::Sign);
    }
    if number.contains(['e', 'E']) {
        return Err(FpayAmountError::Exponent);
    }
    let (int_part, frac_part) = match number.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (number, None),
    };
    if !int_part.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return Err(FpayAmountError::NotDigits);
    }
    if let Some(frac) = frac_part {
        if frac.contains('_') && frac.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return Err(FpayAmountError::GroupedDecimals);
        }
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FpayAmountError::NotDigits);
        }
    }
    if int_part.is_empty() {
        return Err(FpayAmountError::NotDigits);
    }
    if int_part.starts_with('_') || int_part.ends_with('_') || int_part.contains("__") {
        return Err(FpayAmountError::Grouping);
    }
    let digits: String = int_part.chars().filter(|c| *c != '_').collect();
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(FpayAmountError::LeadingZero);
    }
    // Now `digits[.frac]` is a JSON number literal: the exact reader and the amount's rules.
    let literal = match frac_part {
        Some(frac) => format!("{digits}.{frac}"),
        None => digits,
    };
    Ok(Amount::parse_json(&literal)?)
}

/// `{"value": 2500, "currency": "XOF"}`.
fn parse_object(text: &str) -> Result<FpayAmount, FpayAmountError> {
    let Members(members) = serde_json::from_str(text).map_err(|_| FpayAmountError::Form)?;
    let (mut value, mut currency) = (None, None);
    for (key, raw) in members {
        let slot = match key.as_str() {
            "value" => &mut value,
            "currency" => &mut currency,
            _ => return Err(FpayAmountError::UnknownKey(key)),
        };
        if slot.replace(raw).is_some() {
            return Err(FpayAmountError::DuplicateKey(key));
        }
    }
    let value = value.ok_or(FpayAmountError::MissingKey("value"))?;
    let currency = currency.ok_or(FpayAmountError::MissingKey("currency"))?;
    let value_text = value.get().trim();
    if !value_text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(FpayAmountError::ValueNotNumber);
    }
    let amount = Amount::parse_json(value_text)?;
    let currency_text = currency.get().trim();
    if !currency_text.starts_with('"') {
        return Err(FpayAmountError::CurrencyNotString);
    }
    let code: String = serde_json::from_str(currency_text).map_err(|_| FpayAmountError::CurrencyNotString)?;
    let currency = BalanceType::parse(&code).map_err(|_| FpayAmountError::Currency)?;
    Ok(FpayAmount { amount, currency: Some(currency) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::{self, NumberError};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap()
    }

    fn ok(json: &str) -> (Decimal, Option<String>) {
        let parsed = parse(&raw(json)).unwrap_or_else(|e| panic!("{json}: {e}"));
        (parsed.amount.value(), parsed.currency.map(|c| c.as_str().to_owned()))
    }

    fn err(json: &str) -> FpayAmountError {
        match parse(&raw(json)) {
            Ok(parsed) => panic!("{json} parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    fn xof(value: &str) -> (Decimal, Option<String>) {
        (dec(value), Some("XOF".to_owned()))
    }

    #[test]
    fn the_string_form_reads_grouped_digits_and_a_currency() {
        assert_eq!(ok(r#""10_000 XOF""#), xof("10000"));
        assert_eq!(ok(r#""5 XOF""#), xof("5"));
        assert_eq!(ok(r#""1_500.5 XOF""#), xof("1500.5"));
        assert_eq!(ok(r#""1_500 XOF""#), xof("1500"));
        assert_eq!(ok(r#""700 XOF""#), xof("700"));
        assert_eq!(ok(r#""1_0 XOF""#), xof("10"), "groups of any length");
        assert_eq!(ok(r#""1_2_3_4 XOF""#), xof("1234"));
        assert_eq!(ok(r#""0.25 EUR""#), (dec("0.25"), Some("EUR".to_owned())));
        assert_eq!(ok(r#""0.00000001 XOF""#), xof("0.00000001"));
        assert_eq!(ok(r#""1.50000000000 XOF""#), xof("1.5"), "trailing zeros are no precision");
        assert_eq!(ok(r#""999_999_999_999_999.99999999 XOF""#), xof("999999999999999.99999999"));
        assert_eq!(ok(r#""10\u0020XOF""#), xof("10"), "an escaped space is a space");
        assert_eq!(ok(r#"  "5 XOF"  "#), xof("5"), "whitespace around the JSON value");
    }

    #[test]
    fn the_object_form_reads_value_and_currency() {
        assert_eq!(ok(r#"{"value": 2500, "currency": "XOF"}"#), xof("2500"));
        assert_eq!(ok(r#"{"currency": "XOF", "value": 2500}"#), xof("2500"), "in either order");
        assert_eq!(ok(r#"{"value": 1500.50, "currency": "XOF"}"#), xof("1500.5"));
        assert_eq!(ok(r#"{"value": 2.5e3, "currency": "XOF"}"#), xof("2500"), "a JSON number, exponent and all");
        assert_eq!(ok(r#"{"value":0.1,"currency":"EUR"}"#), (dec("0.1"), Some("EUR".to_owned())));
    }

    #[test]
    fn the_number_form_names_no_currency() {
        assert_eq!(ok("2500"), (dec("2500"), None));
        assert_eq!(ok("7.25"), (dec("7.25"), None));
        assert_eq!(ok("1e3"), (dec("1000"), None));
        assert_eq!(err("0"), FpayAmountError::Amount(AmountError::NotPositive));
        assert_eq!(err("-1"), FpayAmountError::Amount(AmountError::NotPositive));
        assert_eq!(err("0.123456789"), FpayAmountError::Amount(AmountError::Number(NumberError::TooPrecise)));
    }

    #[test]
    fn other_json_is_refused() {
        // (Text that is no JSON at all never gets here: the body is parsed first.)
        for json in ["true", "false", "null", "[]", "[1]", r#"["10 XOF"]"#] {
            assert_eq!(err(json), FpayAmountError::Form, "{json}");
        }
    }

    #[test]
    fn the_string_form_needs_one_space_and_a_currency() {
        for json in [
            r#""10""#,
            r#""10_000""#,
            r#""10XOF""#,
            r#""10  XOF""#,
            r#"" 10 XOF""#,
            r#""10 XOF ""#,
            r#""10 XOF XOF""#,
            r#""10 ""#,
            r#"" XOF""#,
            r#""""#,
            r#"" ""#,
            r#""10\tXOF""#,
            r#""10 XOF\n""#,
        ] {
            assert_eq!(err(json), FpayAmountError::StringShape, "{json}");
        }
    }

    #[test]
    fn the_string_form_refuses_misplaced_underscores() {
        for json in [r#""_10 XOF""#, r#""10_ XOF""#, r#""1__000 XOF""#, r#""_ XOF""#, r#""1_.5 XOF""#] {
            assert_eq!(err(json), FpayAmountError::Grouping, "{json}");
        }
        for json in [r#""1._5 XOF""#, r#""1.5_0 XOF""#, r#""1.000_5 XOF""#, r#""1.5_ XOF""#] {
            assert_eq!(err(json), FpayAmountError::GroupedDecimals, "{json}");
        }
    }

    #[test]
    fn the_string_form_refuses_signs_exponents_leading_zeros_and_other_characters() {
        for json in [r#""-5 XOF""#, r#""+5 XOF""#] {
            assert_eq!(err(json), FpayAmountError::Sign, "{json}");
        }
        for json in [r#""1e3 XOF""#, r#""1E3 XOF""#, r#""1.5e-2 XOF""#] {
            assert_eq!(err(json), FpayAmountError::Exponent, "{json}");
        }
        for json in [r#""05 XOF""#, r#""0_5 XOF""#, r#""00.5 XOF""#, r#""007 XOF""#] {
            assert_eq!(err(json), FpayAmountError::LeadingZero, "{json}");
        }
        for json in [
            r#""1,000 XOF""#,
            r#""1 000 XOF""#,
            r#""1.5.0 XOF""#,
            r#""1. XOF""#,
            r#"".5 XOF""#,
            r#""1.a XOF""#,
            r#""NaN XOF""#,
            r#""１０ XOF""#,
            r#""10$ XOF""#,
        ] {
            let error = err(json);
            // "1 000 XOF" has two spaces: the shape; the others: their digits.
            let expected =
                if json.contains("1 000") { FpayAmountError::StringShape } else { FpayAmountError::NotDigits };
            assert_eq!(error, expected, "{json}");
        }
    }

    #[test]
    fn the_string_form_keeps_the_amount_rules() {
        assert_eq!(err(r#""0 XOF""#), FpayAmountError::Amount(AmountError::NotPositive));
        assert_eq!(err(r#""0.0 XOF""#), FpayAmountError::Amount(AmountError::NotPositive));
        assert_eq!(err(r#""0.123456789 XOF""#), FpayAmountError::Amount(AmountError::Number(NumberError::TooPrecise)));
        assert_eq!(
            err(r#""1_000_000_000_000_000 XOF""#),
            FpayAmountError::Amount(AmountError::Number(NumberError::TooLarge))
        );
    }

    #[test]
    fn the_currency_is_three_capital_letters() {
        for json in [
            r#""5 xof""#,
            r#""5 Xof""#,
            r#""5 XO""#,
            r#""5 XOFF""#,
            r#""5 X0F""#,
            r#""5 ÉUR""#,
            r#"{"value": 5, "currency": "xof"}"#,
            r#"{"value": 5, "currency": ""}"#,
            r#"{"value": 5, "currency": " XOF"}"#,
        ] {
            assert_eq!(err(json), FpayAmountError::Currency, "{json}");
        }
    }

    #[test]
    fn the_object_form_takes_exactly_value_and_currency() {
        assert_eq!(err(r#"{"value": 5}"#), FpayAmountError::MissingKey("currency"));
        assert_eq!(err(r#"{"currency": "XOF"}"#), FpayAmountError::MissingKey("value"));
        assert_eq!(err(r#"{}"#), FpayAmountError::MissingKey("value"));
        assert_eq!(
            err(r#"{"value": 5, "currency": "XOF", "unit": "FCFA"}"#),
            FpayAmountError::UnknownKey("unit".to_owned())
        );
        assert_eq!(err(r#"{"Value": 5, "currency": "XOF"}"#), FpayAmountError::UnknownKey("Value".to_owned()));
        assert_eq!(
            err(r#"{"value": 5, "value": 6, "currency": "XOF"}"#),
            FpayAmountError::DuplicateKey("value".to_owned())
        );
        assert_eq!(
            err(r#"{"value": 5, "currency": "XOF", "currency": "XOF"}"#),
            FpayAmountError::DuplicateKey("currency".to_owned())
        );
        for json in [
            r#"{"value": "2500", "currency": "XOF"}"#,
            r#"{"value": "2_500 XOF", "currency": "XOF"}"#,
            r#"{"value": null, "currency": "XOF"}"#,
            r#"{"value": true, "currency": "XOF"}"#,
            r#"{"value": {}, "currency": "XOF"}"#,
        ] {
            assert_eq!(err(json), FpayAmountError::ValueNotNumber, "{json}");
        }
        for json in [r#"{"value": 5, "currency": null}"#, r#"{"value": 5, "currency": 952}"#] {
            assert_eq!(err(json), FpayAmountError::CurrencyNotString, "{json}");
        }
        assert_eq!(err(r#"{"value": 0, "currency": "XOF"}"#), FpayAmountError::Amount(AmountError::NotPositive));
        assert_eq!(
            err(r#"{"value": 1e15, "currency": "XOF"}"#),
            FpayAmountError::Amount(AmountError::Number(NumberError::TooLarge))
        );
    }

    #[test]
    fn messages_say_what_is_expected() {
        assert!(FpayAmountError::Form.to_string().contains("\"10_000 XOF\""));
        assert!(FpayAmountError::StringShape.to_string().contains("exactly one space"));
        assert!(FpayAmountError::UnknownKey("unit".into()).to_string().contains("\"unit\""));
        assert_eq!(FpayAmountError::Amount(AmountError::NotPositive).to_string(), "must be greater than 0");
    }

    /// `digits` with `_` inserted before each digit whose flag is set (never before the first).
    fn grouped(digits: &str, cuts: &[bool]) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && cuts.get(i).copied().unwrap_or(false) {
                out.push('_');
            }
            out.push(c);
        }
        out
    }

    fn amounts() -> impl Strategy<Value = Decimal> {
        (0u32..=8)
            .prop_flat_map(|scale| (1i128..10i128.pow(15 + scale), Just(scale)))
            .prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s))
    }

    proptest! {
        #[test]
        fn any_grouping_of_the_integer_digits_reads_back(
            value in amounts(),
            cuts in proptest::collection::vec(any::<bool>(), 16),
            currency in "[A-Z]{3}",
        ) {
            let text = money::format(value);
            let (int_part, frac_part) = match text.split_once('.') {
                Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
                None => (text.clone(), None),
            };
            let number = match frac_part {
                Some(frac) => format!("{}.{frac}", grouped(&int_part, &cuts)),
                None => grouped(&int_part, &cuts),
            };
            let json = serde_json::to_string(&format!("{number} {currency}")).unwrap();
            let parsed = parse(&raw(&json)).unwrap();
            prop_assert_eq!(parsed.amount.value(), value.normalize());
            prop_assert_eq!(parsed.currency.as_ref().map(BalanceType::as_str), Some(currency.as_str()));
        }

        #[test]
        fn the_three_forms_of_one_value_agree(value in amounts(), currency in "[A-Z]{3}") {
            let text = money::format(value);
            let plain = parse(&raw(&text)).unwrap();
            let string = parse(&raw(&serde_json::to_string(&format!("{text} {currency}")).unwrap())).unwrap();
            let object = parse(&raw(&format!(r#"{{"value": {text}, "currency": "{currency}"}}"#))).unwrap();
            prop_assert_eq!(plain.amount, string.amount);
            prop_assert_eq!(string.amount, object.amount);
            prop_assert_eq!(plain.currency, None);
            prop_assert_eq!(&string.currency, &object.currency);
            prop_assert_eq!(string.currency.as_ref().map(BalanceType::as_str), Some(currency.as_str()));
        }

        #[test]
        fn the_string_form_never_panics(text in ".{0,40}") {
            let _ = parse_string(&text);
        }

        #[test]
        fn number_shaped_strings_never_panic(text in "[-+]?[0-9_]{0,20}(\\.[0-9_]{0,12})?([eE][0-9]{0,3})? ?[A-Za-z]{0,4}") {
            let _ = parse_string(&text);
        }
    }
}
