//! Where container logs go (`kuberuntime/helpers.go` `BuildPodLogsDirectory`,
//! `buildContainerLogsPath`); the legacy symlinks are in [`crate::LegacySymlinks`].
//!
//! The sandbox's `log_directory` is `<pod logs dir>/<namespace>_<name>_<uid>`; each
//! container's `log_path` is relative to it, `<container>/<restart count>.log`, so the
//! files of every instance stay side by side and the restart count can be recovered from
//! the highest `<n>.log` after an agent restart. `/var/log/containers` holds one symlink per
//! container for log shippers that predate the pod directory.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use pod_plan::{pod_full_name, pod_name, pod_namespace, pod_uid, validation};

/// The kubelet's default `podLogsDir`.
pub const DEFAULT_POD_LOGS_DIR: &str = "/var/log/pods";
/// The directory of the legacy per-container symlinks (`/var/log/containers`).
pub const LEGACY_CONTAINER_LOGS_DIR: &str = "/var/log/containers";

/// The pod's log directory: `<logs_dir>/<namespace>_<name>_<uid>` (CRI-14).
///
/// Each of the namespace, the name and the UID must be one path component on its own
/// ([`validation::check_path_component`]): otherwise the result is a
/// [`pod_plan::Error::InvalidPod`] naming the field, never a path outside `logs_dir`. (Sources
/// refuse such pods earlier, with [`validation::validate_pod_identity`]; this check keeps a pod
/// that skipped them inside its directory.) The error is `pod-plan`'s, like every rule about a
/// pod's identity, so that a caller reports it as it reports the pod's other validation errors.
///
/// ```
/// # use k8s_openapi::api::core::v1::Pod;
/// let mut pod = Pod::default();
/// pod.metadata.name = Some("web".into());
/// pod.metadata.namespace = Some("prod".into());
/// pod.metadata.uid = Some("1234".into());
/// let dir = container_logs::pod_log_dir("/var/log/pods", &pod)?;
/// assert_eq!(dir, std::path::Path::new("/var/log/pods/prod_web_1234"));
///
/// pod.metadata.uid = Some("../../canary".into());
/// assert!(container_logs::pod_log_dir("/var/log/pods", &pod).is_err());
/// # Ok::<(), pod_plan::Error>(())
/// ```
pub fn pod_log_dir(logs_dir: impl AsRef<Path>, pod: &Pod) -> pod_plan::Result<PathBuf> {
    for (field, value) in [
        ("metadata.namespace", pod_namespace(pod)),
        ("metadata.name", pod_name(pod)),
        ("metadata.uid", pod_uid(pod)),
    ] {
        validation::check_path_component(value).map_err(|problem| pod_plan::Error::InvalidPod {
            pod: pod_full_name(pod),
            field: field.to_owned(),
            message: format!(
                "Invalid value: {}: {problem}",
                validation::display_value(value)
            ),
        })?;
    }
    Ok(logs_dir.as_ref().join(format!(
        "{}_{}_{}",
        pod_namespace(pod),
        pod_name(pod),
        pod_uid(pod)
    )))
}

/// A container's log path relative to the pod's log directory: `<name>/<restart_count>.log`
/// (CRI-14). The name must be one path component ([`validation::check_path_component`]);
/// otherwise the error is an [`pod_plan::Error::InvalidPathComponent`] for the field `name`.
///
/// ```
/// use container_logs::container_log_path;
/// assert_eq!(container_log_path("app", 3)?, "app/3.log");
/// assert!(container_log_path("../app", 3).is_err());
/// # Ok::<(), pod_plan::Error>(())
/// ```
pub fn container_log_path(container_name: &str, restart_count: u32) -> pod_plan::Result<String> {
    validation::check_path_component(container_name).map_err(|problem| {
        pod_plan::Error::InvalidPathComponent {
            field: "name".into(),
            message: format!(
                "Invalid value: {}: {problem}",
                validation::display_value(container_name)
            ),
        }
    })?;
    Ok(format!("{container_name}/{restart_count}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: [&str; 5] = ["..", "/", "", ".", "a\0b"];

    fn pod(namespace: &str, name: &str, uid: &str) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.namespace = Some(namespace.into());
        pod.metadata.name = Some(name.into());
        pod.metadata.uid = Some(uid.into());
        pod
    }

    #[test]
    fn pod_log_dir_refuses_dotdot_slash_empty_dot_and_nul_in_each_part() {
        for bad in BAD {
            for (p, field) in [
                (pod(bad, "web", "u"), "metadata.namespace"),
                (pod("ns", bad, "u"), "metadata.name"),
                (pod("ns", "web", bad), "metadata.uid"),
            ] {
                let err = pod_log_dir("/var/log/pods", &p).unwrap_err().to_string();
                assert!(err.contains(field), "{bad:?}: {err}");
            }
        }
        let err = pod_log_dir("/logs", &pod("ns", "web", "../../canary")).unwrap_err();
        assert!(err.to_string().contains("metadata.uid"), "{err}");
        assert_eq!(
            pod_log_dir("/logs", &pod("ns", "web", "u-1")).unwrap(),
            Path::new("/logs/ns_web_u-1")
        );
    }

    #[test]
    fn container_log_path_refuses_dotdot_slash_empty_dot_and_nul() {
        for bad in BAD {
            let err = container_log_path(bad, 0).unwrap_err().to_string();
            assert!(err.starts_with("name: Invalid value"), "{bad:?}: {err}");
        }
        assert_eq!(container_log_path("app", 0).unwrap(), "app/0.log");
    }
}
