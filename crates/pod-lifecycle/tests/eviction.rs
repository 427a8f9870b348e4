//! The eviction manager on `FakeRuntime` in virtual time, with scripted stats: which pod
//! goes, one a sync, with which grace and which final status; node-level reclaim first for
//! disk pressure; admission under pressure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cri_client::fake::FakeRuntime;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_lifecycle::eviction::{
    EvictionManager, EvictionManagerConfig, EvictionStats, NoReclaim, NodeReclaim,
};
use pod_lifecycle::fake::FakeRuntimeClock;
use pod_lifecycle::plan::eviction::{
    Available, ContainerUsage, EvictionConfig, EvictionSignal, FsObservation, NodeObservations,
    NodePressure, Observations, PodUsage, ThresholdValue,
};
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{
    Clock, MemoryEvents, MemoryStatusSink, PodWorkers, SeamError, WorkerConfig, WorkerPhase,
};
use tokio_util::sync::CancellationToken;

mod common;

use common::fake::settle;

const MI: u64 = 1 << 20;
const GI: i64 = 1 << 30;

/// Stats scripted by the test, stamped with the fake runtime's clock.
struct ScriptedStats {
    clock: FakeRuntimeClock,
    current: Mutex<Observations>,
    reads: Mutex<usize>,
}

impl ScriptedStats {
    fn set(&self, obs: Observations) {
        *self.current.lock().unwrap() = obs;
    }
    fn update(&self, f: impl FnOnce(&mut Observations)) {
        f(&mut self.current.lock().unwrap());
    }
}

#[async_trait]
impl EvictionStats for ScriptedStats {
    async fn observe(&self) -> Result<Observations, SeamError> {
        *self.reads.lock().unwrap() += 1;
        let mut obs = self.current.lock().unwrap().clone();
        obs.node.time = Some(self.clock.now());
        Ok(obs)
    }
}

/// Reclaim that records what it was asked and, on image GC, frees the disk when told to.
#[derive(Default)]
struct RecordingReclaim {
    calls: Mutex<Vec<&'static str>>,
    frees: Option<Arc<ScriptedStats>>,
}

#[async_trait]
impl NodeReclaim for RecordingReclaim {
    async fn delete_unused_containers(&self) -> Result<(), SeamError> {
        self.calls.lock().unwrap().push("containers");
        Ok(())
    }
    async fn delete_unused_images(&self) -> Result<(), SeamError> {
        self.calls.lock().unwrap().push("images");
        if let Some(stats) = &self.frees {
            stats.update(|o| {
                if let Some(fs) = o.node.nodefs.as_mut() {
                    fs.bytes.available = fs.bytes.capacity / 2;
                }
                if let Some(fs) = o.node.imagefs.as_mut() {
                    fs.bytes.available = fs.bytes.capacity / 2;
                }
            });
        }
        Ok(())
    }
}

struct Node {
    fake: FakeRuntime,
    manager: Arc<PodManager>,
    statuses: MemoryStatusSink,
    events: MemoryEvents,
    stats: Arc<ScriptedStats>,
    eviction: Arc<EvictionManager>,
    _logs: tempfile::TempDir,
}

fn node(
    config: EvictionConfig,
    reclaim: impl FnOnce(Arc<ScriptedStats>) -> Arc<dyn NodeReclaim>,
) -> Node {
    let fake = FakeRuntime::with_busybox();
    let statuses = MemoryStatusSink::with_history();
    let events = MemoryEvents::new();
    let logs = tempfile::tempdir().unwrap();
    let host = common::fake::host(&fake, &statuses, &events);
    let workers = Arc::new(PodWorkers::new(
        host,
        WorkerConfig {
            pod_logs_dir: logs.path().to_owned(),
            runtime_name: "fake".into(),
            ..WorkerConfig::default()
        },
    ));
    let clock = FakeRuntimeClock::new(&fake);
    let manager = Arc::new(PodManager::new(
        workers,
        Arc::new(fake.clone()),
        Arc::new(statuses.clone()),
        Arc::new(clock.clone()),
        PodManagerConfig::default(),
    ));
    let stats = Arc::new(ScriptedStats {
        clock: clock.clone(),
        current: Mutex::new(Observations::default()),
        reads: Mutex::new(0),
    });
    let eviction = Arc::new(
        EvictionManager::new(
            EvictionManagerConfig {
                eviction: config,
                node_name: "node-a".into(),
                ..Default::default()
            },
            stats.clone(),
            reclaim(stats.clone()),
            manager.clone(),
            Arc::new(events.clone()),
            Arc::new(clock),
        )
        .unwrap(),
    );
    manager.set_node_pressure(eviction.pressure());
    Node {
        fake,
        manager,
        statuses,
        events,
        stats,
        eviction,
        _logs: logs,
    }
}

impl Node {
    /// Moves both clocks by `seconds`, waking every worker each second.
    async fn run(&self, seconds: u64) {
        for _ in 0..seconds {
            self.fake.advance(Duration::from_secs(1));
            tokio::time::advance(Duration::from_secs(1)).await;
            for uid in self.manager.workers().pods() {
                self.manager.workers().wake(&uid);
            }
            settle().await;
        }
    }

    fn status(&self, uid: &str) -> PodStatus {
        self.statuses.get(uid).expect("a status")
    }

    fn phase(&self, uid: &str) -> Option<String> {
        self.statuses.get(uid).and_then(|s| s.phase)
    }
}

fn resources(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Option<ResourceRequirements> {
    let map = |l: &[(&str, &str)]| {
        (!l.is_empty()).then(|| {
            l.iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect::<BTreeMap<_, _>>()
        })
    };
    Some(ResourceRequirements {
        requests: map(requests),
        limits: map(limits),
        ..Default::default()
    })
}

fn pod(uid: &str, requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Pod {
    common::fake::pod(
        uid,
        PodSpec {
            restart_policy: Some("Always".into()),
            termination_grace_period_seconds: Some(30),
            containers: vec![Container {
                name: "app".into(),
                image: Some("localhost/busybox:1".into()),
                image_pull_policy: Some("IfNotPresent".into()),
                command: Some(vec!["sh".into(), "-c".into(), "sleep infinity".into()]),
                resources: resources(requests, limits),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
}

fn static_pod(uid: &str) -> Pod {
    let mut p = pod(uid, &[], &[]);
    p.metadata.annotations = Some(BTreeMap::from([(
        "kubernetes.io/config.source".to_string(),
        "file".to_string(),
    )]));
    p
}

fn critical_pod(uid: &str) -> Pod {
    let mut p = pod(uid, &[], &[]);
    p.spec.as_mut().unwrap().priority = Some(2_000_000_000);
    p
}

fn usage(uid: &str, memory: u64) -> PodUsage {
    PodUsage {
        uid: uid.into(),
        namespace: "default".into(),
        name: format!("pod-{uid}"),
        containers: vec![ContainerUsage {
            name: "app".into(),
            memory_working_set: Some(memory),
            ..Default::default()
        }],
        memory_working_set: Some(memory),
        ..Default::default()
    }
}

fn memory_node(available: i64, pods: Vec<PodUsage>) -> Observations {
    Observations {
        node: NodeObservations {
            memory: Some(Available {
                available,
                capacity: 8 * GI,
            }),
            ..Default::default()
        },
        pods,
    }
}

/// The ids of the containers the runtime has for pod `uid`.
async fn container_ids(fake: &FakeRuntime, uid: &str) -> Vec<String> {
    common::fake::containers(fake)
        .await
        .into_iter()
        .filter(|c| {
            c.labels
                .get(pod_lifecycle::labels::POD_UID)
                .map(String::as_str)
                == Some(uid)
        })
        .map(|c| c.id)
        .collect()
}

/// The `StopContainer` timeouts sent for these containers.
fn stop_timeouts(fake: &FakeRuntime, ids: &[String]) -> Vec<Option<i64>> {
    fake.calls_to("StopContainer")
        .into_iter()
        .filter(|c| {
            c.id.as_deref()
                .is_some_and(|id| ids.iter().any(|i| i == id))
        })
        .map(|c| c.timeout)
        .collect()
}

fn disruption_target(status: &PodStatus) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget")
}

#[tokio::test(start_paused = true)]
async fn ev_06_memory_pressure_evicts_one_pod_a_sync_best_effort_first() {
    let n = node(EvictionConfig::default(), |_| Arc::new(NoReclaim));
    let pods = vec![
        pod("be", &[], &[]),
        pod("bu", &[("memory", "100Mi")], &[("memory", "1Gi")]),
        pod(
            "g",
            &[("memory", "1Gi"), ("cpu", "1")],
            &[("memory", "1Gi"), ("cpu", "1")],
        ),
        static_pod("static"),
        critical_pod("crit"),
    ];
    n.manager.set_source_pods("file", pods);
    n.run(3).await;
    for uid in ["be", "bu", "g", "static", "crit"] {
        assert_eq!(n.phase(uid).as_deref(), Some("Running"), "{uid}");
    }
    let all_usage = vec![
        usage("be", 200 * MI),
        usage("bu", 150 * MI),
        usage("g", 100 * MI),
        usage("static", 500 * MI),
        usage("crit", 600 * MI),
    ];
    n.stats.set(memory_node(80 << 20, all_usage.clone()));

    let be_ids = container_ids(&n.fake, "be").await;
    // EV-05: MemoryPressure, the node event.
    let evicted = n.eviction.synchronize().await.unwrap();
    assert_eq!(evicted, ["be"], "one pod a sync, BestEffort first");
    assert_eq!(
        *n.eviction.pressure().borrow(),
        NodePressure {
            memory: true,
            ..Default::default()
        }
    );
    let node_events = n.events.node_events();
    assert_eq!(node_events[0].node, "node-a");
    assert_eq!(node_events[0].reason, "EvictionThresholdMet");
    assert_eq!(node_events[0].message, "Attempting to reclaim memory");

    n.run(3).await;
    // EV-07: the final status.
    let status = n.status("be");
    let message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. \
                   Container app was using 200Mi, request is 0, has larger consumption of memory. ";
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("Evicted"));
    assert_eq!(status.message.as_deref(), Some(message));
    let dt = disruption_target(&status).expect("DisruptionTarget");
    assert_eq!(dt.status, "True");
    assert_eq!(dt.reason.as_deref(), Some("TerminationByKubelet"));
    assert_eq!(dt.message.as_deref(), Some(message));
    assert_eq!(
        n.manager.workers().phase("be"),
        Some(WorkerPhase::Terminated)
    );
    let app = &status.container_statuses.as_ref().unwrap()[0];
    assert!(app.state.as_ref().unwrap().terminated.is_some(), "{app:?}");
    // EV-08: hard eviction kills with a 1 s grace.
    assert_eq!(stop_timeouts(&n.fake, &be_ids), [Some(1)]);
    let evicted_events = n.events.with_reason("Evicted");
    assert_eq!(evicted_events.len(), 1);
    assert_eq!(evicted_events[0].message, message);
    assert_eq!(evicted_events[0].uid, "be");
    let (_, annotations) = &n.events.annotated()[0];
    assert_eq!(annotations["offending_containers"], "app");
    assert_eq!(annotations["offending_containers_usage"], "200Mi");
    assert_eq!(annotations["starved_resource"], "memory");

    // Still under pressure: the next sync evicts the Burstable pod over its request.
    n.stats.set(memory_node(
        80 << 20,
        all_usage
            .iter()
            .filter(|u| u.uid != "be")
            .cloned()
            .collect(),
    ));
    assert_eq!(n.eviction.synchronize().await.unwrap(), ["bu"]);
    n.run(3).await;
    assert_eq!(n.phase("bu").as_deref(), Some("Failed"));
    assert_eq!(n.eviction.evictions().get("memory.available"), 2);

    // Recovered: nobody else goes; the Guaranteed, static and critical pods run on.
    n.stats.set(memory_node(
        GI,
        all_usage
            .iter()
            .filter(|u| u.uid != "be" && u.uid != "bu")
            .cloned()
            .collect(),
    ));
    assert!(n.eviction.synchronize().await.unwrap().is_empty());
    n.run(3).await;
    for uid in ["g", "static", "crit"] {
        assert_eq!(n.phase(uid).as_deref(), Some("Running"), "{uid}");
    }
    // The evicted pod never runs again, even when its source updates it.
    let creates = n.fake.calls_to("CreateContainer").len();
    let mut again = pod("be", &[], &[]);
    again.metadata.labels = Some(BTreeMap::from([("new".to_string(), "label".to_string())]));
    n.manager.set_source_pods(
        "file",
        vec![
            again,
            pod("bu", &[("memory", "100Mi")], &[("memory", "1Gi")]),
            pod(
                "g",
                &[("memory", "1Gi"), ("cpu", "1")],
                &[("memory", "1Gi"), ("cpu", "1")],
            ),
            static_pod("static"),
            critical_pod("crit"),
        ],
    );
    n.run(5).await;
    assert_eq!(n.fake.calls_to("CreateContainer").len(), creates);
    assert_eq!(n.phase("be").as_deref(), Some("Failed"));
}

#[tokio::test(start_paused = true)]
async fn ev_09_critical_pods_are_never_evicted() {
    let n = node(EvictionConfig::default(), |_| Arc::new(NoReclaim));
    n.manager
        .set_source_pods("file", vec![static_pod("static"), critical_pod("crit")]);
    n.run(3).await;
    n.stats.set(memory_node(
        10 << 20,
        vec![usage("static", GI as u64), usage("crit", GI as u64)],
    ));
    for _ in 0..3 {
        assert!(n.eviction.synchronize().await.unwrap().is_empty());
        n.run(10).await;
    }
    assert_eq!(n.phase("static").as_deref(), Some("Running"));
    assert_eq!(n.phase("crit").as_deref(), Some("Running"));
    assert!(n.events.with_reason("Evicted").is_empty());
}

#[tokio::test(start_paused = true)]
async fn ev_08_soft_eviction_grace_is_min_of_max_and_tgps() {
    let mut config = EvictionConfig::default();
    config.soft.insert(
        EvictionSignal::MemoryAvailable,
        ThresholdValue::Quantity(GI),
    );
    config
        .soft_grace_period
        .insert(EvictionSignal::MemoryAvailable, Duration::from_secs(30));
    config.max_pod_grace_period_seconds = 20;
    let n = node(config, |_| Arc::new(NoReclaim));
    let mut short = pod("short", &[], &[]);
    short
        .spec
        .as_mut()
        .unwrap()
        .termination_grace_period_seconds = Some(5);
    n.manager.set_source_pods("file", vec![short]);
    n.run(3).await;
    n.stats
        .set(memory_node(500 << 20, vec![usage("short", 300 * MI)]));
    let ids = container_ids(&n.fake, "short").await;
    assert!(
        n.eviction.synchronize().await.unwrap().is_empty(),
        "grace period not met"
    );
    assert!(n.eviction.pressure().borrow().memory);
    n.run(30).await;
    assert_eq!(n.eviction.synchronize().await.unwrap(), ["short"]);
    n.run(10).await;
    assert_eq!(stop_timeouts(&n.fake, &ids), [Some(5)]);
    assert_eq!(n.phase("short").as_deref(), Some("Failed"));
}

#[tokio::test(start_paused = true)]
async fn ev_12_disk_pressure_reclaims_first_and_evicts_nobody_when_that_is_enough() {
    let disk = |available: i64| Observations {
        node: NodeObservations {
            nodefs: Some(FsObservation {
                bytes: Available {
                    available,
                    capacity: 100 * GI,
                },
                inodes: None,
            }),
            ..Default::default()
        },
        pods: vec![usage("be", MI)],
    };
    // Reclaim frees the disk: nobody is evicted.
    let reclaim = Arc::new(Mutex::new(None::<Arc<RecordingReclaim>>));
    let keep = reclaim.clone();
    let n = node(EvictionConfig::default(), move |stats| {
        let r = Arc::new(RecordingReclaim {
            calls: Mutex::new(Vec::new()),
            frees: Some(stats),
        });
        *keep.lock().unwrap() = Some(r.clone());
        r
    });
    n.manager.set_source_pods("file", vec![pod("be", &[], &[])]);
    n.run(3).await;
    n.stats.set(disk(5 * GI));
    assert!(n.eviction.synchronize().await.unwrap().is_empty());
    let r = reclaim.lock().unwrap().clone().unwrap();
    assert_eq!(*r.calls.lock().unwrap(), ["containers", "images"]);
    assert!(n.eviction.pressure().borrow().disk);
    assert_eq!(
        n.events.node_events()[0].message,
        "Attempting to reclaim ephemeral-storage"
    );
    n.run(3).await;
    assert_eq!(n.phase("be").as_deref(), Some("Running"));

    // Reclaim frees nothing: the pod goes.
    let reclaim2 = Arc::new(Mutex::new(None::<Arc<RecordingReclaim>>));
    let keep2 = reclaim2.clone();
    let n = node(EvictionConfig::default(), move |_| {
        let r = Arc::new(RecordingReclaim::default());
        *keep2.lock().unwrap() = Some(r.clone());
        r
    });
    n.manager.set_source_pods("file", vec![pod("be", &[], &[])]);
    n.run(3).await;
    n.stats.set(disk(5 * GI));
    assert_eq!(n.eviction.synchronize().await.unwrap(), ["be"]);
    let r = reclaim2.lock().unwrap().clone().unwrap();
    assert_eq!(*r.calls.lock().unwrap(), ["containers", "images"]);
    n.run(3).await;
    assert!(
        n.status("be")
            .message
            .unwrap()
            .starts_with("The node was low on resource: ephemeral-storage. ")
    );
}

#[tokio::test(start_paused = true)]
async fn ev_11_admission_under_memory_and_disk_pressure() {
    let n = node(EvictionConfig::default(), |_| Arc::new(NoReclaim));
    n.manager.set_source_pods("file", vec![]);
    n.stats.set(memory_node(50 << 20, vec![]));
    n.eviction.synchronize().await.unwrap();
    n.manager.set_source_pods(
        "file",
        vec![
            pod("be", &[], &[]),
            pod("bu", &[("memory", "10Mi")], &[]),
            critical_pod("crit"),
        ],
    );
    n.run(3).await;
    let rejected = n.status("be");
    assert_eq!(rejected.phase.as_deref(), Some("Failed"));
    assert_eq!(rejected.reason.as_deref(), Some("Evicted"));
    assert_eq!(
        rejected.message.as_deref(),
        Some("Pod was rejected: The node had condition: [MemoryPressure]. ")
    );
    assert_eq!(n.phase("bu").as_deref(), Some("Running"));
    assert_eq!(n.phase("crit").as_deref(), Some("Running"));

    // Disk pressure: every new non-critical pod is refused.
    let n = node(EvictionConfig::default(), |_| Arc::new(NoReclaim));
    n.manager.set_source_pods("file", vec![]);
    n.stats.set(Observations {
        node: NodeObservations {
            nodefs: Some(FsObservation {
                bytes: Available {
                    available: GI,
                    capacity: 100 * GI,
                },
                inodes: None,
            }),
            ..Default::default()
        },
        pods: vec![],
    });
    n.eviction.synchronize().await.unwrap();
    n.manager.set_source_pods(
        "file",
        vec![pod("bu", &[("memory", "10Mi")], &[]), critical_pod("crit")],
    );
    n.run(3).await;
    assert_eq!(
        n.status("bu").message.as_deref(),
        Some("Pod was rejected: The node had condition: [DiskPressure]. ")
    );
    assert_eq!(n.phase("crit").as_deref(), Some("Running"));
}

#[tokio::test(start_paused = true)]
async fn ev_13_container_over_its_ephemeral_storage_limit_is_evicted() {
    let n = node(EvictionConfig::default(), |_| Arc::new(NoReclaim));
    n.manager.set_source_pods(
        "file",
        vec![
            pod("c", &[], &[("ephemeral-storage", "500Mi")]),
            pod("ok", &[], &[]),
        ],
    );
    n.run(3).await;
    let mut over = PodUsage {
        uid: "c".into(),
        containers: vec![ContainerUsage {
            name: "app".into(),
            logs_bytes: Some(300 * MI),
            rootfs_bytes: Some(300 * MI),
            ..Default::default()
        }],
        ephemeral_storage_bytes: Some(400 * MI),
        ..Default::default()
    };
    over.name = "pod-c".into();
    n.stats.set(Observations {
        node: NodeObservations::default(),
        pods: vec![over, usage("ok", MI)],
    });
    let ids = container_ids(&n.fake, "c").await;
    assert_eq!(n.eviction.synchronize().await.unwrap(), ["c"]);
    n.run(3).await;
    let status = n.status("c");
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("Evicted"));
    assert_eq!(
        status.message.as_deref(),
        Some("Container app exceeded its local ephemeral storage limit \"500Mi\". ")
    );
    assert!(
        disruption_target(&status).is_none(),
        "the kubelet adds none here"
    );
    assert_eq!(stop_timeouts(&n.fake, &ids), [Some(1)]);
    assert_eq!(n.eviction.evictions().get("ephemeralcontainerfs.limit"), 1);
    assert_eq!(n.phase("ok").as_deref(), Some("Running"));
}

#[tokio::test(start_paused = true)]
async fn ev_14_pid_pressure_condition() {
    let mut config = EvictionConfig::default();
    config.hard.insert(
        EvictionSignal::PidAvailable,
        ThresholdValue::Percentage(0.05),
    );
    let n = node(config, |_| Arc::new(NoReclaim));
    n.manager.set_source_pods("file", vec![]);
    n.stats.set(Observations {
        node: NodeObservations {
            pid: Some(Available {
                available: 100,
                capacity: 32768,
            }),
            ..Default::default()
        },
        pods: vec![],
    });
    n.eviction.synchronize().await.unwrap();
    assert_eq!(
        *n.eviction.pressure().borrow(),
        NodePressure {
            pid: true,
            ..Default::default()
        }
    );
    assert_eq!(
        n.events.node_events()[0].message,
        "Attempting to reclaim pids"
    );
}

#[tokio::test(start_paused = true)]
async fn ev_10_the_loop_syncs_every_interval_and_pressure_stays_for_the_transition_period() {
    let n = node(EvictionConfig::default(), |_| Arc::new(NoReclaim));
    n.manager.set_source_pods("file", vec![]);
    n.stats.set(memory_node(50 << 20, vec![]));
    let stop = CancellationToken::new();
    let manager = n.eviction.clone();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move { manager.run(stop).await }
    });
    settle().await;
    assert!(n.eviction.pressure().borrow().memory);
    let reads = *n.stats.reads.lock().unwrap();
    n.stats.set(memory_node(GI, vec![]));
    n.run(10).await;
    assert_eq!(
        *n.stats.reads.lock().unwrap(),
        reads + 1,
        "one sync in 10 s"
    );
    n.eviction.notify();
    settle().await;
    assert_eq!(
        *n.stats.reads.lock().unwrap(),
        reads + 2,
        "notify syncs at once"
    );
    n.run(280).await;
    assert!(
        n.eviction.pressure().borrow().memory,
        "still True before 5m"
    );
    n.run(30).await;
    assert!(!n.eviction.pressure().borrow().memory, "False after 5m");
    stop.cancel();
    task.await.unwrap();
}
