//! The events a prober records (`pkg/kubelet/prober/prober.go`).

use std::sync::{Arc, Mutex};

use crate::{PodRef, ProbeKind};

/// Reason of a failed or errored probe run's event (`events.ContainerUnhealthy`).
pub const REASON_UNHEALTHY: &str = "Unhealthy";
/// Reason of a probe run that passed with a warning (`events.ContainerProbeWarning`).
pub const REASON_PROBE_WARNING: &str = "ProbeWarning";

/// One event about a container's probe. Probe events are always of type `Warning`.
///
/// | run | reason | message |
/// |---|---|---|
/// | failure | `Unhealthy` | `Liveness probe failed: <output>` |
/// | warning (counted as success) | `ProbeWarning` | `Readiness probe warning: <output>` |
/// | prober error after 3 tries | `Unhealthy` | `Startup probe errored and resulted in Failure state: <error>` |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeEvent {
    /// The pod.
    pub pod: PodRef,
    /// The container's name.
    pub container: String,
    /// The probe.
    pub kind: ProbeKind,
    /// [`REASON_UNHEALTHY`] or [`REASON_PROBE_WARNING`].
    pub reason: &'static str,
    /// The kubelet's message.
    pub message: String,
}

/// Where probe events go. The pod worker's event recorder implements it in an agent.
pub trait ProbeEventSink: Send + Sync {
    /// Record one event.
    fn record(&self, event: ProbeEvent);
}

/// Events written to the log with `tracing` at warn level, and nowhere else.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogEvents;

impl ProbeEventSink for LogEvents {
    fn record(&self, event: ProbeEvent) {
        tracing::warn!(
            pod = %event.pod,
            pod_uid = %event.pod.uid,
            container = %event.container,
            reason = event.reason,
            "{}",
            event.message
        );
    }
}

/// Events kept in memory (the latest [`MemoryEvents::CAPACITY`]), for tests and examples.
#[derive(Debug, Clone, Default)]
pub struct MemoryEvents {
    events: Arc<Mutex<Vec<ProbeEvent>>>,
}

impl MemoryEvents {
    /// Keep at most this many events.
    pub const CAPACITY: usize = 10_000;

    /// No events yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event kept, oldest first.
    pub fn events(&self) -> Vec<ProbeEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ProbeEventSink for MemoryEvents {
    fn record(&self, event: ProbeEvent) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if events.len() >= Self::CAPACITY {
            events.remove(0);
        }
        events.push(event);
    }
}
