//! The local control plane of `cargo xtask cluster up` (Kubernetes v1.37.2 on loopback), as
//! the cluster-mode tests see it: the admin's kubectl, and node identities.
//!
//! `cargo xtask test` brings the cluster up before the tests and down after them; setup's
//! env file names it ([`CLUSTER_KUBECONFIG_VAR`], [`CLUSTER_DIR_VAR`]). The built kubectl
//! (in `NODELET_KUBE_BIN_DIR`) is the client, with its discovery cache under the cluster's
//! directory rather than `~/.kube`.
//!
//! A node identity is obtained the way a kubelet bootstraps one: a key made here, a
//! CertificateSigningRequest for `system:node:<name>` in `system:nodes` with the signer
//! `kubernetes.io/kube-apiserver-client-kubelet`, approved by the admin and signed by the
//! controller-manager. So any node name works, and the cluster's CSR signing is exercised.
//!
//! # Example
//!
//! ```no_run
//! // Returns early (or fails with CI=true) when the cluster is not up.
//! let Some(cluster) = test_env::Cluster::require("an example") else { return };
//! assert_eq!(cluster.kubectl(&["get", "--raw", "/readyz"]).unwrap(), "ok");
//! let kubeconfig = cluster.node_kubeconfig("example-node").unwrap();
//! # let _ = kubeconfig;
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use crate::error::{Error, Result};
use crate::kubelet::{KUBE_BIN_DIR_VAR, default_kube_bin_dir};
use crate::{skip, unique_name, var};

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The admin's kubeconfig (`system:masters`).
pub const CLUSTER_KUBECONFIG_VAR: &str = "NODELET_CLUSTER_KUBECONFIG";
/// The cluster's directory (PKI, logs, state).
pub const CLUSTER_DIR_VAR: &str = "NODELET_CLUSTER_DIR";
/// How long a signed node certificate may take.
const SIGN_TIMEOUT: Duration = Duration::from_secs(30);

/// The running local cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    kubeconfig: PathBuf,
    dir: PathBuf,
    kubectl: PathBuf,
}

impl Cluster {
    /// The cluster named by the environment. [`Error::Unset`] without its variables,
    /// [`Error::Missing`] when its kubeconfig or kubectl is not there (the cluster is down, or
    /// the binaries were never built).
    pub fn get() -> Result<Cluster> {
        let unset = |var: &'static str| Error::Unset {
            var,
            file: crate::env_file(),
        };
        let kubeconfig = PathBuf::from(
            var(CLUSTER_KUBECONFIG_VAR).ok_or_else(|| unset(CLUSTER_KUBECONFIG_VAR))?,
        );
        let dir = PathBuf::from(var(CLUSTER_DIR_VAR).ok_or_else(|| unset(CLUSTER_DIR_VAR))?);
        let bin = var(KUBE_BIN_DIR_VAR).map_or_else(default_kube_bin_dir, PathBuf::from);
        let kubectl = bin.join("kubectl");
        for (what, path) in [
            (
                "the cluster's admin kubeconfig (start it with `cargo xtask cluster up`)",
                &kubeconfig,
            ),
            ("kubectl (build it with `cargo xtask kube build`)", &kubectl),
        ] {
            if !path.is_file() {
                return Err(Error::Missing {
                    what,
                    path: path.clone(),
                });
            }
        }
        Ok(Cluster {
            kubeconfig,
            dir,
            kubectl,
        })
    }

    /// The cluster, or [`skip`] when it is not up (a failure with `CI=true`). `what` names
    /// what needs it.
    #[track_caller]
    pub fn require(what: &str) -> Option<Cluster> {
        match Cluster::get() {
            Ok(cluster) => Some(cluster),
            Err(e) => skip(&format!("{what} needs the local cluster: {e}")),
        }
    }

    /// The admin's kubeconfig.
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The cluster CA's certificate, which signs the API server's and every client's.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("pki").join("ca.crt")
    }

    /// The built kubectl binary.
    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// The built kubectl, as the admin, with a 10 s request timeout.
    pub fn kubectl_command(&self) -> Command {
        let mut command = Command::new(&self.kubectl);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("kubectl-cache"))
            .arg("--request-timeout=10s");
        command
    }

    /// Runs kubectl as the admin; its stdout, trimmed, or [`Error::Command`] with its stderr.
    pub fn kubectl(&self, args: &[&str]) -> Result<String> {
        self.kubectl_with_input(args, None)
    }

    /// Runs kubectl as the admin with `input` on its stdin (for `apply -f -`).
    pub fn kubectl_with_input(&self, args: &[&str], input: Option<&str>) -> Result<String> {
        let mut command = self.kubectl_command();
        command.args(args);
        run(&mut command, input)
    }

    /// A kubeconfig for node `name` (user `system:node:<name>`, group `system:nodes`),
    /// through a CertificateSigningRequest the admin approves. Written under the cluster's
    /// directory; a second call for the same name makes a new identity.
    pub fn node_kubeconfig(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir.join("test-nodes");
        std::fs::create_dir_all(&dir).map_err(|e| io_error("creating", &dir, e))?;
        let key = KeyPair::generate().map_err(|e| pki_error(name, e))?;
        let mut params = CertificateParams::default();
        let mut subject = DistinguishedName::new();
        subject.push(DnType::OrganizationName, "system:nodes");
        subject.push(DnType::CommonName, format!("system:node:{name}"));
        params.distinguished_name = subject;
        let request = params
            .serialize_request(&key)
            .and_then(|csr| csr.pem())
            .map_err(|e| pki_error(name, e))?;
        let csr_name = unique_name(&format!("node-{name}"));
        let csr = serde_json::json!({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": { "name": csr_name },
            "spec": {
                "request": BASE64.encode(request),
                "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                "usages": ["digital signature", "client auth"],
            },
        });
        self.kubectl_with_input(&["create", "-f", "-"], Some(&csr.to_string()))?;
        self.kubectl(&["certificate", "approve", &csr_name])?;
        let deadline = Instant::now() + SIGN_TIMEOUT;
        let issued = loop {
            let cert = self.kubectl(&[
                "get",
                "csr",
                &csr_name,
                "-o",
                "jsonpath={.status.certificate}",
            ])?;
            if !cert.is_empty() {
                break Some(cert);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // The CSR has done its work either way.
        let _ = self.kubectl(&["delete", "csr", &csr_name, "--wait=false"]);
        let cert = issued.ok_or_else(|| {
            pki_error(
                name,
                format!("CSR {csr_name} was not signed within {SIGN_TIMEOUT:?}"),
            )
        })?;
        let cert = BASE64
            .decode(cert.trim())
            .map_err(|e| pki_error(name, format!("the issued certificate is not base64: {e}")))?;
        let cert_file = dir.join(format!("{name}.crt"));
        let key_file = dir.join(format!("{name}.key"));
        let kubeconfig = dir.join(format!("{name}.kubeconfig"));
        write(&cert_file, &cert)?;
        write(&key_file, key.serialize_pem().as_bytes())?;
        let server = self.kubectl(&[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ])?;
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    \
             certificate-authority: {ca}\nusers:\n- name: {user:?}\n  user:\n    client-certificate: {cert}\n    \
             client-key: {key}\ncontexts:\n- name: local\n  context:\n    cluster: local\n    user: {user:?}\n\
             current-context: local\n",
            ca = self.ca_file().display(),
            user = format!("system:node:{name}"),
            cert = cert_file.display(),
            key = key_file.display(),
        );
        write(&kubeconfig, text.as_bytes())?;
        Ok(kubeconfig)
    }
}

fn pki_error(node: &str, e: impl std::fmt::Display) -> Error {
    Error::NodeIdentity {
        node: node.to_owned(),
        reason: e.to_string(),
    }
}

fn write(path: &Path, contents: &[u8]) -> Result<()> {
    std::fs::write(path, contents).map_err(|e| io_error("writing", path, e))
}

/// Runs `command` with `input` on stdin; its trimmed stdout, or [`Error::Command`].
fn run(command: &mut Command, input: Option<&str>) -> Result<String> {
    let line = format!("{command:?}");
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| Error::Command {
        command: line.clone(),
        reason: e.to_string(),
    })?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| Error::Command {
                command: line.clone(),
                reason: format!("writing its input: {e}"),
            })?;
    }
    let out = child.wait_with_output().map_err(|e| Error::Command {
        command: line.clone(),
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: line,
            reason: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// ---------------------------------------------------------------------------------------
// Pausing the control plane
// ---------------------------------------------------------------------------------------

/// The processes of `cargo xtask cluster up`, in start order, by program name: each keeps
/// its pid in `<cluster dir>/<name>.pid` and its log in `<cluster dir>/<name>.log`.
pub const CONTROL_PLANE: [&str; 4] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];
/// What [`Cluster::pause_control_plane`] stops, in the order it stops them: the API server
/// first, so that no client is answered by an API server whose etcd has just gone.
const PAUSED: [&str; 2] = ["kube-apiserver", "etcd"];
/// How long [`PausedControlPlane::resume`] waits for `/readyz`.
const RESUME_TIMEOUT: Duration = Duration::from_secs(60);

/// A control-plane process found by its pid file (or, when that is stale, by its command
/// line): its program is `name` and an argument names the cluster's directory, so a
/// recycled pid is never mistaken for it.
#[derive(Debug, Clone)]
struct Component {
    name: &'static str,
    pid: i32,
    cmdline: Vec<String>,
}

impl Cluster {
    /// The pids of the control plane's processes ([`CONTROL_PLANE`], in that order), `None`
    /// for one that does not run (exited, or a zombie).
    pub fn control_plane_pids(&self) -> Vec<(&'static str, Option<u32>)> {
        CONTROL_PLANE
            .iter()
            .map(|&name| {
                let pid = self.component(name).and_then(|c| u32::try_from(c.pid).ok());
                (name, pid)
            })
            .collect()
    }

    /// Stops kube-apiserver and etcd with SIGSTOP (pids from their pid files in the
    /// cluster's directory) and returns a guard that sends them SIGCONT: explicitly with
    /// [`PausedControlPlane::resume`], which also waits for `/readyz` and checks the whole
    /// control plane, or when dropped, so that a failing test never leaves the control plane
    /// stopped. Returns once both processes are seen stopped (state `T`).
    ///
    /// A stopped API server is the harshest outage a client can meet: its connections stay
    /// open and its requests are accepted by the kernel but never answered, so every request
    /// hangs until the client's own timeout (no "connection refused" to fail fast on), and
    /// watches go silent without ending. Requests still in flight when it resumes are then
    /// served, late: a write carries the values of when it was sent.
    ///
    /// kube-controller-manager and kube-scheduler keep running, and so do their clocks:
    /// - they run with `--leader-elect=false` (see `xtask/src/cluster/mod.rs`), so they hold
    ///   no leader lease to lose. Under leader election (kubeadm's default), an outage longer
    ///   than `--leader-elect-renew-deadline` (10 s) makes each lose its lease and exit by
    ///   design, for its supervisor to restart; nothing would restart them here. So
    ///   [`PausedControlPlane::resume`] checks that all four processes run and restarts, from
    ///   the command line recorded before the pause, any that exited (and says so);
    /// - the node lifecycle controller counts the outage: after its
    ///   `--node-monitor-grace-period` (50 s) without seeing a node's lease renewed, it may
    ///   mark the node Ready=Unknown, its pods Ready=False, and taint it
    ///   `node.kubernetes.io/unreachable`, right after the resume, before its informers
    ///   have seen the agents' new leases; the agents must then report Ready again. (v1.37
    ///   checks its informers for staleness first: after a 60 s pause it logged "Update
    ///   health of Node from Controller error, Skipping - no pods will be evicted ... read
    ///   version ... is not as new as written version ... leases" and marked nothing.)
    ///   Their HTTP/2 connections are dropped by client-go's health check (~45 s) and
    ///   their watches restart.
    ///
    /// The cluster is shared: whatever else uses it meanwhile (another test binary run by
    /// hand at the same time, or another `cargo test`) sees the outage too. `cargo test`
    /// runs test binaries one after another, and the agent's tests hold the runtime lock,
    /// but nothing locks the cluster.
    pub fn pause_control_plane(&self) -> Result<PausedControlPlane> {
        // Every process's command line first, for a restart after resume.
        let recorded: Vec<Component> = CONTROL_PLANE
            .iter()
            .filter_map(|&name| self.component(name))
            .collect();
        let mut guard = PausedControlPlane {
            cluster: self.clone(),
            recorded,
            stopped: Vec::new(),
            paused_at: Instant::now(),
            resumed: false,
        };
        for name in PAUSED {
            let component = self.component(name).ok_or_else(|| Error::Missing {
                what: "a running control-plane process (by its pid file)",
                path: self.pid_file(name),
            })?;
            signal(&component, rustix::process::Signal::STOP)?;
            guard.stopped.push(component.clone());
            let deadline = Instant::now() + Duration::from_secs(5);
            while !matches!(process_state(component.pid), Some('T' | 't')) {
                if Instant::now() >= deadline {
                    return Err(Error::Command {
                        command: format!("kill -STOP {} ({name})", component.pid),
                        reason: format!(
                            "the process is in state {:?}, not stopped, after 5 s",
                            process_state(component.pid)
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        guard.paused_at = Instant::now();
        Ok(guard)
    }

    fn pid_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pid"))
    }

    /// The running process `name` of this cluster: the pid file's, else one found by its
    /// command line.
    fn component(&self, name: &'static str) -> Option<Component> {
        let dir = self.dir.to_string_lossy().into_owned();
        let ours = |pid: i32| -> Option<Component> {
            if !process_alive(pid) {
                return None;
            }
            let cmdline = process_cmdline(pid)?;
            let program = Path::new(cmdline.first()?).file_name()?;
            (program == name && cmdline.iter().skip(1).any(|arg| arg.contains(&dir)))
                .then_some(Component { name, pid, cmdline })
        };
        let from_file = std::fs::read_to_string(self.pid_file(name))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
            .and_then(ours);
        from_file.or_else(|| {
            std::fs::read_dir("/proc")
                .ok()?
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .find_map(ours)
        })
    }

    /// Starts `recorded` again, as `cargo xtask cluster up` does (its own process group,
    /// output appended to its log, its pid in its pid file); the new pid.
    fn restart(&self, recorded: &Component) -> Result<u32> {
        use std::os::unix::process::CommandExt as _;
        let log_path = self.dir.join(format!("{}.log", recorded.name));
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| io_error("opening", &log_path, e))?;
        let out = log
            .try_clone()
            .map_err(|e| io_error("opening", &log_path, e))?;
        let child = Command::new(&recorded.cmdline[0])
            .args(&recorded.cmdline[1..])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| Error::Command {
                command: recorded.cmdline.join(" "),
                reason: e.to_string(),
            })?;
        let pid = child.id();
        write(&self.pid_file(recorded.name), format!("{pid}\n").as_bytes())?;
        Ok(pid)
    }
}

/// kube-apiserver and etcd stopped by [`Cluster::pause_control_plane`]; SIGCONT on
/// [`resume`](PausedControlPlane::resume) or drop.
#[derive(Debug)]
#[must_use = "the control plane resumes when the guard is dropped"]
pub struct PausedControlPlane {
    cluster: Cluster,
    /// Every control-plane process as found before the pause.
    recorded: Vec<Component>,
    /// The processes stopped, in the order stopped.
    stopped: Vec<Component>,
    paused_at: Instant,
    resumed: bool,
}

/// What [`PausedControlPlane::resume`] did and found.
#[derive(Debug, Clone)]
pub struct ResumedControlPlane {
    /// From the moment both processes were stopped to the SIGCONT.
    pub paused_for: Duration,
    /// When SIGCONT was sent.
    pub resumed_at: Instant,
    /// The same, on the wall clock, to compare with the API's timestamps.
    pub resumed_at_wall: std::time::SystemTime,
    /// How long after SIGCONT `/readyz` answered `ok`.
    pub ready_after: Duration,
    /// Control-plane processes that had exited and were started again: name, the pid that
    /// exited, the new pid, and the end of its log from before the restart. Empty when the
    /// whole control plane survived the pause.
    pub restarted: Vec<(&'static str, i32, u32, String)>,
}

impl PausedControlPlane {
    /// How long the control plane has been stopped.
    pub fn elapsed(&self) -> Duration {
        self.paused_at.elapsed()
    }

    /// The pids stopped, by name.
    pub fn stopped_pids(&self) -> Vec<(&'static str, i32)> {
        self.stopped.iter().map(|c| (c.name, c.pid)).collect()
    }

    /// Sends SIGCONT to etcd, then to kube-apiserver; restarts any control-plane process
    /// that exited meanwhile (reported in [`ResumedControlPlane::restarted`]); waits until
    /// `/readyz` answers `ok` (at most 60 s) and checks once more that all four processes
    /// run. An error when `/readyz` never answers or a process cannot be started again.
    pub fn resume(mut self) -> Result<ResumedControlPlane> {
        let paused_for = self.paused_at.elapsed();
        let resumed_at_wall = std::time::SystemTime::now();
        let resumed_at = Instant::now();
        let continued = self.continue_stopped();
        self.resumed = true;
        continued?;
        let mut restarted = self.restart_exited()?;
        let ready_after = self.wait_ready(resumed_at)?;
        // The controller-manager and the scheduler reconnect once the API server answers;
        // one that gave up then has exited by now.
        let late = self.restart_exited()?;
        if !late.is_empty() {
            restarted.extend(late);
            self.wait_ready(resumed_at)?;
        }
        Ok(ResumedControlPlane {
            paused_for,
            resumed_at,
            resumed_at_wall,
            ready_after,
            restarted,
        })
    }

    /// SIGCONT to every stopped process, newest first; the first error, after trying all.
    fn continue_stopped(&mut self) -> Result<()> {
        let mut first_error = None;
        for component in self.stopped.iter().rev() {
            if let Err(e) = signal(component, rustix::process::Signal::CONT) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts again every recorded process that no longer runs.
    fn restart_exited(&self) -> Result<Vec<(&'static str, i32, u32, String)>> {
        let mut restarted = Vec::new();
        for recorded in &self.recorded {
            if self.cluster.component(recorded.name).is_some() {
                continue;
            }
            let log =
                std::fs::read_to_string(self.cluster.dir.join(format!("{}.log", recorded.name)))
                    .unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            let pid = self.cluster.restart(recorded)?;
            eprintln!(
                "test-env: {} ({}) exited while the control plane was paused; restarted it \
                 ({pid}). The end of its log:\n{tail}",
                recorded.name, recorded.pid
            );
            restarted.push((recorded.name, recorded.pid, pid, tail));
        }
        Ok(restarted)
    }

    /// Polls `/readyz` until `ok`; how long after `since` it answered.
    fn wait_ready(&self, since: Instant) -> Result<Duration> {
        let deadline = Instant::now() + RESUME_TIMEOUT;
        loop {
            match self.cluster.kubectl(&["get", "--raw", "/readyz"]) {
                Ok(out) if out == "ok" => return Ok(since.elapsed()),
                Ok(out) if Instant::now() >= deadline => {
                    return Err(Error::Command {
                        command: "kubectl get --raw /readyz".into(),
                        reason: format!("not ok {RESUME_TIMEOUT:?} after resume: {out}"),
                    });
                }
                Err(e) if Instant::now() >= deadline => return Err(e),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for PausedControlPlane {
    fn drop(&mut self) {
        if self.resumed {
            return;
        }
        self.resumed = true;
        if let Err(e) = self.continue_stopped() {
            eprintln!("test-env: resuming the control plane: {e}");
        }
        match self.restart_exited() {
            Ok(restarted) if restarted.is_empty() => eprintln!(
                "test-env: the control plane resumed (dropped after {:?} paused)",
                self.paused_at.elapsed()
            ),
            Ok(_) => {}
            Err(e) => eprintln!("test-env: restarting the control plane: {e}"),
        }
    }
}

/// Sends `signal` to `component`.
fn signal(component: &Component, signal: rustix::process::Signal) -> Result<()> {
    let error = |reason: String| Error::Command {
        command: format!(
            "kill -{} {} ({})",
            format!("{signal:?}").trim_start_matches("Signal::"),
            component.pid,
            component.name
        ),
        reason,
    };
    let pid =
        rustix::process::Pid::from_raw(component.pid).ok_or_else(|| error("not a pid".into()))?;
    rustix::process::kill_process(pid, signal).map_err(|e| error(e.to_string()))
}

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `T`, `Z`, ...).
fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`, where comm may itself hold parentheses.
    let end = stat.rfind(')')?;
    stat[end + 1..].split_whitespace().next()?.chars().next()
}

/// Whether the process exists and has not exited (a zombie has).
fn process_alive(pid: i32) -> bool {
    !matches!(process_state(pid), None | Some('Z' | 'X'))
}

/// The command line of a process; `None` when it is gone or a kernel thread.
fn process_cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    (!args.is_empty()).then_some(args)
}
