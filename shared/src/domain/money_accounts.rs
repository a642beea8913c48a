//! Where money comes from or goes to outside a wallet: a mobile-money account, as FPay writes
//! it in a deposit's `source` (`CI MtnMoney +2250500000000`: the country, the provider's key,
//! the account's number), and which pocket of an account a transaction touches.

use super::names::NameError;
use std::fmt;

/// A mobile-money account at a provider in a country (ISO 3166 alpha-2, upper case).
#[derive(Debug, Clone, PartialEq)]
pub struct MobileMoneyAccount {
    country: celes::Country,
    provider: String,
    number: String,
}

// celes compares countries by their codes: a total equality.
impl Eq for MobileMoneyAccount {}

impl MobileMoneyAccount {
    /// `<alpha-2> <provider key> <+number>`, separated by single spaces or runs of them.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        const WHAT: &str = "must be '<country alpha-2> <provider key> <+international number>', \
                            e.g. 'CI MtnMoney +2250500000000'";
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [country, provider, number] = parts[..] else { return Err(NameError(WHAT)) };
        let country_ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
        let country = celes::Country::from_alpha2(country).ok().filter(|_| country_ok).ok_or(NameError(WHAT))?;
        let provider_ok = (2..=32).contains(&provider.len())
            && provider.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && provider.bytes().all(|b| b.is_ascii_alphanumeric());
        let digits = number.strip_prefix('+').unwrap_or_default();
        // E.164: at most 15 digits, country code included.
        let number_ok = (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        if !(provider_ok && number_ok) {
            return Err(NameError(WHAT));
        }
        Ok(Self { country, provider: provider.to_owned(), number: number.to_owned() })
    }

    pub fn country(&self) -> &celes::Country {
        &self.country
    }

    /// The provider's key as FPay spells it (`MtnMoney`).
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The provider's name for people: FPay's own for the keys it documents, else the key.
    pub fn provider_name(&self) -> &str {
        match self.provider.as_str() {
            "MtnMoney" => "MTN Mobile Money",
            "OrangeMoney" => "Orange Money",
            "MoovMoney" => "Moov Money",
            "Wave" => "Wave",
            other => other,
        }
    }

    /// The account's number, `+` and digits.
    pub fn number(&self) -> &str {
        &self.number
    }
}

impl fmt::Display for MobileMoneyAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.country.alpha2, self.provider, self.number)
    }
}

/// Which of an account's pockets a transaction takes from or gives to (FPay's `balanceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PocketKind {
    Available,
    LockedIn,
    LockedOut,
}

impl PocketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PocketKind::Available => "AvailableBalance",
            PocketKind::LockedIn => "LockedInBalance",
            PocketKind::LockedOut => "LockedOutBalance",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [PocketKind::Available, PocketKind::LockedIn, PocketKind::LockedOut].into_iter().find(|p| p.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mobile_money_source_reads_back_as_written() {
        let account = MobileMoneyAccount::parse("CI MtnMoney +2250500000000").expect("an account");
        assert_eq!((account.country().alpha3, account.country().value), ("CIV", 384));
        assert_eq!((account.provider(), account.number()), ("MtnMoney", "+2250500000000"));
        assert_eq!(account.provider_name(), "MTN Mobile Money");
        assert_eq!(account.to_string(), "CI MtnMoney +2250500000000");
        assert_eq!(
            MobileMoneyAccount::parse("  SN  Wave  +221770000000 ").map(|a| a.to_string()).ok().as_deref(),
            Some("SN Wave +221770000000")
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            "CI MtnMoney",
            "ci MtnMoney +2250500000000",
            "XX MtnMoney +2250500000000",
            "CI Mtn-Money +2250500000000",
            "CI MtnMoney 2250500000000",
            "CI MtnMoney +22505000000001234",
            "CI MtnMoney +225 0500000000",
            "CIV MtnMoney +2250500000000",
        ] {
            assert!(MobileMoneyAccount::parse(text).is_err(), "{text:?}");
        }
    }
}
