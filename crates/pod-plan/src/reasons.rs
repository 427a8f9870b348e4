//! Why a container is waiting: the kubelet's `reasonCache`.

use std::collections::BTreeMap;

/// A waiting reason and message for a container that could not be started on the last sync
/// (`CrashLoopBackOff`, `ErrImagePull`, `ImagePullBackOff`, `ErrImageNeverPull`,
/// `CreateContainerConfigError`, `CreateContainerError`, `RunContainerError`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingReason {
    /// The reason, as shown in `state.waiting.reason`.
    pub reason: String,
    /// The message, as shown in `state.waiting.message`.
    pub message: String,
}

impl WaitingReason {
    /// A reason with its message.
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        WaitingReason {
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The last start failure of each container of one pod, keyed by container name. The pod
/// worker records what went wrong; status generation shows it while the container waits.
/// A successful start clears the entry, as in the kubelet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCache {
    reasons: BTreeMap<String, WaitingReason>,
}

impl ReasonCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record why `container` did not start.
    pub fn set(&mut self, container: &str, reason: WaitingReason) {
        self.reasons.insert(container.to_string(), reason);
    }

    /// Forget the reason of `container` (it started).
    pub fn clear(&mut self, container: &str) {
        self.reasons.remove(container);
    }

    /// The reason `container` is waiting, if a start failed.
    pub fn get(&self, container: &str) -> Option<&WaitingReason> {
        self.reasons.get(container)
    }
}
