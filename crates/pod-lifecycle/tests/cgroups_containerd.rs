//! Pod cgroups end to end: pod workers with the real cgroup adapter ([`NodeCgroups`] over
//! this machine's cgroup v1 controllers) against the real containerd at
//! `$NODELET_CRI_ENDPOINT`. A Guaranteed, a Burstable and a BestEffort pod land in
//! `<cgroupRoot>/kubepods[/burstable|/besteffort]/pod<uid>` with the kubelet's limits and
//! their containers inside; a container over its memory limit is OOMKilled; after the pods
//! are deleted no `pod<uid>` directory is left in any hierarchy.
//!
//! Each test uses its own cgroup root (`/nodelet-e2e-<pid>-<n>`), removed with everything
//! under it (processes killed, directories depth first, every hierarchy) by a Drop guard,
//! so nothing is left even when a test fails half-way. The workers' harness is
//! `tests/common` (on `test_env`): the environment comes from `$NODELET_CRI_ENDPOINT` or the
//! file `target/nodelet-env/env` that `cargo xtask setup` writes; without it, root or
//! cgroup v1, the tests fail when `CI=true` and otherwise return early with a note. While a
//! test runs it holds a shared lock on `$NODELET_ENV_DIR/runtime.lock`, so the agent's
//! end-to-end tests (whose agent removes sandboxes it does not know) wait for it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cgroup_enforcer::allocatable::{HostPaths, Reservations, read_capacity};
use cgroup_enforcer::backend::{CgroupMode, DEFAULT_CGROUP_MOUNT, detect_mode};
use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager, ResourceOptions};
use common::Node;
use k8s_openapi::api::core::v1::{Pod, PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_lifecycle::worker::NodeCgroups;
use test_env::skip;

/// `memory.limit_in_bytes` of a v1 cgroup without a limit (page-aligned `i64::MAX`).
const V1_UNLIMITED: &str = "9223372036854771712";

/// A unique cgroup root, removed with everything below it in every hierarchy on drop.
struct CgroupRoot {
    name: String,
    cgroups: Cgroups,
}

impl CgroupRoot {
    fn new() -> CgroupRoot {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        CgroupRoot {
            name: format!(
                "/nodelet-e2e-{}-{}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::SeqCst)
            ),
            cgroups: Cgroups::v1(DEFAULT_CGROUP_MOUNT),
        }
    }

    /// `/sys/fs/cgroup/<controller>/<root>/<rel>`.
    fn dir(&self, controller: &str, rel: &str) -> PathBuf {
        Path::new(DEFAULT_CGROUP_MOUNT)
            .join(controller)
            .join(self.name.trim_start_matches('/'))
            .join(rel)
    }

    fn read(&self, controller: &str, rel: &str, file: &str) -> String {
        let path = self.dir(controller, rel).join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    /// Every directory named `leaf` below the root, in any hierarchy.
    fn find(&self, leaf: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, leaf: &str, found: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    if entry.file_name() == leaf {
                        found.push(path.clone());
                    }
                    walk(&path, leaf, found);
                }
            }
        }
        let mut found = Vec::new();
        for hierarchy in std::fs::read_dir(DEFAULT_CGROUP_MOUNT)
            .into_iter()
            .flatten()
            .flatten()
        {
            walk(
                &hierarchy.path().join(self.name.trim_start_matches('/')),
                leaf,
                &mut found,
            );
        }
        found
    }
}

impl Drop for CgroupRoot {
    fn drop(&mut self) {
        let rel = Path::new(self.name.trim_start_matches('/'));
        if let Err(e) = self.cgroups.remove(rel) {
            eprintln!("cleanup: cannot remove the cgroup root {}: {e}", self.name);
        }
    }
}

/// Pod workers, the PLEG and the node's cgroups under a [`CgroupRoot`]. The node goes first
/// when dropped (its pods' sandboxes, whose processes hold the cgroups), then the root.
struct CgroupNode {
    node: Node,
    root: CgroupRoot,
}

impl CgroupNode {
    /// `None` (after saying why) when the environment is missing, outside CI.
    async fn start(pod_pids_limit: i64) -> Option<CgroupNode> {
        let root_user = std::fs::metadata("/proc/self").is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        });
        if !root_user {
            return skip("these tests need root");
        }
        match detect_mode(
            Path::new("/proc/self/mountinfo"),
            Path::new(DEFAULT_CGROUP_MOUNT),
        ) {
            Ok(CgroupMode::Legacy | CgroupMode::Hybrid) => {}
            other => return skip(&format!("no cgroup v1 controllers ({other:?})")),
        }
        let builder = Node::builder().await?;

        let root = CgroupRoot::new();
        let capacity = read_capacity(&HostPaths::default()).expect("reading the capacity");
        let config = CgroupConfig {
            cgroup_root: root.name.clone(),
            resources: ResourceOptions {
                pod_pids_limit,
                memory_capacity: capacity.memory,
                ..Default::default()
            },
            ..Default::default()
        };
        let manager = PodCgroupManager::new(config, Cgroups::host().expect("the host cgroups"))
            .expect("a cgroup manager");
        manager
            .setup_node(&capacity, &Reservations::default())
            .expect("setting up kubepods");
        let node = builder.cgroups(NodeCgroups::new(manager)).start();
        Some(CgroupNode { node, root })
    }

    fn run(&self, pod: &Pod) {
        self.node.run(pod.clone());
    }

    async fn wait_running(&self, pod: &Pod) -> String {
        let uid = pod.metadata.uid.as_deref().unwrap();
        let status = self
            .node
            .wait_for(uid, "Running", |s| s.phase.as_deref() == Some("Running"))
            .await;
        let id = status.container_statuses.unwrap()[0]
            .container_id
            .clone()
            .unwrap();
        id.split_once("://").map(|(_, id)| id.to_owned()).unwrap()
    }

    async fn delete(&self, pod: &Pod) {
        self.node.delete(pod, 0).await;
    }
}

fn pod(
    name: &str,
    policy: &str,
    script: &str,
    requests: &[(&str, &str)],
    limits: &[(&str, &str)],
) -> Pod {
    let list = |items: &[(&str, &str)]| {
        (!items.is_empty()).then(|| {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect()
        })
    };
    let mut container = common::container("app", script);
    container.resources = Some(ResourceRequirements {
        requests: list(requests),
        limits: list(limits),
        ..Default::default()
    });
    common::pod("nodelet-cgroups-test", name, policy, 2, vec![container])
}

const SLEEP: &str = "trap 'exit 0' TERM; sleep 3600 & wait";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qs_04_qs_12_qs_14_qs_18_real_pod_cgroups_per_qos_class() {
    let Some(node) = CgroupNode::start(100).await else {
        return;
    };
    let guaranteed = pod(
        "guaranteed",
        "Always",
        SLEEP,
        &[],
        &[("cpu", "500m"), ("memory", "64Mi")],
    );
    let burstable = pod(
        "burstable",
        "Always",
        SLEEP,
        &[("cpu", "250m"), ("memory", "32Mi")],
        &[("cpu", "500m"), ("memory", "128Mi")],
    );
    let best_effort = pod("besteffort", "Always", SLEEP, &[], &[]);
    for p in [&guaranteed, &burstable, &best_effort] {
        node.run(p);
    }
    let mut pods = Vec::new();
    for (p, qos) in [
        (&guaranteed, ""),
        (&burstable, "burstable/"),
        (&best_effort, "besteffort/"),
    ] {
        let container = node.wait_running(p).await;
        let uid = p.metadata.uid.clone().unwrap();
        pods.push((format!("kubepods/{qos}pod{uid}"), container, uid));
    }
    let root = &node.root;
    let [(g, g_id, _), (b, b_id, _), (be, be_id, _)] = &pods[..] else {
        unreachable!()
    };

    // QS-14: the Guaranteed pod cgroup carries the sum of the limits.
    assert_eq!(root.read("cpu", g, "cpu.shares"), "512");
    assert_eq!(root.read("cpu", g, "cpu.cfs_quota_us"), "50000");
    assert_eq!(root.read("cpu", g, "cpu.cfs_period_us"), "100000");
    assert_eq!(root.read("memory", g, "memory.limit_in_bytes"), "67108864");
    // Burstable: shares from requests, quota and limit because every container has them.
    assert_eq!(root.read("cpu", b, "cpu.shares"), "256");
    assert_eq!(root.read("cpu", b, "cpu.cfs_quota_us"), "50000");
    assert_eq!(root.read("memory", b, "memory.limit_in_bytes"), "134217728");
    // QS-12: BestEffort gets the minimum shares and no limits.
    assert_eq!(root.read("cpu", be, "cpu.shares"), "2");
    assert_eq!(root.read("cpu", be, "cpu.cfs_quota_us"), "-1");
    assert_eq!(
        root.read("memory", be, "memory.limit_in_bytes"),
        V1_UNLIMITED
    );
    // QS-18: podPidsLimit on every pod cgroup.
    for cgroup in [g, b, be] {
        assert_eq!(root.read("pids", cgroup, "pids.max"), "100", "{cgroup}");
    }
    // QS-12: the QoS cgroups.
    assert_eq!(root.read("cpu", "kubepods/burstable", "cpu.shares"), "256");
    assert_eq!(root.read("cpu", "kubepods/besteffort", "cpu.shares"), "2");

    // The runtime put each container inside its pod cgroup, with the container's own
    // CRI resources (QS-08, QS-10).
    for (cgroup, id) in [(g, g_id), (b, b_id), (be, be_id)] {
        for controller in ["cpu", "memory", "pids"] {
            let dir = root.dir(controller, cgroup).join(id);
            assert!(dir.is_dir(), "{} is missing", dir.display());
        }
    }
    let container = |cgroup: &str, id: &str, controller: &str, file: &str| {
        root.read(controller, &format!("{cgroup}/{id}"), file)
    };
    assert_eq!(
        container(g, g_id, "memory", "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(container(g, g_id, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(container(b, b_id, "cpu", "cpu.shares"), "256");
    assert_eq!(
        container(b, b_id, "memory", "memory.limit_in_bytes"),
        "134217728"
    );
    assert_eq!(container(be, be_id, "cpu", "cpu.shares"), "2");

    // Deleted pods leave no pod<uid> directory in any hierarchy, and the burstable QoS
    // cgroup no longer counts the pod. While they run, every hierarchy has them (runc
    // creates the ones the manager does not know, such as name=systemd).
    for (_, _, uid) in &pods {
        let found = root.find(&format!("pod{uid}"));
        assert!(found.len() >= 5, "pod{uid} only in {found:?}");
    }
    for p in [&guaranteed, &burstable, &best_effort] {
        node.delete(p).await;
    }
    for (_, _, uid) in &pods {
        let left = root.find(&format!("pod{uid}"));
        assert!(left.is_empty(), "left behind: {left:?}");
    }
    assert_eq!(root.read("cpu", "kubepods/burstable", "cpu.shares"), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qs_10_real_container_over_its_memory_limit_is_oom_killed() {
    let Some(node) = CgroupNode::start(-1).await else {
        return;
    };
    // restartPolicy Always keeps the pod (and its cgroup) after the kill: a terminal pod
    // would be torn down at once.
    let hog = pod(
        "oom",
        "Always",
        "dd if=/dev/zero of=/dev/null bs=256M count=1",
        &[],
        &[("memory", "32Mi")],
    );
    node.run(&hog);
    let uid = hog.metadata.uid.clone().unwrap();
    let terminated = |s: &PodStatus| {
        let c = s.container_statuses.as_ref()?.first()?.clone();
        c.state
            .and_then(|s| s.terminated)
            .or_else(|| c.last_state.and_then(|s| s.terminated))
    };
    // containerd may report the exit before it handles the OOM event (reason `Error` for
    // a moment, then `OOMKilled`): wait for the reason, the wait fails the test if it
    // never comes.
    let status = node
        .node
        .wait_for(&uid, "the container to be OOMKilled", |s| {
            terminated(s).is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"))
        })
        .await;
    assert_eq!(terminated(&status).unwrap().exit_code, 137);
    // A memory limit on every container (and no CPU request) makes it Burstable, with
    // the limit on the pod cgroup too.
    let cgroup = format!("kubepods/burstable/pod{uid}");
    assert_eq!(
        node.root.read("memory", &cgroup, "memory.limit_in_bytes"),
        "33554432"
    );
    node.delete(&hog).await;
    assert!(node.root.find(&format!("pod{uid}")).is_empty());
}
