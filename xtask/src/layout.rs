//! Where the environment lives: every path and address `setup` and `down` share.
//!
//! Everything sits under one base directory (`target/nodelet-env` by default)
//! so that the machine's own containerd, CNI and registry configuration are
//! never touched and `down` knows exactly what belongs to us.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Overrides the base directory.
const ENV_DIR_VAR: &str = "NODELET_ENV_DIR";
/// Overrides the registry listen address.
const REGISTRY_ADDR_VAR: &str = "NODELET_REGISTRY_ADDR";
const DEFAULT_REGISTRY_ADDR: &str = "127.0.0.1:5000";
/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// The paths and addresses of one environment.
///
/// An environment runs three containerd instances: the main one, which nodelet,
/// the tests and the demo use; the reference one ([`Layout::reference`]), kept
/// for the real kubelet, which removes every runtime pod it does not know and so
/// never shares a containerd with anything else; and the faults one
/// ([`Layout::faults`]), which the fault-injection tests kill and restart, so
/// that no other test or demo loses its runtime.
#[derive(Debug, Clone)]
pub struct Layout {
    workspace: PathBuf,
    /// The environment's base directory: images, registry, env file, cluster.
    root: PathBuf,
    /// This containerd instance's directory: `root`, `root/ref` or `root/faults`.
    base: PathBuf,
    instance: Instance,
    registry_addr: SocketAddr,
}

/// Which containerd instance a [`Layout`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    /// nodelet's, the tests' and the demo's.
    Main,
    /// The real kubelet's, on a bridge and subnet of its own.
    Reference,
    /// The fault-injection tests', killed and restarted by them, on a bridge and
    /// subnet of its own.
    Faults,
}

impl Layout {
    /// Resolves the layout from the workspace root and the overriding
    /// variables `NODELET_ENV_DIR` and `NODELET_REGISTRY_ADDR`.
    pub fn from_env() -> Result<Self> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent directory")?
            .to_path_buf();
        let base = match std::env::var_os(ENV_DIR_VAR) {
            Some(dir) => std::path::absolute(PathBuf::from(dir))
                .with_context(|| format!("resolving {ENV_DIR_VAR}"))?,
            None => workspace.join("target").join("nodelet-env"),
        };
        let addr =
            std::env::var(REGISTRY_ADDR_VAR).unwrap_or_else(|_| DEFAULT_REGISTRY_ADDR.to_owned());
        let registry_addr = addr
            .parse()
            .with_context(|| format!("{REGISTRY_ADDR_VAR}={addr:?} is not an IP:port"))?;
        let layout = Self {
            workspace,
            root: base.clone(),
            base,
            instance: Instance::Main,
            registry_addr,
        };
        layout.check_socket_path()?;
        for instance in layout.instances() {
            instance.check_socket_path()?;
        }
        Ok(layout)
    }

    /// The layout of the reference containerd, under `<base>/ref`.
    pub fn reference(&self) -> Self {
        Self {
            base: self.root.join("ref"),
            instance: Instance::Reference,
            ..self.clone()
        }
    }

    /// The layout of the faults containerd, under `<base>/faults`.
    pub fn faults(&self) -> Self {
        Self {
            base: self.root.join("faults"),
            instance: Instance::Faults,
            ..self.clone()
        }
    }

    /// Every containerd instance, main first.
    pub fn instances(&self) -> [Self; 3] {
        [self.clone(), self.reference(), self.faults()]
    }

    /// The environment's base directory, shared by both instances.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The CNI bridge of this instance's pods; `down` deletes it, because it
    /// outlives containerd.
    pub fn bridge(&self) -> &'static str {
        match self.instance {
            Instance::Main => "nodelet0",
            Instance::Reference => "nodelet1",
            Instance::Faults => "nodelet2",
        }
    }

    /// The pod subnet of this instance. Two environments must not use the same
    /// subnet at the same time.
    pub fn subnet(&self) -> &'static str {
        match self.instance {
            Instance::Main => "10.88.0.0/16",
            Instance::Reference => "10.89.0.0/16",
            Instance::Faults => "10.90.0.0/16",
        }
    }

    /// containerd's Prometheus endpoint (`/v1/metrics`): its gRPC server's
    /// `grpc_server_handled_total` counts every CRI call by method, which is how the
    /// three-way bench counts the calls of each agent without a proxy in the way.
    pub fn metrics_addr(&self) -> SocketAddr {
        let port = match self.instance {
            Instance::Main => 13380,
            Instance::Reference => 13381,
            Instance::Faults => 13382,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self.instance {
            Instance::Main => "containerd",
            Instance::Reference => "reference containerd",
            Instance::Faults => "faults containerd",
        }
    }

    fn check_socket_path(&self) -> Result<()> {
        // containerd also listens on `<socket>.ttrpc`.
        let longest = self.socket().as_os_str().len() + ".ttrpc".len();
        if longest > MAX_SOCKET_PATH {
            bail!(
                "the base directory {} is too deep for a unix socket path; set {ENV_DIR_VAR} to a \
                 shorter directory",
                self.base.display()
            );
        }
        Ok(())
    }

    /// The workspace root, where cargo commands run.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// This containerd instance's directory (the environment's base directory
    /// for the main instance).
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// containerd's gRPC socket, which serves the CRI.
    pub fn socket(&self) -> PathBuf {
        self.base.join("containerd.sock")
    }

    /// The CRI endpoint in the form the kubelet's `--container-runtime-endpoint` takes.
    pub fn cri_endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The containerd configuration file.
    pub fn containerd_config(&self) -> PathBuf {
        self.base.join("config.toml")
    }

    /// containerd's pid file.
    pub fn containerd_pid(&self) -> PathBuf {
        self.base.join("containerd.pid")
    }

    /// containerd's stdout and stderr.
    pub fn containerd_log(&self) -> PathBuf {
        self.base.join("containerd.log")
    }

    /// runc's state root, shared by every containerd namespace (one subdirectory each).
    pub fn runc_root(&self) -> PathBuf {
        self.base.join("runc")
    }

    /// The CNI configuration directory containerd watches.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.base.join("cni-net.d")
    }

    /// host-local IPAM's allocation store.
    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.base.join("cni-ipam")
    }

    /// containerd's registry hosts directory (`hosts.toml` per registry).
    pub fn certs_dir(&self) -> PathBuf {
        self.base.join("certs.d")
    }

    /// Where the built image archives are kept.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// The registry listen address.
    pub fn registry_addr(&self) -> SocketAddr {
        self.registry_addr
    }

    /// The registry configuration file.
    pub fn registry_config(&self) -> PathBuf {
        self.root.join("registry.yml")
    }

    /// The registry's pid file.
    pub fn registry_pid(&self) -> PathBuf {
        self.root.join("registry.pid")
    }

    /// The registry's stdout and stderr.
    pub fn registry_log(&self) -> PathBuf {
        self.root.join("registry.log")
    }

    /// The registry's blob storage.
    pub fn registry_storage(&self) -> PathBuf {
        self.root.join("registry")
    }

    /// The manifest digest of the busybox image last pushed to the registry.
    pub fn registry_pushed_digest(&self) -> PathBuf {
        self.root.join("registry-busybox.digest")
    }

    /// The `KEY=value` file setup writes for tests and shells.
    pub fn env_file(&self) -> PathBuf {
        self.root.join("env")
    }

    /// Reads the env file written by setup.
    pub fn read_env_file(&self) -> Result<Vec<(String, String)>> {
        let path = self.env_file();
        let text = fs::read_to_string(&path).with_context(|| {
            format!("reading {} (run `cargo xtask setup` first)", path.display())
        })?;
        Ok(parse_env(&text))
    }
}

/// Parses `KEY=value` lines, skipping blank lines and `#` comments.
pub fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Renders `KEY=value` lines that [`parse_env`] reads back.
pub fn render_env(vars: &[(String, String)]) -> String {
    let mut text = String::from("# Written by `cargo xtask setup`.\n");
    for (key, value) in vars {
        text.push_str(&format!("{key}={value}\n"));
    }
    text
}

/// Writes `contents` to `path` unless it already holds exactly that, creating
/// parent directories. Returns whether the file changed, so callers can tell a
/// daemon that its configuration moved.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// `mkdir -p` with the path in the error.
pub fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_round_trips() {
        let vars = vec![
            ("A".to_owned(), "unix:///x/containerd.sock".to_owned()),
            ("B".to_owned(), "127.0.0.1:5000".to_owned()),
        ];
        assert_eq!(parse_env(&render_env(&vars)), vars);
    }
}
