//! `cgroup-enforcer` used alone, with no cgroup touched: the kubelet's resource formulas for a
//! few pods, printed as a table. For each pod: its QoS class, what its pod cgroup gets
//! (`cpu.shares`, the CFS quota, the cgroup v2 `cpu.weight` of those shares, the memory
//! limit) and the `oom_score_adj` of its container on a node with 8 GiB of memory.
//!
//! ```sh
//! cargo run --example cgroup_formulas
//! ```

use std::collections::BTreeMap;

use cgroup_enforcer::formulas::{cpu_shares_to_weight_linear, cpu_shares_to_weight_quadratic};
use cgroup_enforcer::oom::{
    SYSTEM_CRITICAL_PRIORITY, SYSTEM_NODE_CRITICAL, container_oom_score_adj,
};
use cgroup_enforcer::resources::pod_resource_config;
use cgroup_enforcer::{ResourceOptions, compute_pod_qos};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

const GI: i64 = 1 << 30;

/// A one-container pod with these requests and limits (`("cpu", "250m")`).
fn pod(name: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Pod {
    let list = |items: &[(&str, &str)]| -> Option<BTreeMap<String, Quantity>> {
        (!items.is_empty()).then(|| {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect()
        })
    };
    let mut pod = Pod {
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                resources: Some(ResourceRequirements {
                    requests: list(requests),
                    limits: list(limits),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    pod.metadata.name = Some(name.into());
    pod
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A BestEffort pod of priority class system-node-critical is still never OOM-killed first.
    let mut node_critical = pod("node-critical", &[], &[]);
    if let Some(spec) = node_critical.spec.as_mut() {
        spec.priority_class_name = Some(SYSTEM_NODE_CRITICAL.into());
        spec.priority = Some(SYSTEM_CRITICAL_PRIORITY + 1000);
    }
    let pods = [
        pod("no-resources", &[], &[]),
        pod(
            "small-request",
            &[("cpu", "100m"), ("memory", "128Mi")],
            &[],
        ),
        pod(
            "request-and-limit",
            &[("cpu", "250m"), ("memory", "2Gi")],
            &[("cpu", "1"), ("memory", "4Gi")],
        ),
        pod("limits-only", &[], &[("cpu", "500m"), ("memory", "64Mi")]),
        pod(
            "two-cpus",
            &[("cpu", "2"), ("memory", "1Gi")],
            &[("cpu", "2"), ("memory", "1Gi")],
        ),
        node_critical,
    ];
    let opts = ResourceOptions {
        memory_capacity: 8 * GI,
        ..ResourceOptions::default()
    };

    println!(
        "{:<18} {:<10} {:>10} {:>10} {:>9} {:>9} {:>12} {:>8}",
        "pod",
        "qos",
        "cpu.shares",
        "cfs_quota",
        "weight v2",
        "weight rc",
        "memory.limit",
        "oom_adj"
    );
    for pod in &pods {
        let config = pod_resource_config(pod, &opts)?;
        let shares = config.cpu_shares.unwrap_or_default();
        let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        let container = &pod.spec.as_ref().ok_or("pod without spec")?.containers[0];
        println!(
            "{:<18} {:<10} {:>10} {:>10} {:>9} {:>9} {:>12} {:>8}",
            pod.metadata.name.as_deref().unwrap_or("-"),
            compute_pod_qos(pod).to_string(),
            shares,
            show(config.cpu_quota),
            cpu_shares_to_weight_linear(shares),
            cpu_shares_to_weight_quadratic(shares),
            show(config.memory_limit),
            container_oom_score_adj(pod, container, opts.memory_capacity),
        );
    }
    println!();
    println!(
        "cfs_quota in µs per {} µs period; '-' leaves the kernel's value.",
        opts.cpu_cfs_quota_period
    );
    println!(
        "weight v2: the kubelet's linear cpu.weight for pod cgroups; weight rc: runc >= 1.3.2's."
    );
    Ok(())
}
