//! fsGroup ownership (`pkg/volume/volume_linux.go` `SetVolumeOwnership`): every file of a
//! managed volume gets the pod's `fsGroup` as its group and group access.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::VolumeContext;
use crate::Result;

/// Group read-write for files of writable volumes.
const RW_MASK: u32 = 0o660;
/// Group read for files of read-only volumes.
const RO_MASK: u32 = 0o440;
/// Directories also get execute and setgid, so new files inherit the group.
const EXEC_MASK: u32 = 0o110;
const SETGID: u32 = 0o2000;

/// Applies `spec.securityContext.fsGroup`, when set, to everything below `dir`.
pub(crate) fn apply_fs_group(ctx: &VolumeContext<'_>, dir: &Path, read_only: bool) -> Result<()> {
    let Some(gid) = fs_group(ctx) else {
        return Ok(());
    };
    set_ownership(dir, gid, read_only).map_err(|e| ctx.io("set fsGroup ownership of", dir, e))
}

/// The pod's fsGroup.
pub(crate) fn fs_group(ctx: &VolumeContext<'_>) -> Option<u32> {
    ctx.pod
        .spec
        .as_ref()?
        .security_context
        .as_ref()?
        .fs_group
        .and_then(|g| u32::try_from(g).ok())
}

/// The mode a file has after the ownership walk: group read (and write, for a writable
/// volume) added.
pub(crate) fn file_mode_with_fs_group(mode: u32, read_only: bool) -> u32 {
    mode | if read_only { RO_MASK } else { RW_MASK }
}

/// The ownership walk, usable as the atomic writer's `set_perms` hook.
pub(crate) fn set_ownership(dir: &Path, gid: u32, read_only: bool) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    std::os::unix::fs::lchown(dir, None, Some(gid))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mut mode = file_mode_with_fs_group(meta.permissions().mode(), read_only);
    if meta.is_dir() {
        mode |= SETGID | EXEC_MASK;
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
    if meta.is_dir() {
        for entry in fs::read_dir(dir)? {
            set_ownership(&entry?.path(), gid, read_only)?;
        }
    }
    Ok(())
}
