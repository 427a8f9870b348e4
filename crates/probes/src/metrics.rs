//! `prober_probe_total` and `prober_probe_duration_seconds`, rendered in the Prometheus text
//! format for the agent's `/metrics/probes` (`pkg/kubelet/prober/prober_manager.go`).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::{PodRef, ProbeKind};

/// The `Content-Type` of [`ProbeMetrics::render`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

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

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct MetricsState {
    totals: BTreeMap<(ProbeLabels, MetricResult), u64>,
    /// Keyed without `pod_uid`, which the histogram does not carry.
    durations: BTreeMap<(ProbeKind, String, String, String), Histogram>,
}

/// The probe metrics of one agent. Clones share the same series.
#[derive(Clone, Default)]
pub struct ProbeMetrics {
    state: Arc<Mutex<MetricsState>>,
}

impl fmt::Debug for ProbeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("ProbeMetrics")
            .field("series", &st.totals.len())
            .finish()
    }
}

impl ProbeMetrics {
    /// No series yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, MetricsState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count one probe run, and observe its duration when `duration` is given. (The
    /// kubelet's worker observes the duration of successful and unknown runs, not of
    /// failed ones; [`Worker`](crate::ProbeWorker) does the same.)
    pub fn record(&self, labels: &ProbeLabels, result: MetricResult, duration: Option<Duration>) {
        let mut st = self.lock();
        *st.totals.entry((labels.clone(), result)).or_default() += 1;
        if let Some(duration) = duration {
            let h = st
                .durations
                .entry(duration_key(labels))
                .or_insert_with(|| Histogram {
                    counts: vec![0; DURATION_BUCKETS.len()],
                    ..Default::default()
                });
            let secs = duration.as_secs_f64();
            for (count, bound) in h.counts.iter_mut().zip(DURATION_BUCKETS) {
                if secs <= *bound {
                    *count += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// The count of `prober_probe_total` for these labels and result.
    pub fn probe_total(&self, labels: &ProbeLabels, result: MetricResult) -> u64 {
        self.lock()
            .totals
            .get(&(labels.clone(), result))
            .copied()
            .unwrap_or(0)
    }

    /// Delete a worker's series (the kubelet does this when a worker stops).
    pub fn remove(&self, labels: &ProbeLabels) {
        let mut st = self.lock();
        st.totals.retain(|(l, _), _| l != labels);
        st.durations.remove(&duration_key(labels));
    }

    /// Every series in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let st = self.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP prober_probe_total [BETA] Cumulative number of a liveness, readiness or startup probe for a container by result.\n\
             # TYPE prober_probe_total counter\n",
        );
        for ((l, result), value) in &st.totals {
            let _ = writeln!(
                out,
                "prober_probe_total{{container=\"{}\",namespace=\"{}\",pod=\"{}\",pod_uid=\"{}\",probe_type=\"{}\",result=\"{}\"}} {value}",
                escape(&l.container),
                escape(&l.namespace),
                escape(&l.pod),
                escape(&l.pod_uid),
                l.probe_type.as_str(),
                result.as_str(),
            );
        }
        out.push_str(
            "# HELP prober_probe_duration_seconds [ALPHA] Duration in seconds for a probe response.\n\
             # TYPE prober_probe_duration_seconds histogram\n",
        );
        for ((kind, container, pod, namespace), h) in &st.durations {
            let labels = format!(
                "container=\"{}\",namespace=\"{}\",pod=\"{}\",probe_type=\"{}\"",
                escape(container),
                escape(namespace),
                escape(pod),
                kind.as_str()
            );
            for (count, bound) in h.counts.iter().zip(DURATION_BUCKETS) {
                let _ = writeln!(
                    out,
                    "prober_probe_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "prober_probe_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "prober_probe_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "prober_probe_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

fn duration_key(l: &ProbeLabels) -> (ProbeKind, String, String, String) {
    (
        l.probe_type,
        l.container.clone(),
        l.pod.clone(),
        l.namespace.clone(),
    )
}

/// A label value escaped for the text format (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
