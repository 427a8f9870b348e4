//! Resource usage of a cgroup, read from its interface files on either back end (what
//! cAdvisor reports for `/stats/summary` and what the eviction manager's signals use).
//!
//! | value | cgroup v1 | cgroup v2 |
//! |---|---|---|
//! | CPU usage (ns) | `cpuacct.usage` | `cpu.stat` `usage_usec` × 1000 |
//! | memory usage | `memory.usage_in_bytes` | `memory.current` |
//! | working set | usage − `memory.stat` `total_inactive_file` | usage − `memory.stat` `inactive_file` |
//! | OOM kills | `memory.oom_control` `oom_kill` | `memory.events` `oom_kill` |
//! | pids | `pids.current` | `pids.current` |

/// Usage of one cgroup. A value is `None` when its controller is not there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupStats {
    /// Cumulative CPU time in nanoseconds.
    pub cpu_usage_ns: Option<u64>,
    /// Memory charged to the cgroup, page cache included.
    pub memory_usage_bytes: Option<u64>,
    /// Usage minus inactive file pages (cAdvisor's working set, never below 0): what the
    /// kubelet compares with limits and eviction thresholds.
    pub memory_working_set_bytes: Option<u64>,
    /// How many processes the kernel OOM killer killed in the cgroup.
    pub oom_kills: Option<u64>,
    /// Processes (and threads) in the cgroup.
    pub pids_current: Option<u64>,
}

/// The eviction signal `memory.available`: capacity − working set of the root cgroup
/// (`allocatableMemory.available` uses the pods' allocatable and the `kubepods` working
/// set). Negative when the working set exceeds the capacity.
///
/// ```
/// use cgroup_enforcer::stats::memory_available;
/// assert_eq!(memory_available(8 << 30, 6 << 30), 2 << 30);
/// ```
pub fn memory_available(capacity_bytes: i64, working_set_bytes: u64) -> i64 {
    capacity_bytes.saturating_sub(i64::try_from(working_set_bytes).unwrap_or(i64::MAX))
}
