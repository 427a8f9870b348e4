//! Memory threshold notifications from the kernel (cgroup v1): the eviction manager's way to
//! notice memory pressure as soon as usage crosses a line, without waiting for its next
//! check (the kubelet's `kernelMemcgNotification`, `threshold_notifier_linux.go`).
//!
//! cgroup v1 signals a crossing of `memory.usage_in_bytes` through an eventfd registered in
//! the cgroup's `cgroup.event_control` (`<eventfd> <fd of memory.usage_in_bytes>
//! <threshold>`). The registration lives as long as the eventfd: dropping a
//! [`MemoryThresholdNotifier`] removes it. cgroup v2 has no such interface; the kubelet
//! turns the notifier off there, and so does [`MemoryThresholdNotifier::arm`] (it returns
//! `Ok(None)`).
//!
//! ```no_run
//! use std::time::Duration;
//! use cgroup_enforcer::memcg::MemoryThresholdNotifier;
//!
//! // Wake when the root memory cgroup uses more (or less) than 20 GiB.
//! let dir = std::path::Path::new("/sys/fs/cgroup/memory");
//! if let Some(notifier) = MemoryThresholdNotifier::arm(dir, 20 << 30).unwrap() {
//!     if notifier.wait(Duration::from_secs(10)).unwrap() {
//!         println!("crossed");
//!     }
//! }
//! ```

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd, poll};
use rustix::fs::{Mode, OFlags, open};
use rustix::io::{read, write};

use crate::{Error, Result};

/// The file a memory threshold watches.
const USAGE: &str = "memory.usage_in_bytes";
/// The file thresholds are registered in.
const EVENT_CONTROL: &str = "cgroup.event_control";

/// One armed threshold on a v1 memory cgroup's usage.
#[derive(Debug)]
pub struct MemoryThresholdNotifier {
    eventfd: OwnedFd,
    cgroup: PathBuf,
    threshold: u64,
}

impl MemoryThresholdNotifier {
    /// Arms a notification for when the usage of the v1 memory cgroup at `cgroup_dir`
    /// crosses `threshold` bytes. `Ok(None)` when the directory is not a v1 memory cgroup
    /// (no `cgroup.event_control`, as on cgroup v2).
    pub fn arm(cgroup_dir: &Path, threshold: u64) -> Result<Option<Self>> {
        let control_path = cgroup_dir.join(EVENT_CONTROL);
        let usage_path = cgroup_dir.join(USAGE);
        if !control_path.exists() || !usage_path.exists() {
            return Ok(None);
        }
        let io = |op, path: &Path, e: rustix::io::Errno| {
            Error::io(op, path, None, std::io::Error::from(e))
        };
        let usage = open(&usage_path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io("opening", &usage_path, e))?;
        let control = open(
            &control_path,
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io("opening", &control_path, e))?;
        let eventfd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
            .map_err(|e| io("creating an eventfd for", &control_path, e))?;
        let line = format!("{} {} {threshold}", eventfd.as_raw_fd(), usage.as_raw_fd());
        write(&control, line.as_bytes()).map_err(|e| {
            Error::io(
                "writing",
                &control_path,
                Some(&line),
                std::io::Error::from(e),
            )
        })?;
        Ok(Some(MemoryThresholdNotifier {
            eventfd,
            cgroup: cgroup_dir.to_owned(),
            threshold,
        }))
    }

    /// The cgroup directory watched.
    pub fn cgroup(&self) -> &Path {
        &self.cgroup
    }

    /// The threshold in bytes.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// Blocks until the usage crosses the threshold (in either direction) or `timeout`
    /// passes; `true` for a crossing. Meant for a blocking thread
    /// (`tokio::task::spawn_blocking`); a short timeout lets the caller stop it.
    pub fn wait(&self, timeout: Duration) -> Result<bool> {
        Ok(!Self::wait_any(&[self], timeout)?.is_empty())
    }

    /// Blocks until at least one of `notifiers` fires or `timeout` passes; the indexes of
    /// those that fired (none on a timeout or an interrupted wait).
    pub fn wait_any(notifiers: &[&Self], timeout: Duration) -> Result<Vec<usize>> {
        let Some(first) = notifiers.first() else {
            std::thread::sleep(timeout);
            return Ok(Vec::new());
        };
        let io = |op, n: &Self, e: rustix::io::Errno| {
            Error::io(
                op,
                n.cgroup.join(EVENT_CONTROL),
                None,
                std::io::Error::from(e),
            )
        };
        let timeout = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut fds: Vec<PollFd<'_>> = notifiers
            .iter()
            .map(|n| PollFd::new(&n.eventfd, PollFlags::IN))
            .collect();
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => return Ok(Vec::new()),
            Ok(_) => {}
            Err(e) => return Err(io("waiting on the eventfd of", first, e)),
        }
        let ready: Vec<usize> = fds
            .iter()
            .enumerate()
            .filter(|(_, fd)| fd.revents().contains(PollFlags::IN))
            .map(|(i, _)| i)
            .collect();
        let mut fired = Vec::new();
        for i in ready {
            let n = notifiers[i];
            let mut count = [0u8; 8];
            match read(n.eventfd.as_fd(), &mut count) {
                Ok(_) => fired.push(i),
                Err(rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(io("reading the eventfd of", n, e)),
            }
        }
        Ok(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_event_control_is_not_armed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            MemoryThresholdNotifier::arm(dir.path(), 1 << 20)
                .unwrap()
                .is_none()
        );
    }
}
