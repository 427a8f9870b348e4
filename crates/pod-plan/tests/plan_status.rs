//! Pod status generation against the kubelet's rules. Test names carry the checklist ids of
//! `reference/kubelet-behaviour.md` (PH-*, RP-06, ST-03).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus as ApiContainerStatus, EphemeralContainer, Pod, PodCondition,
    PodReadinessGate, PodSpec, PodStatus, Probe, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use pod_plan::status::{
    self, CONTAINER_STATUS_UNKNOWN, MISSING_AFTER_RUNNING, MISSING_AT_TERMINATION, PodFailure,
    PodPhase, StatusInput, generate_failed_pod_status, generate_pod_status,
    illegal_container_transition, past_active_deadline, rejected_pod_status, status_changed,
    terminal_status,
};
use pod_plan::{
    ContainerState, ContainerStatus, PodRuntimeStatus, ProbeKind, ProbeResult, ProbeResults,
    ReasonCache, SandboxState, SandboxStatus, WaitingReason,
};

// ----------------------------------------------------------------------------------------
// Builders
// ----------------------------------------------------------------------------------------

/// 2024-05-01T10:00:00Z plus `secs`.
fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_714_557_600 + secs).unwrap()
}

/// `at(secs)` plus some nanoseconds, to check truncation.
fn at_nanos(secs: i64, nanos: i32) -> Timestamp {
    Timestamp::new(1_714_557_600 + secs, nanos).unwrap()
}

fn container(name: &str) -> Container {
    Container {
        name: name.to_string(),
        image: Some(format!("registry.local/{name}:1")),
        ..Default::default()
    }
}

fn with_readiness(mut c: Container) -> Container {
    c.readiness_probe = Some(Probe::default());
    c
}

fn with_startup(mut c: Container) -> Container {
    c.startup_probe = Some(Probe::default());
    c
}

fn sidecar(name: &str) -> Container {
    Container {
        restart_policy: Some("Always".to_string()),
        ..container(name)
    }
}

fn pod(containers: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("uid-1".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn with_init(mut p: Pod, init: Vec<Container>) -> Pod {
    p.spec.as_mut().unwrap().init_containers = Some(init);
    p
}

fn with_policy(mut p: Pod, policy: &str) -> Pod {
    p.spec.as_mut().unwrap().restart_policy = Some(policy.to_string());
    p
}

fn static_pod(mut p: Pod) -> Pod {
    p.metadata.annotations = Some(BTreeMap::from([(
        "kubernetes.io/config.source".to_string(),
        "file".to_string(),
    )]));
    p
}

fn sandbox(id: &str, created: i64, state: SandboxState, ips: &[&str]) -> SandboxStatus {
    SandboxStatus {
        id: id.to_string(),
        attempt: 0,
        state,
        created_at: at(created),
        ips: ips.iter().map(|s| s.to_string()).collect(),
        host_network: false,
    }
}

fn ready_sandbox() -> SandboxStatus {
    sandbox("sb-1", 0, SandboxState::Ready, &["10.1.0.7"])
}

fn instance(name: &str, id: &str, created: i64, state: ContainerState) -> ContainerStatus {
    ContainerStatus {
        id: id.to_string(),
        name: name.to_string(),
        state,
        created_at: at(created),
        started_at: (state != ContainerState::Created).then(|| at(created + 1)),
        finished_at: None,
        exit_code: 0,
        reason: String::new(),
        message: String::new(),
        image: format!("registry.local/{name}:1"),
        image_ref: format!("sha256:{name}"),
        hash: None,
        restart_count: 0,
    }
}

fn running(name: &str, id: &str, created: i64) -> ContainerStatus {
    instance(name, id, created, ContainerState::Running)
}

fn exited(name: &str, id: &str, created: i64, exit_code: i32, reason: &str) -> ContainerStatus {
    ContainerStatus {
        exit_code,
        reason: reason.to_string(),
        finished_at: Some(at(created + 5)),
        ..instance(name, id, created, ContainerState::Exited)
    }
}

fn restarted(mut c: ContainerStatus, restart_count: u32) -> ContainerStatus {
    c.restart_count = restart_count;
    c
}

fn view(sandboxes: Vec<SandboxStatus>, containers: Vec<ContainerStatus>) -> PodRuntimeStatus {
    let mut v = PodRuntimeStatus {
        uid: "uid-1".into(),
        sandboxes,
        containers,
    };
    v.sort();
    v
}

fn generate(p: &Pod, rt: &PodRuntimeStatus, now: Timestamp) -> PodStatus {
    generate_pod_status(&StatusInput::new(p, rt, now))
}

// ----------------------------------------------------------------------------------------
// Readers
// ----------------------------------------------------------------------------------------

fn phase(s: &PodStatus) -> &str {
    s.phase.as_deref().unwrap()
}

fn cs<'a>(s: &'a PodStatus, name: &str) -> &'a ApiContainerStatus {
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
        .chain(s.ephemeral_container_statuses.iter().flatten())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no status for {name}"))
}

fn waiting(c: &ApiContainerStatus) -> Option<(&str, Option<&str>)> {
    let w = c.state.as_ref()?.waiting.as_ref()?;
    Some((w.reason.as_deref().unwrap_or(""), w.message.as_deref()))
}

fn waiting_reason(c: &ApiContainerStatus) -> Option<&str> {
    waiting(c).map(|(r, _)| r)
}

fn terminated(c: &ApiContainerStatus) -> &k8s_openapi::api::core::v1::ContainerStateTerminated {
    c.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .unwrap_or_else(|| panic!("{} is not terminated: {:?}", c.name, c.state))
}

fn last_terminated(
    c: &ApiContainerStatus,
) -> &k8s_openapi::api::core::v1::ContainerStateTerminated {
    c.last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .unwrap_or_else(|| panic!("{} has no last termination", c.name))
}

fn cond<'a>(s: &'a PodStatus, type_: &str) -> &'a PodCondition {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no condition {type_}"))
}

/// (status, reason, message) of a condition.
fn cond_srm<'a>(s: &'a PodStatus, type_: &str) -> (&'a str, Option<&'a str>, Option<&'a str>) {
    let c = cond(s, type_);
    (c.status.as_str(), c.reason.as_deref(), c.message.as_deref())
}

fn condition_types(s: &PodStatus) -> Vec<&str> {
    s.conditions
        .iter()
        .flatten()
        .map(|c| c.type_.as_str())
        .collect()
}

// ----------------------------------------------------------------------------------------
// Pod phase and conditions
// ----------------------------------------------------------------------------------------

#[test]
fn ph_01_new_pod_pending_container_creating() {
    let p = pod(vec![container("app")]);
    let s = generate(&p, &view(vec![], vec![]), at(0));

    assert_eq!(phase(&s), "Pending");
    let app = cs(&s, "app");
    assert_eq!(waiting(app), Some(("ContainerCreating", None)));
    assert!(!app.ready);
    assert_eq!(app.started, Some(false));
    assert_eq!(app.restart_count, 0);
    assert_eq!(app.image, "registry.local/app:1");
    assert_eq!(app.container_id, None);
    // The kubelet v1.37 says why (seen in the differential suite).
    assert_eq!(
        cond_srm(&s, status::POD_READY_TO_START_CONTAINERS),
        (
            "False",
            Some(status::POD_SANDBOX_NOT_READY),
            Some("no pod sandbox exists")
        )
    );
    assert_eq!(cond_srm(&s, status::INITIALIZED), ("True", None, None));
    assert_eq!(
        cond_srm(&s, status::CONTAINERS_READY),
        (
            "False",
            Some("ContainersNotReady"),
            Some("containers with unready status: [app]")
        )
    );
    assert_eq!(cond_srm(&s, status::POD_SCHEDULED), ("True", None, None));
    assert_eq!(s.start_time, Some(Time(at(0))));
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    assert_eq!(s.pod_ip, None);
}

#[test]
fn ph_02_pod_initializing() {
    let p = with_init(pod(vec![container("app")]), vec![container("init1")]);

    // Init container running: regular containers wait with PodInitializing.
    let rt = view(vec![ready_sandbox()], vec![running("init1", "i1", 1)]);
    let s = generate(&p, &rt, at(2));
    assert_eq!(phase(&s), "Pending");
    assert_eq!(waiting_reason(cs(&s, "app")), Some("PodInitializing"));
    assert!(cs(&s, "init1").state.as_ref().unwrap().running.is_some());
    assert!(!cs(&s, "init1").ready);

    // Nothing started yet: the init container waits with PodInitializing too.
    let s = generate(&p, &view(vec![ready_sandbox()], vec![]), at(0));
    assert_eq!(waiting_reason(cs(&s, "init1")), Some("PodInitializing"));
    assert_eq!(waiting_reason(cs(&s, "app")), Some("PodInitializing"));

    // Init done, app running: init shows Completed (never waiting), Initialized is True.
    let rt = view(
        vec![ready_sandbox()],
        vec![
            exited("init1", "i1", 1, 0, "Completed"),
            running("app", "a1", 10),
        ],
    );
    let s = generate(&p, &rt, at(12));
    assert_eq!(phase(&s), "Running");
    let init1 = cs(&s, "init1");
    assert_eq!(terminated(init1).reason.as_deref(), Some("Completed"));
    assert!(init1.ready);
    assert_eq!(init1.started, Some(false));
    assert_eq!(cond_srm(&s, status::INITIALIZED), ("True", None, None));
}

#[test]
fn ph_02_init_container_exited_zero_never_shows_waiting() {
    // Even with a reason cached for it, an init container that exited 0 is not restarted.
    let p = with_init(pod(vec![container("app")]), vec![container("init1")]);
    let mut reasons = ReasonCache::new();
    reasons.set("init1", WaitingReason::new("CrashLoopBackOff", "back-off"));
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("init1", "i1", 1, 0, "Completed")],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(9)).with_reasons(&reasons));
    assert_eq!(terminated(cs(&s, "init1")).exit_code, 0);
    assert_eq!(waiting_reason(cs(&s, "app")), Some("PodInitializing"));
}

#[test]
fn ph_03_all_running_is_running_regardless_of_readiness() {
    let p = pod(vec![container("a"), with_readiness(container("b"))]);
    let rt = view(
        vec![ready_sandbox()],
        vec![running("a", "a1", 1), running("b", "b1", 1)],
    );
    let s = generate(&p, &rt, at(3));
    assert_eq!(phase(&s), "Running");
    assert!(cs(&s, "a").ready);
    assert!(!cs(&s, "b").ready);
    assert_eq!(cs(&s, "b").started, Some(true));
    assert_eq!(
        cond_srm(&s, status::READY),
        (
            "False",
            Some("ContainersNotReady"),
            Some("containers with unready status: [b]")
        )
    );
}

#[test]
fn ph_04_always_exited_awaiting_restart_stays_running() {
    let p = pod(vec![container("app")]);
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 1, "Error")],
    );

    // Exited, not yet restarted, no waiting reason: shows terminated, pod still Running.
    let s = generate(&p, &rt, at(7));
    assert_eq!(phase(&s), "Running");
    assert_eq!(terminated(cs(&s, "app")).exit_code, 1);

    // Exited 0 under Always: restarted too, still Running.
    let rt0 = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 0, "Completed")],
    );
    assert_eq!(phase(&generate(&p, &rt0, at(7))), "Running");

    // In back-off: waiting with the last termination, still Running.
    let mut reasons = ReasonCache::new();
    reasons.set(
        "app",
        WaitingReason::new("CrashLoopBackOff", "back-off 10s"),
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(7)).with_reasons(&reasons));
    assert_eq!(phase(&s), "Running");
    assert_eq!(waiting_reason(cs(&s, "app")), Some("CrashLoopBackOff"));
}

#[test]
fn ph_05_restart_policy_decides_terminal_phase() {
    let cases = [
        ("OnFailure", [0, 0], "Succeeded"),
        ("OnFailure", [0, 1], "Running"),
        ("Never", [0, 0], "Succeeded"),
        ("Never", [0, 1], "Failed"),
        ("Always", [0, 0], "Running"),
        ("Always", [1, 1], "Running"),
    ];
    for (policy, exits, expected) in cases {
        let p = with_policy(pod(vec![container("a"), container("b")]), policy);
        let rt = view(
            vec![ready_sandbox()],
            vec![
                exited("a", "a1", 1, exits[0], "x"),
                exited("b", "b1", 1, exits[1], "x"),
            ],
        );
        let s = generate(&p, &rt, at(10));
        assert_eq!(phase(&s), expected, "{policy} {exits:?}");
    }
}

#[test]
fn ph_05_failed_init_container_under_never_fails_the_pod() {
    let p = with_policy(
        with_init(pod(vec![container("app")]), vec![container("init1")]),
        "Never",
    );
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("init1", "i1", 1, 2, "Error")],
    );
    let s = generate(&p, &rt, at(5));
    assert_eq!(phase(&s), "Failed");
    assert_eq!(
        cond_srm(&s, status::CONTAINERS_READY),
        ("False", Some("PodFailed"), None)
    );

    // Under OnFailure the init container is retried: Pending.
    let p = with_policy(
        with_init(pod(vec![container("app")]), vec![container("init1")]),
        "OnFailure",
    );
    let mut reasons = ReasonCache::new();
    reasons.set("init1", WaitingReason::new("CrashLoopBackOff", "back-off"));
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(5)).with_reasons(&reasons));
    assert_eq!(phase(&s), "Pending");
    assert_eq!(
        cond_srm(&s, status::INITIALIZED),
        (
            "False",
            Some("ContainersNotInitialized"),
            Some("containers with incomplete status: [init1]")
        )
    );
}

#[test]
fn ph_06_deletion_phase_from_exit_codes() {
    let p = pod(vec![container("app")]);
    let input = |rt| StatusInput::new(&p, rt, at(40)).with_pod_is_terminal(true);

    let sigterm = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 143, "Error")],
    );
    assert_eq!(phase(&generate_pod_status(&input(&sigterm))), "Failed");

    let clean = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 0, "Completed")],
    );
    let s = generate_pod_status(&input(&clean));
    assert_eq!(phase(&s), "Succeeded");
    assert_eq!(
        cond_srm(&s, status::READY),
        ("False", Some("PodCompleted"), None)
    );

    // Still running: not terminal yet, whatever pod_is_terminal says.
    let still = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    assert_eq!(phase(&generate_pod_status(&input(&still))), "Running");
}

#[test]
fn ph_07_static_pod_exempt_from_kill_rule_and_never_unknown() {
    let p = static_pod(pod(vec![container("app")]));
    assert!(status::is_static_pod(&p));
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 143, "Error")],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(40)).with_pod_is_terminal(true));
    assert_eq!(phase(&s), "Running");

    // The final status does not move a static pod to Failed either.
    let last = terminal_status(&p, &s, at(41));
    assert_eq!(phase(&last), "Running");

    // An API pod is not static.
    let mut api = pod(vec![container("app")]);
    api.metadata.annotations = Some(BTreeMap::from([(
        "kubernetes.io/config.source".to_string(),
        "api".to_string(),
    )]));
    assert!(!status::is_static_pod(&api));

    // Whatever the runtime says, the phase is never Unknown.
    for state in [
        ContainerState::Created,
        ContainerState::Running,
        ContainerState::Exited,
        ContainerState::Unknown,
    ] {
        let rt = view(vec![], vec![instance("app", "a1", 1, state)]);
        for terminal in [false, true] {
            let s = generate_pod_status(
                &StatusInput::new(&p, &rt, at(3)).with_pod_is_terminal(terminal),
            );
            assert_ne!(phase(&s), "Unknown");
        }
    }
}

#[test]
fn ph_08_terminal_phase_is_sticky() {
    let p = with_policy(pod(vec![container("app")]), "Never");
    let done = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 0, "Completed")],
    );
    let first = generate(&p, &done, at(10));
    assert_eq!(phase(&first), "Succeeded");

    // Later the runtime reports something else (a lost container): the phase stays.
    let lost = view(vec![], vec![]);
    let again =
        generate_pod_status(&StatusInput::new(&p, &lost, at(20)).with_previous(Some(&first)));
    assert_eq!(phase(&again), "Succeeded");

    // Under Always a terminal phase from the API is kept too, with its reason and message.
    let mut api = pod(vec![container("app")]);
    api.status = Some(PodStatus {
        phase: Some("Failed".into()),
        reason: Some("Evicted".into()),
        message: Some("The node was low on resource: memory.".into()),
        ..Default::default()
    });
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let s = generate(&api, &rt, at(30));
    assert_eq!(phase(&s), "Failed");
    assert_eq!(s.reason.as_deref(), Some("Evicted"));
    assert_eq!(
        s.message.as_deref(),
        Some("The node was low on resource: memory.")
    );
    assert_eq!(
        cond_srm(&s, status::READY),
        ("False", Some("PodFailed"), None)
    );
}

#[test]
fn ph_08_reason_kept_only_while_phase_unchanged() {
    let p = pod(vec![container("app")]);
    let previous = PodStatus {
        phase: Some("Pending".into()),
        reason: Some("SomeReason".into()),
        message: Some("some message".into()),
        ..Default::default()
    };
    let pending = view(vec![], vec![]);
    let s =
        generate_pod_status(&StatusInput::new(&p, &pending, at(1)).with_previous(Some(&previous)));
    assert_eq!(s.reason.as_deref(), Some("SomeReason"));
    assert_eq!(s.message.as_deref(), Some("some message"));

    let running_rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let s = generate_pod_status(
        &StatusInput::new(&p, &running_rt, at(2)).with_previous(Some(&previous)),
    );
    assert_eq!(phase(&s), "Running");
    assert_eq!(s.reason, None);
    assert_eq!(s.message, None);
}

#[test]
fn ph_09_active_deadline_exceeded() {
    let mut p = pod(vec![container("app")]);
    p.spec.as_mut().unwrap().active_deadline_seconds = Some(5);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);

    let first = generate(&p, &rt, at(0));
    assert_eq!(first.start_time, Some(Time(at(0))));
    assert!(!past_active_deadline(&p, Some(&first), at(4)));
    assert!(past_active_deadline(&p, Some(&first), at(5)));

    let before = generate_pod_status(&StatusInput::new(&p, &rt, at(4)).with_previous(Some(&first)));
    assert_eq!(phase(&before), "Running");

    let after = generate_pod_status(&StatusInput::new(&p, &rt, at(5)).with_previous(Some(&before)));
    assert_eq!(phase(&after), "Failed");
    assert_eq!(after.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        after.message.as_deref(),
        Some("Pod was active on the node longer than the specified deadline")
    );
    assert_eq!(
        cond_srm(&after, status::READY),
        ("False", Some("PodFailed"), None)
    );

    // It stays that way.
    let later = generate_pod_status(&StatusInput::new(&p, &rt, at(9)).with_previous(Some(&after)));
    assert_eq!(phase(&later), "Failed");
    assert_eq!(later.reason.as_deref(), Some("DeadlineExceeded"));

    // No deadline, or no start time: never past it.
    let q = pod(vec![container("app")]);
    assert!(!past_active_deadline(&q, Some(&first), at(1000)));
    assert!(!past_active_deadline(&p, None, at(1000)));
}

#[test]
fn ph_09_eviction_like_failure_helper() {
    let p = pod(vec![container("app")]);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let failure = PodFailure::new("Evicted", "The node was low on resource: memory.");
    let s = generate_failed_pod_status(&StatusInput::new(&p, &rt, at(3)), &failure);
    assert_eq!(phase(&s), "Failed");
    assert_eq!(s.reason.as_deref(), Some("Evicted"));
    assert_eq!(
        cond_srm(&s, status::CONTAINERS_READY),
        ("False", Some("PodFailed"), None)
    );
    assert_eq!(
        PodFailure::active_deadline_exceeded(),
        PodFailure::new(
            "DeadlineExceeded",
            "Pod was active on the node longer than the specified deadline"
        )
    );
}

#[test]
fn ph_10_conditions_order() {
    let mut p = pod(vec![container("app")]);
    p.spec.as_mut().unwrap().readiness_gates = Some(vec![PodReadinessGate {
        condition_type: "example.com/lb".into(),
    }]);
    p.status = Some(PodStatus {
        conditions: Some(vec![
            PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            },
            PodCondition {
                type_: "example.com/lb".into(),
                status: "True".into(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    });
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let s = generate(&p, &rt, at(2));
    assert_eq!(
        condition_types(&s),
        [
            "example.com/lb",
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled"
        ]
    );
    assert_eq!(status::KUBELET_CONDITIONS, condition_types(&s)[1..]);
    assert_eq!(cond_srm(&s, status::READY), ("True", None, None));
}

#[test]
fn ph_10_disruption_target_kept_from_previous() {
    let p = pod(vec![container("app")]);
    let disruption = PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("EvictionByEvictionAPI".into()),
        last_transition_time: Some(Time(at(1))),
        ..Default::default()
    };
    let previous = PodStatus {
        conditions: Some(vec![disruption.clone()]),
        ..Default::default()
    };
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(5)).with_previous(Some(&previous)));
    assert_eq!(condition_types(&s)[0], "DisruptionTarget");
    assert_eq!(cond(&s, "DisruptionTarget"), &disruption);
}

#[test]
fn ph_11_ready_to_start_containers_follows_sandbox() {
    let p = pod(vec![container("app")]);
    let check = |sandboxes: Vec<SandboxStatus>| {
        let s = generate(&p, &view(sandboxes, vec![]), at(3));
        cond(&s, status::POD_READY_TO_START_CONTAINERS)
            .status
            .clone()
    };
    assert_eq!(check(vec![ready_sandbox()]), "True");
    assert_eq!(
        check(vec![sandbox(
            "sb-1",
            0,
            SandboxState::NotReady,
            &["10.1.0.7"]
        )]),
        "False"
    );
    assert_eq!(
        check(vec![sandbox("sb-1", 0, SandboxState::Ready, &[])]),
        "False"
    );
    // A dead newest sandbox with an older ready one still needs a new sandbox.
    assert_eq!(
        check(vec![
            sandbox("sb-1", 0, SandboxState::Ready, &["10.1.0.7"]),
            sandbox("sb-2", 5, SandboxState::NotReady, &[]),
        ]),
        "False"
    );
    // Two ready sandboxes: one must go.
    assert_eq!(
        check(vec![
            sandbox("sb-1", 0, SandboxState::Ready, &["10.1.0.7"]),
            sandbox("sb-2", 5, SandboxState::Ready, &["10.1.0.8"]),
        ]),
        "False"
    );

    // A host-network sandbox needs no IP, but must be in the node's namespace.
    let mut host = pod(vec![container("app")]);
    host.spec.as_mut().unwrap().host_network = Some(true);
    let mut hsb = sandbox("sb-1", 0, SandboxState::Ready, &[]);
    hsb.host_network = true;
    let s = generate(&host, &view(vec![hsb.clone()], vec![]), at(3));
    assert_eq!(
        cond(&s, status::POD_READY_TO_START_CONTAINERS).status,
        "True"
    );
    hsb.host_network = false;
    let s = generate(&host, &view(vec![hsb], vec![]), at(3));
    assert_eq!(
        cond(&s, status::POD_READY_TO_START_CONTAINERS).status,
        "False"
    );
}

#[test]
fn ph_12_initialized_condition() {
    // No init containers: True from the very first status.
    let p = pod(vec![container("app")]);
    let s = generate(&p, &view(vec![], vec![]), at(0));
    assert_eq!(cond_srm(&s, status::INITIALIZED), ("True", None, None));

    // While init runs: False with the incomplete ones, in spec order.
    let p = with_init(
        pod(vec![container("app")]),
        vec![container("init1"), container("init2")],
    );
    let rt = view(vec![ready_sandbox()], vec![running("init1", "i1", 1)]);
    let s = generate(&p, &rt, at(2));
    assert_eq!(
        cond_srm(&s, status::INITIALIZED),
        (
            "False",
            Some("ContainersNotInitialized"),
            Some("containers with incomplete status: [init1 init2]")
        )
    );

    // Succeeded with all init statuses known: True, PodCompleted.
    let p = with_policy(
        with_init(pod(vec![container("app")]), vec![container("init1")]),
        "Never",
    );
    let rt = view(
        vec![ready_sandbox()],
        vec![
            exited("init1", "i1", 1, 0, "Completed"),
            exited("app", "a1", 10, 0, "Completed"),
        ],
    );
    let s = generate(&p, &rt, at(20));
    assert_eq!(phase(&s), "Succeeded");
    assert_eq!(
        cond_srm(&s, status::INITIALIZED),
        ("True", Some("PodCompleted"), None)
    );
}

#[test]
fn ph_12_condition_generators_without_statuses() {
    let p = with_init(pod(vec![container("app")]), vec![container("init1")]);
    let init = status::initialized_condition(&p, &[], &[], PodPhase::Pending);
    assert_eq!(init.status, "False");
    assert_eq!(init.reason.as_deref(), Some("UnknownContainerStatuses"));
    let ready = status::containers_ready_condition(&p, &[], &[], PodPhase::Pending);
    assert_eq!(ready.reason.as_deref(), Some("UnknownContainerStatuses"));

    // A spec container with no status entry is "unknown".
    let a_status = ApiContainerStatus {
        name: "a".into(),
        ready: false,
        ..Default::default()
    };
    let two = pod(vec![container("a"), container("b")]);
    let c = status::containers_ready_condition(&two, &[], &[a_status], PodPhase::Running);
    assert_eq!(
        c.message.as_deref(),
        Some("containers with unknown status: [b], containers with unready status: [a]")
    );
}

#[test]
fn ph_13_containers_not_ready_until_readiness_succeeds() {
    let p = pod(vec![with_readiness(container("app"))]);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let mut probes = ProbeResults::new();

    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_probes(&probes));
    assert_eq!(
        cond_srm(&s, status::CONTAINERS_READY),
        (
            "False",
            Some("ContainersNotReady"),
            Some("containers with unready status: [app]")
        )
    );

    probes.set("a1", ProbeKind::Readiness, ProbeResult::Success);
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(3)).with_probes(&probes));
    assert!(cs(&s, "app").ready);
    assert_eq!(cond_srm(&s, status::CONTAINERS_READY), ("True", None, None));
    assert_eq!(cond_srm(&s, status::READY), ("True", None, None));

    probes.set(
        "a1",
        ProbeKind::Readiness,
        ProbeResult::Failure("HTTP 500".into()),
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(4)).with_probes(&probes));
    assert!(!cs(&s, "app").ready);

    // Results belong to a container instance: a new instance starts unready.
    probes.set("a1", ProbeKind::Readiness, ProbeResult::Success);
    let rt2 = view(
        vec![ready_sandbox()],
        vec![
            exited("app", "a1", 1, 1, "Error"),
            restarted(running("app", "a2", 20), 1),
        ],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt2, at(22)).with_probes(&probes));
    assert!(!cs(&s, "app").ready);
}

#[test]
fn ph_13_startup_probe_gates_started_and_ready() {
    let p = pod(vec![with_startup(container("app"))]);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let mut probes = ProbeResults::new();
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_probes(&probes));
    assert_eq!(cs(&s, "app").started, Some(false));
    assert!(!cs(&s, "app").ready);

    probes.set("a1", ProbeKind::Startup, ProbeResult::Success);
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(3)).with_probes(&probes));
    assert_eq!(cs(&s, "app").started, Some(true));
    assert!(cs(&s, "app").ready);
}

#[test]
fn ph_14_ready_mirrors_containers_ready() {
    let p = pod(vec![with_readiness(container("app")), container("side")]);
    let rt = view(
        vec![ready_sandbox()],
        vec![running("app", "a1", 1), running("side", "s1", 1)],
    );
    let s = generate(&p, &rt, at(2));
    let ready = cond(&s, status::READY);
    let containers_ready = cond(&s, status::CONTAINERS_READY);
    assert_eq!(ready.status, "False");
    assert_eq!(ready.status, containers_ready.status);
    assert_eq!(ready.reason, containers_ready.reason);
    assert_eq!(ready.message, containers_ready.message);
}

#[test]
fn ph_15_readiness_gates() {
    let mut p = pod(vec![container("app")]);
    p.spec.as_mut().unwrap().readiness_gates = Some(vec![
        PodReadinessGate {
            condition_type: "x".into(),
        },
        PodReadinessGate {
            condition_type: "y".into(),
        },
    ]);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);

    let s = generate(&p, &rt, at(2));
    assert_eq!(cond_srm(&s, status::CONTAINERS_READY), ("True", None, None));
    assert_eq!(
        cond_srm(&s, status::READY),
        (
            "False",
            Some("ReadinessGatesNotReady"),
            Some(
                "corresponding condition of pod readiness gate \"x\" does not exist., \
                 corresponding condition of pod readiness gate \"y\" does not exist."
            )
        )
    );

    p.status = Some(PodStatus {
        conditions: Some(vec![
            PodCondition {
                type_: "x".into(),
                status: "False".into(),
                ..Default::default()
            },
            PodCondition {
                type_: "y".into(),
                status: "True".into(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    });
    let s = generate(&p, &rt, at(3));
    assert_eq!(
        cond_srm(&s, status::READY),
        (
            "False",
            Some("ReadinessGatesNotReady"),
            Some("the status of pod readiness gate \"x\" is not \"True\", but False")
        )
    );
    // The gate conditions themselves are carried over untouched.
    assert_eq!(cond(&s, "x").status, "False");
}

#[test]
fn ph_16_terminal_pod_not_ready() {
    let p = with_policy(pod(vec![container("app")]), "Never");
    let ok = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 0, "Completed")],
    );
    let s = generate(&p, &ok, at(9));
    assert_eq!(phase(&s), "Succeeded");
    assert_eq!(
        cond_srm(&s, status::READY),
        ("False", Some("PodCompleted"), None)
    );
    assert_eq!(
        cond_srm(&s, status::CONTAINERS_READY),
        ("False", Some("PodCompleted"), None)
    );

    let bad = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 1, "Error")],
    );
    let s = generate(&p, &bad, at(9));
    assert_eq!(phase(&s), "Failed");
    assert_eq!(
        cond_srm(&s, status::READY),
        ("False", Some("PodFailed"), None)
    );
    assert_eq!(
        cond_srm(&s, status::CONTAINERS_READY),
        ("False", Some("PodFailed"), None)
    );
}

#[test]
fn ph_17_transition_times_and_start_time_stable() {
    let p = pod(vec![with_readiness(container("app"))]);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let mut probes = ProbeResults::new();

    let first = generate_pod_status(
        &StatusInput::new(&p, &rt, at_nanos(2, 400_000_000)).with_probes(&probes),
    );
    for c in first.conditions.iter().flatten() {
        assert_eq!(c.last_transition_time, Some(Time(at(2))), "{}", c.type_);
        assert_eq!(c.last_probe_time, None);
    }
    assert_eq!(first.start_time, Some(Time(at(2))));

    // Same input ten seconds later: nothing moves, nothing to send.
    let again = generate_pod_status(
        &StatusInput::new(&p, &rt, at(12))
            .with_probes(&probes)
            .with_previous(Some(&first)),
    );
    assert_eq!(again, first);
    assert!(!status_changed(&first, &again));

    // Readiness flips: Ready and ContainersReady move, the others keep their time.
    probes.set("a1", ProbeKind::Readiness, ProbeResult::Success);
    let ready = generate_pod_status(
        &StatusInput::new(&p, &rt, at(20))
            .with_probes(&probes)
            .with_previous(Some(&again)),
    );
    assert!(status_changed(&again, &ready));
    assert_eq!(
        cond(&ready, status::READY).last_transition_time,
        Some(Time(at(20)))
    );
    assert_eq!(
        cond(&ready, status::CONTAINERS_READY).last_transition_time,
        Some(Time(at(20)))
    );
    assert_eq!(
        cond(&ready, status::INITIALIZED).last_transition_time,
        Some(Time(at(2)))
    );
    assert_eq!(ready.start_time, Some(Time(at(2))));

    // A start time already in the API is kept.
    let mut api = p.clone();
    api.status = Some(PodStatus {
        start_time: Some(Time(at(-100))),
        ..Default::default()
    });
    let s = generate(&api, &rt, at(5));
    assert_eq!(s.start_time, Some(Time(at(-100))));
}

#[test]
fn ph_18_terminated_to_running_refused_under_never() {
    let p = with_policy(pod(vec![container("app")]), "Never");
    let done = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 0, "Completed")],
    );
    let previous = generate(&p, &done, at(10));
    assert_eq!(phase(&previous), "Succeeded");

    // Something started the container again: the update is refused, previous state kept.
    let rerun = view(
        vec![ready_sandbox()],
        vec![
            exited("app", "a1", 1, 0, "Completed"),
            restarted(running("app", "a2", 20), 1),
        ],
    );
    let s =
        generate_pod_status(&StatusInput::new(&p, &rerun, at(21)).with_previous(Some(&previous)));
    assert_eq!(s, previous);
    assert_eq!(terminated(cs(&s, "app")).exit_code, 0);
    assert!(!status_changed(&previous, &s));

    // The check itself, under each policy.
    let new_running = generate(
        &with_policy(pod(vec![container("app")]), "Always"),
        &rerun,
        at(21),
    );
    for (policy, exit, illegal) in [
        ("Never", 0, true),
        ("Never", 1, true),
        ("OnFailure", 0, true),
        ("OnFailure", 1, false),
        ("Always", 0, false),
    ] {
        let p = with_policy(pod(vec![container("app")]), policy);
        let rt = view(
            vec![ready_sandbox()],
            vec![exited("app", "a1", 1, exit, "x")],
        );
        let old = generate(&p, &rt, at(10));
        assert_eq!(
            illegal_container_transition(&p, &old, &new_running).is_some(),
            illegal,
            "{policy} exit {exit}"
        );
    }

    // Sidecars may always restart.
    let p = with_policy(
        with_init(pod(vec![container("app")]), vec![sidecar("proxy")]),
        "Never",
    );
    let rt = view(
        vec![ready_sandbox()],
        vec![
            exited("proxy", "p1", 1, 0, "Completed"),
            running("app", "a1", 2),
        ],
    );
    let old = generate(&p, &rt, at(5));
    let rt = view(
        vec![ready_sandbox()],
        vec![
            exited("proxy", "p1", 1, 0, "Completed"),
            restarted(running("proxy", "p2", 6), 1),
            running("app", "a1", 2),
        ],
    );
    let new = generate_pod_status(&StatusInput::new(&p, &rt, at(7)).with_previous(Some(&old)));
    assert!(illegal_container_transition(&p, &old, &new).is_none());
    assert!(cs(&new, "proxy").state.as_ref().unwrap().running.is_some());
}

#[test]
fn ph_19_vanished_container_terminated_container_status_unknown() {
    let mut p = pod(vec![container("app"), container("gone")]);
    let rt = view(
        vec![ready_sandbox()],
        vec![running("app", "a1", 1), running("gone", "g1", 1)],
    );
    let before = generate(&p, &rt, at(2));

    // The pod is deleted; "gone" vanished from the runtime while it ran, "app" exited.
    p.metadata.deletion_timestamp = Some(Time(at(30)));
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 0, "Completed")],
    );
    let s = generate_pod_status(
        &StatusInput::new(&p, &rt, at(31))
            .with_previous(Some(&before))
            .with_pod_is_terminal(true),
    );
    let gone = cs(&s, "gone");
    assert_eq!(waiting_reason(gone), Some("ContainerCreating"));
    assert_eq!(
        last_terminated(gone).reason.as_deref(),
        Some(CONTAINER_STATUS_UNKNOWN)
    );
    assert_eq!(
        last_terminated(gone).message.as_deref(),
        Some(MISSING_AFTER_RUNNING)
    );
    assert_eq!(last_terminated(gone).exit_code, 137);
    assert_eq!(
        gone.restart_count, 0,
        "no restart counted for a deleted pod"
    );
    assert_eq!(phase(&s), "Failed");

    // The final status: every container terminated, unknown ones as ContainerStatusUnknown.
    let last = terminal_status(&p, &s, at(32));
    let gone = cs(&last, "gone");
    assert_eq!(
        terminated(gone).reason.as_deref(),
        Some(CONTAINER_STATUS_UNKNOWN)
    );
    assert_eq!(
        terminated(gone).message.as_deref(),
        Some(MISSING_AT_TERMINATION)
    );
    assert_eq!(terminated(gone).exit_code, 137);
    assert_eq!(
        terminated(cs(&last, "app")).reason.as_deref(),
        Some("Completed")
    );
    assert_eq!(phase(&last), "Failed");
    assert!(status_changed(&s, &last));
}

#[test]
fn ph_19_terminal_status_fails_running_pods_and_unready_them() {
    let p = pod(vec![container("app")]);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let s = generate(&p, &rt, at(2));
    assert_eq!(cond(&s, status::READY).status, "True");
    let last = terminal_status(&p, &s, at(9));
    assert_eq!(phase(&last), "Failed");
    assert_eq!(terminated(cs(&last, "app")).exit_code, 137);
    assert_eq!(
        cond_srm(&last, status::READY),
        ("False", Some("PodFailed"), None)
    );
    assert_eq!(
        cond(&last, status::READY).last_transition_time,
        Some(Time(at(9)))
    );
    assert_eq!(
        cond_srm(&last, status::CONTAINERS_READY),
        ("False", Some("PodFailed"), None)
    );

    // A pod that never initialized: its waiting regular containers are left alone, the init
    // containers that were attempted are terminated.
    let p = with_init(
        pod(vec![container("app")]),
        vec![container("init1"), container("init2")],
    );
    let rt = view(vec![ready_sandbox()], vec![running("init1", "i1", 1)]);
    let s = generate(&p, &rt, at(2));
    let last = terminal_status(&p, &s, at(3));
    assert_eq!(waiting_reason(cs(&last, "app")), Some("PodInitializing"));
    assert_eq!(terminated(cs(&last, "init1")).exit_code, 137);
    assert_eq!(waiting_reason(cs(&last, "init2")), Some("PodInitializing"));
    assert_eq!(phase(&last), "Failed");
}

#[test]
fn ph_19_runtime_unknown_state_after_running() {
    let p = pod(vec![container("app")]);
    let rt = view(
        vec![ready_sandbox()],
        vec![restarted(running("app", "a1", 1), 2)],
    );
    let before = generate(&p, &rt, at(2));
    let rt = view(
        vec![ready_sandbox()],
        vec![restarted(
            instance("app", "a1", 1, ContainerState::Unknown),
            2,
        )],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(3)).with_previous(Some(&before)));
    let app = cs(&s, "app");
    assert_eq!(
        terminated(app).reason.as_deref(),
        Some(CONTAINER_STATUS_UNKNOWN)
    );
    assert_eq!(
        terminated(app).message.as_deref(),
        Some(MISSING_AT_TERMINATION)
    );
    assert_eq!(app.restart_count, 3);

    // Without a running previous status, an unknown instance is just waiting.
    let s = generate(&p, &rt, at(3));
    assert_eq!(waiting(cs(&s, "app")), Some(("", None)));
}

#[test]
fn ph_20_terminated_reason_verbatim_from_runtime() {
    let p = with_policy(
        pod(vec![container("ok"), container("err"), container("oom")]),
        "Never",
    );
    let mut oom = exited("oom", "o1", 1, 137, "OOMKilled");
    oom.message = "memory limit".into();
    let rt = view(
        vec![ready_sandbox()],
        vec![
            exited("ok", "k1", 1, 0, "Completed"),
            exited("err", "e1", 1, 3, "Error"),
            oom,
        ],
    );
    let s = generate(&p, &rt, at(10));
    assert_eq!(
        terminated(cs(&s, "ok")).reason.as_deref(),
        Some("Completed")
    );
    assert_eq!(terminated(cs(&s, "err")).reason.as_deref(), Some("Error"));
    assert_eq!(terminated(cs(&s, "err")).exit_code, 3);
    let o = terminated(cs(&s, "oom"));
    assert_eq!(o.reason.as_deref(), Some("OOMKilled"));
    assert_eq!(o.message.as_deref(), Some("memory limit"));
    assert_eq!(o.signal, None);
    assert_eq!(o.container_id.as_deref(), Some("containerd://o1"));
    assert_eq!(o.started_at, Some(Time(at(2))));
    assert_eq!(o.finished_at, Some(Time(at(6))));
}

#[test]
fn ph_20_start_error_keeps_the_epoch_start_time() {
    // containerd reports a container that failed to start with no start time (0); the
    // kubelet shows it as the Unix epoch.
    let p = with_policy(pod(vec![container("app")]), "Never");
    let mut failed = exited("app", "a1", 1, 128, "StartError");
    failed.started_at = None;
    let s = generate(&p, &view(vec![ready_sandbox()], vec![failed]), at(9));
    let t = terminated(cs(&s, "app"));
    assert_eq!(t.reason.as_deref(), Some("StartError"));
    assert_eq!(t.started_at, Some(Time(Timestamp::UNIX_EPOCH)));
}

#[test]
fn ph_21_admission_rejection_out_of_cpu() {
    let p = pod(vec![container("app")]);
    let failure = PodFailure::rejected(
        "OutOfcpu",
        "Node didn't have enough resource: cpu, requested: 2000, used: 0, capacity: 1000",
    );
    let s = rejected_pod_status(&p, &failure, None, at_nanos(4, 5));
    assert_eq!(phase(&s), "Failed");
    assert_eq!(s.reason.as_deref(), Some("OutOfcpu"));
    assert!(
        s.message
            .as_deref()
            .unwrap()
            .starts_with("Pod was rejected: ")
    );
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    assert_eq!(s.start_time, Some(Time(at(4))));
    assert!(s.container_statuses.is_none());
}

#[test]
fn ph_22_admission_rejection_out_of_pods() {
    let p = pod(vec![container("app")]);
    let failure = PodFailure::rejected(
        "OutOfpods",
        "Node didn't have enough resource: pods, requested: 1, used: 110, capacity: 110",
    );
    let s = rejected_pod_status(&p, &failure, None, at(1));
    assert_eq!(phase(&s), "Failed");
    assert_eq!(s.reason.as_deref(), Some("OutOfpods"));
    assert_eq!(
        s.message.as_deref(),
        Some(
            "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 110, \
             capacity: 110"
        )
    );
}

#[test]
fn ph_23_host_network_pod_ips() {
    let mut p = pod(vec![container("app")]);
    p.spec.as_mut().unwrap().host_network = Some(true);
    let mut hsb = sandbox("sb-1", 0, SandboxState::Ready, &[]);
    hsb.host_network = true;
    let rt = view(vec![hsb], vec![running("app", "a1", 1)]);

    let host_ips = vec!["192.168.1.10".to_string(), "fd00::10".to_string()];
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_host_ips(&host_ips));
    assert_eq!(s.pod_ip.as_deref(), Some("192.168.1.10"));
    let pod_ips: Vec<_> = s
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .collect();
    assert_eq!(pod_ips, ["192.168.1.10", "fd00::10"]);
    assert_eq!(s.host_ip.as_deref(), Some("192.168.1.10"));
    let host: Vec<_> = s
        .host_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .collect();
    assert_eq!(host, ["192.168.1.10", "fd00::10"]);

    // Single-stack node.
    let single = vec!["192.168.1.10".to_string()];
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_host_ips(&single));
    let pod_ips: Vec<_> = s
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .collect();
    assert_eq!(pod_ips, ["192.168.1.10"]);
}

#[test]
fn ph_23_dual_stack_pod_ips_follow_node_family() {
    let p = pod(vec![container("app")]);
    let rt = view(
        vec![sandbox(
            "sb-1",
            0,
            SandboxState::Ready,
            &["fd00::7", "10.1.0.7", "10.1.0.8"],
        )],
        vec![running("app", "a1", 1)],
    );
    let v4_node = vec!["192.168.1.10".to_string(), "fd00::10".to_string()];
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_host_ips(&v4_node));
    let ips: Vec<_> = s
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .collect();
    assert_eq!(ips, ["10.1.0.7", "fd00::7"]);
    assert_eq!(s.pod_ip.as_deref(), Some("10.1.0.7"));

    let v6_node = vec!["fd00::10".to_string(), "192.168.1.10".to_string()];
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_host_ips(&v6_node));
    let ips: Vec<_> = s
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .collect();
    assert_eq!(ips, ["fd00::7", "10.1.0.7"]);

    // Only the newest sandbox counts, and only while it is ready.
    let rt = view(
        vec![
            sandbox("sb-1", 0, SandboxState::NotReady, &["10.1.0.7"]),
            sandbox("sb-2", 9, SandboxState::NotReady, &["10.1.0.9"]),
        ],
        vec![],
    );
    let s = generate(&p, &rt, at(10));
    assert_eq!(s.pod_ip, None);
    assert_eq!(s.pod_ips, None);
}

// ----------------------------------------------------------------------------------------
// Restart back-off and status reporting
// ----------------------------------------------------------------------------------------

#[test]
fn rp_06_crash_loop_waiting_and_last_state() {
    let p = pod(vec![container("app")]);
    let message = "back-off 10s restarting failed container=app pod=web_default(uid-1)";
    let mut reasons = ReasonCache::new();
    reasons.set("app", WaitingReason::new("CrashLoopBackOff", message));

    // First crash, waiting for the restart.
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 1, "Error")],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(8)).with_reasons(&reasons));
    let app = cs(&s, "app");
    assert_eq!(waiting(app), Some(("CrashLoopBackOff", Some(message))));
    let last = last_terminated(app);
    assert_eq!(last.exit_code, 1);
    assert_eq!(last.reason.as_deref(), Some("Error"));
    assert_eq!(last.container_id.as_deref(), Some("containerd://a1"));
    assert_eq!(app.container_id.as_deref(), Some("containerd://a1"));
    assert!(!app.ready);
    assert_eq!(phase(&s), "Running");

    // Third crash: restart count from the newest instance; lastState is that instance's
    // exit, not the older one's.
    let rt = view(
        vec![ready_sandbox()],
        vec![
            restarted(exited("app", "a2", 20, 2, "Error"), 1),
            restarted(exited("app", "a3", 40, 3, "Error"), 2),
        ],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(50)).with_reasons(&reasons));
    let app = cs(&s, "app");
    assert_eq!(app.restart_count, 2);
    assert_eq!(waiting_reason(app), Some("CrashLoopBackOff"));
    assert_eq!(last_terminated(app).exit_code, 3);
    assert_eq!(
        last_terminated(app).container_id.as_deref(),
        Some("containerd://a3")
    );

    // Running again after the back-off: lastState is the previous instance.
    let rt = view(
        vec![ready_sandbox()],
        vec![
            restarted(exited("app", "a3", 40, 3, "Error"), 2),
            restarted(running("app", "a4", 60), 3),
        ],
    );
    let mut cleared = reasons.clone();
    cleared.clear("app");
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(61)).with_reasons(&cleared));
    let app = cs(&s, "app");
    assert!(app.state.as_ref().unwrap().running.is_some());
    assert_eq!(app.restart_count, 3);
    assert_eq!(last_terminated(app).exit_code, 3);
}

#[test]
fn rp_06_waiting_reasons_only_when_the_container_will_restart() {
    let mut reasons = ReasonCache::new();
    reasons.set("app", WaitingReason::new("ErrImagePull", "pull failed"));

    // Never started: the image error shows.
    let p = pod(vec![container("app")]);
    let empty = view(vec![ready_sandbox()], vec![]);
    let s = generate_pod_status(&StatusInput::new(&p, &empty, at(1)).with_reasons(&reasons));
    assert_eq!(
        waiting(cs(&s, "app")),
        Some(("ErrImagePull", Some("pull failed")))
    );
    assert_eq!(phase(&s), "Pending");

    // Running: no.
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 1)]);
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_reasons(&reasons));
    assert!(cs(&s, "app").state.as_ref().unwrap().running.is_some());

    // Exited under Never: it will not restart, so it stays terminated.
    let p = with_policy(pod(vec![container("app")]), "Never");
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 1, "Error")],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(9)).with_reasons(&reasons));
    assert_eq!(terminated(cs(&s, "app")).exit_code, 1);

    // Being deleted: never restarted, no waiting reason.
    let mut p = pod(vec![container("app")]);
    p.metadata.deletion_timestamp = Some(Time(at(5)));
    let s = generate_pod_status(&StatusInput::new(&p, &empty, at(6)).with_reasons(&reasons));
    assert_eq!(waiting_reason(cs(&s, "app")), Some("ContainerCreating"));
}

#[test]
fn st_03_statuses_sorted_and_second_precision() {
    let p = with_init(
        pod(vec![
            container("zeta"),
            container("alpha"),
            container("mid"),
        ]),
        vec![container("z-init"), container("a-init")],
    );
    let mut late = running("mid", "m1", 10);
    late.started_at = Some(at_nanos(11, 987_654_321));
    let mut z_init = exited("z-init", "zi", 1, 0, "Completed");
    z_init.started_at = Some(at_nanos(1, 1));
    z_init.finished_at = Some(at_nanos(2, 999_999_999));
    let rt = view(
        vec![ready_sandbox()],
        vec![
            z_init,
            exited("a-init", "ai", 3, 0, "Completed"),
            running("zeta", "z1", 10),
            running("alpha", "a1", 10),
            late,
        ],
    );
    let s = generate(&p, &rt, at_nanos(12, 500_000_000));

    let names: Vec<_> = s
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["alpha", "mid", "zeta"]);
    let init: Vec<_> = s
        .init_container_statuses
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        init,
        ["z-init", "a-init"],
        "init containers keep spec order"
    );

    let mid = cs(&s, "mid");
    let started = mid
        .state
        .as_ref()
        .unwrap()
        .running
        .as_ref()
        .unwrap()
        .started_at
        .clone();
    assert_eq!(started, Some(Time(at(11))));
    let zi = terminated(cs(&s, "z-init"));
    assert_eq!(zi.started_at, Some(Time(at(1))));
    assert_eq!(zi.finished_at, Some(Time(at(2))));
    assert_eq!(s.start_time, Some(Time(at(12))));
    for c in s.conditions.iter().flatten() {
        assert_eq!(c.last_transition_time, Some(Time(at(12))));
    }
}

// ----------------------------------------------------------------------------------------
// Container status details
// ----------------------------------------------------------------------------------------

#[test]
fn container_id_image_and_restart_count() {
    let p = pod(vec![container("app")]);
    let mut inst = restarted(running("app", "abc123", 1), 4);
    inst.image = "docker.io/library/app:1".into();
    inst.image_ref = "docker.io/library/app@sha256:feed".into();
    let rt = view(vec![ready_sandbox()], vec![inst]);
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(3)).with_runtime_name("cri-o"));
    let app = cs(&s, "app");
    assert_eq!(app.container_id.as_deref(), Some("cri-o://abc123"));
    assert_eq!(app.image, "docker.io/library/app:1");
    assert_eq!(app.image_id, "docker.io/library/app@sha256:feed");
    assert_eq!(app.restart_count, 4);
    assert!(app.ready);
    assert_eq!(app.started, Some(true));
}

#[test]
fn created_instance_waits_without_reason() {
    let p = pod(vec![container("app")]);
    let rt = view(
        vec![ready_sandbox()],
        vec![instance("app", "a1", 1, ContainerState::Created)],
    );
    let s = generate(&p, &rt, at(2));
    assert_eq!(waiting(cs(&s, "app")), Some(("", None)));
    assert_eq!(
        cs(&s, "app").container_id.as_deref(),
        Some("containerd://a1")
    );
    assert_eq!(phase(&s), "Pending");
}

#[test]
fn sidecar_gates_initialization_until_started() {
    let p = with_init(
        pod(vec![container("app")]),
        vec![with_startup(sidecar("proxy"))],
    );
    let rt = view(vec![ready_sandbox()], vec![running("proxy", "p1", 1)]);
    let mut probes = ProbeResults::new();
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(2)).with_probes(&probes));
    assert_eq!(phase(&s), "Pending");
    assert_eq!(
        cond_srm(&s, status::INITIALIZED),
        (
            "False",
            Some("ContainersNotInitialized"),
            Some("containers with incomplete status: [proxy]")
        )
    );

    probes.set("p1", ProbeKind::Startup, ProbeResult::Success);
    let rt = view(
        vec![ready_sandbox()],
        vec![running("proxy", "p1", 1), running("app", "a1", 5)],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(6)).with_probes(&probes));
    assert_eq!(phase(&s), "Running");
    assert_eq!(cond_srm(&s, status::INITIALIZED), ("True", None, None));
    assert!(
        cs(&s, "proxy").ready,
        "a sidecar is ready like a regular container"
    );
    assert_eq!(cond_srm(&s, status::CONTAINERS_READY), ("True", None, None));

    // A crashed sidecar under a Never pod is still restarted: its back-off shows.
    let p = with_policy(p, "Never");
    let mut reasons = ReasonCache::new();
    reasons.set("proxy", WaitingReason::new("CrashLoopBackOff", "back-off"));
    let rt = view(
        vec![ready_sandbox()],
        vec![
            exited("proxy", "p1", 1, 1, "Error"),
            running("app", "a1", 5),
        ],
    );
    let s = generate_pod_status(&StatusInput::new(&p, &rt, at(9)).with_reasons(&reasons));
    assert_eq!(waiting_reason(cs(&s, "proxy")), Some("CrashLoopBackOff"));
    assert_eq!(phase(&s), "Running");
}

#[test]
fn previous_terminated_status_kept_after_garbage_collection() {
    let p = with_policy(pod(vec![container("app")]), "Never");
    let rt = view(
        vec![ready_sandbox()],
        vec![exited("app", "a1", 1, 0, "Completed")],
    );
    let first = generate(&p, &rt, at(9));
    let gced = view(vec![ready_sandbox()], vec![]);
    let s = generate_pod_status(&StatusInput::new(&p, &gced, at(100)).with_previous(Some(&first)));
    assert_eq!(cs(&s, "app"), cs(&first, "app"));
    assert_eq!(phase(&s), "Succeeded");
    assert!(!status_changed(&first, &s));
}

#[test]
fn init_container_assumed_completed_when_regular_containers_exist() {
    let p = with_init(pod(vec![container("app")]), vec![container("init1")]);
    let rt = view(vec![ready_sandbox()], vec![running("app", "a1", 5)]);
    let s = generate(&p, &rt, at(6));
    let init1 = terminated(cs(&s, "init1"));
    assert_eq!(init1.exit_code, 0);
    assert_eq!(init1.reason.as_deref(), Some("Completed"));
    assert_eq!(
        init1.message.as_deref(),
        Some(status::INIT_ASSUMED_COMPLETED)
    );
    assert_eq!(phase(&s), "Running");

    // It stays completed on later syncs, even with a stale waiting reason for it (the
    // kubelet would flip it to waiting and back on alternate syncs).
    let mut reasons = ReasonCache::new();
    reasons.set("init1", WaitingReason::new("ErrImagePull", "stale"));
    let next = generate_pod_status(
        &StatusInput::new(&p, &rt, at(7))
            .with_previous(Some(&s))
            .with_reasons(&reasons),
    );
    assert_eq!(cs(&next, "init1"), cs(&s, "init1"));
    assert!(!status_changed(&s, &next));
}

#[test]
fn ephemeral_container_statuses() {
    let mut p = pod(vec![container("app")]);
    p.spec.as_mut().unwrap().ephemeral_containers = Some(vec![EphemeralContainer {
        name: "debug".into(),
        image: Some("busybox".into()),
        ..Default::default()
    }]);
    let rt = view(
        vec![ready_sandbox()],
        vec![running("app", "a1", 1), running("debug", "d1", 9)],
    );
    let s = generate(&p, &rt, at(10));
    let debug = &s.ephemeral_container_statuses.as_ref().unwrap()[0];
    assert_eq!(debug.name, "debug");
    assert!(debug.state.as_ref().unwrap().running.is_some());
    assert!(!debug.ready);
    assert_eq!(debug.started, None);
    // Ephemeral containers do not take part in readiness.
    assert_eq!(cond_srm(&s, status::CONTAINERS_READY), ("True", None, None));
}

#[test]
fn volume_mount_statuses_from_spec() {
    let mut c = container("app");
    c.volume_mounts = Some(vec![
        VolumeMount {
            name: "data".into(),
            mount_path: "/data".into(),
            ..Default::default()
        },
        VolumeMount {
            name: "cfg".into(),
            mount_path: "/etc/cfg".into(),
            read_only: Some(true),
            ..Default::default()
        },
    ]);
    let p = pod(vec![c]);
    let s = generate(&p, &view(vec![], vec![]), at(1));
    let mounts = cs(&s, "app").volume_mounts.clone().unwrap();
    assert_eq!(mounts[0].name, "data");
    assert_eq!(mounts[0].read_only, None);
    assert_eq!(mounts[1].read_only, Some(true));
    assert_eq!(mounts[1].recursive_read_only.as_deref(), Some("Disabled"));
}

#[test]
fn termination_messages_fit_the_pod_budget() {
    let p = with_policy(pod(vec![container("a"), container("b")]), "Never");
    let mut a = exited("a", "a1", 1, 1, "Error");
    a.message = "é".repeat(5000); // 10000 bytes
    let rt = view(
        vec![ready_sandbox()],
        vec![a, exited("b", "b1", 1, 0, "Completed")],
    );
    let s = generate(&p, &rt, at(9));
    let message = terminated(cs(&s, "a")).message.clone().unwrap();
    assert!(message.len() <= 12 * 1024 / 2);
    assert!(message.len() >= 12 * 1024 / 2 - 1);
}

#[test]
fn observed_generation_follows_the_pod() {
    let mut p = pod(vec![container("app")]);
    p.metadata.generation = Some(3);
    let s = generate(&p, &view(vec![], vec![]), at(1));
    assert_eq!(s.observed_generation, Some(3));
    for c in s.conditions.iter().flatten() {
        assert_eq!(c.observed_generation, Some(3), "{}", c.type_);
    }
}

#[test]
fn qos_class_in_status() {
    let mut c = container("app");
    c.resources = Some(k8s_openapi::api::core::v1::ResourceRequirements {
        limits: Some(BTreeMap::from([
            (
                "cpu".to_string(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("500m".into()),
            ),
            (
                "memory".to_string(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("64Mi".into()),
            ),
        ])),
        ..Default::default()
    });
    let p = pod(vec![c]);
    let s = generate(&p, &view(vec![], vec![]), at(1));
    assert_eq!(s.qos_class.as_deref(), Some("Guaranteed"));
}

#[test]
fn status_changed_ignores_only_no_op_differences() {
    let p = pod(vec![container("app"), container("b")]);
    let rt = view(
        vec![ready_sandbox()],
        vec![running("app", "a1", 1), running("b", "b1", 1)],
    );
    let s = generate(&p, &rt, at(2));
    assert!(!status_changed(&s, &s.clone()));

    // Absent versus empty, sub-second times, order of statuses: no change.
    let mut same = s.clone();
    same.container_statuses.as_mut().unwrap().reverse();
    for c in same.container_statuses.as_mut().unwrap() {
        c.last_state = None;
    }
    same.reason = Some(String::new());
    same.start_time = Some(Time(at_nanos(2, 300)));
    same.nominated_node_name = Some(String::new());
    assert!(!status_changed(&s, &same));

    // Conditions owned by others, and kubelet condition times: no change.
    let mut other = s.clone();
    other.conditions.as_mut().unwrap().push(PodCondition {
        type_: "example.com/gate".into(),
        status: "True".into(),
        ..Default::default()
    });
    for c in other.conditions.as_mut().unwrap() {
        c.last_transition_time = Some(Time(at(999)));
    }
    assert!(!status_changed(&s, &other));

    // Real changes.
    let mut changed = s.clone();
    changed.container_statuses.as_mut().unwrap()[0].restart_count = 1;
    assert!(status_changed(&s, &changed));
    let mut changed = s.clone();
    changed.phase = Some("Failed".into());
    assert!(status_changed(&s, &changed));
    let mut changed = s.clone();
    changed.conditions.as_mut().unwrap()[2].message = Some("x".into());
    assert!(status_changed(&s, &changed));
    let mut changed = s.clone();
    changed.container_statuses.as_mut().unwrap()[0].started = None;
    assert!(status_changed(&s, &changed));
    let mut changed = s.clone();
    changed.pod_ip = Some("10.9.9.9".into());
    assert!(status_changed(&s, &changed));
}

#[test]
fn builder_defaults() {
    let p = pod(vec![container("app")]);
    let rt = PodRuntimeStatus::default();
    let input = StatusInput::new(&p, &rt, at(0));
    assert_eq!(input.runtime_name, status::DEFAULT_RUNTIME_NAME);
    assert!(input.previous.is_none());
    assert!(!input.pod_is_terminal);
    assert!(input.host_ips.is_empty());
    assert_eq!(input.probes, &ProbeResults::new());
    assert_eq!(input.reasons, &ReasonCache::new());
}
