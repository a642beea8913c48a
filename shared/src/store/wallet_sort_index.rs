//! The wallet sort indexes: a project's wallets in the order of one field, so that a listing
//! sorted on anything but the creation time reads a page, not the whole wallet index.
//!
//! - One sparse global secondary index per sortable field, over wallet heads: partition key
//!   `walletProject` (only wallet heads carry it, so plain balances stay out), sort key the
//!   field's value then `balanceId` (a multi-attribute sort key). Ties on the value are in id
//!   order, which is how [`SortBy`](crate::domain::wallet_query::sort::SortBy) breaks them,
//!   so a page of a one-key order starts right after its cursor: one Query, whatever the size.
//! - The pocket fields are keyed on the head's own numbers (`balanceAmount`, `lockedIn`, ...,
//!   `volumeTotal`), which every commit writes anyway: a money move costs no extra call, only
//!   the index writes DynamoDB makes for it (a changed key: a delete and a put in that index).
//! - The static fields: `walletName` and `balanceId` as they are; the others through an index
//!   value of their own (`walletSort*`, encoded in [`super::wallet_sort_keys`]), written with
//!   the wallet's attributes, because a key cannot hold them as they are: an absent optional
//!   text must still be indexed (and sort first), a description may be longer than a key
//!   attribute's 1,024 bytes, and a boolean is not a key type. Commits never write these, so
//!   they cost nothing per move.
//! - Projection KEYS_ONLY: a reader takes the ids and reads the heads (strongly consistent)
//!   for the values it filters and sorts on. Index reads are eventually consistent: right
//!   after a change a wallet may still stand at its old place for a moment.
//! - Creation-time orders walk the wallet index (`P#<project>#WL`), which is in that order.

use super::attribute_names::{
    BALANCE_AMOUNT, BALANCE_ID, LOCKED_IN, LOCKED_OUT, VOLUME_INPUT, VOLUME_OUTPUT, VOLUME_TOTAL, WALLET_NAME,
    WALLET_PROJECT, WALLET_SORT_CREATOR_KEY_ID, WALLET_SORT_DESCRIPTION, WALLET_SORT_FOREIGN_ID, WALLET_SORT_IS_MAIN,
};
use super::attributes::{decimal, key, n, s, Item, Reader, Update};
use super::keys::{self, HEAD_SK};
use super::wallet_sort_keys::{head_sort_attributes, is_cut, optional_text};
use super::wallets::{IndexRange, IndexedWallet};
use super::{Store, StoreError};
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::wallet_query::{whole_seconds, Field, Scalar};
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::StreamExt;
use rust_decimal::Decimal;

/// One sort index: its name, and the attribute that holds the field's value (with its key
/// type); `None` for the id index, whose sort key is the id alone.
#[derive(Debug)]
pub struct SortIndex {
    pub name: &'static str,
    pub value: Option<(&'static str, &'static str)>,
}

/// The partition key of every sort index.
pub const SORT_INDEX_PARTITION: &str = WALLET_PROJECT;
/// The last part of every sort index's sort key: the tie-break.
pub const SORT_INDEX_ID: &str = BALANCE_ID;

/// Every sort index: 12 of the 20 a table may have.
pub const SORT_INDEXES: [SortIndex; 12] = [
    SortIndex { name: "wallets-by-id", value: None },
    SortIndex { name: "wallets-by-name", value: Some((WALLET_NAME, "S")) },
    SortIndex { name: "wallets-by-description", value: Some((WALLET_SORT_DESCRIPTION, "S")) },
    SortIndex { name: "wallets-by-foreign-id", value: Some((WALLET_SORT_FOREIGN_ID, "S")) },
    SortIndex { name: "wallets-by-is-main", value: Some((WALLET_SORT_IS_MAIN, "N")) },
    SortIndex { name: "wallets-by-creator-key", value: Some((WALLET_SORT_CREATOR_KEY_ID, "S")) },
    SortIndex { name: "wallets-by-available", value: Some((BALANCE_AMOUNT, "N")) },
    SortIndex { name: "wallets-by-locked-in", value: Some((LOCKED_IN, "N")) },
    SortIndex { name: "wallets-by-locked-out", value: Some((LOCKED_OUT, "N")) },
    SortIndex { name: "wallets-by-volume-input", value: Some((VOLUME_INPUT, "N")) },
    SortIndex { name: "wallets-by-volume-output", value: Some((VOLUME_OUTPUT, "N")) },
    SortIndex { name: "wallets-by-volume-total", value: Some((VOLUME_TOTAL, "N")) },
];

/// The index that keeps wallets in the order of `field`; `None`: a creation-time field (the
/// wallet index is in that order) or one every wallet has the same value of.
fn index_of(field: Field) -> Option<&'static SortIndex> {
    let name = match field {
        Field::Id => "wallets-by-id",
        Field::Name => "wallets-by-name",
        Field::Description => "wallets-by-description",
        Field::ForeignId => "wallets-by-foreign-id",
        Field::IsMain => "wallets-by-is-main",
        Field::CreatorAuthAccessId => "wallets-by-creator-key",
        Field::Balance | Field::BalanceAvailable => "wallets-by-available",
        Field::BalanceLockedIn => "wallets-by-locked-in",
        Field::BalanceLockedOut => "wallets-by-locked-out",
        Field::VolumeInput => "wallets-by-volume-input",
        Field::VolumeOutput => "wallets-by-volume-output",
        Field::VolumeTotal => "wallets-by-volume-total",
        Field::CreatedTime
        | Field::CreatedTimeIso8601
        | Field::CreatedTimeMilliseconds
        | Field::CreatedTimeSeconds
        | Field::Creator
        | Field::CreatorType
        | Field::CreatorAccountId => return None,
    };
    SORT_INDEXES.iter().find(|index| index.name == name)
}

/// A listing value of `field` as the field's index holds it; `None`: it cannot be one.
fn index_value(field: Field, value: Option<&Scalar<'_>>) -> Option<AttributeValue> {
    match (field, value) {
        (Field::Id | Field::Name, Some(Scalar::Text(text))) => Some(s(text.as_ref())),
        (Field::Description | Field::ForeignId | Field::CreatorAuthAccessId, None) => Some(s(optional_text(None))),
        (Field::Description | Field::ForeignId | Field::CreatorAuthAccessId, Some(Scalar::Text(text))) => {
            Some(s(optional_text(Some(text))))
        }
        (Field::IsMain, Some(Scalar::Bool(b))) => Some(n(u8::from(*b))),
        (field, Some(Scalar::Number(number))) if field.is_pocket() => Some(decimal(*number)),
        _ => None,
    }
}

/// One wallet of a sorted walk, in the walk's order.
#[derive(Debug, Clone)]
pub struct SortedEntry {
    pub id: BalanceId,
    /// The walked field's value as the index holds it (numbers normalised): wallets with the
    /// same one are next to each other.
    pub group: String,
    /// Whether the index holds the value only roughly (a cut description, a creation time in
    /// whole seconds): the wallets of its group are then not in id order but in no known
    /// order, and only the whole group read tells which comes first.
    pub coarse: bool,
    /// The wallet as the wallet index holds it, for a walk of that index.
    pub indexed: Option<IndexedWallet>,
}

/// Where a walk starts.
#[derive(Debug, Clone)]
pub enum WalkStart {
    Beginning,
    /// Right after this wallet (its value of the walked field, its id).
    After(Option<Scalar<'static>>, BalanceId),
    /// At the first wallet with this value of the walked field (a tie group).
    Group(Option<Scalar<'static>>),
}

/// A walk along one sort index (or the wallet index), one Query at a time.
#[derive(Debug, Clone)]
pub struct SortWalk {
    project: ProjectId,
    source: Source,
    descending: bool,
    done: bool,
}

#[derive(Debug, Clone)]
enum Source {
    Index {
        index: &'static SortIndex,
        /// The least value read (the greatest, read backwards): a tie group's start.
        from: Option<AttributeValue>,
        exclusive_start: Option<Item>,
    },
    Created {
        range: IndexRange,
        seconds: bool,
    },
}

impl SortWalk {
    /// Whether the walk has read the last wallet.
    pub fn done(&self) -> bool {
        self.done
    }
}

/// A creation-time listing value in ms (an ISO 8601 text read back).
fn created_ms(value: Option<&Scalar<'_>>) -> Option<i64> {
    match value? {
        Scalar::Time(ms) => Some(*ms),
        Scalar::Text(text) => chrono::DateTime::parse_from_rfc3339(text).ok().map(|at| at.timestamp_millis()),
        _ => None,
    }
}

impl Store {
    /// A walk of the project's wallets in the order of `field` (then id, the same way),
    /// `descending` or not, from `start`; a creation-time walk also keeps within
    /// `created_range` (inclusive ms). `None`: the start does not fit the field.
    pub fn sort_walk(
        &self,
        project: &ProjectId,
        field: Field,
        descending: bool,
        start: WalkStart,
        created_range: (Option<i64>, Option<i64>),
    ) -> Option<SortWalk> {
        let source = match index_of(field) {
            Some(index) => {
                let (from, exclusive_start) = match start {
                    WalkStart::Beginning => (None, None),
                    WalkStart::After(value, id) => {
                        let value = match index.value {
                            Some(_) => Some(index_value(field, value.as_ref())?),
                            None => None,
                        };
                        match value {
                            // A cut description stands for its whole group: start there.
                            Some(AttributeValue::S(text)) if is_cut(&text) => (Some(s(text)), None),
                            value => {
                                let mut start = key(keys::balance_pk(project, id), HEAD_SK);
                                start.insert(WALLET_PROJECT.to_owned(), s(project.as_str()));
                                start.insert(BALANCE_ID.to_owned(), s(id.to_string()));
                                if let (Some((attribute, _)), Some(value)) = (index.value, value) {
                                    start.insert(attribute.to_owned(), value);
                                }
                                (None, Some(start))
                            }
                        }
                    }
                    WalkStart::Group(value) => (Some(index_value(field, value.as_ref())?), None),
                };
                Source::Index { index, from, exclusive_start }
            }
            None if matches!(
                field,
                Field::CreatedTime
                    | Field::CreatedTimeMilliseconds
                    | Field::CreatedTimeIso8601
                    | Field::CreatedTimeSeconds
            ) =>
            {
                let seconds = field == Field::CreatedTimeSeconds;
                let (from_ms, to_ms) = created_range;
                let mut range = IndexRange { descending, from_ms, to_ms, after: None };
                // A creation time in whole seconds stands for every ms of its second.
                let group = |value: Option<&Scalar<'_>>| -> Option<(i64, i64)> {
                    let ms = created_ms(value)?;
                    Some(match seconds {
                        true => (whole_seconds(ms), whole_seconds(ms) + 999),
                        false => (ms, ms),
                    })
                };
                let starts_at = match start {
                    WalkStart::Beginning => None,
                    WalkStart::After(value, id) if !seconds => {
                        range.after = Some((created_ms(value.as_ref())?, id));
                        None
                    }
                    WalkStart::After(value, _) | WalkStart::Group(value) => Some(group(value.as_ref())?),
                };
                if let Some((first, last)) = starts_at {
                    match descending {
                        false => range.from_ms = Some(range.from_ms.map_or(first, |from| from.max(first))),
                        true => range.to_ms = Some(range.to_ms.map_or(last, |to| to.min(last))),
                    }
                }
                Source::Created { range, seconds }
            }
            None => return None,
        };
        Some(SortWalk { project: project.clone(), source, descending, done: false })
    }

    /// The walk's next wallets: one Query of up to `limit` (fewer at the end, or where 1 MB
    /// of index items ends a Query first).
    pub async fn sort_walk_page(&self, walk: &mut SortWalk, limit: usize) -> Result<Vec<SortedEntry>, StoreError> {
        if walk.done {
            return Ok(Vec::new());
        }
        match &mut walk.source {
            Source::Created { range, seconds } => {
                let (items, next) = self.wallet_index_page(&walk.project, *range, Some(limit)).await?;
                match next {
                    Some(next) => range.after = Some(next),
                    None => walk.done = true,
                }
                let seconds = *seconds;
                Ok(items
                    .into_iter()
                    .map(|wallet| {
                        let ms = wallet.created_at.epoch_ms();
                        let group = if seconds { whole_seconds(ms) } else { ms };
                        SortedEntry { id: wallet.id, group: group.to_string(), coarse: seconds, indexed: Some(wallet) }
                    })
                    .collect())
            }
            Source::Index { index, from, exclusive_start } => {
                let mut condition = "#p = :p".to_owned();
                let mut query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(index.name)
                    .expression_attribute_names("#p", WALLET_PROJECT)
                    .expression_attribute_values(":p", s(walk.project.as_str()))
                    .scan_index_forward(!walk.descending)
                    .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(exclusive_start.clone());
                if let Some(from) = from {
                    let attribute = index.value.map_or(BALANCE_ID, |(attribute, _)| attribute);
                    // Only the sort key's first attribute: a group is every id with that value.
                    condition.push_str(if walk.descending { " AND #v <= :v" } else { " AND #v >= :v" });
                    query = query
                        .expression_attribute_names("#v", attribute)
                        .expression_attribute_values(":v", from.clone());
                }
                let output =
                    query.key_condition_expression(condition).send().await.map_err(|e| StoreError::sdk("Query", e))?;
                *exclusive_start = output.last_evaluated_key().cloned();
                walk.done = exclusive_start.is_none();
                output.items().iter().map(|item| sorted_entry(index, item)).collect()
            }
        }
    }

    /// Gives the heads of the project's wallets that lack them (created before the sort
    /// indexes existed) their sort index keys, from the wallet index: `(updated, skipped)`,
    /// skipped being the heads that have them already. Safe beside live traffic: a head is
    /// only written when it has no `walletProject`, and everything that writes wallet
    /// attributes now writes it too.
    pub async fn backfill_wallet_sort_keys(&self, project: &ProjectId) -> Result<(u64, u64), StoreError> {
        /// Updates in flight at once.
        const IN_FLIGHT: usize = 8;
        let (mut updated, mut skipped) = (0, 0);
        let mut range = IndexRange::default();
        loop {
            let (wallets, next) = self.wallet_index_page(project, range, Some(1_000)).await?;
            let writes = wallets.iter().map(|wallet| self.backfill_head(project, wallet));
            let results: Vec<Result<bool, StoreError>> =
                futures_util::stream::iter(writes).buffer_unordered(IN_FLIGHT).collect().await;
            for result in results {
                match result? {
                    true => updated += 1,
                    false => skipped += 1,
                }
            }
            match next {
                Some(next) => range.after = Some(next),
                None => return Ok((updated, skipped)),
            }
        }
    }

    async fn backfill_head(&self, project: &ProjectId, wallet: &IndexedWallet) -> Result<bool, StoreError> {
        let mut update = head_sort_attributes(project, &wallet.info)
            .into_iter()
            .fold(Update::default(), |update, (name, value)| update.set(name, value));
        let (total, input, output) = (update.name(VOLUME_TOTAL), update.name(VOLUME_INPUT), update.name(VOLUME_OUTPUT));
        let zero = update.value(n(0));
        let project_name = update.name(WALLET_PROJECT);
        let expression = format!(
            "{}, {total} = if_not_exists({input}, {zero}) + if_not_exists({output}, {zero})",
            update.expression()
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::balance_pk(project, wallet.id), HEAD_SK)))
            .update_expression(expression)
            .condition_expression(format!("{} AND attribute_not_exists({project_name})", keys::item_present()))
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }
}

fn sorted_entry(index: &SortIndex, item: &Item) -> Result<SortedEntry, StoreError> {
    let r = Reader::new(item, "wallet sort index");
    let id = r.parsed(BALANCE_ID, BalanceId::parse)?;
    let (group, coarse) = match index.value {
        None => (id.to_string(), false),
        Some((attribute, "N")) => {
            let number: Decimal = r.decimal(attribute)?;
            (number.normalize().to_string(), false)
        }
        Some((attribute, _)) => {
            let text = r.str(attribute)?;
            (text.to_owned(), is_cut(text))
        }
    };
    Ok(SortedEntry { id, group, coarse, indexed: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sortable_field_has_an_index_or_the_wallet_index() {
        for field in Field::ALL {
            let created = matches!(
                field,
                Field::CreatedTime
                    | Field::CreatedTimeMilliseconds
                    | Field::CreatedTimeIso8601
                    | Field::CreatedTimeSeconds
            );
            assert_eq!(index_of(field).is_some(), !created && !field.is_same_for_every_wallet(), "{field}");
        }
        let names: std::collections::BTreeSet<&str> = SORT_INDEXES.iter().map(|i| i.name).collect();
        assert_eq!(names.len(), SORT_INDEXES.len());
    }
}
