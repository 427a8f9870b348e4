//! Where container logs go (`kuberuntime/helpers.go` `BuildPodLogsDirectory`,
//! `buildContainerLogsPath`); the legacy symlinks are [`crate::logs`]'s.
//!
//! The sandbox's `log_directory` is `<pod logs dir>/<namespace>_<name>_<uid>`; each
//! container's `log_path` is relative to it, `<container>/<restart count>.log`, so the
//! files of every instance stay side by side and the restart count can be recovered from
//! the highest `<n>.log` after an agent restart. `/var/log/containers` holds one symlink per
//! container for log shippers that predate the pod directory.

use super::{pod_name, pod_namespace, pod_uid};
use k8s_openapi::api::core::v1::Pod;
use std::path::{Path, PathBuf};

/// The kubelet's default `podLogsDir`.
pub const DEFAULT_POD_LOGS_DIR: &str = "/var/log/pods";
/// The directory of the legacy per-container symlinks (`/var/log/containers`).
pub const LEGACY_CONTAINER_LOGS_DIR: &str = "/var/log/containers";

/// The pod's log directory: `<logs_dir>/<namespace>_<name>_<uid>` (CRI-14).
///
/// ```
/// # use k8s_openapi::api::core::v1::Pod;
/// let mut pod = Pod::default();
/// pod.metadata.name = Some("web".into());
/// pod.metadata.namespace = Some("prod".into());
/// pod.metadata.uid = Some("1234".into());
/// let dir = pod_lifecycle::cri_config::pod_log_dir("/var/log/pods", &pod);
/// assert_eq!(dir, std::path::Path::new("/var/log/pods/prod_web_1234"));
/// ```
pub fn pod_log_dir(logs_dir: impl AsRef<Path>, pod: &Pod) -> PathBuf {
    logs_dir.as_ref().join(format!(
        "{}_{}_{}",
        pod_namespace(pod),
        pod_name(pod),
        pod_uid(pod)
    ))
}

/// A container's log path relative to the pod's log directory: `<name>/<restart_count>.log`
/// (CRI-14).
///
/// ```
/// assert_eq!(pod_lifecycle::cri_config::container_log_path("app", 3), "app/3.log");
/// ```
pub fn container_log_path(container_name: &str, restart_count: u32) -> String {
    format!("{container_name}/{restart_count}.log")
}
