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

/// Whether tmpfs mounts may be given `noswap`, as the kubelet decides it
/// (`IsTmpfsNoswapOptionSupported`, `pkg/kubelet/util/swap/swap_util.go`): never inside a
/// user namespace (the kernel refuses `noswap` on an unprivileged tmpfs, kubernetes#125137),
/// else when the kernel is Linux 6.4 or later.
///
/// On an older kernel the kubelet also tries a test mount with `noswap`, for distribution
/// kernels that carry the option early; this function only reads the version, so such a
/// kernel gets no `noswap` here.
pub fn kernel_supports_tmpfs_noswap() -> bool {
    if running_in_user_namespace() {
        return false;
    }
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    release_at_least(&release, (6, 4))
}

/// Whether a kernel release (`6.18.44-fc-v1300`) is at least `major.minor`.
fn release_at_least(release: &str, wanted: (u32, u32)) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= wanted
}

/// Whether this process runs in a user namespace other than the initial one (the
/// kubelet's `userns.RunningInUserNS`, from `moby/sys/userns`): the first line of
/// `/proc/self/uid_map` is not the identity map `0 0 4294967295`. An unreadable or empty
/// map counts as the initial namespace, an unparsable one as another.
fn running_in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| uid_map_in_user_ns(&map))
}

fn uid_map_in_user_ns(map: &str) -> bool {
    let first = map.lines().next().unwrap_or("");
    if first.is_empty() {
        return false;
    }
    let fields: Vec<Option<i64>> = first.split_whitespace().map(|f| f.parse().ok()).collect();
    match fields.as_slice() {
        [Some(inside), Some(outside), Some(count), ..] => {
            !(*inside == 0 && *outside == 0 && *count == 4_294_967_295)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noswap_needs_linux_6_4() {
        assert!(release_at_least("6.18.44-fc-v1300", (6, 4)));
        assert!(release_at_least("6.4.0", (6, 4)));
        assert!(!release_at_least("6.3.13-generic", (6, 4)));
        assert!(!release_at_least("5.15.0-91-generic", (6, 4)));
        assert!(!release_at_least("", (6, 4)));
    }

    #[test]
    fn only_the_identity_uid_map_is_the_initial_user_namespace() {
        assert!(!uid_map_in_user_ns("         0          0 4294967295\n"));
        assert!(uid_map_in_user_ns("         0     100000      65536\n"));
        assert!(uid_map_in_user_ns("garbage\n"));
        assert!(!uid_map_in_user_ns(""));
    }
}
