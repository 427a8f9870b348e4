//! The volume manager: a desired state (the pods whose volumes should be mounted) and an
//! actual state (what is mounted), reconciled on demand (`kl/volumemanager`).
//!
//! The kubelet runs a reconciler loop every 100 ms; here the pod worker drives it: it calls
//! [`VolumeManager::mount_pod`] before creating containers (retrying, within the kubelet's
//! 2m3s limit, [`MOUNT_TIMEOUT`]), [`VolumeManager::resync_pod`] on each periodic sync so
//! changed configMaps and secrets reach the files, and [`VolumeManager::unmount_pod`] once
//! every container of the pod is gone. Housekeeping calls
//! [`VolumeManager::orphaned_pods`] and unmounts those. After a restart,
//! [`VolumeManager::reconstruct`] rebuilds the actual state from the directory layout and
//! the mount table, so nothing is mounted twice and nothing in use is lost.
//!
//! Every method does blocking file-system work and may wait on the object source and the
//! token source ([`crate::tokens`]); from async code call it in
//! `tokio::task::spawn_blocking`.

mod container;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Volume};

use crate::layout::{PodDirs, RootDir, check_path_component, unescape_plugin_name};
use crate::mountinfo::{self, MountInfo};
use crate::objects::ObjectSource;
use crate::plugins::{self, NodeAllocatable, VolumeContext, VolumePlugin};
use crate::tokens::{NoTokens, TokenSource};
use crate::{Error, Result, mounter};

/// How long the kubelet waits for a pod's volumes (`WaitForAttachAndMount`): 2m3s.
pub const MOUNT_TIMEOUT: Duration = Duration::from_secs(123);
/// How often it checks meanwhile: 300 ms.
pub const MOUNT_RETRY_PERIOD: Duration = Duration::from_millis(300);

/// The text after `Unable to attach or mount volumes: ` in the kubelet's `FailedMount`
/// event when the wait times out (`WaitForAttachAndMount`).
///
/// ```
/// use volume_manager::failed_mount_message;
///
/// assert_eq!(
///     failed_mount_message(&["cfg".into(), "data".into()]),
///     "unmounted volumes=[cfg data], unattached volumes=[], failed to process volumes=[]: context deadline exceeded"
/// );
/// ```
pub fn failed_mount_message(unmounted: &[String]) -> String {
    format!(
        "unmounted volumes=[{}], unattached volumes=[], failed to process volumes=[]: context deadline exceeded",
        unmounted.join(" ")
    )
}

/// The whole `FailedMount` event message after the wait timed out.
pub fn failed_mount_event_message(unmounted: &[String]) -> String {
    format!(
        "Unable to attach or mount volumes: {}",
        failed_mount_message(unmounted)
    )
}

/// How the manager is set up.
#[derive(Clone)]
pub struct VolumeManagerConfig {
    /// The agent's root directory (the kubelet's `--root-dir`, default `/var/lib/kubelet`).
    pub root_dir: PathBuf,
    /// The node's allocatable resources (tmpfs sizes, downward API defaults).
    pub node_allocatable: NodeAllocatable,
    /// The mount table read for reconstruction and teardown (default
    /// `/proc/self/mountinfo`).
    pub mountinfo_path: PathBuf,
    /// The node's hosts file, copied for host-network pods (default `/etc/hosts`).
    pub node_hosts_file: PathBuf,
    /// Whether tmpfs mounts get `noswap` (default: [`kernel_supports_tmpfs_noswap`], as the
    /// kubelet adds it to every memory-backed volume when supported).
    ///
    /// [`kernel_supports_tmpfs_noswap`]: crate::kernel_supports_tmpfs_noswap
    pub tmpfs_noswap: bool,
    /// The kubelet's `AtomicWriteVolumeUserFields` feature gate (alpha in v1.37, off by
    /// default, and so off here): whether the `defaultUser` and `items[].user` fields of
    /// configMap, secret, downwardAPI and projected volumes make the files' owner. Off, the
    /// kubelet ignores them (the API server drops them), and so does this crate.
    pub volume_user_fields: bool,
    /// Where `serviceAccountToken` projections get their tokens (default [`NoTokens`]:
    /// such volumes fail to mount, as a node agent without an API server must).
    pub tokens: Arc<dyn TokenSource>,
}

impl std::fmt::Debug for VolumeManagerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeManagerConfig")
            .field("root_dir", &self.root_dir)
            .field("node_allocatable", &self.node_allocatable)
            .field("mountinfo_path", &self.mountinfo_path)
            .field("node_hosts_file", &self.node_hosts_file)
            .field("tmpfs_noswap", &self.tmpfs_noswap)
            .field("volume_user_fields", &self.volume_user_fields)
            .finish_non_exhaustive()
    }
}

impl VolumeManagerConfig {
    /// Defaults under `root_dir`.
    pub fn new(root_dir: impl Into<PathBuf>) -> Self {
        VolumeManagerConfig {
            root_dir: root_dir.into(),
            node_allocatable: NodeAllocatable::from_host(),
            mountinfo_path: PathBuf::from(mountinfo::PROC_SELF_MOUNTINFO),
            node_hosts_file: PathBuf::from("/etc/hosts"),
            tmpfs_noswap: mounter::kernel_supports_tmpfs_noswap(),
            volume_user_fields: false,
            tokens: Arc::new(NoTokens),
        }
    }

    /// The same, with service account tokens from `tokens` (cluster mode: the API server's
    /// TokenRequest, see [`crate::tokens`]).
    pub fn with_tokens(mut self, tokens: Arc<dyn TokenSource>) -> Self {
        self.tokens = tokens;
        self
    }
}

/// One mounted volume of a pod (the actual state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedVolume {
    /// The volume's name.
    pub name: String,
    /// The plugin's name (`kubernetes.io/secret`).
    pub plugin: String,
    /// Where it is on the host.
    pub host_path: PathBuf,
    /// Whether it is a tmpfs.
    pub tmpfs: bool,
    /// The emptyDir `sizeLimit` in bytes, for the eviction manager.
    pub size_limit: Option<u64>,
    /// Found on disk by [`VolumeManager::reconstruct`] and not yet checked against the pod's
    /// spec.
    pub reconstructed: bool,
}

#[derive(Debug, Default)]
struct State {
    /// Pod UID → `namespace/name` and its volume names.
    desired: BTreeMap<String, (String, BTreeSet<String>)>,
    /// Pod UID → mounted volumes by name.
    actual: BTreeMap<String, BTreeMap<String, MountedVolume>>,
}

/// Pod volumes on a node (see the module docs). Clones share the same state.
#[derive(Debug, Clone)]
pub struct VolumeManager {
    inner: Arc<Inner>,
}

struct Inner {
    root: RootDir,
    config: VolumeManagerConfig,
    plugins: Vec<Arc<dyn VolumePlugin>>,
    objects: Arc<dyn ObjectSource>,
    state: Mutex<State>,
    /// One lock per pod UID: calls for one pod never overlap, calls for different pods do.
    pod_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeManager")
            .field("root", &self.root)
            .field("plugins", &self.plugins)
            .finish_non_exhaustive()
    }
}

pub(crate) use pod_plan::pod_full_name;

/// The pod's UID, which names its directory: set, and exactly one path component
/// ([`check_path_component`]).
pub(crate) fn pod_uid(pod: &Pod) -> Result<String> {
    pod.metadata
        .uid
        .clone()
        .filter(|u| check_path_component(u).is_ok())
        .ok_or_else(|| Error::InvalidPod {
            pod: pod_full_name(pod),
            field: "metadata.uid".into(),
            message: "must be set, and one path component (it names the pod's directory), \
                      for volumes to be mounted"
                .into(),
        })
}

impl VolumeManager {
    /// A manager over `config.root_dir` with the default plugins; creates `<root>/pods`.
    pub fn new(config: VolumeManagerConfig, objects: Arc<dyn ObjectSource>) -> Result<Self> {
        Self::with_plugins(config, objects, plugins::default_plugins())
    }

    /// A manager with these plugins, tried in order.
    pub fn with_plugins(
        mut config: VolumeManagerConfig,
        objects: Arc<dyn ObjectSource>,
        plugins: Vec<Arc<dyn VolumePlugin>>,
    ) -> Result<Self> {
        let pods = config.root_dir.join("pods");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(&pods)
            .map_err(|e| Error::io("-", "create", &pods, e))?;
        // The mount table shows real paths: compare against the canonical root.
        config.root_dir = fs::canonicalize(&config.root_dir)
            .map_err(|e| Error::io("-", "resolve", &config.root_dir, e))?;
        Ok(VolumeManager {
            inner: Arc::new(Inner {
                root: RootDir::new(config.root_dir.clone()),
                config,
                plugins,
                objects,
                state: Mutex::default(),
                pod_locks: Mutex::default(),
            }),
        })
    }

    /// The root directory and its layout.
    pub fn root(&self) -> &RootDir {
        &self.inner.root
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pod_lock(&self, uid: &str) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .pod_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        locks.entry(uid.to_owned()).or_default().clone()
    }

    /// Drops the pod's lock once the pod is gone (a later call makes a new one), so a node
    /// does not keep one for every pod it ever ran.
    fn forget_pod_lock(&self, uid: &str) {
        self.inner
            .pod_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }

    fn mounts(&self) -> Result<Vec<MountInfo>> {
        let path = &self.inner.config.mountinfo_path;
        mountinfo::read(path).map_err(|e| Error::io("-", "read", path, e))
    }

    fn plugin_for(&self, volume: &Volume) -> Option<&Arc<dyn VolumePlugin>> {
        self.inner.plugins.iter().find(|p| p.can_support(volume))
    }

    fn plugin_named(&self, name: &str) -> Option<&Arc<dyn VolumePlugin>> {
        self.inner.plugins.iter().find(|p| p.name() == name)
    }

    /// Mounts every volume of the pod that is not mounted yet (`MountVolume` → `SetUp` for
    /// each desired volume missing from the actual state). Idempotent: a mounted volume is
    /// left alone. Every volume is tried; when some fail, the error
    /// ([`Error::PodNotMounted`]) lists them with each failure, which the worker reports as
    /// `FailedMount` events while it retries.
    pub fn mount_pod(&self, pod: &Pod) -> Result<()> {
        self.sync_pod(pod, false).map(|_| ())
    }

    /// [`VolumeManager::mount_pod`], then set-up again for every mounted volume whose plugin
    /// requires it (configMap, secret, downwardAPI, projected), so changed sources reach the
    /// files (the kubelet marks them `remountRequired` on each sync). Nothing is swapped when
    /// nothing changed. A failed refresh leaves the volume mounted with its last content:
    /// those failures are returned in `Ok` for the worker to report as events; an unmounted
    /// volume is an `Err` as for `mount_pod`.
    pub fn resync_pod(&self, pod: &Pod) -> Result<Vec<Error>> {
        self.sync_pod(pod, true)
    }

    /// Retries [`VolumeManager::mount_pod`] every `period` until it succeeds or `timeout`
    /// passes (`WaitForAttachAndMount`); on timeout the error is
    /// [`Error::MountTimeout`], whose message is the kubelet's. Blocks the thread.
    pub fn wait_for_attach_and_mount(
        &self,
        pod: &Pod,
        timeout: Duration,
        period: Duration,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            match self.mount_pod(pod) {
                Ok(()) => return Ok(()),
                Err(Error::PodNotMounted {
                    unmounted,
                    failures,
                    pod: name,
                }) => {
                    if start.elapsed() >= timeout {
                        return Err(Error::MountTimeout {
                            pod: name,
                            unmounted,
                            failures,
                        });
                    }
                }
                Err(other) => {
                    if start.elapsed() >= timeout {
                        return Err(other);
                    }
                }
            }
            std::thread::sleep(
                period
                    .min(timeout.saturating_sub(start.elapsed()))
                    .max(Duration::from_millis(1)),
            );
        }
    }

    fn sync_pod(&self, pod: &Pod, remount: bool) -> Result<Vec<Error>> {
        let name = pod_full_name(pod);
        let uid = pod_uid(pod)?;
        let _span = tracing::info_span!("volumes", pod = %name, uid = %uid).entered();
        let lock = self.pod_lock(&uid);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());

        let dirs = self.inner.root.pod(&uid)?;
        for dir in [
            dirs.dir().to_owned(),
            dirs.volumes_dir(),
            dirs.plugins_dir(),
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(&dir)
                .map_err(|e| Error::io(&name, "create", &dir, e))?;
        }
        let volumes: &[Volume] = pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_deref())
            .unwrap_or(&[]);
        self.state().desired.insert(
            uid.clone(),
            (
                name.clone(),
                volumes.iter().map(|v| v.name.clone()).collect(),
            ),
        );

        let mut failures = Vec::new();
        let mut remount_failures = Vec::new();
        for (i, volume) in volumes.iter().enumerate() {
            let known = self
                .state()
                .actual
                .get(&uid)
                .and_then(|m| m.get(&volume.name))
                .cloned();
            let field = format!("spec.volumes[{i}]");
            if let Err(problem) = check_path_component(&volume.name) {
                failures.push(Error::SetUp {
                    pod: name.clone(),
                    volume: volume.name.clone(),
                    field: format!("{field}.name"),
                    message: format!("must be a valid DNS label: {problem}"),
                });
                continue;
            }
            let Some(plugin) = self.plugin_for(volume) else {
                if known.is_none() {
                    failures.push(Error::SetUp {
                        pod: name.clone(),
                        volume: volume.name.clone(),
                        field,
                        message: "no volume plugin matched".into(),
                    });
                }
                continue;
            };
            let needs_set_up = match &known {
                None => true,
                Some(m) => {
                    m.reconstructed
                        || m.plugin != plugin.name()
                        || (remount && plugin.requires_remount())
                }
            };
            if !needs_set_up {
                continue;
            }
            let ctx = VolumeContext {
                pod,
                pod_name: &name,
                dirs: &dirs,
                volume,
                field,
                objects: self.inner.objects.as_ref(),
                tokens: self.inner.config.tokens.as_ref(),
                node: self.inner.config.node_allocatable,
                tmpfs_noswap: self.inner.config.tmpfs_noswap,
                volume_user_fields: self.inner.config.volume_user_fields,
            };
            match plugin
                .set_up(&ctx)
                .and_then(|result| Ok((result, plugin.host_path(&dirs, volume)?)))
            {
                Ok((result, host_path)) => {
                    let mounted = MountedVolume {
                        name: volume.name.clone(),
                        plugin: plugin.name().to_owned(),
                        host_path,
                        tmpfs: result.tmpfs,
                        size_limit: result.size_limit,
                        reconstructed: false,
                    };
                    if known.is_none() {
                        tracing::info!(volume = %volume.name, plugin = plugin.name(), "volume mounted");
                    }
                    self.state()
                        .actual
                        .entry(uid.clone())
                        .or_default()
                        .insert(volume.name.clone(), mounted);
                }
                Err(e) => {
                    tracing::warn!(volume = %volume.name, error = %e, "volume set-up failed");
                    match known {
                        Some(m) if !m.reconstructed => remount_failures.push(e),
                        _ => failures.push(e),
                    }
                }
            }
        }
        if failures.is_empty() {
            return Ok(remount_failures);
        }
        let mut unmounted: Vec<String> = failures
            .iter()
            .filter_map(|e| match e {
                Error::SetUp { volume, .. } => Some(volume.clone()),
                _ => None,
            })
            .collect();
        // An I/O failure names no volume: every volume not in the actual state is unmounted.
        let state = self.state();
        for v in volumes {
            let mounted = state
                .actual
                .get(&uid)
                .is_some_and(|m| m.contains_key(&v.name));
            if !mounted && !unmounted.contains(&v.name) {
                unmounted.push(v.name.clone());
            }
        }
        drop(state);
        unmounted.sort();
        unmounted.dedup();
        Err(Error::PodNotMounted {
            pod: name,
            unmounted,
            failures,
        })
    }

    /// The pod's mounted volumes (the actual state), by name.
    pub fn mounted_volumes(&self, uid: &str) -> Vec<MountedVolume> {
        self.state()
            .actual
            .get(uid)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether every volume of the pod's spec is mounted.
    pub fn pod_volumes_mounted(&self, pod: &Pod) -> bool {
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        let state = self.state();
        pod.spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .all(|v| {
                state
                    .actual
                    .get(uid)
                    .and_then(|m| m.get(&v.name))
                    .is_some_and(|m| !m.reconstructed)
            })
    }

    /// Tears down every volume of the pod and removes `pods/<uid>` last (the reconciler's
    /// `UnmountVolume` → `TearDown`, then housekeeping's directory removal): subPath bind
    /// mounts first, then each volume's mounts and directory, then — only when the mount
    /// table shows nothing left below it — the pod directory. Works from the directory
    /// layout and the mount table, so it needs no spec and works after a restart.
    /// Idempotent. Call it only once every container of the pod is gone.
    pub fn unmount_pod(&self, uid: &str) -> Result<()> {
        // First: a UID that is not one path component names no directory of ours.
        let dirs = self.inner.root.pod(uid)?;
        let name = self
            .state()
            .desired
            .get(uid)
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| uid.to_owned());
        let _span = tracing::info_span!("volumes", pod = %name, uid = %uid).entered();
        let lock = self.pod_lock(uid);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        self.state().desired.remove(uid);

        if fs::symlink_metadata(dirs.dir()).is_err() {
            self.state().actual.remove(uid);
            self.forget_pod_lock(uid);
            return Ok(());
        }

        // 1. subPath bind mounts (CleanSubPaths).
        self.unmount_all_under(&dirs.subpaths_dir(), &name)?;
        plugins::remove_dir_all_within(dirs.dir(), &dirs.subpaths_dir(), &name)?;

        // 2. Each volume (TearDown).
        for (plugin_name, volume) in volume_dirs(&dirs) {
            let dir = dirs.volume_dir(&plugin_name, &volume)?;
            self.unmount_all_under(&dir, &name)?;
            match self.plugin_named(&plugin_name) {
                Some(plugin) => plugin.tear_down(&dirs, &volume, &name)?,
                None => plugins::remove_dir_all_within(&dirs.volumes_dir(), &dir, &name)?,
            }
            if let Some(m) = self.state().actual.get_mut(uid) {
                m.remove(&volume);
            }
            tracing::info!(volume = %volume, plugin = %plugin_name, "volume unmounted");
        }
        // The kubelet's projected TearDown drops the pod's cached tokens
        // (`DeleteServiceAccountToken`); here once per pod, after every volume is down.
        self.inner.config.tokens.forget_pod(uid);

        // 3. The pod directory, only when nothing is mounted below it any more.
        let left: Vec<PathBuf> = mountinfo::mounts_under(&self.mounts()?, dirs.dir())
            .into_iter()
            .map(|m| m.mount_point.clone())
            .collect();
        if !left.is_empty() {
            return Err(Error::StillMounted {
                pod: uid.to_owned(),
                paths: left,
            });
        }
        plugins::remove_dir_all_within(&self.inner.root.pods_dir(), dirs.dir(), &name)?;
        self.state().actual.remove(uid);
        self.forget_pod_lock(uid);
        tracing::info!("pod directory removed");
        Ok(())
    }

    fn unmount_all_under(&self, dir: &Path, pod: &str) -> Result<()> {
        for m in mountinfo::mounts_under(&self.mounts()?, dir) {
            match mounter::unmount(&m.mount_point) {
                Ok(()) => {}
                // Already gone (unmounted through a parent, or by someone else).
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(pod, "unmount", &m.mount_point, e)),
            }
        }
        Ok(())
    }

    /// Rebuilds the actual state from `pods/*/volumes/*/*` and the mount table after a
    /// restart (the reconciler's `reconstruct`). A volume that needs a tmpfs
    /// (secret, downwardAPI, projected) but has none mounted is left out, so the next
    /// [`VolumeManager::mount_pod`] sets it up again; everything found is marked
    /// `reconstructed` and checked against the spec (set-up, which never mounts twice) by
    /// the next `mount_pod`. Returns the pod UIDs found on disk.
    pub fn reconstruct(&self) -> Result<Vec<String>> {
        let mounts = self.mounts()?;
        let uids = self.pod_dirs_on_disk()?;
        let mut state = self.state();
        for uid in &uids {
            let dirs = match self.inner.root.pod(uid) {
                Ok(dirs) => dirs,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping a pod directory that no pod can own");
                    continue;
                }
            };
            for (plugin, volume) in volume_dirs(&dirs) {
                let Ok(dir) = dirs.volume_dir(&plugin, &volume) else {
                    continue;
                };
                let tmpfs = mounts
                    .iter()
                    .any(|m| m.mount_point == dir && m.fs_type == "tmpfs");
                let needs_tmpfs = matches!(
                    plugin.as_str(),
                    "kubernetes.io/secret"
                        | "kubernetes.io/downward-api"
                        | "kubernetes.io/projected"
                );
                if needs_tmpfs && !tmpfs {
                    continue;
                }
                let entry = state.actual.entry(uid.clone()).or_default();
                entry.entry(volume.clone()).or_insert(MountedVolume {
                    name: volume.clone(),
                    plugin,
                    host_path: dir,
                    tmpfs,
                    size_limit: None,
                    reconstructed: true,
                });
            }
        }
        tracing::info!(pods = uids.len(), "volume state reconstructed");
        Ok(uids)
    }

    /// The UIDs of pod directories on disk that are not in `active` (the kubelet's
    /// `cleanupOrphanedPodDirs` candidates); unmount them with
    /// [`VolumeManager::unmount_pod`].
    pub fn orphaned_pods(&self, active: &[&str]) -> Result<Vec<String>> {
        Ok(self
            .pod_dirs_on_disk()?
            .into_iter()
            .filter(|uid| !active.contains(&uid.as_str()))
            .collect())
    }

    fn pod_dirs_on_disk(&self) -> Result<Vec<String>> {
        let pods = self.inner.root.pods_dir();
        let mut uids = Vec::new();
        let entries = match fs::read_dir(&pods) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(uids),
            Err(e) => return Err(Error::io("-", "read", &pods, e)),
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                uids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        uids.sort();
        Ok(uids)
    }

    /// Where the manager keeps the objects for configMap and secret volumes.
    pub fn objects(&self) -> &Arc<dyn ObjectSource> {
        &self.inner.objects
    }

    /// Where `serviceAccountToken` projections get their tokens
    /// ([`VolumeManagerConfig::tokens`]).
    pub fn tokens(&self) -> &Arc<dyn TokenSource> {
        &self.inner.config.tokens
    }

    pub(crate) fn config(&self) -> &VolumeManagerConfig {
        &self.inner.config
    }

    pub(crate) fn pod_dirs(&self, uid: &str) -> Result<PodDirs> {
        self.inner.root.pod(uid)
    }
}

/// `(plugin name, volume name)` of every directory under `pods/<uid>/volumes`.
fn volume_dirs(dirs: &PodDirs) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(plugins) = fs::read_dir(dirs.volumes_dir()) else {
        return out;
    };
    for plugin in plugins.flatten() {
        let plugin_name = unescape_plugin_name(&plugin.file_name().to_string_lossy());
        let Ok(volumes) = fs::read_dir(plugin.path()) else {
            continue;
        };
        for volume in volumes.flatten() {
            let name = volume.file_name().to_string_lossy().into_owned();
            // A deletion in progress (`<name>.deleting~<random>`) is a volume directory too.
            out.push((plugin_name.clone(), name));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod pod_lock_tests {
    use super::*;
    use crate::objects::InMemoryObjects;

    /// Issue 19's churn: unmounting a pod that has no directory (it never mounted anything,
    /// or it was cleaned up before) keeps no lock for it, so a node does not hold one for
    /// every pod it ever ran.
    #[test]
    fn ft_04_unmounting_a_pod_without_a_directory_keeps_no_lock() {
        let root = tempfile::tempdir().unwrap();
        let manager = VolumeManager::new(
            VolumeManagerConfig::new(root.path()),
            Arc::new(InMemoryObjects::new()),
        )
        .unwrap();
        for i in 0..3 {
            manager.unmount_pod(&format!("never-mounted-{i}")).unwrap();
        }
        let locks = manager.inner.pod_locks.lock().unwrap().len();
        assert_eq!(locks, 0, "locks kept for pods that are gone");
    }
}
