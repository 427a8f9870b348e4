//! The files of one container log: the live `<log>`, the rotated `<log>.<timestamp>` (the
//! newest one), the compressed `<log>.<timestamp>.gz`, and the `.tmp` leftovers of an
//! interrupted compression (`pkg/kubelet/logs/container_log_manager.go`).
//!
//! Everything here is blocking file I/O on an explicit path; the manager runs it on the
//! blocking pool.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pod_plan::validation;

/// The suffix of a rotated file: the kubelet's Go layout `20060102-150405`, in local time.
pub(crate) const TIMESTAMP_FORMAT: &str = "%Y%m%d-%H%M%S";
/// The suffix of a compressed rotated file.
pub(crate) const COMPRESS_SUFFIX: &str = ".gz";
/// The suffix of a compression in progress.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// A failed file operation, before the manager names the container.
#[derive(Debug)]
pub(crate) struct FileError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FileError + use<> {
    let path = path.to_path_buf();
    move |source| FileError {
        action,
        path,
        source,
    }
}

/// The file names in `log`'s directory that start with `<log file name>` followed by
/// `suffix_start` (the kubelet's `filepath.Glob("<log>.*")` and `Glob("<log>*")`), sorted,
/// which for rotated files is oldest first. A missing directory has no files.
pub(crate) fn matching_files(log: &Path, suffix_start: &str) -> io::Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name()) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{}{suffix_start}", name.to_string_lossy());
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            files.push(dir.join(entry.file_name()));
        }
    }
    files.sort();
    Ok(files)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether a rotated file still holds log content nobody else has (the kubelet's
/// `isInUse`): `.tmp` files never do, `.gz` files always do, and a plain rotated file does
/// unless its `.gz` already exists (compression finished but the removal did not).
fn is_in_use(file: &Path, all: &[PathBuf]) -> bool {
    let name = file.as_os_str().to_string_lossy();
    if name.ends_with(TMP_SUFFIX) {
        return false;
    }
    if name.ends_with(COMPRESS_SUFFIX) {
        return true;
    }
    let compressed = with_suffix(file, COMPRESS_SUFFIX);
    !all.contains(&compressed)
}

/// Every file of a container's log, oldest first, the live log last (the kubelet's
/// `GetAllLogs`, which `kubectl logs` of a rotated container reads through): rotated files
/// `<log>.<timestamp>` and `<log>.<timestamp>.gz`, without the leftovers of an interrupted
/// rotation. The live log is listed whether or not it exists right now.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("all-logs-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let log = dir.join("0.log");
/// for name in ["0.log", "0.log.20240101-000000.gz", "0.log.20240101-000010", "0.log.x.tmp", "1.log"] {
///     std::fs::write(dir.join(name), "").unwrap();
/// }
/// let all = container_logs::all_logs(&log).unwrap();
/// assert_eq!(all, vec![
///     dir.join("0.log.20240101-000000.gz"),
///     dir.join("0.log.20240101-000010"),
///     dir.join("0.log"),
/// ]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn all_logs(log: &Path) -> io::Result<Vec<PathBuf>> {
    let rotated = matching_files(log, ".")?;
    let mut all: Vec<PathBuf> = rotated
        .iter()
        .filter(|f| is_in_use(f, &rotated))
        .cloned()
        .collect();
    all.push(log.to_path_buf());
    Ok(all)
}

/// Gets the rotated files of `log` ready for one more rotation (the first half of the
/// kubelet's `rotateLog`):
///
/// 1. remove what an interrupted rotation left (`cleanupUnusedLogs`);
/// 2. remove the oldest rotated files so that `max_files - 2` remain (`removeExcessLogs`):
///    the live log and the file about to be rotated make `max_files`;
/// 3. compress the remaining plain rotated files (`compressLog`), so only the newest rotated
///    file is ever uncompressed (a reader such as a log shipper may still be finishing it).
pub(crate) fn prepare_rotation(log: &Path, max_files: u32) -> Result<(), FileError> {
    let dir = log_dir(log);
    let candidates =
        matching_files(log, ".").map_err(file_error("list the rotated logs of", log))?;
    let mut in_use = Vec::new();
    for file in &candidates {
        if is_in_use(file, &candidates) {
            in_use.push(file.clone());
        } else {
            remove_file(dir, file).map_err(file_error("remove the unused log", file))?;
        }
    }
    // Oldest first: remove from the front, so an ongoing `kubectl logs` keeps its place.
    let keep = (max_files as usize).saturating_sub(2);
    let excess = in_use.len().saturating_sub(keep);
    for file in in_use.drain(..excess) {
        remove_file(dir, &file).map_err(file_error("remove the oldest rotated log", &file))?;
    }
    for file in &in_use {
        if !file
            .as_os_str()
            .to_string_lossy()
            .ends_with(COMPRESS_SUFFIX)
        {
            compress(file)?;
        }
    }
    Ok(())
}

/// The directory of a log file (`.` for a bare file name), the one every file of the log
/// is in.
pub(crate) fn log_dir(log: &Path) -> &Path {
    match log.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Removes `path`, a file of a container log, only when it is inside `dir`, the log's
/// directory, with no `..` in either (log paths come from the runtime); a missing file is
/// already removed.
pub(crate) fn remove_file(dir: &Path, path: &Path) -> io::Result<()> {
    match validation::remove_file_within(dir, path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// gzip `file` into `file.gz` (the kubelet's `compressLog`): written as `file.tmp`, renamed
/// to `file.gz`, then the plain file is removed, so a crash leaves the plain file, a `.tmp`
/// (unused) or both files (the plain one then counts as unused), never a truncated `.gz`.
/// The compressed file keeps the original's mode.
pub(crate) fn compress(file: &Path) -> Result<PathBuf, FileError> {
    let tmp = with_suffix(file, TMP_SUFFIX);
    let compressed = with_suffix(file, COMPRESS_SUFFIX);
    let result = (|| {
        let mode = fs::metadata(file)
            .map_err(file_error("stat the rotated log", file))?
            .permissions()
            .mode();
        let input = File::open(file).map_err(file_error("open the rotated log", file))?;
        let output = File::create(&tmp).map_err(file_error("create", &tmp))?;
        output
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(file_error("set the mode of", &tmp))?;
        let mut encoder =
            flate2::write::GzEncoder::new(BufWriter::new(output), flate2::Compression::default());
        io::copy(&mut BufReader::new(input), &mut encoder)
            .map_err(file_error("compress the rotated log", file))?;
        let mut writer = encoder
            .finish()
            .map_err(file_error("compress into", &tmp))?;
        writer.flush().map_err(file_error("write", &tmp))?;
        drop(writer);
        fs::rename(&tmp, &compressed).map_err(file_error("rename the compressed log", &tmp))?;
        remove_file(log_dir(file), file)
            .map_err(file_error("remove the compressed rotated log", file))?;
        Ok(compressed.clone())
    })();
    if result.is_err() {
        // Best effort, as in the kubelet: the next round removes a leftover `.tmp` anyway.
        let _ = remove_file(log_dir(&tmp), &tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str, content: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, content).unwrap();
        p
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn prepare_removes_leftovers_and_excess_and_compresses() {
        let dir = tempfile::tempdir().unwrap();
        let log = touch(dir.path(), "0.log", "live");
        touch(dir.path(), "0.log.20240101-000001.gz", "");
        touch(dir.path(), "0.log.20240101-000002.gz", "");
        // Compressed but not yet removed: unused.
        touch(dir.path(), "0.log.20240101-000003", "x");
        touch(dir.path(), "0.log.20240101-000003.gz", "");
        touch(dir.path(), "0.log.20240101-000004", "newest rotated");
        touch(dir.path(), "0.log.20240101-000004.tmp", "partial");
        // Another instance's log is never touched.
        touch(dir.path(), "1.log", "other");
        prepare_rotation(&log, 4).unwrap();
        assert_eq!(
            names(dir.path()),
            [
                "0.log",
                "0.log.20240101-000003.gz",
                "0.log.20240101-000004.gz",
                "1.log"
            ]
        );
        let gz = File::open(dir.path().join("0.log.20240101-000004.gz")).unwrap();
        let mut text = String::new();
        io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut text).unwrap();
        assert_eq!(text, "newest rotated");
    }

    #[test]
    fn two_files_keep_no_rotated_file_before_rotating() {
        let dir = tempfile::tempdir().unwrap();
        let log = touch(dir.path(), "0.log", "live");
        touch(dir.path(), "0.log.20240101-000001", "old");
        prepare_rotation(&log, 2).unwrap();
        assert_eq!(names(dir.path()), ["0.log"]);
    }
}
