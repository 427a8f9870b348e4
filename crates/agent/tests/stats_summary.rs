//! The stats collector against the real environment: a pod started through the real
//! containerd (`$NODELET_CRI_ENDPOINT`) in a pod cgroup made by the real cgroup manager on
//! this machine's cgroup v1 controllers, measured by [`StatsCollector`] as the kubelet
//! measures its pods (HT-04, HT-10).
//!
//! The pod is made straight through the CRI (`test_env::TestSandbox`) with the kubelet's
//! labels, its cgroup parent and log directory, and an `emptyDir` directory laid out where
//! the volume manager puts it; no agent runs, so the test holds the runtime lock shared (an
//! agent under test would remove the sandbox). The cgroup root is the test's own
//! (`/nodelet-stats-<pid>`), removed with everything under it when the test ends, and the
//! sandbox is removed even when an assertion fails.
//!
//! With `NODELET_STATS_DUMP=<file>` the full summary is written to that file.
//!
//! Without the environment, root or cgroup v1 the test returns early with a note, and fails
//! when `CI=true` (`test_env::skip`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent::stats::{StatsCollector, StatsConfig};
use cgroup_enforcer::allocatable::{HostPaths, Reservations, read_capacity};
use cgroup_enforcer::backend::{CgroupMode, DEFAULT_CGROUP_MOUNT, detect_mode};
use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager, ResourceOptions};
use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, Pod, PodSpec, Volume};
use kubelet_server::stats::{
    Summary, field_paths, render_cadvisor_metrics, render_resource_metrics,
};
use pod_lifecycle::logs::pod_log_dir;
use pod_lifecycle::worker::NodeCgroups;
use test_env::{RuntimeLock, TestSandbox, skip, unique_name, with_cleanup};
use volume_manager::layout::RootDir;

/// Set to a file path to keep the measured summary there (to compare its fields with the
/// real kubelet's, `kubelet_server::stats::field_paths`).
const DUMP_VAR: &str = "NODELET_STATS_DUMP";

/// The longest the test waits for the container to have used CPU and written a log line.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Burns a little CPU and logs a line, five times a second.
const BUSY: &str =
    "while true; do echo tick; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 0.2; done";

/// The test's cgroup root, removed with everything below it in every hierarchy on drop.
struct CgroupRoot(String);

impl Drop for CgroupRoot {
    fn drop(&mut self) {
        let cgroups = Cgroups::v1(DEFAULT_CGROUP_MOUNT);
        if let Err(e) = cgroups.remove(Path::new(self.0.trim_start_matches('/'))) {
            eprintln!("cleanup: cannot remove the cgroup root {}: {e}", self.0);
        }
    }
}

/// Root and cgroup v1 controllers, or a skip.
fn host_can_run() -> Option<()> {
    let root_user = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    if !root_user {
        return skip("the stats test needs root (it makes pod cgroups)");
    }
    match detect_mode(
        Path::new("/proc/self/mountinfo"),
        Path::new(DEFAULT_CGROUP_MOUNT),
    ) {
        Ok(CgroupMode::Legacy | CgroupMode::Hybrid) => Some(()),
        other => skip(&format!("no cgroup v1 controllers ({other:?})")),
    }
}

fn pod(name: &str, uid: &str) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some(name.into());
    pod.metadata.namespace = Some("nodelet-stats-test".into());
    pod.metadata.uid = Some(uid.into());
    pod.spec = Some(PodSpec {
        containers: vec![Container {
            name: "app".into(),
            image: Some(test_env::busybox_image()),
            ..Default::default()
        }],
        volumes: Some(vec![Volume {
            name: "scratch".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        }]),
        ..Default::default()
    });
    pod
}

/// The pod's entry in `summary`, once it has one.
fn find<'a>(summary: &'a Summary, uid: &str) -> Option<&'a kubelet_server::stats::PodStats> {
    summary.pods.iter().find(|p| p.pod_ref.uid == uid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ht_04_ht_10_real_pod_in_the_summary_and_resource_metrics() {
    let Some(()) = host_can_run() else { return };
    let Some(runtime) = test_env::runtime().await else {
        return;
    };
    let _lock = RuntimeLock::shared().expect("the runtime lock");

    // The node's cgroups under a root of the test's own, as the agent sets them up.
    let root = CgroupRoot(format!("/nodelet-stats-{}", std::process::id()));
    let capacity = read_capacity(&HostPaths::default()).expect("reading the capacity");
    let config = CgroupConfig {
        cgroup_root: root.0.clone(),
        resources: ResourceOptions {
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

    let name = unique_name("stats");
    let uid = unique_name("uid");
    let pod = pod(&name, &uid);
    let parent = manager.ensure_pod(&pod).expect("the pod cgroup");

    // The directories the agent would own, with the emptyDir as the volume manager lays it
    // out.
    let dirs = tempfile::tempdir().unwrap();
    let (root_dir, logs_dir) = (dirs.path().join("root"), dirs.path().join("logs"));
    let scratch = RootDir::new(&root_dir)
        .pod(&uid)
        .unwrap()
        .volume_dir("kubernetes.io/empty-dir", "scratch")
        .unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(scratch.join("data"), vec![7u8; 64 * 1024]).unwrap();
    let log_dir: PathBuf = pod_log_dir(&logs_dir, &pod).unwrap();
    std::fs::create_dir_all(&log_dir).unwrap();

    let sandbox = TestSandbox::builder("nodelet-stats-test", &name, &uid)
        .cgroup_parent(&parent)
        .log_directory(&log_dir)
        .run(runtime.as_ref())
        .await
        .expect("the sandbox");
    let cleanup_runtime = runtime.clone();
    let cleanup_sandbox = sandbox.clone();
    with_cleanup(
        async {
            let container = sandbox
                .start_container(
                    runtime.as_ref(),
                    "app",
                    &test_env::busybox_image(),
                    &["sh", "-c", BUSY],
                )
                .await
                .expect("the container");

            let collector = StatsCollector::new(
                StatsConfig::new("stats-node", &root_dir, &logs_dir),
                runtime.clone(),
                runtime.clone(),
                NodeCgroups::new(manager),
                {
                    let pod = pod.clone();
                    move || vec![pod.clone()]
                },
            );

            // Wait until the container has used CPU and logged.
            let started = Instant::now();
            let summary = loop {
                let summary = collector.summary(false).await.expect("the summary");
                let ready = find(&summary, &uid).is_some_and(|p| {
                    p.containers.iter().any(|c| {
                        c.cpu.as_ref().and_then(|c| c.usage_core_nano_seconds) > Some(0)
                            && c.logs.as_ref().and_then(|l| l.used_bytes) > Some(0)
                    })
                });
                if ready {
                    break summary;
                }
                assert!(
                    started.elapsed() < TIMEOUT,
                    "the pod never showed CPU and logs: {}",
                    serde_json::to_string_pretty(&summary).unwrap()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            };

            if let Some(path) = std::env::var_os(DUMP_VAR) {
                let json = kubelet_server::stats::to_json_indented(&summary).unwrap();
                std::fs::write(&path, json).expect("writing the summary");
            }

            // HT-04: the node, and the pod with its podRef.
            let node = &summary.node;
            assert_eq!(node.node_name, "stats-node");
            assert!(node.cpu.as_ref().unwrap().usage_core_nano_seconds > Some(0));
            assert!(node.memory.as_ref().unwrap().working_set_bytes > Some(0));
            assert!(node.fs.as_ref().unwrap().capacity_bytes > Some(0));
            assert!(
                node.runtime
                    .as_ref()
                    .unwrap()
                    .image_fs
                    .as_ref()
                    .unwrap()
                    .used_bytes
                    > Some(0)
            );
            assert!(node.rlimit.as_ref().unwrap().max_pid > Some(0));
            assert!(node.system_containers.iter().any(|c| c.name == "pods"));
            let p = find(&summary, &uid).unwrap();
            assert_eq!(p.pod_ref.name, name);
            assert_eq!(p.pod_ref.namespace, "nodelet-stats-test");
            assert!(!p.start_time.is_zero());
            assert!(p.cpu.as_ref().unwrap().usage_core_nano_seconds > Some(0));
            assert!(p.memory.as_ref().unwrap().working_set_bytes > Some(0));
            let c = p.containers.iter().find(|c| c.name == "app").unwrap();
            assert!(c.memory.as_ref().unwrap().working_set_bytes > Some(0));
            assert!(c.memory.as_ref().unwrap().rss_bytes.is_some());
            assert!(c.rootfs.as_ref().unwrap().used_bytes.is_some());
            assert!(p.process_stats.as_ref().unwrap().process_count >= Some(1));
            let network = p.network.as_ref().expect("the sandbox's network");
            assert!(!network.interfaces.is_empty(), "{network:?}");
            let volume = p.volume_stats.iter().find(|v| v.name == "scratch").unwrap();
            assert!(volume.fs.used_bytes >= Some(64 * 1024));
            let ephemeral = p.ephemeral_storage.as_ref().unwrap();
            assert!(ephemeral.used_bytes > volume.fs.used_bytes);
            let paths = field_paths(&serde_json::to_value(&summary).unwrap());
            for path in [
                "pods[].podRef.name",
                "pods[].podRef.namespace",
                "pods[].podRef.uid",
                "pods[].containers[].cpu.usageNanoCores",
                "pods[].containers[].logs.usedBytes",
                "pods[].network.interfaces[].name",
            ] {
                assert!(paths.contains(path), "{path} missing");
            }

            // HT-10: /metrics/resource from the CPU-and-memory summary.
            let cpu_only = collector
                .summary(true)
                .await
                .expect("the CPU and memory summary");
            assert!(find(&cpu_only, &uid).unwrap().network.is_none());
            let text = render_resource_metrics(Some(&cpu_only));
            let labels =
                format!("{{container=\"app\",namespace=\"nodelet-stats-test\",pod=\"{name}\"}} ");
            for metric in [
                "container_cpu_usage_seconds_total",
                "container_memory_working_set_bytes",
            ] {
                assert!(
                    text.lines()
                        .any(|l| l.starts_with(&format!("{metric}{labels}"))),
                    "no {metric} for the pod in\n{text}"
                );
            }

            // /metrics/cadvisor: the container's cgroup under its runtime ID.
            let cgroups = collector.cadvisor_cgroups().await.expect("the cgroups");
            let info = cgroups
                .iter()
                .find(|c| c.name == container)
                .expect("the container's cgroup");
            assert_eq!(info.container, "app");
            assert_eq!(info.pod, name);
            assert!(
                info.id.ends_with(&format!("/pod{uid}/{container}")),
                "{}",
                info.id
            );
            let text = render_cadvisor_metrics(Some(&cgroups), jiff::Timestamp::now());
            assert!(text.contains(&format!("name=\"{container}\"")));
        },
        async move {
            if let Err(e) = cleanup_sandbox.remove(cleanup_runtime.as_ref()).await {
                eprintln!("cleanup: {e}");
            }
        },
    )
    .await;
    drop(root);
}
