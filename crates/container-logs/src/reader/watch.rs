//! Waiting for a followed log to change: inotify on the log's directory, through tokio's
//! reactor, and at least once a second whatever happens (the kubelet's fsnotify watch and
//! its `logForceCheckPeriod`).

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use rustix::fs::inotify;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The kubelet's `logForceCheckPeriod`: a followed log is looked at this often even when no
/// change is reported.
pub const FORCE_CHECK_PERIOD: Duration = Duration::from_secs(1);

/// A watch on the directory of a log.
#[derive(Debug)]
pub(crate) struct Watch {
    inotify: Option<AsyncFd<OwnedFd>>,
}

impl Watch {
    /// Watches `dir` for writes, new files, renames and removals. When inotify is not
    /// available (no instances left), the watch falls back to looking once a second.
    pub(crate) fn new(dir: &Path) -> Watch {
        let watch = || -> std::io::Result<AsyncFd<OwnedFd>> {
            let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
            inotify::add_watch(
                &fd,
                dir,
                inotify::WatchFlags::MODIFY
                    | inotify::WatchFlags::CREATE
                    | inotify::WatchFlags::MOVED_FROM
                    | inotify::WatchFlags::MOVED_TO
                    | inotify::WatchFlags::DELETE
                    | inotify::WatchFlags::CLOSE_WRITE,
            )?;
            register(fd)
        };
        match watch() {
            Ok(fd) => Watch { inotify: Some(fd) },
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the log directory; looking at the log once a second");
                Watch { inotify: None }
            }
        }
    }

    /// Returns when the directory changed, or after [`FORCE_CHECK_PERIOD`].
    pub(crate) async fn changed(&mut self) {
        let Some(fd) = &self.inotify else {
            tokio::time::sleep(FORCE_CHECK_PERIOD).await;
            return;
        };
        tokio::select! {
            ready = fd.readable() => {
                if let Ok(mut guard) = ready {
                    // The events only say "look again": drain them all.
                    let mut buf = [0u8; 4096];
                    loop {
                        match rustix::io::read(fd.get_ref(), &mut buf) {
                            Ok(0) => break,
                            Ok(_) => continue,
                            Err(rustix::io::Errno::INTR) => continue,
                            Err(_) => {
                                guard.clear_ready();
                                break;
                            }
                        }
                    }
                }
            }
            _ = tokio::time::sleep(FORCE_CHECK_PERIOD) => {}
        }
    }
}

/// Registers an owned fd with tokio's reactor.
///
/// tokio 1.54 deprecated the safe constructors for any `T: AsRawFd`, because a generic `T`
/// may close or swap its descriptor while registered (tokio#8587); the replacement is
/// `unsafe`, which this workspace denies. An [`OwnedFd`] moved into the `AsyncFd` meets that
/// contract by construction: it is open, owned by the `AsyncFd` until it is dropped, and
/// always returns the same descriptor. So the deprecated safe call is sound here (as in
/// pod-lifecycle's exit watch).
#[allow(deprecated)]
fn register(fd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    AsyncFd::with_interest(fd, Interest::READABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_in_the_directory_ends_the_wait_early() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = Watch::new(dir.path());
        assert!(watch.inotify.is_some());
        let path = dir.path().join("0.log");
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::fs::write(path, "x").unwrap();
        });
        let started = std::time::Instant::now();
        watch.changed().await;
        assert!(
            started.elapsed() < FORCE_CHECK_PERIOD,
            "{:?}",
            started.elapsed()
        );
        writer.await.unwrap();
    }
}
