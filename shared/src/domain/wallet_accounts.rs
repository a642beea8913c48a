//! Customer wallet accounts (shaped after Juspay Express Checkout): gateways, customers,
//! wallet and order ids, the payment statuses, single-use wallet tokens, and the money format
//! of that API (strings with two decimals). Orders are in [`super::orders`].

use super::money;
use super::names::{string_newtype, NameError};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// A wallet provider, as Juspay names it in `payment_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gateway {
    Mobikwik,
    Paytm,
    Freecharge,
    Olamoney,
}

impl Gateway {
    pub const ALL: [Gateway; 4] = [Gateway::Mobikwik, Gateway::Paytm, Gateway::Freecharge, Gateway::Olamoney];

    pub fn as_str(self) -> &'static str {
        match self {
            Gateway::Mobikwik => "MOBIKWIK",
            Gateway::Paytm => "PAYTM",
            Gateway::Freecharge => "FREECHARGE",
            Gateway::Olamoney => "OLAMONEY",
        }
    }

    pub fn parse(text: &str) -> Result<Self, NameError> {
        Self::ALL
            .into_iter()
            .find(|gateway| gateway.as_str() == text)
            .ok_or(NameError("must be one of MOBIKWIK, PAYTM, FREECHARGE, OLAMONEY"))
    }
}

impl fmt::Display for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

string_newtype!(
    /// The merchant's id for its customer: 1–64 of `A-Z a-z 0-9 . _ - @ +` (part of a
    /// partition key, so never the separator `#`).
    CustomerId
);
string_newtype!(
    /// `wlt_` and 26 lowercase base32 characters (128 random bits).
    WalletAccountId
);
string_newtype!(
    /// The merchant's order id: 1–20 letters and digits (Juspay's rule).
    OrderId
);
string_newtype!(
    /// Our id of a payment attempt, sent to the provider as its idempotency key.
    TxnId
);
string_newtype!(
    /// A mobile number: 10 to 15 digits.
    MobileNumber
);
string_newtype!(
    /// A one-time password: 4 to 8 digits.
    Otp
);

impl CustomerId {
    /// An id we made up (letters, digits and `_`: within the rule below).
    pub(super) fn ours(id: String) -> Self {
        Self(id)
    }

    pub fn parse(text: &str) -> Result<Self, NameError> {
        // `.` and `..` are path segments clients resolve away: such a customer is unreachable.
        let ok = (1..=64).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_@+".contains(&b))
            && text != "."
            && text != "..";
        ok.then(|| Self(text.to_owned()))
            .ok_or(NameError("must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-', '@', '+' (not . or ..)"))
    }
}

/// Lowercase RFC 4648 base32 without padding: ids and tokens that survive URLs and forms.
pub(super) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub(super) fn is_base32(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// Characters of base32 for 128 bits.
pub(super) const ID_CHARS: usize = 26;

/// `prefix` and the base32 of 128 random bits: the shape of every id we make up.
pub(super) fn random_id(prefix: &str, bytes: [u8; 16]) -> String {
    format!("{prefix}{}", base32(&bytes))
}

pub(super) fn is_random_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| is_base32(rest, ID_CHARS))
}

impl WalletAccountId {
    pub const PREFIX: &'static str = "wlt_";

    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(format!("{}{}", Self::PREFIX, base32(&bytes)))
    }

    pub fn parse(text: &str) -> Result<Self, NameError> {
        match text.strip_prefix(Self::PREFIX) {
            Some(rest) if is_base32(rest, ID_CHARS) => Ok(Self(text.to_owned())),
            _ => Err(NameError("must be a wallet account id (wlt_...)")),
        }
    }
}

impl TxnId {
    pub const PREFIX: &'static str = "txn_";

    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(format!("{}{}", Self::PREFIX, base32(&bytes)))
    }

    pub fn parse(text: &str) -> Result<Self, NameError> {
        match text.strip_prefix(Self::PREFIX) {
            Some(rest) if is_base32(rest, ID_CHARS) => Ok(Self(text.to_owned())),
            _ => Err(NameError("must be a transaction id (txn_...)")),
        }
    }
}

impl OrderId {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let ok = (1..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
        ok.then(|| Self(text.to_owned())).ok_or(NameError("must be 1-20 letters and digits"))
    }
}

impl MobileNumber {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let ok = (10..=15).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(text.to_owned())).ok_or(NameError("must be 10 to 15 digits"))
    }

    /// The last digits only, for logs and answers that must not reveal the whole number.
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len() - 4..];
        format!("{}{tail}", "x".repeat(self.0.len() - 4))
    }
}

impl Otp {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let ok = (4..=8).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Self(text.to_owned())).ok_or(NameError("must be 4 to 8 digits"))
    }
}

/// A single-use wallet token as handed to the merchant: `tok_` and 32 base32 characters
/// (160 random bits). Only its SHA-256 is ever stored, and it is never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct WalletToken(String);

/// Debug never shows a token.
impl fmt::Debug for WalletToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WalletToken(..)")
    }
}

impl WalletToken {
    pub const PREFIX: &'static str = "tok_";
    const CHARS: usize = 32;
    /// A token is good for ten minutes after it was issued, and for one debit.
    pub const LIFETIME_MS: i64 = 10 * 60 * 1000;

    pub fn from_random(bytes: [u8; 20]) -> Self {
        Self(format!("{}{}", Self::PREFIX, base32(&bytes)))
    }

    /// Any text that could be a token. Anything else is refused before a lookup.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        match text.strip_prefix(Self::PREFIX) {
            Some(rest) if is_base32(rest, Self::CHARS) => Ok(Self(text.to_owned())),
            _ => Err(NameError("is not a wallet token")),
        }
    }

    /// The one thing the table holds of a token: its SHA-256, hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The token itself, for the one answer that hands it out.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

/// Juspay's payment statuses and their ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    New,
    Charged,
    JuspayDeclined,
    PendingVbv,
    AuthenticationFailed,
    AuthorizationFailed,
    Authorizing,
    /// A payment the provider reported successful after the order had failed, given back.
    AutoRefunded,
}

impl PaymentStatus {
    const ALL: [PaymentStatus; 8] = [
        PaymentStatus::New,
        PaymentStatus::Charged,
        PaymentStatus::JuspayDeclined,
        PaymentStatus::PendingVbv,
        PaymentStatus::AuthenticationFailed,
        PaymentStatus::AuthorizationFailed,
        PaymentStatus::Authorizing,
        PaymentStatus::AutoRefunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::New => "NEW",
            PaymentStatus::Charged => "CHARGED",
            PaymentStatus::JuspayDeclined => "JUSPAY_DECLINED",
            PaymentStatus::PendingVbv => "PENDING_VBV",
            PaymentStatus::AuthenticationFailed => "AUTHENTICATION_FAILED",
            PaymentStatus::AuthorizationFailed => "AUTHORIZATION_FAILED",
            PaymentStatus::Authorizing => "AUTHORIZING",
            PaymentStatus::AutoRefunded => "AUTO_REFUNDED",
        }
    }

    pub fn id(self) -> u16 {
        match self {
            PaymentStatus::New => 10,
            PaymentStatus::Charged => 21,
            PaymentStatus::JuspayDeclined => 22,
            PaymentStatus::PendingVbv => 23,
            PaymentStatus::AuthenticationFailed => 26,
            PaymentStatus::AuthorizationFailed => 27,
            PaymentStatus::Authorizing => 28,
            PaymentStatus::AutoRefunded => 36,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Nothing moves an order out of these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentStatus::Charged
                | PaymentStatus::JuspayDeclined
                | PaymentStatus::AuthenticationFailed
                | PaymentStatus::AuthorizationFailed
                | PaymentStatus::AutoRefunded
        )
    }
}

/// An amount of this API: positive, at most two decimals (paise), within the ledger's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentAmount(Decimal);

impl PaymentAmount {
    /// From a form field or a JSON number's text: digits with at most two decimals.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        const WHAT: &str = "must be a positive amount with at most two decimals";
        let trimmed = text.trim();
        let plain = !trimmed.is_empty()
            && trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && trimmed.bytes().filter(|&b| b == b'.').count() <= 1;
        if !plain {
            return Err(NameError(WHAT));
        }
        let value = Decimal::from_str(trimmed).map_err(|_| NameError(WHAT))?;
        if value <= Decimal::ZERO || value.normalize().scale() > 2 || !money::in_range(value) {
            return Err(NameError(WHAT));
        }
        Ok(Self(value))
    }

    pub fn new(value: Decimal) -> Option<Self> {
        (value > Decimal::ZERO && value.normalize().scale() <= 2 && money::in_range(value)).then_some(Self(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

/// `"250.00"`: this API's money, a string with exactly two decimals.
pub fn two_decimals(value: Decimal) -> String {
    let mut rounded = value.round_dp(2);
    rounded.rescale(2);
    rounded.to_string()
}

/// A customer's account at one gateway (one per customer and gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletAccount {
    pub project: super::names::ProjectId,
    pub customer: CustomerId,
    pub id: WalletAccountId,
    pub gateway: Gateway,
    pub mobile: MobileNumber,
    /// The provider granted the POWER WALLET permission: tokens and direct debits allowed.
    pub linked: bool,
    /// The provider's handle for the wallet, once linked.
    pub reference: Option<String>,
    pub current_balance: Decimal,
    pub last_refreshed: Option<super::time::Millis>,
    /// Moves on every link and delink: a token names the version it was issued under, so a
    /// delink (even one followed by a new link) voids every token issued before it.
    pub link_version: u64,
    pub created_at: super::time::Millis,
}

impl WalletAccount {
    /// A new account, not linked yet.
    pub fn open(
        project: &super::names::ProjectId,
        customer: &CustomerId,
        id: WalletAccountId,
        gateway: Gateway,
        mobile: MobileNumber,
        now: super::time::Millis,
    ) -> Self {
        Self {
            project: project.clone(),
            customer: customer.clone(),
            id,
            gateway,
            mobile,
            linked: false,
            reference: None,
            current_balance: Decimal::ZERO,
            last_refreshed: None,
            link_version: 0,
            created_at: now,
        }
    }

    /// The provider's handle, while the account is linked.
    pub fn linked_reference(&self) -> Option<&str> {
        self.reference.as_deref().filter(|_| self.linked)
    }

    /// Linked by the provider to its wallet `reference`, which holds `balance`.
    pub fn linked_to(self, reference: String, balance: Decimal, now: super::time::Millis) -> Self {
        let link_version = self.link_version + 1;
        Self { linked: true, reference: Some(reference), link_version, ..self.refreshed(balance, now) }
    }

    /// The balance the provider gave `now`.
    pub fn refreshed(self, balance: Decimal, now: super::time::Millis) -> Self {
        Self { current_balance: balance, last_refreshed: Some(now), ..self }
    }

    /// Delinked: a new link version voids every token issued so far.
    pub fn delinked(self) -> Self {
        Self { linked: false, link_version: self.link_version + 1, ..self }
    }

    /// What the table keeps of a token issued `now` for this account, while it is linked.
    pub fn grant(&self, now: super::time::Millis) -> Option<TokenGrant> {
        Some(TokenGrant {
            customer: self.customer.clone(),
            wallet_id: self.id.clone(),
            gateway: self.gateway,
            link_version: self.link_version,
            reference: self.linked_reference()?.to_owned(),
            expires_at: now.plus_ms(WalletToken::LIFETIME_MS),
            used: false,
        })
    }
}

/// One account of a list answer.
#[derive(Debug, Clone)]
pub struct ListedAccount {
    pub account: WalletAccount,
    /// A new token, for a linked account.
    pub token: Option<WalletToken>,
    /// For a refresh: `Ok` when the provider answered, why not otherwise.
    pub refresh: Option<Result<(), String>>,
}

/// What the table keeps of an issued token (under its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub customer: CustomerId,
    pub wallet_id: WalletAccountId,
    pub gateway: Gateway,
    pub link_version: u64,
    /// The provider's handle for the wallet, so that a debit needs no account read.
    pub reference: String,
    pub expires_at: super::time::Millis,
    pub used: bool,
}

impl TokenGrant {
    /// Usable at `now`: not used, not expired (TTL deletes late; this check is the rule).
    pub fn usable(&self, now: super::time::Millis) -> bool {
        !self.used && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_prefixed_base32_of_128_bits() {
        let id = WalletAccountId::from_random([0xff; 16]);
        assert_eq!(id.as_str().len(), 4 + 26);
        assert_eq!(WalletAccountId::parse(id.as_str()), Ok(id.clone()));
        assert!(WalletAccountId::parse("wlt_short").is_err());
        assert!(WalletAccountId::parse(&id.as_str().to_uppercase()).is_err());
        assert!(TxnId::parse(TxnId::from_random([7; 16]).as_str()).is_ok());
    }

    #[test]
    fn tokens_carry_160_bits_and_only_their_hash_is_kept() {
        let token = WalletToken::from_random([1; 20]);
        assert!(token.reveal().starts_with("tok_") && token.reveal().len() == 36);
        assert_eq!(WalletToken::parse(token.reveal()), Ok(token.clone()));
        assert_eq!(token.hash().len(), 64);
        assert!(!format!("{token:?}").contains(token.reveal()));
        assert!(WalletToken::parse("tok_abc").is_err());
        assert!(WalletToken::parse("pb_whatever").is_err());
    }

    #[test]
    fn statuses_have_juspays_ids() {
        let ids: Vec<_> = PaymentStatus::ALL.iter().map(|s| (s.as_str(), s.id())).collect();
        assert_eq!(
            ids,
            vec![
                ("NEW", 10),
                ("CHARGED", 21),
                ("JUSPAY_DECLINED", 22),
                ("PENDING_VBV", 23),
                ("AUTHENTICATION_FAILED", 26),
                ("AUTHORIZATION_FAILED", 27),
                ("AUTHORIZING", 28),
                ("AUTO_REFUNDED", 36)
            ]
        );
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn order_ids_customer_ids_mobiles_and_otps_are_checked() {
        assert!(OrderId::parse("ord1234567890ABCDEFG").is_ok());
        for bad in ["", "ord-1", "a".repeat(21).as_str(), "ord 1"] {
            assert!(OrderId::parse(bad).is_err(), "{bad}");
        }
        assert!(CustomerId::parse("cust.42@shop+1").is_ok());
        assert!(CustomerId::parse("a#b").is_err());
        assert!(
            CustomerId::parse("..").is_err() && CustomerId::parse(".").is_err() && CustomerId::parse("...").is_ok()
        );
        assert!(MobileNumber::parse("9876543210").is_ok());
        assert!(MobileNumber::parse("98765").is_err());
        assert_eq!(MobileNumber::parse("9876543210").unwrap().masked(), "xxxxxx3210");
        assert!(Otp::parse("123456").is_ok() && Otp::parse("12a456").is_err());
    }

    #[test]
    fn amounts_have_at_most_two_decimals_and_are_shown_with_two() {
        assert_eq!(PaymentAmount::parse("100").map(|a| two_decimals(a.value())), Ok("100.00".to_owned()));
        assert_eq!(PaymentAmount::parse("0.50").map(|a| two_decimals(a.value())), Ok("0.50".to_owned()));
        assert!(PaymentAmount::parse("1.500").is_ok(), "trailing zeros are not precision");
        for bad in ["0", "-1", "1.005", "1e3", "", "abc", "1.2.3", " "] {
            assert!(PaymentAmount::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn base32_is_injective_and_of_the_promised_length(a in any::<[u8; 16]>(), b in any::<[u8; 16]>()) {
            let (x, y) = (WalletAccountId::from_random(a), WalletAccountId::from_random(b));
            prop_assert_eq!(x == y, a == b);
            prop_assert!(WalletAccountId::parse(x.as_str()).is_ok());
        }

        #[test]
        fn amount_parsing_never_panics(text in ".{0,30}") {
            let _ = PaymentAmount::parse(&text);
        }
    }
}
