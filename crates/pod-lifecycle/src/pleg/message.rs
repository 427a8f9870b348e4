//! The termination message of an exited container (kuberuntime's `getTerminationMessage` and
//! `readLastStringFromContainerLogs`): what the container wrote to its
//! `terminationMessagePath`, read through the file's host side, or with
//! `terminationMessagePolicy: FallbackToLogsOnError` the end of its log.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use cri_client::v1;

use crate::labels;

/// At most this much of the termination message file is read, from its end
/// (`MaxContainerTerminationMessageLength`).
pub const MAX_TERMINATION_MESSAGE_LENGTH: usize = 4096;
/// The log fallback takes the last this many lines (`MaxContainerTerminationMessageLogLines`)...
pub const MAX_TERMINATION_MESSAGE_LOG_LINES: usize = 80;
/// ...and at most this many bytes of them (`MaxContainerTerminationMessageLogLength`).
pub const MAX_TERMINATION_MESSAGE_LOG_LENGTH: usize = 2048;

/// How much of a log's end is scanned for its last lines.
const LOG_TAIL_WINDOW: u64 = 1 << 20;

/// The termination message of an exited container, or `None` for one that is not exited or
/// left none. The annotations `io.kubernetes.container.terminationMessagePath` and
/// `...terminationMessagePolicy` written at creation say where to look: the mount whose
/// container path is the message path gives the file on the host (its last 4096 bytes are
/// read). With `FallbackToLogsOnError`, a container that failed (exit code not 0, reason not
/// `ContainerCannotRun`) and left the file empty or missing gets the last 80 lines of its
/// log, at most 2048 bytes. A file that cannot be read gives a message saying so.
pub fn termination_message(status: &v1::ContainerStatus) -> Option<String> {
    if status.state != v1::ContainerState::ContainerExited as i32 {
        return None;
    }
    let path = status
        .annotations
        .get(labels::TERMINATION_MESSAGE_PATH)
        .map(String::as_str)
        .unwrap_or("");
    let fallback_to_logs = status
        .annotations
        .get(labels::TERMINATION_MESSAGE_POLICY)
        .is_some_and(|p| p == "FallbackToLogsOnError")
        && status.exit_code != 0
        && status.reason != "ContainerCannotRun";
    let mount = (!path.is_empty())
        .then(|| status.mounts.iter().find(|m| m.container_path == path))
        .flatten();
    let (message, check_logs) = match mount {
        None => (String::new(), fallback_to_logs),
        Some(m) => match read_at_most(Path::new(&m.host_path), MAX_TERMINATION_MESSAGE_LENGTH) {
            Ok(data) => {
                let empty = data.is_empty();
                (data, fallback_to_logs && empty)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), fallback_to_logs),
            Err(e) => (
                format!("Error on reading termination log {}: {e}", m.host_path),
                false,
            ),
        },
    };
    let message = if check_logs && !status.log_path.is_empty() {
        last_log_lines(
            Path::new(&status.log_path),
            MAX_TERMINATION_MESSAGE_LOG_LINES,
            MAX_TERMINATION_MESSAGE_LOG_LENGTH,
        )
        .unwrap_or_else(|e| format!("Error on reading termination message from logs: {e}"))
    } else {
        message
    };
    (!message.is_empty()).then_some(message)
}

/// The last `max` bytes of a file (all of a shorter one), as text (`tail.ReadAtMost`).
fn read_at_most(path: &Path, max: usize) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut data = Vec::with_capacity((len - start) as usize);
    file.take(max as u64).read_to_end(&mut data)?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

/// The content of the last `lines` lines of a CRI log file, joined with newlines and cut to
/// its first `max_bytes` bytes (the kubelet's `tailLines` then `limitBytes`). CRI log lines
/// are `<RFC 3339 time> <stream> <P|F> <content>`; partial (`P`) records are joined to the
/// record that completes them.
pub fn last_log_lines(path: &Path, lines: usize, max_bytes: usize) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(LOG_TAIL_WINDOW);
    file.seek(SeekFrom::Start(start))?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let mut records = text.lines();
    if start > 0 {
        // The window may begin mid-record.
        records.next();
    }
    let mut full = Vec::new();
    let mut partial = String::new();
    for record in records {
        let mut fields = record.splitn(4, ' ');
        let (Some(_time), Some(_stream), Some(tag)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        partial.push_str(fields.next().unwrap_or(""));
        if tag != "P" {
            full.push(std::mem::take(&mut partial));
        }
    }
    if !partial.is_empty() {
        full.push(partial);
    }
    let first = full.len().saturating_sub(lines);
    let mut out = String::new();
    for line in &full[first..] {
        out.push_str(line);
        out.push('\n');
    }
    if out.len() > max_bytes {
        let mut cut = max_bytes;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_file(content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn partial_records_join_and_limits_apply() {
        let (_dir, path) = log_file(
            "2026-01-01T00:00:00.1Z stdout P hel\n2026-01-01T00:00:00.2Z stdout F lo\n\
             2026-01-01T00:00:00.3Z stderr F world\n",
        );
        assert_eq!(last_log_lines(&path, 80, 2048).unwrap(), "hello\nworld\n");
        assert_eq!(last_log_lines(&path, 1, 2048).unwrap(), "world\n");
        assert_eq!(last_log_lines(&path, 80, 3).unwrap(), "hel");
    }

    #[test]
    fn only_exited_containers_with_a_mount_or_fallback_have_messages() {
        let (_dir, log) = log_file("2026-01-01T00:00:00.1Z stdout F boom\n");
        let mut status = v1::ContainerStatus {
            state: v1::ContainerState::ContainerExited as i32,
            exit_code: 1,
            log_path: log.to_string_lossy().into_owned(),
            ..Default::default()
        };
        assert_eq!(
            termination_message(&status),
            None,
            "File policy: no fallback"
        );
        status.annotations.insert(
            labels::TERMINATION_MESSAGE_POLICY.into(),
            "FallbackToLogsOnError".into(),
        );
        assert_eq!(termination_message(&status).as_deref(), Some("boom\n"));
        status.reason = "ContainerCannotRun".into();
        assert_eq!(termination_message(&status), None);
        status.state = v1::ContainerState::ContainerRunning as i32;
        assert_eq!(termination_message(&status), None);
    }
}
