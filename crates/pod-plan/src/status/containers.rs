//! Container statuses: the kubelet's `convertToAPIContainerStatuses`
//! (`pkg/kubelet/kubelet_pods.go`) and the probe manager's `UpdatePodStatus`
//! (`ready` / `started`).
//!
//! Everything is matched by container **name**: spec containers, runtime instances and the
//! previous status entries. Nothing is ever matched by position in a list.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState as ApiContainerState, ContainerStateRunning,
    ContainerStateTerminated, ContainerStateWaiting, ContainerStatus as ApiContainerStatus,
    EphemeralContainer, Pod, ResourceRequirements, VolumeMount, VolumeMountStatus,
};

use super::api::{api_time, find_status, is_sidecar, non_empty, restart_policy, terminated};
use super::conditions::init_container_done;
use crate::{
    ContainerState, ContainerStatus, PodRuntimeStatus, ProbeKind, ProbeResult, ProbeResults,
    ReasonCache,
};

/// Default waiting reason of a container never started, in a pod without init containers.
pub const CONTAINER_CREATING: &str = "ContainerCreating";
/// Default waiting reason of a container never started, in a pod with init containers.
pub const POD_INITIALIZING: &str = "PodInitializing";
/// Reason of a terminated state the kubelet made up because the runtime lost the container.
pub const CONTAINER_STATUS_UNKNOWN: &str = "ContainerStatusUnknown";
/// Message of a container found missing when the pod was terminated.
pub const MISSING_AT_TERMINATION: &str =
    "The container could not be located when the pod was terminated";
/// Message of a container that was running and vanished from the runtime.
pub const MISSING_AFTER_RUNNING: &str = "The container could not be located when the pod was deleted.  The container used to be Running";
/// Message of an init container whose instance is gone after the pod initialized.
pub const INIT_ASSUMED_COMPLETED: &str = "Unable to get init container status from container runtime and pod has been initialized, treat it as exited normally";
/// Exit code given to containers whose real exit is unknown (as if SIGKILLed).
pub const UNKNOWN_EXIT_CODE: i32 = 137;

/// Which list of the pod spec a status belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    Init,
    Ephemeral,
}

/// What status generation needs of a spec container, for the three container kinds.
struct Spec<'a> {
    name: &'a str,
    image: &'a str,
    mounts: &'a [VolumeMount],
    resources: Option<&'a ResourceRequirements>,
    sidecar: bool,
    readiness_probe: bool,
    startup_probe: bool,
}

impl<'a> Spec<'a> {
    fn from_container(c: &'a Container) -> Self {
        Spec {
            name: &c.name,
            image: c.image.as_deref().unwrap_or_default(),
            mounts: c.volume_mounts.as_deref().unwrap_or_default(),
            resources: c.resources.as_ref(),
            sidecar: is_sidecar(c),
            readiness_probe: c.readiness_probe.is_some(),
            startup_probe: c.startup_probe.is_some(),
        }
    }

    fn from_ephemeral(c: &'a EphemeralContainer) -> Self {
        Spec {
            name: &c.name,
            image: c.image.as_deref().unwrap_or_default(),
            mounts: c.volume_mounts.as_deref().unwrap_or_default(),
            resources: c.resources.as_ref(),
            sidecar: false,
            readiness_probe: false,
            startup_probe: false,
        }
    }
}

/// Inputs shared by the three lists.
pub(crate) struct Context<'a> {
    pub(crate) pod: &'a Pod,
    pub(crate) runtime: &'a PodRuntimeStatus,
    pub(crate) probes: &'a ProbeResults,
    pub(crate) reasons: &'a ReasonCache,
    pub(crate) runtime_name: &'a str,
}

/// The instances of container `name`, newest first, whatever order the view lists them in
/// (same order as [`PodRuntimeStatus::sort`]).
pub(crate) fn instances<'a>(runtime: &'a PodRuntimeStatus, name: &str) -> Vec<&'a ContainerStatus> {
    let mut found: Vec<_> = runtime
        .containers
        .iter()
        .filter(|c| c.name == name)
        .collect();
    found.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.restart_count.cmp(&a.restart_count))
            .then_with(|| a.id.cmp(&b.id))
    });
    found
}

/// The API statuses of one container list: regular containers and ephemeral containers
/// sorted by name, init containers in spec order (the kubelet's `SortedContainerStatuses` and
/// `SortStatusesOfInitContainers`).
pub(crate) fn container_statuses(
    ctx: &Context<'_>,
    kind: Kind,
    previous: &[ApiContainerStatus],
) -> Vec<ApiContainerStatus> {
    let Some(spec) = ctx.pod.spec.as_ref() else {
        return Vec::new();
    };
    let has_init_containers = spec.init_containers.as_ref().is_some_and(|c| !c.is_empty());
    let specs: Vec<Spec<'_>> = match kind {
        Kind::Regular => spec.containers.iter().map(Spec::from_container).collect(),
        Kind::Init => spec
            .init_containers
            .iter()
            .flatten()
            .map(Spec::from_container)
            .collect(),
        Kind::Ephemeral => spec
            .ephemeral_containers
            .iter()
            .flatten()
            .map(Spec::from_ephemeral)
            .collect(),
    };
    let default_reason = if has_init_containers {
        POD_INITIALIZING
    } else {
        CONTAINER_CREATING
    };
    let deleting = ctx.pod.metadata.deletion_timestamp.is_some();

    let mut statuses: Vec<ApiContainerStatus> = Vec::with_capacity(specs.len());
    for spec in &specs {
        let old = find_status(previous, spec.name);
        let instances = instances(ctx.runtime, spec.name);

        // The default: waiting with the default reason, restart count and last state carried
        // over from the previous status; a previous terminated status is kept whole (its
        // instance may have been garbage collected since).
        let mut status = match old {
            Some(old) if terminated(old).is_some() => old.clone(),
            _ => ApiContainerStatus {
                name: spec.name.to_string(),
                image: spec.image.to_string(),
                state: Some(waiting(default_reason, "")),
                last_state: Some(old.and_then(|o| o.last_state.clone()).unwrap_or_default()),
                restart_count: old.map_or(0, |o| o.restart_count),
                volume_mounts: volume_mount_statuses(spec.mounts),
                ..Default::default()
            },
        };

        if instances.is_empty() {
            // A container that was running and vanished from the runtime: show it stopped
            // (lastState ContainerStatusUnknown) rather than back at "never started", which
            // would move the pod back to Pending.
            let old_running =
                old.is_some_and(|o| terminated(o).is_none() && super::api::is_running(o));
            let default_waiting = status
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .is_some_and(|w| w.reason.as_deref() == Some(default_reason));
            let has_last = super::api::last_terminated(&status).is_some();
            if old_running && default_waiting && !has_last {
                status.last_state = Some(ApiContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: UNKNOWN_EXIT_CODE,
                        reason: Some(CONTAINER_STATUS_UNKNOWN.to_string()),
                        message: Some(MISSING_AFTER_RUNNING.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                if !deleting {
                    status.restart_count += 1;
                }
            }
        }

        // The newest instance gives the state, the one before it the last state.
        if let Some(newest) = instances.first() {
            status = convert_instance(ctx, spec, newest, old);
            if let Some(second) = instances.get(1) {
                status.last_state = convert_instance(ctx, spec, second, old).state;
            }
        }

        // A container that the next sync will (re)start shows why it is waiting.
        let newest = instances.first().copied();
        let mut show_reason = true;
        if kind == Kind::Init {
            if newest.is_some_and(|n| n.state == ContainerState::Exited && n.exit_code == 0) {
                // An init container that exited 0 never shows waiting.
                show_reason = false;
            } else if newest.is_none() && !spec.sidecar && any_regular_instance(ctx) {
                // Its instance is gone but the regular containers were created: it completed.
                // The kubelet only applies this to a waiting status, so on the next sync the
                // status it wrote (now "previous") can flip to a cached waiting reason and
                // back; here a completed one stays completed.
                if status.state.as_ref().is_some_and(|s| s.waiting.is_some()) {
                    status.state = Some(ApiContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code: 0,
                            reason: Some("Completed".to_string()),
                            message: Some(INIT_ASSUMED_COMPLETED.to_string()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                }
                show_reason = !init_container_done(&status);
            }
        }
        let reason = ctx.reasons.get(spec.name);
        if let Some(reason) =
            reason.filter(|_| show_reason && should_restart(ctx.pod, spec, newest))
        {
            if status
                .state
                .as_ref()
                .is_some_and(|s| s.terminated.is_some())
            {
                status.last_state = status.state.take();
            }
            status.state = Some(waiting(&reason.reason, &reason.message));
        }

        set_ready_and_started(ctx.probes, kind, spec, newest, &mut status);
        statuses.push(status);
    }

    if kind != Kind::Init {
        statuses.sort_by(|a, b| a.name.cmp(&b.name));
    }
    statuses
}

fn waiting(reason: &str, message: &str) -> ApiContainerState {
    ApiContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: non_empty(reason),
            message: non_empty(message),
        }),
        ..Default::default()
    }
}

fn any_regular_instance(ctx: &Context<'_>) -> bool {
    ctx.pod.spec.as_ref().is_some_and(|spec| {
        spec.containers
            .iter()
            .any(|c| ctx.runtime.containers.iter().any(|i| i.name == c.name))
    })
}

/// The kubelet's `ShouldContainerBeRestarted`: never once the pod is being deleted; yes when
/// there is no instance or it is created/unknown; no while it runs; for an exited instance,
/// by the restart policy (the pod's, or `Always` for a sidecar).
fn should_restart(pod: &Pod, spec: &Spec<'_>, newest: Option<&ContainerStatus>) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let Some(newest) = newest else {
        return true;
    };
    match newest.state {
        ContainerState::Running => false,
        ContainerState::Created | ContainerState::Unknown => true,
        ContainerState::Exited => {
            let policy = if spec.sidecar {
                "Always"
            } else {
                restart_policy(pod)
            };
            match policy {
                "Never" => false,
                "OnFailure" => newest.exit_code != 0,
                _ => true,
            }
        }
    }
}

/// One runtime instance as an API status (`convertContainerStatus`).
fn convert_instance(
    ctx: &Context<'_>,
    spec: &Spec<'_>,
    instance: &ContainerStatus,
    old: Option<&ApiContainerStatus>,
) -> ApiContainerStatus {
    let container_id = format!("{}://{}", ctx.runtime_name, instance.id);
    let mut restart_count = i32::try_from(instance.restart_count).unwrap_or(i32::MAX);
    // CRI leaves unset times at 0, which the kubelet turns into the Unix epoch (not "unset")
    // for every state past Created: a container that failed to start shows startedAt 1970.
    let started_at = instance.started_at.unwrap_or(Timestamp::UNIX_EPOCH);
    let state = match instance.state {
        ContainerState::Running => ApiContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(api_time(started_at)),
            }),
            ..Default::default()
        },
        ContainerState::Created => waiting("", ""),
        ContainerState::Exited => ApiContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: instance.exit_code,
                // Reasons are the runtime's, verbatim (containerd: Completed, Error,
                // OOMKilled, StartError); CRI has no signal field.
                reason: non_empty(instance.reason.as_str()),
                message: non_empty(instance.message.as_str()),
                started_at: Some(api_time(started_at)),
                finished_at: Some(api_time(
                    instance.finished_at.unwrap_or(Timestamp::UNIX_EPOCH),
                )),
                container_id: Some(container_id.clone()),
                signal: None,
            }),
            ..Default::default()
        },
        ContainerState::Unknown if old.is_some_and(super::api::is_running) => {
            // It ran before and the runtime no longer knows it: it did not "never run".
            restart_count = old.map_or(0, |o| o.restart_count).saturating_add(1);
            ApiContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: UNKNOWN_EXIT_CODE,
                    reason: Some(CONTAINER_STATUS_UNKNOWN.to_string()),
                    message: Some(MISSING_AT_TERMINATION.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
        ContainerState::Unknown => waiting("", ""),
    };
    ApiContainerStatus {
        name: spec.name.to_string(),
        image: if instance.image.is_empty() {
            spec.image.to_string()
        } else {
            instance.image.clone()
        },
        image_id: instance.image_ref.clone(),
        container_id: Some(container_id),
        restart_count,
        state: Some(state),
        last_state: Some(ApiContainerState::default()),
        // Mount statuses are immutable: carried over once reported.
        volume_mounts: match old {
            Some(old) => old.volume_mounts.clone(),
            None => volume_mount_statuses(spec.mounts),
        },
        // In-place resize reporting: the allocated (spec) resources; CRI resource readings
        // are not part of the runtime view.
        resources: Some(spec.resources.cloned().unwrap_or_default()),
        allocated_resources: spec
            .resources
            .and_then(|r| r.requests.clone())
            .filter(|r| !r.is_empty()),
        ..Default::default()
    }
}

/// `status.volumeMounts` from the spec (RecursiveReadOnlyMounts): read-only mounts report
/// `recursiveReadOnly: Disabled`, as the runtime here (containerd 1.6) cannot do recursive
/// read-only mounts.
fn volume_mount_statuses(mounts: &[VolumeMount]) -> Option<Vec<VolumeMountStatus>> {
    (!mounts.is_empty()).then(|| {
        mounts
            .iter()
            .map(|m| {
                let read_only = m.read_only.unwrap_or(false);
                VolumeMountStatus {
                    name: m.name.clone(),
                    mount_path: m.mount_path.clone(),
                    read_only: read_only.then_some(true),
                    recursive_read_only: read_only.then(|| "Disabled".to_string()),
                    ..Default::default()
                }
            })
            .collect()
    })
}

/// The probe manager's `UpdatePodStatus`.
/// - `started` = running && (startup probe succeeded, or the spec has none);
/// - regular containers and sidecars: `ready` = started && (readiness result Success, or the
///   spec has no readiness probe);
/// - regular init containers: `ready` = exited 0;
/// - ephemeral containers: never ready, `started` unset.
///
/// Results are looked up by the runtime id of the newest instance, so a new instance starts
/// with no result (not ready, not started when it has the probe).
fn set_ready_and_started(
    probes: &ProbeResults,
    kind: Kind,
    spec: &Spec<'_>,
    newest: Option<&ContainerStatus>,
    status: &mut ApiContainerStatus,
) {
    if kind == Kind::Ephemeral {
        status.ready = false;
        status.started = None;
        return;
    }
    let running_id = newest
        .filter(|_| super::api::is_running(status))
        .map(|n| n.id.as_str());
    let started = running_id.is_some_and(|id| match probes.get(id, ProbeKind::Startup) {
        Some(result) => *result == ProbeResult::Success,
        None => !spec.startup_probe,
    });
    status.started = Some(started);
    status.ready = if kind == Kind::Init && !spec.sidecar {
        init_container_done(status)
    } else {
        started
            && running_id.is_some_and(|id| match probes.get(id, ProbeKind::Readiness) {
                Some(ProbeResult::Success) => true,
                _ => !spec.readiness_probe,
            })
    };
}
