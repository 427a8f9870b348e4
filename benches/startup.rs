//! Pod start-up harness: the raw-CRI baseline.
//!
//! Starts N pods by calling the CRI directly (RunPodSandbox + CreateContainer + StartContainer
//! of one busybox container per pod), one at a time and 4 in flight, then tears them down
//! (StopContainer + RemoveContainer + StopPodSandbox + RemovePodSandbox). This is the physical
//! limit an agent is measured against: every later start-up figure of nodelet is divided by
//! the baseline taken in the same run, because the machines are noisy.
//!
//! Run through `cargo xtask bench`, which starts the environment and passes
//! `NODELET_CRI_ENDPOINT`. Flags: `--sizes 1,10,30,110`, `--concurrency 1,4`,
//! `--write <path>` (default `docs/benchmarks.md`), `--no-write`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cri_client::{GrpcRuntime, RuntimeService, v1};
use tokio::sync::Semaphore;

const BUSYBOX: &str = "localhost/busybox:1";

#[derive(Debug, Clone)]
struct Args {
    sizes: Vec<usize>,
    concurrency: Vec<usize>,
    write: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        sizes: vec![1, 10, 30, 110],
        concurrency: vec![1, 4],
        write: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md").to_string()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--sizes" => args.sizes = list(&it.next().context("--sizes needs a value")?)?,
            "--concurrency" => {
                args.concurrency = list(&it.next().context("--concurrency needs a value")?)?
            }
            "--write" => args.write = Some(it.next().context("--write needs a path")?),
            "--no-write" => args.write = None,
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(args)
}

fn list(s: &str) -> anyhow::Result<Vec<usize>> {
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
struct Phase {
    per_pod: Vec<Duration>,
    wall: Duration,
}

impl Phase {
    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.per_pod.clone();
        v.sort();
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx]
    }
}

#[derive(Debug, Clone)]
struct Row {
    pods: usize,
    concurrency: usize,
    start: Phase,
    teardown: Phase,
}

struct StartedPod {
    sandbox: String,
    container: String,
}

fn sandbox_config(run: &str, i: usize) -> v1::PodSandboxConfig {
    let uid = format!("{run}-{i:04}");
    let name = format!("bench-{i}");
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: name.clone(),
            uid: uid.clone(),
            namespace: "nodelet-bench".into(),
            attempt: 0,
        }),
        hostname: name,
        log_directory: std::env::temp_dir()
            .join("nodelet-bench-logs")
            .join(&uid)
            .to_string_lossy()
            .into_owned(),
        labels: [("io.kubernetes.pod.uid".to_string(), uid.clone())]
            .into_iter()
            .collect(),
        linux: Some(v1::LinuxPodSandboxConfig {
            cgroup_parent: format!("/nodelet-bench/pod{uid}"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn start_pod(rt: &GrpcRuntime, run: &str, i: usize) -> anyhow::Result<StartedPod> {
    let config = sandbox_config(run, i);
    let sandbox = rt
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        })
        .await?
        .pod_sandbox_id;
    let container = rt
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox.clone(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "sleep".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: BUSYBOX.into(),
                    ..Default::default()
                }),
                command: vec!["sleep".into(), "3600".into()],
                log_path: "sleep/0.log".into(),
                ..Default::default()
            }),
            sandbox_config: Some(config),
        })
        .await?
        .container_id;
    rt.start_container(v1::StartContainerRequest {
        container_id: container.clone(),
    })
    .await?;
    Ok(StartedPod { sandbox, container })
}

async fn teardown_pod(rt: &GrpcRuntime, pod: &StartedPod) -> anyhow::Result<()> {
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
async fn timed<T, F, Fut>(n: usize, concurrency: usize, op: F) -> anyhow::Result<(Vec<T>, Phase)>
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

async fn measure(rt: &GrpcRuntime, pods: usize, concurrency: usize) -> anyhow::Result<Row> {
    let run = format!("{:x}-{pods}-{concurrency}", std::process::id());
    let (started, start) = timed(pods, concurrency, |i| start_pod(rt, &run, i)).await?;
    let started = Arc::new(started);
    let (_, teardown) = timed(pods, concurrency, |i| {
        let started = started.clone();
        async move { teardown_pod(rt, &started[i]).await }
    })
    .await?;
    Ok(Row {
        pods,
        concurrency,
        start,
        teardown,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| pods | in flight | start wall (ms) | start wall/pod | start median | start p99 \
         | teardown wall (ms) | teardown wall/pod | teardown median | teardown p99 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let per = |p: &Phase| p.wall / r.pods as u32;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.pods,
            r.concurrency,
            ms(r.start.wall),
            ms(per(&r.start)),
            ms(r.start.percentile(0.5)),
            ms(r.start.percentile(0.99)),
            ms(r.teardown.wall),
            ms(per(&r.teardown)),
            ms(r.teardown.percentile(0.5)),
            ms(r.teardown.percentile(0.99)),
        ));
    }
    out
}

fn machine() -> String {
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

fn today() -> String {
    std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

const BEGIN: &str = "<!-- startup-baseline: written by benches/startup.rs -->";
const END: &str = "<!-- /startup-baseline -->";
const HEADER: &str = "# Benchmarks\n\nFigures are only comparable within one run: every nodelet \
    figure is reported as a ratio against the raw-CRI baseline measured in the same run \
    (`cargo xtask bench`).\n\n";

/// Replace the baseline section of `doc` (between the markers), or append it; the rest of
/// the page (other benches' sections) is kept.
fn replace_section(doc: &str, section: &str) -> String {
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(start), Some(end)) if end > start => {
            format!("{}{}{}", &doc[..start], section, &doc[end + END.len()..])
        }
        _ => format!("{}\n{}\n", doc.trim_end(), section),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let endpoint = std::env::var("NODELET_CRI_ENDPOINT").context(
        "NODELET_CRI_ENDPOINT is not set: run the bench through `cargo xtask bench`, \
         or `cargo xtask setup` first",
    )?;
    let rt = GrpcRuntime::connect(&endpoint).await?;
    let version = rt.version(v1::VersionRequest::default()).await?;
    // One warm-up pod so the first measured pod does not pay for cold caches.
    measure(&rt, 1, 1).await?;

    let mut rows = Vec::new();
    for &concurrency in &args.concurrency {
        for &pods in &args.sizes {
            let row = measure(&rt, pods, concurrency).await?;
            eprintln!(
                "raw CRI: {pods} pods, {concurrency} in flight: start {} ms/pod, teardown {} ms/pod",
                ms(row.start.wall / pods as u32),
                ms(row.teardown.wall / pods as u32)
            );
            rows.push(row);
        }
    }
    let body = table(&rows);
    println!("{body}");

    if let Some(path) = args.write {
        let section = format!(
            "{BEGIN}\n## Raw-CRI pod start-up baseline\n\n\
             Measured {} on {}; runtime {} {} (CRI {}), CNI bridge networking.\n\n\
             Each pod: RunPodSandbox + CreateContainer + StartContainer of one busybox \
             `sleep 3600` container, with a per-pod `cgroup_parent`. Teardown: StopContainer \
             (timeout 0) + RemoveContainer + StopPodSandbox + RemovePodSandbox. \"wall/pod\" is \
             the wall time of all N pods divided by N; median and p99 are per pod, measured \
             around that pod's calls (with 4 in flight they include waiting on the other 3).\n\n\
             {body}\n\
             Reproduce: `cargo xtask bench` (runs `cargo bench --bench startup`).\n{END}",
            today(),
            machine(),
            version.runtime_name,
            version.runtime_version,
            version.runtime_api_version,
        );
        let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| HEADER.to_string());
        std::fs::write(&path, replace_section(&doc, &section))
            .with_context(|| format!("write {path}"))?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
