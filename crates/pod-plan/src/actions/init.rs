//! Init containers and sidecars (the kubelet's `computeInitContainerActions`,
//! `pruneInitContainersBeforeStart` and `purgeInitContainers`,
//! `pkg/kubelet/kuberuntime/kuberuntime_container.go`).

use k8s_openapi::api::core::v1::{Container, Pod};

use super::restart::{is_init_container_failed, should_restart_on_failure};
use super::{Changes, ContainerKind, ContainerToKill, KillPodReason, KillReason};
use crate::{
    ContainerState, PodRuntimeStatus, ProbeKind, ProbeResult, ProbeResults, container_hash,
};

pub(super) use crate::is_sidecar;

/// The kubelet's `computeInitContainerActions`: adds to `changes` the init containers to
/// start (the next one, sidecars to restart) and the sidecars to kill, and returns whether
/// the pod is initialized (regular containers may run).
///
/// The init containers are walked from the last to the first, because completed ones may
/// have been garbage-collected: the newest one with a runtime instance tells how far
/// initialization got, and everything before it counts as done.
///
/// - A regular container that is created or running means the pod was initialized before;
///   then only sidecars are looked at (restarted when exited or gone).
/// - A regular init container: running → wait; exited 0 → start the next one (or the pod is
///   initialized if it was the last); failed (non-zero, OOM-killed, unknown) → restart it
///   with back-off, unless the pod's `restartPolicy` is `Never`, which kills the pod (LC-08,
///   LC-09). `Unknown` is killed before the restart.
/// - A sidecar: exited → restart it, whatever the pod's `restartPolicy` (LC-11). Running
///   and *started* (its startup probe succeeded, or it has none) → the next init container
///   may start (LC-10), or the pod is initialized if it was the last. Its startup probe not
///   yet run → wait; startup or liveness failure, or a changed spec → kill and restart.
pub(super) fn compute_init_container_actions(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
    probes: &ProbeResults,
    changes: &mut Changes,
) -> bool {
    let inits = init_containers(pod);
    if inits.is_empty() {
        return true;
    }
    // A created or running regular container proves the pod was initialized. An exited one
    // does not: after a node reboot every container is exited and the new sandbox must run
    // the init containers again.
    let mut pod_has_initialized = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| runtime.latest(&c.name))
        .any(|s| matches!(s.state, ContainerState::Created | ContainerState::Running));
    let mut previously_initialized = pod_has_initialized;
    let restart_on_failure = should_restart_on_failure(pod);
    let last = inits.len() - 1;

    let mut to_start = Vec::new();
    let mut kills = Vec::new();
    let mut kill = |c: &Container, id: &str, reason: KillReason, message: String| {
        kills.push(ContainerToKill {
            id: id.to_string(),
            name: c.name.clone(),
            kind: kind_of(c),
            reason,
            message,
        });
    };

    for i in (0..inits.len()).rev() {
        let container = &inits[i];
        let sidecar = is_sidecar(container);
        let Some(status) = runtime.latest(&container.name) else {
            // Its record is gone (garbage-collected): a sidecar of an initialized pod must
            // run again; a regular init container is simply done.
            if previously_initialized && sidecar {
                to_start.push(i);
            }
            continue;
        };
        if previously_initialized && !sidecar {
            // After initialization only sidecars need to be kept running.
            continue;
        }

        match status.state {
            // Created but never started (the start failed): start a new one.
            ContainerState::Created => to_start.push(i),
            ContainerState::Running if sidecar => 'sidecar: {
                if container.startup_probe.is_some() {
                    match probes.get(&status.id, ProbeKind::Startup) {
                        // Not started yet: the next init container waits (LC-10).
                        None => break 'sidecar,
                        Some(ProbeResult::Failure(_)) => {
                            kill(
                                container,
                                &status.id,
                                KillReason::StartupFailed,
                                format!("Init container {} failed startup probe", container.name),
                            );
                            to_start.push(i);
                            break 'sidecar;
                        }
                        Some(ProbeResult::Success) => {}
                    }
                }
                // Started: initialization moves on.
                if i == last {
                    pod_has_initialized = true;
                } else if !previously_initialized {
                    to_start.push(i + 1);
                }
                if status.hash != Some(container_hash(container)) {
                    kill(
                        container,
                        &status.id,
                        KillReason::SpecChanged,
                        format!("Init container {} definition changed", container.name),
                    );
                    to_start.push(i);
                    break 'sidecar;
                }
                if container.liveness_probe.is_some()
                    && matches!(
                        probes.get(&status.id, ProbeKind::Liveness),
                        Some(ProbeResult::Failure(_))
                    )
                {
                    kill(
                        container,
                        &status.id,
                        KillReason::LivenessFailed,
                        format!("Init container {} failed liveness probe", container.name),
                    );
                    to_start.push(i);
                }
            }
            // A regular init container still running: wait for it.
            ContainerState::Running => {}
            ContainerState::Exited if sidecar => to_start.push(i),
            ContainerState::Exited if is_init_container_failed(status) => {
                if !restart_on_failure {
                    changes.kill_pod = Some(KillPodReason::InitContainerFailed);
                    changes.init_to_start.clear();
                    return false;
                }
                to_start.push(i);
            }
            ContainerState::Exited => {
                if i == last {
                    pod_has_initialized = true;
                } else {
                    to_start.push(i + 1);
                }
            }
            ContainerState::Unknown => {
                if !sidecar && !restart_on_failure {
                    changes.kill_pod = Some(KillPodReason::InitContainerFailed);
                    changes.init_to_start.clear();
                    return false;
                }
                kill(
                    container,
                    &status.id,
                    KillReason::UnknownState,
                    "Init container is in \"unknown\" state, try killing it before restart"
                        .to_string(),
                );
                to_start.push(i);
            }
        }
        previously_initialized = true;
    }
    if !previously_initialized {
        // No init container ever ran: start the first.
        to_start.push(0);
    }
    // Walked backwards; start in spec order.
    to_start.reverse();
    kills.reverse();
    changes.init_to_start.extend(to_start);
    changes.to_kill.extend(kills);
    pod_has_initialized
}

/// The init container instances to remove before starting containers. When the sandbox is
/// re-created every instance of every init container goes (`purgeInitContainers`, so that
/// they all run again); otherwise only the newest exited (or unknown) instance of each is
/// kept (`pruneInitContainersBeforeStart`, LC-06).
pub(super) fn init_containers_to_remove(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
    purge: bool,
) -> Vec<String> {
    let mut remove = Vec::new();
    let inits = init_containers(pod);
    for (i, name) in inits.iter().map(|c| c.name.as_str()).enumerate() {
        if inits[..i].iter().any(|c| c.name == name) {
            continue;
        }
        let instances = runtime.instances(name);
        if purge {
            remove.extend(instances.map(|c| c.id.clone()));
        } else {
            remove.extend(
                instances
                    .filter(|c| matches!(c.state, ContainerState::Exited | ContainerState::Unknown))
                    .skip(1)
                    .map(|c| c.id.clone()),
            );
        }
    }
    remove
}

/// The pod's init containers (sidecars included), in spec order.
pub(super) fn init_containers(pod: &Pod) -> &[Container] {
    pod.spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[])
}

fn kind_of(container: &Container) -> ContainerKind {
    if is_sidecar(container) {
        ContainerKind::Sidecar
    } else {
        ContainerKind::Init
    }
}
