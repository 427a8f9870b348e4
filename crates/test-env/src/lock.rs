//! Who may use the runtime: a `flock` on `$NODELET_ENV_DIR/runtime.lock`.
//!
//! An agent under test owns the runtime: like the kubelet, it removes every sandbox it does
//! not know (housekeeping's orphan removal), so it would kill the pods of any other test on
//! the same containerd, and two agents would kill each other's. An agent's test (and
//! `cargo xtask demo`, and the start-up bench) therefore holds the lock exclusively for as
//! long as its agent runs; every other test that creates sandboxes holds it shared, so they
//! run together but never beside an agent.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;

use crate::env::{ENV_DIR_VAR, var};
use crate::error::{Error, Result};

/// A held `flock` on the runtime lock; released when dropped, even by a panic (or when the
/// process dies).
#[derive(Debug)]
pub struct RuntimeLock {
    path: PathBuf,
    _file: File,
}

impl RuntimeLock {
    /// The lock file: `runtime.lock` in `$NODELET_ENV_DIR` (from the process or the env
    /// file) when that is a directory, else in the temporary directory.
    pub fn path() -> PathBuf {
        var(ENV_DIR_VAR)
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir)
            .join("runtime.lock")
    }

    /// A shared lock, for a test that creates sandboxes; waits while an agent's test holds
    /// the lock exclusively.
    pub fn shared() -> Result<RuntimeLock> {
        RuntimeLock::take(false)
    }

    /// The exclusive lock, for a test that runs an agent; waits until no other test uses the
    /// runtime.
    pub fn exclusive() -> Result<RuntimeLock> {
        RuntimeLock::take(true)
    }

    /// Where the lock is.
    pub fn file(&self) -> &std::path::Path {
        &self.path
    }

    fn take(exclusive: bool) -> Result<RuntimeLock> {
        let path = RuntimeLock::path();
        let file = take(&path, exclusive, "another test uses the runtime")?;
        Ok(RuntimeLock { path, _file: file })
    }
}

/// A held `flock` on the reference runtime's lock (`$NODELET_ENV_DIR/ref-runtime.lock`):
/// the second containerd of `cargo xtask setup` (`NODELET_REF_CRI_ENDPOINT`), which only
/// the real kubelet uses.
///
/// The kubelet removes every runtime pod it does not know, so two kubelets on the reference
/// runtime would kill each other's pods; and the kubelet runner removes every pod left in
/// that runtime when its kubelet stops. Whoever runs a kubelet there
/// ([`Kubelet`](crate::Kubelet) takes it by itself) therefore holds this lock exclusively
/// for as long as the kubelet runs. It is a different file from [`RuntimeLock`]'s: a
/// kubelet and an agent under test run side by side, each on its own runtime.
#[derive(Debug)]
pub struct ReferenceRuntimeLock {
    path: PathBuf,
    _file: File,
}

impl ReferenceRuntimeLock {
    /// The lock file: `ref-runtime.lock` in `$NODELET_ENV_DIR` when that is a directory,
    /// else in the temporary directory.
    pub fn path() -> PathBuf {
        var(ENV_DIR_VAR)
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir)
            .join("ref-runtime.lock")
    }

    /// The exclusive lock; waits until no other kubelet uses the reference runtime.
    pub fn exclusive() -> Result<ReferenceRuntimeLock> {
        let path = ReferenceRuntimeLock::path();
        let file = take(&path, true, "another test runs the real kubelet")?;
        Ok(ReferenceRuntimeLock { path, _file: file })
    }

    /// Where the lock is.
    pub fn file(&self) -> &std::path::Path {
        &self.path
    }
}

/// Opens `path` and `flock`s it, shared or exclusive; says on stderr that it waits (and
/// `why`) when the lock is taken.
fn take(path: &PathBuf, exclusive: bool, why: &str) -> Result<File> {
    let io = |action: &'static str, path: &PathBuf| {
        let path = path.clone();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    };
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("opening", path))?;
    let free = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    if free.is_err() {
        let _ = writeln!(std::io::stderr(), "waiting for {} ({why})", path.display());
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(io("locking", path))?;
    }
    Ok(file)
}
