//! CPU cost of the probe engine: 110 pods, each with an exec readiness probe (through the
//! in-memory `FakeRuntime`'s `ExecSync`) and an HTTP liveness probe against a local HTTP
//! server, every 10 s, in real time. Reports the agent's CPU time per probe and the probe
//! rate, and writes them into `docs/benchmarks.md`.
//!
//! The HTTP server runs in a child process (this binary, re-run with `--server`), so the
//! CPU measured is the prober's only (workers, handlers, the fake runtime's exec). CPU time
//! is the process's `utime + stime` from `/proc/self/stat`.
//!
//! `PROBES_BENCH_SECS` sets the measured window (default 30 s), after a 10 s warm-up.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cri_client::RuntimeService;
use cri_client::fake::{BUSYBOX_IMAGE, FakeRuntime};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStatus, ExecAction, HTTPGetAction,
    Pod, PodSpec, PodStatus, Probe,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use probes::metrics::{MetricResult, ProbeLabels};
use probes::{PodRef, ProbeKind, ProbeManager};
use test_env::TestSandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PODS: usize = 110;
const BEGIN: &str = "<!-- bench:probes:start -->";
const END: &str = "<!-- bench:probes:end -->";

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--server") {
        return serve();
    }
    // `cargo bench` passes `--bench`; anything else (`cargo test --benches`) runs briefly.
    let full = std::env::args().any(|a| a == "--bench");
    let window = std::env::var("PROBES_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(if full {
            Duration::from_secs(30)
        } else {
            Duration::from_secs(2)
        });
    let warmup = if full {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(1)
    };

    let mut server = Command::new(std::env::current_exe()?)
        .arg("--server")
        .stdout(Stdio::piped())
        .spawn()
        .context("start the HTTP server process")?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let port: u16 = line.trim().parse().context("server port")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let engine = measure(port, window, warmup).await?;
        let raw = measure_raw(port, window, warmup).await?;
        anyhow::Ok((engine, raw))
    });
    let _ = server.kill();
    let _ = server.wait();
    let (m, raw) = result?;
    let raw_us = raw.cpu.as_secs_f64() * 1e6 / raw.probes as f64;

    let per_probe_us = m.cpu.as_secs_f64() * 1e6 / m.probes as f64;
    let rate = m.probes as f64 / m.wall.as_secs_f64();
    let core = 100.0 * m.cpu.as_secs_f64() / m.wall.as_secs_f64();
    let ratio = per_probe_us / raw_us;
    println!(
        "probes: {PODS} pods, {} probes in {:.1} s: {rate:.1} probes/s, {per_probe_us:.0} µs CPU per probe, {core:.2}% of a core; \
         the handlers alone: {raw_us:.0} µs per probe; engine / handlers {ratio:.2}",
        m.probes,
        m.wall.as_secs_f64()
    );
    if full {
        let section = format!(
            "{BEGIN}\n## Probe CPU cost (`benches/probes.rs`)\n\n\
             {PODS} pods, each with an exec readiness probe (FakeRuntime `ExecSync`) and an HTTP \
             liveness probe against a local server in another process, both every 10 s, in real \
             time; {:.0} s measured after a {:.0} s warm-up. Agent CPU is the prober process's \
             `utime + stime`. Baseline, in the same run: the same handlers (`handler_for`) \
             called directly by one task per probe on the same 10 s schedule, without probe \
             workers, results cache, status feed or metrics; the ratio is what the engine costs \
             on top of the probes themselves (a new TCP connection per HTTP probe, as the \
             kubelet makes, is most of both).\n\n\
             | pods | probes | probes/s | CPU per probe | CPU (% of a core) | handlers alone, CPU per probe | engine / handlers |\n\
             |---|---|---|---|---|---|---|\n\
             | {PODS} | {} | {rate:.1} | {per_probe_us:.0} µs | {core:.2}% | {raw_us:.0} µs | {ratio:.2} |\n\n\
             Machine: {}. Run: {}.\n{END}",
            m.wall.as_secs_f64(),
            warmup.as_secs_f64(),
            m.probes,
            common::machine(),
            common::today(),
        );
        common::write_section("docs/benchmarks.md", BEGIN, END, &section)?;
    }
    Ok(())
}

struct Measured {
    probes: u64,
    cpu: Duration,
    wall: Duration,
}

async fn measure(port: u16, window: Duration, warmup: Duration) -> anyhow::Result<Measured> {
    let fake = FakeRuntime::with_busybox();
    let manager = ProbeManager::builder(Arc::new(fake.clone()))
        // Spread the first probes over a period, as after an agent restart.
        .agent_restarted(true)
        .build();
    let mut labels = Vec::new();
    for i in 0..PODS {
        let (pod, status) = pod(&fake, i, port).await?;
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        manager.update_pod_status(&uid, &status);
        let errors = manager.add_pod(&pod);
        anyhow::ensure!(errors.is_empty(), "invalid probes: {errors:?}");
        let pod_ref = PodRef::of(&pod);
        labels.push(ProbeLabels::new(&pod_ref, "app", ProbeKind::Readiness));
        labels.push(ProbeLabels::new(&pod_ref, "app", ProbeKind::Liveness));
    }
    let count = || -> u64 {
        labels
            .iter()
            .map(|l| {
                manager.metrics().probe_total(l, MetricResult::Successful)
                    + manager.metrics().probe_total(l, MetricResult::Failed)
            })
            .sum()
    };
    tokio::time::sleep(warmup).await;
    let (probes0, cpu0, wall0) = (count(), cpu_time()?, Instant::now());
    tokio::time::sleep(window).await;
    let (probes1, cpu1, wall) = (count(), cpu_time()?, wall0.elapsed());
    let failed: u64 = labels
        .iter()
        .map(|l| manager.metrics().probe_total(l, MetricResult::Failed))
        .sum();
    anyhow::ensure!(failed == 0, "{failed} probes failed");
    anyhow::ensure!(probes1 > probes0, "no probe ran");
    Ok(Measured {
        probes: probes1 - probes0,
        cpu: cpu1.saturating_sub(cpu0),
        wall,
    })
}

/// The baseline: each pod's two handlers called directly, every 10 s, no probe engine.
async fn measure_raw(port: u16, window: Duration, warmup: Duration) -> anyhow::Result<Measured> {
    let fake = FakeRuntime::with_busybox();
    let runtime: Arc<dyn RuntimeService> = Arc::new(fake.clone());
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..PODS {
        let (pod, status) = pod(&fake, i, port).await?;
        let container = pod.spec.as_ref().context("spec")?.containers[0].clone();
        let container_id = status.container_statuses.as_ref().context("status")?[0]
            .container_id
            .clone()
            .unwrap_or_default()
            .trim_start_matches("containerd://")
            .to_owned();
        let probes = [&container.readiness_probe, &container.liveness_probe];
        for (n, probe) in probes.into_iter().flatten().enumerate() {
            let handler = probes::handler_for(probe, &container, runtime.clone())
                .map_err(anyhow::Error::msg)?;
            let target = probes::ProbeTarget {
                pod_ip: Some("127.0.0.1".into()),
                container_id: container_id.clone(),
                timeout: Duration::from_secs(1),
            };
            let done = done.clone();
            // Spread over the period like the engine's restart jitter.
            let offset = Duration::from_millis(((i * 2 + n) * 10_000 / (PODS * 2)) as u64);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                let mut tick = tokio::time::interval(Duration::from_secs(10));
                loop {
                    tick.tick().await;
                    if handler.probe(&target).await.is_ok() {
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }));
        }
    }
    let count = || done.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(warmup).await;
    let (probes0, cpu0, wall0) = (count(), cpu_time()?, Instant::now());
    tokio::time::sleep(window).await;
    let (probes1, cpu1, wall) = (count(), cpu_time()?, wall0.elapsed());
    for t in tasks {
        t.abort();
    }
    anyhow::ensure!(probes1 > probes0, "no probe ran");
    Ok(Measured {
        probes: probes1 - probes0,
        cpu: cpu1.saturating_sub(cpu0),
        wall,
    })
}

/// Pod `i`: a running container in the fake runtime with both probes.
async fn pod(fake: &FakeRuntime, i: usize, port: u16) -> anyhow::Result<(Pod, PodStatus)> {
    let uid = format!("bench-uid-{i}");
    let (_, id) = TestSandbox::builder("default", &format!("bench-{i}"), &uid)
        .run_with_container(fake, "app", BUSYBOX_IMAGE, &["sleep", "infinity"])
        .await?;

    let container = Container {
        name: "app".into(),
        image: Some(BUSYBOX_IMAGE.into()),
        readiness_probe: Some(Probe {
            exec: Some(ExecAction {
                command: Some(vec!["echo".into(), "ready".into()]),
            }),
            ..Default::default()
        }),
        liveness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                port: IntOrString::Int(port.into()),
                path: Some("/healthz".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut pod = Pod::default();
    pod.metadata.name = Some(format!("bench-{i}"));
    pod.metadata.namespace = Some("default".into());
    pod.metadata.uid = Some(uid);
    pod.spec = Some(PodSpec {
        containers: vec![container],
        ..Default::default()
    });
    let status = PodStatus {
        phase: Some("Running".into()),
        pod_ip: Some("127.0.0.1".into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "app".into(),
            container_id: Some(format!("containerd://{id}")),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning { started_at: None }),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    Ok((pod, status))
}

/// This process's CPU time (user + system, all threads).
fn cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which may contain spaces) start at the last ')'.
    let rest = stat.rsplit_once(')').context("/proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok(Duration::from_secs_f64(
        (utime + stime) as f64 / common::clk_tck(),
    ))
}

/// The HTTP server process: answers every request with 200 and closes the connection.
fn serve() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        std::io::stdout().flush()?;
        loop {
            let (mut conn, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                if conn.read(&mut buf).await.is_ok() {
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        )
                        .await;
                }
            });
        }
    })
}
