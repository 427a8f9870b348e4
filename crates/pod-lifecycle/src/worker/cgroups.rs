//! The `cgroup-enforcer` crate behind the worker's [`PodCgroups`] seam: [`NodeCgroups`]
//! shares one [`PodCgroupManager`] between the pod workers and the agent's housekeeping.
//!
//! The manager writes cgroup files and may wait for killed processes to exit, so every call
//! runs on tokio's blocking pool. The worker creates the pod cgroup before the sandbox
//! (`cgroup_parent` of the sandbox config), checks on every sync that a running pod's cgroup
//! still exists (QS-19), and removes it after the pod's containers and sandboxes are gone.

use std::sync::Arc;

use async_trait::async_trait;
use cgroup_enforcer::PodCgroupManager;
use k8s_openapi::api::core::v1::Pod;
use tokio_util::sync::CancellationToken;

use super::host::{ActivePods, PodCgroups, SeamError};
use crate::cri_config::pod_full_name;

/// The node's pod and QoS cgroups, shared (cheap to clone).
///
/// ```
/// use cgroup_enforcer::{CgroupConfig, Cgroups, PodCgroupManager};
/// use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
/// use pod_lifecycle::worker::{NodeCgroups, PodCgroups};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let root = tempfile::tempdir()?;
/// for controller in ["cpu", "cpuacct", "memory", "pids"] {
///     std::fs::create_dir(root.path().join(controller))?;
/// }
/// let manager = PodCgroupManager::new(CgroupConfig::default(), Cgroups::v1(root.path()))?;
/// let cgroups = NodeCgroups::new(manager);
///
/// let mut pod = Pod {
///     spec: Some(PodSpec { containers: vec![Container::default()], ..Default::default() }),
///     ..Default::default()
/// };
/// pod.metadata.uid = Some("1234".into());
/// let parent = cgroups.ensure(&pod).await?;
/// assert_eq!(parent.as_deref(), Some("/kubepods/besteffort/pod1234"));
/// assert!(cgroups.exists(&pod).await?);
/// cgroups.remove(&pod).await?;
/// assert!(!root.path().join("cpu/kubepods/besteffort/pod1234").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct NodeCgroups {
    manager: Arc<PodCgroupManager>,
}

impl NodeCgroups {
    /// Shares `manager` (set up by the caller: [`PodCgroupManager::setup_node`]).
    pub fn new(manager: PodCgroupManager) -> Self {
        NodeCgroups {
            manager: Arc::new(manager),
        }
    }

    /// The manager.
    pub fn manager(&self) -> &PodCgroupManager {
        &self.manager
    }

    /// Re-applies the QoS cgroups' limits (the kubelet's periodic `UpdateQOSCgroups`, every
    /// minute).
    pub async fn update_qos_cgroups(&self) -> Result<(), SeamError> {
        let manager = self.manager.clone();
        blocking(move || manager.update_qos_cgroups())
            .await
            .map_err(|e| SeamError::during("updating the QoS cgroups", e))
    }

    /// Re-applies the QoS cgroups every `period` (the first time one period from now) until
    /// `stop` is cancelled.
    pub async fn run_qos_updates(&self, period: std::time::Duration, stop: CancellationToken) {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.update_qos_cgroups().await {
                tracing::warn!(error = %e, "cannot update the QoS cgroups");
            }
        }
    }
}

/// Run blocking cgroup work on tokio's blocking pool. The manager's error is shown as it is
/// (the `FailedToCreatePodContainer` event); a task that did not finish is
/// [`SeamError::Task`].
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> cgroup_enforcer::Result<T> + Send + 'static,
) -> Result<T, SeamError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SeamError::task("cgroup manager", e))?
        .map_err(SeamError::failed)
}

#[async_trait]
impl PodCgroups for NodeCgroups {
    async fn ensure(&self, pod: &Pod) -> Result<Option<String>, SeamError> {
        // The manager's own spans carry the pod (namespace/name and UID).
        let (manager, pod) = (self.manager.clone(), pod.clone());
        blocking(move || manager.ensure_pod(&pod).map(Some)).await
    }

    async fn remove(&self, pod: &Pod) -> Result<(), SeamError> {
        let (manager, pod) = (self.manager.clone(), pod.clone());
        blocking(move || manager.remove_pod(&pod)).await
    }

    async fn exists(&self, pod: &Pod) -> Result<bool, SeamError> {
        let (manager, pod) = (self.manager.clone(), pod.clone());
        blocking(move || {
            let exists = manager.pod_cgroup_exists(&pod)?;
            if !exists {
                tracing::info!(pod = %pod_full_name(&pod), uid = ?pod.metadata.uid, "pod cgroup missing");
            }
            Ok(exists)
        })
        .await
    }

    /// Removes the pod cgroups on disk that belong to no pod in `active` (the kubelet's
    /// `cleanupOrphanedPodCgroups`, run by housekeeping once every source has reported):
    /// pods deleted while the agent was down, and what a worker could not remove. The
    /// kubelet only lowers the CPU shares of an orphan whose volumes are still mounted;
    /// the agent unmounts orphaned volumes earlier in the same housekeeping pass, so the
    /// cgroup is removed directly.
    ///
    /// The active pods are read after the cgroups on disk are listed, so a pod admitted in
    /// between (its cgroup not yet listed) is never taken for an orphan. Returns the UIDs
    /// removed.
    async fn remove_orphans(&self, active: ActivePods) -> Result<Vec<String>, SeamError> {
        let manager = self.manager.clone();
        let work = move || -> cgroup_enforcer::Result<Vec<String>> {
            let on_disk = manager.pod_uids()?;
            let active = active();
            let mut removed = Vec::new();
            for uid in on_disk.difference(&active) {
                let _span = tracing::info_span!("remove_orphaned_pod_cgroup", uid = %uid).entered();
                tracing::info!("removing the cgroup of a pod that is gone");
                manager.remove_pod_uid(uid)?;
                removed.push(uid.clone());
            }
            Ok(removed)
        };
        blocking(work)
            .await
            .map_err(|e| SeamError::during("removing orphaned pod cgroups", e))
    }
}
