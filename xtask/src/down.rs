//! `cargo xtask down`: stops exactly what setup started and removes what
//! pods leave outside the base directory.
//!
//! Order matters: sandboxes are removed through the CRI while containerd
//! still runs (that stops containers and tears down their network cleanly);
//! only then are the daemons stopped, and the leftovers of a crash (runc
//! containers, shims, mounts, the bridge, cgroups) removed by hand. Every
//! step runs even when an earlier one failed.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::cluster::Cluster;
use crate::cri::{self, RuntimeClient};
use crate::layout::Layout;
use crate::process::{self, Daemon};
use crate::{cgroups, cmd, containerd, mounts, registry};

/// One teardown step; returns a line for each thing it stopped or removed.
type Step = fn(&Layout) -> Result<Vec<String>>;

/// Tears the environment down. Fails only when something could not be
/// removed, never because nothing was running.
pub fn run(layout: &Layout) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("down needs root: it kills daemons, unmounts and removes cgroups");
    }
    let instances = layout.instances();
    let mut steps: Vec<(String, &Layout, Step)> = vec![
        // Agents first, so that none restarts a pod while the runtime is cleaned.
        ("stop agents".into(), layout, stop_agents),
        ("stop the cluster".into(), layout, |layout| {
            Cluster::new(layout).down()
        }),
    ];
    let each = |name: &'static str, step: Step| {
        instances
            .iter()
            .map(move |instance| (format!("{name} ({})", instance.name()), instance, step))
    };
    steps.extend(each("remove pod sandboxes", remove_sandboxes));
    steps.extend(each("stop", |layout| stop(containerd::daemon(layout))));
    steps.push(("stop the registry".into(), layout, |layout| {
        stop(registry::daemon(layout))
    }));
    steps.extend(each("delete runc containers", delete_runc_containers));
    // Shims and mounts of every instance are under the main base.
    steps.push(("kill shims".into(), layout, kill_shims));
    steps.push(("unmount".into(), layout, unmount));
    steps.extend(each("delete the bridge", delete_bridge));
    steps.push(("remove cgroups".into(), layout, |_| remove_cgroups()));
    steps.extend(each("release CNI addresses", release_addresses));
    let mut failures = Vec::new();
    let mut did_something = false;
    for (name, layout, step) in steps {
        match step(layout) {
            Ok(lines) => {
                for line in &lines {
                    eprintln!("xtask: down: {line}");
                }
                did_something |= !lines.is_empty();
            }
            Err(err) => {
                eprintln!("xtask: down: {name} failed: {err:#}");
                failures.push(name);
            }
        }
    }
    if !failures.is_empty() {
        bail!("down incomplete: {} failed", failures.join(", "));
    }
    if !did_something {
        eprintln!("xtask: down: nothing was running");
    }
    Ok(())
}

/// Stops and removes every pod sandbox through the CRI, if containerd runs.
fn remove_sandboxes(layout: &Layout) -> Result<Vec<String>> {
    if containerd::daemon(layout).running().is_none() {
        return Ok(Vec::new());
    }
    cri::block_on(async {
        let mut client = RuntimeClient::connect(&layout.socket()).await?;
        let mut removed = Vec::new();
        for sandbox in client.list_pod_sandboxes().await? {
            client.stop_pod_sandbox(&sandbox.id).await?;
            // A container whose start the caller abandoned (an agent killed mid-call) can
            // keep a running task that containerd 1.6 no longer stops with its sandbox:
            // kill the task by hand, then try again.
            let mut attempts = 0;
            while let Err(err) = client.remove_pod_sandbox(&sandbox.id).await {
                let text = format!("{err:#}");
                let task = text
                    .split_once("cannot delete running task ")
                    .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_hexdigit()).next())
                    .filter(|id| !id.is_empty());
                attempts += 1;
                let (Some(task), true) = (task, attempts <= 3) else {
                    return Err(err);
                };
                removed.push(format!("killed the abandoned task {}", short(task)));
                kill_task(layout, task);
            }
            let pod = sandbox
                .metadata
                .map(|meta| format!("{}/{}", meta.namespace, meta.name))
                .unwrap_or_default();
            removed.push(format!(
                "removed pod sandbox {pod} ({})",
                short(&sandbox.id)
            ));
        }
        Ok(removed)
    })
}

/// `ctr task kill -s SIGKILL`, then `ctr task delete --force`: errors are ignored, the
/// removal that follows says whether it worked.
fn kill_task(layout: &Layout, id: &str) {
    let _ = cmd::output(containerd::ctr(layout).args(["task", "kill", "-s", "SIGKILL", id]));
    std::thread::sleep(Duration::from_millis(200));
    let _ = cmd::output(containerd::ctr(layout).args(["task", "delete", "--force", id]));
}

/// Kubelets and nodelets a crashed test or demo left running: any process of
/// that name whose command line names a path under the base directory.
fn stop_agents(layout: &Layout) -> Result<Vec<String>> {
    let agents = processes_under(layout.root(), |name| name == "kubelet" || name == "nodelet");
    let mut stopped = Vec::new();
    for (pid, cmdline) in agents {
        process::terminate(pid, Duration::from_secs(10))?;
        stopped.push(format!("stopped {} ({pid})", cmdline[0]));
    }
    Ok(stopped)
}

/// Processes whose program's file name passes `program` and whose command
/// line names a path under `base` (alone or as a `--flag=` value).
fn processes_under(
    base: &Path,
    program: impl Fn(&str) -> bool,
) -> Vec<(nix::unistd::Pid, Vec<String>)> {
    process::processes()
        .filter(|(_, cmdline)| {
            cmdline.first().is_some_and(|first| {
                Path::new(first)
                    .file_name()
                    .is_some_and(|name| program(&name.to_string_lossy()))
            }) && cmdline.iter().any(|arg| {
                let value = arg.split_once('=').map_or(arg.as_str(), |(_, value)| value);
                Path::new(arg).starts_with(base) || Path::new(value).starts_with(base)
            })
        })
        .collect()
}

fn stop(daemon: Daemon) -> Result<Vec<String>> {
    Ok(daemon
        .stop()?
        .map(|pid| format!("stopped {} ({pid})", daemon.name))
        .into_iter()
        .collect())
}

/// Containers runc still knows under our root, one directory per containerd
/// namespace: only there after a crash, since containerd deletes its own.
fn delete_runc_containers(layout: &Layout) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    let Ok(namespaces) = fs::read_dir(layout.runc_root()) else {
        return Ok(deleted);
    };
    for namespace in namespaces.flatten() {
        let root = namespace.path();
        let list = cmd::output(runc(&root).args(["list", "--quiet"]))?;
        for id in list.lines().filter(|id| !id.is_empty()) {
            cmd::output(runc(&root).args(["delete", "--force", id]))?;
            deleted.push(format!("deleted runc container {}", short(id)));
        }
    }
    Ok(deleted)
}

fn runc(root: &Path) -> Command {
    let mut cmd = Command::new("runc");
    cmd.arg("--root").arg(root);
    cmd
}

/// Shims whose command line names our socket or base directory. They
/// outlive containerd by design (so containers survive its restart).
fn kill_shims(layout: &Layout) -> Result<Vec<String>> {
    let mut killed = Vec::new();
    let shims = processes_under(layout.base(), |name| name.starts_with("containerd-shim"));
    for (pid, _) in shims {
        process::terminate(pid, Duration::from_secs(2))?;
        killed.push(format!("killed containerd-shim ({pid})"));
    }
    Ok(killed)
}

fn unmount(layout: &Layout) -> Result<Vec<String>> {
    Ok(mounts::unmount_below(layout.base())?
        .into_iter()
        .map(|point| format!("unmounted {}", point.display()))
        .collect())
}

/// The bridge stays after containerd stops; CNI never deletes it.
fn delete_bridge(layout: &Layout) -> Result<Vec<String>> {
    let bridge = layout.bridge();
    if !Path::new("/sys/class/net").join(bridge).exists() {
        return Ok(Vec::new());
    }
    cmd::output(Command::new("ip").args(["link", "del", bridge]))?;
    Ok(vec![format!("deleted bridge {bridge}")])
}

fn remove_cgroups() -> Result<Vec<String>> {
    let result = cgroups::remove_pod_cgroups()?;
    let mut lines = Vec::new();
    if !result.removed.is_empty() {
        lines.push(format!("removed {} cgroups", result.removed.len()));
    }
    for busy in result.busy {
        lines.push(format!(
            "warning: cgroup {} still has processes; left in place",
            busy.display()
        ));
    }
    Ok(lines)
}

/// host-local's allocations: with every pod gone, none is in use, and a
/// crash would otherwise leak them.
fn release_addresses(layout: &Layout) -> Result<Vec<String>> {
    let ipam = layout.cni_ipam_dir();
    if !ipam.exists() {
        return Ok(Vec::new());
    }
    fs::remove_dir_all(&ipam)?;
    Ok(vec!["released CNI IP allocations".to_owned()])
}

/// The first 13 characters of an id, as `crictl` shows them.
fn short(id: &str) -> &str {
    &id[..id.len().min(13)]
}
