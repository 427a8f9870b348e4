//! The real kubelet (v1.37.2, built by `cargo xtask kube build`) as a child process of a
//! test, on the reference containerd of `cargo xtask setup`: the reference that nodelet is
//! compared with.
//!
//! # Two runtimes
//!
//! The kubelet removes every runtime pod it does not know, so it never runs on the main
//! containerd (`NODELET_CRI_ENDPOINT`), which nodelet and every other test use. Setup starts
//! a second one for it ([`REF_CRI_ENDPOINT_VAR`], its own CNI bridge and subnet, the same
//! local images). One kubelet at a time uses it: a [`Kubelet`] holds the
//! [`ReferenceRuntimeLock`] exclusively from start to clean-up, so a kubelet and a nodelet
//! under test run side by side, each on its own runtime.
//!
//! # What a kubelet gets
//!
//! Everything of its own, under one temporary directory: the static pod directory, the root
//! directory (`--root-dir`, with its certificates: `--cert-dir`), the pod logs directory,
//! the volume plugin directory, the generated config file ([`KubeletSettings`]) and its
//! log; a node name of its own (`--hostname-override`, so static pods are
//! `<name>-<node>`); a `cgroupRoot` of its own (`/<node name>`, made in every cgroup
//! hierarchy before it starts: the kubelet refuses a missing one); three loopback ports the
//! OS handed out (the API, the read-only port serving `/pods` without authentication, and
//! healthz). It runs in a mount namespace of its own so that it changes nothing on the
//! machine (kernel tunables, `/var/lib/kubelet`, `/var/log/containers`, iptables): see
//! [`host`] and `docs/kubelet-reference.md`.
//!
//! Standalone (the default) it runs static pods only. Joined
//! ([`KubeletBuilder::kubeconfig`]) it also registers with an API server as the node whose
//! identity the kubeconfig carries (`system:node:<name>`: give the same name to
//! [`KubeletBuilder::node_name`]).
//!
//! # Stopping
//!
//! [`Kubelet::stop`] (and `Drop`, blocking) sends SIGTERM, then SIGKILL after 10 s; then
//! removes every container and sandbox left in the reference runtime through the CRI (the
//! kubelet leaves its pods running when it stops, as it must), unmounts whatever is mounted
//! under its directory (the root directory's own shared bind mount, secrets, memory-backed
//! emptyDirs), and removes its `cgroupRoot` tree in every hierarchy. Nothing is left. A
//! test process killed outright cannot clean up: `cargo xtask down` stops the kubelet it
//! left (its `--lock-file` names a path under the environment's directory).
//!
//! # Example
//!
//! ```no_run
//! // Returns early (or fails with CI=true) when the kubelet or its runtime is missing.
//! let Some(kubelet) = test_env::Kubelet::standalone("smoke") else { return };
//! kubelet
//!     .write_manifest("web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n...")
//!     .unwrap();
//! let pods = kubelet.pods_json().unwrap();
//! # let _ = pods;
//! ```

mod config;
pub mod host;
mod klog;

use std::ffi::OsString;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub use config::{EVICTION_HARD, KubeletPlaces, KubeletSettings};
pub use klog::{KlogLine, klog_lines, pod_phases, refused_manifests};

use crate::env::{BUSYBOX_IMAGE_VAR, DEFAULT_BUSYBOX_IMAGE, DEFAULT_PAUSE_IMAGE, PAUSE_IMAGE_VAR};
use crate::error::{Error, Result};
use crate::{ReferenceRuntimeLock, free_ports, http_get, mounts_under, remove_cgroup_tree, skip};

/// The CRI endpoint of the reference containerd, the one only the real kubelet uses.
pub const REF_CRI_ENDPOINT_VAR: &str = "NODELET_REF_CRI_ENDPOINT";
/// The directory holding the kubelet binary (and kubectl, kube-apiserver, ...).
pub const KUBE_BIN_DIR_VAR: &str = "NODELET_KUBE_BIN_DIR";
/// The Kubernetes version `cargo xtask kube build` builds.
pub const KUBE_VERSION: &str = "v1.37.2";
/// Set to keep a kubelet's directory (config, manifests, log) after it stopped.
pub const KEEP_VAR: &str = "NODELET_KUBELET_KEEP";
/// The kubelet's `--lock-file`, in `$NODELET_ENV_DIR`.
pub const LOCK_FILE: &str = "ref-kubelet.lock";
/// How long a kubelet is given to answer `/healthz` and `/pods` after it starts.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a kubelet is given to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Where `cargo xtask kube build` leaves the binaries when [`KUBE_BIN_DIR_VAR`] is unset:
/// `target/kubernetes/<version>/bin` in this workspace.
pub fn default_kube_bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/kubernetes")
        .join(KUBE_VERSION)
        .join("bin")
}

/// What a test of the real kubelet needs from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceEnv {
    /// [`REF_CRI_ENDPOINT_VAR`].
    pub cri_endpoint: String,
    /// The kubelet binary: `kubelet` in [`KUBE_BIN_DIR_VAR`], else in
    /// [`default_kube_bin_dir`].
    pub kubelet: PathBuf,
    /// The local busybox image (the same name in both runtimes).
    pub busybox_image: String,
    /// The local pause image.
    pub pause_image: String,
}

impl ReferenceEnv {
    /// The reference environment from the process's variables, else the env file.
    /// [`Error::Unset`] without a reference endpoint, [`Error::Missing`] without a kubelet
    /// binary.
    pub fn get() -> Result<ReferenceEnv> {
        let env = ReferenceEnv::from_lookup(crate::var)?;
        if !env.kubelet.is_file() {
            return Err(Error::Missing {
                what: "the kubelet binary (build it with `cargo xtask kube build`)",
                path: env.kubelet,
            });
        }
        Ok(env)
    }

    /// The reference environment from `lookup` (a variable's value or `None`), without
    /// looking at the file system.
    ///
    /// ```
    /// let env = test_env::ReferenceEnv::from_lookup(|name| match name {
    ///     "NODELET_REF_CRI_ENDPOINT" => Some("unix:///r.sock".into()),
    ///     "NODELET_KUBE_BIN_DIR" => Some("/k/bin".into()),
    ///     _ => None,
    /// })
    /// .unwrap();
    /// assert_eq!(env.kubelet, std::path::Path::new("/k/bin/kubelet"));
    /// assert_eq!(env.busybox_image, "localhost/busybox:1");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ReferenceEnv> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let cri_endpoint = get(REF_CRI_ENDPOINT_VAR).ok_or_else(|| Error::Unset {
            var: REF_CRI_ENDPOINT_VAR,
            file: crate::env_file(),
        })?;
        let bin_dir = get(KUBE_BIN_DIR_VAR)
            .map(PathBuf::from)
            .unwrap_or_else(default_kube_bin_dir);
        Ok(ReferenceEnv {
            cri_endpoint,
            kubelet: bin_dir.join("kubelet"),
            busybox_image: get(BUSYBOX_IMAGE_VAR)
                .unwrap_or_else(|| DEFAULT_BUSYBOX_IMAGE.to_string()),
            pause_image: get(PAUSE_IMAGE_VAR).unwrap_or_else(|| DEFAULT_PAUSE_IMAGE.to_string()),
        })
    }
}

/// The reference environment, or [`skip`] when it is missing (a failure with `CI=true`).
/// `what` names what needs it.
#[track_caller]
pub fn require_reference_env(what: &str) -> Option<ReferenceEnv> {
    match ReferenceEnv::get() {
        Ok(env) => Some(env),
        Err(e) => skip(&format!(
            "{what} needs the real kubelet and its runtime: {e}"
        )),
    }
}

/// How to start a [`Kubelet`]; see [`Kubelet::builder`].
#[derive(Debug, Clone)]
pub struct KubeletBuilder {
    env: ReferenceEnv,
    node_name: String,
    kubeconfig: Option<PathBuf>,
    settings: Vec<(String, String)>,
    flags: Vec<OsString>,
    verbosity: u8,
}

impl KubeletBuilder {
    /// The node name (`--hostname-override`); by default `kl-<test>-<pid>-<n>`. A joined
    /// kubelet must be given the name its kubeconfig's identity carries.
    pub fn node_name(mut self, name: &str) -> Self {
        self.node_name = name.to_string();
        self
    }

    /// Joins the cluster `kubeconfig` points at (`--kubeconfig`): the kubelet registers its
    /// node, and also takes pods from the API server.
    pub fn kubeconfig(mut self, kubeconfig: &Path) -> Self {
        self.kubeconfig = Some(kubeconfig.to_path_buf());
        self
    }

    /// Authenticates clients of the kubelet's API with certificates signed by `ca` (the API
    /// server's client certificate for `kubectl logs/exec`), webhook authentication and
    /// authorization through the API server, no anonymous access: the settings of a joined
    /// node. Needs [`kubeconfig`](Self::kubeconfig).
    pub fn client_ca_file(self, ca: &Path) -> Self {
        let ca = serde_json::to_string(&ca.to_string_lossy()).unwrap_or_default();
        self.setting(
            "authentication",
            &format!(
                "{{anonymous: {{enabled: false}}, webhook: {{enabled: true}}, \
                 x509: {{clientCAFile: {ca}}}}}"
            ),
        )
        .setting("authorization", "{mode: Webhook}")
    }

    /// Sets a top-level `KubeletConfiguration` key (the value as YAML text), over the
    /// runner's own settings ([`KubeletSettings::standalone`]).
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds a command-line flag (`--node-ip=127.0.0.1`).
    pub fn flag(mut self, flag: impl Into<OsString>) -> Self {
        self.flags.push(flag.into());
        self
    }

    /// klog's verbosity (`--v`), 2 by default. At 4 the log has every pod phase the kubelet
    /// computes ([`pod_phases`]).
    pub fn verbosity(mut self, v: u8) -> Self {
        self.verbosity = v;
        self
    }

    /// Takes the reference runtime's lock (waiting for another kubelet to finish), clears
    /// the runtime, prepares the kubelet's directory and cgroup root, starts the kubelet and
    /// waits until `/healthz` says `ok` and the read-only `/pods` answers.
    pub fn start(self) -> Result<Kubelet> {
        let lock = ReferenceRuntimeLock::exclusive()?;
        // Whatever an earlier, killed run left would be killed by this kubelet anyway;
        // clearing it first keeps it out of this one's view.
        crate::remove_all_pods_blocking(&self.env.cri_endpoint)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("nodelet-kubelet-{}-", self.node_name))
            .tempdir()
            .map_err(|source| Error::Io {
                action: "creating a temporary directory for",
                path: std::env::temp_dir(),
                source,
            })?;
        let [port, read_only_port, healthz_port] = free_ports()?;
        let mut kubelet = Kubelet {
            node_name: self.node_name.clone(),
            cri_endpoint: self.env.cri_endpoint.clone(),
            port,
            read_only_port,
            healthz_port,
            dir,
            child: None,
            started: Instant::now(),
            cleaned: false,
            _lock: lock,
        };
        kubelet.prepare(&self)?;
        kubelet.spawn(&self)?;
        kubelet.wait_ready()?;
        Ok(kubelet)
    }
}

/// A running kubelet and everything it owns; see the module docs.
#[derive(Debug)]
pub struct Kubelet {
    node_name: String,
    cri_endpoint: String,
    port: u16,
    read_only_port: u16,
    healthz_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    started: Instant,
    cleaned: bool,
    _lock: ReferenceRuntimeLock,
}

impl Kubelet {
    /// A builder for a kubelet of the test `test` (a short DNS label) in `env`.
    pub fn builder(env: &ReferenceEnv, test: &str) -> KubeletBuilder {
        KubeletBuilder {
            env: env.clone(),
            node_name: crate::unique_name(&format!("kl-{test}")),
            kubeconfig: None,
            settings: Vec::new(),
            flags: Vec::new(),
            verbosity: 2,
        }
    }

    /// A standalone kubelet for the test `test`, started; `None` (after [`skip`]) when the
    /// reference environment is missing. Panics when the kubelet does not start.
    #[track_caller]
    pub fn standalone(test: &str) -> Option<Kubelet> {
        let env = require_reference_env(&format!("the test {test}"))?;
        match Kubelet::builder(&env, test).start() {
            Ok(kubelet) => Some(kubelet),
            Err(e) => panic!("{e}"),
        }
    }

    /// The node name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// The name the kubelet gives the static pod `name`: `<name>-<node name, lowercased>`.
    pub fn pod_name(&self, name: &str) -> String {
        format!("{name}-{}", self.node_name.to_lowercase())
    }

    /// The runtime it uses ([`REF_CRI_ENDPOINT_VAR`]).
    pub fn cri_endpoint(&self) -> &str {
        &self.cri_endpoint
    }

    /// Its `cgroupRoot`: `/<node name>`.
    pub fn cgroup_root(&self) -> String {
        format!("/{}", self.node_name)
    }

    /// The static pod directory (`staticPodPath`).
    pub fn manifest_dir(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    /// The root directory (`--root-dir`).
    pub fn root_dir(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The pod logs directory (`podLogsDir`).
    pub fn pod_logs_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// The generated config file.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("kubelet.yaml")
    }

    /// The kubelet's stdout and stderr.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("kubelet.log")
    }

    /// The read-only server (`/pods`, `/healthz`, `/metrics`, no authentication).
    pub fn read_only_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.read_only_port))
    }

    /// The healthz server.
    pub fn healthz_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.healthz_port))
    }

    /// The authenticated API's port (TLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The kubelet's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Writes a static pod manifest atomically (a dot file the kubelet ignores, renamed into
    /// place), so the kubelet never reads half a file.
    pub fn write_manifest(&self, file: &str, yaml: &str) -> Result<()> {
        let tmp = self.manifest_dir().join(format!(".{file}.tmp"));
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        std::fs::write(&tmp, yaml).map_err(io("writing", &tmp))?;
        let target = self.manifest_dir().join(file);
        std::fs::rename(&tmp, &target).map_err(io("renaming into place", &target))
    }

    /// Removes a static pod manifest.
    pub fn remove_manifest(&self, file: &str) -> Result<()> {
        let path = self.manifest_dir().join(file);
        std::fs::remove_file(&path).map_err(|source| Error::Io {
            action: "removing",
            path,
            source,
        })
    }

    /// `GET path` on the read-only server: the status code and the body.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        http_get(self.read_only_addr(), path).map_err(|source| Error::Io {
            action: "reading the kubelet's",
            path: PathBuf::from(path),
            source,
        })
    }

    /// `/pods` (a `v1.PodList`; in standalone mode each static pod carries the status the
    /// kubelet's status manager holds for it, `GetPods` in `pkg/kubelet/kubelet_getters.go`).
    pub fn pods_json(&self) -> Result<serde_json::Value> {
        let (code, body) = self.get("/pods")?;
        let bad = |reason: String| Error::Kubelet {
            node: self.node_name.clone(),
            reason,
        };
        if code != 200 {
            return Err(bad(format!("GET /pods answered {code}: {body}")));
        }
        serde_json::from_str(&body).map_err(|e| bad(format!("/pods is not JSON: {e}")))
    }

    /// The kubelet's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// The structured lines of the log so far ([`klog_lines`]).
    pub fn log_lines(&self) -> Vec<KlogLine> {
        klog_lines(&self.log())
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops the kubelet (SIGTERM, SIGKILL after [`STOP_GRACE`]) and removes everything it
    /// left (see the module docs). Returns what could not be cleaned up, also printed on
    /// stderr. A second call does nothing.
    pub fn stop(&mut self) -> Vec<String> {
        if self.cleaned {
            return Vec::new();
        }
        self.cleaned = true;
        let mut problems = Vec::new();
        if let Some(child) = self.child.take()
            && !crate::stop_child(child, STOP_GRACE)
        {
            problems.push(format!(
                "the kubelet ignored SIGTERM for {STOP_GRACE:?}; SIGKILL"
            ));
        }
        if let Err(e) = crate::remove_all_pods_blocking(&self.cri_endpoint) {
            problems.push(format!("removing the kubelet's pods: {e}"));
        }
        match mounts_under(self.dir.path()) {
            Ok(mounts) => {
                for mount in mounts {
                    if let Err(e) =
                        rustix::mount::unmount(&mount, rustix::mount::UnmountFlags::DETACH)
                    {
                        problems.push(format!("unmounting {}: {e}", mount.display()));
                    }
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
        let left = remove_cgroup_tree(Path::new(&self.cgroup_root()));
        if !left.is_empty() {
            problems.push(format!("cgroups still there: {left:?}"));
        }
        for problem in &problems {
            eprintln!("kubelet {}: clean-up: {problem}", self.node_name);
        }
        if std::env::var_os(KEEP_VAR).is_some() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "kubelet {}: kept {} ({KEEP_VAR})",
                self.node_name,
                self.dir.path().display()
            );
        }
        eprintln!(
            "kubelet {}: stopped and cleaned up after {:.1?}",
            self.node_name,
            self.started.elapsed()
        );
        problems
    }

    /// Makes the directories, the config file, the tunable files, the cgroup root and the
    /// root directory's shared bind mount.
    fn prepare(&mut self, builder: &KubeletBuilder) -> Result<()> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        for sub in ["manifests", "root", "logs", "volume-plugins", "tunables"] {
            let path = self.dir.path().join(sub);
            std::fs::create_dir_all(&path).map_err(io("creating", &path))?;
        }
        let tunables = self.dir.path().join("tunables");
        host::write_tunables(&tunables).map_err(io("writing kernel tunables under", &tunables))?;
        let cgroup_root = self.cgroup_root();
        for hierarchy in std::fs::read_dir(crate::CGROUP_MOUNT)
            .into_iter()
            .flatten()
            .flatten()
        {
            if hierarchy.file_type().is_ok_and(|t| t.is_dir()) {
                let path = hierarchy.path().join(&self.node_name);
                std::fs::create_dir_all(&path).map_err(io("creating the cgroup", &path))?;
            }
        }
        let root = self.root_dir();
        let mount = |what: &'static str, result: rustix::io::Result<()>| {
            result.map_err(|e| Error::Io {
                action: what,
                path: root.clone(),
                source: e.into(),
            })
        };
        mount(
            "bind-mounting onto itself",
            rustix::mount::mount_bind(&root, &root),
        )?;
        mount(
            "making rshared",
            rustix::mount::mount_change(
                &root,
                rustix::mount::MountPropagationFlags::SHARED
                    | rustix::mount::MountPropagationFlags::REC,
            ),
        )?;
        let manifests = self.manifest_dir();
        let pod_logs = self.pod_logs_dir();
        let volume_plugins = self.dir.path().join("volume-plugins");
        let places = KubeletPlaces {
            manifests: &manifests,
            pod_logs: &pod_logs,
            volume_plugins: &volume_plugins,
            cri_endpoint: &self.cri_endpoint,
            cgroup_root: &cgroup_root,
            port: self.port,
            read_only_port: self.read_only_port,
            healthz_port: self.healthz_port,
        };
        let mut settings = KubeletSettings::standalone(&places);
        for (key, value) in &builder.settings {
            settings.set(key, value.as_str());
        }
        let config = self.config_file();
        std::fs::write(&config, settings.to_yaml()).map_err(io("writing", &config))
    }

    fn spawn(&mut self, builder: &KubeletBuilder) -> Result<()> {
        let log_path = self.log_file();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| Error::Io {
                action: "opening",
                path: log_path.clone(),
                source,
            })?;
        let mut args: Vec<OsString> = vec![
            "--config".into(),
            self.config_file().into(),
            "--root-dir".into(),
            self.root_dir().into(),
            "--cert-dir".into(),
            self.root_dir().join("pki").into(),
            "--hostname-override".into(),
            self.node_name.clone().into(),
            format!("--v={}", builder.verbosity).into(),
        ];
        // A file under the environment's directory on the command line, so that `cargo xtask
        // down` recognizes a kubelet a killed test left running (it stops the kubelets whose
        // command line names a path there); the kubelet only `flock`s it.
        if let Some(dir) = crate::var(crate::ENV_DIR_VAR).filter(|d| Path::new(d).is_dir()) {
            args.push(format!("--lock-file={}", Path::new(&dir).join(LOCK_FILE).display()).into());
        }
        if let Some(kubeconfig) = &builder.kubeconfig {
            args.push("--kubeconfig".into());
            args.push(kubeconfig.into());
        }
        args.extend(builder.flags.iter().cloned());
        let stderr = log.try_clone().map_err(|source| Error::Io {
            action: "cloning",
            path: log_path.clone(),
            source,
        })?;
        let child = host::command(
            &builder.env.kubelet,
            &args,
            &self.dir.path().join("tunables"),
        )
        .stdin(Stdio::null())
        .stdout(stderr)
        .stderr(log)
        .spawn()
        .map_err(|source| Error::Io {
            action: "starting the kubelet through unshare(1) with",
            path: builder.env.kubelet.clone(),
            source,
        })?;
        self.child = Some(child);
        self.started = Instant::now();
        Ok(())
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(Error::Kubelet {
                    node: self.node_name.clone(),
                    reason: format!(
                        "exited during start-up with {status}; its log ends with:\n{}",
                        self.log_tail(30)
                    ),
                });
            }
            let healthz = http_get(self.healthz_addr(), "/healthz");
            let last = match (&healthz, self.get("/pods")) {
                (Ok((200, body)), Ok((200, _))) if body == "ok" => return Ok(()),
                (healthz, pods) => format!("healthz: {healthz:?}; /pods: {:?}", pods.map(|p| p.0)),
            };
            if Instant::now() >= deadline {
                return Err(Error::Kubelet {
                    node: self.node_name.clone(),
                    reason: format!(
                        "not ready within {START_TIMEOUT:?} ({last}); its log ends with:\n{}",
                        self.log_tail(30)
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.cleaned {
            eprintln!(
                "--- kubelet log of {} ({}), tail ---\n{}",
                self.node_name,
                self.log_file().display(),
                self.log_tail(60)
            );
        }
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binary_defaults_to_the_build_under_target() {
        let env = ReferenceEnv::from_lookup(|name| {
            (name == REF_CRI_ENDPOINT_VAR).then(|| "unix:///r.sock".to_string())
        })
        .unwrap();
        assert!(
            env.kubelet
                .ends_with("target/kubernetes/v1.37.2/bin/kubelet"),
            "{}",
            env.kubelet.display()
        );
    }

    #[test]
    fn without_a_reference_endpoint_the_environment_is_unset() {
        let err = ReferenceEnv::from_lookup(|_| None).unwrap_err();
        assert!(
            matches!(err, Error::Unset { var, .. } if var == REF_CRI_ENDPOINT_VAR),
            "{err}"
        );
    }
}
