//! The kubelet's `AtomicWriter` (`pkg/volume/util/atomic_writer.go`): how configMap,
//! secret, downwardAPI and projected volumes are written so that a reader never sees a
//! partial or mixed set of files.
//!
//! ```text
//! <vol>/..2024_01_02_03_04_05.123456789/   the data, one timestamped directory per version
//! <vol>/..data -> ..2024_01_02_03_04_05.123456789
//! <vol>/<key>  -> ..data/<key>              one symlink per top-level name
//! ```
//!
//! [`AtomicWriter::write`]:
//! 1. validates every path ([`validate_path`]);
//! 2. reads the current `..data` target and works out which old paths are gone;
//! 3. does nothing when every file already has the same content and mode and nothing is to
//!    be removed (no needless swap);
//! 4. writes every file into a new timestamped directory (mode 0755), each file chmod-ed to
//!    its exact mode after writing, so the umask does not matter;
//! 5. creates the user-visible symlink `<top-level name> -> ..data/<top-level name>` for new
//!    names;
//! 6. creates `..data_tmp -> <new dir>` and renames it over `..data`: the one atomic switch;
//! 7. removes the user-visible symlinks of names no longer present;
//! 8. removes the old timestamped directory.
//!
//! A reader that opens `<vol>/<key>` gets either the old or the new file; one that opens
//! `<vol>/..data` once and reads relative to it gets one consistent version.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::layout::{remove_dir_all_within, remove_file_within};
use crate::{Error, Result};

/// The symlink that names the current data directory.
pub const DATA_DIR_NAME: &str = "..data";
/// The temporary symlink renamed over [`DATA_DIR_NAME`].
pub const NEW_DATA_DIR_NAME: &str = "..data_tmp";

const MAX_FILE_NAME_LENGTH: usize = 255;
const MAX_PATH_LENGTH: usize = 4096;

/// One file to project into a volume (`volumeutil.FileProjection`).
#[derive(Clone, PartialEq, Eq)]
pub struct FileProjection {
    /// The content.
    pub data: Vec<u8>,
    /// The permission bits (`0o644`).
    pub mode: u32,
    /// The owner to give the file (`items[].user` / `defaultUser`); `None` keeps the
    /// agent's user.
    pub owner: Option<u32>,
}

impl FileProjection {
    /// A file with this content and mode, owned by the agent's user.
    pub fn new(data: impl Into<Vec<u8>>, mode: u32) -> Self {
        FileProjection {
            data: data.into(),
            mode,
            owner: None,
        }
    }
}

impl std::fmt::Debug for FileProjection {
    // The content may be a secret: only its length is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileProjection")
            .field("len", &self.data.len())
            .field("mode", &format_args!("{:#o}", self.mode))
            .field("owner", &self.owner)
            .finish()
    }
}

/// Relative path → file, the input of [`AtomicWriter::write`].
pub type Payload = BTreeMap<String, FileProjection>;

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The payload was already on disk: no new directory, no swap.
    Unchanged,
    /// A new version was swapped in.
    Written {
        /// The new timestamped directory's name (`..2024_01_02_03_04_05.123`).
        data_dir: String,
    },
}

/// Checks that `path` is a safe file path inside a volume (the kubelet's `validatePath`):
/// not empty, relative, at most 4096 bytes, no `..` element, no element longer than 255
/// bytes, not starting with `..` (reserved for the writer's own names), no NUL byte.
///
/// ```
/// use volume_manager::atomic_writer::validate_path;
///
/// assert!(validate_path("dir/config.yaml").is_ok());
/// assert!(validate_path("../etc/passwd").is_err());
/// assert!(validate_path("/etc/passwd").is_err());
/// assert!(validate_path("..data").is_err());
/// ```
pub fn validate_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Err(format!("invalid path: must not be empty: {path:?}"));
    }
    if path.starts_with('/') {
        return Err(format!("invalid path: must be relative path: {path}"));
    }
    if path.len() > MAX_PATH_LENGTH {
        return Err(format!(
            "invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters"
        ));
    }
    if path.contains('\0') {
        return Err(format!("invalid path: must not contain NUL: {path:?}"));
    }
    let items: Vec<&str> = path.split('/').collect();
    for item in &items {
        if *item == ".." {
            return Err(format!("invalid path: must not contain '..': {path}"));
        }
        if item.len() > MAX_FILE_NAME_LENGTH {
            return Err(format!(
                "invalid path: filenames must be less than or equal to {MAX_FILE_NAME_LENGTH} characters"
            ));
        }
    }
    if items[0].starts_with("..") && items[0].len() > 2 {
        return Err(format!("invalid path: must not start with '..': {path}"));
    }
    if clean(path).is_empty() {
        return Err(format!("invalid path: must name a file: {path:?}"));
    }
    Ok(())
}

/// `filepath.Clean` for a validated relative path: drops empty and `.` elements.
fn clean(path: &str) -> String {
    path.split('/')
        .filter(|e| !e.is_empty() && *e != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// The first element of a relative path: the name of its user-visible symlink.
fn top_level(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// Writes payloads into one volume directory atomically (see the module docs).
#[derive(Debug, Clone)]
pub struct AtomicWriter {
    target_dir: PathBuf,
    context: String,
}

impl AtomicWriter {
    /// A writer for `target_dir`; `pod` (`namespace/name`) names the pod in errors and logs.
    pub fn new(target_dir: impl Into<PathBuf>, pod: impl Into<String>) -> Self {
        AtomicWriter {
            target_dir: target_dir.into(),
            context: pod.into(),
        }
    }

    /// The volume directory written to.
    pub fn target_dir(&self) -> &Path {
        &self.target_dir
    }

    /// Writes `payload` (see the module docs).
    pub fn write(&self, payload: &Payload) -> Result<WriteOutcome> {
        self.write_with(payload, &|_| Ok(()))
    }

    /// Writes `payload`, calling `set_perms` with the volume directory once the new files
    /// are written and before the swap (the kubelet applies fsGroup ownership there).
    pub fn write_with(
        &self,
        payload: &Payload,
        set_perms: &dyn Fn(&Path) -> io::Result<()>,
    ) -> Result<WriteOutcome> {
        // (1) Validate and clean every path.
        let mut clean_payload: BTreeMap<String, &FileProjection> = BTreeMap::new();
        for (path, file) in payload {
            validate_path(path).map_err(|message| Error::InvalidPath {
                pod: self.context.clone(),
                message,
            })?;
            clean_payload.insert(clean(path), file);
        }

        // (2) The current version.
        let data_link = self.target_dir.join(DATA_DIR_NAME);
        let old_ts = match fs::read_link(&data_link) {
            Ok(target) => Some(target),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io("read link", &data_link, e)),
        };

        // (3) What changes.
        let (to_remove, should_write) = match &old_ts {
            None => (BTreeSet::new(), true),
            Some(old) => {
                let old_dir = self.target_dir.join(old);
                let to_remove = self.paths_to_remove(&clean_payload, &old_dir)?;
                let should_write = should_write_payload(&clean_payload, &old_dir)
                    .map_err(|e| self.io("compare with", &old_dir, e))?;
                (to_remove, should_write)
            }
        };
        if !should_write && to_remove.is_empty() {
            // A write interrupted between steps may have left names without their symlink.
            self.create_user_visible_files(&clean_payload)?;
            tracing::trace!(pod = %self.context, dir = %self.target_dir.display(), "write not required");
            return Ok(WriteOutcome::Unchanged);
        }

        // (4) The new version.
        let ts_dir = self.new_timestamp_dir()?;
        let ts_name = ts_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Err(e) = self.write_payload_to_dir(&clean_payload, &ts_dir) {
            let _ = remove_dir_all_within(&self.target_dir, &ts_dir);
            return Err(e);
        }
        if let Err(e) = set_perms(&self.target_dir) {
            let _ = remove_dir_all_within(&self.target_dir, &ts_dir);
            return Err(self.io("set ownership of", &self.target_dir, e));
        }

        // (5) User-visible symlinks for new names.
        self.create_user_visible_files(&clean_payload)?;

        // (6) The swap.
        let tmp_link = self.target_dir.join(NEW_DATA_DIR_NAME);
        match remove_file_within(&self.target_dir, &tmp_link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io("remove", &tmp_link, e)),
        }
        std::os::unix::fs::symlink(&ts_name, &tmp_link)
            .map_err(|e| self.io("create symlink", &tmp_link, e))?;
        fs::rename(&tmp_link, &data_link).map_err(|e| self.io("rename over", &data_link, e))?;

        // (7) Names no longer present: their links (never a directory of the volume root,
        // such as a nested mount point, which the old payload could not link).
        for path in &to_remove {
            if path.contains('/') {
                continue;
            }
            let link = self.target_dir.join(path);
            match fs::symlink_metadata(&link) {
                Ok(meta) if meta.file_type().is_symlink() => {}
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io("stat", &link, e)),
            }
            match remove_file_within(&self.target_dir, &link) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io("remove", &link, e)),
            }
        }

        // (8) The old version.
        if let Some(old) = old_ts {
            let old_dir = self.target_dir.join(&old);
            // Only ever a timestamped directory of ours, never through a planted path.
            if old.to_string_lossy().starts_with("..") && !old.to_string_lossy().contains('/') {
                match remove_dir_all_within(&self.target_dir, &old_dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(self.io("remove", &old_dir, e)),
                }
            }
        }
        tracing::debug!(pod = %self.context, dir = %self.target_dir.display(), data_dir = %ts_name, "volume data swapped");
        Ok(WriteOutcome::Written { data_dir: ts_name })
    }

    fn io(&self, action: &'static str, path: &Path, source: io::Error) -> Error {
        Error::io(self.context.clone(), action, path, source)
    }

    /// Old paths (files and directories, relative) that the new payload no longer has
    /// (`pathsToRemove`); the ancestors of new paths count as present.
    fn paths_to_remove(
        &self,
        payload: &BTreeMap<String, &FileProjection>,
        old_dir: &Path,
    ) -> Result<BTreeSet<String>> {
        let mut old = BTreeSet::new();
        match walk_relative(old_dir, "", &mut old) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
            Err(e) => return Err(self.io("read", old_dir, e)),
        }
        let mut new = BTreeSet::new();
        for path in payload.keys() {
            let mut sub = path.as_str();
            loop {
                new.insert(sub.to_owned());
                match sub.rfind('/') {
                    Some(i) => sub = &sub[..i],
                    None => break,
                }
            }
        }
        Ok(old.difference(&new).cloned().collect())
    }

    fn new_timestamp_dir(&self) -> Result<PathBuf> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = jiff::Timestamp::now();
        let prefix = now.strftime("..%Y_%m_%d_%H_%M_%S.").to_string();
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let suffix = (u64::from(now.subsec_nanosecond().unsigned_abs()) ^ (n << 32))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                % 1_000_000_000;
            let dir = self.target_dir.join(format!("{prefix}{suffix}"));
            match fs::create_dir(&dir) {
                Ok(()) => {
                    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                        .map_err(|e| self.io("chmod", &dir, e))?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(self.io("create", &dir, e)),
            }
        }
        Err(self.io(
            "create a timestamped directory in",
            &self.target_dir,
            io::Error::from(io::ErrorKind::AlreadyExists),
        ))
    }

    fn write_payload_to_dir(
        &self,
        payload: &BTreeMap<String, &FileProjection>,
        dir: &Path,
    ) -> Result<()> {
        for (path, file) in payload {
            let full = dir.join(path);
            if let Some(parent) = full.parent() {
                fs::create_dir_all(parent).map_err(|e| self.io("create", parent, e))?;
            }
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(file.mode & 0o7777)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                .open(&full)
                .map_err(|e| self.io("create", &full, e))?;
            f.write_all(&file.data)
                .map_err(|e| self.io("write", &full, e))?;
            // The umask applied at creation: set the exact mode.
            f.set_permissions(fs::Permissions::from_mode(file.mode & 0o7777))
                .map_err(|e| self.io("chmod", &full, e))?;
            if let Some(uid) = file.owner {
                std::os::unix::fs::fchown(&f, Some(uid), None)
                    .map_err(|e| self.io("chown", &full, e))?;
            }
        }
        Ok(())
    }

    /// `<top-level name> -> ..data/<top-level name>` for names that have no link yet
    /// (`createUserVisibleFiles`). A new link is owned by the owner of the first file under
    /// its name, as the kubelet `lchown`s it for the file that creates it. A directory
    /// already there (a nested mount point, see `MakeNestedMountpoints`) keeps the name and
    /// hides the file, as in the kubelet.
    fn create_user_visible_files(&self, payload: &BTreeMap<String, &FileProjection>) -> Result<()> {
        let mut seen = BTreeSet::new();
        for (path, file) in payload {
            let name = top_level(path);
            if !seen.insert(name) {
                continue;
            }
            let visible = self.target_dir.join(name);
            match fs::symlink_metadata(&visible) {
                Ok(meta) if meta.file_type().is_symlink() => continue,
                Ok(meta) if meta.is_dir() => {
                    tracing::debug!(pod = %self.context, dir = %self.target_dir.display(), name, "a directory hides this name of the volume");
                    continue;
                }
                // Something else sits there (not ours): leave it and fail.
                Ok(_) => {
                    return Err(self.io(
                        "create symlink",
                        &visible,
                        io::Error::from(io::ErrorKind::AlreadyExists),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io("stat", &visible, e)),
            }
            let target = Path::new(DATA_DIR_NAME).join(name);
            std::os::unix::fs::symlink(&target, &visible)
                .map_err(|e| self.io("create symlink", &visible, e))?;
            if let Some(uid) = file.owner {
                std::os::unix::fs::lchown(&visible, Some(uid), None)
                    .map_err(|e| self.io("chown", &visible, e))?;
            }
        }
        Ok(())
    }
}

/// Every path below `dir`, relative, without following symlinks.
fn walk_relative(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type()?.is_dir() {
            walk_relative(&entry.path(), &rel, out)?;
        }
        out.insert(rel);
    }
    Ok(())
}

/// Whether any file differs from the old version in content or mode (`shouldWritePayload`;
/// the mode is compared too, so a changed `defaultMode` is applied).
fn should_write_payload(
    payload: &BTreeMap<String, &FileProjection>,
    old_dir: &Path,
) -> io::Result<bool> {
    for (path, file) in payload {
        let old = old_dir.join(path);
        let meta = match fs::symlink_metadata(&old) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        if !meta.is_file()
            || meta.permissions().mode() & 0o7777 != file.mode & 0o7777
            || meta.len() != file.data.len() as u64
        {
            return Ok(true);
        }
        if let Some(uid) = file.owner
            && std::os::unix::fs::MetadataExt::uid(&meta) != uid
        {
            return Ok(true);
        }
        if fs::read(&old)? != file.data {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_path_rejects_what_the_kubelet_rejects() {
        for ok in ["a", "a/b", "dir/x.yaml", ".hidden", "a/./b", "a..b"] {
            assert!(validate_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/abs", "..", "../x", "a/../b", "..data", "..x/y", ".", "a\0b",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
        assert!(validate_path(&"a".repeat(256)).is_err());
        assert!(validate_path(&["a"; 2049].join("/")).is_err());
        assert_eq!(
            validate_path("a/../b").unwrap_err(),
            "invalid path: must not contain '..': a/../b"
        );
    }

    #[test]
    fn clean_drops_dot_and_empty_elements() {
        assert_eq!(clean("a/./b//c"), "a/b/c");
        assert_eq!(top_level("a/b/c"), "a");
    }
}
