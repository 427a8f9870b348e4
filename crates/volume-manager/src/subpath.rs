//! `subPath` resolved without ever leaving the volume (the kubelet's
//! `pkg/volume/util/subpath/subpath_linux.go`).
//!
//! The container can write to its volume, so anything inside it may be a symlink planted
//! to reach the host (`ln -s / escape`). The kubelet therefore never hands the runtime a
//! path inside the volume for a subPath. It opens the subPath one component at a time with
//! `openat(…, O_NOFOLLOW)` from the volume's root, then bind-mounts the opened file
//! descriptor (via `/proc/self/fd/N`) onto `pods/<uid>/volume-subpaths/<volume>/<container>/<index>`
//! and gives the runtime that path. Whatever the container changes afterwards, the mount
//! shows the inode that was checked.
//!
//! Here, a symlink met on the way is read (`readlinkat` on the opened link itself, never
//! followed by the kernel) and its target walked the same way: a relative target that
//! stays inside the volume is allowed, as the kubelet allows it after `EvalSymlinks`; an
//! absolute target, or `..` above the volume's root, is an escape and an error.

use std::collections::VecDeque;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

use crate::mounter;
use crate::mountinfo::MountInfo;

/// The kernel's limit of symlinks followed in one lookup.
const MAX_SYMLINKS: usize = 40;

/// Why a subPath could not be resolved inside its volume.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// A `..` or a symlink leads out of the volume.
    Escape(String),
    /// A system error on the way.
    Io(String, io::Error),
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalkError::Escape(m) => write!(f, "{m}"),
            WalkError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

/// Opens `sub_path` below `volume` without leaving it; missing components are created as
/// directories with `create_mode` when it is given (the kubelet's `SafeMakeDir`, which
/// takes the volume directory's own mode). Returns an `O_PATH` descriptor of the result.
pub(crate) fn safe_open(
    volume: &Path,
    sub_path: &str,
    create_mode: Option<u32>,
) -> Result<OwnedFd, WalkError> {
    let root = rustix::fs::open(
        volume,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| WalkError::Io(format!("cannot open volume {}", volume.display()), e.into()))?;
    let mut stack: Vec<OwnedFd> = vec![root];
    let mut queue: VecDeque<String> = components(sub_path).collect();
    let mut walked = PathBuf::new();
    let mut links = 0;
    let mut last: Option<OwnedFd> = None;

    while let Some(name) = queue.pop_front() {
        if let Some(fd) = last.take() {
            // A non-directory in the middle of the path.
            drop(fd);
            return Err(WalkError::Io(
                format!("cannot open {}", walked.display()),
                io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error()),
            ));
        }
        if name == ".." {
            if stack.len() == 1 {
                return Err(WalkError::Escape(format!(
                    "path {} goes above the volume root",
                    walked.join("..").display()
                )));
            }
            stack.pop();
            walked.pop();
            continue;
        }
        let parent = stack.last().expect("the volume root stays on the stack");
        let opened = rustix::fs::openat(
            parent,
            name.as_str(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        );
        let fd = match opened {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) if create_mode.is_some() => {
                make_dir_at(parent, &name, create_mode.unwrap_or(0o755)).map_err(|e| {
                    WalkError::Io(
                        format!("cannot create directory {}", walked.join(&name).display()),
                        e,
                    )
                })?
            }
            Err(e) => {
                return Err(WalkError::Io(
                    format!("cannot open {}", walked.join(&name).display()),
                    e.into(),
                ));
            }
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| {
            WalkError::Io(
                format!("cannot stat {}", walked.join(&name).display()),
                e.into(),
            )
        })?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(WalkError::Io(
                        format!("cannot resolve {sub_path}"),
                        io::Error::from_raw_os_error(rustix::io::Errno::LOOP.raw_os_error()),
                    ));
                }
                // Read the link the descriptor holds: the one checked, not a newer one.
                let target = rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(|e| {
                    WalkError::Io(
                        format!("cannot read link {}", walked.join(&name).display()),
                        e.into(),
                    )
                })?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    return Err(WalkError::Escape(format!(
                        "symlink {} points to the absolute path {target}, outside the volume",
                        walked.join(&name).display()
                    )));
                }
                for (i, c) in components(&target).enumerate() {
                    queue.insert(i, c);
                }
            }
            FileType::Directory => {
                walked.push(&name);
                stack.push(fd);
            }
            _ => {
                walked.push(&name);
                last = Some(fd);
            }
        }
    }
    Ok(match last {
        Some(fd) => fd,
        None => stack.pop().expect("the volume root stays on the stack"),
    })
}

fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
}

/// `mkdirat` + an exact `fchmod` (the umask does not apply), then the new directory opened
/// without following a symlink a racing writer may have put in its place.
fn make_dir_at(parent: &OwnedFd, name: &str, mode: u32) -> io::Result<OwnedFd> {
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(mode)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let dir = rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(mode))?;
    Ok(rustix::fs::openat(
        &dir,
        ".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Bind-mounts the opened subPath onto `target` (`doBindSubPath` /
/// `prepareSubpathTarget`): reuses a mount already there when it shows the same inode,
/// replaces it otherwise; read-only when asked.
pub(crate) fn bind_subpath(
    fd: &OwnedFd,
    target: &Path,
    read_only: bool,
    mounts: &[MountInfo],
) -> io::Result<()> {
    let opened = rustix::fs::fstat(fd)?;
    let existing = mounts.iter().rev().find(|m| m.mount_point == target);
    if let Some(existing) = existing {
        let same = fs::symlink_metadata(target)
            .map(|t| t.dev() == opened.st_dev as u64 && t.ino() == opened.st_ino as u64)
            .unwrap_or(false);
        if same {
            if read_only && !existing.read_only() {
                mounter::remount_read_only(target)?;
            }
            return Ok(());
        }
        mounter::unmount(target)?;
    }
    let parent = target.parent().unwrap_or(Path::new("/"));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(parent)?;
    let is_dir = FileType::from_raw_mode(opened.st_mode) == FileType::Directory;
    if is_dir {
        match fs::DirBuilder::new().mode(0o750).create(target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    } else {
        // A file is a mount point for anything that is not a directory.
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o640)
            .custom_flags(OFlags::NOFOLLOW.bits() as i32)
            .open(target)?;
    }
    mounter::bind_fd(fd.as_fd(), target)?;
    if read_only && let Err(e) = mounter::remount_read_only(target) {
        let _ = mounter::unmount(target);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn walks_inside_and_refuses_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let vol = tmp.path().join("vol");
        fs::create_dir_all(vol.join("a/b")).unwrap();
        fs::write(vol.join("a/b/file"), "x").unwrap();
        symlink("a/b", vol.join("inside")).unwrap();
        symlink("../../..", vol.join("a/up")).unwrap();
        symlink("/etc", vol.join("abs")).unwrap();
        fs::write(tmp.path().join("outside"), "host").unwrap();
        symlink("../outside", vol.join("rel-out")).unwrap();

        assert!(safe_open(&vol, "a/b/file", None).is_ok());
        assert!(safe_open(&vol, "inside/file", None).is_ok());
        assert!(matches!(
            safe_open(&vol, "a/up", None),
            Err(WalkError::Escape(_))
        ));
        assert!(matches!(
            safe_open(&vol, "abs", None),
            Err(WalkError::Escape(_))
        ));
        assert!(matches!(
            safe_open(&vol, "rel-out", None),
            Err(WalkError::Escape(_))
        ));
        assert!(matches!(
            safe_open(&vol, "a/b/file/x", None),
            Err(WalkError::Io(..))
        ));
        assert!(matches!(
            safe_open(&vol, "missing", None),
            Err(WalkError::Io(..))
        ));

        let made = safe_open(&vol, "new/dir", Some(0o750)).unwrap();
        drop(made);
        let meta = fs::metadata(vol.join("new/dir")).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o7777, 0o750);

        symlink("loop", vol.join("loop")).unwrap();
        assert!(matches!(
            safe_open(&vol, "loop", None),
            Err(WalkError::Io(..))
        ));
    }
}
