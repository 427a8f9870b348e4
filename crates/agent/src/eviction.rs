//! The eviction manager's adapters on this node: its stats from the [`StatsCollector`]
//! (the kubelet's summary provider), and the kernel's memory threshold notifications
//! (`kernelMemcgNotification`), which wake it as soon as memory use crosses a threshold
//! instead of at its next 10 s check.
//!
//! The manager itself, its rules and its reclaim live in `pod-lifecycle` and `pod-plan`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use cgroup_enforcer::memcg::MemoryThresholdNotifier;
use cri_client::{ImageService, v1};
use pod_lifecycle::eviction::{EvictionManager, EvictionStats};
use pod_lifecycle::plan::eviction::{EvictionConfig, EvictionSignal, Observations};
use pod_lifecycle::worker::SeamError;
use tokio_util::sync::CancellationToken;

use crate::stats::StatsCollector;

/// The observations of [`crate::stats::eviction::observations`], from a full summary.
pub struct StatsForEviction {
    stats: StatsCollector,
    images: Arc<dyn ImageService>,
    root_dir: PathBuf,
    dedicated_imagefs: OnceLock<bool>,
}

impl std::fmt::Debug for StatsForEviction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsForEviction")
            .field("root_dir", &self.root_dir)
            .finish_non_exhaustive()
    }
}

impl StatsForEviction {
    /// Observations from `stats`, for a node whose root dir is `root_dir`; `images`
    /// locates the runtime's image filesystem.
    pub fn new(stats: StatsCollector, images: Arc<dyn ImageService>, root_dir: &Path) -> Self {
        StatsForEviction {
            stats,
            images,
            root_dir: root_dir.to_owned(),
            dedicated_imagefs: OnceLock::new(),
        }
    }

    /// Whether the runtime's image filesystem is another filesystem than the root dir's
    /// (the kubelet's `HasDedicatedImageFs`: their devices differ). Asked once; `false`
    /// while it cannot be told.
    async fn dedicated_imagefs(&self) -> bool {
        if let Some(known) = self.dedicated_imagefs.get() {
            return *known;
        }
        let mountpoint = match self.images.image_fs_info(v1::ImageFsInfoRequest {}).await {
            Ok(info) => info
                .image_filesystems
                .into_iter()
                .next()
                .and_then(|f| f.fs_id)
                .map(|id| id.mountpoint),
            Err(e) => {
                tracing::debug!(error = %e, "cannot ask the runtime for its image filesystem");
                None
            }
        };
        let Some(mountpoint) = mountpoint else {
            return false;
        };
        let devices = std::fs::metadata(&mountpoint)
            .and_then(|image| Ok((image.dev(), std::fs::metadata(&self.root_dir)?.dev())));
        match devices {
            Ok((image, root)) => {
                let dedicated = image != root;
                tracing::info!(
                    imagefs = %mountpoint,
                    root_dir = %self.root_dir.display(),
                    dedicated,
                    "eviction manager: image filesystem located"
                );
                *self.dedicated_imagefs.get_or_init(|| dedicated)
            }
            Err(e) => {
                tracing::debug!(imagefs = %mountpoint, error = %e, "cannot compare the image and root filesystems");
                false
            }
        }
    }
}

#[async_trait]
impl EvictionStats for StatsForEviction {
    async fn observe(&self) -> Result<Observations, SeamError> {
        let summary = self
            .stats
            .summary(false)
            .await
            .map_err(|e| SeamError::during("reading the node's stats", e))?;
        let dedicated = self.dedicated_imagefs().await;
        Ok(crate::stats::eviction::observations(&summary, dedicated))
    }
}

/// The v1 memory cgroups a threshold notification is armed on: the root (for
/// `memory.available`) and `kubepods` (for `allocatableMemory.available`).
#[derive(Debug, Clone)]
pub struct MemcgDirs {
    /// The root memory cgroup (`/sys/fs/cgroup/memory`).
    pub root: PathBuf,
    /// The pods' memory cgroup (`/sys/fs/cgroup/memory/<cgroupRoot>/kubepods`).
    pub kubepods: PathBuf,
}

/// How often the notifiers are re-armed: the usage line moves with the inactive file
/// pages, which the kernel does not count against the threshold (the kubelet re-arms after
/// each sync).
const REARM_PERIOD: Duration = Duration::from_secs(10);

/// One armed line: the cgroup and the usage (bytes) at which available memory falls under
/// the threshold.
fn usage_line(dir: &Path, capacity: i64, threshold: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(dir.join("memory.stat")).ok()?;
    let inactive_file: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("total_inactive_file "))
        .and_then(|v| v.trim().parse().ok())?;
    // capacity − threshold + inactive file (`UpdateThreshold`): usage counts the inactive
    // file pages, the working set does not.
    u64::try_from(capacity - threshold + inactive_file).ok()
}

/// The capacity the `memory.available` thresholds are taken of: the machine's memory.
fn machine_memory() -> Option<i64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: i64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kib * 1024)
}

/// The lines to arm now: for each memory threshold (hard and soft `memory.available` on
/// the root, the allocatable copy of the hard one on `kubepods`), its cgroup and usage.
fn lines(config: &EvictionConfig, dirs: &MemcgDirs) -> Vec<(PathBuf, u64, &'static str)> {
    let mut out = Vec::new();
    if let Some(capacity) = machine_memory() {
        for (map, what) in [
            (&config.hard, "hard memory eviction threshold"),
            (&config.soft, "soft memory eviction threshold"),
        ] {
            if let Some(value) = map.get(&EvictionSignal::MemoryAvailable)
                && let Some(line) = usage_line(&dirs.root, capacity, value.resolve(capacity))
            {
                out.push((dirs.root.clone(), line, what));
            }
        }
    }
    if config.allocatable_memory_threshold
        && let Some(value) = config.hard.get(&EvictionSignal::MemoryAvailable)
        && let Some(limit) = std::fs::read_to_string(dirs.kubepods.join("memory.limit_in_bytes"))
            .ok()
            .and_then(|l| l.trim().parse::<i64>().ok())
        && let Some(line) = usage_line(&dirs.kubepods, limit, value.resolve(limit))
    {
        out.push((
            dirs.kubepods.clone(),
            line,
            "hard allocatable memory eviction threshold",
        ));
    }
    out
}

/// Arms a notifier for every memory threshold and wakes `manager` whenever one is
/// crossed, until `stop`; on a blocking thread. Without v1 memory cgroups (cgroup v2) it
/// says so and returns, as the kubelet turns its notifier off there.
pub fn watch_memory_thresholds(
    manager: Arc<EvictionManager>,
    config: EvictionConfig,
    dirs: MemcgDirs,
    stop: CancellationToken,
) {
    let mut warned = false;
    while !stop.is_cancelled() {
        let armed: Vec<(MemoryThresholdNotifier, &'static str)> = lines(&config, &dirs)
            .into_iter()
            .filter_map(
                |(dir, line, what)| match MemoryThresholdNotifier::arm(&dir, line) {
                    Ok(Some(notifier)) => Some((notifier, what)),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(cgroup = %dir.display(), error = %e, "cannot arm a memory threshold notification");
                        None
                    }
                },
            )
            .collect();
        if armed.is_empty() {
            if !warned {
                tracing::info!(
                    "eviction manager: no memory threshold notification (needs cgroup v1 memory cgroups and a memory.available threshold); memory is checked every 10s"
                );
                warned = true;
            }
            std::thread::sleep(REARM_PERIOD);
            continue;
        }
        let notifiers: Vec<&MemoryThresholdNotifier> = armed.iter().map(|(n, _)| n).collect();
        // Short waits, so that `stop` is seen soon; re-armed every REARM_PERIOD.
        let mut waited = Duration::ZERO;
        while waited < REARM_PERIOD && !stop.is_cancelled() {
            match MemoryThresholdNotifier::wait_any(&notifiers, Duration::from_secs(1)) {
                Ok(fired) if !fired.is_empty() => {
                    for i in fired {
                        tracing::info!(
                            threshold = armed[i].0.threshold(),
                            "eviction manager: {} crossed",
                            armed[i].1
                        );
                    }
                    manager.notify();
                    break;
                }
                Ok(_) => waited += Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(error = %e, "memory threshold notification failed");
                    std::thread::sleep(Duration::from_secs(1));
                    break;
                }
            }
        }
    }
}
