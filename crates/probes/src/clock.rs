//! Wall-clock time that follows tokio's clock, so workers run in paused time in tests.

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

/// The current wall-clock time as the probe workers see it: a wall-clock reading taken
/// once, moved forward by tokio's monotonic clock.
///
/// The workers compare it with a container's `startedAt` for `initialDelaySeconds`. Reading
/// it through tokio means that with `tokio::time::pause` a test moves container ages and
/// probe periods together, and in production it is the system clock without its jumps.
#[derive(Debug, Clone, Copy)]
pub struct ProbeClock {
    wall: Timestamp,
    instant: Instant,
}

impl Default for ProbeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ProbeClock {
    /// The system's wall clock, now.
    pub fn new() -> Self {
        Self::starting_at(Timestamp::now())
    }

    /// A clock reading `wall` now.
    pub fn starting_at(wall: Timestamp) -> Self {
        ProbeClock {
            wall,
            instant: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        let elapsed =
            SignedDuration::try_from(self.instant.elapsed()).unwrap_or(SignedDuration::MAX);
        self.wall.saturating_add(elapsed).unwrap_or(self.wall)
    }
}
