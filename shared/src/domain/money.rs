//! Exact money. Amounts are `rust_decimal::Decimal`, read from the text of a JSON number
//! (never through f64) and written back as exact JSON number text.

use rust_decimal::Decimal;
use std::fmt;

/// Amounts carry at most this many decimal places.
pub const MAX_SCALE: u32 = 8;
/// Every amount and every balance stays strictly inside ±10^15: with 8 decimal places that
/// is 23 significant digits, well inside Decimal's 28, so sums never lose precision.
pub const LIMIT_DIGITS: usize = 15;

pub fn limit() -> Decimal {
    Decimal::from(1_000_000_000_000_000_i64)
}

/// Whether `value` is a legal stored amount or balance: |value| < 10^15, ≤ 8 decimals.
pub fn in_range(value: Decimal) -> bool {
    value.abs() < limit() && value.normalize().scale() <= MAX_SCALE
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("must be a JSON number")]
    NotANumber,
    #[error("negative zero is not a valid value")]
    NegativeZero,
    #[error("has more than 8 decimal places")]
    TooPrecise,
    #[error("must be below 10^15 in magnitude")]
    TooLarge,
}

/// Parses the text of a JSON number literal (`-12.5`, `3e2`, ...) into an exact decimal.
///
/// Rejects anything that is not a JSON number (strings such as `"NaN"`, booleans, ...),
/// negative zero, values with more than 8 significant decimal places and magnitudes at or
/// above 10^15. Trailing zeros do not count as precision: `1.500000000` is `1.5`.
pub fn parse_json_number(text: &str) -> Result<Decimal, NumberError> {
    let literal = JsonNumberLiteral::parse(text.trim()).ok_or(NumberError::NotANumber)?;
    literal.to_decimal()
}

/// The pieces of a JSON number literal, validated against the JSON grammar.
struct JsonNumberLiteral<'a> {
    negative: bool,
    int_digits: &'a str,
    frac_digits: &'a str,
    exponent: i64,
}

impl<'a> JsonNumberLiteral<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, rest) = rest.split_at(int_len);
        if int_digits.is_empty() || (int_digits.len() > 1 && int_digits.starts_with('0')) {
            return None;
        }
        let (frac_digits, rest) = match rest.strip_prefix('.') {
            Some(after_dot) => {
                let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                if len == 0 {
                    return None;
                }
                after_dot.split_at(len)
            }
            None => ("", rest),
        };
        let exponent = match rest.strip_prefix(['e', 'E']) {
            Some(exp) => {
                let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // Saturate: anything this large is out of range either way.
                let magnitude = digits.parse::<i64>().unwrap_or(i64::MAX / 2).min(1_000_000);
                if exp.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                }
            }
            None if rest.is_empty() => 0,
            None => return None,
        };
        Some(Self { negative, int_digits, frac_digits, exponent })
    }

    fn to_decimal(&self) -> Result<Decimal, NumberError> {
        let mut digits: String = format!("{}{}", self.int_digits, self.frac_digits);
        // The value is digits × 10^-(scale).
        let mut scale = self.frac_digits.len() as i64 - self.exponent;
        let trimmed = digits.trim_start_matches('0').len();
        if trimmed == 0 {
            return if self.negative { Err(NumberError::NegativeZero) } else { Ok(Decimal::ZERO) };
        }
        digits.drain(..digits.len() - trimmed);
        while scale > 0 && digits.ends_with('0') {
            digits.pop();
            scale -= 1;
        }
        if scale > MAX_SCALE as i64 {
            return Err(NumberError::TooPrecise);
        }
        let int_digits = digits.len() as i64 - scale;
        if int_digits > LIMIT_DIGITS as i64 {
            return Err(NumberError::TooLarge);
        }
        if scale < 0 {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            scale = 0;
        }
        // At most 15 + 8 digits: fits i128 and Decimal's 28-digit mantissa.
        let mantissa: i128 = digits.parse().map_err(|_| NumberError::TooLarge)?;
        let mantissa = if self.negative { -mantissa } else { mantissa };
        Decimal::try_from_i128_with_scale(mantissa, scale as u32).map_err(|_| NumberError::TooLarge)
    }
}

/// The canonical text of an amount: no exponent, no trailing zeros, `0` for zero.
/// The checksum chain and every JSON answer use this form.
pub fn format(value: Decimal) -> String {
    if value.is_zero() {
        return "0".to_owned();
    }
    value.normalize().to_string()
}

/// An operation amount: strictly positive, at most 8 decimal places, below 10^15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(Decimal);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{0}")]
    Number(#[from] NumberError),
    #[error("must be greater than 0")]
    NotPositive,
}

impl Amount {
    pub fn parse_json(text: &str) -> Result<Self, AmountError> {
        Self::new(parse_json_number(text)?)
    }

    pub fn new(value: Decimal) -> Result<Self, AmountError> {
        if value <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        if !in_range(value) {
            return Err(AmountError::Number(NumberError::TooLarge));
        }
        Ok(Self(value.normalize()))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

/// The lowest a balance may go: zero or below, at most 8 decimal places, above -10^15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinLimit(Decimal);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MinLimitError {
    #[error("{0}")]
    Number(#[from] NumberError),
    #[error("must be 0 or less")]
    Positive,
}

impl MinLimit {
    pub const ZERO: MinLimit = MinLimit(Decimal::ZERO);

    pub fn parse_json(text: &str) -> Result<Self, MinLimitError> {
        Self::new(parse_json_number(text)?)
    }

    pub fn new(value: Decimal) -> Result<Self, MinLimitError> {
        if value > Decimal::ZERO {
            return Err(MinLimitError::Positive);
        }
        if !in_range(value) {
            return Err(MinLimitError::Number(NumberError::TooLarge));
        }
        Ok(Self(value.normalize()))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn plain_and_exponent_literals_parse_exactly() {
        assert_eq!(parse_json_number("0.1"), Ok(dec("0.1")));
        assert_eq!(parse_json_number("12345678901234.12345678"), Ok(dec("12345678901234.12345678")));
        assert_eq!(parse_json_number("1.5e2"), Ok(dec("150")));
        assert_eq!(parse_json_number("15E-1"), Ok(dec("1.5")));
        assert_eq!(parse_json_number("1.500000000"), Ok(dec("1.5")));
        assert_eq!(parse_json_number("-7"), Ok(dec("-7")));
        assert_eq!(parse_json_number("0"), Ok(Decimal::ZERO));
        assert_eq!(parse_json_number("0e999999999999"), Ok(Decimal::ZERO));
    }

    #[test]
    fn non_numbers_are_rejected() {
        for text in [
            "\"1\"",
            "\"NaN\"",
            "NaN",
            "Infinity",
            "-Infinity",
            "true",
            "null",
            "{}",
            "[]",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "--1",
            "0x10",
            "",
        ] {
            assert_eq!(parse_json_number(text), Err(NumberError::NotANumber), "{text}");
        }
    }

    #[test]
    fn negative_zero_precision_and_magnitude_are_rejected() {
        assert_eq!(parse_json_number("-0"), Err(NumberError::NegativeZero));
        assert_eq!(parse_json_number("-0.000"), Err(NumberError::NegativeZero));
        assert_eq!(parse_json_number("0.123456789"), Err(NumberError::TooPrecise));
        assert_eq!(parse_json_number("1e-9"), Err(NumberError::TooPrecise));
        assert_eq!(parse_json_number("1000000000000000"), Err(NumberError::TooLarge));
        assert_eq!(parse_json_number("1e15"), Err(NumberError::TooLarge));
        assert_eq!(parse_json_number("1e400"), Err(NumberError::TooLarge));
        assert_eq!(parse_json_number("999999999999999.99999999"), Ok(dec("999999999999999.99999999")));
    }

    #[test]
    fn amounts_must_be_positive_and_min_limits_not_positive() {
        assert_eq!(Amount::parse_json("0"), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse_json("-1"), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse_json("0.00000001").map(Amount::value), Ok(dec("0.00000001")));
        assert_eq!(MinLimit::parse_json("1"), Err(MinLimitError::Positive));
        assert_eq!(MinLimit::parse_json("-100.5").map(MinLimit::value), Ok(dec("-100.5")));
    }

    #[test]
    fn formatting_is_canonical() {
        assert_eq!(format(dec("0.1") + dec("0.2")), "0.3");
        assert_eq!(format(dec("10.500")), "10.5");
        assert_eq!(format(dec("-0.0")), "0");
        assert_eq!(format(dec("1e3")), "1000");
    }

    proptest! {
        #[test]
        fn every_in_range_decimal_round_trips_through_its_text(
            (mantissa, scale) in (0u32..=8).prop_flat_map(|scale| {
                let bound = 10i128.pow(15 + scale);
                (-bound + 1..bound, Just(scale))
            })
        ) {
            let value = Decimal::from_i128_with_scale(mantissa, scale);
            prop_assert!(in_range(value));
            prop_assert_eq!(parse_json_number(&format(value)), Ok(value.normalize()));
        }

        #[test]
        fn the_parser_never_panics(text in ".{0,40}") {
            let _ = parse_json_number(&text);
        }

        #[test]
        fn number_shaped_text_never_panics(text in "-?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][+-]?[0-9]{0,25})?") {
            let _ = parse_json_number(&text);
        }
    }
}
