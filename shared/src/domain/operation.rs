//! An INC/DEC request, validated.

use super::money::Amount;
use super::names::Subject;

/// Lifetime of an expiring credit: 1 second to 10 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlSeconds(u32);

impl TtlSeconds {
    pub const MAX: u32 = 315_360_000;

    pub fn new(seconds: u64) -> Option<Self> {
        (1..=u64::from(Self::MAX)).contains(&seconds).then_some(Self(seconds as u32))
    }

    pub fn seconds(self) -> i64 {
        i64::from(self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A credit; with a TTL it expires, otherwise it stays.
    Inc {
        amount: Amount,
        ttl: Option<TtlSeconds>,
    },
    Dec {
        amount: Amount,
    },
}

impl Operation {
    /// A credit that never expires.
    pub fn inc(amount: Amount) -> Self {
        Operation::Inc { amount, ttl: None }
    }

    pub fn dec(amount: Amount) -> Self {
        Operation::Dec { amount }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRequest {
    pub operation: Operation,
    pub subject: Option<Subject>,
    /// When given, the operation only applies if the balance still has this token.
    pub update_token: Option<String>,
    /// The entry's `session`: the idempotency key, or a fresh UUID.
    pub session: String,
}

/// Why an operation was refused. Nothing was written for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the balance changed since the given updateToken was issued")]
    StaleUpdateToken,
    #[error("the operation would take the balance below its minimum limit")]
    InsufficientFunds,
    #[error("the operation would take the balance to 10^15 or beyond")]
    AmountOutOfRange,
    /// A locked pocket holds less than the step releases from it: the movement it releases was
    /// resolved meanwhile, by a request whose commit released it first.
    #[error("the movement was resolved meanwhile")]
    LockedShort,
}

impl Rejection {
    const ALL: [Rejection; 4] = [
        Rejection::StaleUpdateToken,
        Rejection::InsufficientFunds,
        Rejection::AmountOutOfRange,
        Rejection::LockedShort,
    ];

    /// How a refusal is stored (a group commit's answer to a waiting operation).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::StaleUpdateToken => "STALE_UPDATE_TOKEN",
            Rejection::InsufficientFunds => "INSUFFICIENT_FUNDS",
            Rejection::AmountOutOfRange => "AMOUNT_OUT_OF_RANGE",
            Rejection::LockedShort => "LOCKED_SHORT",
        }
    }

    pub fn from_code(code: &str) -> Option<Rejection> {
        Rejection::ALL.into_iter().find(|rejection| rejection.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_code_reads_back() {
        for rejection in Rejection::ALL {
            assert_eq!(Rejection::from_code(rejection.code()), Some(rejection.clone()));
        }
        assert_eq!(Rejection::from_code("NOPE"), None);
    }
}
