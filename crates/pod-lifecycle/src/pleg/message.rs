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

/// The log fallback's limits and reader: the `container-logs` crate's, so that
/// `kubectl logs` and termination messages read logs the same way.
pub use container_logs::{
    MAX_TERMINATION_MESSAGE_LOG_LENGTH, MAX_TERMINATION_MESSAGE_LOG_LINES, last_log_lines,
};

/// The termination message of an exited container, or `None` for one that is not exited or
/// left none. The annotations `io.kubernetes.container.terminationMessagePath` and
/// `...terminationMessagePolicy` written at creation say where to look: the mount whose
/// container path is the message path gives the file on the host (its last 4096 bytes are
/// read). With `FallbackToLogsOnError`, a container that failed (exit code not 0, reason not
/// `ContainerCannotRun`) and left the file empty or missing gets the last 80 lines of its
/// log, at most their last 2048 bytes ([`container_logs::termination_message_from_logs`]). A
/// file that cannot be read gives a message saying so.
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
        container_logs::termination_message_from_logs(Path::new(&status.log_path))
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
