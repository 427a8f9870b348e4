//! The kernel's mount table of a process (`/proc/<pid>/mountinfo`), parsed.
//!
//! # Why a crate of its own
//!
//! Four places of a node agent read the mount table: the volume manager (what is mounted
//! under a pod's directory, restart recovery), the cgroup enforcer (cgroup v1 or v2), the
//! tests (what a test left mounted) and `cargo xtask` (what containerd left mounted under
//! its state directory). The kubelet has one parser for all of them, `mount-utils`'
//! `ParseMountInfo` (and libcontainer's `moby/sys/mountinfo` beside it). Here too there is
//! one, in a crate of its own because its users sit on every layer: a library crate that
//! depends on Kubernetes types, test support that must not, and `xtask`, which builds before
//! anything else is installed. This crate needs nothing but `std`.
//!
//! # Mount points are bytes
//!
//! Linux paths are bytes, not UTF-8. The kernel writes each path as it is, except for four
//! bytes it escapes as three octal digits (`\040` space, `\011` tab, `\012` newline, `\134`
//! backslash), so that fields stay separated by spaces. The table is read as bytes, the
//! escapes are undone, and paths are returned as [`PathBuf`]s built from those bytes: a
//! mount point that is not UTF-8 compares, joins and unmounts like any other.
//!
//! ```
//! use std::path::Path;
//!
//! let table = b"36 35 98:0 / /mnt/pods rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
//!               37 36 0:50 / /mnt/pods/a\\040b ro,relatime - tmpfs tmpfs rw,size=1024k\n\
//!               38 36 0:51 / /mnt/pods/caf\xe9 rw - tmpfs tmpfs rw\n";
//! let mounts = mountinfo::parse(table);
//! assert_eq!(mounts[1].mount_point, Path::new("/mnt/pods/a b"));
//! assert!(mounts[1].read_only());
//! assert_eq!(mounts[1].fs_type, "tmpfs");
//!
//! // Deepest (and latest mounted) first: the order to unmount them in.
//! let under = mountinfo::mounts_under(&mounts, Path::new("/mnt/pods"));
//! assert_eq!(under.len(), 3);
//! assert_eq!(under[2].mount_point, Path::new("/mnt/pods"));
//! ```
#![deny(missing_docs)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The mount table of the calling process.
pub const PROC_SELF_MOUNTINFO: &str = "/proc/self/mountinfo";

/// One line of the mount table:
/// `<id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <type> <source> <super options>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The mount's ID.
    pub id: u32,
    /// The parent mount's ID.
    pub parent_id: u32,
    /// The path inside the mounted file system that is the root of this mount.
    pub root: PathBuf,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,relatime`).
    pub mount_options: String,
    /// The file system type (`tmpfs`, `cgroup2`, `nsfs`).
    pub fs_type: String,
    /// The source (`tmpfs`, `/dev/vda1`).
    pub source: OsString,
    /// Per-superblock options (`rw,size=65536k`).
    pub super_options: String,
}

impl MountInfo {
    /// Whether the mount is read-only (per mount).
    pub fn read_only(&self) -> bool {
        self.mount_options.split(',').any(|o| o == "ro")
    }
}

/// Parses a mount table (the bytes of a `mountinfo` file); malformed lines are skipped.
pub fn parse(table: impl AsRef<[u8]>) -> Vec<MountInfo> {
    table
        .as_ref()
        .split(|b| *b == b'\n')
        .filter_map(parse_line)
        .collect()
}

/// Reads and parses the mount table at `path` (usually [`PROC_SELF_MOUNTINFO`]).
pub fn read(path: &Path) -> std::io::Result<Vec<MountInfo>> {
    Ok(parse(std::fs::read(path)?))
}

/// The mounts at or below `dir` (by path component: `/a/bc` is not below `/a/b`), deepest
/// first and, at one depth, latest mounted first: the order to unmount them in, so that no
/// unmount meets a busy parent and stacked mounts come off top first.
pub fn mounts_under<'a>(mounts: &'a [MountInfo], dir: &Path) -> Vec<&'a MountInfo> {
    let mut found: Vec<&MountInfo> = mounts
        .iter()
        .filter(|m| m.mount_point.starts_with(dir))
        .collect();
    found.reverse();
    found.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
    found
}

fn parse_line(line: &[u8]) -> Option<MountInfo> {
    let mut fields = line.split(|b| *b == b' ');
    let id = number(fields.next()?)?;
    let parent_id = number(fields.next()?)?;
    let _major_minor = fields.next()?;
    let root = path(fields.next()?);
    let mount_point = path(fields.next()?);
    let mount_options = text(fields.next()?);
    // Optional fields (`shared:1`, `master:2`), up to the separator.
    fields.by_ref().find(|f| *f == b"-")?;
    let fs_type = text(fields.next()?);
    let source = OsString::from_vec(unescape(fields.next()?));
    let super_options = fields.next().map(text).unwrap_or_default();
    Some(MountInfo {
        id,
        parent_id,
        root,
        mount_point,
        mount_options,
        fs_type,
        source,
        super_options,
    })
}

fn number(field: &[u8]) -> Option<u32> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn path(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

fn text(field: &[u8]) -> String {
    String::from_utf8_lossy(&unescape(field)).into_owned()
}

/// Undoes the kernel's octal escapes (`\040` for a space, `\011`, `\012`, `\134`); any other
/// byte, a backslash not followed by three octal digits included, is kept as it is.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let escaped = field
            .get(i + 1..i + 4)
            .filter(|_| field[i] == b'\\')
            .filter(|digits| digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .and_then(|digits| {
                let value = digits
                    .iter()
                    .fold(0u16, |value, d| value * 8 + u16::from(d - b'0'));
                u8::try_from(value).ok()
            });
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn parses_kernel_lines_with_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    40 36 0:50 / /var/lib/kubelet/pods/u/volumes/kubernetes.io~secret/s ro,relatime - tmpfs tmpfs rw,size=1024k\n\
                    garbage\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].id, m[0].parent_id), (36, 35));
        assert_eq!(m[0].mount_point, Path::new("/mnt 2"));
        assert_eq!(m[0].root, Path::new("/mnt1"));
        assert_eq!(m[0].fs_type, "ext3");
        assert_eq!(m[0].source, "/dev/root");
        assert!(!m[0].read_only());
        assert_eq!(m[1].fs_type, "tmpfs");
        assert!(m[1].read_only());
        assert_eq!(m[1].super_options, "rw,size=1024k");
        let under = mounts_under(&m, Path::new("/var/lib/kubelet/pods/u"));
        assert_eq!(under.len(), 1);
    }

    #[test]
    fn several_optional_fields_and_none() {
        let text = "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 master:3 - cgroup cgroup rw,memory\n\
                    90 23 0:4 net:[4026532] /x/state/netns/cni\\0401 rw - nsfs nsfs rw\n";
        let m = parse(text);
        assert_eq!(m[0].mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(m[0].fs_type, "cgroup");
        assert_eq!(m[1].mount_point, Path::new("/x/state/netns/cni 1"));
        assert_eq!(m[1].fs_type, "nsfs");
    }

    #[test]
    fn escapes_are_decoded_and_anything_else_kept() {
        assert_eq!(unescape(br"/a\040b\011c\134d\012"), b"/a b\tc\\d\n");
        assert_eq!(unescape(br"/a\x"), br"/a\x");
        assert_eq!(unescape(br"/a\04"), br"/a\04");
        assert_eq!(unescape(br"/a\777"), br"/a\777", "not a byte: kept");
        assert_eq!(unescape(br"/a\+12"), br"/a\+12");
        assert_eq!(unescape(b"/plain"), b"/plain");
    }

    #[test]
    fn mount_points_that_are_not_utf8_stay_intact() {
        let table = b"40 1 0:50 / /pods/caf\xe9\\040x rw - tmpfs tmp\xfffs rw\n";
        let m = parse(table);
        assert_eq!(m[0].mount_point.as_os_str().as_bytes(), b"/pods/caf\xe9 x");
        assert_eq!(m[0].source.as_bytes(), b"tmp\xfffs");
        assert_eq!(mounts_under(&m, Path::new("/pods")).len(), 1);
    }

    #[test]
    fn deepest_then_latest_first_and_nothing_outside() {
        let table = "1 0 0:1 / / rw - ext4 /dev/root rw\n\
                     2 1 0:2 / /r rw - tmpfs t rw\n\
                     3 2 0:3 / /r/a/b rw - tmpfs t rw\n\
                     4 2 0:4 / /r/a rw - tmpfs t rw\n\
                     5 4 0:5 / /r/a rw - tmpfs t rw\n\
                     6 2 0:6 / /r/ab rw - tmpfs t rw\n";
        let m = parse(table);
        let ids: Vec<u32> = mounts_under(&m, Path::new("/r/a"))
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, [3, 5, 4]);
        assert!(mounts_under(&m, Path::new("/elsewhere")).is_empty());
    }

    #[test]
    fn this_process_has_a_mount_table() {
        let all = read(Path::new(PROC_SELF_MOUNTINFO)).expect("reading the mount table");
        assert!(all.iter().any(|m| m.mount_point == Path::new("/")));
    }
}
