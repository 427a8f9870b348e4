//! From a pod spec to cgroup settings: the pod cgroup's (`ResourceConfigForPod`,
//! `pkg/kubelet/cm/helpers_linux.go`) and each container's, as sent to the runtime in CRI
//! `LinuxContainerResources` (`kuberuntime_container_linux.go` `calculateLinuxResources`,
//! `generateLinuxContainerResources`).
//!
//! Everything here is plain numbers: [`ResourceConfig`] is what a cgroup gets,
//! [`ContainerResources`] is the CPU/memory part of a CRI container config without the CRI
//! types, so a caller maps it to whichever CRI crate it uses.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::error::{Error, Result};
use crate::formulas::{
    DEFAULT_MEMORY_THROTTLING_FACTOR, MIN_SHARES, QUOTA_PERIOD, memory_high, milli_cpu_to_quota,
    milli_cpu_to_shares,
};
use crate::oom::container_oom_score_adj;
use crate::qos::{QosClass, pod_qos};
use crate::quantity::QuantityValue;

/// `memory.min` (cgroup v2, MemoryQoS).
pub const MEMORY_MIN: &str = "memory.min";
/// `memory.high` (cgroup v2, MemoryQoS).
pub const MEMORY_HIGH: &str = "memory.high";
/// `memory.oom.group` (cgroup v2): an OOM kill takes the whole container.
pub const MEMORY_OOM_GROUP: &str = "memory.oom.group";

/// The node's switches that shape resource settings, with the kubelet's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceOptions {
    /// `cpuCFSQuota` (default true): enforce CPU limits with a CFS quota.
    pub cpu_cfs_quota: bool,
    /// `cpuCFSQuotaPeriod` in µs (default 100000; other values need the kubelet's
    /// `CustomCPUCFSQuotaPeriod` gate).
    pub cpu_cfs_quota_period: u64,
    /// `podPidsLimit` (default −1: unlimited, `pids.max = max`).
    pub pod_pids_limit: i64,
    /// The `MemoryQoS` feature gate (cgroup v2 only; default false): `memory.min` from
    /// requests, `memory.high` from the throttling factor.
    pub memory_qos: bool,
    /// `memoryThrottlingFactor` (default 0.9).
    pub memory_throttling_factor: f64,
    /// `singleProcessOOMKill` (default false): on cgroup v2, without it a container gets
    /// `memory.oom.group = 1`.
    pub single_process_oom_kill: bool,
    /// Whether the node runs cgroup v2 (for the v2-only `unified` entries).
    pub cgroup_v2: bool,
    /// The node's memory capacity in bytes (for Burstable `oom_score_adj`).
    pub memory_capacity: i64,
    /// The node's allocatable memory in bytes (for `memory.high` without a limit).
    pub node_allocatable_memory: i64,
}

impl Default for ResourceOptions {
    fn default() -> Self {
        ResourceOptions {
            cpu_cfs_quota: true,
            cpu_cfs_quota_period: QUOTA_PERIOD,
            pod_pids_limit: -1,
            memory_qos: false,
            memory_throttling_factor: DEFAULT_MEMORY_THROTTLING_FACTOR,
            single_process_oom_kill: false,
            cgroup_v2: false,
            memory_capacity: 0,
            node_allocatable_memory: 0,
        }
    }
}

/// What one cgroup gets (the kubelet's `ResourceConfig`). `None` leaves a setting as the
/// kernel has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceConfig {
    /// `cpu.shares` (v1); v2 writes `cpu.weight` from it.
    pub cpu_shares: Option<u64>,
    /// CFS quota in µs; −1 is no limit (`cpu.cfs_quota_us = -1`, `cpu.max = max <period>`).
    pub cpu_quota: Option<i64>,
    /// CFS period in µs.
    pub cpu_period: Option<u64>,
    /// Memory limit in bytes (`memory.limit_in_bytes`, `memory.max`).
    pub memory_limit: Option<i64>,
    /// `pids.max`; zero or less is `max`.
    pub pids_limit: Option<i64>,
    /// Hugepage limits in bytes, by page size in bytes.
    pub hugepage_limits: BTreeMap<u64, i64>,
    /// cgroup v2 files written as given (`memory.min`, `memory.high`); ignored on v1.
    pub unified: BTreeMap<String, String>,
}

/// The CPU and memory part of a container's CRI `LinuxContainerResources`, as plain
/// numbers. Field names follow the CRI message so the mapping is one to one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerResources {
    /// `cpu_shares`.
    pub cpu_shares: i64,
    /// `cpu_quota` (0: unlimited).
    pub cpu_quota: i64,
    /// `cpu_period` (0 when `cpuCFSQuota` is off).
    pub cpu_period: i64,
    /// `memory_limit_in_bytes` (0: unlimited).
    pub memory_limit_in_bytes: i64,
    /// `oom_score_adj`.
    pub oom_score_adj: i64,
    /// `cpuset_cpus`: always empty here (no CPU manager).
    pub cpuset_cpus: String,
    /// `hugepage_limits`: page size name (`2MB`) → bytes.
    pub hugepage_limits: BTreeMap<String, u64>,
    /// `unified` (cgroup v2): `memory.oom.group`, MemoryQoS `memory.min`/`memory.high`.
    pub unified: BTreeMap<String, String>,
}

/// `calculateLinuxResources`: CPU shares, CFS quota/period and memory limit from the
/// container's CPU request and limit (millicores) and memory limit (bytes).
///
/// - `cpu_shares`: from the request; with a limit and **no** request, from the limit (the
///   API server defaults the request to the limit); nothing at all gives 2;
/// - `cpu_quota`/`cpu_period`: only with `cpu_cfs_quota`; quota from the limit, 0
///   (unlimited) without one;
/// - `memory_limit_in_bytes`: the limit, 0 without one.
///
/// ```
/// use cgroup_enforcer::resources::calculate_container_resources;
/// let r = calculate_container_resources(Some(250), Some(500), Some(256 << 20), true, 100_000);
/// assert_eq!((r.cpu_shares, r.cpu_quota, r.cpu_period), (256, 50_000, 100_000));
/// assert_eq!(r.memory_limit_in_bytes, 268_435_456);
/// ```
pub fn calculate_container_resources(
    cpu_request_milli: Option<i64>,
    cpu_limit_milli: Option<i64>,
    memory_limit_bytes: Option<i64>,
    cpu_cfs_quota: bool,
    cpu_period: u64,
) -> ContainerResources {
    let cpu_limit = cpu_limit_milli.unwrap_or(0);
    let shares = milli_cpu_to_shares(cpu_request_milli.unwrap_or(cpu_limit));
    let mut resources = ContainerResources {
        cpu_shares: shares as i64,
        memory_limit_in_bytes: memory_limit_bytes.unwrap_or(0),
        ..Default::default()
    };
    if cpu_cfs_quota {
        resources.cpu_period = i64::try_from(cpu_period).unwrap_or(i64::MAX);
        resources.cpu_quota = milli_cpu_to_quota(cpu_limit, cpu_period);
    }
    resources
}

/// Everything the kubelet puts in a container's `LinuxContainerResources`
/// (`generateLinuxContainerResources`): [`calculate_container_resources`], the
/// `oom_score_adj` ([`container_oom_score_adj`]), hugepage limits, and on cgroup v2
/// `memory.oom.group = 1` (unless `singleProcessOOMKill`) and the MemoryQoS entries
/// (`memory.min` = request, `memory.high` from [`memory_high`]).
///
/// Errors name the pod and the field of an unparseable or negative quantity.
pub fn container_resources(
    pod: &Pod,
    container: &Container,
    opts: &ResourceOptions,
) -> Result<ContainerResources> {
    let field = container_field(pod, container);
    let requests = read_list(pod, &field, container.resources.as_ref(), Kind::Requests)?;
    let limits = read_list(pod, &field, container.resources.as_ref(), Kind::Limits)?;
    let mut resources = calculate_container_resources(
        requests.cpu_milli,
        limits.cpu_milli,
        limits.memory,
        opts.cpu_cfs_quota,
        opts.cpu_cfs_quota_period,
    );
    resources.oom_score_adj = container_oom_score_adj(pod, container, opts.memory_capacity);
    for (size, limit) in &limits.hugepages {
        resources
            .hugepage_limits
            .insert(hugepage_size_name(*size), (*limit).max(0) as u64);
    }
    if opts.cgroup_v2 {
        if !opts.single_process_oom_kill {
            resources
                .unified
                .insert(MEMORY_OOM_GROUP.to_owned(), "1".to_owned());
        }
        if opts.memory_qos {
            let request = requests.memory.or(limits.memory).unwrap_or(0);
            let limit = limits.memory.unwrap_or(0);
            if request != 0 {
                resources
                    .unified
                    .insert(MEMORY_MIN.to_owned(), request.to_string());
            }
            if let Some(high) = memory_high(
                request,
                limit,
                opts.node_allocatable_memory,
                opts.memory_throttling_factor,
            ) {
                resources
                    .unified
                    .insert(MEMORY_HIGH.to_owned(), high.to_string());
            }
        }
    }
    Ok(resources)
}

/// A pod's summed requests and limits, as the kubelet's `PodRequests` / `PodLimits`
/// compute them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodResources {
    /// CPU requests in millicores.
    pub cpu_request_milli: i64,
    /// Memory requests in bytes.
    pub memory_request: i64,
    /// CPU limits in millicores (meaningful when `cpu_limits_declared`).
    pub cpu_limit_milli: i64,
    /// Memory limits in bytes (meaningful when `memory_limits_declared`).
    pub memory_limit: i64,
    /// Every container (init included) has a CPU limit, or the pod-level resources do.
    pub cpu_limits_declared: bool,
    /// Every container (init included) has a memory limit, or the pod-level resources do.
    pub memory_limits_declared: bool,
    /// Hugepage requests in bytes by page size in bytes.
    pub hugepages: BTreeMap<u64, i64>,
}

/// `PodRequests` and `PodLimits` (`k8s.io/component-helpers/resource`): the regular
/// containers and sidecars (restartable init containers) summed, against the largest init
/// container plus the sidecars started before it, whichever is larger, plus the pod's
/// `overhead`. Pod-level `spec.resources` for cpu or memory replace the containers' sums
/// for that resource. A container with a limit and no request counts the limit as its
/// request (API defaulting).
pub fn pod_resources(pod: &Pod) -> Result<PodResources> {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut regular = Sums::default();
    let mut declared = (true, true);
    for (i, c) in spec.containers.iter().enumerate() {
        let field = format!("spec.containers[{i}].resources");
        let (req, lim) = read_both(pod, &field, c.resources.as_ref())?;
        declared.0 &= lim.cpu_milli.is_some_and(|v| v > 0);
        declared.1 &= lim.memory.is_some_and(|v| v > 0);
        regular.add(&req, &lim);
    }
    let mut sidecars = Sums::default();
    let mut init_max = Sums::default();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let field = format!("spec.initContainers[{i}].resources");
        let (req, lim) = read_both(pod, &field, c.resources.as_ref())?;
        declared.0 &= lim.cpu_milli.is_some_and(|v| v > 0);
        declared.1 &= lim.memory.is_some_and(|v| v > 0);
        let candidate = if c.restart_policy.as_deref() == Some("Always") {
            regular.add(&req, &lim);
            sidecars.add(&req, &lim);
            sidecars.clone()
        } else {
            let mut one = sidecars.clone();
            one.add(&req, &lim);
            one
        };
        init_max.max(&candidate);
    }
    regular.max(&init_max);

    if let Some(overhead) = spec.overhead.as_ref() {
        let over = read_amounts(pod, "spec.overhead", Some(overhead))?;
        regular.add(&over, &over);
    }
    let mut result = PodResources {
        cpu_request_milli: regular.req_cpu,
        memory_request: regular.req_mem,
        cpu_limit_milli: regular.lim_cpu,
        memory_limit: regular.lim_mem,
        cpu_limits_declared: declared.0,
        memory_limits_declared: declared.1,
        hugepages: regular.hugepages,
    };
    if let Some(pod_level) = spec.resources.as_ref() {
        let (req, lim) = read_both(pod, "spec.resources", Some(pod_level))?;
        if let Some(cpu) = req.cpu_milli {
            result.cpu_request_milli = cpu;
        }
        if let Some(memory) = req.memory {
            result.memory_request = memory;
        }
        if let Some(cpu) = lim.cpu_milli {
            result.cpu_limit_milli = cpu;
            result.cpu_limits_declared = cpu > 0;
        }
        if let Some(memory) = lim.memory {
            result.memory_limit = memory;
            result.memory_limits_declared = memory > 0;
        }
    }
    Ok(result)
}

/// `ResourceConfigForPod`: the pod cgroup's settings.
///
/// | Class | Settings |
/// |---|---|
/// | Guaranteed | shares from Σ requests; quota from Σ limits (−1 without `cpuCFSQuota`), period; memory limit Σ limits |
/// | Burstable | shares from Σ requests; quota/period only if every container has a CPU limit; memory limit only if every container has one |
/// | BestEffort | shares 2; nothing else |
///
/// All classes: hugepage limits, `pids.max` = `podPidsLimit` (−1: `max`), and with
/// MemoryQoS on cgroup v2, `memory.min` = Σ memory requests.
///
/// ```
/// use cgroup_enforcer::resources::{ResourceOptions, pod_resource_config};
/// use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
///
/// let pod = Pod {
///     spec: Some(PodSpec { containers: vec![Container::default()], ..Default::default() }),
///     ..Default::default()
/// };
/// let config = pod_resource_config(&pod, &ResourceOptions::default())?;
/// assert_eq!(config.cpu_shares, Some(2)); // BestEffort
/// assert_eq!(config.memory_limit, None);
/// # Ok::<(), cgroup_enforcer::Error>(())
/// ```
pub fn pod_resource_config(pod: &Pod, opts: &ResourceOptions) -> Result<ResourceConfig> {
    let totals = pod_resources(pod)?;
    let shares = milli_cpu_to_shares(totals.cpu_request_milli);
    let period = opts.cpu_cfs_quota_period;
    let quota = if opts.cpu_cfs_quota {
        milli_cpu_to_quota(totals.cpu_limit_milli, period)
    } else {
        -1
    };
    let mut config = ResourceConfig {
        pids_limit: Some(opts.pod_pids_limit),
        hugepage_limits: totals.hugepages.clone(),
        ..Default::default()
    };
    match pod_qos(pod) {
        QosClass::Guaranteed => {
            config.cpu_shares = Some(shares);
            config.cpu_quota = Some(quota);
            config.cpu_period = Some(period);
            config.memory_limit = Some(totals.memory_limit);
        }
        QosClass::Burstable => {
            config.cpu_shares = Some(shares);
            if totals.cpu_limits_declared {
                config.cpu_quota = Some(quota);
                config.cpu_period = Some(period);
            }
            if totals.memory_limits_declared {
                config.memory_limit = Some(totals.memory_limit);
            }
        }
        QosClass::BestEffort => config.cpu_shares = Some(MIN_SHARES),
    }
    if opts.memory_qos && opts.cgroup_v2 && totals.memory_request > 0 {
        config
            .unified
            .insert(MEMORY_MIN.to_owned(), totals.memory_request.to_string());
    }
    Ok(config)
}

/// The runc name of a hugepage size (`HugePageSizeToString`): 2097152 → `2MB`,
/// 1073741824 → `1GB`, 65536 → `64KB`.
pub fn hugepage_size_name(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    let mut size = bytes / 1024;
    let mut unit = 0;
    while size >= 1024 && size.is_multiple_of(1024) && unit < UNITS.len() - 1 {
        size /= 1024;
        unit += 1;
    }
    format!("{size}{}", UNITS[unit])
}

pub use pod_plan::pod_full_name;

fn container_field(pod: &Pod, container: &Container) -> String {
    let spec = pod.spec.as_ref();
    if let Some(i) = spec.and_then(|s| s.containers.iter().position(|c| c.name == container.name)) {
        return format!("spec.containers[{i}].resources");
    }
    if let Some(i) = spec.and_then(|s| {
        s.init_containers
            .iter()
            .flatten()
            .position(|c| c.name == container.name)
    }) {
        return format!("spec.initContainers[{i}].resources");
    }
    format!("container {:?}.resources", container.name)
}

#[derive(Clone, Copy)]
enum Kind {
    Requests,
    Limits,
}

/// One list of a container's resources, read: CPU in millicores, memory in bytes, hugepages
/// by page size.
#[derive(Debug, Default, Clone)]
struct Amounts {
    cpu_milli: Option<i64>,
    memory: Option<i64>,
    hugepages: BTreeMap<u64, i64>,
}

fn read_list(
    pod: &Pod,
    field: &str,
    resources: Option<&ResourceRequirements>,
    kind: Kind,
) -> Result<Amounts> {
    let (requests, limits) = read_both(pod, field, resources)?;
    Ok(match kind {
        Kind::Requests => requests,
        Kind::Limits => limits,
    })
}

/// Requests (defaulted from limits, as the API server does) and limits.
fn read_both(
    pod: &Pod,
    field: &str,
    resources: Option<&ResourceRequirements>,
) -> Result<(Amounts, Amounts)> {
    let limits = read_amounts(
        pod,
        &format!("{field}.limits"),
        resources.and_then(|r| r.limits.as_ref()),
    )?;
    let mut requests = read_amounts(
        pod,
        &format!("{field}.requests"),
        resources.and_then(|r| r.requests.as_ref()),
    )?;
    requests.cpu_milli = requests.cpu_milli.or(limits.cpu_milli);
    requests.memory = requests.memory.or(limits.memory);
    for (size, limit) in &limits.hugepages {
        requests.hugepages.entry(*size).or_insert(*limit);
    }
    Ok((requests, limits))
}

fn read_amounts(
    pod: &Pod,
    field: &str,
    list: Option<&BTreeMap<String, Quantity>>,
) -> Result<Amounts> {
    let mut amounts = Amounts::default();
    for (name, quantity) in list.into_iter().flatten() {
        let path = format!("{field}.{name}");
        let wrap = |source| Error::Quantity {
            pod: pod_full_name(pod),
            field: path.clone(),
            source,
        };
        let is_cpu = name == "cpu";
        let hugepage = name.strip_prefix("hugepages-");
        if !is_cpu && name != "memory" && hugepage.is_none() {
            continue;
        }
        let value = QuantityValue::parse(&quantity.0).map_err(wrap)?;
        if value.is_negative() {
            return Err(Error::InvalidPod {
                pod: pod_full_name(pod),
                field: path,
                message: format!("{:?}: must be greater than or equal to 0", quantity.0),
            });
        }
        if is_cpu {
            amounts.cpu_milli = Some(value.milli_value().map_err(wrap)?);
        } else if let Some(size) = hugepage {
            let size = QuantityValue::parse(size)
                .and_then(|s| s.value())
                .map_err(wrap)?;
            amounts
                .hugepages
                .insert(size.max(0) as u64, value.value().map_err(wrap)?);
        } else {
            amounts.memory = Some(value.value().map_err(wrap)?);
        }
    }
    Ok(amounts)
}

/// Running sums of requests and limits.
#[derive(Debug, Default, Clone)]
struct Sums {
    req_cpu: i64,
    req_mem: i64,
    lim_cpu: i64,
    lim_mem: i64,
    hugepages: BTreeMap<u64, i64>,
}

impl Sums {
    fn add(&mut self, req: &Amounts, lim: &Amounts) {
        self.req_cpu = self.req_cpu.saturating_add(req.cpu_milli.unwrap_or(0));
        self.req_mem = self.req_mem.saturating_add(req.memory.unwrap_or(0));
        self.lim_cpu = self.lim_cpu.saturating_add(lim.cpu_milli.unwrap_or(0));
        self.lim_mem = self.lim_mem.saturating_add(lim.memory.unwrap_or(0));
        for (size, value) in &req.hugepages {
            let total = self.hugepages.entry(*size).or_insert(0);
            *total = total.saturating_add(*value);
        }
    }

    fn max(&mut self, other: &Sums) {
        self.req_cpu = self.req_cpu.max(other.req_cpu);
        self.req_mem = self.req_mem.max(other.req_mem);
        self.lim_cpu = self.lim_cpu.max(other.lim_cpu);
        self.lim_mem = self.lim_mem.max(other.lim_mem);
        for (size, value) in &other.hugepages {
            let total = self.hugepages.entry(*size).or_insert(0);
            *total = (*total).max(*value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugepage_names_follow_runc() {
        assert_eq!(hugepage_size_name(2 << 20), "2MB");
        assert_eq!(hugepage_size_name(1 << 30), "1GB");
        assert_eq!(hugepage_size_name(64 << 10), "64KB");
    }
}
