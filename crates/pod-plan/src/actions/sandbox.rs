//! Whether the pod needs a new sandbox (the kubelet's `PodSandboxChanged`,
//! `pkg/kubelet/kuberuntime/util/util.go`).

use k8s_openapi::api::core::v1::Pod;

use crate::{PodRuntimeStatus, SandboxState};

/// The outcome of [`pod_sandbox_changed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SandboxCheck {
    /// A new sandbox is needed.
    pub changed: bool,
    /// The attempt number of the sandbox to create (or of the current one).
    pub attempt: u32,
    /// The current sandbox, when containers can still be started in it or it is the one
    /// being replaced.
    pub sandbox_id: Option<String>,
}

/// The kubelet's `PodSandboxChanged`, rule by rule (LC-01..LC-05):
///
/// - no sandbox: create one, attempt 0;
/// - more than one READY sandbox: re-create (newest attempt + 1);
/// - the newest sandbox is not READY: re-create;
/// - the pod's `hostNetwork` differs from the sandbox's network namespace: re-create, with no
///   sandbox id (the kubelet passes none in that case);
/// - a pod-network sandbox without an IP: re-create.
///
/// The kubelet checks the IP only when the runtime reported a network status at all;
/// [`PodRuntimeStatus`] does not keep that distinction, so a pod-network sandbox with no IP is
/// always treated as changed (containerd always reports one).
pub(super) fn pod_sandbox_changed(pod: &Pod, runtime: &PodRuntimeStatus) -> SandboxCheck {
    let Some(latest) = runtime.latest_sandbox() else {
        return SandboxCheck {
            changed: true,
            attempt: 0,
            sandbox_id: None,
        };
    };
    let next_attempt = latest.attempt.saturating_add(1);
    let recreate = |sandbox_id: Option<String>| SandboxCheck {
        changed: true,
        attempt: next_attempt,
        sandbox_id,
    };
    let ready = runtime
        .sandboxes
        .iter()
        .filter(|s| s.state == SandboxState::Ready)
        .count();
    if ready > 1 || latest.state != SandboxState::Ready {
        return recreate(Some(latest.id.clone()));
    }
    let host_network = is_host_network(pod);
    if latest.host_network != host_network {
        return recreate(None);
    }
    if !host_network && latest.ips.is_empty() {
        return recreate(Some(latest.id.clone()));
    }
    SandboxCheck {
        changed: false,
        attempt: latest.attempt,
        sandbox_id: Some(latest.id.clone()),
    }
}

fn is_host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxStatus;
    use jiff::Timestamp;
    use k8s_openapi::api::core::v1::PodSpec;

    fn sandbox(id: &str, attempt: u32, state: SandboxState, created: i64) -> SandboxStatus {
        SandboxStatus {
            id: id.into(),
            attempt,
            state,
            created_at: Timestamp::from_second(1_700_000_000 + created).unwrap(),
            ips: vec!["10.88.0.2".into()],
            host_network: false,
        }
    }

    fn check(pod: &Pod, sandboxes: Vec<SandboxStatus>) -> SandboxCheck {
        let mut runtime = PodRuntimeStatus {
            sandboxes,
            ..Default::default()
        };
        runtime.sort();
        pod_sandbox_changed(pod, &runtime)
    }

    #[test]
    fn sandbox_rules() {
        let pod = Pod::default();
        let unchanged = |attempt: u32, id: &str| SandboxCheck {
            changed: false,
            attempt,
            sandbox_id: Some(id.into()),
        };
        let recreate = |attempt: u32, id: Option<&str>| SandboxCheck {
            changed: true,
            attempt,
            sandbox_id: id.map(str::to_string),
        };
        assert_eq!(check(&pod, vec![]), recreate(0, None));
        let ready = sandbox("a", 3, SandboxState::Ready, 10);
        assert_eq!(check(&pod, vec![ready.clone()]), unchanged(3, "a"));
        // An older NOTREADY sandbox next to the newest READY one is fine.
        let old = sandbox("b", 2, SandboxState::NotReady, 5);
        assert_eq!(check(&pod, vec![old, ready.clone()]), unchanged(3, "a"));
        // The newest is NOTREADY even though an older one is READY.
        let newer = sandbox("c", 4, SandboxState::NotReady, 20);
        assert_eq!(
            check(&pod, vec![ready.clone(), newer]),
            recreate(5, Some("c"))
        );
        let two = sandbox("d", 4, SandboxState::Ready, 20);
        assert_eq!(
            check(&pod, vec![ready.clone(), two]),
            recreate(5, Some("d"))
        );
        let mut no_ip = ready.clone();
        no_ip.ips.clear();
        assert_eq!(check(&pod, vec![no_ip.clone()]), recreate(4, Some("a")));

        let host = Pod {
            spec: Some(PodSpec {
                host_network: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(check(&host, vec![ready]), recreate(4, None));
        no_ip.host_network = true;
        assert_eq!(check(&host, vec![no_ip]), unchanged(3, "a"));
    }
}
