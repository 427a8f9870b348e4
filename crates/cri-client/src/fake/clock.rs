//! [`FakeClock`]: the time the fake runtime lives in, moved only by the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The instant a [`FakeClock`] starts at: 2026-01-01T00:00:00Z, in nanoseconds since the Unix
/// epoch. Fixed, so that timestamps in test failures read the same on every run.
pub const FAKE_EPOCH_NANOS: i64 = 1_767_225_600_000_000_000;

/// A clock the test controls, shared by every clone.
///
/// The CRI reports time as nanoseconds since the Unix epoch (`created_at`, `started_at`,
/// `finished_at`); [`FakeClock::now`] returns exactly that. It never moves by itself: a
/// container running `sleep 30` in a [`FakeRuntime`](super::FakeRuntime) exits once the test
/// has advanced the clock by 30 seconds, and not before, however long the test takes.
#[derive(Debug, Clone)]
pub struct FakeClock {
    nanos: Arc<AtomicI64>,
}

impl FakeClock {
    /// A clock standing at [`FAKE_EPOCH_NANOS`].
    pub fn new() -> Self {
        Self::starting_at(FAKE_EPOCH_NANOS)
    }

    /// A clock standing at `nanos` since the Unix epoch.
    pub fn starting_at(nanos: i64) -> Self {
        FakeClock {
            nanos: Arc::new(AtomicI64::new(nanos)),
        }
    }

    /// The current time, in nanoseconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.nanos.load(Ordering::SeqCst)
    }

    /// Move the clock forward by `by`. Every clone sees the new time.
    ///
    /// Prefer [`FakeRuntime::advance`](super::FakeRuntime::advance) when container events are
    /// enabled: it also delivers the exits that became due.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_time_and_advance_moves_it() {
        let clock = FakeClock::new();
        let other = clock.clone();
        assert_eq!(clock.now(), FAKE_EPOCH_NANOS);
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), FAKE_EPOCH_NANOS + 1_500_000_000);
    }
}
