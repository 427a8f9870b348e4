//! The mount system calls volumes need, through rustix: tmpfs, bind mounts of an open file
//! descriptor, read-only remounts and unmounts.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use rustix::mount::{MountFlags, UnmountFlags};

/// Mounts a tmpfs on `dir` (`mount -t tmpfs -o size=<bytes>[,noswap] tmpfs <dir>`, the
/// kubelet's `setupTmpfs`).
pub(crate) fn mount_tmpfs(dir: &Path, size: Option<u64>, noswap: bool) -> io::Result<()> {
    let mut options = Vec::new();
    if let Some(size) = size.filter(|s| *s > 0) {
        options.push(format!("size={size}"));
    }
    if noswap {
        options.push("noswap".to_owned());
    }
    let data = CString::new(options.join(",")).map_err(|_| io::ErrorKind::InvalidInput)?;
    rustix::mount::mount("tmpfs", dir, "tmpfs", MountFlags::empty(), data.as_c_str())?;
    Ok(())
}

/// Bind-mounts what `fd` refers to onto `target`, through `/proc/self/fd/<fd>`: the kernel
/// resolves the magic link to the very inode opened, so a path swapped meanwhile cannot
/// redirect the mount (the kubelet's `doBindSubPath`).
pub(crate) fn bind_fd(fd: impl AsFd, target: &Path) -> io::Result<()> {
    let source = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
    rustix::mount::mount_bind(source.as_str(), target)?;
    Ok(())
}

/// Makes the bind mount at `target` read-only.
pub(crate) fn remount_read_only(target: &Path) -> io::Result<()> {
    rustix::mount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, "")?;
    Ok(())
}

/// Unmounts `target` without following a symlink there.
pub(crate) fn unmount(target: &Path) -> io::Result<()> {
    rustix::mount::unmount(target, UnmountFlags::NOFOLLOW)?;
    Ok(())
}

/// Whether `path` is the root of a mount with a device of its own: its device differs from
/// its parent's (`IsLikelyNotMountPoint`, enough for tmpfs, not for same-device binds).
pub(crate) fn is_likely_mount_point(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::symlink_metadata(path)?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let up = std::fs::metadata(parent)?;
    Ok(own.dev() != up.dev())
}

/// Whether the running kernel's tmpfs knows `noswap` (Linux 6.4 and later), as the kubelet
/// checks before adding it.
pub fn kernel_supports_tmpfs_noswap() -> bool {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 4)
}
