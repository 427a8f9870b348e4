//! What the eviction manager sees of the node and its pods at one moment: the kubelet's
//! `signalObservations` and the parts of the summary stats its ranking reads, in plain
//! numbers, so that any stats source (nodelet's collector, a test, a simulation) can supply
//! them.

use jiff::Timestamp;

/// An amount of a resource and the capacity it is measured against (bytes, inodes or
/// process ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Available {
    /// What is left (`available`). May be negative: `allocatableMemory.available` is the
    /// pods' allocatable minus the pods' working set, which can exceed it.
    pub available: i64,
    /// The total the percentage thresholds are taken of.
    pub capacity: i64,
}

/// One filesystem: bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsObservation {
    /// Bytes available to unprivileged users, and the filesystem's size.
    pub bytes: Available,
    /// Free inodes, and the number of inodes. `None` when the filesystem does not report
    /// inodes.
    pub inodes: Option<Available>,
}

/// The node-level signals (`makeSignalObservations`). A signal whose source is missing is
/// `None`, and its thresholds are then never met.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeObservations {
    /// When the stats were collected. The manager skips a sync whose stats are not newer
    /// than the last one's.
    pub time: Option<Timestamp>,
    /// `memory.available`: the node's memory capacity minus the root cgroup's working set
    /// (usage minus inactive file).
    pub memory: Option<Available>,
    /// `allocatableMemory.available`: the pods' allocatable memory minus the working set of
    /// the pods' cgroup (`kubepods`).
    pub allocatable_memory: Option<Available>,
    /// `nodefs.*`: the filesystem of the kubelet's root dir (pod volumes, logs).
    pub nodefs: Option<FsObservation>,
    /// `imagefs.*`: the runtime's image filesystem (CRI `ImageFsInfo`). `None`, or the
    /// same numbers as `nodefs`, when images live on the node filesystem.
    pub imagefs: Option<FsObservation>,
    /// Whether the image filesystem is a filesystem of its own (then `imagefs` signals
    /// are reclaimed with image GC only, and a container's writable layer does not count
    /// towards the node filesystem).
    pub dedicated_imagefs: bool,
    /// `pid.available`: the node's pid limit minus the processes running.
    pub pid: Option<Available>,
}

/// What one container of a pod uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerUsage {
    /// The container's name.
    pub name: String,
    /// Its memory working set, in bytes.
    pub memory_working_set: Option<u64>,
    /// The bytes of its logs.
    pub logs_bytes: Option<u64>,
    /// The bytes of its writable layer.
    pub rootfs_bytes: Option<u64>,
}

/// What one pod uses (`PodStats`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodUsage {
    /// The pod's UID.
    pub uid: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its containers.
    pub containers: Vec<ContainerUsage>,
    /// The pod's memory working set (its cgroup), in bytes.
    pub memory_working_set: Option<u64>,
    /// The bytes of its local ephemeral storage: logs, writable layers and local volumes
    /// (emptyDir not on memory, and the kubelet's own volumes).
    pub ephemeral_storage_bytes: Option<u64>,
    /// The bytes each of its emptyDir volumes holds, by volume name.
    pub volumes: Vec<(String, u64)>,
    /// The processes running in the pod.
    pub process_count: Option<u64>,
}

/// One observation: the node and every pod the stats cover.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observations {
    /// The node-level signals.
    pub node: NodeObservations,
    /// The pods, in any order.
    pub pods: Vec<PodUsage>,
}
