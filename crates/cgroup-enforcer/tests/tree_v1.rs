//! The pod, QoS and node-allocatable cgroups on a temporary tree shaped like a cgroup v1
//! mount (reference §5.2, §5.5; checklist QS-04, QS-10, QS-12..QS-15, QS-18, QS-19).

mod common;

use cgroup_enforcer::allocatable::{NodeResources, Reservations};
use cgroup_enforcer::names::{CgroupName, pod_cgroup_name};
use cgroup_enforcer::{
    CgroupConfig, CgroupDriver, Cgroups, PodCgroupManager, QosClass, ResourceOptions,
};
use common::*;

fn manager(tree: &V1Tree) -> PodCgroupManager {
    PodCgroupManager::new(CgroupConfig::default(), Cgroups::v1(tree.root())).unwrap()
}

#[test]
fn qs_04_pod_cgroup_names_for_both_drivers() {
    let root = CgroupName::root();
    let uid = "8dbc-41f2-9e5a";
    let cases = [
        (
            QosClass::Guaranteed,
            "/kubepods/pod8dbc-41f2-9e5a",
            "/kubepods.slice/kubepods-pod8dbc_41f2_9e5a.slice",
        ),
        (
            QosClass::Burstable,
            "/kubepods/burstable/pod8dbc-41f2-9e5a",
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8dbc_41f2_9e5a.slice",
        ),
        (
            QosClass::BestEffort,
            "/kubepods/besteffort/pod8dbc-41f2-9e5a",
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod8dbc_41f2_9e5a.slice",
        ),
    ];
    for (qos, cgroupfs, systemd) in cases {
        let name = pod_cgroup_name(&root, qos, uid).unwrap();
        assert_eq!(name.to_cgroupfs(), cgroupfs);
        assert_eq!(name.to_driver(CgroupDriver::Systemd), systemd);
        assert_eq!(CgroupName::parse_systemd(systemd).unwrap(), name);
        assert_eq!(CgroupName::parse_cgroupfs(cgroupfs).unwrap(), name);
    }
    let name = pod_cgroup_name(&root, QosClass::Burstable, uid).unwrap();
    assert_eq!(
        name.systemd_slice(),
        "kubepods-burstable-pod8dbc_41f2_9e5a.slice"
    );

    // On disk, with a custom cgroup root, and the cgroup_parent the sandbox gets.
    let tree = V1Tree::new();
    let config = CgroupConfig {
        cgroup_root: "/node-a".into(),
        ..Default::default()
    };
    let m = PodCgroupManager::new(config, Cgroups::v1(tree.root())).unwrap();
    assert_eq!(
        m.ensure_pod(&guaranteed("g-1", "1", "1Gi")).unwrap(),
        "/node-a/kubepods/podg-1"
    );
    assert_eq!(
        m.ensure_pod(&burstable("b-1", "100m", "64Mi")).unwrap(),
        "/node-a/kubepods/burstable/podb-1"
    );
    assert_eq!(
        m.ensure_pod(&best_effort("e-1")).unwrap(),
        "/node-a/kubepods/besteffort/pode-1"
    );
    for controller in [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "systemd",
    ] {
        for dir in [
            "node-a/kubepods/podg-1",
            "node-a/kubepods/burstable/podb-1",
            "node-a/kubepods/besteffort/pode-1",
        ] {
            assert!(
                tree.root().join(controller).join(dir).is_dir(),
                "{controller}/{dir}"
            );
        }
    }
    // A new cpuset cgroup inherits the parent's CPUs and memory nodes.
    assert_eq!(
        tree.read("cpuset", "node-a/kubepods/podg-1", "cpuset.cpus"),
        "0-1"
    );
    assert_eq!(
        tree.read("cpuset", "node-a/kubepods/podg-1", "cpuset.mems"),
        "0"
    );

    // systemd driver: the expanded slice path is the parent and the directory.
    let tree = V1Tree::new();
    let config = CgroupConfig {
        driver: CgroupDriver::Systemd,
        ..Default::default()
    };
    let m = PodCgroupManager::new(config, Cgroups::v1(tree.root())).unwrap();
    let parent = m.ensure_pod(&burstable("ab-cd", "100m", "64Mi")).unwrap();
    assert_eq!(
        parent,
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab_cd.slice"
    );
    assert!(tree.root().join("memory").join(&parent[1..]).is_dir());
    assert_eq!(
        m.pod_uids().unwrap().into_iter().collect::<Vec<_>>(),
        ["ab-cd"]
    );
}

#[test]
fn qs_10_memory_limit_in_bytes() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    m.ensure_pod(&guaranteed("g", "1", "256Mi")).unwrap();
    assert_eq!(
        tree.read("memory", "kubepods/podg", "memory.limit_in_bytes"),
        "268435456"
    );
}

#[test]
fn qs_12_best_effort_and_qos_cgroup_shares() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    m.setup_node(
        &NodeResources {
            cpu_milli: 2000,
            memory: 4 * GI,
            ephemeral_storage: 0,
            pids: 32768,
        },
        &Reservations::default(),
    )
    .unwrap();
    assert_eq!(tree.read("cpu", "kubepods/besteffort", "cpu.shares"), "2");
    assert_eq!(
        tree.read("cpu", "kubepods/burstable", "cpu.shares"),
        "2",
        "no burstable pods yet"
    );

    m.ensure_pod(&best_effort("e")).unwrap();
    assert_eq!(
        tree.read("cpu", "kubepods/besteffort/pode", "cpu.shares"),
        "2"
    );
    assert!(
        !tree
            .file(
                "memory",
                "kubepods/besteffort/pode",
                "memory.limit_in_bytes"
            )
            .exists()
    );
    assert!(
        !tree
            .file("cpu", "kubepods/besteffort/pode", "cpu.cfs_quota_us")
            .exists()
    );

    m.ensure_pod(&burstable("b1", "250m", "64Mi")).unwrap();
    assert_eq!(tree.read("cpu", "kubepods/burstable", "cpu.shares"), "256");
    m.ensure_pod(&burstable("b2", "750m", "64Mi")).unwrap();
    assert_eq!(tree.read("cpu", "kubepods/burstable", "cpu.shares"), "1024");
    // Guaranteed and BestEffort pods do not count.
    m.ensure_pod(&guaranteed("g", "1", "64Mi")).unwrap();
    assert_eq!(tree.read("cpu", "kubepods/burstable", "cpu.shares"), "1024");
    m.remove_pod(&burstable("b1", "250m", "64Mi")).unwrap();
    assert_eq!(tree.read("cpu", "kubepods/burstable", "cpu.shares"), "768");
    assert_eq!(tree.read("cpu", "kubepods/besteffort", "cpu.shares"), "2");
}

#[test]
fn qs_13_burstable_without_every_memory_limit() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    let p = pod(
        "b",
        "b",
        vec![
            container(
                "a",
                &[("cpu", "100m")],
                &[("cpu", "200m"), ("memory", "128Mi")],
            ),
            container("c", &[("cpu", "100m")], &[("cpu", "300m")]),
        ],
    );
    m.ensure_pod(&p).unwrap();
    let dir = "kubepods/burstable/podb";
    assert!(!tree.file("memory", dir, "memory.limit_in_bytes").exists());
    // Every container has a CPU limit: quota = Σ limits.
    assert_eq!(tree.read("cpu", dir, "cpu.shares"), "204");
    assert_eq!(tree.read("cpu", dir, "cpu.cfs_quota_us"), "50000");
    assert_eq!(tree.read("cpu", dir, "cpu.cfs_period_us"), "100000");

    // One container without a CPU limit: no quota either.
    let p = pod(
        "b2",
        "b2",
        vec![
            container("a", &[], &[("cpu", "200m"), ("memory", "128Mi")]),
            container("c", &[], &[("memory", "64Mi")]),
        ],
    );
    m.ensure_pod(&p).unwrap();
    let dir = "kubepods/burstable/podb2";
    assert!(!tree.file("cpu", dir, "cpu.cfs_quota_us").exists());
    assert_eq!(
        tree.read("memory", dir, "memory.limit_in_bytes"),
        (192 * MI).to_string()
    );
}

#[test]
fn qs_14_guaranteed_sums_with_init_and_overhead() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    let mut p = pod(
        "g",
        "g",
        vec![
            container("a", &[], &[("cpu", "500m"), ("memory", "128Mi")]),
            container("b", &[], &[("cpu", "1500m"), ("memory", "256Mi")]),
        ],
    );
    // A bigger init container does not change the sums: max(Σ regular, largest init).
    p = with_init(
        p,
        vec![container("init", &[], &[("cpu", "1"), ("memory", "300Mi")])],
    );
    p.spec.as_mut().unwrap().overhead = Some(
        [
            (
                "cpu".to_string(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("100m".into()),
            ),
            (
                "memory".to_string(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("16Mi".into()),
            ),
        ]
        .into(),
    );
    assert_eq!(cgroup_enforcer::compute_pod_qos(&p), QosClass::Guaranteed);
    m.ensure_pod(&p).unwrap();
    let dir = "kubepods/podg";
    assert_eq!(
        tree.read("memory", dir, "memory.limit_in_bytes"),
        ((384 + 16) * MI).to_string()
    );
    assert_eq!(tree.read("cpu", dir, "cpu.cfs_quota_us"), "210000");
    assert_eq!(tree.read("cpu", dir, "cpu.shares"), "2150");

    // An init container larger than the regular sum wins.
    let p = with_init(
        guaranteed("g2", "500m", "128Mi"),
        vec![container("init", &[], &[("cpu", "2"), ("memory", "1Gi")])],
    );
    m.ensure_pod(&p).unwrap();
    assert_eq!(
        tree.read("memory", "kubepods/podg2", "memory.limit_in_bytes"),
        GI.to_string()
    );
    assert_eq!(
        tree.read("cpu", "kubepods/podg2", "cpu.cfs_quota_us"),
        "200000"
    );

    // cpuCFSQuota=false: quota -1 for Guaranteed.
    let tree = V1Tree::new();
    let config = CgroupConfig {
        resources: ResourceOptions {
            cpu_cfs_quota: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let m = PodCgroupManager::new(config, Cgroups::v1(tree.root())).unwrap();
    m.ensure_pod(&guaranteed("g", "1", "64Mi")).unwrap();
    assert_eq!(tree.read("cpu", "kubepods/podg", "cpu.cfs_quota_us"), "-1");
}

#[test]
fn qs_15_kubepods_sized_from_capacity_minus_reservations() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    let capacity = NodeResources {
        cpu_milli: 4000,
        memory: 8 * GI,
        ephemeral_storage: 0,
        pids: 32768,
    };
    let reservations = Reservations {
        kube_reserved: NodeResources::parse(
            "kubeReserved",
            [("cpu", "100m"), ("memory", "1Gi"), ("pid", "100")],
        )
        .unwrap(),
        system_reserved: NodeResources::parse(
            "systemReserved",
            [("cpu", "400m"), ("memory", "512Mi")],
        )
        .unwrap(),
        ..Default::default()
    };
    m.setup_node(&capacity, &reservations).unwrap();
    // The 100Mi eviction threshold is not subtracted here.
    assert_eq!(
        tree.read("memory", "kubepods", "memory.limit_in_bytes"),
        (8 * GI - GI - 512 * MI).to_string()
    );
    assert_eq!(tree.read("cpu", "kubepods", "cpu.shares"), "3584");
    assert_eq!(tree.read("pids", "kubepods", "pids.max"), "32668");
    assert!(tree.root().join("cpu/kubepods/burstable").is_dir());
    assert!(tree.root().join("memory/kubepods/besteffort").is_dir());

    // A reservation above capacity is refused.
    let too_much = Reservations {
        kube_reserved: NodeResources {
            memory: 9 * GI,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = m.setup_node(&capacity, &too_much).unwrap_err().to_string();
    assert!(err.contains("memory"), "{err}");
}

#[test]
fn qs_18_pids_limit() {
    let tree = V1Tree::new();
    let config = CgroupConfig {
        resources: ResourceOptions {
            pod_pids_limit: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    let m = PodCgroupManager::new(config, Cgroups::v1(tree.root())).unwrap();
    m.ensure_pod(&best_effort("e")).unwrap();
    assert_eq!(
        tree.read("pids", "kubepods/besteffort/pode", "pids.max"),
        "100"
    );

    let m = manager(&tree);
    m.ensure_pod(&best_effort("d")).unwrap();
    assert_eq!(
        tree.read("pids", "kubepods/besteffort/podd", "pids.max"),
        "max"
    );
}

#[test]
fn qs_19_a_deleted_pod_cgroup_is_detected() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    let p = burstable("b", "100m", "64Mi");
    m.ensure_pod(&p).unwrap();
    assert!(m.pod_cgroup_exists(&p).unwrap());
    // Deleted behind our back in one controller.
    std::fs::remove_dir_all(tree.root().join("memory/kubepods/burstable/podb")).unwrap();
    assert!(!m.pod_cgroup_exists(&p).unwrap());
    // ensure_pod recreates it with its limits.
    m.ensure_pod(&p).unwrap();
    assert!(m.pod_cgroup_exists(&p).unwrap());
}

#[test]
fn removal_is_depth_first_and_tolerates_missing_dirs() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    let p = burstable("b", "100m", "64Mi");
    m.ensure_pod(&p).unwrap();
    // The runtime's container cgroups, with interface files, in some controllers only, and
    // in the hybrid `unified` hierarchy.
    for controller in ["cpu", "memory", "unified"] {
        let dir = tree
            .root()
            .join(controller)
            .join("kubepods/burstable/podb/abc123/nested");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
    }
    assert_eq!(m.pod_uids().unwrap().into_iter().collect::<Vec<_>>(), ["b"]);
    m.remove_pod(&p).unwrap();
    for controller in [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "systemd", "unified",
    ] {
        assert!(
            !tree
                .root()
                .join(controller)
                .join("kubepods/burstable/podb")
                .exists(),
            "{controller}"
        );
    }
    assert!(
        tree.root().join("memory/kubepods/burstable").is_dir(),
        "the QoS cgroup stays"
    );
    assert!(m.pod_uids().unwrap().is_empty());
    // Again: nothing there, no error. Orphans by UID too.
    m.remove_pod(&p).unwrap();
    m.remove_pod_uid("never-existed").unwrap();
}

#[test]
fn orphans_are_listed_by_uid() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    m.ensure_pod(&guaranteed("g", "1", "64Mi")).unwrap();
    m.ensure_pod(&best_effort("e")).unwrap();
    // Left by an earlier run.
    std::fs::create_dir_all(tree.root().join("memory/kubepods/burstable/podold")).unwrap();
    let uids: Vec<String> = m.pod_uids().unwrap().into_iter().collect();
    assert_eq!(uids, ["e", "g", "old"]);
    // A fresh manager (agent restart) removes the orphan by UID.
    let fresh = manager(&tree);
    fresh.remove_pod_uid("old").unwrap();
    assert!(
        !tree
            .root()
            .join("memory/kubepods/burstable/podold")
            .exists()
    );
}

#[test]
fn stats_read_v1_files() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    let p = burstable("b", "100m", "64Mi");
    m.ensure_pod(&p).unwrap();
    let dir = "kubepods/burstable/podb";
    std::fs::write(tree.file("cpuacct", dir, "cpuacct.usage"), "123456789\n").unwrap();
    std::fs::write(
        tree.file("memory", dir, "memory.usage_in_bytes"),
        "10485760\n",
    )
    .unwrap();
    std::fs::write(
        tree.file("memory", dir, "memory.stat"),
        "cache 100\ninactive_file 7\ntotal_inactive_file 4194304\n",
    )
    .unwrap();
    std::fs::write(
        tree.file("memory", dir, "memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    )
    .unwrap();
    std::fs::write(tree.file("pids", dir, "pids.current"), "3\n").unwrap();
    let s = m.pod_stats(&p).unwrap();
    assert_eq!(s.cpu_usage_ns, Some(123_456_789));
    assert_eq!(s.memory_usage_bytes, Some(10 * MI as u64));
    assert_eq!(s.memory_working_set_bytes, Some(6 * MI as u64));
    assert_eq!(s.oom_kills, Some(2));
    assert_eq!(s.pids_current, Some(3));

    // A container cgroup (cgroupfs: <pod>/<id>).
    let cdir = tree.root().join("memory").join(dir).join("c0ffee");
    std::fs::create_dir_all(&cdir).unwrap();
    std::fs::write(cdir.join("memory.usage_in_bytes"), "4096").unwrap();
    let s = m.container_stats(&p, "c0ffee").unwrap();
    assert_eq!(s.memory_usage_bytes, Some(4096));
    assert_eq!(s.memory_working_set_bytes, Some(4096));
    assert_eq!(s.cpu_usage_ns, None);
    assert!(m.container_stats(&p, "../x").is_err());

    // Garbage in a file is an error naming the file.
    std::fs::write(tree.file("pids", dir, "pids.current"), "lots").unwrap();
    let err = m.pod_stats(&p).unwrap_err().to_string();
    assert!(err.contains("pids.current"), "{err}");
}

#[test]
fn cgroups_per_qos_off_uses_the_root() {
    let tree = V1Tree::new();
    let config = CgroupConfig {
        cgroups_per_qos: false,
        ..Default::default()
    };
    let m = PodCgroupManager::new(config, Cgroups::v1(tree.root())).unwrap();
    assert_eq!(m.ensure_pod(&burstable("b", "1", "1Gi")).unwrap(), "/");
    assert!(!tree.root().join("memory/kubepods").exists());
}

#[test]
fn a_pod_without_uid_is_an_error() {
    let tree = V1Tree::new();
    let m = manager(&tree);
    let mut p = best_effort("x");
    p.metadata.uid = None;
    let err = m.ensure_pod(&p).unwrap_err().to_string();
    assert!(
        err.contains("default/besteffort") && err.contains("metadata.uid"),
        "{err}"
    );
}

/// QS-12 under concurrency: pods set up at the same time (as the pod workers do) leave the
/// burstable QoS cgroup with the sum over all of them. Each QoS update reads the pods and
/// writes the shares; without a lock across both, a sum read before another pod was added
/// could be written last (found by the real-cgroup test, which read `2` for `256`).
#[test]
fn qs_12_concurrent_pod_setups_leave_the_full_sum() {
    for round in 0..30 {
        let tree = V1Tree::new();
        let m = manager(&tree);
        let capacity = NodeResources {
            cpu_milli: 2000,
            memory: 4 * GI,
            ephemeral_storage: 0,
            pids: 32768,
        };
        m.setup_node(&capacity, &Reservations::default()).unwrap();
        std::thread::scope(|s| {
            for i in 0..8 {
                let m = &m;
                s.spawn(move || {
                    m.ensure_pod(&burstable(&format!("b{i}"), "128m", "64Mi"))
                        .unwrap();
                });
            }
        });
        // 8 × 128m = 1024m → 1048 shares.
        assert_eq!(
            tree.read("cpu", "kubepods/burstable", "cpu.shares"),
            "1048",
            "round {round}"
        );
    }
}
