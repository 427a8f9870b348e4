//! The kubelet's conversion formulas, as plain functions of numbers
//! (`pkg/kubelet/cm/helpers_linux.go`, `cgroup_manager_linux.go`, and
//! `opencontainers/cgroups` `utils.go` for the quadratic `cpu.weight`).
//!
//! | milliCPU | shares | quota (µs / 100000) | weight (linear) | weight (quadratic) |
//! |---|---|---|---|---|
//! | 0 | 2 | 0 (unlimited) | 1 | 1 |
//! | 100 | 102 | 10000 | 4 | 17 |
//! | 1000 | 1024 | 100000 | 39 | 100 |
//! | 256000 | 262144 | 25600000 | 10000 | 10000 |

/// Smallest `cpu.shares` the kubelet writes (`MinShares`).
pub const MIN_SHARES: u64 = 2;
/// Largest `cpu.shares` the kubelet writes (`MaxShares`).
pub const MAX_SHARES: u64 = 262_144;
/// `cpu.shares` per whole CPU (`SharesPerCPU`).
pub const SHARES_PER_CPU: u64 = 1024;
/// Millicores per CPU (`MilliCPUToCPU`).
pub const MILLI_CPU_TO_CPU: i64 = 1000;
/// The CFS period the kubelet uses, in microseconds (`QuotaPeriod`, 100 ms).
pub const QUOTA_PERIOD: u64 = 100_000;
/// The smallest CFS quota the kubelet writes, in microseconds (`MinQuotaPeriod`, 1 ms).
pub const MIN_QUOTA_PERIOD: i64 = 1000;
/// Smallest cgroup v2 `cpu.weight`.
pub const MIN_WEIGHT: u64 = 1;
/// Largest cgroup v2 `cpu.weight`.
pub const MAX_WEIGHT: u64 = 10_000;
/// The kubelet's default `memoryThrottlingFactor` (MemoryQoS).
pub const DEFAULT_MEMORY_THROTTLING_FACTOR: f64 = 0.9;
/// The page size `memory.high` is rounded down to (the kubelet's `defaultPageSize`).
pub const DEFAULT_PAGE_SIZE: i64 = 4096;

/// `MilliCPUToShares`: a CPU request in millicores to `cpu.shares`.
///
/// 0 → 2 (`MinShares`); otherwise `m × 1024 / 1000` (integer division) clamped to
/// [2, 262144]. Negative requests count as 0.
///
/// ```
/// use cgroup_enforcer::formulas::milli_cpu_to_shares;
/// assert_eq!(milli_cpu_to_shares(250), 256);
/// assert_eq!(milli_cpu_to_shares(0), 2);
/// ```
pub fn milli_cpu_to_shares(milli_cpu: i64) -> u64 {
    if milli_cpu <= 0 {
        return MIN_SHARES;
    }
    let shares = (milli_cpu as u64).saturating_mul(SHARES_PER_CPU) / MILLI_CPU_TO_CPU as u64;
    shares.clamp(MIN_SHARES, MAX_SHARES)
}

/// `milliCPUToQuota`: a CPU limit in millicores to the CFS quota for `period` µs.
///
/// 0 → 0, which the runtime reads as "no quota"; otherwise `m × period / 1000`, at least
/// 1000 µs (`MinQuotaPeriod`).
///
/// ```
/// use cgroup_enforcer::formulas::{QUOTA_PERIOD, milli_cpu_to_quota};
/// assert_eq!(milli_cpu_to_quota(1500, QUOTA_PERIOD), 150_000);
/// assert_eq!(milli_cpu_to_quota(1, QUOTA_PERIOD), 1000);
/// ```
pub fn milli_cpu_to_quota(milli_cpu: i64, period: u64) -> i64 {
    if milli_cpu <= 0 {
        return 0;
    }
    let period = i64::try_from(period).unwrap_or(i64::MAX);
    let quota = milli_cpu.saturating_mul(period) / MILLI_CPU_TO_CPU;
    quota.max(MIN_QUOTA_PERIOD)
}

/// `sharesToMilliCPU`: the CPU request a `cpu.shares` value stands for, rounded up
/// (`ceil(s × 1000 / 1024)`); the minimum shares (2) mean no request (0).
///
/// ```
/// use cgroup_enforcer::formulas::shares_to_milli_cpu;
/// assert_eq!(shares_to_milli_cpu(1024), 1000);
/// assert_eq!(shares_to_milli_cpu(2), 0);
/// ```
pub fn shares_to_milli_cpu(shares: u64) -> i64 {
    if shares <= MIN_SHARES {
        return 0;
    }
    let milli = shares
        .saturating_mul(MILLI_CPU_TO_CPU as u64)
        .div_ceil(SHARES_PER_CPU);
    i64::try_from(milli).unwrap_or(i64::MAX)
}

/// `quotaToMilliCPU`: the CPU limit a CFS quota stands for; −1 (no quota) means 0.
///
/// ```
/// use cgroup_enforcer::formulas::quota_to_milli_cpu;
/// assert_eq!(quota_to_milli_cpu(50_000, 100_000), 500);
/// assert_eq!(quota_to_milli_cpu(-1, 100_000), 0);
/// ```
pub fn quota_to_milli_cpu(quota: i64, period: u64) -> i64 {
    if quota < 0 || period == 0 {
        return 0;
    }
    let period = i64::try_from(period).unwrap_or(i64::MAX);
    quota.saturating_mul(MILLI_CPU_TO_CPU) / period
}

/// How `cpu.shares` becomes a cgroup v2 `cpu.weight`. Two formulas are in use, and the
/// container runtime picks for containers; the kubelet uses the linear one for the pod
/// and QoS cgroups it writes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuWeightConversion {
    /// The kubelet's `CpuSharesToCpuWeight` (`cgroup_manager_linux.go`), runc < 1.3.2 and
    /// crun < 1.23: `1 + ((shares − 2) × 9999) / 262142`, so 1024 shares → 39.
    #[default]
    Linear,
    /// `ConvertCPUSharesToCgroupV2Value` of `opencontainers/cgroups` (runc ≥ 1.3.2,
    /// crun ≥ 1.23): a quadratic in log space through (2, 1), (1024, 100), (262144, 10000).
    Quadratic,
}

impl CpuWeightConversion {
    /// Converts `shares` with this formula.
    pub fn weight(self, shares: u64) -> u64 {
        match self {
            CpuWeightConversion::Linear => cpu_shares_to_weight_linear(shares),
            CpuWeightConversion::Quadratic => cpu_shares_to_weight_quadratic(shares),
        }
    }
}

/// `CpuSharesToCpuWeight` (kubelet `cgroup_manager_linux.go`): the linear mapping of
/// [2, 262144] onto [1, 10000]. Shares outside that range are clamped first.
///
/// ```
/// use cgroup_enforcer::formulas::cpu_shares_to_weight_linear;
/// assert_eq!(cpu_shares_to_weight_linear(1024), 39);
/// assert_eq!(cpu_shares_to_weight_linear(2), 1);
/// ```
pub fn cpu_shares_to_weight_linear(shares: u64) -> u64 {
    let shares = shares.clamp(MIN_SHARES, MAX_SHARES);
    1 + ((shares - MIN_SHARES) * (MAX_WEIGHT - 1)) / (MAX_SHARES - MIN_SHARES)
}

/// `CpuWeightToCpuShares` (kubelet `cgroup_manager_linux.go`), the inverse of
/// [`cpu_shares_to_weight_linear`]: `2 + ((weight − 1) × 262142) / 9999`.
///
/// ```
/// use cgroup_enforcer::formulas::cpu_weight_to_shares_linear;
/// assert_eq!(cpu_weight_to_shares_linear(1), 2);
/// assert_eq!(cpu_weight_to_shares_linear(10_000), 262_144);
/// ```
pub fn cpu_weight_to_shares_linear(weight: u64) -> u64 {
    let weight = weight.clamp(MIN_WEIGHT, MAX_WEIGHT);
    MIN_SHARES + ((weight - 1) * (MAX_SHARES - MIN_SHARES)) / (MAX_WEIGHT - 1)
}

/// `ConvertCPUSharesToCgroupV2Value` (`opencontainers/cgroups` `utils.go`): 0 → 0 (unset),
/// ≤ 2 → 1, ≥ 262144 → 10000, otherwise `ceil(10^((l² + 125 l)/612 − 7/34))` with
/// `l = log2(shares)`, so 1024 shares → 100, the v2 default weight.
///
/// ```
/// use cgroup_enforcer::formulas::cpu_shares_to_weight_quadratic;
/// assert_eq!(cpu_shares_to_weight_quadratic(1024), 100);
/// assert_eq!(cpu_shares_to_weight_quadratic(0), 0);
/// ```
pub fn cpu_shares_to_weight_quadratic(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= MIN_SHARES {
        return MIN_WEIGHT;
    }
    if shares >= MAX_SHARES {
        return MAX_WEIGHT;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    (10f64.powf(exponent).ceil() as u64).clamp(MIN_WEIGHT, MAX_WEIGHT)
}

/// The MemoryQoS `memory.high` of a container (`kuberuntime_container_linux.go`): for a
/// request that differs from the limit,
/// `floor((request + factor × (limit − request)) / pageSize) × pageSize`, where a missing
/// limit (0) is replaced by the node's allocatable memory. `None` when the request equals
/// the limit, when there is nothing to throttle against, or when the result is not above
/// the request (memory.high stays `max`).
///
/// ```
/// use cgroup_enforcer::formulas::{DEFAULT_MEMORY_THROTTLING_FACTOR, memory_high};
/// let mi = 1 << 20;
/// assert_eq!(
///     memory_high(100 * mi, 200 * mi, 0, DEFAULT_MEMORY_THROTTLING_FACTOR),
///     Some(190 * mi) // 100Mi + 0.9 × 100Mi, already a whole number of pages
/// );
/// assert_eq!(memory_high(100 * mi, 100 * mi, 0, 0.9), None);
/// ```
pub fn memory_high(
    request: i64,
    limit: i64,
    node_allocatable_memory: i64,
    throttling_factor: f64,
) -> Option<i64> {
    if request == limit {
        return None;
    }
    let ceiling = if limit != 0 {
        limit
    } else if node_allocatable_memory > 0 {
        node_allocatable_memory
    } else {
        return None;
    };
    let high = ((request as f64 + (ceiling as f64 - request as f64) * throttling_factor)
        / DEFAULT_PAGE_SIZE as f64)
        .floor() as i64
        * DEFAULT_PAGE_SIZE;
    (high > request).then_some(high)
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
        assert_eq!(milli_cpu_to_quota(-3, QUOTA_PERIOD), 0);
    }

    #[test]
    fn reverse_mappings() {
        assert_eq!(shares_to_milli_cpu(102), 100);
        assert_eq!(shares_to_milli_cpu(256), 250);
        assert_eq!(quota_to_milli_cpu(150_000, QUOTA_PERIOD), 1500);
        assert_eq!(quota_to_milli_cpu(5, 0), 0);
    }
}
