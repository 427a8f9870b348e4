//! The runtime's view of one pod: its sandboxes and container instances, as the CRI reports
//! them (the kubelet's `kubecontainer.PodStatus`).
//!
//! Built from CRI messages by [`PodRuntimeStatus::from_cri`]; everything `plan` knows about
//! what runs comes from here, and everything here can be re-read from the runtime after an
//! agent restart (labels and annotations carry the hash and the restart count).

use cri_client::v1;
use jiff::Timestamp;

use crate::labels;

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

    /// Build the view from CRI replies: the pod's sandboxes (from `ListPodSandbox` with their
    /// `PodSandboxStatus`) and its containers' `ContainerStatus` replies. Entries missing
    /// required fields are skipped, as the kubelet skips what fails `verifyContainerStatus`.
    pub fn from_cri(
        uid: &str,
        sandboxes: &[v1::PodSandboxStatus],
        containers: &[v1::ContainerStatus],
    ) -> PodRuntimeStatus {
        let mut view = PodRuntimeStatus {
            uid: uid.to_string(),
            sandboxes: sandboxes.iter().filter_map(sandbox_from_cri).collect(),
            containers: containers.iter().filter_map(container_from_cri).collect(),
        };
        view.sort();
        view
    }
}

/// Nanoseconds since the epoch (CRI timestamps) to a timestamp; 0 means unset.
pub fn timestamp_from_nanos(ns: i64) -> Option<Timestamp> {
    if ns <= 0 {
        return None;
    }
    Timestamp::from_nanosecond(ns as i128).ok()
}

fn sandbox_from_cri(s: &v1::PodSandboxStatus) -> Option<SandboxStatus> {
    let metadata = s.metadata.as_ref()?;
    let state = if s.state == v1::PodSandboxState::SandboxReady as i32 {
        SandboxState::Ready
    } else {
        SandboxState::NotReady
    };
    let mut ips = Vec::new();
    if let Some(network) = &s.network {
        if !network.ip.is_empty() {
            ips.push(network.ip.clone());
        }
        ips.extend(
            network
                .additional_ips
                .iter()
                .map(|ip| ip.ip.clone())
                .filter(|ip| !ip.is_empty()),
        );
    }
    let host_network = s
        .linux
        .as_ref()
        .and_then(|l| l.namespaces.as_ref())
        .and_then(|n| n.options.as_ref())
        .is_some_and(|o| o.network == v1::NamespaceMode::Node as i32);
    Some(SandboxStatus {
        id: s.id.clone(),
        attempt: metadata.attempt,
        state,
        created_at: timestamp_from_nanos(s.created_at)?,
        ips,
        host_network,
    })
}

fn container_from_cri(c: &v1::ContainerStatus) -> Option<ContainerStatus> {
    let metadata = c.metadata.as_ref()?;
    let state = match v1::ContainerState::try_from(c.state) {
        Ok(v1::ContainerState::ContainerCreated) => ContainerState::Created,
        Ok(v1::ContainerState::ContainerRunning) => ContainerState::Running,
        Ok(v1::ContainerState::ContainerExited) => ContainerState::Exited,
        _ => ContainerState::Unknown,
    };
    Some(ContainerStatus {
        id: c.id.clone(),
        name: metadata.name.clone(),
        state,
        created_at: timestamp_from_nanos(c.created_at)?,
        started_at: timestamp_from_nanos(c.started_at),
        finished_at: timestamp_from_nanos(c.finished_at),
        exit_code: c.exit_code,
        reason: c.reason.clone(),
        message: c.message.clone(),
        image: c
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default(),
        image_ref: c.image_ref.clone(),
        hash: c
            .annotations
            .get(labels::CONTAINER_HASH)
            .and_then(|h| u64::from_str_radix(h, 16).ok()),
        restart_count: c
            .annotations
            .get(labels::CONTAINER_RESTART_COUNT)
            .and_then(|n| n.parse().ok())
            .unwrap_or(metadata.attempt),
    })
}
