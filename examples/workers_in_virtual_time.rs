//! Drive a pod through a crash loop with no container runtime: `pod-lifecycle`'s workers on
//! `FakeRuntime`, in virtual time. Ten simulated minutes take a fraction of a second.
//!
//! ```sh
//! cargo run --example workers_in_virtual_time
//! ```

use std::sync::Arc;
use std::time::Duration;

use cri_client::fake::FakeRuntime;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::fake::FakeRuntimeClock;
use pod_lifecycle::worker::{MemoryEvents, MemoryStatusSink, PodHost, PodWorkers, WorkerConfig};

fn crashing_pod() -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("crasher".into()),
            namespace: Some("default".into()),
            uid: Some("0000-crasher".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Always".into()),
            containers: vec![Container {
                name: "app".into(),
                image: Some("localhost/busybox:1".into()),
                command: Some(vec!["sh".into(), "-c".into(), "exit 1".into()]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn summary(status: &PodStatus) -> String {
    let Some(c) = status.container_statuses.as_ref().and_then(|c| c.first()) else {
        return format!("{:?}", status.phase);
    };
    let state = c.state.as_ref();
    let what = if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
        format!("waiting {}", w.reason.as_deref().unwrap_or(""))
    } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        format!(
            "terminated exit {} ({})",
            t.exit_code,
            t.reason.as_deref().unwrap_or("")
        )
    } else {
        "running".to_string()
    };
    format!(
        "phase {:<8} restarts {:<2} {what}",
        status.phase.as_deref().unwrap_or("-"),
        c.restart_count
    )
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let fake = FakeRuntime::with_busybox();
    let statuses = MemoryStatusSink::new();
    let host = PodHost {
        status: Arc::new(statuses.clone()),
        events: Arc::new(MemoryEvents::new()),
        // The workers read the fake runtime's clock, which the loop below moves.
        clock: Arc::new(FakeRuntimeClock::new(&fake)),
        ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
    };
    let config = WorkerConfig {
        pod_logs_dir: std::env::temp_dir().join("nodelet-example-logs"),
        runtime_name: "fake".into(),
        ..WorkerConfig::default()
    };
    let workers = PodWorkers::new(host, config);
    let pod = crashing_pod();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    workers.update_pod(pod);

    // Ten minutes in 100 ms steps; the worker is woken every step as the PLEG would.
    let step = Duration::from_millis(100);
    let mut last = String::new();
    for tick in 0..6000u32 {
        fake.advance(step);
        tokio::time::advance(step).await;
        workers.wake(&uid);
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        if let Some(status) = statuses.get(&uid) {
            let line = summary(&status);
            if line != last {
                println!("t={:>6.1}s  {line}", f64::from(tick + 1) / 10.0);
                last = line;
            }
        }
    }
}
