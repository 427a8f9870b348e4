//! `/proc/self/mountinfo`, read through an injectable path so that restart recovery can be
//! tested on a recorded file (the kubelet's `mount-utils` `ParseMountInfo`).

use std::path::{Path, PathBuf};

/// The system's mount table of this process.
pub const PROC_SELF_MOUNTINFO: &str = "/proc/self/mountinfo";

/// One line of mountinfo.
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
    /// The file system type (`tmpfs`).
    pub fs_type: String,
    /// The source (`tmpfs`, `/dev/vda1`).
    pub source: String,
    /// Per-superblock options (`rw,size=65536k`).
    pub super_options: String,
}

impl MountInfo {
    /// Whether the mount is read-only (per mount).
    pub fn read_only(&self) -> bool {
        self.mount_options.split(',').any(|o| o == "ro")
    }
}

/// Parses the text of a mountinfo file; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

/// Reads and parses the mountinfo file at `path`.
pub fn read(path: &Path) -> std::io::Result<Vec<MountInfo>> {
    Ok(parse(&std::fs::read_to_string(path)?))
}

fn parse_line(line: &str) -> Option<MountInfo> {
    // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let id = l.next()?.parse().ok()?;
    let parent_id = l.next()?.parse().ok()?;
    let _dev = l.next()?;
    let root = PathBuf::from(unescape(l.next()?));
    let mount_point = PathBuf::from(unescape(l.next()?));
    let mount_options = l.next()?.to_owned();
    let mut r = right.split(' ');
    let fs_type = r.next()?.to_owned();
    let source = unescape(r.next()?);
    let super_options = r.next().unwrap_or("").to_owned();
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

/// Undoes the kernel's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mounts at or below `dir`, deepest (latest mounted) first: the order to unmount them.
pub fn mounts_under<'a>(mounts: &'a [MountInfo], dir: &Path) -> Vec<&'a MountInfo> {
    let mut found: Vec<&MountInfo> = mounts
        .iter()
        .filter(|m| m.mount_point.starts_with(dir))
        .collect();
    found.reverse();
    found.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_lines_with_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    40 36 0:50 / /var/lib/kubelet/pods/u/volumes/kubernetes.io~secret/s ro,relatime - tmpfs tmpfs rw,size=1024k\n\
                    garbage\n";
        let m = parse(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, Path::new("/mnt 2"));
        assert_eq!(m[0].root, Path::new("/mnt1"));
        assert_eq!(m[1].fs_type, "tmpfs");
        assert!(m[1].read_only());
        assert_eq!(m[1].super_options, "rw,size=1024k");
        let under = mounts_under(&m, Path::new("/var/lib/kubelet/pods/u"));
        assert_eq!(under.len(), 1);
    }
}
