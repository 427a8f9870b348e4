//! Pod lifecycle events and the pure diff that produces them (the kubelet's
//! `generateEvents` / `computeEvents` in `pkg/kubelet/pleg/generic.go`).

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{ContainerState, PodRuntimeStatus, SandboxState};

/// What kind of change a [`PodLifecycleEvent`] reports (the kubelet's
/// `PodLifeCycleEventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PodLifecycleEventKind {
    /// A container or sandbox is now running (it was not at the previous look).
    ContainerStarted,
    /// A container or sandbox is no longer running: it exited, or it vanished while it was
    /// not known to have exited.
    ContainerDied,
    /// A container or sandbox the runtime reported before is gone.
    ContainerRemoved,
    /// A container's state became unknown (or `CREATED`). Like the kubelet, the [`Pleg`]
    /// refreshes the pod's cache entry for it but does not send it on the event channel.
    ///
    /// [`Pleg`]: super::Pleg
    ContainerChanged,
}

/// One change in a pod's runtime state, sent by the [`Pleg`](super::Pleg) to wake the pod's
/// worker (the kubelet's `PodLifecycleEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodLifecycleEvent {
    /// UID of the pod the container or sandbox belongs to.
    pub pod_uid: String,
    /// What happened.
    pub kind: PodLifecycleEventKind,
    /// Runtime id of the container or sandbox (sandboxes are treated as containers).
    pub id: String,
}

/// The state of one container or sandbox as the PLEG sees it (the kubelet's
/// `plegContainerState`): coarser than the CRI state, because only these four transitions
/// wake a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlegContainerState {
    /// CRI `CONTAINER_RUNNING`, or a `SANDBOX_READY` sandbox.
    Running,
    /// CRI `CONTAINER_EXITED`, or a `SANDBOX_NOTREADY` sandbox.
    Exited,
    /// CRI `CONTAINER_UNKNOWN` and `CONTAINER_CREATED` (the kubelet maps "created" to
    /// unknown too: it is neither running nor exited).
    Unknown,
    /// The runtime does not report it (any more).
    NonExistent,
}

impl PlegContainerState {
    /// The PLEG state of a CRI container state (`v1::ContainerState as i32`).
    pub fn from_cri_container(state: i32) -> Self {
        use cri_client::v1::ContainerState as C;
        match C::try_from(state) {
            Ok(C::ContainerRunning) => PlegContainerState::Running,
            Ok(C::ContainerExited) => PlegContainerState::Exited,
            _ => PlegContainerState::Unknown,
        }
    }

    /// The PLEG state of a CRI sandbox state (`v1::PodSandboxState as i32`): ready is
    /// running, anything else exited, as the kubelet's `GetPods` reports a sandbox as a
    /// container (`SandboxToContainerState`).
    pub fn from_cri_sandbox(state: i32) -> Self {
        if state == cri_client::v1::PodSandboxState::SandboxReady as i32 {
            PlegContainerState::Running
        } else {
            PlegContainerState::Exited
        }
    }
}

/// Per container or sandbox id, its PLEG state: what one look at one pod found. An id that
/// is absent is [`PlegContainerState::NonExistent`].
pub type PodStates = BTreeMap<String, PlegContainerState>;

/// The PLEG states of everything in a runtime view of one pod (sandboxes included).
pub fn states_from_status(status: &PodRuntimeStatus) -> PodStates {
    let sandboxes = status.sandboxes.iter().map(|s| {
        let state = match s.state {
            SandboxState::Ready => PlegContainerState::Running,
            SandboxState::NotReady => PlegContainerState::Exited,
        };
        (s.id.clone(), state)
    });
    let containers = status.containers.iter().map(|c| {
        let state = match c.state {
            ContainerState::Running => PlegContainerState::Running,
            ContainerState::Exited => PlegContainerState::Exited,
            ContainerState::Created | ContainerState::Unknown => PlegContainerState::Unknown,
        };
        (c.id.clone(), state)
    });
    sandboxes.chain(containers).collect()
}

/// The events for one container or sandbox going from `old` to `new`, by the kubelet's
/// table:
///
/// | new state | events |
/// |---|---|
/// | running | `ContainerStarted` |
/// | exited | `ContainerDied` |
/// | unknown | `ContainerChanged` |
/// | non-existent, was exited | `ContainerRemoved` |
/// | non-existent, otherwise | `ContainerDied` + `ContainerRemoved` |
///
/// No change, no event.
pub fn generate_events(
    pod_uid: &str,
    id: &str,
    old: PlegContainerState,
    new: PlegContainerState,
) -> Vec<PodLifecycleEvent> {
    use PlegContainerState as S;
    use PodLifecycleEventKind as K;
    if old == new {
        return Vec::new();
    }
    let kinds: &[K] = match (new, old) {
        (S::Running, _) => &[K::ContainerStarted],
        (S::Exited, _) => &[K::ContainerDied],
        (S::Unknown, _) => &[K::ContainerChanged],
        (S::NonExistent, S::Exited) => &[K::ContainerRemoved],
        (S::NonExistent, _) => &[K::ContainerDied, K::ContainerRemoved],
    };
    kinds
        .iter()
        .map(|&kind| PodLifecycleEvent {
            pod_uid: pod_uid.to_string(),
            kind,
            id: id.to_string(),
        })
        .collect()
}

/// Every event for one pod between two looks at it: the union of the ids of both, in id
/// order, each through [`generate_events`]. Pure: the relist and its tests share it.
pub fn compute_events(pod_uid: &str, old: &PodStates, new: &PodStates) -> Vec<PodLifecycleEvent> {
    let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    ids.into_iter()
        .flat_map(|id| {
            let state = |m: &PodStates| m.get(id).copied();
            generate_events(
                pod_uid,
                id,
                state(old).unwrap_or(PlegContainerState::NonExistent),
                state(new).unwrap_or(PlegContainerState::NonExistent),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use PlegContainerState as S;
    use PodLifecycleEventKind as K;

    fn kinds(old: S, new: S) -> Vec<K> {
        generate_events("u", "c", old, new)
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn kubelet_transition_table() {
        assert_eq!(kinds(S::NonExistent, S::Running), [K::ContainerStarted]);
        assert_eq!(kinds(S::Unknown, S::Running), [K::ContainerStarted]);
        assert_eq!(kinds(S::Running, S::Exited), [K::ContainerDied]);
        assert_eq!(kinds(S::NonExistent, S::Exited), [K::ContainerDied]);
        assert_eq!(kinds(S::Running, S::Unknown), [K::ContainerChanged]);
        assert_eq!(kinds(S::Exited, S::NonExistent), [K::ContainerRemoved]);
        assert_eq!(
            kinds(S::Running, S::NonExistent),
            [K::ContainerDied, K::ContainerRemoved]
        );
        assert_eq!(
            kinds(S::Unknown, S::NonExistent),
            [K::ContainerDied, K::ContainerRemoved]
        );
        for s in [S::Running, S::Exited, S::Unknown, S::NonExistent] {
            assert!(kinds(s, s).is_empty(), "{s:?} -> {s:?}");
        }
    }

    #[test]
    fn compute_events_covers_both_sides_in_id_order() {
        let old: PodStates = [("a".to_string(), S::Running), ("b".to_string(), S::Exited)]
            .into_iter()
            .collect();
        let new: PodStates = [("a".to_string(), S::Exited), ("c".to_string(), S::Running)]
            .into_iter()
            .collect();
        let got: Vec<(String, K)> = compute_events("u", &old, &new)
            .into_iter()
            .map(|e| (e.id, e.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), K::ContainerDied),
                ("b".to_string(), K::ContainerRemoved),
                ("c".to_string(), K::ContainerStarted),
            ]
        );
    }
}
