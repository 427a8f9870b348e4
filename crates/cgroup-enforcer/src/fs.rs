//! File operations on cgroup trees: writes and reads that name the path and value in their
//! errors, and depth-first removal that is safe on a real cgroup filesystem and also works
//! on a plain directory tree shaped like one (tests, dry runs).

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// `CGROUP_SUPER_MAGIC` (cgroup v1).
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
/// `CGROUP2_SUPER_MAGIC`.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Writes `value` to a cgroup file (truncating, like libcontainer's `WriteFile`). On a
/// real cgroup filesystem a missing interface file is an error; on a plain directory tree
/// the file is created.
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io("writing", path, Some(value), e))?;
    file.write_all(value.as_bytes())
        .map_err(|e| Error::io("writing", path, Some(value), e))
}

/// Reads a whole file.
pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io("reading", path, None, e))
}

/// Reads a file holding one number, or `max` (→ `None`).
pub(crate) fn read_u64_or_max(path: &Path) -> Result<Option<u64>> {
    let text = read(path)?;
    let text = text.trim();
    if text == "max" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| Error::Parse {
        path: path.to_owned(),
        message: format!("{text:?} is not a number or \"max\""),
    })
}

/// Reads a file holding one number, or `None` when the file does not exist.
pub(crate) fn read_optional_u64(path: &Path) -> Result<Option<u64>> {
    match read_u64_or_max(path) {
        Err(e) if e.is_not_found() => Ok(None),
        other => other,
    }
}

/// The value of `key` in a flat-keyed file (`memory.stat`, `cpu.stat`, `memory.events`):
/// lines of `<key> <value>`. `None` when the file or the key is absent.
pub(crate) fn read_keyed(path: &Path, key: &str) -> Result<Option<u64>> {
    let text = match read(path) {
        Err(e) if e.is_not_found() => return Ok(None),
        other => other?,
    };
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() == Some(key) {
            let value = parts.next().unwrap_or_default();
            return value.parse().map(Some).map_err(|_| Error::Parse {
                path: path.to_owned(),
                message: format!("{key}: {value:?} is not a number"),
            });
        }
    }
    Ok(None)
}

/// Creates `dir` and any missing parents, calling `on_created` for each directory created,
/// top down (so a controller can initialise it before its children exist).
pub(crate) fn create_dirs(
    dir: &Path,
    on_created: &mut dyn FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let mut missing = Vec::new();
    let mut current = dir;
    while !current.exists() {
        missing.push(current.to_owned());
        match current.parent() {
            Some(parent) => current = parent,
            None => break,
        }
    }
    for path in missing.iter().rev() {
        match fs::create_dir(path) {
            Ok(()) => on_created(path)?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("creating", path, None, e)),
        }
    }
    Ok(())
}

/// Whether `path` is on a cgroup (v1 or v2) filesystem, by its statfs magic.
pub(crate) fn is_cgroup_fs(path: &Path) -> bool {
    rustix::fs::statfs(path)
        .map(|s| {
            // `f_type`'s integer type differs between architectures.
            #[allow(clippy::useless_conversion)]
            let magic = i64::from(s.f_type);
            magic == CGROUP_SUPER_MAGIC || magic == CGROUP2_SUPER_MAGIC
        })
        .unwrap_or(false)
}

/// Subdirectories of `dir` (not following symlinks), sorted; empty when `dir` is missing.
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", dir, None, e)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing", dir, None, e))?;
        let kind = entry
            .file_type()
            .map_err(|e| Error::io("listing", entry.path(), None, e))?;
        if kind.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The process IDs in `cgroup.procs` of `dir` and every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    for child in subdirs(dir)? {
        pids.extend(procs_recursive(&child)?);
    }
    let path = dir.join("cgroup.procs");
    let text = match read(&path) {
        Err(e) if e.is_not_found() => return Ok(pids),
        other => other?,
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let pid = line.parse().map_err(|_| Error::Parse {
            path: path.clone(),
            message: format!("{line:?} is not a process ID"),
        })?;
        pids.push(pid);
    }
    Ok(pids)
}

/// Removes the cgroup `dir` and everything below it, depth first. A missing directory is
/// not an error.
///
/// On a cgroup filesystem only `rmdir` is used (the kernel removes the interface files with
/// the directory, and unlinking them is refused anyway); a cgroup that still has processes
/// fails with `EBUSY`, retried briefly while killed processes finish exiting. On any other
/// filesystem (a tree shaped like a cgroup mount) the regular files of each directory are
/// removed first, so the same code cleans up both.
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    for child in subdirs(dir)? {
        remove_tree(&child)?;
    }
    if !dir.exists() {
        return Ok(());
    }
    if !is_cgroup_fs(dir) {
        let entries = fs::read_dir(dir).map_err(|e| Error::io("listing", dir, None, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", dir, None, e))?;
            let kind = entry
                .file_type()
                .map_err(|e| Error::io("listing", entry.path(), None, e))?;
            // Guarded: an entry of `dir` itself, and `dir` is inside a hierarchy because
            // `Cgroups::remove` accepts only relative paths of normal components.
            if kind.is_file() || kind.is_symlink() {
                match fs::remove_file(entry.path()) {
                    Err(e) if e.kind() != ErrorKind::NotFound => {
                        return Err(Error::io("removing", entry.path(), None, e));
                    }
                    _ => {}
                }
            }
        }
    }
    let mut delay = Duration::from_millis(5);
    for attempt in 0.. {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error())
                    && attempt < 10 =>
            {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(Error::io("removing", dir, None, e)),
        }
    }
    Ok(())
}
