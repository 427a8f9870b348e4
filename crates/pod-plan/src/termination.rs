//! Grace periods and stop order when a pod or a container is killed (the kubelet's
//! `calculateEffectiveGracePeriod`, `setTerminationGracePeriod` and `killContainer`).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};

/// The API default of `spec.terminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// The shortest grace the pod worker uses for a whole pod (`pod_workers.go`).
pub const MINIMUM_POD_GRACE_PERIOD_SECONDS: i64 = 1;
/// The shortest grace a container gets in `StopContainer`, after the preStop hook's time is
/// deducted (`minimumGracePeriodInSeconds` in `kuberuntime_manager.go`).
pub const MINIMUM_CONTAINER_GRACE_PERIOD_SECONDS: i64 = 2;

/// The grace period for terminating a whole pod, as the pod worker computes it: the pod's
/// `deletionGracePeriodSeconds` when the API server set one, otherwise its
/// `terminationGracePeriodSeconds` (default 30); a smaller `override_seconds` (eviction,
/// a shorter second delete) wins; never below 1 s.
pub fn pod_grace_period(pod: &Pod, override_seconds: Option<i64>) -> i64 {
    let from_pod = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    let grace = match override_seconds {
        Some(o) if o < from_pod => o,
        _ => from_pod,
    };
    grace.max(MINIMUM_POD_GRACE_PERIOD_SECONDS)
}

/// Grace can only shrink while a pod terminates: a second, shorter delete shortens the
/// remaining wait, a longer one is ignored (TM-06).
pub fn shrink_grace(current: i64, requested: i64) -> i64 {
    current.min(requested)
}

/// Why a single container is being killed, as far as its grace period is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillCause {
    /// The whole pod terminates (deletion, completion, eviction).
    PodTermination,
    /// The liveness probe failed.
    LivenessProbe,
    /// The startup probe failed.
    StartupProbe,
    /// The spec changed or anything else the kubelet restarts a container for.
    Other,
}

/// The grace a container gets before SIGKILL (`setTerminationGracePeriod`): the pod's
/// `deletionGracePeriodSeconds` if set; for a liveness or startup kill, the probe's own
/// `terminationGracePeriodSeconds` if set; else the pod's `terminationGracePeriodSeconds`
/// (default 30). `pod_override` (the pod worker's effective grace) wins when given.
pub fn container_grace_period(
    pod: &Pod,
    container: &Container,
    cause: KillCause,
    pod_override: Option<i64>,
) -> i64 {
    if let Some(o) = pod_override {
        return o;
    }
    if let Some(d) = pod.metadata.deletion_grace_period_seconds {
        return d;
    }
    let probe = match cause {
        KillCause::LivenessProbe => container.liveness_probe.as_ref(),
        KillCause::StartupProbe => container.startup_probe.as_ref(),
        _ => None,
    };
    if let Some(g) = probe.and_then(|p| p.termination_grace_period_seconds) {
        return g;
    }
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS)
}

/// The `StopContainer` timeout after a preStop hook ran for `pre_stop_elapsed`: the grace
/// minus the hook's time, never below 2 s (TM-02, TM-03).
pub fn stop_timeout_after_pre_stop(grace_seconds: i64, pre_stop_elapsed: Duration) -> i64 {
    let elapsed = pre_stop_elapsed.as_secs() as i64;
    (grace_seconds - elapsed).max(MINIMUM_CONTAINER_GRACE_PERIOD_SECONDS)
}

/// The order in which a pod's containers are stopped: every regular (and ephemeral)
/// container at once, then the sidecars (init containers with `restartPolicy: Always`) one
/// after another in reverse spec order (LC-13, TM-09). Returns (parallel, then sequential).
pub fn stop_order<'a>(pod: &Pod, running: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let sidecars: Vec<&str> = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map(|inits| {
            inits
                .iter()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"))
                .map(|c| c.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let parallel = running
        .iter()
        .copied()
        .filter(|n| !sidecars.contains(n))
        .collect();
    let sequential = sidecars
        .iter()
        .rev()
        .filter_map(|s| running.iter().copied().find(|n| n == s))
        .collect();
    (parallel, sequential)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, Probe};

    fn pod(tgps: Option<i64>, deletion: Option<i64>) -> Pod {
        let mut pod = Pod {
            spec: Some(PodSpec {
                termination_grace_period_seconds: tgps,
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.metadata.deletion_grace_period_seconds = deletion;
        pod
    }

    #[test]
    fn tm_01_default_grace_is_30_seconds() {
        assert_eq!(pod_grace_period(&pod(None, None), None), 30);
        assert_eq!(pod_grace_period(&pod(Some(60), None), None), 60);
        assert_eq!(pod_grace_period(&pod(Some(60), Some(10)), None), 10);
    }

    #[test]
    fn tm_03_pre_stop_leaves_at_least_two_seconds() {
        assert_eq!(stop_timeout_after_pre_stop(30, Duration::from_secs(10)), 20);
        assert_eq!(stop_timeout_after_pre_stop(30, Duration::from_secs(30)), 2);
        assert_eq!(stop_timeout_after_pre_stop(30, Duration::from_secs(45)), 2);
    }

    #[test]
    fn tm_06_grace_only_shrinks() {
        let p = pod(None, Some(30));
        assert_eq!(pod_grace_period(&p, Some(5)), 5);
        assert_eq!(pod_grace_period(&p, Some(60)), 30);
        assert_eq!(shrink_grace(30, 5), 5);
        assert_eq!(shrink_grace(5, 30), 5);
    }

    #[test]
    fn tm_07_liveness_kill_uses_probe_grace() {
        let p = pod(Some(60), None);
        let c = Container {
            name: "app".into(),
            liveness_probe: Some(Probe {
                termination_grace_period_seconds: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            container_grace_period(&p, &c, KillCause::LivenessProbe, None),
            5
        );
        assert_eq!(
            container_grace_period(&p, &c, KillCause::PodTermination, None),
            60
        );
        assert_eq!(container_grace_period(&p, &c, KillCause::Other, None), 60);
    }

    #[test]
    fn tm_08_zero_grace_becomes_the_minimum() {
        let p = pod(Some(0), None);
        assert_eq!(pod_grace_period(&p, None), 1);
        assert_eq!(
            stop_timeout_after_pre_stop(pod_grace_period(&p, None), Duration::ZERO),
            2
        );
    }

    #[test]
    fn lc_13_sidecars_stop_last_in_reverse_order() {
        let mut p = pod(None, None);
        let sidecar = |n: &str| Container {
            name: n.into(),
            restart_policy: Some("Always".into()),
            ..Default::default()
        };
        p.spec.as_mut().unwrap().init_containers = Some(vec![sidecar("a"), sidecar("b")]);
        let (parallel, sequential) = stop_order(&p, &["a", "app", "b", "web"]);
        assert_eq!(parallel, ["app", "web"]);
        assert_eq!(sequential, ["b", "a"]);
    }
}
