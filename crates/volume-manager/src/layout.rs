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

use std::path::{Path, PathBuf};

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

    /// The directories of one pod.
    pub fn pod(&self, uid: &str) -> PodDirs {
        PodDirs {
            dir: self.pods_dir().join(uid),
        }
    }
}

/// The directories of one pod (`<root>/pods/<uid>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDirs {
    dir: PathBuf,
}

impl PodDirs {
    /// `pods/<uid>` (`getPodDir`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `pods/<uid>/volumes` (`getPodVolumesDir`).
    pub fn volumes_dir(&self) -> PathBuf {
        self.dir.join("volumes")
    }

    /// `pods/<uid>/volumes/<escaped plugin>/<volume>` (`getPodVolumeDir`).
    pub fn volume_dir(&self, plugin: &str, volume: &str) -> PathBuf {
        self.volumes_dir()
            .join(escape_plugin_name(plugin))
            .join(volume)
    }

    /// `pods/<uid>/plugins/<escaped plugin>/<volume>` (`getPodPluginDir`): plugin
    /// metadata such as the emptyDir `ready` marker.
    pub fn plugin_dir(&self, plugin: &str, volume: &str) -> PathBuf {
        self.dir
            .join("plugins")
            .join(escape_plugin_name(plugin))
            .join(volume)
    }

    /// `pods/<uid>/volume-subpaths` (`containerSubPathDirectoryName`).
    pub fn subpaths_dir(&self) -> PathBuf {
        self.dir.join("volume-subpaths")
    }

    /// `pods/<uid>/volume-subpaths/<volume>/<container>/<index>`: where the subPath of the
    /// `index`th volumeMount of a container is bind-mounted (`getSubpathBindTarget`).
    pub fn subpath_target(&self, volume: &str, container: &str, index: usize) -> PathBuf {
        self.subpaths_dir()
            .join(volume)
            .join(container)
            .join(index.to_string())
    }

    /// `pods/<uid>/containers/<container>` (`getPodContainerDir`).
    pub fn container_dir(&self, container: &str) -> PathBuf {
        self.dir.join("containers").join(container)
    }

    /// `pods/<uid>/etc-hosts` (`getEtcHostsPath`).
    pub fn etc_hosts(&self) -> PathBuf {
        self.dir.join("etc-hosts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vo_01_layout_matches_the_kubelet() {
        let root = RootDir::new(DEFAULT_ROOT_DIR);
        let pod = root.pod("uid-1");
        assert_eq!(
            pod.volume_dir("kubernetes.io/empty-dir", "cache"),
            Path::new("/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~empty-dir/cache")
        );
        assert_eq!(
            pod.subpath_target("cfg", "app", 2),
            Path::new("/var/lib/kubelet/pods/uid-1/volume-subpaths/cfg/app/2")
        );
        assert_eq!(
            pod.plugin_dir("kubernetes.io/empty-dir", "cache"),
            Path::new("/var/lib/kubelet/pods/uid-1/plugins/kubernetes.io~empty-dir/cache")
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
}
