//! A small Prometheus registry (counters, gauges, histograms with labels) rendering the
//! text exposition format, and the kubelet's metrics pre-registered in it.
//!
//! The agent needs a dozen metric families and one output format, so it carries its own
//! registry (a few hundred lines, no global state) instead of a metrics framework: every
//! handle is an `Arc` around atomics, cheap to clone into pod workers, and
//! [`Registry::render`] writes what Prometheus scrapes from the kubelet's `/metrics`.
//!
//! ```
//! use agent::metrics::KubeletMetrics;
//!
//! let metrics = KubeletMetrics::new("node-1");
//! metrics.running_pods.set(3.0);
//! metrics.runtime_operations_total.with_label_values(&["RunPodSandbox"]).inc();
//! metrics
//!     .runtime_operations_duration_seconds
//!     .with_label_values(&["RunPodSandbox"])
//!     .observe(0.12);
//! let text = metrics.render();
//! assert!(text.contains("kubelet_running_pods 3\n"));
//! assert!(text.contains("kubelet_runtime_operations_total{operation_type=\"RunPodSandbox\"} 1\n"));
//! assert!(text.contains("kubelet_node_name{node=\"node-1\"} 1\n"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The `Content-Type` of [`Registry::render`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus' default histogram buckets (`DefBuckets`), in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The kubelet's pod start-up buckets, 0.5 s to 1 h.
pub const POD_STARTUP_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0,
    300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];

/// `count` buckets starting at `start`, each `factor` times the previous (Prometheus'
/// `ExponentialBuckets`).
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Vec<f64> {
    std::iter::successors(Some(start), |b| Some(b * factor))
        .take(count)
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An `f64` updated atomically.
#[derive(Debug, Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
    }
}

/// A value that only goes up (reset only by a restart).
#[derive(Clone, Debug)]
pub struct Counter(Arc<AtomicF64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1.0);
    }

    /// Adds `delta`; a negative or NaN `delta` is ignored, since a counter never decreases.
    pub fn inc_by(&self, delta: f64) {
        if delta >= 0.0 {
            self.0.add(delta);
        }
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// A value that goes up and down.
#[derive(Clone, Debug)]
pub struct Gauge(Arc<AtomicF64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: f64) {
        self.0.set(value);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.0.add(-1.0);
    }

    /// Adds `delta` (which may be negative).
    pub fn add(&self, delta: f64) {
        self.0.add(delta);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

#[derive(Debug)]
struct HistogramData {
    /// Per bucket, not cumulative; one more than the bounds, for `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Observations counted into buckets, with their sum and count.
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    data: Arc<Mutex<HistogramData>>,
}

impl Histogram {
    fn new(bounds: Arc<[f64]>) -> Self {
        let data = HistogramData {
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        };
        Histogram {
            bounds,
            data: Arc::new(Mutex::new(data)),
        }
    }

    /// Records one observation (seconds, for the kubelet's duration metrics).
    pub fn observe(&self, value: f64) {
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        let mut data = lock(&self.data);
        data.counts[bucket] += 1;
        data.sum += value;
        data.count += 1;
    }

    /// How many observations were recorded.
    pub fn count(&self) -> u64 {
        lock(&self.data).count
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        lock(&self.data).sum
    }
}

/// The three metric types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MetricType {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Bucketed observations.
    Histogram,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

#[derive(Clone, Debug)]
enum Series {
    Value(Arc<AtomicF64>),
    Histogram(Histogram),
}

/// One metric family: a name, help, type, label names and a series per label value set.
#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: MetricType,
    labels: Vec<String>,
    bounds: Arc<[f64]>,
    series: Mutex<BTreeMap<Vec<String>, Series>>,
}

impl Family {
    #[track_caller]
    fn series(&self, values: &[&str]) -> Series {
        assert_eq!(
            values.len(),
            self.labels.len(),
            "metric {} has labels {:?}, got values {values:?}",
            self.name,
            self.labels
        );
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        lock(&self.series)
            .entry(key)
            .or_insert_with(|| match self.kind {
                MetricType::Histogram => {
                    Series::Histogram(Histogram::new(Arc::clone(&self.bounds)))
                }
                MetricType::Counter | MetricType::Gauge => Series::Value(Arc::default()),
            })
            .clone()
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(&self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind.as_str());
        for (values, series) in lock(&self.series).iter() {
            let labels = |extra: Option<(&str, &str)>| {
                let mut pairs: Vec<String> = self
                    .labels
                    .iter()
                    .zip(values)
                    .map(|(name, value)| format!("{name}=\"{}\"", escape_label(value)))
                    .collect();
                if let Some((name, value)) = extra {
                    pairs.push(format!("{name}=\"{value}\""));
                }
                if pairs.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", pairs.join(","))
                }
            };
            match series {
                Series::Value(value) => {
                    let _ = writeln!(out, "{}{} {}", self.name, labels(None), number(value.get()));
                }
                Series::Histogram(histogram) => {
                    let data = lock(&histogram.data);
                    let mut cumulative = 0;
                    for (bound, count) in histogram.bounds.iter().zip(&data.counts) {
                        cumulative += count;
                        let le = number(*bound);
                        let _ = writeln!(
                            out,
                            "{}_bucket{} {cumulative}",
                            self.name,
                            labels(Some(("le", &le)))
                        );
                    }
                    let _ = writeln!(
                        out,
                        "{}_bucket{} {}",
                        self.name,
                        labels(Some(("le", "+Inf"))),
                        data.count
                    );
                    let _ = writeln!(
                        out,
                        "{}_sum{} {}",
                        self.name,
                        labels(None),
                        number(data.sum)
                    );
                    let _ = writeln!(out, "{}_count{} {}", self.name, labels(None), data.count);
                }
            }
        }
    }
}

/// A counter family with labels; [`with_label_values`](Self::with_label_values) gives the
/// counter of one label value set.
#[derive(Clone, Debug)]
pub struct CounterVec(Arc<Family>);

impl CounterVec {
    /// The counter for these label values (in the order the labels were registered),
    /// created at zero on first use.
    ///
    /// # Panics
    ///
    /// If the number of values is not the number of labels (a programming error, as in
    /// every Prometheus client).
    #[track_caller]
    pub fn with_label_values(&self, values: &[&str]) -> Counter {
        match self.0.series(values) {
            Series::Value(value) => Counter(value),
            Series::Histogram(_) => unreachable!("a counter family holds values"),
        }
    }
}

/// A gauge family with labels.
#[derive(Clone, Debug)]
pub struct GaugeVec(Arc<Family>);

impl GaugeVec {
    /// The gauge for these label values, created at zero on first use.
    ///
    /// # Panics
    ///
    /// If the number of values is not the number of labels.
    #[track_caller]
    pub fn with_label_values(&self, values: &[&str]) -> Gauge {
        match self.0.series(values) {
            Series::Value(value) => Gauge(value),
            Series::Histogram(_) => unreachable!("a gauge family holds values"),
        }
    }

    /// Drops every series (for gauges recomputed from scratch, like running containers by
    /// state).
    pub fn reset(&self) {
        lock(&self.0.series).clear();
    }
}

/// A histogram family with labels.
#[derive(Clone, Debug)]
pub struct HistogramVec(Arc<Family>);

impl HistogramVec {
    /// The histogram for these label values, created empty on first use.
    ///
    /// # Panics
    ///
    /// If the number of values is not the number of labels.
    #[track_caller]
    pub fn with_label_values(&self, values: &[&str]) -> Histogram {
        match self.0.series(values) {
            Series::Histogram(histogram) => histogram,
            Series::Value(_) => unreachable!("a histogram family holds histograms"),
        }
    }
}

/// Metric families, rendered in registration order.
///
/// Registration takes names the caller controls (constants), so an invalid or duplicate
/// name is a programming error and panics, as in the Prometheus clients.
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<Vec<Arc<Family>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    #[track_caller]
    fn register(
        &self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[&str],
        bounds: &[f64],
    ) -> Arc<Family> {
        assert!(valid_name(name, true), "invalid metric name {name:?}");
        for label in labels {
            assert!(
                valid_name(label, false) && !label.starts_with("__"),
                "invalid label name {label:?} for {name}"
            );
            assert!(
                !(kind == MetricType::Histogram && *label == "le"),
                "histogram {name} cannot have a label named le"
            );
        }
        assert!(
            bounds.windows(2).all(|w| w[0] < w[1]),
            "buckets of {name} must be strictly increasing"
        );
        let mut families = lock(&self.families);
        assert!(
            families.iter().all(|family| family.name != name),
            "metric {name} registered twice"
        );
        let family = Arc::new(Family {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            bounds: bounds.iter().copied().filter(|b| b.is_finite()).collect(),
            series: Mutex::new(BTreeMap::new()),
        });
        families.push(Arc::clone(&family));
        family
    }

    /// Registers a counter without labels (rendered from the start, at 0).
    #[track_caller]
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        CounterVec(self.register(name, help, MetricType::Counter, &[], &[])).with_label_values(&[])
    }

    /// Registers a counter family with labels.
    #[track_caller]
    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> CounterVec {
        CounterVec(self.register(name, help, MetricType::Counter, labels, &[]))
    }

    /// Registers a gauge without labels (rendered from the start, at 0).
    #[track_caller]
    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        GaugeVec(self.register(name, help, MetricType::Gauge, &[], &[])).with_label_values(&[])
    }

    /// Registers a gauge family with labels.
    #[track_caller]
    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
        GaugeVec(self.register(name, help, MetricType::Gauge, labels, &[]))
    }

    /// Registers a histogram without labels, with these bucket upper bounds (`+Inf` is
    /// implied).
    #[track_caller]
    pub fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        HistogramVec(self.register(name, help, MetricType::Histogram, &[], buckets))
            .with_label_values(&[])
    }

    /// Registers a histogram family with labels.
    #[track_caller]
    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> HistogramVec {
        HistogramVec(self.register(name, help, MetricType::Histogram, labels, buckets))
    }

    /// Every family in the Prometheus text format (version 0.0.4): `# HELP` and `# TYPE`
    /// lines, then one line per series; histograms as cumulative `_bucket{le=...}` lines,
    /// `_sum` and `_count`. A labelled family with no series yet still shows its `HELP`
    /// and `TYPE`, so scrapers and tests see every name from the start.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for family in lock(&self.families).iter() {
            family.render(&mut out);
        }
        out
    }
}

fn valid_name(name: &str, allow_colon: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic()
            || c == '_'
            || (allow_colon && c == ':')
            || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, else the shortest
/// decimal that round-trips (`1`, `0.005`).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}

/// The kubelet's `/metrics` families that nodelet fills (`pkg/kubelet/metrics/metrics.go`,
/// subsystem `kubelet`), pre-registered with the kubelet's names, labels and buckets.
///
/// The fields are handles: clone them into whatever observes the event (the CRI wrapper
/// for `runtime_operations_*`, the pod workers for `pod_worker_duration_seconds`, PLEG for
/// `pleg_relist_duration_seconds`).
#[derive(Debug)]
pub struct KubeletMetrics {
    registry: Registry,
    /// `kubelet_node_name{node}`: always 1, for the node's name.
    pub node_name: GaugeVec,
    /// `kubelet_running_pods`: pods with a running sandbox.
    pub running_pods: Gauge,
    /// `kubelet_running_containers{container_state}`: containers by state (`created`,
    /// `running`, `exited`, `unknown`).
    pub running_containers: GaugeVec,
    /// `kubelet_pod_start_duration_seconds`: first seen (`config.seen`) to running.
    pub pod_start_duration_seconds: Histogram,
    /// `kubelet_pod_start_sli_duration_seconds{first_with_network}`: the same without
    /// image pulls (the start-up SLI).
    pub pod_start_sli_duration_seconds: HistogramVec,
    /// `kubelet_pod_worker_duration_seconds{operation_type}`: one sync, by `create`,
    /// `update` or `sync`.
    pub pod_worker_duration_seconds: HistogramVec,
    /// `kubelet_runtime_operations_total{operation_type}`: CRI calls by method name.
    pub runtime_operations_total: CounterVec,
    /// `kubelet_runtime_operations_duration_seconds{operation_type}`: CRI call latency.
    pub runtime_operations_duration_seconds: HistogramVec,
    /// `kubelet_runtime_operations_errors_total{operation_type}`: failed CRI calls.
    pub runtime_operations_errors_total: CounterVec,
    /// `kubelet_pleg_relist_duration_seconds`: one PLEG relist.
    pub pleg_relist_duration_seconds: Histogram,
    /// `kubelet_pleg_relist_interval_seconds`: time between two relists.
    pub pleg_relist_interval_seconds: Histogram,
    /// `kubelet_started_pods_total`: sandboxes created.
    pub started_pods_total: Counter,
    /// `kubelet_started_pods_errors_total`: sandbox creations that failed.
    pub started_pods_errors_total: Counter,
    /// `kubelet_started_containers_total{container_type}`: containers started, by
    /// `container`, `init_container` or `ephemeral_container`.
    pub started_containers_total: CounterVec,
    /// `kubelet_started_containers_errors_total{container_type, code}`: container starts
    /// that failed, by type and error code.
    pub started_containers_errors_total: CounterVec,
    /// `kubelet_restarted_pods_total{static}`: pods deleted and recreated with the same
    /// UID (`static` is `true` for pods not from the API server).
    pub restarted_pods_total: CounterVec,
}

impl KubeletMetrics {
    /// Registers every family in a new registry and sets `kubelet_node_name{node}` to 1.
    pub fn new(node_name: &str) -> Self {
        let registry = Registry::new();
        let metrics = KubeletMetrics {
            node_name: registry.gauge_vec("kubelet_node_name", "The node's name; the value is always 1.", &["node"]),
            running_pods: registry.gauge("kubelet_running_pods", "Number of pods with a running pod sandbox."),
            running_containers: registry.gauge_vec(
                "kubelet_running_containers",
                "Number of containers, by state.",
                &["container_state"],
            ),
            pod_start_duration_seconds: registry.histogram(
                "kubelet_pod_start_duration_seconds",
                "Seconds from the agent first seeing a pod to the pod running.",
                POD_STARTUP_BUCKETS,
            ),
            pod_start_sli_duration_seconds: registry.histogram_vec(
                "kubelet_pod_start_sli_duration_seconds",
                "Seconds to start a pod, excluding image pulls and init containers.",
                &["first_with_network"],
                POD_STARTUP_BUCKETS,
            ),
            pod_worker_duration_seconds: registry.histogram_vec(
                "kubelet_pod_worker_duration_seconds",
                "Seconds to sync one pod, by operation type: create, update or sync.",
                &["operation_type"],
                DEFAULT_BUCKETS,
            ),
            runtime_operations_total: registry.counter_vec(
                "kubelet_runtime_operations_total",
                "Number of container runtime operations, by operation type.",
                &["operation_type"],
            ),
            runtime_operations_duration_seconds: registry.histogram_vec(
                "kubelet_runtime_operations_duration_seconds",
                "Seconds per container runtime operation, by operation type.",
                &["operation_type"],
                &exponential_buckets(0.005, 2.5, 14),
            ),
            runtime_operations_errors_total: registry.counter_vec(
                "kubelet_runtime_operations_errors_total",
                "Number of failed container runtime operations, by operation type.",
                &["operation_type"],
            ),
            pleg_relist_duration_seconds: registry.histogram(
                "kubelet_pleg_relist_duration_seconds",
                "Seconds for one PLEG relist.",
                DEFAULT_BUCKETS,
            ),
            pleg_relist_interval_seconds: registry.histogram(
                "kubelet_pleg_relist_interval_seconds",
                "Seconds between two PLEG relists.",
                DEFAULT_BUCKETS,
            ),
            started_pods_total: registry.counter("kubelet_started_pods_total", "Number of pods started."),
            started_pods_errors_total: registry.counter(
                "kubelet_started_pods_errors_total",
                "Number of errors starting pods.",
            ),
            started_containers_total: registry.counter_vec(
                "kubelet_started_containers_total",
                "Number of containers started, by container type.",
                &["container_type"],
            ),
            started_containers_errors_total: registry.counter_vec(
                "kubelet_started_containers_errors_total",
                "Number of errors starting containers, by container type and error code.",
                &["container_type", "code"],
            ),
            restarted_pods_total: registry.counter_vec(
                "kubelet_restarted_pods_total",
                "Number of pods deleted and recreated with the same UID while the agent watched them.",
                &["static"],
            ),
            registry,
        };
        metrics.node_name.with_label_values(&[node_name]).set(1.0);
        for state in ["created", "running", "exited", "unknown"] {
            metrics.running_containers.with_label_values(&[state]);
        }
        metrics
    }

    /// The registry, to register more families beside the kubelet's.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every family in the Prometheus text format.
    pub fn render(&self) -> String {
        self.registry.render()
    }
}

/// Every CRI call of the agent's runtime, by the kubelet's operation names.
impl cri_client::OperationObserver for KubeletMetrics {
    fn observe(&self, operation: &'static str, took: std::time::Duration, failed: bool) {
        self.runtime_operations_total
            .with_label_values(&[operation])
            .inc();
        self.runtime_operations_duration_seconds
            .with_label_values(&[operation])
            .observe(took.as_secs_f64());
        if failed {
            self.runtime_operations_errors_total
                .with_label_values(&[operation])
                .inc();
        }
    }
}

/// Pod worker syncs and pod start-ups.
impl pod_lifecycle::worker::WorkerObserver for KubeletMetrics {
    fn pod_synced(
        &self,
        _pod: &k8s_openapi::api::core::v1::Pod,
        operation: pod_lifecycle::worker::SyncOperation,
        took: std::time::Duration,
    ) {
        self.pod_worker_duration_seconds
            .with_label_values(&[operation.as_str()])
            .observe(took.as_secs_f64());
    }

    fn pod_started(&self, _pod: &k8s_openapi::api::core::v1::Pod, took: std::time::Duration) {
        self.pod_start_duration_seconds.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_and_gauge_lines() {
        let registry = Registry::new();
        let counter = registry.counter_vec("ops_total", "Ops.", &["op", "code"]);
        counter.with_label_values(&["Run", "ok"]).inc();
        counter.with_label_values(&["Run", "ok"]).inc_by(2.5);
        counter.with_label_values(&["Run", "ok"]).inc_by(-1.0);
        let gauge = registry.gauge("temperature", "Line one\nline \\two");
        gauge.set(1.5);
        gauge.dec();
        assert_eq!(
            registry.render(),
            "# HELP ops_total Ops.\n# TYPE ops_total counter\nops_total{op=\"Run\",code=\"ok\"} 3.5\n\
             # HELP temperature Line one\\nline \\\\two\n# TYPE temperature gauge\ntemperature 0.5\n"
        );
    }

    #[test]
    fn histogram_lines_are_cumulative() {
        let registry = Registry::new();
        let h = registry.histogram("latency_seconds", "Latency.", &[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 7.0] {
            h.observe(v);
        }
        assert_eq!(
            registry.render(),
            "# HELP latency_seconds Latency.\n# TYPE latency_seconds histogram\n\
             latency_seconds_bucket{le=\"0.1\"} 2\nlatency_seconds_bucket{le=\"1\"} 3\n\
             latency_seconds_bucket{le=\"+Inf\"} 4\nlatency_seconds_sum 7.65\nlatency_seconds_count 4\n"
        );
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn labelled_histograms_and_escaping() {
        let registry = Registry::new();
        let h = registry.histogram_vec("d_seconds", "D.", &["path"], &[1.0]);
        h.with_label_values(&["a\"b\\c\nd"]).observe(2.0);
        let text = registry.render();
        assert!(
            text.contains("d_seconds_bucket{path=\"a\\\"b\\\\c\\nd\",le=\"1\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("d_seconds_count{path=\"a\\\"b\\\\c\\nd\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.005), "0.005");
    }

    #[test]
    fn exponential() {
        let b = exponential_buckets(0.005, 2.5, 14);
        assert_eq!(b.len(), 14);
        assert_eq!(b[0], 0.005);
        assert!((b[13] - 0.005 * 2.5f64.powi(13)).abs() < 1e-9);
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn duplicate_names_panic() {
        let registry = Registry::new();
        registry.counter("a_total", "A.");
        registry.gauge("a_total", "A.");
    }

    #[test]
    #[should_panic(expected = "has labels")]
    fn wrong_label_arity_panics() {
        Registry::new()
            .counter_vec("b_total", "B.", &["x"])
            .with_label_values(&[]);
    }

    #[test]
    fn kubelet_families_are_present() {
        let text = KubeletMetrics::new("node-1").render();
        for name in [
            "kubelet_node_name",
            "kubelet_running_pods",
            "kubelet_running_containers",
            "kubelet_pod_start_duration_seconds",
            "kubelet_pod_start_sli_duration_seconds",
            "kubelet_pod_worker_duration_seconds",
            "kubelet_runtime_operations_total",
            "kubelet_runtime_operations_duration_seconds",
            "kubelet_runtime_operations_errors_total",
            "kubelet_pleg_relist_duration_seconds",
            "kubelet_started_containers_total",
            "kubelet_restarted_pods_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains("kubelet_running_containers{container_state=\"running\"} 0\n"));
    }
}
