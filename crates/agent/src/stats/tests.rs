//! The collector over the fake runtime and a cgroup v1 tree in a temporary directory: the
//! summary's shape and values come from the cgroup files, the runtime and the directories
//! exactly where the kubelet takes them.

use std::path::Path;
use std::sync::Arc;

use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager};
use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, Pod, PodSpec, SecretVolumeSource, Volume,
};
use kubelet_server::stats::{field_paths, render_resource_metrics};
use pod_lifecycle::worker::NodeCgroups;
use test_env::TestSandbox;

use super::*;

const UID: &str = "0b9f1f5e-1111-2222-3333-444455556666";

/// A cgroup v1 tree shaped like cgroupfs: `rel` in every required controller, with the
/// files cAdvisor reads.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let tree = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        tree.cgroup("", 9_000_000_000, 4 << 30, "");
        tree
    }

    /// Cgroup `rel` using `cpu_ns` of CPU and `memory` bytes (a quarter of them inactive
    /// file pages), with processes `procs` (one per line).
    fn cgroup(&self, rel: &str, cpu_ns: u64, memory: u64, procs: &str) {
        for controller in ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio"] {
            std::fs::create_dir_all(self.dir.path().join(controller).join(rel)).unwrap();
        }
        let write = |controller: &str, file: &str, value: String| {
            std::fs::write(self.dir.path().join(controller).join(rel).join(file), value).unwrap();
        };
        write("cpuacct", "cpuacct.usage", format!("{cpu_ns}\n"));
        write("memory", "memory.usage_in_bytes", format!("{memory}\n"));
        write(
            "memory",
            "memory.stat",
            format!(
                "pgfault 100\npgmajfault 2\ntotal_rss {}\ntotal_cache {}\ntotal_inactive_file {}\ntotal_swap 0\n",
                memory / 2,
                memory / 2,
                memory / 4
            ),
        );
        write(
            "memory",
            "memory.limit_in_bytes",
            "9223372036854771712\n".into(),
        );
        write(
            "memory",
            "memory.memsw.limit_in_bytes",
            "9223372036854771712\n".into(),
        );
        write("pids", "pids.current", "1\n".into());
        write("pids", "pids.max", "max\n".into());
        write("cpu", "cgroup.procs", procs.into());
    }
}

fn pod() -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some("web".into());
    pod.metadata.namespace = Some("default".into());
    pod.metadata.uid = Some(UID.into());
    pod.spec = Some(PodSpec {
        containers: vec![Container {
            name: "app".into(),
            image: Some(BUSYBOX_IMAGE.into()),
            ..Default::default()
        }],
        volumes: Some(vec![
            Volume {
                name: "scratch".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
            Volume {
                name: "token".into(),
                secret: Some(SecretVolumeSource::default()),
                ..Default::default()
            },
            // Never mounted: no stats.
            Volume {
                name: "missing".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    });
    pod
}

struct Setup {
    collector: StatsCollector,
    tree: Tree,
    _root: tempfile::TempDir,
    _logs: tempfile::TempDir,
    container_id: String,
    sandbox_id: String,
}

async fn setup() -> Setup {
    let tree = Tree::new();
    let root = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let runtime = Arc::new(FakeRuntime::with_busybox());
    let sandbox = TestSandbox::builder("default", "web", UID)
        .run(runtime.as_ref())
        .await
        .unwrap();
    let container_id = sandbox
        .start_container(runtime.as_ref(), "app", BUSYBOX_IMAGE, &["sleep", "3600"])
        .await
        .unwrap();
    // The BestEffort pod's cgroup and its container's, as the runtime makes them; the
    // sandbox holds this test's process, whose network namespace the pod then reports.
    let pod_rel = format!("kubepods/besteffort/pod{UID}");
    tree.cgroup("kubepods", 3_000_000_000, 64 << 20, "");
    tree.cgroup("kubepods/burstable", 0, 0, "");
    tree.cgroup("kubepods/besteffort", 2_000_000_000, 32 << 20, "");
    tree.cgroup(&pod_rel, 2_000_000_000, 32 << 20, "");
    tree.cgroup(
        &format!("{pod_rel}/{container_id}"),
        1_500_000_000,
        16 << 20,
        "7\n8\n",
    );
    tree.cgroup(
        &format!("{pod_rel}/{}", sandbox.id),
        1_000_000,
        1 << 20,
        &format!("{}\n", std::process::id()),
    );

    // A 10 KB file in the emptyDir, one in the secret, 4 KB of logs.
    let volumes = root.path().join(format!("pods/{UID}/volumes"));
    for (dir, size) in [
        ("kubernetes.io~empty-dir/scratch", 10_000),
        ("kubernetes.io~secret/token", 100),
    ] {
        std::fs::create_dir_all(volumes.join(dir)).unwrap();
        std::fs::write(volumes.join(dir).join("data"), vec![7u8; size]).unwrap();
    }
    std::fs::write(
        root.path().join(format!("pods/{UID}/etc-hosts")),
        "127.0.0.1 localhost\n",
    )
    .unwrap();
    let container_logs = logs.path().join(format!("default_web_{UID}/app"));
    std::fs::create_dir_all(&container_logs).unwrap();
    std::fs::write(container_logs.join("0.log"), vec![b'x'; 4096]).unwrap();

    let manager =
        PodCgroupManager::new(CgroupConfig::default(), Cgroups::v1(tree.dir.path())).unwrap();
    let config = StatsConfig {
        sandbox_image: "localhost/pause:1".into(),
        ..StatsConfig::new("node-1", root.path(), logs.path())
    };
    let collector = StatsCollector::new(
        config,
        runtime.clone(),
        runtime,
        NodeCgroups::new(manager),
        || vec![pod()],
    );
    Setup {
        collector,
        tree,
        _root: root,
        _logs: logs,
        container_id,
        sandbox_id: sandbox.id,
    }
}

#[tokio::test]
async fn ht_04_summary_from_cgroups_runtime_and_directories() {
    let s = setup().await;
    let summary = s.collector.summary(false).await.unwrap();

    let node = &summary.node;
    assert_eq!(node.node_name, "node-1");
    let cpu = node.cpu.as_ref().unwrap();
    assert_eq!(cpu.usage_core_nano_seconds, Some(9_000_000_000));
    assert_eq!(cpu.usage_nano_cores, Some(0), "no earlier sample");
    let memory = node.memory.as_ref().unwrap();
    assert_eq!(memory.usage_bytes, Some(4 << 30));
    assert_eq!(memory.working_set_bytes, Some(3 << 30));
    // The root's limit is the machine's memory.
    assert!(memory.available_bytes.is_some());
    assert!(node.fs.as_ref().unwrap().capacity_bytes.unwrap() > 0);
    let image_fs = node.runtime.as_ref().unwrap().image_fs.as_ref().unwrap();
    assert!(image_fs.used_bytes.is_some());
    let rlimit = node.rlimit.as_ref().unwrap();
    assert!(rlimit.max_pid.unwrap() > 0 && rlimit.num_of_running_processes.unwrap() > 0);
    let pods = node
        .system_containers
        .iter()
        .find(|c| c.name == "pods")
        .expect("the pods system container");
    assert_eq!(
        pods.cpu.as_ref().unwrap().usage_core_nano_seconds,
        Some(3_000_000_000)
    );
    assert!(pods.logs.is_none() && pods.rootfs.is_none());

    assert_eq!(summary.pods.len(), 1);
    let p = &summary.pods[0];
    assert_eq!(
        p.pod_ref,
        PodReference {
            name: "web".into(),
            namespace: "default".into(),
            uid: UID.into()
        }
    );
    assert!(!p.start_time.is_zero());
    assert_eq!(
        p.cpu.as_ref().unwrap().usage_core_nano_seconds,
        Some(2_000_000_000)
    );
    assert_eq!(p.memory.as_ref().unwrap().working_set_bytes, Some(24 << 20));
    assert_eq!(p.memory.as_ref().unwrap().rss_bytes, Some(16 << 20));
    assert_eq!(p.process_stats.as_ref().unwrap().process_count, Some(2));
    let network = p.network.as_ref().expect("the sandbox's network");
    assert!(network.interfaces.iter().all(|i| !i.name.starts_with("lo")));

    let [c] = &p.containers[..] else {
        panic!("{:?}", p.containers)
    };
    assert_eq!(c.name, "app");
    assert_eq!(
        c.cpu.as_ref().unwrap().usage_core_nano_seconds,
        Some(1_500_000_000)
    );
    let memory = c.memory.as_ref().unwrap();
    assert_eq!(memory.working_set_bytes, Some(12 << 20));
    assert_eq!(
        (memory.page_faults, memory.major_page_faults),
        (Some(100), Some(2))
    );
    assert_eq!(memory.available_bytes, None, "no limit");
    assert!(c.rootfs.as_ref().unwrap().used_bytes.is_some());
    let logs = c.logs.as_ref().unwrap();
    assert!(logs.used_bytes.unwrap() >= 4096 && logs.inodes_used == Some(1));
    assert!(logs.capacity_bytes.is_some());
    assert_eq!(c.swap.as_ref().unwrap().swap_usage_bytes, Some(0));

    // Both mounted volumes, the ephemeral one first; the missing one left out.
    let names: Vec<&str> = p.volume_stats.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["scratch", "token"]);
    let scratch = &p.volume_stats[0].fs;
    assert!(scratch.used_bytes.unwrap() >= 8192 && scratch.inodes_used == Some(2));
    // Ephemeral storage: the writable layer, the logs, the emptyDir and etc-hosts, not the
    // secret.
    let ephemeral = p.ephemeral_storage.as_ref().unwrap();
    let expected = c.rootfs.as_ref().unwrap().used_bytes.unwrap()
        + logs.used_bytes.unwrap()
        + scratch.used_bytes.unwrap();
    assert!(ephemeral.used_bytes.unwrap() > expected, "{ephemeral:?}");
    let token = p.volume_stats[1].fs.used_bytes.unwrap();
    assert!(ephemeral.used_bytes.unwrap() - expected < token + 8192);

    // The document has the fields the kubelet's has.
    let paths = field_paths(&serde_json::to_value(&summary).unwrap());
    for path in [
        "node.cpu.psi.some.avg10",
        "node.io.psi",
        "node.network.interfaces[].rxBytes",
        "node.runtime.containerFs.usedBytes",
        "node.systemContainers[].memory.workingSetBytes",
        "pods[].podRef.uid",
        "pods[].containers[].logs.inodesUsed",
        "pods[].containers[].rootfs.usedBytes",
        "pods[].volume[].name",
        "pods[].ephemeral-storage.usedBytes",
        "pods[].process_stats.process_count",
        "pods[].swap.swapUsageBytes",
    ] {
        assert!(paths.contains(path), "{path} missing from {paths:#?}");
    }
}

#[tokio::test]
async fn ht_10_cpu_and_memory_only_and_the_resource_metrics_from_it() {
    let s = setup().await;
    let summary = s.collector.summary(true).await.unwrap();
    let node = &summary.node;
    assert!(node.fs.is_none() && node.runtime.is_none() && node.network.is_none());
    let p = &summary.pods[0];
    assert!(p.network.is_none() && p.volume_stats.is_empty() && p.ephemeral_storage.is_none());
    let c = &p.containers[0];
    assert!(c.rootfs.is_none() && c.logs.is_none());
    assert_eq!(c.memory.as_ref().unwrap().working_set_bytes, Some(12 << 20));

    let text = render_resource_metrics(Some(&summary));
    let line = text
        .lines()
        .find(|l| l.starts_with("container_cpu_usage_seconds_total{"))
        .unwrap();
    assert!(
        line.starts_with(
            "container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"web\"} 1.5 "
        ),
        "{line}"
    );
    assert!(text.contains(
        "container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"web\"} 1.2582912e+07 "
    ));
    assert!(text.contains(
        "pod_memory_working_set_bytes{namespace=\"default\",pod=\"web\"} 2.5165824e+07 "
    ));
    assert!(text.contains("node_cpu_usage_seconds_total 9 "));
}

#[tokio::test]
async fn usage_nano_cores_is_the_rate_since_the_previous_sample() {
    let s = setup().await;
    let first = s.collector.summary(true).await.unwrap();
    assert_eq!(
        first.pods[0].containers[0]
            .cpu
            .as_ref()
            .unwrap()
            .usage_nano_cores,
        Some(0)
    );
    // Half a core over at least a second: 1.1 s later, 0.55 s more CPU.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rel = format!("kubepods/besteffort/pod{UID}/{}", s.container_id);
    std::fs::write(
        s.tree
            .dir
            .path()
            .join("cpuacct")
            .join(&rel)
            .join("cpuacct.usage"),
        "2050000000\n",
    )
    .unwrap();
    let second = s.collector.summary(true).await.unwrap();
    let cores = second.pods[0].containers[0]
        .cpu
        .as_ref()
        .unwrap()
        .usage_nano_cores
        .unwrap();
    assert!((300_000_000..=500_000_000).contains(&cores), "{cores}");
}

#[tokio::test]
async fn cadvisor_cgroups_with_the_kubelet_labels() {
    let s = setup().await;
    let cgroups = s.collector.cadvisor_cgroups().await.unwrap();
    let find = |id: &str| {
        cgroups
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id} in {cgroups:#?}"))
    };
    let root = find("/");
    assert_eq!(root.cpu_usage_ns, Some(9_000_000_000));
    assert_eq!(root.filesystems.len(), 1);
    assert!(!root.network.is_empty() || std::fs::read_to_string("/proc/1/net/dev").is_err());
    assert_eq!(find("/kubepods").pod, "");
    let pod = find(&format!("/kubepods/besteffort/pod{UID}"));
    assert_eq!(
        (pod.pod.as_str(), pod.namespace.as_str(), pod.name.as_str()),
        ("web", "default", "")
    );
    let container = find(&format!("/kubepods/besteffort/pod{UID}/{}", s.container_id));
    assert_eq!(container.name, s.container_id);
    assert_eq!(container.container, "app");
    assert_eq!(container.image, BUSYBOX_IMAGE);
    assert_eq!(container.memory.unwrap().working_set_bytes, 12 << 20);
    assert_eq!(container.processes.unwrap().processes, 2);
    assert!(container.network.is_empty());
    let sandbox = find(&format!("/kubepods/besteffort/pod{UID}/{}", s.sandbox_id));
    assert_eq!(
        (sandbox.container.as_str(), sandbox.image.as_str()),
        ("", "localhost/pause:1")
    );
    assert!(!sandbox.network.is_empty() || std::fs::read_to_string("/proc/self/net/dev").is_err());

    let text = kubelet_server::stats::render_cadvisor_metrics(Some(&cgroups), Timestamp::now());
    assert!(text.contains(&format!(
        "container_memory_working_set_bytes{{container=\"app\",id=\"/kubepods/besteffort/pod{UID}/{id}\",image=\"{BUSYBOX_IMAGE}\",name=\"{id}\",namespace=\"default\",pod=\"web\"}} 1.2582912e+07 ",
        id = s.container_id
    )));
}

#[test]
fn terminated_sandboxes_give_way_to_a_ready_one() {
    let sandbox = |id: &str, name: &str, created_at: i64, ready: bool| v1::PodSandbox {
        id: id.into(),
        metadata: Some(v1::PodSandboxMetadata {
            name: name.into(),
            namespace: "ns".into(),
            ..Default::default()
        }),
        state: if ready {
            v1::PodSandboxState::SandboxReady as i32
        } else {
            v1::PodSandboxState::SandboxNotready as i32
        },
        created_at,
        ..Default::default()
    };
    let kept = remove_terminated_pods(vec![
        sandbox("a1", "a", 1, false),
        sandbox("a2", "a", 2, true),
        sandbox("b1", "b", 1, false),
        sandbox("b2", "b", 2, false),
        sandbox("c1", "c", 1, false),
    ]);
    let mut ids: Vec<&str> = kept.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["a2", "b2", "c1"]);
}

#[test]
fn paths_from_pods_stay_inside_their_directories() {
    let meta = v1::PodSandboxMetadata {
        name: "web".into(),
        namespace: "..".into(),
        uid: "u".into(),
        attempt: 0,
    };
    assert_eq!(pod_logs_dir_of(Path::new("/var/log/pods"), &meta), None);
    let root = FsInfo {
        capacity: 1,
        available: 1,
        usage: 0,
        inodes: 1,
        inodes_free: 1,
    };
    assert_eq!(
        container_log_stats(Path::new("/tmp"), "../etc", Time::now(), &root),
        None
    );
}
