//! The fake runtime's state and the semantics of every call, under one lock.
//!
//! Each method here is one CRI call as containerd 1.6's CRI plugin performs it (error codes
//! and messages included), on plain data. Nothing awaits: [`FakeRuntime`](super::FakeRuntime)
//! takes the lock, calls one method and releases it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use tonic::{Code, Status};

use crate::v1;
use crate::v1::{ContainerState, PodSandboxState};

use super::clock::FakeClock;
use super::image::{self, FakeImage, ImageStore};
use super::program::{self, Program};
use super::{Call, Failure, ids};

/// containerd's reason for a container that exited 0.
pub(crate) const REASON_COMPLETED: &str = "Completed";
/// containerd's reason for a container that exited non-zero.
pub(crate) const REASON_ERROR: &str = "Error";
/// containerd's reason for a container whose cgroup saw an OOM kill.
pub(crate) const REASON_OOM_KILLED: &str = "OOMKilled";
/// containerd's reason for a container that failed to start (exit code 128).
pub(crate) const REASON_START_ERROR: &str = "StartError";
/// The exit code of a process killed by SIGKILL (128 + 9).
pub(crate) const EXIT_SIGKILL: i32 = 137;

#[derive(Debug)]
pub(crate) struct Sandbox {
    pub id: String,
    seq: u64,
    pub config: v1::PodSandboxConfig,
    pub runtime_handler: String,
    pub state: PodSandboxState,
    pub created_at: i64,
    /// The pod IP while the network namespace exists (empty for host network).
    pub ip: String,
    /// Whether the network namespace was torn down (after StopPodSandbox).
    pub netns_closed: bool,
    name_key: String,
}

#[derive(Debug)]
pub(crate) struct Container {
    pub id: String,
    seq: u64,
    pub sandbox_id: String,
    pub config: v1::ContainerConfig,
    pub image_id: String,
    pub program: Program,
    pub state: ContainerState,
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub exit_code: i32,
    /// An explicit reason (OOMKilled, StartError, injected); otherwise derived from the code.
    pub reason: String,
    pub message: String,
    pub resources: Option<v1::LinuxContainerResources>,
    pub log_path: String,
    name_key: String,
}

impl Container {
    fn is_running(&self) -> bool {
        matches!(
            self.state,
            ContainerState::ContainerRunning | ContainerState::ContainerUnknown
        )
    }
}

/// A scripted `ExecSync` reply.
#[derive(Debug, Clone)]
pub(crate) struct ExecReply {
    pub container_id: Option<String>,
    pub cmd: Vec<String>,
    pub reply: v1::ExecSyncResponse,
}

/// Everything the fake remembers.
#[derive(Debug)]
pub(crate) struct State {
    pub clock: FakeClock,
    next_seq: u64,
    next_ip: u32,
    pub sandboxes: BTreeMap<String, Sandbox>,
    pub containers: BTreeMap<String, Container>,
    /// Reserved sandbox and container names (containerd's name index) → id.
    names: HashMap<String, String>,
    pub images: ImageStore,
    /// Images the fake registry serves, by normalised reference.
    pub registry: BTreeMap<String, FakeImage>,
    pub failures: HashMap<String, VecDeque<Failure>>,
    pub calls: Vec<Call>,
    pub runtime_ready: bool,
    pub network_ready: bool,
    /// `None`: `GetContainerEvents` answers Unimplemented (containerd 1.6).
    pub event_subscribers: Option<Vec<UnboundedSender<crate::Result<v1::ContainerEventResponse>>>>,
    pub exec_replies: Vec<ExecReply>,
    pub pod_cidr: String,
    /// `None`: `RuntimeConfig` answers Unimplemented (containerd 1.6).
    pub cgroup_driver: Option<v1::CgroupDriver>,
    next_stream: u64,
}

fn not_found(what: &str, id: &str) -> Status {
    Status::not_found(format!(
        "an error occurred when try to find {what} {id:?}: not found"
    ))
}

/// A `truncindex` lookup as containerd's stores do: an exact id or a unique prefix.
fn lookup<T>(map: &BTreeMap<String, T>, what: &str, id: &str) -> Result<String, Status> {
    if id.is_empty() {
        return Err(Status::unknown(format!(
            "an error occurred when try to find {what} \"\": Prefix can't be empty"
        )));
    }
    if map.contains_key(id) {
        return Ok(id.to_string());
    }
    let mut found = map
        .range(id.to_string()..)
        .take_while(|(k, _)| k.starts_with(id));
    match (found.next(), found.next()) {
        (Some((k, _)), None) => Ok(k.clone()),
        (Some(_), Some(_)) => Err(Status::unknown(format!(
            "an error occurred when try to find {what} {id:?}: multiple IDs found with provided prefix: {id}"
        ))),
        (None, _) => Err(not_found(what, id)),
    }
}

fn labels_match(labels: &HashMap<String, String>, selector: &HashMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn state_name(state: ContainerState) -> &'static str {
    state.as_str_name()
}

impl State {
    pub fn new(clock: FakeClock) -> Self {
        State {
            clock,
            next_seq: 0,
            next_ip: 2,
            sandboxes: BTreeMap::new(),
            containers: BTreeMap::new(),
            names: HashMap::new(),
            images: ImageStore::default(),
            registry: BTreeMap::new(),
            failures: HashMap::new(),
            calls: Vec::new(),
            runtime_ready: true,
            network_ready: true,
            event_subscribers: None,
            exec_replies: Vec::new(),
            pod_cidr: String::new(),
            cgroup_driver: None,
            next_stream: 0,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    fn next_id(&mut self) -> (String, u64) {
        self.next_seq += 1;
        (ids::hex_id(self.next_seq), self.next_seq)
    }

    fn next_ip(&mut self) -> String {
        loop {
            let n = self.next_ip;
            self.next_ip += 1;
            let (x, y) = ((n >> 8) & 0xff, n & 0xff);
            if y != 0 && y != 255 && !(x == 0 && y == 1) {
                return format!("10.88.{x}.{y}");
            }
        }
    }

    // ---- time: containers whose program ends by now exit, lazily ----

    /// Bring every container up to the clock: a running `sleep 5` started 5 s ago exits now.
    pub fn settle(&mut self) {
        let now = self.now();
        let due: Vec<String> = self
            .containers
            .values()
            .filter(|c| c.state == ContainerState::ContainerRunning)
            .filter_map(|c| match &c.program {
                Program::Run {
                    lifetime: Some(l), ..
                } if c.started_at.saturating_add(nanos(*l)) <= now => Some(c.id.clone()),
                _ => None,
            })
            .collect();
        for id in due {
            let c = self.containers.get_mut(&id).expect("listed above");
            if let Program::Run {
                lifetime: Some(l),
                exit_code,
                ..
            } = c.program
            {
                let at = c.started_at.saturating_add(nanos(l));
                self.exit(&id, exit_code, "", at);
            }
        }
    }

    /// Mark a container exited and tell event subscribers.
    fn exit(&mut self, id: &str, exit_code: i32, reason: &str, at: i64) {
        if let Some(c) = self.containers.get_mut(id) {
            c.state = ContainerState::ContainerExited;
            c.exit_code = exit_code;
            c.finished_at = at;
            c.reason = reason.to_string();
            self.emit(id, v1::ContainerEventType::ContainerStoppedEvent);
        }
    }

    pub fn exit_container(&mut self, id: &str, exit_code: i32, reason: &str) -> Result<(), Status> {
        self.settle();
        let id = lookup(&self.containers, "container", id)?;
        let now = self.now();
        let c = &self.containers[&id];
        if c.state == ContainerState::ContainerCreated && c.started_at == 0 {
            self.containers.get_mut(&id).expect("looked up").started_at = now;
        }
        self.exit(&id, exit_code, reason, now);
        Ok(())
    }

    pub fn set_container_unknown(&mut self, id: &str) -> Result<(), Status> {
        let id = lookup(&self.containers, "container", id)?;
        self.containers.get_mut(&id).expect("looked up").state = ContainerState::ContainerUnknown;
        Ok(())
    }

    pub fn set_sandbox_not_ready(&mut self, id: &str) -> Result<(), Status> {
        let id = lookup(&self.sandboxes, "sandbox", id)?;
        self.sandboxes.get_mut(&id).expect("looked up").state = PodSandboxState::SandboxNotready;
        Ok(())
    }

    // ---- events ----

    fn emit(&mut self, container_id: &str, kind: v1::ContainerEventType) {
        let Some(subscribers) = &self.event_subscribers else {
            return;
        };
        if subscribers.is_empty() {
            return;
        }
        let Some(c) = self.containers.get(container_id) else {
            return;
        };
        let event = v1::ContainerEventResponse {
            container_id: container_id.to_string(),
            container_event_type: kind as i32,
            created_at: self.now(),
            pod_sandbox_status: self
                .sandboxes
                .get(&c.sandbox_id)
                .map(|s| self.sandbox_status_of(s)),
            containers_statuses: vec![self.container_status_of(c)],
        };
        if let Some(subscribers) = &mut self.event_subscribers {
            subscribers.retain(|tx| tx.unbounded_send(Ok(event.clone())).is_ok());
        }
    }

    // ---- sandboxes ----

    pub fn run_pod_sandbox(&mut self, req: v1::RunPodSandboxRequest) -> Result<String, Status> {
        let config = req
            .config
            .ok_or_else(|| Status::unknown("sandbox config must include metadata"))?;
        let metadata = config
            .metadata
            .clone()
            .ok_or_else(|| Status::unknown("sandbox config must include metadata"))?;
        let name_key = format!(
            "{}_{}_{}_{}",
            metadata.name, metadata.namespace, metadata.uid, metadata.attempt
        );
        if let Some(owner) = self.names.get(&name_key) {
            return Err(Status::unknown(format!(
                "failed to reserve sandbox name {name_key:?}: name {name_key:?} is reserved for {owner:?}"
            )));
        }
        let host_network = host_network(&config);
        let (id, seq) = self.next_id();
        if !host_network && !self.network_ready {
            return Err(Status::unknown(format!(
                "failed to setup network for sandbox {id:?}: cni plugin not initialized"
            )));
        }
        if host_network && !config.hostname.is_empty() {
            // A host-network sandbox shares the node's UTS namespace too; runc refuses to set
            // its hostname (the kubelet sends none for hostNetwork pods).
            return Err(Status::unknown(
                "failed to create containerd task: failed to create shim task: OCI runtime \
                 create failed: runc create failed: unable to set hostname without a private \
                 UTS namespace: unknown",
            ));
        }
        let ip = if host_network {
            String::new()
        } else {
            self.next_ip()
        };
        self.names.insert(name_key.clone(), id.clone());
        let sandbox = Sandbox {
            id: id.clone(),
            seq,
            config,
            runtime_handler: req.runtime_handler,
            state: PodSandboxState::SandboxReady,
            created_at: self.now(),
            ip,
            netns_closed: false,
            name_key,
        };
        self.sandboxes.insert(id.clone(), sandbox);
        Ok(id)
    }

    pub fn stop_pod_sandbox(&mut self, id: &str) -> Result<(), Status> {
        self.settle();
        let id = lookup(&self.sandboxes, "sandbox", id)?;
        // containerd stops every container of the sandbox first, with no grace period.
        let running: Vec<String> = self
            .containers
            .values()
            .filter(|c| c.sandbox_id == id && c.is_running())
            .map(|c| c.id.clone())
            .collect();
        let now = self.now();
        for cid in running {
            self.exit(&cid, EXIT_SIGKILL, "", now);
        }
        let sandbox = self.sandboxes.get_mut(&id).expect("looked up");
        sandbox.state = PodSandboxState::SandboxNotready;
        sandbox.netns_closed = true;
        Ok(())
    }

    pub fn remove_pod_sandbox(&mut self, id: &str) -> Result<(), Status> {
        let id = match lookup(&self.sandboxes, "sandbox", id) {
            Ok(id) => id,
            // The CRI: removing a sandbox that is gone is not an error (containerd agrees).
            Err(s) if s.code() == Code::NotFound => return Ok(()),
            Err(s) => return Err(s),
        };
        if self.sandboxes[&id].state == PodSandboxState::SandboxReady {
            self.stop_pod_sandbox(&id)?;
        }
        let containers: Vec<String> = self
            .containers
            .values()
            .filter(|c| c.sandbox_id == id)
            .map(|c| c.id.clone())
            .collect();
        for cid in containers {
            self.remove_container(&cid)?;
        }
        if let Some(s) = self.sandboxes.remove(&id) {
            self.names.remove(&s.name_key);
        }
        Ok(())
    }

    fn sandbox_status_of(&self, s: &Sandbox) -> v1::PodSandboxStatus {
        let ip = if s.netns_closed {
            String::new()
        } else {
            s.ip.clone()
        };
        v1::PodSandboxStatus {
            id: s.id.clone(),
            metadata: s.config.metadata.clone(),
            state: s.state as i32,
            created_at: s.created_at,
            network: Some(v1::PodSandboxNetworkStatus {
                ip,
                additional_ips: Vec::new(),
            }),
            linux: Some(v1::LinuxPodSandboxStatus {
                namespaces: Some(v1::Namespace {
                    // containerd reports POD for every namespace not configured.
                    options: Some(
                        s.config
                            .linux
                            .as_ref()
                            .and_then(|l| l.security_context.as_ref())
                            .and_then(|sc| sc.namespace_options.clone())
                            .unwrap_or_default(),
                    ),
                }),
            }),
            labels: s.config.labels.clone(),
            annotations: s.config.annotations.clone(),
            runtime_handler: s.runtime_handler.clone(),
        }
    }

    pub fn pod_sandbox_status(
        &mut self,
        req: &v1::PodSandboxStatusRequest,
    ) -> Result<v1::PodSandboxStatusResponse, Status> {
        self.settle();
        // containerd's message here does not name the id (the error's id field does).
        let id = lookup(&self.sandboxes, "sandbox", &req.pod_sandbox_id).map_err(|s| {
            if s.code() == Code::NotFound {
                Status::not_found("an error occurred when try to find sandbox: not found")
            } else {
                s
            }
        })?;
        let s = &self.sandboxes[&id];
        let mut info = HashMap::new();
        if req.verbose {
            info.insert(
                "info".to_string(),
                format!(
                    "{{\"pid\":0,\"runtimeHandler\":{:?},\"runtimeType\":\"fake\"}}",
                    s.runtime_handler
                ),
            );
        }
        Ok(v1::PodSandboxStatusResponse {
            status: Some(self.sandbox_status_of(s)),
            info,
            containers_statuses: Vec::new(),
            timestamp: 0,
        })
    }

    pub fn list_pod_sandbox(
        &mut self,
        filter: Option<&v1::PodSandboxFilter>,
    ) -> Vec<v1::PodSandbox> {
        self.settle();
        let id = filter.map(|f| f.id.as_str()).filter(|id| !id.is_empty());
        let id =
            id.map(|id| lookup(&self.sandboxes, "sandbox", id).unwrap_or_else(|_| id.to_string()));
        let mut items: Vec<&Sandbox> = self
            .sandboxes
            .values()
            .filter(|s| id.as_ref().is_none_or(|id| &s.id == id))
            .filter(|s| {
                filter
                    .and_then(|f| f.state.as_ref())
                    .is_none_or(|st| st.state == s.state as i32)
            })
            .filter(|s| filter.is_none_or(|f| labels_match(&s.config.labels, &f.label_selector)))
            .collect();
        items.sort_by_key(|s| s.seq);
        items
            .into_iter()
            .map(|s| v1::PodSandbox {
                id: s.id.clone(),
                metadata: s.config.metadata.clone(),
                state: s.state as i32,
                created_at: s.created_at,
                labels: s.config.labels.clone(),
                annotations: s.config.annotations.clone(),
                runtime_handler: s.runtime_handler.clone(),
            })
            .collect()
    }

    // ---- containers ----

    pub fn create_container(&mut self, req: v1::CreateContainerRequest) -> Result<String, Status> {
        let sandbox_id = lookup(&self.sandboxes, "sandbox", &req.pod_sandbox_id).map_err(|s| {
            if s.code() == Code::NotFound {
                Status::not_found(format!(
                    "failed to find sandbox id {:?}: not found",
                    req.pod_sandbox_id
                ))
            } else {
                s
            }
        })?;
        let sandbox = &self.sandboxes[&sandbox_id];
        if sandbox.state != PodSandboxState::SandboxReady {
            // containerd 1.6 asks the sandbox's pause task for its pid, which is gone.
            return Err(Status::not_found(format!(
                "failed to get sandbox container task: no running task found: task {sandbox_id} not found: not found"
            )));
        }
        let config = req
            .config
            .ok_or_else(|| Status::unknown("container config must include metadata"))?;
        let metadata = config
            .metadata
            .clone()
            .ok_or_else(|| Status::unknown("container config must include metadata"))?;
        let sandbox_config = req.sandbox_config.unwrap_or_else(|| sandbox.config.clone());
        let pod = sandbox_config.metadata.clone().unwrap_or_default();
        let name_key = format!(
            "{}_{}_{}_{}_{}",
            metadata.name, pod.name, pod.namespace, pod.uid, metadata.attempt
        );
        if let Some(owner) = self.names.get(&name_key) {
            return Err(Status::unknown(format!(
                "failed to reserve container name {name_key:?}: name {name_key:?} is reserved for {owner:?}"
            )));
        }
        let image_name = config
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default();
        let image = self.images.resolve(&image_name).ok_or_else(|| {
            Status::not_found(format!("failed to resolve image {image_name:?}: not found"))
        })?;
        let argv: Vec<String> = if config.command.is_empty() {
            let args = if config.args.is_empty() {
                &image.image.cmd
            } else {
                &config.args
            };
            image.image.entrypoint.iter().chain(args).cloned().collect()
        } else {
            config.command.iter().chain(&config.args).cloned().collect()
        };
        let image_id = image.image.id.clone();
        let log_path = if config.log_path.is_empty() {
            String::new()
        } else {
            std::path::Path::new(&sandbox_config.log_directory)
                .join(&config.log_path)
                .to_string_lossy()
                .into_owned()
        };
        let resources = config
            .linux
            .as_ref()
            .and_then(|l| l.resources.clone())
            .map(with_swap);
        let (id, seq) = self.next_id();
        self.names.insert(name_key.clone(), id.clone());
        let container = Container {
            id: id.clone(),
            seq,
            sandbox_id,
            config,
            image_id,
            program: program::interpret(&argv),
            state: ContainerState::ContainerCreated,
            created_at: self.now(),
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            resources,
            log_path,
            name_key,
        };
        self.containers.insert(id.clone(), container);
        self.emit(&id, v1::ContainerEventType::ContainerCreatedEvent);
        Ok(id)
    }

    pub fn start_container(&mut self, id: &str) -> Result<(), Status> {
        self.settle();
        let id = lookup(&self.containers, "container", id)?;
        let now = self.now();
        let c = &self.containers[&id];
        if c.state != ContainerState::ContainerCreated {
            return Err(Status::unknown(format!(
                "failed to set starting state for container {id:?}: container is in {} state",
                state_name(c.state)
            )));
        }
        let sandbox_ready = self
            .sandboxes
            .get(&c.sandbox_id)
            .is_some_and(|s| s.state == PodSandboxState::SandboxReady);
        if !sandbox_ready {
            // containerd marks the container exited with its StartError reason.
            let message = format!("sandbox container {:?} is not running", c.sandbox_id);
            let c = self.containers.get_mut(&id).expect("looked up");
            c.state = ContainerState::ContainerExited;
            c.finished_at = now;
            c.exit_code = 128;
            c.reason = REASON_START_ERROR.to_string();
            c.message = message.clone();
            return Err(Status::unknown(message));
        }
        let limit = c
            .resources
            .as_ref()
            .map(|r| r.memory_limit_in_bytes)
            .unwrap_or(0);
        let program = c.program.clone();
        let c = self.containers.get_mut(&id).expect("looked up");
        c.state = ContainerState::ContainerRunning;
        c.started_at = now;
        self.emit(&id, v1::ContainerEventType::ContainerStartedEvent);
        match program {
            Program::Allocate { bytes } if limit > 0 && bytes >= limit as u64 => {
                self.exit(&id, EXIT_SIGKILL, REASON_OOM_KILLED, now);
            }
            Program::Allocate { .. } => self.exit(&id, 0, "", now),
            Program::Run { .. } => self.settle(),
        }
        Ok(())
    }

    pub fn stop_container(&mut self, id: &str, timeout: i64) -> Result<(), Status> {
        self.settle();
        let id = lookup(&self.containers, "container", id)?;
        let c = &self.containers[&id];
        if !c.is_running() {
            // containerd: "Container to stop must be in running or unknown state": a no-op.
            return Ok(());
        }
        let term_exit = match &c.program {
            Program::Run { term_exit, .. } => *term_exit,
            Program::Allocate { .. } => None,
        };
        let now = self.now();
        match term_exit {
            // With a grace period the stop signal (SIGTERM) goes first; a trap exits.
            Some(code) if timeout > 0 && c.state == ContainerState::ContainerRunning => {
                self.exit(&id, code, "", now)
            }
            // Ignored SIGTERM, or no grace period: SIGKILL. The fake does not wait out the
            // grace period: the clock is the test's to move.
            _ => self.exit(&id, EXIT_SIGKILL, "", now),
        }
        Ok(())
    }

    pub fn remove_container(&mut self, id: &str) -> Result<(), Status> {
        self.settle();
        let id = match lookup(&self.containers, "container", id) {
            Ok(id) => id,
            // containerd: "Do not return error if container metadata doesn't exist".
            Err(s) if s.code() == Code::NotFound => return Ok(()),
            Err(s) => return Err(s),
        };
        if self.containers[&id].is_running() {
            self.stop_container(&id, 0)?;
        }
        self.emit(&id, v1::ContainerEventType::ContainerDeletedEvent);
        if let Some(c) = self.containers.remove(&id) {
            self.names.remove(&c.name_key);
        }
        Ok(())
    }

    fn container_status_of(&self, c: &Container) -> v1::ContainerStatus {
        let stored = self.images.resolve(&c.image_id);
        let image = match stored.and_then(|i| i.repo_tags.first()) {
            Some(tag) => Some(v1::ImageSpec {
                image: tag.clone(),
                ..Default::default()
            }),
            None => c.config.image.clone(),
        };
        let image_ref = stored
            .map(|i| i.image_ref())
            .unwrap_or_else(|| c.image_id.clone());
        let reason = if c.state == ContainerState::ContainerExited && c.reason.is_empty() {
            if c.exit_code == 0 {
                REASON_COMPLETED
            } else {
                REASON_ERROR
            }
            .to_string()
        } else {
            c.reason.clone()
        };
        v1::ContainerStatus {
            id: c.id.clone(),
            metadata: c.config.metadata.clone(),
            state: c.state as i32,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            exit_code: c.exit_code,
            image,
            image_ref,
            reason,
            message: c.message.clone(),
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
            mounts: c.config.mounts.clone(),
            log_path: c.log_path.clone(),
            // containerd reports resources even when none were set (all zero).
            resources: Some(v1::ContainerResources {
                linux: Some(c.resources.clone().unwrap_or_default()),
                windows: None,
            }),
            image_id: String::new(),
            user: None,
        }
    }

    pub fn container_config(&self, id: &str) -> Option<v1::ContainerConfig> {
        let id = lookup(&self.containers, "container", id).ok()?;
        self.containers.get(&id).map(|c| c.config.clone())
    }

    pub fn container_status(
        &mut self,
        req: &v1::ContainerStatusRequest,
    ) -> Result<v1::ContainerStatusResponse, Status> {
        self.settle();
        let id = lookup(&self.containers, "container", &req.container_id)?;
        let c = &self.containers[&id];
        let mut info = HashMap::new();
        if req.verbose {
            info.insert(
                "info".to_string(),
                format!(
                    "{{\"sandboxID\":{:?},\"pid\":0,\"runtimeType\":\"fake\"}}",
                    c.sandbox_id
                ),
            );
        }
        Ok(v1::ContainerStatusResponse {
            status: Some(self.container_status_of(c)),
            info,
        })
    }

    /// Containers matching a filter, as containerd's `filterCRIContainers`: the id and sandbox
    /// id may be unique prefixes; state and labels must match exactly.
    fn filtered_containers(
        &self,
        id: &str,
        sandbox_id: &str,
        state: Option<i32>,
        selector: Option<&HashMap<String, String>>,
    ) -> Vec<&Container> {
        let id = (!id.is_empty())
            .then(|| lookup(&self.containers, "container", id).unwrap_or_else(|_| id.to_string()));
        let sandbox_id = (!sandbox_id.is_empty()).then(|| {
            lookup(&self.sandboxes, "sandbox", sandbox_id)
                .unwrap_or_else(|_| sandbox_id.to_string())
        });
        let mut items: Vec<&Container> = self
            .containers
            .values()
            .filter(|c| id.as_ref().is_none_or(|id| &c.id == id))
            .filter(|c| sandbox_id.as_ref().is_none_or(|s| &c.sandbox_id == s))
            .filter(|c| state.is_none_or(|s| s == c.state as i32))
            .filter(|c| selector.is_none_or(|sel| labels_match(&c.config.labels, sel)))
            .collect();
        items.sort_by_key(|c| c.seq);
        items
    }

    pub fn list_containers(&mut self, filter: Option<&v1::ContainerFilter>) -> Vec<v1::Container> {
        self.settle();
        let items = match filter {
            Some(f) => self.filtered_containers(
                &f.id,
                &f.pod_sandbox_id,
                f.state.as_ref().map(|s| s.state),
                Some(&f.label_selector),
            ),
            None => self.filtered_containers("", "", None, None),
        };
        items
            .into_iter()
            .map(|c| v1::Container {
                id: c.id.clone(),
                pod_sandbox_id: c.sandbox_id.clone(),
                metadata: c.config.metadata.clone(),
                image: c.config.image.clone(),
                image_ref: c.image_id.clone(),
                state: c.state as i32,
                created_at: c.created_at,
                labels: c.config.labels.clone(),
                annotations: c.config.annotations.clone(),
                image_id: String::new(),
            })
            .collect()
    }

    pub fn update_container_resources(
        &mut self,
        req: v1::UpdateContainerResourcesRequest,
    ) -> Result<(), Status> {
        self.settle();
        let id = lookup(&self.containers, "container", &req.container_id)?;
        let c = self.containers.get_mut(&id).expect("looked up");
        if let Some(linux) = req.linux {
            c.resources = Some(with_swap(linux));
        }
        for (k, v) in req.annotations {
            c.config.annotations.insert(k, v);
        }
        Ok(())
    }

    /// A container that exists and runs, or the error containerd gives for it.
    fn running_container(&mut self, id: &str, call: &str) -> Result<String, Status> {
        self.settle();
        let id = lookup(&self.containers, "container", id).map_err(|s| {
            if s.code() == Code::NotFound {
                Status::not_found(format!(
                    "failed to find container {id:?} in store: not found"
                ))
            } else {
                s
            }
        })?;
        let state = self.containers[&id].state;
        if state != ContainerState::ContainerRunning {
            return Err(Status::unknown(format!(
                "failed to {call}: container is in {} state",
                state_name(state)
            )));
        }
        Ok(id)
    }

    pub fn reopen_container_log(&mut self, id: &str) -> Result<(), Status> {
        self.running_container(id, "reopen container log")
            .map(|_| ())
            .map_err(|s| {
                if s.code() == Code::NotFound {
                    s
                } else {
                    Status::unknown("container is not running")
                }
            })
    }

    pub fn exec_sync(
        &mut self,
        req: &v1::ExecSyncRequest,
    ) -> Result<Result<v1::ExecSyncResponse, Duration>, Status> {
        let id = self.running_container(&req.container_id, "exec in container")?;
        if req.cmd.is_empty() {
            return Err(Status::unknown(
                "failed to exec in container: OCI runtime exec failed: exec failed: args must \
                 not be empty: unknown",
            ));
        }
        if let Some(reply) = self
            .exec_replies
            .iter()
            .rev()
            .find(|r| r.cmd == req.cmd && r.container_id.as_ref().is_none_or(|c| *c == id))
        {
            return Ok(Ok(reply.reply.clone()));
        }
        let outcome = program::interpret_exec(&req.cmd);
        let timeout = Duration::from_secs(req.timeout.max(0) as u64);
        let timed_out = match outcome.duration {
            None => true,
            Some(d) => req.timeout > 0 && d > timeout,
        };
        if timed_out {
            return Ok(Err(timeout));
        }
        Ok(Ok(v1::ExecSyncResponse {
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            exit_code: outcome.exit_code,
        }))
    }

    /// A URL of the streaming server, shaped like containerd's
    /// `http://127.0.0.1:PORT/exec/TOKEN`.
    pub fn streaming_url(
        &mut self,
        kind: &str,
        id: &str,
        is_sandbox: bool,
    ) -> Result<String, Status> {
        if is_sandbox {
            let id = lookup(&self.sandboxes, "sandbox", id)?;
            if self.sandboxes[&id].state != PodSandboxState::SandboxReady {
                return Err(Status::unknown("sandbox container is not running"));
            }
        } else {
            self.running_container(id, kind)?;
        }
        self.next_stream += 1;
        let token = &ids::hex_id(u64::MAX - self.next_stream)[..8];
        Ok(format!("http://127.0.0.1:10010/{kind}/{token}"))
    }

    // ---- stats ----

    fn container_stats_of(&self, c: &Container) -> v1::ContainerStats {
        let now = self.now();
        let running = c.is_running();
        let ran_for = match c.state {
            ContainerState::ContainerCreated => 0,
            _ if running => now.saturating_sub(c.started_at),
            _ => c.finished_at.saturating_sub(c.started_at),
        }
        .max(0) as u64;
        let working_set: u64 = 716_800;
        let limit = c
            .resources
            .as_ref()
            .map(|r| r.memory_limit_in_bytes)
            .unwrap_or(0);
        let uv = |value| Some(v1::UInt64Value { value });
        let cpu = v1::CpuUsage {
            timestamp: now,
            // One percent of a core while running.
            usage_core_nano_seconds: uv(ran_for / 100),
            usage_nano_cores: uv(10_000_000),
        };
        let memory = v1::MemoryUsage {
            timestamp: now,
            working_set_bytes: uv(working_set),
            available_bytes: uv((limit.max(0) as u64).saturating_sub(working_set)),
            usage_bytes: uv(working_set + working_set / 2),
            rss_bytes: uv(working_set / 2),
            page_faults: uv(200),
            major_page_faults: uv(0),
        };
        v1::ContainerStats {
            attributes: Some(v1::ContainerAttributes {
                id: c.id.clone(),
                metadata: c.config.metadata.clone(),
                labels: c.config.labels.clone(),
                annotations: c.config.annotations.clone(),
            }),
            // Only a running process has cgroup usage to report.
            cpu: running.then_some(cpu),
            memory: running.then_some(memory),
            writable_layer: Some(v1::FilesystemUsage {
                timestamp: now,
                fs_id: Some(v1::FilesystemIdentifier {
                    mountpoint: SNAPSHOTTER_ROOT.to_string(),
                }),
                used_bytes: uv(8192),
                inodes_used: uv(4),
            }),
            swap: None,
        }
    }

    pub fn container_stats(&mut self, id: &str) -> Result<v1::ContainerStats, Status> {
        self.settle();
        let id = lookup(&self.containers, "container", id).map_err(|s| {
            if s.code() == Code::NotFound {
                Status::not_found("failed to find container: not found")
            } else {
                s
            }
        })?;
        Ok(self.container_stats_of(&self.containers[&id]))
    }

    pub fn list_container_stats(
        &mut self,
        filter: Option<&v1::ContainerStatsFilter>,
    ) -> Vec<v1::ContainerStats> {
        self.settle();
        let (id, sandbox, selector) = match filter {
            Some(f) => (
                f.id.as_str(),
                f.pod_sandbox_id.as_str(),
                Some(&f.label_selector),
            ),
            None => ("", "", None),
        };
        // containerd lists created and exited containers too.
        self.filtered_containers(id, sandbox, None, selector)
            .into_iter()
            .map(|c| self.container_stats_of(c))
            .collect()
    }

    fn sandbox_stats_of(&self, s: &Sandbox) -> v1::PodSandboxStats {
        let now = self.now();
        let containers: Vec<v1::ContainerStats> = self
            .filtered_containers("", &s.id, None, None)
            .into_iter()
            .filter(|c| c.is_running())
            .map(|c| self.container_stats_of(c))
            .collect();
        let sum = |f: &dyn Fn(&v1::ContainerStats) -> Option<u64>| -> u64 {
            containers.iter().filter_map(f).sum()
        };
        let cpu_total = sum(&|c| {
            c.cpu
                .as_ref()?
                .usage_core_nano_seconds
                .as_ref()
                .map(|v| v.value)
        });
        let cpu_now = sum(&|c| c.cpu.as_ref()?.usage_nano_cores.as_ref().map(|v| v.value));
        let ws = sum(&|c| {
            c.memory
                .as_ref()?
                .working_set_bytes
                .as_ref()
                .map(|v| v.value)
        });
        let uv = |value| Some(v1::UInt64Value { value });
        let interface = |name: &str| v1::NetworkInterfaceUsage {
            name: name.to_string(),
            rx_bytes: uv(0),
            rx_errors: uv(0),
            tx_bytes: uv(0),
            tx_errors: uv(0),
        };
        v1::PodSandboxStats {
            attributes: Some(v1::PodSandboxAttributes {
                id: s.id.clone(),
                metadata: s.config.metadata.clone(),
                labels: s.config.labels.clone(),
                annotations: s.config.annotations.clone(),
            }),
            linux: Some(v1::LinuxPodSandboxStats {
                cpu: Some(v1::CpuUsage {
                    timestamp: now,
                    usage_core_nano_seconds: uv(cpu_total),
                    usage_nano_cores: uv(cpu_now),
                }),
                memory: Some(v1::MemoryUsage {
                    timestamp: now,
                    working_set_bytes: uv(ws),
                    available_bytes: uv(0),
                    usage_bytes: uv(ws + ws / 2),
                    rss_bytes: uv(ws / 2),
                    page_faults: uv(0),
                    major_page_faults: uv(0),
                }),
                network: (!host_network(&s.config)).then(|| v1::NetworkUsage {
                    timestamp: now,
                    default_interface: Some(interface("eth0")),
                    interfaces: Vec::new(),
                }),
                process: Some(v1::ProcessUsage {
                    timestamp: now,
                    process_count: uv(containers.len() as u64 + 1),
                }),
                containers,
            }),
            windows: None,
        }
    }

    pub fn pod_sandbox_stats(&mut self, id: &str) -> Result<v1::PodSandboxStats, Status> {
        self.settle();
        let id = lookup(&self.sandboxes, "sandbox", id).map_err(|s| {
            if s.code() == Code::NotFound {
                Status::not_found(format!(
                    "an error occurred when trying to find sandbox {id}: not found"
                ))
            } else {
                s
            }
        })?;
        Ok(self.sandbox_stats_of(&self.sandboxes[&id]))
    }

    pub fn list_pod_sandbox_stats(
        &mut self,
        filter: Option<&v1::PodSandboxStatsFilter>,
    ) -> Vec<v1::PodSandboxStats> {
        let sandboxes = self.list_pod_sandbox(
            filter
                .map(|f| v1::PodSandboxFilter {
                    id: f.id.clone(),
                    state: Some(v1::PodSandboxStateValue {
                        state: PodSandboxState::SandboxReady as i32,
                    }),
                    label_selector: f.label_selector.clone(),
                })
                .as_ref(),
        );
        sandboxes
            .iter()
            .filter(|s| s.state == PodSandboxState::SandboxReady as i32)
            .filter_map(|s| self.sandboxes.get(&s.id))
            .map(|s| self.sandbox_stats_of(s))
            .collect()
    }

    // ---- images ----

    pub fn pull_image(&mut self, reference: &str) -> Result<String, Status> {
        let normalized = image::normalize(reference).ok_or_else(|| {
            Status::unknown(format!("failed to parse image reference {reference:?}"))
        })?;
        let Some(image) = self.registry.get(&normalized).cloned() else {
            return Err(Status::not_found(format!(
                "failed to pull and unpack image {normalized:?}: failed to resolve reference \
                 {normalized:?}: {normalized}: not found"
            )));
        };
        let digest = image::repo_digest(&image);
        let mut pulled = image;
        pulled.reference = normalized;
        Ok(self.images.add(pulled, Some(digest)).image.id.clone())
    }

    pub fn image_fs_info(&self) -> v1::ImageFsInfoResponse {
        let images = self.images.list().count() as u64;
        v1::ImageFsInfoResponse {
            image_filesystems: vec![v1::FilesystemUsage {
                timestamp: self.now(),
                fs_id: Some(v1::FilesystemIdentifier {
                    mountpoint: SNAPSHOTTER_ROOT.to_string(),
                }),
                used_bytes: Some(v1::UInt64Value {
                    value: self.images.total_size(),
                }),
                inodes_used: Some(v1::UInt64Value {
                    value: images * 420,
                }),
            }],
            container_filesystems: Vec::new(),
        }
    }
}

/// Where containerd keeps image layers (reported as the image filesystem).
const SNAPSHOTTER_ROOT: &str = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs";

/// containerd reports a memory limit's swap limit as the same value (no extra swap).
fn with_swap(mut r: v1::LinuxContainerResources) -> v1::LinuxContainerResources {
    if r.memory_limit_in_bytes > 0 && r.memory_swap_limit_in_bytes == 0 {
        r.memory_swap_limit_in_bytes = r.memory_limit_in_bytes;
    }
    r
}

/// Whether a sandbox shares the node's network namespace (`NamespaceMode::Node`).
pub(crate) fn host_network(config: &v1::PodSandboxConfig) -> bool {
    config
        .linux
        .as_ref()
        .and_then(|l| l.security_context.as_ref())
        .and_then(|sc| sc.namespace_options.as_ref())
        .is_some_and(|ns| ns.network == v1::NamespaceMode::Node as i32)
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
