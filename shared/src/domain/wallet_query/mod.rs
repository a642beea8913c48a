//! The filter and sort language of `GET /wallets`: which wallet fields it can name, what kind
//! of value each holds, and how to read them from a wallet. The languages themselves live in
//! [`filter`] and [`sort`].
//!
//! Evaluation is pure and in memory: a store may use the hints ([`filter::Filter::ids`],
//! [`filter::Filter::created_time_range`], [`sort::SortBy::created_time_direction`]) to read
//! fewer items, but whether a wallet is listed, and where, is always decided here.

pub mod filter;
pub mod sort;

use crate::domain::time::Millis;
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::fmt;

/// What the query language reads of a wallet. Built by the service from the stored wallet and
/// its main pocket, so that this module never depends on how wallets are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletView {
    pub id: String,
    pub foreign_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub is_main: bool,
    pub created_ms: i64,
    /// Who created the wallet: `"Api"` for wallets created through the API.
    pub creator_type: String,
    pub creator_account_id: String,
    pub creator_auth_access_id: Option<String>,
    pub available: Decimal,
    pub locked_in: Decimal,
    pub locked_out: Decimal,
    pub volume_input: Decimal,
    pub volume_output: Decimal,
}

/// A field the language can name, spelled as in the wallet's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Id,
    ForeignId,
    Name,
    Description,
    IsMain,
    CreatedTime,
    CreatedTimeIso8601,
    CreatedTimeMilliseconds,
    CreatedTimeSeconds,
    /// The creator object. It is always present; compared with a value it stands for
    /// `creator.accountId`, the one part of it a caller knows and would compare with.
    Creator,
    CreatorType,
    CreatorAccountId,
    CreatorAuthAccessId,
    /// `mainPocket.balance`, which reads as the available balance.
    Balance,
    BalanceAvailable,
    BalanceLockedIn,
    BalanceLockedOut,
    VolumeInput,
    VolumeOutput,
    VolumeTotal,
}

/// The kind of value a field holds, which decides its operators and how values parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Boolean,
    /// Exact decimals.
    Number,
    /// Milliseconds since the epoch, UTC.
    Time,
}

/// The unit a time field also accepts plain integers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Milliseconds,
    Seconds,
}

impl Field {
    pub const ALL: [Field; 20] = [
        Field::Id,
        Field::ForeignId,
        Field::Name,
        Field::Description,
        Field::IsMain,
        Field::CreatedTime,
        Field::CreatedTimeIso8601,
        Field::CreatedTimeMilliseconds,
        Field::CreatedTimeSeconds,
        Field::Creator,
        Field::CreatorType,
        Field::CreatorAccountId,
        Field::CreatorAuthAccessId,
        Field::Balance,
        Field::BalanceAvailable,
        Field::BalanceLockedIn,
        Field::BalanceLockedOut,
        Field::VolumeInput,
        Field::VolumeOutput,
        Field::VolumeTotal,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::ForeignId => "foreignId",
            Field::Name => "name",
            Field::Description => "description",
            Field::IsMain => "isMain",
            Field::CreatedTime => "createdTime",
            Field::CreatedTimeIso8601 => "createdTime.iso8601",
            Field::CreatedTimeMilliseconds => "createdTime.timestamp.milliseconds",
            Field::CreatedTimeSeconds => "createdTime.timestamp.seconds",
            Field::Creator => "creator",
            Field::CreatorType => "creator._type",
            Field::CreatorAccountId => "creator.accountId",
            Field::CreatorAuthAccessId => "creator.authAccessId",
            Field::Balance => "mainPocket.balance",
            Field::BalanceAvailable => "mainPocket.balance.available",
            Field::BalanceLockedIn => "mainPocket.balance.lockedIn",
            Field::BalanceLockedOut => "mainPocket.balance.lockedOut",
            Field::VolumeInput => "mainPocket.volume.input",
            Field::VolumeOutput => "mainPocket.volume.output",
            Field::VolumeTotal => "mainPocket.volume.total",
        }
    }

    /// Field names are case-sensitive, like the JSON properties they name.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.name() == name)
    }

    pub const fn kind(self) -> FieldKind {
        match self {
            Field::Id
            | Field::ForeignId
            | Field::Name
            | Field::Description
            | Field::CreatedTimeIso8601
            | Field::Creator
            | Field::CreatorType
            | Field::CreatorAccountId
            | Field::CreatorAuthAccessId => FieldKind::Text,
            Field::IsMain => FieldKind::Boolean,
            Field::CreatedTime | Field::CreatedTimeMilliseconds | Field::CreatedTimeSeconds => FieldKind::Time,
            Field::Balance
            | Field::BalanceAvailable
            | Field::BalanceLockedIn
            | Field::BalanceLockedOut
            | Field::VolumeInput
            | Field::VolumeOutput
            | Field::VolumeTotal => FieldKind::Number,
        }
    }

    pub const fn epoch_unit(self) -> Option<EpochUnit> {
        match self {
            Field::CreatedTimeMilliseconds => Some(EpochUnit::Milliseconds),
            Field::CreatedTimeSeconds => Some(EpochUnit::Seconds),
            _ => None,
        }
    }

    /// Whether wallets can be sorted on the field: the creator object has no order of its own
    /// (its parts do).
    pub const fn is_orderable(self) -> bool {
        !matches!(self, Field::Creator)
    }

    /// Whether every wallet of a project has the same value: its creator's type (wallets are
    /// only created through the API) and account (the project). Such a key orders nothing, so
    /// a store need not keep wallets in its order.
    pub const fn is_same_for_every_wallet(self) -> bool {
        matches!(self, Field::Creator | Field::CreatorType | Field::CreatorAccountId)
    }

    /// Whether the field reads the main pocket, which changes with every move of money (a
    /// store keeps it on the balance, not with the wallet's listable attributes). The pocket's
    /// fields are exactly the number fields.
    pub const fn is_pocket(self) -> bool {
        matches!(self.kind(), FieldKind::Number)
    }

    /// The field's value in `wallet`, `None` when the wallet does not have it.
    ///
    /// Time fields read as milliseconds; `createdTime.timestamp.seconds` is the creation time
    /// cut down to whole seconds, so that it equals what the wallet's JSON shows.
    pub fn value_of(self, wallet: &WalletView) -> Option<Scalar<'_>> {
        fn text(s: &str) -> Option<Scalar<'_>> {
            Some(Scalar::Text(Cow::Borrowed(s)))
        }
        fn optional_text(s: &Option<String>) -> Option<Scalar<'_>> {
            s.as_deref().and_then(text)
        }
        match self {
            Field::Id => text(&wallet.id),
            Field::ForeignId => optional_text(&wallet.foreign_id),
            Field::Name => text(&wallet.name),
            Field::Description => optional_text(&wallet.description),
            Field::IsMain => Some(Scalar::Bool(wallet.is_main)),
            Field::CreatedTime | Field::CreatedTimeMilliseconds => Some(Scalar::Time(wallet.created_ms)),
            Field::CreatedTimeSeconds => Some(Scalar::Time(whole_seconds(wallet.created_ms))),
            Field::CreatedTimeIso8601 => {
                Some(Scalar::Text(Cow::Owned(Millis::from_epoch_ms(wallet.created_ms).to_iso8601())))
            }
            Field::Creator | Field::CreatorAccountId => text(&wallet.creator_account_id),
            Field::CreatorType => text(&wallet.creator_type),
            Field::CreatorAuthAccessId => optional_text(&wallet.creator_auth_access_id),
            Field::Balance | Field::BalanceAvailable => Some(Scalar::Number(wallet.available)),
            Field::BalanceLockedIn => Some(Scalar::Number(wallet.locked_in)),
            Field::BalanceLockedOut => Some(Scalar::Number(wallet.locked_out)),
            Field::VolumeInput => Some(Scalar::Number(wallet.volume_input)),
            Field::VolumeOutput => Some(Scalar::Number(wallet.volume_output)),
            Field::VolumeTotal => Some(Scalar::Number(
                // Stored volumes stay below 10^15 each, so the sum cannot overflow; saturate
                // rather than panic should a caller build a view outside that range.
                wallet.volume_input.checked_add(wallet.volume_output).unwrap_or(Decimal::MAX),
            )),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `ms` rounded down to a whole second, in milliseconds.
pub(crate) const fn whole_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000).saturating_mul(1000)
}

/// One field value. Values of one field are always of one variant; the derived order across
/// variants only exists so that the order is total.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scalar<'a> {
    Text(Cow<'a, str>),
    Number(Decimal),
    Bool(bool),
    /// Milliseconds since the epoch.
    Time(i64),
}

impl Scalar<'_> {
    pub fn into_owned(self) -> Scalar<'static> {
        match self {
            Scalar::Text(text) => Scalar::Text(Cow::Owned(text.into_owned())),
            Scalar::Number(n) => Scalar::Number(n),
            Scalar::Bool(b) => Scalar::Bool(b),
            Scalar::Time(ms) => Scalar::Time(ms),
        }
    }
}

/// Where a query text went wrong: the character (not byte) offset, what the language wanted
/// there and what it found. Shared by the filter and the sort languages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: expected {expected}, found {found}")]
pub struct QueryError {
    pub position: usize,
    pub expected: String,
    pub found: String,
}

/// The longest filter or sort text accepted, in characters: far beyond any real query, and
/// small enough that parsing and evaluating stay cheap.
pub const MAX_QUERY_CHARS: usize = 2000;

/// `text` shown in an error message, quoted and cut short.
pub(crate) fn quote_found(text: &str) -> String {
    format!("'{}'", cut_short(text))
}

/// `text` cut to a length an error message can carry.
pub(crate) fn cut_short(text: &str) -> String {
    const SHOWN: usize = 40;
    let mut shown: String = text.chars().take(SHOWN).collect();
    if text.chars().nth(SHOWN).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
pub(crate) mod test_wallets {
    use super::WalletView;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    pub const DAY_MS: i64 = 86_400_000;
    /// 2024-03-10T12:00:00.000Z, the "now" of the fixed wallets.
    pub const NOW_MS: i64 = 1_710_072_000_000;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn wallet(
        id: &str,
        foreign_id: Option<&str>,
        name: &str,
        description: Option<&str>,
        is_main: bool,
        created_ms: i64,
        account: &str,
        auth: Option<&str>,
        money: [&str; 5],
    ) -> WalletView {
        WalletView {
            id: id.to_owned(),
            foreign_id: foreign_id.map(str::to_owned),
            name: name.to_owned(),
            description: description.map(str::to_owned),
            is_main,
            created_ms,
            creator_type: "Api".to_owned(),
            creator_account_id: account.to_owned(),
            creator_auth_access_id: auth.map(str::to_owned),
            available: dec(money[0]),
            locked_in: dec(money[1]),
            locked_out: dec(money[2]),
            volume_input: dec(money[3]),
            volume_output: dec(money[4]),
        }
    }

    /// Twenty wallets spread over the interesting cases: absent optional fields, equal names
    /// and times (for tie-breaks), today / yesterday / older, negative and fractional money,
    /// non-ASCII text.
    pub fn fixed() -> Vec<WalletView> {
        let today = NOW_MS - NOW_MS.rem_euclid(DAY_MS);
        vec![
            wallet(
                "31234",
                Some("f-1"),
                "Main",
                Some("the main one"),
                true,
                today - 10 * DAY_MS,
                "acc-1",
                Some("key-1"),
                ["100", "0", "0", "150", "50"],
            ),
            wallet(
                "5678",
                None,
                "Savings",
                None,
                false,
                today - 2 * DAY_MS,
                "acc-1",
                None,
                ["250.50", "10", "0", "300", "49.50"],
            ),
            wallet(
                "9990",
                Some("f-3"),
                "Travel",
                Some("trips"),
                false,
                today - DAY_MS,
                "acc-2",
                Some("key-2"),
                ["99.99", "0", "5", "99.99", "0"],
            ),
            wallet("abcd1", None, "Travel", None, false, today - DAY_MS + 1, "acc-2", None, ["0", "0", "0", "0", "0"]),
            wallet(
                "abcd2",
                Some("f-5"),
                "Ünïcode",
                Some("ß"),
                false,
                today,
                "acc-3",
                None,
                ["-1.5", "0", "0", "10", "11.5"],
            ),
            wallet(
                "abce",
                Some("f-6"),
                "zeta",
                None,
                false,
                today + 1,
                "acc-3",
                Some("key-3"),
                ["100.00", "1", "1", "100", "0"],
            ),
            wallet("b1", None, "alpha", Some(""), false, NOW_MS, "acc-4", None, ["1000000", "0", "0", "1000000", "0"]),
            wallet(
                "b2",
                Some("f-8"),
                "Alpha",
                None,
                true,
                NOW_MS,
                "acc-4",
                None,
                ["0.00000001", "0", "0", "0.00000001", "0"],
            ),
            wallet(
                "c1",
                Some("F-9"),
                "beta",
                Some("it's quoted"),
                false,
                NOW_MS - 1,
                "acc-5",
                Some("key-5"),
                ["42", "0", "42", "84", "0"],
            ),
            wallet("c2", None, "beta", None, false, NOW_MS + 500, "acc-5", None, ["42.0", "0", "0", "42", "0"]),
            wallet(
                "d1",
                Some("f-11"),
                "gamma",
                Some("back\\slash"),
                false,
                today - 30 * DAY_MS,
                "acc-6",
                None,
                ["7", "3", "0", "10", "0"],
            ),
            wallet(
                "d2",
                Some("f-12"),
                "gamma",
                None,
                false,
                today - 30 * DAY_MS,
                "acc-6",
                Some("key-6"),
                ["7", "0", "3", "10", "0"],
            ),
            wallet("e1", None, "delta", None, false, 0, "acc-7", None, ["5", "0", "0", "5", "0"]),
            wallet(
                "e2",
                Some("f-14"),
                "epsilon",
                Some("old"),
                false,
                -1_000,
                "acc-7",
                None,
                ["-100", "0", "0", "0", "100"],
            ),
            wallet("f1", None, "eta", None, false, today + DAY_MS, "acc-8", None, ["12.345", "0", "0", "12.345", "0"]),
            wallet(
                "f2",
                Some("f-16"),
                "theta",
                None,
                true,
                today + DAY_MS - 1,
                "acc-8",
                None,
                ["1", "0", "0", "1", "0"],
            ),
            wallet(
                "g1",
                None,
                "iota",
                Some("x"),
                false,
                today - DAY_MS - 1,
                "acc-9",
                Some("key-9"),
                ["3", "0", "0", "3", "0"],
            ),
            wallet("g2", Some("f-18"), "kappa", None, false, NOW_MS - 999, "acc-9", None, ["3.0", "0", "0", "3", "0"]),
            wallet("h1", None, "lambda", None, false, NOW_MS - 1_000, "acc-10", None, ["0", "100", "0", "100", "0"]),
            wallet(
                "h2",
                Some("f-20"),
                "mu",
                None,
                false,
                today - 365 * DAY_MS,
                "acc-10",
                None,
                ["50", "0", "0", "50", "0"],
            ),
        ]
    }
}
