//! The legacy `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` symlinks
//! (`pkg/kubelet/kuberuntime/kuberuntime_container.go` `startContainer` step 7 and
//! `removeContainerLog`, `helpers.go` `legacyLogSymlink` / `logSymlink`,
//! `kuberuntime_gc.go` `evictPodLogsDirectories`).
//!
//! Log shippers written before the per-pod log directory existed tail
//! `/var/log/containers/*.log`; the kubelet keeps one symlink there per container, pointing
//! at the container's log file, created right after the container starts and removed with
//! the container. Container GC removes the ones left dangling.

use std::io;
use std::path::{Path, PathBuf};

use cri_client::{RuntimeService, v1};

use crate::paths::LEGACY_CONTAINER_LOGS_DIR;
use crate::{ContainerRef, Error, Result};
use pod_plan::validation;

/// ext4's file name limit; the kubelet cuts the symlink's name to fit (`ext4MaxFileNameLen`).
const MAX_FILE_NAME_LEN: usize = 255;
/// The symlinks' suffix (`legacyLogSuffix`).
const SUFFIX: &str = ".log";
/// The shortest container id prefix the kubelet accepts from a symlink name.
const MIN_ID_LEN: usize = 6;

/// The symlink of one container in `dir` (the kubelet's `legacyLogSymlink` /
/// `logSymlink`): `<pod name>_<namespace>_<container name>-<container id>.log`. A name
/// longer than 255 bytes is cut to 251 bytes before the `.log` suffix, as the kubelet does
/// (at a character boundary: Kubernetes names are ASCII, so only a bad name is cut shorter).
///
/// Each of the four parts must be one path component on its own
/// ([`check_path_component`](pod_plan::validation::check_path_component)); otherwise the
/// error is [`Error::InvalidName`] and the result is never a path outside `dir`.
///
/// ```
/// use std::path::Path;
/// use container_logs::legacy_log_symlink;
/// assert_eq!(
///     legacy_log_symlink(Path::new("/var/log/containers"), "web", "prod", "app", "0123abcd")?,
///     Path::new("/var/log/containers/web_prod_app-0123abcd.log"),
/// );
/// assert!(legacy_log_symlink(Path::new("/var/log/containers"), "../../etc/x", "prod", "app", "0123abcd").is_err());
/// # Ok::<(), container_logs::Error>(())
/// ```
pub fn legacy_log_symlink(
    dir: &Path,
    pod_name: &str,
    pod_namespace: &str,
    container_name: &str,
    container_id: &str,
) -> Result<PathBuf> {
    for (field, value) in [
        ("pod name", pod_name),
        ("pod namespace", pod_namespace),
        ("container name", container_name),
        ("container id", container_id),
    ] {
        validation::check_path_component(value).map_err(|message| Error::InvalidName {
            field,
            value: validation::display_value(value),
            message,
        })?;
    }
    let mut stem = format!("{pod_name}_{pod_namespace}_{container_name}-{container_id}");
    let max = MAX_FILE_NAME_LEN - SUFFIX.len();
    if stem.len() > max {
        let mut cut = max;
        while !stem.is_char_boundary(cut) {
            cut -= 1;
        }
        stem.truncate(cut);
    }
    stem.push_str(SUFFIX);
    Ok(dir.join(stem))
}

/// The container id in a symlink's name (the kubelet's `getContainerIDFromLegacyLogSymlink`):
/// what follows the last `-` up to the `.log` suffix, if it is at least 6 characters long (a
/// name cut to 255 bytes may hold only a prefix of the id, which the CRI still resolves).
///
/// ```
/// use std::path::Path;
/// use container_logs::container_id_from_legacy_symlink;
/// let link = Path::new("/var/log/containers/web_prod_my-app-0123abcd.log");
/// assert_eq!(container_id_from_legacy_symlink(link).as_deref(), Some("0123abcd"));
/// assert_eq!(container_id_from_legacy_symlink(Path::new("web_prod_app-12.log")), None);
/// ```
pub fn container_id_from_legacy_symlink(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let (_, last) = name.rsplit_once('-')?;
    let id = last.strip_suffix(SUFFIX)?;
    (id.len() >= MIN_ID_LEN).then(|| id.to_string())
}

/// The directory of the legacy symlinks, and the operations on them.
/// [`Default`] is the kubelet's `/var/log/containers`; tests point it at a temporary
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacySymlinks {
    dir: PathBuf,
}

impl Default for LegacySymlinks {
    fn default() -> Self {
        LegacySymlinks::new(LEGACY_CONTAINER_LOGS_DIR)
    }
}

/// What [`LegacySymlinks::remove_dangling`] did.
#[derive(Debug, Default)]
pub struct DanglingSymlinks {
    /// The dangling symlinks removed.
    pub removed: Vec<PathBuf>,
    /// Dangling symlinks kept because their container is not exited: its log is between the
    /// rename and the reopen of a rotation.
    pub kept: Vec<PathBuf>,
    /// Symlinks that could not be removed.
    pub errors: Vec<Error>,
}

impl LegacySymlinks {
    /// Symlinks in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LegacySymlinks { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The symlink path of `container` ([`legacy_log_symlink`]; an error when a part of
    /// its name is not a path component).
    pub fn path_for(&self, container: &ContainerRef) -> Result<PathBuf> {
        legacy_log_symlink(
            &self.dir,
            &container.pod_name,
            &container.pod_namespace,
            &container.container_name,
            &container.container_id,
        )
    }

    /// Links `container`'s symlink to `container_log` (its sandbox `log_directory` joined
    /// with its `log_path`), as the kubelet does right after `StartContainer`. Returns
    /// whether a link was made: like the kubelet, none is made when the log file does not
    /// exist, since it would only dangle. The directory is created if missing, and an
    /// existing link of the same name is replaced (a retried start of the same container).
    pub fn create(&self, container: &ContainerRef, container_log: &Path) -> Result<bool> {
        let _span = container.span().entered();
        let link = self.path_for(container)?;
        let file_error = |action: &'static str, path: &Path| {
            let container = Box::new(container.clone());
            let path = path.to_path_buf();
            move |source| Error::File {
                container,
                action,
                path,
                source,
            }
        };
        match std::fs::metadata(container_log) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::debug!(log = %container_log.display(), "no log file: no legacy symlink");
                return Ok(false);
            }
            _ => {}
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(file_error("create the legacy symlink directory", &self.dir))?;
        remove_if_present(&self.dir, &link)
            .map_err(file_error("replace the legacy symlink", &link))?;
        std::os::unix::fs::symlink(container_log, &link)
            .map_err(file_error("create the legacy symlink", &link))?;
        tracing::debug!(link = %link.display(), log = %container_log.display(), "legacy log symlink created");
        Ok(true)
    }

    /// Removes `container`'s symlink; returns whether there was one.
    pub fn remove(&self, container: &ContainerRef) -> Result<bool> {
        let link = self.path_for(container)?;
        remove_if_present(&self.dir, &link).map_err(|source| Error::File {
            container: Box::new(container.clone()),
            action: "remove the legacy symlink",
            path: link,
            source,
        })
    }

    /// Removes the symlinks whose target is gone (part of the kubelet's container GC,
    /// `evictPodLogsDirectories`). A dangling symlink whose container the runtime reports
    /// as anything but EXITED is kept: a rotation renames the log away for a moment before
    /// `ReopenContainerLog` creates it again. One whose container is unknown to the runtime
    /// (or whose name holds no container id) goes. A missing directory has nothing to clean.
    pub async fn remove_dangling(&self, runtime: &dyn RuntimeService) -> Result<DanglingSymlinks> {
        let mut report = DanglingSymlinks::default();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
            Err(source) => {
                return Err(Error::Directory {
                    action: "list the legacy symlinks in",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut dangling = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Directory {
                action: "list the legacy symlinks in",
                path: self.dir.clone(),
                source,
            })?;
            let path = entry.path();
            if !entry.file_name().to_string_lossy().ends_with(SUFFIX) {
                continue;
            }
            // metadata() follows the link: NotFound means the target is gone.
            if let Err(e) = std::fs::metadata(&path)
                && e.kind() == io::ErrorKind::NotFound
            {
                dangling.push(path);
            }
        }
        dangling.sort();
        for path in dangling {
            if let Some(id) = container_id_from_legacy_symlink(&path)
                && let Ok(answer) = runtime
                    .container_status(v1::ContainerStatusRequest {
                        container_id: id.clone(),
                        verbose: false,
                    })
                    .await
            {
                match answer.status {
                    Some(status) if status.state() == v1::ContainerState::ContainerExited => {}
                    // No status: the kubelet leaves the link for the next round too.
                    _ => {
                        tracing::debug!(link = %path.display(), container_id = %id, "dangling legacy symlink of a live container kept");
                        report.kept.push(path);
                        continue;
                    }
                }
            }
            match remove_if_present(&self.dir, &path) {
                Ok(_) => {
                    tracing::debug!(link = %path.display(), "dangling legacy symlink removed");
                    report.removed.push(path);
                }
                Err(source) => report.errors.push(Error::Directory {
                    action: "remove the dangling legacy symlink",
                    path,
                    source,
                }),
            }
        }
        Ok(report)
    }
}

/// Removes the symlink `path`, only when it is inside `dir` (the symlink directory).
fn remove_if_present(dir: &Path, path: &Path) -> io::Result<bool> {
    match validation::remove_file_within(dir, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_to_255_bytes_before_the_suffix() {
        let id = "f".repeat(64);
        let pod = "p".repeat(200);
        let link = legacy_log_symlink(Path::new("/d"), &pod, "ns", "app", &id).unwrap();
        let name = link.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 255);
        assert!(name.ends_with(".log"));
        // 200 + "_ns_app-" (8) = 208 bytes, so 43 bytes of the id survive the cut.
        assert!(name.starts_with(&format!("{pod}_ns_app-{}", "f".repeat(43))));
        assert_eq!(
            container_id_from_legacy_symlink(&link).unwrap(),
            "f".repeat(43)
        );
    }

    #[test]
    fn exactly_255_bytes_is_not_cut() {
        let pod = "p".repeat(251 - "_ns_app-".len() - 64);
        let id = "a".repeat(64);
        let link = legacy_log_symlink(Path::new("/d"), &pod, "ns", "app", &id).unwrap();
        let name = link.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 255);
        assert!(name.ends_with(&format!("{id}.log")));
    }

    #[test]
    fn cri_14_symlink_names_refuse_dotdot_slash_empty_dot_and_nul_in_every_part() {
        let dir = Path::new("/var/log/containers");
        for bad in ["..", "/", "", ".", "a\0b", "../../etc/cron.d/x"] {
            let parts = [
                [bad, "ns", "app", "0123abcd"],
                ["web", bad, "app", "0123abcd"],
                ["web", "ns", bad, "0123abcd"],
                ["web", "ns", "app", bad],
            ];
            for [pod, namespace, container, id] in parts {
                let err = legacy_log_symlink(dir, pod, namespace, container, id).unwrap_err();
                assert!(matches!(err, Error::InvalidName { .. }), "{bad:?}: {err}");
            }
        }
    }

    #[test]
    fn symlinks_outside_the_directory_are_never_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("containers");
        std::fs::create_dir(&dir).unwrap();
        let outside = tmp.path().join("victim.log");
        std::fs::write(&outside, "keep").unwrap();
        let escape = dir.join("../victim.log");
        let err = remove_if_present(&dir, &escape).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(outside.exists());
        let symlinks = LegacySymlinks::new(&dir);
        let container = ContainerRef {
            pod_namespace: "default".into(),
            pod_name: "..".into(),
            container_name: "app".into(),
            container_id: "0123456789ab".into(),
            ..Default::default()
        };
        assert!(symlinks.remove(&container).is_err());
        assert!(symlinks.create(&container, &outside).is_err());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn names_without_an_id_are_refused() {
        for name in [
            "web_prod_app.log",
            "web_prod_app-abc.log",
            "x-0123456789.txt",
        ] {
            assert_eq!(
                container_id_from_legacy_symlink(Path::new(name)),
                None,
                "{name}"
            );
        }
    }
}
