//! Container log files after the runtime wrote them: size-based rotation
//! ([`ContainerLogManager`], the kubelet's `pkg/kubelet/logs`) and the legacy
//! `/var/log/containers` symlinks ([`LegacySymlinks`], from `pkg/kubelet/kuberuntime`).
//!
//! The runtime writes each container's output to `<pod log dir>/<container>/<restart>.log`
//! ([`cri_config::container_log_path`](crate::cri_config::container_log_path)) and never
//! stops. The agent keeps that bounded: once the file reaches `containerLogMaxSize` it is
//! renamed to `<log>.<YYYYmmdd-HHMMSS>`, the runtime is told to reopen its log
//! (`ReopenContainerLog`) and the older rotated files are gzip-compressed, at most
//! `containerLogMaxFiles` files kept in all. The newest rotated file stays uncompressed
//! for one round because a log shipper may still be reading it.
//!
//! Nothing here is pod-spec logic: the manager takes what it needs from the runtime
//! (`ListContainers`, `ContainerStatus.log_path`, the container's labels for the pod it
//! belongs to), so it runs beside the pod workers, not inside them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
//! use cri_client::{RuntimeService, v1};
//! use pod_lifecycle::logs::{ContainerLogManager, LogRotationSettings};
//!
//! let dir = std::env::temp_dir().join(format!("logs-doc-{}", std::process::id()));
//! let fake = FakeRuntime::with_busybox();
//! let sandbox_config = v1::PodSandboxConfig {
//!     metadata: Some(v1::PodSandboxMetadata { name: "web".into(), namespace: "default".into(), uid: "uid-1".into(), attempt: 0 }),
//!     log_directory: dir.to_string_lossy().into_owned(),
//!     ..Default::default()
//! };
//! let sandbox = fake.run_pod_sandbox(v1::RunPodSandboxRequest { config: Some(sandbox_config.clone()), runtime_handler: String::new() }).await?.pod_sandbox_id;
//! let id = fake.create_container(v1::CreateContainerRequest {
//!     pod_sandbox_id: sandbox,
//!     config: Some(v1::ContainerConfig {
//!         metadata: Some(v1::ContainerMetadata { name: "app".into(), attempt: 0 }),
//!         image: Some(v1::ImageSpec { image: BUSYBOX_IMAGE.into(), ..Default::default() }),
//!         command: vec!["sleep".into(), "infinity".into()],
//!         log_path: "app/0.log".into(),
//!         ..Default::default()
//!     }),
//!     sandbox_config: Some(sandbox_config),
//! }).await?.container_id;
//! fake.start_container(v1::StartContainerRequest { container_id: id.clone() }).await?;
//!
//! // The runtime wrote 2 KiB; the limit is 1 KiB.
//! std::fs::create_dir_all(dir.join("app"))?;
//! std::fs::write(dir.join("app/0.log"), vec![b'x'; 2048])?;
//! let settings = LogRotationSettings { max_size: 1024, ..Default::default() };
//! let manager = ContainerLogManager::new(Arc::new(fake.clone()), settings)?;
//! let report = manager.rotate_once().await?;
//! assert_eq!(report.rotated.len(), 1);
//! assert!(!dir.join("app/0.log").exists(), "renamed; the runtime reopens it");
//! assert_eq!(std::fs::metadata(&report.rotated[0].rotated_to)?.len(), 2048);
//! assert_eq!(fake.calls_to("ReopenContainerLog").len(), 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;

mod error;
mod files;
mod manager;
mod settings;
mod symlink;

pub use error::{Error, Result};
pub use files::all_logs;
pub use manager::{ContainerLogManager, LogClock, RotatedLog, RotationReport};
pub use settings::{
    DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, DEFAULT_MONITOR_INTERVAL, LogRotationSettings,
    MIN_MONITOR_INTERVAL,
};
pub use symlink::{
    DanglingSymlinks, LegacySymlinks, container_id_from_legacy_symlink, legacy_log_symlink,
};

use crate::labels;

/// A container as its logs know it: the pod it belongs to and its name and id. Errors and
/// tracing spans name it; the legacy symlink's name is made of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    /// The pod's namespace.
    pub pod_namespace: String,
    /// The pod's name.
    pub pod_name: String,
    /// The pod's UID.
    pub pod_uid: String,
    /// The container's name in the pod spec.
    pub container_name: String,
    /// The runtime's container id.
    pub container_id: String,
}

impl ContainerRef {
    /// The container `container_id`, named `container_name`, of `pod` (what the worker
    /// knows right after `StartContainer`).
    pub fn for_pod(pod: &Pod, container_name: &str, container_id: &str) -> Self {
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        ContainerRef {
            pod_namespace: field(&pod.metadata.namespace),
            pod_name: field(&pod.metadata.name),
            pod_uid: field(&pod.metadata.uid),
            container_name: container_name.to_string(),
            container_id: container_id.to_string(),
        }
    }

    /// The container `container_id` from the kubelet labels it carries in the runtime
    /// ([`labels::POD_NAME`], [`labels::POD_NAMESPACE`], [`labels::POD_UID`],
    /// [`labels::CONTAINER_NAME`]); the CRI metadata name stands in for a missing container
    /// name label. A container no kubelet created has empty pod fields.
    pub fn from_labels(
        container_id: &str,
        container_labels: &HashMap<String, String>,
        metadata_name: Option<&str>,
    ) -> Self {
        let label = |key: &str| container_labels.get(key).cloned().unwrap_or_default();
        let mut container_name = label(labels::CONTAINER_NAME);
        if container_name.is_empty() {
            container_name = metadata_name.unwrap_or_default().to_string();
        }
        ContainerRef {
            pod_namespace: label(labels::POD_NAMESPACE),
            pod_name: label(labels::POD_NAME),
            pod_uid: label(labels::POD_UID),
            container_name,
            container_id: container_id.to_string(),
        }
    }

    /// `namespace/name` of the pod.
    pub fn pod(&self) -> String {
        format!("{}/{}", self.pod_namespace, self.pod_name)
    }

    /// The first 12 characters of the container id, as `crictl ps` shows it.
    pub fn short_id(&self) -> &str {
        let end = self
            .container_id
            .char_indices()
            .nth(12)
            .map_or(self.container_id.len(), |(i, _)| i);
        &self.container_id[..end]
    }

    /// The tracing span for work on this container's logs: pod (namespace/name), pod UID,
    /// container name and id.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "container_log",
            pod = %self.pod(),
            uid = %self.pod_uid,
            container = %self.container_name,
            container_id = %self.short_id(),
        )
    }
}

impl fmt::Display for ContainerRef {
    /// `pod default/web: container app (0123456789ab)`; `container 0123456789ab` when
    /// nothing else is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.pod_name.is_empty() || !self.pod_namespace.is_empty() {
            write!(f, "pod {}: ", self.pod())?;
        }
        if self.container_name.is_empty() {
            write!(f, "container {}", self.short_id())
        } else {
            write!(f, "container {} ({})", self.container_name, self.short_id())
        }
    }
}
