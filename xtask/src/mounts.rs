//! The mount table, and unmounting what containerd left under the base dir
//! (network namespaces, sandbox `/dev/shm`, container root file systems).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mountinfo::{MountInfo, PROC_SELF_MOUNTINFO};
use nix::errno::Errno;
use nix::mount::{MntFlags, umount2};

/// The current mount table.
pub fn mounts() -> Result<Vec<MountInfo>> {
    mountinfo::read(Path::new(PROC_SELF_MOUNTINFO))
        .with_context(|| format!("reading {PROC_SELF_MOUNTINFO}"))
}

/// Unmounts everything at or below `dir`, deepest first, lazily when busy.
/// Returns the mount points unmounted.
pub fn unmount_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut unmounted = Vec::new();
    // Mounts can be stacked on one point, so repeat until none is left.
    for _ in 0..5 {
        let table = mounts()?;
        let below = mountinfo::mounts_under(&table, dir);
        if below.is_empty() {
            break;
        }
        for mount in below {
            unmount(&mount.mount_point)?;
            unmounted.push(mount.mount_point.clone());
        }
    }
    unmounted.dedup();
    Ok(unmounted)
}

fn unmount(point: &Path) -> Result<()> {
    let result = match umount2(point, MntFlags::empty()) {
        Err(Errno::EBUSY) => umount2(point, MntFlags::MNT_DETACH),
        other => other,
    };
    match result {
        // Gone already, e.g. with a parent unmounted lazily.
        Ok(()) | Err(Errno::EINVAL | Errno::ENOENT) => Ok(()),
        Err(err) => Err(err).with_context(|| format!("unmounting {}", point.display())),
    }
}
