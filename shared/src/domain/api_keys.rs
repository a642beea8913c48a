//! An API key's life besides its project and scopes: when it stops working (an end date given
//! at creation, or a rotation's grace period), whether it was revoked, and how many requests a
//! minute it may make. Pure: the callers bring the time.

use super::time::Millis;

/// A rate limit's window: requests are counted per whole minute (a fixed window).
pub const RATE_WINDOW_MS: i64 = 60_000;

/// What limits a key beyond its scopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLimits {
    /// The moment it stops working, if it ever does.
    pub valid_until: Option<Millis>,
    pub revoked_at: Option<Millis>,
    /// Requests per minute; `None`: no limit (and no counting).
    pub rate_per_minute: Option<u32>,
}

/// Why a known key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    Revoked,
    Expired,
}

impl KeyLimits {
    pub fn check(&self, now: Millis) -> Result<(), KeyRefusal> {
        if self.revoked_at.is_some_and(|at| at <= now) {
            return Err(KeyRefusal::Revoked);
        }
        if self.valid_until.is_some_and(|until| until <= now) {
            return Err(KeyRefusal::Expired);
        }
        Ok(())
    }
}

/// The window `now` counts in (its start), and the whole seconds until the next one begins
/// (at least 1): what a refused caller is told to wait.
pub fn rate_window(now: Millis) -> (Millis, u32) {
    let start = now.epoch_ms().div_euclid(RATE_WINDOW_MS) * RATE_WINDOW_MS;
    let left_ms = start + RATE_WINDOW_MS - now.epoch_ms();
    (Millis::from_epoch_ms(start), u32::try_from((left_ms + 999) / 1000).unwrap_or(60).max(1))
}

/// `30d`, `12h`, `90m`, `45s` (one unit) as milliseconds: the admin tool's `--expires-in` and
/// `--grace`.
pub fn parse_span(text: &str) -> Option<i64> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let value: i64 = digits.parse().ok().filter(|v| *v > 0)?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    value.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_works_until_it_is_revoked_or_its_time_is_up() {
        let at = Millis::from_epoch_ms;
        let limits = KeyLimits { valid_until: Some(at(1_000)), ..KeyLimits::default() };
        assert_eq!(limits.check(at(999)), Ok(()));
        assert_eq!(limits.check(at(1_000)), Err(KeyRefusal::Expired));
        let revoked = KeyLimits { revoked_at: Some(at(500)), ..limits };
        assert_eq!(revoked.check(at(499)), Ok(()));
        assert_eq!(revoked.check(at(500)), Err(KeyRefusal::Revoked));
        assert_eq!(KeyLimits::default().check(at(i64::MAX)), Ok(()));
    }

    #[test]
    fn a_window_is_a_whole_minute_and_says_how_long_is_left() {
        assert_eq!(rate_window(Millis::from_epoch_ms(120_000)), (Millis::from_epoch_ms(120_000), 60));
        assert_eq!(rate_window(Millis::from_epoch_ms(179_001)), (Millis::from_epoch_ms(120_000), 1));
        assert_eq!(rate_window(Millis::from_epoch_ms(150_500)), (Millis::from_epoch_ms(120_000), 30));
    }

    #[test]
    fn spans_have_one_unit() {
        assert_eq!(parse_span("30d"), Some(30 * 86_400_000));
        assert_eq!(parse_span("90m"), Some(5_400_000));
        for bad in ["", "d", "0h", "1h30m", "-1h", "5w", "1.5h"] {
            assert_eq!(parse_span(bad), None, "{bad}");
        }
    }
}
