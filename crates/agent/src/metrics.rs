//! The kubelet's metric families, as `prometheus-client` metrics, and the agent's registries.
//!
//! Every crate's metrics are `prometheus-client` families that register into a caller's
//! [`Registry`]: [`KubeletMetrics::register`] for the kubelet's `/metrics` families (filled
//! by observers: the CRI wrapper, the pod workers), `probes::metrics::ProbeMetrics::register`
//! for the prober's. [`AgentRegistry`] composes them the way the kubelet does: one registry
//! for `/metrics` and, apart, the prober's for `/metrics/probes`, both encoded by
//! `prometheus-client` in the Prometheus text format (version 0.0.4) the kubelet serves.
//!
//! ```
//! use agent::metrics::KubeletMetrics;
//!
//! let metrics = KubeletMetrics::new("node-1");
//! metrics.running_pods.set(3);
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

use std::fmt;
use std::sync::Arc;

use pod_lifecycle::plan::ContainerKind;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

/// The `Content-Type` of [`KubeletMetrics::render`]'s and [`AgentRegistry`]'s output: the
/// Prometheus text format, version 0.0.4, as the kubelet serves it.
pub const TEXT_CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

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

/// Encodes `registry` in the Prometheus text format (version 0.0.4).
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    prometheus_text::encode(&mut out, registry).expect("encoding into a String cannot fail");
    out
}

/// The label set of a [`MetricVec`] series: `(name, value)` pairs in registration order.
type LabelPairs = Vec<(&'static str, String)>;

/// Makes the histogram of a new series, with its family's buckets.
#[derive(Clone, Debug)]
pub struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// A family of metrics with fixed label names, addressed by label values in the order the
/// names were given (the Go client's `*Vec` types, which the kubelet's code uses), over a
/// `prometheus-client` [`Family`].
pub struct MetricVec<M, C = fn() -> M> {
    labels: &'static [&'static str],
    family: Family<LabelPairs, M, C>,
}

impl<M, C: Clone> Clone for MetricVec<M, C> {
    fn clone(&self) -> Self {
        MetricVec {
            labels: self.labels,
            family: self.family.clone(),
        }
    }
}

impl<M: fmt::Debug, C> fmt::Debug for MetricVec<M, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricVec")
            .field("labels", &self.labels)
            .field("family", &self.family)
            .finish()
    }
}

impl<M: Default> MetricVec<M> {
    fn new(labels: &'static [&'static str]) -> Self {
        MetricVec {
            labels,
            family: Family::default(),
        }
    }
}

impl MetricVec<Histogram, Buckets> {
    fn histograms(labels: &'static [&'static str], buckets: &[f64]) -> Self {
        MetricVec {
            labels,
            family: Family::new_with_constructor(Buckets(buckets.into())),
        }
    }
}

impl<M: Clone, C: MetricConstructor<M>> MetricVec<M, C> {
    /// The metric for these label values (in the order of the label names), created at
    /// zero on first use.
    ///
    /// # Panics
    ///
    /// If the number of values is not the number of labels (a programming error, as in
    /// every Prometheus client).
    #[track_caller]
    pub fn with_label_values(&self, values: &[&str]) -> M {
        assert_eq!(
            values.len(),
            self.labels.len(),
            "metric has labels {:?}, got values {values:?}",
            self.labels
        );
        let key: LabelPairs = self
            .labels
            .iter()
            .zip(values)
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        self.family.get_or_create_owned(&key)
    }
}

impl<M, C> MetricVec<M, C>
where
    Family<LabelPairs, M, C>: Metric,
    C: Clone,
{
    fn register(&self, registry: &mut Registry, name: &str, help: &str) {
        registry.register(name, help, self.family.clone());
    }
}

/// A counter family with labels.
pub type CounterVec = MetricVec<Counter>;
/// A gauge family with labels.
pub type GaugeVec = MetricVec<Gauge>;
/// A histogram family with labels.
pub type HistogramVec = MetricVec<Histogram, Buckets>;

/// The kubelet's `/metrics` families that nodelet fills (`pkg/kubelet/metrics/metrics.go`,
/// subsystem `kubelet`), with the kubelet's names, labels, help texts and buckets.
///
/// The fields are handles: clone them into whatever observes the event. `KubeletMetrics`
/// is itself the observer of the CRI wrapper (`runtime_operations_*`) and of the pod
/// workers (`pod_worker_duration_seconds`, `pod_start_duration_seconds`,
/// `started_containers_total`). Counters are only ever incremented by those observers, at
/// the event, never recounted from a log.
#[derive(Debug, Clone)]
pub struct KubeletMetrics {
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
    /// `kubelet_evictions{eviction_signal}`: pods evicted by the eviction manager, by the
    /// signal that made it act (`memory.available`, `ephemeralcontainerfs.limit`, ...).
    /// The kubelet's name has no `_total`, which prometheus-client appends to every
    /// counter, so it is served with the kubelet's name as a gauge that only grows.
    pub evictions: GaugeVec,
}

impl KubeletMetrics {
    /// Every family, `kubelet_node_name{node}` set to 1 and
    /// `kubelet_running_containers` at 0 for every state.
    pub fn new(node_name: &str) -> Self {
        let metrics = KubeletMetrics {
            node_name: GaugeVec::new(&["node"]),
            running_pods: Gauge::default(),
            running_containers: GaugeVec::new(&["container_state"]),
            pod_start_duration_seconds: Histogram::new(POD_STARTUP_BUCKETS.iter().copied()),
            pod_start_sli_duration_seconds: HistogramVec::histograms(
                &["first_with_network"],
                POD_STARTUP_BUCKETS,
            ),
            pod_worker_duration_seconds: HistogramVec::histograms(
                &["operation_type"],
                DEFAULT_BUCKETS,
            ),
            runtime_operations_total: CounterVec::new(&["operation_type"]),
            runtime_operations_duration_seconds: HistogramVec::histograms(
                &["operation_type"],
                &exponential_buckets(0.005, 2.5, 14),
            ),
            runtime_operations_errors_total: CounterVec::new(&["operation_type"]),
            pleg_relist_duration_seconds: Histogram::new(DEFAULT_BUCKETS.iter().copied()),
            pleg_relist_interval_seconds: Histogram::new(DEFAULT_BUCKETS.iter().copied()),
            started_pods_total: Counter::default(),
            started_pods_errors_total: Counter::default(),
            started_containers_total: CounterVec::new(&["container_type"]),
            started_containers_errors_total: CounterVec::new(&["container_type", "code"]),
            restarted_pods_total: CounterVec::new(&["static"]),
            evictions: GaugeVec::new(&["eviction_signal"]),
        };
        metrics.node_name.with_label_values(&[node_name]).set(1);
        for state in ["created", "running", "exited", "unknown"] {
            metrics.running_containers.with_label_values(&[state]);
        }
        metrics
    }

    /// Registers every family into `registry`, sharing the series with `self`.
    ///
    /// prometheus-client appends `_total` to counter names and a final `.` to help texts,
    /// so counters are registered without the suffix and help texts without the period:
    /// the exposition carries the kubelet's names and texts.
    pub fn register(&self, registry: &mut Registry) {
        self.node_name.register(
            registry,
            "kubelet_node_name",
            "The node's name; the value is always 1",
        );
        registry.register(
            "kubelet_running_pods",
            "Number of pods with a running pod sandbox",
            self.running_pods.clone(),
        );
        self.running_containers.register(
            registry,
            "kubelet_running_containers",
            "Number of containers, by state",
        );
        registry.register(
            "kubelet_pod_start_duration_seconds",
            "Seconds from the agent first seeing a pod to the pod running",
            self.pod_start_duration_seconds.clone(),
        );
        self.pod_start_sli_duration_seconds.register(
            registry,
            "kubelet_pod_start_sli_duration_seconds",
            "Seconds to start a pod, excluding image pulls and init containers",
        );
        self.pod_worker_duration_seconds.register(
            registry,
            "kubelet_pod_worker_duration_seconds",
            "Seconds to sync one pod, by operation type: create, update or sync",
        );
        self.runtime_operations_total.register(
            registry,
            "kubelet_runtime_operations",
            "Number of container runtime operations, by operation type",
        );
        self.runtime_operations_duration_seconds.register(
            registry,
            "kubelet_runtime_operations_duration_seconds",
            "Seconds per container runtime operation, by operation type",
        );
        self.runtime_operations_errors_total.register(
            registry,
            "kubelet_runtime_operations_errors",
            "Number of failed container runtime operations, by operation type",
        );
        registry.register(
            "kubelet_pleg_relist_duration_seconds",
            "Seconds for one PLEG relist",
            self.pleg_relist_duration_seconds.clone(),
        );
        registry.register(
            "kubelet_pleg_relist_interval_seconds",
            "Seconds between two PLEG relists",
            self.pleg_relist_interval_seconds.clone(),
        );
        registry.register(
            "kubelet_started_pods",
            "Number of pods started",
            self.started_pods_total.clone(),
        );
        registry.register(
            "kubelet_started_pods_errors",
            "Number of errors starting pods",
            self.started_pods_errors_total.clone(),
        );
        self.started_containers_total.register(
            registry,
            "kubelet_started_containers",
            "Number of containers started, by container type",
        );
        self.started_containers_errors_total.register(
            registry,
            "kubelet_started_containers_errors",
            "Number of errors starting containers, by container type and error code",
        );
        self.restarted_pods_total.register(
            registry,
            "kubelet_restarted_pods",
            "Number of pods deleted and recreated with the same UID while the agent watched them",
        );
        self.evictions.register(
            registry,
            "kubelet_evictions",
            "Cumulative number of pod evictions by eviction signal",
        );
    }

    /// These families alone in the Prometheus text format (a registry of their own, for
    /// tests and embedders without a registry).
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        encode(&registry)
    }
}

/// The agent's metrics, composed the kubelet's way: every family of `/metrics` in one
/// registry, and the prober's families in a registry of their own for `/metrics/probes`
/// (the kubelet's prober metrics live apart from its legacy registry too).
#[derive(Debug, Default)]
pub struct AgentRegistry {
    /// Served on `/metrics`.
    pub metrics: Registry,
    /// Served on `/metrics/probes`.
    pub probes: Registry,
}

impl AgentRegistry {
    /// `kubelet` on `/metrics`, `probes` on `/metrics/probes`.
    pub fn new(kubelet: &KubeletMetrics, probes: &probes::metrics::ProbeMetrics) -> Self {
        let mut registry = AgentRegistry::default();
        kubelet.register(&mut registry.metrics);
        probes.register(&mut registry.probes);
        registry
    }

    /// `/metrics`, in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        encode(&self.metrics)
    }

    /// `/metrics/probes`, in the Prometheus text format.
    pub fn render_probes(&self) -> String {
        encode(&self.probes)
    }
}

/// The kubelet's `container_type` label value: sidecars are init containers.
pub fn container_type(kind: ContainerKind) -> &'static str {
    match kind {
        ContainerKind::Init | ContainerKind::Sidecar => "init_container",
        ContainerKind::Regular => "container",
        ContainerKind::Ephemeral => "ephemeral_container",
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

/// Pod worker syncs, pod start-ups and container starts.
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

    fn container_started(&self, _pod: &k8s_openapi::api::core::v1::Pod, kind: ContainerKind) {
        self.started_containers_total
            .with_label_values(&[container_type(kind)])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pod_lifecycle::worker::WorkerObserver;

    #[test]
    fn counter_gauge_and_histogram_lines() {
        let metrics = KubeletMetrics::new("node-1");
        metrics
            .started_containers_errors_total
            .with_label_values(&["container", "ErrImagePull"])
            .inc_by(3);
        metrics.running_pods.set(2);
        for v in [0.2, 0.5, 7.0] {
            metrics.pleg_relist_duration_seconds.observe(v);
        }
        let text = metrics.render();
        for line in [
            "# HELP kubelet_started_containers_errors_total Number of errors starting containers, by container type and error code.\n",
            "# TYPE kubelet_started_containers_errors_total counter\n",
            "kubelet_started_containers_errors_total{container_type=\"container\",code=\"ErrImagePull\"} 3\n",
            "# HELP kubelet_running_pods Number of pods with a running pod sandbox.\n",
            "# TYPE kubelet_running_pods gauge\nkubelet_running_pods 2\n",
            "kubelet_pleg_relist_duration_seconds_bucket{le=\"0.25\"} 1\n",
            "kubelet_pleg_relist_duration_seconds_bucket{le=\"1\"} 2\n",
            "kubelet_pleg_relist_duration_seconds_bucket{le=\"+Inf\"} 3\n",
            "kubelet_pleg_relist_duration_seconds_count 3\n",
        ] {
            assert!(text.contains(line), "{line:?} missing:\n{text}");
        }
        assert!(!text.contains("# EOF"), "{text}");
        assert!(!text.contains("_total_total"), "{text}");
    }

    #[test]
    fn exponential() {
        let b = exponential_buckets(0.005, 2.5, 14);
        assert_eq!(b.len(), 14);
        assert_eq!(b[0], 0.005);
        assert!((b[13] - 0.005 * 2.5f64.powi(13)).abs() < 1e-9);
    }

    #[test]
    #[should_panic(expected = "has labels")]
    fn wrong_label_arity_panics() {
        CounterVec::new(&["x"]).with_label_values(&[]);
    }

    #[test]
    fn kubelet_families_are_present() {
        let metrics = KubeletMetrics::new("node-1");
        // Like the Go client, a labelled family shows once it has a series.
        metrics
            .runtime_operations_total
            .with_label_values(&["Version"]);
        metrics
            .runtime_operations_errors_total
            .with_label_values(&["Version"]);
        metrics
            .runtime_operations_duration_seconds
            .with_label_values(&["Version"]);
        metrics
            .pod_start_sli_duration_seconds
            .with_label_values(&["true"]);
        metrics
            .pod_worker_duration_seconds
            .with_label_values(&["sync"]);
        metrics
            .started_containers_total
            .with_label_values(&["container"]);
        metrics.restarted_pods_total.with_label_values(&["true"]);
        let text = metrics.render();
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

    /// The counter is incremented by the worker observer, so it keeps counting past any
    /// cap of the events debug buffer (10,000 entries), which it once was recounted from.
    #[test]
    fn started_containers_count_past_the_event_buffer_cap() {
        let metrics = KubeletMetrics::new("node-1");
        let pod = k8s_openapi::api::core::v1::Pod::default();
        for _ in 0..10_050 {
            metrics.container_started(&pod, ContainerKind::Regular);
        }
        metrics.container_started(&pod, ContainerKind::Sidecar);
        metrics.container_started(&pod, ContainerKind::Ephemeral);
        let text = metrics.render();
        assert!(
            text.contains("kubelet_started_containers_total{container_type=\"container\"} 10050\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "kubelet_started_containers_total{container_type=\"init_container\"} 1\n"
            )
        );
        assert!(text.contains(
            "kubelet_started_containers_total{container_type=\"ephemeral_container\"} 1\n"
        ));
    }

    #[test]
    fn agent_registry_keeps_probes_apart() {
        let kubelet = KubeletMetrics::new("node-1");
        let probes = probes::metrics::ProbeMetrics::new();
        let registry = AgentRegistry::new(&kubelet, &probes);
        let pod = probes::PodRef {
            uid: "u".into(),
            namespace: "default".into(),
            name: "web".into(),
        };
        probes.record(
            &probes::metrics::ProbeLabels::new(&pod, "web", probes::ProbeKind::Liveness),
            probes::metrics::MetricResult::Failed,
            None,
        );
        kubelet.running_pods.set(1);
        let (metrics, probe_text) = (registry.render_metrics(), registry.render_probes());
        assert!(metrics.contains("kubelet_running_pods 1\n"), "{metrics}");
        assert!(!metrics.contains("prober_"), "{metrics}");
        assert!(probe_text.contains("prober_probe_total{"), "{probe_text}");
        assert!(!probe_text.contains("kubelet_"), "{probe_text}");
    }

    /// Names, types and help texts are the kubelet's, exactly as before prometheus-client.
    #[test]
    fn help_and_type_lines_are_unchanged() {
        let metrics = KubeletMetrics::new("node-1");
        metrics
            .pod_start_sli_duration_seconds
            .with_label_values(&["true"]);
        metrics
            .pod_worker_duration_seconds
            .with_label_values(&["sync"]);
        metrics
            .runtime_operations_total
            .with_label_values(&["Version"]);
        metrics
            .runtime_operations_duration_seconds
            .with_label_values(&["Version"]);
        metrics
            .runtime_operations_errors_total
            .with_label_values(&["Version"]);
        metrics
            .started_containers_total
            .with_label_values(&["container"]);
        metrics
            .started_containers_errors_total
            .with_label_values(&["container", "x"]);
        metrics.restarted_pods_total.with_label_values(&["true"]);
        let text = metrics.render();
        let comments: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        let mut expected = Vec::new();
        for (name, kind, help) in [
            (
                "kubelet_node_name",
                "gauge",
                "The node's name; the value is always 1.",
            ),
            (
                "kubelet_running_pods",
                "gauge",
                "Number of pods with a running pod sandbox.",
            ),
            (
                "kubelet_running_containers",
                "gauge",
                "Number of containers, by state.",
            ),
            (
                "kubelet_pod_start_duration_seconds",
                "histogram",
                "Seconds from the agent first seeing a pod to the pod running.",
            ),
            (
                "kubelet_pod_start_sli_duration_seconds",
                "histogram",
                "Seconds to start a pod, excluding image pulls and init containers.",
            ),
            (
                "kubelet_pod_worker_duration_seconds",
                "histogram",
                "Seconds to sync one pod, by operation type: create, update or sync.",
            ),
            (
                "kubelet_runtime_operations_total",
                "counter",
                "Number of container runtime operations, by operation type.",
            ),
            (
                "kubelet_runtime_operations_duration_seconds",
                "histogram",
                "Seconds per container runtime operation, by operation type.",
            ),
            (
                "kubelet_runtime_operations_errors_total",
                "counter",
                "Number of failed container runtime operations, by operation type.",
            ),
            (
                "kubelet_pleg_relist_duration_seconds",
                "histogram",
                "Seconds for one PLEG relist.",
            ),
            (
                "kubelet_pleg_relist_interval_seconds",
                "histogram",
                "Seconds between two PLEG relists.",
            ),
            (
                "kubelet_started_pods_total",
                "counter",
                "Number of pods started.",
            ),
            (
                "kubelet_started_pods_errors_total",
                "counter",
                "Number of errors starting pods.",
            ),
            (
                "kubelet_started_containers_total",
                "counter",
                "Number of containers started, by container type.",
            ),
            (
                "kubelet_started_containers_errors_total",
                "counter",
                "Number of errors starting containers, by container type and error code.",
            ),
            (
                "kubelet_restarted_pods_total",
                "counter",
                "Number of pods deleted and recreated with the same UID while the agent watched them.",
            ),
        ] {
            expected.push(format!("# HELP {name} {help}"));
            expected.push(format!("# TYPE {name} {kind}"));
        }
        assert_eq!(comments, expected);
    }
}
