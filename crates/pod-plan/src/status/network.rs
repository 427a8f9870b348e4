//! `status.podIP(s)`: from the runtime's newest sandbox, or the node's IPs for host-network
//! pods.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;

use crate::{PodRuntimeStatus, SandboxState};

/// The pod's IPs, primary first, as the kubelet reports them:
/// - from the newest sandbox, and only while it is READY (a stopped sandbox has no IPs);
/// - ordered by the node's IP family preference (`sortPodIPs`): the first IP of the family of
///   `host_ips[0]` (IPv4 when the node IP is unknown), then the first IP of the other family;
///   unparsable IPs are dropped, the rest are re-formatted canonically;
/// - a host-network pod without sandbox IPs gets the node's primary IP, and on a dual-stack
///   node also the secondary one when it is of the other family (PH-23).
pub fn pod_ips(pod: &Pod, runtime: &PodRuntimeStatus, host_ips: &[String]) -> Vec<String> {
    let node_primary_v6 = host_ips
        .first()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_ipv6());
    let sandbox_ips: &[String] = super::newest_sandbox(runtime)
        .filter(|s| s.state == SandboxState::Ready)
        .map_or(&[], |s| s.ips.as_slice());
    let parsed: Vec<IpAddr> = sandbox_ips
        .iter()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let mut ips: Vec<String> = [node_primary_v6, !node_primary_v6]
        .into_iter()
        .filter_map(|v6| parsed.iter().find(|ip| ip.is_ipv6() == v6))
        .map(IpAddr::to_string)
        .collect();

    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    if host_network && !host_ips.is_empty() {
        if ips.is_empty() {
            ips.push(host_ips[0].clone());
        }
        if host_ips.len() == 2 && ips.len() == 1 && family(&ips[0]) != family(&host_ips[1]) {
            ips.push(host_ips[1].clone());
        }
    }
    ips
}

/// [`pod_ips`], except that a pod whose sandboxes have all stopped keeps the IPs it reported
/// before (`previous`), as the kubelet's PLEG keeps them in its cache (`getPodIPs` in
/// `pkg/kubelet/pleg/generic.go`: "the kubernetes API expects the completed pod's IP to be
/// available after the pod is dead"). A pod with no sandbox left at all has none.
pub fn pod_ips_keeping_stopped(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
    host_ips: &[String],
    previous: &[String],
) -> Vec<String> {
    let ips = pod_ips(pod, runtime, host_ips);
    let all_stopped = !runtime.sandboxes.is_empty()
        && runtime
            .sandboxes
            .iter()
            .all(|s| s.state != SandboxState::Ready);
    if ips.is_empty() && all_stopped {
        return previous.to_vec();
    }
    ips
}

fn family(ip: &str) -> Option<bool> {
    ip.parse::<IpAddr>().ok().map(|ip| ip.is_ipv6())
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use k8s_openapi::api::core::v1::PodSpec;

    use super::*;
    use crate::SandboxStatus;

    fn runtime(states: &[(SandboxState, &[&str])]) -> PodRuntimeStatus {
        let mut view = PodRuntimeStatus {
            uid: "uid-1".into(),
            sandboxes: states
                .iter()
                .enumerate()
                .map(|(i, (state, ips))| SandboxStatus {
                    id: format!("sb-{i}"),
                    attempt: i as u32,
                    state: *state,
                    created_at: Timestamp::from_second(i as i64 + 1).unwrap(),
                    ips: ips.iter().map(|s| s.to_string()).collect(),
                    host_network: false,
                })
                .collect(),
            containers: vec![],
        };
        view.sort();
        view
    }

    /// A completed pod keeps the IP it had once its sandbox stopped, as the kubelet's PLEG
    /// keeps it (seen in the differential suite: the kubelet's Succeeded and Failed pods still
    /// report `podIP`); a pod being given a new sandbox, or with none left, does not.
    #[test]
    fn stopped_sandboxes_keep_the_previous_ips() {
        let pod = Pod {
            spec: Some(PodSpec::default()),
            ..Default::default()
        };
        let previous = ["10.1.0.7".to_string()];
        let ips = |states: &[(SandboxState, &[&str])]| {
            pod_ips_keeping_stopped(&pod, &runtime(states), &[], &previous)
        };
        assert_eq!(ips(&[(SandboxState::NotReady, &[])]), previous);
        assert_eq!(ips(&[]), Vec::<String>::new(), "no sandbox at all");
        assert_eq!(
            ips(&[
                (SandboxState::NotReady, &[]),
                (SandboxState::Ready, &["10.1.0.9"])
            ]),
            ["10.1.0.9"],
            "a ready sandbox's IPs win"
        );
        assert_eq!(
            ips(&[(SandboxState::NotReady, &[]), (SandboxState::Ready, &[])]),
            Vec::<String>::new(),
            "a ready sandbox without IPs keeps nothing"
        );
    }
}
