//! The mounts a test left (or must not leave) under a directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The mount points at or below `dir` in this process's mount table
/// ([`mountinfo::PROC_SELF_MOUNTINFO`]), deepest first, so that unmounting them in order
/// never meets a busy parent ([`mountinfo::mounts_under`]).
pub fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let path = mountinfo::PROC_SELF_MOUNTINFO;
    let table = mountinfo::read(Path::new(path)).map_err(|source| Error::Io {
        action: "reading",
        path: path.into(),
        source,
    })?;
    Ok(mountinfo::mounts_under(&table, dir)
        .into_iter()
        .map(|m| m.mount_point.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_mount_table() {
        let all = mounts_under(Path::new("/")).expect("reading the mount table");
        assert!(all.contains(&PathBuf::from("/")), "{all:?}");
    }
}
