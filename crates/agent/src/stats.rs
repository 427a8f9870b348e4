//! The node's stats for the kubelet API: the `/stats/summary` document and the cgroups of
//! `/metrics/cadvisor`, measured on request by a [`StatsCollector`].
//!
//! The kubelet builds its summary with its CRI stats provider on containerd: the runtime
//! says which pods and containers run (`ListPodSandbox`, `ListContainers`,
//! `ListContainerStats`) and how much disk their writable layers take; its embedded cAdvisor
//! measures CPU, memory, swap, processes and network from cgroups and network namespaces;
//! the kubelet itself adds filesystems, logs, volumes and process limits. The collector does
//! the same from the same sources, without cAdvisor's background housekeeping:
//!
//! | part | source |
//! |---|---|
//! | node CPU, memory, swap, IO | the root cgroup ([`cgroup_enforcer::CgroupStats`] and `memory.stat`); the machine's memory as its limit |
//! | node network | `/proc/1/net/dev` (cAdvisor's interface filter; `eth0` is the default) |
//! | node fs | `statvfs` of the root directory |
//! | imageFs, containerFs | CRI `ImageFsInfo`, with `statvfs` of its mount point |
//! | rlimit | `kernel.pid_max`/`threads-max`, `/proc/loadavg` |
//! | system containers | `pods` from the `kubepods` cgroup; `kubelet` from the agent's own cgroup when CPU and memory share one, as the kubelet finds its own |
//! | pod CPU, memory, swap, IO | the pod cgroup (summed from the containers when it cannot be found) |
//! | container CPU, memory, swap | the container's cgroup, over the runtime's numbers |
//! | container rootfs | CRI `ContainerStats` writable layer |
//! | container logs | disk usage of the files in `<podLogsDir>/<ns>_<name>_<uid>/<container>/` |
//! | pod network | `/proc/<pid>/net/dev` of the sandbox's process |
//! | volumes | disk usage of each `emptyDir`, `configMap`, `secret`, `projected` and `downwardAPI` volume directory |
//! | ephemeral-storage | writable layers, logs, local ephemeral volumes and `etc-hosts` |
//! | process_stats | processes in the containers' cgroups |
//!
//! Every path built from a pod's UID, name or volume goes through the validated helpers
//! ([`RootDir`], [`pod_log_dir`], the cgroup names), so no name from a pod leads outside
//! its directory.
//!
//! Departures, on purpose: the values are read on each request rather than from a cache
//! cAdvisor refreshes every 10 to 15 seconds (so `usageNanoCores` is the rate since the
//! previous request at least a second ago, 0 the first time, as cAdvisor's is before its
//! second sample); volume usage is measured on each full summary rather than every minute.

mod cgroup;
pub mod eviction;
mod host;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cgroup_enforcer::QosClass;
use cgroup_enforcer::names::{CgroupDriver, pod_cgroup_name, qos_cgroup_name};
use cri_client::{ImageService, RuntimeService, v1};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kubelet_server::stats::{
    CgroupInfo, CgroupMemory, ContainerStats, CpuStats, FilesystemUsage, FsStats, InterfaceStats,
    IoStats, MemoryStats, NetworkStats, NodeStats, PodReference, PodStats, ProcessCounts,
    ProcessStats, RlimitStats, RuntimeStats, SYSTEM_CONTAINER_KUBELET, SYSTEM_CONTAINER_PODS,
    Summary, SwapStats, Time, VolumeStats,
};
use pod_lifecycle::logs::pod_log_dir;
use pod_lifecycle::worker::NodeCgroups;
use pod_plan::labels;
use pod_plan::validation::check_path_component;
use volume_manager::layout::RootDir;

use self::cgroup::{CgroupReading, Machine};
use self::host::{DEFAULT_INTERFACE, DiskUsage, FsInfo};

/// How long a CPU sample is kept for the next rate (the kubelet's `defaultCachePeriod`).
const RATE_CACHE_PERIOD_SECONDS: i64 = 10 * 60;
/// The least time between two CPU samples a rate is computed from.
const MIN_RATE_WINDOW_NANOS: i128 = 1_000_000_000;

/// Volume plugins whose directories the kubelet measures (`MetricsDu`), by the pod spec's
/// volume source.
const EMPTY_DIR: &str = "kubernetes.io/empty-dir";
const CONFIG_MAP: &str = "kubernetes.io/configmap";
const SECRET: &str = "kubernetes.io/secret";
const PROJECTED: &str = "kubernetes.io/projected";
const DOWNWARD_API: &str = "kubernetes.io/downward-api";

/// Where the stats collector looks: the node's name and directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsConfig {
    /// The node's name (`node.nodeName`).
    pub node_name: String,
    /// The agent's root directory (`--root-dir`): the node filesystem and the pods'
    /// volume directories.
    pub root_dir: PathBuf,
    /// `podLogsDir`: the containers' log files.
    pub pod_logs_dir: PathBuf,
    /// The runtime's sandbox (pause) image, the `image` label of sandboxes in
    /// `/metrics/cadvisor`; empty when unknown.
    pub sandbox_image: String,
}

impl StatsConfig {
    /// The node `node_name` with these directories and no sandbox image.
    pub fn new(
        node_name: impl Into<String>,
        root_dir: impl Into<PathBuf>,
        pod_logs_dir: impl Into<PathBuf>,
    ) -> Self {
        StatsConfig {
            node_name: node_name.into(),
            root_dir: root_dir.into(),
            pod_logs_dir: pod_logs_dir.into(),
            sandbox_image: String::new(),
        }
    }
}

/// Why a summary or the cgroups could not be measured. Per-pod problems (a cgroup gone, a
/// log directory missing) never fail a summary: the values are left out, as the kubelet
/// does.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// A CRI call failed.
    #[error("failed to {call}: {source}")]
    Runtime {
        /// What was asked (`list all containers`).
        call: &'static str,
        /// The runtime's error.
        source: cri_client::Error,
    },
    /// The root cgroup could not be read.
    #[error("failed to get root cgroup stats: {0}")]
    RootCgroup(cgroup_enforcer::Error),
    /// The root directory's filesystem could not be read.
    #[error("failed to get rootFs info: {path}: {source}")]
    RootFs {
        /// The root directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The runtime reported no image filesystem.
    #[error("failed to get imageFs stats: imageFs information is unavailable")]
    NoImageFs,
    /// The blocking part of the collection panicked or was cancelled.
    #[error("collecting stats failed: {0}")]
    Task(tokio::task::JoinError),
}

impl From<StatsError> for kubelet_server::Error {
    /// A 500, with the kubelet's wording of what failed.
    fn from(e: StatsError) -> Self {
        kubelet_server::Error::Runtime(format!("Internal Error: {e}"))
    }
}

/// Measures the node for the kubelet API: [`StatsCollector::summary`] for
/// `/stats/summary` (and `/metrics/resource`), [`StatsCollector::cadvisor_cgroups`] for
/// `/metrics/cadvisor`. Cheap to clone; the clones share the CPU samples rates are computed
/// from.
///
/// ```no_run
/// # async fn run(runtime: std::sync::Arc<cri_client::GrpcRuntime>, cgroups: pod_lifecycle::worker::NodeCgroups) {
/// use agent::stats::{StatsCollector, StatsConfig};
///
/// let collector = StatsCollector::new(
///     StatsConfig::new("node-1", "/var/lib/kubelet", "/var/log/pods"),
///     runtime.clone(),
///     runtime,
///     cgroups,
///     Vec::new, // the pods the agent manages
/// );
/// let summary = collector.summary(false).await.unwrap();
/// println!("{}", serde_json::to_string_pretty(&summary).unwrap());
/// # }
/// ```
#[derive(Clone)]
pub struct StatsCollector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StatsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsCollector")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

type PodsFn = dyn Fn() -> Vec<Pod> + Send + Sync;

struct Inner {
    config: StatsConfig,
    runtime: Arc<dyn RuntimeService>,
    images: Arc<dyn ImageService>,
    cgroups: NodeCgroups,
    pods: Box<PodsFn>,
    /// The `kubelet` system container's start time: when the collector was made (the
    /// kubelet's `kubeletCreationTime`).
    started: Timestamp,
    proc: PathBuf,
    rates: Mutex<HashMap<String, CpuSample>>,
}

/// The last CPU sample of a cgroup and the rate computed at it.
#[derive(Clone, Copy, Debug)]
struct CpuSample {
    at: Timestamp,
    usage_ns: u64,
    nano_cores: u64,
}

/// The runtime at one moment, as the kubelet's `getPodAndContainerMaps` keeps it: sandboxes
/// without the terminated instances of a pod that has a ready one, running containers, and
/// the containers' stats.
struct RuntimeView {
    sandboxes: HashMap<String, v1::PodSandbox>,
    containers: HashMap<String, v1::Container>,
    stats: Vec<v1::ContainerStats>,
}

impl StatsCollector {
    /// A collector for the node `config` names, reading the runtime through `runtime` and
    /// `images`, the cgroups through `cgroups`, and the pods the agent manages from `pods`
    /// (for their volumes and images; a pod the runtime runs but `pods` does not know is
    /// still reported, from the runtime and its cgroups).
    pub fn new(
        config: StatsConfig,
        runtime: Arc<dyn RuntimeService>,
        images: Arc<dyn ImageService>,
        cgroups: NodeCgroups,
        pods: impl Fn() -> Vec<Pod> + Send + Sync + 'static,
    ) -> Self {
        StatsCollector {
            inner: Arc::new(Inner {
                config,
                runtime,
                images,
                cgroups,
                pods: Box::new(pods),
                started: Timestamp::now(),
                proc: PathBuf::from(host::PROC),
                rates: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The `/stats/summary` document; with `only_cpu_and_memory`, only CPU, memory and
    /// swap of the node, its system containers, the pods and their containers (the
    /// kubelet's `GetCPUAndMemoryStats`, what `/metrics/resource` and metrics-server use).
    pub async fn summary(&self, only_cpu_and_memory: bool) -> Result<Summary, StatsError> {
        let view = self.inner.runtime_view().await?;
        let image_fs = if only_cpu_and_memory {
            None
        } else {
            let info = self
                .inner
                .images
                .image_fs_info(v1::ImageFsInfoRequest {})
                .await
                .map_err(|source| StatsError::Runtime {
                    call: "get imageFs info",
                    source,
                })?;
            Some(
                info.image_filesystems
                    .into_iter()
                    .next()
                    .ok_or(StatsError::NoImageFs)?,
            )
        };
        let pods = (self.inner.pods)();
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.summary(only_cpu_and_memory, &view, &pods, image_fs)
        })
        .await
        .map_err(StatsError::Task)?
    }

    /// The v1 memory cgroups of the root and of `kubepods`, for the eviction manager's
    /// memory threshold notifications; `None` on cgroup v2, which has no thresholds.
    pub fn memcg_dirs(&self) -> Option<crate::eviction::MemcgDirs> {
        match self.inner.cgroups.manager().cgroups() {
            cgroup_enforcer::Cgroups::V1(h) => Some(crate::eviction::MemcgDirs {
                root: h.controller_path("memory", Path::new("")),
                kubepods: h.controller_path("memory", &self.inner.kubepods_rel()),
            }),
            cgroup_enforcer::Cgroups::V2(_) => None,
        }
    }

    /// The cgroups `/metrics/cadvisor` reports: the root, `kubepods` and its QoS cgroups,
    /// each pod cgroup, each running container and ready sandbox.
    pub async fn cadvisor_cgroups(&self) -> Result<Vec<CgroupInfo>, StatsError> {
        let view = self.inner.runtime_view().await?;
        let pods = (self.inner.pods)();
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.cadvisor_cgroups(&view, &pods))
            .await
            .map_err(StatsError::Task)?
    }
}

impl Inner {
    async fn runtime_view(&self) -> Result<RuntimeView, StatsError> {
        let runtime = self.runtime.as_ref();
        let (sandboxes, containers, stats) = tokio::try_join!(
            async {
                runtime
                    .list_pod_sandbox(v1::ListPodSandboxRequest::default())
                    .await
                    .map_err(|source| StatsError::Runtime {
                        call: "list all pod sandboxes",
                        source,
                    })
            },
            async {
                runtime
                    .list_containers(v1::ListContainersRequest::default())
                    .await
                    .map_err(|source| StatsError::Runtime {
                        call: "list all containers",
                        source,
                    })
            },
            async {
                runtime
                    .list_container_stats(v1::ListContainerStatsRequest::default())
                    .await
                    .map_err(|source| StatsError::Runtime {
                        call: "list all container stats",
                        source,
                    })
            },
        )?;
        let running = v1::ContainerState::ContainerRunning as i32;
        Ok(RuntimeView {
            sandboxes: remove_terminated_pods(sandboxes.items)
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect(),
            containers: containers
                .containers
                .into_iter()
                .filter(|c| c.state == running)
                .map(|c| (c.id.clone(), c))
                .collect(),
            stats: stats.stats,
        })
    }

    fn machine(&self) -> Machine {
        let meminfo = std::fs::read_to_string(self.proc.join("meminfo")).unwrap_or_default();
        let stat = std::fs::read_to_string(self.proc.join("stat")).unwrap_or_default();
        Machine {
            memory_total: host::meminfo_bytes(&meminfo, "MemTotal"),
            swap_total: host::meminfo_bytes(&meminfo, "SwapTotal"),
            boot_time: host::boot_time(&stat).and_then(|s| Timestamp::from_second(s).ok()),
        }
    }

    fn cgroups(&self) -> &cgroup_enforcer::Cgroups {
        self.cgroups.manager().cgroups()
    }

    /// Reads a cgroup; a failure is logged and counts as absent (the kubelet skips what
    /// cAdvisor cannot give).
    fn read(&self, rel: &Path, machine: &Machine) -> Option<CgroupReading> {
        match cgroup::read(self.cgroups(), rel, machine) {
            Ok(reading) => reading,
            Err(e) => {
                tracing::debug!(cgroup = %rel.display(), error = %e, "cannot read cgroup stats");
                None
            }
        }
    }

    /// `kubepods` (the kubelet's `GetPodCgroupRoot`): the `pods` system container.
    fn kubepods_rel(&self) -> PathBuf {
        let manager = self.cgroups.manager();
        if manager.config().cgroups_per_qos {
            manager.relative_path(&qos_cgroup_name(manager.root(), QosClass::Guaranteed))
        } else {
            manager.relative_path(manager.root())
        }
    }

    /// The pod cgroup of `uid`, found as cAdvisor finds it (by name, in whichever QoS class
    /// holds it; the pod's own class first when the pod is known).
    fn pod_cgroup_rel(&self, uid: &str, pod: Option<&Pod>) -> Option<PathBuf> {
        let manager = self.cgroups.manager();
        if !manager.config().cgroups_per_qos {
            return None;
        }
        let mut classes = vec![
            QosClass::Guaranteed,
            QosClass::Burstable,
            QosClass::BestEffort,
        ];
        if let Some(qos) = pod.map(cgroup_enforcer::pod_qos) {
            classes.retain(|c| *c != qos);
            classes.insert(0, qos);
        }
        classes.into_iter().find_map(|qos| {
            let name = pod_cgroup_name(manager.root(), qos, uid).ok()?;
            let rel = manager.relative_path(&name);
            self.cgroups().exists(&rel).then_some(rel)
        })
    }

    /// The cgroup of container (or sandbox) `id` in a pod whose cgroup is `pod_rel` (the
    /// cgroup root without per-QoS cgroups): `<pod>/<id>` with cgroupfs,
    /// `<pod>/cri-containerd-<id>.scope` with systemd, as containerd makes them.
    fn container_rel(&self, pod_rel: Option<&Path>, id: &str) -> Option<PathBuf> {
        check_path_component(id).ok()?;
        let manager = self.cgroups.manager();
        let parent = match pod_rel {
            Some(rel) => rel.to_owned(),
            None if !manager.config().cgroups_per_qos => manager.relative_path(manager.root()),
            None => return None,
        };
        Some(match manager.config().driver {
            CgroupDriver::Cgroupfs => parent.join(id),
            CgroupDriver::Systemd => parent.join(format!("cri-containerd-{id}.scope")),
        })
    }

    /// usageNanoCores for a cgroup read at `at` with `usage_ns`: the rate since the sample
    /// kept for it, when that is at least a second old (then this one is kept); 0 for a
    /// first sample, as cAdvisor before its second.
    fn nano_cores(&self, key: &str, at: Timestamp, usage_ns: u64) -> u64 {
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        match rates.get_mut(key) {
            Some(sample) if usage_ns >= sample.usage_ns => {
                let window = at.as_nanosecond() - sample.at.as_nanosecond();
                if window >= MIN_RATE_WINDOW_NANOS {
                    let used = (usage_ns - sample.usage_ns) as f64;
                    sample.nano_cores = (used / window as f64 * 1e9) as u64;
                    sample.at = at;
                    sample.usage_ns = usage_ns;
                }
                sample.nano_cores
            }
            _ => {
                rates.insert(
                    key.to_owned(),
                    CpuSample {
                        at,
                        usage_ns,
                        nano_cores: 0,
                    },
                );
                0
            }
        }
    }

    /// Forgets the samples of cgroups not read for the cache period.
    fn prune_rates(&self) {
        let now = Timestamp::now().as_second();
        let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
        rates.retain(|_, s| now - s.at.as_second() <= RATE_CACHE_PERIOD_SECONDS);
    }

    /// cAdvisor's CPU stats of a cgroup (`cadvisorInfoToCPUandMemoryStats`).
    fn cpu_stats(&self, key: &str, r: &CgroupReading) -> CpuStats {
        let time = Time::from(r.at.unwrap_or_else(Timestamp::now));
        match (r.cpu_ns, r.at) {
            (Some(ns), Some(at)) => CpuStats {
                time,
                usage_nano_cores: Some(self.nano_cores(key, at, ns)),
                usage_core_nano_seconds: Some(ns),
                psi: Some(r.psi[0].clone()),
            },
            _ => CpuStats {
                time,
                usage_nano_cores: Some(0),
                usage_core_nano_seconds: Some(0),
                psi: None,
            },
        }
    }

    /// The root cgroup read, or the error that fails the whole summary.
    fn read_root(&self, machine: &Machine) -> Result<CgroupReading, StatsError> {
        cgroup::read(self.cgroups(), Path::new(""), machine)
            .map_err(StatsError::RootCgroup)?
            .ok_or_else(|| {
                StatsError::RootCgroup(cgroup_enforcer::Error::NoCgroupMount {
                    path: self.cgroups().root().to_owned(),
                    mount_point: self.cgroups().root().to_owned(),
                })
            })
    }

    fn summary(
        &self,
        only_cpu_and_memory: bool,
        view: &RuntimeView,
        pods: &[Pod],
        image_fs: Option<v1::FilesystemUsage>,
    ) -> Result<Summary, StatsError> {
        let machine = self.machine();
        let root = self.read_root(&machine)?;
        let full = !only_cpu_and_memory;
        let root_fs = if full {
            let info = FsInfo::of(&self.config.root_dir).map_err(|source| StatsError::RootFs {
                path: self.config.root_dir.clone(),
                source,
            })?;
            Some((Time::now(), info))
        } else {
            None
        };
        let mut fs_cache = HashMap::new();
        let pod_stats = self.pod_stats(full, view, pods, &machine, root_fs.as_ref(), &mut fs_cache);

        let mut node = NodeStats {
            node_name: self.config.node_name.clone(),
            system_containers: self.system_containers(full, &machine),
            start_time: (if full {
                machine.boot_time
            } else {
                root.created
            })
            .or_zero(),
            cpu: Some(self.cpu_stats("/", &root)),
            memory: Some(memory_stats(&root)),
            swap: swap_stats(&root),
            ..Default::default()
        };
        if let (Some((time, info)), Some(image_fs)) = (root_fs, image_fs) {
            node.io = io_stats(&root);
            node.network = self.network_of_pid(1, root.at);
            node.fs = Some(FsStats {
                time: root.at.or_zero(),
                used_bytes: Some(info.usage),
                inodes_used: Some(info.inodes.saturating_sub(info.inodes_free)),
                ..fs_base(time, &info)
            });
            let image_fs = self.image_fs(image_fs, &mut fs_cache);
            node.runtime = Some(RuntimeStats {
                image_fs: Some(image_fs.clone()),
                container_fs: Some(image_fs),
            });
            node.rlimit = Some(self.rlimit());
        }
        self.prune_rates();
        Ok(Summary {
            node,
            pods: pod_stats,
        })
    }

    /// The `kubelet` (when its cgroup can be told) and `pods` system containers
    /// (`GetSystemContainersStats`; no `runtime` or `misc` without `--runtime-cgroups` and
    /// `--system-cgroups`, which nodelet does not have).
    fn system_containers(&self, full: bool, machine: &Machine) -> Vec<ContainerStats> {
        let own = std::fs::read_to_string(self.proc.join("self/cgroup"))
            .ok()
            .and_then(|text| host::own_cgroup(&text, self.cgroups().is_v2()));
        let mut out = Vec::new();
        let systems = [
            (
                SYSTEM_CONTAINER_KUBELET,
                own.map(|p| PathBuf::from(p.trim_start_matches('/'))),
                Some(self.started),
            ),
            (SYSTEM_CONTAINER_PODS, Some(self.kubepods_rel()), None),
        ];
        for (name, rel, start) in systems {
            let Some(rel) = rel else { continue };
            let Some(r) = self.read(&rel, machine) else {
                continue;
            };
            out.push(ContainerStats {
                name: name.to_owned(),
                start_time: start.or(r.created).or_zero(),
                cpu: Some(self.cpu_stats(&cgroup_id(&rel), &r)),
                memory: Some(memory_stats(&r)),
                io: if full { io_stats(&r) } else { None },
                swap: swap_stats(&r),
                ..Default::default()
            });
        }
        out
    }

    fn rlimit(&self) -> RlimitStats {
        let loadavg = std::fs::read_to_string(self.proc.join("loadavg")).unwrap_or_default();
        RlimitStats {
            time: Time::now(),
            max_pid: host::max_pids(&self.proc),
            num_of_running_processes: host::running_tasks(&loadavg),
        }
    }

    /// `ImageFsStats`: the runtime's usage, the filesystem's size.
    fn image_fs(
        &self,
        usage: v1::FilesystemUsage,
        fs_cache: &mut HashMap<String, Option<FsInfo>>,
    ) -> FsStats {
        let mut stats = FsStats {
            time: ns_time(usage.timestamp),
            used_bytes: usage.used_bytes.map(|v| v.value),
            inodes_used: usage.inodes_used.map(|v| v.value),
            ..Default::default()
        };
        if let Some(info) = usage
            .fs_id
            .and_then(|id| fs_info_cached(fs_cache, &id.mountpoint))
        {
            stats.available_bytes = Some(info.available);
            stats.capacity_bytes = Some(info.capacity);
            stats.inodes_free = Some(info.inodes_free);
            stats.inodes = Some(info.inodes);
        }
        stats
    }

    /// The network of process `pid`'s namespace, as cAdvisor reports a sandbox's (or the
    /// root's): every interface but the ignored ones, `eth0` as the default.
    fn network_of_pid(&self, pid: i32, at: Option<Timestamp>) -> Option<NetworkStats> {
        let interfaces = match host::read_net_dev(&self.proc, pid) {
            Ok(i) => i,
            Err(e) => {
                tracing::debug!(pid, error = %e, "cannot read network stats");
                return None;
            }
        };
        let interfaces: Vec<InterfaceStats> = interfaces
            .into_iter()
            .map(|i| InterfaceStats {
                name: i.name,
                rx_bytes: Some(i.rx_bytes),
                rx_errors: Some(i.rx_errors),
                tx_bytes: Some(i.tx_bytes),
                tx_errors: Some(i.tx_errors),
            })
            .collect();
        Some(NetworkStats {
            time: at.or_zero(),
            default_interface: interfaces
                .iter()
                .find(|i| i.name == DEFAULT_INTERFACE)
                .cloned()
                .unwrap_or_default(),
            interfaces,
        })
    }

    /// A process in the cgroup `rel` (the sandbox's pause process).
    fn pid_in(&self, rel: &Path) -> Option<i32> {
        self.cgroups().procs(rel).ok()?.into_iter().next()
    }

    /// The pods, as `listPodStatsPartiallyFromCRI` (full) or `ListPodCPUAndMemoryStats`
    /// build them: one per sandbox with a running container that has stats, ordered by
    /// namespace and name.
    fn pod_stats(
        &self,
        full: bool,
        view: &RuntimeView,
        pods: &[Pod],
        machine: &Machine,
        root_fs: Option<&(Time, FsInfo)>,
        fs_cache: &mut HashMap<String, Option<FsInfo>>,
    ) -> Vec<PodStats> {
        let by_uid: HashMap<&str, &Pod> = pods
            .iter()
            .filter_map(|p| Some((p.metadata.uid.as_deref()?, p)))
            .collect();
        // Sandbox ID → its running containers with their stats, in the runtime's order.
        let mut by_sandbox: BTreeMap<&str, Vec<(&v1::Container, &v1::ContainerStats)>> =
            BTreeMap::new();
        for stats in &view.stats {
            let Some(id) = stats.attributes.as_ref().map(|a| a.id.as_str()) else {
                continue;
            };
            let Some(container) = view.containers.get(id) else {
                continue;
            };
            if !view.sandboxes.contains_key(&container.pod_sandbox_id) {
                continue;
            }
            by_sandbox
                .entry(container.pod_sandbox_id.as_str())
                .or_default()
                .push((container, stats));
        }
        let mut out = Vec::new();
        for (sandbox_id, containers) in by_sandbox {
            let sandbox = &view.sandboxes[sandbox_id];
            let meta = sandbox.metadata.clone().unwrap_or_default();
            let pod = by_uid.get(meta.uid.as_str()).copied();
            let pod_rel = self.pod_cgroup_rel(&meta.uid, pod);
            let pod_reading = pod_rel.as_deref().and_then(|rel| self.read(rel, machine));
            let mut ps = PodStats {
                pod_ref: PodReference {
                    name: meta.name.clone(),
                    namespace: meta.namespace.clone(),
                    uid: meta.uid.clone(),
                },
                start_time: ns_time(sandbox.created_at),
                ..Default::default()
            };
            let log_dir = pod_logs_dir_of(&self.config.pod_logs_dir, &meta);
            let mut summed_swap = None;
            for (container, stats) in containers {
                let reading = self
                    .container_rel(pod_rel.as_deref(), &container.id)
                    .and_then(|rel| self.read(&rel, machine).map(|r| (rel, r)));
                let mut cs = if full {
                    let logs = root_fs.and_then(|(time, info)| {
                        let name = container.metadata.as_ref().map(|m| m.name.as_str())?;
                        container_log_stats(log_dir.as_deref()?, name, *time, info)
                    });
                    cri_container_stats(stats, container, logs, fs_cache)
                } else {
                    cri_cpu_and_memory_stats(stats, container)
                };
                // Without a pod cgroup the pod is the sum of what the runtime says of its
                // containers (`addPodCPUMemoryStats`, `addSwapStats`).
                if pod_reading.is_none() {
                    add_to_pod_cpu_memory(&mut ps, &cs);
                    if let Some(swap) = &cs.swap {
                        add_swap(&mut summed_swap, swap);
                    }
                }
                if let Some((rel, r)) = &reading {
                    cs.cpu = Some(self.cpu_stats(&cgroup_id(rel), r));
                    cs.memory = Some(memory_stats(r));
                    if let Some(swap) = swap_stats(r) {
                        cs.swap = Some(swap);
                    }
                    if full {
                        if let Some(io) = io_stats(r) {
                            cs.io = Some(io);
                        }
                        if let Some(n) = r.processes {
                            let before = ps.process_stats.as_ref().and_then(|p| p.process_count);
                            ps.process_stats = Some(ProcessStats {
                                process_count: Some(before.unwrap_or(0) + n),
                            });
                        }
                    }
                }
                ps.containers.push(cs);
            }
            if let (Some(rel), Some(r)) = (&pod_rel, &pod_reading) {
                ps.cpu = Some(self.cpu_stats(&cgroup_id(rel), r));
                ps.memory = Some(memory_stats(r));
                ps.swap = swap_stats(r);
                if full {
                    ps.io = io_stats(r);
                }
            } else {
                ps.swap = summed_swap;
            }
            if let (true, Some((time, info))) = (full, root_fs) {
                ps.network = self
                    .container_rel(pod_rel.as_deref(), sandbox_id)
                    .and_then(|rel| self.pid_in(&rel))
                    .and_then(|pid| self.network_of_pid(pid, Some(Timestamp::now())));
                let (volumes, ephemeral_volumes) =
                    pod.map(|p| self.volume_stats(p)).unwrap_or_default();
                ps.volume_stats = volumes;
                let pod_logs = log_dir
                    .as_deref()
                    .and_then(|dir| files_usage(dir, *time, info));
                let etc_hosts = RootDir::new(&self.config.root_dir)
                    .pod(&meta.uid)
                    .ok()
                    .map(|dirs| dirs.etc_hosts())
                    .filter(|path| path.exists())
                    .and_then(|path| {
                        let usage = host::disk_usage(&path).ok()?;
                        Some(add_usage(fs_base(*time, info), usage, Time::now()))
                    });
                ps.ephemeral_storage = Some(ephemeral_storage(
                    &ps.containers,
                    &ephemeral_volumes,
                    *time,
                    info,
                    pod_logs.as_ref(),
                    etc_hosts.as_ref(),
                ));
            }
            out.push(ps);
        }
        out.sort_by(|a, b| {
            (&a.pod_ref.namespace, &a.pod_ref.name).cmp(&(&b.pod_ref.namespace, &b.pod_ref.name))
        });
        out
    }

    /// The pod's volumes the kubelet measures, in spec order: all of them, and the local
    /// ephemeral ones (`emptyDir` on disk, `configMap`: the kubelet's
    /// `IsLocalEphemeralVolume`) that count towards ephemeral storage.
    fn volume_stats(&self, pod: &Pod) -> (Vec<VolumeStats>, Vec<VolumeStats>) {
        let Some(uid) = pod.metadata.uid.as_deref() else {
            return Default::default();
        };
        let Ok(dirs) = RootDir::new(&self.config.root_dir).pod(uid) else {
            return Default::default();
        };
        let mut all = Vec::new();
        let mut ephemeral = Vec::new();
        for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            let (plugin, local) = if let Some(empty_dir) = &volume.empty_dir {
                (
                    EMPTY_DIR,
                    empty_dir.medium.as_deref().unwrap_or("").is_empty(),
                )
            } else if volume.config_map.is_some() {
                (CONFIG_MAP, true)
            } else if volume.secret.is_some() {
                (SECRET, false)
            } else if volume.projected.is_some() {
                (PROJECTED, false)
            } else if volume.downward_api.is_some() {
                (DOWNWARD_API, false)
            } else {
                continue;
            };
            let Ok(dir) = dirs.volume_dir(plugin, &volume.name) else {
                continue;
            };
            let (Ok(info), Ok(usage)) = (FsInfo::of(&dir), host::disk_usage(&dir)) else {
                continue;
            };
            let stats = VolumeStats {
                fs: FsStats {
                    time: Time::now(),
                    available_bytes: Some(info.available),
                    capacity_bytes: Some(info.capacity),
                    used_bytes: Some(usage.bytes),
                    inodes_free: Some(info.inodes_free),
                    inodes: Some(info.inodes),
                    inodes_used: Some(usage.inodes),
                },
                name: volume.name.clone(),
                pvc_ref: None,
            };
            if local {
                ephemeral.push(stats.clone());
            }
            all.push(stats);
        }
        // The kubelet lists the ephemeral volumes first.
        let persistent = all
            .into_iter()
            .filter(|v| !ephemeral.iter().any(|e| e.name == v.name));
        let all = ephemeral.iter().cloned().chain(persistent).collect();
        (all, ephemeral)
    }

    fn cadvisor_cgroups(
        &self,
        view: &RuntimeView,
        pods: &[Pod],
    ) -> Result<Vec<CgroupInfo>, StatsError> {
        let machine = self.machine();
        let root = self.read_root(&machine)?;
        let mut out = Vec::new();

        let mut root_info = cgroup_info("/", &root);
        root_info.network = host::read_net_dev(&self.proc, 1).unwrap_or_default();
        if let Ok(info) = FsInfo::of(&self.config.root_dir) {
            let mountinfo = self.proc.join("self/mountinfo");
            root_info.filesystems.push(FilesystemUsage {
                device: host::device_of(&mountinfo, &self.config.root_dir).unwrap_or_default(),
                usage_bytes: info.usage,
                limit_bytes: info.capacity,
                inodes: Some(info.inodes),
                inodes_free: Some(info.inodes_free),
            });
        }
        out.push(root_info);

        // kubepods and its QoS cgroups, as plain cgroups.
        let manager = self.cgroups.manager();
        if manager.config().cgroups_per_qos {
            for qos in [
                QosClass::Guaranteed,
                QosClass::Burstable,
                QosClass::BestEffort,
            ] {
                let rel = manager.relative_path(&qos_cgroup_name(manager.root(), qos));
                if let Some(r) = self.read(&rel, &machine) {
                    out.push(cgroup_info(&cgroup_id(&rel), &r));
                }
            }
        }

        let by_uid: HashMap<&str, &Pod> = pods
            .iter()
            .filter_map(|p| Some((p.metadata.uid.as_deref()?, p)))
            .collect();
        let mut seen_pods = std::collections::HashSet::new();
        let ready = v1::PodSandboxState::SandboxReady as i32;
        let mut sandboxes: Vec<&v1::PodSandbox> = view.sandboxes.values().collect();
        sandboxes.sort_by(|a, b| a.id.cmp(&b.id));
        for sandbox in sandboxes {
            let meta = sandbox.metadata.clone().unwrap_or_default();
            let pod = by_uid.get(meta.uid.as_str()).copied();
            let pod_rel = self.pod_cgroup_rel(&meta.uid, pod);
            if let Some(rel) = &pod_rel
                && seen_pods.insert(meta.uid.clone())
                && let Some(r) = self.read(rel, &machine)
            {
                out.push(CgroupInfo {
                    pod: meta.name.clone(),
                    namespace: meta.namespace.clone(),
                    ..cgroup_info(&cgroup_id(rel), &r)
                });
            }
            if sandbox.state != ready {
                continue;
            }
            let Some(rel) = self.container_rel(pod_rel.as_deref(), &sandbox.id) else {
                continue;
            };
            let Some(r) = self.read(&rel, &machine) else {
                continue;
            };
            let mut info = CgroupInfo {
                name: sandbox.id.clone(),
                image: self.config.sandbox_image.clone(),
                pod: label(&sandbox.labels, labels::POD_NAME, &meta.name),
                namespace: label(&sandbox.labels, labels::POD_NAMESPACE, &meta.namespace),
                creation_time: Some(ns_timestamp(sandbox.created_at)),
                ..cgroup_info(&cgroup_id(&rel), &r)
            };
            if let Some(pid) = self.pid_in(&rel) {
                info.network = host::read_net_dev(&self.proc, pid).unwrap_or_default();
            }
            out.push(info);
        }

        let mut containers: Vec<&v1::Container> = view.containers.values().collect();
        containers.sort_by(|a, b| a.id.cmp(&b.id));
        for container in containers {
            let Some(sandbox) = view.sandboxes.get(&container.pod_sandbox_id) else {
                continue;
            };
            let meta = sandbox.metadata.clone().unwrap_or_default();
            let pod = by_uid.get(meta.uid.as_str()).copied();
            let pod_rel = self.pod_cgroup_rel(&meta.uid, pod);
            let Some(rel) = self.container_rel(pod_rel.as_deref(), &container.id) else {
                continue;
            };
            let Some(r) = self.read(&rel, &machine) else {
                continue;
            };
            let name = container
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default();
            out.push(CgroupInfo {
                name: container.id.clone(),
                image: container_image(pod, container),
                container: label(&container.labels, labels::CONTAINER_NAME, &name),
                pod: label(&container.labels, labels::POD_NAME, &meta.name),
                namespace: label(&container.labels, labels::POD_NAMESPACE, &meta.namespace),
                creation_time: Some(ns_timestamp(container.created_at)),
                ..cgroup_info(&cgroup_id(&rel), &r)
            });
        }
        Ok(out)
    }
}

/// The kubelet's `removeTerminatedPods`: of several sandboxes of one pod (name and
/// namespace), the ready ones, else the newest.
fn remove_terminated_pods(mut sandboxes: Vec<v1::PodSandbox>) -> Vec<v1::PodSandbox> {
    sandboxes.sort_by_key(|s| s.created_at);
    let ready = v1::PodSandboxState::SandboxReady as i32;
    let mut by_pod: BTreeMap<(String, String), Vec<v1::PodSandbox>> = BTreeMap::new();
    for s in sandboxes {
        let meta = s.metadata.clone().unwrap_or_default();
        by_pod
            .entry((meta.namespace, meta.name))
            .or_default()
            .push(s);
    }
    let mut out = Vec::new();
    for (_, mut instances) in by_pod {
        if instances.len() == 1 || !instances.iter().any(|s| s.state == ready) {
            out.extend(instances.pop());
        } else {
            out.extend(instances.into_iter().filter(|s| s.state == ready));
        }
    }
    out
}

/// cAdvisor's name of cgroup `rel`: `/` and the path.
fn cgroup_id(rel: &Path) -> String {
    format!("/{}", rel.display())
}

/// A [`CgroupInfo`] with what `r` measured, labelled as a plain cgroup.
fn cgroup_info(id: &str, r: &CgroupReading) -> CgroupInfo {
    CgroupInfo {
        id: id.to_owned(),
        creation_time: r.created,
        start_time: r.created,
        memory_limit_bytes: r.memory.map(|m| m.limit),
        timestamp: r.at.unwrap_or_else(Timestamp::now),
        cpu_usage_ns: r.cpu_ns,
        memory: r.memory.map(|m| CgroupMemory {
            usage_bytes: m.usage,
            working_set_bytes: m.working_set,
            rss_bytes: m.rss,
            cache_bytes: m.cache,
            swap_bytes: m.swap,
            mapped_file_bytes: m.mapped_file,
        }),
        processes: r.processes.map(|processes| ProcessCounts {
            processes,
            threads: r.tasks.unwrap_or(0),
            threads_max: r.tasks_max.unwrap_or(0),
        }),
        ..Default::default()
    }
}

fn label(labels: &std::collections::HashMap<String, String>, key: &str, fallback: &str) -> String {
    labels
        .get(key)
        .cloned()
        .unwrap_or_else(|| fallback.to_owned())
}

/// A container's image as its pod status names it (the runtime's name for it), else as the
/// runtime lists it.
fn container_image(pod: Option<&Pod>, container: &v1::Container) -> String {
    let id = |s: &str| s.split_once("://").map_or(s, |(_, id)| id).to_owned();
    let from_status = pod
        .and_then(|p| p.status.as_ref())
        .into_iter()
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
                .chain(s.ephemeral_container_statuses.iter().flatten())
        })
        .find(|s| s.container_id.as_deref().map(id).as_deref() == Some(container.id.as_str()))
        .map(|s| s.image.clone());
    from_status
        .filter(|i| !i.is_empty())
        .or_else(|| container.image.as_ref().map(|i| i.image.clone()))
        .unwrap_or_else(|| container.image_ref.clone())
}

/// cAdvisor's memory stats of a cgroup.
fn memory_stats(r: &CgroupReading) -> MemoryStats {
    let time = r.at.or_zero();
    match &r.memory {
        Some(m) => MemoryStats {
            time,
            available_bytes: m.available(),
            usage_bytes: Some(m.usage),
            working_set_bytes: Some(m.working_set),
            rss_bytes: Some(m.rss),
            page_faults: Some(m.page_faults),
            major_page_faults: Some(m.major_page_faults),
            psi: Some(r.psi[1].clone()),
        },
        None => MemoryStats {
            time,
            working_set_bytes: Some(0),
            ..Default::default()
        },
    }
}

/// cAdvisor's swap stats of a cgroup (`cadvisorInfoToSwapStats`).
fn swap_stats(r: &CgroupReading) -> Option<SwapStats> {
    let m = r.memory.as_ref()?;
    Some(SwapStats {
        time: r.at.or_zero(),
        swap_available_bytes: m.swap_available(),
        swap_usage_bytes: Some(m.swap),
    })
}

/// cAdvisor's IO stats of a cgroup: pressure, when the IO controller is there.
fn io_stats(r: &CgroupReading) -> Option<IoStats> {
    r.has_io.then(|| IoStats {
        time: r.at.or_zero(),
        psi: Some(r.psi[2].clone()),
    })
}

/// The kubelet's `makeContainerStats`: what the runtime says of a container (CPU, memory and
/// swap, zeros when it says nothing; the writable layer), with its logs.
fn cri_container_stats(
    stats: &v1::ContainerStats,
    container: &v1::Container,
    logs: Option<FsStats>,
    fs_cache: &mut HashMap<String, Option<FsInfo>>,
) -> ContainerStats {
    let mut cs = cri_cpu_and_memory_stats(stats, container);
    let mut rootfs = FsStats::default();
    if let Some(layer) = &stats.writable_layer {
        rootfs.time = ns_time(layer.timestamp);
        rootfs.used_bytes = layer.used_bytes.as_ref().map(|v| v.value);
        rootfs.inodes_used = layer.inodes_used.as_ref().map(|v| v.value);
        if let Some(info) = layer
            .fs_id
            .as_ref()
            .and_then(|id| fs_info_cached(fs_cache, &id.mountpoint))
        {
            rootfs.available_bytes = Some(info.available);
            rootfs.capacity_bytes = Some(info.capacity);
            rootfs.inodes_free = Some(info.inodes_free);
            rootfs.inodes = Some(info.inodes);
        }
    }
    cs.rootfs = Some(rootfs);
    cs.logs = logs;
    cs
}

/// The kubelet's `makeContainerCPUAndMemoryStats` with missing values as zeros.
fn cri_cpu_and_memory_stats(
    stats: &v1::ContainerStats,
    container: &v1::Container,
) -> ContainerStats {
    let value = |v: &Option<v1::UInt64Value>| Some(v.as_ref().map_or(0, |v| v.value));
    let name = stats
        .attributes
        .as_ref()
        .and_then(|a| a.metadata.as_ref())
        .or(container.metadata.as_ref())
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let cpu = match &stats.cpu {
        Some(cpu) => CpuStats {
            time: ns_time(cpu.timestamp),
            usage_nano_cores: cpu.usage_nano_cores.as_ref().map(|v| v.value),
            usage_core_nano_seconds: value(&cpu.usage_core_nano_seconds),
            psi: None,
        },
        None => CpuStats {
            time: Time::now(),
            usage_nano_cores: Some(0),
            usage_core_nano_seconds: Some(0),
            psi: None,
        },
    };
    let memory = match &stats.memory {
        Some(m) => MemoryStats {
            time: ns_time(m.timestamp),
            available_bytes: value(&m.available_bytes),
            usage_bytes: value(&m.usage_bytes),
            working_set_bytes: value(&m.working_set_bytes),
            rss_bytes: value(&m.rss_bytes),
            page_faults: value(&m.page_faults),
            major_page_faults: value(&m.major_page_faults),
            psi: None,
        },
        None => MemoryStats {
            time: Time::now(),
            available_bytes: Some(0),
            usage_bytes: Some(0),
            working_set_bytes: Some(0),
            rss_bytes: Some(0),
            page_faults: Some(0),
            major_page_faults: Some(0),
            psi: None,
        },
    };
    let swap = match &stats.swap {
        Some(s) => SwapStats {
            time: ns_time(s.timestamp),
            swap_available_bytes: value(&s.swap_available_bytes),
            swap_usage_bytes: value(&s.swap_usage_bytes),
        },
        None => SwapStats {
            time: Time::now(),
            swap_available_bytes: Some(0),
            swap_usage_bytes: Some(0),
        },
    };
    ContainerStats {
        name,
        start_time: ns_time(container.created_at),
        cpu: Some(cpu),
        memory: Some(memory),
        swap: Some(swap),
        ..Default::default()
    }
}

/// `addPodCPUMemoryStats` without a pod cgroup: the containers' values summed.
fn add_to_pod_cpu_memory(ps: &mut PodStats, cs: &ContainerStats) {
    let add = |a: Option<u64>, b: Option<u64>| Some(a.unwrap_or(0) + b.unwrap_or(0));
    if let Some(cpu) = &cs.cpu {
        let pod = ps.cpu.get_or_insert_with(CpuStats::default);
        pod.time = cpu.time;
        pod.usage_core_nano_seconds = add(pod.usage_core_nano_seconds, cpu.usage_core_nano_seconds);
        pod.usage_nano_cores = add(pod.usage_nano_cores, cpu.usage_nano_cores);
    }
    if let Some(m) = &cs.memory {
        let pod = ps.memory.get_or_insert_with(MemoryStats::default);
        pod.time = m.time;
        pod.available_bytes = add(pod.available_bytes, m.available_bytes);
        pod.usage_bytes = add(pod.usage_bytes, m.usage_bytes);
        pod.working_set_bytes = add(pod.working_set_bytes, m.working_set_bytes);
        pod.rss_bytes = add(pod.rss_bytes, m.rss_bytes);
        pod.page_faults = add(pod.page_faults, m.page_faults);
        pod.major_page_faults = add(pod.major_page_faults, m.major_page_faults);
    }
}

/// `addSwapStats` without a pod cgroup: one container's swap added to the pod's.
fn add_swap(sum: &mut Option<SwapStats>, swap: &SwapStats) {
    let sum = sum.get_or_insert_with(|| SwapStats {
        time: swap.time,
        ..Default::default()
    });
    sum.swap_available_bytes =
        Some(sum.swap_available_bytes.unwrap_or(0) + swap.swap_available_bytes.unwrap_or(0));
    sum.swap_usage_bytes =
        Some(sum.swap_usage_bytes.unwrap_or(0) + swap.swap_usage_bytes.unwrap_or(0));
}

/// The pod's log directory, `<podLogsDir>/<namespace>_<name>_<uid>` through the validated
/// helper; `None` for names that are not one path component each.
fn pod_logs_dir_of(logs_dir: &Path, meta: &v1::PodSandboxMetadata) -> Option<PathBuf> {
    let mut pod = Pod::default();
    pod.metadata.name = Some(meta.name.clone());
    pod.metadata.namespace = Some(meta.namespace.clone());
    pod.metadata.uid = Some(meta.uid.clone());
    pod_log_dir(logs_dir, &pod).ok()
}

/// `getPodContainerLogStats`: the files in the container's log directory.
fn container_log_stats(
    pod_log_dir: &Path,
    container: &str,
    time: Time,
    root: &FsInfo,
) -> Option<FsStats> {
    check_path_component(container).ok()?;
    files_usage(&pod_log_dir.join(container), time, root)
}

/// `metricsByPathToFsStats` over the files directly in `dir`: the root filesystem's size
/// with their usage added; `None` when the directory cannot be read.
fn files_usage(dir: &Path, time: Time, root: &FsInfo) -> Option<FsStats> {
    let files = match host::files_in(dir) {
        Ok(files) => files,
        Err(e) => {
            tracing::debug!(dir = %dir.display(), error = %e, "cannot read log directory");
            return None;
        }
    };
    let mut stats = fs_base(time, root);
    for file in files {
        match host::disk_usage(&file) {
            Ok(usage) => stats = add_usage(stats, usage, Time::now()),
            Err(e) => {
                tracing::debug!(file = %file.display(), error = %e, "cannot measure log file");
                return None;
            }
        }
    }
    Some(stats)
}

/// `rootFsInfoToFsStats`: the root filesystem's size and free space, no usage yet.
fn fs_base(time: Time, root: &FsInfo) -> FsStats {
    FsStats {
        time,
        available_bytes: Some(root.available),
        capacity_bytes: Some(root.capacity),
        inodes_free: Some(root.inodes_free),
        inodes: Some(root.inodes),
        ..Default::default()
    }
}

fn add_usage(mut stats: FsStats, usage: DiskUsage, at: Time) -> FsStats {
    stats.used_bytes = Some(stats.used_bytes.unwrap_or(0) + usage.bytes);
    stats.inodes_used = Some(stats.inodes_used.unwrap_or(0) + usage.inodes);
    stats.time = stats.time.max(at);
    stats
}

/// `calcEphemeralStorage` (CRI stats provider): writable layers and logs of the
/// containers, local ephemeral volumes, the pod's own log files and `etc-hosts`.
fn ephemeral_storage(
    containers: &[ContainerStats],
    volumes: &[VolumeStats],
    time: Time,
    root: &FsInfo,
    pod_logs: Option<&FsStats>,
    etc_hosts: Option<&FsStats>,
) -> FsStats {
    fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
        match (a, b) {
            (None, b) => b,
            (a, None) => a,
            (Some(a), Some(b)) => Some(a + b),
        }
    }
    let mut out = fs_base(time, root);
    for c in containers {
        let Some(rootfs) = &c.rootfs else { continue };
        out.time = out.time.max(rootfs.time);
        out.inodes_used = add(out.inodes_used, rootfs.inodes_used);
        out.used_bytes = add(out.used_bytes, rootfs.used_bytes);
        if let Some(logs) = &c.logs {
            out.used_bytes = add(out.used_bytes, logs.used_bytes);
            out.inodes_used = add(out.inodes_used, logs.inodes_used);
            out.time = out.time.max(logs.time);
        }
    }
    for extra in volumes
        .iter()
        .map(|v| &v.fs)
        .chain(pod_logs)
        .chain(etc_hosts)
    {
        out.used_bytes = add(out.used_bytes, extra.used_bytes);
        out.inodes_used = add(out.inodes_used, extra.inodes_used);
        out.time = out.time.max(extra.time);
    }
    out
}

fn fs_info_cached(cache: &mut HashMap<String, Option<FsInfo>>, mountpoint: &str) -> Option<FsInfo> {
    *cache.entry(mountpoint.to_owned()).or_insert_with(|| {
        FsInfo::of(Path::new(mountpoint))
            .inspect_err(|e| tracing::debug!(mountpoint, error = %e, "cannot get filesystem info"))
            .ok()
    })
}

/// A CRI time (nanoseconds since the epoch), as `metav1.NewTime(time.Unix(0, ns))`.
fn ns_time(ns: i64) -> Time {
    Time::new(ns_timestamp(ns))
}

fn ns_timestamp(ns: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `Option<Timestamp>` → [`Time`] (the zero time for `None`).
trait OrZero {
    fn or_zero(self) -> Time;
}

impl OrZero for Option<Timestamp> {
    fn or_zero(self) -> Time {
        self.map_or(Time::ZERO, Time::new)
    }
}

#[cfg(test)]
mod tests;
