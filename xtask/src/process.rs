//! Daemons that outlive xtask: started detached, found again by pid file and
//! command line, stopped with SIGTERM then SIGKILL.

use std::ffi::OsString;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// How long a daemon gets to exit on SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// A long-running program that setup starts and down stops.
///
/// It is recognised by its command line, which names `config` (alone or as
/// `--flag=config`): a pid in the
/// pid file only counts when that process still runs our program with our
/// configuration, so a recycled pid is never mistaken for it (or killed).
#[derive(Debug)]
pub struct Daemon {
    /// What to call it in messages.
    pub name: &'static str,
    /// The program: a name looked up on `PATH`, or a path.
    pub program: PathBuf,
    /// Its arguments, which include `config`.
    pub args: Vec<OsString>,
    /// The configuration file that identifies our instance.
    pub config: PathBuf,
    /// Where its pid is kept.
    pub pid_file: PathBuf,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

impl Daemon {
    /// The pid of our running instance, if any: the one in the pid file, or
    /// else one found by its command line (and then written to the pid file).
    pub fn running(&self) -> Option<Pid> {
        if let Some(pid) = self.pid_from_file().filter(|&pid| self.is_ours(pid)) {
            return Some(pid);
        }
        let pid = processes()
            .find(|(_, cmdline)| self.matches(cmdline))
            .map(|(pid, _)| pid)?;
        // Best effort: the pid file only saves the next scan.
        let _ = fs::write(&self.pid_file, format!("{pid}\n"));
        Some(pid)
    }

    /// Starts the program in its own process group, so that neither a closed
    /// terminal nor a Ctrl-C meant for cargo reaches it, and records its pid.
    pub fn start(&self) -> Result<Pid> {
        let log =
            File::create(&self.log).with_context(|| format!("creating {}", self.log.display()))?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        let pid = Pid::from_raw(i32::try_from(child.id())?);
        fs::write(&self.pid_file, format!("{pid}\n"))
            .with_context(|| format!("writing {}", self.pid_file.display()))?;
        Ok(pid)
    }

    /// Stops our running instance, if any, and removes the pid file.
    /// Returns the pid it stopped.
    pub fn stop(&self) -> Result<Option<Pid>> {
        let pid = self.running();
        if let Some(pid) = pid {
            terminate(pid, GRACE).with_context(|| format!("stopping {} ({pid})", self.name))?;
        }
        remove_file(&self.pid_file)?;
        Ok(pid)
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn pid_from_file(&self) -> Option<Pid> {
        let text = fs::read_to_string(&self.pid_file).ok()?;
        text.trim().parse().ok().map(Pid::from_raw)
    }

    fn is_ours(&self, pid: Pid) -> bool {
        cmdline(pid).is_some_and(|cmdline| self.matches(&cmdline))
    }

    fn matches(&self, cmdline: &[String]) -> bool {
        let Some(program) = cmdline.first() else {
            return false;
        };
        let config = self.config.to_string_lossy();
        // The configuration is an argument of its own, or a `--flag=` value.
        let names_config = |arg: &String| {
            *arg == config
                || arg
                    .split_once('=')
                    .is_some_and(|(flag, value)| flag.starts_with('-') && value == config)
        };
        Path::new(program).file_name() == self.program.file_name()
            && cmdline.iter().any(names_config)
    }
}

/// The command line of a process; `None` when it is gone, a zombie, a
/// kernel thread, or (for an instant) in the middle of exec.
pub fn cmdline(pid: Pid) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    let args = raw
        .split(|&byte| byte == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    Some(args)
}

/// Whether the process exists and has not exited. A zombie counts as exited:
/// it is our own child, reaped when xtask exits.
pub fn is_alive(pid: Pid) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`, where comm may itself contain parentheses.
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z" | "X"))
}

/// Every live process with its command line.
pub fn processes() -> impl Iterator<Item = (Pid, Vec<String>)> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .map(Pid::from_raw)
        .filter_map(|pid| Some((pid, cmdline(pid)?)))
}

/// Sends SIGTERM, waits up to `grace`, then SIGKILL.
pub fn terminate(pid: Pid, grace: Duration) -> Result<()> {
    if !send(pid, Signal::SIGTERM)? || wait_gone(pid, grace) {
        return Ok(());
    }
    if !send(pid, Signal::SIGKILL)? || wait_gone(pid, Duration::from_secs(5)) {
        return Ok(());
    }
    bail!("process {pid} survived SIGKILL")
}

/// Sends `sig`; returns false when the process no longer exists.
fn send(pid: Pid, sig: Signal) -> Result<bool> {
    match signal::kill(pid, sig) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(err) => Err(err).with_context(|| format!("sending {sig} to {pid}")),
    }
}

/// Polls until the process has exited.
fn wait_gone(pid: Pid, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while is_alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    !is_alive(pid)
}

/// `rm -f`.
pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}
