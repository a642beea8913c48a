//! The injected clock. Everything that needs "now" asks a `Clock`, so tests can move time.

use crate::domain::time::Millis;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        Millis::from_datetime(chrono::Utc::now())
    }
}

/// A clock that only moves when told to.
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(at: Millis) -> Self {
        Self(Arc::new(AtomicI64::new(at.epoch_ms())))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis::from_epoch_ms(self.0.load(Ordering::SeqCst))
    }
}
