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
        // A sandbox whose RunPodSandbox failed half-way (the agent was killed during it) and
        // could not be cleaned up is kept by containerd as SANDBOX_UNKNOWN with Go's zero
        // `CreatedAt`; it still holds the sandbox name of its attempt. The kubelet keeps it
        // in its view (`time.Unix(0, CreatedAt)`), so the next sandbox gets the next
        // attempt; skipping it would retry the reserved name forever (issue 19).
        created_at: timestamp_from_nanos(s.created_at).unwrap_or(jiff::Timestamp::MIN),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 19 (FT-01): containerd reports a sandbox left SANDBOX_UNKNOWN by an interrupted
    /// RunPodSandbox with Go's zero time as `createdAt` (a negative number of
    /// nanoseconds). It stays in the view, not ready, so the plan creates attempt 1
    /// instead of retrying the name attempt 0 still holds.
    #[test]
    fn ft_01_sandbox_with_zero_created_at_stays_in_the_view() {
        let sandbox = v1::PodSandboxStatus {
            id: "left-unknown".into(),
            metadata: Some(v1::PodSandboxMetadata {
                name: "p".into(),
                uid: "u".into(),
                namespace: "default".into(),
                attempt: 0,
            }),
            state: v1::PodSandboxState::SandboxNotready as i32,
            created_at: -6_795_364_578_871_345_152,
            ..Default::default()
        };
        let view = PodRuntimeStatus::from_cri("u", &[sandbox], &[]);
        let latest = view.latest_sandbox().expect("the sandbox is in the view");
        assert_eq!(latest.id, "left-unknown");
        assert_eq!(latest.state, SandboxState::NotReady);
    }
}
