//! Reading and writing item attributes: exact numbers through `N` strings, typed errors for
//! items that do not have the expected shape.

use super::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;

pub type Item = HashMap<String, AttributeValue>;

/// An item's key.
pub fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(super::keys::PK.to_owned(), s(pk)), (super::keys::SK.to_owned(), s(sk))])
}

/// A request builder's answer: a missing required part is a bug in this code, not the data's.
pub fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn decimal(value: Decimal) -> AttributeValue {
    AttributeValue::N(crate::domain::money::format(value))
}

pub fn boolean(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

/// Typed access to one item's attributes.
pub struct Reader<'a> {
    item: &'a Item,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(item: &'a Item, what: &'static str) -> Self {
        Self { item, what }
    }

    fn corrupt(&self, name: &str, problem: &str) -> StoreError {
        StoreError::Corrupt(format!("{} attribute {name}: {problem}", self.what))
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value)),
            Some(_) => Err(self.corrupt(name, "not a string")),
        }
    }

    pub fn str(&self, name: &str) -> Result<&'a str, StoreError> {
        self.opt_str(name)?.ok_or_else(|| self.corrupt(name, "missing"))
    }

    pub fn opt_number<T: FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(text)) => {
                text.parse().map(Some).map_err(|_| self.corrupt(name, "not a number of the expected kind"))
            }
            Some(_) => Err(self.corrupt(name, "not a number")),
        }
    }

    pub fn number<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_number(name)?.ok_or_else(|| self.corrupt(name, "missing"))
    }

    pub fn decimal(&self, name: &str) -> Result<Decimal, StoreError> {
        self.opt_decimal(name)?.ok_or_else(|| self.corrupt(name, "missing or not a number"))
    }

    pub fn opt_decimal(&self, name: &str) -> Result<Option<Decimal>, StoreError> {
        let text = match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => return Ok(None),
            Some(AttributeValue::N(text)) => text,
            Some(_) => return Err(self.corrupt(name, "not a number")),
        };
        Decimal::from_str_exact(text)
            .or_else(|_| Decimal::from_scientific(text))
            .map(Some)
            .map_err(|_| self.corrupt(name, "not a decimal"))
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.item.get(name) {
            Some(AttributeValue::Ss(values)) => Ok(values.clone()),
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(|v| v.as_s().cloned().map_err(|_| self.corrupt(name, "list of non-strings")))
                .collect(),
            None => Ok(Vec::new()),
            Some(_) => Err(self.corrupt(name, "not a string set")),
        }
    }

    /// Parses a string attribute with a domain parser.
    pub fn parsed<T, E>(&self, name: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, StoreError> {
        parse(self.str(name)?).map_err(|_| self.corrupt(name, "not valid"))
    }
}

/// Builds `SET #a = :a, ... REMOVE #b, ...` update expressions with placeholder names, so
/// callers never juggle expression strings.
#[derive(Default)]
pub struct Update {
    set: Vec<String>,
    remove: Vec<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Update {
    pub fn set(mut self, attribute: &str, value: AttributeValue) -> Self {
        let i = self.names.len();
        self.names.insert(format!("#u{i}"), attribute.to_owned());
        self.values.insert(format!(":u{i}"), value);
        self.set.push(format!("#u{i} = :u{i}"));
        self
    }

    pub fn set_opt(self, attribute: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(value) => self.set(attribute, value),
            None => self.remove(attribute),
        }
    }

    pub fn remove(mut self, attribute: &str) -> Self {
        let i = self.names.len();
        self.names.insert(format!("#u{i}"), attribute.to_owned());
        self.remove.push(format!("#u{i}"));
        self
    }

    /// A name placeholder for use in a condition.
    pub fn name(&mut self, attribute: &str) -> String {
        let i = self.names.len();
        let placeholder = format!("#u{i}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    /// A value placeholder for use in a condition.
    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":c{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub fn expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        parts.join(" ")
    }
}
