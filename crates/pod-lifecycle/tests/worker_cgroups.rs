//! Pod workers with the real cgroup adapter ([`NodeCgroups`]) on a temporary directory
//! shaped like cgroup v1, against `FakeRuntime`: the pod cgroup is made before the
//! sandbox, container resources carry the QoS formulas, a pod whose cgroup
//! disappears is killed and recreated (QS-19), and termination removes the cgroup.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager, ResourceOptions};
use cri_client::fake::FakeRuntime;
use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_lifecycle::worker::{NodeCgroups, PodCgroups, PodHost, SystemClock, WorkerConfig};

mod common;

use common::fake::{FakeNode, running_containers, sandboxes};

const CONTROLLERS: [&str; 5] = ["cpu", "cpuacct", "cpuset", "memory", "pids"];

/// The fake node with the real cgroup adapter over a tree shaped like cgroup v1 (its
/// fields through `Deref`), on the system clock: the test waits in real time.
struct Harness {
    node: FakeNode,
    cgroups: NodeCgroups,
    root: tempfile::TempDir,
}

impl std::ops::Deref for Harness {
    type Target = FakeNode;

    fn deref(&self) -> &FakeNode {
        &self.node
    }
}

impl Harness {
    fn new() -> Harness {
        let root = tempfile::tempdir().unwrap();
        for controller in CONTROLLERS {
            std::fs::create_dir(root.path().join(controller)).unwrap();
        }
        // The cpuset files a new v1 cgroup copies from its parent.
        std::fs::write(root.path().join("cpuset/cpuset.cpus"), "0-1").unwrap();
        std::fs::write(root.path().join("cpuset/cpuset.mems"), "0").unwrap();
        let config = CgroupConfig {
            resources: ResourceOptions {
                memory_capacity: 8 << 30,
                ..Default::default()
            },
            ..Default::default()
        };
        let manager = PodCgroupManager::new(config, Cgroups::v1(root.path())).unwrap();
        let cgroups = NodeCgroups::new(manager);
        let config = WorkerConfig {
            resources: cgroups.manager().config().resources.clone(),
            ..WorkerConfig::default()
        };
        let node = FakeNode::build(FakeRuntime::with_busybox(), config, |host| PodHost {
            cgroups: Arc::new(cgroups.clone()),
            clock: Arc::new(SystemClock),
            ..host
        });
        Harness {
            node,
            cgroups,
            root,
        }
    }

    fn dir(&self, controller: &str, cgroup: &str) -> PathBuf {
        self.root
            .path()
            .join(controller)
            .join(cgroup.trim_start_matches('/'))
    }

    async fn sandboxes(&self) -> Vec<v1::PodSandbox> {
        sandboxes(&self.fake).await
    }

    async fn running_containers(&self) -> Vec<v1::Container> {
        running_containers(&self.fake).await
    }
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn burstable_pod(uid: &str) -> Pod {
    let list = |items: &[(&str, &str)]| {
        Some(
            items
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    };
    common::fake::pod(
        uid,
        PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("localhost/busybox:1".into()),
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "trap 'exit 0' TERM; sleep 3600 & wait".into(),
                ]),
                resources: Some(ResourceRequirements {
                    requests: list(&[("cpu", "250m"), ("memory", "4Gi")]),
                    limits: list(&[("cpu", "500m")]),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
}

fn remove_tree(dir: &Path) {
    // Depth first, as one removes a cgroup by hand (a plain directory tree here).
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qs_16_pod_cgroup_before_the_sandbox_and_oom_score_in_the_cri_resources() {
    let h = Harness::new();
    let pod = burstable_pod("cg-1");
    h.workers.update_pod(pod.clone());
    wait_until("the container to run", || async {
        h.running_containers().await.len() == 1
    })
    .await;

    // The pod cgroup exists with the Burstable pod's limits, before and under the sandbox.
    let cgroup = "/kubepods/burstable/podcg-1";
    assert_eq!(
        std::fs::read_to_string(h.dir("cpu", cgroup).join("cpu.shares")).unwrap(),
        "256"
    );
    assert_eq!(
        std::fs::read_to_string(h.dir("cpu", cgroup).join("cpu.cfs_quota_us")).unwrap(),
        "50000"
    );
    // The burstable QoS cgroup's shares follow the pod's request (QS-12).
    assert_eq!(
        std::fs::read_to_string(h.dir("cpu", "/kubepods/burstable").join("cpu.shares")).unwrap(),
        "256"
    );
    // What reached the runtime for the container: the CRI resources from the same formulas.
    let id = h.running_containers().await.remove(0).id;
    let resources = h
        .fake
        .container_status(v1::ContainerStatusRequest {
            container_id: id,
            verbose: false,
        })
        .await
        .unwrap()
        .status
        .unwrap()
        .resources
        .unwrap()
        .linux
        .unwrap();
    assert_eq!(
        (
            resources.cpu_shares,
            resources.cpu_quota,
            resources.cpu_period
        ),
        (256, 50_000, 100_000)
    );
    // QS-16: Burstable with 4Gi requested on an 8Gi node.
    assert_eq!(resources.oom_score_adj, 500);

    // Termination removes the pod cgroup from every controller.
    h.workers.terminate_pod(pod, Some(0));
    h.workers.wait_terminated("cg-1").await;
    for controller in CONTROLLERS {
        assert!(!h.dir(controller, cgroup).exists(), "{controller}");
    }
    assert_eq!(
        std::fs::read_to_string(h.dir("cpu", "/kubepods/burstable").join("cpu.shares")).unwrap(),
        "2",
        "the burstable QoS cgroup no longer counts the pod"
    );
    h.workers.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qs_19_missing_pod_cgroup_kills_and_recreates_the_pod() {
    let h = Harness::new();
    let pod = burstable_pod("cg-19");
    h.workers.update_pod(pod.clone());
    wait_until("the container to run", || async {
        h.running_containers().await.len() == 1
    })
    .await;
    let first_sandbox = h.sandboxes().await.remove(0).id;
    let first_container = h.running_containers().await.remove(0).id;
    assert!(h.cgroups.exists(&pod).await.unwrap());

    // Someone removes the pod cgroup while the pod runs.
    for controller in CONTROLLERS {
        remove_tree(&h.dir(controller, "/kubepods/burstable/podcg-19"));
    }
    assert!(!h.cgroups.exists(&pod).await.unwrap());
    h.workers.wake("cg-19");

    // The pod is killed and comes back in a new sandbox, inside a new pod cgroup.
    wait_until("a new sandbox with a running container", || async {
        let ready = h
            .sandboxes()
            .await
            .into_iter()
            .filter(|s| s.state == v1::PodSandboxState::SandboxReady as i32)
            .map(|s| s.id)
            .collect::<Vec<_>>();
        let running = h.running_containers().await;
        ready.len() == 1
            && ready[0] != first_sandbox
            && running.len() == 1
            && running[0].id != first_container
    })
    .await;
    assert!(h.cgroups.exists(&pod).await.unwrap());
    assert_eq!(
        std::fs::read_to_string(
            h.dir("cpu", "/kubepods/burstable/podcg-19")
                .join("cpu.shares")
        )
        .unwrap(),
        "256"
    );
    assert!(
        !h.fake.calls_to("StopPodSandbox").is_empty(),
        "the old sandbox was stopped"
    );
    assert!(
        !h.events.with_reason("SandboxChanged").is_empty(),
        "{:?}",
        h.events.all()
    );

    h.workers.terminate_pod(pod, Some(0));
    h.workers.wait_terminated("cg-19").await;
    h.workers.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qs_19_a_new_pod_is_never_killed_for_a_missing_cgroup() {
    // First sync: no container runs yet, so the missing cgroup is simply created.
    let h = Harness::new();
    let pod = burstable_pod("cg-new");
    h.workers.update_pod(pod.clone());
    wait_until("the container to run", || async {
        h.running_containers().await.len() == 1
    })
    .await;
    assert!(h.fake.calls_to("StopContainer").is_empty());
    assert!(h.fake.calls_to("StopPodSandbox").is_empty());
    h.workers.terminate_pod(pod, Some(0));
    h.workers.wait_terminated("cg-new").await;
    h.workers.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_pod_cgroups_are_removed_and_active_ones_kept() {
    let h = Harness::new();
    let kept = burstable_pod("kept");
    let orphan = burstable_pod("orphan");
    h.cgroups.ensure(&kept).await.unwrap();
    h.cgroups.ensure(&orphan).await.unwrap();
    let removed = h
        .cgroups
        .remove_orphans(Box::new(|| ["kept".to_string()].into()))
        .await
        .unwrap();
    assert_eq!(removed, ["orphan"]);
    assert!(h.cgroups.exists(&kept).await.unwrap());
    assert!(!h.cgroups.exists(&orphan).await.unwrap());
    h.cgroups.remove(&kept).await.unwrap();
    h.cgroups.update_qos_cgroups().await.unwrap();
}
