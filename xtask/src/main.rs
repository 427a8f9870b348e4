//! `cargo xtask`: everything beyond `cargo build` and `cargo test`.
//!
//! The tests, benches and demo of nodelet run against real parts: containerd
//! with its CRI plugin, runc, CNI bridge networking and a local registry, all
//! from Debian packages. `setup` brings them up with a project-local config,
//! state and socket under `target/nodelet-env/` so that nothing system-wide is
//! touched, and `down` stops exactly what `setup` started. `test` and `bench`
//! wrap the cargo commands CI runs between the two, and always tear down.
//!
//! The one design decision worth knowing: xtask speaks the few CRI calls it
//! needs (`Status`, `ListPodSandbox`, `StopPodSandbox`, `RemovePodSandbox`)
//! through hand-written prost messages instead of the `k8s-cri` crate. Its
//! build script needs `protoc`, and `cargo xtask setup` is what installs
//! `protoc` on a fresh machine, so xtask must build without it.
//!
//! ```text
//! cargo xtask setup            # install packages, start containerd + registry
//! cargo xtask env              # print the environment as `export` lines
//! cargo xtask test             # setup, fmt, clippy, test, doc, down
//! cargo xtask bench [ARGS...]  # setup, benches (ARGS go to `startup`), down
//! cargo xtask down             # stop and clean up what setup started
//! cargo xtask demo [--for N]   # nodelet running the example pods, a live table
//! cargo xtask demo --cluster   # nodelet as a node of the control plane, a Deployment, a Job
//! cargo xtask kube build       # the real Kubernetes v1.37.2, from tools/kubernetes
//! cargo xtask cluster up       # a loopback control plane (and down, status, kubeconfig)
//! cargo xtask soak [churn|soak] [--secs N]  # the long fault runs, with a progress bar
//! ```

mod bench;
mod cgroups;
mod cluster;
mod cmd;
mod cni;
mod containerd;
mod cri;
mod demo;
mod demo_cluster;
mod down;
mod images;
mod kube;
mod layout;
mod mounts;
mod packages;
mod process;
mod registry;
mod setup;
mod soak;
mod steps;
mod test;

use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::layout::Layout;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup            install packages, start containerd and the registry (idempotent)
  down             stop and clean up everything setup started (idempotent)
  test             setup, then fmt, clippy, test and doc; always down at the end
  bench [ARGS...]  setup, then the startup (with ARGS), nodelet_startup, exit_detection,
                   cri_roundtrip and plan benches; always down
  kube build       build the real Kubernetes v1.37.2 (etcd, kube-apiserver,
                   kube-controller-manager, kube-scheduler, kubectl, kubelet) from
                   tools/kubernetes into target/kubernetes/ (reused when up to date)
  kube sync        regenerate tools/kubernetes/go.mod's replace block from upstream's go.mod
  cluster up       a control plane on loopback (etcd, kube-apiserver, kube-controller-manager,
                   kube-scheduler), state in target/nodelet-env/cluster; waits until ready
  cluster down     stop it and remove its state (also after a crash)
  cluster status   what runs
  cluster kubeconfig [--node NAME]
                   print the admin kubeconfig path, or node NAME's (system:node:NAME)
  env              print the environment written by setup as shell `export` lines
  demo [--for <secs> | --once]
                   setup, then nodelet running examples/manifests with a live pod table;
                   Ctrl-C (or the time given) drains the pods, stops nodelet, then down
  demo --cluster   setup and cluster up, then nodelet as node demo-node: a Deployment scaled
                   3 -> 6 -> 3 and a Job, with a live node and pod table; cleans up after
  soak [churn|soak] [--secs N]
                   setup and cluster up, then the long runs with a progress bar: churn (10 min
                   of pods created and deleted at 5/s, then a census) and soak (110 probed
                   pods for 30 min); figures and target/soak/<run>.log; always down

environment:
  NODELET_ENV_DIR        base directory (default: <workspace>/target/nodelet-env)
  NODELET_REGISTRY_ADDR  registry listen address (default: 127.0.0.1:5000)
  KUBE_BIN_DIR           prebuilt Kubernetes binaries to use instead of `kube build`";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode> {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::FAILURE);
    };
    let rest: Vec<String> = args.collect();
    if !matches!(
        command.as_str(),
        "bench" | "demo" | "kube" | "cluster" | "soak"
    ) && !rest.is_empty()
    {
        bail!("`{command}` takes no arguments\n\n{USAGE}");
    }
    let layout = Layout::from_env()?;
    match command.as_str() {
        "setup" => setup::run(&layout).map(|_| ExitCode::SUCCESS),
        "down" => down::run(&layout).map(|()| ExitCode::SUCCESS),
        "test" => test::run(&layout),
        "bench" => bench::run(&layout, &rest),
        "env" => print_env(&layout).map(|()| ExitCode::SUCCESS),
        "demo" => demo::run(&layout, &rest),
        "soak" => soak::run(&layout, &rest),
        "kube" => kube::run(&layout, &rest).map(|()| ExitCode::SUCCESS),
        "cluster" => cluster::run(&layout, &rest).map(|()| ExitCode::SUCCESS),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// Prints the env file that setup wrote, as lines a shell can `eval`.
fn print_env(layout: &Layout) -> Result<()> {
    let vars = layout.read_env_file()?;
    for (key, value) in vars {
        println!("export {key}={value}");
    }
    Ok(())
}
