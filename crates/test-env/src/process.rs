//! Child processes a test or bench starts (an agent, the real kubelet): ports for them, and
//! stopping them the way a service manager does.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// `N` free TCP ports on 127.0.0.1: bound together (so they differ), then released for the
/// child that binds them right after.
pub fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let io = |source| Error::Io {
        action: "binding",
        path: PathBuf::from("127.0.0.1:0"),
        source,
    };
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").map_err(io))
        .collect::<Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr().map_err(io)?.port();
    }
    Ok(ports)
}

/// Stops `child`: SIGTERM, up to `grace` for it to exit, then SIGKILL; reaps it either way.
/// Returns `false` when it had to be killed (it ignored SIGTERM for `grace`).
pub fn stop_child(mut child: Child, grace: Duration) -> bool {
    let mut exited = false;
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if !exited {
        let _ = child.kill();
    }
    let _ = child.wait();
    exited
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn ports_differ() {
        let [a, b, c] = free_ports().unwrap();
        assert!(a != b && b != c && a != c);
    }

    #[test]
    fn a_child_that_exits_on_sigterm_is_not_killed() {
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(stop_child(child, Duration::from_secs(5)));
    }

    #[test]
    fn a_child_that_ignores_sigterm_is_killed() {
        let child = Command::new("sh")
            .args(["-c", "trap '' TERM; exec sleep 30"])
            .spawn()
            .unwrap();
        // Give the shell time to ignore SIGTERM (which `sleep` inherits).
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        assert!(!stop_child(child, Duration::from_millis(300)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
