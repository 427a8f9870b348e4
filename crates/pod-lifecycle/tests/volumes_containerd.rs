//! Pod volumes for real: pod workers with the volume manager behind `PodVolumes`, against the
//! containerd at `$NODELET_CRI_ENDPOINT` (set by `cargo xtask setup`). Containers read and
//! write their mounts, and report what they saw through their termination message.
//!
//! Without the environment each test prints how to start it and passes, except with
//! `CI=true`, where it fails: CI must never pass by skipping.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cri_client::{GrpcRuntime, RuntimeService, v1};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerStatus, EmptyDirVolumeSource,
    HostPathVolumeSource, KeyToPath, Pod, PodSpec, PodStatus, SecretVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::labels;
use pod_lifecycle::pleg::{Pleg, PlegConfig};
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, PodHost, PodWorkers, SourceObjects, SystemClock, WorkerConfig,
};
use volume_manager::objects::InMemoryObjects;
use volume_manager::{VolumeManager, VolumeManagerConfig};

async fn runtime() -> Option<Arc<GrpcRuntime>> {
    let message = "NODELET_CRI_ENDPOINT is not set: start the environment with \
                   `cargo xtask setup` (or run `cargo xtask test`)";
    let Ok(endpoint) = std::env::var("NODELET_CRI_ENDPOINT") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("skipping: {message}");
        return None;
    };
    let rt = GrpcRuntime::connect(&endpoint)
        .await
        .unwrap_or_else(|e| panic!("NODELET_CRI_ENDPOINT={endpoint}: {e}"));
    Some(Arc::new(rt))
}

/// Workers, PLEG and a volume manager over a temporary root directory.
struct Node {
    runtime: Arc<GrpcRuntime>,
    workers: Arc<PodWorkers>,
    statuses: MemoryStatusSink,
    events: MemoryEvents,
    objects: InMemoryObjects,
    volumes: VolumeManager,
    root: tempfile::TempDir,
    uids: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    fn start(runtime: Arc<GrpcRuntime>) -> Node {
        let root = tempfile::Builder::new()
            .prefix("nodelet-volumes-")
            .tempdir()
            .unwrap();
        let objects = InMemoryObjects::new();
        let volumes = VolumeManager::new(
            VolumeManagerConfig::new(root.path()),
            Arc::new(objects.clone()),
        )
        .unwrap();
        let statuses = MemoryStatusSink::new();
        let events = MemoryEvents::new();
        let host = PodHost {
            status: Arc::new(statuses.clone()),
            events: Arc::new(events.clone()),
            clock: Arc::new(SystemClock),
            volumes: Arc::new(volumes.clone()),
            objects: Arc::new(SourceObjects(Arc::new(objects.clone()))),
            ..PodHost::new(runtime.clone(), runtime.clone())
        };
        let config = WorkerConfig {
            pod_logs_dir: root.path().join("logs"),
            root_dir: Some(root.path().to_path_buf()),
            // Failed mounts are retried quickly here.
            error_backoff: Duration::from_millis(500),
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
        Node {
            runtime,
            workers,
            statuses,
            events,
            objects,
            volumes,
            root,
            uids: Vec::new(),
            tasks: vec![run, wake],
        }
    }

    fn run(&mut self, pod: Pod) -> String {
        let uid = pod.metadata.uid.clone().unwrap();
        self.uids.push(uid.clone());
        self.workers.update_pod(pod);
        uid
    }

    fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.path().join("pods").join(uid)
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
                    .map(|e| format!("{}: {}", e.reason, e.message))
                    .collect();
                panic!(
                    "{uid}: {what} never happened; events {events:#?}; last status {:#?}",
                    self.statuses.get(uid)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Terminate the pod through its worker (unmounting its volumes) and wait.
    async fn delete(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap();
        self.workers.terminate_pod(pod.clone(), Some(1));
        tokio::time::timeout(Duration::from_secs(60), self.workers.wait_terminated(&uid))
            .await
            .expect("the pod terminates");
    }

    /// Stop everything, remove what is left in the runtime and every mount under the root.
    async fn cleanup(self) {
        self.workers.shutdown();
        for t in &self.tasks {
            t.abort();
        }
        for uid in &self.uids {
            let sandboxes = self
                .runtime
                .list_pod_sandbox(v1::ListPodSandboxRequest {
                    filter: Some(v1::PodSandboxFilter {
                        label_selector: [(labels::POD_UID.to_string(), uid.clone())].into(),
                        ..Default::default()
                    }),
                })
                .await
                .map(|r| r.items)
                .unwrap_or_default();
            for s in sandboxes {
                let _ = self
                    .runtime
                    .stop_pod_sandbox(v1::StopPodSandboxRequest {
                        pod_sandbox_id: s.id.clone(),
                    })
                    .await;
                let _ = self
                    .runtime
                    .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                        pod_sandbox_id: s.id,
                    })
                    .await;
            }
            let _ = self.volumes.unmount_pod(uid);
        }
        assert_eq!(
            mounts_under(self.root.path()),
            Vec::<String>::new(),
            "nothing stays mounted under the root"
        );
    }
}

/// Mount points below `dir`, from this process's mount table.
fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let prefix = dir.to_string_lossy().into_owned();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

fn unique(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{name}-{}-{n}", std::process::id())
}

fn pod(name: &str, policy: &str, volumes: Vec<Volume>, containers: Vec<Container>) -> Pod {
    let uid = unique(name);
    Pod {
        metadata: ObjectMeta {
            name: Some(uid.clone()),
            namespace: Some("nodelet-volume-test".into()),
            uid: Some(uid),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            termination_grace_period_seconds: Some(1),
            volumes: Some(volumes),
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container(name: &str, script: &str, mounts: Vec<VolumeMount>) -> Container {
    Container {
        name: name.into(),
        image: Some(
            std::env::var("NODELET_BUSYBOX_IMAGE").unwrap_or_else(|_| "localhost/busybox:1".into()),
        ),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn status_of<'a>(status: &'a PodStatus, name: &str) -> &'a ContainerStatus {
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no status for {name}: {status:#?}"))
}

/// The termination message of a container that exited.
fn message(status: &PodStatus, name: &str) -> String {
    status_of(status, name)
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.message.clone())
        .unwrap_or_default()
}

fn waiting_reason(status: &PodStatus, name: &str) -> Option<(String, String)> {
    let w = status_of(status, name).state.as_ref()?.waiting.as_ref()?;
    Some((w.reason.clone()?, w.message.clone().unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_02_real_empty_dir_survives_a_container_restart_and_goes_with_the_pod() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    // The first run leaves a file and fails; the restarted container finds it and stays.
    let script = "if [ -f /cache/seen ]; then sleep 3600; else echo once > /cache/seen; exit 1; fi";
    let p = pod(
        "emptydir",
        "Always",
        vec![empty_dir("cache")],
        vec![container("app", script, vec![mount("cache", "/cache")])],
    );
    let uid = node.run(p.clone());
    node.wait_for(&uid, "restarted and running", |s| {
        let c = status_of(s, "app");
        c.restart_count == 1 && c.state.as_ref().is_some_and(|st| st.running.is_some())
    })
    .await;
    let dir = node
        .pod_dir(&uid)
        .join("volumes/kubernetes.io~empty-dir/cache");
    assert_eq!(std::fs::read_to_string(dir.join("seen")).unwrap(), "once\n");

    node.delete(&p).await;
    assert!(
        !node.pod_dir(&uid).exists(),
        "pods/<uid> removed with the pod"
    );
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_15_real_read_only_mount_gives_erofs_in_the_container() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    let mut ro = mount("data", "/data");
    ro.read_only = Some(true);
    let p = pod(
        "readonly",
        "Never",
        vec![empty_dir("data")],
        vec![
            container(
                "writer",
                "touch /data/x 2> /dev/termination-log && exit 0; exit 1",
                vec![ro],
            ),
            container(
                "rw",
                "touch /data/x && echo written > /dev/termination-log",
                vec![mount("data", "/data")],
            ),
        ],
    );
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "both containers exited", |s| {
            ["writer", "rw"].iter().all(|n| {
                status_of(s, n)
                    .state
                    .as_ref()
                    .is_some_and(|st| st.terminated.is_some())
            })
        })
        .await;
    let error = message(&status, "writer");
    assert!(error.contains("Read-only file system"), "{error}");
    assert_eq!(message(&status, "rw"), "written\n");
    node.delete(&p).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_16_real_sub_path_escape_through_a_planted_symlink_is_create_container_config_error() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    // The init container plants a symlink to the host's /etc (as seen from the host) in the
    // shared volume; the app container asks for it as a subPath.
    let mut escape = mount("shared", "/escaped");
    escape.sub_path = Some("escape".into());
    let mut p = pod(
        "escape",
        "Never",
        vec![empty_dir("shared")],
        vec![container("app", "sleep 3600", vec![escape])],
    );
    p.spec.as_mut().unwrap().init_containers = Some(vec![container(
        "plant",
        "ln -s /etc /shared/escape",
        vec![mount("shared", "/shared")],
    )]);
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "CreateContainerConfigError", |s| {
            waiting_reason(s, "app").is_some_and(|(r, _)| r == "CreateContainerConfigError")
        })
        .await;
    let (_, why) = waiting_reason(&status, "app").unwrap();
    assert!(
        why.contains("subPath"),
        "the error names the subPath: {why}"
    );
    // Nothing was bind-mounted for it.
    assert!(
        mounts_under(&node.pod_dir(&uid))
            .iter()
            .all(|m| !m.contains("volume-subpaths")),
        "{:?}",
        mounts_under(&node.pod_dir(&uid))
    );
    node.delete(&p).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_17_real_container_reads_its_managed_etc_hosts() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    let p = pod(
        "hosts",
        "Always",
        vec![empty_dir("out")],
        vec![container(
            "app",
            "cat /etc/hosts > /out/hosts; sleep 3600",
            vec![mount("out", "/out")],
        )],
    );
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "running with an IP", |s| {
            s.pod_ip.is_some()
                && status_of(s, "app")
                    .state
                    .as_ref()
                    .is_some_and(|st| st.running.is_some())
        })
        .await;
    let copy = node
        .pod_dir(&uid)
        .join("volumes/kubernetes.io~empty-dir/out/hosts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !copy.exists() {
        assert!(Instant::now() < deadline, "the container wrote no copy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hosts = std::fs::read_to_string(&copy).unwrap();
    let ip = status.pod_ip.clone().unwrap();
    let name = p.metadata.name.clone().unwrap();
    assert!(
        hosts.starts_with("# Kubernetes-managed hosts file."),
        "{hosts}"
    );
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(&ip) && l.contains(&name)),
        "{ip} → {name} in {hosts}"
    );
    node.delete(&p).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_05_vo_09_real_failed_mounts_keep_the_pod_pending_with_failed_mount_events() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    let missing = format!("/nonexistent-nodelet-{}", std::process::id());
    let p = pod(
        "failedmount",
        "Always",
        vec![
            Volume {
                name: "host".into(),
                host_path: Some(HostPathVolumeSource {
                    path: missing.clone(),
                    type_: Some("Directory".into()),
                }),
                ..Default::default()
            },
            Volume {
                name: "cfg".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "settings".into(),
                    items: Some(vec![KeyToPath {
                        key: "absent".into(),
                        path: "absent".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ],
        vec![container(
            "app",
            "sleep 3600",
            vec![mount("host", "/host"), mount("cfg", "/cfg")],
        )],
    );
    node.objects.set_config_map(ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".into()),
            namespace: Some("nodelet-volume-test".into()),
            ..Default::default()
        },
        data: Some([("present".to_string(), "1".to_string())].into()),
        ..Default::default()
    });
    let uid = node.run(p.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let messages = loop {
        let messages: Vec<String> = node
            .events
            .with_reason("FailedMount")
            .into_iter()
            .map(|e| e.message)
            .collect();
        if messages
            .iter()
            .any(|m| m.contains("hostPath type check failed"))
            && messages
                .iter()
                .any(|m| m.contains("non-existent config key"))
        {
            break messages;
        }
        assert!(
            Instant::now() < deadline,
            "FailedMount events: {messages:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        messages.iter().any(|m| m.contains(&format!(
            "hostPath type check failed: {missing} is not a directory"
        ))),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("configmap references non-existent config key: absent")),
        "{messages:#?}"
    );
    let status = node.statuses.get(&uid).unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(
        waiting_reason(&status, "app").map(|(r, _)| r).as_deref(),
        Some("ContainerCreating")
    );
    let sandboxes = node
        .runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest {
            filter: Some(v1::PodSandboxFilter {
                label_selector: [(labels::POD_UID.to_string(), uid.clone())].into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .items;
    assert!(
        sandboxes.is_empty(),
        "no sandbox before the volumes are mounted"
    );
    node.delete(&p).await;
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vo_13_real_every_volume_type_is_readable_and_nothing_is_left_after_deletion() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("host.txt"), "from the host").unwrap();
    node.objects.set_config_map(ConfigMap {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("nodelet-volume-test".into()),
            ..Default::default()
        },
        data: Some([("index.html".to_string(), "hello".to_string())].into()),
        ..Default::default()
    });
    node.objects.set_secret(k8s_openapi::api::core::v1::Secret {
        metadata: ObjectMeta {
            name: Some("creds".into()),
            namespace: Some("nodelet-volume-test".into()),
            ..Default::default()
        },
        string_data: Some([("password".to_string(), "s3cret".to_string())].into()),
        ..Default::default()
    });
    let volumes = vec![
        empty_dir("scratch"),
        Volume {
            name: "memory".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "host".into(),
            host_path: Some(HostPathVolumeSource {
                path: host_dir.path().to_string_lossy().into_owned(),
                type_: Some("Directory".into()),
            }),
            ..Default::default()
        },
        Volume {
            name: "cfg".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "web".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "secret".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some("creds".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: "meta".into(),
            downward_api: Some(k8s_openapi::api::core::v1::DownwardAPIVolumeSource {
                items: Some(vec![k8s_openapi::api::core::v1::DownwardAPIVolumeFile {
                    path: "name".into(),
                    field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                        field_path: "metadata.name".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let script = "echo x > /scratch/f && echo y > /memory/f && \
                  cat /host/host.txt /cfg/index.html /secret/password /meta/name > /dev/termination-log && \
                  grep -q ' /secret tmpfs ' /proc/mounts && grep -q ' /memory tmpfs ' /proc/mounts";
    let p = pod(
        "every",
        "Never",
        volumes,
        vec![container(
            "app",
            script,
            ["scratch", "memory", "host", "cfg", "secret", "meta"]
                .iter()
                .map(|n| mount(n, &format!("/{n}")))
                .collect(),
        )],
    );
    let uid = node.run(p.clone());
    let status = node
        .wait_for(&uid, "exited", |s| {
            status_of(s, "app")
                .state
                .as_ref()
                .is_some_and(|st| st.terminated.is_some())
        })
        .await;
    let terminated = status_of(&status, "app")
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.exit_code, 0, "{terminated:?}");
    let name = p.metadata.name.clone().unwrap();
    assert_eq!(
        terminated.message.as_deref(),
        Some(format!("from the hosthellos3cret{name}").as_str())
    );

    node.delete(&p).await;
    assert_eq!(mounts_under(&node.pod_dir(&uid)), Vec::<String>::new());
    assert!(!node.pod_dir(&uid).exists(), "pods/<uid> removed");
    assert_eq!(
        std::fs::read_to_string(host_dir.path().join("host.txt")).unwrap(),
        "from the host",
        "hostPath data stays"
    );
    node.cleanup().await;
}
