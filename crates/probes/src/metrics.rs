//! `prober_probe_total` and `prober_probe_duration_seconds` (`pkg/kubelet/prober/prober_manager.go`),
//! as `prometheus-client` families that an embedder registers into its own
//! [`Registry`] with [`ProbeMetrics::register`]; the agent serves them on `/metrics/probes`.
//!
//! ```
//! use prometheus_client::registry::Registry;
//! use probes::metrics::{MetricResult, ProbeLabels, ProbeMetrics};
//! use probes::{PodRef, ProbeKind};
//!
//! let metrics = ProbeMetrics::new();
//! let mut registry = Registry::default();
//! metrics.register(&mut registry);
//! let pod = PodRef { uid: "u".into(), namespace: "default".into(), name: "web".into() };
//! metrics.record(&ProbeLabels::new(&pod, "web", ProbeKind::Liveness), MetricResult::Failed, None);
//! let mut text = String::new();
//! prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
//! assert!(text.contains("# TYPE prober_probe_total counter\n"));
//! ```

use std::fmt;
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::{PodRef, ProbeKind};

/// The `Content-Type` of [`ProbeMetrics::render`]'s output: the Prometheus text format
/// (version 0.0.4), which the kubelet serves.
pub const TEXT_CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The buckets of `prober_probe_duration_seconds`: Prometheus' default buckets, as the
/// kubelet's histogram sets none.
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `result` label of `prober_probe_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricResult {
    /// `successful`.
    Successful,
    /// `failed`.
    Failed,
    /// `unknown`.
    Unknown,
}

impl EncodeLabelValue for MetricResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        fmt::Write::write_str(encoder, self.as_str())
    }
}

impl MetricResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricResult::Successful => "successful",
            MetricResult::Failed => "failed",
            MetricResult::Unknown => "unknown",
        }
    }
}

/// The labels that name one worker's series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProbeLabels {
    /// `probe_type`: `Liveness`, `Readiness`, `Startup`.
    pub probe_type: ProbeKind,
    /// `container`.
    pub container: String,
    /// `pod`.
    pub pod: String,
    /// `namespace`.
    pub namespace: String,
    /// `pod_uid` (on `prober_probe_total` only, as in the kubelet).
    pub pod_uid: String,
}

impl ProbeLabels {
    /// The labels of `kind` on `container` of `pod`.
    pub fn new(pod: &PodRef, container: &str, kind: ProbeKind) -> Self {
        ProbeLabels {
            probe_type: kind,
            container: container.to_string(),
            pod: pod.name.clone(),
            namespace: pod.namespace.clone(),
            pod_uid: pod.uid.clone(),
        }
    }
}

/// The labels of one `prober_probe_total` series, in the kubelet's (sorted) order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TotalLabels {
    container: String,
    namespace: String,
    pod: String,
    pod_uid: String,
    probe_type: &'static str,
    result: MetricResult,
}

impl TotalLabels {
    fn new(l: &ProbeLabels, result: MetricResult) -> Self {
        TotalLabels {
            container: l.container.clone(),
            namespace: l.namespace.clone(),
            pod: l.pod.clone(),
            pod_uid: l.pod_uid.clone(),
            probe_type: l.probe_type.as_str(),
            result,
        }
    }
}

/// The labels of one `prober_probe_duration_seconds` series: those of the total without
/// `pod_uid` and `result`, as in the kubelet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DurationLabels {
    container: String,
    namespace: String,
    pod: String,
    probe_type: &'static str,
}

impl DurationLabels {
    fn new(l: &ProbeLabels) -> Self {
        DurationLabels {
            container: l.container.clone(),
            namespace: l.namespace.clone(),
            pod: l.pod.clone(),
            probe_type: l.probe_type.as_str(),
        }
    }
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS.iter().copied())
}

/// The probe metrics of one agent. Clones share the same series.
#[derive(Clone)]
pub struct ProbeMetrics {
    totals: Family<TotalLabels, Counter>,
    durations: Family<DurationLabels, Histogram>,
}

impl Default for ProbeMetrics {
    fn default() -> Self {
        ProbeMetrics {
            totals: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
        }
    }
}

impl fmt::Debug for ProbeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeMetrics").finish_non_exhaustive()
    }
}

impl ProbeMetrics {
    /// No series yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register both families into `registry` (the agent's registry for
    /// `/metrics/probes`), with the kubelet's names and help texts. The registry shares the
    /// series with `self` and its clones.
    pub fn register(&self, registry: &mut Registry) {
        // prometheus-client adds `_total` to counters and a final `.` to help texts.
        registry.register(
            "prober_probe",
            "[BETA] Cumulative number of a liveness, readiness or startup probe for a container by result",
            self.totals.clone(),
        );
        registry.register(
            "prober_probe_duration_seconds",
            "[ALPHA] Duration in seconds for a probe response",
            self.durations.clone(),
        );
    }

    /// Count one probe run, and observe its duration when `duration` is given. (The
    /// kubelet's worker observes the duration of successful and unknown runs, not of
    /// failed ones; [`Worker`](crate::ProbeWorker) does the same.)
    pub fn record(&self, labels: &ProbeLabels, result: MetricResult, duration: Option<Duration>) {
        self.totals
            .get_or_create(&TotalLabels::new(labels, result))
            .inc();
        if let Some(duration) = duration {
            self.durations
                .get_or_create(&DurationLabels::new(labels))
                .observe(duration.as_secs_f64());
        }
    }

    /// The count of `prober_probe_total` for these labels and result.
    pub fn probe_total(&self, labels: &ProbeLabels, result: MetricResult) -> u64 {
        self.totals
            .get(&TotalLabels::new(labels, result))
            .map_or(0, |c| c.get())
    }

    /// Delete a worker's series (the kubelet does this when a worker stops).
    pub fn remove(&self, labels: &ProbeLabels) {
        for result in [
            MetricResult::Successful,
            MetricResult::Failed,
            MetricResult::Unknown,
        ] {
            self.totals.remove(&TotalLabels::new(labels, result));
        }
        self.durations.remove(&DurationLabels::new(labels));
    }

    /// These metrics alone in the Prometheus text format (version 0.0.4), encoded by
    /// `prometheus-client` (for an embedder without a registry of its own, and tests).
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut out = String::new();
        prometheus_text::encode(&mut out, &registry).expect("encoding into a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_keeps_the_kubelet_names_and_help() {
        let metrics = ProbeMetrics::new();
        assert_eq!(
            metrics.render(),
            "",
            "no series, no families (as in the Go client)"
        );
        let pod = PodRef {
            uid: "u".into(),
            namespace: "ns".into(),
            name: "p".into(),
        };
        let labels = ProbeLabels::new(&pod, "c", ProbeKind::Startup);
        metrics.record(
            &labels,
            MetricResult::Unknown,
            Some(Duration::from_millis(20)),
        );
        let text = metrics.render();
        for line in [
            "# HELP prober_probe_total [BETA] Cumulative number of a liveness, readiness or startup probe for a container by result.\n\
             # TYPE prober_probe_total counter\n\
             prober_probe_total{container=\"c\",namespace=\"ns\",pod=\"p\",pod_uid=\"u\",probe_type=\"Startup\",result=\"unknown\"} 1\n",
            "# HELP prober_probe_duration_seconds [ALPHA] Duration in seconds for a probe response.\n\
             # TYPE prober_probe_duration_seconds histogram\n",
            "prober_probe_duration_seconds_bucket{container=\"c\",namespace=\"ns\",pod=\"p\",probe_type=\"Startup\",le=\"0.025\"} 1\n",
            "prober_probe_duration_seconds_bucket{container=\"c\",namespace=\"ns\",pod=\"p\",probe_type=\"Startup\",le=\"0.01\"} 0\n",
        ] {
            assert!(text.contains(line), "{line:?} missing:\n{text}");
        }
        assert_eq!(metrics.probe_total(&labels, MetricResult::Unknown), 1);
        metrics.remove(&labels);
        assert_eq!(metrics.render(), "");
    }
}
