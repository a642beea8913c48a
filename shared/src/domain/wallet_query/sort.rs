//! The `sortBy` language of `GET /wallets`: `createdTime:DESC,name:ASC`, the order it gives
//! wallets, and the cursor a page token carries to resume "after this wallet".
//!
//! Decisions a caller can rely on:
//! - Keys are `field[:direction]`, separated by commas; white space around the parts is
//!   ignored; the direction (`ASC` or `DESC`, case-insensitive) defaults to `ASC`; field names
//!   are case-sensitive; a field may appear once. Any filter field but `creator` can be a key.
//! - Ties are broken by `id` in the direction of the first key, appended when `id` is not a
//!   key, so the order is total.
//! - A wallet without the field sorts first in `ASC` and last in `DESC` (absent is the least
//!   value).

use super::{quote_found, Field, FieldKind, QueryError, Scalar, WalletView, MAX_QUERY_CHARS};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

pub type SortError = QueryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: Field,
    pub direction: Direction,
}

/// A total order on wallets: the keys asked for, ending with `id` so that no two wallets tie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortBy {
    keys: Vec<SortKey>,
}

/// The sort-key values of the last wallet of a page: where the next page starts. It holds no
/// partition keys, tenant or ids beyond the wallet's own sort values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortCursor(Vec<Option<Scalar<'static>>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the page cursor does not fit the sort order")]
pub struct BadCursor;

/// How a store that keeps a project's wallets in (value, id) order per field reads an order:
/// the index of one field, one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexWalk {
    /// The first key that tells wallets apart (keys on a field every wallet has the same value
    /// of are skipped: they order nothing).
    pub field: Field,
    pub direction: Direction,
    /// Whether (value, id) read that way is the whole order: the next key is `id` the same
    /// way, or the field is `id`. Otherwise the wallets that share a value of `field` (a tie
    /// group) are ordered by the keys that follow, and a reader must see a whole group before
    /// it knows which of them come first.
    pub exact: bool,
}

impl Default for SortBy {
    /// Newest first.
    fn default() -> Self {
        SortBy::with_tiebreak(vec![SortKey { field: Field::CreatedTime, direction: Direction::Desc }])
    }
}

impl SortBy {
    pub fn parse(text: &str) -> Result<SortBy, SortError> {
        if text.chars().nth(MAX_QUERY_CHARS).is_some() {
            return Err(SortError {
                position: MAX_QUERY_CHARS,
                expected: format!("at most {MAX_QUERY_CHARS} characters"),
                found: "more".to_owned(),
            });
        }
        let chars: Vec<char> = text.chars().collect();
        let mut keys: Vec<SortKey> = Vec::new();
        let mut start = 0;
        for part in chars.split(|&c| c == ',') {
            let key = parse_key(part, start, chars.get(start + part.len()).is_some())?;
            if keys.iter().any(|k| k.field == key.field) {
                let offset = part.iter().take_while(|c| c.is_whitespace()).count();
                return Err(SortError {
                    position: start + offset,
                    expected: "a field not already sorted on".to_owned(),
                    found: quote_found(key.field.name()),
                });
            }
            keys.push(key);
            start += part.len() + 1;
        }
        Ok(SortBy::with_tiebreak(keys))
    }

    fn with_tiebreak(mut keys: Vec<SortKey>) -> SortBy {
        if !keys.iter().any(|k| k.field == Field::Id) {
            // In the first key's direction, so that an index on (creation time, id) read
            // forwards or backwards gives the whole order.
            let direction = keys.first().map_or(Direction::Asc, |k| k.direction);
            keys.push(SortKey { field: Field::Id, direction });
        }
        SortBy { keys }
    }

    pub fn keys(&self) -> &[SortKey] {
        &self.keys
    }

    pub fn compare(&self, a: &WalletView, b: &WalletView) -> Ordering {
        let values_of = |w| self.keys.iter().map(move |k| k.field.value_of(w));
        self.compare_values(values_of(a), values_of(b))
    }

    /// The direction, when creation time then `id`, both that way, is the order: then an index
    /// on (creation time, id) read in that direction gives it.
    pub fn created_time_direction(&self) -> Option<Direction> {
        match self.keys.as_slice() {
            [SortKey { field: Field::CreatedTime | Field::CreatedTimeMilliseconds, direction }, SortKey { field: Field::Id, direction: id }]
                if direction == id =>
            {
                Some(*direction)
            }
            _ => None,
        }
    }

    /// The index walk that gives this order (see [`IndexWalk`]).
    pub fn index_walk(&self) -> IndexWalk {
        let Some((at, key)) = self.walked_key().and_then(|at| Some((at, *self.keys.get(at)?))) else {
            // Not reached: every order ends with `id`. Wallets in id order are still an order.
            return IndexWalk { field: Field::Id, direction: Direction::Asc, exact: true };
        };
        let exact = key.field == Field::Id
            || self.keys.get(at + 1) == Some(&SortKey { field: Field::Id, direction: key.direction });
        IndexWalk { field: key.field, direction: key.direction, exact }
    }

    fn walked_key(&self) -> Option<usize> {
        self.keys.iter().position(|k| !k.field.is_same_for_every_wallet())
    }

    /// Where a cursor stands in the index walk: its value of the walked field, and its id.
    pub fn walk_position(&self, cursor: &SortCursor) -> Option<(Option<Scalar<'static>>, String)> {
        let value = cursor.0.get(self.walked_key()?)?.clone();
        let id = self.keys.iter().position(|k| k.field == Field::Id)?;
        match cursor.0.get(id)? {
            Some(Scalar::Text(id)) => Some((value, id.to_string())),
            _ => None,
        }
    }

    /// Whether any key reads the main pocket.
    pub fn reads_pockets(&self) -> bool {
        self.keys.iter().any(|key| key.field.is_pocket())
    }

    /// For a creation-time order: the creation time (ms) and id the cursor stands at.
    pub fn created_position<'c>(&self, cursor: &'c SortCursor) -> Option<(i64, &'c str)> {
        self.created_time_direction()?;
        match cursor.0.as_slice() {
            [Some(Scalar::Time(ms)), Some(Scalar::Text(id))] => Some((*ms, id.as_ref())),
            _ => None,
        }
    }

    /// The cursor that resumes a listing right after `wallet`.
    pub fn cursor(&self, wallet: &WalletView) -> SortCursor {
        SortCursor(self.keys.iter().map(|k| k.field.value_of(wallet).map(Scalar::into_owned)).collect())
    }

    /// Whether `wallet` comes after the wallet `cursor` was taken from.
    pub fn after(&self, wallet: &WalletView, cursor: &SortCursor) -> bool {
        let values = self.keys.iter().map(|k| k.field.value_of(wallet));
        self.compare_values(values, cursor.0.iter().cloned()) == Ordering::Greater
    }

    /// Reads a cursor and checks it holds one value of the right kind per key.
    pub fn parse_cursor(&self, text: &str) -> Result<SortCursor, BadCursor> {
        let cursor = SortCursor::parse(text)?;
        let fits = cursor.0.len() == self.keys.len()
            && self.keys.iter().zip(&cursor.0).all(|(key, value)| match value {
                None => true,
                Some(value) => scalar_kind(value) == key.field.kind(),
            });
        if fits {
            Ok(cursor)
        } else {
            Err(BadCursor)
        }
    }

    fn compare_values<'a, 'b>(
        &self,
        a: impl Iterator<Item = Option<Scalar<'a>>>,
        b: impl Iterator<Item = Option<Scalar<'b>>>,
    ) -> Ordering {
        for ((key, a), b) in self.keys.iter().zip(a).zip(b) {
            // `Option` orders `None` first: absent is the least value.
            let order = same_lifetime_cmp(&a, &b);
            let order = match key.direction {
                Direction::Asc => order,
                Direction::Desc => order.reverse(),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

/// Lets values borrowed from a wallet compare with values owned by a cursor.
fn same_lifetime_cmp<'x>(a: &Option<Scalar<'x>>, b: &Option<Scalar<'x>>) -> Ordering {
    a.cmp(b)
}

fn scalar_kind(scalar: &Scalar<'_>) -> FieldKind {
    match scalar {
        Scalar::Text(_) => FieldKind::Text,
        Scalar::Number(_) => FieldKind::Number,
        Scalar::Bool(_) => FieldKind::Boolean,
        Scalar::Time(_) => FieldKind::Time,
    }
}

/// One `field[:direction]`, starting at character `start` of the whole text.
fn parse_key(part: &[char], start: usize, comma_follows: bool) -> Result<SortKey, SortError> {
    let lead = part.iter().take_while(|c| c.is_whitespace()).count();
    let (name, direction) = match part.iter().position(|&c| c == ':') {
        Some(colon) => (&part[..colon], Some((colon + 1, &part[colon + 1..]))),
        None => (part, None),
    };
    let name_text: String = name.iter().collect::<String>().trim().to_owned();
    let field = Field::from_name(&name_text).filter(|f| f.is_orderable());
    let Some(field) = field else {
        let found = if !name_text.is_empty() {
            quote_found(&name_text)
        } else if let Some((after_colon, _)) = direction {
            return Err(SortError {
                position: start + after_colon - 1,
                expected: "a field to sort on".to_owned(),
                found: "':'".to_owned(),
            });
        } else if comma_follows {
            "','".to_owned()
        } else {
            "end of input".to_owned()
        };
        return Err(SortError {
            position: start + lead.min(part.len()),
            expected: "a field to sort on".to_owned(),
            found,
        });
    };
    let direction = match direction {
        None => Direction::Asc,
        Some((offset, text)) => {
            let lead = text.iter().take_while(|c| c.is_whitespace()).count();
            let word: String = text.iter().collect::<String>().trim().to_owned();
            if word.eq_ignore_ascii_case("ASC") {
                Direction::Asc
            } else if word.eq_ignore_ascii_case("DESC") {
                Direction::Desc
            } else {
                let found = if !word.is_empty() {
                    quote_found(&word)
                } else if comma_follows {
                    "','".to_owned()
                } else {
                    "end of input".to_owned()
                };
                return Err(SortError {
                    position: start + offset + lead.min(text.len()),
                    expected: "ASC or DESC".to_owned(),
                    found,
                });
            }
        }
    };
    Ok(SortKey { field, direction })
}

impl fmt::Display for SortBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let direction = match key.direction {
                Direction::Asc => "ASC",
                Direction::Desc => "DESC",
            };
            write!(f, "{}:{direction}", key.field)?;
        }
        Ok(())
    }
}

impl SortCursor {
    /// Reads the text `Display` writes: a JSON array with, per key, `null` for an absent
    /// value or a string tagged with its kind (`t:` text, `n:` number, `b:` boolean, `m:`
    /// milliseconds). Numbers travel as text, so they stay exact.
    pub fn parse(text: &str) -> Result<SortCursor, BadCursor> {
        let values: Vec<Option<String>> = serde_json::from_str(text).map_err(|_| BadCursor)?;
        values
            .into_iter()
            .map(|value| value.map(|v| decode_scalar(&v)).transpose())
            .collect::<Result<Vec<_>, _>>()
            .map(SortCursor)
    }
}

fn decode_scalar(tagged: &str) -> Result<Scalar<'static>, BadCursor> {
    let (tag, body) = tagged.split_once(':').ok_or(BadCursor)?;
    match tag {
        "t" => Ok(Scalar::Text(Cow::Owned(body.to_owned()))),
        "n" => Decimal::from_str_exact(body).map(Scalar::Number).map_err(|_| BadCursor),
        "b" => match body {
            "true" => Ok(Scalar::Bool(true)),
            "false" => Ok(Scalar::Bool(false)),
            _ => Err(BadCursor),
        },
        "m" => body.parse().map(Scalar::Time).map_err(|_| BadCursor),
        _ => Err(BadCursor),
    }
}

impl fmt::Display for SortCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tagged: Vec<Option<String>> = self
            .0
            .iter()
            .map(|value| {
                value.as_ref().map(|value| match value {
                    Scalar::Text(t) => format!("t:{t}"),
                    Scalar::Number(n) => format!("n:{n}"),
                    Scalar::Bool(b) => format!("b:{b}"),
                    Scalar::Time(ms) => format!("m:{ms}"),
                })
            })
            .collect();
        let json = serde_json::to_string(&tagged).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::wallet_query::test_wallets::{fixed, wallet};
    use crate::domain::wallet_query::whole_seconds;
    use proptest::prelude::*;

    fn parse(text: &str) -> SortBy {
        match SortBy::parse(text) {
            Ok(sort) => sort,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    type Oracle = fn(&WalletView, &WalletView) -> Ordering;

    /// Each order next to the same order written in plain Rust.
    fn oracle_cases() -> Vec<(&'static str, Oracle)> {
        vec![
            ("createdTime:DESC", |a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id))),
            ("name:ASC", |a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id))),
            ("name", |a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id))),
            ("name:desc, createdTime:asc", |a, b| {
                b.name.cmp(&a.name).then(a.created_ms.cmp(&b.created_ms)).then(b.id.cmp(&a.id))
            }),
            ("foreignId:ASC", |a, b| a.foreign_id.cmp(&b.foreign_id).then(a.id.cmp(&b.id))),
            ("foreignId:DESC", |a, b| b.foreign_id.cmp(&a.foreign_id).then(b.id.cmp(&a.id))),
            ("mainPocket.balance.available:DESC", |a, b| b.available.cmp(&a.available).then(b.id.cmp(&a.id))),
            ("isMain:DESC,name:ASC", |a, b| b.is_main.cmp(&a.is_main).then(a.name.cmp(&b.name)).then(b.id.cmp(&a.id))),
            ("id:DESC", |a, b| b.id.cmp(&a.id)),
            ("id:DESC,name:ASC", |a, b| b.id.cmp(&a.id)),
            ("createdTime.timestamp.seconds:ASC", |a, b| {
                whole_seconds(a.created_ms).cmp(&whole_seconds(b.created_ms)).then(a.id.cmp(&b.id))
            }),
            ("mainPocket.volume.total:ASC,description:DESC", |a, b| {
                (a.volume_input + a.volume_output)
                    .cmp(&(b.volume_input + b.volume_output))
                    .then(b.description.cmp(&a.description))
                    .then(a.id.cmp(&b.id))
            }),
            ("creator.authAccessId:DESC,createdTime.iso8601:ASC", |a, b| {
                b.creator_auth_access_id
                    .cmp(&a.creator_auth_access_id)
                    .then(a.created_ms.cmp(&b.created_ms))
                    .then(b.id.cmp(&a.id))
            }),
        ]
    }

    fn ids(wallets: &[WalletView]) -> Vec<&str> {
        wallets.iter().map(|w| w.id.as_str()).collect()
    }

    #[test]
    fn every_order_is_the_oracles_order() {
        let cases = oracle_cases();
        assert!(cases.len() >= 8);
        for (text, oracle) in cases {
            let sort = parse(text);
            let mut ours = fixed();
            ours.sort_by(|a, b| sort.compare(a, b));
            let mut theirs = fixed();
            theirs.sort_by(oracle);
            assert_eq!(ids(&ours), ids(&theirs), "{text}");
            assert_eq!(parse(&sort.to_string()), sort, "{sort}");
        }
    }

    #[test]
    fn the_default_is_newest_first_then_id() {
        assert_eq!(SortBy::default().to_string(), "createdTime:DESC,id:DESC");
        assert_eq!(parse("createdTime:desc"), SortBy::default());
        assert_eq!(parse(" name : Asc ,createdTime:DESC").to_string(), "name:ASC,createdTime:DESC,id:ASC");
        assert_eq!(parse("name:DESC").to_string(), "name:DESC,id:DESC");
    }

    #[test]
    fn only_creation_time_orders_are_index_orders() {
        assert_eq!(SortBy::default().created_time_direction(), Some(Direction::Desc));
        assert_eq!(parse("createdTime:ASC").created_time_direction(), Some(Direction::Asc));
        assert_eq!(parse("createdTime:ASC,id:ASC").created_time_direction(), Some(Direction::Asc));
        assert_eq!(parse("createdTime.timestamp.milliseconds:DESC").created_time_direction(), Some(Direction::Desc));
        assert_eq!(parse("createdTime:ASC,id:DESC").created_time_direction(), None);
        assert_eq!(parse("createdTime:ASC,name:ASC").created_time_direction(), None);
        assert_eq!(parse("createdTime.timestamp.seconds:ASC").created_time_direction(), None);
        assert_eq!(parse("name:ASC").created_time_direction(), None);
    }

    #[test]
    fn an_order_is_walked_on_its_first_key_that_tells_wallets_apart() {
        let walk = |text: &str| parse(text).index_walk();
        let (asc, desc) = (Direction::Asc, Direction::Desc);
        assert_eq!(walk("name:ASC"), IndexWalk { field: Field::Name, direction: asc, exact: true });
        assert_eq!(walk("name:DESC"), IndexWalk { field: Field::Name, direction: desc, exact: true });
        assert_eq!(walk("name:ASC,id:DESC"), IndexWalk { field: Field::Name, direction: asc, exact: false });
        assert_eq!(walk("name:ASC,createdTime:DESC").exact, false);
        assert_eq!(walk("id:DESC,name:ASC"), IndexWalk { field: Field::Id, direction: desc, exact: true });
        assert_eq!(
            walk("creator._type:DESC,mainPocket.balance:ASC"),
            IndexWalk { field: Field::Balance, direction: asc, exact: false },
            "the tie-break follows the first key, DESC"
        );
        assert_eq!(walk("creator.accountId"), IndexWalk { field: Field::Id, direction: asc, exact: true });
        let sort = parse("creator._type,foreignId:DESC,name");
        let cursor = sort.cursor(&fixed()[1]);
        assert_eq!(sort.walk_position(&cursor), Some((None, "5678".to_owned())));
        let sort = parse("mainPocket.balance.available:DESC");
        let cursor = sort.cursor(&fixed()[1]);
        let value = Scalar::Number(Decimal::from_str_exact("250.50").unwrap_or_default());
        assert_eq!(sort.walk_position(&cursor), Some((Some(value), "5678".to_owned())));
    }

    #[test]
    fn errors_say_where_what_was_expected_and_what_was_found() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("createdTime:UP", 12, "ASC or DESC", "'UP'"),
            ("createdTime:", 12, "ASC or DESC", "end of input"),
            ("createdTime:,name", 12, "ASC or DESC", "','"),
            ("name:ASC,creator:ASC", 9, "a field to sort on", "'creator'"),
            ("name:ASC, nope", 10, "a field to sort on", "'nope'"),
            ("name,name", 5, "a field not already sorted on", "'name'"),
            ("", 0, "a field to sort on", "end of input"),
            ("name,", 5, "a field to sort on", "end of input"),
            (",name", 0, "a field to sort on", "','"),
            ("ü:ASC", 0, "a field to sort on", "'ü'"),
            (":ASC", 0, "a field to sort on", "':'"),
        ];
        for &(text, position, expected, found) in cases {
            let error = SortBy::parse(text).expect_err(text);
            assert_eq!(error, SortError { position, expected: expected.into(), found: found.into() }, "{text}");
        }
        assert_eq!(
            SortBy::parse("createdTime:UP").expect_err("").to_string(),
            "at character 12: expected ASC or DESC, found 'UP'"
        );
        assert_eq!(SortBy::parse(&"name:ASC,".repeat(500)).expect_err("").position, MAX_QUERY_CHARS);
    }

    #[test]
    fn cursors_travel_as_text_and_must_fit_the_order() {
        let sort = parse("foreignId:DESC,mainPocket.balance:ASC,isMain:ASC,createdTime:DESC");
        let w = &fixed()[1];
        let cursor = sort.cursor(w);
        let text = cursor.to_string();
        assert_eq!(text, r#"[null,"n:250.50","b:false","m:1709856000000","t:5678"]"#);
        assert_eq!(sort.parse_cursor(&text), Ok(cursor));
        assert_eq!(parse("name:ASC").parse_cursor(&text), Err(BadCursor));
        assert_eq!(sort.parse_cursor(r#"[null,"t:250.50","b:false","m:1","t:5678"]"#), Err(BadCursor));
        assert_eq!(sort.parse_cursor(r#"[null,"n:1e3","b:false","m:1","t:5678"]"#), Err(BadCursor));
        assert_eq!(sort.parse_cursor("not json"), Err(BadCursor));
    }

    // -----------------------------------------------------------------------------------------
    // Properties

    /// Wallets from small value sets, so that ties on every key are common.
    fn arb_wallet() -> impl Strategy<Value = WalletView> {
        (
            prop::option::of(prop::sample::select(vec!["a", "b", "B", "ü"])),
            prop::sample::select(vec!["x", "y", "z"]),
            prop::option::of(prop::sample::select(vec!["", "d"])),
            any::<bool>(),
            prop_oneof![0i64..3000, Just(-1)],
            prop::option::of(prop::sample::select(vec!["k1", "k2"])),
            prop::array::uniform5(prop::sample::select(vec!["0", "1", "1.0", "-2", "0.5"])),
        )
            .prop_map(|(foreign, name, description, is_main, created, auth, money)| {
                wallet("", foreign, name, description, is_main, created, "acc", auth, money)
            })
    }

    /// Distinct ids, as the store guarantees.
    fn arb_wallets(max: usize) -> impl Strategy<Value = Vec<WalletView>> {
        prop::collection::vec(arb_wallet(), 0..max).prop_map(|mut wallets| {
            for (i, w) in wallets.iter_mut().enumerate() {
                w.id = format!("w{:02}", (i * 7) % 100);
            }
            wallets
        })
    }

    fn arb_sort() -> impl Strategy<Value = SortBy> {
        let fields: Vec<Field> = Field::ALL.into_iter().filter(|f| f.is_orderable()).collect();
        prop::collection::vec(
            (prop::sample::select(fields), any::<bool>()).prop_map(|(field, desc)| SortKey {
                field,
                direction: if desc { Direction::Desc } else { Direction::Asc },
            }),
            1..4,
        )
        .prop_map(|keys| {
            let mut unique: Vec<SortKey> = Vec::new();
            for key in keys {
                if !unique.iter().any(|k| k.field == key.field) {
                    unique.push(key);
                }
            }
            SortBy::with_tiebreak(unique)
        })
    }

    proptest! {
        #[test]
        fn the_order_is_total_and_only_ids_tie(sort in arb_sort(), wallets in arb_wallets(12)) {
            for a in &wallets {
                for b in &wallets {
                    let ab = sort.compare(a, b);
                    prop_assert_eq!(ab, sort.compare(b, a).reverse());
                    prop_assert_eq!(ab == Ordering::Equal, a.id == b.id);
                    for c in &wallets {
                        if ab != Ordering::Greater && sort.compare(b, c) != Ordering::Greater {
                            prop_assert_ne!(sort.compare(a, c), Ordering::Greater);
                        }
                    }
                }
            }
        }

        #[test]
        fn parsing_any_text_never_panics(text in ".{0,100}", cursor in ".{0,100}") {
            let _ = SortBy::parse(&text);
            let _ = SortBy::default().parse_cursor(&cursor);
        }

        #[test]
        fn sort_orders_print_and_parse_back(sort in arb_sort()) {
            prop_assert_eq!(SortBy::parse(&sort.to_string()), Ok(sort.clone()));
        }

        #[test]
        fn paging_after_cursors_visits_every_wallet_once_in_order(
            sort in arb_sort(),
            wallets in arb_wallets(30),
            page_size in 1usize..5,
        ) {
            let mut sorted = wallets.clone();
            sorted.sort_by(|a, b| sort.compare(a, b));
            let mut visited: Vec<&WalletView> = Vec::new();
            let mut cursor: Option<SortCursor> = None;
            loop {
                let mut page: Vec<&WalletView> = wallets
                    .iter()
                    .filter(|w| cursor.as_ref().is_none_or(|c| sort.after(w, c)))
                    .collect();
                page.sort_by(|a, b| sort.compare(a, b));
                page.truncate(page_size);
                let Some(last) = page.last() else { break };
                // The cursor goes out in a token and comes back as text.
                let text = sort.cursor(last).to_string();
                cursor = Some(sort.parse_cursor(&text).map_err(|e| TestCaseError::fail(e.to_string()))?);
                visited.extend(page);
                prop_assert!(visited.len() <= wallets.len());
            }
            let visited: Vec<&str> = visited.iter().map(|w| w.id.as_str()).collect();
            prop_assert_eq!(visited, ids(&sorted));
        }
    }
}
