//! The rotation policy: `containerLogMaxSize`, `containerLogMaxFiles`,
//! `containerLogMonitorInterval`.

use std::time::Duration;

use crate::{Error, Result};

/// The kubelet's default `containerLogMaxSize`: 10Mi.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
/// The kubelet's default `containerLogMaxFiles`: 5.
pub const DEFAULT_MAX_FILES: u32 = 5;
/// The kubelet's default `containerLogMonitorInterval`: 10 s.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(10);
/// The shortest `containerLogMonitorInterval` the kubelet accepts: 3 s.
pub const MIN_MONITOR_INTERVAL: Duration = Duration::from_secs(3);

/// When and how far container logs are rotated (the kubelet's `LogRotatePolicy` plus its
/// monitor interval). [`Default`] is the kubelet's: 10Mi, 5 files, every 10 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRotationSettings {
    /// `containerLogMaxSize` in bytes: a live log this large or larger is rotated. The
    /// agent parses the quantity (`10Mi`) and passes bytes.
    pub max_size: u64,
    /// `containerLogMaxFiles`: how many files a container's log may span, the live log
    /// included (at least 2: the live log and the newest rotated one).
    pub max_files: u32,
    /// `containerLogMonitorInterval`: how often [`run`](crate::ContainerLogManager::run)
    /// looks at the logs (at least 3 s).
    pub monitor_interval: Duration,
}

impl Default for LogRotationSettings {
    fn default() -> Self {
        LogRotationSettings {
            max_size: DEFAULT_MAX_SIZE,
            max_files: DEFAULT_MAX_FILES,
            monitor_interval: DEFAULT_MONITOR_INTERVAL,
        }
    }
}

impl LogRotationSettings {
    /// The kubelet's checks (`NewContainerLogManager` and `ValidateKubeletConfiguration`):
    /// `containerLogMaxFiles` > 1, `containerLogMonitorInterval` ≥ 3 s, and a positive
    /// `containerLogMaxSize` (the kubelet turns rotation off for a negative size; nodelet's
    /// agent refuses it, so a zero here is a mistake, not a switch).
    ///
    /// ```
    /// use container_logs::LogRotationSettings;
    /// assert!(LogRotationSettings::default().validate().is_ok());
    /// let one_file = LogRotationSettings { max_files: 1, ..Default::default() };
    /// assert_eq!(
    ///     one_file.validate().unwrap_err().to_string(),
    ///     "containerLogMaxFiles: 1 must be greater than 1"
    /// );
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.max_size == 0 {
            return Err(Error::InvalidSettings {
                field: "containerLogMaxSize",
                message: "0 must be a positive size in bytes".into(),
            });
        }
        if self.max_files < 2 {
            return Err(Error::InvalidSettings {
                field: "containerLogMaxFiles",
                message: format!("{} must be greater than 1", self.max_files),
            });
        }
        if self.monitor_interval < MIN_MONITOR_INTERVAL {
            return Err(Error::InvalidSettings {
                field: "containerLogMonitorInterval",
                message: format!(
                    "{:?} must be greater than or equal to 3s",
                    self.monitor_interval
                ),
            });
        }
        Ok(())
    }
}
