//! The three probe kinds and where each lives in a container spec.

use std::fmt;

use k8s_openapi::api::core::v1::{Container, Probe};

/// Which probe of a container (the kubelet's `probeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    /// `livenessProbe`: a failure makes the pod worker restart the container.
    Liveness,
    /// `readinessProbe`: feeds the container's `ready` and the pod's `Ready` condition.
    Readiness,
    /// `startupProbe`: gates the other two; a failure restarts the container.
    Startup,
}

impl ProbeKind {
    /// All three, in the order the kubelet's `AddPod` creates their workers.
    pub const ALL: [ProbeKind; 3] = [
        ProbeKind::Startup,
        ProbeKind::Readiness,
        ProbeKind::Liveness,
    ];

    /// The kubelet's name for the kind (`probeType.String()`), used in events and in the
    /// `probe_type` metric label: `Liveness`, `Readiness`, `Startup`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }

    /// The lower-case name used in messages (`failed liveness probe`).
    pub fn lower(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        }
    }

    /// The container field holding the probe (`livenessProbe`).
    pub fn field(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "livenessProbe",
            ProbeKind::Readiness => "readinessProbe",
            ProbeKind::Startup => "startupProbe",
        }
    }

    /// The container's probe of this kind, if it has one.
    pub fn probe_of(self, container: &Container) -> Option<&Probe> {
        match self {
            ProbeKind::Liveness => container.liveness_probe.as_ref(),
            ProbeKind::Readiness => container.readiness_probe.as_ref(),
            ProbeKind::Startup => container.startup_probe.as_ref(),
        }
    }

    /// Whether a failure of this kind makes the pod worker restart the container
    /// (liveness and startup; readiness never restarts anything).
    pub fn restarts_container(self) -> bool {
        !matches!(self, ProbeKind::Readiness)
    }

    /// The pod worker's kill message for a container that failed this probe, as the
    /// kubelet's `computePodActions` writes it in the `Killing` event:
    /// `Container web failed liveness probe, will be restarted`. `None` for readiness,
    /// which never restarts a container.
    pub fn kill_message(self, container_name: &str) -> Option<String> {
        self.restarts_container().then(|| {
            format!(
                "Container {container_name} failed {} probe, will be restarted",
                self.lower()
            )
        })
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
