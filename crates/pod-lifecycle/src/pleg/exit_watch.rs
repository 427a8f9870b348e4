//! Exit watchers: learn that a container's init process ended from the kernel, through a
//! pidfd, instead of waiting for the next relist. Beyond the kubelet, whose generic PLEG
//! finds exits only by relisting every second.
//!
//! One task per running container:
//!
//! 1. verbose `ContainerStatus` gives the init pid (`info["info"]` is JSON with a `pid`
//!    field in containerd 1.6; the agent runs in the host pid namespace, so the pid is
//!    valid here);
//! 2. `pidfd_open(pid)`, then a second, plain `ContainerStatus`: if the container still
//!    runs, the pidfd refers to its process and not to a later process that reused the pid;
//! 3. wait for the pidfd to become readable (the process exited), through tokio's reactor;
//! 4. poll `ContainerStatus` until the runtime, too, reports the container as no longer
//!    running, then wake the PLEG, which relists that pod: cache refresh + `ContainerDied`.
//!    containerd 1.6 changes the CRI state only after it has deleted the task (its
//!    `handleContainerExit` runs `runc delete` first), some 30 ms after the exit here. The
//!    event waits for that on purpose: a worker woken by `ContainerDied` must find the exit
//!    (code, reason, `finished_at`) in the cache, and only the runtime knows the exit code
//!    of a process that is not the agent's child.
//!
//! Anything unexpected ends the watcher quietly: the relist stays the safety net. A pid that
//! is already gone goes straight to step 4. A kernel without pidfds (`ENOSYS`, Linux before
//! 5.3) switches the watchers off for the PLEG's lifetime, logged once.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cri_client::{RuntimeService, v1};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

/// A watcher's message to the PLEG loop: this pod's container exited, relist the pod.
#[derive(Debug, Clone)]
pub(crate) struct Wake {
    pub pod_uid: String,
    pub trigger: WakeTrigger,
}

/// Why a pod relist was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeTrigger {
    /// An exit watcher saw the container's process end.
    ExitWatcher,
    /// A caller of [`Pleg::notify_pod`](super::Pleg::notify_pod).
    Notify,
}

/// How long to wait for the runtime to report an exit the kernel already reported.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);
/// First and longest pause between `ContainerStatus` polls while confirming. containerd
/// 1.6 updates the CRI state only after it has deleted the task (runc delete), about 30 ms
/// after the exit on the project's machine; a status call costs well under a millisecond.
const CONFIRM_FIRST_POLL: Duration = Duration::from_millis(2);
const CONFIRM_MAX_POLL: Duration = Duration::from_millis(10);

/// Shared by all watchers of one PLEG: whether pidfds work here, and the log-once flags.
#[derive(Debug, Default)]
pub(crate) struct PidfdSupport {
    unsupported: AtomicBool,
    logged_no_pid: AtomicBool,
}

impl PidfdSupport {
    pub fn available(&self) -> bool {
        !self.unsupported.load(Ordering::Relaxed)
    }

    fn mark_unsupported(&self, error: &std::io::Error) {
        if !self.unsupported.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %error,
                "pidfd_open is not supported here; container exits are found by relisting only"
            );
        }
    }

    fn log_no_pid(&self) {
        if !self.logged_no_pid.swap(true, Ordering::Relaxed) {
            tracing::info!(
                "the runtime reports no container pid in verbose ContainerStatus; \
                 container exits are found by relisting only"
            );
        }
    }
}

/// The init pid from a verbose `ContainerStatus` reply's `info`: containerd puts JSON with a
/// `pid` field under `info`; a bare `pid` key is accepted too. 0 (a fake) is no pid.
pub(crate) fn pid_from_info(info: &HashMap<String, String>) -> Option<i32> {
    let from_json = info.get("info").and_then(|raw| {
        serde_json::from_str::<serde_json::Value>(raw)
            .ok()?
            .get("pid")?
            .as_i64()
    });
    let pid = from_json.or_else(|| info.get("pid")?.trim().parse().ok())?;
    i32::try_from(pid).ok().filter(|&p| p > 0)
}

/// Spawn the watcher of one running container. `armed` is true while it waits on the
/// container's pidfd.
pub(crate) fn spawn(
    runtime: Arc<dyn RuntimeService>,
    pod_uid: String,
    container_id: String,
    wake: mpsc::UnboundedSender<Wake>,
    support: Arc<PidfdSupport>,
    armed: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let span = tracing::debug_span!(
        "exit_watch",
        pod_uid = %pod_uid,
        container_id = %short(&container_id)
    );
    tokio::spawn(
        async move {
            if watch(&*runtime, &container_id, &support, &armed).await {
                let _ = wake.send(Wake {
                    pod_uid,
                    trigger: WakeTrigger::ExitWatcher,
                });
            }
        }
        .instrument(span),
    )
}

fn short(id: &str) -> &str {
    &id[..id.len().min(13)]
}

/// What a `ContainerStatus` says about whether the container still runs.
enum Liveness {
    /// Running; the reply's `info` (filled when asked for verbose).
    Running(HashMap<String, String>),
    Ended,
    Unknown,
}

async fn liveness(runtime: &dyn RuntimeService, container_id: &str, verbose: bool) -> Liveness {
    match runtime
        .container_status(v1::ContainerStatusRequest {
            container_id: container_id.to_string(),
            verbose,
        })
        .await
    {
        Ok(reply) => match reply.status.as_ref().map(|s| s.state()) {
            Some(v1::ContainerState::ContainerRunning) => Liveness::Running(reply.info),
            Some(v1::ContainerState::ContainerExited) => Liveness::Ended,
            _ => Liveness::Unknown,
        },
        Err(e) if e.is_not_found() => Liveness::Ended,
        Err(e) => {
            tracing::debug!(error = %e, "ContainerStatus failed; leaving the exit to the relist");
            Liveness::Unknown
        }
    }
}

/// Watch one container; true when the PLEG should relist its pod now.
async fn watch(
    runtime: &dyn RuntimeService,
    container_id: &str,
    support: &PidfdSupport,
    armed: &AtomicBool,
) -> bool {
    let info = match liveness(runtime, container_id, true).await {
        Liveness::Running(info) => info,
        Liveness::Ended => return true,
        Liveness::Unknown => return false,
    };
    let Some(pid) = pid_from_info(&info) else {
        support.log_no_pid();
        return false;
    };
    match open_pidfd(pid) {
        Ok(pidfd) => {
            // The container might have exited and its pid been reused between the status
            // call and pidfd_open: only a container that still runs owns this pid.
            match liveness(runtime, container_id, false).await {
                Liveness::Running(_) => {}
                Liveness::Ended => return true,
                Liveness::Unknown => return false,
            }
            tracing::debug!(pid, "watching the container's init process");
            armed.store(true, Ordering::Relaxed);
            let ready = pidfd.readable().await;
            armed.store(false, Ordering::Relaxed);
            match ready {
                Ok(_guard) => tracing::debug!(pid, "init process exited"),
                Err(error) => {
                    tracing::debug!(%error, "waiting on the pidfd failed; leaving it to the relist");
                    return false;
                }
            }
        }
        Err(OpenError::Gone) => tracing::debug!(pid, "init process already gone"),
        Err(OpenError::Unsupported(error)) => {
            support.mark_unsupported(&error);
            return false;
        }
        Err(OpenError::Other(error)) => {
            tracing::debug!(pid, %error, "pidfd_open failed; leaving the exit to the relist");
            return false;
        }
    }
    confirm_exit(runtime, container_id).await;
    true
}

/// Poll until the runtime reports what the kernel already did, so the relist that follows
/// sees the container exited (containerd updates its state from the shim's exit event).
async fn confirm_exit(runtime: &dyn RuntimeService, container_id: &str) {
    let deadline = Instant::now() + CONFIRM_TIMEOUT;
    let mut pause = CONFIRM_FIRST_POLL;
    loop {
        if !matches!(
            liveness(runtime, container_id, false).await,
            Liveness::Running(_)
        ) {
            return;
        }
        if Instant::now() >= deadline {
            tracing::debug!("the runtime still reports the container running; relisting anyway");
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(CONFIRM_MAX_POLL);
    }
}

enum OpenError {
    /// No such process (it exited and was reaped).
    Gone,
    /// The kernel has no pidfds.
    Unsupported(std::io::Error),
    /// Anything else (out of file descriptors, ...).
    Other(std::io::Error),
}

fn open_pidfd(pid: i32) -> Result<AsyncFd<OwnedFd>, OpenError> {
    use rustix::io::Errno;
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    let pid = Pid::from_raw(pid).ok_or(OpenError::Gone)?;
    let fd = pidfd_open(pid, PidfdFlags::empty()).map_err(|errno| match errno {
        Errno::SRCH => OpenError::Gone,
        Errno::NOSYS => OpenError::Unsupported(errno.into()),
        other => OpenError::Other(other.into()),
    })?;
    // A pidfd polls readable once the process has exited.
    register(fd).map_err(OpenError::Other)
}

/// Register an owned fd with tokio's reactor.
///
/// tokio 1.54 deprecated the safe constructors for any `T: AsRawFd`, because a generic `T`
/// may close or swap its descriptor while registered (tokio#8587); the replacement is
/// `unsafe`, which this workspace denies. An [`OwnedFd`] moved into the `AsyncFd` meets that
/// contract by construction: it is open, owned by the `AsyncFd` until it is dropped, and
/// always returns the same descriptor. So the deprecated safe call is sound here.
#[allow(deprecated)]
fn register(fd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    AsyncFd::with_interest(fd, Interest::READABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_from_containerd_info() {
        let info = HashMap::from([(
            "info".to_string(),
            r#"{"sandboxID":"abc","pid":31357,"removing":false,"config":{"x":1}}"#.to_string(),
        )]);
        assert_eq!(pid_from_info(&info), Some(31357));
        let fake = HashMap::from([("info".to_string(), r#"{"pid":0}"#.to_string())]);
        assert_eq!(pid_from_info(&fake), None);
        assert_eq!(pid_from_info(&HashMap::new()), None);
        let bare = HashMap::from([("pid".to_string(), "42".to_string())]);
        assert_eq!(pid_from_info(&bare), Some(42));
    }

    #[tokio::test]
    async fn pidfd_becomes_readable_when_the_process_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pid = i32::try_from(child.id()).unwrap();
        let fd = match open_pidfd(pid) {
            Ok(fd) => fd,
            Err(OpenError::Unsupported(_)) => {
                child.kill().unwrap();
                child.wait().unwrap();
                return;
            }
            Err(_) => panic!("pidfd_open of a live child failed"),
        };
        child.kill().unwrap();
        let _ready = tokio::time::timeout(Duration::from_secs(5), fd.readable())
            .await
            .expect("readable within 5 s")
            .unwrap();
        child.wait().unwrap();
    }
}
