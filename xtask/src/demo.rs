//! `cargo xtask demo`: `nodelet` running the example static pods on the local containerd.
//!
//! setup, build `nodelet`, copy `examples/manifests/` into a fresh directory under
//! `target/nodelet-env/demo/`, start nodelet on it (node `demo`), then redraw a table of
//! the pods from `/pods` every 2 s, with the runtime's own count of sandboxes and running
//! containers under it, until Ctrl-C (or `--for <secs>`, or `--once`). Stopping removes the
//! manifests so nodelet terminates the pods gracefully, waits for `/pods` to empty, stops
//! nodelet and tears the environment down, unless the environment was already running
//! before the demo started (then it is left as found).
//!
//! The demo is an agent on the runtime like the end-to-end tests: it holds the same
//! exclusive lock (`runtime.lock` in the environment directory) while nodelet runs.
//!
//! `--cluster` runs nodelet as a node of the local control plane instead: see
//! [`crate::demo_cluster`].

use std::fs::{self, File};
use std::io::{IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use nix::unistd::Pid;
use serde_json::Value;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Endpoint;

use crate::layout::{Layout, create_dir};
use crate::steps::cargo;
use crate::{cmd, cri, demo_cluster, down, process, setup};

/// The demo's node name: static pods are called `<name>-demo`.
const NODE_NAME: &str = "demo";
/// How often the table is redrawn.
const REFRESH: Duration = Duration::from_secs(2);
/// How long the pods get to terminate once their manifests are gone.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `--once` waits for the pods to settle.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The kubelet's ports, used when free.
pub const DEFAULT_PORT: u16 = 10250;
pub const DEFAULT_HEALTHZ_PORT: u16 = 10248;

const USAGE: &str = "usage: cargo xtask demo [--for <secs> | --once | --cluster]";

/// Which demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The static pods of `examples/manifests/`, until the time given.
    Static(Until),
    /// `--cluster`: nodelet as a node of the local control plane ([`demo_cluster`]); it
    /// stops by itself.
    Cluster,
}

/// When the demo stops by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Ctrl-C.
    Interrupted,
    /// After this long (`--for <secs>`).
    Elapsed(Duration),
    /// After one table of settled pods (`--once`).
    Settled,
}

fn parse_args(args: &[String]) -> Result<Mode> {
    match args {
        [] => Ok(Mode::Static(Until::Interrupted)),
        [flag] if flag == "--once" => Ok(Mode::Static(Until::Settled)),
        [flag] if flag == "--cluster" => Ok(Mode::Cluster),
        [flag, secs] if flag == "--for" => {
            let secs: u64 = secs
                .parse()
                .with_context(|| format!("--for takes seconds, not {secs:?}\n{USAGE}"))?;
            Ok(Mode::Static(Until::Elapsed(Duration::from_secs(secs))))
        }
        [flag] if flag.starts_with("--for=") => parse_args(&[
            "--for".to_owned(),
            flag.trim_start_matches("--for=").to_owned(),
        ]),
        _ => bail!("unexpected arguments {args:?}\n{USAGE}"),
    }
}

/// Runs the demo (see the module docs).
pub fn run(layout: &Layout, args: &[String]) -> Result<ExitCode> {
    let until = match parse_args(args)? {
        Mode::Static(until) => until,
        Mode::Cluster => return demo_cluster::run(layout),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("catching signals")?;
    }

    // An environment someone else started (a test run, a second terminal) is left running.
    let was_running = crate::containerd::is_running(layout);
    setup::run(layout)?;
    eprintln!("\nxtask: building nodelet");
    let mut build = cargo(layout);
    build.args(["build", "-p", "agent", "--bin", "nodelet"]);
    eprintln!("xtask: $ {}", cmd::display(&build));
    cmd::run(&mut build)?;
    let binary = target_dir(layout).join("debug").join("nodelet");
    if stop.load(Ordering::SeqCst) {
        bail!("interrupted");
    }

    let _lock = lock_runtime(layout)?;
    let demo = Demo::prepare(layout)?;
    let mut nodelet = demo.start(&binary)?;
    let shown = demo.show(&mut nodelet, until, &stop);
    let drained = demo.drain(&mut nodelet);
    eprintln!("xtask: stopping nodelet");
    nodelet.stop();
    let downed = if was_running {
        eprintln!("\nxtask: the environment was running before the demo; leaving it running");
        Ok(())
    } else {
        eprintln!("\nxtask: ==> down");
        down::run(layout)
    };
    shown?;
    drained?;
    downed?;
    Ok(ExitCode::SUCCESS)
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir(layout: &Layout) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => layout.workspace().join(dir),
        None => layout.workspace().join("target"),
    }
}

/// Takes the runtime for one agent: the lock the end-to-end tests take.
pub fn lock_runtime(layout: &Layout) -> Result<File> {
    let path = layout.base().join("runtime.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!(
            "xtask: waiting for {} (a nodelet test or another demo uses the runtime)",
            path.display()
        );
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(file)
}

/// The demo's directory and addresses.
#[derive(Debug)]
struct Demo {
    dir: PathBuf,
    endpoint: String,
    port: u16,
    healthz_port: u16,
}

impl Demo {
    /// A fresh `demo/` directory: the example manifests, the config file, empty root and
    /// logs directories. Stops a nodelet an interrupted demo left behind.
    fn prepare(layout: &Layout) -> Result<Demo> {
        let dir = layout.base().join("demo");
        stop_stale(&dir)?;
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let demo = Demo {
            endpoint: layout.cri_endpoint(),
            port: port_or_free(DEFAULT_PORT)?,
            healthz_port: port_or_free(DEFAULT_HEALTHZ_PORT)?,
            dir,
        };
        for sub in ["manifests", "root", "logs"] {
            create_dir(&demo.dir.join(sub))?;
        }
        let examples = layout.workspace().join("examples").join("manifests");
        let mut copied = 0;
        for entry in
            fs::read_dir(&examples).with_context(|| format!("reading {}", examples.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let to = demo
                    .manifests()
                    .join(path.file_name().context("a file name")?);
                fs::copy(&path, &to).with_context(|| format!("copying {}", path.display()))?;
                copied += 1;
            }
        }
        if copied == 0 {
            bail!("no manifests in {}", examples.display());
        }
        let config = format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\n\
             kind: KubeletConfiguration\n\
             port: {port}\n\
             healthzPort: {healthz}\n\
             staticPodPath: {manifests}\n\
             fileCheckFrequency: 5s\n\
             containerRuntimeEndpoint: {endpoint}\n\
             cgroupRoot: /nodelet-demo\n\
             podLogsDir: {logs}\n",
            port = demo.port,
            healthz = demo.healthz_port,
            manifests = demo.manifests().display(),
            endpoint = demo.endpoint,
            logs = demo.logs().display(),
        );
        fs::write(demo.config(), config).context("writing the demo's config file")?;
        Ok(demo)
    }

    fn manifests(&self) -> PathBuf {
        self.dir.join("manifests")
    }

    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    fn config(&self) -> PathBuf {
        self.dir.join("kubelet.yaml")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("nodelet.log")
    }

    fn api(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts nodelet in its own process group (a Ctrl-C is ours to handle: the pods are
    /// drained first) and waits for `/healthz`.
    fn start(&self, binary: &Path) -> Result<Nodelet> {
        let log = File::create(self.log_file()).context("creating nodelet.log")?;
        let child = Command::new(binary)
            .arg("--config")
            .arg(self.config())
            .arg("--root-dir")
            .arg(self.dir.join("root"))
            .arg("--node-name")
            .arg(NODE_NAME)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        fs::write(self.dir.join("nodelet.pid"), format!("{}\n", child.id()))?;
        let mut nodelet = Nodelet {
            child: Some(child),
            log: self.log_file(),
        };
        let healthz = SocketAddr::from(([127, 0, 0, 1], self.healthz_port));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            nodelet.check_alive()?;
            if matches!(http_get(healthz, "/healthz"), Ok((200, body)) if body == "ok") {
                return Ok(nodelet);
            }
            if Instant::now() > deadline {
                nodelet.stop();
                bail!(
                    "nodelet did not answer /healthz within 30 s\n{}",
                    nodelet.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn intro(&self) -> String {
        let rel = |p: PathBuf| p.display().to_string();
        format!(
            "nodelet runs the example pods on node {NODE_NAME:?} against {endpoint}\n\
             \x20 manifests       {manifests}  (add, edit or delete files to change pods)\n\
             \x20 nodelet log     {log}\n\
             \x20 container logs  {logs}/<namespace>_<pod>_<uid>/<container>/<restart>.log\n\
             \x20 pods            curl -s http://{api}/pods   (also /metrics /errors /configz)\n\
             \x20 health          curl -s http://127.0.0.1:{healthz}/healthz\n",
            endpoint = self.endpoint,
            manifests = rel(self.manifests()),
            log = rel(self.log_file()),
            logs = rel(self.logs()),
            api = self.api(),
            healthz = self.healthz_port,
        )
    }

    /// Redraws the table until `until` or a signal.
    fn show(&self, nodelet: &mut Nodelet, until: Until, stop: &AtomicBool) -> Result<()> {
        let started = Instant::now();
        let tty = std::io::stdout().is_terminal();
        let footer = match until {
            Until::Interrupted => "Ctrl-C stops the demo (the pods are terminated first)",
            Until::Elapsed(_) => "stops by itself (--for); Ctrl-C stops sooner",
            Until::Settled => "stops once the pods have settled (--once)",
        };
        if !tty {
            println!("{}", self.intro());
        }
        loop {
            nodelet.check_alive()?;
            let pods = self.pods()?;
            let table = render_table(&pods, SystemTime::now());
            let runtime = runtime_line(&self.endpoint, &pods);
            let web = web_line(&pods);
            let mut out = std::io::stdout().lock();
            if tty {
                // Clear the screen and redraw: a live table.
                writeln!(out, "\x1b[2J\x1b[H{}", self.intro())?;
            } else {
                writeln!(out, "--- {:.0?} ---", started.elapsed())?;
            }
            writeln!(out, "{table}{runtime}\n{web}")?;
            if tty {
                writeln!(out, "\n{footer}")?;
            }
            out.flush()?;
            drop(out);

            let done = match until {
                Until::Interrupted => false,
                Until::Elapsed(d) => started.elapsed() >= d,
                Until::Settled => settled(&pods) || started.elapsed() >= SETTLE_TIMEOUT,
            };
            if done {
                return Ok(());
            }
            let next = Instant::now() + REFRESH;
            while Instant::now() < next {
                if stop.load(Ordering::SeqCst) {
                    println!("\ninterrupted");
                    return Ok(());
                }
                if let Until::Elapsed(d) = until
                    && started.elapsed() >= d
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Removes the manifests, so nodelet terminates the pods gracefully, and waits until
    /// `/pods` is empty.
    fn drain(&self, nodelet: &mut Nodelet) -> Result<()> {
        println!(
            "\nremoving the manifests from {}: nodelet terminates the pods",
            self.manifests().display()
        );
        for entry in fs::read_dir(self.manifests())? {
            let path = entry?.path();
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut last_table = String::new();
        loop {
            nodelet.check_alive()?;
            let pods = self.pods()?;
            if pods.is_empty() {
                println!(
                    "all pods are gone from /pods {}",
                    runtime_line(&self.endpoint, &pods).trim()
                );
                return Ok(());
            }
            let table = render_table(&pods, SystemTime::now());
            if table != last_table {
                println!("{table}");
                last_table = table;
            }
            if Instant::now() > deadline {
                bail!(
                    "pods still listed {DRAIN_TIMEOUT:?} after their manifests were removed\n{}",
                    nodelet.log_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn pods(&self) -> Result<Vec<Value>> {
        let (code, body) = http_get(self.api(), "/pods").context("GET /pods")?;
        if code != 200 {
            bail!("GET /pods: {code}: {body}");
        }
        let list: Value = serde_json::from_str(&body).context("decoding /pods")?;
        let mut items = list["items"].as_array().cloned().unwrap_or_default();
        items.sort_by(|a, b| str_at(a, "/metadata/name").cmp(str_at(b, "/metadata/name")));
        Ok(items)
    }
}

/// A nodelet child process.
#[derive(Debug)]
pub struct Nodelet {
    child: Option<Child>,
    log: PathBuf,
}

impl Nodelet {
    /// The nodelet `child`, which writes to `log`; stopped when dropped.
    pub fn new(child: Child, log: PathBuf) -> Nodelet {
        Nodelet {
            child: Some(child),
            log,
        }
    }

    /// Its pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Fails, with the end of its log, once it has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            bail!("nodelet is not running");
        };
        if let Some(status) = child.try_wait()? {
            self.child = None;
            bail!("nodelet exited with {status}\n{}", self.log_tail(30));
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(child.id() as i32);
            if let Err(e) = process::terminate(pid, Duration::from_secs(10)) {
                eprintln!("xtask: stopping nodelet: {e:#}");
            }
            let _ = child.wait();
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Nodelet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops the nodelet of an earlier demo that did not finish (its pid file names it; the
/// command line must still name our config file).
pub fn stop_stale(dir: &Path) -> Result<()> {
    let Ok(text) = fs::read_to_string(dir.join("nodelet.pid")) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Ok(());
    };
    let pid = Pid::from_raw(pid);
    let config = dir.join("kubelet.yaml").display().to_string();
    let ours = process::cmdline(pid).is_some_and(|args| args.contains(&config));
    if ours && process::is_alive(pid) {
        eprintln!("xtask: stopping the nodelet of an earlier demo ({pid})");
        process::terminate(pid, Duration::from_secs(10))?;
    }
    Ok(())
}

/// `preferred` if it is free on 127.0.0.1, else any free port.
pub fn port_or_free(preferred: u16) -> Result<u16> {
    if TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return Ok(preferred);
    }
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The string at a JSON pointer, or `""`.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// `POD PHASE READY RESTARTS AGE REASON`, one line per pod, columns aligned.
fn render_table(pods: &[Value], now: SystemTime) -> String {
    let mut rows = vec![[
        "POD".to_owned(),
        "PHASE".to_owned(),
        "READY".to_owned(),
        "RESTARTS".to_owned(),
        "AGE".to_owned(),
        "REASON".to_owned(),
    ]];
    for pod in pods {
        let status = &pod["status"];
        let apps = status["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let inits = status["initContainerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let wanted = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map_or(apps.len(), Vec::len);
        let ready = apps.iter().filter(|c| c["ready"] == true).count();
        let restarts: i64 = inits
            .iter()
            .chain(&apps)
            .filter_map(|c| c["restartCount"].as_i64())
            .sum();
        let started = str_at(status, "/startTime");
        let seen = str_at(pod, "/metadata/annotations/kubernetes.io~1config.seen");
        let age = [started, seen]
            .into_iter()
            .find_map(parse_time)
            .and_then(|t| now.duration_since(t).ok())
            .map_or_else(|| "-".to_owned(), format_age);
        let phase = str_at(status, "/phase");
        rows.push([
            str_at(pod, "/metadata/name").to_owned(),
            if phase.is_empty() { "-" } else { phase }.to_owned(),
            format!("{ready}/{wanted}"),
            restarts.to_string(),
            age,
            reason(status),
        ]);
    }
    let mut widths = [0; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// The waiting or terminated reason of the first container that is not running (an init
/// container that completed does not count), else the pod's own reason.
fn reason(status: &Value) -> String {
    let empty = Vec::new();
    let inits = status["initContainerStatuses"].as_array().unwrap_or(&empty);
    let apps = status["containerStatuses"].as_array().unwrap_or(&empty);
    let init_done = |c: &Value| c.pointer("/state/terminated/exitCode") == Some(&Value::from(0));
    let candidates = inits
        .iter()
        .filter(|c| !init_done(c))
        .chain(apps)
        .filter(|c| c.pointer("/state/running").is_none());
    for c in candidates {
        for pointer in ["/state/waiting/reason", "/state/terminated/reason"] {
            let reason = str_at(c, pointer);
            if !reason.is_empty() {
                return reason.to_owned();
            }
        }
    }
    str_at(status, "/reason").to_owned()
}

/// Whether `--once` can print: every pod has a phase and no container is still being
/// created or waiting for its init containers.
fn settled(pods: &[Value]) -> bool {
    !pods.is_empty()
        && pods.iter().all(|pod| {
            let status = &pod["status"];
            let phase = str_at(status, "/phase");
            let apps = status["containerStatuses"].as_array();
            let starting = apps.is_none_or(|cs| {
                cs.is_empty()
                    || cs.iter().any(|c| {
                        matches!(
                            str_at(c, "/state/waiting/reason"),
                            "ContainerCreating" | "PodInitializing" | ""
                        ) && c.pointer("/state/waiting").is_some()
                    })
            });
            !phase.is_empty() && phase != "Pending" && !starting
        })
}

/// RFC 3339 `2006-01-02T15:04:05Z` (fractions allowed) to a time.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.split('.').next()?;
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// kubectl's ages: `45s`, `3m12s`, `2h5m`, `3d4h`.
pub fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// How to reach the web pod, once it has an IP.
fn web_line(pods: &[Value]) -> String {
    let web = pods
        .iter()
        .find(|p| str_at(p, "/metadata/labels/app") == "web");
    match web.map(|p| str_at(p, "/status/podIP")) {
        Some(ip) if !ip.is_empty() => format!("web pod: curl http://{ip}:8080/"),
        Some(_) => "web pod: waiting for its IP".to_owned(),
        None => String::new(),
    }
}

/// What containerd itself says, beside what `/pods` says: the sandboxes of node `demo` and
/// their running containers.
fn runtime_line(endpoint: &str, pods: &[Value]) -> String {
    let listed_running = pods
        .iter()
        .flat_map(|p| {
            let s = &p["status"];
            let inits = s["initContainerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let apps = s["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            inits.into_iter().chain(apps)
        })
        .filter(|c| c.pointer("/state/running").is_some())
        .count();
    match cri::block_on(runtime_counts(endpoint)) {
        Ok((sandboxes, running)) => {
            let agrees = if running == listed_running {
                "agrees with /pods"
            } else {
                "differs from /pods (catching up)"
            };
            format!(
                "containerd: {sandboxes} pod sandboxes of node {NODE_NAME}, {running} containers running ({agrees})"
            )
        }
        Err(e) => format!("containerd: cannot list ({e:#})"),
    }
}

/// The sandboxes (READY or not) named `*-demo` and the RUNNING containers in them.
async fn runtime_counts(endpoint: &str) -> Result<(usize, usize)> {
    let suffix = format!("-{NODE_NAME}");
    let channel = Endpoint::from_shared(endpoint.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .with_context(|| format!("connecting to {endpoint}"))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await?;
    let sandboxes: ListPodSandboxResponse = unary(&mut grpc, "ListPodSandbox", Empty {}).await?;
    let ours: Vec<&String> = sandboxes
        .items
        .iter()
        .filter(|s| {
            s.metadata
                .as_ref()
                .is_some_and(|m| m.name.ends_with(&suffix))
        })
        .map(|s| &s.id)
        .collect();
    grpc.ready().await?;
    let containers: ListContainersResponse = unary(&mut grpc, "ListContainers", Empty {}).await?;
    let running = containers
        .containers
        .iter()
        .filter(|c| ours.contains(&&c.pod_sandbox_id) && c.state == CONTAINER_RUNNING)
        .count();
    Ok((ours.len(), running))
}

async fn unary<Req, Resp>(
    grpc: &mut tonic::client::Grpc<tonic::transport::Channel>,
    method: &str,
    request: Req,
) -> Result<Resp>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let path = PathAndQuery::try_from(format!("/runtime.v1.RuntimeService/{method}"))?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    let response = grpc
        .unary(tonic::Request::new(request), path, codec)
        .await
        .with_context(|| format!("CRI {method}"))?;
    Ok(response.into_inner())
}

/// `ContainerState.CONTAINER_RUNNING`.
const CONTAINER_RUNNING: i32 = 1;

/// An empty request (no filter).
#[derive(Clone, PartialEq, prost::Message)]
struct Empty {}

/// `ListPodSandboxResponse`: the fields the demo reads.
#[derive(Clone, PartialEq, prost::Message)]
struct ListPodSandboxResponse {
    #[prost(message, repeated, tag = "1")]
    items: Vec<cri::PodSandbox>,
}

/// `ListContainersResponse`.
#[derive(Clone, PartialEq, prost::Message)]
struct ListContainersResponse {
    #[prost(message, repeated, tag = "1")]
    containers: Vec<Container>,
}

/// `Container`: its id, sandbox and state.
#[derive(Clone, PartialEq, prost::Message)]
struct Container {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    pod_sandbox_id: String,
    #[prost(enumeration = "i32", tag = "6")]
    state: i32,
}

/// A minimal HTTP/1.1 GET with `Connection: close`: the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("GET {path}: no end of headers"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("GET {path}: no status code"))?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        bail!("GET {path}: chunked responses are not expected from nodelet");
    }
    Ok((code, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(args(&[]).unwrap(), Mode::Static(Until::Interrupted));
        assert_eq!(args(&["--once"]).unwrap(), Mode::Static(Until::Settled));
        assert_eq!(
            args(&["--for", "40"]).unwrap(),
            Mode::Static(Until::Elapsed(Duration::from_secs(40)))
        );
        assert_eq!(
            args(&["--for=5"]).unwrap(),
            Mode::Static(Until::Elapsed(Duration::from_secs(5)))
        );
        assert!(args(&["--for", "x"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }

    #[test]
    fn cluster_arg() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(args(&["--cluster"]).unwrap(), Mode::Cluster);
        // The cluster demo runs a script that ends by itself: no --for or --once with it.
        assert!(args(&["--cluster", "--once"]).is_err());
        assert!(args(&["--for", "5", "--cluster"]).is_err());
        assert!(args(&["--cluster=yes"]).is_err());
    }

    #[test]
    fn times_and_ages() {
        let t = parse_time("2026-11-28T07:26:02Z").unwrap();
        let u = parse_time("2026-11-28T07:26:02.377661699Z").unwrap();
        assert_eq!(t, u);
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_795_850_762
        );
        assert_eq!(format_age(Duration::from_secs(45)), "45s");
        assert_eq!(format_age(Duration::from_secs(192)), "3m12s");
        assert_eq!(format_age(Duration::from_secs(7500)), "2h5m");
    }

    #[test]
    fn table_columns() {
        let pods: Vec<Value> = serde_json::from_str(
            r#"[{"metadata":{"name":"crashloop-demo"},
                 "spec":{"containers":[{"name":"fail"}]},
                 "status":{"phase":"Running","startTime":"2026-11-28T07:26:02Z",
                   "containerStatuses":[{"name":"fail","ready":false,"restartCount":2,
                     "state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}},
                {"metadata":{"name":"init-demo"},
                 "spec":{"containers":[{"name":"app"}]},
                 "status":{"phase":"Running","startTime":"2026-11-28T07:26:02Z",
                   "initContainerStatuses":[{"name":"prep","ready":true,"restartCount":0,
                     "state":{"terminated":{"exitCode":0,"reason":"Completed"}}}],
                   "containerStatuses":[{"name":"app","ready":true,"restartCount":0,
                     "state":{"running":{}}}]}},
                {"metadata":{"name":"big-demo"},
                 "spec":{"containers":[{"name":"a"}]},
                 "status":{"phase":"Failed","reason":"OutOfpods"}}]"#,
        )
        .unwrap();
        let now = parse_time("2026-11-28T07:27:02Z").unwrap();
        let table = render_table(&pods, now);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("POD"), "{table}");
        let cells = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            cells(lines[1]),
            [
                "crashloop-demo",
                "Running",
                "0/1",
                "2",
                "60s",
                "CrashLoopBackOff"
            ]
        );
        assert_eq!(cells(lines[2]), ["init-demo", "Running", "1/1", "0", "60s"]);
        assert_eq!(
            cells(lines[3]),
            ["big-demo", "Failed", "0/1", "0", "-", "OutOfpods"]
        );
    }
}
