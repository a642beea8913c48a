//! FPay-style wallets: what a wallet is besides its balance, the names and values a wallet
//! request carries, and the `expire` rule of quasi-transfers and fund requests. Pure: no I/O,
//! no clock reads.

use super::balance::{Balance, NewBalance};
use super::money::MinLimit;
use super::names::{string_newtype, BalanceId, BalanceName, BalanceType, NameError, ProjectId, UpdateToken};
use super::time::Millis;
use super::wallet_numbers::{Man, Mars, WalletNumbers};
use super::wallet_query::WalletView;
use sha2::{Digest, Sha256};
use std::fmt;

string_newtype!(
    /// A wallet's name: 1–100 characters, no control characters.
    WalletName
);
string_newtype!(
    /// The caller's own id for a wallet, unique per project: 1–100 printable characters without
    /// `#` (it becomes part of a key).
    ForeignId
);
string_newtype!(
    /// A string the caller owns and gets back as it was: at most 4,096 characters.
    ForeignData
);
string_newtype!(
    /// A wallet's description: at most 1,000 characters, no control characters but newlines.
    Description
);

impl WalletName {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let len = text.chars().count();
        let ok = (1..=100).contains(&len) && !text.chars().any(char::is_control);
        ok.then(|| Self(text.to_owned())).ok_or(NameError("must be 1-100 characters without control characters"))
    }
}

impl ForeignId {
    /// Not a UUID either: wherever a wallet is named, a UUID is its id and anything else its
    /// foreign id, so the two can never be confused.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let len = text.chars().count();
        let ok = (1..=100).contains(&len) && !text.chars().any(|c| c.is_control() || c == '#');
        if !ok {
            return Err(NameError("must be 1-100 characters without control characters or '#'"));
        }
        if uuid::Uuid::parse_str(text).is_ok() {
            return Err(NameError("must not be a UUID (a UUID names a wallet by its id)"));
        }
        if super::wallet_numbers::is_wallet_number(text) {
            return Err(NameError("must not have the shape of a mars (XXXX-XXXX) or a man (NNNN-NNNN-NNNN)"));
        }
        Ok(Self(text.to_owned()))
    }
}

impl ForeignData {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        (text.chars().count() <= 4_096)
            .then(|| Self(text.to_owned()))
            .ok_or(NameError("must be at most 4096 characters"))
    }
}

impl Description {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let ok = text.chars().count() <= 1_000 && !text.chars().any(|c| c.is_control() && c != '\n');
        ok.then(|| Self(text.to_owned())).ok_or(NameError("must be at most 1000 characters without control characters"))
    }
}

/// What names a wallet wherever one is named (a path, a source, a destination): its id, a
/// UUID, or one of its other names, each of a shape no other can have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletRef {
    Id(BalanceId),
    Mars(Mars),
    Man(Man),
    Foreign(ForeignId),
}

impl WalletRef {
    /// `None`: it cannot name any wallet (a `man` with a wrong check digit, say).
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(id) = BalanceId::parse(text) {
            return Some(Self::Id(id));
        }
        if let Some(mars) = Mars::parse(text) {
            return Some(Self::Mars(mars));
        }
        if let Some(man) = Man::parse(text) {
            return Some(Self::Man(man));
        }
        ForeignId::parse(text).ok().map(Self::Foreign)
    }
}

/// What makes a balance a wallet: kept on the balance's head item, next to its pockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletInfo {
    pub name: WalletName,
    pub description: Option<Description>,
    pub foreign_id: Option<ForeignId>,
    pub foreign_data: Option<ForeignData>,
    pub is_main: bool,
    /// The id of the API key whose request created it.
    pub creator_key_id: Option<String>,
    /// Its `mars` and `man`.
    pub numbers: WalletNumbers,
}

impl WalletInfo {
    /// The project's main wallet, made by the first request that needed it.
    pub fn main(creator_key_id: Option<String>, numbers: WalletNumbers) -> Self {
        Self {
            name: WalletName("Main wallet".to_owned()),
            description: None,
            foreign_id: None,
            foreign_data: None,
            is_main: true,
            creator_key_id,
            numbers,
        }
    }

    /// The balance API shows a wallet's name as the balance name, which holds 60 characters.
    pub fn balance_name(&self) -> BalanceName {
        let short: String = self.name.as_str().chars().take(60).collect();
        BalanceName::parse(&short).unwrap_or_else(|_| BalanceName::from_type(&BalanceType::xof()))
    }
}

/// A wallet: its own attributes and its balance (the main pocket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub info: WalletInfo,
    pub balance: Balance,
}

/// How many times a new wallet draws its `mars` and `man` before its creation gives up (a
/// clash is about one in a hundred million per draw for a project of a thousand wallets).
pub const NUMBER_DRAWS: u32 = 4;

impl Wallet {
    /// The same new wallet with the names of draw `attempt` (see [`WalletNumbers::of`]).
    pub fn renumbered(&self, attempt: u32) -> Self {
        let numbers = WalletNumbers::of(self.balance.id, attempt);
        Self { info: WalletInfo { numbers, ..self.info.clone() }, balance: self.balance.clone() }
    }

    /// A new, empty wallet: a balance with a minimum of zero, and the wallet's attributes.
    pub fn open(
        project: &ProjectId,
        id: BalanceId,
        info: WalletInfo,
        balance_type: BalanceType,
        now: Millis,
        update_token: UpdateToken,
    ) -> Self {
        let new = NewBalance {
            project_id: project.clone(),
            id,
            balance_type,
            name: info.balance_name(),
            min_limit: MinLimit::ZERO,
        };
        Wallet { balance: Balance::open(new, now, update_token), info }
    }

    /// What the filter and sort language reads of it.
    pub fn view(&self) -> WalletView {
        let balance = &self.balance;
        let mut view = self.info.view(&balance.project_id, balance.id, balance.created_at);
        view.available = balance.amount;
        view.locked_in = balance.pockets.locked_in;
        view.locked_out = balance.pockets.locked_out;
        view.volume_input = balance.pockets.volume_input;
        view.volume_output = balance.pockets.volume_output;
        view
    }
}

impl WalletInfo {
    /// What the query language reads of a wallet without its pockets (they read as zero):
    /// enough for filters and sorts that do not name them.
    pub fn view(&self, project: &ProjectId, id: BalanceId, created: Millis) -> WalletView {
        WalletView {
            id: id.to_string(),
            foreign_id: self.foreign_id.as_ref().map(|f| f.as_str().to_owned()),
            name: self.name.as_str().to_owned(),
            description: self.description.as_ref().map(|d| d.as_str().to_owned()),
            is_main: self.is_main,
            created_ms: created.epoch_ms(),
            creator_type: CREATOR_TYPE.to_owned(),
            creator_account_id: project.as_str().to_owned(),
            creator_auth_access_id: self.creator_key_id.clone(),
            available: Default::default(),
            locked_in: Default::default(),
            locked_out: Default::default(),
            volume_input: Default::default(),
            volume_output: Default::default(),
        }
    }
}

/// Wallets are only ever created through the API.
pub const CREATOR_TYPE: &str = "Api";

/// The changes `PATCH /v1.0/wallets/{identifier}` asks for. `None`: leave as it is;
/// `Some(None)`: remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletPatch {
    pub name: Option<WalletName>,
    pub description: Option<Option<Description>>,
    pub foreign_data: Option<Option<ForeignData>>,
}

impl WalletPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.foreign_data.is_none()
    }

    pub fn applied_to(&self, info: &WalletInfo) -> WalletInfo {
        let mut info = info.clone();
        if let Some(name) = &self.name {
            info.name = name.clone();
        }
        if let Some(description) = &self.description {
            info.description = description.clone();
        }
        if let Some(foreign_data) = &self.foreign_data {
            info.foreign_data = foreign_data.clone();
        }
        info
    }
}

/// The id of a project's main wallet: derived from the project, so that concurrent first
/// requests all try to create the same balance and exactly one conditional create wins.
pub fn main_wallet_uuid(project: &ProjectId) -> uuid::Uuid {
    let digest = Sha256::digest(format!("pocketbook main wallet\n{project}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// When a quasi-transfer or fund request cancels itself: `after 2h` (from its creation) or
/// `on 2026-12-01T10:00:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    After { ms: i64 },
    On(Millis),
}

/// The furthest a request may expire, `after` or `on`: 90 days from its creation.
pub const MAX_EXPIRE_MS: i64 = 90 * 24 * 60 * 60 * 1000;

impl Expire {
    /// `after <n><unit>` with units `s`, `m`, `h`, `d` (several may follow each other: `1h30m`),
    /// or `on <ISO-8601 date-time>`.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        const WHAT: &str = "must be 'after <duration>' (e.g. 'after 2h', 'after 1h30m') or 'on <ISO-8601 date-time>'";
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("after ") {
            let ms = duration_ms(rest.trim()).ok_or(NameError(WHAT))?;
            return (1..=MAX_EXPIRE_MS).contains(&ms).then_some(Expire::After { ms }).ok_or(NameError(WHAT));
        }
        if let Some(rest) = text.strip_prefix("on ") {
            let at = chrono::DateTime::parse_from_rfc3339(rest.trim()).map_err(|_| NameError(WHAT))?;
            return Ok(Expire::On(Millis::from_epoch_ms(at.timestamp_millis())));
        }
        Err(NameError(WHAT))
    }

    /// The moment it expires, for a request created at `created`.
    pub fn at(self, created: Millis) -> Millis {
        match self {
            Expire::After { ms } => created.plus_ms(ms),
            Expire::On(at) => at,
        }
    }
}

impl fmt::Display for Expire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expire::After { ms } => write!(f, "after {}s", ms / 1000),
            Expire::On(at) => write!(f, "on {}", at.to_iso8601()),
        }
    }
}

/// `2h`, `90m`, `1h30m`, `45s`, `7d`: milliseconds, or `None` for anything else.
fn duration_ms(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut units = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if digits.len() >= 9 {
                return None;
            }
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return None,
        };
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        units += 1;
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    (digits.is_empty() && units > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn expiry_rules_read_as_fpay_writes_them() {
        assert_eq!(Expire::parse("after 2h"), Ok(Expire::After { ms: 7_200_000 }));
        assert_eq!(Expire::parse("after 1h30m"), Ok(Expire::After { ms: 5_400_000 }));
        assert_eq!(
            Expire::parse("after 45s").map(|e| e.at(Millis::from_epoch_ms(1_000))),
            Ok(Millis::from_epoch_ms(46_000))
        );
        let on = Expire::parse("on 2026-12-01T10:00:00Z").unwrap();
        assert_eq!(on.at(Millis::from_epoch_ms(0)).to_iso8601(), "2026-12-01T10:00:00.000Z");
        for bad in [
            "",
            "after",
            "after 2",
            "after h",
            "after 0s",
            "after 91d",
            "in 2h",
            "on tomorrow",
            "after 2h x",
            "after 99999999999h",
        ] {
            assert!(Expire::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_foreign_ids_and_descriptions_are_checked() {
        assert!(WalletName::parse(&"é".repeat(100)).is_ok());
        assert!(WalletName::parse(&"é".repeat(101)).is_err() && WalletName::parse("").is_err());
        assert!(ForeignId::parse("crm-42").is_ok() && ForeignId::parse("a#b").is_err());
        assert!(Description::parse("two\nlines").is_ok() && Description::parse("tab\there").is_err());
        assert!(ForeignData::parse(&"x".repeat(4_096)).is_ok() && ForeignData::parse(&"x".repeat(4_097)).is_err());
    }

    #[test]
    fn the_main_wallet_id_is_one_per_project_and_a_valid_balance_id() {
        let a = ProjectId::parse("acme").unwrap();
        let b = ProjectId::parse("other").unwrap();
        assert_eq!(main_wallet_uuid(&a), main_wallet_uuid(&a));
        assert_ne!(main_wallet_uuid(&a), main_wallet_uuid(&b));
        let id = super::super::names::BalanceId::new(main_wallet_uuid(&a));
        assert!(super::super::names::BalanceId::parse(&id.to_string()).is_ok());
    }

    proptest! {
        #[test]
        fn expire_parsing_never_panics(text in ".{0,60}") {
            let _ = Expire::parse(&text);
        }

        #[test]
        fn an_after_rule_prints_and_parses_back(seconds in 1i64..=7_776_000) {
            let rule = Expire::After { ms: seconds * 1000 };
            prop_assert_eq!(Expire::parse(&rule.to_string()), Ok(rule));
        }
    }
}
