//! containerd with its CRI plugin: configuration, start and readiness.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::unistd::Pid;

use crate::cri::{self, RuntimeClient};
use crate::layout::{Layout, write_if_changed};
use crate::process::{self, Daemon};

/// The containerd namespace the CRI plugin works in.
pub const NAMESPACE: &str = "k8s.io";
/// How long containerd gets to report RuntimeReady and NetworkReady.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The containerd daemon of this layout.
pub fn daemon(layout: &Layout) -> Daemon {
    let config = layout.containerd_config();
    Daemon {
        name: "containerd",
        program: "containerd".into(),
        args: vec![OsString::from("--config"), config.clone().into()],
        config,
        pid_file: layout.containerd_pid(),
        log: layout.containerd_log(),
    }
}

/// `ctr` talking to our containerd in the CRI namespace.
pub fn ctr(layout: &Layout) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.arg("--address")
        .arg(layout.socket())
        .args(["--namespace", NAMESPACE]);
    cmd
}

/// Writes `config.toml`. Returns whether it changed.
pub fn write_config(layout: &Layout) -> Result<bool> {
    write_if_changed(&layout.containerd_config(), config_toml(layout).as_bytes())
}

/// The configuration: containerd's defaults with the changes that keep it
/// inside the base directory, and the one it needs on this machine.
///
/// containerd decodes this over its built-in defaults, so only the
/// differences are written. A runtime entry is replaced as a whole, hence the
/// repeated `runtime_type`.
fn config_toml(layout: &Layout) -> String {
    let base = |name: &str| toml_string(&layout.base().join(name));
    let socket = toml_string(&layout.socket());
    let cni_conf_dir = toml_string(&layout.cni_conf_dir());
    let runc_root = toml_string(&layout.runc_root());
    let certs_dir = toml_string(&layout.certs_dir());
    let (root, state, opt) = (base("root"), base("state"), base("opt"));
    let sandbox_image = crate::images::PAUSE.name;
    let metrics = layout.metrics_addr();
    format!(
        r#"# Written by `cargo xtask setup`; changes are overwritten.
version = 2
root = {root}
state = {state}
# Snapshotters and tracing that cannot work here or are not used.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = {socket}

# Per-method CRI call counts (grpc_server_handled_total), read by the benches.
[metrics]
  address = "{metrics}"

[plugins."io.containerd.grpc.v1.cri"]
  # This VM lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below
  # containerd's own, and every sandbox (-998) would fail without this.
  restrict_oom_score_adj = true
  sandbox_image = "{sandbox_image}"
  netns_mounts_under_state_dir = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = {cni_conf_dir}

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  Root = {runc_root}
  # There is no systemd here: cgroupfs is the only driver.
  SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = {certs_dir}

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}
"#
    )
}

/// A TOML basic string.
fn toml_string(path: &Path) -> String {
    let escaped = path
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// Whether our containerd already runs.
pub fn is_running(layout: &Layout) -> bool {
    daemon(layout).running().is_some()
}

/// Starts containerd unless it already runs (restarting it when its
/// configuration changed), then waits until the CRI reports ready.
pub fn ensure_running(layout: &Layout, config_changed: bool) -> Result<()> {
    let daemon = daemon(layout);
    if let Some(pid) = daemon.running() {
        if !config_changed {
            wait_ready(layout, &daemon, pid)?;
            return Ok(());
        }
        eprintln!(
            "xtask: configuration changed, restarting the {} ({pid})",
            layout.name()
        );
        daemon.stop()?;
    }
    let pid = daemon.start()?;
    let waited = wait_ready(layout, &daemon, pid)?;
    eprintln!("xtask: {} ({pid}) ready after {waited:.0?}", layout.name());
    Ok(())
}

/// Polls CRI `Status` until RuntimeReady and NetworkReady are both true.
fn wait_ready(layout: &Layout, daemon: &Daemon, pid: Pid) -> Result<Duration> {
    let start = Instant::now();
    cri::block_on(async {
        let mut last = String::from("no answer");
        while start.elapsed() < READY_TIMEOUT {
            if !process::is_alive(pid) {
                bail!(
                    "containerd ({pid}) exited; the end of {}:\n{}",
                    daemon.log.display(),
                    daemon.log_tail(20)
                );
            }
            match ready(layout).await {
                Ok(None) => return Ok(start.elapsed()),
                Ok(Some(not_ready)) => last = not_ready,
                Err(err) => last = format!("{err:#}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("containerd ({pid}) not ready after {READY_TIMEOUT:?}: {last}")
    })
    .with_context(|| format!("waiting for the CRI at {}", layout.cri_endpoint()))
}

/// `None` when ready, else what is not.
async fn ready(layout: &Layout) -> Result<Option<String>> {
    let conditions = RuntimeClient::connect(&layout.socket())
        .await?
        .status()
        .await?;
    let not_ready: Vec<String> = ["RuntimeReady", "NetworkReady"]
        .into_iter()
        .filter_map(
            |wanted| match conditions.iter().find(|c| c.r#type == wanted) {
                Some(condition) if condition.status => None,
                Some(condition) => Some(format!(
                    "{wanted} is false ({}: {})",
                    condition.reason, condition.message
                )),
                None => Some(format!("{wanted} is missing")),
            },
        )
        .collect();
    Ok((!not_ready.is_empty()).then(|| not_ready.join("; ")))
}
