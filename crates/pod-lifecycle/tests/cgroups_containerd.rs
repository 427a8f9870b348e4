//! Pod cgroups end to end: pod workers with the real cgroup adapter ([`NodeCgroups`] over
//! this machine's cgroup v1 controllers) against the real containerd at
//! `$NODELET_CRI_ENDPOINT`. A Guaranteed, a Burstable and a BestEffort pod land in
//! `<cgroupRoot>/kubepods[/burstable|/besteffort]/pod<uid>` with the kubelet's limits and
//! their containers inside; a container over its memory limit is OOMKilled; after the pods
//! are deleted no `pod<uid>` directory is left in any hierarchy.
//!
//! Each test uses its own cgroup root (`/nodelet-e2e-<pid>-<n>`), removed with everything
//! under it (processes killed, directories depth first, every hierarchy) by a Drop guard,
//! so nothing is left even when a test fails half-way. The environment comes from
//! `$NODELET_CRI_ENDPOINT` or the file `target/nodelet-env/env` that `cargo xtask setup`
//! writes; without it, root or cgroup v1, the tests fail when `CI=true` and otherwise return
//! early with a note. While a test runs it holds a shared lock on
//! `$NODELET_ENV_DIR/runtime.lock`, so the agent's end-to-end tests (whose agent removes
//! sandboxes it does not know) wait for it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cgroup_enforcer::allocatable::{HostPaths, Reservations, read_capacity};
use cgroup_enforcer::backend::{CgroupMode, DEFAULT_CGROUP_MOUNT, detect_mode};
use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager, ResourceOptions};
use cri_client::{GrpcRuntime, RuntimeService, v1};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::labels;
use pod_lifecycle::pleg::{Pleg, PlegConfig};
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, NodeCgroups, PodHost, PodWorkers, WorkerConfig,
};

const ENDPOINT_VAR: &str = "NODELET_CRI_ENDPOINT";
/// `memory.limit_in_bytes` of a v1 cgroup without a limit (page-aligned `i64::MAX`).
const V1_UNLIMITED: &str = "9223372036854771712";

/// The variables `cargo xtask setup` exports: from the process environment, else from
/// `target/nodelet-env/env`.
fn env_var(name: &str) -> Option<String> {
    if let Ok(v) = std::env::var(name)
        && !v.trim().is_empty()
    {
        return Some(v);
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/nodelet-env/env");
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

fn missing<T>(why: &str) -> Option<T> {
    let message = format!(
        "{why}: start the environment with `cargo xtask setup` (as root, on a host with \
         cgroup v1 controllers), or run everything with `cargo xtask test`"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("skipping: {message}");
    None
}

/// A shared `flock` on `$NODELET_ENV_DIR/runtime.lock` (see the module docs), released
/// when the file is dropped, even by a panic.
fn lock_runtime_shared() -> File {
    let dir = env_var("NODELET_ENV_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join("runtime.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    file.lock_shared()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    file
}

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

/// Pod workers, the PLEG and the node's cgroups under a [`CgroupRoot`]; stops the workers
/// and removes the pods' sandboxes when dropped (then the root goes).
struct Node {
    runtime: Arc<GrpcRuntime>,
    workers: Arc<PodWorkers>,
    statuses: MemoryStatusSink,
    events: MemoryEvents,
    uids: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dirs: tempfile::TempDir,
    root: CgroupRoot,
    _lock: File,
}

impl Node {
    /// `None` (after saying why) when the environment is missing, outside CI.
    async fn start(pod_pids_limit: i64) -> Option<Node> {
        let root_user = std::fs::metadata("/proc/self").is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        });
        if !root_user {
            return missing("these tests need root");
        }
        match detect_mode(
            Path::new("/proc/self/mountinfo"),
            Path::new(DEFAULT_CGROUP_MOUNT),
        ) {
            Ok(CgroupMode::Legacy | CgroupMode::Hybrid) => {}
            other => return missing(&format!("no cgroup v1 controllers ({other:?})")),
        }
        let Some(endpoint) = env_var(ENDPOINT_VAR) else {
            return missing(&format!("{ENDPOINT_VAR} is not set"));
        };
        let lock = lock_runtime_shared();
        let runtime = match GrpcRuntime::connect(&endpoint).await {
            Ok(r) => Arc::new(r),
            Err(e) => return missing(&format!("{ENDPOINT_VAR}={endpoint}: {e}")),
        };
        if let Err(e) = runtime.version(v1::VersionRequest::default()).await {
            return missing(&format!("the runtime at {endpoint} does not answer: {e}"));
        }

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
        let cgroups = NodeCgroups::new(manager);

        let dirs = tempfile::tempdir().expect("a temporary directory");
        let statuses = MemoryStatusSink::new();
        let events_log = MemoryEvents::new();
        let host = PodHost {
            status: Arc::new(statuses.clone()),
            events: Arc::new(events_log.clone()),
            cgroups: Arc::new(cgroups.clone()),
            ..PodHost::new(runtime.clone(), runtime.clone())
        };
        let config = WorkerConfig {
            pod_logs_dir: dirs.path().join("logs"),
            root_dir: Some(dirs.path().join("root")),
            resources: cgroups.manager().config().resources.clone(),
            ..WorkerConfig::default()
        };
        let workers = Arc::new(PodWorkers::new(host, config));
        let (pleg, mut pleg_events) = Pleg::new(runtime.clone(), PlegConfig::default());
        let run = tokio::spawn(async move { pleg.run(std::future::pending()).await });
        let wake = tokio::spawn({
            let workers = workers.clone();
            async move {
                while let Some(e) = pleg_events.recv().await {
                    workers.wake(&e.pod_uid);
                }
            }
        });
        Some(Node {
            runtime,
            workers,
            statuses,
            events: events_log,
            uids: Vec::new(),
            tasks: vec![run, wake],
            _dirs: dirs,
            root,
            _lock: lock,
        })
    }

    fn run(&mut self, pod: &Pod) {
        self.uids.push(pod.metadata.uid.clone().unwrap());
        self.workers.update_pod(pod.clone());
    }

    async fn wait_for(&self, uid: &str, what: &str, ok: impl Fn(&PodStatus) -> bool) -> PodStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.statuses.get(uid)
                && ok(&status)
            {
                return status;
            }
            if Instant::now() > deadline {
                let events: Vec<String> = self
                    .events
                    .all()
                    .iter()
                    .map(|e| format!("{} {}: {}", e.pod, e.reason, e.message))
                    .collect();
                panic!(
                    "{uid}: {what} never happened; events {events:#?}; last status {:?}",
                    self.statuses.get(uid)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_running(&self, pod: &Pod) -> String {
        let uid = pod.metadata.uid.as_deref().unwrap();
        let status = self
            .wait_for(uid, "Running", |s| s.phase.as_deref() == Some("Running"))
            .await;
        let id = status.container_statuses.unwrap()[0]
            .container_id
            .clone()
            .unwrap();
        id.split_once("://").map(|(_, id)| id.to_owned()).unwrap()
    }

    async fn delete(&self, pod: &Pod) {
        self.workers.terminate_pod(pod.clone(), Some(0));
        let uid = pod.metadata.uid.as_deref().unwrap();
        tokio::time::timeout(Duration::from_secs(60), self.workers.wait_terminated(uid))
            .await
            .unwrap_or_else(|_| panic!("{uid} did not terminate"));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.workers.shutdown();
        for t in &self.tasks {
            t.abort();
        }
        // Sandboxes first (their processes hold the cgroups), then the cgroup root.
        let (runtime, uids) = (self.runtime.clone(), self.uids.clone());
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a cleanup runtime");
            rt.block_on(async {
                for uid in uids {
                    let filter = v1::PodSandboxFilter {
                        label_selector: [(labels::POD_UID.to_string(), uid)].into(),
                        ..Default::default()
                    };
                    let sandboxes = runtime
                        .list_pod_sandbox(v1::ListPodSandboxRequest {
                            filter: Some(filter),
                        })
                        .await
                        .map(|r| r.items)
                        .unwrap_or_default();
                    for s in sandboxes {
                        let id = s.id;
                        let _ = runtime
                            .stop_pod_sandbox(v1::StopPodSandboxRequest {
                                pod_sandbox_id: id.clone(),
                            })
                            .await;
                        let _ = runtime
                            .remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: id })
                            .await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn unique(name: &str) -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::SeqCst)
    )
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
    let uid = unique(name);
    Pod {
        metadata: ObjectMeta {
            name: Some(uid.clone()),
            namespace: Some("nodelet-cgroups-test".into()),
            uid: Some(uid),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            termination_grace_period_seconds: Some(2),
            containers: vec![Container {
                name: "app".into(),
                image: Some(
                    env_var("NODELET_BUSYBOX_IMAGE")
                        .unwrap_or_else(|| "localhost/busybox:1".into()),
                ),
                command: Some(vec!["sh".into(), "-c".into(), script.into()]),
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
    }
}

const SLEEP: &str = "trap 'exit 0' TERM; sleep 3600 & wait";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qs_04_qs_12_qs_14_qs_18_real_pod_cgroups_per_qos_class() {
    let Some(mut node) = Node::start(100).await else {
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
    let Some(mut node) = Node::start(-1).await else {
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
