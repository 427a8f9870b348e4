//! The harness of the pod-worker tests against the real containerd: pod workers and the PLEG
//! on the environment's runtime, wired as the agent wires them (PLEG events wake the pod's
//! worker), with statuses and events kept in memory. What the environment itself gives
//! (variables, skip-or-fail, the runtime lock, sandbox removal, mounts) comes from
//! `test_env`; this module adds what needs pod-lifecycle's types.
//!
//! A [`Node`] holds a shared lock on the runtime (see `test_env::RuntimeLock`) and a
//! temporary directory with the pod logs and the root directory. Dropping it, even in a
//! failing test, stops the workers, removes every sandbox of the pods it ran and unmounts
//! their volumes.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cri_client::GrpcRuntime;
use k8s_openapi::api::core::v1::{
    Container, ContainerStateTerminated, ContainerStatus, Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::pleg::{Pleg, PlegConfig};
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, NodeCgroups, PodHost, PodWorkers, SourceObjects, WorkerConfig,
};
use test_env::RuntimeLock;
use volume_manager::objects::InMemoryObjects;
use volume_manager::{VolumeManager, VolumeManagerConfig};

/// How long [`Node::wait_for`] and [`Node::delete`] wait.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Pod workers and the PLEG on the real runtime (see the module docs).
pub struct Node {
    /// The runtime.
    pub runtime: Arc<GrpcRuntime>,
    /// The pod workers.
    pub workers: Arc<PodWorkers>,
    /// Every pod's latest status.
    pub statuses: MemoryStatusSink,
    /// Every event recorded.
    pub events: MemoryEvents,
    volumes: Option<(VolumeManager, InMemoryObjects)>,
    root: PathBuf,
    endpoint: String,
    uids: Mutex<Vec<String>>,
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
    cgroups: Option<NodeCgroups>,
    root_dir: Option<PathBuf>,
    config: WorkerConfig,
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
            cgroups: None,
            root_dir: None,
            config: WorkerConfig::default(),
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
    /// events.
    pub fn start(self) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("nodelet-workers-")
            .tempdir()
            .expect("a temporary directory");
        let root = self.root_dir.unwrap_or_else(|| dir.path().join("root"));
        std::fs::create_dir_all(&root).expect("creating the root directory");
        let statuses = MemoryStatusSink::new();
        let events = MemoryEvents::new();
        let mut host = PodHost {
            status: Arc::new(statuses.clone()),
            events: Arc::new(events.clone()),
            ..PodHost::new(self.runtime.clone(), self.runtime.clone())
        };
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
        let (pleg, mut pleg_events) = Pleg::new(self.runtime.clone(), PlegConfig::default());
        let relist = tokio::spawn(async move { pleg.run(std::future::pending()).await });
        let wake = tokio::spawn({
            let workers = workers.clone();
            async move {
                while let Some(e) = pleg_events.recv().await {
                    workers.wake(&e.pod_uid);
                }
            }
        });
        Node {
            runtime: self.runtime,
            workers,
            statuses,
            events,
            volumes,
            root,
            endpoint: self.endpoint,
            uids: Mutex::new(Vec::new()),
            tasks: vec![relist, wake],
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
        self.uids.lock().unwrap().push(uid.clone());
        self.workers.update_pod(pod);
        uid
    }

    /// The ConfigMaps and Secrets behind the volumes; panics without [`NodeBuilder::volumes`].
    pub fn objects(&self) -> &InMemoryObjects {
        &self.volumes.as_ref().expect("a node with volumes").1
    }

    /// `<root>/pods/<uid>`.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.join("pods").join(uid)
    }

    /// Polls the pod's status until `ok` holds; fails after [`DEADLINE`] with the events, the
    /// last status and what the runtime holds for the pod.
    pub async fn wait_for(
        &self,
        uid: &str,
        what: &str,
        ok: impl Fn(&PodStatus) -> bool,
    ) -> PodStatus {
        let found = test_env::poll(DEADLINE, || {
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
        tokio::time::timeout(DEADLINE, self.workers.wait_terminated(&uid))
            .await
            .unwrap_or_else(|_| panic!("{uid} did not terminate within {DEADLINE:?}"));
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
        let uids = std::mem::take(&mut *self.uids.lock().unwrap_or_else(|p| p.into_inner()));
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
