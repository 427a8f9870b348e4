//! The kubelet's CPU and memory formulas for a container's CRI `LinuxContainerResources`
//! (`pkg/kubelet/cm/helpers_linux.go`, `kuberuntime_container_linux.go`
//! `calculateLinuxResources`).
//!
//! They live here until `cgroup-enforcer` owns them; the names are the kubelet's, so the
//! move is a re-export.

use cri_client::v1;

/// Smallest `cpu.shares` the kubelet writes (`MinShares`).
pub const MIN_SHARES: i64 = 2;
/// Largest `cpu.shares` the kubelet writes (`MaxShares`).
pub const MAX_SHARES: i64 = 262_144;
/// `cpu.shares` per whole CPU (`SharesPerCPU`).
pub const SHARES_PER_CPU: i64 = 1024;
/// Millicores per CPU (`MilliCPUToCPU`).
pub const MILLI_CPU_TO_CPU: i64 = 1000;
/// The CFS period the kubelet uses, in microseconds (`QuotaPeriod`, 100 ms).
pub const QUOTA_PERIOD: i64 = 100_000;
/// The smallest CFS quota the kubelet writes, in microseconds (`MinQuotaPeriod`, 1 ms).
pub const MIN_QUOTA_PERIOD: i64 = 1000;

/// `MilliCPUToShares`: CPU request (millicores) to `cpu.shares`.
///
/// 0 → 2 (`MinShares`); otherwise `m × 1024 / 1000` (integer division) clamped to
/// [2, 262144].
///
/// ```
/// use pod_lifecycle::cri_config::resources::milli_cpu_to_shares;
/// assert_eq!(milli_cpu_to_shares(250), 256);
/// ```
pub fn milli_cpu_to_shares(milli_cpu: i64) -> i64 {
    if milli_cpu == 0 {
        return MIN_SHARES;
    }
    let shares = milli_cpu.saturating_mul(SHARES_PER_CPU) / MILLI_CPU_TO_CPU;
    shares.clamp(MIN_SHARES, MAX_SHARES)
}

/// `milliCPUToQuota`: CPU limit (millicores) to the CFS quota for `period` µs.
///
/// 0 → 0, which the runtime reads as "no quota"; otherwise `m × period / 1000`, at least
/// 1000 µs (`MinQuotaPeriod`).
///
/// ```
/// use pod_lifecycle::cri_config::resources::{QUOTA_PERIOD, milli_cpu_to_quota};
/// assert_eq!(milli_cpu_to_quota(1500, QUOTA_PERIOD), 150_000);
/// ```
pub fn milli_cpu_to_quota(milli_cpu: i64, period: i64) -> i64 {
    if milli_cpu == 0 {
        return 0;
    }
    let quota = milli_cpu.saturating_mul(period) / MILLI_CPU_TO_CPU;
    quota.max(MIN_QUOTA_PERIOD)
}

/// `calculateLinuxResources`: the CPU and memory part of a container's CRI resources.
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
    let cpu_limit = cpu_limit_milli.unwrap_or(0);
    let cpu_shares = milli_cpu_to_shares(cpu_request_milli.unwrap_or(cpu_limit));
    let mut resources = v1::LinuxContainerResources {
        cpu_shares,
        memory_limit_in_bytes: memory_limit_bytes.unwrap_or(0),
        ..Default::default()
    };
    if cpu_cfs_quota {
        resources.cpu_period = QUOTA_PERIOD;
        resources.cpu_quota = milli_cpu_to_quota(cpu_limit, QUOTA_PERIOD);
    }
    resources
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_clamp_and_saturate() {
        assert_eq!(milli_cpu_to_shares(-5), MIN_SHARES);
        assert_eq!(milli_cpu_to_shares(i64::MAX), MAX_SHARES);
        assert_eq!(milli_cpu_to_shares(256_000), MAX_SHARES);
    }

    #[test]
    fn quota_has_a_floor() {
        assert_eq!(milli_cpu_to_quota(10, QUOTA_PERIOD), 1000);
        assert_eq!(milli_cpu_to_quota(4000, QUOTA_PERIOD), 400_000);
        assert_eq!(milli_cpu_to_quota(256_000, QUOTA_PERIOD), 25_600_000);
    }
}
