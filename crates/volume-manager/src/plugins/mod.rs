//! Volume plugins: one per volume source, behind the [`VolumePlugin`] trait (the kubelet's
//! `volume.VolumePlugin` with its `Mounter` and `Unmounter` folded in).
//!
//! | plugin | on disk | medium |
//! |---|---|---|
//! | [`EmptyDirPlugin`] `kubernetes.io/empty-dir` | `volumes/kubernetes.io~empty-dir/<name>`, mode 0777 | disk, or tmpfs for `medium: Memory` |
//! | [`HostPathPlugin`] `kubernetes.io/host-path` | the host path itself | — |
//! | [`ConfigMapPlugin`] `kubernetes.io/configmap` | `volumes/kubernetes.io~configmap/<name>` | disk |
//! | [`SecretPlugin`] `kubernetes.io/secret` | `volumes/kubernetes.io~secret/<name>` | tmpfs |
//! | [`DownwardApiPlugin`] `kubernetes.io/downward-api` | `volumes/kubernetes.io~downward-api/<name>` | tmpfs |
//! | [`ProjectedPlugin`] `kubernetes.io/projected` | `volumes/kubernetes.io~projected/<name>` | tmpfs |
//!
//! configMap, secret, downwardAPI and projected wrap an emptyDir (the kubelet's
//! `NewWrapperMounter`, whose ready marker is `plugins/kubernetes.io~empty-dir/wrapped_<name>`)
//! and write through the [`AtomicWriter`](crate::atomic_writer::AtomicWriter).

mod config_map;
mod downward_api;
mod empty_dir;
mod host_path;
mod nested;
mod ownership;
mod payload;
mod projected;
mod secret;

pub use config_map::ConfigMapPlugin;
pub use downward_api::{DownwardApiPlugin, field_path_value, format_map, resource_value};
pub use empty_dir::{EmptyDirPlugin, memory_volume_size, pod_memory_limit};
pub use host_path::{HostPathPlugin, check_host_path_type};
pub use nested::nested_mount_points;
pub use projected::ProjectedPlugin;
pub use secret::SecretPlugin;

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Pod, Volume};

use crate::layout::PodDirs;
use crate::objects::ObjectSource;
use crate::tokens::TokenSource;
use crate::{Error, Result};

/// What the node offers pods, for emptyDir tmpfs sizes and for downward API limits that a
/// container leaves unset (the kubelet's node allocatable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeAllocatable {
    /// Allocatable memory in bytes.
    pub memory_bytes: Option<u64>,
    /// Allocatable CPU in millicores.
    pub cpu_millis: Option<u64>,
    /// Allocatable ephemeral storage in bytes.
    pub ephemeral_storage_bytes: Option<u64>,
}

impl NodeAllocatable {
    /// The machine's capacity as a stand-in for allocatable (no reservations): `MemTotal`
    /// of `/proc/meminfo` and the CPUs this process may use. An agent passes its real
    /// allocatable instead.
    pub fn from_host() -> Self {
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024);
        let cpu_millis = std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64 * 1000);
        NodeAllocatable {
            memory_bytes,
            cpu_millis,
            ephemeral_storage_bytes: None,
        }
    }
}

/// Everything a plugin needs to set up one volume of one pod.
pub struct VolumeContext<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// `namespace/name` of the pod, for errors and logs.
    pub pod_name: &'a str,
    /// The pod's directories.
    pub dirs: &'a PodDirs,
    /// The volume (an entry of `spec.volumes`).
    pub volume: &'a Volume,
    /// Its field path (`spec.volumes[2]`).
    pub field: String,
    /// Where configMaps and secrets come from.
    pub objects: &'a dyn ObjectSource,
    /// Where service account tokens come from (`serviceAccountToken` projections).
    pub tokens: &'a dyn TokenSource,
    /// The node's allocatable resources.
    pub node: NodeAllocatable,
    /// Whether tmpfs mounts get `noswap`.
    pub tmpfs_noswap: bool,
    /// Whether `defaultUser` and `items[].user` own the files (the kubelet's
    /// `AtomicWriteVolumeUserFields` gate; see
    /// [`VolumeManagerConfig::volume_user_fields`](crate::VolumeManagerConfig::volume_user_fields)).
    pub volume_user_fields: bool,
}

impl std::fmt::Debug for VolumeContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeContext")
            .field("pod", &self.pod_name)
            .field("volume", &self.volume.name)
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

impl VolumeContext<'_> {
    /// A set-up failure of this volume; `sub_field` is appended to the volume's field path.
    pub fn fail(&self, sub_field: &str, message: impl Into<String>) -> Error {
        Error::SetUp {
            pod: self.pod_name.to_owned(),
            volume: self.volume.name.clone(),
            field: format!("{}{sub_field}", self.field),
            message: message.into(),
        }
    }

    /// A system error while setting up this volume.
    pub fn io(&self, action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::io(self.pod_name, action, path, source)
    }

    /// The pod's namespace (`default` when unset, as for static pods).
    pub fn namespace(&self) -> &str {
        self.pod
            .metadata
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
    }

    /// `pods/<uid>/volumes/<plugin>/<volume>` (an error when the volume's name is not one
    /// path component).
    pub fn volume_dir(&self, plugin: &str) -> Result<PathBuf> {
        self.dirs.volume_dir(plugin, &self.volume.name)
    }
}

/// How container mounts of a volume behave (`volume.Attributes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeAttributes {
    /// Always mounted read-only into containers, whatever `readOnly` says.
    pub read_only: bool,
    /// The agent owns the content (ownership and SELinux labels may be changed).
    pub managed: bool,
    /// The runtime should relabel it for SELinux.
    pub selinux_relabel: bool,
}

/// What set-up produced, kept in the actual state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetUpResult {
    /// Whether the volume is a tmpfs.
    pub tmpfs: bool,
    /// The emptyDir `sizeLimit` in bytes, for eviction (a disk emptyDir's limit is no
    /// quota: the eviction manager enforces it).
    pub size_limit: Option<u64>,
}

/// One kind of volume (see the module docs).
pub trait VolumePlugin: Send + Sync + std::fmt::Debug {
    /// The kubelet's plugin name (`kubernetes.io/empty-dir`).
    fn name(&self) -> &'static str;

    /// Whether this plugin handles the volume (`CanSupport`).
    fn can_support(&self, volume: &Volume) -> bool;

    /// Where the volume is on the host (`GetPath`): what containers mount. An error when
    /// the volume's name is not one path component.
    fn host_path(&self, dirs: &PodDirs, volume: &Volume) -> Result<PathBuf> {
        dirs.volume_dir(self.name(), &volume.name)
    }

    /// How container mounts of the volume behave.
    fn attributes(&self, volume: &Volume) -> VolumeAttributes;

    /// Whether set-up must run again on each pod resync to pick up changed sources
    /// (`RequiresRemount`: configMap, secret, downwardAPI, projected).
    fn requires_remount(&self) -> bool {
        false
    }

    /// Makes the volume ready at [`VolumePlugin::host_path`] (`SetUp`). Runs again for a
    /// mounted volume on resync when [`VolumePlugin::requires_remount`], so it must be
    /// idempotent: never mount twice.
    fn set_up(&self, ctx: &VolumeContext<'_>) -> Result<SetUpResult>;

    /// Undoes set-up (`TearDown`) from the directory layout alone, so it works after a
    /// restart without the pod's spec: unmounts whatever is mounted at the volume's
    /// directory and removes it with the plugin's metadata directory.
    ///
    /// Every directory removed is checked to be inside the pod's `volumes` or `plugins`
    /// directory first (the guarded removal of [`layout`](crate::layout)).
    fn tear_down(&self, dirs: &PodDirs, volume_name: &str, pod: &str) -> Result<()> {
        let dir = dirs.volume_dir(self.name(), volume_name)?;
        empty_dir::tear_down_dir(&dirs.volumes_dir(), &dir, pod)?;
        for meta in [
            dirs.plugin_dir(self.name(), volume_name)?,
            dirs.plugin_dir(empty_dir::PLUGIN_NAME, &format!("wrapped_{volume_name}"))?,
        ] {
            remove_dir_all_within(&dirs.plugins_dir(), &meta, pod)?;
        }
        Ok(())
    }
}

/// Removes `dir` and everything in it, only when it is strictly inside `parent`, lexically
/// and without `..` ([`layout`](crate::layout)'s guarded removal). Already gone is fine; a
/// path outside `parent` is an [`Error::Io`] (`InvalidInput`, "refusing to remove ...: not
/// inside ...") and nothing is touched.
pub(crate) fn remove_dir_all_within(parent: &Path, dir: &Path, pod: &str) -> Result<()> {
    match crate::layout::remove_dir_all_within(parent, dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(pod, "remove", dir, e)),
    }
}

/// The plugins this crate provides, in the order they are tried.
pub fn default_plugins() -> Vec<std::sync::Arc<dyn VolumePlugin>> {
    vec![
        std::sync::Arc::new(EmptyDirPlugin),
        std::sync::Arc::new(HostPathPlugin),
        std::sync::Arc::new(ConfigMapPlugin),
        std::sync::Arc::new(SecretPlugin),
        std::sync::Arc::new(DownwardApiPlugin),
        std::sync::Arc::new(ProjectedPlugin),
    ]
}
