//! A local registry (Debian's `docker-registry`) holding busybox, so that
//! image pulls are tested for real without the internet.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::unistd::Pid;

use crate::images::{self, LazyLayer};
use crate::layout::{Layout, write_if_changed};
use crate::process::{self, Daemon};
use crate::{cmd, containerd};

const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// What a HEAD of a manifest accepts: the OCI type xtask pushes, and Docker's.
const MANIFEST_TYPES: &str = concat!(
    "application/vnd.oci.image.manifest.v1+json, ",
    "application/vnd.docker.distribution.manifest.v2+json"
);

/// The busybox image as pulled from the registry.
pub fn busybox_ref(layout: &Layout) -> String {
    format!("{}/busybox:1", layout.registry_addr())
}

/// The registry daemon of this layout.
pub fn daemon(layout: &Layout) -> Daemon {
    let config = layout.registry_config();
    Daemon {
        name: "registry",
        program: "docker-registry".into(),
        args: vec![OsString::from("serve"), config.clone().into()],
        config,
        pid_file: layout.registry_pid(),
        log: layout.registry_log(),
    }
}

/// Writes the registry's configuration and containerd's `hosts.toml` for it.
/// Returns whether the registry's configuration changed.
pub fn write_config(layout: &Layout) -> Result<bool> {
    let addr = layout.registry_addr();
    // containerd 1.6 already speaks plain HTTP to loopback registries; the
    // hosts file makes that explicit, and true for any address.
    let hosts = format!(
        r#"# Written by `cargo xtask setup`; changes are overwritten.
server = "http://{addr}"

[host."http://{addr}"]
  capabilities = ["pull", "resolve", "push"]
  skip_verify = true
"#
    );
    let hosts_file = layout.certs_dir().join(addr.to_string()).join("hosts.toml");
    write_if_changed(&hosts_file, hosts.as_bytes())?;
    write_if_changed(&layout.registry_config(), registry_yml(layout).as_bytes())
}

fn registry_yml(layout: &Layout) -> String {
    // A JSON string is a valid YAML double-quoted scalar.
    let storage = serde_json::to_string(&layout.registry_storage()).expect("a path is JSON");
    let addr = layout.registry_addr();
    format!(
        r#"# Written by `cargo xtask setup`; changes are overwritten.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: {addr}
"#
    )
}

/// Starts the registry unless it already runs (restarting it when its
/// configuration changed) and waits until `/v2/` answers.
pub fn ensure_running(layout: &Layout, config_changed: bool) -> Result<()> {
    let daemon = daemon(layout);
    let addr = layout.registry_addr();
    if let Some(pid) = daemon.running() {
        if !config_changed {
            wait_ready(addr, &daemon, pid)?;
            return Ok(());
        }
        eprintln!("xtask: configuration changed, restarting the registry ({pid})");
        daemon.stop()?;
    }
    if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        bail!(
            "something else listens on {addr}; stop it or choose another address with \
             NODELET_REGISTRY_ADDR"
        );
    }
    let pid = daemon.start()?;
    let waited = wait_ready(addr, &daemon, pid)?;
    eprintln!("xtask: registry ({pid}) on {addr} ready after {waited:.0?}");
    Ok(())
}

fn wait_ready(addr: SocketAddr, daemon: &Daemon, pid: Pid) -> Result<Duration> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < READY_TIMEOUT {
        if !process::is_alive(pid) {
            bail!(
                "the registry ({pid}) exited; the end of {}:\n{}",
                daemon.log.display(),
                daemon.log_tail(20)
            );
        }
        match http_request(addr, "GET", "/v2/") {
            Ok((200, _)) => return Ok(start.elapsed()),
            Ok((status, _)) => last = format!("GET /v2/ answered {status}"),
            Err(err) => last = format!("{err:#}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the registry ({pid}) on {addr} not ready after {READY_TIMEOUT:?}: {last}")
}

/// Pushes the registry's busybox ([`images::registry_busybox`]) unless the
/// registry serves the one pushed last. containerd keeps no image under the
/// registry's name afterwards, so that a CRI `PullImage` of [`busybox_ref`]
/// really goes to the registry. Returns whether it pushed.
pub fn ensure_pushed(layout: &Layout, layer: &mut LazyLayer) -> Result<bool> {
    let addr = layout.registry_addr();
    let pushed = fs::read_to_string(layout.registry_pushed_digest()).unwrap_or_default();
    let served = served_digest(addr, "busybox", "1")?;
    if served.is_some_and(|served| served == pushed.trim()) {
        return Ok(false);
    }
    let remote = busybox_ref(layout);
    let image = images::registry_busybox(&remote, layer.get()?);
    image.import(layout)?;
    cmd::output(containerd::ctr(layout).args(["images", "push", "--plain-http", &remote]))?;
    // Both names, or the CRI would still find the image by its id.
    cmd::output(containerd::ctr(layout).args(["images", "rm", &remote, &image.id()]))?;
    write_if_changed(&layout.registry_pushed_digest(), image.digest().as_bytes())?;
    Ok(true)
}

/// The manifest digest the registry serves for `repository:tag`, if any.
fn served_digest(addr: SocketAddr, repository: &str, tag: &str) -> Result<Option<String>> {
    let (status, headers) =
        http_request(addr, "HEAD", &format!("/v2/{repository}/manifests/{tag}"))?;
    Ok((status == 200)
        .then(|| headers.get("docker-content-digest").cloned())
        .flatten())
}

/// A bodiless HTTP/1.1 request with std only: the status code and the
/// headers (names lowercased).
fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
) -> Result<(u16, HashMap<String, String>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {MANIFEST_TYPES}\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut lines = BufReader::new(stream).lines();
    let status_line = lines.next().transpose()?.unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("{method} {path}: bad status line {status_line:?}"))?;
    let mut headers = HashMap::new();
    for line in lines {
        let line = line?;
        let Some((name, value)) = line.split_once(':') else {
            break; // the blank line before the body
        };
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    Ok((status, headers))
}
