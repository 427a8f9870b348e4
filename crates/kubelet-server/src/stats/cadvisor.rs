//! `/metrics/cadvisor`: the cAdvisor series the kubelet serves for its cgroups
//! (`github.com/google/cadvisor/lib/metrics/prometheus.go`, with the kubelet's
//! `containerPrometheusLabelsFunc`), from what the agent measured ([`CgroupInfo`]).

use jiff::Timestamp;

use super::exposition::{Exposition, MetricType, Sample};

/// One cgroup as `/metrics/cadvisor` reports it: cAdvisor's `ContainerInfo` cut down to the
/// series nodelet writes. The agent fills one for the root cgroup, the `kubepods` tree,
/// each pod cgroup and each running container and sandbox.
///
/// The six label values are what the kubelet's label function gives cAdvisor: the cgroup
/// name, the runtime's container ID, the image and the pod's names (empty where they do
/// not apply, because every series of a family carries the same labels).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CgroupInfo {
    /// The cgroup's name as cAdvisor spells it: its path below the hierarchy root with a
    /// leading `/` (`/`, `/kubepods/besteffort/pod<uid>/<container id>`). The `id` label.
    pub id: String,
    /// cAdvisor's first alias: the runtime's ID of a container or sandbox, empty for a
    /// plain cgroup. The `name` label.
    pub name: String,
    /// The image of a container or sandbox, as the runtime names it. The `image` label.
    pub image: String,
    /// The container's name (`io.kubernetes.container.name`); empty for a sandbox or a pod
    /// cgroup. The `container` label.
    pub container: String,
    /// The pod's name (for a pod cgroup too). The `pod` label.
    pub pod: String,
    /// The pod's namespace. The `namespace` label.
    pub namespace: String,
    /// When the container was created (the runtime's time), else when the cgroup was
    /// (`container_creation_time_seconds`).
    pub creation_time: Option<Timestamp>,
    /// When the cgroup was created (`container_start_time_seconds`; cAdvisor takes the
    /// cgroup directory's time); the creation time when unknown.
    pub start_time: Option<Timestamp>,
    /// The memory limit as the cgroup states it, `u64::MAX` for none; `None` without a
    /// memory cgroup (`container_spec_memory_limit_bytes`, written as 0 above 2^62 as
    /// cAdvisor does).
    pub memory_limit_bytes: Option<u64>,
    /// When the usage below was read: every usage sample carries it.
    pub timestamp: Timestamp,
    /// Cumulative CPU time in nanoseconds.
    pub cpu_usage_ns: Option<u64>,
    /// Memory usage; `None` without a memory cgroup.
    pub memory: Option<CgroupMemory>,
    /// The interfaces of the cgroup's network namespace (sandboxes and the root cgroup only,
    /// as cAdvisor reports them).
    pub network: Vec<InterfaceCounters>,
    /// Filesystem usage by device (the root cgroup only, as cAdvisor with containerd).
    pub filesystems: Vec<FilesystemUsage>,
    /// Processes and threads; `None` when not counted.
    pub processes: Option<ProcessCounts>,
}

/// Memory usage of one cgroup, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupMemory {
    /// Everything charged, page cache included.
    pub usage_bytes: u64,
    /// Usage minus inactive file pages.
    pub working_set_bytes: u64,
    /// Anonymous memory (`total_rss` on v1, `anon` on v2).
    pub rss_bytes: u64,
    /// Page cache (`total_cache` on v1, `file` on v2).
    pub cache_bytes: u64,
    /// Swap in use.
    pub swap_bytes: u64,
    /// Memory-mapped files (`total_mapped_file` on v1, `file_mapped` on v2).
    pub mapped_file_bytes: u64,
}

/// One interface's counters, as `/proc/<pid>/net/dev` gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// The interface's name.
    pub name: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Packets dropped while receiving.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Packets dropped while sending.
    pub tx_dropped: u64,
}

/// One filesystem's usage, for the root cgroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilesystemUsage {
    /// The device (`/dev/vda1`). The `device` label.
    pub device: String,
    /// Bytes in use (capacity minus free).
    pub usage_bytes: u64,
    /// The filesystem's size.
    pub limit_bytes: u64,
    /// Total inodes, when the filesystem has them.
    pub inodes: Option<u64>,
    /// Free inodes, when the filesystem has them.
    pub inodes_free: Option<u64>,
}

/// Processes and threads in a cgroup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessCounts {
    /// Processes (`cgroup.procs`).
    pub processes: u64,
    /// Tasks (`pids.current`).
    pub threads: u64,
    /// The task limit (`pids.max`), 0 for none.
    pub threads_max: u64,
}

/// Above this cAdvisor takes a memory limit as none (the kernel rounds `i64::MAX`).
const MAX_MEMORY_SIZE: u64 = 1 << 62;

/// `/metrics/cadvisor` in the Prometheus text format, at time `now` (`None` when the
/// cgroups could not be read: then only `container_scrape_error 1`).
///
/// The series are cAdvisor's, under its names, help texts and types: CPU
/// (`container_cpu_usage_seconds_total{cpu="total"}`), memory (usage, working set, RSS,
/// cache, swap, mapped files), the spec (`container_spec_memory_limit_bytes`, creation and
/// start times), `container_last_seen`, network counters by `interface`, filesystem usage by
/// `device`, processes and threads. Each carries the labels `container`, `id`, `image`,
/// `name`, `namespace` and `pod`; usage samples carry the time they were read.
///
/// ```
/// use kubelet_server::stats::{CgroupInfo, render_cadvisor_metrics};
///
/// let now: jiff::Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
/// let root = CgroupInfo { id: "/".into(), cpu_usage_ns: Some(1_500_000_000), timestamp: now, ..Default::default() };
/// let text = render_cadvisor_metrics(Some(&[root]), now);
/// assert!(text.contains(
///     "container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/\",image=\"\",name=\"\",namespace=\"\",pod=\"\"} 1.5 1714557600000\n"
/// ));
/// ```
pub fn render_cadvisor_metrics(cgroups: Option<&[CgroupInfo]>, now: Timestamp) -> String {
    let mut out = Exposition::default();
    out.add(
        "container_scrape_error",
        "1 if there was an error while getting container metrics, 0 otherwise",
        MetricType::Gauge,
        Sample::new(vec![], if cgroups.is_some() { 0.0 } else { 1.0 }),
    );
    for cgroup in cgroups.into_iter().flatten() {
        add_cgroup(&mut out, cgroup, now);
    }
    out.render()
}

fn add_cgroup(out: &mut Exposition, c: &CgroupInfo, now: Timestamp) {
    let labels = |extra: &[(&'static str, &str)]| {
        let mut labels = vec![
            ("container", c.container.clone()),
            ("id", c.id.clone()),
            ("image", c.image.clone()),
            ("name", c.name.clone()),
            ("namespace", c.namespace.clone()),
            ("pod", c.pod.clone()),
        ];
        labels.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        labels
    };
    let at = Some(c.timestamp);
    let mut gauge = |name: &'static str, help: &str, value: f64, at: Option<Timestamp>| {
        out.add(
            name,
            help,
            MetricType::Gauge,
            Sample::new(labels(&[]), value).at(at),
        );
    };

    // The spec: without timestamps, whole seconds.
    let creation = c.creation_time.or(c.start_time);
    let start = c.start_time.or(c.creation_time);
    gauge(
        "container_creation_time_seconds",
        "Container creation time since unix epoch in seconds.",
        creation.map_or(0.0, |t| t.as_second() as f64),
        None,
    );
    gauge(
        "container_start_time_seconds",
        "Start time of the container since unix epoch in seconds.",
        start.map_or(0.0, |t| t.as_second() as f64),
        None,
    );
    if let Some(limit) = c.memory_limit_bytes {
        let limit = if limit > MAX_MEMORY_SIZE {
            0.0
        } else {
            limit as f64
        };
        gauge(
            "container_spec_memory_limit_bytes",
            "Memory limit for the container.",
            limit,
            None,
        );
    }
    gauge(
        "container_last_seen",
        "Last time a container was seen by the exporter",
        now.as_second() as f64,
        Some(now),
    );

    // cAdvisor writes no per-CPU series without per-CPU usage, and no total when it is 0.
    if let Some(ns) = c.cpu_usage_ns.filter(|ns| *ns > 0) {
        out.add(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed in seconds.",
            MetricType::Counter,
            Sample::new(labels(&[("cpu", "total")]), ns as f64 / 1e9).at(at),
        );
    }
    if let Some(m) = &c.memory {
        let mut gauge = |name: &'static str, help: &str, value: u64| {
            out.add(
                name,
                help,
                MetricType::Gauge,
                Sample::new(labels(&[]), value as f64).at(at),
            );
        };
        gauge(
            "container_memory_cache",
            "Number of bytes of page cache memory.",
            m.cache_bytes,
        );
        gauge("container_memory_rss", "Size of RSS in bytes.", m.rss_bytes);
        gauge(
            "container_memory_mapped_file",
            "Size of memory mapped files in bytes.",
            m.mapped_file_bytes,
        );
        gauge(
            "container_memory_swap",
            "Container swap usage in bytes.",
            m.swap_bytes,
        );
        gauge(
            "container_memory_usage_bytes",
            "Current memory usage in bytes, including all memory regardless of when it was accessed",
            m.usage_bytes,
        );
        gauge(
            "container_memory_working_set_bytes",
            "Current working set in bytes.",
            m.working_set_bytes,
        );
    }
    for i in &c.network {
        let name = i.name.as_str();
        for (metric, help, value) in [
            (
                "container_network_receive_bytes_total",
                "Cumulative count of bytes received",
                i.rx_bytes,
            ),
            (
                "container_network_receive_packets_total",
                "Cumulative count of packets received",
                i.rx_packets,
            ),
            (
                "container_network_receive_packets_dropped_total",
                "Cumulative count of packets dropped while receiving",
                i.rx_dropped,
            ),
            (
                "container_network_receive_errors_total",
                "Cumulative count of errors encountered while receiving",
                i.rx_errors,
            ),
            (
                "container_network_transmit_bytes_total",
                "Cumulative count of bytes transmitted",
                i.tx_bytes,
            ),
            (
                "container_network_transmit_packets_total",
                "Cumulative count of packets transmitted",
                i.tx_packets,
            ),
            (
                "container_network_transmit_packets_dropped_total",
                "Cumulative count of packets dropped while transmitting",
                i.tx_dropped,
            ),
            (
                "container_network_transmit_errors_total",
                "Cumulative count of errors encountered while transmitting",
                i.tx_errors,
            ),
        ] {
            out.add(
                metric,
                help,
                MetricType::Counter,
                Sample::new(labels(&[("interface", name)]), value as f64).at(at),
            );
        }
    }
    for fs in &c.filesystems {
        let device = fs.device.as_str();
        let mut gauge = |name: &'static str, help: &str, value: u64| {
            out.add(
                name,
                help,
                MetricType::Gauge,
                Sample::new(labels(&[("device", device)]), value as f64).at(at),
            );
        };
        // cAdvisor writes 0 inodes for a filesystem without them.
        gauge(
            "container_fs_inodes_free",
            "Number of available Inodes",
            fs.inodes_free.unwrap_or(0),
        );
        gauge(
            "container_fs_inodes_total",
            "Number of Inodes",
            fs.inodes.unwrap_or(0),
        );
        gauge(
            "container_fs_limit_bytes",
            "Number of bytes that can be consumed by the container on this filesystem.",
            fs.limit_bytes,
        );
        gauge(
            "container_fs_usage_bytes",
            "Number of bytes that are consumed by the container on this filesystem.",
            fs.usage_bytes,
        );
    }
    if let Some(p) = &c.processes {
        let mut gauge = |name: &'static str, help: &str, value: u64| {
            out.add(
                name,
                help,
                MetricType::Gauge,
                Sample::new(labels(&[]), value as f64).at(at),
            );
        };
        gauge(
            "container_processes",
            "Number of processes running inside the container.",
            p.processes,
        );
        gauge(
            "container_threads",
            "Number of threads running inside the container",
            p.threads,
        );
        gauge(
            "container_threads_max",
            "Maximum number of threads allowed inside the container, infinity if value is zero",
            p.threads_max,
        );
    }
}
