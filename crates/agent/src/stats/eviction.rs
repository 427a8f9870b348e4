//! The eviction manager's view of a summary: the kubelet's `makeSignalObservations`, and the
//! per-pod usage its ranking and local-storage checks read
//! (`pkg/kubelet/eviction/helpers.go`).

use kubelet_server::stats::{FsStats, MemoryStats, SYSTEM_CONTAINER_PODS, Summary};
use pod_plan::eviction::{
    Available, ContainerUsage, FsObservation, NodeObservations, Observations, PodUsage,
};

/// `memory.available` from a memory stat: what is available, against available plus the
/// working set (the kubelet's capacity for the signal).
fn memory(stats: Option<&MemoryStats>) -> Option<Available> {
    let stats = stats?;
    let available = stats.available_bytes?;
    let working_set = stats.working_set_bytes?;
    Some(Available {
        available: available as i64,
        capacity: available.saturating_add(working_set) as i64,
    })
}

/// Bytes and inodes of a filesystem.
fn fs(stats: Option<&FsStats>) -> Option<FsObservation> {
    let stats = stats?;
    let bytes = Available {
        available: stats.available_bytes? as i64,
        capacity: stats.capacity_bytes? as i64,
    };
    let inodes = match (stats.inodes_free, stats.inodes) {
        (Some(free), Some(total)) => Some(Available {
            available: free as i64,
            capacity: total as i64,
        }),
        _ => None,
    };
    Some(FsObservation { bytes, inodes })
}

/// The observations of `summary`. `dedicated_imagefs` says whether the runtime's images sit
/// on a filesystem of their own (another device than the root dir's), as the kubelet's
/// `HasDedicatedImageFs` decides.
pub fn observations(summary: &Summary, dedicated_imagefs: bool) -> Observations {
    let node = &summary.node;
    let allocatable_memory = node
        .system_containers
        .iter()
        .find(|c| c.name == SYSTEM_CONTAINER_PODS)
        .and_then(|c| memory(c.memory.as_ref()));
    let pid = node.rlimit.as_ref().and_then(|r| {
        let max = r.max_pid?;
        let running = r.num_of_running_processes?;
        Some(Available {
            available: max - running,
            capacity: max,
        })
    });
    let imagefs = node.runtime.as_ref().and_then(|r| fs(r.image_fs.as_ref()));
    let nodefs = fs(node.fs.as_ref());
    let time = node
        .memory
        .as_ref()
        .and_then(|m| m.time.timestamp())
        .or_else(|| node.fs.as_ref().and_then(|f| f.time.timestamp()));
    let pods = summary
        .pods
        .iter()
        .map(|p| PodUsage {
            uid: p.pod_ref.uid.clone(),
            namespace: p.pod_ref.namespace.clone(),
            name: p.pod_ref.name.clone(),
            containers: p
                .containers
                .iter()
                .map(|c| ContainerUsage {
                    name: c.name.clone(),
                    memory_working_set: c.memory.as_ref().and_then(|m| m.working_set_bytes),
                    logs_bytes: c.logs.as_ref().and_then(|l| l.used_bytes),
                    rootfs_bytes: c.rootfs.as_ref().and_then(|r| r.used_bytes),
                })
                .collect(),
            memory_working_set: p.memory.as_ref().and_then(|m| m.working_set_bytes),
            ephemeral_storage_bytes: p.ephemeral_storage.as_ref().and_then(|e| e.used_bytes),
            volumes: p
                .volume_stats
                .iter()
                .filter_map(|v| Some((v.name.clone(), v.fs.used_bytes?)))
                .collect(),
            process_count: p.process_stats.as_ref().and_then(|s| s.process_count),
        })
        .collect();
    Observations {
        node: NodeObservations {
            time,
            memory: memory(node.memory.as_ref()),
            allocatable_memory,
            nodefs,
            imagefs,
            dedicated_imagefs,
            pid,
        },
        pods,
    }
}
