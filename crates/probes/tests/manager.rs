//! The probe manager: workers per pod, the status feed, gating with real exec probes on the
//! fake runtime, jitter after an agent restart, metrics, bad input.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use cri_client::v1;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, ExecAction, Probe};
use probes::{ProbeClock, ProbeKind, ProbeManager, ProbeResult};
use support::{Scripted, Step, UID, container, pod, probe, running, status};
use test_env::TestSandbox;
use tokio::time::Instant;

const T0: Timestamp = Timestamp::constant(1_767_225_600, 0);

async fn at(start: Instant, secs: f64) {
    tokio::time::sleep_until(start + Duration::from_secs_f64(secs) + Duration::from_millis(1))
        .await;
}

/// A running container in the fake runtime; returns its id.
async fn start_container(fake: &FakeRuntime, name: &str) -> String {
    let sleeper = TestSandbox::builder("default", "demo", UID).run_with_container(
        fake,
        name,
        BUSYBOX_IMAGE,
        &["sleep", "infinity"],
    );
    sleeper.await.unwrap().1
}

fn exec_probe(cmd: &str, timeout: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec![cmd.into()]),
        }),
        timeout_seconds: Some(timeout),
        period_seconds: Some(1),
        failure_threshold: Some(1000),
        ..Default::default()
    }
}

fn exit(code: i32) -> v1::ExecSyncResponse {
    v1::ExecSyncResponse {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: code,
    }
}

#[tokio::test(start_paused = true)]
async fn pr_07_startup_probe_gates_liveness_and_readiness() {
    let start = Instant::now();
    let fake = FakeRuntime::with_busybox();
    let id = start_container(&fake, "web").await;
    fake.set_exec_reply(None, &["check-startup"], exit(1));
    fake.set_exec_reply(None, &["check-live"], exit(0));
    fake.set_exec_reply(None, &["check-ready"], exit(0));
    // The probes tell their ExecSync calls apart by timeout: 1 s startup, 2 s liveness,
    // 3 s readiness.
    let mut c = container("web");
    c.startup_probe = Some(exec_probe("check-startup", 1));
    c.liveness_probe = Some(exec_probe("check-live", 2));
    c.readiness_probe = Some(exec_probe("check-ready", 3));
    let execs = |timeout: i64| {
        fake.calls_to("ExecSync")
            .iter()
            .filter(|c| c.timeout == Some(timeout) && c.id.as_deref() == Some(id.as_str()))
            .count()
    };

    let manager = ProbeManager::builder(Arc::new(fake.clone()))
        .clock(ProbeClock::starting_at(T0))
        .build();
    manager.update_pod_status(UID, &status(vec![running("web", &id, T0)]));
    assert!(manager.add_pod(&pod(vec![c])).is_empty());
    at(start, 5.0).await;
    assert_eq!(execs(1), 6, "the startup probe runs every second");
    assert_eq!(
        (execs(2), execs(3)),
        (0, 0),
        "nothing else runs before it succeeds"
    );
    assert_eq!(
        manager.results().get(UID, &id, ProbeKind::Startup),
        Some(ProbeResult::Unknown)
    );

    fake.set_exec_reply(None, &["check-startup"], exit(0));
    at(start, 6.0).await;
    assert_eq!(
        manager.results().get(UID, &id, ProbeKind::Startup),
        Some(ProbeResult::Success)
    );
    at(start, 9.0).await;
    assert_eq!(execs(1), 7, "and never again once it succeeded");
    assert!(execs(2) >= 3 && execs(3) >= 3, "{} {}", execs(2), execs(3));
    assert_eq!(
        manager.results().get(UID, &id, ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
}

/// The scripted handler of each container, by name.
type Handlers = Arc<Mutex<HashMap<String, Arc<Scripted>>>>;

/// A manager whose handlers are scripted, one per container name.
fn scripted_manager(restarted: bool, step: Step) -> (ProbeManager, Handlers) {
    let handlers: Handlers = Arc::default();
    let h = handlers.clone();
    let manager = ProbeManager::builder(Arc::new(FakeRuntime::new()))
        .agent_restarted(restarted)
        .clock(ProbeClock::starting_at(T0))
        .handlers(move |_probe: &Probe, c: &Container| {
            let s = Scripted::always(step.clone());
            h.lock().unwrap().insert(c.name.clone(), s.clone());
            Ok(s as Arc<dyn probes::ProbeHandler>)
        })
        .build();
    (manager, handlers)
}

fn many(
    n: usize,
) -> (
    Vec<Container>,
    Vec<k8s_openapi::api::core::v1::ContainerStatus>,
) {
    (0..n)
        .map(|i| {
            let mut c = container(&format!("c{i}"));
            c.liveness_probe = Some(probe());
            (c, running(&format!("c{i}"), &format!("id{i}"), T0))
        })
        .unzip()
}

fn first_probes(handlers: &Mutex<HashMap<String, Arc<Scripted>>>, start: Instant) -> Vec<Duration> {
    handlers
        .lock()
        .unwrap()
        .values()
        .map(|s| s.times(start)[0])
        .collect()
}

#[tokio::test(start_paused = true)]
async fn pr_11_first_probe_jittered_only_after_an_agent_restart() {
    let (containers, statuses) = many(20);

    // A fresh agent: every worker probes at once.
    let start = Instant::now();
    let (manager, handlers) = scripted_manager(false, Step::Success);
    manager.update_pod_status(UID, &status(statuses.clone()));
    assert!(manager.add_pod(&pod(containers.clone())).is_empty());
    at(start, 10.5).await;
    let first = first_probes(&handlers, start);
    assert_eq!(first.len(), 20);
    assert!(first.iter().all(|d| d.is_zero()), "{first:?}");
    manager.remove_pod(UID);

    // After a restart: each first probe waits rand[0, period).
    let start = Instant::now();
    let (manager, handlers) = scripted_manager(true, Step::Success);
    manager.update_pod_status(UID, &status(statuses.clone()));
    assert!(manager.add_pod(&pod(containers.clone())).is_empty());
    at(start, 10.5).await;
    let first = first_probes(&handlers, start);
    assert_eq!(first.len(), 20);
    assert!(
        first.iter().all(|d| *d < Duration::from_secs(10)),
        "{first:?}"
    );
    let distinct: std::collections::BTreeSet<_> = first.iter().collect();
    assert!(distinct.len() > 10, "probes are spread: {first:?}");
    manager.remove_pod(UID);

    // Workers created more than a period after the restart are not jittered.
    let (manager, handlers) = scripted_manager(true, Step::Success);
    at(start, 21.0).await;
    let start = Instant::now();
    manager.update_pod_status(UID, &status(statuses));
    assert!(manager.add_pod(&pod(containers)).is_empty());
    support::settle().await;
    let first = first_probes(&handlers, start);
    assert!(first.iter().all(|d| d.is_zero()), "{first:?}");
}

#[tokio::test(start_paused = true)]
async fn pr_22_probe_total_counts_successful_readiness_probes() {
    let start = Instant::now();
    let (manager, _) = scripted_manager(false, Step::Success);
    let mut c = container("web");
    c.readiness_probe = Some(Probe {
        period_seconds: Some(1),
        ..probe()
    });
    manager.update_pod_status(UID, &status(vec![running("web", "c1", T0)]));
    assert!(manager.add_pod(&pod(vec![c])).is_empty());
    at(start, 3.0).await;
    let text = manager.metrics().render();
    assert!(
        text.contains(
            "prober_probe_total{container=\"web\",namespace=\"default\",pod=\"demo\",pod_uid=\"uid-1\",probe_type=\"Readiness\",result=\"successful\"} 4\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE prober_probe_total counter\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "prober_probe_duration_seconds_count{container=\"web\",namespace=\"default\",pod=\"demo\",probe_type=\"Readiness\"} 4\n"
        ),
        "{text}"
    );
    at(start, 4.0).await;
    assert!(
        manager
            .metrics()
            .render()
            .contains("result=\"successful\"} 5\n")
    );

    // Failures are counted under result="failed".
    let (manager, _) = scripted_manager(false, Step::Failure("no"));
    let mut c = container("web");
    c.liveness_probe = Some(Probe {
        period_seconds: Some(1),
        failure_threshold: Some(10),
        ..probe()
    });
    manager.update_pod_status(UID, &status(vec![running("web", "c1", T0)]));
    assert!(manager.add_pod(&pod(vec![c])).is_empty());
    support::settle().await;
    assert!(
        manager
            .metrics()
            .render()
            .contains("probe_type=\"Liveness\",result=\"failed\"} 1\n")
    );
    // A removed pod's series are deleted, as the kubelet deletes a stopped worker's.
    manager.remove_pod(UID);
    support::settle().await;
    assert!(
        !manager
            .metrics()
            .render()
            .contains("probe_type=\"Liveness\"")
    );
}

#[tokio::test(start_paused = true)]
async fn status_update_probes_a_not_ready_container_at_once() {
    let start = Instant::now();
    let (manager, handlers) = scripted_manager(false, Step::Success);
    let mut c = container("web");
    c.readiness_probe = Some(probe());
    assert!(manager.add_pod(&pod(vec![c])).is_empty());
    at(start, 3.0).await;
    manager.update_pod_status(UID, &status(vec![running("web", "c1", T0)]));
    support::settle().await;
    let h = handlers.lock().unwrap()["web"].clone();
    assert_eq!(h.times(start), [Duration::from_millis(3001)]);
    assert_eq!(
        manager.results().get(UID, "c1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
    // Once ready, status updates do not trigger probes.
    manager.update_pod_status(UID, &status(vec![running("web", "c1", T0)]));
    support::settle().await;
    assert_eq!(h.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn invalid_probes_leave_other_containers_probed() {
    let start = Instant::now();
    let (manager, handlers) = scripted_manager(false, Step::Success);
    let mut good = container("good");
    good.readiness_probe = Some(probe());
    let mut bad = container("bad");
    bad.liveness_probe = Some(Probe {
        period_seconds: Some(-5),
        ..probe()
    });
    let mut no_handler = container("empty");
    no_handler.startup_probe = Some(Probe::default());
    manager.update_pod_status(
        UID,
        &status(vec![running("good", "g1", T0), running("bad", "b1", T0)]),
    );
    let errors = manager.add_pod(&pod(vec![bad, good, no_handler]));
    let texts: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        texts,
        [
            "pod default/demo: container \"bad\": invalid liveness probe: spec.containers[0].livenessProbe.periodSeconds: must be greater than or equal to 0 (got -5)",
            "pod default/demo: container \"empty\": invalid startup probe: spec.containers[2].startupProbe: must specify a handler type",
        ]
    );
    at(start, 1.0).await;
    assert!(manager.is_probing(UID, "good", ProbeKind::Readiness));
    assert!(!manager.is_probing(UID, "bad", ProbeKind::Liveness));
    assert_eq!(handlers.lock().unwrap().len(), 1);
    assert_eq!(
        manager.results().get(UID, "g1", ProbeKind::Readiness),
        Some(ProbeResult::Success)
    );
}

#[tokio::test(start_paused = true)]
async fn add_pod_is_idempotent_and_remove_pod_stops_everything() {
    let start = Instant::now();
    let (manager, handlers) = scripted_manager(false, Step::Success);
    let mut c = container("web");
    c.liveness_probe = Some(probe());
    c.readiness_probe = Some(probe());
    let p = pod(vec![c]);
    manager.update_pod_status(UID, &status(vec![running("web", "c1", T0)]));
    for _ in 0..5 {
        assert!(manager.add_pod(&p).is_empty());
    }
    at(start, 0.5).await;
    let h = handlers.lock().unwrap()["web"].clone();
    assert_eq!(
        h.count(),
        1,
        "one worker per container and kind (the last one built)"
    );
    let mut updates = manager.subscribe();
    manager.remove_pod(UID);
    support::settle().await;
    assert!(!manager.is_probing(UID, "web", ProbeKind::Liveness));
    assert!(manager.results().pod_results(UID).is_empty());
    at(start, 30.0).await;
    assert_eq!(h.count(), 1);
    assert!(updates.try_recv().is_err());

    // Terminating through the manager: liveness stops, readiness stays.
    let (manager, _) = scripted_manager(false, Step::Success);
    manager.update_pod_status(UID, &status(vec![running("web", "c1", T0)]));
    assert!(manager.add_pod(&p).is_empty());
    support::settle().await;
    manager.terminating(UID);
    support::settle().await;
    assert!(!manager.is_probing(UID, "web", ProbeKind::Liveness));
    assert!(manager.is_probing(UID, "web", ProbeKind::Readiness));
    // A later sync does not bring liveness back.
    assert!(manager.add_pod(&p).is_empty());
    assert!(!manager.is_probing(UID, "web", ProbeKind::Liveness));
}

#[test]
fn add_pod_outside_a_runtime_is_an_error_not_a_panic() {
    let manager = ProbeManager::new(Arc::new(FakeRuntime::new()));
    let mut c = container("web");
    c.liveness_probe = Some(probe());
    let errors = manager.add_pod(&pod(vec![c]));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("default/demo"),
        "{}",
        errors[0]
    );
}
