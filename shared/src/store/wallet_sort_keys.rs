//! A wallet head's own keys in the wallet sort indexes ([`super::wallet_sort_index`]): the
//! project that puts it in them, and the index values of the fields a key cannot hold as they
//! are. Written wherever a wallet's attributes are (creation, `update_wallet`, the backfill),
//! never by commits; read back only by the sort index walk, to know a cut description.

use super::attribute_names::{
    WALLET_PROJECT, WALLET_SORT_CREATOR_KEY_ID, WALLET_SORT_DESCRIPTION, WALLET_SORT_FOREIGN_ID, WALLET_SORT_IS_MAIN,
};
use super::attributes::{n, s};
use crate::domain::names::ProjectId;
use crate::domain::wallets::WalletInfo;
use aws_sdk_dynamodb::types::AttributeValue;

/// An optional text as an index value: `0` when absent, `1` and the text when present, so that
/// absent sorts first and present values in the text's own order: DynamoDB orders strings by
/// their UTF-8 bytes, which is code-point order, as Rust's `str` (and so `SortBy`) does.
const ABSENT: &str = "0";
const PRESENT: char = '1';
/// Texts longer than this keep only their first characters: 240 characters of up to 4 bytes
/// stay within the 1,024 bytes of a sort key attribute. Names, foreign ids and key ids are
/// shorter; only a description can be longer.
const KEPT_CHARS: usize = 240;
/// Ends a cut text: it sorts right after the whole text of its first 240 characters (which is
/// the least text starting with them), and marks the value as shared by every description
/// that starts with the same 240 characters — a tie group whose order only the heads tell.
const CUT: char = '~';

pub(super) fn optional_text(value: Option<&str>) -> String {
    let Some(text) = value else {
        return ABSENT.to_owned();
    };
    let mut encoded = String::with_capacity(text.len().min(4 * KEPT_CHARS) + 2);
    encoded.push(PRESENT);
    encoded.extend(text.chars().take(KEPT_CHARS));
    if text.chars().nth(KEPT_CHARS).is_some() {
        encoded.push(CUT);
    }
    encoded
}

/// Whether an index value is a cut text (see [`CUT`]).
pub(super) fn is_cut(value: &str) -> bool {
    value.chars().nth(KEPT_CHARS + 1).is_some()
}

/// The wallet's own index values, on its head: written where its attributes are (creation,
/// `update_wallet`), never by commits.
pub(super) fn head_sort_attributes(project: &ProjectId, info: &WalletInfo) -> [(&'static str, AttributeValue); 5] {
    [
        (WALLET_PROJECT, s(project.as_str())),
        (WALLET_SORT_DESCRIPTION, s(optional_text(info.description.as_ref().map(|d| d.as_str())))),
        (WALLET_SORT_FOREIGN_ID, s(optional_text(info.foreign_id.as_ref().map(|f| f.as_str())))),
        (WALLET_SORT_IS_MAIN, n(u8::from(info.is_main))),
        (WALLET_SORT_CREATOR_KEY_ID, s(optional_text(info.creator_key_id.as_deref()))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_texts_sort_as_the_listing_sorts_them() {
        let long_a = format!("{}a", "x".repeat(KEPT_CHARS));
        let long_b = format!("{}b", "x".repeat(KEPT_CHARS));
        let exact = "x".repeat(KEPT_CHARS);
        let shorter = "x".repeat(KEPT_CHARS - 1);
        let texts: Vec<Option<&str>> = vec![
            None,
            Some(""),
            Some(" "),
            Some("A"),
            Some("Z"),
            Some("a"),
            Some("ab"),
            Some("É"),
            Some("Ö"),
            Some("ü"),
        ];
        let mut values: Vec<Option<&str>> = texts.clone();
        values.extend([Some(shorter.as_str()), Some(exact.as_str()), Some("xy")]);
        for a in &values {
            for b in &values {
                assert_eq!(optional_text(*a).cmp(&optional_text(*b)), a.cmp(b), "{a:?} {b:?}");
            }
        }
        // Cut texts: after the whole text of their first characters, before anything greater.
        assert_eq!(optional_text(Some(&long_a)), optional_text(Some(&long_b)));
        assert!(is_cut(&optional_text(Some(&long_a))) && !is_cut(&optional_text(Some(&exact))));
        assert!(optional_text(Some(&exact)) < optional_text(Some(&long_a)));
        assert!(optional_text(Some(&long_a)) < optional_text(Some("xy")));
        let widest = "ü".repeat(1_000);
        assert!(optional_text(Some(&widest)).len() <= 1_024 - 36, "room for the id beside it");
    }
}
