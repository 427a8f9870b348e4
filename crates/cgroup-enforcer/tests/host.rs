//! Host facts through injectable paths: cgroup mode from a mount table, node capacity from
//! a proc tree, allocatable and eviction thresholds (reference §5.7, §5.8; checklist
//! EV-01, EV-02).

mod common;

use cgroup_enforcer::CgroupMode;
use cgroup_enforcer::allocatable::{
    EvictionSignal, EvictionThresholds, HostPaths, NodeResources, Reservations, ThresholdValue,
    node_allocatable, read_capacity,
};
use cgroup_enforcer::backend::detect_mode;
use cgroup_enforcer::stats::memory_available;
use common::*;
use std::path::Path;

#[test]
fn ev_01_allocatable_memory() {
    let capacity = NodeResources {
        cpu_milli: 4000,
        memory: 8 * GI,
        ephemeral_storage: 0,
        pids: 32768,
    };
    // No reservations: capacity − the default 100Mi hard eviction threshold.
    let a = node_allocatable(&capacity, &Reservations::default()).unwrap();
    assert_eq!(a.resources.memory, 8 * GI - 100 * MI);
    assert_eq!(a.resources.cpu_milli, 4000);
    // With kube and system reservations.
    let reservations = Reservations {
        kube_reserved: NodeResources::parse("kubeReserved", [("memory", "1Gi"), ("cpu", "100m")])
            .unwrap(),
        system_reserved: NodeResources::parse("systemReserved", [("memory", "500Mi")]).unwrap(),
        ..Default::default()
    };
    let a = node_allocatable(&capacity, &reservations).unwrap();
    assert_eq!(a.resources.memory, 8 * GI - GI - 500 * MI - 100 * MI);
    assert_eq!(a.resources.memory, 6_887_047_168);
    assert_eq!(a.resources.cpu_milli, 3900);
    // A configured threshold replaces the default.
    let reservations = Reservations {
        eviction_hard: EvictionThresholds::parse_flag("memory.available<1Gi").unwrap(),
        ..Default::default()
    };
    assert_eq!(
        node_allocatable(&capacity, &reservations)
            .unwrap()
            .resources
            .memory,
        7 * GI
    );
    // A percentage resolves against capacity.
    let reservations = Reservations {
        eviction_hard: EvictionThresholds::parse([("memory.available", "25%")]).unwrap(),
        ..Default::default()
    };
    assert_eq!(
        node_allocatable(&capacity, &reservations)
            .unwrap()
            .resources
            .memory,
        6 * GI
    );
    // More reserved than there is: refused.
    let reservations = Reservations {
        kube_reserved: NodeResources {
            memory: 8 * GI,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = node_allocatable(&capacity, &reservations)
        .unwrap_err()
        .to_string();
    assert!(err.contains("memory"), "{err}");
}

#[test]
fn ev_02_allocatable_ephemeral_storage_and_pods() {
    let capacity = NodeResources {
        cpu_milli: 4000,
        memory: 8 * GI,
        ephemeral_storage: 100 * GI,
        pids: 32768,
    };
    let reservations = Reservations {
        kube_reserved: NodeResources::parse("kubeReserved", [("ephemeral-storage", "1Gi")])
            .unwrap(),
        ..Default::default()
    };
    let a = node_allocatable(&capacity, &reservations).unwrap();
    assert_eq!(a.resources.ephemeral_storage, 100 * GI - GI - 10 * GI);
    assert_eq!(a.pods, 110);
    let per_core = Reservations {
        pods_per_core: 10,
        ..Default::default()
    };
    assert_eq!(node_allocatable(&capacity, &per_core).unwrap().pods, 40);
    let many = Reservations {
        pods_per_core: 100,
        ..Default::default()
    };
    assert_eq!(
        node_allocatable(&capacity, &many).unwrap().pods,
        110,
        "maxPods caps it"
    );

    // The defaults behind it.
    let defaults = EvictionThresholds::default();
    assert_eq!(
        defaults.0[&EvictionSignal::MemoryAvailable],
        ThresholdValue::Quantity(100 * MI)
    );
    assert_eq!(
        defaults.0[&EvictionSignal::NodefsAvailable],
        ThresholdValue::Percentage(0.10)
    );
    assert_eq!(defaults.0.len(), 5);
}

#[test]
fn eviction_thresholds_parse_with_clear_errors() {
    let t = EvictionThresholds::parse_flag("memory.available<200Mi, nodefs.available<5%").unwrap();
    assert_eq!(t.0.len(), 2);
    assert_eq!(
        t.0[&EvictionSignal::NodefsAvailable],
        ThresholdValue::Percentage(0.05)
    );
    let off = EvictionThresholds::parse([("memory.available", "0")]).unwrap();
    assert!(off.0.is_empty());
    for (text, needle) in [
        ("memory.free<1Gi", "unknown eviction signal"),
        ("memory.available>1Gi", "expected"),
        ("memory.available<lots", "cannot parse"),
        ("nodefs.available<120%", "between"),
    ] {
        let err = EvictionThresholds::parse_flag(text)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
    let err = NodeResources::parse("kubeReserved", [("gpu", "1")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("kubeReserved.gpu"), "{err}");
}

#[test]
fn memory_available_signal_from_working_set() {
    assert_eq!(memory_available(8 * GI, (6 * GI) as u64), 2 * GI);
    assert_eq!(memory_available(GI, (2 * GI) as u64), -GI);
}

#[test]
fn capacity_from_a_proc_tree() {
    let dir = tempfile::tempdir().unwrap();
    let proc = dir.path();
    std::fs::write(
        proc.join("cpuinfo"),
        "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\n\nprocessor\t: 2\n",
    )
    .unwrap();
    std::fs::write(
        proc.join("meminfo"),
        "MemTotal:       8388608 kB\nMemFree: 1 kB\n",
    )
    .unwrap();
    std::fs::create_dir_all(proc.join("sys/kernel")).unwrap();
    std::fs::write(proc.join("sys/kernel/pid_max"), "4194304\n").unwrap();
    let paths = HostPaths {
        proc: proc.to_owned(),
        node_fs: Some(dir.path().to_owned()),
    };
    let c = read_capacity(&paths).unwrap();
    assert_eq!(c.cpu_milli, 3000);
    assert_eq!(c.memory, 8 * GI);
    assert_eq!(c.pids, 4_194_304);
    assert!(c.ephemeral_storage > 0);

    std::fs::write(proc.join("meminfo"), "nothing\n").unwrap();
    let err = read_capacity(&paths).unwrap_err().to_string();
    assert!(err.contains("meminfo") && err.contains("MemTotal"), "{err}");

    // This machine's own /proc reads too.
    let own = read_capacity(&HostPaths::default()).unwrap();
    assert!(own.cpu_milli >= 1000 && own.memory > 0 && own.pids > 0);
}

#[test]
fn cgroup_mode_from_a_mount_table() {
    let dir = tempfile::tempdir().unwrap();
    let write = |text: &str| {
        let path = dir.path().join("mountinfo");
        std::fs::write(&path, text).unwrap();
        path
    };
    let mount = Path::new("/sys/fs/cgroup");
    let hybrid = write(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
         32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
         35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
         41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
    );
    assert_eq!(detect_mode(&hybrid, mount).unwrap(), CgroupMode::Hybrid);
    let legacy = write(
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:1 - cgroup cgroup rw,cpu,cpuacct\n",
    );
    assert_eq!(detect_mode(&legacy, mount).unwrap(), CgroupMode::Legacy);
    let unified = write(
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
    );
    assert_eq!(detect_mode(&unified, mount).unwrap(), CgroupMode::Unified);
    let none = write("22 1 0:21 / /proc rw - proc proc rw\n");
    let err = detect_mode(&none, mount).unwrap_err().to_string();
    assert!(err.contains("no cgroup hierarchy"), "{err}");
    assert!(detect_mode(&dir.path().join("missing"), mount).is_err());

    // This machine: cgroup v1 controllers with a cgroup2 at unified (hybrid).
    let host = detect_mode(Path::new("/proc/self/mountinfo"), mount).unwrap();
    assert!(matches!(
        host,
        CgroupMode::Hybrid | CgroupMode::Legacy | CgroupMode::Unified
    ));
}
