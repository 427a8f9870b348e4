//! Helpers shared by the benches: the environment's runtime, the raw-CRI pod workload (on
//! `test_env::TestSandbox`), the timing of N operations with a bounded number in flight, and
//! the machine description and section replacement for `docs/benchmarks.md`.

#![allow(dead_code)] // Each bench uses a different part.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cri_client::{GrpcRuntime, RuntimeService, v1};
use test_env::{Env, SandboxBuilder, TestSandbox};
use tokio::sync::Semaphore;

/// The namespace of the raw-CRI pods.
pub const RAW_NAMESPACE: &str = "nodelet-bench";

/// The environment of `cargo xtask setup` and its runtime, connected. A bench fails (it
/// does not skip) without them.
pub async fn runtime() -> anyhow::Result<(Env, GrpcRuntime)> {
    let env = Env::get()
        .context("run the bench through `cargo xtask bench`, or `cargo xtask setup` first")?;
    let runtime = env.connect().await?;
    Ok((env, runtime))
}

/// A comma-separated list of numbers.
pub fn list(s: &str) -> anyhow::Result<Vec<usize>> {
    s.split(',')
        .map(|n| {
            n.trim()
                .parse()
                .with_context(|| format!("bad number {n:?}"))
        })
        .collect()
}

/// Figures of one (N, concurrency) run of one phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Each item's time, measured around its own calls.
    pub per_pod: Vec<Duration>,
    /// All items, first start to last end.
    pub wall: Duration,
}

impl Phase {
    /// The `p` quantile (0..=1) of the per-item times.
    pub fn percentile(&self, p: f64) -> Duration {
        let mut v = self.per_pod.clone();
        v.sort();
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx]
    }
}

/// A pod started through the raw CRI.
pub struct StartedPod {
    /// Its sandbox.
    pub sandbox: String,
    /// Its one container.
    pub container: String,
}

/// The sandbox of raw pod `i` of the run `run` (its UID is `<run>-<i>`), with a
/// `cgroup_parent` of its own, on the pod network.
pub fn sandbox(run: &str, i: usize) -> SandboxBuilder {
    let uid = format!("{run}-{i:04}");
    let name = format!("bench-{i}");
    let logs = std::env::temp_dir().join("nodelet-bench-logs").join(&uid);
    TestSandbox::builder(RAW_NAMESPACE, &name, &uid)
        .hostname(&name)
        .log_directory(&logs)
        .cgroup_parent(&format!("/nodelet-bench/pod{uid}"))
}

/// RunPodSandbox + CreateContainer + StartContainer of one busybox `sleep 3600`.
pub async fn start_pod(rt: &GrpcRuntime, run: &str, i: usize) -> anyhow::Result<StartedPod> {
    let (sandbox, container) = sandbox(run, i)
        .run_with_container(rt, "sleep", &test_env::busybox_image(), &["sleep", "3600"])
        .await?;
    Ok(StartedPod {
        sandbox: sandbox.id,
        container,
    })
}

/// StopContainer (timeout 0) + RemoveContainer + StopPodSandbox + RemovePodSandbox.
pub async fn teardown_pod(rt: &GrpcRuntime, pod: &StartedPod) -> anyhow::Result<()> {
    rt.stop_container(v1::StopContainerRequest {
        container_id: pod.container.clone(),
        timeout: 0,
    })
    .await?;
    rt.remove_container(v1::RemoveContainerRequest {
        container_id: pod.container.clone(),
    })
    .await?;
    rt.stop_pod_sandbox(v1::StopPodSandboxRequest {
        pod_sandbox_id: pod.sandbox.clone(),
    })
    .await?;
    rt.remove_pod_sandbox(v1::RemovePodSandboxRequest {
        pod_sandbox_id: pod.sandbox.clone(),
    })
    .await?;
    Ok(())
}

/// Run `op` for every index with at most `concurrency` in flight; per-item and wall times.
pub async fn timed<T, F, Fut>(
    n: usize,
    concurrency: usize,
    op: F,
) -> anyhow::Result<(Vec<T>, Phase)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let gate = Arc::new(Semaphore::new(concurrency));
    let wall = Instant::now();
    let tasks = (0..n).map(|i| {
        let gate = gate.clone();
        let fut = op(i);
        async move {
            let _permit = gate.acquire().await.expect("semaphore open");
            let started = Instant::now();
            let out = fut.await?;
            anyhow::Ok((out, started.elapsed()))
        }
    });
    let results = futures::future::join_all(tasks).await;
    let wall = wall.elapsed();
    let mut outs = Vec::with_capacity(n);
    let mut per_pod = Vec::with_capacity(n);
    for r in results {
        let (out, d) = r?;
        outs.push(out);
        per_pod.push(d);
    }
    Ok((outs, Phase { per_pod, wall }))
}

/// Start `pods` raw pods with `concurrency` in flight, then tear them down the same way.
/// The UIDs start with `<run>-`.
pub async fn raw_start_teardown(
    rt: &GrpcRuntime,
    run: &str,
    pods: usize,
    concurrency: usize,
) -> anyhow::Result<(Phase, Phase)> {
    let (started, start) = timed(pods, concurrency, |i| start_pod(rt, run, i)).await?;
    let started = Arc::new(started);
    let (_, teardown) = timed(pods, concurrency, |i| {
        let started = started.clone();
        async move { teardown_pod(rt, &started[i]).await }
    })
    .await?;
    Ok((start, teardown))
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Cores, CPU model, memory and kernel of this machine.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({cpu}), {:.1} GiB memory, kernel {}",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim()
    )
}

/// The clock ticks per second (`getconf CLK_TCK`, 100 when it does not answer), the unit
/// of the CPU times in `/proc/<pid>/stat`.
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Now, as `YYYY-MM-DD HH:MM UTC`.
pub fn today() -> String {
    std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The page `docs/benchmarks.md` starts with when it does not exist.
pub const HEADER: &str = "# Benchmarks\n\nFigures are only comparable within one run: every \
    nodelet figure is reported as a ratio against the raw-CRI baseline measured in the same \
    run (`cargo xtask bench`).\n\n";

/// Replace the section of `doc` between `begin` and `end` (markers included) with `section`,
/// or append it; the rest of the page (other benches' sections) is kept.
pub fn replace_section(doc: &str, begin: &str, end: &str, section: &str) -> String {
    match (doc.find(begin), doc.find(end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!("{}{}{}", &doc[..start], section, &doc[stop + end.len()..])
        }
        _ => format!("{}\n\n{}\n", doc.trim_end(), section),
    }
}

/// Write `section` (which starts with `begin` and ends with `end`) into the page at `path`.
pub fn write_section(path: &str, begin: &str, end: &str, section: &str) -> anyhow::Result<()> {
    let doc = std::fs::read_to_string(path).unwrap_or_else(|_| HEADER.to_string());
    std::fs::write(path, replace_section(&doc, begin, end, section))
        .with_context(|| format!("write {path}"))
}
