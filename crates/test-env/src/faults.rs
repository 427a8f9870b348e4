//! The faults containerd: the third instance `cargo xtask setup` starts, which only the
//! fault-injection tests use, because they kill it.
//!
//! It is a containerd like the main one (same images, its own bridge and subnet), under
//! `$NODELET_FAULTS_DIR`. [`FaultsContainerd::kill_9`] kills it the way a crash does, and
//! [`FaultsContainerd::start`] starts it again exactly as setup did (same command line, same
//! pid file and log), so `cargo xtask down` still finds and stops it.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use cri_client::{RuntimeService as _, v1};

use crate::env::{require_env, skip, var};
use crate::error::{Error, Result};

/// The faults containerd's directory (its `config.toml`, `containerd.pid`, `containerd.log`
/// and socket).
pub const FAULTS_DIR_VAR: &str = "NODELET_FAULTS_DIR";
/// The faults containerd's CRI endpoint.
pub const FAULTS_CRI_ENDPOINT_VAR: &str = "NODELET_FAULTS_CRI_ENDPOINT";
/// How long a started containerd gets to report RuntimeReady and NetworkReady.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The faults containerd of this environment (see the module docs).
#[derive(Debug)]
pub struct FaultsContainerd {
    dir: PathBuf,
    endpoint: String,
    /// The process this handle started, reaped when it is killed.
    child: Option<Child>,
}

impl FaultsContainerd {
    /// The faults containerd of the environment, or [`skip`] (a failure with `CI=true`) when
    /// the environment, or this instance of it, is missing.
    pub fn from_env() -> Option<FaultsContainerd> {
        require_env("the fault-injection tests")?;
        let (Some(dir), Some(endpoint)) = (var(FAULTS_DIR_VAR), var(FAULTS_CRI_ENDPOINT_VAR))
        else {
            return skip(&format!(
                "{FAULTS_DIR_VAR} or {FAULTS_CRI_ENDPOINT_VAR} is not set: run `cargo xtask \
                 setup` again, it starts the faults containerd"
            ));
        };
        Some(FaultsContainerd {
            dir: PathBuf::from(dir),
            endpoint,
            child: None,
        })
    }

    /// Its CRI endpoint (`unix:///...`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("containerd.pid")
    }

    /// The pid of the running containerd, from its pid file, if that process lives.
    pub fn pid(&self) -> Option<rustix::process::Pid> {
        let text = std::fs::read_to_string(self.pid_file()).ok()?;
        let pid = rustix::process::Pid::from_raw(text.trim().parse().ok()?)?;
        is_alive(pid.as_raw_nonzero().get()).then_some(pid)
    }

    /// `kill -9` containerd and wait until it is gone. The shims, and the containers under
    /// them, live on, as after a crash. [`Error::Process`] when it did not run.
    pub fn kill_9(&mut self) -> Result<()> {
        let pid = self.pid().ok_or_else(|| Error::Process {
            what: "the faults containerd".into(),
            problem: format!("not running (no live pid in {})", self.pid_file().display()),
        })?;
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).map_err(|e| {
            Error::Process {
                what: format!("the faults containerd ({})", pid.as_raw_nonzero()),
                problem: format!("kill -9: {e}"),
            }
        })?;
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        // Not our child (setup started it): init reaps it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(pid.as_raw_nonzero().get()) {
            if Instant::now() > deadline {
                return Err(Error::Process {
                    what: format!("the faults containerd ({})", pid.as_raw_nonzero()),
                    problem: "still alive 10 s after SIGKILL".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Start containerd as setup does, and wait until its CRI reports RuntimeReady and
    /// NetworkReady. Returns how long that took from the start.
    pub fn start(&mut self) -> Result<Duration> {
        let log_path = self.dir.join("containerd.log");
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("opening", &log_path))?;
        let started = Instant::now();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("opening", &log_path))?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(io(
                "starting containerd with",
                &self.dir.join("config.toml"),
            ))?;
        let pid_file = self.pid_file();
        std::fs::write(&pid_file, format!("{}\n", child.id())).map_err(io("writing", &pid_file))?;
        self.child = Some(child);
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io("starting a tokio runtime for", &self.dir))?;
        tokio.block_on(self.wait_ready(started))?;
        Ok(started.elapsed())
    }

    async fn wait_ready(&self, started: Instant) -> Result<()> {
        let mut last = String::from("no answer");
        while started.elapsed() < READY_TIMEOUT {
            match crate::connect(&self.endpoint).await {
                Ok(runtime) => match runtime.status(v1::StatusRequest { verbose: false }).await {
                    Ok(reply) => {
                        let conditions = reply.status.map(|s| s.conditions).unwrap_or_default();
                        let ready =
                            |name: &str| conditions.iter().any(|c| c.r#type == name && c.status);
                        if ready("RuntimeReady") && ready("NetworkReady") {
                            return Ok(());
                        }
                        last = format!("{conditions:?}");
                    }
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(Error::Process {
            what: "the faults containerd".into(),
            problem: format!("not ready {READY_TIMEOUT:?} after its start: {last}"),
        })
    }

    /// The shim processes of this containerd still alive: `containerd-shim*` whose command
    /// line names its socket (a shim outlives containerd by design).
    pub fn shims(&self) -> Vec<Shim> {
        let socket = self.dir.join("containerd.sock");
        let socket = socket.to_string_lossy();
        processes()
            .into_iter()
            .filter(|(_, cmdline)| {
                cmdline.first().is_some_and(|p| {
                    Path::new(p)
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("containerd-shim"))
                }) && cmdline.iter().any(|a| a.contains(socket.as_ref()))
            })
            .map(|(pid, cmdline)| Shim {
                pid,
                id: cmdline
                    .iter()
                    .position(|a| a == "-id")
                    .and_then(|i| cmdline.get(i + 1))
                    .cloned()
                    .unwrap_or_default(),
                started: process_start(pid),
            })
            .collect()
    }

    /// The containers runc holds state for under this containerd's runc root (one directory
    /// per containerd namespace), with when the state was made (the directory's mtime).
    pub fn runc_state(&self) -> Vec<RuncState> {
        let mut found = Vec::new();
        let Ok(namespaces) = std::fs::read_dir(self.dir.join("runc")) else {
            return found;
        };
        for namespace in namespaces.flatten() {
            let Ok(ids) = std::fs::read_dir(namespace.path()) else {
                continue;
            };
            for id in ids.flatten() {
                found.push(RuncState {
                    namespace: namespace.file_name().to_string_lossy().into_owned(),
                    id: id.file_name().to_string_lossy().into_owned(),
                    made: id.metadata().and_then(|m| m.modified()).ok(),
                });
            }
        }
        found
    }

    /// Removes a leftover the way `cargo xtask down` does: SIGKILL to a shim, `runc delete
    /// --force` and the directory for runc state. Errors are returned as text.
    pub fn remove_leftover(&self, leftover: &Leftover) -> std::result::Result<(), String> {
        match leftover {
            Leftover::Shim(shim) => {
                let pid = rustix::process::Pid::from_raw(shim.pid as i32).ok_or("pid 0")?;
                rustix::process::kill_process(pid, rustix::process::Signal::KILL)
                    .map_err(|e| format!("kill -9 shim {}: {e}", shim.pid))
            }
            Leftover::Runc(state) => {
                let root = self.dir.join("runc").join(&state.namespace);
                let _ = Command::new("runc")
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "--force", &state.id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                match std::fs::remove_dir_all(root.join(&state.id)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(format!("removing runc state {}: {e}", state.id))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

impl Drop for FaultsContainerd {
    /// A test that fails while containerd is down leaves it running again, so that the
    /// clean-ups after it (its node's sandboxes) reach it.
    fn drop(&mut self) {
        if std::thread::panicking()
            && self.pid().is_none()
            && let Err(e) = self.start()
        {
            eprintln!("cleanup: cannot start the faults containerd again: {e}");
        }
    }
}

/// A shim process of the faults containerd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shim {
    /// Its pid.
    pub pid: u32,
    /// The task it serves (`-id`): the sandbox's id.
    pub id: String,
    /// When it started, from `/proc/<pid>/stat` and the boot time.
    pub started: Option<SystemTime>,
}

/// A container runc holds state for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuncState {
    /// The containerd namespace (`k8s.io`).
    pub namespace: String,
    /// The container id.
    pub id: String,
    /// When its state directory last changed.
    pub made: Option<SystemTime>,
}

/// Something of a container that the runtime no longer lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// A shim still running.
    Shim(Shim),
    /// runc state still on disk.
    Runc(RuncState),
}

impl Leftover {
    /// The sandbox or container id.
    pub fn id(&self) -> &str {
        match self {
            Leftover::Shim(s) => &s.id,
            Leftover::Runc(r) => &r.id,
        }
    }

    /// When it was made, as far as the system says.
    pub fn made(&self) -> Option<SystemTime> {
        match self {
            Leftover::Shim(s) => s.started,
            Leftover::Runc(r) => r.made,
        }
    }
}

/// Whether process `pid` runs: it exists and is not a zombie. A containerd that `cargo xtask
/// test` started is its child, and stays a zombie once killed until that xtask exits.
fn is_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command, which may hold spaces and parentheses.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|state| state != "Z" && state != "X")
}

/// When process `pid` started: field 22 of `/proc/<pid>/stat` (clock ticks since boot) plus
/// `btime` of `/proc/stat`. Clock ticks are 100 per second on Linux.
fn process_start(pid: u32) -> Option<SystemTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields count from the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(boot) + Duration::from_millis(ticks * 10))
}

/// Every process's pid and command line, from `/proc`.
fn processes() -> Vec<(u32, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let args = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>();
            Some((pid, args))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // Not reaped yet: a zombie once it has exited.
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_alive(pid) {
            assert!(Instant::now() < deadline, "true never exited");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok(),
            "a zombie"
        );
        child.wait().unwrap();
        assert!(!is_alive(pid));
        assert!(is_alive(std::process::id() as i32));
    }
}
