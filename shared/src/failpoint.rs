//! Failpoints for crash tests of the real binaries: with the `test-hooks` feature, a request
//! reaching a point named in `POCKETBOOK_FAILPOINTS` (comma-separated) kills the process on
//! the spot, as a Lambda that runs out of memory or time would die. Release builds compile
//! this to nothing.

pub const ENV: &str = "POCKETBOOK_FAILPOINTS";

/// Just after the lock is taken, before anything is committed.
pub const AFTER_LOCK: &str = "after-lock";
/// Just after the operation's commit landed, before anyone hears about it.
pub const AFTER_COMMIT: &str = "after-commit";

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
