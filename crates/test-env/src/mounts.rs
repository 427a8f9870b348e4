//! The mounts a test left (or must not leave) under a directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// This process's mount table.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

/// The mount points at or below `dir` in this process's mount table ([`MOUNTINFO`]),
/// deepest first, so that unmounting them in order never meets a busy parent.
pub fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let table = std::fs::read_to_string(MOUNTINFO).map_err(|source| Error::Io {
        action: "reading",
        path: MOUNTINFO.into(),
        source,
    })?;
    Ok(mounts_in(&table, dir))
}

/// [`mounts_under`] over the text of a `mountinfo` table. Mount points are compared by
/// path component, so `/a/bc` is not under `/a/b`; the table's octal escapes (`\040` for a
/// space) are decoded.
///
/// ```
/// use std::path::{Path, PathBuf};
///
/// let table = "36 35 98:0 / /mnt/pods rw - ext3 /dev/root rw\n\
///              37 36 0:5 / /mnt/pods/a\\040b rw - tmpfs tmpfs rw\n\
///              38 36 0:6 / /mnt/podsx rw - tmpfs tmpfs rw\n";
/// assert_eq!(
///     test_env::mounts_in(table, Path::new("/mnt/pods")),
///     [PathBuf::from("/mnt/pods/a b"), PathBuf::from("/mnt/pods")]
/// );
/// ```
pub fn mounts_in(table: &str, dir: &Path) -> Vec<PathBuf> {
    let mut mounts: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    mounts
}

/// Decodes the `\ooo` escapes the kernel writes for space, tab, newline and backslash.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_a_lone_backslash_kept() {
        assert_eq!(unescape(r"/a\040b\011c\134d"), "/a b\tc\\d");
        assert_eq!(unescape(r"/a\x"), r"/a\x");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn deepest_first_and_nothing_outside() {
        let table = "1 0 0:1 / / rw - ext4 /dev/root rw\n\
                     2 1 0:2 / /r rw - tmpfs t rw\n\
                     3 2 0:3 / /r/a/b rw - tmpfs t rw\n\
                     4 2 0:4 / /r/a rw - tmpfs t rw\n";
        assert_eq!(
            mounts_in(table, Path::new("/r/a")),
            [PathBuf::from("/r/a/b"), PathBuf::from("/r/a")]
        );
        assert!(mounts_in(table, Path::new("/elsewhere")).is_empty());
    }

    #[test]
    fn this_process_has_a_mount_table() {
        let all = mounts_under(Path::new("/")).expect("reading the mount table");
        assert!(all.contains(&PathBuf::from("/")), "{all:?}");
    }
}
