//! [`FakeRuntime`]: an in-memory container runtime with containerd's semantics.
//!
//! Code built on [`RuntimeService`](crate::RuntimeService) and
//! [`ImageService`](crate::ImageService) (pod workers, PLEG, probes, image pulls) is tested
//! against this fake instead of a real runtime. It is only worth that trust
//! because it passes the same [contract suite](crate::contract) as containerd 1.6 does:
//! wherever the two disagreed, the fake was changed to match containerd. What containerd does
//! is written down next to each behaviour below.
//!
//! Everything is deterministic. Ids are 64 hex digits derived from a counter, pod IPs are
//! handed out in order from `10.88.0.2`, and every timestamp comes from a [`FakeClock`] that
//! only the test moves.
//!
//! # Sandboxes and containers
//!
//! - `RunPodSandbox` gives a READY sandbox. Its IP is empty for host network
//!   (`NamespaceMode::Node`), and a host-network sandbox with a `hostname` fails as runc
//!   fails it (the node's UTS namespace is shared). A sandbox name
//!   (`name_namespace_uid_attempt`) can be used by only one sandbox at a time, as in
//!   containerd; so can a container name within a pod.
//! - `StopPodSandbox` kills the sandbox's running containers (exit 137) and makes it
//!   NOTREADY. It also closes the network namespace, so the IP is reported empty from then on.
//!   `RemovePodSandbox` stops a READY sandbox first and removes its containers.
//! - Containers go CREATED → RUNNING → EXITED. `StartContainer` on anything but CREATED fails
//!   with `Unknown` ("container is in CONTAINER_RUNNING state"). Starting in a sandbox that is
//!   not READY fails, and leaves the container EXITED with code 128 and reason `StartError`.
//!   Creating in a sandbox that is missing, or not READY, fails with `NotFound`.
//! - Unknown ids give gRPC `NotFound`, and the error names the id, except for
//!   `RemoveContainer` and `RemovePodSandbox`: removing what is gone succeeds, in containerd
//!   and by the CRI spec. `StopContainer` and `StopPodSandbox` of an unknown id give
//!   `NotFound`, as in containerd; the kubelet takes that as success. Ids may be shortened
//!   to any unique prefix, in calls and in list filters.
//! - Exit reasons are containerd's: exit 0 is `Completed`, any other code is `Error`, and an
//!   OOM kill is `OOMKilled` with code 137. `StopContainer` ends a process with SIGKILL
//!   (137, `Error`) unless the timeout is positive and the command traps TERM.
//! - `ContainerStatus` reports the image as containerd does: `image` is the image's first
//!   tag (not necessarily the name the container was created with) and `image_ref` its first
//!   repo digest, or its id when it has none; `ListContainers` reports the config's image and
//!   the image id. `resources` is always set (all zero without limits), with the swap limit
//!   equal to the memory limit. `log_path` is the sandbox's log directory joined with the
//!   container's log path.
//!
//! # The process model
//!
//! A container runs its `command` + `args`. When `command` is empty, it runs the image's
//! entrypoint, followed by `args` or else the image's cmd. The fake understands a few busybox
//! command lines. Each one behaves here as it does under real containerd, which is what lets
//! the contract suite run the same commands on both:
//!
//! | command | in a container | in `ExecSync` |
//! |---|---|---|
//! | `true`, `false`, `echo ...` | exits 0 / 1 / 0 at once | same, `echo` prints its words and a newline |
//! | `sleep N` (`1.5`, `2m`, `infinity`) | runs N seconds of fake time, then exits 0 | exit 0 at once, or [`Error::CommandTimedOut`](crate::Error::CommandTimedOut) when N exceeds a non-zero timeout |
//! | `sh -c "exit N"` | exits N at once | exit code N |
//! | `sh -c "a; b; ..."` | runs `sleep`, `echo`, `true`, `false`, `wait` and `exit N` in sequence; other statements run until stopped | `echo` output, `exit N`, `sleep` durations |
//! | `sh -c 'trap "exit N" TERM; ...'` | as above, and exits N on `StopContainer` with a timeout | – |
//! | `dd if=/dev/zero of=/dev/null bs=SIZE count=1` | exits 0, or is OOM-killed (137, `OOMKilled`) when `SIZE` ≥ the memory limit | – |
//! | `sh` with no script | exits 0 at once (stdin is empty), like busybox's default cmd | – |
//! | anything else | runs until stopped | exits 0 with no output |
//!
//! Time is lazy: each call compares the running containers with the clock first. For
//! example, a `sleep 5` started at t reports EXITED on any call made once the clock reads
//! t+5 s. A process that ignores SIGTERM and is stopped with a timeout is killed at once; the
//! fake does not move the clock for the grace period. Tests can also end things themselves:
//! [`FakeRuntime::exit_container`], [`FakeRuntime::set_sandbox_not_ready`],
//! [`FakeRuntime::set_container_unknown`], [`FakeRuntime::set_exec_reply`].
//!
//! # Images
//!
//! The fake has local images ([`FakeRuntime::add_image`]) and a registry to pull from
//! ([`FakeRuntime::add_registry_image`]). References are normalised like containerd's
//! (`busybox` is `docker.io/library/busybox:latest`). Pulling an image the registry lacks
//! gives `NotFound` ("failed to pull and unpack image ..."), and creating a container from an
//! absent image gives `NotFound` too. `ImageStatus` of an absent image returns `image: None`.
//! `RemoveImage` of an absent image succeeds. Like containerd 1.6, `RemoveImage` removes
//! every tag of the resolved image, and `ListImages` ignores its filter.
//!
//! # Everything else
//!
//! `Version` reports `fake`. `Status` reports `RuntimeReady` and `NetworkReady`, both
//! settable; without the network, non-host sandboxes fail as containerd's do with no CNI
//! config. Stats are small fixed numbers. Streaming calls (`Exec`, `Attach`, `PortForward`)
//! return URLs on `127.0.0.1:10010`. `UpdateContainerResources` is kept and shows in
//! `ContainerStatus.resources`.
//!
//! What containerd 1.6 does not implement, the fake does not either: `GetContainerEvents`
//! answers `Unimplemented` until [`FakeRuntime::enable_container_events`], `RuntimeConfig`
//! until [`FakeRuntime::set_cgroup_driver`], and `CheckpointContainer`,
//! `ListMetricDescriptors` and `ListPodSandboxMetrics` always.
//!
//! # Known differences from containerd
//!
//! - Timestamps: containerd stamps `started_at` when `StartContainer` returns and
//!   `finished_at` from the exit event, so a command that exits at once can report
//!   `finished_at < started_at`. The fake reports them equal.
//! - `ExecSync` of a command the fake does not interpret exits 0 with no output, where
//!   containerd would run it (or fail with "executable file not found in $PATH"). Script
//!   replies with [`FakeRuntime::set_exec_reply`].
//! - Nothing runs: there are no logs, files, signals or real resource usage.
//!
//! Every call is logged ([`FakeRuntime::calls`]). The next calls of any method can be made to
//! fail ([`FakeRuntime::fail_next`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> cri_client::Result<()> {
//! use std::time::Duration;
//! use cri_client::fake::FakeRuntime;
//! use cri_client::{RuntimeService, v1};
//!
//! let fake = FakeRuntime::with_busybox();
//! let sandbox = fake.run_pod_sandbox(v1::RunPodSandboxRequest {
//!     config: Some(v1::PodSandboxConfig {
//!         metadata: Some(v1::PodSandboxMetadata {
//!             name: "web".into(), namespace: "default".into(), uid: "uid-1".into(), attempt: 0,
//!         }),
//!         ..Default::default()
//!     }),
//!     runtime_handler: String::new(),
//! }).await?.pod_sandbox_id;
//! let container = fake.create_container(v1::CreateContainerRequest {
//!     pod_sandbox_id: sandbox.clone(),
//!     config: Some(v1::ContainerConfig {
//!         metadata: Some(v1::ContainerMetadata { name: "main".into(), attempt: 0 }),
//!         image: Some(v1::ImageSpec { image: "localhost/busybox:1".into(), ..Default::default() }),
//!         command: vec!["sleep".into(), "5".into()],
//!         ..Default::default()
//!     }),
//!     sandbox_config: None,
//! }).await?.container_id;
//! fake.start_container(v1::StartContainerRequest { container_id: container.clone() }).await?;
//!
//! fake.advance(Duration::from_secs(5));
//! let status = fake
//!     .container_status(v1::ContainerStatusRequest { container_id: container, verbose: false })
//!     .await?
//!     .status
//!     .unwrap();
//! assert_eq!(status.state(), v1::ContainerState::ContainerExited);
//! assert_eq!(status.reason, "Completed");
//! # Ok(()) }
//! ```

mod clock;
mod ids;
mod image;
mod program;
mod runtime;
mod state;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use clock::{FAKE_EPOCH_NANOS, FakeClock};
pub use image::FakeImage;

use crate::v1;
use state::{ExecReply, State};

/// The busybox image of the project's test environment (`CMD ["/bin/sh"]`), present in
/// [`FakeRuntime::with_busybox`].
pub const BUSYBOX_IMAGE: &str = "localhost/busybox:1";
/// The sandbox (pause) image of the project's test environment (`ENTRYPOINT
/// ["/bin/sleep", "infinity"]`), present in [`FakeRuntime::with_busybox`].
pub const PAUSE_IMAGE: &str = "localhost/pause:1";

/// What the fake says its socket is, in [`Error::Unavailable`](crate::Error::Unavailable).
pub const FAKE_ENDPOINT: &str = "fake://runtime";

/// The CRI calls the fake answers, named as in `api.proto`: the names
/// [`FakeRuntime::fail_next`] accepts and [`Call::method`] reports.
pub const CALL_NAMES: &[&str] = &[
    "Version",
    "RunPodSandbox",
    "StopPodSandbox",
    "RemovePodSandbox",
    "PodSandboxStatus",
    "ListPodSandbox",
    "CreateContainer",
    "StartContainer",
    "StopContainer",
    "RemoveContainer",
    "ListContainers",
    "ContainerStatus",
    "UpdateContainerResources",
    "ReopenContainerLog",
    "ExecSync",
    "Exec",
    "Attach",
    "PortForward",
    "ContainerStats",
    "ListContainerStats",
    "PodSandboxStats",
    "ListPodSandboxStats",
    "UpdateRuntimeConfig",
    "Status",
    "CheckpointContainer",
    "GetContainerEvents",
    "ListMetricDescriptors",
    "ListPodSandboxMetrics",
    "RuntimeConfig",
    "ListImages",
    "ImageStatus",
    "PullImage",
    "RemoveImage",
    "ImageFsInfo",
];

/// One CRI call the fake received, for assertions on what the code under test did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The CRI call, as named in `api.proto` (`"StopContainer"`).
    pub method: &'static str,
    /// The sandbox, container or image the call was about. For `RunPodSandbox` and
    /// `CreateContainer` this is the id they created; if they failed, it is the description
    /// that their error carries.
    pub id: Option<String>,
    /// The `timeout` of `StopContainer` and `ExecSync`, in seconds.
    pub timeout: Option<i64>,
    /// The gRPC code the call failed with, `None` if it succeeded.
    pub failed: Option<tonic::Code>,
}

/// A scripted failure for [`FakeRuntime::fail_next`]: a gRPC code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// The message.
    pub message: String,
}

impl Failure {
    fn to_status(&self) -> tonic::Status {
        tonic::Status::new(self.code, self.message.clone())
    }
}

impl From<tonic::Code> for Failure {
    fn from(code: tonic::Code) -> Self {
        Failure {
            code,
            message: format!("injected failure ({})", code.description()),
        }
    }
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        Failure {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

impl From<&tonic::Status> for Failure {
    fn from(status: &tonic::Status) -> Self {
        Failure {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

/// An in-memory CRI runtime; see the [module docs](self) for its semantics.
///
/// Clones share one state, so a test keeps a clone for injection and assertions and hands
/// another (or an `Arc<dyn RuntimeService>`) to the code under test.
#[derive(Clone)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
    clock: FakeClock,
}

impl fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("FakeRuntime")
            .field("now", &self.clock.now())
            .field("sandboxes", &st.sandboxes.len())
            .field("containers", &st.containers.len())
            .field("images", &st.images.list().count())
            .field("registry_images", &st.registry.len())
            .field("calls", &st.calls.len())
            .finish()
    }
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeRuntime {
    /// An empty runtime: no images, no sandboxes, the clock at [`FAKE_EPOCH_NANOS`].
    pub fn new() -> Self {
        Self::with_clock(FakeClock::new())
    }

    /// An empty runtime on a given clock (shared with the test or with other fakes).
    pub fn with_clock(clock: FakeClock) -> Self {
        FakeRuntime {
            state: Arc::new(Mutex::new(State::new(clock.clone()))),
            clock,
        }
    }

    /// A runtime with the project's two test images present locally: [`BUSYBOX_IMAGE`] and
    /// [`PAUSE_IMAGE`].
    pub fn with_busybox() -> Self {
        let fake = Self::new();
        fake.add_image(BUSYBOX_IMAGE);
        fake.add_image_with(
            FakeImage::new(PAUSE_IMAGE)
                .with_entrypoint(&["/bin/sleep", "infinity"])
                .with_cmd(&[]),
        );
        fake
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not poison the fake for the assertions that follow.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock every timestamp comes from.
    pub fn clock(&self) -> &FakeClock {
        &self.clock
    }

    /// Advance the clock and let every container whose command ends by then exit, sending
    /// their events to [`get_container_events`](crate::RuntimeService::get_container_events)
    /// streams.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.lock().settle();
    }

    /// Add a busybox-like local image (see [`FakeImage::new`]); returns its id.
    pub fn add_image(&self, reference: &str) -> String {
        self.add_image_with(FakeImage::new(reference))
    }

    /// Add a local image; returns its id. An image with an id already present becomes
    /// another tag of that image.
    pub fn add_image_with(&self, image: FakeImage) -> String {
        self.lock().images.add(image, None).image.id.clone()
    }

    /// Make a busybox-like image pullable from the fake registry under `reference`.
    pub fn add_registry_image(&self, reference: &str) {
        self.add_registry_image_with(FakeImage::new(reference));
    }

    /// Make an image pullable from the fake registry under its reference.
    pub fn add_registry_image_with(&self, image: FakeImage) {
        let reference = image.reference.clone();
        self.lock().registry.insert(reference, image);
    }

    /// Make the next `times` calls of `call` (named as in `api.proto`, see [`CALL_NAMES`])
    /// fail with `failure`: a [`tonic::Code`] or a [`tonic::Status`]. Calls queue up:
    /// `fail_next("PullImage", 1, Code::Unavailable)` then `fail_next("PullImage", 1,
    /// Code::NotFound)` fails the next two pulls in that order.
    ///
    /// Failures surface as the real client reports them: `Unavailable` as
    /// [`Error::Unavailable`](crate::Error::Unavailable), `DeadlineExceeded` from `ExecSync`
    /// as [`Error::CommandTimedOut`](crate::Error::CommandTimedOut), anything else as
    /// [`Error::Rpc`](crate::Error::Rpc).
    ///
    /// # Panics
    ///
    /// If `call` is not a CRI call name, so that a typo cannot silently inject nothing.
    pub fn fail_next(&self, call: &str, times: usize, failure: impl Into<Failure>) {
        assert!(
            CALL_NAMES.contains(&call),
            "fail_next: {call:?} is not a CRI call name (expected one of {CALL_NAMES:?})"
        );
        let failure = failure.into();
        let mut st = self.lock();
        let queue = st.failures.entry(call.to_string()).or_default();
        queue.extend(std::iter::repeat_n(failure, times));
    }

    /// Every call received so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls of one method (`"StopContainer"`), oldest first.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Forget the calls received so far.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Make a container's process exit now with `exit_code`. `reason` is reported as is
    /// (`"OOMKilled"`); an empty reason becomes `Completed` or `Error` from the code, as in
    /// containerd.
    ///
    /// # Panics
    ///
    /// If no container has the id (or unique id prefix).
    pub fn exit_container(&self, id: &str, exit_code: i32, reason: &str) {
        if let Err(e) = self.lock().exit_container(id, exit_code, reason) {
            panic!("exit_container({id:?}): {}", e.message());
        }
    }

    /// The config a container was created with (`CreateContainer`'s request), to check what
    /// a caller asked the runtime for: envs, mounts, resources. `None` if no container has the
    /// id (or unique id prefix).
    pub fn container_config(&self, id: &str) -> Option<v1::ContainerConfig> {
        self.lock().container_config(id)
    }

    /// Make a container report CONTAINER_UNKNOWN (the runtime lost track of it).
    ///
    /// # Panics
    ///
    /// If no container has the id.
    pub fn set_container_unknown(&self, id: &str) {
        if let Err(e) = self.lock().set_container_unknown(id) {
            panic!("set_container_unknown({id:?}): {}", e.message());
        }
    }

    /// Make a sandbox NOTREADY, as when its pause process dies; its containers keep their
    /// state.
    ///
    /// # Panics
    ///
    /// If no sandbox has the id.
    pub fn set_sandbox_not_ready(&self, id: &str) {
        if let Err(e) = self.lock().set_sandbox_not_ready(id) {
            panic!("set_sandbox_not_ready({id:?}): {}", e.message());
        }
    }

    /// Set the `RuntimeReady` condition `Status` reports.
    pub fn set_runtime_ready(&self, ready: bool) {
        self.lock().runtime_ready = ready;
    }

    /// Set the `NetworkReady` condition `Status` reports. While false, `RunPodSandbox`
    /// fails for sandboxes that are not on the host network.
    pub fn set_network_ready(&self, ready: bool) {
        self.lock().network_ready = ready;
    }

    /// Answer `GetContainerEvents` with a stream of container events (created, started,
    /// stopped, deleted) instead of `Unimplemented`.
    pub fn enable_container_events(&self) {
        let mut st = self.lock();
        if st.event_subscribers.is_none() {
            st.event_subscribers = Some(Vec::new());
        }
    }

    /// Script the `ExecSync` reply for `cmd` (exactly this argv). With `container_id`
    /// `None` it applies to every container; with `Some(id)` only to that container (the
    /// full id). The latest script wins; the container must still be running.
    pub fn set_exec_reply(
        &self,
        container_id: Option<&str>,
        cmd: &[&str],
        reply: v1::ExecSyncResponse,
    ) {
        self.lock().exec_replies.push(ExecReply {
            container_id: container_id.map(str::to_string),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            reply,
        });
    }

    /// Answer `RuntimeConfig` with this cgroup driver instead of `Unimplemented`
    /// (containerd 1.6 lacks the call; the kubelet then keeps its configured driver).
    pub fn set_cgroup_driver(&self, driver: v1::CgroupDriver) {
        self.lock().cgroup_driver = Some(driver);
    }

    /// The pod CIDR last pushed with `UpdateRuntimeConfig` (empty if none).
    pub fn pod_cidr(&self) -> String {
        self.lock().pod_cidr.clone()
    }
}

#[cfg(test)]
mod tests;
