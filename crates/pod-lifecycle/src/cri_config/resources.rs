//! The kubelet's CPU and memory formulas for a container's CRI `LinuxContainerResources`
//! (`pkg/kubelet/cm/helpers_linux.go`, `kuberuntime_container_linux.go`
//! `calculateLinuxResources`).
//!
//! The formulas live in `cgroup-enforcer` (re-exported here); this module only maps its
//! plain-number [`ContainerResources`] to the CRI message.

use cgroup_enforcer::{ContainerResources, ResourceOptions};
use cri_client::v1;
use k8s_openapi::api::core::v1::{Container, Pod};

pub use cgroup_enforcer::formulas::{
    MAX_SHARES, MILLI_CPU_TO_CPU, MIN_QUOTA_PERIOD, MIN_SHARES, QUOTA_PERIOD, SHARES_PER_CPU,
    milli_cpu_to_quota, milli_cpu_to_shares,
};

/// `calculateLinuxResources`: the CPU and memory part of a container's CRI resources
/// ([`cgroup_enforcer::resources::calculate_container_resources`] with the default CFS
/// period).
///
/// - `cpu_shares`: from the request; a container with a limit and **no** request uses the
///   limit (the API server defaults the request to the limit, the kubelet repeats it for
///   old objects); nothing at all gives 2.
/// - `cpu_quota`/`cpu_period`: only when `cpu_cfs_quota` (the kubelet's `cpuCFSQuota`,
///   default true); quota from the limit, 0 (unlimited) without one; period 100000.
/// - `memory_limit_in_bytes`: the memory limit when it is not zero.
///
/// Everything else (OOM score, hugepages, `unified`) is left at its default.
///
/// ```
/// use pod_lifecycle::cri_config::resources::calculate_linux_resources;
/// let r = calculate_linux_resources(Some(250), Some(500), Some(256 << 20), true);
/// assert_eq!((r.cpu_shares, r.cpu_quota, r.cpu_period), (256, 50_000, 100_000));
/// assert_eq!(r.memory_limit_in_bytes, 268_435_456);
/// ```
pub fn calculate_linux_resources(
    cpu_request_milli: Option<i64>,
    cpu_limit_milli: Option<i64>,
    memory_limit_bytes: Option<i64>,
    cpu_cfs_quota: bool,
) -> v1::LinuxContainerResources {
    to_cri(cgroup_enforcer::resources::calculate_container_resources(
        cpu_request_milli,
        cpu_limit_milli,
        memory_limit_bytes,
        cpu_cfs_quota,
        QUOTA_PERIOD,
    ))
}

/// `generateLinuxContainerResources`: everything the kubelet puts in a container's CRI
/// `LinuxContainerResources`, from
/// [`cgroup_enforcer::resources::container_resources`]: CPU shares, CFS quota and period
/// (`opts.cpu_cfs_quota`, `opts.cpu_cfs_quota_period`), the memory limit, the QoS
/// `oom_score_adj` (Burstable scores against `opts.memory_capacity`), hugepage limits, and
/// on cgroup v2 (`opts.cgroup_v2`) the `unified` entries (`memory.oom.group = 1`, MemoryQoS).
/// The pod's `pids.max` is not a container setting: the pod cgroup carries it.
///
/// ```
/// use cgroup_enforcer::ResourceOptions;
/// use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
/// use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
/// use pod_lifecycle::cri_config::resources::linux_container_resources;
///
/// let limits = [("cpu", "500m"), ("memory", "64Mi")]
///     .map(|(k, v)| (k.to_string(), Quantity(v.into())))
///     .into();
/// let app = Container {
///     name: "app".into(),
///     resources: Some(ResourceRequirements { limits: Some(limits), ..Default::default() }),
///     ..Default::default()
/// };
/// let pod = Pod {
///     spec: Some(PodSpec { containers: vec![app.clone()], ..Default::default() }),
///     ..Default::default()
/// };
/// let v2 = ResourceOptions { cgroup_v2: true, ..Default::default() };
/// let r = linux_container_resources(&pod, &app, &v2)?;
/// assert_eq!((r.cpu_shares, r.cpu_quota, r.memory_limit_in_bytes), (512, 50_000, 64 << 20));
/// assert_eq!(r.oom_score_adj, -997); // Guaranteed
/// assert_eq!(r.unified["memory.oom.group"], "1");
/// # Ok::<(), cgroup_enforcer::Error>(())
/// ```
pub fn linux_container_resources(
    pod: &Pod,
    container: &Container,
    opts: &ResourceOptions,
) -> Result<v1::LinuxContainerResources, cgroup_enforcer::Error> {
    cgroup_enforcer::resources::container_resources(pod, container, opts).map(to_cri)
}

/// The plain numbers as the CRI message, field for field.
fn to_cri(r: ContainerResources) -> v1::LinuxContainerResources {
    v1::LinuxContainerResources {
        cpu_shares: r.cpu_shares,
        cpu_quota: r.cpu_quota,
        cpu_period: r.cpu_period,
        memory_limit_in_bytes: r.memory_limit_in_bytes,
        oom_score_adj: r.oom_score_adj,
        cpuset_cpus: r.cpuset_cpus,
        unified: r.unified.into_iter().collect(),
        hugepage_limits: r
            .hugepage_limits
            .into_iter()
            .map(|(page_size, limit)| v1::HugepageLimit { page_size, limit })
            .collect(),
        ..Default::default()
    }
}
