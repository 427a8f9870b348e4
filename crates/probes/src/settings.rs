//! A probe's timing and thresholds with the API server's defaults applied.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};

use crate::ProbeKind;

/// `initialDelaySeconds` when unset (API default).
pub const DEFAULT_INITIAL_DELAY_SECONDS: i32 = 0;
/// `periodSeconds` when unset or 0 (API default).
pub const DEFAULT_PERIOD_SECONDS: i32 = 10;
/// `timeoutSeconds` when unset or 0 (API default).
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 1;
/// `successThreshold` when unset or 0 (API default; must be 1 for liveness and startup).
pub const DEFAULT_SUCCESS_THRESHOLD: i32 = 1;
/// `failureThreshold` when unset or 0 (API default).
pub const DEFAULT_FAILURE_THRESHOLD: i32 = 3;

/// The timing of one probe, defaults applied (the API server's `SetDefaults_Probe`, which
/// also applies to static pods that never went through an API server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// No probe runs before the container's `startedAt` + this.
    pub initial_delay: Duration,
    /// Time between two probes.
    pub period: Duration,
    /// Time one probe may take; a slower probe fails.
    pub timeout: Duration,
    /// Consecutive successes needed to report success.
    pub success_threshold: u32,
    /// Consecutive failures needed to report failure.
    pub failure_threshold: u32,
    /// The probe's own `terminationGracePeriodSeconds`, which replaces the pod's grace
    /// period when this probe's failure kills the container (liveness and startup only).
    pub termination_grace_period_seconds: Option<i64>,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self::from_probe(&Probe::default())
    }
}

impl ProbeSettings {
    /// The settings of `probe`. Unset or zero fields take the API defaults (0, 10, 1, 1, 3).
    /// Negative values are refused by [`validate_container_probes`](crate::validate_container_probes);
    /// here they are clamped to the smallest valid value, so an unvalidated spec cannot make
    /// a worker spin.
    pub fn from_probe(probe: &Probe) -> Self {
        let or = |v: Option<i32>, default: i32| match v {
            Some(v) if v != 0 => v,
            _ => default,
        };
        let secs = |v: i32, min: i32| Duration::from_secs(v.max(min) as u64);
        ProbeSettings {
            initial_delay: secs(
                probe
                    .initial_delay_seconds
                    .unwrap_or(DEFAULT_INITIAL_DELAY_SECONDS),
                0,
            ),
            period: secs(or(probe.period_seconds, DEFAULT_PERIOD_SECONDS), 1),
            timeout: secs(or(probe.timeout_seconds, DEFAULT_TIMEOUT_SECONDS), 1),
            success_threshold: or(probe.success_threshold, DEFAULT_SUCCESS_THRESHOLD).max(1) as u32,
            failure_threshold: or(probe.failure_threshold, DEFAULT_FAILURE_THRESHOLD).max(1) as u32,
            termination_grace_period_seconds: probe.termination_grace_period_seconds,
        }
    }
}

/// The grace period for killing `container` because its `kind` probe failed: the probe's
/// own `terminationGracePeriodSeconds` if it sets one, otherwise `None` (the pod's
/// `terminationGracePeriodSeconds` applies). Readiness never kills, so it is always `None`.
///
/// The kubelet's `killContainer` (`pkg/kubelet/kuberuntime/kuberuntime_container.go`) does
/// this for `reasonLivenessProbe` and `reasonStartupProbe`.
pub fn probe_termination_grace_period(container: &Container, kind: ProbeKind) -> Option<i64> {
    if !kind.restarts_container() {
        return None;
    }
    kind.probe_of(container)
        .and_then(|p| p.termination_grace_period_seconds)
}
