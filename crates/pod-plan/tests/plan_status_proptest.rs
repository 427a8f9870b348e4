//! Invariants of pod status generation over random pods and runtime views.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus as ApiContainerStatus, Pod, PodSpec, PodStatus, Probe,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_plan::status::{
    self, StatusInput, generate_pod_status, is_kubelet_condition, status_changed,
};
use pod_plan::{
    ContainerState, ContainerStatus, PodRuntimeStatus, ProbeKind, ProbeResult, ProbeResults,
    ReasonCache, SandboxState, SandboxStatus, WaitingReason,
};
use proptest::prelude::*;

const REGULAR: [&str; 3] = ["app", "web", "log"];
const INIT: [&str; 2] = ["setup", "proxy"];
const BASE: i64 = 1_714_557_600;

fn at(secs: i64, nanos: i32) -> Timestamp {
    Timestamp::new(BASE + secs, nanos).unwrap()
}

/// A spec container: name, sidecar flag (init only), readiness probe, startup probe.
#[derive(Debug, Clone)]
struct SpecC {
    name: &'static str,
    sidecar: bool,
    readiness: bool,
    startup: bool,
}

impl SpecC {
    fn container(&self) -> Container {
        Container {
            name: self.name.to_string(),
            image: Some(format!("img/{}", self.name)),
            restart_policy: self.sidecar.then(|| "Always".to_string()),
            readiness_probe: self.readiness.then(Probe::default),
            startup_probe: self.startup.then(Probe::default),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    regular: Vec<SpecC>,
    init: Vec<SpecC>,
    policy: &'static str,
    is_static: bool,
    pod_is_terminal: bool,
    runtime: PodRuntimeStatus,
    probes: Vec<(String, ProbeKind, bool)>,
    reasons: Vec<&'static str>,
    now: Timestamp,
}

impl Case {
    fn pod(&self) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                annotations: self.is_static.then(|| {
                    [(
                        "kubernetes.io/config.source".to_string(),
                        "file".to_string(),
                    )]
                    .into_iter()
                    .collect()
                }),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: self.regular.iter().map(SpecC::container).collect(),
                init_containers: (!self.init.is_empty())
                    .then(|| self.init.iter().map(SpecC::container).collect()),
                restart_policy: Some(self.policy.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn probe_results(&self) -> ProbeResults {
        let mut probes = ProbeResults::new();
        for (id, kind, ok) in &self.probes {
            let result = if *ok {
                ProbeResult::Success
            } else {
                ProbeResult::Failure("no".into())
            };
            probes.set(id, *kind, result);
        }
        probes
    }

    fn reason_cache(&self) -> ReasonCache {
        let mut reasons = ReasonCache::new();
        for name in &self.reasons {
            reasons.set(
                name,
                WaitingReason::new("CrashLoopBackOff", format!("back-off {name}")),
            );
        }
        reasons
    }

    fn generate(&self, runtime: &PodRuntimeStatus, previous: Option<&PodStatus>) -> PodStatus {
        self.generate_at(runtime, previous, self.now)
    }

    fn generate_at(
        &self,
        runtime: &PodRuntimeStatus,
        previous: Option<&PodStatus>,
        now: Timestamp,
    ) -> PodStatus {
        let pod = self.pod();
        let probes = self.probe_results();
        let reasons = self.reason_cache();
        generate_pod_status(
            &StatusInput::new(&pod, runtime, now)
                .with_probes(&probes)
                .with_reasons(&reasons)
                .with_previous(previous)
                .with_pod_is_terminal(self.pod_is_terminal),
        )
    }
}

fn spec_containers(
    names: &'static [&'static str],
    allow_sidecar: bool,
) -> impl Strategy<Value = Vec<SpecC>> {
    proptest::sample::subsequence(names.to_vec(), 1..=names.len()).prop_flat_map(move |chosen| {
        let n = chosen.len();
        proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), n).prop_map(
            move |flags| {
                chosen
                    .iter()
                    .zip(flags)
                    .map(|(name, (sidecar, readiness, startup))| {
                        let sidecar = allow_sidecar && sidecar;
                        SpecC {
                            name,
                            sidecar,
                            // Regular init containers cannot have probes.
                            readiness: readiness && (!allow_sidecar || sidecar),
                            startup: startup && (!allow_sidecar || sidecar),
                        }
                    })
                    .collect()
            },
        )
    })
}

fn container_state() -> impl Strategy<Value = ContainerState> {
    prop_oneof![
        Just(ContainerState::Created),
        Just(ContainerState::Running),
        Just(ContainerState::Exited),
        Just(ContainerState::Exited),
        Just(ContainerState::Unknown),
    ]
}

/// Up to three instances per named container, with unique ids and creation times.
fn instances(names: Vec<&'static str>) -> impl Strategy<Value = Vec<ContainerStatus>> {
    let per_name = (
        0usize..=3,
        proptest::collection::vec(
            (
                container_state(),
                prop_oneof![Just(0), Just(1), Just(137), Just(143)],
                0i64..500,
                0i32..1_000_000_000,
            ),
            3,
        ),
    );
    proptest::collection::vec(per_name, names.len()).prop_map(move |all| {
        let mut out = Vec::new();
        for (name, (count, specs)) in names.iter().zip(all) {
            for (i, (state, exit, created, nanos)) in specs.into_iter().take(count).enumerate() {
                let created_at = at(created * 3 + i as i64, nanos);
                out.push(ContainerStatus {
                    id: format!("{name}-{i}"),
                    name: name.to_string(),
                    state,
                    created_at,
                    started_at: (state != ContainerState::Created)
                        .then(|| at(created * 3 + i as i64 + 1, nanos)),
                    finished_at: (state == ContainerState::Exited)
                        .then(|| at(created * 3 + i as i64 + 2, nanos)),
                    exit_code: if state == ContainerState::Exited {
                        exit
                    } else {
                        0
                    },
                    reason: if state == ContainerState::Exited {
                        if exit == 0 { "Completed" } else { "Error" }.to_string()
                    } else {
                        String::new()
                    },
                    message: String::new(),
                    image: format!("img/{name}"),
                    image_ref: format!("sha256:{name}"),
                    hash: None,
                    restart_count: i as u32,
                });
            }
        }
        out
    })
}

fn sandboxes() -> impl Strategy<Value = Vec<SandboxStatus>> {
    proptest::collection::vec((any::<bool>(), 0i64..500, any::<bool>()), 0..=2).prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(|(i, (ready, created, has_ip))| SandboxStatus {
                id: format!("sb-{i}"),
                attempt: i as u32,
                state: if ready {
                    SandboxState::Ready
                } else {
                    SandboxState::NotReady
                },
                created_at: at(created, 0),
                ips: if has_ip {
                    vec![format!("10.1.0.{i}")]
                } else {
                    vec![]
                },
                host_network: false,
            })
            .collect()
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        spec_containers(&REGULAR, false),
        prop_oneof![Just(Vec::new()), spec_containers(&INIT, true)],
        prop_oneof![Just("Always"), Just("OnFailure"), Just("Never")],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(regular, init, policy, is_static, pod_is_terminal)| {
            let names: Vec<&'static str> = regular.iter().chain(&init).map(|c| c.name).collect();
            let ids: Vec<String> = names
                .iter()
                .flat_map(|n| (0..3).map(move |i| format!("{n}-{i}")))
                .collect();
            (
                Just((regular, init, policy, is_static, pod_is_terminal)),
                instances(names.clone()),
                sandboxes(),
                proptest::collection::vec(
                    (
                        proptest::sample::select(ids),
                        prop_oneof![Just(ProbeKind::Readiness), Just(ProbeKind::Startup)],
                        any::<bool>(),
                    ),
                    0..4,
                ),
                proptest::sample::subsequence(names.clone(), 0..=names.len()),
                (600i64..700, 0i32..1_000_000_000),
            )
        })
        .prop_map(
            |(
                (regular, init, policy, is_static, pod_is_terminal),
                containers,
                sandboxes,
                probes,
                reasons,
                (secs, nanos),
            )| {
                let mut runtime = PodRuntimeStatus {
                    uid: "uid".into(),
                    sandboxes,
                    containers,
                };
                runtime.sort();
                Case {
                    regular,
                    init,
                    policy,
                    is_static,
                    pod_is_terminal,
                    runtime,
                    probes,
                    reasons,
                    now: at(secs, nanos),
                }
            },
        )
}

fn all_statuses(s: &PodStatus) -> impl Iterator<Item = &ApiContainerStatus> {
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
}

fn ended_with_zero(s: &ApiContainerStatus) -> bool {
    let state = s.state.clone().unwrap_or_default();
    if let Some(t) = state.terminated {
        return t.exit_code == 0;
    }
    let last = s.last_state.as_ref().and_then(|l| l.terminated.as_ref());
    state.waiting.is_some() && last.is_some_and(|t| t.exit_code == 0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Statuses do not depend on the order the runtime lists sandboxes and containers in.
    #[test]
    fn statuses_do_not_depend_on_runtime_order(
        case in case(),
        seed in any::<u64>(),
    ) {
        let sorted = case.generate(&case.runtime, None);
        let mut shuffled = case.runtime.clone();
        // A deterministic shuffle from the seed (no sort afterwards).
        let mut state = seed | 1;
        let mut next = || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state };
        for i in (1..shuffled.containers.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            shuffled.containers.swap(i, j);
        }
        for i in (1..shuffled.sandboxes.len()).rev() {
            let j = (next() % (i as u64 + 1)) as usize;
            shuffled.sandboxes.swap(i, j);
        }
        shuffled.containers.reverse();
        prop_assert_eq!(case.generate(&shuffled, None), sorted);
    }

    /// Every spec container has exactly one status, in the right list, under its name.
    #[test]
    fn one_status_per_spec_container(case in case()) {
        let s = case.generate(&case.runtime, None);
        let regular: Vec<_> = s.container_statuses.iter().flatten().map(|c| c.name.as_str()).collect();
        let mut expected: Vec<_> = case.regular.iter().map(|c| c.name).collect();
        expected.sort();
        prop_assert_eq!(regular, expected);
        let init: Vec<_> = s.init_container_statuses.iter().flatten().map(|c| c.name.as_str()).collect();
        let expected_init: Vec<_> = case.init.iter().map(|c| c.name).collect();
        prop_assert_eq!(init, expected_init);
        prop_assert!(s.ephemeral_container_statuses.is_none());
        for c in all_statuses(&s) {
            let state = c.state.clone().unwrap_or_default();
            let set = [state.running.is_some(), state.waiting.is_some(), state.terminated.is_some()];
            prop_assert_eq!(set.iter().filter(|b| **b).count(), 1, "{} has one state", &c.name);
        }
    }

    /// Succeeded only when every regular container ended with exit 0 and nothing restarts it:
    /// the policy is not Always, or the pod is terminal and not static. Never Unknown.
    #[test]
    fn succeeded_only_when_all_regular_containers_ended_with_zero(case in case()) {
        let s = case.generate(&case.runtime, None);
        let phase = s.phase.as_deref().unwrap();
        prop_assert_ne!(phase, "Unknown");
        if phase == "Succeeded" {
            for c in s.container_statuses.iter().flatten() {
                prop_assert!(ended_with_zero(c), "{} did not end with 0: {:?}", &c.name, c);
            }
            prop_assert!(
                case.policy != "Always" || (case.pod_is_terminal && !case.is_static),
                "Succeeded under Always without the terminal rule"
            );
        }
        if phase == "Succeeded" || phase == "Failed" {
            let ready = s.conditions.iter().flatten().find(|c| c.type_ == status::READY).unwrap();
            prop_assert_eq!(ready.status.as_str(), "False");
        }
    }

    /// A terminal previous phase never changes.
    #[test]
    fn phase_never_leaves_a_terminal_previous_phase(
        case in case(),
        terminal in prop_oneof![Just("Succeeded"), Just("Failed")],
        later in case(),
    ) {
        let mut previous = case.generate(&case.runtime, None);
        previous.phase = Some(terminal.to_string());
        // Whatever the runtime reports next (another random view of the same pod).
        let next = case.generate(&later.runtime, Some(&previous));
        prop_assert_eq!(next.phase.as_deref(), Some(terminal));
        let again = case.generate(&case.runtime, Some(&previous));
        prop_assert_eq!(again.phase.as_deref(), Some(terminal));
    }

    /// Regenerating from an unchanged input later keeps the start time and the transition
    /// time of every condition whose status did not change, and the first regeneration
    /// settles: a third generation is not a change.
    #[test]
    fn transition_times_stable_across_regeneration(case in case(), later_secs in 1i64..10_000) {
        let first = case.generate(&case.runtime, None);
        let later = Timestamp::new(case.now.as_second() + later_secs, 7).unwrap();
        let second = case.generate_at(&case.runtime, Some(&first), later);
        prop_assert_eq!(&second.start_time, &first.start_time);
        for c in second.conditions.iter().flatten().filter(|c| is_kubelet_condition(&c.type_)) {
            let old = first.conditions.iter().flatten().find(|o| o.type_ == c.type_).unwrap();
            if old.status == c.status {
                prop_assert_eq!(&c.last_transition_time, &old.last_transition_time, "{}", &c.type_);
            }
        }
        for t in all_statuses(&second)
            .flat_map(|c| [c.state.clone(), c.last_state.clone()])
            .flatten()
            .filter_map(|s| s.terminated)
        {
            for time in [t.started_at, t.finished_at].into_iter().flatten() {
                prop_assert_eq!(time.0.subsec_nanosecond(), 0);
            }
        }
        let even_later = Timestamp::new(later.as_second() + later_secs, 3).unwrap();
        let third = case.generate_at(&case.runtime, Some(&second), even_later);
        let fourth = case.generate_at(&case.runtime, Some(&third), even_later);
        prop_assert!(!status_changed(&third, &fourth));
        prop_assert_eq!(third, fourth);
    }
}
