//! The harness of the pod-worker tests against the real containerd: pod workers and the PLEG
//! on the environment's runtime, wired as the agent wires them (PLEG events wake the pod's
//! worker), with statuses and events kept in memory. What the environment itself gives
//! (variables, skip-or-fail, the runtime lock, sandbox removal, mounts) comes from
//! `test_env`; this module adds what needs pod-lifecycle's types.
//!
//! The collaborators a test needs are added on the [`NodeBuilder`]: volumes, cgroups, and
//! the `probes` crate's manager ([`NodeBuilder::probes`]), the latter wired as
//! `agent::node` wires it (results read by the plan and the status, pod statuses fed to the
//! probe workers, a changed result waking the pod's worker, a started container making the
//! PLEG look at its pod, probe events recorded with the pod's events).
//!
//! The pod-worker tests against `FakeRuntime` in virtual time have their harness in [`fake`]
//! ([`fake::FakeNode`]).
//!
//! A [`Node`] holds a shared lock on the runtime (see `test_env::RuntimeLock`) and a
//! temporary directory with the pod logs and the root directory. Dropping it, even in a
//! failing test, stops the workers, removes the probe workers and every sandbox of the
//! pods it ran and unmounts their volumes.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod fake;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cri_client::{GrpcRuntime, RuntimeService as _, v1};
use k8s_openapi::api::core::v1::{
    Container, ContainerStateTerminated, ContainerStatus, Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::pleg::{Pleg, PlegConfig};
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, NodeCgroups, PodEvent, PodHost, PodWorkers,
    RecordedProbeEvents, SourceObjects, WorkerConfig, spawn_wake,
};
use probes::metrics::{MetricResult, ProbeLabels};
use probes::{PodRef, ProbeKind, ProbeManager, cri_container_id};
use test_env::RuntimeLock;
use volume_manager::objects::InMemoryObjects;
use volume_manager::{VolumeManager, VolumeManagerConfig};

/// How long [`Node::wait_for`] and [`Node::delete`] wait, unless [`NodeBuilder::deadline`]
/// says otherwise.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Pod workers and the PLEG on the real runtime (see the module docs).
pub struct Node {
    /// The runtime.
    pub runtime: Arc<GrpcRuntime>,
    /// The pod workers.
    pub workers: Arc<PodWorkers>,
    /// Every pod's latest status (and every status, with [`NodeBuilder::status_history`]).
    pub statuses: MemoryStatusSink,
    /// Every event recorded, probe events included.
    pub events: MemoryEvents,
    volumes: Option<(VolumeManager, InMemoryObjects)>,
    probes: Option<ProbeManager>,
    root: PathBuf,
    endpoint: String,
    deadline: Duration,
    /// Every pod run.
    pods: Mutex<Vec<PodRef>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    torn_down: bool,
    dir: tempfile::TempDir,
    _lock: RuntimeLock,
}

/// A [`Node`] before it starts, with the optional collaborators to add.
pub struct NodeBuilder {
    endpoint: String,
    runtime: Arc<GrpcRuntime>,
    lock: RuntimeLock,
    volumes: bool,
    probes: bool,
    status_history: bool,
    cgroups: Option<NodeCgroups>,
    root_dir: Option<PathBuf>,
    config: WorkerConfig,
    deadline: Duration,
}

impl Node {
    /// A node with neither volumes nor cgroups; `None` as [`Node::builder`].
    pub async fn start() -> Option<Node> {
        Some(Node::builder().await?.start())
    }

    /// Takes the shared runtime lock and connects; `None` (after saying why) when the
    /// environment is missing, outside CI.
    pub async fn builder() -> Option<NodeBuilder> {
        let env = test_env::require_env("the pod workers against containerd")?;
        let lock = RuntimeLock::shared().expect("the runtime lock");
        let runtime = match env.connect().await {
            Ok(r) => Arc::new(r),
            Err(e) => return test_env::skip(&e.to_string()),
        };
        Some(NodeBuilder {
            endpoint: env.cri_endpoint,
            runtime,
            lock,
            volumes: false,
            probes: false,
            status_history: false,
            cgroups: None,
            root_dir: None,
            config: WorkerConfig::default(),
            deadline: DEADLINE,
        })
    }
}

impl NodeBuilder {
    /// A volume manager over the root directory behind `PodVolumes`, with in-memory
    /// ConfigMaps and Secrets ([`Node::objects`]) for the volumes and the containers'
    /// environments.
    pub fn volumes(mut self) -> Self {
        self.volumes = true;
        self
    }

    /// The `probes` crate's [`ProbeManager`] behind `PodProbes` ([`Node::probes`] for its
    /// results and metrics), as the agent wires it: its events recorded with the workers'
    /// ([`RecordedProbeEvents`]), a changed result waking the pod's worker ([`spawn_wake`]),
    /// and every container start making the PLEG look at the pod at once
    /// (`PodHost::container_started`), so the probe workers soon see the container's id.
    pub fn probes(mut self) -> Self {
        self.probes = true;
        self
    }

    /// Keeps every status sent, for [`MemoryStatusSink::history`] (by default only each
    /// pod's latest).
    pub fn status_history(mut self) -> Self {
        self.status_history = true;
        self
    }

    /// How long [`Node::wait_for`] and [`Node::delete`] wait; by default [`DEADLINE`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The node's cgroups behind `PodCgroups`; the workers' resource options follow its
    /// manager's.
    pub fn cgroups(mut self, cgroups: NodeCgroups) -> Self {
        self.config.resources = cgroups.manager().config().resources.clone();
        self.cgroups = Some(cgroups);
        self
    }

    /// The root directory (`--root-dir`); by default `root` in the node's temporary
    /// directory.
    pub fn root_dir(mut self, dir: PathBuf) -> Self {
        self.root_dir = Some(dir);
        self
    }

    /// Changes the workers' config (the pod logs and root directories are set by `start`).
    pub fn config(mut self, change: impl FnOnce(&mut WorkerConfig)) -> Self {
        change(&mut self.config);
        self
    }

    /// Starts the workers, the PLEG and the task that wakes a pod's worker on its PLEG
    /// events (and, with [`NodeBuilder::probes`], the one that wakes it on its probe
    /// results).
    pub fn start(self) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("nodelet-workers-")
            .tempdir()
            .expect("a temporary directory");
        let root = self.root_dir.unwrap_or_else(|| dir.path().join("root"));
        std::fs::create_dir_all(&root).expect("creating the root directory");
        let statuses = if self.status_history {
            MemoryStatusSink::with_history()
        } else {
            MemoryStatusSink::new()
        };
        let events = MemoryEvents::new();
        let mut host = PodHost {
            status: Arc::new(statuses.clone()),
            events: Arc::new(events.clone()),
            ..PodHost::new(self.runtime.clone(), self.runtime.clone())
        };
        let (pleg, mut pleg_events) = Pleg::new(self.runtime.clone(), PlegConfig::default());
        // The workers read the runtime through the PLEG's cache, as the agent's do.
        host.runtime_reader = Arc::new(pleg.clone());
        let probes = self.probes.then(|| {
            let probes = ProbeManager::builder(self.runtime.clone())
                .events(Arc::new(RecordedProbeEvents::new(Arc::new(events.clone()))))
                .build();
            host.probes = Arc::new(probes.clone());
            let pleg = pleg.clone();
            host.container_started = Arc::new(move |uid: &str| pleg.notify_pod(uid));
            probes
        });
        if let Some(cgroups) = self.cgroups {
            host.cgroups = Arc::new(cgroups);
        }
        let volumes = self.volumes.then(|| {
            let objects = InMemoryObjects::new();
            let manager = VolumeManager::new(
                VolumeManagerConfig::new(root.clone()),
                Arc::new(objects.clone()),
            )
            .expect("a volume manager");
            host.volumes = Arc::new(manager.clone());
            host.objects = Arc::new(SourceObjects(Arc::new(objects.clone())));
            (manager, objects)
        });
        let config = WorkerConfig {
            pod_logs_dir: dir.path().join("logs"),
            root_dir: Some(root.clone()),
            ..self.config
        };
        let workers = Arc::new(PodWorkers::new(host, config));
        let relist = tokio::spawn(async move { pleg.run(std::future::pending()).await });
        let wake = tokio::spawn({
            let workers = workers.clone();
            async move {
                while let Some(e) = pleg_events.recv().await {
                    workers.wake(&e.pod_uid);
                }
            }
        });
        let mut tasks = vec![relist, wake];
        tasks.extend(probes.as_ref().map(|probes| spawn_wake(probes, &workers)));
        Node {
            runtime: self.runtime,
            workers,
            statuses,
            events,
            volumes,
            probes,
            root,
            endpoint: self.endpoint,
            deadline: self.deadline,
            pods: Mutex::new(Vec::new()),
            tasks,
            torn_down: false,
            dir,
            _lock: self.lock,
        }
    }
}

impl Node {
    /// Hands the pod to its worker (and to the clean-up); returns its uid.
    pub fn run(&self, pod: Pod) -> String {
        let uid = pod.metadata.uid.clone().expect("the pod has a uid");
        self.pods.lock().unwrap().push(PodRef::of(&pod));
        self.workers.update_pod(pod);
        uid
    }

    /// The pod `uid` as [`Node::run`] got it; panics for a pod never run here.
    fn pod_ref(&self, uid: &str) -> PodRef {
        self.pods
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.uid == uid)
            .cloned()
            .unwrap_or_else(|| panic!("{uid} was never run on this node"))
    }

    /// The events recorded for the pod `uid` (one [`Node::run`] ran), in order.
    pub fn pod_events(&self, uid: &str) -> Vec<PodEvent> {
        let name = self.pod_ref(uid).to_string();
        self.events
            .all()
            .into_iter()
            .filter(|e| e.pod == name)
            .collect()
    }

    /// The probe manager; panics without [`NodeBuilder::probes`].
    pub fn probes(&self) -> &ProbeManager {
        self.probes.as_ref().expect("a node with probes")
    }

    /// How many runs of the `kind` probe of the pod's container `container` ended with
    /// `result` (the probe manager's `prober_probe_total`); panics without
    /// [`NodeBuilder::probes`].
    pub fn probe_total(
        &self,
        uid: &str,
        container: &str,
        kind: ProbeKind,
        result: MetricResult,
    ) -> u64 {
        let labels = ProbeLabels::new(&self.pod_ref(uid), container, kind);
        self.probes().metrics().probe_total(&labels, result)
    }

    /// Runs `script` under `sh -c` in the container (its status's `containerID`, or the
    /// runtime's id) with CRI `ExecSync`; fails the test unless it exits 0.
    pub async fn exec(&self, container_id: &str, script: &str) {
        let reply = self
            .runtime
            .exec_sync(v1::ExecSyncRequest {
                container_id: cri_container_id(container_id).to_string(),
                cmd: vec!["sh".into(), "-c".into(), script.into()],
                timeout: 10,
            })
            .await
            .unwrap_or_else(|e| panic!("exec {script:?}: {e}"));
        assert_eq!(reply.exit_code, 0, "exec {script:?}: {reply:?}");
    }

    /// The ConfigMaps and Secrets behind the volumes; panics without [`NodeBuilder::volumes`].
    pub fn objects(&self) -> &InMemoryObjects {
        &self.volumes.as_ref().expect("a node with volumes").1
    }

    /// `<root>/pods/<uid>`.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.join("pods").join(uid)
    }

    /// Polls the pod's status until `ok` holds; fails after the node's deadline ([`DEADLINE`]
    /// unless [`NodeBuilder::deadline`]) with the events, the last status and what the
    /// runtime holds for the pod.
    pub async fn wait_for(
        &self,
        uid: &str,
        what: &str,
        ok: impl Fn(&PodStatus) -> bool,
    ) -> PodStatus {
        let found = test_env::poll(self.deadline, || {
            self.statuses.get(uid).filter(|status| ok(status))
        })
        .await;
        if let Some(status) = found {
            return status;
        }
        let view = pod_lifecycle::pleg::pod_runtime_status(self.runtime.as_ref(), uid).await;
        let events: Vec<String> = self
            .events
            .all()
            .iter()
            .map(|e| format!("{} {}: {}", e.pod, e.reason, e.message))
            .collect();
        panic!(
            "{uid}: {what} never happened; events {events:#?}; last status {:#?}; \
             in the runtime {view:#?}",
            self.statuses.get(uid)
        );
    }

    /// Waits until the pod's phase is `phase`.
    pub async fn wait_phase(&self, uid: &str, phase: &str) -> PodStatus {
        self.wait_for(uid, &format!("phase {phase}"), |s| {
            s.phase.as_deref() == Some(phase)
        })
        .await
    }

    /// Terminates the pod through its worker with a grace period of `grace` seconds
    /// (unmounting its volumes) and waits until it is terminated.
    pub async fn delete(&self, pod: &Pod, grace: i64) {
        let uid = pod.metadata.uid.clone().expect("the pod has a uid");
        self.workers.terminate_pod(pod.clone(), Some(grace));
        let deadline = self.deadline;
        tokio::time::timeout(deadline, self.workers.wait_terminated(&uid))
            .await
            .unwrap_or_else(|_| panic!("{uid} did not terminate within {deadline:?}"));
    }

    /// Tears the node down (see the module docs); with volumes, also checks that nothing
    /// stays mounted in its directory.
    pub async fn cleanup(mut self) {
        self.teardown();
        if self.volumes.is_some() {
            let left = test_env::mounts_under(self.dir.path()).expect("the mount table");
            assert_eq!(
                left,
                Vec::<PathBuf>::new(),
                "nothing stays mounted under the root"
            );
        }
    }

    fn teardown(&mut self) {
        if std::mem::replace(&mut self.torn_down, true) {
            return;
        }
        self.workers.shutdown();
        for task in &self.tasks {
            task.abort();
        }
        let pods = std::mem::take(&mut *self.pods.lock().unwrap_or_else(|p| p.into_inner()));
        let uids: Vec<String> = pods.into_iter().map(|p| p.uid).collect();
        if let Some(probes) = &self.probes {
            for uid in &uids {
                probes.remove_pod(uid);
            }
        }
        for e in test_env::remove_pods_blocking(&self.endpoint, &uids) {
            eprintln!("cleanup: {e}");
        }
        if let Some((volumes, _)) = &self.volumes {
            for uid in &uids {
                if let Err(e) = volumes.unmount_pod(uid) {
                    eprintln!("cleanup: unmounting the volumes of {uid}: {e}");
                }
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// A pod `namespace/<unique name>` whose uid is its name, with `restartPolicy` `policy`
/// and `terminationGracePeriodSeconds` `grace`.
pub fn pod(
    namespace: &str,
    name: &str,
    policy: &str,
    grace: i64,
    containers: Vec<Container>,
) -> Pod {
    let uid = test_env::unique_name(name);
    Pod {
        metadata: ObjectMeta {
            name: Some(uid.clone()),
            namespace: Some(namespace.into()),
            uid: Some(uid),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            termination_grace_period_seconds: Some(grace),
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A busybox container running `script` under `sh -c`.
pub fn container(name: &str, script: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(test_env::busybox_image()),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        ..Default::default()
    }
}

/// The status of the (app or init) container `name`.
pub fn status_of<'a>(status: &'a PodStatus, name: &str) -> &'a ContainerStatus {
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no status for {name}: {status:#?}"))
}

/// The terminated state of the container `name`; panics when it has not terminated.
pub fn terminated(status: &PodStatus, name: &str) -> ContainerStateTerminated {
    status_of(status, name)
        .state
        .as_ref()
        .and_then(|s| s.terminated.clone())
        .unwrap_or_else(|| panic!("{name} has not terminated: {status:#?}"))
}
