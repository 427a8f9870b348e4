//! The kubelet's formulas as tables (reference §5.3, §5.4, §5.6; checklist QS-05, QS-06,
//! QS-07, QS-16, QS-17, QS-20) and quantity parsing.

mod common;

use cgroup_enforcer::formulas::{
    CpuWeightConversion, DEFAULT_MEMORY_THROTTLING_FACTOR, QUOTA_PERIOD,
    cpu_shares_to_weight_linear, cpu_shares_to_weight_quadratic, cpu_weight_to_shares_linear,
    memory_high, milli_cpu_to_quota, milli_cpu_to_shares,
};
use cgroup_enforcer::oom::{
    GUARANTEED_OOM_SCORE_ADJ, KUBELET_OOM_SCORE_ADJ, POD_INFRA_OOM_SCORE_ADJ,
    burstable_oom_score_adj, container_oom_score_adj,
};
use cgroup_enforcer::resources::{ResourceOptions, container_resources};
use cgroup_enforcer::{QuantityError, QuantityValue};
use common::*;

#[test]
fn qs_05_milli_cpu_to_shares() {
    for (milli, shares) in [
        (0, 2),
        (1, 2),
        (100, 102),
        (500, 512),
        (1000, 1024),
        (2000, 2048),
        (300_000, 262_144),
    ] {
        assert_eq!(milli_cpu_to_shares(milli), shares, "{milli}m");
    }
}

#[test]
fn qs_06_milli_cpu_to_quota() {
    for (milli, quota) in [(0, 0), (1, 1000), (250, 25_000), (1500, 150_000)] {
        assert_eq!(milli_cpu_to_quota(milli, QUOTA_PERIOD), quota, "{milli}m");
    }
}

#[test]
fn qs_07_shares_to_cpu_weight() {
    for (shares, weight) in [(2, 1), (102, 4), (1024, 39), (262_144, 10_000)] {
        assert_eq!(
            cpu_shares_to_weight_linear(shares),
            weight,
            "linear {shares}"
        );
        assert_eq!(CpuWeightConversion::Linear.weight(shares), weight);
    }
    for (shares, weight) in [
        (1024, 100),
        (2048, 174),
        (102, 17),
        (2, 1),
        (262_144, 10_000),
    ] {
        assert_eq!(
            cpu_shares_to_weight_quadratic(shares),
            weight,
            "quadratic {shares}"
        );
        assert_eq!(CpuWeightConversion::Quadratic.weight(shares), weight);
    }
    // The reference table's remaining rows (milliCPU → shares → weights).
    for (milli, linear, quadratic) in [(10, 1, 4), (250, 10, 35), (500, 20, 59), (4000, 157, 303)] {
        let shares = milli_cpu_to_shares(milli);
        assert_eq!(cpu_shares_to_weight_linear(shares), linear, "{milli}m");
        assert_eq!(
            cpu_shares_to_weight_quadratic(shares),
            quadratic,
            "{milli}m"
        );
    }
    assert_eq!(cpu_shares_to_weight_quadratic(0), 0, "0 means unset");
    assert_eq!(cpu_weight_to_shares_linear(39), 998);
    assert_eq!(cpu_weight_to_shares_linear(1), 2);
}

#[test]
fn qs_16_oom_score_adj_by_class() {
    let capacity = 8 * GI;
    let g = guaranteed("g", "1", "1Gi");
    assert_eq!(
        container_oom_score_adj(&g, &g.spec.as_ref().unwrap().containers[0], capacity),
        -997
    );
    let be = best_effort("be");
    assert_eq!(
        container_oom_score_adj(&be, &be.spec.as_ref().unwrap().containers[0], capacity),
        1000
    );
    for (request, expected) in [
        ("4Gi", 500),
        ("100Mi", 988),
        ("1Gi", 875),
        ("8Gi", 3),
        ("9Gi", 3),
    ] {
        let b = burstable("b", "100m", request);
        let c = &b.spec.as_ref().unwrap().containers[0];
        assert_eq!(
            container_oom_score_adj(&b, c, capacity),
            expected,
            "{request}"
        );
    }
    // A Burstable container without a memory request (cpu only) → 999.
    let b = pod("b", "b", vec![container("app", &[("cpu", "100m")], &[])]);
    assert_eq!(
        container_oom_score_adj(&b, &b.spec.as_ref().unwrap().containers[0], capacity),
        999
    );
    assert_eq!(burstable_oom_score_adj(0, capacity), 999);
    assert_eq!(burstable_oom_score_adj(capacity, capacity), 3);

    // A sidecar gets at most the score of the regular container with the smallest request.
    let mut sidecar = container("sidecar", &[("memory", "100Mi")], &[]);
    sidecar.restart_policy = Some("Always".into());
    let b = with_init(
        pod("b", "b", vec![container("app", &[("memory", "4Gi")], &[])]),
        vec![sidecar.clone()],
    );
    assert_eq!(container_oom_score_adj(&b, &sidecar, capacity), 500);
    // The computed value is what reaches the CRI config.
    let opts = ResourceOptions {
        memory_capacity: capacity,
        ..Default::default()
    };
    let r = container_resources(&b, &b.spec.as_ref().unwrap().containers[0], &opts).unwrap();
    assert_eq!(r.oom_score_adj, 500);
}

#[test]
fn qs_17_node_critical_pods_and_fixed_scores() {
    let capacity = 8 * GI;
    // An API pod with the system-node-critical class and its admission-set priority.
    let mut critical = best_effort("c");
    let spec = critical.spec.as_mut().unwrap();
    spec.priority_class_name = Some("system-node-critical".into());
    spec.priority = Some(2_000_001_000);
    let c = critical.spec.as_ref().unwrap().containers[0].clone();
    assert_eq!(container_oom_score_adj(&critical, &c, capacity), -997);
    // A static pod (config source "file") with that class, no priority number.
    let mut static_pod = burstable("s", "100m", "4Gi");
    static_pod.spec.as_mut().unwrap().priority_class_name = Some("system-node-critical".into());
    static_pod.metadata.annotations = Some(
        [(
            "kubernetes.io/config.source".to_string(),
            "file".to_string(),
        )]
        .into(),
    );
    let c = static_pod.spec.as_ref().unwrap().containers[0].clone();
    assert_eq!(container_oom_score_adj(&static_pod, &c, capacity), -997);
    // The class name alone on an API pod without a critical priority is not enough.
    let mut not_critical = best_effort("n");
    not_critical.spec.as_mut().unwrap().priority_class_name = Some("system-node-critical".into());
    let c = not_critical.spec.as_ref().unwrap().containers[0].clone();
    assert_eq!(container_oom_score_adj(&not_critical, &c, capacity), 1000);
    // system-cluster-critical is critical but not node-critical: the class decides.
    let mut cluster = best_effort("cc");
    let spec = cluster.spec.as_mut().unwrap();
    spec.priority_class_name = Some("system-cluster-critical".into());
    spec.priority = Some(2_000_000_000);
    let c = cluster.spec.as_ref().unwrap().containers[0].clone();
    assert_eq!(container_oom_score_adj(&cluster, &c, capacity), 1000);

    assert_eq!(GUARANTEED_OOM_SCORE_ADJ, -997);
    assert_eq!(POD_INFRA_OOM_SCORE_ADJ, -998);
    assert_eq!(KUBELET_OOM_SCORE_ADJ, -999);
}

#[test]
fn qs_20_memory_qos_container_min_and_high() {
    let expected_high = ((100 * MI) as f64 + 0.9 * (100 * MI) as f64) as i64 / 4096 * 4096;
    assert_eq!(
        memory_high(100 * MI, 200 * MI, 0, DEFAULT_MEMORY_THROTTLING_FACTOR),
        Some(expected_high)
    );
    let p = pod(
        "q",
        "q",
        vec![container(
            "app",
            &[("memory", "100Mi")],
            &[("memory", "200Mi")],
        )],
    );
    let opts = ResourceOptions {
        memory_qos: true,
        cgroup_v2: true,
        memory_capacity: 8 * GI,
        ..Default::default()
    };
    let r = container_resources(&p, &p.spec.as_ref().unwrap().containers[0], &opts).unwrap();
    assert_eq!(r.unified["memory.min"], "104857600");
    assert_eq!(r.unified["memory.high"], expected_high.to_string());
    assert_eq!(r.unified["memory.high"], "199229440");

    // No limit: the node's allocatable memory is the ceiling.
    let p = pod(
        "q",
        "q",
        vec![container("app", &[("memory", "100Mi")], &[])],
    );
    let opts = ResourceOptions {
        node_allocatable_memory: 1000 * MI,
        ..opts
    };
    let r = container_resources(&p, &p.spec.as_ref().unwrap().containers[0], &opts).unwrap();
    let high = ((100 * MI) as f64 + 0.9 * (900 * MI) as f64) as i64 / 4096 * 4096;
    assert_eq!(r.unified["memory.high"], high.to_string());

    // Request == limit: no memory.high; MemoryQoS off or cgroup v1: no entries at all.
    let g = guaranteed("g", "1", "100Mi");
    let r = container_resources(&g, &g.spec.as_ref().unwrap().containers[0], &opts).unwrap();
    assert!(!r.unified.contains_key("memory.high"));
    assert_eq!(r.unified["memory.min"], "104857600");
    let v1 = ResourceOptions::default();
    let r = container_resources(&g, &g.spec.as_ref().unwrap().containers[0], &v1).unwrap();
    assert!(r.unified.is_empty());
}

#[test]
fn quantities_parse_like_apimachinery() {
    let milli = |s: &str| QuantityValue::parse(s).unwrap().milli_value().unwrap();
    let value = |s: &str| QuantityValue::parse(s).unwrap().value().unwrap();
    assert_eq!(milli("100m"), 100);
    assert_eq!(milli("1.5"), 1500);
    assert_eq!(milli("0.0001"), 1, "CPU rounds up");
    assert_eq!(value("128Mi"), 128 << 20);
    assert_eq!(value("1G"), 1_000_000_000);
    assert_eq!(value("1e3"), 1000);
    assert_eq!(value("0.5Gi"), 1 << 29);
    assert_eq!(value("1.5"), 2, "Value() rounds up");
    assert!(matches!(
        QuantityValue::parse("1K"),
        Err(QuantityError::Suffix { .. })
    ));
    assert!(matches!(
        QuantityValue::parse("one"),
        Err(QuantityError::Format { .. })
    ));
    assert!("250m".parse::<QuantityValue>().is_ok());
    let err = QuantityValue::parse("12x").unwrap_err().to_string();
    assert!(err.contains("\"12x\""), "{err}");
}

#[test]
fn bad_quantities_name_the_pod_and_field() {
    let p = pod(
        "web",
        "u",
        vec![container("app", &[], &[("memory", "lots")])],
    );
    let err = container_resources(
        &p,
        &p.spec.as_ref().unwrap().containers[0],
        &ResourceOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("default/web") && err.contains("spec.containers[0].resources.limits.memory"),
        "{err}"
    );
    let p = pod("web", "u", vec![container("app", &[("cpu", "-1")], &[])]);
    let err = cgroup_enforcer::resources::pod_resource_config(&p, &ResourceOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("requests.cpu") && err.contains("must be greater"),
        "{err}"
    );
}
