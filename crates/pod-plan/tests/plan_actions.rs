//! Scenarios for `plan::compute_pod_actions`: the kubelet's `computePodActions` and
//! CrashLoopBackOff, one checklist line (LC-*, RP-*) per test, with runtime views built by
//! hand and time passed as an argument.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, EphemeralContainer, ExecAction, Pod, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use pod_plan::status::{StatusInput, generate_pod_status};
use pod_plan::{
    Backoff, ContainerKind, ContainerState, ContainerStatus, ContainerToStart,
    CrashLoopBackOffConfig, KillPodReason, KillReason, PodActions, PodRuntimeStatus, ProbeKind,
    ProbeResult, ProbeResults, SandboxState, SandboxStatus, compute_pod_actions,
    container_backoff_key, container_hash, should_container_be_restarted,
};

// --- builders -------------------------------------------------------------------------------

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("busybox:1.36".into()),
        command: Some(vec!["sh".into(), "-c".into(), "sleep 3600".into()]),
        ..Default::default()
    }
}

fn sidecar(name: &str) -> Container {
    Container {
        restart_policy: Some("Always".into()),
        ..container(name)
    }
}

fn probe() -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec!["true".into()]),
        }),
        ..Default::default()
    }
}

fn with_startup_probe(c: Container) -> Container {
    Container {
        startup_probe: Some(probe()),
        ..c
    }
}

fn with_liveness_probe(c: Container) -> Container {
    Container {
        liveness_probe: Some(probe()),
        ..c
    }
}

fn pod(policy: &str, inits: Vec<Container>, containers: Vec<Container>) -> Pod {
    let mut pod = Pod {
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            init_containers: (!inits.is_empty()).then_some(inits),
            containers,
            ..Default::default()
        }),
        ..Default::default()
    };
    pod.metadata.name = Some("web".into());
    pod.metadata.namespace = Some("default".into());
    pod.metadata.uid = Some("uid-1".into());
    pod
}

fn spec_of<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .find(|c| c.name == name)
}

fn sandbox(id: &str, attempt: u32, state: SandboxState, created: i64) -> SandboxStatus {
    SandboxStatus {
        id: id.into(),
        attempt,
        state,
        created_at: t(created),
        ips: vec!["10.88.0.2".into()],
        host_network: false,
    }
}

/// A view with one READY sandbox (attempt 0) and the given container instances.
fn view(containers: Vec<ContainerStatus>) -> PodRuntimeStatus {
    let mut v = PodRuntimeStatus {
        uid: "uid-1".into(),
        sandboxes: vec![sandbox("sb-0", 0, SandboxState::Ready, 0)],
        containers,
    };
    v.sort();
    v
}

/// An instance of `name` whose hash is that of its current spec in `pod`.
fn instance(
    pod: &Pod,
    name: &str,
    id: &str,
    state: ContainerState,
    created: i64,
    restart_count: u32,
) -> ContainerStatus {
    ContainerStatus {
        id: id.into(),
        name: name.into(),
        state,
        created_at: t(created),
        started_at: (state != ContainerState::Created).then(|| t(created)),
        finished_at: None,
        exit_code: 0,
        reason: String::new(),
        message: String::new(),
        image: "busybox:1.36".into(),
        image_ref: "sha256:busybox".into(),
        hash: spec_of(pod, name).map(container_hash),
        restart_count,
    }
}

fn running(pod: &Pod, name: &str, id: &str, created: i64) -> ContainerStatus {
    instance(pod, name, id, ContainerState::Running, created, 0)
}

fn exited(
    pod: &Pod,
    name: &str,
    id: &str,
    code: i32,
    created: i64,
    finished: i64,
) -> ContainerStatus {
    ContainerStatus {
        finished_at: Some(t(finished)),
        exit_code: code,
        reason: if code == 0 { "Completed" } else { "Error" }.into(),
        ..instance(pod, name, id, ContainerState::Exited, created, 0)
    }
}

fn restarts(mut c: ContainerStatus, n: u32) -> ContainerStatus {
    c.restart_count = n;
    c
}

const NOW: i64 = 10_000;

fn plan(pod: &Pod, view: &PodRuntimeStatus) -> PodActions {
    plan_with(
        pod,
        view,
        &ProbeResults::new(),
        &Backoff::container(),
        t(NOW),
    )
}

/// The pod phase the status generation gives for `view` (`pod_is_terminal`: the worker
/// has stopped the pod for good).
fn phase(pod: &Pod, view: &PodRuntimeStatus, pod_is_terminal: bool) -> String {
    let input = StatusInput::new(pod, view, t(NOW)).with_pod_is_terminal(pod_is_terminal);
    generate_pod_status(&input).phase.unwrap_or_default()
}

fn plan_with(
    pod: &Pod,
    view: &PodRuntimeStatus,
    probes: &ProbeResults,
    backoff: &Backoff,
    now: Timestamp,
) -> PodActions {
    compute_pod_actions(pod, view, probes, backoff, now)
}

fn names(starts: &[ContainerToStart]) -> Vec<&str> {
    starts.iter().map(|s| s.name.as_str()).collect()
}

fn kills(actions: &PodActions) -> Vec<(&str, &str, KillReason)> {
    actions
        .containers_to_kill
        .iter()
        .map(|k| (k.id.as_str(), k.name.as_str(), k.reason))
        .collect()
}

fn key(pod: &Pod, name: &str) -> String {
    container_backoff_key(pod, name, container_hash(spec_of(pod, name).unwrap()))
}

// --- sandbox --------------------------------------------------------------------------------

#[test]
fn lc_01_new_pod_creates_one_sandbox_attempt_0() {
    let p = pod("Always", vec![], vec![container("app"), container("web")]);
    let a = plan(&p, &PodRuntimeStatus::default());
    assert!(a.create_sandbox);
    assert_eq!(a.attempt, 0);
    assert_eq!(a.sandbox_id, None);
    // The kubelet sets KillPod with CreateSandbox; for a new pod there is nothing to kill.
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::SandboxChanged));
    assert!(a.containers_to_kill.is_empty() && a.init_containers_to_remove.is_empty());
    assert_eq!(names(&a.containers_to_start), ["app", "web"]);
    assert!(a.containers_to_start.iter().all(|s| s.restart_count == 0
        && s.backoff_key.is_none()
        && s.kind == ContainerKind::Regular));
    assert!(a.waiting.is_empty());

    // With init containers, the new sandbox runs only the first one.
    let p = pod(
        "Always",
        vec![container("i0"), container("i1")],
        vec![container("app")],
    );
    let a = plan(&p, &PodRuntimeStatus::default());
    assert!(a.create_sandbox);
    assert_eq!(names(&a.init_containers_to_start), ["i0"]);
    assert!(a.containers_to_start.is_empty());
}

#[test]
fn lc_02_sandbox_not_ready_recreates_with_attempt_plus_1() {
    let p = pod("Always", vec![container("i0")], vec![container("app")]);
    let mut v = view(vec![
        exited(&p, "i0", "i0-old", 0, 1, 2),
        restarts(exited(&p, "i0", "i0-new", 0, 3, 4), 1),
        exited(&p, "app", "app-1", 137, 5, 100),
    ]);
    v.sandboxes[0].state = SandboxState::NotReady;
    let a = plan(&p, &v);
    assert!(a.kill_pod && a.create_sandbox);
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::SandboxChanged));
    assert_eq!(a.attempt, 1);
    assert_eq!(a.sandbox_id.as_deref(), Some("sb-0"));
    // Init containers run again from the first; every old instance is purged.
    assert_eq!(names(&a.init_containers_to_start), ["i0"]);
    assert_eq!(a.init_containers_to_start[0].restart_count, 2);
    assert_eq!(a.init_containers_to_remove, ["i0-new", "i0-old"]);
    assert!(a.containers_to_start.is_empty());
    assert!(a.containers_to_kill.is_empty(), "kill_pod stops everything");
}

#[test]
fn lc_03_two_ready_sandboxes_recreate() {
    let p = pod("Always", vec![], vec![container("app")]);
    let mut v = view(vec![running(&p, "app", "app-1", 20)]);
    v.sandboxes = vec![
        sandbox("sb-0", 0, SandboxState::Ready, 0),
        sandbox("sb-1", 1, SandboxState::Ready, 10),
    ];
    v.sort();
    let a = plan(&p, &v);
    assert!(a.kill_pod && a.create_sandbox);
    assert_eq!(a.attempt, 2);
    assert_eq!(a.sandbox_id.as_deref(), Some("sb-1"));
    assert_eq!(names(&a.containers_to_start), ["app"]);
}

#[test]
fn lc_04_never_pod_does_not_get_a_new_sandbox() {
    let p = pod("Never", vec![], vec![container("app")]);
    let mut v = view(vec![exited(&p, "app", "app-1", 0, 1, 50)]);
    v.sandboxes[0].state = SandboxState::NotReady;
    let a = plan(&p, &v);
    assert!(a.kill_pod);
    assert!(!a.create_sandbox);
    assert!(a.containers_to_start.is_empty() && a.init_containers_to_start.is_empty());

    // No container ever ran: the sandbox is retried.
    let mut v = view(vec![]);
    v.sandboxes[0].state = SandboxState::NotReady;
    let a = plan(&p, &v);
    assert!(a.create_sandbox);
    assert_eq!(a.attempt, 1);
    assert_eq!(names(&a.containers_to_start), ["app"]);
}

#[test]
fn lc_04_on_failure_pod_whose_containers_all_succeeded_gets_no_new_sandbox() {
    let p = pod("OnFailure", vec![], vec![container("a"), container("b")]);
    let mut v = view(vec![
        exited(&p, "a", "a-1", 0, 1, 50),
        exited(&p, "b", "b-1", 0, 1, 60),
    ]);
    v.sandboxes[0].state = SandboxState::NotReady;
    let a = plan(&p, &v);
    assert!(a.kill_pod && !a.create_sandbox);

    // One failed: a new sandbox, and only the failed container starts again.
    let mut v = view(vec![
        exited(&p, "a", "a-1", 0, 1, 50),
        exited(&p, "b", "b-1", 1, 1, 60),
    ]);
    v.sandboxes[0].state = SandboxState::NotReady;
    let a = plan(&p, &v);
    assert!(a.create_sandbox);
    assert_eq!(names(&a.containers_to_start), ["b"]);
}

#[test]
fn lc_05_empty_ip_is_sandbox_changed() {
    let p = pod("Always", vec![], vec![container("app")]);
    let mut v = view(vec![running(&p, "app", "app-1", 1)]);
    v.sandboxes[0].ips.clear();
    let a = plan(&p, &v);
    assert!(a.kill_pod && a.create_sandbox);
    assert_eq!((a.attempt, a.sandbox_id.as_deref()), (1, Some("sb-0")));

    // A host-network pod has no pod IP: nothing changed.
    let mut hp = p.clone();
    hp.spec.as_mut().unwrap().host_network = Some(true);
    let mut hv = view(vec![running(&hp, "app", "app-1", 1)]);
    hv.sandboxes[0].ips.clear();
    hv.sandboxes[0].host_network = true;
    assert!(plan(&hp, &hv).is_noop());

    // The network mode flipped: re-created, and the kubelet passes no sandbox id.
    let a = plan(&hp, &view(vec![running(&hp, "app", "app-1", 1)]));
    assert!(a.create_sandbox);
    assert_eq!((a.attempt, a.sandbox_id.as_deref()), (1, None));
}

#[test]
fn steady_running_pod_is_a_noop() {
    let p = pod("Always", vec![sidecar("log")], vec![container("app")]);
    let v = view(vec![
        running(&p, "log", "log-1", 1),
        running(&p, "app", "app-1", 2),
    ]);
    let a = plan(&p, &v);
    assert!(a.is_noop(), "{a:?}");
    assert_eq!(a.sandbox_id.as_deref(), Some("sb-0"));
    assert!(a.waiting.is_empty() && a.backoff_expires_in.is_none());
}

// --- init containers and sidecars -----------------------------------------------------------

#[test]
fn lc_06_init_containers_one_at_a_time() {
    let p = pod(
        "Always",
        vec![container("i0"), container("i1"), container("i2")],
        vec![container("app")],
    );
    let a = plan(&p, &view(vec![]));
    assert!(!a.create_sandbox);
    assert_eq!(names(&a.init_containers_to_start), ["i0"]);
    assert_eq!(a.init_containers_to_start[0].kind, ContainerKind::Init);

    assert!(plan(&p, &view(vec![running(&p, "i0", "i0-1", 1)])).is_noop());

    let a = plan(&p, &view(vec![exited(&p, "i0", "i0-1", 0, 1, 2)]));
    assert_eq!(names(&a.init_containers_to_start), ["i1"]);
    assert!(a.containers_to_start.is_empty());

    let a = plan(
        &p,
        &view(vec![
            exited(&p, "i0", "i0-1", 0, 1, 2),
            exited(&p, "i1", "i1-1", 0, 3, 4),
        ]),
    );
    assert_eq!(names(&a.init_containers_to_start), ["i2"]);

    // Only the newest exited instance of each init container is kept.
    let a = plan(
        &p,
        &view(vec![
            exited(&p, "i0", "i0-a", 1, 1, 2),
            exited(&p, "i0", "i0-b", 1, 3, 4),
            exited(&p, "i0", "i0-c", 0, 5, 6),
            running(&p, "i1", "i1-1", 7),
        ]),
    );
    assert!(a.init_containers_to_start.is_empty());
    assert_eq!(a.init_containers_to_remove, ["i0-b", "i0-a"]);
}

#[test]
fn lc_07_no_regular_container_before_init_done() {
    let p = pod(
        "Always",
        vec![container("i0"), container("i1")],
        vec![container("app")],
    );
    let a = plan(
        &p,
        &view(vec![
            exited(&p, "i0", "i0-1", 0, 1, 2),
            running(&p, "i1", "i1-1", 3),
        ]),
    );
    assert!(a.containers_to_start.is_empty() && a.init_containers_to_start.is_empty());

    let a = plan(
        &p,
        &view(vec![
            exited(&p, "i0", "i0-1", 0, 1, 2),
            exited(&p, "i1", "i1-1", 1, 3, 4),
        ]),
    );
    assert_eq!(names(&a.init_containers_to_start), ["i1"]);
    assert!(a.containers_to_start.is_empty());

    // An OOM-killed init container failed, whatever its exit code.
    let mut oom = exited(&p, "i1", "i1-1", 0, 3, 4);
    oom.reason = "OOMKilled".into();
    let a = plan(&p, &view(vec![exited(&p, "i0", "i0-1", 0, 1, 2), oom]));
    assert_eq!(names(&a.init_containers_to_start), ["i1"]);
    assert!(a.containers_to_start.is_empty());

    // All done: the regular containers start, the init containers do not run again.
    let a = plan(
        &p,
        &view(vec![
            exited(&p, "i0", "i0-1", 0, 1, 2),
            exited(&p, "i1", "i1-1", 0, 3, 4),
        ]),
    );
    assert!(a.init_containers_to_start.is_empty());
    assert_eq!(names(&a.containers_to_start), ["app"]);
}

#[test]
fn lc_08_failed_init_never_kills_the_pod_and_starts_nothing() {
    let p = pod(
        "Never",
        vec![container("i0"), sidecar("log")],
        vec![container("app")],
    );
    let a = plan(&p, &view(vec![exited(&p, "i0", "i0-1", 1, 1, 2)]));
    assert!(a.kill_pod);
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::InitContainerFailed));
    assert!(!a.create_sandbox);
    assert!(a.init_containers_to_start.is_empty() && a.containers_to_start.is_empty());

    // An init container in an unknown state under Never is a failure too.
    let a = plan(
        &p,
        &view(vec![instance(
            &p,
            "i0",
            "i0-1",
            ContainerState::Unknown,
            1,
            0,
        )]),
    );
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::InitContainerFailed));
}

#[test]
fn lc_09_failed_init_restarts_with_backoff() {
    for policy in ["OnFailure", "Always"] {
        let p = pod(policy, vec![container("i0")], vec![container("app")]);
        let mut backoff = Backoff::container();

        // First failure: restarted at once, and the back-off is advanced as it starts.
        let v = view(vec![exited(&p, "i0", "i0-1", 1, 0, 0)]);
        let a = plan_with(&p, &v, &ProbeResults::new(), &backoff, t(0));
        assert_eq!(names(&a.init_containers_to_start), ["i0"], "{policy}");
        let start = &a.init_containers_to_start[0];
        assert_eq!(start.restart_count, 1);
        assert_eq!(start.backoff_key.as_deref(), Some(key(&p, "i0").as_str()));
        start.advance_backoff(&mut backoff, t(0));

        // Second failure at t=1: it waits 10 s from its finishedAt.
        let v = view(vec![
            exited(&p, "i0", "i0-1", 1, 0, 0),
            restarts(exited(&p, "i0", "i0-2", 1, 0, 1), 1),
        ]);
        let a = plan_with(&p, &v, &ProbeResults::new(), &backoff, t(5));
        assert!(a.init_containers_to_start.is_empty());
        assert_eq!(a.waiting.len(), 1);
        assert_eq!(a.waiting[0].0, "i0");
        assert_eq!(a.waiting[0].1.reason, "CrashLoopBackOff");
        assert_eq!(a.backoff_expires_in, Some(secs(6)));
        assert!(
            a.containers_to_start.is_empty(),
            "no regular container meanwhile"
        );
        let a = plan_with(&p, &v, &ProbeResults::new(), &backoff, t(11));
        assert_eq!(names(&a.init_containers_to_start), ["i0"]);
        assert_eq!(a.init_containers_to_start[0].restart_count, 2);
    }
}

#[test]
fn lc_10_sidecar_gates_next_init_until_started() {
    let p = pod(
        "Always",
        vec![with_startup_probe(sidecar("proxy")), container("migrate")],
        vec![container("app")],
    );
    let a = plan(&p, &view(vec![]));
    assert_eq!(names(&a.init_containers_to_start), ["proxy"]);
    assert_eq!(a.init_containers_to_start[0].kind, ContainerKind::Sidecar);

    // Running, but its startup probe has not succeeded yet: the next init container waits.
    let v = view(vec![running(&p, "proxy", "proxy-1", 1)]);
    assert!(plan(&p, &v).is_noop());

    let mut probes = ProbeResults::new();
    probes.set("proxy-1", ProbeKind::Startup, ProbeResult::Success);
    let a = plan_with(&p, &v, &probes, &Backoff::container(), t(NOW));
    assert_eq!(names(&a.init_containers_to_start), ["migrate"]);
    assert_eq!(a.init_containers_to_start[0].kind, ContainerKind::Init);
    assert!(a.containers_to_start.is_empty());

    // A failed startup probe restarts the sidecar.
    let mut failed = ProbeResults::new();
    failed.set(
        "proxy-1",
        ProbeKind::Startup,
        ProbeResult::Failure("timeout".into()),
    );
    let a = plan_with(&p, &v, &failed, &Backoff::container(), t(NOW));
    assert_eq!(kills(&a), [("proxy-1", "proxy", KillReason::StartupFailed)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Init container proxy failed startup probe"
    );
    assert_eq!(a.containers_to_kill[0].kind, ContainerKind::Sidecar);
    assert_eq!(names(&a.init_containers_to_start), ["proxy"]);

    // Started sidecar, init container done: the regular containers start.
    let v = view(vec![
        running(&p, "proxy", "proxy-1", 1),
        exited(&p, "migrate", "migrate-1", 0, 2, 3),
    ]);
    let a = plan_with(&p, &v, &probes, &Backoff::container(), t(NOW));
    assert!(a.init_containers_to_start.is_empty());
    assert_eq!(names(&a.containers_to_start), ["app"]);

    // A sidecar without a startup probe is started as soon as it runs.
    let p = pod(
        "Always",
        vec![sidecar("proxy"), container("migrate")],
        vec![container("app")],
    );
    let a = plan(&p, &view(vec![running(&p, "proxy", "proxy-1", 1)]));
    assert_eq!(names(&a.init_containers_to_start), ["migrate"]);
}

#[test]
fn lc_10_sidecar_as_last_init_container_gates_the_regular_containers() {
    let p = pod(
        "Always",
        vec![with_startup_probe(sidecar("proxy"))],
        vec![container("app")],
    );
    let v = view(vec![running(&p, "proxy", "proxy-1", 1)]);
    assert!(plan(&p, &v).is_noop());
    let mut probes = ProbeResults::new();
    probes.set("proxy-1", ProbeKind::Startup, ProbeResult::Success);
    let a = plan_with(&p, &v, &probes, &Backoff::container(), t(NOW));
    assert_eq!(names(&a.containers_to_start), ["app"]);
}

#[test]
fn lc_11_sidecar_restarted_under_never() {
    let p = pod("Never", vec![sidecar("log")], vec![container("app")]);
    for code in [0, 1] {
        let v = view(vec![
            exited(&p, "log", "log-1", code, 1, 50),
            running(&p, "app", "app-1", 2),
        ]);
        let a = plan(&p, &v);
        assert_eq!(names(&a.init_containers_to_start), ["log"], "exit {code}");
        assert_eq!(a.init_containers_to_start[0].kind, ContainerKind::Sidecar);
        assert!(a.init_containers_to_start[0].backoff_key.is_some());
        assert!(!a.kill_pod && a.containers_to_start.is_empty());
    }

    // A sidecar whose record was garbage-collected runs again too.
    let a = plan(&p, &view(vec![running(&p, "app", "app-1", 2)]));
    assert_eq!(names(&a.init_containers_to_start), ["log"]);

    // Its liveness failure restarts it.
    let p = pod(
        "Never",
        vec![with_liveness_probe(sidecar("log"))],
        vec![container("app")],
    );
    let v = view(vec![
        running(&p, "log", "log-1", 1),
        running(&p, "app", "app-1", 2),
    ]);
    let mut probes = ProbeResults::new();
    probes.set(
        "log-1",
        ProbeKind::Liveness,
        ProbeResult::Failure("dead".into()),
    );
    let a = plan_with(&p, &v, &probes, &Backoff::container(), t(NOW));
    assert_eq!(kills(&a), [("log-1", "log", KillReason::LivenessFailed)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Init container log failed liveness probe"
    );
    assert_eq!(names(&a.init_containers_to_start), ["log"]);
}

#[test]
fn lc_12_never_pod_done_stops_sidecars_and_succeeds() {
    for policy in ["Never", "OnFailure"] {
        let p = pod(policy, vec![sidecar("log")], vec![container("app")]);
        let v = view(vec![
            running(&p, "log", "log-1", 1),
            exited(&p, "app", "app-1", 0, 2, 50),
        ]);
        let a = plan(&p, &v);
        assert!(a.kill_pod, "{policy}");
        assert_eq!(a.kill_pod_reason, Some(KillPodReason::NoContainerToRun));
        assert!(!a.create_sandbox);
        assert!(a.init_containers_to_start.is_empty() && a.containers_to_start.is_empty());
        // While the sidecar runs the pod is Running; once it is stopped (SIGTERM, 143),
        // Succeeded: a stopped sidecar's exit code does not count.
        assert_eq!(phase(&p, &v, false), "Running", "{policy}");
        let stopped = view(vec![
            exited(&p, "log", "log-1", 143, 1, 51),
            exited(&p, "app", "app-1", 0, 2, 50),
        ]);
        assert_eq!(phase(&p, &stopped, true), "Succeeded", "{policy}");
    }
    // Under Never a failed main container ends the pod the same way, Failed.
    let p = pod("Never", vec![sidecar("log")], vec![container("app")]);
    let v = view(vec![
        running(&p, "log", "log-1", 1),
        exited(&p, "app", "app-1", 1, 2, 50),
    ]);
    assert_eq!(
        plan(&p, &v).kill_pod_reason,
        Some(KillPodReason::NoContainerToRun)
    );
    let stopped = view(vec![
        exited(&p, "log", "log-1", 143, 1, 51),
        exited(&p, "app", "app-1", 1, 2, 50),
    ]);
    assert_eq!(phase(&p, &stopped, true), "Failed");

    // Under Always the main container restarts and the pod goes on.
    let p = pod("Always", vec![sidecar("log")], vec![container("app")]);
    let v = view(vec![
        running(&p, "log", "log-1", 1),
        exited(&p, "app", "app-1", 0, 2, 50),
    ]);
    let a = plan(&p, &v);
    assert!(!a.kill_pod);
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert_eq!(phase(&p, &v, false), "Running");
}

#[test]
fn exited_sidecar_of_a_finished_pod_is_restarted_as_the_kubelet_does() {
    // computeInitContainerActions does not count exited regular containers as proof of
    // initialization, so when the last init container is a sidecar that exited, it is started
    // again even though the main container is done under Never (and killed by the next plan).
    // The kubelet never gets here: by then the pod phase is terminal and SyncPod stops before
    // computePodActions. The worker must do the same.
    let p = pod("Never", vec![sidecar("log")], vec![container("app")]);
    let v = view(vec![
        exited(&p, "log", "log-1", 137, 1, 49),
        exited(&p, "app", "app-1", 0, 2, 50),
    ]);
    let a = plan(&p, &v);
    assert_eq!(names(&a.init_containers_to_start), ["log"]);
    assert!(!a.kill_pod && a.containers_to_start.is_empty());
}

// --- regular containers ---------------------------------------------------------------------

#[test]
fn lc_14_spec_change_restarts_container() {
    let old = pod("Never", vec![sidecar("log")], vec![container("app")]);
    let v = view(vec![
        running(&old, "log", "log-1", 1),
        running(&old, "app", "app-1", 2),
    ]);
    let mut new = old.clone();
    new.spec.as_mut().unwrap().containers[0].image = Some("busybox:1.37".into());
    let a = plan(&new, &v);
    assert_eq!(kills(&a), [("app-1", "app", KillReason::SpecChanged)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Container app definition changed, will be restarted"
    );
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert_eq!(a.containers_to_start[0].restart_count, 1);
    assert!(!a.kill_pod);

    // Resources are not part of the hash: no restart.
    let mut resized = old.clone();
    resized.spec.as_mut().unwrap().containers[0].resources = Some(Default::default());
    assert!(plan(&resized, &v).is_noop());

    // A sidecar's spec change restarts it.
    let mut new = old.clone();
    new.spec.as_mut().unwrap().init_containers.as_mut().unwrap()[0].image =
        Some("busybox:1.37".into());
    let a = plan(&new, &v);
    assert_eq!(kills(&a), [("log-1", "log", KillReason::SpecChanged)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Init container log definition changed"
    );
    assert_eq!(names(&a.init_containers_to_start), ["log"]);
}

#[test]
fn lc_15_ephemeral_started_once() {
    let mut p = pod("Always", vec![container("i0")], vec![container("app")]);
    p.spec.as_mut().unwrap().ephemeral_containers = Some(vec![EphemeralContainer {
        name: "debug".into(),
        image: Some("busybox:1.36".into()),
        ..Default::default()
    }]);
    // Started even while initialization runs.
    let a = plan(&p, &view(vec![running(&p, "i0", "i0-1", 1)]));
    assert_eq!(names(&a.ephemeral_containers_to_start), ["debug"]);
    assert_eq!(
        a.ephemeral_containers_to_start[0].kind,
        ContainerKind::Ephemeral
    );
    assert!(a.init_containers_to_start.is_empty());

    // Once it ran, never again.
    let v = view(vec![
        exited(&p, "i0", "i0-1", 0, 1, 2),
        running(&p, "app", "app-1", 3),
        exited(&p, "debug", "debug-1", 1, 4, 5),
    ]);
    let a = plan(&p, &v);
    assert!(a.ephemeral_containers_to_start.is_empty());
    assert!(a.is_noop());
}

#[test]
fn unknown_state_is_killed_then_started_even_under_never() {
    let p = pod("Never", vec![], vec![container("app")]);
    let v = view(vec![instance(
        &p,
        "app",
        "app-1",
        ContainerState::Unknown,
        1,
        3,
    )]);
    let a = plan(&p, &v);
    assert_eq!(kills(&a), [("app-1", "app", KillReason::UnknownState)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Container is in \"unknown\" state, try killing it before restart"
    );
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert_eq!(a.containers_to_start[0].restart_count, 4);
}

#[test]
fn created_but_never_started_container_is_started_again() {
    let p = pod("Never", vec![container("i0")], vec![container("app")]);
    let v = view(vec![instance(
        &p,
        "i0",
        "i0-1",
        ContainerState::Created,
        1,
        0,
    )]);
    assert_eq!(names(&plan(&p, &v).init_containers_to_start), ["i0"]);
    let v = view(vec![
        exited(&p, "i0", "i0-1", 0, 1, 2),
        instance(&p, "app", "app-1", ContainerState::Created, 3, 0),
    ]);
    let a = plan(&p, &v);
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert_eq!(a.containers_to_start[0].restart_count, 1);
}

#[test]
fn startup_probe_failure_kills_and_restarts() {
    let p = pod(
        "OnFailure",
        vec![],
        vec![container("app"), container("web")],
    );
    let v = view(vec![
        running(&p, "app", "app-1", 1),
        running(&p, "web", "web-1", 1),
    ]);
    let mut probes = ProbeResults::new();
    probes.set(
        "app-1",
        ProbeKind::Startup,
        ProbeResult::Failure("no".into()),
    );
    let a = plan_with(&p, &v, &probes, &Backoff::container(), t(NOW));
    assert_eq!(kills(&a), [("app-1", "app", KillReason::StartupFailed)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Container app failed startup probe, will be restarted"
    );
    assert_eq!(names(&a.containers_to_start), ["app"]);
}

#[test]
fn liveness_failure_under_never_kills_without_restart() {
    let p = pod("Never", vec![], vec![container("app"), container("web")]);
    let v = view(vec![
        running(&p, "app", "app-1", 1),
        running(&p, "web", "web-1", 1),
    ]);
    let mut probes = ProbeResults::new();
    probes.set(
        "app-1",
        ProbeKind::Liveness,
        ProbeResult::Failure("dead".into()),
    );
    let a = plan_with(&p, &v, &probes, &Backoff::container(), t(NOW));
    assert_eq!(kills(&a), [("app-1", "app", KillReason::LivenessFailed)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Container app failed liveness probe"
    );
    assert!(a.containers_to_start.is_empty() && !a.kill_pod);

    // With nothing else running, the kubelet kills the whole pod instead.
    let p = pod("Never", vec![], vec![container("app")]);
    let v = view(vec![running(&p, "app", "app-1", 1)]);
    let a = plan_with(&p, &v, &probes, &Backoff::container(), t(NOW));
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::NoContainerToRun));
    assert!(a.containers_to_kill.is_empty());
}

#[test]
fn deleted_pod_restarts_nothing() {
    let mut p = pod("Always", vec![], vec![container("app")]);
    p.metadata.deletion_timestamp = Some(Time(t(0)));
    let v = view(vec![exited(&p, "app", "app-1", 1, 1, 2)]);
    assert!(!should_container_be_restarted(&container("app"), &p, &v));
    let a = plan(&p, &v);
    assert!(a.containers_to_start.is_empty());
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::NoContainerToRun));
}

// --- restart policy -------------------------------------------------------------------------

#[test]
fn rp_01_always_restarts_exit_0() {
    let p = pod("Always", vec![], vec![container("app")]);
    let v = view(vec![restarts(exited(&p, "app", "app-1", 0, 1, 2), 3)]);
    assert!(should_container_be_restarted(&container("app"), &p, &v));
    let a = plan(&p, &v);
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert_eq!(a.containers_to_start[0].restart_count, 4);
    assert!(!a.kill_pod);
    // An unset restartPolicy is Always.
    let mut unset = p.clone();
    unset.spec.as_mut().unwrap().restart_policy = None;
    assert_eq!(names(&plan(&unset, &v).containers_to_start), ["app"]);
}

#[test]
fn rp_02_on_failure_restarts_only_failures() {
    let p = pod("OnFailure", vec![], vec![container("app")]);
    let a = plan(&p, &view(vec![exited(&p, "app", "app-1", 0, 1, 2)]));
    assert!(a.containers_to_start.is_empty());
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::NoContainerToRun));

    let a = plan(&p, &view(vec![exited(&p, "app", "app-1", 1, 1, 2)]));
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert!(a.containers_to_start[0].backoff_key.is_some());
}

#[test]
fn rp_03_never_does_not_restart_exit_1_and_fails() {
    let p = pod("Never", vec![], vec![container("app"), container("web")]);
    let v = view(vec![
        exited(&p, "app", "app-1", 1, 1, 2),
        running(&p, "web", "web-1", 1),
    ]);
    let a = plan(&p, &v);
    assert!(a.is_noop(), "{a:?}");
    assert_eq!(phase(&p, &v, false), "Running", "web still runs");
    let v = view(vec![
        exited(&p, "app", "app-1", 1, 1, 2),
        exited(&p, "web", "web-1", 0, 1, 3),
    ]);
    let a = plan(&p, &v);
    assert!(a.containers_to_start.is_empty());
    assert_eq!(a.kill_pod_reason, Some(KillPodReason::NoContainerToRun));
    assert_eq!(phase(&p, &v, false), "Failed");
    assert_eq!(phase(&p, &v, true), "Failed");
    // The same exits under OnFailure restart app: the pod is not Failed.
    let p = pod(
        "OnFailure",
        vec![],
        vec![container("app"), container("web")],
    );
    assert_eq!(names(&plan(&p, &v).containers_to_start), ["app"]);
    assert_eq!(phase(&p, &v, false), "Running");
}

#[test]
fn should_container_be_restarted_table() {
    let p = |policy| pod(policy, vec![], vec![container("app")]);
    let c = container("app");
    let cases = [
        ("Always", None, true),
        ("Never", None, true),
        ("Never", Some((ContainerState::Running, 0)), false),
        ("Never", Some((ContainerState::Created, 0)), true),
        ("Never", Some((ContainerState::Unknown, 0)), true),
        ("Never", Some((ContainerState::Exited, 0)), false),
        ("Never", Some((ContainerState::Exited, 1)), false),
        ("OnFailure", Some((ContainerState::Exited, 0)), false),
        ("OnFailure", Some((ContainerState::Exited, 137)), true),
        ("Always", Some((ContainerState::Exited, 0)), true),
        ("Always", Some((ContainerState::Running, 0)), false),
    ];
    for (policy, state, want) in cases {
        let pod = p(policy);
        let v = match state {
            None => view(vec![]),
            Some((state, code)) => {
                let mut i = instance(&pod, "app", "app-1", state, 1, 0);
                i.exit_code = code;
                view(vec![i])
            }
        };
        assert_eq!(
            should_container_be_restarted(&c, &pod, &v),
            want,
            "{policy} {state:?}"
        );
    }
}

// --- CrashLoopBackOff -----------------------------------------------------------------------

/// Run a container that crashes the moment it starts, syncing every second, and return the
/// wait between each exit and the next start, with the delay each waiting message showed.
fn crash_loop(mut backoff: Backoff, restarts_wanted: usize) -> (Vec<u64>, Vec<String>) {
    let p = pod("Always", vec![], vec![container("app")]);
    let mut now = t(0);
    let mut v = view(vec![exited(&p, "app", "app-0", 1, 0, 0)]);
    let mut waits = Vec::new();
    let mut shown = Vec::new();
    for n in 1..=restarts_wanted {
        let finished = now;
        loop {
            let a = plan_with(&p, &v, &ProbeResults::new(), &backoff, now);
            if let Some(start) = a.containers_to_start.first() {
                start.advance_backoff(&mut backoff, now);
                waits.push(now.duration_since(finished).as_secs() as u64);
                v.containers.push(restarts(
                    exited(&p, "app", &format!("app-{n}"), 1, 0, 0),
                    start.restart_count,
                ));
                let last = v.containers.last_mut().unwrap();
                (last.created_at, last.finished_at) = (now, Some(now));
                v.sort();
                break;
            }
            let (name, reason) = &a.waiting[0];
            assert_eq!(
                (name.as_str(), reason.reason.as_str()),
                ("app", "CrashLoopBackOff")
            );
            let d = reason.message.split(' ').nth(1).unwrap().to_string();
            if shown.last() != Some(&d) {
                shown.push(d);
            }
            now += secs(1);
        }
    }
    (waits, shown)
}

#[test]
fn rp_04_first_crash_restarts_immediately() {
    let p = pod("Always", vec![], vec![container("app")]);
    let v = view(vec![exited(&p, "app", "app-1", 1, 1, NOW)]);
    let a = plan(&p, &v);
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert!(a.waiting.is_empty());
    let mut backoff = Backoff::container();
    a.containers_to_start[0].advance_backoff(&mut backoff, t(NOW));
    assert_eq!(backoff.delay(&key(&p, "app")), Some(secs(10)));
}

#[test]
fn rp_05_crash_loop_delays_0_10_20_40_80_160_300_300() {
    let (waits, shown) = crash_loop(Backoff::container(), 8);
    assert_eq!(waits, [0, 10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(shown, ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s"]);
}

#[test]
fn rp_06_waiting_message() {
    let p = pod("Always", vec![], vec![container("app")]);
    let mut backoff = Backoff::container();
    let k = key(&p, "app");
    for i in 0..6 {
        backoff.next(&k, t(i));
    }
    let v = view(vec![
        exited(&p, "app", "app-1", 1, 0, 1),
        restarts(exited(&p, "app", "app-2", 2, 6, 6), 1),
    ]);
    let a = plan_with(&p, &v, &ProbeResults::new(), &backoff, t(10));
    assert!(a.containers_to_start.is_empty());
    let (name, reason) = &a.waiting[0];
    assert_eq!(name, "app");
    assert_eq!(reason.reason, "CrashLoopBackOff");
    assert_eq!(
        reason.message,
        "back-off 5m0s restarting failed container=app pod=web_default(uid-1)"
    );
    assert_eq!(a.backoff_expires_in, Some(secs(296)));
    assert!(a.is_noop(), "waiting is not an action");
}

#[test]
fn rp_08_reset_after_ten_minutes() {
    let p = pod("Always", vec![], vec![container("app")]);
    let k = key(&p, "app");
    let mut backoff = Backoff::container();
    // Three quick crashes: the delay is 40 s, last advanced when instance 3 started at t=100.
    for i in [0, 50, 100] {
        backoff.next(&k, t(i));
    }
    assert_eq!(backoff.delay(&k), Some(secs(40)));

    // Instance 3 ran 601 s: not in back-off, restarted at once, and the delay starts over.
    let v = view(vec![
        exited(&p, "app", "app-2", 1, 50, 51),
        restarts(exited(&p, "app", "app-3", 1, 100, 701), 3),
    ]);
    let a = plan_with(&p, &v, &ProbeResults::new(), &backoff, t(701));
    assert_eq!(names(&a.containers_to_start), ["app"]);
    a.containers_to_start[0].advance_backoff(&mut backoff, t(701));
    assert_eq!(backoff.delay(&k), Some(secs(10)));

    // Had it run 599 s, it would wait the doubled delay.
    let mut backoff2 = Backoff::container();
    for i in [0, 50, 100] {
        backoff2.next(&k, t(i));
    }
    let v = view(vec![restarts(exited(&p, "app", "app-3", 1, 100, 699), 3)]);
    let a = plan_with(&p, &v, &ProbeResults::new(), &backoff2, t(699 + 39));
    assert_eq!(a.waiting.len(), 1);
    let a = plan_with(&p, &v, &ProbeResults::new(), &backoff2, t(699 + 40));
    a.containers_to_start[0].advance_backoff(&mut backoff2, t(699 + 40));
    assert_eq!(backoff2.delay(&k), Some(secs(80)));
}

#[test]
fn rp_09_spec_change_resets_backoff() {
    let old = pod("Always", vec![], vec![container("app")]);
    let mut backoff = Backoff::container();
    for i in 0..5 {
        backoff.next(&key(&old, "app"), t(i));
    }
    let v = view(vec![exited(&old, "app", "app-1", 1, 4, 5)]);
    assert_eq!(
        plan_with(&old, &v, &ProbeResults::new(), &backoff, t(10))
            .waiting
            .len(),
        1
    );

    let mut new = old.clone();
    new.spec.as_mut().unwrap().containers[0].image = Some("busybox:1.37".into());
    let a = plan_with(&new, &v, &ProbeResults::new(), &backoff, t(10));
    assert!(a.waiting.is_empty());
    assert_eq!(names(&a.containers_to_start), ["app"]);
    let start = &a.containers_to_start[0];
    assert_ne!(
        start.backoff_key.as_deref(),
        Some(key(&old, "app").as_str())
    );
    start.advance_backoff(&mut backoff, t(10));
    assert_eq!(backoff.delay(&key(&new, "app")), Some(secs(10)));
}

#[test]
fn rp_10_reduced_decay_and_max_restart_period() {
    let reduced = Backoff::container_with(CrashLoopBackOffConfig {
        reduce_default_decay: true,
        ..Default::default()
    });
    let (waits, _) = crash_loop(reduced, 9);
    assert_eq!(waits, [0, 1, 2, 4, 8, 16, 32, 60, 60]);

    let capped = Backoff::container_with(CrashLoopBackOffConfig {
        max_container_restart_period: Some(secs(30)),
        ..Default::default()
    });
    let (waits, _) = crash_loop(capped, 5);
    assert_eq!(waits, [0, 10, 20, 30, 30]);

    let tiny = Backoff::container_with(CrashLoopBackOffConfig {
        max_container_restart_period: Some(secs(5)),
        ..Default::default()
    });
    let (waits, _) = crash_loop(tiny, 4);
    assert_eq!(waits, [0, 5, 5, 5]);
}

#[test]
fn rp_11_liveness_restart_uses_backoff() {
    let p = pod(
        "Always",
        vec![],
        vec![with_liveness_probe(container("app"))],
    );
    let k = key(&p, "app");
    let mut backoff = Backoff::container();
    // Instance 1 crashed at t=90 and was restarted at once (delay 10 s) ... then instance 2
    // crashed at t=95 and was restarted at t=105 (delay 20 s).
    backoff.next(&k, t(90));
    backoff.next(&k, t(105));
    let v = view(vec![
        exited(&p, "app", "app-1", 1, 80, 95),
        restarts(running(&p, "app", "app-2", 105), 1),
    ]);
    let mut probes = ProbeResults::new();
    probes.set(
        "app-2",
        ProbeKind::Liveness,
        ProbeResult::Failure("dead".into()),
    );

    // At t=110 the liveness probe fails: the container is killed, and its restart waits for
    // the back-off like a crash would (the kubelet checks the newest exited instance).
    let a = plan_with(&p, &v, &probes, &backoff, t(110));
    assert_eq!(kills(&a), [("app-2", "app", KillReason::LivenessFailed)]);
    assert_eq!(
        a.containers_to_kill[0].message,
        "Container app failed liveness probe, will be restarted"
    );
    assert!(a.containers_to_start.is_empty());
    assert_eq!(a.waiting[0].1.reason, "CrashLoopBackOff");

    // Killed at t=111: it restarts 20 s after that exit.
    let mut killed = restarts(exited(&p, "app", "app-2", 137, 105, 111), 1);
    killed.started_at = Some(t(105));
    let v = view(vec![exited(&p, "app", "app-1", 1, 80, 95), killed]);
    let probes = ProbeResults::new();
    assert_eq!(
        plan_with(&p, &v, &probes, &backoff, t(130)).waiting.len(),
        1
    );
    let a = plan_with(&p, &v, &probes, &backoff, t(131));
    assert_eq!(names(&a.containers_to_start), ["app"]);
    assert_eq!(a.containers_to_start[0].restart_count, 2);
    assert_eq!(a.containers_to_start[0].previous_finished_at, Some(t(111)));
}

#[test]
fn runtime_order_does_not_matter() {
    let p = pod(
        "OnFailure",
        vec![container("i0"), sidecar("log")],
        vec![container("app")],
    );
    let instances = vec![
        exited(&p, "i0", "i0-1", 1, 1, 2),
        exited(&p, "i0", "i0-2", 0, 3, 4),
        running(&p, "log", "log-1", 5),
        exited(&p, "app", "app-1", 1, 6, 7),
    ];
    let forward = plan(&p, &view(instances.clone()));
    let mut reversed = instances;
    reversed.reverse();
    assert_eq!(plan(&p, &view(reversed)), forward);
    assert_eq!(names(&forward.containers_to_start), ["app"]);
    assert_eq!(forward.init_containers_to_remove, ["i0-1"]);
}
