//! Idempotency keys: the answer to the first request with a key is stored in the same
//! transaction as its effect, and a repeat of that request gets the stored answer instead of a
//! second effect. A key used again with a different request is refused.
//!
//! The caller renders the answer (the service never sees JSON): it hands the engine an
//! [`Idempotency`] — the key, the request's [`Fingerprint`], and the renderer that turns the
//! step's output into the answer — and answers a fresh outcome with the same renderer.

use super::{Engine, EngineError, Fault};
use crate::domain::names::{IdempotencyKey, ProjectId};
use crate::domain::time::Millis;
use crate::store::{IdempotencyRecord, IdempotencyWrite};
use sha2::{Digest, Sha256};
use std::fmt;

/// Idempotency records are honoured for a day.
const TTL_SECONDS: i64 = 24 * 60 * 60;

/// What identifies a request for its key: the SHA-256 of the action's name and the `Debug`
/// form of its parsed input. Every field of the input counts, so none can be left out by
/// mistake; values are parsed (amounts normalised), so two spellings of one request agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(action: &str, input: &impl fmt::Debug) -> Self {
        Self(hex::encode(Sha256::digest(format!("{action}\n{input:?}").as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An answer as it is stored and replayed: the HTTP status and the exact body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// A request's key, its fingerprint, and how its answer is rendered from the step's output.
pub struct Idempotency<'a, T> {
    key: IdempotencyKey,
    fingerprint: Fingerprint,
    render: &'a (dyn Fn(&T) -> Answer + Sync),
}

impl<'a, T> Idempotency<'a, T> {
    pub fn new(key: IdempotencyKey, fingerprint: Fingerprint, render: &'a (dyn Fn(&T) -> Answer + Sync)) -> Self {
        Self { key, fingerprint, render }
    }

    pub fn key(&self) -> &IdempotencyKey {
        &self.key
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The record to write with the effect whose output is `value`.
    pub(super) fn record(&self, project: &ProjectId, value: &T, now: Millis) -> IdempotencyWrite {
        record_of(project, &self.key, &self.fingerprint.0, (self.render)(value), now)
    }
}

/// The record of `answer` under `key`, written with its effect at `now`.
pub(super) fn record_of(
    project: &ProjectId,
    key: &IdempotencyKey,
    fingerprint: &str,
    answer: Answer,
    now: Millis,
) -> IdempotencyWrite {
    IdempotencyWrite {
        project: project.clone(),
        key: key.clone(),
        fingerprint: fingerprint.to_owned(),
        status: answer.status,
        body: answer.body,
        now,
        expires_at: now.plus_seconds(TTL_SECONDS),
    }
}

/// Either the output of the step done now, or the stored answer to the first request with the key.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    Replayed(Answer),
}

/// What a request's key holds.
pub(super) enum Stored {
    /// The first answer to a request like this one: answer it again.
    Replay(Answer),
    /// The key was used before with a different request.
    Reused,
    /// No key, or its record expired: nothing was answered under it.
    Nothing,
}

impl Stored {
    /// The answer a request gets for what its key holds: the stored answer, or a reused key;
    /// `None` when the key holds nothing (the caller goes on).
    pub(super) fn answer<T, R>(self) -> Option<Result<Outcome<T>, EngineError<R>>> {
        match self {
            Stored::Replay(answer) => Some(Ok(Outcome::Replayed(answer))),
            Stored::Reused => Some(Err(EngineError::KeyReused)),
            Stored::Nothing => None,
        }
    }
}

impl Engine {
    /// What the request's key holds. `returned`: the record a failed "key is free" condition
    /// brought back, when DynamoDB sent it along; otherwise the record is read.
    pub(super) async fn stored<T>(
        &self,
        project: &ProjectId,
        idempotency: Option<&Idempotency<'_, T>>,
        returned: Option<IdempotencyRecord>,
    ) -> Result<Stored, Fault> {
        let Some(idempotency) = idempotency else {
            return Ok(Stored::Nothing);
        };
        let record = match returned {
            Some(record) => Some(record),
            None => self.store.idempotency_record(project, &idempotency.key, self.clock.now()).await?,
        };
        Ok(match record {
            Some(record) if record.fingerprint == idempotency.fingerprint.0 => {
                Stored::Replay(Answer { status: record.status, body: record.body })
            }
            Some(_) => Stored::Reused,
            None => Stored::Nothing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_tells_actions_and_inputs_apart() {
        let a = Fingerprint::of("execute-operation", &("INC", 5));
        assert_eq!(a, Fingerprint::of("execute-operation", &("INC", 5)));
        assert_ne!(a, Fingerprint::of("execute-operation", &("INC", 6)));
        assert_ne!(a, Fingerprint::of("create-balance", &("INC", 5)));
        assert_eq!(a.0.len(), 64);
    }
}
