//! [`ContainerLogManager`]: size-based rotation of running containers' logs
//! (`pkg/kubelet/logs/container_log_manager.go`) and the removal of a container's log files.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cri_client::{RuntimeService, v1};
use tracing::Instrument;

use crate::files::{self, COMPRESS_SUFFIX, FileError, TIMESTAMP_FORMAT};
use crate::{ContainerRef, Error, LegacySymlinks, LogRotationSettings, Result};

/// The clock rotated files are named by: local wall-clock time, as the kubelet's
/// `clock.Now().Format("20060102-150405")`.
pub type LogClock = Arc<dyn Fn() -> jiff::civil::DateTime + Send + Sync>;

/// Rotates the logs of running containers by size, and removes a removed container's logs
/// (the kubelet's `ContainerLogManager`).
///
/// Every [`monitor_interval`](LogRotationSettings::monitor_interval), [`run`](Self::run)
/// makes one [`rotate_once`](Self::rotate_once) round: for each running container whose
/// live log is at least [`max_size`](LogRotationSettings::max_size) bytes, the older
/// rotated files are compressed, the oldest removed so that the container keeps at most
/// [`max_files`](LogRotationSettings::max_files) files (the live log included), the live
/// log is renamed to `<log>.<YYYYmmdd-HHMMSS>` and the runtime is asked to reopen it
/// (`ReopenContainerLog`), which makes the runtime write to a fresh file at the old path.
/// If the reopen fails, the rotated file is renamed back so that nothing is lost and the
/// next round tries again. Containers that do not run are left alone: they write nothing
/// more, and an empty live log would be of no use.
///
/// A rotation and a [`remove_container_logs`](Self::remove_container_logs) never
/// interleave (the kubelet's mutex).
pub struct ContainerLogManager {
    runtime: Arc<dyn RuntimeService>,
    settings: LogRotationSettings,
    symlinks: LegacySymlinks,
    label_selector: std::collections::HashMap<String, String>,
    clock: LogClock,
    lock: tokio::sync::Mutex<()>,
    /// Log paths by container id: a container's log path never changes, so each running
    /// container costs one `ContainerStatus` in its life instead of one per round.
    log_paths: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl fmt::Debug for ContainerLogManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerLogManager")
            .field("settings", &self.settings)
            .field("symlinks", &self.symlinks)
            .field("label_selector", &self.label_selector)
            .finish_non_exhaustive()
    }
}

/// What one [`ContainerLogManager::rotate_once`] round did.
#[derive(Debug, Default)]
pub struct RotationReport {
    /// How many running containers were looked at.
    pub running: usize,
    /// The logs rotated this round.
    pub rotated: Vec<RotatedLog>,
    /// Containers whose log is due but whose rotated file name for this second is taken (a
    /// second rotation within one second): left for the next round rather than overwrite.
    pub deferred: Vec<ContainerRef>,
    /// What failed, one error per container; the other containers were still handled.
    pub errors: Vec<Error>,
}

/// One rotated log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedLog {
    /// The container.
    pub container: ContainerRef,
    /// Its live log path, reopened by the runtime.
    pub log: PathBuf,
    /// Where the former live log now is (`<log>.<timestamp>`, uncompressed until the next
    /// rotation).
    pub rotated_to: PathBuf,
}

enum Outcome {
    Unchanged,
    Deferred,
    Rotated(PathBuf, PathBuf),
}

impl ContainerLogManager {
    /// A manager over `runtime` with `settings`, checked with
    /// [`LogRotationSettings::validate`]. Symlinks are in `/var/log/containers` and every
    /// running container is rotated, as by the kubelet; see the `with_` methods to change
    /// that.
    pub fn new(runtime: Arc<dyn RuntimeService>, settings: LogRotationSettings) -> Result<Self> {
        settings.validate()?;
        Ok(ContainerLogManager {
            runtime,
            settings,
            symlinks: LegacySymlinks::default(),
            label_selector: Default::default(),
            clock: Arc::new(|| jiff::Zoned::now().datetime()),
            lock: tokio::sync::Mutex::new(()),
            log_paths: Default::default(),
        })
    }

    /// Where the legacy symlinks removed by
    /// [`remove_container_logs`](Self::remove_container_logs) are.
    pub fn with_symlinks(mut self, symlinks: LegacySymlinks) -> Self {
        self.symlinks = symlinks;
        self
    }

    /// Rotate only containers carrying all these labels (a CRI `ListContainers` label
    /// selector). The kubelet rotates every container of its runtime; this is for a runtime
    /// shared with containers that are not the agent's (tests, several agents).
    pub fn with_label_selector(
        mut self,
        labels: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        self.label_selector = labels.into_iter().collect();
        self
    }

    /// The clock rotated files are named by (local time by default).
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> jiff::civil::DateTime + Send + Sync + 'static,
    ) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &LogRotationSettings {
        &self.settings
    }

    /// The legacy symlinks.
    pub fn symlinks(&self) -> &LegacySymlinks {
        &self.symlinks
    }

    /// Rotates every [`monitor_interval`](LogRotationSettings::monitor_interval), the first
    /// round at once, until `shutdown` completes (the kubelet's `Start`). Failures are
    /// logged (`warn`) and retried the next round. Shutdown is only looked at between
    /// rounds, so a renamed log is never left without its reopen.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut ticker = tokio::time::interval(self.settings.monitor_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                _ = ticker.tick() => {}
            }
            match self.rotate_once().await {
                Ok(report) => {
                    for e in &report.errors {
                        tracing::warn!(error = %e, "container log rotation failed");
                    }
                    if !report.rotated.is_empty() {
                        tracing::debug!(
                            rotated = report.rotated.len(),
                            running = report.running,
                            "container logs rotated"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "container log rotation failed"),
            }
        }
    }

    /// One rotation round over the running containers (the kubelet's `rotateLogs` followed
    /// by `processContainer` for each). Fails only when the containers cannot be listed;
    /// what fails for one container is in [`RotationReport::errors`].
    pub async fn rotate_once(&self) -> Result<RotationReport> {
        let _guard = self.lock.lock().await;
        let listed = self
            .runtime
            .list_containers(v1::ListContainersRequest {
                filter: Some(v1::ContainerFilter {
                    state: Some(v1::ContainerStateValue {
                        state: v1::ContainerState::ContainerRunning as i32,
                    }),
                    label_selector: self.label_selector.clone(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(|source| Error::ListContainers { source })?;
        let mut report = RotationReport::default();
        self.paths()
            .retain(|id, _| listed.containers.iter().any(|c| &c.id == id));
        for c in listed.containers {
            // The filter should have done this; a runtime that ignores it must not make us
            // rotate an exited container's log.
            if c.state() != v1::ContainerState::ContainerRunning {
                continue;
            }
            report.running += 1;
            let metadata_name = c.metadata.as_ref().map(|m| m.name.as_str());
            let container = ContainerRef::from_labels(&c.id, &c.labels, metadata_name);
            let span = container.span();
            match self.rotate_container(&container).instrument(span).await {
                Ok(Outcome::Unchanged) => {}
                Ok(Outcome::Deferred) => report.deferred.push(container),
                Ok(Outcome::Rotated(log, rotated_to)) => report.rotated.push(RotatedLog {
                    container,
                    log,
                    rotated_to,
                }),
                Err(e) => report.errors.push(e),
            }
        }
        Ok(report)
    }

    /// One container (the kubelet's `processContainer` and `rotateLog`).
    async fn rotate_container(&self, container: &ContainerRef) -> Result<Outcome> {
        let known = self.paths().get(&container.container_id).cloned();
        let log_path = match known {
            Some(path) => path,
            None => {
                let path = self.status(container).await?.log_path;
                self.paths()
                    .insert(container.container_id.clone(), path.clone());
                path
            }
        };
        if log_path.is_empty() {
            // Created without a log path: the runtime keeps no log file to rotate.
            return Ok(Outcome::Unchanged);
        }
        let log = PathBuf::from(&log_path);
        let size = match std::fs::metadata(&log) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Removed behind the runtime's back (or a crash between rename and reopen):
                // have the runtime create it again, as the kubelet does.
                self.reopen(container).await?;
                std::fs::metadata(&log)
                    .map_err(|source| file_error(container, "stat the reopened log", &log, source))?
                    .len()
            }
            Err(source) => return Err(file_error(container, "stat the log", &log, source)),
        };
        if size < self.settings.max_size {
            return Ok(Outcome::Unchanged);
        }

        let timestamp = (self.clock)().strftime(TIMESTAMP_FORMAT).to_string();
        let rotated = with_suffix(&log, &format!(".{timestamp}"));
        if rotated.exists() || with_suffix(&rotated, COMPRESS_SUFFIX).exists() {
            // The kubelet would overwrite the file rotated earlier in this second (and
            // lose it when compressing); wait for the clock instead.
            tracing::debug!(rotated = %rotated.display(), "rotated log name taken, rotation deferred");
            return Ok(Outcome::Deferred);
        }

        let max_files = self.settings.max_files;
        let prepared = log.clone();
        tokio::task::spawn_blocking(move || files::prepare_rotation(&prepared, max_files))
            .await
            .map_err(|join| {
                file_error(
                    container,
                    "prepare the rotation of",
                    &log,
                    io::Error::other(join),
                )
            })?
            .map_err(|e: FileError| file_error(container, e.action, &e.path, e.source))?;

        std::fs::rename(&log, &rotated)
            .map_err(|source| file_error(container, "rename the live log", &log, source))?;
        if let Err(source) = self
            .runtime
            .reopen_container_log(v1::ReopenContainerLogRequest {
                container_id: container.container_id.clone(),
            })
            .await
        {
            let restore_error = std::fs::rename(&rotated, &log).err();
            return Err(Error::Reopen {
                container: Box::new(container.clone()),
                path: log,
                rotated,
                restore_error,
                source: Box::new(source),
            });
        }
        tracing::debug!(log = %log.display(), rotated = %rotated.display(), size, "container log rotated");
        Ok(Outcome::Rotated(log, rotated))
    }

    fn paths(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.log_paths.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn status(&self, container: &ContainerRef) -> Result<v1::ContainerStatus> {
        self.runtime
            .container_status(v1::ContainerStatusRequest {
                container_id: container.container_id.clone(),
                verbose: false,
            })
            .await
            .map_err(|source| Error::Runtime {
                container: Box::new(container.clone()),
                source,
            })?
            .status
            .ok_or_else(|| Error::MissingStatus {
                container: Box::new(container.clone()),
            })
    }

    async fn reopen(&self, container: &ContainerRef) -> Result<()> {
        self.runtime
            .reopen_container_log(v1::ReopenContainerLogRequest {
                container_id: container.container_id.clone(),
            })
            .await
            .map(|_| ())
            .map_err(|source| Error::Runtime {
                container: Box::new(container.clone()),
                source,
            })
    }

    /// Removes every log file of a container: the live log and all rotated files (the
    /// kubelet's `Clean`, files `<log_path>*`). Returns the files removed.
    pub async fn clean(&self, container_id: &str) -> Result<Vec<PathBuf>> {
        let _guard = self.lock.lock().await;
        let (container, status) = self.status_by_id(container_id).await?;
        self.clean_files(&container, &status.log_path)
            .instrument(container.span())
            .await
    }

    /// Removes what a container leaves on disk: its log files ([`clean`](Self::clean)) and
    /// its legacy symlink (the kubelet's `removeContainerLog`). Call it before
    /// `RemoveContainer`, while the runtime still knows the container's log path; like the
    /// kubelet, a failure here should keep the container from being removed this time.
    /// Returns the paths removed, the symlink last.
    pub async fn remove_container_logs(&self, container_id: &str) -> Result<Vec<PathBuf>> {
        let _guard = self.lock.lock().await;
        let (container, status) = self.status_by_id(container_id).await?;
        let span = container.span();
        async {
            let mut removed = self.clean_files(&container, &status.log_path).await?;
            if self.symlinks.remove(&container)? {
                removed.push(self.symlinks.path_for(&container)?);
            }
            Ok(removed)
        }
        .instrument(span)
        .await
    }

    async fn status_by_id(
        &self,
        container_id: &str,
    ) -> Result<(ContainerRef, v1::ContainerStatus)> {
        let unknown = ContainerRef {
            container_id: container_id.to_string(),
            ..Default::default()
        };
        let status = self.status(&unknown).await?;
        let metadata_name = status.metadata.as_ref().map(|m| m.name.as_str());
        let container = ContainerRef::from_labels(container_id, &status.labels, metadata_name);
        Ok((container, status))
    }

    async fn clean_files(&self, container: &ContainerRef, log_path: &str) -> Result<Vec<PathBuf>> {
        if log_path.is_empty() {
            return Ok(Vec::new());
        }
        let log = PathBuf::from(log_path);
        let found = files::matching_files(&log, "")
            .map_err(|source| file_error(container, "list the log files of", &log, source))?;
        let dir = files::log_dir(&log);
        let mut removed = Vec::new();
        for file in found {
            // Only files of the log's own directory; a runtime log path with `..` is refused.
            match pod_plan::validation::remove_file_within(dir, &file) {
                Ok(()) => removed.push(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(file_error(container, "remove the log file", &file, source));
                }
            }
        }
        tracing::debug!(files = removed.len(), "container logs removed");
        Ok(removed)
    }
}

fn file_error(
    container: &ContainerRef,
    action: &'static str,
    path: &Path,
    source: io::Error,
) -> Error {
    Error::File {
        container: Box::new(container.clone()),
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}
