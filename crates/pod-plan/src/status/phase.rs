//! The pod phase: the kubelet's `getPhase` (`pkg/kubelet/kubelet_pods.go`).

use k8s_openapi::api::core::v1::{Container, ContainerStatus as ApiContainerStatus, Pod};

use super::api::{
    find_status, is_running, is_sidecar, is_waiting, last_terminated, restart_policy, terminated,
};

pub use crate::labels::CONFIG_SOURCE_ANNOTATION;
use crate::labels::{API_SOURCE, CONFIG_MIRROR_ANNOTATION};

/// A pod phase, as written in `status.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PodPhase {
    /// Accepted, but not every container has been started.
    Pending,
    /// Every container has been started and at least one runs (or restarts).
    Running,
    /// Every container ended successfully and none will restart.
    Succeeded,
    /// Every container ended and at least one failed, and none will restart.
    Failed,
    /// The control plane lost contact with the node. The kubelet never sets it; it exists
    /// here only so that a phase read from the API can be represented.
    Unknown,
}

impl PodPhase {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
            PodPhase::Unknown => "Unknown",
        }
    }

    /// Parse the API spelling; anything else (including the empty string) is `None`.
    pub fn parse(phase: &str) -> Option<PodPhase> {
        match phase {
            "Pending" => Some(PodPhase::Pending),
            "Running" => Some(PodPhase::Running),
            "Succeeded" => Some(PodPhase::Succeeded),
            "Failed" => Some(PodPhase::Failed),
            "Unknown" => Some(PodPhase::Unknown),
            _ => None,
        }
    }

    /// Succeeded or Failed: phases a pod never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, PodPhase::Succeeded | PodPhase::Failed)
    }
}

impl std::fmt::Display for PodPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the pod is a static pod: its `kubernetes.io/config.source` annotation names a
/// source other than the API server (`file` or `http`), as the kubelet's `IsStaticPod`.
pub fn is_static_pod(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CONFIG_SOURCE_ANNOTATION))
        .is_some_and(|source| source != API_SOURCE)
}

/// Whether the pod is a mirror pod: it carries the [`CONFIG_MIRROR_ANNOTATION`], as the
/// kubelet's `IsMirrorPod`.
pub fn is_mirror_pod(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CONFIG_MIRROR_ANNOTATION))
}

/// Whether any regular container has a running or terminated state, which proves the init
/// containers completed once (the kubelet's `HasAnyRegularContainerStarted`).
pub fn any_regular_container_started(pod: &Pod, statuses: &[ApiContainerStatus]) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    spec.containers.iter().any(|c| {
        find_status(statuses, &c.name).is_some_and(|s| is_running(s) || terminated(s).is_some())
    })
}

/// The phase of a pod given its API container statuses, by the kubelet's `getPhase` rules.
///
/// Counting:
/// - non-restartable init containers: no status, running, or waiting without a previous
///   termination → pending; terminated with exit ≠ 0, or waiting after an exit ≠ 0 → failed;
///   exit 0 → done;
/// - sidecars (init containers with `restartPolicy: Always`): running → running (and pending
///   while not `started`); waiting without a previous termination → pending and waiting;
///   terminated, or waiting after a termination → not counted; no status → unknown;
/// - regular containers: running → running; terminated → stopped (succeeded if exit 0);
///   waiting after a termination → stopped; waiting otherwise → waiting; no status → unknown.
///
/// Decision, first match wins: failed init under `Never` → Failed; pending init and no
/// regular container started yet → Pending; any waiting → Pending; running and nothing
/// unknown → Running; all stopped and nothing unknown → (a terminal, non-static pod:
/// Succeeded if all succeeded else Failed) / `Always` → Running / all succeeded →
/// Succeeded / `Never` → Failed / `OnFailure` → Running; otherwise Pending. `Unknown` is
/// never returned.
///
/// `pod_is_terminal` says the pod is being deleted or killed for good, so its containers
/// will not be restarted whatever the restart policy (PH-06); static pods are exempt
/// (PH-07), as in the kubelet.
pub fn pod_phase(
    pod: &Pod,
    container_statuses: &[ApiContainerStatus],
    init_container_statuses: &[ApiContainerStatus],
    pod_is_terminal: bool,
) -> PodPhase {
    let Some(spec) = pod.spec.as_ref() else {
        return PodPhase::Pending;
    };
    let init_containers: &[Container] = spec.init_containers.as_deref().unwrap_or_default();

    let mut pending_init = 0;
    let mut failed_init = 0;
    let mut unknown = 0;
    let mut running = 0;
    let mut waiting = 0;
    let mut stopped = 0;
    let mut succeeded = 0;

    for container in init_containers.iter().filter(|c| !is_sidecar(c)) {
        let Some(status) = find_status(init_container_statuses, &container.name) else {
            pending_init += 1;
            continue;
        };
        if is_running(status) {
            pending_init += 1;
        } else if let Some(t) = terminated(status) {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if is_waiting(status) {
            match last_terminated(status) {
                Some(t) if t.exit_code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            }
        } else {
            pending_init += 1;
        }
    }

    for container in init_containers.iter().filter(|c| is_sidecar(c)) {
        let Some(status) = find_status(init_container_statuses, &container.name) else {
            unknown += 1;
            continue;
        };
        if is_running(status) {
            if status.started != Some(true) {
                pending_init += 1;
            }
            running += 1;
        } else if terminated(status).is_some() {
            // A stopped sidecar does not count towards the phase.
        } else if is_waiting(status) {
            if last_terminated(status).is_none() {
                pending_init += 1;
                waiting += 1;
            }
        } else {
            pending_init += 1;
            unknown += 1;
        }
    }

    for container in &spec.containers {
        let Some(status) = find_status(container_statuses, &container.name) else {
            unknown += 1;
            continue;
        };
        if is_running(status) {
            running += 1;
        } else if let Some(t) = terminated(status) {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if is_waiting(status) {
            if last_terminated(status).is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }

    let policy = restart_policy(pod);
    if failed_init > 0 && policy == "Never" {
        return PodPhase::Failed;
    }
    if (pending_init > 0 && !any_regular_container_started(pod, container_statuses)) || waiting > 0
    {
        return PodPhase::Pending;
    }
    if running > 0 && unknown == 0 {
        return PodPhase::Running;
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if pod_is_terminal && !is_static_pod(pod) {
            return if stopped == succeeded {
                PodPhase::Succeeded
            } else {
                PodPhase::Failed
            };
        }
        if policy == "Always" {
            return PodPhase::Running;
        }
        if stopped == succeeded {
            return PodPhase::Succeeded;
        }
        if policy == "Never" {
            return PodPhase::Failed;
        }
        return PodPhase::Running;
    }
    PodPhase::Pending
}
