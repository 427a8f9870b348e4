//! Probes end to end: pod workers, the PLEG and the `probes` crate's manager against a real
//! containerd, wired as the agent wires them (results read by the plan and the status,
//! pod statuses fed to the probe workers, a changed result waking the pod's worker, probe
//! events recorded with the pod's events).
//!
//! - a busybox httpd whose `httpGet` readiness probe fails once its page is removed: the
//!   pod's `Ready` follows, and the container is never restarted (PR-21);
//! - an exec liveness probe that starts failing: the container is killed with the
//!   kubelet's `Killing` message and restarted (PR-03), or, under `restartPolicy: Never`,
//!   killed and not restarted, the pod Failed (PR-04);
//! - a startup probe gating a slow container (PR-09) and one that never succeeds (PR-08);
//! - invalid probes: `CreateContainerConfigError` naming the probe and the field, while the
//!   pod's other container and another pod run;
//! - the agent-restart signal the probe manager's jitter uses (PR-11): the runtime runs
//!   containers of this node.
//!
//! The harness is `tests/common` (on `test_env`) with its probes ([`NodeBuilder::probes`]):
//! the environment comes from the process or from `target/nodelet-env/env`; without it each
//! test prints how to start it and passes, except with `CI=true`, where it fails: CI must
//! never pass by skipping. Each test holds a shared lock on the runtime while it runs, so
//! the agent's end-to-end tests (which hold it exclusively) wait for it. Probe periods are
//! 1 s; every wait is a poll with a generous deadline, never a timing assertion.
//!
//! [`NodeBuilder::probes`]: common::NodeBuilder::probes

mod common;

use std::time::Duration;

use common::{Node, container, status_of};
use cri_client::RuntimeService;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ContainerStatus, ExecAction, HTTPGetAction, Pod, PodStatus, Probe,
    TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pod_lifecycle::worker::{EventType, PodEvent, runs_containers_of_node};
use probes::metrics::MetricResult;
use probes::{ProbeKind, cri_container_id};

/// The longest any one condition is waited for.
const DEADLINE: Duration = Duration::from_secs(90);

const NAMESPACE: &str = "nodelet-probes-test";

/// Pod workers, PLEG and probes on the real runtime, every status kept, the sandboxes
/// labelled with [`node_name`]; `None` (after saying why) when the environment is missing.
async fn start_node() -> Option<Node> {
    let node = Node::builder()
        .await?
        .probes()
        .status_history()
        .deadline(DEADLINE)
        .config(|c| c.node_name = node_name())
        .start();
    Some(node)
}

/// The node name the test's workers label their sandboxes with.
fn node_name() -> String {
    format!("probes-test-{}", std::process::id())
}

/// A pod named as its uid, so events (`namespace/name`) are easy to find.
fn pod(name: &str, policy: &str, containers: Vec<Container>) -> Pod {
    common::pod(NAMESPACE, name, policy, 5, containers)
}

/// A shell that stays up and exits 0 on TERM at once.
const SLEEPER: &str = "trap 'exit 0' TERM; sleep 3600 & wait";

fn exec_probe(script: &str) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        }),
        period_seconds: Some(1),
        ..Default::default()
    }
}

fn is_running(c: &ContainerStatus) -> bool {
    c.state.as_ref().is_some_and(|s| s.running.is_some())
}

fn condition(status: &PodStatus, type_: &str) -> Option<String> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

fn ready_conditions(status: &PodStatus) -> (Option<String>, Option<String>) {
    (
        condition(status, "Ready"),
        condition(status, "ContainersReady"),
    )
}

fn both(value: &str) -> (Option<String>, Option<String>) {
    (Some(value.to_string()), Some(value.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_21_readiness_http_probe_flips_pod_ready_and_never_restarts() {
    let Some(node) = start_node().await else {
        return;
    };
    let mut web = container(
        "web",
        "mkdir -p /www && echo hello > /www/index.html; trap 'exit 0' TERM; \
         httpd -f -p 8080 -h /www & wait",
    );
    web.ports = Some(vec![ContainerPort {
        name: Some("http".into()),
        container_port: 8080,
        ..Default::default()
    }]);
    web.readiness_probe = Some(Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/index.html".into()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        }),
        period_seconds: Some(1),
        ..Default::default()
    });
    let p = pod("ready", "Always", vec![web]);
    let uid = node.run(p);

    let ready = node
        .wait_for(&uid, "Ready and ContainersReady True", |s| {
            ready_conditions(s) == both("True")
        })
        .await;
    let web = status_of(&ready, "web");
    assert!(web.ready && is_running(web), "{web:?}");
    let id = web.container_id.clone().unwrap();
    // Before the first success the container was running but not ready (PR-02 end to end).
    assert!(
        node.statuses.history(&uid).iter().any(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .any(|c| is_running(c) && !c.ready)
        }),
        "the container was never seen running and not ready"
    );

    // The page goes: 404 from now on, and after 3 failures the pod is not ready.
    node.exec(&id, "rm /www/index.html").await;
    let unready = node
        .wait_for(&uid, "Ready and ContainersReady False", |s| {
            ready_conditions(s) == both("False")
        })
        .await;
    let web = status_of(&unready, "web");
    assert!(!web.ready && is_running(web), "{web:?}");
    assert_eq!(web.container_id.as_deref(), Some(id.as_str()));
    let unhealthy: Vec<PodEvent> = node
        .pod_events(&uid)
        .into_iter()
        .filter(|e| e.reason == "Unhealthy")
        .collect();
    assert!(
        unhealthy.iter().any(|e| e.kind == EventType::Warning
            && e.message == "Readiness probe failed: HTTP probe failed with statuscode: 404"),
        "{unhealthy:?}"
    );

    // A few more failed periods: a readiness failure never restarts anything.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = node.statuses.get(&uid).unwrap();
    let web = status_of(&status, "web");
    assert_eq!(web.restart_count, 0);
    assert_eq!(web.container_id.as_deref(), Some(id.as_str()));
    assert!(is_running(web));
    assert!(
        node.pod_events(&uid).iter().all(|e| e.reason != "Killing"),
        "{:?}",
        node.pod_events(&uid)
    );

    // The page is back: ready again, same container.
    node.exec(&id, "echo hello > /www/index.html").await;
    let again = node
        .wait_for(&uid, "Ready True again", |s| {
            ready_conditions(s) == both("True")
        })
        .await;
    let web = status_of(&again, "web");
    assert_eq!(
        (web.restart_count, web.container_id.as_deref()),
        (0, Some(id.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_03_failing_liveness_probe_restarts_the_container() {
    let Some(node) = start_node().await else {
        return;
    };
    // Healthy for 2 s, then the liveness file is gone.
    let mut app = container(
        "app",
        "touch /tmp/healthy; (sleep 2; rm -f /tmp/healthy) & trap 'exit 0' TERM; \
         sleep 3600 & wait",
    );
    app.liveness_probe = Some(exec_probe("cat /tmp/healthy"));
    let p = pod("liveness", "Always", vec![app]);
    let uid = node.run(p);

    let restarted = node
        .wait_for(&uid, "restartCount 1 and running again", |s| {
            let c = status_of(s, "app");
            c.restart_count >= 1 && is_running(c)
        })
        .await;
    let app = status_of(&restarted, "app");
    let last = app
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .unwrap_or_else(|| panic!("no lastState.terminated: {app:?}"));
    assert_eq!(last.exit_code, 0, "the shell exits 0 on TERM: {last:?}");

    let events = node.pod_events(&uid);
    let first_kill = events
        .iter()
        .position(|e| e.reason == "Killing")
        .unwrap_or_else(|| panic!("no Killing event: {events:?}"));
    assert_eq!(events[first_kill].kind, EventType::Normal);
    assert_eq!(
        events[first_kill].message,
        "Container app failed liveness probe, will be restarted"
    );
    // The kill came on the 3rd consecutive failure (failureThreshold's default).
    let failures: Vec<&PodEvent> = events[..first_kill]
        .iter()
        .filter(|e| e.reason == "Unhealthy")
        .collect();
    assert_eq!(failures.len(), 3, "{events:?}");
    assert!(
        failures.iter().all(|e| e.kind == EventType::Warning
            // The exec output as the command wrote it, newline included.
            && e.message.trim_end()
                == "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory"),
        "{failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_04_liveness_kill_under_restart_policy_never_fails_the_pod() {
    let Some(node) = start_node().await else {
        return;
    };
    // `sleep` as PID 1 ignores TERM: the grace period ends in SIGKILL, exit 137.
    let mut app = container(
        "app",
        "touch /tmp/healthy; (sleep 2; rm -f /tmp/healthy) & exec sleep 3600",
    );
    app.liveness_probe = Some(exec_probe("cat /tmp/healthy"));
    let mut p = pod("never", "Never", vec![app.clone()]);
    p.spec.as_mut().unwrap().termination_grace_period_seconds = Some(2);
    let uid = node.run(p);
    // The same container beside one that keeps running: only it is killed, with the
    // liveness message and no restart.
    let mut beside = pod(
        "neverpair",
        "Never",
        vec![app, container("keeper", SLEEPER)],
    );
    beside
        .spec
        .as_mut()
        .unwrap()
        .termination_grace_period_seconds = Some(2);
    let beside_uid = node.run(beside);

    let failed = node
        .wait_for(&uid, "phase Failed", |s| {
            s.phase.as_deref() == Some("Failed")
        })
        .await;
    let app = status_of(&failed, "app");
    assert_eq!(app.restart_count, 0, "{app:?}");
    let terminated = app
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .unwrap_or_else(|| panic!("not terminated: {app:?}"));
    assert_eq!(terminated.exit_code, 137, "{terminated:?}");
    // Killed once, after the 3rd failure. With nothing left to run the kubelet kills the
    // whole pod (`computePodActions` sets KillPod, whose kills carry no message), so the
    // event is the plain "Stopping container".
    let events = node.pod_events(&uid);
    let kills: Vec<&PodEvent> = events.iter().filter(|e| e.reason == "Killing").collect();
    assert_eq!(kills.len(), 1, "{events:?}");
    assert_eq!(kills[0].message, "Stopping container app");
    let first_kill = events.iter().position(|e| e.reason == "Killing").unwrap();
    let failures = events[..first_kill]
        .iter()
        .filter(|e| e.reason == "Unhealthy" && e.message.starts_with("Liveness probe failed:"))
        .count();
    assert_eq!(failures, 3, "{events:?}");

    let killed = node
        .wait_for(&beside_uid, "app terminated beside keeper", |s| {
            status_of(s, "app")
                .state
                .as_ref()
                .is_some_and(|st| st.terminated.is_some())
        })
        .await;
    assert_eq!(killed.phase.as_deref(), Some("Running"));
    assert!(is_running(status_of(&killed, "keeper")));
    let kills: Vec<String> = node
        .pod_events(&beside_uid)
        .into_iter()
        .filter(|e| e.reason == "Killing")
        .map(|e| e.message)
        .collect();
    assert_eq!(kills, ["Container app failed liveness probe"]);

    // Nothing starts again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = node.statuses.get(&uid).unwrap();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status_of(&status, "app").restart_count, 0);
    let status = node.statuses.get(&beside_uid).unwrap();
    assert_eq!(status_of(&status, "app").restart_count, 0);
    assert!(
        status_of(&status, "app")
            .state
            .as_ref()
            .is_some_and(|st| st.terminated.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_09_startup_probe_gates_a_slow_container_then_never_runs_again() {
    let Some(node) = start_node().await else {
        return;
    };
    // Starts up in about 4 s; readiness and liveness pass whenever they run.
    let mut slow = container(
        "slow",
        "(sleep 4; touch /tmp/started) & trap 'exit 0' TERM; sleep 3600 & wait",
    );
    slow.startup_probe = Some(Probe {
        failure_threshold: Some(60),
        ..exec_probe("cat /tmp/started")
    });
    slow.readiness_probe = Some(exec_probe("true"));
    slow.liveness_probe = Some(exec_probe("true"));
    // No startup probe: started as soon as it runs.
    let plain = container("plain", SLEEPER);
    let p = pod("startup", "Always", vec![slow, plain]);
    let uid = node.run(p);

    let gated = node
        .wait_for(&uid, "slow running but not started", |s| {
            let slow = status_of(s, "slow");
            let plain = status_of(s, "plain");
            is_running(slow) && is_running(plain) && plain.started == Some(true)
        })
        .await;
    let slow = status_of(&gated, "slow");
    assert_eq!((slow.started, slow.ready), (Some(false), false), "{slow:?}");
    // While the startup probe has not succeeded, readiness and liveness do not run: their
    // counts, read before the startup result, are zero as long as that result is not
    // Success.
    let gated_runs: u64 = [ProbeKind::Readiness, ProbeKind::Liveness]
        .into_iter()
        .flat_map(|kind| {
            [MetricResult::Successful, MetricResult::Failed]
                .map(|result| node.probe_total(&uid, "slow", kind, result))
        })
        .sum();
    let slow_id = cri_container_id(slow.container_id.as_deref().unwrap()).to_string();
    let startup = node
        .probes()
        .results()
        .get(&uid, &slow_id, ProbeKind::Startup);
    if startup != Some(probes::ProbeResult::Success) {
        assert_eq!(gated_runs, 0, "readiness or liveness ran before the start");
    }
    assert!(status_of(&gated, "plain").ready);
    assert_eq!(ready_conditions(&gated), both("False"));

    let started = node
        .wait_for(&uid, "slow started and ready", |s| {
            let slow = status_of(s, "slow");
            slow.started == Some(true) && slow.ready
        })
        .await;
    assert_eq!(ready_conditions(&started), both("True"));
    assert_eq!(status_of(&started, "slow").restart_count, 0);
    // No status ever had it ready before it started.
    for s in node.statuses.history(&uid) {
        let slow = status_of(&s, "slow");
        assert!(slow.started == Some(true) || !slow.ready, "{slow:?}");
    }
    let startup_runs = node.probe_total(&uid, "slow", ProbeKind::Startup, MetricResult::Successful);
    assert_eq!(startup_runs, 1);
    let failed_startups = node.probe_total(&uid, "slow", ProbeKind::Startup, MetricResult::Failed);
    assert!(failed_startups >= 1, "the file appears after 4 s");

    // Several periods later: the startup probe never ran again, the others go on.
    let liveness_before =
        node.probe_total(&uid, "slow", ProbeKind::Liveness, MetricResult::Successful);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        node.probe_total(&uid, "slow", ProbeKind::Startup, MetricResult::Successful),
        1
    );
    assert_eq!(
        node.probe_total(&uid, "slow", ProbeKind::Startup, MetricResult::Failed),
        failed_startups
    );
    assert!(
        node.probe_total(&uid, "slow", ProbeKind::Liveness, MetricResult::Successful)
            > liveness_before
    );
    let status = node.statuses.get(&uid).unwrap();
    assert_eq!(status_of(&status, "slow").started, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_08_startup_probe_failing_failure_threshold_times_restarts_the_container() {
    let Some(node) = start_node().await else {
        return;
    };
    let mut app = container("app", SLEEPER);
    app.startup_probe = Some(Probe {
        failure_threshold: Some(2),
        ..exec_probe("cat /tmp/never")
    });
    let p = pod("startupfail", "Always", vec![app]);
    let uid = node.run(p);

    let first = node
        .wait_for(&uid, "app running", |s| {
            status_of(s, "app").container_id.is_some()
        })
        .await;
    let first_id = status_of(&first, "app").container_id.clone().unwrap();
    let restarted = node
        .wait_for(&uid, "restartCount 1", |s| {
            status_of(s, "app").restart_count >= 1
        })
        .await;
    let app = status_of(&restarted, "app");
    // The instance the probe failed is the one killed, and a new one took its place.
    let last = app
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .unwrap_or_else(|| panic!("no last termination: {app:?}"));
    assert_eq!(last.container_id.as_deref(), Some(first_id.as_str()));
    assert_ne!(app.container_id.as_deref(), Some(first_id.as_str()));

    // Killed after exactly failureThreshold (2) failed runs, not at the first one.
    let events = node.pod_events(&uid);
    let kill_at = events
        .iter()
        .position(|e| e.reason == "Killing")
        .unwrap_or_else(|| panic!("no Killing event: {events:?}"));
    assert_eq!(
        events[kill_at].message,
        "Container app failed startup probe, will be restarted"
    );
    let failures_before_kill: Vec<&PodEvent> = events[..kill_at]
        .iter()
        .filter(|e| e.reason == "Unhealthy")
        .collect();
    assert_eq!(failures_before_kill.len(), 2, "{events:?}");
    for e in failures_before_kill {
        assert!(
            e.message
                .starts_with("Startup probe failed: cat: can't open '/tmp/never'"),
            "{e:?}"
        );
    }
}

/// The bad input: a probe with no handler, two handlers, an unknown port name, a
/// negative period, `successThreshold` 2 on liveness. Each container gets
/// `CreateContainerConfigError` naming the probe and the field; the pod's valid container
/// and another pod run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_probes_are_create_container_config_errors_and_other_pods_run() {
    let Some(node) = start_node().await else {
        return;
    };
    let with = |name: &str, probe: fn(&mut Container)| {
        let mut c = container(name, SLEEPER);
        probe(&mut c);
        c
    };
    let bad = vec![
        with("nohandler", |c| c.liveness_probe = Some(Probe::default())),
        with("twohandlers", |c| {
            c.readiness_probe = Some(Probe {
                tcp_socket: Some(TCPSocketAction {
                    port: IntOrString::Int(80),
                    host: None,
                }),
                ..exec_probe("true")
            })
        }),
        with("badport", |c| {
            c.readiness_probe = Some(Probe {
                http_get: Some(HTTPGetAction {
                    port: IntOrString::String("nope".into()),
                    ..Default::default()
                }),
                ..Default::default()
            })
        }),
        with("negative", |c| {
            c.liveness_probe = Some(Probe {
                period_seconds: Some(-1),
                ..exec_probe("true")
            })
        }),
        with("threshold", |c| {
            c.liveness_probe = Some(Probe {
                success_threshold: Some(2),
                ..exec_probe("true")
            })
        }),
    ];
    let mut containers = bad;
    let mut good = container("good", SLEEPER);
    good.readiness_probe = Some(exec_probe("true"));
    containers.push(good);
    let broken = pod("badprobes", "Always", containers);
    let mut other = container("app", SLEEPER);
    other.liveness_probe = Some(exec_probe("true"));
    other.readiness_probe = Some(exec_probe("true"));
    let fine = pod("fine", "Always", vec![other]);
    let broken_uid = node.run(broken);
    let fine_uid = node.run(fine);

    let expected = [
        (
            "nohandler",
            "invalid liveness probe: spec.containers[0].livenessProbe: must specify a handler type",
        ),
        (
            "twohandlers",
            "invalid readiness probe: spec.containers[1].readinessProbe: may not specify more than 1 handler type",
        ),
        (
            "badport",
            "invalid readiness probe: spec.containers[2].readinessProbe.httpGet.port: port name \"nope\" not found in the container's ports",
        ),
        (
            "negative",
            "invalid liveness probe: spec.containers[3].livenessProbe.periodSeconds: must be greater than or equal to 0 (got -1)",
        ),
        (
            "threshold",
            "invalid liveness probe: spec.containers[4].livenessProbe.successThreshold: must be 1 (got 2)",
        ),
    ];
    let status = node
        .wait_for(&broken_uid, "good running, the others refused", |s| {
            is_running(status_of(s, "good"))
                && expected.iter().all(|(name, _)| {
                    status_of(s, name)
                        .state
                        .as_ref()
                        .and_then(|st| st.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        == Some("CreateContainerConfigError")
                })
        })
        .await;
    for (name, problem) in expected {
        let message = status_of(&status, name)
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.message.clone())
            .unwrap_or_default();
        assert!(
            message.contains(&format!("container \"{name}\": {problem}")),
            "{name}: {message}"
        );
    }
    // The valid container of the broken pod is probed as usual.
    node.wait_for(&broken_uid, "good ready", |s| status_of(s, "good").ready)
        .await;
    assert!(
        node.pod_events(&broken_uid)
            .iter()
            .any(|e| e.reason == "Failed" && e.message.contains("badport")),
        "{:?}",
        node.pod_events(&broken_uid)
    );
    // The other pod runs, ready, and its liveness probe passes.
    let fine_status = node
        .wait_for(&fine_uid, "the other pod Ready", |s| {
            ready_conditions(s) == both("True")
        })
        .await;
    assert_eq!(fine_status.phase.as_deref(), Some("Running"));
    assert!(
        node.probe_total(
            &fine_uid,
            "app",
            ProbeKind::Liveness,
            MetricResult::Successful
        ) >= 1
            || node.probe_total(
                &fine_uid,
                "app",
                ProbeKind::Readiness,
                MetricResult::Successful
            ) >= 1
    );
}

/// What the agent gives the probe manager as `agent_restarted`: the runtime runs
/// containers in sandboxes labelled with this node's name, and only this node's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pr_11_an_agent_restart_is_seen_in_the_runtime() {
    let Some(node) = start_node().await else {
        return;
    };
    let other = format!("{}-other", node_name());
    let p = pod("restart", "Always", vec![container("app", SLEEPER)]);
    let uid = node.run(p);
    node.wait_for(&uid, "app running", |s| is_running(status_of(s, "app")))
        .await;
    let runtime = node.runtime.as_ref() as &dyn RuntimeService;
    assert!(
        runs_containers_of_node(runtime, &node_name())
            .await
            .unwrap()
    );
    assert!(!runs_containers_of_node(runtime, &other).await.unwrap());
}

/// Issue 19's churn: once a pod has terminated, the probe manager holds nothing of it. The
/// pod worker publishes the terminal status after it removed the pod from the manager, and
/// the manager, which keeps the status of any pod it is sent, held every terminated pod
/// (its status feed, with the last status) for good: about a kilobyte a pod, found by
/// heaptrack in a 10-minute churn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ft_04_a_terminated_pod_leaves_nothing_in_the_probe_manager() {
    let Some(node) = start_node().await else {
        return;
    };
    let mut probed = container("probed", SLEEPER);
    probed.readiness_probe = Some(exec_probe("true"));
    let probed = pod("forget-probed", "Always", vec![probed]);
    let plain = pod("forget-plain", "Always", vec![container("plain", SLEEPER)]);
    let uids = [node.run(probed.clone()), node.run(plain.clone())];
    for uid in &uids {
        node.wait_for(uid, "running and ready", |s| {
            condition(s, "Ready").as_deref() == Some("True")
        })
        .await;
    }
    assert_eq!(
        node.probes().pods().len(),
        2,
        "both pods are known while they run"
    );
    node.delete(&probed, 1).await;
    node.delete(&plain, 1).await;
    assert_eq!(
        node.probes().pods(),
        Vec::<String>::new(),
        "the probe manager still holds terminated pods"
    );
}
