//! The `/stats/summary` document: `k8s.io/kubelet/pkg/apis/stats/v1alpha1`, one Rust type per
//! Go type, fields in the Go order with the Go JSON names.
//!
//! What the Go types mark `omitempty` is an `Option` (or a `Vec`) skipped when `None`
//! (empty); what they do not is always written, `null` included (a zero [`Time`]). Reading
//! is lenient the way Go's decoder is: a missing field takes its zero value, `null` for a
//! list reads as an empty list, unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Time;

/// The system container that tracks the kubelet (`SystemContainerKubelet`).
pub const SYSTEM_CONTAINER_KUBELET: &str = "kubelet";
/// The system container that tracks the container runtime (`SystemContainerRuntime`).
pub const SYSTEM_CONTAINER_RUNTIME: &str = "runtime";
/// The system container that tracks non-Kubernetes processes (`SystemContainerMisc`).
pub const SYSTEM_CONTAINER_MISC: &str = "misc";
/// The system container that tracks the pods (`SystemContainerPods`).
pub const SYSTEM_CONTAINER_PODS: &str = "pods";

/// The kubelet's stats summary (`Summary`): the node and every pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Overall node stats.
    #[serde(default)]
    pub node: NodeStats,
    /// Per-pod stats.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub pods: Vec<PodStats>,
}

/// Node-level stats (`NodeStats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    /// The node's name.
    #[serde(default)]
    pub node_name: String,
    /// Stats of the system daemons tracked as raw cgroups, named by the
    /// `SYSTEM_CONTAINER_*` constants.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub system_containers: Vec<ContainerStats>,
    /// When collection of the node-wide stats started (the boot time).
    #[serde(default)]
    pub start_time: Time,
    /// CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// IO pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<IoStats>,
    /// Network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStats>,
    /// The filesystem of the kubelet's root directory; `usedBytes` is the whole
    /// filesystem's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs: Option<FsStats>,
    /// The container runtime's filesystems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeStats>,
    /// The process limit and count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlimit: Option<RlimitStats>,
    /// Swap (not on Windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapStats>,
}

/// The node's process limit and count (`RlimitStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RlimitStats {
    /// When these were read.
    #[serde(default)]
    pub time: Time,
    /// The most tasks the kernel allows (the lower of `kernel.pid_max` and
    /// `kernel.threads-max`).
    #[serde(rename = "maxpid", default, skip_serializing_if = "Option::is_none")]
    pub max_pid: Option<i64>,
    /// Tasks (threads included) on the node.
    #[serde(rename = "curproc", default, skip_serializing_if = "Option::is_none")]
    pub num_of_running_processes: Option<i64>,
}

/// The container runtime's filesystems (`RuntimeStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeStats {
    /// Where images are stored; `usedBytes` is what the images take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_fs: Option<FsStats>,
    /// Where writable layers are stored; `usedBytes` is what they take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_fs: Option<FsStats>,
}

/// Process counts (`ProcessStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStats {
    /// Number of processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_count: Option<u64>,
}

/// Pod-level stats (`PodStats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    /// The pod.
    #[serde(default)]
    pub pod_ref: PodReference,
    /// When collection of the pod's stats started (the sandbox's creation).
    #[serde(default)]
    pub start_time: Time,
    /// The pod's containers.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub containers: Vec<ContainerStats>,
    /// CPU of the pod cgroup (containers and overhead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Memory of the pod cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// IO pressure of the pod cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<IoStats>,
    /// The pod's network namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStats>,
    /// The pod's volumes.
    #[serde(
        rename = "volume",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub volume_stats: Vec<VolumeStats>,
    /// Local ephemeral storage: writable layers, logs, `emptyDir` volumes and
    /// `etc-hosts`.
    #[serde(
        rename = "ephemeral-storage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ephemeral_storage: Option<FsStats>,
    /// Processes in the pod's containers.
    #[serde(
        rename = "process_stats",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub process_stats: Option<ProcessStats>,
    /// Swap of the pod cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapStats>,
}

/// Container-level stats (`ContainerStats`); also a system container's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    /// The container's name (a system container's `SYSTEM_CONTAINER_*` name).
    #[serde(default)]
    pub name: String,
    /// When collection for this container started (its creation).
    #[serde(default)]
    pub start_time: Time,
    /// CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// IO pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<IoStats>,
    /// Accelerators, one per device.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub accelerators: Vec<AcceleratorStats>,
    /// The writable layer; `usedBytes` is the layer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<FsStats>,
    /// The container's log files; `usedBytes` is theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<FsStats>,
    /// Metrics the container exposes itself.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub user_defined_metrics: Vec<UserDefinedMetric>,
    /// Swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<SwapStats>,
}

/// Names a pod (`PodReference`).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PodReference {
    /// The pod's name.
    #[serde(default)]
    pub name: String,
    /// The pod's namespace.
    #[serde(default)]
    pub namespace: String,
    /// The pod's UID.
    #[serde(default)]
    pub uid: String,
}

/// One network interface (`InterfaceStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceStats {
    /// The interface's name.
    #[serde(default)]
    pub name: String,
    /// Bytes received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_bytes: Option<u64>,
    /// Receive errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_errors: Option<u64>,
    /// Bytes sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_bytes: Option<u64>,
    /// Transmit errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_errors: Option<u64>,
}

/// Network stats (`NetworkStats`): the default interface's counters inline (Go embeds
/// `InterfaceStats`, so its `name` is always written, empty when there is no default
/// interface), then every interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStats {
    /// When these were read.
    #[serde(default)]
    pub time: Time,
    /// The default interface (`eth0`), if found.
    #[serde(flatten)]
    pub default_interface: InterfaceStats,
    /// Every interface.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub interfaces: Vec<InterfaceStats>,
}

/// CPU usage (`CPUStats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    /// When these were read.
    #[serde(default)]
    pub time: Time,
    /// Usage over the last sample window, in nanocores (nanoseconds of CPU per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_nano_cores: Option<u64>,
    /// Cumulative usage, in core-nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_core_nano_seconds: Option<u64>,
    /// CPU pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// Memory usage (`MemoryStats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    /// When these were read.
    #[serde(default)]
    pub time: Time,
    /// The limit minus the working set; absent without a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// Everything charged, page cache included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_bytes: Option<u64>,
    /// The working set: usage minus inactive file pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_set_bytes: Option<u64>,
    /// Anonymous and swap cache memory.
    #[serde(rename = "rssBytes", default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// Minor page faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_faults: Option<u64>,
    /// Major page faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major_page_faults: Option<u64>,
    /// Memory pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// IO pressure (`IOStats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IoStats {
    /// When these were read.
    #[serde(default)]
    pub time: Time,
    /// IO pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// Pressure stall information of one resource (`PSIStats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PsiStats {
    /// All tasks stalled.
    #[serde(default)]
    pub full: PsiData,
    /// Some tasks stalled.
    #[serde(default)]
    pub some: PsiData,
}

/// One line of a pressure file (`PSIData`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PsiData {
    /// Total stall time, as the pressure file gives it.
    #[serde(default)]
    pub total: u64,
    /// Percent of time stalled over the last 10 seconds.
    #[serde(default, serialize_with = "go_float")]
    pub avg10: f64,
    /// Over the last 60 seconds.
    #[serde(default, serialize_with = "go_float")]
    pub avg60: f64,
    /// Over the last 300 seconds.
    #[serde(default, serialize_with = "go_float")]
    pub avg300: f64,
}

/// Swap usage (`SwapStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapStats {
    /// When these were read.
    #[serde(default)]
    pub time: Time,
    /// The swap limit minus the usage; absent without a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_available_bytes: Option<u64>,
    /// Swap in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_usage_bytes: Option<u64>,
}

/// One accelerator (`AcceleratorStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceleratorStats {
    /// The maker (`nvidia`, `amd`, `google`).
    #[serde(default)]
    pub make: String,
    /// The model.
    #[serde(default)]
    pub model: String,
    /// The device's ID.
    #[serde(default)]
    pub id: String,
    /// Total memory in bytes.
    #[serde(default)]
    pub memory_total: u64,
    /// Allocated memory in bytes.
    #[serde(default)]
    pub memory_used: u64,
    /// Percent of the last sample period the device was busy.
    #[serde(default)]
    pub duty_cycle: u64,
}

/// One volume's filesystem usage (`VolumeStats`): the filesystem's stats inline, then
/// the volume's name and claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStats {
    /// The filesystem; `usedBytes` is the volume's.
    #[serde(flatten)]
    pub fs: FsStats,
    /// The volume's name in the pod.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The claim, for a volume from a PVC or a generic ephemeral volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_ref: Option<PvcReference>,
}

/// Names a PersistentVolumeClaim (`PVCReference`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PvcReference {
    /// The claim's name.
    #[serde(default)]
    pub name: String,
    /// The claim's namespace.
    #[serde(default)]
    pub namespace: String,
}

/// Filesystem usage (`FsStats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FsStats {
    /// When these were read.
    #[serde(default)]
    pub time: Time,
    /// Bytes available to unprivileged users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// The filesystem's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_bytes: Option<u64>,
    /// Bytes used by what these stats are about (not always the whole filesystem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    /// Free inodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes_free: Option<u64>,
    /// Total inodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes: Option<u64>,
    /// Inodes used by what these stats are about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes_used: Option<u64>,
}

/// A metric a container exposes (`UserDefinedMetric`), with its descriptor inline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserDefinedMetric {
    /// The metric's name.
    #[serde(default)]
    pub name: String,
    /// `gauge`, `cumulative` or `delta`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// Display units.
    #[serde(default)]
    pub units: String,
    /// The metric's labels.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// When the value was read.
    #[serde(default)]
    pub time: Time,
    /// The value.
    #[serde(default, serialize_with = "go_float")]
    pub value: f64,
}

/// `null` (Go's nil slice or map) reads as the empty value.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A float as Go's `encoding/json` writes it: integral values without a fraction (`0`,
/// not `0.0`).
fn go_float<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}
