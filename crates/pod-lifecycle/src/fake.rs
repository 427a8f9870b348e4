//! Test support over cri-client's fake runtime (feature `fake`): what it takes to run the pod
//! workers against [`FakeRuntime`] in virtual time.
//!
//! The workers read wall-clock time only through [`Clock`]; the fake runtime stamps its
//! sandboxes and containers with its own [`FakeClock`], which the test moves. A test that
//! hands the workers a [`FakeRuntimeClock`] has one source of time for both, so back-off
//! windows, grace periods and `startedAt`/`finishedAt` line up to the nanosecond.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use cri_client::fake::FakeRuntime;
//! use pod_lifecycle::fake::FakeRuntimeClock;
//! use pod_lifecycle::worker::{Clock, PodHost};
//!
//! let fake = FakeRuntime::with_busybox();
//! let clock = FakeRuntimeClock::new(&fake);
//! let before = clock.now();
//! fake.clock().advance(Duration::from_secs(90));
//! assert_eq!(clock.now().duration_since(before), jiff::SignedDuration::from_secs(90));
//!
//! let host = PodHost {
//!     clock: Arc::new(clock),
//!     ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake))
//! };
//! # let _ = host;
//! ```

use cri_client::fake::{FakeClock, FakeRuntime};
use jiff::Timestamp;

use crate::worker::Clock;

/// The worker's [`Clock`] read from a fake runtime's [`FakeClock`]: one source of time for
/// the workers and the runtime, moved only by the test.
#[derive(Debug, Clone)]
pub struct FakeRuntimeClock(FakeClock);

impl FakeRuntimeClock {
    /// The clock of `runtime` (shared: advancing the runtime advances this clock).
    pub fn new(runtime: &FakeRuntime) -> Self {
        FakeRuntimeClock(runtime.clock().clone())
    }
}

impl From<FakeClock> for FakeRuntimeClock {
    fn from(clock: FakeClock) -> Self {
        FakeRuntimeClock(clock)
    }
}

impl Clock for FakeRuntimeClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(self.0.now())).expect("fake clock in range")
    }
}
