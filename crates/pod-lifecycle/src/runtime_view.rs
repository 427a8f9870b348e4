//! From CRI replies to the plan's runtime view ([`PodRuntimeStatus`]).
//!
//! `pod-plan` knows nothing of the CRI; this is where its view of a pod is built from
//! `ListPodSandbox`/`PodSandboxStatus` and `ContainerStatus` replies.

use cri_client::v1;
use pod_plan::labels;
use pod_plan::{
    ContainerState, ContainerStatus, PodRuntimeStatus, SandboxState, SandboxStatus,
    timestamp_from_nanos,
};

/// Building the plan's runtime view from CRI messages.
pub trait FromCri {
    /// Build the view from CRI replies: the pod's sandboxes (from `ListPodSandbox` with their
    /// `PodSandboxStatus`) and its containers' `ContainerStatus` replies. Entries missing
    /// required fields are skipped, as the kubelet skips what fails `verifyContainerStatus`.
    fn from_cri(
        uid: &str,
        sandboxes: &[v1::PodSandboxStatus],
        containers: &[v1::ContainerStatus],
    ) -> PodRuntimeStatus;
}

impl FromCri for PodRuntimeStatus {
    fn from_cri(
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
