//! `/metrics/resource`: the kubelet's resource metrics collector
//! (`pkg/kubelet/metrics/collectors/resource_metrics.go`) over a CPU-and-memory summary.

use jiff::Timestamp;

use super::exposition::{Exposition, MetricType, Sample};
use super::{ContainerStats, CpuStats, MemoryStats, PodStats, Summary, SwapStats, Time};

const NODE_CPU: &str = "node_cpu_usage_seconds_total";
const NODE_MEMORY: &str = "node_memory_working_set_bytes";
const NODE_SWAP: &str = "node_swap_usage_bytes";
const CONTAINER_CPU: &str = "container_cpu_usage_seconds_total";
const CONTAINER_MEMORY: &str = "container_memory_working_set_bytes";
const CONTAINER_SWAP: &str = "container_swap_usage_bytes";
const CONTAINER_SWAP_LIMIT: &str = "container_swap_limit_bytes";
const CONTAINER_START: &str = "container_start_time_seconds";
const POD_CPU: &str = "pod_cpu_usage_seconds_total";
const POD_MEMORY: &str = "pod_memory_working_set_bytes";
const POD_SWAP: &str = "pod_swap_usage_bytes";
const SCRAPE_ERROR: &str = "resource_scrape_error";

// The help texts carry the stability level as component-base prefixes it.
const NODE_CPU_HELP: &str = "[STABLE] Cumulative cpu time consumed by the node in core-seconds";
const NODE_MEMORY_HELP: &str = "[STABLE] Current working set of the node in bytes";
const NODE_SWAP_HELP: &str =
    "[ALPHA] Current swap usage of the node in bytes. Reported only on non-windows systems";
const CONTAINER_CPU_HELP: &str =
    "[STABLE] Cumulative cpu time consumed by the container in core-seconds";
const CONTAINER_MEMORY_HELP: &str = "[STABLE] Current working set of the container in bytes";
const CONTAINER_SWAP_HELP: &str = "[ALPHA] Current amount of the container swap usage in bytes. Reported only on non-windows systems";
const CONTAINER_SWAP_LIMIT_HELP: &str = "[ALPHA] Current amount of the container swap limit in bytes. Reported only on non-windows systems";
const CONTAINER_START_HELP: &str =
    "[STABLE] Start time of the container since unix epoch in seconds";
const POD_CPU_HELP: &str = "[STABLE] Cumulative cpu time consumed by the pod in core-seconds";
const POD_MEMORY_HELP: &str = "[STABLE] Current working set of the pod in bytes";
const POD_SWAP_HELP: &str =
    "[ALPHA] Current amount of the pod swap usage in bytes. Reported only on non-windows systems";
const SCRAPE_ERROR_HELP: &str =
    "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise";

/// `/metrics/resource` in the Prometheus text format, from a summary made with
/// `only_cpu_and_memory` (`None` when it could not be made: then only
/// `resource_scrape_error 1`, as the kubelet answers).
///
/// As the kubelet's collector: node, pod and container CPU (core-seconds) and working set,
/// swap usage, the containers' start times; every sample but the start time carries the
/// time its value was read, in milliseconds. A value the summary lacks is left out. (The
/// `scrape_error` twin of `resource_scrape_error`, deprecated in 1.29, is hidden in the
/// kubelet 1.37 and not written.)
///
/// ```
/// use kubelet_server::stats::{render_resource_metrics, Summary};
///
/// let text = render_resource_metrics(Some(&Summary::default()));
/// assert!(text.ends_with("# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n"));
/// assert!(render_resource_metrics(None).ends_with("resource_scrape_error 1\n"));
/// ```
pub fn render_resource_metrics(summary: Option<&Summary>) -> String {
    let mut out = Exposition::default();
    let error = if summary.is_some() { 0.0 } else { 1.0 };
    out.add(
        SCRAPE_ERROR,
        SCRAPE_ERROR_HELP,
        MetricType::Gauge,
        Sample::new(vec![], error),
    );
    let Some(summary) = summary else {
        return out.render();
    };

    let node = &summary.node;
    if let Some((time, seconds)) = cpu_seconds(node.cpu.as_ref()) {
        out.add(
            NODE_CPU,
            NODE_CPU_HELP,
            MetricType::Counter,
            Sample::new(vec![], seconds).at(time),
        );
    }
    if let Some((time, bytes)) = working_set(node.memory.as_ref()) {
        out.add(
            NODE_MEMORY,
            NODE_MEMORY_HELP,
            MetricType::Gauge,
            Sample::new(vec![], bytes).at(time),
        );
    }
    if let Some((time, bytes)) = swap_usage(node.swap.as_ref()) {
        out.add(
            NODE_SWAP,
            NODE_SWAP_HELP,
            MetricType::Gauge,
            Sample::new(vec![], bytes).at(time),
        );
    }

    for pod in &summary.pods {
        for container in &pod.containers {
            add_container(&mut out, pod, container);
        }
        let labels = || {
            vec![
                ("pod", pod.pod_ref.name.clone()),
                ("namespace", pod.pod_ref.namespace.clone()),
            ]
        };
        if let Some((time, seconds)) = cpu_seconds(pod.cpu.as_ref()) {
            out.add(
                POD_CPU,
                POD_CPU_HELP,
                MetricType::Counter,
                Sample::new(labels(), seconds).at(time),
            );
        }
        if let Some((time, bytes)) = working_set(pod.memory.as_ref()) {
            out.add(
                POD_MEMORY,
                POD_MEMORY_HELP,
                MetricType::Gauge,
                Sample::new(labels(), bytes).at(time),
            );
        }
        if let Some((time, bytes)) = swap_usage(pod.swap.as_ref()) {
            out.add(
                POD_SWAP,
                POD_SWAP_HELP,
                MetricType::Gauge,
                Sample::new(labels(), bytes).at(time),
            );
        }
    }
    out.render()
}

fn add_container(out: &mut Exposition, pod: &PodStats, container: &ContainerStats) {
    let labels = || {
        vec![
            ("container", container.name.clone()),
            ("pod", pod.pod_ref.name.clone()),
            ("namespace", pod.pod_ref.namespace.clone()),
        ]
    };
    // `collectContainerStartTime`: only a start time after the epoch, without a timestamp.
    if let Some(start) = container.start_time.timestamp()
        && start.as_second() > 0
    {
        let seconds = start.as_nanosecond() as f64 / 1e9;
        out.add(
            CONTAINER_START,
            CONTAINER_START_HELP,
            MetricType::Gauge,
            Sample::new(labels(), seconds),
        );
    }
    if let Some((time, seconds)) = cpu_seconds(container.cpu.as_ref()) {
        out.add(
            CONTAINER_CPU,
            CONTAINER_CPU_HELP,
            MetricType::Counter,
            Sample::new(labels(), seconds).at(time),
        );
    }
    if let Some((time, bytes)) = working_set(container.memory.as_ref()) {
        out.add(
            CONTAINER_MEMORY,
            CONTAINER_MEMORY_HELP,
            MetricType::Gauge,
            Sample::new(labels(), bytes).at(time),
        );
    }
    // `collectContainerSwapMetrics`: the limit is what is available plus what is used.
    if let Some(swap) = &container.swap {
        let time = swap.time.timestamp();
        let usage = swap.swap_usage_bytes.map_or(0.0, |u| u as f64);
        if swap.swap_usage_bytes.is_some() {
            out.add(
                CONTAINER_SWAP,
                CONTAINER_SWAP_HELP,
                MetricType::Gauge,
                Sample::new(labels(), usage).at(time),
            );
        }
        if let Some(available) = swap.swap_available_bytes {
            out.add(
                CONTAINER_SWAP_LIMIT,
                CONTAINER_SWAP_LIMIT_HELP,
                MetricType::Gauge,
                Sample::new(labels(), available as f64 + usage).at(time),
            );
        }
    }
}

/// Core-seconds and the time they were read, when the cumulative usage is known.
fn cpu_seconds(cpu: Option<&CpuStats>) -> Option<(Option<Timestamp>, f64)> {
    let cpu = cpu?;
    let ns = cpu.usage_core_nano_seconds?;
    Some((stamp(cpu.time), ns as f64 / 1e9))
}

fn working_set(memory: Option<&MemoryStats>) -> Option<(Option<Timestamp>, f64)> {
    let memory = memory?;
    Some((stamp(memory.time), memory.working_set_bytes? as f64))
}

fn swap_usage(swap: Option<&SwapStats>) -> Option<(Option<Timestamp>, f64)> {
    let swap = swap?;
    Some((stamp(swap.time), swap.swap_usage_bytes? as f64))
}

/// The sample's timestamp. Go writes the zero time's milliseconds (a large negative
/// number) for a zero `time`; nothing the kubelet builds has one, and here it is left out.
fn stamp(time: Time) -> Option<Timestamp> {
    time.timestamp()
}
