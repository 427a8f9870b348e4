//! The container restart back-off of the pod workers as configured (RP-10): the workers run
//! against `FakeRuntime` in virtual time (the harness of `worker_scenarios.rs`), so every
//! restart delay is exact and minutes of back-off take milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use pod_lifecycle::plan::CrashLoopBackOffConfig;
use pod_lifecycle::worker::WorkerConfig;

mod common;

use common::fake::{FakeNode, settle};

/// Runs a pod whose only container exits at once under `Always`, for `total` of virtual
/// time, and returns the gaps (in seconds) between one run's exit and the next run's start.
async fn crash_loop_gaps(backoff: CrashLoopBackOffConfig, total: Duration) -> Vec<f64> {
    let h = FakeNode::with_config(WorkerConfig {
        crash_loop_backoff: backoff,
        ..WorkerConfig::default()
    });
    let pod = common::fake::pod(
        "crash",
        PodSpec {
            restart_policy: Some("Always".into()),
            containers: vec![Container {
                name: "app".into(),
                image: Some("localhost/busybox:1".into()),
                image_pull_policy: Some("IfNotPresent".into()),
                command: Some(vec!["sh".into(), "-c".into(), "exit 1".into()]),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    h.workers.update_pod(pod);
    settle().await;
    h.run_for("crash", total, Duration::from_millis(100)).await;

    // Container GC keeps only the newest dead instance in the runtime: read every instance's
    // start and finish from the statuses the worker sent over time.
    let mut runs = BTreeMap::new();
    for status in h.statuses.history("crash") {
        for c in status.container_statuses.iter().flatten() {
            for state in [c.state.as_ref(), c.last_state.as_ref()]
                .into_iter()
                .flatten()
            {
                if let Some(t) = &state.terminated
                    && let (Some(s), Some(f)) = (&t.started_at, &t.finished_at)
                {
                    runs.insert(t.container_id.clone(), (s.0, f.0));
                }
            }
        }
    }
    let mut runs: Vec<_> = runs.into_values().collect();
    runs.sort();
    let waiting = h.waiting("crash");
    assert_eq!(waiting.reason.as_deref(), Some("CrashLoopBackOff"));
    runs.windows(2)
        .map(|w| w[1].0.duration_since(w[0].1).as_secs_f64())
        .collect()
}

/// Each gap is the expected delay: never early, late by at most one wake-up step (0.1 s).
fn assert_gaps(gaps: &[f64], expected: &[f64]) {
    assert!(
        gaps.len() >= expected.len(),
        "gaps {gaps:?}, want at least {expected:?}"
    );
    for (gap, want) in gaps.iter().zip(expected) {
        assert!(
            *gap >= *want && *gap <= want + 0.25,
            "gaps {gaps:?}, want {expected:?}"
        );
    }
}

/// `crashLoopBackOff.maxContainerRestartPeriod: 30s`: 10 s doubling, capped at 30 s.
#[tokio::test(start_paused = true)]
async fn rp_10_worker_caps_the_back_off_at_max_container_restart_period() {
    let gaps = crash_loop_gaps(
        CrashLoopBackOffConfig {
            reduce_default_decay: false,
            max_container_restart_period: Some(Duration::from_secs(30)),
        },
        Duration::from_secs(200),
    )
    .await;
    eprintln!("gaps with a 30s maximum: {gaps:?}");
    assert_gaps(&gaps, &[0.0, 10.0, 20.0, 30.0, 30.0, 30.0]);
    assert!(
        gaps.iter().all(|g| *g <= 30.25),
        "never past the maximum: {gaps:?}"
    );
}

/// `maxContainerRestartPeriod: 5s`, below the first delay: the first delay is 5 s too.
#[tokio::test(start_paused = true)]
async fn rp_10_worker_max_below_the_first_delay_is_the_first_delay() {
    let gaps = crash_loop_gaps(
        CrashLoopBackOffConfig {
            reduce_default_decay: false,
            max_container_restart_period: Some(Duration::from_secs(5)),
        },
        Duration::from_secs(40),
    )
    .await;
    eprintln!("gaps with a 5s maximum: {gaps:?}");
    assert_gaps(&gaps, &[0.0, 5.0, 5.0, 5.0, 5.0]);
}

/// `ReduceDefaultCrashLoopBackOffDecay` with `KubeletCrashLoopBackOffMax` off: 1 s doubling
/// to 60 s.
#[tokio::test(start_paused = true)]
async fn rp_10_worker_reduced_decay_starts_at_1s_and_caps_at_60s() {
    let gaps = crash_loop_gaps(
        CrashLoopBackOffConfig {
            reduce_default_decay: true,
            max_container_restart_period: None,
        },
        Duration::from_secs(400),
    )
    .await;
    eprintln!("gaps with the reduced decay: {gaps:?}");
    assert_gaps(
        &gaps,
        &[0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0],
    );
}
