//! Pod workers against `FakeRuntime` in virtual time, for the differences the differential
//! suite (`crates/agent/tests/differential`) found between nodelet and the real kubelet: each
//! test is named after the departure it removed.

use std::sync::Arc;
use std::time::Duration;

use cri_client::fake::FakeRuntime;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, ContainerStateWaiting, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::worker::{Clock, MemoryStatusSink, PodHost, PodWorkers, WorkerConfig};

/// The worker's clock is the fake runtime's clock: one source of time for both.
struct FakeTime(FakeRuntime);

impl Clock for FakeTime {
    fn now(&self) -> Timestamp {
        Timestamp::from_nanosecond(self.0.clock().now() as i128).expect("fake clock in range")
    }
}

struct Harness {
    fake: FakeRuntime,
    workers: PodWorkers,
    statuses: MemoryStatusSink,
}

impl Harness {
    fn new() -> Harness {
        let fake = FakeRuntime::with_busybox();
        let statuses = MemoryStatusSink::with_history();
        let host = PodHost {
            status: Arc::new(statuses.clone()),
            clock: Arc::new(FakeTime(fake.clone())),
            ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
        };
        let config = WorkerConfig {
            pod_logs_dir: std::env::temp_dir().join("nodelet-worker-differential"),
            runtime_name: "fake".into(),
            ..WorkerConfig::default()
        };
        Harness {
            fake,
            workers: PodWorkers::new(host, config),
            statuses,
        }
    }

    /// Move both clocks by `seconds`, one second at a time, waking no worker: only the
    /// workers' own timers fire (there is no PLEG here).
    async fn idle_for(&self, seconds: u64) {
        for _ in 0..seconds {
            self.fake.advance(Duration::from_secs(1));
            tokio::time::advance(Duration::from_secs(1)).await;
            settle().await;
        }
    }

    fn status(&self, uid: &str) -> PodStatus {
        self.statuses.get(uid).expect("a status was sent")
    }

    fn waiting(&self, uid: &str) -> ContainerStateWaiting {
        self.status(uid)
            .container_statuses
            .expect("container statuses")[0]
            .state
            .clone()
            .and_then(|s| s.waiting)
            .expect("the container waits")
    }
}

/// Let every ready task run until it waits again.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

fn pod(uid: &str, image: &str, active_deadline_seconds: Option<i64>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{uid}")),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
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
        }),
        ..Default::default()
    }
}

/// `invalid-image-name-message`: the kubelet's words, `Failed to apply default image tag`.
#[tokio::test(start_paused = true)]
async fn im_08_invalid_image_name_has_the_kubelets_message() {
    let h = Harness::new();
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
    let h = Harness::new();
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
    let h = Harness::new();
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
    let h = Harness::new();
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
