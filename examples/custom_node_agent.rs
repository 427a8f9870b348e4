//! A node agent of your own, built from `cri-client` and `pod-lifecycle`: your own pod source
//! (full snapshots of the wanted pods, sent on a channel to the `PodManager`) and your own
//! `StatusSink` (it prints every status change). The pod runs to Running, is deleted by
//! leaving the next snapshot, and its final status is printed before the example exits.
//!
//! It runs on the in-memory `FakeRuntime`, so it works anywhere:
//!
//! ```sh
//! cargo run --example custom_node_agent
//! ```
//!
//! With `CRI_ENDPOINT` set it runs the pod on a real runtime instead (as root, with an image
//! the runtime has: `POD_IMAGE`, default `localhost/busybox:1` of `cargo xtask setup`):
//!
//! ```sh
//! CRI_ENDPOINT=unix://$PWD/target/nodelet-env/containerd.sock cargo run --example custom_node_agent
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use cri_client::{GrpcRuntime, ImageService, RuntimeService};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{PodHost, PodWorkers, StatusSink, SystemClock, WorkerConfig};
use tokio::sync::{mpsc, watch};

/// This agent's node name: only sandboxes labelled with it are ever taken for orphans.
const NODE: &str = "custom-node-agent-example";
const SOURCE: &str = "example";

/// Our status sink: the workers call it only when a pod's status changed.
struct PrintingSink {
    started: Instant,
    latest: watch::Sender<Option<PodStatus>>,
}

impl StatusSink for PrintingSink {
    fn set_pod_status(&self, pod: &Pod, status: &PodStatus) {
        let t = self.started.elapsed().as_secs_f64();
        let name = pod.metadata.name.as_deref().unwrap_or("-");
        println!("[{t:6.3}s] {name}: {}", summary(status));
        self.latest.send_replace(Some(status.clone()));
    }

    fn pod_removed(&self, pod: &Pod) {
        let t = self.started.elapsed().as_secs_f64();
        println!(
            "[{t:6.3}s] {}: removed from the node",
            pod.metadata.name.as_deref().unwrap_or("-")
        );
    }
}

fn summary(status: &PodStatus) -> String {
    let mut line = status.phase.clone().unwrap_or_default();
    for c in status.container_statuses.iter().flatten() {
        let state = c.state.clone().unwrap_or_default();
        let what = match (state.waiting, state.running, state.terminated) {
            (Some(w), _, _) => format!("waiting {}", w.reason.unwrap_or_default()),
            (_, Some(_), _) => "running".to_string(),
            (_, _, Some(t)) => format!(
                "terminated exit {} {}",
                t.exit_code,
                t.reason.unwrap_or_default()
            ),
            _ => "unknown".to_string(),
        };
        line += &format!(", {} {what} (ready: {})", c.name, c.ready);
    }
    line
}

/// What our source wants: one pod whose container exits 0 on SIGTERM.
fn hello_pod(image: &str) -> Result<Pod, serde_json::Error> {
    let script = r#"trap "exit 0" TERM; while true; do sleep 1; done"#;
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "hello", "namespace": "default", "uid": "custom-agent-0001"},
        "spec": {"containers": [{"name": "app", "image": image, "command": ["sh", "-c", script]}]},
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (runtime, images, runtime_name): (Arc<dyn RuntimeService>, Arc<dyn ImageService>, _) =
        match std::env::var("CRI_ENDPOINT") {
            Ok(endpoint) => {
                let real = GrpcRuntime::connect(&endpoint).await?;
                println!("runtime: {endpoint}");
                (Arc::new(real.clone()), Arc::new(real), "containerd")
            }
            Err(_) => {
                let fake = FakeRuntime::with_busybox();
                println!("runtime: FakeRuntime (set CRI_ENDPOINT for a real one)");
                (Arc::new(fake.clone()), Arc::new(fake), "fake")
            }
        };
    let image = std::env::var("POD_IMAGE").unwrap_or_else(|_| BUSYBOX_IMAGE.to_string());
    let logs = tempfile::tempdir()?;

    let (latest, mut statuses) = watch::channel(None);
    let sink = Arc::new(PrintingSink {
        started: Instant::now(),
        latest,
    });
    let host = PodHost {
        status: sink.clone(),
        ..PodHost::new(runtime.clone(), images)
    };
    let config = WorkerConfig {
        pod_logs_dir: logs.path().to_path_buf(),
        node_name: NODE.into(),
        runtime_name: runtime_name.into(),
        ..WorkerConfig::default()
    };
    let workers = Arc::new(PodWorkers::new(host, config));
    let manager = Arc::new(PodManager::new(
        workers.clone(),
        runtime,
        sink,
        Arc::new(SystemClock),
        PodManagerConfig {
            sources: vec![SOURCE.into()],
            node_name: NODE.into(),
            ..PodManagerConfig::default()
        },
    ));

    // Our pod source: each message is the full list of pods this node should run.
    let (source, mut snapshots) = mpsc::channel::<Vec<Pod>>(4);
    let feeder = manager.clone();
    tokio::spawn(async move {
        while let Some(pods) = snapshots.recv().await {
            feeder.set_source_pods(SOURCE, pods);
        }
    });

    let pod = hello_pod(&image)?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    source.send(vec![pod]).await?;
    // There is no PLEG here, so the worker is woken every 100 ms to look at the runtime
    // again (an agent runs `pod_lifecycle::pleg::Pleg`, which wakes it on events).
    let running = async {
        while statuses
            .borrow_and_update()
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            != Some("Running")
        {
            workers.wake(&uid);
            let _ = tokio::time::timeout(Duration::from_millis(100), statuses.changed()).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), running).await?;

    // Deleting is leaving the pod out of the next snapshot.
    source.send(Vec::new()).await?;
    workers.wait_terminated(&uid).await;
    if let Some(last) = statuses.borrow().as_ref() {
        println!("final status: {}", summary(last));
    }
    // Housekeeping forgets the terminated pod (the sink's `pod_removed`).
    manager.housekeeping().await;

    workers.stop().await;
    Ok(())
}
