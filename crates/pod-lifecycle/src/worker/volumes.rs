//! The `volume-manager` crate behind the worker's seams: [`PodVolumes`] for
//! [`VolumeManager`] and [`PodObjects`] for its object sources.
//!
//! The volume manager's calls block (mounts, file writes), so they run on tokio's blocking
//! pool. Every sync asks it to mount what is missing and to refresh configMap, secret,
//! downwardAPI and projected files whose source changed, so an edited ConfigMap reaches
//! the files within one sync period.

use std::sync::Arc;

use async_trait::async_trait;
use cri_client::v1;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use volume_manager::objects::ObjectSource;
use volume_manager::{ContainerContext, VolumeManager};

use super::host::{ActivePods, MountContext, MountError, PodObjects, PodVolumes, SeamError};

/// The cluster domain used for pod host names in `/etc/hosts` (the kubelet's
/// `clusterDomain`; standalone nodes use the conventional one).
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// Run blocking volume work on tokio's blocking pool; the outer error when the task itself
/// did not finish.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SeamError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SeamError::task("volume manager", e))
}

/// The volume manager's error as the worker's: per-volume failures become one event each,
/// any other error one event with its text.
fn mount_error(error: volume_manager::Error) -> MountError {
    match error {
        volume_manager::Error::PodNotMounted {
            unmounted,
            failures,
            ..
        } => MountError {
            unmounted,
            failures: failures.iter().map(ToString::to_string).collect(),
        },
        other => MountError::other(other.to_string()),
    }
}

#[async_trait]
impl PodVolumes for VolumeManager {
    async fn mount(&self, pod: &Pod) -> Result<(), MountError> {
        let (manager, pod) = (self.clone(), pod.clone());
        let failures = blocking(move || manager.resync_pod(&pod))
            .await
            .map_err(|e| MountError::other(e.to_string()))?
            .map_err(mount_error)?;
        for failure in failures {
            // The volume stays mounted with its previous content.
            tracing::warn!(error = %failure, "cannot refresh a volume");
        }
        Ok(())
    }

    fn container_mounts(
        &self,
        pod: &Pod,
        container: &Container,
        ctx: &MountContext<'_>,
    ) -> Result<Vec<v1::Mount>, SeamError> {
        let (hostname, domain) =
            volume_manager::hosts::pod_hostname_and_domain(pod, CLUSTER_DOMAIN);
        let env: Vec<(String, String)> = ctx
            .env
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        let context = ContainerContext {
            pod_ips: ctx.pod_ips,
            hostname: &hostname,
            host_domain: &domain,
            env: &env,
            runtime_supports_recursive_read_only: false,
        };
        let mounts = VolumeManager::container_mounts(self, pod, container, &context)
            .map_err(SeamError::failed)?;
        Ok(mounts
            .into_iter()
            .map(|m| v1::Mount {
                container_path: m.container_path,
                host_path: m.host_path.to_string_lossy().into_owned(),
                readonly: m.read_only,
                recursive_read_only: m.recursive_read_only,
                selinux_relabel: m.selinux_relabel,
                propagation: m.propagation.cri_value(),
                ..Default::default()
            })
            .collect())
    }

    async fn unmount(&self, pod: &Pod) -> Result<(), SeamError> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let manager = self.clone();
        blocking(move || manager.unmount_pod(&uid))
            .await?
            .map_err(SeamError::failed)
    }

    async fn remove_orphans(
        &self,
        active: ActivePods,
    ) -> Result<(Vec<String>, Vec<SeamError>), SeamError> {
        let manager = self.clone();
        let work = move || {
            let active = active();
            let active: Vec<&str> = active.iter().map(String::as_str).collect();
            let (mut removed, mut failed) = (Vec::new(), Vec::new());
            for uid in manager.orphaned_pods(&active)? {
                match manager.unmount_pod(&uid) {
                    Ok(()) => removed.push(uid),
                    Err(e) => {
                        failed.push(SeamError::during("removing an orphaned pod's volumes", e))
                    }
                }
            }
            Ok::<_, volume_manager::Error>((removed, failed))
        };
        match blocking(work).await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(SeamError::during("listing orphaned pod directories", e)),
            Err(e) => Err(SeamError::during("removing orphaned pod volumes", e)),
        }
    }
}

/// ConfigMaps and Secrets for container environments from the volume manager's object
/// source, so `envFrom` and volumes read the same objects.
#[derive(Clone)]
pub struct SourceObjects(pub Arc<dyn ObjectSource>);

impl std::fmt::Debug for SourceObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SourceObjects").finish_non_exhaustive()
    }
}

impl PodObjects for SourceObjects {
    fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap> {
        self.0.config_map(namespace, name).unwrap_or_else(|e| {
            tracing::warn!(namespace, name, error = %e, "cannot read a ConfigMap");
            None
        })
    }

    fn secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        // The error names the object, never its content.
        self.0.secret(namespace, name).unwrap_or_else(|e| {
            tracing::warn!(namespace, name, error = %e, "cannot read a Secret");
            None
        })
    }
}
