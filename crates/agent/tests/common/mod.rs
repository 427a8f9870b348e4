//! The end-to-end harness: the real `nodelet` binary as a child process, against the real
//! containerd that `cargo xtask setup` starts (`$NODELET_CRI_ENDPOINT`), observed from
//! outside through its HTTP endpoints and the CRI.
//!
//! Every test gets its own [`Node`]: a temporary directory holding the manifests, the root
//! and pod-logs directories, the generated config file and nodelet's log; a node name of its
//! own (so pod names and UIDs never collide between tests); free ports. Dropping the `Node`
//! stops nodelet (SIGTERM, then SIGKILL) and stops and removes every pod sandbox whose name
//! ends in the node name, so nothing leaks when a test fails half-way.
//!
//! One nodelet per runtime at a time: like the kubelet, nodelet owns the runtime and kills
//! every sandbox it does not know (housekeeping's orphan removal, TM-10), so two agents on
//! one containerd kill each other's pods, and an agent kills the sandboxes of any other test
//! that shares the runtime. A `Node` therefore holds the runtime lock exclusively
//! (`test_env::RuntimeLock`) for its lifetime. That serializes the tests of this binary;
//! other suites that create sandboxes on the same containerd stay out of the agent's way by
//! holding it shared.
//!
//! The environment's variables (from the process, else `target/nodelet-env/env`), the
//! skip-or-fail when it is missing, the lock and the mount table come from `test_env`.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cri_client::{GrpcRuntime, ImageService as _, RuntimeService, v1};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use test_env::{RuntimeLock, labels};

/// Set to keep each test's directory (manifests, config, nodelet's log).
pub const KEEP_VAR: &str = "NODELET_E2E_KEEP";
/// The longest any single condition is waited for.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// The pause between two polls.
pub const POLL: Duration = Duration::from_millis(200);

/// The real container runtime, reachable.
pub struct Runtime {
    /// The CRI endpoint (`unix:///...`).
    pub endpoint: String,
    client: Arc<GrpcRuntime>,
    tokio: tokio::runtime::Runtime,
}

impl Runtime {
    /// The runtime at `$NODELET_CRI_ENDPOINT`, or `None` (after saying why on stderr) when
    /// the environment is missing. With `CI=true` a missing environment fails the test: CI
    /// must never pass by skipping (`test_env::require_env`).
    pub fn from_env() -> Option<Runtime> {
        let endpoint = test_env::require_env("the end-to-end tests")?.cri_endpoint;
        Runtime::at(endpoint)
    }

    /// The runtime at `endpoint` (another containerd of the environment, such as the faults
    /// one), or `None` as [`from_env`](Self::from_env) when it does not answer.
    pub fn at(endpoint: String) -> Option<Runtime> {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        // The client's connection lives on the runtime it is made on.
        let client = match tokio.block_on(test_env::connect(&endpoint)) {
            Ok(c) => c,
            Err(e) => return test_env::skip(&e.to_string()),
        };
        Some(Runtime {
            endpoint,
            client: Arc::new(client),
            tokio,
        })
    }

    /// Runs one CRI call to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.tokio.block_on(future)
    }

    /// The CRI client.
    pub fn client(&self) -> &GrpcRuntime {
        &self.client
    }

    /// Every pod sandbox in the runtime.
    pub fn all_sandboxes(&self) -> Vec<v1::PodSandbox> {
        self.block_on(
            self.client
                .list_pod_sandbox(v1::ListPodSandboxRequest::default()),
        )
        .expect("ListPodSandbox")
        .items
    }

    /// Every container in the runtime.
    pub fn all_containers(&self) -> Vec<v1::Container> {
        self.block_on(
            self.client
                .list_containers(v1::ListContainersRequest::default()),
        )
        .expect("ListContainers")
        .containers
    }

    /// A container's status, or `None` when the runtime no longer has it.
    pub fn container_status(&self, id: &str) -> Option<v1::ContainerStatus> {
        let answer = self.block_on(self.client.container_status(v1::ContainerStatusRequest {
            container_id: id.to_owned(),
            verbose: false,
        }));
        match answer {
            Ok(response) => response.status,
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("ContainerStatus {id}: {e}"),
        }
    }

    /// A sandbox's IP as the runtime reports it.
    pub fn sandbox_ip(&self, id: &str) -> Option<String> {
        let answer = self.block_on(self.client.pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: id.to_owned(),
            verbose: false,
        }));
        answer
            .expect("PodSandboxStatus")
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .filter(|ip| !ip.is_empty())
    }

    /// Whether the image is present (setup imports it).
    pub fn has_image(&self, image: &str) -> bool {
        self.block_on(self.client.image_status(v1::ImageStatusRequest {
            image: Some(v1::ImageSpec {
                image: image.to_owned(),
                ..Default::default()
            }),
            verbose: false,
        }))
        .map(|r| r.image.is_some())
        .unwrap_or(false)
    }

    /// Stops and removes a sandbox (and so its containers); errors are printed, not raised,
    /// because this runs in cleanup.
    pub fn remove_sandbox(&self, sandbox: &v1::PodSandbox) {
        let (pod, uid) = sandbox.metadata.as_ref().map_or_else(
            || ("?/?".to_string(), String::new()),
            |m| (format!("{}/{}", m.namespace, m.name), m.uid.clone()),
        );
        let removed = self.block_on(test_env::remove_sandbox(
            self.client.as_ref(),
            &sandbox.id,
            &pod,
            &uid,
        ));
        if let Err(e) = removed {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Free TCP ports on 127.0.0.1 (bound and released; nodelet binds them right after).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("local_addr").port())
}

/// One `nodelet` under test, with everything it owns (see the module docs).
pub struct Node {
    /// The node name (`e2e-<test>-<pid>`); static pods are named `<name>-<node>`.
    pub name: String,
    /// The main server's port (`/pods`, `/metrics`, `/errors`, `/configz`).
    pub port: u16,
    /// The healthz server's port.
    pub healthz_port: u16,
    /// The plain-HTTP port [`get`](Self::get) reads: the main server's in standalone mode,
    /// the read-only server's in cluster mode (where the main server speaks TLS and
    /// authenticates).
    pub http_port: u16,
    runtime: Runtime,
    dir: tempfile::TempDir,
    child: Option<Child>,
    started: Instant,
    _lock: RuntimeLock,
}

impl Node {
    /// A node for the test `test` (a short DNS label such as `sp01`), with `extra` lines
    /// appended to the generated `KubeletConfiguration`. `None` when the environment is
    /// missing (see [`Runtime::from_env`]). A top-level key in `extra` replaces the
    /// harness's line for it (`address: 0.0.0.0`). Does not start nodelet.
    pub fn new(test: &str, extra: &str) -> Option<Node> {
        Node::on(Runtime::from_env()?, test, extra)
    }

    /// [`new`](Self::new) on another runtime of the environment (the faults containerd).
    /// The node still holds the main runtime's lock, which serializes it with the agents of
    /// the other tests of its binary.
    pub fn on(runtime: Runtime, test: &str, extra: &str) -> Option<Node> {
        let busybox = test_env::busybox_image();
        assert!(
            runtime.has_image(&busybox),
            "{busybox} is not in the runtime: {}",
            test_env::SETUP_HINT
        );
        let lock = RuntimeLock::exclusive().expect("the runtime lock");
        let name = format!("e2e-{test}-{}", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&format!("nodelet-{name}-"))
            .tempdir()
            .expect("a temporary directory");
        for sub in ["manifests", "root", "logs"] {
            fs::create_dir(dir.path().join(sub)).expect("creating a test directory");
        }
        let [port, healthz_port] = free_ports();
        let node = Node {
            name,
            port,
            healthz_port,
            http_port: port,
            runtime,
            dir,
            child: None,
            started: Instant::now(),
            _lock: lock,
        };
        let base = format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\n\
             kind: KubeletConfiguration\n\
             address: 127.0.0.1\n\
             port: {port}\n\
             healthzPort: {healthz_port}\n\
             healthzBindAddress: 127.0.0.1\n\
             readOnlyPort: 0\n\
             staticPodPath: {manifests}\n\
             fileCheckFrequency: 1s\n\
             containerRuntimeEndpoint: {endpoint}\n\
             podLogsDir: {logs}\n\
             cgroupRoot: {cgroup_root}\n\
             evictionHard: {eviction_hard}\n\
             imageGCHighThresholdPercent: 100\n\
             imageGCLowThresholdPercent: 99\n",
            eviction_hard = test_env::kubelet::EVICTION_HARD,
            manifests = node.manifest_dir().display(),
            cgroup_root = node.cgroup_root(),
            endpoint = node.runtime.endpoint,
            logs = node.logs_dir().display(),
        );
        let key = |line: &str| {
            (!line.starts_with([' ', '\t', '-']))
                .then(|| line.split_once(':').map(|(key, _)| key.trim().to_owned()))
                .flatten()
        };
        let replaced: Vec<String> = extra.lines().filter_map(key).collect();
        let mut config: String = base
            .lines()
            .filter(|line| key(line).is_none_or(|k| !replaced.contains(&k)))
            .map(|line| format!("{line}\n"))
            .collect();
        config.push_str(extra);
        fs::write(node.config_file(), config).expect("writing the config file");
        // A sandbox left by an earlier, killed run of this very process id would confuse
        // the test; there is none unless pids wrapped, but clean anyway.
        node.remove_sandboxes();
        Some(node)
    }

    /// The node's own `cgroupRoot` (`/<node name>`), so its `kubepods` never meets another
    /// agent's; removed with everything below it when the node is dropped.
    pub fn cgroup_root(&self) -> String {
        format!("/{}", self.name)
    }

    /// The pod-logs directory nodelet runs with (`podLogsDir`).
    pub fn logs_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// The pid of the running nodelet, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The static pod directory.
    pub fn manifest_dir(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    /// The generated config file.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("kubelet.yaml")
    }

    /// nodelet's stdout and stderr (appended across restarts).
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("nodelet.log")
    }

    /// The full name nodelet gives the static pod `name` on this node.
    pub fn pod_name(&self, name: &str) -> String {
        format!("{name}-{}", self.name)
    }

    /// Writes a manifest atomically (a dot file, ignored by the source, renamed into place),
    /// so the source never reads half a file.
    pub fn write_manifest(&self, file: &str, yaml: &str) {
        let tmp = self.manifest_dir().join(format!(".{file}.tmp"));
        fs::write(&tmp, yaml).expect("writing a manifest");
        fs::rename(&tmp, self.manifest_dir().join(file)).expect("renaming a manifest");
    }

    /// Removes a manifest.
    pub fn remove_manifest(&self, file: &str) {
        fs::remove_file(self.manifest_dir().join(file)).expect("removing a manifest");
    }

    /// Starts nodelet with the generated config and waits until `/healthz` answers `ok`.
    pub fn start(&mut self) {
        self.start_with_args(&[]);
    }

    /// [`start`](Self::start) with `extra` flags after the harness's own (`--config`,
    /// `--root-dir`, `--node-name`), e.g. `--kubeconfig <file>` for cluster mode.
    pub fn start_with_args(&mut self, extra: &[&str]) {
        self.spawn_with_args(extra);
        self.wait_healthy();
    }

    /// Starts nodelet like [`start`](Self::start) but returns at once, without waiting for
    /// `/healthz`: for tests that act on nodelet while it is still starting (a `kill -9`
    /// during adoption). Follow with [`wait_healthy`](Self::wait_healthy) to wait.
    pub fn spawn(&mut self) {
        self.spawn_with_args(&[]);
    }

    fn spawn_with_args(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "nodelet already runs");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_file())
            .expect("opening the log file");
        let child = Command::new(nodelet_binary())
            .arg("--config")
            .arg(self.config_file())
            .arg("--root-dir")
            .arg(self.root_dir())
            .arg("--node-name")
            .arg(&self.name)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log file"))
            .stderr(log)
            .spawn()
            .expect("starting nodelet");
        self.child = Some(child);
    }

    /// Waits until the nodelet started by [`spawn`](Self::spawn) answers `/healthz` with
    /// `ok`; fails when it exits first or does not answer within [`TIMEOUT`].
    pub fn wait_healthy(&mut self) {
        let healthz = SocketAddr::from(([127, 0, 0, 1], self.healthz_port));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                panic!(
                    "nodelet exited during start-up with {status}\n{}",
                    self.log_tail(40)
                );
            }
            let last = match http_get(healthz, "/healthz") {
                Ok((200, body)) if body == "ok" => return,
                Ok((code, body)) => format!("{code} {body}"),
                Err(e) => e.to_string(),
            };
            assert!(
                Instant::now() < deadline,
                "nodelet did not answer /healthz within {TIMEOUT:?}: {last}\n{}",
                self.log_tail(40)
            );
            std::thread::sleep(POLL);
        }
    }

    /// Mount points under this node's directory (volumes under its root dir), deepest
    /// first, from this process's mount table.
    pub fn mounts(&self) -> Vec<PathBuf> {
        test_env::mounts_under(self.dir.path()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The root directory nodelet runs with (`--root-dir`).
    pub fn root_dir(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Kills nodelet with SIGKILL (a crash: nothing is cleaned up) and reaps it.
    pub fn kill_9(&mut self) {
        let mut child = self.child.take().expect("nodelet runs");
        child.kill().expect("SIGKILL to nodelet");
        child.wait().expect("reaping nodelet");
    }

    /// Stops nodelet with SIGTERM (SIGKILL after 10 s), as an operator would. nodelet leaves
    /// the pods running.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child);
        }
    }

    /// `GET path` on the plain-HTTP server ([`http_port`](Self::http_port)): the status
    /// code and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(SocketAddr::from(([127, 0, 0, 1], self.http_port)), path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log_tail(40)))
    }

    /// `/pods` as JSON.
    pub fn pods_json(&self) -> serde_json::Value {
        let (code, body) = self.get("/pods");
        assert_eq!(code, 200, "GET /pods: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/pods is not JSON: {e}: {body}"))
    }

    /// `/pods`, decoded.
    pub fn pods(&self) -> Vec<Pod> {
        let list: k8s_openapi::List<Pod> = serde_json::from_value(self.pods_json())
            .unwrap_or_else(|e| panic!("/pods is not a PodList: {e}"));
        list.items
    }

    /// The pod `name` (the manifest's name; the node suffix is added) in `/pods`.
    pub fn pod(&self, name: &str) -> Option<Pod> {
        let full = self.pod_name(name);
        self.pods()
            .into_iter()
            .find(|p| p.metadata.name.as_deref() == Some(full.as_str()))
    }

    /// `/metrics`, as `series -> value` (series written as in the text, labels included).
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let (code, body) = self.get("/metrics");
        assert_eq!(code, 200, "GET /metrics: {body}");
        body.lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// The sandboxes of this node's pods (by name suffix).
    pub fn sandboxes(&self) -> Vec<v1::PodSandbox> {
        let suffix = format!("-{}", self.name);
        self.runtime
            .all_sandboxes()
            .into_iter()
            .filter(|s| {
                s.metadata
                    .as_ref()
                    .is_some_and(|m| m.name.ends_with(&suffix))
            })
            .collect()
    }

    /// The sandboxes of the pod `name`.
    pub fn sandboxes_of(&self, name: &str) -> Vec<v1::PodSandbox> {
        let full = self.pod_name(name);
        self.sandboxes()
            .into_iter()
            .filter(|s| s.metadata.as_ref().is_some_and(|m| m.name == full))
            .collect()
    }

    /// The containers in this node's sandboxes.
    pub fn containers(&self) -> Vec<v1::Container> {
        let ours: Vec<String> = self.sandboxes().into_iter().map(|s| s.id).collect();
        self.runtime
            .all_containers()
            .into_iter()
            .filter(|c| ours.contains(&c.pod_sandbox_id))
            .collect()
    }

    /// The containers labelled with the pod `name`, wherever they are.
    pub fn containers_of(&self, name: &str) -> Vec<v1::Container> {
        let full = self.pod_name(name);
        self.runtime
            .all_containers()
            .into_iter()
            .filter(|c| c.labels.get(labels::POD_NAME) == Some(&full))
            .collect()
    }

    /// Polls `check` every [`POLL`] until it returns `Ok`, for at most [`TIMEOUT`]; then
    /// fails with `what`, the last `Err` and the tail of nodelet's log.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match check() {
                Ok(value) => return value,
                Err(last) if Instant::now() >= deadline => panic!(
                    "timed out after {TIMEOUT:?} waiting for {what}; last seen: {last}\n\
                     --- nodelet log (tail) ---\n{}",
                    self.log_tail(60)
                ),
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }

    /// Waits until the pod `name` is Running with every app container running and ready,
    /// and returns it.
    pub fn wait_running(&self, name: &str) -> Pod {
        self.wait_for(
            &format!("pod {} to be Running and ready", self.pod_name(name)),
            || {
                let pod = self.pod(name).ok_or("not in /pods")?;
                let summary = summary(&pod);
                let all_running = !app_statuses(&pod).is_empty()
                    && app_statuses(&pod)
                        .iter()
                        .all(|c| c.ready && is_running(c) && c.container_id.is_some());
                if phase(&pod) == "Running" && all_running && pod_ip(&pod).is_some() {
                    Ok(pod)
                } else {
                    Err(summary)
                }
            },
        )
    }

    /// The last `lines` lines of nodelet's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.log_file()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Stops and removes every sandbox of this node.
    fn remove_sandboxes(&self) {
        for sandbox in self.sandboxes() {
            self.runtime.remove_sandbox(&sandbox);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- nodelet log of {} ({}) ---\n{}",
                self.name,
                self.log_file().display(),
                self.log_tail(80)
            );
        }
        self.stop();
        self.remove_sandboxes();
        // Then the cgroups: kubepods and the pod cgroups the runtime leaves behind (processes
        // still inside are killed, directories removed depth first in every hierarchy).
        let root = self.cgroup_root();
        let removed = cgroup_enforcer::Cgroups::host()
            .and_then(|c| c.remove(std::path::Path::new(root.trim_start_matches('/'))));
        if let Err(e) = removed {
            eprintln!("cleanup: cannot remove the cgroup root {root}: {e}");
        }
        let left: Vec<String> = self.sandboxes().into_iter().map(|s| s.id).collect();
        if !left.is_empty() {
            eprintln!(
                "cleanup: sandboxes of {} still present: {left:?}",
                self.name
            );
        }
        // nodelet leaves running pods' volumes mounted when it stops; their sandboxes are
        // gone now, so unmount what is left under the root directory.
        for mount in self.mounts() {
            let _ = Command::new("umount").arg("-l").arg(&mount).status();
        }
        eprintln!("e2e: {} done in {:.1?}", self.name, self.started.elapsed());
        // The temporary directory (manifests, root, logs) goes with `self.dir`, unless
        // asked to keep it for a look at nodelet's log.
        if std::env::var_os(KEEP_VAR).is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("e2e: kept {} ({KEEP_VAR})", self.dir.path().display());
        }
    }
}

/// Names another `nodelet` binary for the tests to run (`cargo xtask soak` runs its long
/// runs on the release build, whose RSS and CPU are the ones users get).
pub const BINARY_VAR: &str = "NODELET_BINARY";

/// The `nodelet` the tests run: [`BINARY_VAR`], else the one cargo built with the tests.
pub fn nodelet_binary() -> PathBuf {
    std::env::var_os(BINARY_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_nodelet")))
}

/// SIGTERM, up to 10 s, then SIGKILL; reaps the child.
fn terminate(mut child: Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("nodelet ({}) ignored SIGTERM for 10 s; SIGKILL", child.id());
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A plain HTTP/1.1 GET (`Connection: close`): the status code and the body.
pub use test_env::http_get;

/// A pod manifest with one busybox container running `script` under `sh -c`.
pub fn pod_yaml(name: &str, script: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  \
         terminationGracePeriodSeconds: 5\n  containers:\n  - name: main\n    \
         image: {}\n    command: [\"sh\", \"-c\", {script:?}]\n",
        test_env::busybox_image()
    )
}

/// A pod that sleeps and exits 0 on SIGTERM.
pub fn sleeper_yaml(name: &str) -> String {
    pod_yaml(name, "trap 'exit 0' TERM; sleep 3600 & wait")
}

/// The pod's phase, or `""`.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The pod's IP.
pub fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty())
}

/// The app containers' statuses.
pub fn app_statuses(pod: &Pod) -> &[ContainerStatus] {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[])
}

/// The init containers' statuses.
pub fn init_statuses(pod: &Pod) -> &[ContainerStatus] {
    pod.status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[])
}

/// Whether the container's state is `running`.
pub fn is_running(c: &ContainerStatus) -> bool {
    c.state.as_ref().is_some_and(|s| s.running.is_some())
}

/// `containerd://<id>` → `<id>`.
pub fn runtime_id(c: &ContainerStatus) -> Option<&str> {
    c.container_id
        .as_deref()
        .and_then(|id| id.split_once("://"))
        .map(|(_, id)| id)
}

/// The waiting or terminated reason of a container, if any.
pub fn state_reason(c: &ContainerStatus) -> Option<&str> {
    let state = c.state.as_ref()?;
    state
        .waiting
        .as_ref()
        .and_then(|w| w.reason.as_deref())
        .or_else(|| state.terminated.as_ref().and_then(|t| t.reason.as_deref()))
}

/// One line describing a pod's status, for failure messages.
pub fn summary(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let containers: Vec<String> = init_statuses(pod)
        .iter()
        .chain(app_statuses(pod))
        .map(|c| {
            let state = match c.state.as_ref() {
                Some(s) if s.running.is_some() => "running".to_owned(),
                Some(s) if s.terminated.is_some() => {
                    format!("terminated({})", state_reason(c).unwrap_or(""))
                }
                Some(s) if s.waiting.is_some() => {
                    format!("waiting({})", state_reason(c).unwrap_or(""))
                }
                _ => "none".to_owned(),
            };
            format!(
                "{}:{state}:ready={}:restarts={}:id={}",
                c.name,
                c.ready,
                c.restart_count,
                runtime_id(c)
                    .map(|id| &id[..id.len().min(12)])
                    .unwrap_or("-")
            )
        })
        .collect();
    format!(
        "{} uid={} phase={} reason={} ip={} [{}]",
        pod.metadata.name.as_deref().unwrap_or("?"),
        pod.metadata.uid.as_deref().unwrap_or("?"),
        phase(pod),
        status.and_then(|s| s.reason.as_deref()).unwrap_or("-"),
        pod_ip(pod).unwrap_or("-"),
        containers.join(", ")
    )
}

/// Whether the runtime reports the container RUNNING.
pub fn runtime_running(runtime: &Runtime, id: &str) -> bool {
    runtime
        .container_status(id)
        .is_some_and(|s| s.state == v1::ContainerState::ContainerRunning as i32)
}

/// What `/proc` says of process `pid`: its resident set in KiB, its CPU time (user and
/// system) in clock ticks of 10 ms, and its open file descriptors.
pub fn proc_usage(pid: u32) -> (f64, f64, i64) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields count from after the command, which may hold spaces: utime and stime (fields
    // 14 and 15) are the 12th and 13th after it.
    let fields: Vec<&str> = stat
        .rfind(')')
        .map(|i| stat[i + 2..].split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as i64);
    (rss, ticks(11) + ticks(12), fds)
}

/// The least-squares slope of `points` (x in seconds, y in KiB), in KiB per minute; 0 for
/// fewer than two points.
pub fn slope_per_minute(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), p| {
        (num + (p.0 - mx) * (p.1 - my), den + (p.0 - mx) * (p.0 - mx))
    });
    if den == 0.0 { 0.0 } else { num / den * 60.0 }
}
