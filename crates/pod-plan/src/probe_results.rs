//! Probe results as the plan reads them: per container instance and probe kind.

use std::collections::HashMap;

/// The three probe kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    /// `livenessProbe`: failure restarts the container.
    Liveness,
    /// `readinessProbe`: feeds `ready` and the pod's Ready condition.
    Readiness,
    /// `startupProbe`: gates the other two; failure restarts the container.
    Startup,
}

/// The latest result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    /// The probe succeeded (with its success threshold met).
    Success,
    /// The probe failed (with its failure threshold met); the message says why.
    Failure(String),
}

/// Latest probe results, keyed by container id (a new container instance starts with no
/// results) and probe kind. A missing entry means "no result yet": readiness counts as not
/// ready, startup as not started, liveness as alive, as in the kubelet's results manager.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeResults {
    results: HashMap<(String, ProbeKind), ProbeResult>,
}

impl ProbeResults {
    /// No results at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a result.
    pub fn set(&mut self, container_id: &str, kind: ProbeKind, result: ProbeResult) {
        self.results
            .insert((container_id.to_string(), kind), result);
    }

    /// Forget every result of a container instance.
    pub fn remove_container(&mut self, container_id: &str) {
        self.results.retain(|(id, _), _| id != container_id);
    }

    /// The latest result, if any.
    pub fn get(&self, container_id: &str, kind: ProbeKind) -> Option<&ProbeResult> {
        self.results.get(&(container_id.to_string(), kind))
    }
}
