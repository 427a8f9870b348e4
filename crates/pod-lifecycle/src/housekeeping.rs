//! The node's housekeeping pass: what is left of pods that are gone, removed in the
//! kubelet's order.
//!
//! Every [`HOUSEKEEPING_PERIOD`] the kubelet's `HandlePodCleanups`:
//!
//! 1. lets the pod manager finish what its workers finished: start replacements whose
//!    predecessor terminated, forget terminated pods no source wants, and (once every source
//!    has reported) kill what the runtime runs for no known pod
//!    ([`PodManager::housekeeping`]);
//! 2. once every source has reported (before that, no worker knows the pods a restarted
//!    agent is about to adopt), unmounts and removes the volumes of pods that no worker
//!    knows (pods deleted while the agent was down), with their pod directories;
//! 3. then removes the cgroups of such pods. Volumes come first:
//!    the kubelet keeps an orphan's cgroup (with its CPU shares lowered) while its volumes
//!    are still mounted, and here the volumes of this pass are already gone.
//!
//! Pod log directories go with each pod's worker; the `/var/log/containers` symlinks of
//! removed containers with the container log manager's garbage collection.
//!
//! ```
//! use std::sync::Arc;
//! use pod_lifecycle::housekeeping::Housekeeping;
//! use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
//! use pod_lifecycle::worker::{MemoryStatusSink, PodHost, PodWorkers, SystemClock, WorkerConfig};
//! use cri_client::fake::FakeRuntime;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let runtime = Arc::new(FakeRuntime::new());
//! let host = PodHost::new(runtime.clone(), runtime.clone());
//! let (volumes, cgroups) = (host.volumes.clone(), host.cgroups.clone());
//! let workers = Arc::new(PodWorkers::new(host, WorkerConfig::default()));
//! let manager = Arc::new(PodManager::new(
//!     workers,
//!     runtime,
//!     Arc::new(MemoryStatusSink::new()),
//!     Arc::new(SystemClock),
//!     PodManagerConfig::default(),
//! ));
//! manager.set_source_pods("file", Vec::new());
//! let housekeeping = Housekeeping::new(manager, volumes, cgroups);
//! let pass = housekeeping.run_once().await;
//! assert!(pass.volumes_removed.is_empty() && pass.cgroups_removed.is_empty());
//! # });
//! ```

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::pod_manager::PodManager;
use crate::worker::{PodCgroups, PodVolumes, SeamError};

/// The housekeeping period (the kubelet's `housekeepingPeriod`, 2 s).
pub const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(2);

/// What one pass removed, and what it could not.
#[derive(Debug, Default)]
pub struct HousekeepingPass {
    /// UIDs of orphaned pods whose volumes and pod directory were removed.
    pub volumes_removed: Vec<String>,
    /// UIDs of orphaned pods whose cgroup was removed.
    pub cgroups_removed: Vec<String>,
    /// What failed (each also logged); the next pass tries again.
    pub errors: Vec<SeamError>,
}

/// The housekeeping of one node, over the pod manager and the seams its workers use.
pub struct Housekeeping {
    manager: Arc<PodManager>,
    volumes: Arc<dyn PodVolumes>,
    cgroups: Arc<dyn PodCgroups>,
}

impl std::fmt::Debug for Housekeeping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Housekeeping").finish_non_exhaustive()
    }
}

impl Housekeeping {
    /// Housekeeping for the pods of `manager`, cleaning up through the same volume and
    /// cgroup seams as its workers ([`crate::worker::PodHost`]'s `volumes` and `cgroups`).
    pub fn new(
        manager: Arc<PodManager>,
        volumes: Arc<dyn PodVolumes>,
        cgroups: Arc<dyn PodCgroups>,
    ) -> Self {
        Housekeeping {
            manager,
            volumes,
            cgroups,
        }
    }

    /// One pass, in the kubelet's order (see the module docs).
    pub async fn run_once(&self) -> HousekeepingPass {
        let mut pass = HousekeepingPass::default();
        self.manager.housekeeping().await;

        // Orphans only once every source has reported, as the kubelet skips
        // `HandlePodCleanups` until `sourcesReady.AllReady()`: before that no worker knows the
        // pods of a restarted agent, so every pod directory on disk looks orphaned, and
        // removing them under the workers that are about to adopt those pods loses their
        // `etc-hosts` (the runtime then creates the bind-mount source as a directory, and no
        // container of the pod can be created again).
        if !self.manager.sources_ready() {
            return pass;
        }
        let workers = self.manager.workers().clone();
        let active = Box::new(move || workers.pods().into_iter().collect());
        match self.volumes.remove_orphans(active).await {
            Ok((removed, failed)) => {
                if !removed.is_empty() {
                    tracing::info!(pods = ?removed, "removed the volumes of orphaned pods");
                }
                pass.volumes_removed = removed;
                pass.errors.extend(failed);
            }
            Err(e) => pass.errors.push(e),
        }

        let workers = self.manager.workers().clone();
        let active = Box::new(move || workers.pods().into_iter().collect());
        match self.cgroups.remove_orphans(active).await {
            Ok(removed) => {
                if !removed.is_empty() {
                    tracing::info!(pods = ?removed, "removed the cgroups of orphaned pods");
                }
                pass.cgroups_removed = removed;
            }
            Err(e) => pass.errors.push(e),
        }
        for e in &pass.errors {
            tracing::warn!(error = %e, "housekeeping");
        }
        pass
    }

    /// A pass every `period` until `stop` is cancelled. `on_iteration` is called as each
    /// pass begins and ends (the agent's `syncloop` health check stamps its time there, so
    /// a pass stuck in the middle is noticed too).
    pub async fn run(&self, period: Duration, stop: CancellationToken, on_iteration: impl Fn()) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            on_iteration();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.run_once() => {}
            }
            on_iteration();
        }
    }
}
