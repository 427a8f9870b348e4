//! One way to run and stop the node's loops: every task is spawned on one
//! [`TaskTracker`] and told to stop by one [`CancellationToken`]; [`Supervisor::stop`]
//! cancels the token and waits until every task has returned.
//!
//! A loop either takes the token and returns when it is cancelled
//! ([`Supervisor::spawn`]), or knows nothing of it and is dropped at cancellation
//! ([`Supervisor::spawn_until_stopped`]): either way no task outlives `stop`.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use agent::supervisor::Supervisor;
//!
//! let tasks = Supervisor::new();
//! tasks.spawn(|stop| async move { stop.cancelled().await });
//! tasks.spawn_until_stopped(std::future::pending::<()>());
//! assert_eq!(tasks.len(), 2);
//! tasks.stop().await;
//! assert_eq!(tasks.len(), 0);
//! # });
//! ```

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The node's tasks and the token that stops them.
#[derive(Debug, Clone, Default)]
pub struct Supervisor {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Supervisor {
    /// No tasks yet.
    pub fn new() -> Self {
        Supervisor::default()
    }

    /// Spawn `task(stop)`: a loop that returns once `stop` is cancelled.
    pub fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task(self.stop.clone()));
    }

    /// Spawn a future that knows nothing of stopping; it is dropped when the supervisor
    /// stops.
    pub fn spawn_until_stopped(&self, task: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = task => {}
            }
        });
    }

    /// How many tasks have not returned yet.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether every task has returned.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// The token the tasks watch (cancel it to stop them without waiting).
    pub fn token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Cancel every task and wait until each has returned.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
