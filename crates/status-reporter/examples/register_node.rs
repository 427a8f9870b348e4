//! Registers a node, keeps its status and lease current for a while, then stops.
//!
//! ```text
//! cargo run -p status-reporter --example register_node -- NODE KUBECONFIG [SECONDS]
//! ```
//!
//! With the local cluster of `cargo xtask cluster up`, a node identity comes from
//! `cargo xtask cluster kubeconfig --node NODE`; watch the node with
//! `kubectl get node NODE -w` and its lease with `kubectl -n kube-node-lease get lease NODE`.
//! The node is left behind when the example ends (as a stopped kubelet leaves it): it turns
//! NotReady once its lease expires. `RUST_LOG=status_reporter=debug` shows each step.
//!
//! The facts a real agent learns from the runtime and cgroups are made up here from the host:
//! its CPUs, memory and root file system, an always-ready runtime.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use status_reporter::{
    HostInfo, NodeConfig, NodeFacts, NodeReadiness, NodeResources, NodeStatusReporter,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "status_reporter=info".into()),
        )
        .init();
    let mut args = std::env::args().skip(1);
    let (Some(node), Some(kubeconfig)) = (args.next(), args.next()) else {
        return Err("usage: register_node NODE KUBECONFIG [SECONDS]".into());
    };
    let seconds: u64 = args.next().map_or(Ok(30), |s| s.parse())?;

    let client = status_reporter::client_from_kubeconfig(&PathBuf::from(kubeconfig)).await?;
    let mut config = NodeConfig::new(node.clone());
    config.kubelet_version = "v1.37.2".into();
    config
        .node_labels
        .insert("node.kubernetes.io/example".into(), "register-node".into());

    let (_facts, facts_rx) = tokio::sync::watch::channel(host_facts()?);
    let reporter = NodeStatusReporter::start(client, config, HostInfo::read()?, facts_rx)?;
    if let Some(registered) = reporter.wait_for_node().await {
        println!(
            "node {node} registered (uid {})",
            registered.metadata.uid.unwrap_or_default()
        );
    }
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    reporter.shutdown().await;
    println!("stopped reporting node {node}");
    Ok(())
}

/// Capacity from the host (CPUs, memory, the root file system), nothing reserved, a ready
/// runtime.
fn host_facts() -> Result<NodeFacts, Box<dyn std::error::Error>> {
    let cpus = std::thread::available_parallelism()?.get();
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no MemTotal in /proc/meminfo")?;
    let root = nix::sys::statvfs::statvfs("/")?;
    let root_bytes = root.blocks() * root.fragment_size();
    let capacity = NodeResources {
        cpu: Some(Quantity(cpus.to_string())),
        memory: Some(Quantity(format!("{memory_kib}Ki"))),
        pods: Some(Quantity("110".into())),
        ephemeral_storage: Some(Quantity(root_bytes.to_string())),
        ..NodeResources::default()
    };
    Ok(NodeFacts {
        allocatable: capacity.clone(),
        capacity,
        container_runtime_version: NodeFacts::container_runtime_version("example", "0.0.0"),
        readiness: NodeReadiness::ready(),
        ..NodeFacts::default()
    })
}
