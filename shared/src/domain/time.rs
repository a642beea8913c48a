//! Points in time as milliseconds since the Unix epoch (UTC): what the history stores and
//! answers (`createdAt`, `expiredAt`), and what lock leases and credit expiries compare.

use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(i64);

impl Millis {
    pub const fn from_epoch_ms(ms: i64) -> Self {
        Self(ms)
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_millis())
    }

    pub const fn epoch_ms(self) -> i64 {
        self.0
    }

    pub const fn epoch_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub const fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub const fn plus_seconds(self, seconds: i64) -> Self {
        self.plus_ms(seconds.saturating_mul(1000))
    }

    /// ISO-8601 / RFC 3339 in UTC with milliseconds: `2026-11-21T06:00:00.000Z`.
    pub fn to_iso8601(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_is_utc_with_milliseconds() {
        assert_eq!(Millis::from_epoch_ms(1_700_000_000_123).to_iso8601(), "2023-11-14T22:13:20.123Z");
        assert_eq!(Millis::from_epoch_ms(0).to_iso8601(), "1970-01-01T00:00:00.000Z");
    }
}
