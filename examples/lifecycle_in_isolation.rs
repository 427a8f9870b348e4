//! Pod lifecycle logic in isolation: `pod-plan` alone, with no runtime, no async and no
//! clock. The example plays the runtime itself (a [`PodRuntimeStatus`] it edits by hand) and
//! asks the plan, step by step, what a kubelet does with a container that exits with code 1
//! two seconds after each start under `restartPolicy: Always`: start it at once, then wait
//! 10, 20, 40, 80, 160 and 300 s between restarts (CrashLoopBackOff), reporting the pod's
//! status all along. Ten minutes of virtual time take a few microseconds.
//!
//! ```text
//! cargo run --example lifecycle_in_isolation
//! ```
//!
//! The same logic driven through pod-lifecycle's workers and `FakeRuntime` is
//! `examples/workers_in_virtual_time.rs`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_plan::{
    Backoff, ContainerState, ContainerStatus, PodRuntimeStatus, ProbeResults, ReasonCache,
    SandboxState, SandboxStatus, StatusInput, compute_pod_actions, container_hash,
    generate_pod_status,
};

/// How long the container runs before it exits with code 1.
const RUNS_FOR: Duration = Duration::from_secs(2);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Container {
        name: "app".into(),
        image: Some("busybox:1".into()),
        command: Some(vec!["sh".into(), "-c".into(), "sleep 2; exit 1".into()]),
        ..Default::default()
    };
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("crasher".into()),
            namespace: Some("default".into()),
            uid: Some("0000-crasher".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![app.clone()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let t0 = Timestamp::from_second(1_700_000_000)?;
    let mut now = t0;
    let mut view = PodRuntimeStatus {
        uid: "0000-crasher".into(),
        ..Default::default()
    };
    let mut backoff = Backoff::container();
    let mut reasons = ReasonCache::new();
    let probes = ProbeResults::new();
    let elapsed = |now: Timestamp| now.duration_since(t0).as_secs();

    while elapsed(now) < 600 {
        let actions = compute_pod_actions(&pod, &view, &probes, &backoff, now);
        if actions.create_sandbox {
            // The runtime would run a pause container and set up the network.
            view.sandboxes.insert(
                0,
                SandboxStatus {
                    id: format!("sandbox-{}", actions.attempt),
                    attempt: actions.attempt,
                    state: SandboxState::Ready,
                    created_at: now,
                    ips: vec!["10.88.0.7".into()],
                    host_network: false,
                },
            );
        }
        for (name, reason) in &actions.waiting {
            reasons.set(name, reason.clone());
        }
        for start in &actions.containers_to_start {
            start.advance_backoff(&mut backoff, now);
            reasons.clear(&start.name);
            println!(
                "t={:>3}s  start {} (restart {})",
                elapsed(now),
                start.name,
                start.restart_count
            );
            view.containers.insert(
                0,
                ContainerStatus {
                    id: format!("{}-{}", start.name, start.restart_count),
                    name: start.name.clone(),
                    state: ContainerState::Running,
                    created_at: now,
                    started_at: Some(now),
                    finished_at: None,
                    exit_code: 0,
                    reason: String::new(),
                    message: String::new(),
                    image: "busybox:1".into(),
                    image_ref: "sha256:busybox".into(),
                    hash: Some(container_hash(&app)),
                    restart_count: start.restart_count,
                },
            );
        }
        if !actions.containers_to_start.is_empty() {
            // The container runs, then exits with code 1, as the runtime would report it.
            now += SignedDuration::try_from(RUNS_FOR)?;
            let running = &mut view.containers[0];
            running.state = ContainerState::Exited;
            running.exit_code = 1;
            running.reason = "Error".into();
            running.finished_at = Some(now);
            continue;
        }
        // Nothing to start: the plan says how long the back-off still holds the container.
        let status = generate_pod_status(&StatusInput {
            reasons: &reasons,
            ..StatusInput::new(&pod, &view, now)
        });
        let container = &status.container_statuses.unwrap_or_default()[0];
        let waiting = container.state.as_ref().and_then(|s| s.waiting.as_ref());
        let wait = actions.backoff_expires_in.unwrap_or(Duration::from_secs(1));
        println!(
            "t={:>3}s  {} {}: {} (restarts {}), next try in {}s",
            elapsed(now),
            status.phase.as_deref().unwrap_or("?"),
            container.name,
            waiting
                .and_then(|w| w.reason.as_deref())
                .unwrap_or("running"),
            container.restart_count,
            wait.as_secs()
        );
        now += SignedDuration::try_from(wait)?;
    }
    Ok(())
}
