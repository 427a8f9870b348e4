//! Pod start-up through nodelet, against the raw-CRI baseline taken in the same run.
//!
//! For each N (default 1, 30, 110): the raw CRI starts N pods (RunPodSandbox +
//! CreateContainer + StartContainer of one busybox `sleep 3600` per pod, CNI networking, as
//! `benches/startup.rs`) with all N in flight and with 4 in flight, and tears them down; then
//! a fresh release `nodelet` gets N static pod manifests of the same workload written into its
//! manifest directory at once, and the bench polls its `/pods` every 50 ms until all N pods are
//! Running with their container running, then removes the manifests and waits until `/pods`
//! is empty and the runtime holds no sandbox of the bench's node. nodelet starts every pod at
//! once (one worker per pod), so the ratio that matches its concurrency is the one against
//! "all in flight"; the one against 4 in flight is reported too. N below 10 is repeated
//! [`SMALL_REPEATS`] times (medians reported), because one pod is ~100 ms and the polling
//! alone is 50 ms.
//!
//! With the largest N running and nothing changing, nodelet's RSS (`VmRSS`) and CPU
//! (utime + stime over `--idle-seconds`, as % of one core) are read from `/proc`.
//!
//! Run through `cargo xtask bench`, which starts the environment and passes
//! `NODELET_CRI_ENDPOINT`. Flags: `--sizes 1,30,110`, `--idle-seconds 60`,
//! `--write <path>` (default `docs/benchmarks.md`), `--no-write`. Set `NODELET_BENCH_KEEP` to
//! keep the temporary directory (manifests, configs, nodelet's logs).

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use common::{RAW_NAMESPACE, ms, raw_start_teardown};
use cri_client::{GrpcRuntime, RuntimeService, v1};
use pod_lifecycle::labels;
use test_env::RuntimeLock;

const BEGIN: &str = "<!-- nodelet-startup: written by benches/nodelet_startup.rs -->";
const END: &str = "<!-- /nodelet-startup -->";

/// How often `/pods` (and, in teardown, the runtime) is polled.
const POLL: Duration = Duration::from_millis(50);
/// Sizes below 10 pods are measured this many times; the medians are reported.
const SMALL_REPEATS: usize = 5;
/// The wait after all pods run before the idle window opens (statuses settle).
const SETTLE: Duration = Duration::from_secs(5);
/// The namespace of nodelet's bench pods.
const NAMESPACE: &str = "nodelet-bench";
/// The DESIGN budgets.
const BUDGET_RATIO: f64 = 1.10;
const BUDGET_RSS_MIB: f64 = 32.0;
const BUDGET_CPU_PERCENT: f64 = 1.0;

#[derive(Debug, Clone)]
struct Args {
    sizes: Vec<usize>,
    idle_seconds: u64,
    write: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        sizes: vec![1, 30, 110],
        idle_seconds: 60,
        write: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md").to_string()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--sizes" => args.sizes = common::list(&it.next().context("--sizes needs a value")?)?,
            "--idle-seconds" => {
                args.idle_seconds = it
                    .next()
                    .context("--idle-seconds needs a value")?
                    .parse()
                    .context("--idle-seconds")?
            }
            "--write" => args.write = Some(it.next().context("--write needs a path")?),
            "--no-write" => args.write = None,
            other => bail!("unknown argument {other:?}"),
        }
    }
    if args.sizes.is_empty() || args.sizes.contains(&0) {
        bail!("--sizes needs positive numbers");
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------
// nodelet as a child process

/// The release `nodelet` binary next to this bench's own target directory, built (or brought
/// up to date) with `cargo build --release -p agent --bin nodelet`.
fn nodelet_binary() -> anyhow::Result<PathBuf> {
    // This bench runs as <target>/release/deps/nodelet_startup-<hash>.
    let exe = std::env::current_exe().context("current_exe")?;
    let release = exe
        .parent()
        .and_then(Path::parent)
        .context("the bench binary is not in <target>/<profile>/deps")?
        .to_path_buf();
    let binary = release.join("nodelet");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building nodelet: cargo build --release -p agent --bin nodelet");
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "agent", "--bin", "nodelet"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p agent --bin nodelet: {status}");
    }
    if !binary.is_file() {
        bail!("{} is missing after the build", binary.display());
    }
    Ok(binary)
}

/// The run's temporary directory, removed on drop (unless `NODELET_BENCH_KEEP` is set).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> anyhow::Result<TempDir> {
        let dir = std::env::temp_dir().join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("NODELET_BENCH_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
        } else if let Err(e) = fs::remove_dir_all(&self.0) {
            eprintln!("cleanup: removing {}: {e}", self.0.display());
        }
    }
}

/// One running nodelet; dropping it stops it (SIGTERM, SIGKILL after 10 s).
struct Nodelet {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

impl Nodelet {
    /// Starts `binary` as node `node` with its state under `dir` and waits for `/healthz`.
    async fn start(binary: &Path, endpoint: &str, node: &str, dir: &Path) -> anyhow::Result<Self> {
        for sub in ["manifests", "root", "logs"] {
            fs::create_dir_all(dir.join(sub))?;
        }
        let [port, healthz_port] = test_env::free_ports()?;
        // Everything else is the kubelet's default (fileCheckFrequency 20 s, syncFrequency
        // 1 m, maxPods 110): the idle figures are those of a default configuration.
        let config = format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\n\
             kind: KubeletConfiguration\n\
             address: 127.0.0.1\n\
             port: {port}\n\
             healthzPort: {healthz_port}\n\
             healthzBindAddress: 127.0.0.1\n\
             readOnlyPort: 0\n\
             staticPodPath: {manifests}\n\
             containerRuntimeEndpoint: {endpoint}\n\
             cgroupRoot: /nodelet-bench\n\
             podLogsDir: {logs}\n",
            manifests = dir.join("manifests").display(),
            logs = dir.join("logs").display(),
        );
        fs::write(dir.join("kubelet.yaml"), config)?;
        let log = File::create(dir.join("nodelet.log"))?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(dir.join("kubelet.yaml"))
            .arg("--root-dir")
            .arg(dir.join("root"))
            .arg("--node-name")
            .arg(node)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut nodelet = Nodelet {
            child: Some(child),
            dir: dir.to_path_buf(),
            port,
        };
        let healthz = SocketAddr::from(([127, 0, 0, 1], healthz_port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = nodelet
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                nodelet.child = None;
                bail!(
                    "nodelet exited during start-up with {status}\n{}",
                    nodelet.log_tail(30)
                );
            }
            match http_get(healthz, "/healthz").await {
                Ok((200, body)) if body == "ok" => break,
                last if Instant::now() > deadline => {
                    bail!(
                        "nodelet did not answer /healthz in 30 s: {last:?}\n{}",
                        nodelet.log_tail(30)
                    )
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
        // Let the first relist and the source's first scan pass before anything is measured.
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(nodelet)
    }

    fn pid(&self) -> anyhow::Result<u32> {
        Ok(self.child.as_ref().context("nodelet is not running")?.id())
    }

    fn manifest_dir(&self) -> PathBuf {
        self.dir.join("manifests")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("nodelet.log")
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.log_file()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// `/pods`, reduced to what the bench looks at.
    async fn pods(&mut self) -> anyhow::Result<Vec<PodView>> {
        if let Some(status) = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
        {
            self.child = None;
            bail!("nodelet exited with {status}\n{}", self.log_tail(30));
        }
        let (code, body) = http_get(SocketAddr::from(([127, 0, 0, 1], self.port)), "/pods").await?;
        if code != 200 {
            bail!("GET /pods: {code} {body}");
        }
        let list: serde_json::Value = serde_json::from_str(&body).context("/pods is not JSON")?;
        Ok(list["items"]
            .as_array()
            .map(|items| items.iter().map(PodView::from_json).collect())
            .unwrap_or_default())
    }

    fn stop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        if !test_env::stop_child(child, Duration::from_secs(10)) {
            eprintln!("nodelet ({pid}) ignored SIGTERM for 10 s; SIGKILL");
        }
    }
}

impl Drop for Nodelet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A pod in `/pods`.
#[derive(Debug)]
struct PodView {
    name: String,
    /// Phase Running and every container's state `running`.
    running: bool,
    summary: String,
}

impl PodView {
    fn from_json(pod: &serde_json::Value) -> PodView {
        let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
        let phase = pod["status"]["phase"].as_str().unwrap_or("");
        let containers = pod["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let states: Vec<String> = containers
            .iter()
            .map(|c| {
                c["state"]
                    .as_object()
                    .and_then(|s| s.keys().next().cloned())
                    .unwrap_or_else(|| "none".into())
            })
            .collect();
        let running = phase == "Running"
            && !containers.is_empty()
            && containers.iter().all(|c| c["state"]["running"].is_object());
        PodView {
            summary: format!("{name} {phase} [{}]", states.join(",")),
            name,
            running,
        }
    }
}

/// [`test_env::http_get`] (a plain HTTP/1.1 GET: the status code and the body), on the
/// blocking pool so the bench's runtime keeps running meanwhile.
async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || test_env::http_get(addr, &owned))
        .await?
        .with_context(|| format!("GET {path}"))
}

/// The static pod manifest of bench pod `name`: the raw workload (one busybox `sleep 3600`,
/// pod network). `sleep` as PID 1 ignores SIGTERM, so with grace 0 the kubelet's rules stop it
/// with the 2 s container minimum.
fn manifest(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\n\
         spec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: sleep\n    \
         image: {}\n    command: [\"sleep\", \"3600\"]\n",
        test_env::busybox_image()
    )
}

// ---------------------------------------------------------------------------------------
// measurements

/// One start + teardown of N pods through nodelet.
#[derive(Debug, Clone)]
struct NodeletRun {
    /// Manifests in place → all N Running with their container running on `/pods`.
    start: Duration,
    /// Per pod: manifests in place → first poll that saw it running.
    per_pod: Vec<Duration>,
    /// Manifests in place → the runtime created the first sandbox (CRI `created_at`).
    first_sandbox: Duration,
    /// Manifests in place → the runtime started the last container (CRI `started_at`).
    last_started: Duration,
    /// Manifests removed → `/pods` empty and no sandbox of the node.
    teardown: Duration,
    /// Manifests removed → no sandbox of the node (first poll that saw it).
    sandboxes_gone: Duration,
    /// Manifests removed → `/pods` empty (first poll that saw it).
    pods_gone: Duration,
}

/// Idle footprint with N pods running.
#[derive(Debug, Clone)]
struct Idle {
    pods: usize,
    seconds: f64,
    rss_start_kib: u64,
    rss_end_kib: u64,
    hwm_kib: u64,
    threads: u64,
    cpu_percent: f64,
    log_lines: usize,
    /// CPU seconds nodelet spent from its start to the end of the start phase of N pods.
    start_cpu_seconds: f64,
}

/// The figures of one N.
#[derive(Debug, Clone)]
struct Row {
    pods: usize,
    repeats: usize,
    nodelet: NodeletRun,
    raw_all: (Duration, Duration),
    raw_4: (Duration, Duration),
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn unix_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn since(origin_ns: i64, ns: i64) -> Duration {
    Duration::from_nanos(ns.saturating_sub(origin_ns).max(0) as u64)
}

/// The sandboxes of `node` (by nodelet's node label or the static pod name suffix).
async fn node_sandboxes(rt: &GrpcRuntime, node: &str) -> anyhow::Result<Vec<v1::PodSandbox>> {
    let suffix = format!("-{node}");
    Ok(rt
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await?
        .items
        .into_iter()
        .filter(|s| {
            s.labels.get(labels::NODE_NAME).map(String::as_str) == Some(node)
                || s.metadata
                    .as_ref()
                    .is_some_and(|m| m.name.ends_with(&suffix))
        })
        .collect())
}

/// Write N manifests at once, wait until all run, (optionally measure idle), remove them and
/// wait until everything is gone.
async fn nodelet_run(
    rt: &GrpcRuntime,
    nodelet: &mut Nodelet,
    node: &str,
    pods: usize,
    idle: Option<(Duration, f64)>,
) -> anyhow::Result<(NodeletRun, Option<Idle>)> {
    let timeout = Duration::from_secs(60) + Duration::from_secs(pods as u64);
    let dir = nodelet.manifest_dir();
    let files: Vec<String> = (0..pods).map(|i| format!("bench-{i}.yaml")).collect();
    // Written as dot files (ignored by the source), then renamed into place back to back.
    for (i, file) in files.iter().enumerate() {
        fs::write(
            dir.join(format!(".{file}")),
            manifest(&format!("bench-{i}")),
        )?;
    }
    let wall_origin = unix_ns(SystemTime::now());
    let origin = Instant::now();
    eprintln!("  start of {pods} pods from {}", jiff::Timestamp::now());
    for file in &files {
        fs::rename(dir.join(format!(".{file}")), dir.join(file))?;
    }
    let mut seen: BTreeMap<String, Duration> = BTreeMap::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = loop {
        tick.tick().await;
        let now = origin.elapsed();
        let current = nodelet.pods().await?;
        for p in current.iter().filter(|p| p.running) {
            seen.entry(p.name.clone()).or_insert(now);
        }
        let running = current.iter().filter(|p| p.running).count();
        if running == pods && current.len() == pods {
            break now;
        }
        if now > timeout {
            let states: Vec<&str> = current
                .iter()
                .filter(|p| !p.running)
                .map(|p| p.summary.as_str())
                .take(10)
                .collect();
            bail!(
                "{running} of {pods} pods running after {timeout:?}; not running: {states:?}\n{}",
                nodelet.log_tail(40)
            );
        }
    };
    let start_cpu_seconds = cpu_seconds(nodelet.pid()?)?;

    // When the runtime saw the first sandbox and the last container start.
    let sandboxes = node_sandboxes(rt, node).await?;
    let first_sandbox = sandboxes
        .iter()
        .map(|s| since(wall_origin, s.created_at))
        .min()
        .unwrap_or_default();
    let mut last_started = Duration::ZERO;
    for s in &sandboxes {
        let containers = rt
            .list_containers(v1::ListContainersRequest {
                filter: Some(v1::ContainerFilter {
                    pod_sandbox_id: s.id.clone(),
                    ..Default::default()
                }),
            })
            .await?
            .containers;
        for c in containers {
            let status = rt
                .container_status(v1::ContainerStatusRequest {
                    container_id: c.id,
                    verbose: false,
                })
                .await?;
            if let Some(st) = status.status {
                last_started = last_started.max(since(wall_origin, st.started_at));
            }
        }
    }

    let idle = match idle {
        Some((window, clk_tck)) => {
            Some(df_05_idle_footprint(nodelet, pods, window, clk_tck, start_cpu_seconds).await?)
        }
        None => None,
    };

    // Teardown.
    let origin = Instant::now();
    eprintln!("  teardown of {pods} pods from {}", jiff::Timestamp::now());
    for file in &files {
        fs::remove_file(dir.join(file))?;
    }
    let mut pods_gone = None;
    let mut sandboxes_gone = None;
    let (teardown, sandboxes_gone, pods_gone) = loop {
        tick.tick().await;
        let now = origin.elapsed();
        let current = nodelet.pods().await?;
        let left = node_sandboxes(rt, node).await?.len();
        if current.is_empty() {
            pods_gone.get_or_insert(now);
        }
        if left == 0 {
            sandboxes_gone.get_or_insert(now);
        }
        if let (Some(p), Some(s)) = (pods_gone, sandboxes_gone) {
            break (now, s, p);
        }
        if now > timeout {
            bail!(
                "teardown of {pods} pods: after {timeout:?} {} pods in /pods, {left} sandboxes\n{}",
                current.len(),
                nodelet.log_tail(40)
            );
        }
    };
    let mut per_pod: Vec<Duration> = seen.into_values().collect();
    per_pod.sort();
    Ok((
        NodeletRun {
            start,
            per_pod,
            first_sandbox,
            last_started,
            teardown,
            sandboxes_gone,
            pods_gone,
        },
        idle,
    ))
}

fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("bad /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .context("bad /proc/<pid>/stat")
    };
    Ok(field(11)? + field(12)?)
}

fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    Ok(cpu_ticks(pid)? as f64 / common::clk_tck())
}

/// DF-05: nodelet's footprint (RSS, CPU, threads) with the pods running and nothing changing.
async fn df_05_idle_footprint(
    nodelet: &mut Nodelet,
    pods: usize,
    window: Duration,
    clk_tck: f64,
    start_cpu_seconds: f64,
) -> anyhow::Result<Idle> {
    tokio::time::sleep(SETTLE).await;
    let pid = nodelet.pid()?;
    eprintln!(
        "nodelet: {pods} pods running; idle window of {} s",
        window.as_secs()
    );
    let lines_before = fs::read_to_string(nodelet.log_file())?.lines().count();
    let rss_start_kib = proc_status_kib(pid, "VmRSS:")?;
    let t0 = Instant::now();
    let ticks0 = cpu_ticks(pid)?;
    // Nothing touches nodelet in the window: no /pods polling.
    tokio::time::sleep(window).await;
    let ticks1 = cpu_ticks(pid)?;
    let seconds = t0.elapsed().as_secs_f64();
    let rss_end_kib = proc_status_kib(pid, "VmRSS:")?;
    let hwm_kib = proc_status_kib(pid, "VmHWM:")?;
    let threads = proc_status_kib(pid, "Threads:")?;
    let log_lines = fs::read_to_string(nodelet.log_file())?
        .lines()
        .count()
        .saturating_sub(lines_before);
    // Still all running at the end of the window?
    let running = nodelet.pods().await?.iter().filter(|p| p.running).count();
    if running != pods {
        bail!("only {running} of {pods} pods running after the idle window");
    }
    Ok(Idle {
        pods,
        seconds,
        rss_start_kib,
        rss_end_kib,
        hwm_kib,
        threads,
        cpu_percent: (ticks1 - ticks0) as f64 / clk_tck / seconds * 100.0,
        log_lines,
        start_cpu_seconds,
    })
}

/// Raw CRI start and teardown wall times of N pods with `concurrency` in flight; medians over
/// `repeats`.
async fn raw(
    rt: &GrpcRuntime,
    run: &str,
    pods: usize,
    concurrency: usize,
    repeats: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let mut starts = Vec::new();
    let mut teardowns = Vec::new();
    for r in 0..repeats {
        let run = format!("{run}-{pods}-{concurrency}-{r}");
        let (start, teardown) = raw_start_teardown(rt, &run, pods, concurrency).await?;
        starts.push(start.wall);
        teardowns.push(teardown.wall);
    }
    Ok((median(starts), median(teardowns)))
}

struct Run {
    rows: Vec<Row>,
    idle: Option<Idle>,
    version: v1::VersionResponse,
}

/// DF-04: pod start-up through nodelet, from the manifests in place to every pod Running,
/// against the raw CRI calls of the same run.
async fn df_04_pod_startup_through_nodelet(
    args: &Args,
    endpoint: &str,
    rt: &GrpcRuntime,
    run: &str,
    node: &str,
    tmp: &Path,
) -> anyhow::Result<Run> {
    let binary = nodelet_binary()?;
    let version = rt.version(v1::VersionRequest::default()).await?;
    let clk = common::clk_tck();
    let idle_size = args.sizes.iter().copied().max().unwrap_or(0);
    // One warm-up pod so the first measured pod does not pay for cold caches.
    raw_start_teardown(rt, &format!("{run}-warm"), 1, 1).await?;

    let mut rows = Vec::new();
    let mut idle = None;
    for &pods in &args.sizes {
        let repeats = if pods < 10 { SMALL_REPEATS } else { 1 };
        let raw_all = raw(rt, run, pods, pods, repeats).await?;
        eprintln!(
            "raw CRI, {pods} pods, all in flight: start {} ms, teardown {} ms",
            ms(raw_all.0),
            ms(raw_all.1)
        );
        let raw_4 = raw(rt, run, pods, 4, repeats).await?;
        eprintln!(
            "raw CRI, {pods} pods, 4 in flight: start {} ms, teardown {} ms",
            ms(raw_4.0),
            ms(raw_4.1)
        );

        // A fresh nodelet per size, warmed up by one pod.
        let mut nodelet =
            Nodelet::start(&binary, endpoint, node, &tmp.join(format!("n{pods}"))).await?;
        nodelet_run(rt, &mut nodelet, node, 1, None)
            .await
            .context("nodelet warm-up pod")?;
        let mut runs = Vec::new();
        for r in 0..repeats {
            let with_idle = (pods == idle_size && r == 0 && args.idle_seconds > 0)
                .then(|| (Duration::from_secs(args.idle_seconds), clk));
            let (one, measured) = nodelet_run(rt, &mut nodelet, node, pods, with_idle)
                .await
                .with_context(|| format!("nodelet, {pods} pods"))?;
            eprintln!(
                "nodelet, {pods} pods: all running after {} ms (first sandbox created at {} ms, \
                 last container started at {} ms); teardown: sandboxes gone after {} ms, \
                 /pods empty after {} ms",
                ms(one.start),
                ms(one.first_sandbox),
                ms(one.last_started),
                ms(one.sandboxes_gone),
                ms(one.pods_gone)
            );
            if let Some(m) = measured {
                eprintln!(
                    "nodelet idle with {pods} pods: RSS {} KiB (peak {} KiB), CPU {:.2} % of a core",
                    m.rss_end_kib, m.hwm_kib, m.cpu_percent
                );
                idle = Some(m);
            }
            runs.push(one);
        }
        nodelet.stop();
        // The median run by start time; its other figures come with it.
        runs.sort_by_key(|r| r.start);
        let mut nodelet_figures = runs[runs.len() / 2].clone();
        nodelet_figures.teardown = median(runs.iter().map(|r| r.teardown).collect());
        nodelet_figures.sandboxes_gone = median(runs.iter().map(|r| r.sandboxes_gone).collect());
        nodelet_figures.pods_gone = median(runs.iter().map(|r| r.pods_gone).collect());
        rows.push(Row {
            pods,
            repeats,
            nodelet: nodelet_figures,
            raw_all,
            raw_4,
        });
    }
    Ok(Run {
        rows,
        idle,
        version,
    })
}

/// Stops and removes every sandbox this run may have left: nodelet's (node label or name
/// suffix) and the raw ones (UIDs starting with `run`).
async fn cleanup(rt: &GrpcRuntime, run: &str, node: &str) -> anyhow::Result<()> {
    let all = rt
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await?
        .items;
    let suffix = format!("-{node}");
    let ours = all.into_iter().filter(|s| {
        s.labels.get(labels::NODE_NAME).map(String::as_str) == Some(node)
            || s.metadata.as_ref().is_some_and(|m| {
                m.name.ends_with(&suffix)
                    || (m.namespace == RAW_NAMESPACE && m.uid.starts_with(&format!("{run}-")))
            })
    });
    for s in ours {
        eprintln!("cleanup: removing sandbox {}", s.id);
        let (pod, uid) = s.metadata.as_ref().map_or_else(
            || ("?/?".to_string(), String::new()),
            |m| (format!("{}/{}", m.namespace, m.name), m.uid.clone()),
        );
        if let Err(e) = test_env::remove_sandbox(rt, &s.id, &pod, &uid).await {
            eprintln!("cleanup: {e}");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// report

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn table(rows: &[Row]) -> String {
    let within = |x: f64| {
        if x <= BUDGET_RATIO {
            format!("{x:.2}")
        } else {
            format!("**{x:.2}** (over)")
        }
    };
    let mut start = String::from(
        "| pods | runs | nodelet: all Running on `/pods` (ms) | raw, all in flight (ms) \
         | raw, 4 in flight (ms) | nodelet / raw all in flight | nodelet / raw 4 in flight |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut breakdown = String::from(
        "| pods | first sandbox created (ms) | last container started (ms) \
         | all Running on `/pods` (ms) | each pod first seen Running, median / max (ms) \
         | runtime span (first sandbox → last start) / raw all in flight |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut teardown = String::from(
        "| pods | nodelet: no sandbox of the node left (ms) | nodelet: `/pods` empty (ms) \
         | raw, all in flight (ms) | raw, 4 in flight (ms) |\n\
         |---|---|---|---|---|\n",
    );
    for r in rows {
        let n = &r.nodelet;
        start.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.pods,
            r.repeats,
            ms(n.start),
            ms(r.raw_all.0),
            ms(r.raw_4.0),
            within(ratio(n.start, r.raw_all.0)),
            within(ratio(n.start, r.raw_4.0)),
        ));
        breakdown.push_str(&format!(
            "| {} | {} | {} | {} | {} / {} | {:.2} |\n",
            r.pods,
            ms(n.first_sandbox),
            ms(n.last_started),
            ms(n.start),
            ms(n.per_pod[n.per_pod.len() / 2]),
            ms(n.per_pod[n.per_pod.len() - 1]),
            ratio(n.last_started.saturating_sub(n.first_sandbox), r.raw_all.0),
        ));
        teardown.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.pods,
            ms(n.sandboxes_gone),
            ms(n.pods_gone),
            ms(r.raw_all.1),
            ms(r.raw_4.1),
        ));
    }
    format!(
        "Start-up, from the manifests in place (nodelet) or the first call (raw) to all N pods \
         running:\n\n{start}\n\
         Where nodelet's time goes (the median run; from the manifests in place; the first two \
         columns are the runtime's own `created_at` and `started_at`, so they leave out the \
         status reporting and the 50 ms polling):\n\n{breakdown}\n\
         Teardown (nodelet: from the manifests' removal; raw: StopContainer with timeout 0, \
         RemoveContainer, StopPodSandbox, RemovePodSandbox):\n\n{teardown}"
    )
}

fn footprint(idle: &Option<Idle>, idle_seconds: u64) -> String {
    let Some(i) = idle else {
        return "Footprint not measured (`--idle-seconds 0`).\n".into();
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    let verdict = |ok: bool| {
        if ok {
            "within budget"
        } else {
            "**over budget**"
        }
    };
    let rss = mib(i.rss_end_kib);
    format!(
        "Footprint with {} pods running and nothing changing ({:.0} s window after a {} s \
         settle, `--idle-seconds {idle_seconds}`; nodelet's `/pods` is not polled in the \
         window):\n\n\
         | figure | measured | budget | |\n|---|---|---|---|\n\
         | RSS (`VmRSS`) at the end of the window | {rss:.1} MiB (start of window {:.1} MiB) \
         | {BUDGET_RSS_MIB:.0} MiB | {} |\n\
         | peak RSS (`VmHWM`, includes the start-up of the pods) | {:.1} MiB | – | |\n\
         | CPU (utime + stime over the window) | {:.2} % of one core | {BUDGET_CPU_PERCENT:.0} % \
         | {} |\n\
         | threads | {} | – | |\n\
         | log lines written in the window (default level) | {} | – | |\n\
         | CPU time from nodelet's start to all {} pods running | {:.2} s | – | |\n",
        i.pods,
        i.seconds,
        SETTLE.as_secs(),
        mib(i.rss_start_kib),
        verdict(rss < BUDGET_RSS_MIB),
        mib(i.hwm_kib),
        i.cpu_percent,
        verdict(i.cpu_percent < BUDGET_CPU_PERCENT),
        i.threads,
        i.log_lines,
        i.pods,
        i.start_cpu_seconds,
    )
}

fn verdicts(rows: &[Row]) -> String {
    let mut over = Vec::new();
    let mut within = Vec::new();
    for r in rows {
        let x = ratio(r.nodelet.start, r.raw_all.0);
        let s = format!("{} pods ({x:.2}x)", r.pods);
        if x <= BUDGET_RATIO {
            within.push(s);
        } else {
            over.push(s);
        }
    }
    let mut out = format!(
        "Start-up budget ({BUDGET_RATIO:.2}x the raw CRI with the same concurrency, i.e. all in \
         flight): "
    );
    if over.is_empty() {
        out.push_str(&format!("met at {}.", within.join(", ")));
    } else {
        out.push_str(&format!("**missed** at {}", over.join(", ")));
        if !within.is_empty() {
            out.push_str(&format!("; met at {}", within.join(", ")));
        }
        out.push('.');
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (env, rt) = common::runtime().await?;
    // Takes the runtime for one agent, as the e2e harness does (other suites hold the lock
    // shared while they create sandboxes).
    let _lock = RuntimeLock::exclusive()?;
    let run = format!("nb{:x}", std::process::id());
    let node = format!("nodelet-bench-{}", std::process::id());
    let tmp = TempDir::new(&format!("nodelet-startup-bench-{}", std::process::id()))?;

    // The measurement runs as a task so that a panic or Ctrl-C still reaches the cleanup;
    // aborting it drops the nodelet guard, which stops nodelet before the sandboxes go.
    let mut task = tokio::spawn({
        let args = args.clone();
        let rt = rt.clone();
        let (run, node, dir) = (run.clone(), node.clone(), tmp.0.clone());
        let endpoint = env.cri_endpoint.clone();
        async move { df_04_pod_startup_through_nodelet(&args, &endpoint, &rt, &run, &node, &dir).await }
    });
    let result = tokio::select! {
        joined = &mut task => match joined {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the bench task failed: {e}")),
        },
        _ = tokio::signal::ctrl_c() => {
            task.abort();
            let _ = (&mut task).await;
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    if let Err(e) = cleanup(&rt, &run, &node).await {
        eprintln!("cleanup: {e}");
    }
    let result = result?;

    let body = table(&result.rows);
    let footprint = footprint(&result.idle, args.idle_seconds);
    let verdicts = verdicts(&result.rows);
    println!("{body}\n{verdicts}\n\n{footprint}");

    if let Some(path) = args.write {
        let v = &result.version;
        let section = format!(
            "{BEGIN}\n## Pod start-up through nodelet (`benches/nodelet_startup.rs`)\n\n\
             Measured {} on {}; runtime {} {} (CRI {}), CNI bridge networking; nodelet built \
             with `--release`, default configuration (fileCheckFrequency 20 s, syncFrequency \
             1 m, info logging to a file).\n\n\
             Workload as the raw baseline: one busybox `sleep 3600` container per pod, pod \
             network. nodelet: N static pod manifests renamed into its manifest directory back \
             to back, then `/pods` polled every 50 ms (so up to 50 ms of each nodelet figure is \
             polling) until all N pods are Running with their container running; a fresh \
             nodelet per N, warmed up with one pod. Raw: RunPodSandbox + CreateContainer + \
             StartContainer per pod, in the same run just before, with all N in flight \
             (nodelet starts every pod at once, one worker per pod, so this is the comparison \
             the budget means) and with 4 in flight. Sizes below 10 pods are measured \
             {SMALL_REPEATS} times and the medians reported. Differences to the raw calls: \
             nodelet creates each pod's cgroup (`/nodelet-bench/kubepods/besteffort/pod<uid>`) \
             before its sandbox and mounts its `/etc/hosts` and termination-message file, \
             where the raw calls pass a `cgroup_parent` that runc creates; \
             nodelet makes more CRI calls per pod (ImageStatus, PodSandboxStatus, a status read \
             after each sync, the PLEG's relists); and its static pod source waits for 10 ms \
             without file events before it reads the directory (`COALESCE` in \
             `crates/agent/src/static_pods/watch.rs`), which is most of \"first sandbox \
             created\".\n\n\
             Teardown is bounded below by the kubelet's 2 s minimum container grace (`sleep` as \
             PID 1 ignores SIGTERM; the manifests set `terminationGracePeriodSeconds: 0`), \
             which the raw teardown (timeout 0) does not pay; a terminated pod leaves `/pods` \
             at the next housekeeping pass (every 2 s), after its sandbox is gone.\n\n\
             {body}\n{verdicts}\n\n{footprint}\n\
             Reproduce: `cargo xtask bench` (runs `cargo bench --bench nodelet_startup`).\n{END}",
            common::today(),
            common::machine(),
            v.runtime_name,
            v.runtime_version,
            v.runtime_api_version,
        );
        common::write_section(&path, BEGIN, END, &section)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
