//! Cgroups a test's pods leave behind.
//!
//! runc creates a pod's cgroup (`<cgroup_parent>`) in every hierarchy and never removes it,
//! so a test that passes a `cgroup_parent` of its own removes it afterwards.

use std::path::{Path, PathBuf};

/// Where the cgroup hierarchies are mounted.
pub const CGROUP_MOUNT: &str = "/sys/fs/cgroup";

/// Removes the cgroup `rel` (relative to the hierarchy root, e.g. `nodelet-pleg-test/pod<uid>`)
/// with everything below it, children first, in every hierarchy under [`CGROUP_MOUNT`]. Best
/// effort, for clean-ups: a cgroup that still holds processes cannot go. Returns the
/// directories that are still there.
pub fn remove_cgroup_tree(rel: &Path) -> Vec<PathBuf> {
    remove_cgroup_tree_in(Path::new(CGROUP_MOUNT), rel)
}

/// [`remove_cgroup_tree`] with the hierarchies mounted under `mount`.
pub fn remove_cgroup_tree_in(mount: &Path, rel: &Path) -> Vec<PathBuf> {
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    let mut left = Vec::new();
    for hierarchy in std::fs::read_dir(mount).into_iter().flatten().flatten() {
        remove_tree(&hierarchy.path().join(rel), &mut left);
    }
    left
}

fn remove_tree(dir: &Path, left: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path(), left);
        }
    }
    if std::fs::remove_dir(dir).is_err() && dir.exists() {
        left.push(dir.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_goes_in_every_hierarchy_and_nothing_else() {
        // Plain directories stand in for cgroupfs: rmdir works on both when they are empty.
        let mount = tempfile::tempdir().unwrap();
        for hierarchy in ["cpu", "memory"] {
            let pod = mount.path().join(hierarchy).join("base/pod1");
            std::fs::create_dir_all(pod.join("c1")).unwrap();
            std::fs::create_dir_all(mount.path().join(hierarchy).join("base/pod2")).unwrap();
        }
        let left = remove_cgroup_tree_in(mount.path(), Path::new("/base/pod1"));
        assert!(left.is_empty(), "{left:?}");
        for hierarchy in ["cpu", "memory"] {
            let base = mount.path().join(hierarchy).join("base");
            assert!(!base.join("pod1").exists());
            assert!(base.join("pod2").is_dir(), "siblings stay");
        }
    }

    #[test]
    fn what_cannot_go_is_reported() {
        let mount = tempfile::tempdir().unwrap();
        let pod = mount.path().join("cpu/base/pod1");
        std::fs::create_dir_all(&pod).unwrap();
        // A file keeps a plain directory from being removed, as a process keeps a cgroup.
        std::fs::write(pod.join("tasks"), "1").unwrap();
        assert_eq!(
            remove_cgroup_tree_in(mount.path(), Path::new("base")),
            [pod.clone(), mount.path().join("cpu/base")]
        );
    }
}
