//! `nodelet`: a standalone kubelet that runs static pods on a CRI runtime.
//!
//! ```text
//! nodelet --pod-manifest-path /etc/kubernetes/manifests \
//!         --container-runtime-endpoint unix:///run/containerd/containerd.sock
//! ```
//!
//! SIGTERM or SIGINT stops the agent and leaves the pods running (a restart adopts them),
//! unless `shutdownGracePeriod` is set in the config file.

use std::process::ExitCode;

use agent::config::{AgentConfig, Flags};
use clap::Parser;

fn main() -> ExitCode {
    let flags = Flags::parse();
    let config = match AgentConfig::load(&flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("nodelet: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = agent::logging::init_logging(config.log_level, config.log_format) {
        eprintln!("nodelet: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nodelet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agent::node::run(config, stop_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "nodelet failed");
            eprintln!("nodelet: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop nodelet with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}
