//! The crate's one error: rotating, linking and reading container logs.

use std::path::PathBuf;

use crate::ContainerRef;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong rotating, cleaning, linking or reading a container's logs.
///
/// Every variant about one container names it as the pod (`namespace/name`), the container
/// name and a short container id, then the path and the operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rotation setting is out of range (the kubelet's configuration validation).
    #[error("{field}: {message}")]
    InvalidSettings {
        /// The kubelet configuration field (`containerLogMaxFiles`).
        field: &'static str,
        /// What is wrong with its value.
        message: String,
    },

    /// `ListContainers` failed, so no container was looked at this round.
    #[error("container log rotation: {source}")]
    ListContainers {
        /// The runtime error.
        #[source]
        source: cri_client::Error,
    },

    /// A CRI call about one container failed.
    #[error("{container}: {source}")]
    Runtime {
        /// The container.
        container: Box<ContainerRef>,
        /// The runtime error (names the CRI call).
        #[source]
        source: cri_client::Error,
    },

    /// `ContainerStatus` answered without a status.
    #[error("{container}: CRI ContainerStatus returned no status")]
    MissingStatus {
        /// The container.
        container: Box<ContainerRef>,
    },

    /// A file operation on one of the container's log files (or its symlink) failed.
    #[error("{container}: cannot {action} {}: {source}", path.display())]
    File {
        /// The container.
        container: Box<ContainerRef>,
        /// What was being done (`compress`, `remove the oldest rotated log`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// `ReopenContainerLog` failed after the live log was renamed away. Like the kubelet,
    /// the rotated file is renamed back so that the next round tries again.
    #[error(
        "{container}: cannot rotate {} ({}): {source}",
        path.display(),
        restore_note(rotated, restore_error)
    )]
    Reopen {
        /// The container.
        container: Box<ContainerRef>,
        /// The live log path.
        path: PathBuf,
        /// Where the live log had been renamed to.
        rotated: PathBuf,
        /// Why renaming it back failed, if it did: the log content then stays at `rotated`.
        restore_error: Option<std::io::Error>,
        /// The runtime error.
        #[source]
        source: Box<cri_client::Error>,
    },

    /// A part of a legacy symlink's name (the pod's name or namespace, the container's name
    /// or id) is not one path component, so no symlink is made or removed for it.
    #[error("legacy log symlink: {field}: Invalid value: {value}: {message}")]
    InvalidName {
        /// Which part (`pod name`, `container id`).
        field: &'static str,
        /// The value, quoted with escapes and cut.
        value: String,
        /// What is wrong with it.
        message: &'static str,
    },

    /// Reading a container's log failed (opening, reading or decompressing one of its
    /// files).
    #[error("cannot {action} {}: {source}", path.display())]
    Read {
        /// What was being done (`open the log file`, `read`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Reading the legacy symlink directory failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Directory {
        /// What was being done.
        action: &'static str,
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn restore_note(rotated: &std::path::Path, restore_error: &Option<std::io::Error>) -> String {
    match restore_error {
        None => "the log was renamed back".to_string(),
        Some(e) => format!(
            "renaming {} back failed, the log stays there: {e}",
            rotated.display()
        ),
    }
}
