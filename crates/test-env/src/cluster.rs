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
