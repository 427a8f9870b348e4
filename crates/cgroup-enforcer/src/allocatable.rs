//! Node capacity, reservations and allocatable (`pkg/kubelet/cm/node_container_manager_linux.go`,
//! `container_manager_linux.go` `GetNodeAllocatableReservation`, eviction `defaults_linux.go`).
//!
//! ```text
//! Allocatable = Capacity − kubeReserved − systemReserved − hard eviction threshold
//! kubepods cgroup = Capacity − kubeReserved − systemReserved   (no eviction threshold)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::formulas::milli_cpu_to_shares;
use crate::fs;
use crate::quantity::QuantityValue;
use crate::resources::ResourceConfig;

/// The kubelet's default `maxPods`.
pub const DEFAULT_MAX_PODS: i64 = 110;

/// Resource amounts of a node: CPU in millicores, memory and ephemeral storage in bytes,
/// process IDs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeResources {
    /// CPU in millicores.
    pub cpu_milli: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage (the node filesystem) in bytes.
    pub ephemeral_storage: i64,
    /// Process IDs.
    pub pids: i64,
}

impl NodeResources {
    /// Reads a resource list as in `kubeReserved: {cpu: 100m, memory: 1Gi, pid: "100"}`:
    /// `cpu`, `memory`, `ephemeral-storage` and `pid`; other names are refused. `field`
    /// names the setting in errors.
    pub fn parse<'a>(
        field: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self> {
        let mut resources = NodeResources::default();
        for (name, text) in entries {
            let invalid = |message: String| Error::InvalidConfig {
                field: format!("{field}.{name}"),
                message,
            };
            let value = QuantityValue::parse(text).map_err(|e| invalid(e.to_string()))?;
            if value.is_negative() {
                return Err(invalid(format!("{text:?}: must not be negative")));
            }
            let read =
                |v: Result<i64, _>| v.map_err(|e: crate::QuantityError| invalid(e.to_string()));
            match name {
                "cpu" => resources.cpu_milli = read(value.milli_value())?,
                "memory" => resources.memory = read(value.value())?,
                "ephemeral-storage" => resources.ephemeral_storage = read(value.value())?,
                "pid" => resources.pids = read(value.value())?,
                other => {
                    return Err(invalid(format!(
                        "unsupported resource {other:?} (cpu, memory, ephemeral-storage, pid)"
                    )));
                }
            }
        }
        Ok(resources)
    }

    fn add(self, other: NodeResources) -> NodeResources {
        NodeResources {
            cpu_milli: self.cpu_milli.saturating_add(other.cpu_milli),
            memory: self.memory.saturating_add(other.memory),
            ephemeral_storage: self
                .ephemeral_storage
                .saturating_add(other.ephemeral_storage),
            pids: self.pids.saturating_add(other.pids),
        }
    }
}

/// Where host facts are read from; every path can point into a test tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPaths {
    /// The proc filesystem (`/proc`): `cpuinfo`, `meminfo`, `sys/kernel/pid_max`.
    pub proc: PathBuf,
    /// The filesystem whose size is the ephemeral-storage capacity (the kubelet's root
    /// directory, `/var/lib/kubelet`); `None` reports 0.
    pub node_fs: Option<PathBuf>,
}

impl Default for HostPaths {
    fn default() -> Self {
        HostPaths {
            proc: PathBuf::from("/proc"),
            node_fs: None,
        }
    }
}

/// The node's capacity: CPUs from `cpuinfo` (`processor` lines, × 1000), memory from
/// `meminfo` `MemTotal`, pids from `sys/kernel/pid_max`, ephemeral storage from the size of
/// the `node_fs` filesystem.
pub fn read_capacity(paths: &HostPaths) -> Result<NodeResources> {
    let cpuinfo_path = paths.proc.join("cpuinfo");
    let cpuinfo = fs::read(&cpuinfo_path)?;
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
        .count() as i64;
    if cpus == 0 {
        return Err(Error::Parse {
            path: cpuinfo_path,
            message: "no processor entries".into(),
        });
    }
    let meminfo_path = paths.proc.join("meminfo");
    let meminfo = fs::read(&meminfo_path)?;
    let mem_kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| Error::Parse {
            path: meminfo_path,
            message: "no MemTotal line".into(),
        })?;
    let pid_max_path = paths.proc.join("sys/kernel/pid_max");
    let pids = fs::read_u64_or_max(&pid_max_path)?.ok_or_else(|| Error::Parse {
        path: pid_max_path,
        message: "pid_max is not a number".into(),
    })?;
    let ephemeral_storage = match &paths.node_fs {
        Some(path) => filesystem_size(path)?,
        None => 0,
    };
    Ok(NodeResources {
        cpu_milli: cpus * 1000,
        memory: mem_kb.saturating_mul(1024),
        ephemeral_storage,
        pids: pids as i64,
    })
}

fn filesystem_size(path: &Path) -> Result<i64> {
    let stat = rustix::fs::statvfs(path).map_err(|e| Error::io("statvfs", path, None, e.into()))?;
    Ok((stat.f_blocks as i64).saturating_mul(stat.f_frsize as i64))
}

pub use pod_plan::eviction::{EvictionSignal, ThresholdValue};

/// Hard eviction thresholds (`evictionHard`), by signal.
#[derive(Debug, Clone, PartialEq)]
pub struct EvictionThresholds(pub BTreeMap<EvictionSignal, ThresholdValue>);

impl Default for EvictionThresholds {
    /// The Linux defaults (`defaults_linux.go`): `memory.available<100Mi`,
    /// `nodefs.available<10%`, `nodefs.inodesFree<5%`, `imagefs.available<15%`,
    /// `imagefs.inodesFree<5%` ([`pod_plan::eviction::default_eviction_hard`]).
    fn default() -> Self {
        EvictionThresholds(pod_plan::eviction::default_eviction_hard())
    }
}

impl EvictionThresholds {
    /// Parses the config map form (`{"memory.available": "100Mi", "nodefs.available":
    /// "10%"}`) with [`pod_plan::eviction::parse_thresholds`]. As in the kubelet, a map
    /// replaces the defaults entirely; `0%` and `100%` are ignored, and a value of `0`
    /// switches the signal off.
    pub fn parse<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        pod_plan::eviction::parse_thresholds("evictionHard", entries)
            .map(EvictionThresholds)
            .map_err(|e| match e {
                pod_plan::Error::InvalidEvictionConfig { field, message } => {
                    Error::InvalidConfig { field, message }
                }
                other => Error::InvalidConfig {
                    field: "evictionHard".into(),
                    message: other.to_string(),
                },
            })
    }

    /// Parses the flag form (`memory.available<100Mi,nodefs.available<10%`); only `<` is
    /// an operator.
    pub fn parse_flag(text: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('<').ok_or_else(|| Error::InvalidConfig {
                field: "evictionHard".into(),
                message: format!("{part:?}: expected <signal><<quantity>"),
            })?;
            entries.push((name.trim(), value.trim()));
        }
        EvictionThresholds::parse(entries)
    }

    /// `GetNodeAllocatableReservation`'s eviction part: `memory.available` reserves memory,
    /// `nodefs.available` reserves ephemeral storage; percentages against `capacity`.
    pub fn reservation(&self, capacity: &NodeResources) -> NodeResources {
        let get = |signal, cap| {
            self.0
                .get(&signal)
                .map(|v: &ThresholdValue| v.resolve(cap))
                .unwrap_or(0)
        };
        NodeResources {
            memory: get(EvictionSignal::MemoryAvailable, capacity.memory),
            ephemeral_storage: get(EvictionSignal::NodefsAvailable, capacity.ephemeral_storage),
            ..Default::default()
        }
    }
}

/// What is set aside on a node: `kubeReserved`, `systemReserved`, `evictionHard`,
/// `maxPods`, `podsPerCore`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservations {
    /// `kubeReserved`.
    pub kube_reserved: NodeResources,
    /// `systemReserved`.
    pub system_reserved: NodeResources,
    /// `evictionHard` (defaults: [`EvictionThresholds::default`]).
    pub eviction_hard: EvictionThresholds,
    /// `maxPods` (default 110).
    pub max_pods: i64,
    /// `podsPerCore` (default 0: off).
    pub pods_per_core: i64,
}

impl Default for Reservations {
    fn default() -> Self {
        Reservations {
            kube_reserved: NodeResources::default(),
            system_reserved: NodeResources::default(),
            eviction_hard: EvictionThresholds::default(),
            max_pods: DEFAULT_MAX_PODS,
            pods_per_core: 0,
        }
    }
}

/// A node's allocatable, as reported in `status.allocatable`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeAllocatable {
    /// Resources left for pods.
    pub resources: NodeResources,
    /// How many pods the node takes (`maxPods`, or `podsPerCore × cores` when smaller).
    pub pods: i64,
}

/// The node allocatable for the status: capacity − kubeReserved − systemReserved − the hard
/// eviction threshold (memory and ephemeral storage), per resource, never below 0; pods =
/// `maxPods`, or `min(cores × podsPerCore, maxPods)` when `podsPerCore > 0`.
///
/// Errors when the reservations exceed the capacity (the kubelet refuses to start).
///
/// ```
/// use cgroup_enforcer::allocatable::{NodeResources, Reservations, node_allocatable};
/// let capacity = NodeResources { cpu_milli: 4000, memory: 8 << 30, ephemeral_storage: 100 << 30, pids: 32768 };
/// let a = node_allocatable(&capacity, &Reservations::default())?;
/// assert_eq!(a.resources.memory, (8 << 30) - (100 << 20));
/// assert_eq!(a.pods, 110);
/// # Ok::<(), cgroup_enforcer::Error>(())
/// ```
pub fn node_allocatable(
    capacity: &NodeResources,
    reservations: &Reservations,
) -> Result<NodeAllocatable> {
    let reserved = reservations
        .kube_reserved
        .add(reservations.system_reserved)
        .add(reservations.eviction_hard.reservation(capacity));
    check_reservation(capacity, &reserved)?;
    let resources = subtract(capacity, &reserved);
    let mut pods = reservations.max_pods;
    if reservations.pods_per_core > 0 {
        let cores = capacity.cpu_milli / 1000;
        pods = pods.min(cores.saturating_mul(reservations.pods_per_core));
    }
    Ok(NodeAllocatable { resources, pods })
}

/// The `kubepods` cgroup's settings (`getCgroupConfig` of the node allocatable, with
/// `enforceNodeAllocatable: [pods]`): memory limit = capacity − kubeReserved −
/// systemReserved (the eviction threshold is **not** subtracted, so the kernel OOM killer
/// comes after eviction), `cpu.shares` from the CPU left, `pids.max` from the pids left.
pub fn kubepods_resource_config(
    capacity: &NodeResources,
    reservations: &Reservations,
) -> Result<ResourceConfig> {
    let reserved = reservations.kube_reserved.add(reservations.system_reserved);
    check_reservation(capacity, &reserved)?;
    let left = subtract(capacity, &reserved);
    Ok(ResourceConfig {
        cpu_shares: Some(milli_cpu_to_shares(left.cpu_milli)),
        memory_limit: (left.memory > 0).then_some(left.memory),
        pids_limit: (left.pids > 0).then_some(left.pids),
        ..Default::default()
    })
}

fn subtract(capacity: &NodeResources, reserved: &NodeResources) -> NodeResources {
    NodeResources {
        cpu_milli: (capacity.cpu_milli - reserved.cpu_milli).max(0),
        memory: (capacity.memory - reserved.memory).max(0),
        ephemeral_storage: (capacity.ephemeral_storage - reserved.ephemeral_storage).max(0),
        pids: (capacity.pids - reserved.pids).max(0),
    }
}

fn check_reservation(capacity: &NodeResources, reserved: &NodeResources) -> Result<()> {
    let checks = [
        ("cpu", capacity.cpu_milli, reserved.cpu_milli),
        ("memory", capacity.memory, reserved.memory),
        (
            "ephemeral-storage",
            capacity.ephemeral_storage,
            reserved.ephemeral_storage,
        ),
        ("pid", capacity.pids, reserved.pids),
    ];
    for (name, cap, res) in checks {
        // A capacity of 0 means "unknown" (e.g. no node filesystem given): nothing to check.
        if cap > 0 && res > cap {
            return Err(Error::InvalidConfig {
                field: format!("reservations.{name}"),
                message: format!("reserved {res} is more than the capacity {cap}"),
            });
        }
    }
    Ok(())
}
