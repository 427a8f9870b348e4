//! The runtime's view of one pod: its sandboxes and container instances, as the CRI reports
//! them (the kubelet's `kubecontainer.PodStatus`).
//!
//! Built by the crate that speaks to the runtime (pod-lifecycle converts CRI replies with
//! its `FromCri` trait); everything `plan` knows about
//! what runs comes from here, and everything here can be re-read from the runtime after an
//! agent restart (labels and annotations carry the hash and the restart count).

use jiff::Timestamp;

/// State of a pod sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxState {
    /// The sandbox runs and its network is set up.
    Ready,
    /// The sandbox was stopped or its pause process died.
    NotReady,
}

/// One sandbox of a pod, as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxStatus {
    /// Runtime id of the sandbox.
    pub id: String,
    /// `metadata.attempt`: 0 for the first sandbox, +1 for each re-creation.
    pub attempt: u32,
    /// READY or NOTREADY.
    pub state: SandboxState,
    /// When the runtime created it.
    pub created_at: Timestamp,
    /// Pod IPs reported by the sandbox network (first = primary); empty for host network or
    /// before the network is set up.
    pub ips: Vec<String>,
    /// Whether the sandbox runs in the node's network namespace.
    pub host_network: bool,
}

/// State of a container instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited (see exit code and reason).
    Exited,
    /// The runtime does not know.
    Unknown,
}

/// One container instance (one restart of one container of the pod).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStatus {
    /// Runtime id.
    pub id: String,
    /// Container name in the pod spec.
    pub name: String,
    /// State.
    pub state: ContainerState,
    /// When created.
    pub created_at: Timestamp,
    /// When started, if it was.
    pub started_at: Option<Timestamp>,
    /// When it exited, if it did.
    pub finished_at: Option<Timestamp>,
    /// Exit code (meaningful when exited).
    pub exit_code: i32,
    /// Runtime reason for the exit: `Completed`, `Error`, `OOMKilled`, ...
    pub reason: String,
    /// Runtime message (the termination message, when the runtime read it).
    pub message: String,
    /// The image as requested in the spec.
    pub image: String,
    /// The image reference the runtime resolved (`imageID` in the API status).
    pub image_ref: String,
    /// The spec hash recorded in the `io.kubernetes.container.hash` annotation.
    pub hash: Option<u64>,
    /// The restart count recorded in the `io.kubernetes.container.restartCount` annotation.
    pub restart_count: u32,
}

/// Everything the runtime reports about one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodRuntimeStatus {
    /// Pod UID.
    pub uid: String,
    /// Sandboxes, newest first.
    pub sandboxes: Vec<SandboxStatus>,
    /// Container instances, newest first.
    pub containers: Vec<ContainerStatus>,
}

impl PodRuntimeStatus {
    /// The newest sandbox, if any.
    pub fn latest_sandbox(&self) -> Option<&SandboxStatus> {
        self.sandboxes.first()
    }

    /// Instances of container `name`, newest first.
    pub fn instances<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a ContainerStatus> + 'a {
        self.containers.iter().filter(move |c| c.name == name)
    }

    /// The newest instance of container `name`.
    pub fn latest<'a>(&'a self, name: &'a str) -> Option<&'a ContainerStatus> {
        self.instances(name).next()
    }

    /// Put sandboxes and containers in the canonical order (newest first, ties broken by id),
    /// so that nothing computed from this view depends on the order the runtime listed them.
    pub fn sort(&mut self) {
        self.sandboxes.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.attempt.cmp(&a.attempt))
                .then_with(|| a.id.cmp(&b.id))
        });
        self.containers.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.restart_count.cmp(&a.restart_count))
                .then_with(|| a.id.cmp(&b.id))
        });
    }
}

/// Nanoseconds since the epoch (CRI timestamps) to a timestamp; 0 means unset.
pub fn timestamp_from_nanos(ns: i64) -> Option<Timestamp> {
    if ns <= 0 {
        return None;
    }
    Timestamp::from_nanosecond(ns as i128).ok()
}
