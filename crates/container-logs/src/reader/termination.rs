//! The end of a log as a termination message (`terminationMessagePolicy:
//! FallbackToLogsOnError`, the kubelet's `readLastStringFromContainerLogs`).

use std::path::Path;

use super::LogOptions;
use super::cursor::{LogCursor, Progress};
use crate::Result;

/// How many lines of its log a failed container's termination message takes at most, with
/// `FallbackToLogsOnError` (the kubelet's `MaxContainerTerminationMessageLogLines`).
pub const MAX_TERMINATION_MESSAGE_LOG_LINES: u64 = 80;

/// How many bytes of its log a failed container's termination message takes at most, with
/// `FallbackToLogsOnError` (the kubelet's `MaxContainerTerminationMessageLogLength`).
pub const MAX_TERMINATION_MESSAGE_LOG_LENGTH: usize = 2048;

/// The content of the last `lines` lines of the container log at `path`, both streams, and
/// of those the last `max_bytes` bytes: the kubelet reads `tailLines` into a ring buffer
/// of `max_bytes`, so a long end wins over the start. The text starts at a character
/// boundary; bytes that are not UTF-8 are replaced. Lines are read across rotated files
/// like [`LogReader`](super::LogReader) reads them (it is the same reader); a malformed
/// line is skipped.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("last-lines-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let log = dir.join("0.log");
/// std::fs::write(&log, "2024-01-01T00:00:00Z stdout F starting\n\
///                       2024-01-01T00:00:01Z stderr P out of \n\
///                       2024-01-01T00:00:02Z stderr F memory\n")?;
/// assert_eq!(container_logs::last_log_lines(&log, 1, 2048)?, "out of memory\n");
/// assert_eq!(container_logs::last_log_lines(&log, 80, 7)?, "memory\n");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn last_log_lines(path: &Path, lines: u64, max_bytes: usize) -> Result<String> {
    let options = LogOptions {
        tail_lines: Some(lines),
        ..LogOptions::default()
    };
    let mut cursor = LogCursor::open(path, &options)?;
    let mut kept: Vec<u8> = Vec::new();
    loop {
        let progress = cursor.read(256)?;
        for line in cursor.output().drain(..) {
            kept.extend_from_slice(&line.output);
            if kept.len() > max_bytes {
                kept.drain(..kept.len() - max_bytes);
            }
        }
        if progress == Progress::Done {
            break;
        }
    }
    // A UTF-8 character cut by the byte limit is left out rather than mangled.
    let boundary = kept
        .iter()
        .take(3)
        .take_while(|&&b| b & 0b1100_0000 == 0b1000_0000)
        .count();
    Ok(String::from_utf8_lossy(&kept[boundary..]).into_owned())
}

/// The termination message of a failed container whose policy is
/// `FallbackToLogsOnError`: the last 80 lines of its log, at most their last 2048 bytes
/// ([`last_log_lines`] with the kubelet's limits).
pub fn termination_message_from_logs(path: &Path) -> Result<String> {
    last_log_lines(
        path,
        MAX_TERMINATION_MESSAGE_LOG_LINES,
        MAX_TERMINATION_MESSAGE_LOG_LENGTH,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_bytes_win_and_start_at_a_character() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.log");
        let mut content = String::new();
        for i in 1..=100 {
            content.push_str(&format!("2024-01-01T00:00:00Z stdout F line {i} é\n"));
        }
        std::fs::write(&log, content).unwrap();
        let message = termination_message_from_logs(&log).unwrap();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(
            (lines.len(), lines[0], lines[79]),
            (80, "line 21 é", "line 100 é")
        );
        // "é\n" is 3 bytes: a limit of 2 cuts into it.
        assert_eq!(last_log_lines(&log, 1, 2).unwrap(), "\n");
        assert_eq!(last_log_lines(&log, 1, 3).unwrap(), "é\n");
        assert_eq!(
            last_log_lines(&log, 80, 30).unwrap(),
            " 98 é\nline 99 é\nline 100 é\n"
        );
    }

    #[test]
    fn a_missing_log_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = termination_message_from_logs(&dir.path().join("0.log")).unwrap_err();
        assert!(err.to_string().contains("0.log"), "{err}");
    }
}
