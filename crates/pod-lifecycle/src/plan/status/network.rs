//! `status.podIP(s)`: from the runtime's newest sandbox, or the node's IPs for host-network
//! pods.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;

use crate::plan::{PodRuntimeStatus, SandboxState};

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

fn family(ip: &str) -> Option<bool> {
    ip.parse::<IpAddr>().ok().map(|ip| ip.is_ipv6())
}
