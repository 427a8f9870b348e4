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

#[cfg(test)]
mod tests {
    use super::*;

    /// A summary as the kubelet writes it, read into the eviction manager's signals as the
    /// kubelet's `makeSignalObservations` reads it.
    #[test]
    fn a_summary_gives_the_kubelets_signal_observations() {
        let summary: Summary = serde_json::from_value(serde_json::json!({
            "node": {
                "nodeName": "n",
                "startTime": "2026-12-07T10:00:00Z",
                "systemContainers": [{
                    "name": "pods",
                    "startTime": "2026-12-07T10:00:00Z",
                    "memory": {"time": "2026-12-07T10:00:05Z", "availableBytes": 3000, "workingSetBytes": 1000}
                }],
                "memory": {"time": "2026-12-07T10:00:05Z", "availableBytes": 6000, "workingSetBytes": 2000},
                "fs": {"time": "2026-12-07T10:00:05Z", "availableBytes": 10, "capacityBytes": 100, "inodesFree": 5, "inodes": 50},
                "runtime": {"imageFs": {"time": "2026-12-07T10:00:05Z", "availableBytes": 20, "capacityBytes": 200}},
                "rlimit": {"time": "2026-12-07T10:00:05Z", "maxpid": 1000, "curproc": 300}
            },
            "pods": [{
                "podRef": {"name": "p", "namespace": "ns", "uid": "u"},
                "startTime": "2026-12-07T10:00:00Z",
                "containers": [{
                    "name": "c",
                    "startTime": "2026-12-07T10:00:00Z",
                    "memory": {"time": "2026-12-07T10:00:05Z", "workingSetBytes": 700},
                    "rootfs": {"time": "2026-12-07T10:00:05Z", "usedBytes": 11},
                    "logs": {"time": "2026-12-07T10:00:05Z", "usedBytes": 12}
                }],
                "memory": {"time": "2026-12-07T10:00:05Z", "workingSetBytes": 800},
                "volume": [{"time": "2026-12-07T10:00:05Z", "name": "scratch", "usedBytes": 40}],
                "ephemeral-storage": {"time": "2026-12-07T10:00:05Z", "usedBytes": 63},
                "process_stats": {"process_count": 4}
            }]
        }))
        .unwrap();
        let o = observations(&summary, true);
        let node = &o.node;
        assert_eq!(
            node.memory,
            Some(Available {
                available: 6000,
                capacity: 8000
            })
        );
        assert_eq!(
            node.allocatable_memory,
            Some(Available {
                available: 3000,
                capacity: 4000
            })
        );
        let nodefs = node.nodefs.unwrap();
        assert_eq!((nodefs.bytes.available, nodefs.bytes.capacity), (10, 100));
        assert_eq!(
            nodefs.inodes,
            Some(Available {
                available: 5,
                capacity: 50
            })
        );
        let imagefs = node.imagefs.unwrap();
        assert_eq!((imagefs.bytes.available, imagefs.inodes), (20, None));
        assert_eq!(
            node.pid,
            Some(Available {
                available: 700,
                capacity: 1000
            })
        );
        assert!(node.dedicated_imagefs);
        assert_eq!(node.time.unwrap().to_string(), "2026-12-07T10:00:05Z");
        let pod = &o.pods[0];
        assert_eq!((pod.uid.as_str(), pod.memory_working_set), ("u", Some(800)));
        assert_eq!(pod.ephemeral_storage_bytes, Some(63));
        assert_eq!(pod.volumes, [("scratch".to_owned(), 40)]);
        assert_eq!(pod.process_count, Some(4));
        let c = &pod.containers[0];
        assert_eq!(
            (c.memory_working_set, c.rootfs_bytes, c.logs_bytes),
            (Some(700), Some(11), Some(12))
        );
    }
}
