//! emptyDir (`pkg/volume/emptydir/empty_dir.go`): a directory of the pod, on the node's
//! disk or (`medium: Memory`) a tmpfs sized like the kubelet sizes it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use k8s_openapi::api::core::v1::{Pod, Volume};

use super::{SetUpResult, VolumeAttributes, VolumeContext, VolumePlugin};
use crate::quantity::{Quantity, value};
use crate::{Error, Result, mounter};

/// The plugin's name.
pub(crate) const PLUGIN_NAME: &str = "kubernetes.io/empty-dir";

/// The mode of an emptyDir directory, set explicitly so the umask does not matter.
const EMPTY_DIR_MODE: u32 = 0o777;

/// emptyDir volumes.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyDirPlugin;

impl VolumePlugin for EmptyDirPlugin {
    fn name(&self) -> &'static str {
        PLUGIN_NAME
    }

    fn can_support(&self, volume: &Volume) -> bool {
        volume.empty_dir.is_some()
    }

    fn attributes(&self, _volume: &Volume) -> VolumeAttributes {
        VolumeAttributes {
            read_only: false,
            managed: true,
            selinux_relabel: true,
        }
    }

    /// `SetUpAt`: the directory (mode 0777, or the 1.37 `mode` field when set), a tmpfs on it
    /// for `medium: Memory`, fsGroup ownership, and the `ready` marker. `HugePages` media
    /// need hugetlbfs page-size checks that are not done here: they fail with a clear
    /// message.
    fn set_up(&self, ctx: &VolumeContext<'_>) -> Result<SetUpResult> {
        let source = ctx.volume.empty_dir.as_ref().expect("can_support checked");
        let medium = source.medium.as_deref().unwrap_or("");
        let memory = match medium {
            "" => false,
            "Memory" => true,
            m if m.starts_with("HugePages") => {
                return Err(ctx.fail(
                    ".emptyDir.medium",
                    format!("medium {m:?} (hugetlbfs) is not supported by this node agent"),
                ));
            }
            m => return Err(ctx.fail(".emptyDir.medium", format!("unknown storage medium {m:?}"))),
        };
        let size_limit = match &source.size_limit {
            Some(q) => Some(
                value(
                    &Quantity::parse(&q.0)
                        .map_err(|e| ctx.fail(".emptyDir.sizeLimit", e.to_string()))?,
                )
                .max(0) as u64,
            ),
            None => None,
        };
        let mode = match source.mode {
            Some(m) if (0..=0o7777).contains(&m) => m as u32,
            Some(m) => {
                return Err(ctx.fail(
                    ".emptyDir.mode",
                    format!("{m} must be a number between 0 and 07777 (octal)"),
                ));
            }
            None => EMPTY_DIR_MODE,
        };
        let dir = ctx.volume_dir(PLUGIN_NAME)?;
        let tmpfs_size = memory.then(|| {
            memory_volume_size(
                size_limit.filter(|s| *s > 0),
                pod_memory_limit(ctx.pod),
                ctx.node.memory_bytes,
            )
        });
        set_up_dir(ctx, &dir, tmpfs_size, mode, &ctx.volume.name)?;
        super::ownership::apply_fs_group(ctx, &dir, false)?;
        Ok(SetUpResult {
            tmpfs: memory,
            size_limit,
        })
    }
}

/// Creates `dir` with `mode` and, when `tmpfs` is `Some(size)`, mounts a tmpfs of that size
/// on it unless one is there already; then writes the ready marker
/// `plugins/kubernetes.io~empty-dir/<meta_name>/ready`. Shared by the wrapping plugins
/// (`meta_name` = `wrapped_<volume>`).
pub(crate) fn set_up_dir(
    ctx: &VolumeContext<'_>,
    dir: &Path,
    tmpfs: Option<Option<u64>>,
    mode: u32,
    meta_name: &str,
) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| ctx.io("create", dir, e))?;
    let current = fs::symlink_metadata(dir).map_err(|e| ctx.io("stat", dir, e))?;
    if !current.is_dir() {
        return Err(ctx.io(
            "use",
            dir,
            std::io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error()),
        ));
    }
    let mounted = mounter::is_likely_mount_point(dir).map_err(|e| ctx.io("stat", dir, e))?;
    if !mounted && current.permissions().mode() & 0o7777 != mode {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(|e| ctx.io("chmod", dir, e))?;
    }
    if let Some(size) = tmpfs
        && !mounted
    {
        mounter::mount_tmpfs(dir, size, ctx.tmpfs_noswap)
            .map_err(|e| ctx.io("mount tmpfs on", dir, e))?;
        tracing::debug!(pod = %ctx.pod_name, volume = %ctx.volume.name, dir = %dir.display(), size = ?size, "tmpfs mounted");
    }
    let meta = ctx.dirs.plugin_dir(PLUGIN_NAME, meta_name)?;
    fs::create_dir_all(&meta).map_err(|e| ctx.io("create", &meta, e))?;
    let ready = meta.join("ready");
    fs::write(&ready, b"").map_err(|e| ctx.io("write", &ready, e))?;
    Ok(())
}

/// Unmounts whatever is mounted at `dir` (a tmpfs, possibly several stacked) and removes it
/// (`TearDownAt`), only when it is inside `parent` (the pod's `volumes` directory). A
/// missing directory is already torn down.
pub(crate) fn tear_down_dir(parent: &Path, dir: &Path, pod: &str) -> Result<()> {
    if fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    // A tmpfs has a device of its own: unmount until the directory is the disk's again.
    for _ in 0..16 {
        match mounter::is_likely_mount_point(dir) {
            Ok(true) => mounter::unmount(dir).map_err(|e| Error::io(pod, "unmount", dir, e))?,
            Ok(false) => break,
            Err(e) => return Err(Error::io(pod, "stat", dir, e)),
        }
    }
    super::remove_dir_all_within(parent, dir, pod)
}

/// The size of a memory-backed emptyDir (`calculateEmptyDirMemorySize`,
/// SizeMemoryBackedVolumes): the node's allocatable memory, lowered to the pod's memory
/// limit when that is positive and smaller, lowered to the volume's `sizeLimit` when that
/// is positive and smaller. `None` when nothing is known (the kernel's default size).
///
/// ```
/// use volume_manager::plugins::memory_volume_size;
///
/// const MI: u64 = 1 << 20;
/// assert_eq!(memory_volume_size(Some(64 * MI), Some(128 * MI), Some(4096 * MI)), Some(64 * MI));
/// assert_eq!(memory_volume_size(None, Some(128 * MI), Some(4096 * MI)), Some(128 * MI));
/// assert_eq!(memory_volume_size(Some(512 * MI), Some(128 * MI), Some(4096 * MI)), Some(128 * MI));
/// assert_eq!(memory_volume_size(None, None, Some(4096 * MI)), Some(4096 * MI));
/// ```
pub fn memory_volume_size(
    size_limit: Option<u64>,
    pod_memory_limit: Option<u64>,
    node_allocatable_memory: Option<u64>,
) -> Option<u64> {
    let mut size = node_allocatable_memory;
    for lower in [pod_memory_limit, size_limit].into_iter().flatten() {
        if lower > 0 && size.is_none_or(|s| lower <= s) {
            size = Some(lower);
        }
    }
    size
}

/// The pod's memory limit as the kubelet computes it for the pod cgroup
/// (`ResourceConfigForPod` → `PodLimits`): the pod-level `resources.limits.memory` when set;
/// else, when every container declares a memory limit, the larger of the sum over app
/// containers and sidecars and each regular init container's limit plus the sidecars
/// started before it, plus the pod overhead. `None` otherwise (no limit).
pub fn pod_memory_limit(pod: &Pod) -> Option<u64> {
    let totals = cgroup_enforcer::resources::pod_resources(pod).ok()?;
    (totals.memory_limits_declared && totals.memory_limit > 0).then_some(totals.memory_limit as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;

    fn container(name: &str, memory: Option<&str>, sidecar: bool) -> Container {
        Container {
            name: name.into(),
            resources: memory.map(|m| ResourceRequirements {
                limits: Some([("memory".to_owned(), Q(m.into()))].into()),
                ..Default::default()
            }),
            restart_policy: sidecar.then(|| "Always".to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn vo_03_memory_size_is_the_smallest_positive_bound() {
        const MI: u64 = 1 << 20;
        assert_eq!(
            memory_volume_size(Some(10 * MI), Some(64 * MI), Some(1024 * MI)),
            Some(10 * MI)
        );
        assert_eq!(
            memory_volume_size(Some(0), Some(64 * MI), Some(1024 * MI)),
            Some(64 * MI)
        );
        assert_eq!(
            memory_volume_size(Some(2048 * MI), None, Some(1024 * MI)),
            Some(1024 * MI)
        );
        assert_eq!(memory_volume_size(None, None, None), None);
        assert_eq!(memory_volume_size(Some(5 * MI), None, None), Some(5 * MI));

        let pod = |containers: Vec<Container>, init: Vec<Container>| Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: Some(init),
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = pod(
            vec![
                container("a", Some("64Mi"), false),
                container("b", Some("32Mi"), false),
            ],
            vec![
                container("i", Some("200Mi"), false),
                container("s", Some("16Mi"), true),
            ],
        );
        // The regular init container runs before the sidecar starts: it alone needs 200Mi.
        assert_eq!(pod_memory_limit(&p), Some(200 * MI));
        let p = pod(
            vec![container("a", Some("64Mi"), false)],
            vec![
                container("s", Some("16Mi"), true),
                container("i", Some("200Mi"), false),
            ],
        );
        assert_eq!(pod_memory_limit(&p), Some(216 * MI));
        let p = pod(
            vec![
                container("a", Some("64Mi"), false),
                container("b", None, false),
            ],
            vec![],
        );
        assert_eq!(pod_memory_limit(&p), None);
    }
}
