//! Failpoints for crash tests of the real binaries: with the `test-hooks` feature, a request
//! reaching a point named in `POCKETBOOK_FAILPOINTS` (comma-separated) kills the process on
//! the spot, as a Lambda that runs out of memory or time would die. Release builds compile
//! this to nothing.

pub const ENV: &str = "POCKETBOOK_FAILPOINTS";

/// Just after the lock is taken, before anything is committed.
pub const AFTER_LOCK: &str = "after-lock";
/// Just after the operation's commit landed, before anyone hears about it.
pub const AFTER_COMMIT: &str = "after-commit";
/// Group commit: a waiting operation's ticket is written, nobody has taken it yet.
pub const AFTER_ENQUEUE: &str = "after-enqueue";
/// Group commit: the batch holder has the lock, before it reads the queue.
pub const BATCH_AFTER_LOCK: &str = "batch-after-lock";
/// Group commit: the batch holder has read and planned the queue, nothing committed.
pub const BATCH_AFTER_PLAN: &str = "batch-after-plan";
/// Group commit: the batch's first transaction landed and more follow.
pub const BATCH_BETWEEN_COMMITS: &str = "batch-between-commits";
/// Group commit: the batch's last transaction landed, before its holder answers.
pub const BATCH_AFTER_COMMIT: &str = "batch-after-commit";

#[cfg(feature = "test-hooks")]
pub fn hit(name: &str) {
    let armed = std::env::var(ENV).unwrap_or_default();
    if armed.split(',').any(|armed| armed.trim() == name) {
        eprintln!("failpoint {name}: exiting");
        std::process::exit(86);
    }
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn hit(_name: &str) {}
