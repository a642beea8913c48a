//! The table's stream, read: a stream record (as Lambda hands it to a consumer, or as
//! DynamoDB Streams' GetRecords answers) turned back into the domain values of the item it
//! changed. Only the items that events are made of are read; every other item (locks, lots,
//! list pointers, deliveries, ...) is `None`.

use super::attributes::Item;
use super::balances::HeadRecord;
use super::customer_wallets::account_from_item;
use super::history::entry_from_item;
use super::keys::{HEAD_SK, HISTORY_FIRST, MOVEMENT_SK, ORDER_SK, PK, SK, WALLET_ACCOUNTS_FIRST};
use super::movements::movement_from_item;
use super::orders::order_from_item;
use super::StoreError;
use crate::domain::entry::Entry;
use crate::domain::movements::Movement;
use crate::domain::names::{BalanceId, ProjectId};
use crate::domain::orders::Order;
use crate::domain::time::Millis;
use crate::domain::wallet_accounts::WalletAccount;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// One record of the stream, as far as a consumer needs it.
#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
pub struct StreamChange {
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: String,
    /// When DynamoDB wrote the change, in epoch seconds (Lambda's events) — to the second.
    #[serde(rename = "ApproximateCreationDateTime", default)]
    approximate_creation: Option<f64>,
    #[serde(rename = "Keys", default)]
    keys: HashMap<String, Value>,
    #[serde(rename = "NewImage", default)]
    new_image: Option<HashMap<String, Value>>,
    #[serde(rename = "OldImage", default)]
    old_image: Option<HashMap<String, Value>>,
}

/// What a record says changed, in domain values, with the item's key (events derive their
/// ids from it).
#[derive(Debug, Clone)]
pub struct Changed {
    /// When the change was written, as the stream says (a wallet account has no time of its own).
    pub at: Option<Millis>,
    pub pk: String,
    pub sk: String,
    pub project: ProjectId,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub enum Change {
    /// A balance's head (a wallet's, when it has the wallet attributes).
    Head {
        old: Option<Box<HeadRecord>>,
        new: Option<Box<HeadRecord>>,
    },
    /// A history entry, written once.
    Entry {
        balance: BalanceId,
        entry: Box<Entry>,
    },
    Movement {
        old: Option<Box<Movement>>,
        new: Box<Movement>,
    },
    WalletAccount {
        old: Option<Box<WalletAccount>>,
        new: Option<Box<WalletAccount>>,
    },
    Order {
        old: Option<Box<Order>>,
        new: Box<Order>,
    },
}

/// The kinds of item events are made of, told apart by key.
enum Shape {
    Head,
    Entry(BalanceId),
    Movement(Uuid),
    WalletAccount,
    Order,
}

fn shape(pk: &str, sk: &str) -> Option<(ProjectId, Shape)> {
    // `P#<project>#<tag>#<id>`: a project has no `#` (ProjectId::parse), an id may.
    let mut parts = pk.splitn(4, '#');
    let (Some("P"), Some(project), Some(tag), Some(id)) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let project = ProjectId::parse(project).ok()?;
    let shape = match tag {
        "B" if sk == HEAD_SK => Shape::Head,
        "B" if sk.starts_with(HISTORY_FIRST) => Shape::Entry(BalanceId::parse(id).ok()?),
        "M" if sk == MOVEMENT_SK => Shape::Movement(Uuid::parse_str(id).ok()?),
        "C" if sk.starts_with(WALLET_ACCOUNTS_FIRST) => Shape::WalletAccount,
        "O" if sk == ORDER_SK => Shape::Order,
        _ => return None,
    };
    Some((project, shape))
}

/// The domain change a record carries; `None` for an item no event is made of. A record
/// that names such an item but cannot be read is [`StoreError::Corrupt`].
pub fn changed(record: &StreamRecord) -> Result<Option<Changed>, StoreError> {
    let change = &record.dynamodb;
    let at = change.approximate_creation.map(|seconds| Millis::from_epoch_ms((seconds * 1000.0).round() as i64));
    let key_text = |name: &str| change.keys.get(name).and_then(|v| v.get("S")).and_then(Value::as_str);
    let (Some(pk), Some(sk)) = (key_text(PK), key_text(SK)) else {
        return Ok(None);
    };
    let Some((project, shape)) = shape(pk, sk) else {
        return Ok(None);
    };
    let new = change.new_image.as_ref().map(item).transpose()?;
    let old = change.old_image.as_ref().map(item).transpose()?;
    let change = match shape {
        Shape::Head => {
            let head = |image: Option<Item>| -> Result<Option<Box<HeadRecord>>, StoreError> {
                Ok(image.as_ref().map(HeadRecord::from_item).transpose()?.map(Box::new))
            };
            Change::Head { old: head(old)?, new: head(new)? }
        }
        Shape::Entry(balance) => match new {
            Some(image) => Change::Entry { balance, entry: Box::new(entry_from_item(&image)?) },
            // An entry is never changed or deleted: a removal is nothing to tell.
            None => return Ok(None),
        },
        Shape::Movement(id) => {
            let read = |image: &Item| movement_from_item(id, image);
            match new {
                Some(image) => Change::Movement {
                    old: old.as_ref().map(read).transpose()?.map(Box::new),
                    new: Box::new(read(&image)?),
                },
                None => return Ok(None),
            }
        }
        Shape::WalletAccount => Change::WalletAccount {
            old: old.as_ref().map(account_from_item).transpose()?.map(Box::new),
            new: new.as_ref().map(account_from_item).transpose()?.map(Box::new),
        },
        Shape::Order => match new {
            Some(image) => Change::Order {
                old: old.as_ref().map(order_from_item).transpose()?.map(Box::new),
                new: Box::new(order_from_item(&image)?),
            },
            None => return Ok(None),
        },
    };
    Ok(Some(Changed { at, pk: pk.to_owned(), sk: sk.to_owned(), project, change }))
}

fn item(image: &HashMap<String, Value>) -> Result<Item, StoreError> {
    image.iter().map(|(name, value)| Ok((name.clone(), attribute(value)?))).collect()
}

/// DynamoDB's JSON of one attribute value (`{"S": "..."}`, `{"N": "1.5"}`, `{"M": {...}}`, ...).
fn attribute(value: &Value) -> Result<AttributeValue, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("stream image: not an attribute value: {value}"));
    let object = value.as_object().filter(|o| o.len() == 1).ok_or_else(corrupt)?;
    let (tag, inner) = object.iter().next().ok_or_else(corrupt)?;
    let text = || inner.as_str().map(str::to_owned).ok_or_else(corrupt);
    let texts = || -> Result<Vec<String>, StoreError> {
        inner
            .as_array()
            .ok_or_else(corrupt)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(corrupt))
            .collect()
    };
    let blob =
        |text: &str| base64::engine::general_purpose::STANDARD.decode(text).map(Blob::new).map_err(|_| corrupt());
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text()?),
        "N" => AttributeValue::N(text()?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(corrupt)?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts()?),
        "NS" => AttributeValue::Ns(texts()?),
        "B" => AttributeValue::B(blob(&text()?)?),
        "BS" => AttributeValue::Bs(texts()?.iter().map(|t| blob(t)).collect::<Result<_, _>>()?),
        "L" => {
            AttributeValue::L(inner.as_array().ok_or_else(corrupt)?.iter().map(attribute).collect::<Result<_, _>>()?)
        }
        "M" => AttributeValue::M(
            inner
                .as_object()
                .ok_or_else(corrupt)?
                .iter()
                .map(|(k, v)| Ok((k.clone(), attribute(v)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
        _ => return Err(corrupt()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_in_dynamodb_json_read_back_whole() {
        let value = json!({"M": {"a": {"N": "1.50"}, "b": {"L": [{"S": "x"}, {"BOOL": true}, {"NULL": true}]},
                                 "c": {"SS": ["p", "q"]}, "d": {"B": "AAE="}}});
        let AttributeValue::M(map) = attribute(&value).unwrap() else { panic!("a map") };
        assert_eq!(map["a"], AttributeValue::N("1.50".into()));
        assert_eq!(
            map["b"],
            AttributeValue::L(vec![
                AttributeValue::S("x".into()),
                AttributeValue::Bool(true),
                AttributeValue::Null(true)
            ])
        );
        assert_eq!(map["c"], AttributeValue::Ss(vec!["p".into(), "q".into()]));
        assert_eq!(map["d"], AttributeValue::B(Blob::new(vec![0u8, 1])));
        assert!(attribute(&json!({"X": "1"})).is_err());
        assert!(attribute(&json!({"S": "1", "N": "1"})).is_err());
    }

    /// DynamoDB's JSON of an attribute, as the stream carries it.
    fn json_of(value: &AttributeValue) -> Value {
        match value {
            AttributeValue::S(s) => json!({"S": s}),
            AttributeValue::N(n) => json!({"N": n}),
            AttributeValue::Bool(b) => json!({"BOOL": b}),
            AttributeValue::L(l) => json!({"L": l.iter().map(json_of).collect::<Vec<_>>()}),
            AttributeValue::M(m) => {
                json!({"M": m.iter().map(|(k, v)| (k.clone(), json_of(v))).collect::<serde_json::Map<_, _>>()})
            }
            other => panic!("not in these items: {other:?}"),
        }
    }

    #[test]
    fn a_history_entry_written_by_the_store_reads_back_from_its_stream_record() {
        use crate::domain::checksum::Checksum;
        use crate::domain::entry::EntryKind;
        use crate::domain::names::TxId;
        let project = ProjectId::parse("shop-1").unwrap();
        let balance = BalanceId::new(Uuid::new_v4());
        let entry = Entry {
            seq: 7,
            id: TxId::new(Uuid::new_v4()),
            kind: EntryKind::Dec,
            amount: rust_decimal::Decimal::new(1050, 2),
            created_at: Millis::from_epoch_ms(1_800_000_000_000),
            request_time: Millis::from_epoch_ms(1_800_000_000_000),
            expired_at: Some(Millis::from_epoch_ms(1_799_999_999_000)),
            session: "s".into(),
            main_tx_id: None,
            subject: None,
            balance_after: rust_decimal::Decimal::new(-5, 1),
            checksum: Checksum::from_stored("ab".repeat(32)),
        };
        let item = super::super::history::entry_item(&project, balance, &entry);
        let image: serde_json::Map<String, Value> = item.iter().map(|(k, v)| (k.clone(), json_of(v))).collect();
        let record: StreamRecord = serde_json::from_value(json!({
            "eventName": "INSERT",
            "dynamodb": {"SequenceNumber": "100", "ApproximateCreationDateTime": 1_800_000_000.5,
                         "Keys": {"pk": image["pk"], "sk": image["sk"]}, "NewImage": image}
        }))
        .unwrap();
        let changed = changed(&record).unwrap().expect("an entry is an event item");
        assert_eq!(changed.project, project);
        assert_eq!(changed.at, Some(Millis::from_epoch_ms(1_800_000_000_500)));
        let Change::Entry { balance: read_balance, entry: read } = changed.change else { panic!("an entry") };
        assert_eq!(read_balance, balance);
        assert_eq!(*read, entry);
    }

    #[test]
    fn items_no_event_is_made_of_are_passed_over() {
        for (pk, sk) in
            [("P#p#B#x", "L#1#2"), ("P#p#WL", "1#x"), ("K#abc", "K"), ("P#p#M#not-a-uuid", "M"), ("S#EXPIRY#1", "1")]
        {
            let record: StreamRecord = serde_json::from_value(json!({
                "eventName": "INSERT",
                "dynamodb": {"SequenceNumber": "1", "Keys": {"pk": {"S": pk}, "sk": {"S": sk}}, "NewImage": {"pk": {"S": pk}}}
            }))
            .unwrap();
            assert!(changed(&record).unwrap().is_none(), "{pk} {sk}");
        }
    }
}
