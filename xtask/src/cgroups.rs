//! Removing the cgroups pods leave behind.
//!
//! runc creates the parents of a container's cgroup (`/kubepods/burstable/pod<uid>`,
//! or `/k8s.io` without a `cgroup_parent`) in every controller and never
//! removes them; the kubelet's pod container manager does. Tests that stop
//! short of that, and crashed runs, leave them to `down`.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::mounts;

/// Top-level cgroups that belong to pods (ours or a test's).
fn is_pod_cgroup(name: &str) -> bool {
    name.starts_with("kubepods") || name.starts_with("nodelet") || name == "k8s.io"
}

/// What a cleanup pass did.
#[derive(Debug, Default)]
pub struct Removed {
    /// Cgroups removed.
    pub removed: Vec<PathBuf>,
    /// Cgroups left because processes still run in them.
    pub busy: Vec<PathBuf>,
}

/// Removes pod cgroups depth-first in every mounted v1 controller and the
/// unified hierarchy. The machine's own `/process_api` is never touched.
pub fn remove_pod_cgroups() -> Result<Removed> {
    let mut result = Removed::default();
    let mut roots: Vec<PathBuf> = mounts::mounts()?
        .into_iter()
        .filter(|mount| mount.fs_type == "cgroup" || mount.fs_type == "cgroup2")
        .map(|mount| mount.mount_point)
        .collect();
    roots.dedup();
    for root in roots {
        let Ok(entries) = fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if entry.path().is_dir() && is_pod_cgroup(&name.to_string_lossy()) {
                remove_tree(&entry.path(), &mut result)?;
            }
        }
    }
    Ok(result)
}

/// Removes `dir` and its child cgroups, children first. A cgroup's files
/// cannot (and need not) be deleted: rmdir of a cgroup without children or
/// processes removes it whole.
fn remove_tree(dir: &Path, result: &mut Removed) -> Result<()> {
    for entry in fs::read_dir(dir)?.flatten() {
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path(), result)?;
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => result.removed.push(dir.to_path_buf()),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) if err.kind() == ErrorKind::ResourceBusy => result.busy.push(dir.to_path_buf()),
        Err(err) => return Err(anyhow::Error::new(err).context(format!("rmdir {}", dir.display()))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_pod_cgroups_only() {
        assert!(is_pod_cgroup("kubepods"));
        assert!(is_pod_cgroup("kubepods.slice"));
        assert!(is_pod_cgroup("k8s.io"));
        assert!(is_pod_cgroup("nodelet-test"));
        assert!(!is_pod_cgroup("process_api"));
        assert!(!is_pod_cgroup("k8s.io2"));
    }
}
