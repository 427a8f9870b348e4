//! Pod status generation: what the kubelet writes in `pod.status`, as a pure function of the
//! pod, the runtime's view, probe results, the waiting-reason cache, the previous status and
//! the time.
//!
//! It reproduces, in one call ([`generate_pod_status`]), what the kubelet spreads over
//! `generateAPIPodStatus` / `convertToAPIContainerStatuses` / `getPhase`
//! (`pkg/kubelet/kubelet_pods.go`), the condition generators (`pkg/kubelet/status/generate.go`),
//! the probe manager's `UpdatePodStatus` and the status manager's `updateStatusInternal`
//! (transition times, start time, normalization, illegal-transition check). The status
//! manager's remaining duties are helpers: [`status_changed`] (send only on change),
//! [`terminal_status`] (`TerminatePod`), [`rejected_pod_status`] (admission),
//! [`generate_failed_pod_status`] (eviction-like outcomes).
//!
//! Time is an argument, never read from a clock; every timestamp written has second precision.
//!
//! # Where this differs from the kubelet
//!
//! - `ready`/`started` come from the current probe results; the kubelet computes the phase
//!   from the `started` flags of its previous status (kept current by its probe fast path),
//!   so it can lag one sync behind.
//! - "Has a regular container started?" (init-phase rule) reads the API statuses, as
//!   kubelet ≤ 1.33 did; newer kubelets ask the runtime about the current sandbox only, which
//!   the runtime view here cannot tell apart.
//! - A sidecar's waiting reason shows even in a `Never` pod (sidecars always restart), as
//!   with per-container restart rules; older kubelets applied the pod's policy here.
//! - An init container assumed completed (instance gone, regular containers created) stays
//!   completed; the kubelet can flip it to a stale waiting reason on alternate syncs.
//! - A terminal phase is never replaced, not even by the other terminal phase.
//! - `status.volumeMounts` of a container's first reported instance come from the spec (the
//!   kubelet reports them one sync later); running containers' `resources` are the spec's
//!   (the runtime view carries no CRI resource readings); `user` (supplemental groups) and
//!   `allocatedResourcesStatus` are not reported.
//! - Pod-level `status.resources` are always computed from the spec (the kubelet's
//!   branch for a pod object not `Running`, which static pods always take); for a `Running`
//!   API pod the kubelet reads the pod cgroup instead (see `pod_resources.rs`).
//!
//! ```
//! use jiff::Timestamp;
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
//! use pod_plan::{PodRuntimeStatus, StatusInput, generate_pod_status};
//!
//! let pod = Pod {
//!     spec: Some(PodSpec {
//!         containers: vec![Container { name: "app".into(), ..Default::default() }],
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! let runtime = PodRuntimeStatus::default();
//! let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
//! let status = generate_pod_status(&StatusInput::new(&pod, &runtime, now));
//! assert_eq!(status.phase.as_deref(), Some("Pending"));
//! let app = &status.container_statuses.unwrap()[0];
//! let waiting = app.state.as_ref().unwrap().waiting.as_ref().unwrap();
//! assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
//! ```

mod api;
mod conditions;
mod containers;
mod network;
mod normalize;
mod phase;
mod pod_resources;

use std::sync::LazyLock;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState as ApiContainerState, ContainerStateTerminated, HostIP, Pod, PodCondition,
    PodIP, PodStatus,
};

use crate::{PodRuntimeStatus, ProbeResults, ReasonCache, SandboxStatus};
use api::{api_time, find_condition, non_empty, str_of, terminated};
use containers::{Context, Kind};
use normalize::truncate_times;

pub use crate::qos::{QosClass, compute_pod_qos, pod_qos};
pub use conditions::{
    CONTAINERS_NOT_INITIALIZED, CONTAINERS_NOT_READY, CONTAINERS_READY, DISRUPTION_TARGET,
    INITIALIZED, KUBELET_CONDITIONS, POD_COMPLETED, POD_FAILED, POD_READY_TO_START_CONTAINERS,
    POD_SANDBOX_NOT_READY, POD_SCHEDULED, READINESS_GATES_NOT_READY, READY,
    UNKNOWN_CONTAINER_STATUSES, containers_ready_condition, initialized_condition,
    is_kubelet_condition, pod_ready_to_start_containers_condition, ready_condition,
};
pub use containers::{
    CONTAINER_CREATING, CONTAINER_STATUS_UNKNOWN, INIT_ASSUMED_COMPLETED, MISSING_AFTER_RUNNING,
    MISSING_AT_TERMINATION, POD_INITIALIZING, UNKNOWN_EXIT_CODE,
};
pub use network::{pod_ips, pod_ips_keeping_stopped};
pub use normalize::{MAX_POD_TERMINATION_MESSAGE_LENGTH, normalize_pod_status};
pub use phase::{
    CONFIG_SOURCE_ANNOTATION, PodPhase, any_regular_container_started, is_mirror_pod,
    is_static_pod, pod_phase,
};

/// The runtime name used in `containerID` (`<runtime>://<id>`) unless told otherwise.
pub const DEFAULT_RUNTIME_NAME: &str = "containerd";

static NO_PROBE_RESULTS: LazyLock<ProbeResults> = LazyLock::new(ProbeResults::new);
static NO_REASONS: LazyLock<ReasonCache> = LazyLock::new(ReasonCache::new);
static EMPTY_STATUS: LazyLock<PodStatus> = LazyLock::new(PodStatus::default);

/// Everything status generation reads. Build it with [`StatusInput::new`] and the `with_*`
/// methods, or as a struct literal.
#[derive(Debug, Clone, Copy)]
pub struct StatusInput<'a> {
    /// The pod as the source knows it; `pod.status` is the status in the API (conditions set
    /// by others, a terminal phase written earlier, `qosClass`).
    pub pod: &'a Pod,
    /// What the runtime reports about the pod.
    pub runtime: &'a PodRuntimeStatus,
    /// Latest probe results, by container instance id.
    pub probes: &'a ProbeResults,
    /// Why containers could not be started on the last sync.
    pub reasons: &'a ReasonCache,
    /// The last status generated for this pod (the kubelet's status-manager cache), if any.
    /// When `None`, `pod.status` plays that role.
    pub previous: Option<&'a PodStatus>,
    /// The pod is being terminated for good (deleted, evicted, or its containers were
    /// killed to finish it): its containers will not be restarted whatever the restart policy.
    pub pod_is_terminal: bool,
    /// The node's IPs, primary first (one per IP family).
    pub host_ips: &'a [String],
    /// The runtime name for `containerID` (`containerd`, `cri-o`).
    pub runtime_name: &'a str,
    /// The current time.
    pub now: Timestamp,
}

impl<'a> StatusInput<'a> {
    /// An input with no probe results, no waiting reasons, no previous status, a pod that is
    /// not terminal, no host IPs and the runtime name [`DEFAULT_RUNTIME_NAME`].
    pub fn new(pod: &'a Pod, runtime: &'a PodRuntimeStatus, now: Timestamp) -> Self {
        StatusInput {
            pod,
            runtime,
            probes: &NO_PROBE_RESULTS,
            reasons: &NO_REASONS,
            previous: None,
            pod_is_terminal: false,
            host_ips: &[],
            runtime_name: DEFAULT_RUNTIME_NAME,
            now,
        }
    }

    /// Use these probe results.
    pub fn with_probes(mut self, probes: &'a ProbeResults) -> Self {
        self.probes = probes;
        self
    }

    /// Use these waiting reasons.
    pub fn with_reasons(mut self, reasons: &'a ReasonCache) -> Self {
        self.reasons = reasons;
        self
    }

    /// Generate on top of this previous status.
    pub fn with_previous(mut self, previous: Option<&'a PodStatus>) -> Self {
        self.previous = previous;
        self
    }

    /// Say whether the pod is being terminated for good.
    pub fn with_pod_is_terminal(mut self, pod_is_terminal: bool) -> Self {
        self.pod_is_terminal = pod_is_terminal;
        self
    }

    /// Use these node IPs.
    pub fn with_host_ips(mut self, host_ips: &'a [String]) -> Self {
        self.host_ips = host_ips;
        self
    }

    /// Use this runtime name in container ids.
    pub fn with_runtime_name(mut self, runtime_name: &'a str) -> Self {
        self.runtime_name = runtime_name;
        self
    }

    /// The status the new one is generated on top of: `previous`, else `pod.status`.
    fn old(&self) -> &'a PodStatus {
        self.previous
            .or(self.pod.status.as_ref())
            .unwrap_or(&EMPTY_STATUS)
    }
}

/// A pod-level failure decided on the node, overriding the phase computed from containers:
/// phase Failed with this reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFailure {
    /// `status.reason` (`DeadlineExceeded`, `Evicted`, `OutOfcpu`, ...).
    pub reason: String,
    /// `status.message`.
    pub message: String,
    /// A condition the failure adds to the pod with status True (an eviction's
    /// `DisruptionTarget`), set as the kubelet's `UpdatePodCondition` sets it: replacing
    /// one of the same type.
    pub condition: Option<FailureCondition>,
}

/// A True condition a [`PodFailure`] adds to the pod's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCondition {
    /// The condition type (`DisruptionTarget`).
    pub type_: String,
    /// Its reason (`TerminationByKubelet`).
    pub reason: String,
    /// Its message.
    pub message: String,
}

impl FailureCondition {
    /// The API condition, status True, observed at `generation`.
    pub fn to_condition(&self, generation: Option<i64>) -> PodCondition {
        PodCondition {
            type_: self.type_.clone(),
            status: "True".to_owned(),
            reason: non_empty(self.reason.as_str()),
            message: non_empty(self.message.as_str()),
            observed_generation: generation,
            ..Default::default()
        }
    }
}

impl PodFailure {
    /// Reason of [`PodFailure::active_deadline_exceeded`].
    pub const DEADLINE_EXCEEDED: &'static str = "DeadlineExceeded";
    /// Message of [`PodFailure::active_deadline_exceeded`].
    pub const DEADLINE_EXCEEDED_MESSAGE: &'static str =
        "Pod was active on the node longer than the specified deadline";

    /// Any failure.
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        PodFailure {
            reason: reason.into(),
            message: message.into(),
            condition: None,
        }
    }

    /// `spec.activeDeadlineSeconds` passed (the kubelet's active deadline handler, PH-09).
    pub fn active_deadline_exceeded() -> Self {
        PodFailure::new(Self::DEADLINE_EXCEEDED, Self::DEADLINE_EXCEEDED_MESSAGE)
    }

    /// Admission refused the pod (`OutOfcpu`, `OutOfmemory`, `OutOfpods`, `NodeAffinity`,
    /// ...): the message is prefixed "Pod was rejected: ", as the kubelet's `rejectPod`.
    pub fn rejected(reason: impl Into<String>, message: impl AsRef<str>) -> Self {
        PodFailure::new(reason, format!("Pod was rejected: {}", message.as_ref()))
    }
}

/// Whether the pod has been active longer than `spec.activeDeadlineSeconds`, counted from the
/// start time of `previous` (else `pod.status`), as the kubelet's `pastActiveDeadline`: false
/// without a deadline or a start time; true once `now - startTime >= deadline`.
pub fn past_active_deadline(pod: &Pod, previous: Option<&PodStatus>, now: Timestamp) -> bool {
    let Some(deadline) = pod.spec.as_ref().and_then(|s| s.active_deadline_seconds) else {
        return false;
    };
    let Some(start) = previous
        .or(pod.status.as_ref())
        .and_then(|s| s.start_time.as_ref())
    else {
        return false;
    };
    now.duration_since(start.0) >= jiff::SignedDuration::from_secs(deadline)
}

/// How long until the pod passes `spec.activeDeadlineSeconds` (counted as
/// [`past_active_deadline`] counts it); `None` without a deadline or a start time, or once
/// it has passed. A pod worker wakes then, as the kubelet's sync loop asks its
/// active-deadline handler every second whether a pod must sync (`ShouldSync`,
/// `pkg/kubelet/active_deadline.go`), so the pod fails on time (PH-09).
pub fn active_deadline_in(
    pod: &Pod,
    previous: Option<&PodStatus>,
    now: Timestamp,
) -> Option<std::time::Duration> {
    let deadline = pod.spec.as_ref()?.active_deadline_seconds?;
    let start = previous
        .or(pod.status.as_ref())
        .and_then(|s| s.start_time.as_ref())?;
    let end = start
        .0
        .checked_add(jiff::SignedDuration::from_secs(deadline))
        .ok()?;
    std::time::Duration::try_from(end.duration_since(now))
        .ok()
        .filter(|d| !d.is_zero())
}

/// Generate the pod's status, exactly as the kubelet would write it after a sync.
///
/// - Container statuses for init, regular and ephemeral containers, matched by name: the
///   newest instance → `state`, the one before → `lastState`; default waiting
///   `ContainerCreating` (`PodInitializing` when the pod has init containers); a
///   [`ReasonCache`] reason shown for a container the next sync will (re)start, its
///   terminated state moved to `lastState`; an init container that exited 0 never waits;
///   `containerID` `<runtime>://<id>`, `imageID` the runtime's image ref, `restartCount`
///   from the newest instance; `ready`/`started` from the probe results. Regular and
///   ephemeral statuses are sorted by name, init statuses kept in spec order (ST-03).
/// - `phase` by [`pod_phase`]; a terminal phase in `previous` (or `pod.status`) never changes
///   (PH-08); `reason`/`message` are kept while the phase is unchanged; an exceeded
///   `activeDeadlineSeconds` fails the pod (PH-09).
/// - Conditions: those owned by others first (from `pod.status`, plus `DisruptionTarget` from
///   `previous`), then PodReadyToStartContainers, Initialized, Ready, ContainersReady,
///   PodScheduled (PH-10); `lastTransitionTime` kept while a condition's status is unchanged
///   (PH-17).
/// - `hostIP(s)`, `podIP(s)` ([`pod_ips_keeping_stopped`]: a completed pod keeps its IP),
///   `qosClass`, `startTime` (set once), and `observedGeneration`.
///
/// If a container would go from terminated back to not terminated where the restart policy
/// forbids it (PH-18), the status manager refuses the update: the old status is returned
/// unchanged (see [`illegal_container_transition`]).
pub fn generate_pod_status(input: &StatusInput<'_>) -> PodStatus {
    let failure = past_active_deadline(input.pod, input.previous, input.now)
        .then(PodFailure::active_deadline_exceeded);
    generate(input, failure.as_ref())
}

/// [`generate_pod_status`] for a pod that a node component decided to fail (eviction, or any
/// [`PodFailure`]): phase Failed with the failure's reason and message, unless the phase is
/// already terminal. Conditions follow the Failed phase (Ready False, `PodFailed`).
pub fn generate_failed_pod_status(input: &StatusInput<'_>, failure: &PodFailure) -> PodStatus {
    generate(input, Some(failure))
}

fn generate(input: &StatusInput<'_>, failure: Option<&PodFailure>) -> PodStatus {
    let pod = input.pod;
    let old = input.old();
    let api_status = pod.status.as_ref().unwrap_or(&EMPTY_STATUS);
    let now = api_time(input.now);

    let ctx = Context {
        pod,
        runtime: input.runtime,
        probes: input.probes,
        reasons: input.reasons,
        runtime_name: input.runtime_name,
    };
    let regular = containers::container_statuses(
        &ctx,
        Kind::Regular,
        old.container_statuses.as_deref().unwrap_or_default(),
    );
    let init = containers::container_statuses(
        &ctx,
        Kind::Init,
        old.init_container_statuses.as_deref().unwrap_or_default(),
    );
    let ephemeral = containers::container_statuses(
        &ctx,
        Kind::Ephemeral,
        old.ephemeral_container_statuses
            .as_deref()
            .unwrap_or_default(),
    );

    // Phase, and what the kubelet refuses to change about it.
    let computed = pod_phase(pod, &regular, &init, input.pod_is_terminal);
    let terminal_before = PodPhase::parse(str_of(&old.phase))
        .filter(|p| p.is_terminal())
        .or_else(|| PodPhase::parse(str_of(&api_status.phase)).filter(|p| p.is_terminal()));
    let mut phase = terminal_before.unwrap_or(computed);
    let (mut reason, mut message) = (None, None);
    if Some(phase.as_str()) == old.phase.as_deref() {
        reason = old.reason.clone().or_else(|| api_status.reason.clone());
        message = old.message.clone().or_else(|| api_status.message.clone());
    }
    if let Some(failure) = failure.filter(|_| terminal_before.is_none()) {
        phase = PodPhase::Failed;
        reason = non_empty(failure.reason.as_str());
        message = non_empty(failure.message.as_str());
    }

    // Conditions: others' first, then the kubelet's five in their fixed order.
    let mut conds: Vec<_> = api_status
        .conditions
        .iter()
        .flatten()
        .filter(|c| !is_kubelet_condition(&c.type_))
        .cloned()
        .collect();
    if let Some(disruption) = find_condition(old, DISRUPTION_TARGET) {
        match conds.iter_mut().find(|c| c.type_ == DISRUPTION_TARGET) {
            Some(existing) => *existing = disruption.clone(),
            None => conds.push(disruption.clone()),
        }
    }
    if let Some(added) = failure
        .filter(|_| terminal_before.is_none())
        .and_then(|f| f.condition.as_ref())
    {
        let added = added.to_condition(pod.metadata.generation.filter(|g| *g != 0));
        match conds.iter_mut().find(|c| c.type_ == added.type_) {
            Some(existing) => *existing = added,
            None => conds.push(added),
        }
    }
    let generation = pod.metadata.generation.filter(|g| *g != 0);
    let owned_from = conds.len();
    conds.push(pod_ready_to_start_containers_condition(pod, input.runtime));
    conds.push(initialized_condition(pod, &init, &regular, phase));
    let ready = ready_condition(pod, &conds, &init, &regular, phase);
    conds.push(ready);
    conds.push(containers_ready_condition(pod, &init, &regular, phase));
    conds.push(PodCondition {
        type_: POD_SCHEDULED.to_string(),
        status: "True".to_string(),
        ..Default::default()
    });
    for c in &mut conds[owned_from..] {
        c.observed_generation = generation;
    }

    let host_ips: Vec<_> = input.host_ips.iter().take(2).cloned().collect();
    let previous_ips: Vec<String> = old.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect();
    let ips = pod_ips_keeping_stopped(pod, input.runtime, input.host_ips, &previous_ips);
    // InPlacePodLevelResourcesVerticalScaling (on by default since v1.36).
    let pod_level = pod_resources::pod_level_resources(pod);
    let mut status = PodStatus {
        phase: Some(phase.as_str().to_string()),
        reason,
        message,
        conditions: Some(conds),
        host_ip: host_ips.first().cloned(),
        host_ips: (!host_ips.is_empty())
            .then(|| host_ips.into_iter().map(|ip| HostIP { ip }).collect()),
        pod_ip: ips.first().cloned(),
        pod_ips: (!ips.is_empty()).then(|| ips.into_iter().map(|ip| PodIP { ip }).collect()),
        qos_class: Some(pod_qos(pod).as_str().to_owned()),
        container_statuses: Some(regular),
        init_container_statuses: (!init.is_empty()).then_some(init),
        ephemeral_container_statuses: (!ephemeral.is_empty()).then_some(ephemeral),
        observed_generation: generation,
        start_time: None,
        resources: Some(pod_level.0),
        allocated_resources: pod_level.1,
        ..Default::default()
    };

    // The status manager's part (`updateStatusInternal`).
    if illegal_container_transition(pod, old, &status).is_some() {
        return old.clone();
    }
    if let Some(conds) = status.conditions.as_mut() {
        conditions::set_transition_times(conds, old, &now);
    }
    status.start_time = Some(old.start_time.clone().unwrap_or(now));
    normalize_pod_status(pod, &mut status);
    status
}

/// The status manager's `checkContainerStateTransition`: the name of a container whose status
/// goes from terminated in `old` to not terminated in `new` although it may not restart
/// (restartPolicy `Never`, or `OnFailure` after exit 0; sidecars always may). Under
/// `Always` nothing is illegal. The kubelet aborts such a status update (PH-18).
pub fn illegal_container_transition(pod: &Pod, old: &PodStatus, new: &PodStatus) -> Option<String> {
    let policy = api::restart_policy(pod);
    if policy == "Always" {
        return None;
    }
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| api::is_sidecar(c))
        .map(|c| c.name.as_str())
        .collect();
    let lists = [
        (
            old.container_statuses.as_deref(),
            new.container_statuses.as_deref(),
        ),
        (
            old.init_container_statuses.as_deref(),
            new.init_container_statuses.as_deref(),
        ),
    ];
    for (old_list, new_list) in lists {
        for old_status in old_list.unwrap_or_default() {
            let Some(t) = terminated(old_status) else {
                continue;
            };
            if sidecars.contains(&old_status.name.as_str())
                || (t.exit_code != 0 && policy == "OnFailure")
            {
                continue;
            }
            let new_status = api::find_status(new_list.unwrap_or_default(), &old_status.name);
            if new_status.is_some_and(|s| terminated(s).is_none()) {
                return Some(old_status.name.clone());
            }
        }
    }
    None
}

/// The final status of a pod whose termination is complete, as the kubelet's `TerminatePod`:
/// - once the pod has initialized (no init containers, or some regular container left
///   waiting, or the last init container exited 0), every regular container not terminated
///   becomes `terminated{reason: ContainerStatusUnknown, message: "The container could not be
///   located when the pod was terminated", exitCode: 137}` (PH-19);
/// - so does every init container up to the last one that ever started;
/// - a non-static pod still Pending or Running becomes Failed (static pods keep their phase);
/// - a terminal phase forces Ready and ContainersReady False (`PodFailed` / `PodCompleted`).
pub fn terminal_status(pod: &Pod, status: &PodStatus, now: Timestamp) -> PodStatus {
    let mut status = status.clone();
    let now = api_time(now);
    let unknown = || ApiContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: UNKNOWN_EXIT_CODE,
            reason: Some(CONTAINER_STATUS_UNKNOWN.to_string()),
            message: Some(MISSING_AT_TERMINATION.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };

    if has_pod_initialized(pod, &status) {
        for s in status.container_statuses.iter_mut().flatten() {
            if terminated(s).is_none() {
                s.state = Some(unknown());
            }
        }
    }
    if let Some(init) = status.init_container_statuses.as_mut() {
        let attempted = init
            .iter()
            .rposition(|s| !api::is_waiting(s) || api::last_terminated(s).is_some())
            .map_or(init.len().min(1), |i| i + 1);
        for s in &mut init[..attempted] {
            if terminated(s).is_none() {
                s.state = Some(unknown());
            }
        }
    }

    if !is_static_pod(pod) {
        let phase = PodPhase::parse(str_of(&status.phase));
        if !phase.is_some_and(PodPhase::is_terminal) {
            status.phase = Some(PodPhase::Failed.as_str().to_string());
        }
    }
    if let Some(phase) = PodPhase::parse(str_of(&status.phase)) {
        conditions::force_unready_when_terminal(&mut status, phase, &now);
    }
    if status.start_time.is_none() {
        status.start_time = Some(now);
    }
    normalize_pod_status(pod, &mut status);
    status
}

/// The status manager's `hasPodInitialized`, read from the status being terminated.
fn has_pod_initialized(pod: &Pod, status: &PodStatus) -> bool {
    let has_init = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .is_some_and(|c| !c.is_empty());
    if !has_init {
        return true;
    }
    if status
        .container_statuses
        .iter()
        .flatten()
        .any(|s| api::last_terminated(s).is_some() || !api::is_waiting(s))
    {
        return true;
    }
    status
        .init_container_statuses
        .as_deref()
        .and_then(|list| list.last())
        .is_some_and(|last| {
            api::last_terminated(last).is_some_and(|t| t.exit_code == 0)
                || terminated(last).is_some_and(|t| t.exit_code == 0)
        })
}

/// The status of a pod refused at admission, as the kubelet's `rejectPod` (PH-21, PH-22):
/// phase Failed, the failure's reason and message (use [`PodFailure::rejected`]), the QoS
/// class, and the start time of `previous` (else `pod.status`, else `now`).
pub fn rejected_pod_status(
    pod: &Pod,
    failure: &PodFailure,
    previous: Option<&PodStatus>,
    now: Timestamp,
) -> PodStatus {
    let old = previous.or(pod.status.as_ref()).unwrap_or(&EMPTY_STATUS);
    let mut status = PodStatus {
        phase: Some(PodPhase::Failed.as_str().to_string()),
        reason: non_empty(failure.reason.as_str()),
        message: non_empty(failure.message.as_str()),
        qos_class: Some(pod_qos(pod).as_str().to_owned()),
        observed_generation: pod.metadata.generation.filter(|g| *g != 0),
        start_time: Some(old.start_time.clone().unwrap_or_else(|| api_time(now))),
        ..Default::default()
    };
    normalize_pod_status(pod, &mut status);
    status
}

/// Whether `new` differs from `old` in anything the kubelet would send (the status manager's
/// `isPodStatusByKubeletEqual`, negated). Differences that mean nothing are ignored:
/// - absent versus empty (strings, lists, `lastState: {}`), as Go's zero values;
/// - sub-second parts of timestamps (the API keeps seconds);
/// - the order of container statuses;
/// - conditions owned by others (the API server keeps its own), and the times of the
///   kubelet's conditions whose status, reason and message are unchanged.
pub fn status_changed(old: &PodStatus, new: &PodStatus) -> bool {
    for c in new
        .conditions
        .iter()
        .flatten()
        .filter(|c| is_kubelet_condition(&c.type_) || c.type_ == DISRUPTION_TARGET)
    {
        match find_condition(old, &c.type_) {
            Some(o) if conditions::same_condition(o, c) => {}
            _ => return true,
        }
    }
    let mut old = old.clone();
    old.conditions = new.conditions.clone();
    let mut new = new.clone();
    for status in [&mut old, &mut new] {
        truncate_times(status);
        for list in [
            status.container_statuses.as_mut(),
            status.init_container_statuses.as_mut(),
            status.ephemeral_container_statuses.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    canonical_json(&old) != canonical_json(&new)
}

/// A status as JSON with Go's zero values removed (null, "", 0, [], {} members), so that two
/// spellings of the same Go value compare equal.
fn canonical_json(status: &PodStatus) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                map.retain(|_, v| !strip(v));
                map.is_empty()
            }
            Value::Array(items) => {
                for item in items.iter_mut() {
                    strip(item);
                }
                items.is_empty()
            }
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Bool(_) => false,
        }
    }
    let mut value = serde_json::to_value(status).unwrap_or_default();
    strip(&mut value);
    value
}

/// The newest sandbox of the view, whatever order it lists them in (same order as
/// [`PodRuntimeStatus::sort`]).
pub(crate) fn newest_sandbox(runtime: &PodRuntimeStatus) -> Option<&SandboxStatus> {
    runtime.sandboxes.iter().min_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.attempt.cmp(&a.attempt))
            .then_with(|| a.id.cmp(&b.id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn ph_09_active_deadline_in_counts_from_the_start_time() {
        let pod = Pod {
            spec: Some(PodSpec {
                active_deadline_seconds: Some(15),
                ..Default::default()
            }),
            ..Default::default()
        };
        let started = PodStatus {
            start_time: Some(Time(t(0))),
            ..Default::default()
        };
        let secs = std::time::Duration::from_secs;
        assert_eq!(
            active_deadline_in(&pod, Some(&started), t(4)),
            Some(secs(11))
        );
        assert_eq!(active_deadline_in(&pod, Some(&started), t(15)), None);
        assert_eq!(active_deadline_in(&pod, None, t(4)), None, "no start time");
        let no_deadline = Pod::default();
        assert_eq!(active_deadline_in(&no_deadline, Some(&started), t(4)), None);
    }
}
