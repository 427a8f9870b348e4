//! The mount table, and unmounting what containerd left under the base dir
//! (network namespaces, sandbox `/dev/shm`, container root file systems).

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::mount::{MntFlags, umount2};

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub point: PathBuf,
    /// The file system type (`cgroup`, `overlay`, `nsfs`, ...).
    pub fs_type: String,
}

/// The current mount table.
pub fn mounts() -> Result<Vec<Mount>> {
    let text =
        fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    Ok(parse_mountinfo(&text))
}

/// Parses mountinfo: `id parent dev root POINT options [tags...] - TYPE source superopts`.
fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let fs_type = right.split(' ').next()?;
            Some(Mount {
                point: unescape(point),
                fs_type: fs_type.to_owned(),
            })
        })
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` is a space).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = bytes.get(i + 1..i + 4).and_then(|code| {
            let code = std::str::from_utf8(code).ok()?;
            u8::from_str_radix(code, 8).ok()
        });
        match (bytes[i], code) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Unmounts everything at or below `dir`, deepest first, lazily when busy.
/// Returns the mount points unmounted.
pub fn unmount_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut unmounted = Vec::new();
    // Mounts can be stacked on one point, so repeat until none is left.
    for _ in 0..5 {
        let mut points: Vec<PathBuf> = mounts()?
            .into_iter()
            .map(|mount| mount.point)
            .filter(|point| point.starts_with(dir))
            .collect();
        if points.is_empty() {
            break;
        }
        points.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
        for point in points {
            unmount(&point)?;
            unmounted.push(point);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines() {
        let text = "\
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
90 23 0:4 net:[4026532] /x/state/netns/cni\\0401 rw shared:5 - nsfs nsfs rw
";
        assert_eq!(
            parse_mountinfo(text),
            [
                Mount {
                    point: "/sys/fs/cgroup/memory".into(),
                    fs_type: "cgroup".into()
                },
                Mount {
                    point: "/x/state/netns/cni 1".into(),
                    fs_type: "nsfs".into()
                },
            ]
        );
    }
}
