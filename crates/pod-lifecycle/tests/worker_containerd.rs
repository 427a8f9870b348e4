//! Pod workers against a real containerd at `$NODELET_CRI_ENDPOINT` (set by
//! `cargo xtask setup`): a real crash loop, an OOM kill and a graceful stop of a shell that
//! traps TERM, with the PLEG waking the workers as in the agent.
//!
//! Without the environment each test prints how to start it and passes, except with
//! `CI=true`, where it fails: CI must never pass by skipping.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cri_client::{GrpcRuntime, RuntimeService, v1};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::labels;
use pod_lifecycle::pleg::{Pleg, PlegConfig};
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, PodHost, PodWorkers, SystemClock, WorkerConfig, WorkerPhase,
};

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

/// Workers + PLEG on the real runtime; removes every sandbox of its pods when dropped.
struct Node {
    runtime: Arc<GrpcRuntime>,
    workers: Arc<PodWorkers>,
    statuses: MemoryStatusSink,
    events: MemoryEvents,
    uids: Vec<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    fn start(runtime: Arc<GrpcRuntime>) -> Node {
        let statuses = MemoryStatusSink::new();
        let events_log = MemoryEvents::new();
        let host = PodHost {
            status: Arc::new(statuses.clone()),
            events: Arc::new(events_log.clone()),
            clock: Arc::new(SystemClock),
            ..PodHost::new(runtime.clone(), runtime.clone())
        };
        let config = WorkerConfig {
            pod_logs_dir: std::env::temp_dir().join("nodelet-worker-containerd"),
            root_dir: Some(std::env::temp_dir().join("nodelet-worker-containerd-root")),
            ..WorkerConfig::default()
        };
        let workers = Arc::new(PodWorkers::new(host, config));
        let (pleg, mut events) = Pleg::new(runtime.clone(), PlegConfig::default());
        let run = tokio::spawn(async move { pleg.run(std::future::pending()).await });
        let wake = tokio::spawn({
            let workers = workers.clone();
            async move {
                while let Some(e) = events.recv().await {
                    workers.wake(&e.pod_uid);
                }
            }
        });
        Node {
            runtime,
            workers,
            statuses,
            events: events_log,
            uids: Vec::new(),
            tasks: vec![run, wake],
        }
    }

    fn run(&mut self, pod: Pod) {
        self.uids.push(pod.metadata.uid.clone().unwrap());
        self.workers.update_pod(pod);
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
                let view =
                    pod_lifecycle::pleg::pod_runtime_status(self.runtime.as_ref(), uid).await;
                eprintln!("VIEW {view:#?}");
                let events: Vec<String> = self
                    .events
                    .all()
                    .iter()
                    .map(|e| format!("{}: {}", e.reason, e.message))
                    .collect();
                panic!(
                    "{uid}: {what} never happened; events {events:#?}; last status {:?}",
                    self.statuses.get(uid)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn cleanup(&self) {
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
        }
    }
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().subsec_nanos() % 100_000
    )
}

fn pod(name: &str, policy: &str, containers: Vec<Container>) -> Pod {
    let uid = unique(name);
    Pod {
        metadata: ObjectMeta {
            name: Some(uid.clone()),
            namespace: Some("nodelet-worker-test".into()),
            uid: Some(uid),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            termination_grace_period_seconds: Some(10),
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container(name: &str, script: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(
            std::env::var("NODELET_BUSYBOX_IMAGE").unwrap_or_else(|_| "localhost/busybox:1".into()),
        ),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        ..Default::default()
    }
}

fn first(status: &PodStatus) -> k8s_openapi::api::core::v1::ContainerStatus {
    status.container_statuses.as_ref().unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_06_real_crash_loop_restart_counts_and_waiting_reason() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    let p = pod("crash", "Always", vec![container("app", "exit 2")]);
    let uid = p.metadata.uid.clone().unwrap();
    node.run(p);
    // First start, an immediate restart, then 10 s of back-off before the third run.
    let status = node
        .wait_for(&uid, "restartCount 2 in CrashLoopBackOff", |s| {
            let c = first(s);
            c.restart_count >= 2
                && c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    == Some("CrashLoopBackOff")
        })
        .await;
    let c = first(&status);
    let last = c.last_state.unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (2, Some("Error")));
    let message = c.state.unwrap().waiting.unwrap().message.unwrap();
    assert!(message.starts_with("back-off "), "{message}");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ph_20_real_oom_kill_is_reported_oom_killed() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    let mut c = container("hog", "dd if=/dev/zero of=/dev/null bs=64M count=1");
    c.resources = Some(ResourceRequirements {
        limits: Some([("memory".to_string(), Quantity("32Mi".into()))].into()),
        ..Default::default()
    });
    let p = pod("oom", "Never", vec![c]);
    let uid = p.metadata.uid.clone().unwrap();
    node.run(p);
    let status = node
        .wait_for(&uid, "phase Failed", |s| {
            s.phase.as_deref() == Some("Failed")
        })
        .await;
    let terminated = first(&status).state.unwrap().terminated.unwrap();
    assert_eq!(
        terminated.reason.as_deref(),
        Some("OOMKilled"),
        "{terminated:?}"
    );
    assert_eq!(terminated.exit_code, 137);
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tm_01_real_graceful_stop_of_a_shell_trapping_term() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt.clone());
    let script = "trap 'echo bye; exit 0' TERM; sleep 3600 & wait";
    let p = pod("graceful", "Always", vec![container("app", script)]);
    let uid = p.metadata.uid.clone().unwrap();
    node.run(p.clone());
    node.wait_for(&uid, "Running", |s| {
        first(s)
            .state
            .as_ref()
            .is_some_and(|st| st.running.is_some())
    })
    .await;

    let started = Instant::now();
    node.workers.terminate_pod(p, None);
    node.workers.wait_terminated(&uid).await;
    let took = started.elapsed();
    assert_eq!(node.workers.phase(&uid), Some(WorkerPhase::Terminated));
    // The shell exits on SIGTERM at once: far less than the 10 s grace.
    assert!(took < Duration::from_secs(8), "stop took {took:?}");
    let status = node.statuses.get(&uid).unwrap();
    let terminated = first(&status).state.unwrap().terminated.unwrap();
    assert_eq!(terminated.exit_code, 0, "{terminated:?}");
    assert_eq!(
        status.phase.as_deref(),
        Some("Succeeded"),
        "PH-06: exit 0 on TERM"
    );
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lc_19_real_termination_message_file_is_read_and_capped_at_4096_bytes() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    // A short message at the default path; and 5000 bytes at a custom path, of which the
    // last 4096 are kept (the kubelet reads the file's tail).
    let short = container("short", "printf 'all done' > /dev/termination-log; exit 0");
    let mut long = container(
        "long",
        "head -c 904 /dev/zero | tr '\\0' a > /tmp/msg; head -c 4096 /dev/zero | tr '\\0' b >> /tmp/msg; exit 3",
    );
    long.termination_message_path = Some("/tmp/msg".into());
    let p = pod("termmsg", "Never", vec![short, long]);
    let uid = p.metadata.uid.clone().unwrap();
    node.run(p);
    let status = node
        .wait_for(&uid, "phase Failed", |s| {
            s.phase.as_deref() == Some("Failed")
        })
        .await;
    let by_name = |name: &str| {
        status
            .container_statuses
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .and_then(|c| c.state.as_ref()?.terminated.clone())
            .unwrap()
    };
    assert_eq!(by_name("short").message.as_deref(), Some("all done"));
    let long = by_name("long").message.unwrap();
    assert_eq!(long.len(), 4096);
    assert!(long.bytes().all(|b| b == b'b'), "the tail is kept");
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lc_20_real_fallback_to_logs_on_error_takes_the_last_80_lines() {
    let Some(rt) = runtime().await else { return };
    let mut node = Node::start(rt);
    let mut failing = container(
        "failing",
        "for i in $(seq 1 100); do echo line $i; done; exit 1",
    );
    failing.termination_message_policy = Some("FallbackToLogsOnError".into());
    let mut fine = container("fine", "echo only logs; exit 0");
    fine.termination_message_policy = Some("FallbackToLogsOnError".into());
    let p = pod("fallback", "Never", vec![failing, fine]);
    let uid = p.metadata.uid.clone().unwrap();
    node.run(p);
    let status = node
        .wait_for(&uid, "phase Failed", |s| {
            s.phase.as_deref() == Some("Failed")
        })
        .await;
    let of = |name: &str| {
        status
            .container_statuses
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .and_then(|c| c.state.as_ref()?.terminated.clone())
            .unwrap()
    };
    let message = of("failing").message.unwrap();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 80, "{message}");
    assert_eq!((lines[0], lines[79]), ("line 21", "line 100"));
    // Exit 0: no fallback to the logs.
    assert_eq!(of("fine").message, None);
    node.cleanup().await;
}
