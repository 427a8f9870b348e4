//! The kubelet's on-disk layout under its root directory (`--root-dir`, default
//! `/var/lib/kubelet`), so tools and habits that know the kubelet's paths still fit
//! (`kl/kubelet_getters.go`):
//!
//! ```text
//! <root>/pods/<uid>/
//!   volumes/kubernetes.io~<plugin>/<volume>/            volume content or mount point
//!   volume-subpaths/<volume>/<container>/<mount index>  subPath bind mounts
//!   plugins/kubernetes.io~<plugin>/<volume>/            plugin metadata (emptyDir `ready`)
//!   containers/<container>/<random>                     termination-message files
//!   etc-hosts                                           the pod's managed /etc/hosts
//! ```
//!
//! Every builder that puts a name from a pod (its UID, a volume's or a container's name) or
//! from disk into a path checks that the name is exactly one normal path component
//! ([`check_path_component`]) and returns [`Error::UnsafePathComponent`] otherwise: no path
//! built here is ever outside `<root>/pods/<uid>`. Removals of such paths go through
//! `remove_dir_all_within` / `remove_file_within`, which check lexically that the path is
//! inside the directory it belongs to, and refuse (fail closed) otherwise.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The kubelet's default root directory.
pub const DEFAULT_ROOT_DIR: &str = "/var/lib/kubelet";

/// A plugin name as stored on disk: `kubernetes.io/empty-dir` → `kubernetes.io~empty-dir`
/// (the kubelet's `utilstrings.EscapeQualifiedName`).
pub fn escape_plugin_name(name: &str) -> String {
    name.replace('/', "~")
}

/// The reverse of [`escape_plugin_name`] (`UnescapeQualifiedName`).
pub fn unescape_plugin_name(name: &str) -> String {
    name.replace('~', "/")
}

pub use pod_plan::validation::check_path_component;
pub(crate) use pod_plan::validation::{display_value, remove_dir_all_within, remove_file_within};

/// `value`, checked with [`check_path_component`]; the error names the pod and the field.
fn component<'a>(pod: &str, field: &'static str, value: &'a str) -> Result<&'a str> {
    check_path_component(value).map_err(|message| Error::UnsafePathComponent {
        pod: pod.to_owned(),
        field,
        value: display_value(value),
        message,
    })?;
    Ok(value)
}

/// The root directory of the agent (`--root-dir`) and the paths below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootDir {
    root: PathBuf,
}

impl RootDir {
    /// Paths under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RootDir { root: root.into() }
    }

    /// The root directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `<root>/pods` (`getPodsDir`).
    pub fn pods_dir(&self) -> PathBuf {
        self.root.join("pods")
    }

    /// The directories of the pod with this UID, which must be one path component
    /// ([`Error::UnsafePathComponent`] for `metadata.uid` otherwise).
    pub fn pod(&self, uid: &str) -> Result<PodDirs> {
        let uid = component(&display_value(uid), "metadata.uid", uid)?;
        Ok(PodDirs {
            dir: self.pods_dir().join(uid),
            uid: uid.to_owned(),
        })
    }
}

/// The directories of one pod (`<root>/pods/<uid>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDirs {
    dir: PathBuf,
    uid: String,
}

impl PodDirs {
    /// `pods/<uid>` (`getPodDir`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pod's UID.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// `pods/<uid>/volumes` (`getPodVolumesDir`).
    pub fn volumes_dir(&self) -> PathBuf {
        self.dir.join("volumes")
    }

    /// `pods/<uid>/volumes/<escaped plugin>` (`getPluginDir` under the volumes directory).
    pub fn plugin_volumes_dir(&self, plugin: &str) -> Result<PathBuf> {
        let escaped = escape_plugin_name(plugin);
        let escaped = component(&self.uid, "volume plugin", &escaped)?;
        Ok(self.volumes_dir().join(escaped))
    }

    /// `pods/<uid>/volumes/<escaped plugin>/<volume>` (`getPodVolumeDir`). The escaped
    /// plugin name and the volume name must each be one path component.
    pub fn volume_dir(&self, plugin: &str, volume: &str) -> Result<PathBuf> {
        let volume = component(&self.uid, "volume name", volume)?;
        Ok(self.plugin_volumes_dir(plugin)?.join(volume))
    }

    /// `pods/<uid>/plugins` (`getPodPluginsDir`).
    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.join("plugins")
    }

    /// `pods/<uid>/plugins/<escaped plugin>/<volume>` (`getPodPluginDir`): plugin
    /// metadata such as the emptyDir `ready` marker. Names are checked as for
    /// [`PodDirs::volume_dir`].
    pub fn plugin_dir(&self, plugin: &str, volume: &str) -> Result<PathBuf> {
        let escaped = escape_plugin_name(plugin);
        let escaped = component(&self.uid, "volume plugin", &escaped)?;
        let volume = component(&self.uid, "volume name", volume)?;
        Ok(self.plugins_dir().join(escaped).join(volume))
    }

    /// `pods/<uid>/volume-subpaths` (`containerSubPathDirectoryName`).
    pub fn subpaths_dir(&self) -> PathBuf {
        self.dir.join("volume-subpaths")
    }

    /// `pods/<uid>/volume-subpaths/<volume>/<container>/<index>`: where the subPath of the
    /// `index`th volumeMount of a container is bind-mounted (`getSubpathBindTarget`). The
    /// volume and container names must each be one path component.
    pub fn subpath_target(&self, volume: &str, container: &str, index: usize) -> Result<PathBuf> {
        let volume = component(&self.uid, "volume name", volume)?;
        let container = component(&self.uid, "container name", container)?;
        Ok(self
            .subpaths_dir()
            .join(volume)
            .join(container)
            .join(index.to_string()))
    }

    /// `pods/<uid>/containers` (the parent of every [`PodDirs::container_dir`]).
    pub fn containers_dir(&self) -> PathBuf {
        self.dir.join("containers")
    }

    /// `pods/<uid>/containers/<container>` (`getPodContainerDir`); the container name must
    /// be one path component.
    pub fn container_dir(&self, container: &str) -> Result<PathBuf> {
        let container = component(&self.uid, "container name", container)?;
        Ok(self.containers_dir().join(container))
    }

    /// `pods/<uid>/etc-hosts` (`getEtcHostsPath`).
    pub fn etc_hosts(&self) -> PathBuf {
        self.dir.join("etc-hosts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAD: [&str; 5] = ["..", "/", "", ".", "a\0b"];

    #[test]
    fn vo_01_layout_matches_the_kubelet() {
        let root = RootDir::new(DEFAULT_ROOT_DIR);
        let pod = root.pod("uid-1").unwrap();
        assert_eq!(
            pod.volume_dir("kubernetes.io/empty-dir", "cache").unwrap(),
            Path::new("/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~empty-dir/cache")
        );
        assert_eq!(
            pod.subpath_target("cfg", "app", 2).unwrap(),
            Path::new("/var/lib/kubelet/pods/uid-1/volume-subpaths/cfg/app/2")
        );
        assert_eq!(
            pod.plugin_dir("kubernetes.io/empty-dir", "cache").unwrap(),
            Path::new("/var/lib/kubelet/pods/uid-1/plugins/kubernetes.io~empty-dir/cache")
        );
        assert_eq!(
            pod.container_dir("app").unwrap(),
            Path::new("/var/lib/kubelet/pods/uid-1/containers/app")
        );
        assert_eq!(
            pod.etc_hosts(),
            Path::new("/var/lib/kubelet/pods/uid-1/etc-hosts")
        );
        assert_eq!(
            unescape_plugin_name("kubernetes.io~configmap"),
            "kubernetes.io/configmap"
        );
    }

    #[test]
    fn pod_dir_refuses_uid_dotdot_slash_empty_dot_and_nul() {
        let root = RootDir::new(DEFAULT_ROOT_DIR);
        for bad in BAD.into_iter().chain(["../../canary"]) {
            let err = root.pod(bad).unwrap_err();
            assert!(
                matches!(
                    &err,
                    Error::UnsafePathComponent {
                        field: "metadata.uid",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn volume_plugin_subpath_and_container_dirs_refuse_bad_names() {
        let pod = RootDir::new(DEFAULT_ROOT_DIR).pod("uid-1").unwrap();
        const PLUGIN: &str = "kubernetes.io/empty-dir";
        for bad in BAD {
            let field = |r: Result<PathBuf>| match r {
                Err(Error::UnsafePathComponent { field, .. }) => field,
                other => panic!("{bad:?}: {other:?}"),
            };
            assert_eq!(field(pod.volume_dir(PLUGIN, bad)), "volume name");
            assert_eq!(field(pod.plugin_dir(PLUGIN, bad)), "volume name");
            assert_eq!(field(pod.subpath_target(bad, "app", 0)), "volume name");
            assert_eq!(field(pod.subpath_target("v", bad, 0)), "container name");
            assert_eq!(field(pod.container_dir(bad)), "container name");
            if bad != "/" {
                // "/" escapes to "~", a valid name.
                assert_eq!(field(pod.volume_dir(bad, "v")), "volume plugin");
                assert_eq!(field(pod.plugin_dir(bad, "v")), "volume plugin");
            }
        }
    }
}
