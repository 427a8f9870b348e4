//! Pod workers against a real containerd at `$NODELET_CRI_ENDPOINT` (set by
//! `cargo xtask setup`): a real crash loop, an OOM kill and a graceful stop of a shell that
//! traps TERM, with the PLEG waking the workers as in the agent.
//!
//! The harness is `tests/common` (on `test_env`): the environment comes from the process or
//! from `target/nodelet-env/env`; without it each test prints how to start it and passes,
//! except with `CI=true`, where it fails: CI must never pass by skipping. Each test holds a
//! shared lock on the runtime while it runs.

mod common;

use std::time::{Duration, Instant};

use common::{Node, container, terminated};
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_lifecycle::worker::WorkerPhase;

fn pod(name: &str, policy: &str, containers: Vec<Container>) -> Pod {
    common::pod("nodelet-worker-test", name, policy, 10, containers)
}

fn first(status: &PodStatus) -> k8s_openapi::api::core::v1::ContainerStatus {
    status.container_statuses.as_ref().unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_06_real_crash_loop_restart_counts_and_waiting_reason() {
    let Some(node) = Node::start().await else {
        return;
    };
    let p = pod("crash", "Always", vec![container("app", "exit 2")]);
    let uid = node.run(p);
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
    let Some(node) = Node::start().await else {
        return;
    };
    // The allocation waits a second: an OOM in a container's first instants can come
    // before the shim watches the cgroup for it, and containerd then reports a plain
    // `Error` with exit 137 (a runtime race, seen with both containerds here).
    let mut c = container(
        "hog",
        "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1",
    );
    c.resources = Some(ResourceRequirements {
        limits: Some([("memory".to_string(), Quantity("32Mi".into()))].into()),
        ..Default::default()
    });
    let p = pod("oom", "Never", vec![c]);
    let uid = node.run(p);
    let status = node.wait_phase(&uid, "Failed").await;
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
    let Some(node) = Node::start().await else {
        return;
    };
    let script = "trap 'echo bye; exit 0' TERM; sleep 3600 & wait";
    let p = pod("graceful", "Always", vec![container("app", script)]);
    let uid = node.run(p.clone());
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
    let Some(node) = Node::start().await else {
        return;
    };
    // A short message at the default path; and 5000 bytes at a custom path, of which the
    // last 4096 are kept (the kubelet reads the file's tail).
    let short = container("short", "printf 'all done' > /dev/termination-log; exit 0");
    let mut long = container(
        "long",
        "head -c 904 /dev/zero | tr '\\0' a > /tmp/msg; head -c 4096 /dev/zero | tr '\\0' b >> /tmp/msg; exit 3",
    );
    long.termination_message_path = Some("/tmp/msg".into());
    let p = pod("termmsg", "Never", vec![short, long]);
    let uid = node.run(p);
    let status = node.wait_phase(&uid, "Failed").await;
    let by_name = |name: &str| terminated(&status, name);
    assert_eq!(by_name("short").message.as_deref(), Some("all done"));
    let long = by_name("long").message.unwrap();
    assert_eq!(long.len(), 4096);
    assert!(long.bytes().all(|b| b == b'b'), "the tail is kept");
    node.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lc_20_real_fallback_to_logs_on_error_takes_the_last_80_lines() {
    let Some(node) = Node::start().await else {
        return;
    };
    let mut failing = container(
        "failing",
        "for i in $(seq 1 100); do echo line $i; done; exit 1",
    );
    failing.termination_message_policy = Some("FallbackToLogsOnError".into());
    let mut fine = container("fine", "echo only logs; exit 0");
    fine.termination_message_policy = Some("FallbackToLogsOnError".into());
    let p = pod("fallback", "Never", vec![failing, fine]);
    let uid = node.run(p);
    let status = node.wait_phase(&uid, "Failed").await;
    let of = |name: &str| terminated(&status, name);
    let message = of("failing").message.unwrap();
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines.len(), 80, "{message}");
    assert_eq!((lines[0], lines[79]), ("line 21", "line 100"));
    // Exit 0: no fallback to the logs.
    assert_eq!(of("fine").message, None);
    node.cleanup().await;
}
