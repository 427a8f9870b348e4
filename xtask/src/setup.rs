//! `cargo xtask setup`: packages, configuration, containerd, images, registry.
//!
//! Idempotent: each step first checks whether its work is done, so a second
//! run starts nothing and takes a fraction of a second.

use std::time::Instant;

use anyhow::{Result, bail};

use crate::cluster::Cluster;
use crate::images::{BUSYBOX, LazyLayer, PAUSE};
use crate::layout::{Layout, create_dir, render_env, write_if_changed};
use crate::{cni, containerd, images, kube, packages, registry};

/// The variable tests read the CRI endpoint from.
pub const CRI_ENDPOINT_VAR: &str = "NODELET_CRI_ENDPOINT";
/// The variable tests read the reference containerd's CRI endpoint from: the
/// real kubelet's, which no other test may use.
pub const REF_CRI_ENDPOINT_VAR: &str = "NODELET_REF_CRI_ENDPOINT";
/// The variables of the faults containerd, which the fault-injection tests kill and
/// restart: its directory (config, pid file, log) and its CRI endpoint.
pub const FAULTS_DIR_VAR: &str = "NODELET_FAULTS_DIR";
/// See [`FAULTS_DIR_VAR`].
pub const FAULTS_CRI_ENDPOINT_VAR: &str = "NODELET_FAULTS_CRI_ENDPOINT";
/// The variables holding each containerd's metrics address (`host:port`, `/v1/metrics`).
pub const CRI_METRICS_VAR: &str = "NODELET_CRI_METRICS";
/// See [`CRI_METRICS_VAR`].
pub const REF_CRI_METRICS_VAR: &str = "NODELET_REF_CRI_METRICS";
/// The registry address tests pull from.
pub const TEST_REGISTRY_VAR: &str = "NODELET_TEST_REGISTRY";

/// Brings the environment up and returns the variables that describe it.
pub fn run(layout: &Layout) -> Result<Vec<(String, String)>> {
    let start = Instant::now();
    if !nix::unistd::geteuid().is_root() {
        bail!("setup needs root: it installs packages, runs containerd and creates a bridge");
    }
    packages::ensure_installed()?;
    create_dir(layout.base())?;

    let registry_changed = registry::write_config(layout)?;
    let mut layer = LazyLayer::default();
    for instance in layout.instances() {
        create_dir(instance.base())?;
        let containerd_changed = containerd::write_config(&instance)?;
        // containerd watches the CNI directory itself; no restart needed.
        cni::write_config(&instance)?;
        containerd::ensure_running(&instance, containerd_changed)?;
        for name in images::ensure_imported(&instance, &mut layer)? {
            eprintln!("xtask: imported {name} into the {}", instance.name());
        }
    }
    registry::ensure_running(layout, registry_changed)?;
    if registry::ensure_pushed(layout, &mut layer)? {
        eprintln!("xtask: pushed {}", registry::busybox_ref(layout));
    }

    let vars = env_vars(layout)?;
    write_if_changed(&layout.env_file(), render_env(&vars).as_bytes())?;
    eprintln!(
        "xtask: environment ready in {:.1?} (base {})",
        start.elapsed(),
        layout.base().display()
    );
    println!("CRI endpoint: {}", layout.cri_endpoint());
    for (key, value) in &vars {
        println!("export {key}={value}");
    }
    Ok(vars)
}

fn env_vars(layout: &Layout) -> Result<Vec<(String, String)>> {
    let mut vars: Vec<(String, String)> = [
        (CRI_ENDPOINT_VAR, layout.cri_endpoint()),
        (REF_CRI_ENDPOINT_VAR, layout.reference().cri_endpoint()),
        (FAULTS_CRI_ENDPOINT_VAR, layout.faults().cri_endpoint()),
        (CRI_METRICS_VAR, layout.metrics_addr().to_string()),
        (
            REF_CRI_METRICS_VAR,
            layout.reference().metrics_addr().to_string(),
        ),
        (FAULTS_DIR_VAR, layout.faults().base().display().to_string()),
        (TEST_REGISTRY_VAR, layout.registry_addr().to_string()),
        ("NODELET_ENV_DIR", layout.base().display().to_string()),
        ("NODELET_PAUSE_IMAGE", PAUSE.name.to_owned()),
        ("NODELET_BUSYBOX_IMAGE", BUSYBOX.name.to_owned()),
        (
            "NODELET_REGISTRY_BUSYBOX_IMAGE",
            registry::busybox_ref(layout),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    // Where `kube build` puts the binaries, and the cluster `cluster up` runs:
    // tests that need them fail with a clear message when they are missing.
    vars.push((
        kube::TEST_BIN_DIR_VAR.to_owned(),
        kube::bin_dir(layout)?.display().to_string(),
    ));
    vars.extend(Cluster::new(layout).env_vars());
    Ok(vars)
}
