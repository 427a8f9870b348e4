//! The same hierarchy on a temporary tree shaped like a cgroup2 mount (reference §5.3 v1 →
//! v2 mapping, §5.4, §5.5; checklist QS-10, QS-11, QS-12, QS-20).

mod common;

use cgroup_enforcer::allocatable::{NodeResources, Reservations};
use cgroup_enforcer::backend::V2Hierarchy;
use cgroup_enforcer::formulas::CpuWeightConversion;
use cgroup_enforcer::resources::{ResourceConfig, ResourceOptions, container_resources};
use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager};
use common::*;
use std::path::Path;

fn manager(tree: &V2Tree, resources: ResourceOptions) -> PodCgroupManager {
    let config = CgroupConfig {
        resources,
        ..Default::default()
    };
    PodCgroupManager::new(config, Cgroups::v2(tree.root())).unwrap()
}

#[test]
fn controllers_are_enabled_top_down() {
    let tree = V2Tree::new();
    let m = manager(&tree, ResourceOptions::default());
    m.ensure_pod(&burstable("b", "250m", "64Mi")).unwrap();
    let wanted = "+cpuset +cpu +io +memory +hugetlb +pids";
    assert_eq!(tree.read("", "cgroup.subtree_control"), wanted);
    assert_eq!(tree.read("kubepods", "cgroup.subtree_control"), wanted);
    assert_eq!(
        tree.read("kubepods/burstable", "cgroup.subtree_control"),
        wanted
    );
    assert!(
        !tree
            .root()
            .join("kubepods/burstable/podb/cgroup.subtree_control")
            .exists(),
        "not in the leaf"
    );
}

#[test]
fn qs_10_memory_max() {
    let tree = V2Tree::new();
    let m = manager(&tree, ResourceOptions::default());
    m.ensure_pod(&guaranteed("g", "500m", "256Mi")).unwrap();
    assert_eq!(tree.read("kubepods/podg", "memory.max"), "268435456");
    assert_eq!(tree.read("kubepods/podg", "cpu.max"), "50000 100000");
    assert_eq!(tree.read("kubepods/podg", "cpu.weight"), "20");
    assert_eq!(tree.read("kubepods/podg", "pids.max"), "max");
}

#[test]
fn qs_11_container_memory_oom_group() {
    let p = burstable("b", "100m", "64Mi");
    let c = &p.spec.as_ref().unwrap().containers[0];
    let v2 = ResourceOptions {
        cgroup_v2: true,
        ..Default::default()
    };
    let r = container_resources(&p, c, &v2).unwrap();
    assert_eq!(r.unified["memory.oom.group"], "1");
    let single = ResourceOptions {
        single_process_oom_kill: true,
        ..v2
    };
    assert!(
        !container_resources(&p, c, &single)
            .unwrap()
            .unified
            .contains_key("memory.oom.group")
    );
    let v1 = ResourceOptions::default();
    assert!(container_resources(&p, c, &v1).unwrap().unified.is_empty());

    // Applied to a container cgroup through the v2 back end, the entry lands as a file.
    let tree = V2Tree::new();
    let cgroups = Cgroups::v2(tree.root());
    let config = ResourceConfig {
        unified: r.unified.clone(),
        ..Default::default()
    };
    cgroups
        .create(Path::new("kubepods/burstable/podb/c1"), &config)
        .unwrap();
    assert_eq!(
        tree.read("kubepods/burstable/podb/c1", "memory.oom.group"),
        "1"
    );
}

#[test]
fn qs_12_best_effort_weight_and_qos_cgroups() {
    let tree = V2Tree::new();
    let m = manager(&tree, ResourceOptions::default());
    m.setup_node(
        &NodeResources {
            cpu_milli: 2000,
            memory: 4 * GI,
            ephemeral_storage: 0,
            pids: 4096,
        },
        &Reservations::default(),
    )
    .unwrap();
    assert_eq!(tree.read("kubepods", "memory.max"), (4 * GI).to_string());
    assert_eq!(tree.read("kubepods", "pids.max"), "4096");
    m.ensure_pod(&best_effort("e")).unwrap();
    assert_eq!(tree.read("kubepods/besteffort/pode", "cpu.weight"), "1");
    assert!(
        !tree
            .root()
            .join("kubepods/besteffort/pode/memory.max")
            .exists()
    );
    assert!(
        !tree
            .root()
            .join("kubepods/besteffort/pode/cpu.max")
            .exists()
    );
    assert_eq!(tree.read("kubepods/besteffort", "cpu.weight"), "1");
    m.ensure_pod(&burstable("b", "1", "64Mi")).unwrap();
    assert_eq!(
        tree.read("kubepods/burstable", "cpu.weight"),
        "39",
        "1024 shares, linear"
    );
    m.remove_pod(&burstable("b", "1", "64Mi")).unwrap();
    assert_eq!(tree.read("kubepods/burstable", "cpu.weight"), "1");
}

#[test]
fn qs_20_memory_qos_pod_and_qos_cgroups() {
    let tree = V2Tree::new();
    let m = manager(
        &tree,
        ResourceOptions {
            memory_qos: true,
            ..Default::default()
        },
    );
    let b = pod(
        "b",
        "b",
        vec![container(
            "app",
            &[("memory", "100Mi")],
            &[("memory", "200Mi")],
        )],
    );
    m.ensure_pod(&b).unwrap();
    m.ensure_pod(&guaranteed("g", "1", "50Mi")).unwrap();
    assert_eq!(
        tree.read("kubepods/burstable/podb", "memory.min"),
        "104857600"
    );
    assert_eq!(
        tree.read("kubepods/burstable/podb", "memory.max"),
        "209715200"
    );
    assert_eq!(tree.read("kubepods/burstable", "memory.min"), "104857600");
    assert_eq!(tree.read("kubepods", "memory.min"), (150 * MI).to_string());
    // The container's memory.high goes to the runtime in `unified`.
    let opts = m.config().resources.clone();
    assert!(opts.cgroup_v2, "set from the back end");
    let r = container_resources(&b, &b.spec.as_ref().unwrap().containers[0], &opts).unwrap();
    assert_eq!(r.unified["memory.high"], "199229440");
}

#[test]
fn quadratic_weights_when_asked() {
    let tree = V2Tree::new();
    let cgroups = Cgroups::V2(V2Hierarchy::new(
        tree.root(),
        CpuWeightConversion::Quadratic,
    ));
    let config = ResourceConfig {
        cpu_shares: Some(1024),
        cpu_quota: Some(-1),
        cpu_period: Some(100_000),
        ..Default::default()
    };
    cgroups.create(Path::new("x"), &config).unwrap();
    assert_eq!(tree.read("x", "cpu.weight"), "100");
    assert_eq!(tree.read("x", "cpu.max"), "max 100000");
}

#[test]
fn stats_read_v2_files_and_removal() {
    let tree = V2Tree::new();
    let m = manager(&tree, ResourceOptions::default());
    let p = burstable("b", "100m", "64Mi");
    m.ensure_pod(&p).unwrap();
    let dir = tree.root().join("kubepods/burstable/podb");
    std::fs::write(
        dir.join("cpu.stat"),
        "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
    )
    .unwrap();
    std::fs::write(dir.join("memory.current"), "8388608\n").unwrap();
    std::fs::write(
        dir.join("memory.stat"),
        "anon 100\nfile 200\ninactive_file 2097152\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    )
    .unwrap();
    std::fs::write(dir.join("pids.current"), "7\n").unwrap();
    let s = m.pod_stats(&p).unwrap();
    assert_eq!(s.cpu_usage_ns, Some(2_500_000));
    assert_eq!(s.memory_usage_bytes, Some(8 * MI as u64));
    assert_eq!(s.memory_working_set_bytes, Some(6 * MI as u64));
    assert_eq!(s.oom_kills, Some(1));
    assert_eq!(s.pids_current, Some(7));

    std::fs::create_dir_all(dir.join("container-1")).unwrap();
    std::fs::write(dir.join("container-1/cgroup.procs"), "").unwrap();
    assert_eq!(m.pod_uids().unwrap().into_iter().collect::<Vec<_>>(), ["b"]);
    m.remove_pod(&p).unwrap();
    assert!(!dir.exists());
    assert!(tree.root().join("kubepods/burstable").is_dir());
}
