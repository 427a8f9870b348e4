//! Exit detection harness: how long after a container exits does the PLEG report it?
//!
//! Starts N busybox containers running `sh -c 'sleep 0.5; exit 3'` (a few sandboxes, each
//! with a `cgroup_parent`) under a running [`Pleg`], and measures for each container the time
//! from its `finished_at` (CRI: when containerd's shim saw the exit) to the moment the
//! `ContainerDied` event for it came off the PLEG's channel. Three rounds, same machine, same
//! run:
//!
//! - **exit watchers**: pidfd watchers on the containers' init processes (nodelet's path on
//!   containerd 1.6, which has no CRI container events);
//! - **relist only**: the kubelet's generic PLEG, a relist every 1 s;
//! - **floor**: no PLEG; a task per container polls `ContainerStatus` every 2 ms from shortly
//!   before the exit is due, the earliest a CRI client can learn of the exit from containerd.
//!
//! In both runs the "worker" (this harness) calls [`Pleg::notify_pod`] after each
//! `StartContainer`, as nodelet's pod workers do; only the exit watchers differ.
//!
//! Run through `cargo xtask bench`, which starts the environment and passes
//! `NODELET_CRI_ENDPOINT`. Flags: `--containers N` (default 100), `--per-sandbox N`
//! (default 10), `--write <path>` (default `docs/benchmarks.md`), `--no-write`.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use common::ms;
use cri_client::{GrpcRuntime, RuntimeService, v1};
use pod_lifecycle::pleg::{
    Pleg, PlegConfig, PlegMetrics, PodLifecycleEvent, PodLifecycleEventKind,
};
use test_env::{RuntimeLock, TestSandbox, busybox_image, remove_cgroup_tree};
use tokio::sync::{mpsc, oneshot};

const SCRIPT: &str = "sleep 0.5; exit 3";
const CGROUP_ROOT: &str = "nodelet-bench-exit";

#[derive(Debug, Clone)]
struct Args {
    containers: usize,
    per_sandbox: usize,
    write: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        containers: 100,
        per_sandbox: 10,
        write: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md").to_string()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--containers" => args.containers = number(it.next(), "--containers")?,
            "--per-sandbox" => args.per_sandbox = number(it.next(), "--per-sandbox")?,
            "--write" => args.write = Some(it.next().context("--write needs a path")?),
            "--no-write" => args.write = None,
            other => bail!("unknown argument {other:?}"),
        }
    }
    if args.containers == 0 || args.per_sandbox == 0 {
        bail!("--containers and --per-sandbox must be positive");
    }
    Ok(args)
}

fn number(value: Option<String>, flag: &str) -> anyhow::Result<usize> {
    let value = value.with_context(|| format!("{flag} needs a value"))?;
    value
        .trim()
        .parse()
        .with_context(|| format!("{flag}: bad number {value:?}"))
}

/// How a round learns of exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A `Pleg` with exit watchers.
    ExitWatchers,
    /// A `Pleg` without them: the kubelet's generic PLEG.
    RelistOnly,
    /// No PLEG: one task per container polls `ContainerStatus` every [`FLOOR_POLL`] until it
    /// reports EXITED. The earliest any CRI client can know; the floor the others sit on.
    CriFloor,
}

/// The poll interval of [`Mode::CriFloor`].
const FLOOR_POLL: Duration = Duration::from_millis(2);
/// How long after `StartContainer` [`Mode::CriFloor`] starts polling (the script sleeps
/// 0.5 s).
const FLOOR_QUIET: Duration = Duration::from_millis(450);

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::ExitWatchers => "exit watchers (pidfd) + 1 s relist",
            Mode::RelistOnly => "relist only, 1 s (kubelet generic PLEG)",
            Mode::CriFloor => {
                "floor: ContainerStatus polled every 2 ms from 450 ms after start, no PLEG"
            }
        }
    }

    fn config(self) -> PlegConfig {
        PlegConfig {
            // containerd 1.6 has none; off in both runs so the comparison is explicit.
            container_events: false,
            exit_watchers: self == Mode::ExitWatchers,
            ..PlegConfig::default()
        }
    }
}

/// One sandbox of a round.
struct Sandbox {
    sandbox: TestSandbox,
    log_dir: PathBuf,
}

async fn run_sandbox(rt: &GrpcRuntime, run: &str, i: usize) -> anyhow::Result<Sandbox> {
    let uid = format!("{run}-{i:03}");
    let log_dir = std::env::temp_dir()
        .join("nodelet-bench-exit-logs")
        .join(&uid);
    let sandbox = TestSandbox::builder("nodelet-bench", &format!("exit-{i}"), &uid)
        .host_network()
        .cgroup_parent(&format!("/{CGROUP_ROOT}/pod{uid}"))
        .log_directory(&log_dir)
        .run(rt)
        .await?;
    Ok(Sandbox { sandbox, log_dir })
}

async fn start_container(rt: &GrpcRuntime, sandbox: &Sandbox, i: usize) -> anyhow::Result<String> {
    let id = sandbox
        .sandbox
        .start_container(
            rt,
            &format!("c{i}"),
            &busybox_image(),
            &["sh", "-c", SCRIPT],
        )
        .await?;
    Ok(id)
}

async fn teardown(rt: &GrpcRuntime, sandboxes: &[Sandbox]) {
    for s in sandboxes {
        if let Err(e) = s.sandbox.remove(rt).await {
            eprintln!("teardown: {e}");
        }
        let _ = std::fs::remove_dir_all(&s.log_dir);
    }
    // runc creates the pod cgroups and never removes them.
    let left = remove_cgroup_tree(Path::new(CGROUP_ROOT));
    if !left.is_empty() {
        eprintln!("teardown: cgroups left: {left:?}");
    }
}

/// The figures of one round.
struct Round {
    mode: Mode,
    latencies: Vec<Duration>,
    metrics: PlegMetrics,
}

impl Round {
    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx]
    }

    fn max(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }
}

/// PL-01: one round of container exits, each timed from its exit to nodelet's PLEG noticing it.
async fn pl_01_exit_detection_round(
    rt: &Arc<GrpcRuntime>,
    mode: Mode,
    containers: usize,
    per_sandbox: usize,
) -> anyhow::Result<Round> {
    let run = format!(
        "exit-{:x}-{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis()
    );
    let (pleg, events) = Pleg::new(rt.clone(), mode.config());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = (mode != Mode::CriFloor).then(|| {
        let pleg = pleg.clone();
        tokio::spawn(async move {
            pleg.run(async {
                let _ = stopped.await;
            })
            .await
        })
    });
    let (ids_tx, ids_rx) = oneshot::channel::<Vec<String>>();
    let collector = tokio::spawn(collect_died(events, ids_rx));
    let mut pollers = Vec::new();

    let mut sandboxes = Vec::new();
    let result = async {
        for i in 0..containers.div_ceil(per_sandbox) {
            sandboxes.push(run_sandbox(rt, &run, i).await?);
        }
        let mut ids = Vec::with_capacity(containers);
        for i in 0..containers {
            let sandbox = &sandboxes[i / per_sandbox];
            let id = start_container(rt, sandbox, i).await?;
            if mode == Mode::CriFloor {
                pollers.push(tokio::spawn(poll_until_exited(rt.clone(), id.clone())));
            } else {
                pleg.notify_pod(sandbox.sandbox.uid());
            }
            ids.push(id);
        }
        // In the floor round the pollers report, not the (idle) PLEG.
        let _ = ids_tx.send(if mode == Mode::CriFloor {
            Vec::new()
        } else {
            ids.clone()
        });
        let died = tokio::time::timeout(Duration::from_secs(60), async {
            let mut died = collector.await?;
            for poller in pollers {
                let (id, seen) = poller.await??;
                died.insert(id, seen);
            }
            anyhow::Ok(died)
        })
        .await
        .context("not every container was reported dead within 60 s")??;
        let mut latencies = Vec::with_capacity(ids.len());
        for id in &ids {
            let status = rt
                .container_status(v1::ContainerStatusRequest {
                    container_id: id.clone(),
                    verbose: false,
                })
                .await?
                .status
                .context("ContainerStatus without status")?;
            let finished = UNIX_EPOCH + Duration::from_nanos(u64::try_from(status.finished_at)?);
            let received = *died
                .get(id)
                .with_context(|| format!("no ContainerDied for {id}"))?;
            // An event can only come after the exit; clocks are the same machine's.
            latencies.push(received.duration_since(finished).unwrap_or_default());
        }
        anyhow::Ok(latencies)
    }
    .await;
    let metrics = pleg.metrics();
    let _ = stop.send(());
    if let Some(task) = task {
        let _ = task.await;
    }
    teardown(rt, &sandboxes).await;
    Ok(Round {
        mode,
        latencies: result?,
        metrics,
    })
}

/// `ContainerDied` arrival times by container id, as they come off the PLEG's channel,
/// until every id sent on `ids` has one (or, without ids, at once).
async fn collect_died(
    mut events: mpsc::Receiver<PodLifecycleEvent>,
    ids: oneshot::Receiver<Vec<String>>,
) -> HashMap<String, SystemTime> {
    let mut died: HashMap<String, SystemTime> = HashMap::new();
    let mut wanted: Option<Vec<String>> = None;
    let mut ids = Some(ids);
    loop {
        if let Some(w) = &wanted
            && w.iter().all(|id| died.contains_key(id))
        {
            return died;
        }
        tokio::select! {
            got = async { ids.as_mut().expect("pending").await }, if ids.is_some() => {
                ids = None;
                wanted = Some(got.unwrap_or_default());
            }
            event = events.recv() => match event {
                Some(e) if e.kind == PodLifecycleEventKind::ContainerDied => {
                    died.entry(e.id).or_insert_with(SystemTime::now);
                }
                Some(_) => {}
                None => return died,
            },
        }
    }
}

/// [`Mode::CriFloor`]: poll one container until the CRI reports it exited.
async fn poll_until_exited(
    rt: Arc<GrpcRuntime>,
    id: String,
) -> anyhow::Result<(String, SystemTime)> {
    // Poll only from shortly before the exit is due, so that the polling itself does not
    // load containerd (2 cores) and slow the very exits it measures.
    tokio::time::sleep(FLOOR_QUIET).await;
    loop {
        let status = rt
            .container_status(v1::ContainerStatusRequest {
                container_id: id.clone(),
                verbose: false,
            })
            .await?
            .status
            .context("ContainerStatus without status")?;
        if status.state() == v1::ContainerState::ContainerExited {
            return Ok((id, SystemTime::now()));
        }
        tokio::time::sleep(FLOOR_POLL).await;
    }
}

fn table(rounds: &[Round]) -> String {
    let mut out = String::from(
        "| detection | exits | median (ms) | p99 (ms) | max (ms) | found by exit watcher | found by relist |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in rounds {
        let died = r.metrics.died_events;
        let (watcher, relist) = match r.mode {
            Mode::CriFloor => ("–".to_string(), "–".to_string()),
            _ => (
                died.exit_watcher.to_string(),
                (died.relist + died.request).to_string(),
            ),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {watcher} | {relist} |\n",
            r.mode.label(),
            r.latencies.len(),
            ms(r.percentile(0.5)),
            ms(r.percentile(0.99)),
            ms(r.max()),
        ));
    }
    out
}

const BEGIN: &str = "<!-- exit-detection: written by benches/exit_detection.rs -->";
const END: &str = "<!-- /exit-detection -->";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (_, rt) = common::runtime().await?;
    let rt = Arc::new(rt);
    // Its sandboxes stay out of an agent's way (an agent removes the sandboxes it does not
    // know).
    let _lock = RuntimeLock::shared()?;
    let version = rt.version(v1::VersionRequest::default()).await?;

    // A short warm-up round of each, so the first measured exits do not pay for cold
    // caches in containerd and the shim.
    const MODES: [Mode; 3] = [Mode::CriFloor, Mode::ExitWatchers, Mode::RelistOnly];
    for mode in MODES {
        pl_01_exit_detection_round(&rt, mode, 2, 2).await?;
    }
    let mut rounds = Vec::new();
    for mode in MODES {
        let r = pl_01_exit_detection_round(&rt, mode, args.containers, args.per_sandbox).await?;
        eprintln!(
            "{}: median {} ms, p99 {} ms over {} exits",
            mode.label(),
            ms(r.percentile(0.5)),
            ms(r.percentile(0.99)),
            r.latencies.len()
        );
        rounds.push(r);
    }
    let body = table(&rounds);
    println!("{body}");

    if let Some(path) = args.write {
        let section = format!(
            "{BEGIN}\n## Container exit detection (`benches/exit_detection.rs`)\n\n\
             Measured {} on {}; runtime {} {} (CRI {}), which offers no CRI container events.\n\n\
             {} busybox containers (`sh -c '{SCRIPT}'`, {} per host-network sandbox, each \
             sandbox with a `cgroup_parent`) started one after another under a running `Pleg`; \
             for each, the time from its CRI `finished_at` (containerd's shim saw the exit) \
             to its `ContainerDied` event leaving the PLEG's channel, by which time the cache \
             holds the exit. Budget: 100 ms.\n\n\
             {body}\n\
             The floor row is the earliest any CRI client can know: containerd 1.6 reports a \
             container exited over the CRI only after it has deleted the task (its \
             `handleContainerExit` runs `runc delete` first). The exit watcher wakes on the pidfd at the exit itself, then \
             waits for that CRI state (so the cache never lags the event) and relists the \
             pod; the relist alone adds up to one relist period on top.\n\n\
             Reproduce: `cargo xtask bench` (runs `cargo bench --bench exit_detection`).\n{END}",
            common::today(),
            common::machine(),
            version.runtime_name,
            version.runtime_version,
            version.runtime_api_version,
            args.containers,
            args.per_sandbox,
        );
        common::write_section(&path, BEGIN, END, &section)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
