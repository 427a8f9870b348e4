//! `cargo xtask cluster`: a single-machine Kubernetes control plane on
//! loopback, for cluster-mode tests, with all state under
//! `target/nodelet-env/cluster/`.
//!
//! - `up` builds (or reuses) the binaries, makes the PKI, and starts etcd,
//!   kube-apiserver (`Node,RBAC` authorization, `NodeRestriction` admission, a
//!   service-account issuer, a client certificate to reach the kubelets),
//!   kube-controller-manager (service-account tokens, the root CA publisher,
//!   node lifecycle, garbage collection, CSR signing) and kube-scheduler. It
//!   waits for `/readyz` and for the `default` ServiceAccount. Idempotent: a
//!   cluster that is up and ready is left as it is.
//! - `down` stops every process (found by pid file or command line, so a
//!   crashed run is cleaned up too) and removes the state.
//! - `status` says what runs; `kubeconfig [--node NAME]` prints the admin's
//!   kubeconfig path, or a node's (making its identity
//!   `system:node:NAME` in `system:nodes` on first use).
//!
//! Ports are fixed and off the defaults, so a cluster here never collides with
//! a kubelet (10248/10250) or with the defaults of a control plane on the
//! machine: see [`Ports`].

mod pki;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::kube;
use crate::layout::{Layout, create_dir, write_if_changed};
use crate::process::{self, Daemon};
use pki::{Identity, Pki};

/// The cluster IP of the `kubernetes` service, first of the service range.
pub const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);
/// The service range; no traffic goes there (there is no kube-proxy).
const SERVICE_CIDR: &str = "10.96.0.0/16";
/// How long `up` waits for `/readyz` and the default ServiceAccount.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The variable tests read the admin kubeconfig from.
pub const ADMIN_KUBECONFIG_VAR: &str = "NODELET_CLUSTER_KUBECONFIG";
/// The variable tests read the cluster directory from.
pub const CLUSTER_DIR_VAR: &str = "NODELET_CLUSTER_DIR";

/// The control plane's loopback ports.
#[derive(Debug, Clone, Copy)]
pub struct Ports;

impl Ports {
    const ETCD_CLIENT: u16 = 23790;
    const ETCD_PEER: u16 = 23800;
    const APISERVER: u16 = 16443;
    const CONTROLLER_MANAGER: u16 = 10357;
    const SCHEDULER: u16 = 10359;
}

const USAGE: &str = "\
usage: cargo xtask cluster <up | down | status | kubeconfig [--node NAME]>
  up                     start etcd, kube-apiserver, kube-controller-manager and kube-scheduler
                         on loopback (state in target/nodelet-env/cluster/); waits until ready
  down                   stop them and remove the state, even after a crash
  status                 what runs, and whether the API server is ready
  kubeconfig [--node N]  print the admin kubeconfig path, or node N's (made on first use)";

/// Runs `cargo xtask cluster ARGS`.
pub fn run(layout: &Layout, args: &[String]) -> Result<()> {
    let cluster = Cluster::new(layout);
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up"] => {
            let bin = kube::ensure_built(layout)?;
            cluster.up(&bin)
        }
        ["down"] => cluster.down().map(|lines| {
            for line in &lines {
                eprintln!("xtask: cluster down: {line}");
            }
            if lines.is_empty() {
                eprintln!("xtask: cluster down: nothing was running");
            }
        }),
        ["status"] => cluster.status(),
        ["kubeconfig"] => {
            println!("{}", cluster.admin_kubeconfig().display());
            Ok(())
        }
        ["kubeconfig", "--node", node] => {
            println!("{}", cluster.node_kubeconfig(node)?.display());
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}

/// The control plane of one environment.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    pki: Pki,
}

impl Cluster {
    /// The cluster of `layout`, under `<base>/cluster`.
    pub fn new(layout: &Layout) -> Self {
        let dir = layout.root().join("cluster");
        Self {
            pki: Pki::new(dir.join("pki")),
            dir,
        }
    }

    /// The API server's URL.
    pub fn server(&self) -> String {
        format!("https://127.0.0.1:{}", Ports::APISERVER)
    }

    /// The cluster CA's certificate: a node's `authentication.x509.clientCAFile`, so the
    /// API server's client certificate passes on the node's kubelet API.
    pub fn ca_file(&self) -> PathBuf {
        self.pki.ca().cert
    }

    /// The admin's kubeconfig (`system:masters`).
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// The variables tests read: the admin kubeconfig and the cluster directory.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        vec![
            (
                ADMIN_KUBECONFIG_VAR.to_owned(),
                self.admin_kubeconfig().display().to_string(),
            ),
            (CLUSTER_DIR_VAR.to_owned(), self.dir.display().to_string()),
            (
                "KUBECACHEDIR".to_owned(),
                self.kubectl_cache_dir().display().to_string(),
            ),
        ]
    }

    /// Node `name`'s kubeconfig, with a client certificate for
    /// `system:node:<name>` made on first use.
    pub fn node_kubeconfig(&self, name: &str) -> Result<PathBuf> {
        if !self.pki.ca().cert.is_file() {
            bail!("the cluster has no PKI yet: run `cargo xtask cluster up` first");
        }
        if name.is_empty()
            || name.len() > 253
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            bail!("{name:?} is not a valid node name (a DNS-1123 subdomain)");
        }
        let file = format!("node-{name}");
        let user = format!("system:node:{name}");
        let files = self.pki.ensure_client(&Identity {
            file: &file,
            user: user.clone(),
            groups: vec!["system:nodes"],
        })?;
        let path = self.dir.join("nodes").join(format!("{name}.kubeconfig"));
        write_if_changed(&path, self.kubeconfig(&user, &files).as_bytes())?;
        Ok(path)
    }

    fn identities() -> Vec<Identity<'static>> {
        [
            ("admin", "kubernetes-admin", vec!["system:masters"]),
            (
                "controller-manager",
                "system:kube-controller-manager",
                vec![],
            ),
            ("scheduler", "system:kube-scheduler", vec![]),
            // The API server's client to the kubelets (logs, exec, port-forward).
            (
                "apiserver-kubelet-client",
                "kube-apiserver-kubelet-client",
                vec!["system:masters"],
            ),
        ]
        .into_iter()
        .map(|(file, user, groups)| Identity {
            file,
            user: user.to_owned(),
            groups,
        })
        .collect()
    }

    fn kubeconfig(&self, user: &str, files: &pki::CertFiles) -> String {
        let mut text = String::new();
        let _ = write!(
            text,
            "# Written by `cargo xtask cluster`.\n\
             apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: nodelet\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\n\
             users:\n\
             - name: {user:?}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\n\
             contexts:\n\
             - name: nodelet\n  context:\n    cluster: nodelet\n    user: {user:?}\n\
             current-context: nodelet\n",
            server = self.server(),
            ca = self.pki.ca().cert.display(),
            cert = files.cert.display(),
            key = files.key.display(),
        );
        text
    }

    /// The audit policy file: see [`AUDIT_POLICY`].
    fn audit_policy(&self) -> PathBuf {
        self.dir.join("audit-policy.yaml")
    }

    /// kubectl's discovery cache, which would otherwise go to `~/.kube/cache`.
    /// Tests point `KUBECACHEDIR` here.
    pub fn kubectl_cache_dir(&self) -> PathBuf {
        self.dir.join("kubectl-cache")
    }

    fn kubeconfig_for(&self, file: &str) -> PathBuf {
        self.dir.join(format!("{file}.kubeconfig"))
    }

    /// The daemons in start order.
    fn daemons(&self, bin: &Path) -> Vec<Daemon> {
        let pki = &self.pki;
        let flag = path_flag;
        let ca = pki.ca();
        let serving = pki.apiserver();
        let kubelet_client = pki.client("apiserver-kubelet-client");
        let etcd_data = self.dir.join("etcd");
        let etcd = Daemon {
            name: "etcd",
            program: bin.join("etcd"),
            args: vec![
                "--name=nodelet".into(),
                flag("data-dir", &etcd_data),
                format!(
                    "--listen-client-urls=http://127.0.0.1:{}",
                    Ports::ETCD_CLIENT
                )
                .into(),
                format!(
                    "--advertise-client-urls=http://127.0.0.1:{}",
                    Ports::ETCD_CLIENT
                )
                .into(),
                format!("--listen-peer-urls=http://127.0.0.1:{}", Ports::ETCD_PEER).into(),
                format!(
                    "--initial-advertise-peer-urls=http://127.0.0.1:{}",
                    Ports::ETCD_PEER
                )
                .into(),
                format!(
                    "--initial-cluster=nodelet=http://127.0.0.1:{}",
                    Ports::ETCD_PEER
                )
                .into(),
                "--listen-metrics-urls=".into(),
                "--log-level=warn".into(),
                "--quota-backend-bytes=1073741824".into(),
            ],
            config: etcd_data,
            pid_file: self.dir.join("etcd.pid"),
            log: self.dir.join("etcd.log"),
        };
        let apiserver = Daemon {
            name: "kube-apiserver",
            program: bin.join("kube-apiserver"),
            args: vec![
                format!("--etcd-servers=http://127.0.0.1:{}", Ports::ETCD_CLIENT).into(),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                // A loopback advertise address is refused by the endpoint
                // reconciler; nothing here reaches the `kubernetes` service anyway.
                "--endpoint-reconciler-type=none".into(),
                format!("--secure-port={}", Ports::APISERVER).into(),
                flag("cert-dir", &self.dir.join("apiserver-certs")),
                flag("tls-cert-file", &serving.cert),
                flag("tls-private-key-file", &serving.key),
                flag("client-ca-file", &ca.cert),
                "--authorization-mode=Node,RBAC".into(),
                "--enable-admission-plugins=NodeRestriction".into(),
                "--allow-privileged=true".into(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}").into(),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                flag("service-account-key-file", &pki.service_account_pub()),
                flag(
                    "service-account-signing-key-file",
                    &pki.service_account_key(),
                ),
                flag("kubelet-client-certificate", &kubelet_client.cert),
                flag("kubelet-client-key", &kubelet_client.key),
                "--kubelet-preferred-address-types=InternalIP,Hostname".into(),
                // What nodes ask of the API server, for tests that count an agent's
                // requests (`test_env::Cluster::audit_events`).
                flag("audit-policy-file", &self.audit_policy()),
                flag("audit-log-path", &self.dir.join(AUDIT_LOG)),
                "--audit-log-format=json".into(),
                "--audit-log-maxsize=200".into(),
                "--audit-log-maxbackup=1".into(),
                "--profiling=false".into(),
                "--v=1".into(),
            ],
            config: serving.cert.clone(),
            pid_file: self.dir.join("kube-apiserver.pid"),
            log: self.dir.join("kube-apiserver.log"),
        };
        let controller_manager = self.component(
            bin,
            "kube-controller-manager",
            "controller-manager",
            Ports::CONTROLLER_MANAGER,
            vec![
                "--use-service-account-credentials=true".into(),
                flag(
                    "service-account-private-key-file",
                    &pki.service_account_key(),
                ),
                flag("root-ca-file", &ca.cert),
                flag("cluster-signing-cert-file", &ca.cert),
                flag("cluster-signing-key-file", &ca.key),
                "--controllers=*".into(),
                "--allocate-node-cidrs=false".into(),
            ],
        );
        let scheduler = self.component(
            bin,
            "kube-scheduler",
            "scheduler",
            Ports::SCHEDULER,
            Vec::new(),
        );
        vec![etcd, apiserver, controller_manager, scheduler]
    }

    /// kube-controller-manager or kube-scheduler: its identity's kubeconfig
    /// for everything, secure serving on loopback, no leader election.
    fn component(
        &self,
        bin: &Path,
        name: &'static str,
        identity: &str,
        port: u16,
        extra: Vec<OsString>,
    ) -> Daemon {
        let kubeconfig = self.kubeconfig_for(identity);
        let mut args: Vec<OsString> = [
            "kubeconfig",
            "authentication-kubeconfig",
            "authorization-kubeconfig",
        ]
        .into_iter()
        .map(|key| path_flag(key, &kubeconfig))
        .collect();
        args.extend([
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={port}").into(),
            path_flag("cert-dir", &self.dir.join(format!("{identity}-certs"))),
            "--leader-elect=false".into(),
            "--profiling=false".into(),
            "--v=1".into(),
        ]);
        args.extend(extra);
        Daemon {
            name,
            program: bin.join(name),
            args,
            config: kubeconfig,
            pid_file: self.dir.join(format!("{name}.pid")),
            log: self.dir.join(format!("{name}.log")),
        }
    }

    /// Starts whatever does not run yet and waits until the cluster is ready.
    pub fn up(&self, bin: &Path) -> Result<()> {
        let start = Instant::now();
        create_dir(&self.dir)?;
        if !self.pki.ca().cert.is_file() {
            self.pki.create(&Self::identities())?;
        }
        for identity in Self::identities() {
            let files = self.pki.ensure_client(&identity)?;
            write_if_changed(
                &self.kubeconfig_for(identity.file),
                self.kubeconfig(&identity.user, &files).as_bytes(),
            )?;
        }
        write_if_changed(&self.audit_policy(), AUDIT_POLICY.as_bytes())?;
        for daemon in self.daemons(bin) {
            if let Some(pid) = daemon.running() {
                eprintln!("xtask: {} runs ({pid})", daemon.name);
                continue;
            }
            let pid = daemon.start()?;
            eprintln!("xtask: started {} ({pid})", daemon.name);
            if daemon.name == "etcd" {
                self.wait_for(&daemon, pid, "etcd health", || {
                    etcd_healthy().map(|ok| ok.then_some(()))
                })?;
            }
            if daemon.name == "kube-apiserver" {
                self.wait_for(&daemon, pid, "/readyz", || {
                    Ok(self
                        .kubectl(bin, &["get", "--raw", "/readyz"])
                        .ok()
                        .filter(|out| out.trim() == "ok")
                        .map(|_| ()))
                })?;
            }
        }
        // The controller-manager and the scheduler may exit when they start while the
        // API server is still settling (seen at most once per run): each is watched for a
        // moment and restarted up to three times; the log of an instance that exited is
        // kept beside the new one (`*.log.previous`) and its end printed.
        let daemons = self.daemons(bin);
        for daemon in &daemons[2..] {
            let mut restarts = 0;
            while !stays_up(daemon, Duration::from_secs(1)) {
                restarts += 1;
                let previous = daemon.log.with_extension("log.previous");
                let _ = std::fs::rename(&daemon.log, &previous);
                let tail = std::fs::read_to_string(&previous).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(20).collect();
                eprintln!(
                    "xtask: {} exited at start; restarting it ({restarts} of 3). The end of its log ({}):\n{}",
                    daemon.name,
                    previous.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
                if restarts > 3 {
                    bail!(
                        "{} keeps exiting at start; see {}",
                        daemon.name,
                        previous.display()
                    );
                }
                daemon.start()?;
            }
        }
        let cm = &daemons[2];
        let cm_pid = cm.running().with_context(|| {
            format!(
                "kube-controller-manager is not running; the end of {}:\n{}",
                cm.log.display(),
                cm.log_tail(30)
            )
        })?;
        self.wait_for(cm, cm_pid, "the default ServiceAccount", || {
            Ok(self
                .kubectl(bin, &["get", "serviceaccount", "default", "-o", "name"])
                .ok()
                .map(|_| ()))
        })?;
        if daemons[3].running().is_none() {
            bail!(
                "kube-scheduler is not running; the end of {}:\n{}",
                daemons[3].log.display(),
                daemons[3].log_tail(30)
            );
        }
        eprintln!(
            "xtask: cluster ready in {:.1?}: {} (kubeconfig {})",
            start.elapsed(),
            self.server(),
            self.admin_kubeconfig().display()
        );
        Ok(())
    }

    /// Polls `check` until it gives `Some`, failing early when the daemon dies.
    fn wait_for(
        &self,
        daemon: &Daemon,
        pid: nix::unistd::Pid,
        what: &str,
        mut check: impl FnMut() -> Result<Option<()>>,
    ) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if !process::is_alive(pid) {
                bail!(
                    "{} ({pid}) exited while waiting for {what}; the end of {}:\n{}",
                    daemon.name,
                    daemon.log.display(),
                    daemon.log_tail(30)
                );
            }
            if check()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "no {what} after {READY_TIMEOUT:?}; the end of {}:\n{}",
            daemon.log.display(),
            daemon.log_tail(30)
        )
    }

    /// The built kubectl as the admin.
    pub fn kubectl(&self, bin: &Path, args: &[&str]) -> Result<String> {
        cmd::output(
            Command::new(bin.join("kubectl"))
                .arg("--kubeconfig")
                .arg(self.admin_kubeconfig())
                // kubectl caches discovery under ~/.kube by default.
                .arg("--cache-dir")
                .arg(self.kubectl_cache_dir())
                .arg("--request-timeout=5s")
                .args(args),
        )
    }

    /// Stops every daemon, newest first, and removes the state.
    pub fn down(&self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        // The binaries' directory only matters for starting; any path finds a
        // running daemon by its file name and configuration.
        let mut daemons = self.daemons(Path::new("/nonexistent"));
        daemons.reverse();
        let mut failed = Vec::new();
        for daemon in &daemons {
            match daemon.stop() {
                Ok(Some(pid)) => lines.push(format!("stopped {} ({pid})", daemon.name)),
                Ok(None) => {}
                Err(err) => {
                    eprintln!("xtask: cluster down: {err:#}");
                    failed.push(daemon.name);
                }
            }
        }
        if !failed.is_empty() {
            bail!("could not stop {}", failed.join(", "));
        }
        // Nothing may outlive `down`: any process still naming the cluster's
        // directory is a leak (a daemon started by hand, or one that escaped).
        let dir = self.dir.to_string_lossy().into_owned();
        let leftovers: Vec<String> = process::processes()
            .filter(|(_, cmdline)| cmdline.iter().any(|arg| arg.contains(&dir)))
            .map(|(pid, cmdline)| format!("{} ({pid})", cmdline.join(" ")))
            .collect();
        if !leftovers.is_empty() {
            bail!("processes still use {dir}:\n{}", leftovers.join("\n"));
        }
        if self.dir.exists() {
            fs::remove_dir_all(&self.dir)
                .with_context(|| format!("removing {}", self.dir.display()))?;
            lines.push(format!("removed {}", self.dir.display()));
        }
        Ok(lines)
    }

    fn status(&self) -> Result<()> {
        let daemons = self.daemons(Path::new("/nonexistent"));
        for daemon in &daemons {
            match daemon.running() {
                Some(pid) => println!("{:<24} running ({pid})", daemon.name),
                None => println!("{:<24} stopped", daemon.name),
            }
        }
        let apiserver_up = daemons[1].running().is_some();
        if apiserver_up {
            let ready = self
                .kubectl(&daemons_bin(&daemons[1]), &["get", "--raw", "/readyz"])
                .unwrap_or_else(|err| format!("{err:#}"));
            println!("{:<24} {}", "/readyz", ready.trim());
            println!("{:<24} {}", "kubeconfig", self.admin_kubeconfig().display());
        }
        Ok(())
    }
}

/// `--name=path`.
fn path_flag(name: &str, value: &Path) -> OsString {
    format!("--{name}={}", value.display()).into()
}

/// The directory of a running daemon's binary, from its command line.
fn daemons_bin(daemon: &Daemon) -> PathBuf {
    daemon
        .running()
        .and_then(process::cmdline)
        .and_then(|cmdline| cmdline.first().map(PathBuf::from))
        .and_then(|program| program.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

/// etcd's `/health`, over plain HTTP on loopback.
fn etcd_healthy() -> Result<bool> {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, Ports::ETCD_CLIENT)),
        Duration::from_secs(1),
    ) else {
        return Ok(false);
    };
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    Ok(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"))
        .map(|ok| ok && response.contains("\"health\":\"true\""))
}

/// The API server's audit log, in the cluster directory (JSON lines).
pub const AUDIT_LOG: &str = "audit.log";

/// What the API server records: the requests of nodes (user group `system:nodes`), one line
/// per request once answered, with the verb, the resource and the user; nothing else.
const AUDIT_POLICY: &str = "\
# Written by `cargo xtask cluster`: the requests of nodes, for tests that count them.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
  userGroups: [\"system:nodes\"]
- level: None
";

/// Whether `daemon` runs now and is still running `settle` later (checked every 100 ms, so
/// an instance that exits at once is seen).
fn stays_up(daemon: &Daemon, settle: Duration) -> bool {
    let deadline = Instant::now() + settle;
    loop {
        if daemon.running().is_none() {
            // Once more after a moment: a process caught in the middle of exec has no
            // command line for an instant.
            std::thread::sleep(Duration::from_millis(50));
            if daemon.running().is_none() {
                return false;
            }
        }
        if Instant::now() >= deadline {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
