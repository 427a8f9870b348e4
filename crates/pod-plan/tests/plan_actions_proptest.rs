//! Invariants of `plan::compute_pod_actions` and `plan::Backoff` over random pods (0–3 init
//! containers, sidecars among them, 1–3 regular containers, an optional ephemeral one, every
//! restart policy) and random runtime views (sandbox states and attempts, container states,
//! exit codes, stale hashes, probe results, back-off entries, any listing order).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, EphemeralContainer, ExecAction, Pod, PodSpec, Probe};
use pod_plan::{
    Backoff, ContainerKind, ContainerState, ContainerStatus, PodActions, PodRuntimeStatus,
    ProbeKind, ProbeResult, ProbeResults, SandboxState, SandboxStatus, compute_pod_actions,
    container_backoff_key, container_hash, is_sidecar,
};
use proptest::prelude::*;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap()
}

const NOW: i64 = 5_000;
const POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];

#[derive(Debug, Clone)]
struct InitSpec {
    sidecar: bool,
    startup_probe: bool,
    liveness_probe: bool,
}

#[derive(Debug, Clone)]
struct InstanceSpec {
    state: ContainerState,
    exit_code: i32,
    oom: bool,
    stale_hash: bool,
    restart_count: u32,
    created: i64,
    ran: i64,
    liveness: Option<bool>,
    startup: Option<bool>,
}

#[derive(Debug, Clone)]
struct SandboxSpec {
    ready: bool,
    attempt: u32,
    no_ip: bool,
    created: i64,
}

#[derive(Debug, Clone)]
struct BackoffSpec {
    updates: usize,
    last_update: i64,
}

/// Everything random about one scenario; [`Scenario::build`] turns it into the plan's inputs.
#[derive(Debug, Clone)]
struct Scenario {
    policy: &'static str,
    inits: Vec<InitSpec>,
    regular: usize,
    ephemeral: bool,
    sandboxes: Vec<SandboxSpec>,
    /// Instances per container, in the order init, regular, ephemeral (extra ones unused).
    instances: Vec<Vec<InstanceSpec>>,
    backoffs: Vec<BackoffSpec>,
    shuffle_seed: u64,
}

struct Inputs {
    pod: Pod,
    view: PodRuntimeStatus,
    probes: ProbeResults,
    backoff: Backoff,
}

fn container(name: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("busybox:1.36".into()),
        ..Default::default()
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

impl Scenario {
    fn build(&self) -> Inputs {
        let inits: Vec<Container> = self
            .inits
            .iter()
            .enumerate()
            .map(|(i, s)| Container {
                restart_policy: s.sidecar.then(|| "Always".to_string()),
                startup_probe: (s.sidecar && s.startup_probe).then(probe),
                liveness_probe: (s.sidecar && s.liveness_probe).then(probe),
                ..container(&format!("init{i}"))
            })
            .collect();
        let regular: Vec<Container> = (0..self.regular)
            .map(|i| container(&format!("app{i}")))
            .collect();
        let mut pod = Pod {
            spec: Some(PodSpec {
                restart_policy: Some(self.policy.into()),
                init_containers: (!inits.is_empty()).then(|| inits.clone()),
                containers: regular.clone(),
                ephemeral_containers: self.ephemeral.then(|| {
                    vec![EphemeralContainer {
                        name: "debug".into(),
                        image: Some("busybox:1.36".into()),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some("uid-1".into());

        let mut specs: Vec<(String, Option<u64>)> = inits
            .iter()
            .chain(regular.iter())
            .map(|c| (c.name.clone(), Some(container_hash(c))))
            .collect();
        if self.ephemeral {
            specs.push(("debug".into(), None));
        }

        let mut probes = ProbeResults::new();
        let mut containers = Vec::new();
        for ((name, hash), instances) in specs.iter().zip(&self.instances) {
            for (k, s) in instances.iter().enumerate() {
                let id = format!("{name}-{k}");
                let exited = s.state == ContainerState::Exited;
                containers.push(ContainerStatus {
                    id: id.clone(),
                    name: name.clone(),
                    state: s.state,
                    created_at: t(s.created),
                    started_at: Some(t(s.created)),
                    finished_at: exited.then(|| t(s.created + s.ran)),
                    exit_code: if exited { s.exit_code } else { 0 },
                    reason: if s.oom {
                        "OOMKilled".into()
                    } else {
                        String::new()
                    },
                    message: String::new(),
                    image: "busybox:1.36".into(),
                    image_ref: "sha256:busybox".into(),
                    hash: if s.stale_hash { Some(7) } else { *hash },
                    restart_count: s.restart_count,
                });
                for (kind, result) in [
                    (ProbeKind::Liveness, s.liveness),
                    (ProbeKind::Startup, s.startup),
                ] {
                    if let Some(ok) = result {
                        let result = if ok {
                            ProbeResult::Success
                        } else {
                            ProbeResult::Failure("failed".into())
                        };
                        probes.set(&id, kind, result);
                    }
                }
            }
        }
        let sandboxes = self
            .sandboxes
            .iter()
            .enumerate()
            .map(|(i, s)| SandboxStatus {
                id: format!("sb-{i}"),
                attempt: s.attempt,
                state: if s.ready {
                    SandboxState::Ready
                } else {
                    SandboxState::NotReady
                },
                created_at: t(s.created),
                ips: if s.no_ip {
                    Vec::new()
                } else {
                    vec!["10.88.0.2".into()]
                },
                host_network: false,
            })
            .collect();

        let mut backoff = Backoff::container();
        for ((name, hash), b) in specs.iter().zip(&self.backoffs) {
            let Some(hash) = hash else { continue };
            let key = container_backoff_key(&pod, name, *hash);
            for _ in 0..b.updates {
                backoff.next(&key, t(b.last_update));
            }
        }

        let mut view = PodRuntimeStatus {
            uid: "uid-1".into(),
            sandboxes,
            containers,
        };
        shuffle(&mut view.containers, self.shuffle_seed);
        shuffle(&mut view.sandboxes, self.shuffle_seed.rotate_left(17));
        view.sort();
        Inputs {
            pod,
            view,
            probes,
            backoff,
        }
    }
}

/// Fisher–Yates with a small deterministic generator (splitmix64).
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    let mut next = || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn state() -> impl Strategy<Value = ContainerState> {
    prop_oneof![
        1 => Just(ContainerState::Created),
        3 => Just(ContainerState::Running),
        4 => Just(ContainerState::Exited),
        1 => Just(ContainerState::Unknown),
    ]
}

fn probe_result() -> impl Strategy<Value = Option<bool>> {
    prop_oneof![2 => Just(None), 2 => Just(Some(true)), 1 => Just(Some(false))]
}

fn instance() -> impl Strategy<Value = InstanceSpec> {
    (
        state(),
        prop_oneof![Just(0), Just(1), Just(137)],
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.15),
        0u32..6,
        0i64..4_000,
        0i64..1_000,
        probe_result(),
        probe_result(),
    )
        .prop_map(
            |(
                state,
                exit_code,
                oom,
                stale_hash,
                restart_count,
                created,
                ran,
                liveness,
                startup,
            )| {
                InstanceSpec {
                    state,
                    exit_code,
                    oom,
                    stale_hash,
                    restart_count,
                    created,
                    ran,
                    liveness,
                    startup,
                }
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    scenario_with(prop::sample::select(POLICIES.to_vec()), 0..=2)
}

/// Scenarios with the restart policy from `policy` and that many sandboxes.
fn scenario_with(
    policy: impl Strategy<Value = &'static str>,
    sandboxes: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Scenario> {
    let init = (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(sidecar, startup_probe, liveness_probe)| InitSpec {
            sidecar,
            startup_probe,
            liveness_probe,
        },
    );
    let sandbox = (
        prop::bool::weighted(0.8),
        0u32..3,
        prop::bool::weighted(0.1),
        0i64..100,
    )
        .prop_map(|(ready, attempt, no_ip, created)| SandboxSpec {
            ready,
            attempt,
            no_ip,
            created,
        });
    let backoff = (0usize..5, 0i64..NOW).prop_map(|(updates, last_update)| BackoffSpec {
        updates,
        last_update,
    });
    (
        policy,
        prop::collection::vec(init, 0..=3),
        1usize..=3,
        prop::bool::weighted(0.3),
        prop::collection::vec(sandbox, sandboxes),
        prop::collection::vec(prop::collection::vec(instance(), 0..=2), 7),
        prop::collection::vec(backoff, 7),
        any::<u64>(),
    )
        .prop_map(
            |(policy, inits, regular, ephemeral, sandboxes, instances, backoffs, shuffle_seed)| {
                Scenario {
                    policy,
                    inits,
                    regular,
                    ephemeral,
                    sandboxes,
                    instances,
                    backoffs,
                    shuffle_seed,
                }
            },
        )
}

fn plan(inputs: &Inputs) -> PodActions {
    compute_pod_actions(
        &inputs.pod,
        &inputs.view,
        &inputs.probes,
        &inputs.backoff,
        t(NOW),
    )
}

fn init_specs(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// LC-07: a regular container starts only once every regular init container is done.
    /// "Done" as the kubelet reads the runtime: its newest instance exited 0 (and was not
    /// OOM-killed), or a later init container has an instance, or a regular container is
    /// created or running (completed init containers may have been garbage-collected).
    #[test]
    fn no_regular_container_starts_before_init_containers_succeeded(s in scenario()) {
        let inputs = s.build();
        let actions = plan(&inputs);
        if actions.containers_to_start.is_empty() {
            return Ok(());
        }
        let (pod, view) = (&inputs.pod, &inputs.view);
        let inits = init_specs(pod);
        if actions.create_sandbox {
            prop_assert!(inits.is_empty(), "a new sandbox runs the init containers first");
            return Ok(());
        }
        let regular_alive = pod.spec.as_ref().unwrap().containers.iter().any(|c| {
            view.latest(&c.name)
                .is_some_and(|s| matches!(s.state, ContainerState::Created | ContainerState::Running))
        });
        for (i, c) in inits.iter().enumerate().filter(|(_, c)| !is_sidecar(c)) {
            let succeeded = view.latest(&c.name).is_some_and(|s| {
                s.state == ContainerState::Exited && s.exit_code == 0 && s.reason != "OOMKilled"
            });
            let later_ran = inits[i + 1..].iter().any(|l| view.latest(&l.name).is_some());
            prop_assert!(
                succeeded || later_ran || regular_alive,
                "{} started before init container {} succeeded: {actions:?}",
                actions.containers_to_start[0].name,
                c.name
            );
        }
    }

    /// LC-06: init containers run one at a time.
    #[test]
    fn at_most_one_regular_init_container_starts_per_plan(s in scenario()) {
        let actions = plan(&s.build());
        let regular_inits = actions
            .init_containers_to_start
            .iter()
            .filter(|c| c.kind == ContainerKind::Init)
            .count();
        prop_assert!(regular_inits <= 1, "{actions:?}");
    }

    /// RP-03: under `Never` an exited regular container is never started again. (The one
    /// exception, a pod whose sandboxes are all gone, is the kubelet's too: it never syncs a
    /// pod whose phase is terminal, so it never gets there.)
    #[test]
    fn never_restarts_no_exited_regular_container(s in scenario_with(Just("Never"), 1..=2)) {
        let inputs = s.build();
        let actions = plan(&inputs);
        for start in &actions.containers_to_start {
            let latest = inputs.view.latest(&start.name);
            prop_assert!(
                latest.is_none_or(|c| c.state != ContainerState::Exited),
                "{} restarted under Never: {actions:?}",
                start.name
            );
        }
    }

    /// The plan depends on what the runtime reports, not on the order it lists it in.
    #[test]
    fn plan_does_not_depend_on_runtime_order(s in scenario(), seed in any::<u64>()) {
        let inputs = s.build();
        let first = plan(&inputs);
        let mut view = inputs.view.clone();
        shuffle(&mut view.containers, seed);
        shuffle(&mut view.sandboxes, seed ^ 0x5555);
        view.sort();
        let again = compute_pod_actions(&inputs.pod, &view, &inputs.probes, &inputs.backoff, t(NOW));
        prop_assert_eq!(first, again);
    }

    /// Each container appears at most once among the starts and the waiting, kills name live
    /// instances, and `kill_pod` comes with its reason and no separate kills.
    #[test]
    fn actions_are_consistent(s in scenario()) {
        let inputs = s.build();
        let actions = plan(&inputs);
        let mut names: Vec<&str> = actions
            .init_containers_to_start
            .iter()
            .chain(&actions.containers_to_start)
            .chain(&actions.ephemeral_containers_to_start)
            .map(|c| c.name.as_str())
            .chain(actions.waiting.iter().map(|(n, _)| n.as_str()))
            .collect();
        let total = names.len();
        names.sort();
        names.dedup();
        prop_assert_eq!(names.len(), total, "{:?}", actions);
        prop_assert_eq!(actions.kill_pod, actions.kill_pod_reason.is_some());
        if actions.kill_pod {
            prop_assert!(actions.containers_to_kill.is_empty());
        }
        for kill in &actions.containers_to_kill {
            let instance = inputs.view.containers.iter().find(|c| c.id == kill.id);
            prop_assert!(
                instance.is_some_and(|c| matches!(c.state, ContainerState::Running | ContainerState::Unknown)),
                "{:?}", kill
            );
        }
        for (_, reason) in &actions.waiting {
            prop_assert_eq!(reason.reason.as_str(), "CrashLoopBackOff");
        }
        prop_assert_eq!(actions.waiting.is_empty(), actions.backoff_expires_in.is_none());
        if let Some(d) = actions.backoff_expires_in {
            prop_assert!(d <= inputs.backoff.max());
        }
        for start in actions.init_containers_to_start.iter().chain(&actions.containers_to_start) {
            let latest = inputs.view.latest(&start.name);
            prop_assert_eq!(start.restart_count, latest.map_or(0, |c| c.restart_count + 1));
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// `next_since(key, now - ran_before, now)` after moving the clock by `advance` seconds.
    Next {
        key: usize,
        advance: i64,
        event_before: i64,
    },
    /// `gc(now)` after moving the clock.
    Gc { advance: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..3, 0i64..900, 0i64..900).prop_map(|(key, advance, event_before)| Op::Next {
            key,
            advance,
            event_before,
        }),
        1 => (0i64..900).prop_map(|advance| Op::Gc { advance }),
    ]
}

fn any_backoff() -> impl Strategy<Value = Backoff> {
    prop_oneof![
        Just(Backoff::container()),
        Just(Backoff::image_pull()),
        Just(Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(60)
        )),
        (1u64..400).prop_map(
            |max| Backoff::container_with(pod_plan::CrashLoopBackOffConfig {
                reduce_default_decay: false,
                max_container_restart_period: Some(Duration::from_secs(max)),
            })
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// RP-05, RP-08, IM-05: a back-off delay never exceeds the maximum, and never shrinks
    /// except by a reset to the initial delay (the entry expired, or was garbage-collected).
    #[test]
    fn backoff_never_exceeds_max_and_only_shrinks_by_reset(
        backoff in any_backoff(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut backoff = backoff;
        let keys = ["a", "b", "c"];
        let mut now = t(0);
        for op in ops {
            match op {
                Op::Next { key, advance, event_before } => {
                    now += Duration::from_secs(advance as u64);
                    let key = keys[key];
                    let event = now - Duration::from_secs(event_before as u64);
                    let before = backoff.delay(key);
                    let last = backoff.last_update(key);
                    backoff.next_since(key, event, now);
                    let after = backoff.delay(key).unwrap();
                    prop_assert!(after <= backoff.max().max(backoff.initial()));
                    prop_assert_eq!(backoff.last_update(key), Some(now));
                    match (before, last) {
                        (Some(before), Some(last)) => {
                            let expired = event.duration_since(last)
                                > jiff::SignedDuration::try_from(backoff.expire_after()).unwrap();
                            if expired {
                                prop_assert_eq!(after, backoff.initial());
                            } else {
                                prop_assert!(after >= before.min(backoff.max()));
                                prop_assert_eq!(after, (before * 2).min(backoff.max()));
                            }
                        }
                        _ => prop_assert_eq!(after, backoff.initial()),
                    }
                }
                Op::Gc { advance } => {
                    now += Duration::from_secs(advance as u64);
                    let kept: Vec<_> = keys
                        .iter()
                        .filter(|k| {
                            backoff.last_update(k).is_some_and(|l| {
                                now.duration_since(l)
                                    <= jiff::SignedDuration::try_from(backoff.expire_after()).unwrap()
                            })
                        })
                        .map(|k| (*k, backoff.delay(k)))
                        .collect();
                    backoff.gc(now);
                    prop_assert_eq!(backoff.len(), kept.len());
                    for (k, delay) in kept {
                        prop_assert_eq!(backoff.delay(k), delay);
                    }
                }
            }
        }
    }
}
