//! The body of FPay's updates, `{"id", "set": {...}, "remove": [...]}`, shared by wallets,
//! movements and transactions. `change` is Pocketbook's older word for `set`.

use crate::edge::error::ApiError;
use crate::edge::input::Fields;

/// A patch being read: the fields it sets (taken as they are read) and the ones it removes.
pub(super) struct Patch {
    /// `set` or `change`, as the body spelled it.
    word: &'static str,
    set: Fields,
    removals: Vec<String>,
}

impl Patch {
    /// Takes `set` (or `change`) and `remove` from the body.
    pub(super) fn take(body: &mut Fields) -> Result<Self, ApiError> {
        let object =
            |raw: &serde_json::value::RawValue| Fields::parse(raw.get()).map_err(|_| "must be an object".to_owned());
        let (set, change) = (body.optional("set", object)?, body.optional("change", object)?);
        let (word, set) = match (set, change) {
            (Some(_), Some(_)) => return Err(ApiError::validation("change", "give set or change, not both")),
            (Some(set), None) => ("set", set),
            (None, Some(change)) => ("change", change),
            (None, None) => ("set", Fields::empty()),
        };
        let removals = body
            .optional("remove", |raw| {
                serde_json::from_str::<Vec<String>>(raw.get()).map_err(|_| "must be an array of field names".to_owned())
            })?
            .unwrap_or_default();
        Ok(Self { word, set, removals })
    }

    /// A field that may be set but never removed.
    pub(super) fn set_only<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&serde_json::value::RawValue) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        if self.set.is_null(name) || self.removals.iter().any(|field| field == name) {
            return Err(ApiError::validation(format!("{}.{name}", self.word), "cannot be removed"));
        }
        self.set.optional(name, parse).map_err(|e| e.nested(self.word))
    }

    /// A field that may be set or removed: `Some(Some)` set, `Some(None)` removed, `None` left.
    pub(super) fn field<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&serde_json::value::RawValue) -> Result<T, String>,
    ) -> Result<Option<Option<T>>, ApiError> {
        let removed = self.removals.iter().position(|field| field == name).map(|at| self.removals.remove(at));
        let set = self.set.optional(name, parse).map_err(|e| e.nested(self.word))?;
        match (set, removed) {
            (Some(_), Some(_)) => Err(ApiError::validation("remove", format!("'{name}' is both set and removed"))),
            (Some(value), None) => Ok(Some(Some(value))),
            (None, Some(_)) => Ok(Some(None)),
            (None, None) => Ok(None),
        }
    }

    /// Refuses what nobody read; `removable` names the fields that can be removed.
    pub(super) fn finish(self, removable: &[&str]) -> Result<(), ApiError> {
        if let Some(field) = self.removals.first() {
            let message = format!("'{field}' cannot be removed (only {} can)", removable.join(" and "));
            return Err(ApiError::validation("remove", message));
        }
        let word = self.word;
        self.set.finish().map_err(|e| e.nested(word))
    }
}
