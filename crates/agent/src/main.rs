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
use std::time::Duration;

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
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    runtime.spawn(trim_heap_periodically());
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

/// How often the heap's free pages go back to the kernel.
const TRIM_PERIOD: Duration = Duration::from_secs(10);

/// Every [`TRIM_PERIOD`], hands the free pages of glibc's heaps back to the kernel.
///
/// glibc returns freed memory only from the top of a heap: whole pages freed in its middle
/// stay in the process's RSS until the allocator reuses them. This hands those back, as Go's
/// background scavenger does for the kubelet. Free pieces smaller than a page it cannot:
/// under pod churn most of the free heap is such pieces (docs/reliability.md, "Churn").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
async fn trim_heap_periodically() {
    let mut tick = tokio::time::interval(TRIM_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        let released = tokio::task::spawn_blocking(trim_heap)
            .await
            .unwrap_or(false);
        tracing::trace!(released, took = ?started.elapsed(), "heap trimmed");
    }
}

/// `malloc_trim(0)`: true when glibc gave memory back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_heap() -> bool {
    // SAFETY: malloc_trim takes no pointer and touches only the allocator's own state,
    // under each arena's lock, so any thread may call it at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}
