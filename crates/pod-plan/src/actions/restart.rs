//! When a container is started again, and whether it has to wait for its crash back-off
//! (`ShouldContainerBeRestarted` in `pkg/kubelet/container/helpers.go`, `doBackOff` in
//! `pkg/kubelet/kuberuntime/kuberuntime_manager.go`).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::backoff::{Backoff, container_backoff_key};
use crate::go_format::format_go_duration;
use crate::{
    ContainerState, ContainerStatus, PodRuntimeStatus, WaitingReason, container_hash, format_pod,
};

/// The kubelet's `ShouldContainerBeRestarted`, for a container that is not running, given the
/// newest runtime instance of it:
///
/// | situation | result |
/// |---|---|
/// | the pod has a `deletionTimestamp` | false |
/// | no instance (never created, or garbage-collected) | true |
/// | running | false |
/// | `Unknown` or `Created` | true (even under `Never`) |
/// | exited, pod `restartPolicy: Never` | false |
/// | exited, pod `restartPolicy: OnFailure` | true iff the exit code is not 0 |
/// | exited, pod `restartPolicy: Always` (or unset) | true |
///
/// Per-container `restartPolicy` rules on regular containers (alpha `ContainerRestartRules`,
/// off by default) are not followed.
pub fn should_container_be_restarted(
    container: &Container,
    pod: &Pod,
    runtime: &PodRuntimeStatus,
) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let Some(status) = runtime.latest(&container.name) else {
        return true;
    };
    match status.state {
        ContainerState::Running => false,
        ContainerState::Unknown | ContainerState::Created => true,
        ContainerState::Exited => match restart_policy(pod) {
            "Never" => false,
            "OnFailure" => status.exit_code != 0,
            _ => true,
        },
    }
}

/// The pod's `restartPolicy`; the API default is `Always`.
pub(super) fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// The kubelet's `shouldRestartOnFailure`: every policy but `Never`.
pub(super) fn should_restart_on_failure(pod: &Pod) -> bool {
    restart_policy(pod) != "Never"
}

/// The kubelet's `containerSucceeded`: the newest instance exited with code 0.
pub(super) fn container_succeeded(name: &str, runtime: &PodRuntimeStatus) -> bool {
    runtime
        .latest(name)
        .is_some_and(|s| s.state == ContainerState::Exited && s.exit_code == 0)
}

/// The kubelet's `isInitContainerFailed`: OOM-killed, exited non-zero, or in an unknown state.
pub(super) fn is_init_container_failed(status: &ContainerStatus) -> bool {
    status.reason == "OOMKilled"
        || (status.state == ContainerState::Exited && status.exit_code != 0)
        || status.state == ContainerState::Unknown
}

/// What the crash back-off says about starting a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BackOffCheck {
    /// Start it. When it exited before, advance the back-off of `key` as it starts.
    Start {
        /// The back-off key, when a previous instance exited.
        key: Option<String>,
        /// That instance's `finishedAt`.
        since: Option<Timestamp>,
    },
    /// Still backing off: the container waits with this reason, for at most `remaining`.
    Wait {
        /// `CrashLoopBackOff` and the kubelet's message.
        reason: WaitingReason,
        /// Time left until the back-off expires.
        remaining: Duration,
    },
}

/// The kubelet's `doBackOff`: find the newest *exited* instance of the container (not
/// necessarily the newest instance); if there is none, start without back-off. Otherwise the
/// container is in back-off while less than the current delay has passed since that
/// instance's `finishedAt` (`IsInBackOffSince`), and then waits with reason
/// `CrashLoopBackOff` and the message `back-off <d> restarting failed container=<name>
/// pod=<name>_<namespace>(<uid>)`. The key is [`container_backoff_key`] with the hash of the
/// current spec.
pub(super) fn do_back_off(
    pod: &Pod,
    container: &Container,
    runtime: &PodRuntimeStatus,
    backoff: &Backoff,
    now: Timestamp,
) -> BackOffCheck {
    let Some(exited) = runtime
        .instances(&container.name)
        .find(|c| c.state == ContainerState::Exited)
    else {
        return BackOffCheck::Start {
            key: None,
            since: None,
        };
    };
    // A missing finishedAt is Go's zero time: long ago, so never in back-off.
    let finished_at = exited.finished_at.unwrap_or(Timestamp::MIN);
    let key = container_backoff_key(pod, &container.name, container_hash(container));
    if backoff.is_in_backoff_since(&key, finished_at, now) {
        let delay = backoff.delay(&key).unwrap_or_default();
        let remaining = SignedDuration::try_from(delay)
            .ok()
            .and_then(|d| d.checked_sub(now.duration_since(finished_at)))
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or_default();
        let message = format!(
            "back-off {} restarting failed container={} pod={}",
            format_go_duration(delay),
            container.name,
            format_pod(pod)
        );
        return BackOffCheck::Wait {
            reason: WaitingReason::new("CrashLoopBackOff", message),
            remaining,
        };
    }
    BackOffCheck::Start {
        key: Some(key),
        since: exited.finished_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn pod(container: &Container) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container.clone()],
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("prod".into());
        pod.metadata.uid = Some("u1".into());
        pod
    }

    fn instance(
        id: &str,
        state: ContainerState,
        created: i64,
        finished: Option<i64>,
    ) -> ContainerStatus {
        ContainerStatus {
            id: id.into(),
            name: "app".into(),
            state,
            created_at: t(created),
            started_at: Some(t(created)),
            finished_at: finished.map(t),
            exit_code: 1,
            reason: "Error".into(),
            message: String::new(),
            image: String::new(),
            image_ref: String::new(),
            hash: None,
            restart_count: 0,
        }
    }

    #[test]
    fn back_off_looks_at_the_newest_exited_instance() {
        let c = Container {
            name: "app".into(),
            ..Default::default()
        };
        let pod = pod(&c);
        let key = container_backoff_key(&pod, "app", container_hash(&c));
        let mut backoff = Backoff::container();
        backoff.next(&key, t(0));
        backoff.next(&key, t(1));

        // The newest instance is unknown; the exited one before it decides.
        let mut runtime = PodRuntimeStatus {
            containers: vec![
                instance("old", ContainerState::Exited, 0, Some(5)),
                instance("new", ContainerState::Unknown, 6, None),
            ],
            ..Default::default()
        };
        runtime.sort();
        let check = do_back_off(&pod, &c, &runtime, &backoff, t(10));
        let BackOffCheck::Wait { reason, remaining } = check else {
            panic!("expected a back-off, got {check:?}");
        };
        assert_eq!(reason.reason, "CrashLoopBackOff");
        assert_eq!(
            reason.message,
            "back-off 20s restarting failed container=app pod=web_prod(u1)"
        );
        assert_eq!(remaining, Duration::from_secs(15));
        assert_eq!(
            do_back_off(&pod, &c, &runtime, &backoff, t(25)),
            BackOffCheck::Start {
                key: Some(key.clone()),
                since: Some(t(5)),
            }
        );

        // Nothing exited: no back-off, no key.
        let running = PodRuntimeStatus {
            containers: vec![instance("r", ContainerState::Running, 0, None)],
            ..Default::default()
        };
        assert_eq!(
            do_back_off(&pod, &c, &running, &backoff, t(10)),
            BackOffCheck::Start {
                key: None,
                since: None
            }
        );
    }

    #[test]
    fn init_container_failure_rules() {
        let mut s = instance("i", ContainerState::Exited, 0, Some(1));
        assert!(is_init_container_failed(&s));
        s.exit_code = 0;
        s.reason = "Completed".into();
        assert!(!is_init_container_failed(&s));
        s.reason = "OOMKilled".into();
        assert!(is_init_container_failed(&s));
        let unknown = instance("u", ContainerState::Unknown, 0, None);
        assert!(is_init_container_failed(&unknown));
    }
}
