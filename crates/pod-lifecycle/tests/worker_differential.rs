//! Pod workers against `FakeRuntime` in virtual time, for the differences the differential
//! suite (`crates/agent/tests/differential`) found between nodelet and the real kubelet: each
//! test is named after the departure it removed.

use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ExecAction, Lifecycle, LifecycleHandler, Pod, PodSpec,
    ResourceFieldSelector,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_lifecycle::cri_config::NodeAllocatable;
use pod_lifecycle::worker::WorkerConfig;

mod common;

use common::fake::{FakeNode, settle};

fn pod(uid: &str, image: &str, active_deadline_seconds: Option<i64>) -> Pod {
    common::fake::pod(
        uid,
        PodSpec {
            restart_policy: Some("Always".into()),
            active_deadline_seconds,
            containers: vec![Container {
                name: "app".into(),
                image: Some(image.into()),
                image_pull_policy: Some("IfNotPresent".into()),
                command: Some(vec!["sleep".into(), "3600".into()]),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
}

/// `invalid-image-name-message`: the kubelet's words, `Failed to apply default image tag`.
#[tokio::test(start_paused = true)]
async fn im_08_invalid_image_name_has_the_kubelets_message() {
    let h = FakeNode::new();
    h.workers.update_pod(pod("invalid", "Busybox:UPPER", None));
    settle().await;
    let waiting = h.waiting("invalid");
    assert_eq!(waiting.reason.as_deref(), Some("InvalidImageName"));
    let message = waiting.message.unwrap_or_default();
    assert!(
        message.starts_with(
            "Failed to apply default image tag \"Busybox:UPPER\": couldn't parse image name"
        ),
        "{message}"
    );
}

/// `image-backoff-message`: `Back-off pulling image "x": ErrImagePull: <error>`.
#[tokio::test(start_paused = true)]
async fn im_04_image_pull_back_off_message_ends_with_the_pull_error() {
    let h = FakeNode::new();
    let image = "127.0.0.1:5000/missing:1";
    h.workers.update_pod(pod("backoff", image, None));
    settle().await;
    let failed = h.waiting("backoff");
    assert_eq!(failed.reason.as_deref(), Some("ErrImagePull"));
    let error = failed.message.unwrap_or_default();
    // A sync within the back-off (a pod update wakes the worker).
    h.idle_for(2).await;
    h.workers.update_pod(pod("backoff", image, None));
    settle().await;
    let waiting = h.waiting("backoff");
    assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
    assert_eq!(
        waiting.message.unwrap_or_default(),
        format!("Back-off pulling image \"{image}\": ErrImagePull: {error}")
    );
}

/// `image-pull-retry` (IM-05): with nothing else waking it, the worker retries a failed pull
/// when the image back-off ends (10 s, then 20 s), not at the 60-90 s resync.
#[tokio::test(start_paused = true)]
async fn im_05_worker_wakes_when_the_image_back_off_ends() {
    let h = FakeNode::new();
    h.workers
        .update_pod(pod("retry", "127.0.0.1:5000/missing:1", None));
    settle().await;
    assert_eq!(h.fake.calls_to("PullImage").len(), 1);
    h.idle_for(9).await;
    assert_eq!(h.fake.calls_to("PullImage").len(), 1, "not before 10 s");
    h.idle_for(2).await;
    assert_eq!(h.fake.calls_to("PullImage").len(), 2, "at 10 s");
    assert_eq!(h.waiting("retry").reason.as_deref(), Some("ErrImagePull"));
    h.idle_for(21).await;
    assert_eq!(h.fake.calls_to("PullImage").len(), 3, "20 s later");
}

/// `active-deadline-not-timed` (PH-09): a quiet pod fails at its deadline, not at the resync.
#[tokio::test(start_paused = true)]
async fn ph_09_worker_wakes_at_the_active_deadline() {
    let h = FakeNode::new();
    h.workers
        .update_pod(pod("deadline", "localhost/busybox:1", Some(15)));
    settle().await;
    assert_eq!(h.status("deadline").phase.as_deref(), Some("Running"));
    h.idle_for(14).await;
    assert_eq!(h.status("deadline").phase.as_deref(), Some("Running"));
    h.idle_for(2).await;
    let status = h.status("deadline");
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
}

/// `resource-field-ref-allocatable`: a `resourceFieldRef` to a CPU, memory or
/// ephemeral-storage limit the container does not set gives the node allocatable of the
/// worker's config (the kubelet's `MergeContainerResourceLimits`), not 0.
#[tokio::test(start_paused = true)]
async fn resource_field_ref_allocatable_limits_default_to_the_node_allocatable() {
    let h = FakeNode::with_config(WorkerConfig {
        allocatable: NodeAllocatable {
            cpu_millis: Some(2000),
            memory_bytes: Some(24105 << 20),
            ephemeral_storage_bytes: Some(250 << 30),
        },
        ..WorkerConfig::default()
    });
    let limit = |name: &str, resource: &str, divisor: &str| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            resource_field_ref: Some(ResourceFieldSelector {
                resource: resource.into(),
                divisor: Some(Quantity(divisor.into())),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut p = pod("env", "localhost/busybox:1", None);
    p.spec.as_mut().unwrap().containers[0].env = Some(vec![
        limit("CPU_LIMIT", "limits.cpu", "1m"),
        limit("MEM_LIMIT", "limits.memory", "1Mi"),
        limit("EPH_LIMIT", "limits.ephemeral-storage", "1Gi"),
    ]);
    h.workers.update_pod(p);
    settle().await;
    let created = h.fake.calls_to("CreateContainer");
    let id = created[0].id.clone().expect("the container was created");
    let config = h.fake.container_config(&id).expect("its config");
    let env = |key: &str| {
        config
            .envs
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.clone())
    };
    assert_eq!(env("CPU_LIMIT").as_deref(), Some("2000"));
    assert_eq!(env("MEM_LIMIT").as_deref(), Some("24105"));
    assert_eq!(env("EPH_LIMIT").as_deref(), Some("250"));
}

/// `hook-message`: a failed exec postStart hook's message is the kubelet's, the command as
/// Go prints a list and the pod named (`handlerRunner.Run`, `lifecycle/handlers.go`).
#[tokio::test(start_paused = true)]
async fn hook_message_is_the_kubelets() {
    let h = FakeNode::new();
    h.fake.set_exec_reply(
        None,
        &["sh", "-c", "exit 1"],
        cri_client::v1::ExecSyncResponse {
            exit_code: 1,
            stdout: b"out\n".to_vec(),
            stderr: b"oops\n".to_vec(),
        },
    );
    let mut p = pod("hook", "localhost/busybox:1", None);
    p.spec.as_mut().unwrap().containers[0].lifecycle = Some(Lifecycle {
        post_start: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(vec!["sh".into(), "-c".into(), "exit 1".into()]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    h.workers.update_pod(p);
    settle().await;
    let waiting = h.waiting("hook");
    assert_eq!(waiting.reason.as_deref(), Some("PostStartHookError"));
    assert_eq!(
        waiting.message.as_deref(),
        Some(
            "Exec lifecycle hook ([sh -c exit 1]) for Container \"app\" in Pod \"pod-hook_default(hook)\" \
             failed - error: command 'sh -c exit 1' exited with 1: oops\n, message: \"out\\noops\\n\""
        )
    );
}

/// `cri-error-text`: `ErrImagePull` is grpc-go's text of the runtime's status
/// (`evalCRIPullErr`), and the `ImagePullBackOff` message ends with it.
#[tokio::test(start_paused = true)]
async fn cri_error_text_err_image_pull_is_the_grpc_error_text() {
    let h = FakeNode::new();
    let image = "127.0.0.1:5000/missing:1";
    h.workers.update_pod(pod("pull", image, None));
    settle().await;
    let failed = h.waiting("pull");
    assert_eq!(failed.reason.as_deref(), Some("ErrImagePull"));
    let message = failed.message.unwrap_or_default();
    assert!(
        message.starts_with(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"127.0.0.1:5000/missing:1\""
        ),
        "{message}"
    );
    h.idle_for(2).await;
    h.workers.update_pod(pod("pull", image, None));
    settle().await;
    let waiting = h.waiting("pull");
    assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
    assert!(
        waiting
            .message
            .unwrap_or_default()
            .ends_with(&format!(": ErrImagePull: {message}"))
    );
}

/// `cri-error-text`: `RunContainerError` is the gRPC status message of the failed
/// `StartContainer` alone (`startContainer`: `s.Message()`).
#[tokio::test(start_paused = true)]
async fn cri_error_text_run_container_error_is_the_status_message() {
    let h = FakeNode::new();
    let runtime_message = "failed to create containerd task: exec: \"/no/such/binary\": \
                           stat /no/such/binary: no such file or directory";
    h.fake
        .fail_next("StartContainer", 1, tonic::Status::unknown(runtime_message));
    h.workers
        .update_pod(pod("start", "localhost/busybox:1", None));
    settle().await;
    let waiting = h.waiting("start");
    assert_eq!(waiting.reason.as_deref(), Some("RunContainerError"));
    assert_eq!(waiting.message.as_deref(), Some(runtime_message));
}
