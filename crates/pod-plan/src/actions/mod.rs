//! What to do next to a pod: the kubelet's `computePodActions`
//! (`pkg/kubelet/kuberuntime/kuberuntime_manager.go`), with the crash back-off decision of its
//! `doBackOff` made here too. [`PodActions`] says in which order the worker applies the
//! result; [`compute_pod_actions`] says why back-off is part of the plan.
//!
//! Parts: `sandbox` (`PodSandboxChanged`), `init` (init containers and sidecars,
//! `computeInitContainerActions`, pruning), `restart` (`ShouldContainerBeRestarted`,
//! `doBackOff`); the sandbox branch and the regular-container loop are here.

mod init;
mod restart;
mod sandbox;

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::backoff::Backoff;
use crate::{
    ContainerState, PodRuntimeStatus, ProbeKind, ProbeResult, ProbeResults, WaitingReason,
    container_hash,
};
use init::{
    compute_init_container_actions, init_containers, init_containers_to_remove, is_sidecar,
};
use restart::{
    BackOffCheck, container_succeeded, do_back_off, restart_policy, should_restart_on_failure,
};
use sandbox::pod_sandbox_changed;

pub use restart::should_container_be_restarted;

/// Which list of the pod spec a container comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// An init container (`initContainers` without `restartPolicy: Always`): runs to
    /// completion, one at a time, before the regular containers.
    Init,
    /// A sidecar: an init container with `restartPolicy: Always`. Started in init order, kept
    /// running next to the regular containers, always restarted.
    Sidecar,
    /// A regular container (`containers`).
    Regular,
    /// An ephemeral container (`ephemeralContainers`): started once, never restarted.
    Ephemeral,
}

/// Why a single container is killed while the pod goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillReason {
    /// Its spec hash differs from the running instance's: it is restarted whatever the
    /// `restartPolicy` (LC-14).
    SpecChanged,
    /// Its liveness probe failed (the kubelet's `reasonLivenessProbe`).
    LivenessFailed,
    /// Its startup probe failed (the kubelet's `reasonStartupProbe`).
    StartupFailed,
    /// The runtime reports it in an unknown state: it is killed before a new instance starts,
    /// so that two never run at once (the kubelet's `reasonUnknown`).
    UnknownState,
}

/// Why the whole pod is killed ([`PodActions::kill_pod`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillPodReason {
    /// There is no usable sandbox (none yet, the newest is not ready, several are ready, the
    /// network mode changed, it has no IP): everything stops and a sandbox is created unless
    /// the restart policy says the pod is done. For a new pod there is nothing to stop.
    SandboxChanged,
    /// A regular init container failed and the pod's `restartPolicy` is `Never` (LC-08).
    InitContainerFailed,
    /// No regular container runs and none is to be started: the pod is done, and its
    /// sidecars stop too (LC-12).
    NoContainerToRun,
}

/// A container to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerToStart {
    /// Its name in the pod spec.
    pub name: String,
    /// Which list of the spec it comes from.
    pub kind: ContainerKind,
    /// The restart count of the new instance (written in the `restartCount` annotation): the
    /// newest instance's count + 1, or 0 when the runtime has none. The kubelet then falls
    /// back to the highest `<n>.log` in the container's log directory; that is I/O and the
    /// worker's to do.
    pub restart_count: u32,
    /// The crash back-off key ([`container_backoff_key`](crate::container_backoff_key)),
    /// when an earlier instance exited: the back-off must be advanced as this one starts.
    pub backoff_key: Option<String>,
    /// When that earlier instance finished (`finishedAt`), the event time the kubelet passes
    /// to the back-off.
    pub previous_finished_at: Option<Timestamp>,
}

impl ContainerToStart {
    /// Advance the crash back-off for this start, as the kubelet's `doBackOff` does right
    /// before it creates the container (whether or not the start then succeeds):
    /// `Next(key, finishedAt)` with the last update at `now`. Nothing happens for a container
    /// that never exited (first start).
    pub fn advance_backoff(&self, backoff: &mut Backoff, now: Timestamp) {
        if let Some(key) = &self.backoff_key {
            backoff.next_since(
                key,
                self.previous_finished_at.unwrap_or(Timestamp::MIN),
                now,
            );
        }
    }
}

/// A container instance to kill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerToKill {
    /// The runtime id of the instance.
    pub id: String,
    /// Its name in the pod spec.
    pub name: String,
    /// Which list of the spec it comes from.
    pub kind: ContainerKind,
    /// Why.
    pub reason: KillReason,
    /// The kubelet's message for the `Killing` event, e.g. "Container app failed liveness
    /// probe, will be restarted".
    pub message: String,
}

/// What to do next to a pod ([`compute_pod_actions`]). The worker applies it in the order of
/// the kubelet's kuberuntime `SyncPod`:
///
/// 1. if [`kill_pod`](Self::kill_pod), stop every running container and every sandbox;
///    otherwise stop [`containers_to_kill`](Self::containers_to_kill);
/// 2. remove [`init_containers_to_remove`](Self::init_containers_to_remove);
/// 3. if [`create_sandbox`](Self::create_sandbox), create a sandbox with
///    [`attempt`](Self::attempt);
/// 4. start [`ephemeral_containers_to_start`](Self::ephemeral_containers_to_start), then
///    [`init_containers_to_start`](Self::init_containers_to_start) (a regular init container
///    that fails to start ends the sync), then
///    [`containers_to_start`](Self::containers_to_start), calling
///    [`ContainerToStart::advance_backoff`] for each just before creating it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodActions {
    /// Stop every running container of the pod (regular and ephemeral ones at once, then the
    /// sidecars in reverse order) and every sandbox. [`PodActions::containers_to_kill`] is
    /// then empty: the kubelet ignores it when it kills the pod.
    pub kill_pod: bool,
    /// Why the pod is killed; `Some` exactly when [`PodActions::kill_pod`] is set.
    pub kill_pod_reason: Option<KillPodReason>,
    /// Create a new sandbox (after the kill) with [`PodActions::attempt`].
    pub create_sandbox: bool,
    /// The sandbox to start containers in, or, when a sandbox is created, the one it replaces
    /// (`None` for a new pod, or when the sandbox's network mode changed).
    pub sandbox_id: Option<String>,
    /// The sandbox attempt: the new sandbox's (0 for the first, newest + 1 after that), or the
    /// current sandbox's.
    pub attempt: u32,
    /// Init containers and sidecars to start, in spec order. At most one is a regular init
    /// container.
    pub init_containers_to_start: Vec<ContainerToStart>,
    /// Regular containers to start, in spec order.
    pub containers_to_start: Vec<ContainerToStart>,
    /// Ephemeral containers to start, in spec order.
    pub ephemeral_containers_to_start: Vec<ContainerToStart>,
    /// Container instances to kill before anything starts (init containers first, in spec
    /// order, then regular ones). A killed container that must run again is also in a list
    /// to start (or in [`PodActions::waiting`]).
    pub containers_to_kill: Vec<ContainerToKill>,
    /// Runtime ids of old init container instances to remove: all of them when the sandbox is
    /// re-created, otherwise all but the newest exited one of each init container.
    pub init_containers_to_remove: Vec<String>,
    /// Containers that should start but wait for their crash back-off, with reason
    /// `CrashLoopBackOff` and the kubelet's message (the worker records them in its
    /// [`ReasonCache`](crate::ReasonCache) and emits the `BackOff` event).
    pub waiting: Vec<(String, WaitingReason)>,
    /// How long until the first of the [`PodActions::waiting`] containers leaves back-off:
    /// when to sync again.
    pub backoff_expires_in: Option<Duration>,
}

impl PodActions {
    /// Whether there is nothing to do: nothing to kill, create, remove or start. Containers
    /// waiting for their back-off do not count.
    pub fn is_noop(&self) -> bool {
        !self.kill_pod
            && !self.create_sandbox
            && self.init_containers_to_start.is_empty()
            && self.containers_to_start.is_empty()
            && self.ephemeral_containers_to_start.is_empty()
            && self.containers_to_kill.is_empty()
            && self.init_containers_to_remove.is_empty()
    }
}

/// What to do next to `pod`, given what the runtime reports (`runtime`, sorted as
/// [`PodRuntimeStatus::sort`] sorts it), the latest probe results, the pod's crash back-off
/// and the current time: the kubelet's `computePodActions`, then `doBackOff` for each
/// container to start.
///
/// The kubelet decides crash back-off at start time, inside `SyncPod`. Here it is part of the
/// plan, so a test sees it and the worker needs no second look at the runtime: a container
/// whose last instance exited less than its back-off ago is not in the lists to start but in
/// [`PodActions::waiting`] with reason `CrashLoopBackOff`; a container restarted out of
/// back-off carries its back-off key, and the worker advances the back-off as it starts it
/// ([`ContainerToStart::advance_backoff`]: the first restart is immediate, the next ones wait
/// 10 s, 20 s, 40 s ... 300 s). With an empty back-off the plan is exactly the kubelet's
/// `computePodActions`.
///
/// ```
/// use jiff::Timestamp;
/// use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
/// use pod_plan::{Backoff, PodRuntimeStatus, ProbeResults, compute_pod_actions};
///
/// let pod = Pod {
///     spec: Some(PodSpec {
///         containers: vec![Container { name: "app".into(), image: Some("busybox".into()), ..Default::default() }],
///         ..Default::default()
///     }),
///     ..Default::default()
/// };
/// let now = Timestamp::from_second(1_700_000_000).unwrap();
/// let actions = compute_pod_actions(&pod, &PodRuntimeStatus::default(), &ProbeResults::new(), &Backoff::container(), now);
/// assert!(actions.create_sandbox);
/// assert_eq!(actions.attempt, 0);
/// assert_eq!(actions.containers_to_start[0].name, "app");
/// ```
pub fn compute_pod_actions(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
    probes: &ProbeResults,
    backoff: &Backoff,
    now: Timestamp,
) -> PodActions {
    let changes = compute_container_changes(pod, runtime, probes);
    apply_back_off(pod, runtime, backoff, now, changes)
}

/// The kubelet's `computePodActions` result, by spec index, before back-off.
#[derive(Debug, Default)]
struct Changes {
    kill_pod: Option<KillPodReason>,
    create_sandbox: bool,
    sandbox_id: Option<String>,
    attempt: u32,
    init_to_start: Vec<usize>,
    regular_to_start: Vec<usize>,
    ephemeral_to_start: Vec<usize>,
    to_kill: Vec<ContainerToKill>,
}

/// The kubelet's `computePodActions`: the sandbox first, then ephemeral containers, then
/// init containers and sidecars; regular containers only once the pod is initialized.
fn compute_container_changes(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
    probes: &ProbeResults,
) -> Changes {
    let sandbox = pod_sandbox_changed(pod, runtime);
    let mut changes = Changes {
        kill_pod: sandbox.changed.then_some(KillPodReason::SandboxChanged),
        create_sandbox: sandbox.changed,
        sandbox_id: sandbox.sandbox_id,
        attempt: sandbox.attempt,
        ..Changes::default()
    };
    if sandbox.changed {
        compute_sandbox_recreation(pod, runtime, &mut changes);
        return changes;
    }

    // Ephemeral containers start even before initialization completes; never twice.
    changes.ephemeral_to_start = ephemeral_names(pod)
        .enumerate()
        .filter(|(_, name)| runtime.latest(name).is_none())
        .map(|(i, _)| i)
        .collect();

    let initialized = compute_init_container_actions(pod, runtime, probes, &mut changes);
    if changes.kill_pod.is_some() || !initialized {
        return changes;
    }
    compute_regular_container_actions(pod, runtime, probes, &mut changes);
    changes
}

/// The sandbox branch of `computePodActions`: everything is killed; the new sandbox runs the
/// first init container, or else every regular container (but, under `OnFailure`, not the
/// ones that succeeded). No new sandbox when the pod is done:
///
/// - `restartPolicy: Never`, the sandbox is a re-creation (attempt ≠ 0) and containers have
///   run (LC-04): the pod is only killed;
/// - no regular container is left to start and one was already created (e.g. `OnFailure`
///   with every container succeeded).
fn compute_sandbox_recreation(pod: &Pod, runtime: &PodRuntimeStatus, changes: &mut Changes) {
    if !should_restart_on_failure(pod) && changes.attempt != 0 && !runtime.containers.is_empty() {
        changes.create_sandbox = false;
        return;
    }
    let on_failure = restart_policy(pod) == "OnFailure";
    let to_start: Vec<usize> = regular_containers(pod)
        .iter()
        .enumerate()
        .filter(|(_, c)| !(on_failure && container_succeeded(&c.name, runtime)))
        .map(|(i, _)| i)
        .collect();
    if to_start.is_empty() && has_any_regular_container_created(pod, runtime) {
        changes.create_sandbox = false;
        return;
    }
    if !init_containers(pod).is_empty() {
        changes.init_to_start = vec![0];
        return;
    }
    changes.regular_to_start = to_start;
}

/// The kubelet's `hasAnyRegularContainerCreated`: a regular container's newest instance is
/// created, running or exited.
fn has_any_regular_container_created(pod: &Pod, runtime: &PodRuntimeStatus) -> bool {
    regular_containers(pod)
        .iter()
        .filter_map(|c| runtime.latest(&c.name))
        .any(|s| s.state != ContainerState::Unknown)
}

/// The regular-container loop of `computePodActions`:
///
/// - not running and [`should_container_be_restarted`] → start it (an `Unknown` instance is
///   killed first);
/// - running with a changed spec hash → kill and restart whatever the policy ("Container %s
///   definition changed, will be restarted");
/// - running with a failed liveness or startup probe → kill ("Container %s failed liveness
///   probe"), and restart unless the policy is `Never` (", will be restarted");
/// - otherwise keep it.
///
/// When nothing is kept and nothing is to start, the pod is killed, sidecars included: under
/// `Never`/`OnFailure` sidecars do not keep a finished pod alive (LC-12).
fn compute_regular_container_actions(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
    probes: &ProbeResults,
    changes: &mut Changes,
) {
    let restart_on_failure = should_restart_on_failure(pod);
    let mut keep = 0;
    for (idx, container) in regular_containers(pod).iter().enumerate() {
        let status = match runtime.latest(&container.name) {
            Some(status) if status.state == ContainerState::Running => status,
            other => {
                if should_container_be_restarted(container, pod, runtime) {
                    changes.regular_to_start.push(idx);
                    if let Some(unknown) = other.filter(|s| s.state == ContainerState::Unknown) {
                        changes.to_kill.push(ContainerToKill {
                            id: unknown.id.clone(),
                            name: container.name.clone(),
                            kind: ContainerKind::Regular,
                            reason: KillReason::UnknownState,
                            message:
                                "Container is in \"unknown\" state, try killing it before restart"
                                    .to_string(),
                        });
                    }
                }
                continue;
            }
        };
        let failed = |kind| matches!(probes.get(&status.id, kind), Some(ProbeResult::Failure(_)));
        let name = &container.name;
        let (reason, mut message, restart) = if status.hash != Some(container_hash(container)) {
            (
                KillReason::SpecChanged,
                format!("Container {name} definition changed"),
                true,
            )
        } else if failed(ProbeKind::Liveness) {
            (
                KillReason::LivenessFailed,
                format!("Container {name} failed liveness probe"),
                restart_on_failure,
            )
        } else if failed(ProbeKind::Startup) {
            (
                KillReason::StartupFailed,
                format!("Container {name} failed startup probe"),
                restart_on_failure,
            )
        } else {
            keep += 1;
            continue;
        };
        if restart {
            message.push_str(", will be restarted");
            changes.regular_to_start.push(idx);
        }
        changes.to_kill.push(ContainerToKill {
            id: status.id.clone(),
            name: name.clone(),
            kind: ContainerKind::Regular,
            reason,
            message,
        });
    }
    if keep == 0 && changes.regular_to_start.is_empty() {
        changes.kill_pod = Some(KillPodReason::NoContainerToRun);
        // Sidecars must not keep a finished pod alive.
        changes.init_to_start.clear();
    }
}

/// Turn the kubelet's lists into [`PodActions`], deciding crash back-off (`doBackOff`) for
/// every container to start.
fn apply_back_off(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
    backoff: &Backoff,
    now: Timestamp,
    changes: Changes,
) -> PodActions {
    let kill_pod = changes.kill_pod.is_some();
    let mut actions = PodActions {
        kill_pod,
        kill_pod_reason: changes.kill_pod,
        create_sandbox: changes.create_sandbox,
        sandbox_id: changes.sandbox_id,
        attempt: changes.attempt,
        containers_to_kill: if kill_pod {
            Vec::new()
        } else {
            changes.to_kill
        },
        init_containers_to_remove: init_containers_to_remove(
            pod,
            runtime,
            kill_pod && changes.create_sandbox,
        ),
        ..PodActions::default()
    };

    // Ephemeral containers start only when they have no instance, so no back-off applies.
    let ephemeral: Vec<&str> = ephemeral_names(pod).collect();
    actions.ephemeral_containers_to_start = changes
        .ephemeral_to_start
        .iter()
        .map(|&i| ContainerToStart {
            name: ephemeral[i].to_string(),
            kind: ContainerKind::Ephemeral,
            restart_count: 0,
            backoff_key: None,
            previous_finished_at: None,
        })
        .collect();

    let inits = init_containers(pod);
    for &i in &changes.init_to_start {
        let container = &inits[i];
        let kind = if is_sidecar(container) {
            ContainerKind::Sidecar
        } else {
            ContainerKind::Init
        };
        let started = start_or_wait(pod, container, kind, runtime, backoff, now, &mut actions);
        // kuberuntime's SyncPod ends the sync when a regular init container does not start.
        if !started && kind == ContainerKind::Init {
            break;
        }
    }
    let regular = regular_containers(pod);
    for &i in &changes.regular_to_start {
        start_or_wait(
            pod,
            &regular[i],
            ContainerKind::Regular,
            runtime,
            backoff,
            now,
            &mut actions,
        );
    }
    actions
}

/// Add `container` to the list to start for its kind, or to [`PodActions::waiting`] when it
/// is in back-off. Returns whether it is to start.
fn start_or_wait(
    pod: &Pod,
    container: &Container,
    kind: ContainerKind,
    runtime: &PodRuntimeStatus,
    backoff: &Backoff,
    now: Timestamp,
    actions: &mut PodActions,
) -> bool {
    match do_back_off(pod, container, runtime, backoff, now) {
        BackOffCheck::Wait { reason, remaining } => {
            actions.waiting.push((container.name.clone(), reason));
            actions.backoff_expires_in = Some(
                actions
                    .backoff_expires_in
                    .map_or(remaining, |r| r.min(remaining)),
            );
            false
        }
        BackOffCheck::Start { key, since } => {
            let start = ContainerToStart {
                name: container.name.clone(),
                kind,
                restart_count: runtime
                    .latest(&container.name)
                    .map_or(0, |s| s.restart_count.saturating_add(1)),
                backoff_key: key,
                previous_finished_at: since,
            };
            match kind {
                ContainerKind::Init | ContainerKind::Sidecar => {
                    actions.init_containers_to_start.push(start)
                }
                ContainerKind::Regular => actions.containers_to_start.push(start),
                ContainerKind::Ephemeral => actions.ephemeral_containers_to_start.push(start),
            }
            true
        }
    }
}

fn regular_containers(pod: &Pod) -> &[Container] {
    pod.spec.as_ref().map_or(&[], |s| s.containers.as_slice())
}

fn ephemeral_names(pod: &Pod) -> impl Iterator<Item = &str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.ephemeral_containers.as_deref())
        .unwrap_or(&[])
        .iter()
        .map(|c| c.name.as_str())
}
