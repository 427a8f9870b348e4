//! The cases, and the helpers they share. Each case is an `async fn(&Ctx)` that panics with
//! a message saying what differed; the runner cleans up after it either way.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, join_all};
use tonic::Code;

use super::{CASE_LABEL, Case, Ctx, Pod};
use crate::v1::{ContainerState, NamespaceMode, PodSandboxState};
use crate::{Error, Result, run_in_container, v1};

/// A long-running command that exits 0 on SIGTERM (busybox `sh` as PID 1 would otherwise
/// ignore SIGTERM and make every graceful stop wait out its whole timeout).
/// It touches [`TRAPPED`] once the trap is set.
const TERM_TRAPPING: &[&str] = &[
    "sh",
    "-c",
    "trap \"exit 0\" TERM; touch /tmp/trapped; sleep 3600 & wait",
];
/// The file [`TERM_TRAPPING`] creates when its trap is in place.
const TRAPPED: &str = "/tmp/trapped";
/// A long-running command that ignores SIGTERM (PID 1 with no handler).
const SLEEP_LONG: &[&str] = &["sleep", "3600"];
/// An id no runtime has: 64 hex digits, so that no prefix lookup can match it either.
const UNKNOWN_ID: &str = "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface";
/// An image no test environment has.
const ABSENT_IMAGE: &str = "localhost/nodelet-contract-absent:0";
const MIB: i64 = 1024 * 1024;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        mod run {
            use super::*;
            $(
                pub(super) fn $name<'a>(ctx: &'a Ctx<'a>) -> BoxFuture<'a, ()> {
                    Box::pin(super::$name(ctx))
                }
            )*
        }
        pub(super) static ALL: &[Case] = &[$(Case { name: stringify!($name), run: run::$name }),*];
    };
}

cases! {
    version_and_status_report_a_ready_v1_runtime,
    sandbox_lifecycle_with_cni_network,
    sandbox_lifecycle_with_host_network,
    sandbox_with_host_network_and_a_hostname_fails,
    container_lifecycle_with_stop_timeout_0,
    container_stop_with_timeout_runs_the_term_trap,
    container_exit_3_is_error,
    container_exit_0_is_completed,
    container_sleep_exits_after_its_duration,
    container_over_memory_limit_is_oom_killed,
    container_within_memory_limit_completes,
    container_status_reports_resources_and_log_path,
    cri_11_not_found_for_unknown_ids,
    cri_11_not_found_is_success_for_stop_and_remove,
    cri_12_list_by_pod_uid_label,
    cri_13_labels_and_annotations_roundtrip,
    list_containers_by_state,
    list_filters_by_id_prefix,
    stop_and_remove_are_idempotent,
    stop_sandbox_stops_its_containers,
    remove_sandbox_removes_its_containers,
    create_container_in_missing_or_stopped_sandbox_fails,
    create_container_with_absent_image_fails,
    start_container_twice_fails,
    exec_sync_stdout_and_exit_code,
    exec_sync_timeout_is_command_timed_out,
    exec_sync_in_exited_container_fails,
    image_status_and_list_show_the_busybox_image,
    image_status_of_absent_image_is_none,
    pull_image_from_registry,
    pull_missing_image_is_not_found,
    twenty_pods_concurrently,
    container_events_capability_is_reported,
}

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn ok<T>(call: &str, r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{call} failed: {e}"))
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// Options for a container made by [`Ctx::create`].
#[derive(Default, Clone)]
struct Spec<'s> {
    name: &'s str,
    command: &'s [&'s str],
    image: Option<&'s str>,
    resources: Option<v1::LinuxContainerResources>,
    labels: HashMap<String, String>,
    annotations: HashMap<String, String>,
}

fn spec<'s>(name: &'s str, command: &'s [&'s str]) -> Spec<'s> {
    Spec {
        name,
        command,
        ..Default::default()
    }
}

impl Ctx<'_> {
    /// The config of a new pod: kubelet-style labels, a case label for clean-up, a cgroup
    /// parent under the base, a log directory under the temp dir.
    fn pod_config(&self, host_network: bool) -> (v1::PodSandboxConfig, String, std::path::PathBuf) {
        let n = self.pods.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{}-p{n}", self.case_label);
        let uid = format!("{}-uid{n}", self.case_label);
        let log_dir = self.env.log_root.join(&self.case_label).join(&name);
        create_dir(&log_dir);
        self.uids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(uid.clone());
        let network = if host_network {
            NamespaceMode::Node
        } else {
            NamespaceMode::Pod
        };
        let config = v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: name.clone(),
                uid: uid.clone(),
                namespace: "contract".to_string(),
                attempt: 0,
            }),
            // The kubelet sets a hostname only for pods with their own network (and so UTS)
            // namespace; runc refuses one on the host's.
            hostname: if host_network {
                String::new()
            } else {
                format!("pod-{n}")
            },
            log_directory: log_dir.to_string_lossy().into_owned(),
            labels: [
                (CASE_LABEL.to_string(), self.case_label.clone()),
                ("io.kubernetes.pod.name".to_string(), name.clone()),
                (
                    "io.kubernetes.pod.namespace".to_string(),
                    "contract".to_string(),
                ),
                ("io.kubernetes.pod.uid".to_string(), uid.clone()),
            ]
            .into(),
            annotations: [(
                "kubernetes.io/config.source".to_string(),
                "contract".to_string(),
            )]
            .into(),
            linux: Some(v1::LinuxPodSandboxConfig {
                cgroup_parent: format!("{}/pod{uid}", self.env.cgroup_parent_base),
                security_context: Some(v1::LinuxSandboxSecurityContext {
                    namespace_options: Some(v1::NamespaceOption {
                        network: network as i32,
                        pid: NamespaceMode::Container as i32,
                        ipc: NamespaceMode::Pod as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        (config, uid, log_dir)
    }

    async fn run_pod(&self, host_network: bool) -> Pod {
        let (config, uid, log_dir) = self.pod_config(host_network);
        let id = ok(
            "RunPodSandbox",
            self.rt
                .run_pod_sandbox(v1::RunPodSandboxRequest {
                    config: Some(config.clone()),
                    runtime_handler: String::new(),
                })
                .await,
        )
        .pod_sandbox_id;
        assert!(!id.is_empty(), "RunPodSandbox returned an empty id");
        Pod {
            id,
            uid,
            config,
            log_dir,
        }
    }

    fn container_config(&self, pod: &Pod, spec: &Spec<'_>) -> v1::ContainerConfig {
        let pod_meta = pod.config.metadata.clone().unwrap_or_default();
        create_dir(&pod.log_dir.join(spec.name));
        let mut labels: HashMap<String, String> = [
            ("io.kubernetes.pod.name".to_string(), pod_meta.name),
            (
                "io.kubernetes.pod.namespace".to_string(),
                pod_meta.namespace,
            ),
            ("io.kubernetes.pod.uid".to_string(), pod_meta.uid),
            (
                "io.kubernetes.container.name".to_string(),
                spec.name.to_string(),
            ),
        ]
        .into();
        labels.extend(spec.labels.clone());
        v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: spec.name.to_string(),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: spec.image.unwrap_or(&self.env.busybox_image).to_string(),
                ..Default::default()
            }),
            command: strings(spec.command),
            labels,
            annotations: spec.annotations.clone(),
            log_path: format!("{}/0.log", spec.name),
            linux: Some(v1::LinuxContainerConfig {
                resources: spec.resources.clone(),
                security_context: None,
            }),
            ..Default::default()
        }
    }

    async fn try_create(&self, pod: &Pod, spec: &Spec<'_>) -> Result<String> {
        self.rt
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: pod.id.clone(),
                config: Some(self.container_config(pod, spec)),
                sandbox_config: Some(pod.config.clone()),
            })
            .await
            .map(|r| r.container_id)
    }

    async fn create(&self, pod: &Pod, spec: &Spec<'_>) -> String {
        let id = ok("CreateContainer", self.try_create(pod, spec).await);
        assert!(!id.is_empty(), "CreateContainer returned an empty id");
        id
    }

    async fn start(&self, id: &str) {
        ok(
            "StartContainer",
            self.rt
                .start_container(v1::StartContainerRequest {
                    container_id: id.to_string(),
                })
                .await,
        );
    }

    /// Create and start.
    async fn run(&self, pod: &Pod, spec: &Spec<'_>) -> String {
        let id = self.create(pod, spec).await;
        self.start(&id).await;
        id
    }

    async fn stop(&self, id: &str, timeout: i64) -> Result<v1::StopContainerResponse> {
        self.rt
            .stop_container(v1::StopContainerRequest {
                container_id: id.to_string(),
                timeout,
            })
            .await
    }

    async fn remove(&self, id: &str) -> Result<v1::RemoveContainerResponse> {
        self.rt
            .remove_container(v1::RemoveContainerRequest {
                container_id: id.to_string(),
            })
            .await
    }

    async fn try_status(&self, id: &str) -> Result<v1::ContainerStatus> {
        self.rt
            .container_status(v1::ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: false,
            })
            .await
            .map(|r| r.status.expect("ContainerStatus without a status"))
    }

    async fn status(&self, id: &str) -> v1::ContainerStatus {
        ok("ContainerStatus", self.try_status(id).await)
    }

    async fn try_sandbox_status(&self, id: &str) -> Result<v1::PodSandboxStatus> {
        self.rt
            .pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: false,
            })
            .await
            .map(|r| r.status.expect("PodSandboxStatus without a status"))
    }

    async fn sandbox_status(&self, id: &str) -> v1::PodSandboxStatus {
        ok("PodSandboxStatus", self.try_sandbox_status(id).await)
    }

    async fn stop_pod(&self, id: &str) -> Result<v1::StopPodSandboxResponse> {
        self.rt
            .stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            })
            .await
    }

    async fn remove_pod(&self, id: &str) -> Result<v1::RemovePodSandboxResponse> {
        self.rt
            .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            })
            .await
    }

    /// Poll until the container reaches `state`, for at most the env's poll timeout.
    async fn wait_for_state(&self, id: &str, state: ContainerState) -> v1::ContainerStatus {
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        loop {
            let status = self.status(id).await;
            if status.state() == state {
                return status;
            }
            if waited >= self.env.poll_timeout {
                panic!(
                    "container {id} did not reach {} within {:?}; last status: {status:?}",
                    state.as_str_name(),
                    self.env.poll_timeout
                );
            }
            self.wait(step).await;
            waited += step;
        }
    }

    /// Poll until a [`TERM_TRAPPING`] container has set its trap.
    async fn wait_for_trap(&self, id: &str) {
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        loop {
            let test = ok("ExecSync", self.exec(id, &["test", "-f", TRAPPED], 5).await);
            if test.exit_code == 0 {
                return;
            }
            assert!(
                waited < self.env.poll_timeout,
                "container {id} did not set its TERM trap within {:?}",
                self.env.poll_timeout
            );
            self.wait(step).await;
            waited += step;
        }
    }

    async fn wait_for_exit(&self, id: &str) -> v1::ContainerStatus {
        self.wait_for_state(id, ContainerState::ContainerExited)
            .await
    }

    async fn list_containers(&self, filter: v1::ContainerFilter) -> Vec<v1::Container> {
        ok(
            "ListContainers",
            self.rt
                .list_containers(v1::ListContainersRequest {
                    filter: Some(filter),
                })
                .await,
        )
        .containers
    }

    async fn list_sandboxes(&self, filter: v1::PodSandboxFilter) -> Vec<v1::PodSandbox> {
        ok(
            "ListPodSandbox",
            self.rt
                .list_pod_sandbox(v1::ListPodSandboxRequest {
                    filter: Some(filter),
                })
                .await,
        )
        .items
    }

    async fn image_status(&self, image: &str) -> Option<v1::Image> {
        ok(
            "ImageStatus",
            self.img
                .image_status(v1::ImageStatusRequest {
                    image: Some(image_spec(image)),
                    verbose: false,
                })
                .await,
        )
        .image
    }

    async fn remove_image(&self, image: &str) -> Result<v1::RemoveImageResponse> {
        self.img
            .remove_image(v1::RemoveImageRequest {
                image: Some(image_spec(image)),
            })
            .await
    }

    async fn exec(&self, id: &str, cmd: &[&str], timeout: i64) -> Result<v1::ExecSyncResponse> {
        self.rt
            .exec_sync(v1::ExecSyncRequest {
                container_id: id.to_string(),
                cmd: strings(cmd),
                timeout,
            })
            .await
    }
}

/// `mkdir -p`, retried: a case that finishes removes the run's directory once it looks
/// empty, which can race with another case creating its first directory in it.
fn create_dir(path: &std::path::Path) {
    let mut attempts = 0;
    loop {
        match std::fs::create_dir_all(path) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 10 => attempts += 1,
            Err(e) => panic!("creating log directory {}: {e}", path.display()),
        }
    }
}

fn image_spec(image: &str) -> v1::ImageSpec {
    v1::ImageSpec {
        image: image.to_string(),
        ..Default::default()
    }
}

fn memory_limit(bytes: i64) -> Option<v1::LinuxContainerResources> {
    Some(v1::LinuxContainerResources {
        memory_limit_in_bytes: bytes,
        ..Default::default()
    })
}

fn ids(containers: &[v1::Container]) -> Vec<&str> {
    containers.iter().map(|c| c.id.as_str()).collect()
}

/// Assert an error is gRPC NotFound and names `id` in its text.
fn assert_not_found_naming(call: &str, r: Result<impl std::fmt::Debug>, id: &str) {
    match r {
        Ok(v) => panic!("{call} of unknown id {id} succeeded: {v:?}"),
        Err(e) => {
            assert!(
                e.is_not_found(),
                "{call} of unknown id: want NotFound, got {e:?}"
            );
            assert_eq!(e.call(), Some(call), "{e:?}");
            assert!(
                e.to_string().contains(id),
                "{call}: the error does not name the id: {e}"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Runtime
// ------------------------------------------------------------------------------------------

async fn version_and_status_report_a_ready_v1_runtime(ctx: &Ctx<'_>) {
    let version = ok(
        "Version",
        ctx.rt
            .version(v1::VersionRequest {
                version: crate::KUBE_RUNTIME_API_VERSION.to_string(),
            })
            .await,
    );
    crate::check_version(&version).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(version.runtime_api_version, "v1", "{version:?}");
    let status = ok(
        "Status",
        ctx.rt.status(v1::StatusRequest { verbose: false }).await,
    );
    let conditions = status.status.expect("Status without a status").conditions;
    for wanted in ["RuntimeReady", "NetworkReady"] {
        let condition = conditions
            .iter()
            .find(|c| c.r#type == wanted)
            .unwrap_or_else(|| panic!("no {wanted} condition in {conditions:?}"));
        assert!(condition.status, "{wanted} is false: {condition:?}");
    }
    let fs = ok(
        "ImageFsInfo",
        ctx.img.image_fs_info(v1::ImageFsInfoRequest {}).await,
    );
    let image_fs = fs.image_filesystems.first().expect("no image filesystem");
    assert!(
        image_fs.used_bytes.as_ref().is_some_and(|u| u.value > 0),
        "image filesystem usage: {image_fs:?}"
    );
}

// ------------------------------------------------------------------------------------------
// Sandboxes
// ------------------------------------------------------------------------------------------

async fn sandbox_lifecycle(ctx: &Ctx<'_>, host_network: bool) {
    let pod = ctx.run_pod(host_network).await;
    let status = ctx.sandbox_status(&pod.id).await;
    assert_eq!(status.id, pod.id);
    assert_eq!(status.state(), PodSandboxState::SandboxReady);
    assert_eq!(status.metadata, pod.config.metadata);
    assert!(status.created_at > 0, "created_at: {}", status.created_at);
    assert_eq!(status.labels, pod.config.labels);
    assert_eq!(status.annotations, pod.config.annotations);
    let ip = status
        .network
        .as_ref()
        .map(|n| n.ip.clone())
        .unwrap_or_default();
    let options = status
        .linux
        .as_ref()
        .and_then(|l| l.namespaces.as_ref())
        .and_then(|n| n.options.as_ref())
        .expect("PodSandboxStatus without namespace options");
    if host_network {
        assert_eq!(ip, "", "a host-network sandbox reports no IP");
        assert_eq!(options.network(), NamespaceMode::Node);
    } else {
        let parsed: Ipv4Addr = ip
            .parse()
            .unwrap_or_else(|e| panic!("pod IP {ip:?} is not an IPv4 address: {e}"));
        assert!(
            !parsed.is_unspecified() && !parsed.is_loopback(),
            "pod IP {parsed}"
        );
        assert_eq!(options.network(), NamespaceMode::Pod);
    }

    let listed = ctx
        .list_sandboxes(v1::PodSandboxFilter {
            id: pod.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].state(), PodSandboxState::SandboxReady);
    assert_eq!(listed[0].created_at, status.created_at);

    ok("StopPodSandbox", ctx.stop_pod(&pod.id).await);
    let stopped = ctx.sandbox_status(&pod.id).await;
    assert_eq!(stopped.state(), PodSandboxState::SandboxNotready);
    let ip_after = stopped.network.map(|n| n.ip).unwrap_or_default();
    assert_eq!(
        ip_after, "",
        "a stopped sandbox has no network namespace, so no IP"
    );

    ok("RemovePodSandbox", ctx.remove_pod(&pod.id).await);
    assert_not_found_naming(
        "PodSandboxStatus",
        ctx.try_sandbox_status(&pod.id).await,
        &pod.id,
    );
    let listed = ctx
        .list_sandboxes(v1::PodSandboxFilter {
            id: pod.id.clone(),
            ..Default::default()
        })
        .await;
    assert!(
        listed.is_empty(),
        "removed sandbox still listed: {listed:?}"
    );
}

async fn sandbox_lifecycle_with_cni_network(ctx: &Ctx<'_>) {
    sandbox_lifecycle(ctx, false).await;
}

async fn sandbox_lifecycle_with_host_network(ctx: &Ctx<'_>) {
    sandbox_lifecycle(ctx, true).await;
}

async fn sandbox_with_host_network_and_a_hostname_fails(ctx: &Ctx<'_>) {
    let (mut config, _, _) = ctx.pod_config(true);
    config.hostname = "not-allowed".to_string();
    let err = ctx
        .rt
        .run_pod_sandbox(v1::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        })
        .await
        .expect_err("a host-network sandbox with a hostname started");
    assert!(err.to_string().contains("hostname"), "{err}");
    // Nothing is left behind: the name is free again.
    config.hostname = String::new();
    ok(
        "RunPodSandbox without the hostname",
        ctx.rt
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            })
            .await,
    );
}

// ------------------------------------------------------------------------------------------
// Containers
// ------------------------------------------------------------------------------------------

async fn container_lifecycle_with_stop_timeout_0(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.create(&pod, &spec("main", SLEEP_LONG)).await;
    let created = ctx.status(&id).await;
    assert_eq!(created.id, id);
    assert_eq!(created.state(), ContainerState::ContainerCreated);
    assert!(created.created_at > 0);
    assert_eq!((created.started_at, created.finished_at), (0, 0));
    assert_eq!(
        created.metadata.as_ref().map(|m| m.name.as_str()),
        Some("main")
    );
    assert!(
        !created.image_ref.is_empty(),
        "empty image_ref: {created:?}"
    );
    assert!(
        created.image.as_ref().is_some_and(|i| !i.image.is_empty()),
        "empty image: {created:?}"
    );

    ctx.start(&id).await;
    let running = ctx.status(&id).await;
    assert_eq!(running.state(), ContainerState::ContainerRunning);
    assert!(running.started_at >= created.created_at, "{running:?}");

    ok("StopContainer", ctx.stop(&id, 0).await);
    let exited = ctx.status(&id).await;
    assert_eq!(
        exited.state(),
        ContainerState::ContainerExited,
        "{exited:?}"
    );
    assert_eq!(exited.exit_code, 137, "SIGKILL: {exited:?}");
    assert_eq!(exited.reason, "Error");
    assert!(exited.finished_at >= exited.started_at, "{exited:?}");

    ok("RemoveContainer", ctx.remove(&id).await);
    assert_not_found_naming("ContainerStatus", ctx.try_status(&id).await, &id);
}

async fn container_stop_with_timeout_runs_the_term_trap(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", TERM_TRAPPING)).await;
    // Until the shell has set its trap, SIGTERM is ignored (PID 1): wait for the marker.
    ctx.wait_for_trap(&id).await;
    assert_eq!(
        ctx.status(&id).await.state(),
        ContainerState::ContainerRunning
    );
    let started = Instant::now();
    ok("StopContainer", ctx.stop(&id, 10).await);
    let took = started.elapsed();
    let status = ctx.wait_for_exit(&id).await;
    assert_eq!(status.exit_code, 0, "the TERM trap exits 0: {status:?}");
    assert_eq!(status.reason, "Completed");
    assert!(
        took < Duration::from_secs(8),
        "StopContainer took {took:?}: SIGTERM should end it long before the 10 s timeout"
    );
}

async fn container_exit_3_is_error(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", &["sh", "-c", "exit 3"])).await;
    let status = ctx.wait_for_exit(&id).await;
    assert_eq!(status.exit_code, 3, "{status:?}");
    assert_eq!(status.reason, "Error");
    // Not `finished_at >= started_at`: containerd stamps started_at when the start call
    // returns and finished_at from the exit event, which can come first for a quick exit.
    assert!(
        status.started_at > 0 && status.finished_at >= status.created_at,
        "{status:?}"
    );
}

async fn container_exit_0_is_completed(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", &["sh", "-c", "exit 0"])).await;
    let status = ctx.wait_for_exit(&id).await;
    assert_eq!(status.exit_code, 0, "{status:?}");
    assert_eq!(status.reason, "Completed");
}

async fn container_sleep_exits_after_its_duration(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", &["sleep", "2"])).await;
    assert_eq!(
        ctx.status(&id).await.state(),
        ContainerState::ContainerRunning
    );
    let status = ctx.wait_for_exit(&id).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (0, "Completed"));
    let ran = Duration::from_nanos((status.finished_at - status.started_at).max(0) as u64);
    assert!(
        ran >= Duration::from_millis(1900) && ran < Duration::from_secs(5),
        "sleep 2 ran for {ran:?}"
    );
}

/// `dd` reads 64 MiB from /dev/zero into one buffer: every page of it is touched.
const DD_64M: &[&str] = &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"];

async fn container_over_memory_limit_is_oom_killed(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let spec = Spec {
        resources: memory_limit(32 * MIB),
        ..spec("main", DD_64M)
    };
    let id = ctx.run(&pod, &spec).await;
    let status = ctx.wait_for_exit(&id).await;
    assert_eq!(status.exit_code, 137, "{status:?}");
    assert_eq!(status.reason, "OOMKilled", "{status:?}");
}

async fn container_within_memory_limit_completes(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let spec = Spec {
        resources: memory_limit(256 * MIB),
        ..spec("main", DD_64M)
    };
    let id = ctx.run(&pod, &spec).await;
    let status = ctx.wait_for_exit(&id).await;
    assert_eq!(
        (status.exit_code, status.reason.as_str()),
        (0, "Completed"),
        "{status:?}"
    );
}

async fn container_status_reports_resources_and_log_path(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let spec = Spec {
        resources: Some(v1::LinuxContainerResources {
            cpu_period: 100_000,
            cpu_quota: 50_000,
            cpu_shares: 512,
            memory_limit_in_bytes: 64 * MIB,
            ..Default::default()
        }),
        ..spec("main", TERM_TRAPPING)
    };
    let id = ctx.run(&pod, &spec).await;
    let status = ctx.status(&id).await;
    assert_eq!(
        status.log_path,
        pod.log_dir.join("main/0.log").to_string_lossy(),
        "log_path is the sandbox log directory joined with the container's log path"
    );
    let linux = status
        .resources
        .and_then(|r| r.linux)
        .unwrap_or_else(|| panic!("ContainerStatus without linux resources"));
    assert_eq!(linux.memory_limit_in_bytes, 64 * MIB, "{linux:?}");
    assert_eq!(
        (linux.cpu_period, linux.cpu_quota, linux.cpu_shares),
        (100_000, 50_000, 512)
    );

    ok(
        "UpdateContainerResources",
        ctx.rt
            .update_container_resources(v1::UpdateContainerResourcesRequest {
                container_id: id.clone(),
                linux: Some(v1::LinuxContainerResources {
                    cpu_period: 100_000,
                    cpu_quota: 20_000,
                    cpu_shares: 256,
                    memory_limit_in_bytes: 96 * MIB,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
    );
    let linux = ctx
        .status(&id)
        .await
        .resources
        .and_then(|r| r.linux)
        .expect("resources");
    assert_eq!(linux.memory_limit_in_bytes, 96 * MIB, "{linux:?}");
    assert_eq!(
        (linux.cpu_quota, linux.cpu_shares),
        (20_000, 256),
        "{linux:?}"
    );
}

// ------------------------------------------------------------------------------------------
// NotFound and idempotency (CRI-11)
// ------------------------------------------------------------------------------------------

async fn cri_11_not_found_for_unknown_ids(ctx: &Ctx<'_>) {
    assert_not_found_naming(
        "ContainerStatus",
        ctx.try_status(UNKNOWN_ID).await,
        UNKNOWN_ID,
    );
    assert_not_found_naming(
        "PodSandboxStatus",
        ctx.try_sandbox_status(UNKNOWN_ID).await,
        UNKNOWN_ID,
    );
    assert_not_found_naming(
        "StartContainer",
        ctx.rt
            .start_container(v1::StartContainerRequest {
                container_id: UNKNOWN_ID.to_string(),
            })
            .await,
        UNKNOWN_ID,
    );
    assert_not_found_naming(
        "ExecSync",
        ctx.exec(UNKNOWN_ID, &["true"], 1).await,
        UNKNOWN_ID,
    );
}

async fn cri_11_not_found_is_success_for_stop_and_remove(ctx: &Ctx<'_>) {
    // The CRI says removing what is gone is not an error; containerd agrees.
    ok(
        "RemoveContainer of an unknown id",
        ctx.remove(UNKNOWN_ID).await,
    );
    ok(
        "RemovePodSandbox of an unknown id",
        ctx.remove_pod(UNKNOWN_ID).await,
    );
    // Stopping what never existed may be NotFound (containerd) or success; the kubelet
    // takes NotFound as success either way.
    for (call, result) in [
        ("StopContainer", ctx.stop(UNKNOWN_ID, 0).await.map(|_| ())),
        ("StopPodSandbox", ctx.stop_pod(UNKNOWN_ID).await.map(|_| ())),
    ] {
        if let Err(e) = result {
            assert!(
                e.is_not_found(),
                "{call} of an unknown id: want success or NotFound, got {e:?}"
            );
        }
    }
}

async fn stop_and_remove_are_idempotent(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(false).await;
    let id = ctx.run(&pod, &spec("main", SLEEP_LONG)).await;
    ok("StopContainer", ctx.stop(&id, 0).await);
    ok("StopContainer (again)", ctx.stop(&id, 0).await);
    ok("RemoveContainer", ctx.remove(&id).await);
    ok("RemoveContainer (again)", ctx.remove(&id).await);
    ok("StopPodSandbox", ctx.stop_pod(&pod.id).await);
    ok("StopPodSandbox (again)", ctx.stop_pod(&pod.id).await);
    ok("RemovePodSandbox", ctx.remove_pod(&pod.id).await);
    ok("RemovePodSandbox (again)", ctx.remove_pod(&pod.id).await);
}

async fn stop_sandbox_stops_its_containers(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(false).await;
    let running = ctx.run(&pod, &spec("running", SLEEP_LONG)).await;
    let created = ctx.create(&pod, &spec("created", SLEEP_LONG)).await;
    ok("StopPodSandbox", ctx.stop_pod(&pod.id).await);
    let status = ctx.wait_for_exit(&running).await;
    assert_eq!(
        (status.exit_code, status.reason.as_str()),
        (137, "Error"),
        "{status:?}"
    );
    let status = ctx.status(&created).await;
    assert_eq!(
        status.state(),
        ContainerState::ContainerCreated,
        "a created container is left as it is: {status:?}"
    );
}

async fn remove_sandbox_removes_its_containers(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(false).await;
    let id = ctx.run(&pod, &spec("main", SLEEP_LONG)).await;
    // No StopPodSandbox first: removal of a READY sandbox stops it.
    ok("RemovePodSandbox", ctx.remove_pod(&pod.id).await);
    assert_not_found_naming("ContainerStatus", ctx.try_status(&id).await, &id);
    assert_not_found_naming(
        "PodSandboxStatus",
        ctx.try_sandbox_status(&pod.id).await,
        &pod.id,
    );
}

async fn create_container_in_missing_or_stopped_sandbox_fails(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let missing = Pod {
        id: UNKNOWN_ID.to_string(),
        ..pod.clone()
    };
    let err = ctx
        .try_create(&missing, &spec("main", SLEEP_LONG))
        .await
        .expect_err("CreateContainer in an unknown sandbox succeeded");
    assert!(err.is_not_found(), "want NotFound, got {err:?}");
    assert!(err.to_string().contains(UNKNOWN_ID), "{err}");

    ok("StopPodSandbox", ctx.stop_pod(&pod.id).await);
    let err = ctx
        .try_create(&pod, &spec("main", SLEEP_LONG))
        .await
        .expect_err("CreateContainer in a stopped sandbox succeeded");
    assert_eq!(err.call(), Some("CreateContainer"), "{err:?}");
}

async fn create_container_with_absent_image_fails(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let spec = Spec {
        image: Some(ABSENT_IMAGE),
        ..spec("main", SLEEP_LONG)
    };
    let err = ctx
        .try_create(&pod, &spec)
        .await
        .expect_err("CreateContainer with an absent image succeeded");
    assert!(err.is_not_found(), "want NotFound, got {err:?}");
    assert!(err.to_string().contains(ABSENT_IMAGE), "{err}");
}

async fn start_container_twice_fails(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", SLEEP_LONG)).await;
    let err = ctx
        .rt
        .start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .expect_err("starting a running container succeeded");
    assert!(!err.is_not_found(), "the container exists: {err:?}");
    assert!(err.to_string().contains("CONTAINER_RUNNING"), "{err}");
    assert_eq!(
        ctx.status(&id).await.state(),
        ContainerState::ContainerRunning
    );

    ok("StopContainer", ctx.stop(&id, 0).await);
    let err = ctx
        .rt
        .start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .expect_err("starting an exited container succeeded");
    assert!(err.to_string().contains("CONTAINER_EXITED"), "{err}");
}

// ------------------------------------------------------------------------------------------
// Lists and labels (CRI-12, CRI-13)
// ------------------------------------------------------------------------------------------

async fn cri_12_list_by_pod_uid_label(ctx: &Ctx<'_>) {
    let a = ctx.run_pod(true).await;
    let b = ctx.run_pod(true).await;
    let ca = ctx.create(&a, &spec("main", SLEEP_LONG)).await;
    let cb = ctx.create(&b, &spec("main", SLEEP_LONG)).await;
    for (pod, container) in [(&a, &ca), (&b, &cb)] {
        let selector: HashMap<String, String> =
            [("io.kubernetes.pod.uid".to_string(), pod.uid.clone())].into();
        let sandboxes = ctx
            .list_sandboxes(v1::PodSandboxFilter {
                label_selector: selector.clone(),
                ..Default::default()
            })
            .await;
        assert_eq!(
            sandboxes.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            [pod.id.as_str()]
        );
        let containers = ctx
            .list_containers(v1::ContainerFilter {
                label_selector: selector,
                ..Default::default()
            })
            .await;
        assert_eq!(ids(&containers), [container.as_str()]);
        assert_eq!(containers[0].pod_sandbox_id, pod.id);
    }
    // All labels of a selector must match.
    let none = ctx
        .list_containers(v1::ContainerFilter {
            label_selector: [
                ("io.kubernetes.pod.uid".to_string(), a.uid.clone()),
                (
                    "io.kubernetes.container.name".to_string(),
                    "other".to_string(),
                ),
            ]
            .into(),
            ..Default::default()
        })
        .await;
    assert!(none.is_empty(), "{none:?}");
}

async fn cri_13_labels_and_annotations_roundtrip(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let annotations: HashMap<String, String> = [
        ("io.kubernetes.container.hash", "8a1b2c3d"),
        ("io.kubernetes.container.restartCount", "0"),
        (
            "io.kubernetes.container.terminationMessagePath",
            "/dev/termination-log",
        ),
        ("io.kubernetes.container.terminationMessagePolicy", "File"),
        ("io.kubernetes.pod.terminationGracePeriod", "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let spec = Spec {
        labels: [("app".to_string(), "contract".to_string())].into(),
        annotations: annotations.clone(),
        ..spec("main", SLEEP_LONG)
    };
    let config = ctx.container_config(&pod, &spec);
    let id = ctx.create(&pod, &spec).await;
    let status = ctx.status(&id).await;
    assert_eq!(status.labels, config.labels);
    assert_eq!(status.annotations, annotations);
    let listed = ctx
        .list_containers(v1::ContainerFilter {
            id: id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(ids(&listed), [id.as_str()]);
    assert_eq!(listed[0].labels, config.labels);
    assert_eq!(listed[0].annotations, annotations);
    assert_eq!(listed[0].metadata, config.metadata);

    let sandbox = ctx.sandbox_status(&pod.id).await;
    assert_eq!(sandbox.labels, pod.config.labels);
    assert_eq!(sandbox.annotations, pod.config.annotations);
    let listed = ctx
        .list_sandboxes(v1::PodSandboxFilter {
            id: pod.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(listed[0].labels, pod.config.labels);
    assert_eq!(listed[0].annotations, pod.config.annotations);
}

async fn list_containers_by_state(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let created = ctx.create(&pod, &spec("created", SLEEP_LONG)).await;
    let running = ctx.run(&pod, &spec("running", SLEEP_LONG)).await;
    let exited = ctx
        .run(&pod, &spec("exited", &["sh", "-c", "exit 0"]))
        .await;
    ctx.wait_for_exit(&exited).await;
    for (state, want) in [
        (ContainerState::ContainerCreated, &created),
        (ContainerState::ContainerRunning, &running),
        (ContainerState::ContainerExited, &exited),
    ] {
        let listed = ctx
            .list_containers(v1::ContainerFilter {
                pod_sandbox_id: pod.id.clone(),
                state: Some(v1::ContainerStateValue {
                    state: state as i32,
                }),
                ..Default::default()
            })
            .await;
        assert_eq!(
            ids(&listed),
            [want.as_str()],
            "state {}",
            state.as_str_name()
        );
        assert_eq!(listed[0].state(), state);
    }
    let all = ctx
        .list_containers(v1::ContainerFilter {
            pod_sandbox_id: pod.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(all.len(), 3, "{all:?}");

    let selector: HashMap<String, String> =
        [("io.kubernetes.pod.uid".to_string(), pod.uid.clone())].into();
    let ready = ctx
        .list_sandboxes(v1::PodSandboxFilter {
            state: Some(v1::PodSandboxStateValue {
                state: PodSandboxState::SandboxReady as i32,
            }),
            label_selector: selector.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(ready.len(), 1, "{ready:?}");
    ok("StopPodSandbox", ctx.stop_pod(&pod.id).await);
    let ready = ctx
        .list_sandboxes(v1::PodSandboxFilter {
            state: Some(v1::PodSandboxStateValue {
                state: PodSandboxState::SandboxReady as i32,
            }),
            label_selector: selector,
            ..Default::default()
        })
        .await;
    assert!(ready.is_empty(), "{ready:?}");
}

async fn list_filters_by_id_prefix(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let a = ctx.create(&pod, &spec("a", SLEEP_LONG)).await;
    let b = ctx.create(&pod, &spec("b", SLEEP_LONG)).await;
    for id in [&a, &b] {
        let listed = ctx
            .list_containers(v1::ContainerFilter {
                id: id[..13].to_string(),
                ..Default::default()
            })
            .await;
        assert_eq!(
            ids(&listed),
            [id.as_str()],
            "a unique id prefix selects the container"
        );
    }
    let listed = ctx
        .list_containers(v1::ContainerFilter {
            pod_sandbox_id: pod.id[..13].to_string(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        listed.len(),
        2,
        "a sandbox id prefix selects its containers: {listed:?}"
    );
    let sandboxes = ctx
        .list_sandboxes(v1::PodSandboxFilter {
            id: pod.id[..13].to_string(),
            ..Default::default()
        })
        .await;
    assert_eq!(sandboxes.len(), 1, "{sandboxes:?}");
    assert_eq!(sandboxes[0].id, pod.id);
    let none = ctx
        .list_containers(v1::ContainerFilter {
            id: UNKNOWN_ID.to_string(),
            ..Default::default()
        })
        .await;
    assert!(none.is_empty(), "{none:?}");
}

// ------------------------------------------------------------------------------------------
// ExecSync
// ------------------------------------------------------------------------------------------

async fn exec_sync_stdout_and_exit_code(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", TERM_TRAPPING)).await;
    let out = ok(
        "ExecSync",
        ctx.exec(&id, &["echo", "hello", "contract"], 5).await,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello contract\n");
    assert_eq!(out.exit_code, 0);
    let out = ok("ExecSync", ctx.exec(&id, &["sh", "-c", "exit 7"], 5).await);
    assert_eq!(
        out.exit_code, 7,
        "a non-zero exit is a successful call: {out:?}"
    );
    let err = run_in_container(
        ctx.rt,
        &id,
        strings(&["sh", "-c", "exit 7"]),
        Duration::from_secs(5),
    )
    .await
    .expect_err("run_in_container of exit 7 succeeded");
    assert!(
        matches!(err, Error::CommandExited { exit_code: 7, .. }),
        "want CommandExited(7), got {err:?}"
    );
}

async fn exec_sync_timeout_is_command_timed_out(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", TERM_TRAPPING)).await;
    let started = Instant::now();
    let err = ctx
        .exec(&id, &["sleep", "5"], 1)
        .await
        .expect_err("sleep 5 with a 1 s timeout succeeded");
    let took = started.elapsed();
    match &err {
        Error::CommandTimedOut {
            container_id,
            timeout,
        } => {
            assert_eq!(container_id, &id);
            assert_eq!(*timeout, Duration::from_secs(1));
        }
        other => panic!("want CommandTimedOut, got {other:?}"),
    }
    assert_eq!(err.code(), Some(Code::DeadlineExceeded));
    assert!(
        took < Duration::from_millis(4500),
        "the timeout did not cut the command: {took:?}"
    );
    // The container survives its exec timing out.
    assert_eq!(
        ctx.status(&id).await.state(),
        ContainerState::ContainerRunning
    );
}

async fn exec_sync_in_exited_container_fails(ctx: &Ctx<'_>) {
    let pod = ctx.run_pod(true).await;
    let id = ctx.run(&pod, &spec("main", &["sh", "-c", "exit 0"])).await;
    ctx.wait_for_exit(&id).await;
    let err = ctx
        .exec(&id, &["echo", "hi"], 5)
        .await
        .expect_err("ExecSync in an exited container succeeded");
    assert!(!err.is_not_found(), "the container exists: {err:?}");
    assert!(err.to_string().contains("CONTAINER_EXITED"), "{err}");
}

// ------------------------------------------------------------------------------------------
// Images
// ------------------------------------------------------------------------------------------

async fn image_status_and_list_show_the_busybox_image(ctx: &Ctx<'_>) {
    let busybox = &ctx.env.busybox_image;
    let image = ctx
        .image_status(busybox)
        .await
        .unwrap_or_else(|| panic!("the busybox image {busybox} is not present"));
    assert!(
        image.id.starts_with("sha256:") && image.id.len() == 71,
        "{image:?}"
    );
    assert!(image.size > 0, "{image:?}");
    assert!(image.repo_tags.contains(busybox), "{image:?}");
    let by_id = ctx
        .image_status(&image.id)
        .await
        .expect("ImageStatus by id");
    assert_eq!(by_id.id, image.id);
    let list = ok(
        "ListImages",
        ctx.img
            .list_images(v1::ListImagesRequest { filter: None })
            .await,
    );
    assert!(
        list.images.iter().any(|i| i.id == image.id),
        "{:?}",
        list.images
    );
}

async fn image_status_of_absent_image_is_none(ctx: &Ctx<'_>) {
    assert_eq!(ctx.image_status(ABSENT_IMAGE).await, None);
    ok(
        "RemoveImage of an absent image",
        ctx.remove_image(ABSENT_IMAGE).await,
    );
}

/// containerd 1.6 `RemoveImage` deletes every tag of the resolved image id: removing a
/// registry image that is the busybox image under another name would delete busybox.
fn assert_distinct_from_busybox(ctx: &Ctx<'_>, registry: &v1::Image, busybox: &v1::Image) {
    assert_ne!(
        registry.id, busybox.id,
        "the registry image {:?} has the image id of {}: removing it would remove {} too \
         (containerd 1.6 RemoveImage deletes every tag of an image id). The test \
         environment must push an image with its own config to the registry.",
        ctx.env.registry_image, ctx.env.busybox_image, ctx.env.busybox_image
    );
}

async fn pull_image_from_registry(ctx: &Ctx<'_>) {
    let Some(reference) = ctx.env.registry_image.clone() else {
        eprintln!("no registry image in this environment: nothing to pull");
        return;
    };
    let busybox = ctx
        .image_status(&ctx.env.busybox_image)
        .await
        .expect("the busybox image is present");
    if let Some(present) = ctx.image_status(&reference).await {
        assert_distinct_from_busybox(ctx, &present, &busybox);
        ok("RemoveImage", ctx.remove_image(&reference).await);
    }
    assert_eq!(
        ctx.image_status(&reference).await,
        None,
        "removed image still present"
    );

    let pulled = ok(
        "PullImage",
        ctx.img
            .pull_image(v1::PullImageRequest {
                image: Some(image_spec(&reference)),
                auth: None,
                sandbox_config: None,
            })
            .await,
    );
    assert!(
        !pulled.image_ref.is_empty(),
        "PullImage returned an empty image_ref"
    );
    let image = ctx
        .image_status(&reference)
        .await
        .expect("ImageStatus after a pull shows the image");
    assert_eq!(image.id, pulled.image_ref, "PullImage returns the image id");
    assert!(image.size > 0, "{image:?}");
    assert!(image.repo_tags.contains(&reference), "{image:?}");
    assert!(
        image.repo_digests.iter().any(|d| d.contains("@sha256:")),
        "a pulled image has a repo digest: {image:?}"
    );
    assert_distinct_from_busybox(ctx, &image, &busybox);

    ok("RemoveImage", ctx.remove_image(&reference).await);
    assert_eq!(
        ctx.image_status(&reference).await,
        None,
        "removed image still present"
    );
    ok("RemoveImage (again)", ctx.remove_image(&reference).await);
    assert!(
        ctx.image_status(&ctx.env.busybox_image).await.is_some(),
        "removing the registry image removed the busybox image"
    );
}

async fn pull_missing_image_is_not_found(ctx: &Ctx<'_>) {
    let Some(registry_image) = ctx.env.registry_image.clone() else {
        eprintln!("no registry in this environment: nothing to pull");
        return;
    };
    let host = registry_image.split('/').next().unwrap_or_default();
    let missing = format!("{host}/nodelet-contract-missing:404");
    let err = ctx
        .img
        .pull_image(v1::PullImageRequest {
            image: Some(image_spec(&missing)),
            auth: None,
            sandbox_config: None,
        })
        .await
        .expect_err("pulling an image the registry lacks succeeded");
    assert!(err.is_not_found(), "want NotFound, got {err:?}");
    assert!(err.to_string().contains(&missing), "{err}");
    assert_eq!(ctx.image_status(&missing).await, None);
}

// ------------------------------------------------------------------------------------------
// Scale and capabilities
// ------------------------------------------------------------------------------------------

async fn twenty_pods_concurrently(ctx: &Ctx<'_>) {
    let pods = join_all((0..20).map(|_| ctx.run_pod(false))).await;
    let statuses = join_all(pods.iter().map(|p| ctx.sandbox_status(&p.id))).await;
    let mut ips: Vec<String> = Vec::new();
    for status in &statuses {
        assert_eq!(status.state(), PodSandboxState::SandboxReady, "{status:?}");
        let ip = status
            .network
            .as_ref()
            .map(|n| n.ip.clone())
            .unwrap_or_default();
        assert!(!ip.is_empty(), "no IP: {status:?}");
        assert!(!ips.contains(&ip), "IP {ip} given to two pods");
        ips.push(ip);
    }
    let teardown = join_all(pods.iter().map(|p| async move {
        ctx.stop_pod(&p.id).await?;
        ctx.remove_pod(&p.id).await
    }))
    .await;
    for result in teardown {
        ok("StopPodSandbox + RemovePodSandbox", result);
    }
    let left = ctx
        .list_sandboxes(v1::PodSandboxFilter {
            label_selector: [(CASE_LABEL.to_string(), ctx.case_label.clone())].into(),
            ..Default::default()
        })
        .await;
    assert!(left.is_empty(), "sandboxes left after teardown: {left:?}");
}

async fn container_events_capability_is_reported(ctx: &Ctx<'_>) {
    let capability = ok(
        "GetContainerEvents",
        ctx.rt.container_events_capability().await,
    );
    eprintln!("GetContainerEvents: {capability:?}");
}
