//! Container log files on a Kubernetes node, after the runtime wrote them: kept bounded by
//! size-based rotation ([`ContainerLogManager`], the kubelet's `pkg/kubelet/logs`), linked
//! from the legacy `/var/log/containers` ([`LegacySymlinks`]), and read back in the CRI log
//! format ([`LogReader`] for `kubectl logs`, [`termination_message_from_logs`] for
//! `terminationMessagePolicy: FallbackToLogsOnError`).
//!
//! # Why the files are the interface
//!
//! The container runtime writes each container's output to
//! `<pod log dir>/<container>/<restart>.log` ([`pod_log_dir`], [`container_log_path`]) and
//! never stops. Everything else a kubelet does with logs is done on those files, with only
//! two CRI calls: `ReopenContainerLog`, which makes the runtime write to a fresh file after
//! the old one was renamed, and `ContainerStatus`/`ListContainers`, which say where each
//! container's log is and whether it still runs. So this crate takes a log path and, where
//! it needs one, a [`cri_client::RuntimeService`]; it knows nothing of pod workers or pod
//! specs. A node agent other than nodelet can use it as is, and every piece is tested on a
//! temporary directory with `cri_client::fake::FakeRuntime` standing in for the runtime.
//!
//! Rotation and reading agree on one layout, the kubelet's: the live `<log>`, rotated files
//! `<log>.<YYYYmmdd-HHMMSS>`, all but the newest compressed to `.gz` ([`all_logs`] lists
//! them in order). That is what lets the reader follow a log through its rotations and
//! take a tail that reaches into rotated files, which the kubelet's reader does not.
//!
//! # Reading
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use container_logs::{LogOptions, LogReader};
//!
//! let dir = std::env::temp_dir().join(format!("container-logs-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! // A rotated file, then the live log; the runtime split "world" into two records.
//! std::fs::write(dir.join("0.log.20240101-000000"), "2024-01-01T00:00:00Z stdout F hello\n")?;
//! std::fs::write(dir.join("0.log"), "2024-01-01T00:00:01Z stdout P wor\n\
//!                                    2024-01-01T00:00:02Z stderr F warning\n\
//!                                    2024-01-01T00:00:03Z stdout F ld\n")?;
//!
//! let options = LogOptions { tail_lines: Some(2), ..Default::default() };
//! let mut reader = LogReader::open(dir.join("0.log"), options).await?;
//! let mut lines = Vec::new();
//! while let Some(line) = reader.next_line().await? {
//!     lines.push(String::from_utf8(line.output)?);
//! }
//! assert_eq!(lines, ["warning\n", "world\n"]);
//!
//! let everything = LogReader::open(dir.join("0.log"), LogOptions::default()).await?;
//! let count = futures::StreamExt::count(everything.into_stream()).await;
//! assert_eq!(count, 3, "the rotated file is read too");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! # Rotating
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
//! use cri_client::{RuntimeService, v1};
//! use container_logs::{ContainerLogManager, LogRotationSettings};
//!
//! let dir = std::env::temp_dir().join(format!("logs-doc-{}", std::process::id()));
//! let fake = FakeRuntime::with_busybox();
//! let sandbox_config = v1::PodSandboxConfig {
//!     metadata: Some(v1::PodSandboxMetadata { name: "web".into(), namespace: "default".into(), uid: "uid-1".into(), attempt: 0 }),
//!     log_directory: dir.to_string_lossy().into_owned(),
//!     ..Default::default()
//! };
//! let sandbox = fake.run_pod_sandbox(v1::RunPodSandboxRequest { config: Some(sandbox_config.clone()), runtime_handler: String::new() }).await?.pod_sandbox_id;
//! let id = fake.create_container(v1::CreateContainerRequest {
//!     pod_sandbox_id: sandbox,
//!     config: Some(v1::ContainerConfig {
//!         metadata: Some(v1::ContainerMetadata { name: "app".into(), attempt: 0 }),
//!         image: Some(v1::ImageSpec { image: BUSYBOX_IMAGE.into(), ..Default::default() }),
//!         command: vec!["sleep".into(), "infinity".into()],
//!         log_path: "app/0.log".into(),
//!         ..Default::default()
//!     }),
//!     sandbox_config: Some(sandbox_config),
//! }).await?.container_id;
//! fake.start_container(v1::StartContainerRequest { container_id: id.clone() }).await?;
//!
//! // The runtime wrote 2 KiB; the limit is 1 KiB.
//! std::fs::create_dir_all(dir.join("app"))?;
//! std::fs::write(dir.join("app/0.log"), vec![b'x'; 2048])?;
//! let settings = LogRotationSettings { max_size: 1024, ..Default::default() };
//! let manager = ContainerLogManager::new(Arc::new(fake.clone()), settings)?;
//! let report = manager.rotate_once().await?;
//! assert_eq!(report.rotated.len(), 1);
//! assert!(!dir.join("app/0.log").exists(), "renamed; the runtime reopens it");
//! assert_eq!(std::fs::metadata(&report.rotated[0].rotated_to)?.len(), 2048);
//! assert_eq!(fake.calls_to("ReopenContainerLog").len(), 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod container;
mod error;
mod files;
mod manager;
mod paths;
mod reader;
mod settings;
mod symlink;

pub use container::ContainerRef;
pub use error::{Error, Result};
pub use files::all_logs;
pub use manager::{ContainerLogManager, LogClock, RotatedLog, RotationReport};
pub use paths::{DEFAULT_POD_LOGS_DIR, LEGACY_CONTAINER_LOGS_DIR, container_log_path, pod_log_dir};
pub use reader::{
    FORCE_CHECK_PERIOD, LogLine, LogOptions, LogReader, LogStream, LogStreams,
    MAX_TERMINATION_MESSAGE_LOG_LENGTH, MAX_TERMINATION_MESSAGE_LOG_LINES, RecordHeader,
    last_log_lines, parse_record, termination_message_from_logs,
};
pub use settings::{
    DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, DEFAULT_MONITOR_INTERVAL, LogRotationSettings,
    MIN_MONITOR_INTERVAL,
};
pub use symlink::{
    DanglingSymlinks, LegacySymlinks, container_id_from_legacy_symlink, legacy_log_symlink,
};
